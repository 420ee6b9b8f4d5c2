"""Source text -> AST: the Lark parser and its post-lexer (syntax errors: nndl.frontend.syntax_errors)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.resources
import json

import lark
from lark import Lark, Tree
from lark.exceptions import UnexpectedInput
from lark.grammar import Rule
from lark.lexer import TerminalDef

from nndl.diagnostics import Diagnostics, Span
from nndl.frontend.lark_loops import TESTED_WITH, FastContextualLexer, FastLALRParser
from nndl.frontend.tree_to_ast import ToAst
from nndl.frontend.keywords import STATEMENT_KEYWORDS, as_keyword
from nndl.frontend.syntax import Program
from nndl.frontend.syntax_errors import Recovery
from nndl.frontend import reductions


class BracketNewlines:
    """Post-lexer: drops line breaks inside ( ) and [ ] so argument lists may span lines.

    A bracket left open would swallow every later line, so when a line inside brackets ends with
    an operand and the next one starts with another (never valid in an expression), the bracket
    is taken as unclosed and bracket tracking starts over.
    """

    # NAME in every state of the contextual lexer, so that a keyword is a whole word: where only
    # keywords may stand, `networkxor` or `seed1` would otherwise lex as `network xor`, `seed 1`
    always_accept = ("_NL", "NAME")

    def process(self, stream):
        brackets = self.brackets()
        for tok in stream:
            tok = brackets.feed(tok)
            if tok is not None:
                yield tok

    def brackets(self) -> Brackets:
        """The bracket tracking of one pass over the tokens (lark_loops calls it token by
        token where Lark would call `process`)."""
        return Brackets()


class Brackets:
    """BracketNewlines' state over one pass: how deep in brackets, the token before."""

    __slots__ = ("depth", "prev", "broken")

    def __init__(self):
        self.depth = 0
        self.prev = None
        self.broken = False  # a line break was dropped since `prev`

    def feed(self, tok):
        """The token to hand the parser, or None for a line break dropped inside brackets."""
        depth = self.depth
        if depth > 0:
            if tok.type == "_NL":
                self.broken = True
                return None
            if self.broken and _ends_operand(self.prev) and _starts_operand(tok):
                # The parser reports the missing bracket at the end of the line above, and
                # recovery hands this token back to it as the start of a new statement.
                depth = 0
                tok = as_keyword(tok)
        type_ = tok.type
        if type_ == "LPAR" or type_ == "LSQB":
            depth += 1
        elif type_ == "RPAR" or type_ == "RSQB":
            depth = max(0, depth - 1)
        elif type_ == "RBRACE":
            depth = 0
        self.depth = depth
        self.broken = False
        self.prev = tok
        return tok


def _ends_operand(tok) -> bool:
    return tok is not None and tok.type in ("NAME", "NUMBER", "STRING", "RPAR", "RSQB", "TRUE",
                                            "FALSE")


def _starts_operand(tok) -> bool:
    return tok.type in ("NAME", "NUMBER", "STRING", "TRUE", "FALSE", "NOT", "RBRACE") or (
        tok.type.isupper() and str(tok) in STATEMENT_KEYWORDS)


@functools.lru_cache(maxsize=1)
def make_parser() -> Lark:
    """The LALR parser that gives Lark's parse tree, once per process."""
    return _load_parser()


@functools.lru_cache(maxsize=1)
def make_ast_parser() -> Lark:
    """The LALR parser that gives the AST (`Node`s of nndl.frontend.reductions), once per
    process: the same tables, its callbacks build each rule's AST node as it is reduced."""
    parser = _load_parser()
    parser.parser.parser.parser.callbacks = reductions.callbacks(parser)  # Lark's _Parser
    return parser


def _load_parser() -> Lark:
    """Loaded from grammar/tables.json while those tables were made from this grammar by this
    Lark (a cold start then skips Lark's grammar analysis, most of the parser's cost), else
    built from the grammar."""
    tables = json.loads(_package_text("tables.json"), object_hook=_decoded)
    if (tables["grammar_sha256"], tables["lark"]) != (_grammar_sha256(), lark.__version__):
        return build_parser()
    # JSON, not the pickle that Lark's own `cache=` would store and load
    return Lark._load_from_dict(tables["data"], tables["memo"], **_LOAD_OPTIONS)


def build_parser() -> Lark:
    """The LALR parser, built from the packaged grammar."""
    with _no_collision_check():
        return Lark(_package_text("nndl.lark"), **_BUILD_OPTIONS, **_LOAD_OPTIONS)


_BUILD_OPTIONS = dict(parser="lalr", lexer="contextual", maybe_placeholders=False)
# Building the AST during the parse leans on Lark's internals (its parser's callbacks; the loops
# of lark_loops): it is used with the Lark it was written and tested against, and any other Lark
# parses a tree and transforms it, slower but to the same AST.
FAST = lark.__version__ in TESTED_WITH
_LOAD_OPTIONS = dict(propagate_positions=True, postlex=BracketNewlines(),  # not in the tables
                     **({"_plugins": {"ContextualLexer": FastContextualLexer,
                                      "LALR_Parser": FastLALRParser}} if FAST else {}))


def _package_text(name: str) -> str:
    return importlib.resources.files("nndl.grammar").joinpath(name).read_text("utf-8")


def _grammar_sha256() -> str:
    return hashlib.sha256(_package_text("nndl.lark").encode("utf-8")).hexdigest()


def tables_text() -> str:
    """grammar/tables.json: the built parser's tables (`python -m nndl.grammar.regenerate`
    writes them; tests/test_parser.py checks that they are current)."""
    data, memo = build_parser().memo_serialize([TerminalDef, Rule])
    skipped = set(_LOAD_OPTIONS) | {"import_paths", "source_path"}  # given at load, or unused
    data["options"] = {k: v for k, v in data["options"].items() if k not in skipped}
    tables = {"grammar_sha256": _grammar_sha256(), "lark": lark.__version__, "data": data,
              "memo": memo}
    return json.dumps(_encoded(tables), separators=(",", ":")) + "\n"


def _encoded(value):
    """Lark's tables as JSON: tuples, and dicts with keys other than strings, marked."""
    if isinstance(value, tuple):
        return {"__tuple__": [_encoded(v) for v in value]}
    if isinstance(value, list):
        return [_encoded(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _encoded(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {"__items__": [[_encoded(k), _encoded(v)] for k, v in value.items()]}
    return value


def _decoded(obj: dict):
    if "__tuple__" in obj:
        return tuple(obj["__tuple__"])
    if "__items__" in obj:
        return dict(obj["__items__"])  # keys come back as numbers or (decoded) tuples
    return obj


@contextlib.contextmanager
def _no_collision_check():
    """Lark checks every pair of terminals of every lexer state for collisions whenever
    interegular is importable: 0.3 s, half of a cold `nndlc compile`. tests/test_parser.py
    builds the grammar with strict=True, which makes that check once, so this parser skips
    it (a Lark without the flag simply keeps checking)."""
    import lark.lexer

    saved = getattr(lark.lexer, "has_interegular", None)
    if saved is None:
        yield
        return
    lark.lexer.has_interegular = False
    try:
        yield
    finally:
        lark.lexer.has_interegular = saved


def parse(text: str, diags: Diagnostics) -> Program | None:
    """Parse `text`; syntax errors go to `diags` (several, one per line at most) and give None."""
    source = text + "\n"
    if not FAST:
        return parse_by_tree(source, diags)
    parser = make_ast_parser()
    recovery = Recovery(parser, source, diags)
    try:
        root = parser.parse(source, on_error=functools.partial(_recover, recovery))
    except UnexpectedInput as e:  # recovery gave up (end of file, or too many errors)
        recovery.record(e)
        return None
    if recovery.lines:
        return None
    if root.height > MAX_DEPTH:  # the tree says where (rare: parsed again, as a tree)
        _too_deep(make_parser().parse(source), diags)
        return None
    return root.value


def parse_by_tree(source: str, diags: Diagnostics) -> Program | None:
    """As `parse`, through Lark's parse tree and ToAst (the way for any other Lark)."""
    parser = make_parser()
    recovery = Recovery(parser, source, diags)
    try:
        tree = parser.parse(source, on_error=recovery.on_error)
    except UnexpectedInput as e:
        recovery.record(e)
        return None
    if recovery.lines or _too_deep(tree, diags):
        return None
    return ToAst().transform(tree)


def _recover(recovery: Recovery, e: UnexpectedInput) -> bool:
    """`recovery.on_error`, once this parse has stopped building the AST: a file with a syntax
    error has none, and recovery feeds the parser stand-in tokens (an empty NUMBER) that no AST
    node could be built from. (Lark's `accepts` parses on without callbacks in the same way.)"""
    e.interactive_parser.parser_state.parse_conf.callbacks = {}  # this parse's, not the parser's
    return recovery.on_error(e)


# How deep the parse tree may nest: the AST builder, the checks and the code generators recurse
# once or more per level, so a deeper tree (`- - - ... 1`, a sum of a thousand terms) would end
# in a RecursionError. Real programs nest a handful of levels; brackets alone add none.
MAX_DEPTH = 100


def _too_deep(tree: Tree, diags: Diagnostics) -> bool:
    """Report where the tree first nests deeper than MAX_DEPTH, leftmost first (walked without
    recursion, which is the point)."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            meta = node.meta
            span = None if meta.empty else Span(meta.line, meta.column, meta.line,
                                                meta.column + 1)
            diags.error("too-deep", f"this expression nests more than {MAX_DEPTH} levels deep",
                        span, "split it into shorter expressions")
            return True
        stack.extend((child, depth + 1) for child in reversed(node.children)
                     if isinstance(child, Tree))
    return False
