"""Diagnostics as data: each error or warning carries a source span, a message and maybe a hint.

A phase collects its diagnostics in a `Diagnostics` passed in explicitly and ends with
`raise_if_errors()`, so one run reports every independent mistake it can find.
"""

from __future__ import annotations

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


def _excerpt(lines: list[str], span: Span) -> str:
    """The span's first source line with a caret line under it."""
    if not 1 <= span.line <= len(lines):
        return ""
    source = lines[span.line - 1].removesuffix("\r").replace("\t", " ")  # a column per character
    start = span.column - 1
    if span.end_line == span.line and span.end_column > span.column:
        width = span.end_column - span.column
    elif span.end_line > span.line:  # underline the rest of the first line's code
        width = len(source.split("#", 1)[0].rstrip()) - start
    else:
        width = 1
    width = max(1, min(width, len(source) - start)) if start < len(source) else 1
    gutter = f"{span.line:>5} | "
    return f"{gutter}{source}\n{' ' * (len(gutter) - 2)}| {' ' * start}{'^' * width}\n"
