"""Lark's contextual lexer with its per-token loop written out (the parser's plugin for it).

Lexing took 40% of the parse of a large file: for each token and each run of blanks, Lark's
`BasicLexer.next_token` calls through a property, a scanner method, a token constructor and the
line counter. `next_token` below does the same steps in the same order, with those calls
inlined, and hands anything unusual (no terminal matches) to Lark's own method, which raises
exactly the error it always raised.
"""

from __future__ import annotations

from lark.exceptions import LexError
from lark.lexer import BasicLexer, ContextualLexer, Token

_new_token = Token._future_new


class FastBasicLexer(BasicLexer):
    """A `BasicLexer` whose `next_token` gives the same tokens, line counts and errors."""

    def next_token(self, lex_state, parser_state=None) -> Token:
        line_ctr = lex_state.line_ctr
        text = lex_state.text
        source, end = text.text, text.end
        mres = self.scanner._mres
        ignore_types, callback = self.ignore_types, self.callback
        newline_types, newline = self.newline_types, line_ctr.newline_char
        while line_ctr.char_pos < end:
            pos = line_ctr.char_pos
            for mre in mres:
                m = mre.match(source, pos, end)
                if m:
                    break
            else:  # nothing matches here: Lark's own method raises its error
                return BasicLexer.next_token(self, lex_state, parser_state)
            value, type_ = m.group(0), m.lastgroup
            line, column = line_ctr.line, line_ctr.column
            # LineCounter.feed(value, type_ in newline_types)
            if type_ in newline_types:
                newlines = value.count(newline)
                if newlines:
                    line_ctr.line += newlines
                    line_ctr.line_start_pos = pos + value.rindex(newline) + 1
            line_ctr.char_pos = char_pos = pos + len(value)
            line_ctr.column = char_pos - line_ctr.line_start_pos + 1
            ignored = type_ in ignore_types
            if ignored and type_ not in callback:
                continue
            t = _new_token(type_, value, pos, line, column, line_ctr.line, line_ctr.column,
                           char_pos)
            if type_ in callback:
                t = callback[type_](t)
            if not ignored:
                if not isinstance(t, Token):
                    raise LexError("Callbacks must return a token (returned %r)" % t)
                lex_state.last_token = t
                return t
        raise EOFError(self)


class FastContextualLexer(ContextualLexer):
    """Lark's contextual lexer, each state's lexer a `FastBasicLexer`."""

    BasicLexer = FastBasicLexer
