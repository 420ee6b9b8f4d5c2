"""A Pygments lexer for NNDL, so that docs, notebooks and `pygmentize` highlight `.nndl` files.

Pygments finds it through the `pygments.lexers` entry point (`nndl = "nndl.editors.pygments_lexer:NNDLLexer"`), so
`pygmentize -l nndl file.nndl`, Sphinx's ```` ```nndl ```` blocks and Jupyter use it once NNDL is
installed. Pygments stays optional: nothing in `nndl` imports this module.

The keyword lists come from `nndl.frontend.keywords` and the grammar (a test compares them with the string
literals of grammar/nndl.lark); the built-in names come from the tables of `nndl.frontend.signatures`, the
expression functions of `nndl.ir.expr` and the models of `nndl/frontend/builtin_models.nndl`.

NNDL's keywords are contextual: `input data[4]` declares an input named `data`. The lexer follows
the grammar's shape closely enough to tell the two apart: a statement keyword counts only where a
statement starts, and the word after `input`, `connect`, `->`, `as`, ... is always a name.
"""

from __future__ import annotations

import importlib.resources
import re
from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups, default, include, words
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

from nndl.frontend import signatures as _sig
from nndl.ir.expr import FUNCTIONS as _FUNCTIONS
from nndl.frontend.keywords import BLOCK_KEYWORDS as _BLOCKS
from nndl.frontend.keywords import KEYWORD_ORDER as _KEYWORD_ORDER

__all__ = ["BUILTINS", "KEYWORDS", "NNDLLexer"]

# ---- word lists -----------------------------------------------------------------------------

# `network`, `neuron`, `train`: the words that open a block
BLOCK_KEYWORDS = tuple(w for w in _KEYWORD_ORDER if w in _BLOCKS)
# `seed`, `input`, ... `rewire`: the words that start a statement inside a block
STATEMENT_KEYWORDS = tuple(w for w in _KEYWORD_ORDER if w not in _BLOCKS)
# statements whose next word is a name (`input x[4]`, `connect a -> b`, `param leak = 0.9`) or a
# built-in setting (`loss mse`); the others take an expression
_NAME_FIRST = frozenset(["input", "group", "output", "connect", "param", "state", "modulator",
                         "learn", "rewire"])
_SPEC_FIRST = frozenset(["data", "loss", "optimizer", "schedule"])
# words inside a statement or a block header: `train t for net`, `bias 0`, `weight normal(0, 1)`
CLAUSE_KEYWORDS = ("for", "bias", "init", "weight", "delay", "as", "every", "trainable", "tick")
# `target exc`: a keyword only where a name follows (a rule's `target - post` is a variable)
NAMED_CLAUSES = ("target",)
CONDITIONAL_KEYWORDS = ("if", "else")
WORD_OPERATORS = ("and", "or", "not")
CONSTANTS = ("true", "false")

# every word the grammar spells out as a string literal
KEYWORDS = frozenset(BLOCK_KEYWORDS + STATEMENT_KEYWORDS + CLAUSE_KEYWORDS + NAMED_CLAUSES
                     + CONDITIONAL_KEYWORDS + WORD_OPERATORS + CONSTANTS)

_TABLES = (_sig.ACTIVATIONS, _sig.RULES, _sig.INITIALISERS, _sig.LOSSES, _sig.OPTIMIZERS,
           _sig.SCHEDULES, _sig.DATASETS, _sig.LOCAL_RULES, _sig.REWIRE_ACTIONS)


def _builtin_models() -> tuple[str, ...]:
    try:
        text = importlib.resources.files("nndl.frontend").joinpath("builtin_models.nndl").read_text("utf-8")
    except OSError:  # pragma: no cover - an installation without its data file
        return ()
    return tuple(re.findall(r"^[ \t]*neuron[ \t]+([A-Za-z_]\w*)", text, re.MULTILINE))


# activations, rules, initialisers, losses, optimisers, schedules, data sets, local rules, rewiring actions,
# built-in neuron models and the functions of expressions
BUILTINS = tuple(sorted(set().union(*_TABLES, _FUNCTIONS, _builtin_models())))
# the choices of `choice` parameters: `metric=chebyshev`
CHOICES = tuple(sorted({c for table in _TABLES for params in table.values() for p in params
                        for c in p.choices} - set(BUILTINS)))
# names with a fixed meaning: a neuron's `net` and `out`, a condition's `pre` and `post`, `bias none`
PSEUDO_NAMES = ("net", "out", "pre", "post", "none")

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# a clause keyword is one only when an operand follows it (`bias -1`, `as conv`), which tells
# `weight normal(0, 1)` from `out = weight * net` or `input weight[4]`
_CLAUSE_FOLLOWS = r"(?=[ \t]+[A-Za-z0-9_.(\"+\-])(?![ \t]+(?:and|or|if|else)\b)"


class NNDLLexer(RegexLexer):
    """Lexer for NNDL, the declarative neural-network language (`.nndl` files)."""

    name = "NNDL"
    aliases: ClassVar[list[str]] = ["nndl"]
    filenames: ClassVar[list[str]] = ["*.nndl"]
    mimetypes: ClassVar[list[str]] = ["text/x-nndl"]

    tokens: ClassVar[dict] = {
        # between blocks
        "root": [
            include("space"),
            (words(BLOCK_KEYWORDS, suffix=r"\b"), Keyword.Declaration, "header"),
            (r"param\b(?![ \t]*=(?!=))", Keyword, ("statement", "name")),  # a file's parameter
            include("expr"),
            (r"[()\[\]{}]", Punctuation),
            (r".", Error),
        ],
        # `network NAME {`, `train NAME for NET {`
        "header": [
            include("space"),
            (r"for\b", Keyword),
            (_NAME, Name.Class),
            (r"\{", Punctuation, ("#pop", "body")),
            default("#pop"),
        ],
        # inside a block, where a statement starts
        "body": [
            include("space"),
            (r"\}", Punctuation, "#pop"),
            # a rule's `every tick {` and `on pre {`: a block of statements inside the block
            (r"(every)([ \t]+)(tick)([ \t]*)(\{)",
             bygroups(Keyword, Whitespace, Keyword, Whitespace, Punctuation), "body"),
            (rf"(on)([ \t]+)({_NAME})([ \t]*)(\{{)",
             bygroups(Keyword, Whitespace, Name.Label, Whitespace, Punctuation), "body"),
            (words(tuple(_NAME_FIRST), suffix=r"\b(?![ \t]*=(?!=))"), Keyword,
             ("statement", "name")),
            (words(tuple(_SPEC_FIRST), suffix=r"\b(?![ \t]*=(?!=))"), Keyword,
             ("statement", "spec")),
            (words(STATEMENT_KEYWORDS, suffix=r"\b(?![ \t]*=(?!=))"), Keyword, "statement"),
            (rf"({_NAME})([ \t]*)(=)(?!=)", bygroups(Name.Variable, Whitespace, Operator),
             "statement"),  # a neuron model's `v = ...`
            default("statement"),
        ],
        # the rest of a statement, up to the end of its line (or the block's `}`)
        "statement": [
            (r"\n", Whitespace, "#pop"),
            (r"\}", Punctuation, "#pop:2"),
            include("inline-space"),
            (r"->", Operator, "name"),
            (r":", Operator, "spec"),
            (r"weight" + _CLAUSE_FOLLOWS, Keyword, "spec"),
            (r"as" + _CLAUSE_FOLLOWS, Keyword, "name"),
            # `target exc` (a connection's named input sum), not a rule's `target - post`
            (r"target(?=[ \t]+[A-Za-z_])(?![ \t]+(?:and|or|if|else)\b)", Keyword, "name"),
            # `param w = 0.5 trainable`: last on its line, after a value (not an operator)
            (r"(?<=[\w)\]] )trainable(?=[ \t]*(?:#|\n|\}|$))", Keyword),
            (words(CLAUSE_KEYWORDS, suffix=_CLAUSE_FOLLOWS), Keyword),
            (r"[(\[]", Punctuation, "brackets"),
            (r"[)\]]", Punctuation),
            include("expr"),
            (r".", Error),
        ],
        # inside ( ) and [ ], where line breaks do not end the statement
        "brackets": [
            (r"[(\[]", Punctuation, "#push"),
            (r"[)\]]", Punctuation, "#pop"),
            (r"\n", Whitespace),
            include("inline-space"),
            (rf"({_NAME})([ \t]*)(=)(?!=)", bygroups(Name.Attribute, Whitespace, Operator)),
            include("expr"),
            (r"[{}]", Error),
            (r".", Error),
        ],
        # a name that is being declared or referred to: `input NAME`, `-> NAME`, `as NAME`
        "name": [
            include("inline-space"),
            (_NAME, Name.Variable, "#pop"),
            default("#pop"),
        ],
        # an activation, rule, initialiser, loss, optimiser, data set or local rule
        "spec": [
            include("inline-space"),
            (words(BUILTINS, suffix=r"\b"), Name.Builtin, "#pop"),
            (_NAME, Name.Function, "#pop"),
            default("#pop"),
        ],
        "space": [
            (r"\n", Whitespace),
            include("inline-space"),
        ],
        "inline-space": [
            (r"[ \t\f\r]+", Whitespace),
            (r"#[^\n]*", Comment.Single),
        ],
        "expr": [
            (r"(\d+\.\d*|\.\d+)([eE][+-]?\d+)?|\d+[eE][+-]?\d+", Number.Float),
            (r"\d+", Number.Integer),
            (r'"([^"\\\n]|\\.)*"', String.Double),
            (r'"[^\n]*', Error),  # a string left open
            (words(CONSTANTS, suffix=r"\b"), Keyword.Constant),
            (words(CONDITIONAL_KEYWORDS, suffix=r"\b"), Keyword),
            (words(WORD_OPERATORS, suffix=r"\b"), Operator.Word),
            (rf"(\.)([ \t]*)({_NAME})", bygroups(Punctuation, Whitespace, Name.Attribute)),
            (words(BUILTINS, suffix=r"\b"), Name.Builtin),
            (words(PSEUDO_NAMES, suffix=r"\b"), Name.Builtin.Pseudo),
            (words(CHOICES, suffix=r"\b"), Name.Constant),
            (_NAME, Name),
            (r"->|\*\*|<=|>=|==|!=|[-+*/%<>=:]", Operator),
            (r"[,.]", Punctuation),
        ],
    }

    def analyse_text(text):
        """A good guess for a file that opens a network, neuron or train block."""
        if re.search(r"^[ \t]*(network|neuron)[ \t]+[A-Za-z_]\w*[ \t]*\{", text, re.MULTILINE):
            return 0.3
        return 0.0
