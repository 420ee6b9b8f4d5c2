"""Atomic writes (nndl.runtime.files): where they refuse to write, the mode they give a file,
links written through, and temporaries that killed writers left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from nndl.runtime import files
from nndl.runtime.errors import OutputError, RuntimeNNDLError


def temporary(folder, name: str, pid: int, host: str = files.HOST, age: float = 0.0):
    """A leftover of a writer `pid` on `host`, last touched `age` seconds ago."""
    path = folder / f".{name}.{pid}@{host}.k2j_x9a0.tmp"
    path.write_bytes(b"partial")
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_new_file_gets_the_mode_the_umask_allows(tmp_path):
    previous = os.umask(0o027)
    try:
        files.write_text_atomically(tmp_path / "a.txt", "a")
    finally:
        os.umask(previous)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640


def test_a_replaced_file_keeps_its_mode(tmp_path):
    (tmp_path / "a.txt").write_text("old")
    os.chmod(tmp_path / "a.txt", 0o604)
    files.write_text_atomically(tmp_path / "a.txt", "new")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o604
    assert (tmp_path / "a.txt").read_text() == "new"


def test_a_symbolic_link_is_written_through_to_its_target(tmp_path):
    (tmp_path / "target.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to("target.txt")
    files.write_text_atomically(tmp_path / "link.txt", "new")
    assert (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "target.txt").read_text() == "new"


def test_a_fifo_a_directory_and_a_missing_folder_are_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "link").symlink_to("pipe")
    for path, why in ((tmp_path / "pipe", "not a regular file"),
                      (tmp_path / "link", "not a regular file"),
                      (tmp_path, "a directory .name a file inside it"),
                      (tmp_path / "missing" / "a.txt", "folder .*missing does not exist")):
        with pytest.raises(OutputError, match=f"cannot write .*: .*{why}"):
            files.write_text_atomically(path, "x")
    assert (tmp_path / "link").is_symlink() and not (tmp_path / "pipe").is_file()
    assert issubclass(OutputError, RuntimeNNDLError)  # the CLI reports it, no traceback
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "pipe"]


def test_the_next_write_removes_only_its_own_dead_writers_temporaries(tmp_path):
    dead = temporary(tmp_path, "w.npz", dead_pid())
    alive = temporary(tmp_path, "w.npz", os.getppid())  # a live process, maybe mid-write
    mine = temporary(tmp_path, "w.npz", os.getpid())  # another thread of this process
    elsewhere = temporary(tmp_path, "w.npz", dead_pid(), host="0badf00d", age=3600)
    abandoned = temporary(tmp_path, "w.npz", os.getppid(), host="0badf00d", age=2 * 86400)
    other_file = temporary(tmp_path, "v.npz", dead_pid())
    foreign = tmp_path / ".w.npz.notes.tmp"
    foreign.write_text("someone else's")
    files.write_text_atomically(tmp_path / "w.npz", "whole")
    assert not dead.exists() and not abandoned.exists()
    assert alive.exists() and mine.exists() and elsewhere.exists()
    assert other_file.exists() and foreign.exists()
    assert (tmp_path / "w.npz").read_text() == "whole"


def test_an_output_that_is_an_input_is_refused(tmp_path):
    (tmp_path / "net.nndl").write_text("source")
    (tmp_path / "alias.nndl").symlink_to("net.nndl")
    for out in (tmp_path / "net.nndl", tmp_path / "alias.nndl", tmp_path / "." / "net.nndl"):
        with pytest.raises(OutputError, match="refusing to write .*: it is the input"):
            files.refuse_overwriting([tmp_path / "other.py", out], [None, tmp_path / "net.nndl"])
    files.refuse_overwriting([tmp_path / "net.py", tmp_path / "new.py"], [tmp_path / "net.nndl"])
