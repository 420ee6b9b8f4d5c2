"""The rules of docs/architecture.md: data flows one way and no modules import each other.

Read from the source (every import, also those inside functions), so that a rule broken by a
lazy import shows too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# where each package's files are in a checkout (pyproject's package-dir)
PACKAGES = {"nndl": ROOT / "nndl", "nndl.grammar": ROOT / "grammar",
            "nndl.backends": ROOT / "backends", "nndl.editors": ROOT / "editors"}

# stage -> the parts of NNDL it must never import
FORBIDDEN = {
    "nndl.frontend": ("nndl.backends", "nndl.runtime", "nndl.commands", "nndl.compiler",
                      "nndl.summary", "nndl.plot", "nndl.drawing", "nndl.interchange"),
    "nndl.ir": ("nndl.frontend", "nndl.backends", "nndl.runtime", "nndl.commands",
                "nndl.compiler", "nndl.summary", "nndl.plot", "nndl.drawing", "nndl.datasets",
                "nndl.interchange"),
    "nndl.backends": ("nndl.frontend", "nndl.commands", "nndl.compiler", "nndl.grammar",
                      "nndl.interchange"),
    "nndl.runtime": ("nndl.backends", "nndl.frontend", "nndl.commands", "nndl.compiler",
                     "nndl.grammar", "nndl.interchange"),
    # exporters read the IR and the weight arrays; the importer checks what it writes with the
    # front end and builds its synapses with the runtime: none of them runs a backend
    "nndl.interchange": ("nndl.backends", "nndl.commands", "nndl.compiler", "nndl.summary",
                         "nndl.plot", "nndl.drawing", "nndl.datasets"),
}


def module_files() -> dict[str, Path]:
    modules = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            if "__pycache__" not in path.parts:
                parts = path.relative_to(folder).with_suffix("").parts
                modules[".".join((package, *parts)).removesuffix(".__init__")] = path
    return modules


MODULES = module_files()


def imports_of(name: str) -> set[str]:
    """The NNDL modules that module `name` imports anywhere in its text."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    is_package = MODULES[name].name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative
                here = name.split(".") if is_package else name.split(".")[:-1]
                base = ".".join(here[:len(here) - node.level + 1] + ([base] if base else []))
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base)
    return {_module(f) for f in found if f == "nndl" or f.startswith("nndl.")} - {name}


def _module(dotted: str) -> str:
    while dotted not in MODULES and "." in dotted:
        dotted = dotted.rpartition(".")[0]
    return dotted


GRAPH = {name: imports_of(name) for name in MODULES}


def test_the_modules_are_found():
    for name in ("nndl", "nndl.frontend.parser", "nndl.ir", "nndl.ir.expr",
                 "nndl.backends.numpy.lower", "nndl.runtime.network", "nndl.commands.cli",
                 "nndl.editors.pygments_lexer", "nndl.grammar"):
        assert name in MODULES
    assert "nndl.ir" in GRAPH["nndl.frontend.semantic"]
    assert "nndl.interchange.weights" in GRAPH["nndl.interchange.nir_export"]


@pytest.mark.parametrize("stage", sorted(FORBIDDEN))
def test_data_flows_one_way(stage):
    wrong = sorted(f"{name} imports {target}" for name, targets in GRAPH.items()
                   if name == stage or name.startswith(stage + ".")
                   for target in targets
                   if any(target == f or target.startswith(f + ".") for f in FORBIDDEN[stage]))
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    cycles = []
    for start in sorted(GRAPH):
        path = _path_back(start)
        if path and min(path) == start:  # each cycle once, from its smallest module
            cycles.append(" -> ".join([*path, start]))
    assert not cycles, "\n".join(cycles)


def _path_back(start: str) -> list[str] | None:
    """A chain of imports from `start` that leads back to it, or None."""
    stack, seen = [(start, [start])], {start}
    while stack:
        node, path = stack.pop()
        for target in sorted(GRAPH[node]):
            if target == start:
                return path
            if target not in seen and not _is_package_of(target, start):
                seen.add(target)
                stack.append((target, [*path, target]))
    return None


def _is_package_of(package: str, module: str) -> bool:
    # importing nndl.x.y runs nndl and nndl.x first: a package is no edge back to its module
    return module.startswith(package + ".")
