"""Source text -> AST: the Lark parser, its post-lexer, and syntax errors in the user's words."""

from __future__ import annotations

import difflib
import functools
import re
from collections import deque

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from nndl.diagnostics import Diagnostics, Span
from nndl.syntax import Program
from nndl.tree_to_ast import ToAst

# Words that start a statement or a block: never valid inside brackets, so meeting one at the
# start of a line there means a bracket was left open (see BracketNewlines).
_KEYWORD_ORDER = (
    "network neuron train seed input group output connect param state "
    "data loss optimizer batch epochs ticks learn rewire".split()
)
STATEMENT_KEYWORDS = frozenset(_KEYWORD_ORDER)
MAX_SYNTAX_ERRORS = 20


class BracketNewlines:
    """Post-lexer: drops line breaks inside ( ) and [ ] so argument lists may span lines.

    A bracket left open would swallow every later line, so when a line inside brackets ends with
    an operand and the next one starts with another (never valid in an expression), the bracket
    is taken as unclosed and bracket tracking starts over.
    """

    always_accept = ("_NL",)

    def process(self, stream):
        depth = 0
        prev = None
        broken = False  # a line break was dropped since `prev`
        for tok in stream:
            if tok.type == "_NL" and depth > 0:
                broken = True
                continue
            if depth > 0 and broken and _ends_operand(prev) and _starts_operand(tok):
                # The parser reports the missing bracket at the end of the line above, and
                # recovery hands this token back to it as the start of a new statement.
                depth = 0
                if tok.type == "NAME" and tok in STATEMENT_KEYWORDS:
                    tok = Token.new_borrow_pos(tok.upper(), str(tok), tok)
            if tok.type in ("LPAR", "LSQB"):
                depth += 1
            elif tok.type in ("RPAR", "RSQB"):
                depth = max(0, depth - 1)
            elif tok.type == "RBRACE":
                depth = 0
            broken = False
            prev = tok
            yield tok


def _ends_operand(tok) -> bool:
    return tok is not None and tok.type in ("NAME", "NUMBER", "STRING", "RPAR", "RSQB", "TRUE",
                                            "FALSE")


def _starts_operand(tok) -> bool:
    return tok.type in ("NAME", "NUMBER", "STRING", "TRUE", "FALSE", "NOT", "RBRACE") or (
        tok.type.isupper() and str(tok) in STATEMENT_KEYWORDS)


@functools.lru_cache(maxsize=1)
def make_parser() -> Lark:
    """The LALR parser, built once per process from the packaged grammar."""
    return Lark.open_from_package(
        "nndl.grammar",
        "nndl.lark",
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
        postlex=BracketNewlines(),
    )


def parse(text: str, diags: Diagnostics) -> Program | None:
    """Parse `text`; syntax errors go to `diags` (several, one per line at most) and give None."""
    parser = make_parser()
    source = text + "\n"
    recovery = _Recovery(parser, source, diags)
    try:
        tree = parser.parse(source, on_error=recovery.on_error)
    except UnexpectedInput as e:  # recovery gave up (end of file, or too many errors)
        recovery.record(e)
        return None
    if recovery.lines:
        return None
    return ToAst().transform(tree)


class _Recovery:
    """Reports a syntax error, then skips to the end of its line and parses on (one per line)."""

    def __init__(self, parser: Lark, source: str, diags: Diagnostics):
        self.parser, self.source, self.diags = parser, source, diags
        self.lines: set[int] = set()

    def on_error(self, e: UnexpectedInput) -> bool:
        missing = self.record(e)
        if len(self.lines) >= MAX_SYNTAX_ERRORS:
            return False
        if not isinstance(e, UnexpectedToken):
            return True  # Lark skips the bad character
        if e.token.type == "$END":
            return False
        interactive = e.interactive_parser
        _skip_to_end_of_line(interactive)
        if missing and e.token.type != "_NL":
            # The statement above stopped short; this token starts the next line: parse it.
            try:
                interactive.feed_token(e.token)
            except UnexpectedToken as again:
                again.interactive_parser = interactive
                self.record(again)
                _skip_to_end_of_line(interactive)
        return True

    def record(self, e: UnexpectedInput) -> bool:
        """Describe the error now (recovery changes the state that `accepts` reads).

        Returns whether a token was missing at the end of the line before the offending token.
        """
        if isinstance(e, UnexpectedCharacters):
            self._add(e.line, lambda: _report_character(e, self.diags))
            return False
        assert isinstance(e, UnexpectedToken)
        accepts = set(e.accepts or e.expected)
        start = _start(e, self.source)
        prev_line, prev_end, prev_word = _previous_token(self.source, start)
        missing = e.token.type in ("_NL", "$END") or (
            prev_line < e.line and not accepts & {"RBRACE", "$END"}
        )
        expected, keywords = _expected(accepts, self.parser)
        if missing:
            span = Span(prev_line, prev_end, prev_line, prev_end + 1)
            message = f"expected {expected} after `{prev_word}`" if prev_word else f"expected {expected}"
            notes = ()
            opened = _unclosed_brace(self.source)
            if e.token.type == "$END" and "RBRACE" in accepts and opened:
                message = "expected `}` before the end of the file"
                notes = [("the block opened here is never closed", opened)]
            self._add(prev_line, lambda: self.diags.error("syntax", message, span, notes=notes))
        else:
            tok = e.token
            span = Span(e.line, e.column, e.line, e.column + max(1, len(str(tok))))
            message = f"unexpected {_describe_token(tok)}; expected {expected}"
            hint = _keyword_hint(tok, keywords)
            self._add(e.line, lambda: self.diags.error("syntax", message, span, hint))
        return missing

    def _add(self, line: int, report) -> None:
        if line not in self.lines:
            self.lines.add(line)
            report()


def _start(e: UnexpectedToken, source: str) -> int:
    """Offset of the offending token in the source."""
    pos = getattr(e.token, "start_pos", None)
    return len(source) if pos is None else pos


def _previous_token(source: str, pos: int) -> tuple[int, int, str]:
    """(line, end column, text) of the last token before `pos`, skipping blanks and comments."""
    lines = source[:pos].split("\n")
    for back, line in enumerate(reversed(lines)):
        code = line.split("#", 1)[0].rstrip()
        if code:
            word = re.search(r"([\w.]+|\S)$", code).group(1)
            return len(lines) - back, len(code) + 1, word
    return 1, 1, ""


def _unclosed_brace(source: str) -> Span | None:
    """Where the last `{` that no `}` closes stands."""
    stack = []
    for number, line in enumerate(source.split("\n"), start=1):
        for column, char in enumerate(line.split("#", 1)[0], start=1):
            if char == "{":
                stack.append(Span(number, column, number, column + 1))
            elif char == "}" and stack:
                stack.pop()
    return stack[-1] if stack else None


def _keyword_hint(tok: Token, keywords: list[str]) -> str | None:
    if tok.type != "NAME" or not keywords:
        return None
    close = difflib.get_close_matches(str(tok), keywords, n=1)
    return f"did you mean `{close[0]}`?" if close else None


def _skip_to_end_of_line(interactive) -> None:
    """Recover: feed the shortest run of stand-in tokens that lets the statement end, then end it."""
    for token_type in _path_to_newline(interactive):
        interactive.feed_token(Token(token_type, ""))
    interactive.feed_token(Token("_NL", "\n"))


def _path_to_newline(interactive) -> list[str]:
    start = interactive.as_immutable()
    queue = deque([(start, [])])
    seen = set()
    while queue:
        p, path = queue.popleft()
        if _accepts(p, "_NL"):
            return path
        for token_type in sorted(p.choices()):
            if not token_type.isupper() or token_type in ("$END", "_NL"):
                continue
            try:
                q = p.feed_token(Token(token_type, ""))
            except UnexpectedInput:
                continue
            key = tuple(q.parser_state.state_stack)
            if key not in seen and len(path) < 12:
                seen.add(key)
                queue.append((q, path + [token_type]))
    return []


def _accepts(p, token_type: str) -> bool:
    """Whether the parser can shift this token (LALR `choices()` also lists doomed reductions)."""
    try:
        p.feed_token(Token(token_type, ""))
    except UnexpectedInput:
        return False
    return True


# ---- messages ------------------------------------------------------------------------------

TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a quoted path such as "data.npz"',
    "COMPARE": "a comparison",
    "_NL": "end of line",
    "$END": "end of file",
}
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
        words = sorted(texts & STATEMENT_KEYWORDS, key=_KEYWORD_ORDER.index)
        listed = ", ".join(f"`{w}`" for w in words[:-1]) + f" or `{words[-1]}`"
        return ("a statement: " + listed if len(words) > 1 else f"`{words[0]}`"), words
    if "_NL" in useful:  # "expected end of line" says it; `}` may also end a line's statement
        useful -= {"RBRACE"}
    words = sorted({_describe_terminal(t, parser) for t in useful}, key=lambda w: (len(w), w))
    keywords = [w.strip("`") for w in words if w.startswith("`") and w[1:-1].isalpha()]
    if len(words) == 1:
        return words[0], keywords
    if len(words) <= 6:
        return "one of " + ", ".join(words), keywords
    return "one of " + ", ".join(words[:6]) + ", ...", keywords


def _report_character(e: UnexpectedCharacters, diags: Diagnostics) -> None:
    hint = None
    if not e.char.isascii():
        hint = "names use ASCII letters, digits and `_` only"
    elif e.char == "'":
        hint = 'quote paths with double quotes: "data.npz"'
    span = Span(e.line, e.column, e.line, e.column + 1)
    diags.error("syntax", f"unexpected character `{e.char}`", span, hint)
