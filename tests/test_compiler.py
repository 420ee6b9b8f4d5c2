"""`nndl.compile`'s cache: keyed by the source and by the compiler itself."""

from pathlib import Path

import nndl
from nndl import backends, compiler

EXAMPLE = Path(__file__).parent.parent / "examples" / "skip_mlp.nndl"


def count_generations(monkeypatch) -> list:
    calls = []
    real = backends.generate

    def counting(network, backend):
        calls.append(backend)
        return real(network, backend)

    monkeypatch.setattr(backends, "generate", counting)
    return calls


def test_a_changed_compiler_regenerates(monkeypatch):
    calls = count_generations(monkeypatch)
    nndl.compile(EXAMPLE, backend="oo")
    nndl.compile(EXAMPLE, backend="oo")
    assert calls == ["oo"]
    # a fixed backend changes the compiler's files, hence its fingerprint
    monkeypatch.setattr(compiler, "compiler_fingerprint", lambda: "another compiler")
    nndl.compile(EXAMPLE, backend="oo")
    assert calls == ["oo", "oo"]


def test_the_fingerprint_covers_grammar_templates_and_models():
    names = {item.name for package in ("nndl", "nndl.grammar", "nndl.backends")
             for item in compiler._package_files(compiler.importlib.resources.files(package))}
    assert {"nndl.lark", "module.py.j2", "builtin_models.nndl", "lower.py", "render.py"} <= names
