"""Fuzzed front end: whatever a file holds, `nndlc check` ends in diagnostics or success.

For now, what fuzzing found: one regression test per fix (the fuzz tests themselves follow).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time

import pytest

from nndl.diagnostics import EXCERPT_WIDTH, Diagnostics, NNDLError, Span
from nndl.frontend import check_text, read_source

# CPU seconds one input may take; the watchdog turns a hang into a failure at WATCHDOG times it.
BOUND = 2.0
WATCHDOG = 5
NET = "network n {\n  input x[2]\n  output y[1] : relu\n  connect x -> y : full\n"


class Hang(Exception):
    """An input ran past the watchdog."""


@contextlib.contextmanager
def watchdog(seconds: float):
    """Raise Hang in the main thread after `seconds` (where SIGALRM exists; else only timed)."""
    main_thread = threading.current_thread() is threading.main_thread()
    if not hasattr(signal, "setitimer") or not main_thread:
        yield
        return

    def fire(signum, frame):
        raise Hang(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check(text: str) -> Diagnostics:
    """The front end's diagnostics for `text`, within the watchdog."""
    with watchdog(BOUND * WATCHDOG):
        return check_text(text, "t.nndl")[1]


@pytest.mark.parametrize("expression", ["-" * 10_000 + "1", "1 + " * 10_000 + "1",
                                        "abs(" * 5_000 + "1" + ")" * 5_000],
                         ids=["10,000 minus signs", "10,000 terms", "5,000 nested calls"])
def test_deep_nesting_is_a_diagnostic_not_a_recursion_error(expression):
    diags = check(NET + "  seed " + expression + "\n}\n")
    assert [(d.code, d.message) for d in diags.errors] == [
        ("too-deep", "this expression nests more than 100 levels deep")]
    assert diags.errors[0].span.line == 5


@pytest.mark.parametrize("backend", ["oo", "numpy"])
def test_nesting_within_the_limit_compiles(backend, compile_text):
    """90 levels in a neuron model and a connection condition: the checks, the code generators
    and Python's own parser of the generated module all cope."""
    terms = " + ".join(["v"] * 90)
    text = (f"neuron deep {{\n  state v = 0.0\n  v = 0.5 * ({terms}) / 90 + net\n"
            f"  out = tanh({'-' * 90}v)\n}}\n"
            f"network n {{\n  input x[3]\n  output y[2] : deep\n"
            f"  connect x -> y : random(p=0.5, where={' + '.join(['pre.index'] * 90)} >= 0)\n}}\n")
    assert not check(text).errors
    assert compile_text(text, backend).Network() is not None


def test_rendering_many_diagnostics_takes_linear_time():
    """Each diagnostic split the whole text into lines again: 600,000 errors took hours."""
    text = "x\n" * 20_000
    diags = Diagnostics("t.nndl", text)
    for line in range(1, 20_001):
        diags.error("e", "m", Span(line, 1, line, 2))
    start = time.process_time()
    with watchdog(60):
        rendered = diags.render()
    assert time.process_time() - start < 1.0
    assert rendered.count(" | x\n") == 20_000


@pytest.mark.parametrize("separator", ["\x0c", "\x0b", "\x1c", "\x85", "\u2028", "\u2029"])
def test_excerpts_count_lines_as_the_parser_does(separator):
    """Only `\\n` ends a line; a form feed or U+2028 in a comment once shifted every excerpt."""
    diags = check(f"# a comment with {separator} in it\n" + NET + "  seed x\n}\n")
    (error,) = diags.errors
    assert error.span.line == 6
    assert "    6 |   seed x\n" in diags.render()


@pytest.mark.parametrize("count", [8, 10_000])
def test_unclosed_brackets_are_reported_at_once(count):
    """Ending the statement searched every path, breadth first, for the fewest stand-in tokens:
    5 open brackets took a minute, 8 hours."""
    start = time.process_time()
    diags = check(NET + "  seed " + "(" * count + "\n}\n")
    assert time.process_time() - start < BOUND
    assert [d.message for d in diags.errors] == ["expected a value after `(`"]


def test_recovery_does_not_copy_what_was_parsed():
    """Each step of that search deep-copied the values parsed so far: after 2,000 statements
    one error took seconds."""
    statements = "".join(f"  group g{i}[2] : relu\n" for i in range(2_000))
    start = time.process_time()
    diags = check(NET + statements + "  seed (((\n}\n")
    assert time.process_time() - start < BOUND
    assert [(d.span.line, d.message) for d in diags.errors] == [
        (2_005, "expected a value after `(`")]


@pytest.mark.parametrize("junk", [" )" * 10_000, " {" * 10_000, "\u20ac" * 10_000],
                         ids=["brackets", "braces", "characters"])
def test_a_line_of_junk_is_reported_in_linear_time(junk):
    """Every stray token on a line was an error whose description scanned the file so far:
    10,000 stray `)` took 27 s."""
    start = time.process_time()
    diags = check(NET + "  seed 1" + junk + "\n}\n")
    assert time.process_time() - start < BOUND
    assert len(diags.errors) == 1 and diags.errors[0].span.line == 5


@pytest.mark.parametrize("text, word", [
    ("networkxor {\n}\n", "networkxor"),
    (NET + "  inputx[2]\n}\n", "inputx"),
    (NET + "  seed1\n}\n", "seed1"),
    (NET.replace(": full", ": full asc"), "asc"),
], ids=["networkxor", "inputx", "seed1", "asc"])
def test_keywords_are_whole_words(text, word):
    """Where only keywords may stand, the lexer read `networkxor` as `network xor`."""
    (error,) = check(text).errors
    assert error.message.startswith(f"unexpected name `{word}`")


def test_a_misplaced_keyword_is_still_named_as_one():
    (error,) = check("seed 1\n" + NET + "}\n").errors
    assert error.message.startswith("unexpected `seed`; expected a statement")
    assert error.hint == "`seed` belongs in a `network` block"


def test_a_byte_order_mark_is_skipped(tmp_path):
    path = tmp_path / "bom.nndl"
    path.write_bytes(b"\xef\xbb\xbf" + (NET + "}\n").encode())
    assert read_source(path) == NET + "}\n"
    assert not check(read_source(path)).errors


def test_utf16_is_named(tmp_path):
    path = tmp_path / "wide.nndl"
    path.write_bytes((NET + "}\n").encode("utf-16"))
    with pytest.raises(NNDLError) as e:
        read_source(path)
    (error,) = e.value.diagnostics.errors
    assert (error.message, error.hint) == ("the file is UTF-16 text, not UTF-8", "save it as UTF-8")


def test_a_byte_that_is_not_utf8_is_shown_where_it_stands(tmp_path):
    path = tmp_path / "latin1.nndl"
    path.write_bytes((NET + "  # caf\u00e9\n}\n").encode("latin-1"))
    with pytest.raises(NNDLError) as e:
        read_source(path)
    (error,) = e.value.diagnostics.errors
    assert (error.span.line, error.span.column) == (5, 8)
    assert "    5 |   # caf\ufffd\n" in e.value.diagnostics.render()


def test_long_lines_are_cut_around_the_error():
    """Each error echoed its whole line: 4,000 on one line gave 120 MB from a 20 KB file."""
    diags = check(NET.replace(": full", ": full(" + "a=1, " * 4_000 + ")") + "}\n")
    assert len(diags.errors) == 4_000
    rendered = diags.render()
    assert len(rendered) < 2_000_000
    assert max(len(line) for line in rendered.split("\n")) <= EXCERPT_WIDTH + 20


@pytest.mark.parametrize("char", ["\0", "\x1b", "\ufeff", "\u200b"])
def test_invisible_characters_are_named_not_printed(char):
    (error,) = check(NET + f"  seed 1{char}\n}}\n").errors
    assert error.message == f"unexpected invisible character U+{ord(char):04X}"
    assert char not in check(NET + f"  seed 1{char}\n}}\n").render()
