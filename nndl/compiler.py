"""`nndl.compile`: a .nndl file -> an imported module, cached on disk by source hash.

The cache holds text only — the generated `.py` and a JSON manifest — never pickles. Its key is
the sha256 of (the compiler's own files, backend, network, resolved path, source text), so any
change to those regenerates — a fixed backend too, without a new version number — and nothing
else does.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import importlib.resources
import importlib.util
import json
import logging
import os
from pathlib import Path
from types import ModuleType

import platformdirs

from nndl import backends, ir
from nndl.frontend import check_text, read_source
from nndl.runtime.files import write_text_atomically
from nndl.version import __version__

log = logging.getLogger("nndl.compiler")


def cache_directory() -> Path:
    """$NNDL_CACHE_DIR, else the platform's user cache folder for nndl."""
    return Path(os.environ.get("NNDL_CACHE_DIR") or platformdirs.user_cache_dir("nndl"))


@functools.lru_cache(maxsize=1)
def compiler_fingerprint() -> str:
    """A hash of every file the compiler is made of (code, grammar, templates, built-in models)."""
    digest = hashlib.sha256(__version__.encode())
    # grammar/ and backends/ sit outside nndl/ in a source checkout, inside it once installed
    for package in ("nndl", "nndl.grammar", "nndl.backends"):
        for item in sorted(_package_files(importlib.resources.files(package)), key=str):
            digest.update(item.name.encode())
            digest.update(item.read_bytes())
    return digest.hexdigest()


def _package_files(folder):
    for item in folder.iterdir():
        if item.is_dir() and item.name != "__pycache__":
            yield from _package_files(item)
        elif item.name.endswith((".py", ".j2", ".lark", ".nndl")):
            yield item


def generate_source(path: str | Path, backend: str, network: str | None = None) -> str:
    """Parse, check and generate; raises NNDLError with every diagnostic on bad input."""
    text = read_source(path)
    program, diags = check_text(text, str(path))
    diags.raise_if_errors()
    return backends.generate(select_network(program, network), backend)


def select_network(program: ir.Program, name: str | None) -> ir.Network:
    try:
        return program.network(name)
    except KeyError as e:
        raise LookupError(e.args[0]) from None


def compile(path: str | Path, backend: str = "numpy", network: str | None = None, *,
            cache: bool = True) -> ModuleType:
    """Compile a .nndl file for a backend and import the result (see DESIGN.md, Python API)."""
    if backend not in backends.BACKENDS:
        raise ValueError(f"unknown backend `{backend}`; "
                         f"choose one of {', '.join(backends.BACKENDS)}")
    text = read_source(path)
    parts = [compiler_fingerprint(), backend, network or "", str(Path(path).resolve()), text]
    # surrogatepass: a file name of bytes that are not UTF-8 comes as lone surrogates
    key = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    module_name = f"nndl_generated_{backend}_{key[:16]}"
    cached = cache_directory() / f"{module_name}.py" if cache else None
    if cached is not None and _is_valid(cached, key):
        log.debug("cache hit: %s", cached)
        return load_module(cached, module_name)
    log.debug("cache miss: generating %s for %s", backend, path)
    source = generate_source(path, backend, network)
    if cached is not None and _store(cached, source, key):
        return load_module(cached, module_name)
    return module_from_source(source, module_name)


def _is_valid(path: Path, key: str) -> bool:
    try:
        manifest = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("key") == key and path.exists()


def _store(path: Path, source: str, key: str) -> bool:
    """Write the module, then its manifest (which marks it complete); False if we cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(path, source)
        write_text_atomically(path.with_suffix(".json"),
                         json.dumps({"key": key, "nndl_version": __version__}, indent=2))
    except OSError as e:
        log.warning("cannot write the compile cache at %s (%s); compiling in memory", path, e)
        return False
    return True


def load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def module_from_source(source: str, name: str) -> ModuleType:
    module = ModuleType(name)
    code = builtins.compile(source, f"<{name}>", "exec")  # the builtin: this module defines its own
    exec(code, module.__dict__)
    return module
