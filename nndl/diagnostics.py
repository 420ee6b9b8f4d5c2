"""Diagnostics as data: each error or warning carries a source span, a message and maybe a hint.

A phase collects its diagnostics in a `Diagnostics` passed in explicitly and ends with
`raise_if_errors()`, so one run reports every independent mistake it can find.
"""

from __future__ import annotations

import bisect
import difflib
import functools
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    """A region of source text; lines and columns are 1-based, `end_column` is exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def of(cls, item) -> "Span":
        """The span of a Lark token, or of a tree's `meta` (parsed with propagate_positions)."""
        return cls(item.line, item.column, item.end_line, item.end_column)

    def to(self, other: "Span") -> "Span":
        """The span from the start of this one to the end of `other`."""
        return Span(self.line, self.column, other.end_line, other.end_column)


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error" or "warning"
    code: str  # a stable short name, e.g. "unknown-group"; tests match on it
    message: str
    span: Span | None
    hint: str | None = None
    notes: tuple[tuple[str, Span | None], ...] = ()


@dataclass
class Diagnostics:
    """A collector for one source file."""

    path: str
    text: str
    items: list[Diagnostic] = field(default_factory=list)

    def error(self, code, message, span, hint=None, notes=()):
        self.items.append(Diagnostic("error", code, message, span, hint, tuple(notes)))

    def warning(self, code, message, span, hint=None, notes=()):
        self.items.append(Diagnostic("warning", code, message, span, hint, tuple(notes)))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def raise_if_errors(self):
        if self.errors:
            raise NNDLError(self)

    def render(self, concise: bool = False) -> str:
        """Every diagnostic in source order, as the CLI prints them."""
        ordered = sorted(self.items, key=_position)
        # split once (per diagnostic, 600k errors took hours), and at `\n` alone, as the parser
        # counts lines: splitlines() also breaks at form feeds, U+2028 and other separators
        lines = self.text.split("\n")
        return "".join(render(d, self.path, lines, concise) for d in ordered)


class NNDLError(Exception):
    """A user's program has errors; `diagnostics` holds all of them."""

    def __init__(self, diagnostics: Diagnostics):
        self.diagnostics = diagnostics
        super().__init__(diagnostics.render(concise=True).rstrip("\n"))


def _position(d: Diagnostic):
    return (d.span.line, d.span.column) if d.span else (0, 0)


def render(d: Diagnostic, path: str, lines: list[str], concise: bool = False) -> str:
    """`file:line:col: error: message`, then (unless concise) the source line, caret and hint;
    `lines` are the source's lines."""
    if d.span is None:
        head = f"{path}: {d.severity}: {d.message}\n"
    else:
        head = f"{path}:{d.span.line}:{d.span.column}: {d.severity}: {d.message}\n"
    if concise:
        return head
    parts = [head]
    if d.span is not None:
        parts.append(_excerpt(lines, d.span))
    for note, span in d.notes:
        where = f"{path}:{span.line}:{span.column}: " if span else ""
        parts.append(f"  note: {where}{note}\n")
        if span is not None:
            parts.append(_excerpt(lines, span))
    if d.hint:
        parts.append(f"  help: {d.hint}\n")
    return "".join(parts)


# The longest source line an excerpt shows whole; of a longer one, this many characters around
# the span (a line of 4,000 errors was echoed once per error: 120 MB from a 20 KB file).
EXCERPT_WIDTH = 200


def _excerpt(lines: list[str], span: Span) -> str:
    """The span's first source line with a caret line under it."""
    if not 1 <= span.line <= len(lines):
        return ""
    source = lines[span.line - 1].removesuffix("\r")
    start = span.column - 1
    if span.end_line == span.line and span.end_column > span.column:
        width = span.end_column - span.column
    elif span.end_line > span.line:  # underline the rest of the first line's code
        width = len(source.split("#", 1)[0].rstrip()) - start
    else:
        width = 1
    width = max(1, min(width, len(source) - start)) if start < len(source) else 1
    if len(source) > EXCERPT_WIDTH:
        left = max(0, min(start - EXCERPT_WIDTH // 4, len(source) - EXCERPT_WIDTH))
        right = left + EXCERPT_WIDTH
        width = max(1, min(width, right - start))
        cut = "..." if left else ""
        source = cut + source[left:right] + ("..." if right < len(source) else "")
        start += len(cut) - left
    gutter = f"{span.line:>5} | "
    return (f"{gutter}{_visible(source)}\n"
            f"{' ' * (len(gutter) - 2)}| {' ' * start}{'^' * width}\n")


def _visible(line: str) -> str:
    """The line with one column per character: tabs as spaces, and control and other invisible
    characters as U+FFFD (printed raw, a NUL or an escape sequence garbles the terminal)."""
    line = line.replace("\t", " ")
    if line.isprintable():
        return line
    return "".join(char if char.isprintable() else "\ufffd" for char in line)


# Each difflib ratio costs tens of microseconds, so with more known names than this a lookup
# compares only the ones spelt most like the misspelt name (2 000 misspellings among 5 000
# groups took 24 s when each compared all of them).
SUGGESTION_CANDIDATES = 40


def suggest(name: str, known, cutoff: float = 0.6) -> str | None:
    """A 'did you mean' hint for a misspelt name, or None."""
    names = tuple(known)
    if len(names) > SUGGESTION_CANDIDATES:
        names = _spellings(names).near(name, SUGGESTION_CANDIDATES // 4)
    close = difflib.get_close_matches(name, names, n=1, cutoff=cutoff)
    return f"did you mean `{close[0]}`?" if close else None


@functools.lru_cache(maxsize=4)  # one network's groups are looked up once per misspelling
def _spellings(names: tuple[str, ...]) -> Spellings:
    return Spellings(names)


class Spellings:
    """Names sorted by their spelling and by their spelling backwards.

    A misspelling nearly always keeps the start or the end of the name it meant, and those
    names sort next to it in one of the two orders.
    """

    def __init__(self, names: tuple[str, ...]):
        self.forward = sorted(names)
        self.backward = sorted(name[::-1] for name in names)

    def near(self, name: str, each_side: int) -> list[str]:
        """The names next to `name` in either order, `each_side` on each side, in that order."""
        found = dict.fromkeys(_neighbours(self.forward, name, each_side))
        found.update(dict.fromkeys(n[::-1] for n in _neighbours(self.backward, name[::-1],
                                                                 each_side)))
        return list(found)


def _neighbours(ordered: list[str], name: str, each_side: int) -> list[str]:
    at = bisect.bisect_left(ordered, name)
    return ordered[max(0, at - each_side):at + each_side]
