"""`nndl.compile`: a .nndl file -> an imported module, cached on disk by source hash.

The cache holds text only — the generated `.py` and a JSON manifest — never pickles. Its key is
the sha256 of (the compiler's own files, backend, network, resolved path, source text, the
overridden parameters), so any change to those regenerates — a fixed backend too, without a new
version number — and nothing else does. What it finds is code the next compile would run, so
it is used only when the folder and both files are this user's and writable by nobody else, and
the module's bytes are those whose sha256 the manifest records; anything else is regenerated,
with a CacheWarning.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import importlib.resources
import json
import logging
import os
import stat
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import platformdirs

from nndl import backends, ir
from nndl.frontend import check_text, read_source
from nndl.frontend.parameters import override_values
from nndl.runtime.build import NNDLWarning
from nndl.runtime.files import write_atomically, write_text_atomically
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


def generate_source(path: str | Path, backend: str, network: str | None = None,
                    params: Mapping[str, float | bool] | None = None, how: str = "params=") -> str:
    """Parse, check and generate; raises NNDLError with every diagnostic on bad input.
    `params` override the file's `param` values."""
    text = read_source(path)
    program, diags = check_text(text, str(path), params or {}, how)
    diags.raise_if_errors()
    return backends.generate(select_network(program, network), backend)


def select_network(program: ir.Program, name: str | None) -> ir.Network:
    try:
        return program.network(name)
    except KeyError as e:
        raise LookupError(e.args[0]) from None


def compile(path: str | Path, backend: str = "numpy", network: str | None = None, *,
            cache: bool = True, params: Mapping[str, float | bool] | None = None,
            how: str = "params=") -> ModuleType:
    """Compile a .nndl file for a backend and import the result (see DESIGN.md, Python API).

    `params={"n_hidden": 64}` overrides the file's `param` values (checked as the literals
    they replace; `how` names them in messages). `cache=False`, or NNDL_NO_CACHE=1 in the
    environment, neither reads nor writes the cache."""
    if backend not in backends.BACKENDS:
        raise ValueError(f"unknown backend `{backend}`; "
                         f"choose one of {', '.join(backends.BACKENDS)}")
    overrides = override_values(params)  # ValueError for a value that is no number or bool
    text = read_source(path)
    parts = [compiler_fingerprint(), backend, network or "", str(Path(path).resolve()), text,
             json.dumps(sorted(overrides.items()))]  # 64 and 64.0 are one key: both are 64.0
    # surrogatepass: a file name of bytes that are not UTF-8 comes as lone surrogates
    key = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    module_name = f"nndl_generated_{backend}_{key[:16]}"
    folder = _cache_folder() if cache and not cache_disabled() else None
    entry = folder / f"{module_name}.py" if folder is not None else None
    if entry is not None:
        data = _cached(entry, key)
        if data is not None:
            log.debug("cache hit: %s", entry)
            return module_from_source(data, module_name, entry)
    log.debug("cache miss: generating %s for %s", backend, path)
    source = generate_source(path, backend, network, overrides, how)
    if entry is not None and _store(entry, source, key):
        return module_from_source(source, module_name, entry)
    return module_from_source(source, module_name)


class CacheWarning(NNDLWarning):
    """The compile cache holds something that NNDL did not write, or not whole: not used."""


def cache_disabled() -> bool:
    """Whether NNDL_NO_CACHE asks for no cache (any value but empty and 0)."""
    return os.environ.get("NNDL_NO_CACHE", "") not in ("", "0")


def _warn(message: str) -> None:
    warnings.warn(CacheWarning(message), stacklevel=4)  # at the caller of nndl.compile


# A cached module is code that the next compile runs: like pip's cache and `__pycache__`, take
# only what this user wrote, where nobody else can write, and (from the manifest beside it) only
# the bytes that were written.
def _cache_folder() -> Path | None:
    """The cache folder, made 0700 if missing; None (with a warning) if it is not safe to use."""
    folder = cache_directory()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        problem = _untrusted(os.stat(folder), directory=True)
    except OSError as e:
        problem = f"cannot create it ({e.strerror or e})"
    if problem is None:
        return folder
    _warn(f"not using the compile cache {folder}: {problem}; compiling in memory "
          "(NNDL_CACHE_DIR chooses another folder, NNDL_NO_CACHE=1 turns the cache off)")
    return None


def _untrusted(status: os.stat_result, directory: bool = False) -> str | None:
    """Why a file or folder of the cache cannot be trusted, or None: not what it should be
    (a regular file, a folder), owned by another user, or writable by others."""
    if not (stat.S_ISDIR if directory else stat.S_ISREG)(status.st_mode):
        return "not a folder" if directory else "not a regular file"
    if not hasattr(os, "getuid"):  # Windows: the user's profile folder guards it
        return None
    if status.st_uid != os.getuid():
        return f"owned by another user (uid {status.st_uid})"
    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (f"writable by its group or by others (mode {stat.S_IMODE(status.st_mode):o}; "
                f"chmod go-w fixes it)")
    return None


class _Refused(Exception):
    """A cache entry that must not be used (its message says why)."""


def _read_trusted(path: Path) -> bytes:
    """The bytes of a cache file; _Refused if it is not one this user alone could write.
    Checked on the open file itself: a file swapped after the check is not the one read."""
    # a link is refused, and a FIFO cannot make the open wait for a writer
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        problem = _untrusted(os.fstat(f.fileno()))
        if problem is not None:
            raise _Refused(f"{path.name} is {problem}")
        return f.read()


def _cached(path: Path, key: str) -> bytes | None:
    """The cached module's bytes, when its manifest vouches for exactly them; None (with a
    warning when the entry is there but damaged or not trusted) to regenerate it."""
    manifest = path.with_suffix(".json")
    if not os.path.lexists(manifest):  # never written, or a write cut short before it
        return None
    try:
        record = json.loads(_read_trusted(manifest).decode("utf-8"))
        if not isinstance(record, dict) or not isinstance(record.get("sha256"), str):
            raise _Refused(f"{manifest.name} is no manifest of nndl's")
        if record.get("key") != key:
            raise _Refused(f"{manifest.name} is another program's entry")
        data = _read_trusted(path)
        if hashlib.sha256(data).hexdigest() != record["sha256"]:
            raise _Refused(f"{path.name} is not the module its manifest records "
                           f"({len(data)} bytes; truncated or changed)")
    except FileNotFoundError:
        problem = f"{path.name} is missing"
    except (_Refused, OSError, ValueError) as e:  # ValueError: not UTF-8, not JSON
        problem = str(e) if isinstance(e, _Refused) else f"unreadable ({e})"
    else:
        return data
    _warn(f"compile cache entry in {path.parent} not used: {problem}; regenerating it")
    return None


def _store(path: Path, source: str, key: str) -> bool:
    """Write the module, then its manifest (which marks it complete and records the module's
    hash); False, with a warning, if we cannot."""
    data = source.encode("utf-8")
    manifest = {"key": key, "sha256": hashlib.sha256(data).hexdigest(),
                "nndl_version": __version__}
    try:
        for old in (path, path.with_suffix(".json")):  # an entry refused for being a link or
            if old.is_symlink() or (old.exists() and not old.is_file()):  # a FIFO is replaced,
                old.unlink()  # not written through (as other files are)
        # private, as the folder is: the entries are code this user will run
        write_atomically(path, lambda f: f.write(data), mode=0o600)
        write_text_atomically(path.with_suffix(".json"), json.dumps(manifest, indent=2),
                              mode=0o600)
    except OSError as e:
        _warn(f"cannot write the compile cache at {path} ({e}); compiling in memory")
        return False
    return True


def module_from_source(source: str | bytes, name: str, path: Path | None = None) -> ModuleType:
    """A module made from generated code; `path`: the file that holds exactly this code (bytes
    as they are on disk: decoded as their line 1 declares, as an import would)."""
    module = ModuleType(name)
    if path is not None:
        module.__file__ = str(path)  # tracebacks and debuggers show its lines
    filename = str(path) if path is not None else f"<{name}>"
    # the builtin (this module defines its own compile), without this module's __future__
    # flags: as importlib compiles a file
    code = builtins.compile(source, filename, "exec", dont_inherit=True)
    exec(code, module.__dict__)
    return module
