"""Lark's per-token loops written out: its contextual lexer's and its LALR parser's (plugins).

Lexing and the parser's loop took most of the parse of a large file: for each token (and each
run of blanks) Lark's `BasicLexer.next_token` calls through a property, a scanner method, a
token constructor and the line counter, the post-lexer and the contextual lexer are generators
a token passes through, and `_Parser.parse_from_state` calls `ParserState.feed_token`, which
looks up the same tables again. The loops below take the same steps in the same order with
those calls inlined — with the post-lexer's `Brackets` (nndl.frontend.parser), one loop lexes,
post-lexes and parses — and hand anything unusual (no terminal matches, a token the state does
not take) to Lark's own method, which raises exactly the error it always raised.
"""

from __future__ import annotations

import re

from lark.exceptions import LexError, UnexpectedInput
from lark.lexer import BasicLexer, ContextualLexer, Token
from lark.parsers.lalr_analysis import Shift
from lark.parsers.lalr_interactive_parser import InteractiveParser
from lark.parsers.lalr_parser import LALR_Parser, _Parser

_new_token = Token._future_new

# The Lark releases whose loops these are (nndl.frontend.parser uses them with these only).
TESTED_WITH = ("1.3.1",)


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

    def blank_skipping(self, lexer: FastBasicLexer):
        """`lexer`'s patterns, each after the blanks and the comment that may precede a token:
        one match finds the token where Lark's loop matches the blanks first, ignores them and
        matches again (the blanks are one of the ignored patterns; no token starts with one)."""
        cache = self.__dict__.setdefault("_blank_skipping", {})
        key = id(lexer)
        if key not in cache:
            mres = lexer.scanner._mres
            cache[key] = (lexer, tuple(re.compile(BLANKS + "(?:" + mre.pattern + ")", mre.flags)
                                       for mre in mres))
        return cache[key][1]


# What may stand between two tokens on a line: the %ignore'd blanks, then a comment (the grammar's
# `%ignore /[ \t\f\r]+/` and `%ignore COMMENT`; `\r` is left to Lark's own match, as it may start
# a line break). Neither repeats inside the other, so a failed match never backtracks far.
BLANKS = r"[ \t\f]*(?:#[^\n]*)?"


class FastParser(_Parser):
    """Lark's LALR `_Parser`, `ParserState.feed_token` inlined into the main loop."""

    def parse_from_state(self, state, last_token=None):
        try:
            token = last_token
            connector = state.lexer.lexer  # the LexerThread's lexer
            if (isinstance(getattr(connector, "lexer", None), FastContextualLexer)
                    and hasattr(getattr(connector, "postlexer", None), "brackets")):
                token = _lex_and_feed(state, connector.lexer, connector.postlexer.brackets(),
                                      token)
            else:
                for token in state.lexer.lex(state):
                    _feed(state, token)
            end_token = (Token.new_borrow_pos("$END", "", token) if token
                         else Token("$END", "", 0, 1, 1))
            return state.feed_token(end_token, True)
        except UnexpectedInput as e:
            e.interactive_parser = InteractiveParser(self, state, state.lexer)
            raise e


def _feed(state, token) -> None:
    """`state.feed_token(token)` for a token that is not the end (see lalr_parser_state.py)."""
    state_stack, value_stack = state.state_stack, state.value_stack
    conf = state.parse_conf
    states, callbacks = conf.states, conf.callbacks
    while True:
        actions = states[state_stack[-1]]
        if token.type not in actions:
            state.feed_token(token)  # raises Lark's UnexpectedToken
        action, arg = actions[token.type]
        if action is Shift:
            state_stack.append(arg)
            value_stack.append(token if token.type not in callbacks
                               else callbacks[token.type](token))
            return
        size = len(arg.expansion)
        if size:
            s = value_stack[-size:]
            del state_stack[-size:]
            del value_stack[-size:]
        else:
            s = []
        value_stack.append(callbacks[arg](s) if callbacks else s)
        state_stack.append(states[state_stack[-1]][arg.origin.name][1])


class FastLALRParser(LALR_Parser):
    """Lark's `LALR_Parser` whose loop is `FastParser`'s."""

    def __init__(self, parser_conf, debug=False, strict=False):
        super().__init__(parser_conf, debug, strict)
        self.parser = FastParser(self._parse_table, parser_conf.callbacks, debug)

    @classmethod
    def deserialize(cls, data, memo, callbacks, debug=False):
        inst = super().deserialize(data, memo, callbacks, debug)
        inst.parser = FastParser(inst._parse_table, callbacks, debug)
        return inst


def _lex_and_feed(state, lexer: FastContextualLexer, brackets, token):
    """`for token in postlexer.process(lexer.lex(...)): _feed(state, token)` in one loop; the
    last token fed (`token` where none was). The lexer's state (the line counter, the last
    token) is kept as Lark keeps it whenever anything else can see it: at a fallback to Lark's
    own lexer, at an error, at the end."""
    lex_state = state.lexer.state
    line_ctr, text = lex_state.line_ctr, lex_state.text
    source, end = text.text, text.end
    newline = line_ctr.newline_char
    lexers, state_stack = lexer.lexers, state.state_stack
    value_stack, conf = state.value_stack, state.parse_conf
    states, callbacks = conf.states, conf.callbacks
    feed_bracket = brackets.feed
    patterns = {}  # id of a state's lexer -> (its blank-skipping patterns, its lexer)
    pos, line, line_start = line_ctr.char_pos, line_ctr.line, line_ctr.line_start_pos
    last = lex_state.last_token
    try:
        while pos < end:
            basic = lexers[state_stack[-1]]
            found = patterns.get(id(basic))
            if found is None:
                found = patterns[id(basic)] = (lexer.blank_skipping(basic), basic)
            for mre in found[0]:
                m = mre.match(source, pos, end)
                if m:
                    break
            t = None
            if m:
                type_ = m.lastgroup
                start = m.start(type_)
                if type_ in basic.ignore_types:  # Lark's own loop handles the rare ignored ones
                    m = None
            if not m:  # nothing matches after the blanks: Lark's contextual lexer, for one
                line_ctr.char_pos, line_ctr.line, line_ctr.line_start_pos = pos, line, line_start
                line_ctr.column = pos - line_start + 1
                lex_state.last_token = last
                try:
                    t = next(ContextualLexer.lex(lexer, lex_state, state), None)
                finally:  # where Lark's lexer stopped, or raised its error
                    pos, line, line_start = line_ctr.char_pos, line_ctr.line, line_ctr.line_start_pos
                    last = lex_state.last_token
                if t is None:  # the end: nothing but blanks was left
                    break
            else:
                value = m.group(type_)
                column = start - line_start + 1
                if type_ in basic.newline_types:
                    newlines = value.count(newline)
                    if newlines:
                        end_line = line + newlines
                        line_start = start + value.rindex(newline) + 1
                    else:
                        end_line = line
                else:
                    end_line = line
                pos = m.end()
                t = _new_token(type_, value, start, line, column, end_line,
                               pos - line_start + 1, pos)
                line = end_line
                callback = basic.callback.get(type_)
                if callback is not None:
                    t = callback(t)
                    if not isinstance(t, Token):
                        raise LexError("Callbacks must return a token (returned %r)" % t)
                last = t
            t = feed_bracket(t)
            if t is None:
                continue
            token = t
            # _feed(state, token), inlined: a call a token cost 0.5 s of the 9 s that
            # `nndlc check` of a 100 000-group chain takes (measured interleaved, idle)
            while True:
                actions = states[state_stack[-1]]
                if token.type not in actions:
                    line_ctr.char_pos, line_ctr.line, line_ctr.line_start_pos = \
                        pos, line, line_start
                    line_ctr.column = pos - line_start + 1
                    lex_state.last_token = last
                    state.feed_token(token)  # raises Lark's UnexpectedToken
                action, arg = actions[token.type]
                if action is Shift:
                    state_stack.append(arg)
                    value_stack.append(token if token.type not in callbacks
                                       else callbacks[token.type](token))
                    break
                size = len(arg.expansion)
                if size:
                    s = value_stack[-size:]
                    del state_stack[-size:]
                    del value_stack[-size:]
                else:
                    s = []
                value_stack.append(callbacks[arg](s) if callbacks else s)
                state_stack.append(states[state_stack[-1]][arg.origin.name][1])
    finally:
        line_ctr.char_pos, line_ctr.line, line_ctr.line_start_pos = pos, line, line_start
        line_ctr.column = pos - line_start + 1
        lex_state.last_token = last
    return token
