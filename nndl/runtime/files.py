"""Atomic file writes: a crash mid-write leaves the old file (or none), never a partial one.

The file is written under a temporary name beside its destination, synced, then renamed into
place. Through a symbolic link the link's target is replaced, never the link; a destination
that is not a regular file (a directory, a FIFO, a device) is refused, as is a folder that does
not exist. A new file gets the mode the umask allows (0666 & ~umask), a replaced one keeps its
own. A writer killed mid-write leaves its temporary behind; the next write to the same
destination removes those whose writer is gone (see `_is_stale`).
"""

from __future__ import annotations

import os
import re
import socket
import stat
import tempfile
import time
import zlib
from pathlib import Path
from typing import BinaryIO, Callable

from nndl.runtime.errors import OutputError

# `.NAME.PID@HOST.XXXXXXXX.tmp`: the writer's process id and a hash of its host's name, so that
# a later write can tell whether the writer of a leftover temporary is still alive
HOST = f"{zlib.crc32(socket.gethostname().encode('utf-8')):08x}"
ABANDONED_AFTER = 24 * 3600  # seconds untouched after which any writer must be gone


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None],
                     mode: int | None = None) -> None:
    """Call `write` on a temporary file beside `path`, sync it, then rename it into place; the
    file gets `mode` where given (the compile cache's private entries), else as `_mode` says."""
    path = destination(path)
    _remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}@{HOST}.", suffix=".tmp",
                               dir=path.parent)
    try:
        os.fchmod(fd, _mode(path) if mode is None else mode)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text_atomically(path: str | os.PathLike, text: str, mode: int | None = None) -> None:
    write_atomically(path, lambda f: f.write(text.encode("utf-8")), mode)


def destination(path: str | os.PathLike) -> Path:
    """The file a write to `path` replaces: a symbolic link's target; OutputError where that
    cannot be a regular file in an existing folder."""
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if path.exists() and not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise OutputError(f"cannot write {path}: it is {kind}"
                          + (" (name a file inside it)" if path.is_dir() else ""))
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: the folder {path.parent} does not exist")
    return path


def refuse_overwriting(outputs, inputs) -> None:
    """OutputError when an output would replace one of the inputs (the same file, under any
    name or through any link)."""
    for out in outputs:
        for given in inputs:
            if given is not None and _same_file(out, given):
                raise OutputError(f"refusing to write {out}: it is the input {given}; choose "
                                  "another output")


def _same_file(a, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): then they are not the same file
        return False


def _mode(path: Path) -> int:
    """A replaced file keeps its mode; a new one gets what the umask allows, as open() would."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)  # the only portable way to read it: set it, then put it back
        os.umask(umask)
        return 0o666 & ~umask


def _remove_stale_temporaries(path: Path) -> None:
    pattern = re.compile(re.escape(f".{path.name}.") + r"(\d+)@([0-9a-f]{8})\.[a-z0-9_]+\.tmp")
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        if match and _is_stale(path.parent / name, int(match.group(1)), match.group(2)):
            try:
                os.unlink(path.parent / name)
            except OSError:  # gone already (another writer cleaned up), or not ours to remove
                pass


def _is_stale(tmp: Path, pid: int, host: str) -> bool:
    """Safe to remove: only a file of this module's own pattern for this destination, whose
    writer no longer exists. Its name holds the writer's pid and host; on this host, a pid that
    no process has is a writer that died (SIGKILL, power loss) before renaming it, and no other
    process writes to a mkstemp file it did not create. A writer on another host (a shared
    folder) cannot be asked, so only a day without a change there counts as gone; the same
    holds for a pid that a new process may since have taken."""
    try:
        untouched = time.time() - tmp.lstat().st_mtime
    except OSError:
        return False
    if untouched > ABANDONED_AFTER:
        return True
    if host != HOST or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False
