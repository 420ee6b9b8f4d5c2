"""The front end: source text -> checked IR, or every diagnostic at once (`check_text`).

`parser` (Lark, with `tree_to_ast` run by `reductions`, `lark_loops` and `syntax_errors`) makes
the AST of `syntax`; `semantic` resolves and checks it with `signatures`, `conditions`,
`expressions`, `neuron_models`, `regimes` and `ordering`, and builds the IR.
"""

from __future__ import annotations

import codecs
import contextlib
import gc
import hashlib
from collections.abc import Mapping
from pathlib import Path

from nndl import ir
from nndl.diagnostics import Diagnostics, Span
from nndl.frontend import parameters
from nndl.frontend.parser import parse
from nndl.frontend.semantic import check_program


def source_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_text(text: str, path: str = "<string>", params: Mapping[str, float | bool] = (),
               how: str = "--set") -> tuple[ir.Program | None, Diagnostics]:
    """Parse and check; the program is None when there are errors (see the diagnostics).

    `params` override the file's `param` values (`how` names them in messages: "--set" or
    "params="); an override of a name the file does not declare is an error."""
    diags = Diagnostics(path, text)
    with collector_paused():
        tree = parse(text, diags)
        if tree is None:
            return None, diags
        resolved = parameters.resolve(tree, diags, params, how)
        start = len(diags.items)
        program = check_program(resolved.program, path, source_hash(text), diags)
        resolved.annotate(diags, start)
    return (None if diags.errors else program), diags


@contextlib.contextmanager
def collector_paused():
    """Python's cycle collector off while the front end runs (and, in nndl.commands.check,
    while building checks what it made).

    The parse tree, the AST and the IR are trees without reference cycles, freed as usual when
    dropped; but each collection walks every object they hold, so a large file was checked in
    twice the time (see docs/robustness.md, program size)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def read_source(path: str | Path) -> str:
    """A source file's text; undecodable bytes are an error of the user's file, not a crash.

    A UTF-8 byte-order mark (which Windows editors write) is dropped; a UTF-16 file is named as
    such; any other byte that is not UTF-8 is shown where it stands.
    """
    data = Path(path).read_bytes().removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        diags = Diagnostics(str(path), data.decode("utf-8", errors="replace"))
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            diags.error("encoding", "the file is UTF-16 text, not UTF-8", None,
                        "save it as UTF-8")
        else:
            line = data.count(b"\n", 0, e.start) + 1
            before = data[data.rfind(b"\n", 0, e.start) + 1:e.start].decode("utf-8")
            span = Span(line, len(before) + 1, line, len(before) + 2)
            diags.error("encoding", f"the file is not UTF-8 text (byte {e.start}: "
                        f"{data[e.start:e.start + 1]!r})", span, "save it as UTF-8")
        diags.raise_if_errors()
        raise


def load_program(path: str | Path, params: Mapping[str, float | bool] = (),
                 how: str = "params=") -> ir.Program:
    """Parse and check a file; raises NNDLError with every diagnostic if it has errors."""
    text = read_source(path)
    program, diags = check_text(text, str(path), params, how)
    diags.raise_if_errors()
    return program


def declared_parameters(text: str, path: str = "<string>") -> dict[str, float | bool]:
    """Every `param` the file declares outside neuron blocks, with its value; a syntax error
    or a wrong `param` line raises NNDLError."""
    diags = Diagnostics(path, text)
    tree = parse(text, diags)
    values = parameters.resolve(tree, diags).values if tree is not None else {}
    diags.raise_if_errors()
    return values
