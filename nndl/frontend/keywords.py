"""The language's statement and block keywords, shared by the parser and its error messages."""

from lark import Token

# Words that start a statement or a block: never valid inside brackets, so meeting one at the
# start of a line there means a bracket was left open (see BracketNewlines).
KEYWORD_ORDER = (
    "network neuron rule train seed input group output connect param state modulator on "
    "data loss optimizer schedule batch epochs ticks learn rewire".split()
)
STATEMENT_KEYWORDS = frozenset(KEYWORD_ORDER)
BLOCK_KEYWORDS = frozenset(("network", "neuron", "rule", "train"))
BLOCK_OF = {word: block for block, words in [
    ("network", "seed input group output connect"), ("neuron", "param state"),
    ("rule", "modulator on"),
    ("train", "data loss optimizer schedule batch epochs ticks learn rewire")]
    for word in words.split()}


def as_keyword(tok: Token) -> Token:
    """A statement keyword that the contextual lexer took for a name, as the keyword it is."""
    if tok.type == "NAME" and tok in STATEMENT_KEYWORDS:
        return Token.new_borrow_pos(tok.upper(), str(tok), tok)
    return tok
