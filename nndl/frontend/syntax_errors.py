"""Syntax errors in the user's words, and recovery so that one run reports several.

Lark's LALR parser calls `Recovery.on_error` at each unexpected token; the error is described at
once (recovery changes the parser state that `accepts` reads), then the parser is steered to the
end of the line, or past a recognisable slip, and goes on.
"""

from __future__ import annotations

import difflib
import re
from collections import deque

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from nndl.diagnostics import Diagnostics, Span
from nndl.frontend.keywords import BLOCK_KEYWORDS, BLOCK_OF, KEYWORD_ORDER, STATEMENT_KEYWORDS, as_keyword

MAX_SYNTAX_ERRORS = 20
# Errors handled in all, reported or not (the later ones on a reported line, those in a block
# whose first line failed): past this many, parsing stops, so that a line of 10,000 stray
# tokens ends in a report instead of minutes of recovery.
MAX_RECOVERIES = 200
# Parser states the search for the shortest way to end a statement may visit: it branches by
# every terminal a state accepts, so after `((((` the shortest path's search visited millions.
MAX_SEARCH = 60
# Stand-in tokens tried in this order when the search gives up: brackets close, a value fills
# the place of one; each step is tried a token at a time, so it costs linear time.
CLOSING = ("RPAR", "RSQB", "NUMBER", "ELSE", "NAME", "COLON")


class Recovery:
    """Reports a syntax error, then skips to the end of its line and parses on (one per line).

    Where the slip is recognisable (a misspelt keyword, a missing or extra `}`), parsing goes on
    as if it were mended, so the lines after it are checked instead of echoing the first error.
    """

    def __init__(self, parser: Lark, source: str, diags: Diagnostics):
        self.parser, self.source, self.diags = parser, source, diags
        self.lines: set[int] = set()
        self.muted: set[int] = set()  # lines whose errors would only echo an earlier one
        self.recoveries = 0
        # keyword text -> terminal: the lexer reads a keyword where only keywords may stand as a
        # NAME (see BracketNewlines.always_accept); an error names it as the keyword it is
        self.keywords = {t.pattern.value: t.name for t in parser.terminals
                         if t.pattern.type == "str" and t.pattern.value.isalpha()}

    def on_error(self, e: UnexpectedInput) -> bool:
        self.recoveries += 1
        if self.recoveries > MAX_RECOVERIES:
            return False  # the parser raises `e`, which `parse` records
        seen = e.line in self.lines or e.line in self.muted  # an earlier error's line
        resume = self.record(e)
        if len(self.lines) >= MAX_SYNTAX_ERRORS:
            return False
        if not isinstance(e, UnexpectedToken):
            return True  # Lark skips the bad character
        if e.token.type == "$END":
            return False
        interactive = e.interactive_parser
        if not _skip_to_end_of_line(interactive):
            return False
        try:
            for tok in resume:
                interactive.feed_token(tok)
        except UnexpectedToken as again:
            again.interactive_parser = interactive
            self.record(again)
            if not _skip_to_end_of_line(interactive):
                return False
        if not seen and _accepts(interactive, "NETWORK"):  # the failed line opened no block
            self._mute_block_after(e.token.start_pos)
        return True

    def _mute_block_after(self, pos: int) -> None:
        """Silence the lines of a block whose opening line failed: each would be an error too."""
        end = _closing_line(self.source, pos)
        if end is not None:
            self.muted.update(range(self.source.count("\n", 0, pos) + 2, end + 1))

    def record(self, e: UnexpectedInput) -> list[Token]:
        """Describe the error now (recovery changes the state that `accepts` reads).

        Returns the tokens to parse on with once the broken statement is ended: the offending
        token itself where it can start the next statement, so one slip does not spoil the
        lines after it.
        """
        if isinstance(e, UnexpectedCharacters):
            self._add(e.line, lambda: _report_character(e, self.diags))
            return []
        assert isinstance(e, UnexpectedToken)
        if e.token.type == "NAME" and str(e.token) in self.keywords:
            e.token = Token.new_borrow_pos(self.keywords[str(e.token)], str(e.token), e.token)
        accepts = set(e.accepts or e.expected)
        start = _start(e, self.source)
        prev_line, prev_end, prev_word = _previous_token(self.source, start)
        tok = e.token
        if tok.type in ("_NL", "$END") or (prev_line < e.line and not accepts & {"RBRACE", "$END"}):
            self._missing(e, accepts, (prev_line, prev_end, prev_word))
            return [] if tok.type == "_NL" else [tok]  # it starts the next line: parse it
        first_on_line = not _before_on_line(self.source, start).strip()
        if str(tok) in BLOCK_KEYWORDS and first_on_line and "RBRACE" in accepts:
            self._unclosed_before(e, start)
            return [Token("RBRACE", "}"), Token("_NL", "\n"), as_keyword(tok)]
        if str(tok) in BLOCK_OF and "NETWORK" in accepts:
            self._outside_block(e, accepts, start)
            return []
        guess = self._unexpected(e, accepts, start)
        if guess in STATEMENT_KEYWORDS and first_on_line:  # misspelt: read on as if it were not
            return [Token.new_borrow_pos(guess.upper(), guess, tok)]
        mid_line = not first_on_line and str(tok) in STATEMENT_KEYWORDS
        return [as_keyword(tok)] if mid_line else []

    def _missing(self, e: UnexpectedToken, accepts: set[str],
                 previous: tuple[int, int, str]) -> None:
        """A statement stopped short: report what it lacks at the end of its last token."""
        line, end, word = previous
        span = Span(line, end, line, end + 1)
        expected, _ = _expected(accepts, self.parser)
        message = f"expected {expected} after `{word}`" if word else f"expected {expected}"
        notes = ()
        opened = e.token.type == "$END" and "RBRACE" in accepts and _unclosed_brace(self.source)
        if opened:
            message = "expected `}` before the end of the file"
            notes = [("the block opened here is never closed", opened)]
        self._add(line, lambda: self.diags.error("syntax", message, span, notes=notes))

    def _unclosed_before(self, e: UnexpectedToken, start: int) -> None:
        """A block keyword inside a block: the `}` of the block above is missing."""
        span = _token_span(e)
        message = f"expected `}}` before `{e.token}`: a block cannot start inside another"
        opened = _unclosed_brace(self.source[:start])
        notes = [("the block opened here is never closed", opened)] if opened else ()
        self._add(e.line, lambda: self.diags.error("syntax", message, span, notes=notes))

    def _outside_block(self, e: UnexpectedToken, accepts: set[str], start: int) -> None:
        """A block's statement after its block ended: a `}` too many closed it early."""
        hint = f"`{e.token}` belongs in a `{BLOCK_OF[str(e.token)]}` block"
        close = self.source.rfind("}", 0, start)
        notes = [("this `}` ends the block", _span_at(self.source, close))] if close >= 0 else ()
        self._report_unexpected(e, accepts, hint, notes)
        end = _closing_line(self.source, start, depth=1)  # where the block meant to end
        self.muted.update(range(e.line + 1, end + 1))

    def _unexpected(self, e: UnexpectedToken, accepts: set[str], start: int) -> str | None:
        """Report an unexpected token; returns the keyword it looks like a misspelling of."""
        _, keywords = _expected(accepts, self.parser)
        guess = _close_keyword(e.token, keywords)
        hint = f"did you mean `{guess}`?" if guess else _mistake_hint(e.token, accepts,
                                                                       self.source, start)
        self._report_unexpected(e, accepts, hint)
        return guess

    def _report_unexpected(self, e: UnexpectedToken, accepts: set[str], hint: str | None,
                           notes=()) -> None:
        expected, _ = _expected(accepts, self.parser)
        message = f"unexpected {_describe_token(e.token)}; expected {expected}"
        span = _token_span(e)
        self._add(e.line, lambda: self.diags.error("syntax", message, span, hint, notes))

    def _add(self, line: int, report) -> None:
        if line not in self.lines and line not in self.muted:
            self.lines.add(line)
            report()


def _token_span(e: UnexpectedToken) -> Span:
    return Span(e.line, e.column, e.line, e.column + max(1, len(str(e.token))))


def _mistake_hint(tok: Token, accepts: set[str], source: str, start: int) -> str | None:
    """A hint for a common slip, recognised from the token and the statement it breaks."""
    before = _before_on_line(source, start)
    statement = before.split()[0] if before.split() else ""
    if str(tok) in STATEMENT_KEYWORDS and "_NL" in accepts and before.strip():
        what = "block" if str(tok) in BLOCK_KEYWORDS else "statement"
        return f"start each {what} on a line of its own"
    if str(tok) in BLOCK_OF and not before.strip():
        return f"`{tok}` belongs in a `{BLOCK_OF[str(tok)]}` block"
    if str(tok) == ":" and statement == "input" and "_NL" in accepts:
        return "an input takes no activation: its neurons output the data as given"
    if str(tok) == "[" and statement in ("input", "output") and "_NL" in accepts:
        return (f"in a `train` block, `{statement} NAME` names one of the network's "
                f"{statement}s; declare the group itself in the `network` block")
    if str(tok) == "trainable" and statement != "param":
        return "only a parameter can be trainable: `param NAME = VALUE trainable`"
    if str(tok) == "=" and "COMPARE" in accepts:
        return "compare with `==`; a single `=` names an argument"
    if str(tok) == "}" and _unclosed_brace(source[:start]) is None:
        return "no block is open here for this `}` to close"
    opener = {")": "(", "]": "["}.get(str(tok))
    if opener and before.count(str(tok)) >= before.count(opener):
        return f"this `{tok}` has no matching `{opener}` on its line"
    return None


def _before_on_line(source: str, pos: int) -> str:
    return source[source.rfind("\n", 0, pos) + 1:pos]


def _span_at(source: str, pos: int) -> Span:
    """The one-character span at offset `pos`."""
    line = source.count("\n", 0, pos) + 1
    column = pos - source.rfind("\n", 0, pos)
    return Span(line, column, line, column + 1)


def _start(e: UnexpectedToken, source: str) -> int:
    """Offset of the offending token in the source."""
    pos = getattr(e.token, "start_pos", None)
    return len(source) if pos is None else pos


def _previous_token(source: str, pos: int) -> tuple[int, int, str]:
    """(line, end column, text) of the last token before `pos`, skipping blanks and comments.

    Walks back a line at a time: an error costs the lines it looks at, not the file before it.
    """
    end = pos
    while True:
        start = source.rfind("\n", 0, end) + 1
        code = source[start:end].split("#", 1)[0].rstrip()
        if code:
            word = _WORD_AT_END.search(code[-200:]).group(1)
            return source.count("\n", 0, start) + 1, len(code) + 1, word
        if start == 0:
            return 1, 1, ""
        end = start - 1


# The last word (or else character) of a line's code; looked for in the line's last 200
# characters, since a search anchored at the end tries every start on the way.
_WORD_AT_END = re.compile(r"([\w.]+|\S)$")
# Braces, and comments (whose braces do not count).
_BRACES = re.compile(r"#[^\n]*|[{}]")


def _unclosed_brace(source: str) -> Span | None:
    """Where the last `{` that no `}` closes stands."""
    stack = []
    for match in _BRACES.finditer(source):
        if match.group() == "{":
            stack.append(match.start())
        elif match.group() == "}" and stack:
            stack.pop()
    return _span_at(source, stack[-1]) if stack else None


def _close_keyword(tok: Token, keywords: list[str]) -> str | None:
    if tok.type != "NAME" or not keywords:
        return None
    close = difflib.get_close_matches(str(tok), keywords, n=1)
    return close[0] if close else None


def _closing_line(source: str, pos: int, depth: int = 0) -> int | None:
    """The line of the `}` that takes the brace depth, counted on from `depth` at `pos`, to 0 (or
    the last line, if none does); None when it starts at 0 and the line of `pos` opens no block."""
    end_of_first = source.find("\n", pos)
    if end_of_first < 0:
        end_of_first = len(source)
    on_first = True
    for match in _BRACES.finditer(source, pos):
        if on_first and match.start() > end_of_first:
            if depth <= 0:
                return None
            on_first = False
        if match.group() == "{":
            depth += 1
        elif match.group() == "}":
            depth -= 1
            if depth == 0:
                return source.count("\n", 0, match.start()) + 1
    if on_first and depth <= 0:
        return None
    return source.count("\n") + 1


def _skip_to_end_of_line(interactive) -> bool:
    """Recover: feed the fewest stand-in tokens that let the statement end, then end it.
    False when no way to end it was found (parsing stops there)."""
    path = _path_to_newline(interactive)
    if path is None:
        path = _closing_path(interactive)
    if path is None:
        return False
    for token_type in path:
        interactive.feed_token(Token(token_type, ""))
    interactive.feed_token(Token("_NL", "\n"))
    return True


def _path_to_newline(start) -> list[str] | None:
    """The shortest run of terminals after which the statement may end (breadth first, up to
    MAX_SEARCH states), or None."""
    queue = deque([(start, [])])
    seen = set()
    visited = 0
    while queue and visited < MAX_SEARCH:
        p, path = queue.popleft()
        visited += 1
        if _accepts(p, "_NL"):
            return path
        for token_type in sorted(p.choices()):
            if not token_type.isupper() or token_type in ("$END", "_NL"):
                continue
            try:
                q = _fed(p, token_type)
            except UnexpectedInput:
                continue
            key = tuple(q.parser_state.state_stack)
            if key not in seen and len(path) < 12:
                seen.add(key)
                queue.append((q, path + [token_type]))
    return None if queue else []  # None: the search gave up


def _closing_path(p, limit: int = 2 * MAX_SEARCH) -> list[str] | None:
    """A way to end the statement, found greedily (CLOSING first), when the search gave up:
    after `seed ((((` it is a value and four closing brackets. None past `limit` tokens."""
    path = []
    while not _accepts(p, "_NL"):
        if len(path) >= limit:
            return None
        for token_type in (*CLOSING, *sorted(p.choices())):
            if not token_type.isupper() or token_type in ("$END", "_NL"):
                continue
            try:
                p = _fed(p, token_type)
            except UnexpectedInput:
                continue
            path.append(token_type)
            break
        else:
            return None
    return path


def _accepts(p, token_type: str) -> bool:
    """Whether the parser can shift this token (LALR `choices()` also lists doomed reductions)."""
    try:
        _fed(p, token_type)
    except UnexpectedInput:
        return False
    return True


def _fed(p, token_type: str):
    """A copy of the interactive parser `p` after a stand-in token; `p` is left as it was.

    The copy shares the values parsed so far: the stand-ins only build new nodes above them, and
    copying them deeply (Lark's `as_immutable`) costs time in proportion to the file so far.
    """
    q = p.copy(deepcopy_values=False)
    q.feed_token(Token(token_type, ""))
    return q


# ---- messages ------------------------------------------------------------------------------

TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a quoted path such as "data.npz"',
    "COMPARE": "a comparison",
    "_NL": "end of line",
    "$END": "end of file",
    "VALUE": "a value",
}
# Terminals that may begin an expression: listed together as "a value".
EXPRESSION_STARTS = {"NUMBER", "NAME", "TRUE", "FALSE", "NOT", "LPAR", "MINUS", "PLUS"}
# Operators that may continue an expression: left out of "expected ..." when anything else fits,
# since a user who stops early rarely meant to add `*` or `and`.
CONTINUATIONS = {"+", "-", "*", "/", "%", "**", "[", "(", ".", "and", "or", "if", "COMPARE"}


def _terminal_text(name: str, parser: Lark) -> str:
    """The literal a terminal stands for (`->`, `group`), or its name for patterns."""
    try:
        pattern = parser.get_terminal(name).pattern
    except KeyError:
        return name
    return pattern.value if pattern.type == "str" else name


def _describe_terminal(name: str, parser: Lark) -> str:
    if name in TERMINAL_WORDS:
        return TERMINAL_WORDS[name]
    text = _terminal_text(name, parser)
    return f"`{text}`" if text != name else name.lower()


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    if tok.type == "_NL":
        return "end of line"
    if tok.type == "NAME":
        return f"name `{tok}`"
    if tok.type == "NUMBER":
        return f"number `{tok}`"
    return f"`{tok}`"


def _expected(accepts: set[str], parser: Lark) -> tuple[str, list[str]]:
    """A readable list of what could come next, and which of those are keywords."""
    useful = {t for t in accepts if _terminal_text(t, parser) not in CONTINUATIONS}
    useful = (useful - {"$END"}) or useful or accepts
    texts = {_terminal_text(t, parser) for t in useful}
    if texts & STATEMENT_KEYWORDS:  # at the start of a statement: name the statements
        words = sorted(texts & STATEMENT_KEYWORDS, key=KEYWORD_ORDER.index)
        listed = ", ".join(f"`{w}`" for w in words[:-1]) + f" or `{words[-1]}`"
        return ("a statement: " + listed if len(words) > 1 else f"`{words[0]}`"), words
    if "_NL" in useful:  # "expected end of line" says it; `}` may also end a line's statement
        useful -= {"RBRACE"}
    if {"NUMBER", "NAME"} <= useful:  # where an expression may start, `true` or `not` is noise
        useful = (useful - EXPRESSION_STARTS) | {"VALUE"}
    words = sorted({_describe_terminal(t, parser) for t in useful}, key=_literals_first)
    keywords = [w.strip("`") for w in words if w.startswith("`") and w[1:-1].isalpha()]
    return _either(words), keywords


def _literals_first(word: str) -> tuple:
    return not word.startswith("`"), len(word), word


def _either(words: list[str]) -> str:
    """One word, or "one of" a list that is cut short when long."""
    if len(words) == 1:
        return words[0]
    return "one of " + ", ".join(words[:6]) + (", ..." if len(words) > 6 else "")


def _report_character(e: UnexpectedCharacters, diags: Diagnostics) -> None:
    hint = None
    if not e.char.isascii():
        hint = "names use ASCII letters, digits and `_` only"
    elif e.char == "'":
        hint = 'quote paths with double quotes: "data.npz"'
    message = f"unexpected character `{e.char}`"
    if not e.char.isprintable():  # a NUL, an escape, a byte-order mark: name it, not print it
        message = f"unexpected invisible character U+{ord(e.char):04X}"
    if e.char == '"':  # a STRING would have matched had it been closed
        message, hint = "this string is never closed", 'end it with `"` on the same line'
    span = Span(e.line, e.column, e.line, e.column + 1)
    diags.error("syntax", message, span, hint)
