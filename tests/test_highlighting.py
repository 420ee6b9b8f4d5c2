"""Editor support: the Pygments lexer (editors/pygments_lexer.py) and the TextMate grammar (editors/).

The lexer must lex every example without an error token, put keywords, comments and numbers in
their token classes, and keep its keyword list equal to the grammar's words; the TextMate grammar
must be valid JSON whose regexes compile, and a small TextMate-style matcher run over the examples
must classify keywords, comments, numbers, strings and built-ins as the lexer does.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygments")

from lark import Lark
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String, Token

from nndl.editors import pygments_lexer as L
from nndl.frontend import signatures
from nndl.ir.expr import FUNCTIONS
from nndl.frontend.keywords import KEYWORD_ORDER

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.nndl"))
GOLDENS = sorted((ROOT / "tests" / "golden" / "diagnostics").glob("*.nndl"))
TM_PATH = ROOT / "editors" / "nndl.tmLanguage.json"
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def lex(text: str) -> list[tuple[int, Token, str]]:
    return list(L.NNDLLexer().get_tokens_unprocessed(text))


def grammar_words() -> set[str]:
    """The grammar's string literals that are words (`"network"`, `"bias"`, `"true"`, ...)."""
    text = (ROOT / "grammar" / "nndl.lark").read_text("utf-8")
    parser = Lark(text, parser="lalr")
    words = {t.pattern.value for t in parser.terminals
             if t.pattern.type == "str" and WORD.fullmatch(t.pattern.value)}
    # the same list read straight off the file, comments dropped: the two readings agree
    code = "\n".join(line.split("//", 1)[0] for line in text.splitlines())
    assert words == set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', code))
    return words


# ---- the Pygments lexer --------------------------------------------------------------------

def test_files_found():
    assert len(EXAMPLES) >= 10 and len(GOLDENS) >= 10


def test_keywords_match_the_grammar():
    words = grammar_words()
    assert set(L.KEYWORDS) == words
    assert set(KEYWORD_ORDER) <= words
    assert set(L.BLOCK_KEYWORDS) | set(L.STATEMENT_KEYWORDS) == set(KEYWORD_ORDER)
    # no word is in two lists
    lists = [L.BLOCK_KEYWORDS, L.STATEMENT_KEYWORDS, L.CLAUSE_KEYWORDS, L.NAMED_CLAUSES,
             L.CONDITIONAL_KEYWORDS, L.WORD_OPERATORS, L.CONSTANTS]
    assert sum(len(x) for x in lists) == len(L.KEYWORDS)


def test_builtins_come_from_the_signature_tables():
    tables = (signatures.ACTIVATIONS, signatures.RULES, signatures.INITIALISERS,
              signatures.LOSSES, signatures.OPTIMIZERS, signatures.SCHEDULES, signatures.DATASETS,
              signatures.LOCAL_RULES, signatures.REWIRE_ACTIONS)
    expected = set().union(*tables, FUNCTIONS)
    assert expected <= set(L.BUILTINS)
    # the rest are the built-in neuron models
    assert set(L.BUILTINS) - expected == {"leaky", "adaptive", "poisson"}
    assert not set(L.BUILTINS) & L.KEYWORDS


def test_lexer_metadata():
    assert L.NNDLLexer.name == "NNDL"
    assert L.NNDLLexer.aliases == ["nndl"]
    assert L.NNDLLexer.filenames == ["*.nndl"]
    assert L.NNDLLexer.mimetypes


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_lex_cleanly(path):
    text = path.read_text("utf-8")
    tokens = lex(text)
    assert "".join(v for _, _, v in tokens) == text
    errors = [(text.count("\n", 0, i) + 1, v) for i, t, v in tokens if t in Error]
    assert not errors, errors

    by_pos = {i: (t, v) for i, t, v in tokens}
    code_lines = 0
    for lineno, line, start in _lines(text):
        # every comment is one Comment token running to the end of its line
        if "#" in line and '"' not in line:
            col = line.index("#")
            t, v = by_pos[start + col]
            assert t in Comment and v == line[col:], (path.name, lineno)
            line = line[:col]
        # a keyword that starts a statement or a block is a Keyword
        first = WORD.match(line.lstrip())
        if first and first[0] in KEYWORD_ORDER and not re.match(r"\w+\s*=", line.lstrip()):
            t, _ = by_pos[start + len(line) - len(line.lstrip())]
            assert t in Keyword, (path.name, lineno, first[0])
            code_lines += 1
        # every number (not part of a name) is a Number, whole
        for m in re.finditer(r"(?<![\w.])(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", line):
            t, v = by_pos[start + m.start()]
            assert t in Number and v == m[0], (path.name, lineno, m[0])
        # clause keywords with an operand after them
        for m in re.finditer(r"\b(bias|init|weight|delay|every|as)[ \t]+[\w\-(.]", line):
            assert by_pos[start + m.start()][0] in Keyword, (path.name, lineno, m[1])
    assert code_lines


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.name)
def test_goldens_lex_without_exceptions(path):
    """Goldens hold deliberate errors (a stray `@`, bytes that are not UTF-8): they only must lex."""
    text = path.read_bytes().decode("utf-8", "replace")
    assert "".join(v for _, _, v in lex(text)) == text
    assert list(L.NNDLLexer(encoding="guess").get_tokens(path.read_bytes()))
    assert TinyTextMate(load_grammar()).tokens(text) is not None


def _lines(text):
    start = 0
    for lineno, line in enumerate(text.split("\n"), 1):
        yield lineno, line, start
        start += len(line) + 1


SNIPPET = """\
network n { seed 1 }
network net2 {
    input  data[2]                 # `data` is a name here, not a keyword
    input  every[2]
    output y[1] : tanh bias -1 init 0.5
    connect every -> y : full as for
    connect data -> y : random(p=0.5,
        where=pre.coord[-1] < post.index and not true) delay 2
}
neuron m {
    param weight = 1e-3
    out = weight * net if net > 1 else .5
}
train t for net2 {
    data "a/b.npz"
    input data
}
"""


def _kinds(text):
    """(word, token type) for each non-blank token."""
    return [(v, t) for _, t, v in lex(text) if v.strip()]


def test_contextual_keywords():
    got = _kinds(SNIPPET)
    assert not [x for x in got if x[1] in Error]
    words = {}
    for v, t in got:
        words.setdefault(v, []).append(t)
    assert words["network"] == [Keyword.Declaration] * 2
    assert words["seed"] == [Keyword]
    assert words["n"] == [Name.Class] and words["net2"] == [Name.Class, Name.Class]
    assert words["for"] == [Name.Variable, Keyword]   # `as for` names a connection `for`
    assert words["data"] == [Name.Variable, Name.Variable, Keyword, Name.Variable]
    assert words["every"] == [Name.Variable, Name.Variable]
    assert words["input"] == [Keyword] * 3
    assert words["bias"] == [Keyword] and words["init"] == [Keyword]
    assert words["delay"] == [Keyword] and words["as"] == [Keyword]
    assert words["weight"] == [Name.Variable, Name]   # a parameter's name, then its use
    assert words["tanh"] == [Name.Builtin] and words["random"] == [Name.Builtin]
    assert words["true"] == [Keyword.Constant]
    assert words["and"] == [Operator.Word] and words["not"] == [Operator.Word]
    assert words["if"] == [Keyword] and words["else"] == [Keyword]
    assert words['"a/b.npz"'] == [String.Double]
    assert words["# `data` is a name here, not a keyword"] == [Comment.Single]
    assert words["1e-3"] == [Number.Float] and words[".5"] == [Number.Float]
    assert words["0.5"] == [Number.Float] * 2 and words["2"] == [Number.Integer] * 3
    assert words["p"] == [Name.Attribute] and words["where"] == [Name.Attribute]
    assert words["->"] == [Operator] * 2 and words["<"] == [Operator]


def test_importing_nndl_does_not_import_pygments(tmp_path):
    # Not from the checkout: there `import nndl` would find the source folder, not the install.
    code = "import sys, nndl; sys.exit('pygments' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=False).returncode == 0


def test_entry_point_declared():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    target = project["entry-points"]["pygments.lexers"]["nndl"]
    module, _, attr = target.partition(":")
    assert getattr(__import__(module, fromlist=[attr]), attr) is L.NNDLLexer
    assert any(req.startswith("pygments") for req in project["optional-dependencies"]["docs"])
    assert any(req.startswith("pygments") for req in project["optional-dependencies"]["test"])


def test_pygments_finds_the_lexer():
    from importlib.metadata import entry_points

    if not any(ep.name == "nndl" for ep in entry_points(group="pygments.lexers")):
        pytest.skip("nndl is installed without its pygments entry point: pip install -e .")
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename

    assert isinstance(get_lexer_by_name("nndl"), L.NNDLLexer)
    assert isinstance(get_lexer_for_filename("digits.nndl"), L.NNDLLexer)
    html = highlight((ROOT / "examples" / "digits.nndl").read_text("utf-8"),
                     get_lexer_by_name("nndl"), HtmlFormatter())
    assert '<span class="kd">network</span>' in html and 'class="err"' not in html


# ---- the TextMate grammar ------------------------------------------------------------------

def load_grammar() -> dict:
    return json.loads(TM_PATH.read_text("utf-8"))


def _rules(grammar):
    """Every rule with a regex, anywhere in the grammar."""
    def walk(node):
        if isinstance(node, dict):
            if any(k in node for k in ("match", "begin", "end")):
                yield node
            for v in node.values():
                yield from walk(v)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v)
    yield from walk(grammar)


class TinyTextMate:
    """The part of TextMate's matching this grammar uses: one line at a time, `match` rules with
    optional `captures` and `patterns`/`include` lists; at each position the rule whose match
    starts first wins, ties to the rule listed first."""

    def __init__(self, grammar):
        self.grammar = grammar
        self.rules = list(self._flatten(grammar["patterns"]))

    def _flatten(self, patterns):
        for p in patterns:
            if "include" in p:
                assert p["include"].startswith("#"), p
                yield from self._flatten([self.grammar["repository"][p["include"][1:]]])
            elif "patterns" in p:
                yield from self._flatten(p["patterns"])
            else:
                assert "begin" not in p, "the tiny matcher knows only `match` rules"
                yield re.compile(p["match"]), p

    def tokens(self, text):
        """(line number, column, text, scope) for each piece of text that gets a scope."""
        out = []
        for lineno, line in enumerate(text.split("\n"), 1):
            pos = 0
            while pos <= len(line):
                best = None
                for regex, rule in self.rules:
                    m = regex.search(line, pos)
                    if m and (best is None or m.start() < best[0].start()):
                        best = (m, rule)
                if best is None:
                    break
                m, rule = best
                if "name" in rule:
                    out.append((lineno, m.start(), m[0], rule["name"]))
                for group, capture in rule.get("captures", {}).items():
                    if m[int(group)] is not None:
                        out.append((lineno, m.start(int(group)), m[int(group)], capture["name"]))
                pos = m.end() if m.end() > pos else pos + 1
        return out


def test_grammar_is_valid_json_with_compiling_regexes():
    g = load_grammar()
    assert g["scopeName"] == "source.nndl" and g["fileTypes"] == ["nndl"] and g["name"]
    rules = list(_rules(g))
    assert len(rules) > 10
    for rule in rules:
        for key in ("match", "begin", "end"):
            if key in rule:
                re.compile(rule[key])
                # stay inside the subset Oniguruma and Python agree on
                assert not re.search(r"\(\?P?<[A-Za-z]|\\[hHAZzG]|\(\?>|[*+?]\+", rule[key]), rule
    for item in g["patterns"]:
        if "include" in item:
            assert item["include"][1:] in g["repository"]
    names = {n for r in rules for n in [r.get("name")] + [c["name"] for c in
                                                             r.get("captures", {}).values()] if n}
    assert all(n.endswith(".nndl") for n in names)
    for scope in ("comment.line.number-sign", "keyword.control", "keyword.other",
                  "support.function", "constant.numeric", "constant.language",
                  "string.quoted.double", "keyword.operator", "entity.name"):
        assert any(n.startswith(scope + ".") for n in names), scope


def test_grammar_word_lists_in_step():
    """The words the TextMate grammar spells out are the lexer's (and so the grammar's)."""
    g = load_grammar()
    keywords = set()
    for rule in _rules(g):
        scopes = [rule.get("name", "")] + [c["name"] for c in rule.get("captures", {}).values()]
        if any(s.startswith(("keyword.", "constant.language.")) for s in scopes):
            keywords |= set(re.findall(r"(?<=[(|:])([a-z_]+)(?=[|)])", rule["match"]))
    assert keywords == set(L.KEYWORDS)
    builtins = re.fullmatch(r"\\b\(\?:([a-z0-9_|]+)\)\\b", g["repository"]["builtin"]["match"])[1]
    assert set(builtins.split("|")) == set(L.BUILTINS)


def _classify_pygments(t):
    if t in Comment:
        return "comment"
    if t in Number:
        return "number"
    if t in String:
        return "string"
    if t in Keyword.Constant:
        return "constant"
    if t in Keyword:
        return "keyword"
    if t in Operator.Word:
        return "logical"
    if t in Name.Builtin and t not in Name.Builtin.Pseudo:
        return "builtin"
    return None


def _classify_textmate(scope):
    for prefix, kind in (("comment.", "comment"), ("constant.numeric.", "number"),
                         ("string.", "string"), ("constant.language.", "constant"),
                         ("keyword.control.", "keyword"), ("keyword.other.", "keyword"),
                         ("keyword.operator.logical.", "logical"),
                         ("support.function.", "builtin")):
        if scope.startswith(prefix):
            return kind
    return None


def _by_both(text):
    py, tm = set(), set()
    for i, t, v in lex(text):
        if _classify_pygments(t) and v.strip():
            lineno = text.count("\n", 0, i) + 1
            py.add((lineno, i - (text.rfind("\n", 0, i) + 1), v, _classify_pygments(t)))
    for lineno, col, v, scope in TinyTextMate(load_grammar()).tokens(text):
        if _classify_textmate(scope):
            tm.add((lineno, col, v, _classify_textmate(scope)))
    return py, tm


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_textmate_agrees_with_the_lexer(path):
    py, tm = _by_both(path.read_text("utf-8"))
    assert {x[3] for x in py} >= {"comment", "keyword", "number", "builtin"}
    assert py == tm, (sorted(py - tm)[:5], sorted(tm - py)[:5])


def test_textmate_snippet():
    tokens = TinyTextMate(load_grammar()).tokens(SNIPPET)
    scopes = {}
    for _, _, v, scope in tokens:
        scopes.setdefault(v, []).append(scope)
    assert scopes["network"] == ["keyword.control.block.nndl"] * 2
    assert scopes["net2"] == ["entity.name.type.nndl"] * 2
    assert scopes["for"] == ["variable.other.declaration.nndl", "keyword.control.for.nndl"]
    assert scopes["seed"] == ["keyword.other.statement.nndl"]
    assert scopes["input"] == ["keyword.other.statement.nndl"] * 3
    assert scopes["data"][:2] == ["variable.other.declaration.nndl"] * 2
    assert "keyword.other.statement.nndl" in scopes["data"]
    assert scopes["bias"] == ["keyword.other.clause.nndl"]
    assert scopes["delay"] == ["keyword.other.clause.nndl"]
    assert scopes["# `data` is a name here, not a keyword"] == ["comment.line.number-sign.nndl"]
    assert scopes["1e-3"] == ["constant.numeric.nndl"] and scopes[".5"] == ["constant.numeric.nndl"]
    assert scopes["true"] == ["constant.language.boolean.nndl"]
    assert scopes['"a/b.npz"'] == ["string.quoted.double.nndl"]
    assert scopes["tanh"] == ["support.function.builtin.nndl"]
    assert scopes["->"] == ["keyword.operator.arrow.nndl"] * 2
    assert scopes["if"] == ["keyword.control.conditional.nndl"]
    py, tm = _by_both(SNIPPET)
    assert py == tm, (sorted(py - tm)[:5], sorted(tm - py)[:5])


def test_target_is_a_keyword_before_a_sum_name_and_a_variable_in_a_rule():
    text = ("network n {\n    connect x -> h : full target exc\n}\n"
            "rule r {\n    every tick {\n        w = w + (target - post) * pre\n    }\n}\n")
    tokens = [(kind, value) for kind, value in L.NNDLLexer().get_tokens(text)
              if value == "target" or value == "exc"]
    assert [str(kind) for kind, _ in tokens] == ["Token.Keyword", "Token.Name.Variable",
                                                 "Token.Name"]
