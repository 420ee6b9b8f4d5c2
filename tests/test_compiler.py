"""`nndl.compile`'s cache: keyed by the source and by the compiler itself, and trusted only
where it is provably this user's own (its folder, its files, the hash its manifest records)."""

import builtins
import hashlib
import importlib.util
import json
import os
import stat
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest

import nndl
from nndl import backends, compiler
from nndl.commands.cli import main

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
    assert {"nndl.lark", "module.py.j2", "builtin_models.nndl", "builtin_rules.nndl", "lower.py",
            "render.py"} <= names


# ---- what the cache finds is trusted only when it is provably ours ----------------------------

PLANTED = "import sys\nsys.modules.setdefault('nndl_planted', 'ran')\n"  # marks that it ran


@pytest.fixture
def planted(monkeypatch):
    """`sys.modules` without the planted module's mark, before and after the test."""
    monkeypatch.delitem(sys.modules, "nndl_planted", raising=False)
    yield
    assert "nndl_planted" not in sys.modules, "the planted module ran"


def entry(folder: Path) -> tuple[Path, Path]:
    """The cache's one entry: (module, manifest)."""
    [module] = folder.glob("*.py")
    return module, module.with_suffix(".json")


def plant(folder: Path) -> Path:
    """Replace the entry's module by another that works the same and marks that it ran, with a
    manifest that vouches for it: what a user who can write the folder could leave there."""
    module, manifest = entry(folder)
    data = (PLANTED + module.read_text(encoding="utf-8")).encode("utf-8")
    module.write_bytes(data)
    record = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps(record | {"sha256": hashlib.sha256(data).hexdigest()}))
    return module


def compiles_cleanly(path=EXAMPLE) -> None:
    """The compile gives the network and no cache warning: a sound (or repaired) entry."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", compiler.CacheWarning)
        assert nndl.compile(path, backend="oo").SPEC.name == "skip_mlp"


def refused(match: str) -> ModuleType:
    with pytest.warns(compiler.CacheWarning, match=match):
        module = nndl.compile(EXAMPLE, backend="oo")
    assert module.SPEC.name == "skip_mlp"
    return module


def test_the_cache_folder_and_its_entries_are_private(tmp_path, monkeypatch):
    folder = tmp_path / "new" / "cache"
    monkeypatch.setenv("NNDL_CACHE_DIR", str(folder))
    compiles_cleanly()
    module, manifest = entry(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in (module, manifest):
        assert not path.stat().st_mode & 0o077, oct(path.stat().st_mode)
    record = json.loads(manifest.read_text(encoding="utf-8"))
    assert record["sha256"] == hashlib.sha256(module.read_bytes()).hexdigest()
    compiles_cleanly()  # and the entry is then used as it is


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777, 0o702])
def test_a_folder_others_can_write_is_not_used(mode, isolated_cache, planted):
    """A shared NNDL_CACHE_DIR where another user planted a module (with a manifest that
    matches it): refused whole, the module compiled in memory."""
    compiles_cleanly()
    plant(isolated_cache)
    isolated_cache.chmod(mode)
    try:
        module = refused("writable by its group or by others")
        assert not hasattr(module, "__file__")  # compiled in memory
    finally:
        isolated_cache.chmod(0o700)


def test_a_folder_or_entry_of_another_user_is_not_used(isolated_cache, monkeypatch, planted):
    compiles_cleanly()
    plant(isolated_cache)
    real = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: real + 1)  # as another user sees this folder
    refused("owned by another user")
    monkeypatch.setattr(os, "getuid", lambda: real)
    if real == 0:  # root can give the entry itself away: the folder is fine, the entry not
        module, manifest = entry(isolated_cache)
        os.chown(module, 12345, -1)
        refused(f"{module.name} is owned by another user")
        compiles_cleanly()  # regenerated, as ours


@pytest.mark.parametrize("damage", ["module writable by others", "manifest writable by others",
                                    "module is a link", "manifest is a link", "module is a FIFO"])
def test_an_entry_others_could_have_written_is_regenerated(damage, isolated_cache, tmp_path,
                                                           planted):
    compiles_cleanly()
    module = plant(isolated_cache)
    manifest = module.with_suffix(".json")
    target = module if damage.startswith("module") else manifest
    if damage.endswith("link"):
        elsewhere = tmp_path / "elsewhere"
        os.replace(target, elsewhere)
        target.symlink_to(elsewhere)
        refused("unreadable")
    elif damage.endswith("FIFO"):
        target.unlink()
        os.mkfifo(target)  # opened for reading, it would wait for a writer
        refused(f"{target.name} is not a regular file")
    else:
        target.chmod(0o666)
        refused(f"{target.name} is writable by its group or by others")
    compiles_cleanly()


DAMAGED = {
    "empty manifest": ("json", b""),
    "manifest of a list": ("json", b"[]"),
    "manifest of a string": ("json", b'"x"'),
    "manifest of nothing": ("json", b"{}"),
    "manifest without a hash": ("json", None),
    "manifest not UTF-8": ("json", b"\xff\xfe{"),
    "truncated manifest": ("json", b'{"key": "'),
    "empty module": ("py", b""),
    "truncated module": ("py", "half"),
    "changed module": ("py", "changed"),
    "module gone": ("py", "gone"),
}


@pytest.mark.parametrize("case", list(DAMAGED))
def test_a_damaged_entry_is_regenerated_with_a_warning(case, isolated_cache, planted):
    """Truncated, empty, non-object or missing parts: a warning, the module regenerated (no
    traceback), and the next compile finds the entry sound."""
    compiles_cleanly()
    module, manifest = entry(isolated_cache)
    suffix, content = DAMAGED[case]
    if content is None:
        record = json.loads(manifest.read_text(encoding="utf-8"))
        manifest.write_text(json.dumps({"key": record["key"]}))
    elif content == "half":
        module.write_bytes(module.read_bytes()[:len(module.read_bytes()) // 2])
    elif content == "changed":
        module.write_bytes(PLANTED.encode() + module.read_bytes())
    elif content == "gone":
        module.unlink()
    else:
        (manifest if suffix == "json" else module).write_bytes(content)
    refused("not used")
    compiles_cleanly()


def test_a_module_without_its_manifest_is_an_unfinished_write(isolated_cache):
    """A compile cut short between the module and its manifest: regenerated, quietly."""
    compiles_cleanly()
    entry(isolated_cache)[1].unlink()
    compiles_cleanly()


def test_the_cached_module_runs_as_imported_from_its_file(isolated_cache):
    """The bytes in the cache, compiled as importlib compiles a file, are what runs."""
    compiles_cleanly()
    module_file, _ = entry(isolated_cache)
    module = nndl.compile(EXAMPLE, backend="oo")
    assert module.__file__ == str(module_file)
    code = builtins.compile(module_file.read_bytes(), str(module_file), "exec", dont_inherit=True)
    assert code.co_filename == str(module_file)
    loaded = importlib.util.spec_from_file_location("nndl_test_from_file", module_file)
    imported = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(imported)
    assert imported.SPEC == module.SPEC and imported.SOURCE == module.SOURCE


@pytest.mark.parametrize("value", ["1", "yes"])
def test_no_cache_in_the_environment(value, isolated_cache, monkeypatch):
    calls = count_generations(monkeypatch)
    monkeypatch.setenv("NNDL_NO_CACHE", value)
    nndl.compile(EXAMPLE, backend="oo")
    nndl.compile(EXAMPLE, backend="oo")
    assert calls == ["oo", "oo"] and not list(isolated_cache.iterdir())
    monkeypatch.setenv("NNDL_NO_CACHE", "0")  # 0 (or empty) is no request
    nndl.compile(EXAMPLE, backend="oo")
    assert list(isolated_cache.glob("*.py"))


def test_nndlc_train_no_cache(isolated_cache, tmp_path, monkeypatch, capsys):
    calls = count_generations(monkeypatch)
    args = ["train", str(EXAMPLE.parent / "xor.nndl"), "--epochs", "1", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "a"), "--no-cache"]) == 0
    assert not list(isolated_cache.iterdir())
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    assert list(isolated_cache.glob("*.py")) and calls == ["numpy", "numpy"]
    capsys.readouterr()
