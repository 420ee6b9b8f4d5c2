"""Front end: the grammar, the parser's AST and its spans (no backend involved)."""

import functools
from pathlib import Path

import pytest
from lark import Lark

from nndl.frontend import syntax as s
from nndl.diagnostics import Diagnostics
from nndl.frontend import parser as parser_module
from nndl.frontend.parser import parse
from nndl.frontend.tree_to_ast import ToAst

DESIGN_EXAMPLE = Path(__file__).parent / "data" / "design_example.nndl"
EXAMPLES = Path(__file__).parent.parent / "examples"


def parse_ok(text: str) -> s.Program:
    diags = Diagnostics("t.nndl", text)
    program = parse(text, diags)
    assert program is not None, diags.render()
    return program


def parse_errors(text: str) -> list[str]:
    diags = Diagnostics("t.nndl", text)
    assert parse(text, diags) is None
    return [d.message for d in diags.errors]


def test_grammar_has_no_conflicts():
    import importlib.resources
    text = importlib.resources.files("nndl.grammar").joinpath("nndl.lark").read_text()
    pytest.importorskip("interegular")
    Lark(text, parser="lalr", strict=True)  # raises on a shift/reduce or terminal collision


def test_the_parser_tables_are_those_of_the_grammar():
    # Lark numbers its states differently from build to build, so the record is compared
    import importlib.resources
    import json

    import lark
    stored = json.loads(importlib.resources.files("nndl.grammar").joinpath("tables.json")
                        .read_text())
    assert (stored["grammar_sha256"], stored["lark"]) == \
        (parser_module._grammar_sha256(), lark.__version__), \
        "grammar/tables.json is stale: run python -m nndl.grammar.regenerate"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.nndl")) + [DESIGN_EXAMPLE],
                         ids=lambda p: p.name)
def test_the_parser_from_tables_parses_as_the_one_built_from_the_grammar(path):
    text = path.read_text() + "\n"
    loaded, built = parser_module.make_parser(), parser_module.build_parser()
    assert loaded.source_path == "<deserialized>"  # it came from the tables
    assert ToAst().transform(loaded.parse(text)) == ToAst().transform(built.parse(text))


# Programs whose spans come from the corners of Lark's position rules: brackets that widen an
# inlined `?rule`, `_rule`s spliced into their parent, comments, empty blocks, arguments on
# several lines, a `trainable` token kept, an expression nested to the limit.
CORNERS = [
    "network n {\n}\n",
    "# a comment\n\nnetwork n {  # after\n  input x[(2)]\n  output y[ 1 , ] : sigmoid\n}\n",
    "network n {\n  seed -(1 + 2) * (3)\n  input x[2, 3,]\n  group h[4] : relu bias (0.1) init 0\n"
    "  output y[1] : lif(tau=(2.0),\n    threshold = 1)\n  connect x -> h : local(radius=(1.5)"
    ",) weight normal(0, 0.05) delay (2) as c\n  connect h -> y : full\n}\n",
    "neuron m {\n  param tau = 2.0 trainable\n  state v = (0)\n  v = v + (-v if v > 1 else "
    "not (v < 2) and true or false) / tau ** 2 % 3\n}\n",
    "train t for n {\n  data \"set.npz\"\n  loss mse\n  optimizer adam(lr=0.01)\n  batch 4\n"
    "  epochs (2)\n  ticks 1\n  input x\n  output y\n  learn x -> h : hebb(rate=0.1)\n"
    "  rewire c : prune(below=0.1) grow(n=2) every 5\n}\n",
    "network n {\n  seed " + "-" * 97 + "1\n}\n",  # a tree 100 deep: the most allowed
    "network n {\n  seed " + "(" * 300 + "a.b[c[1]]" + ")" * 300 + "\n}\n",
]


@pytest.mark.parametrize("text", [p.read_text() for p in sorted(EXAMPLES.glob("*.nndl"))]
                         + [DESIGN_EXAMPLE.read_text()] + CORNERS)
def test_the_ast_built_while_parsing_is_the_one_built_from_the_tree(text):
    """nndl.frontend.reductions builds each node as its rule is reduced: the same nodes, spans
    included, as ToAst over the parse tree of Lark's own loops (no plugins)."""
    import json

    options = {k: v for k, v in parser_module._LOAD_OPTIONS.items() if k != "_plugins"}
    tables = json.loads(parser_module._package_text("tables.json"),
                        object_hook=parser_module._decoded)
    plain = Lark._load_from_dict(tables["data"], tables["memo"], **options)
    tree = plain.parse(text + "\n")
    assert parser_module.make_parser().parse(text + "\n") == tree
    built = parse_ok(text)
    assert built == ToAst().transform(tree)
    assert repr(built) == repr(ToAst().transform(tree))


BAD = ["network n {\n  group h[2] : tanh\n  connect h -> : full\n}\n",  # a syntax error
       "network n {\n  seed " + "-" * 120 + "1\n}\n"]  # too deep


@pytest.mark.parametrize("text", [p.read_text() for p in sorted(EXAMPLES.glob("*.nndl"))[:6]]
                         + CORNERS + BAD)
def test_a_lark_the_fast_parse_was_not_tested_with_parses_by_tree_to_the_same_result(text):
    """With another Lark the parser takes the plain way (Lark's tree, then ToAst): the same
    AST, or the same diagnostics."""
    fast, plain = Diagnostics("t.nndl", text), Diagnostics("t.nndl", text)
    assert parser_module.parse_by_tree(text + "\n", plain) == parse(text, fast)
    assert plain.render() == fast.render()
    assert ("error" in fast.render()) == (text in BAD)


BLANK_CORNERS = ["network n {\r\n  output y[1]\r\n}\r\n", "network n {\r  output y[1]\r}\r",
                 "network n {   \t\f# c\n  output y[1]  # c\n}  # c", "network n { output y[1] }  ",
                 "network n {\n  input x[8, 8   # open\n  \t\n  grup h[3] : relu\n}\n",
                 "network n {\n  output y[1] \x0b\n}\n", "network n {\n\t# only\n}\n#"]


@pytest.mark.parametrize("source", [*sorted(EXAMPLES.glob("*.nndl"))[::3], *BLANK_CORNERS],
                         ids=lambda p: getattr(p, "name", None) or repr(p)[:30])
def test_the_one_loop_lexing_and_parsing_matches_lark_s_own_loops_on_mutants(source):
    """lark_loops._lex_and_feed lexes (skipping blanks within its patterns), post-lexes and
    parses in one loop; on edited sources (syntax errors and recovery included) it must give
    what Lark's generators and the plain tree give: the same AST, or the same diagnostics."""
    from hypothesis import given, settings
    from test_fuzz_frontend import FUZZ, token_mutants, tokens_of

    if isinstance(source, str):
        texts = [source]
    else:
        texts = []

        @settings(FUZZ, max_examples=12)
        @given(token_mutants(tokens_of(source)))
        def collect(data):
            texts.append(data.decode("utf-8", errors="replace"))

        collect()
        texts.append(source.read_text())
    lark_own = lark_without_plugins()
    for text in texts:
        fast, plain = Diagnostics("t.nndl", text), Diagnostics("t.nndl", text)
        with pytest.MonkeyPatch.context() as patch:  # parse_by_tree with Lark's own loops
            patch.setattr(parser_module, "make_parser", lambda: lark_own)
            by_lark = parser_module.parse_by_tree(text + "\n", plain)
        assert by_lark == parse(text, fast), text
        assert plain.render() == fast.render(), text


@functools.lru_cache(maxsize=1)
def lark_without_plugins() -> Lark:
    """The parser from the same tables, with Lark's own lexer and parser loops."""
    import json

    options = {k: v for k, v in parser_module._LOAD_OPTIONS.items() if k != "_plugins"}
    tables = json.loads(parser_module._package_text("tables.json"),
                        object_hook=parser_module._decoded)
    return Lark._load_from_dict(tables["data"], tables["memo"], **options)


@pytest.mark.parametrize("depth", [99, 100, 101, 102])
@pytest.mark.parametrize("make", [lambda n: "-" * n + "1", lambda n: "1" + " + 1" * n,
                                  lambda n: "f(" * n + "1" + ")" * n],
                         ids=["minus signs", "terms", "calls"])
def test_the_nesting_limit_is_that_of_the_parse_tree(make, depth):
    """The AST is built while parsing, the depth measured on the way; past the limit the tree
    is parsed again so that the diagnostic points where the tree's walk first crossed it."""
    text = "network n {\n  seed " + make(depth - 3) + "\n}\n"
    diags, tree_diags = Diagnostics("t.nndl", text), Diagnostics("t.nndl", text)
    tree = parser_module.make_parser().parse(text + "\n")
    too_deep = parser_module._too_deep(tree, tree_diags)
    assert (parse(text, diags) is None) == too_deep == (tree_height(tree) > 100)
    assert diags.items == tree_diags.items


def tree_height(tree) -> int:
    from lark import Tree
    stack, height = [(tree, 0)], 0
    while stack:
        node, depth = stack.pop()
        height = max(height, depth)
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tree))
    return height


def test_stale_tables_are_not_used(monkeypatch):
    monkeypatch.setattr(parser_module, "_grammar_sha256", lambda: "another grammar")
    parser_module.make_parser.cache_clear()
    try:
        assert parser_module.make_parser().source_path != "<deserialized>"
    finally:
        parser_module.make_parser.cache_clear()


def test_the_design_example_parses_completely():
    program = parse_ok(DESIGN_EXAMPLE.read_text())
    kinds = [type(b).__name__ for b in program.blocks]
    assert kinds == ["NeuronBlock", "NetworkBlock", "TrainBlock", "TrainBlock"]
    network = program.blocks[1]
    connects = [st for st in network.statements if isinstance(st, s.Connect)]
    assert len(connects) == 8
    assert [c.alias[0].name for c in connects if c.alias] == ["conv", "self_loop"]
    rewire = program.blocks[3].statements[-1]
    assert [a.func.name for a in rewire.actions] == ["prune", "grow"]


def test_spans_point_at_names():
    program = parse_ok("network n {\n  input x[3]\n  output y[2] : relu\n  connect x -> y : full\n}\n")
    connect = program.blocks[0].statements[2]
    assert (connect.src.span.line, connect.src.span.column) == (4, 11)
    assert (connect.dst.span.line, connect.dst.span.column) == (4, 16)
    assert connect.rule.func.name == "full" and not connect.rule.parenthesised


def test_expressions_follow_python_precedence():
    program = parse_ok("neuron m {\n  state v = 0\n  out = -a + b * c ** 2 if not x < 1 and y else z\n}\n")
    expr = program.blocks[0].statements[1].value
    assert isinstance(expr, s.IfElse)
    assert expr.then.op == "+" and expr.then.left.op == "-"
    assert expr.then.right.op == "*" and expr.then.right.right.op == "**"
    assert expr.cond.op == "and" and expr.cond.left.op == "not"


def test_where_expressions_and_keyword_arguments():
    text = ("network n {\n  input a[4, 4]\n  output b[4, 4] : relu\n"
            "  connect a -> b : fan_in(k=3, where=abs(pre.coord[0] - post.coord[0]) <= 1)\n}\n")
    rule = parse_ok(text).blocks[0].statements[2].rule
    assert rule.func.name == "fan_in"
    assert [kw.name.name for kw in rule.kwargs] == ["k", "where"]
    where = rule.kwargs[1].value
    assert where.op == "<=" and isinstance(where.left, s.Call)


def test_arguments_may_span_lines_and_comments_anywhere():
    text = ("# head\n\nnetwork n {   # open\n\n  input a[2,\n          3]\n  output b[6] : relu\n"
            "  connect a -> b : local(radius=1,   # wrapped\n        metric=chebyshev)\n}\n# tail")
    program = parse_ok(text)
    assert len(program.blocks[0].statements) == 3


def test_keywords_are_names_where_a_name_is_expected():
    program = parse_ok("network n {\n  input data[2]\n  output loss[2] : relu\n"
                       "  connect data -> loss : full\n}\n")
    assert [st.name.name for st in program.blocks[0].statements[:2]] == ["data", "loss"]


def test_one_line_blocks():
    assert parse_ok("network n { output y[1] }\n").blocks[0].statements[0].name.name == "y"


def test_several_syntax_errors_in_one_run():
    errors = parse_errors("network n {\n  input x[8, 8\n  grup h[3] : relu\n  seed 1 2\n}\n")
    assert len(errors) == 3
    assert errors[0] == "expected one of `,`, `]` after `8`"
    assert "`grup`" in errors[1]
    assert errors[2] == "unexpected number `2`; expected end of line"


def test_an_unclosed_block_names_where_it_opened():
    diags = Diagnostics("t.nndl", "network n {\n  output y[1]\n")
    parse(diags.text, diags)
    (error,) = diags.errors
    assert error.message == "expected `}` before the end of the file"
    assert error.notes[0][1].line == 1


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_files_parse_to_nothing(text):
    assert parse_ok(text).blocks == []
