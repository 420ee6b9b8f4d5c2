"""The front end's one entry point: source text -> checked IR, or every diagnostic at once."""

from __future__ import annotations

import hashlib
from pathlib import Path

from nndl import ir
from nndl.diagnostics import Diagnostics
from nndl.parser import parse
from nndl.semantic import check_program


def source_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_text(text: str, path: str = "<string>") -> tuple[ir.Program | None, Diagnostics]:
    """Parse and check; the program is None when there are errors (see the diagnostics)."""
    diags = Diagnostics(path, text)
    tree = parse(text, diags)
    if tree is None:
        return None, diags
    program = check_program(tree, path, source_hash(text), diags)
    return (None if diags.errors else program), diags


def read_source(path: str | Path) -> str:
    """A source file's text; undecodable bytes are an error of the user's file, not a crash."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        diags = Diagnostics(str(path), "")
        diags.error("encoding", f"the file is not UTF-8 text (byte {e.start}: "
                    f"{data[e.start:e.start + 1]!r})", None)
        diags.raise_if_errors()
        raise


def load_program(path: str | Path) -> ir.Program:
    """Parse and check a file; raises NNDLError with every diagnostic if it has errors."""
    text = read_source(path)
    program, diags = check_text(text, str(path))
    diags.raise_if_errors()
    return program
