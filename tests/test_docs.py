"""The documentation's NNDL examples compile, and together they cover the whole grammar.

Every fenced code block tagged `nndl` or `nndl-fragment` in docs/*.md and README.md is checked
as `nndlc check` would check a file (front end, then building the synapses with the network's
seed). The conventions, also written at the top of docs/language.md:

- ```nndl — a complete file: no errors, and no warnings unless the block says it warns (a
  comment with "warn" in it).
- ```nndl-fragment — the statements of one block body, wrapped in a minimal file first: train
  statements (`data`, `loss`, `optimizer`, `batch`, `epochs`, `ticks`, `learn`, `rewire`) go in
  `train fragment { }` after a network `x[4] -> y[2]`; neuron statements (`param`, `state`,
  `NAME = ...`) go in `neuron fragment { }`, used by a network; anything else goes in `network
  fragment { }`, which declares `input x[4]` and `output y[2]` unless the fragment declares
  them. The wrapped file must have no errors (warnings are not checked: the wrapper's groups
  may be unconnected).
- `from=PATH` after either tag: the block is an excerpt of the repository's file PATH (word for
  word), checked as that whole file.

docs/tutorial.md also uses `file=NAME` (the program is saved as NAME for the tutorial's code),
`source=PATH` (the block is the whole file PATH, word for word), and ```python run / ```sh run
blocks, which test_tutorial_output runs and whose output must be the ```text block after them.

Blocks of any other language (```python, ```sh, ```text) are not NNDL; in docs/*.md every block
names its language, so no NNDL example goes unchecked by being left untagged, and Python blocks
must at least parse. README.md's untagged blocks are not required to be anything.
"""

from __future__ import annotations

import ast
import io
import re
import shlex
import shutil
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from lark import Lark, Token
from lark.lexer import PatternStr

from nndl.commands import cli
from nndl.commands.check import check_source
from nndl.frontend.parser import BracketNewlines

ROOT = Path(__file__).parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
README = ROOT / "README.md"
TUTORIAL = ROOT / "docs" / "tutorial.md"
LANGUAGE = ROOT / "docs" / "language.md"  # the reference: it must cover the whole language
NNDL_TAGS = ("nndl", "nndl-fragment")

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)\n"
                   r"(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$", re.M | re.S)

TRAIN_WORDS = {"data", "loss", "optimizer", "batch", "epochs", "ticks", "learn", "rewire"}
NEURON_WORDS = {"param", "state"}


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the block's first line of code, 1-based
    tag: str  # the info string's first word ("" when untagged)
    info: str  # the whole info string
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks_of(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found = []
    for m in FENCE.finditer(text):
        indent = len(m["indent"])
        body = "".join(line[indent:] if line[:indent].strip() == "" else line
                       for line in m["body"].splitlines(keepends=True))
        info = m["info"].strip()
        first_line = text.count("\n", 0, m.start("body")) + 1
        found.append(Block(path, first_line, info.split()[0] if info else "", info, body))
    return found


ALL_BLOCKS = [b for path in DOCS + [README] for b in blocks_of(path)]
NNDL_BLOCKS = [b for b in ALL_BLOCKS if b.tag in NNDL_TAGS]


def options(block: Block) -> dict[str, str]:
    """The info string's words after the tag: `file=NAME` -> {"file": "NAME"}, `run` ->
    {"run": ""}."""
    return {key: value for key, _, value in
            (word.partition("=") for word in block.info.split()[1:])}


def fragment_kind(text: str) -> str:
    words = set()
    assigns = False
    for line in text.splitlines():
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        words.add(stripped.split()[0])
        assigns |= bool(re.match(r"[A-Za-z_]\w*\s*=", stripped))
    if words & TRAIN_WORDS:
        return "train"
    if words & NEURON_WORDS or assigns:
        return "neuron"
    return "network"


def declares(text: str, name: str) -> bool:
    return re.search(rf"^\s*(input|group|output)\s+{name}\b", text, re.M) is not None


def program_text(block: Block) -> str:
    """The file the block is checked as: itself, a fragment in its minimal wrapper, or for an
    excerpt (`from=PATH`), the file it is taken from."""
    source = options(block).get("from")
    if source:
        whole = (ROOT / source).read_text(encoding="utf-8")
        assert block.text in whole, f"{block.where} is not an excerpt of {source} (any more)"
        return whole
    if block.tag == "nndl":
        return block.text
    kind = fragment_kind(block.text)
    small = ("network fragment {\n    input  x[4]\n    output y[2] : softmax\n"
             "    connect x -> y : full\n}\n")
    if kind == "train":
        return small + "train fragment {\n" + block.text + "}\n"
    if kind == "neuron":
        return ("neuron fragment {\n" + block.text + "}\n"
                "network uses_fragment {\n    input  x[4]\n    output y[2] : fragment\n"
                "    connect x -> y : full\n}\n")
    head = "".join(line for name, line in (("x", "    input  x[4]\n"),
                                           ("y", "    output y[2]\n"))
                   if not declares(block.text, name))
    return "network fragment {\n" + head + block.text + "}\n"


# ---- every example compiles ----


def test_the_docs_have_nndl_examples():
    by_tag = {tag: sum(b.tag == tag for b in NNDL_BLOCKS) for tag in NNDL_TAGS}
    assert by_tag["nndl"] >= 20 and by_tag["nndl-fragment"] >= 3, by_tag
    in_tutorial = [b for b in NNDL_BLOCKS if b.path == TUTORIAL]
    assert len(in_tutorial) >= 5


@pytest.mark.parametrize("block", NNDL_BLOCKS, ids=lambda b: f"{b.where}-{b.tag}")
def test_example_compiles(block):
    text = program_text(block)
    program, diags = check_source(text, block.where)
    assert not diags.errors, f"{block.where}: the example does not compile\n{text}\n" + \
        diags.render()
    assert program is not None
    if block.tag == "nndl" and "warn" not in block.text:
        assert not diags.warnings, f"{block.where}: unexpected warnings\n" + diags.render()


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_docs_block_names_its_language(path):
    untagged = [b.where for b in blocks_of(path) if not b.tag]
    assert not untagged, f"untagged code blocks (tag them nndl, nndl-fragment, python, sh, " \
                         f"text): {untagged}"


@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if b.tag == "python"],
                         ids=lambda b: b.where)
def test_python_examples_parse(block):
    ast.parse(block.text, filename=block.where)


def test_fragments_are_wrapped_by_kind():
    assert fragment_kind("connect x -> y : full delay 1\n") == "network"
    assert fragment_kind("input x[8]\ngroup h[4] : relu\n") == "network"
    assert fragment_kind("param leak = 0.5\nout = tanh(net)\n") == "neuron"
    assert fragment_kind("out = net  # identity\n") == "neuron"
    assert fragment_kind("input x\nloss mse\n") == "train"
    block = Block(ROOT, 1, "nndl-fragment", "nndl-fragment", "input x[3]\n")
    assert "input  x[4]" not in program_text(block) and "output y[2]" in program_text(block)


# ---- the tutorial's programs are the examples, and its code prints what it says ----


@pytest.mark.parametrize("block", [b for b in NNDL_BLOCKS if "source" in options(b)],
                         ids=lambda b: b.where)
def test_shown_sources_are_the_files(block):
    path = ROOT / options(block)["source"]
    assert block.text == path.read_text(encoding="utf-8"), \
        f"{block.where} shows {path.relative_to(ROOT)}, which has changed since: copy it again"


def test_tutorial_output(tmp_path, monkeypatch):
    """Run the tutorial's `python run` and `sh run` blocks in order (one namespace, as in one
    session) in a folder holding its `file=` programs and a copy of examples/, and compare what
    each prints with the ```text block after it."""
    pytest.importorskip("matplotlib")
    blocks = blocks_of(TUTORIAL)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    for block in blocks:
        if block.tag in NNDL_TAGS and "file" in options(block):
            (tmp_path / options(block)["file"]).write_text(block.text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__tutorial__"}
    ran = 0
    for block, after in zip(blocks, blocks[1:] + [None]):
        if block.tag not in ("python", "sh") or "run" not in options(block):
            continue
        assert after is not None and after.tag == "text", \
            f"{block.where}: a `run` block must be followed by a ```text block of its output"
        printed = io.StringIO()
        with redirect_stdout(printed), redirect_stderr(printed):
            if block.tag == "python":
                exec(compile(block.text, block.where, "exec"), namespace)
            else:
                for line in filter(None, map(str.strip, block.text.splitlines())):
                    words = shlex.split(line)
                    assert words[0] == "nndlc", f"{block.where}: only nndlc commands are run"
                    assert cli.main(words[1:]) == 0, line
        got = [line.rstrip() for line in printed.getvalue().rstrip().splitlines()]
        want = [line.rstrip() for line in after.text.rstrip().splitlines()]
        assert got == want, f"{block.where} printed something else than {after.where} says:\n" \
                            + "\n".join(got)
        ran += 1
    assert ran >= 5


# ---- the examples cover the grammar ----


def keeping_parser() -> Lark:
    """The language's parser, keeping every token, so that keywords and operators can be seen."""
    return Lark.open_from_package("nndl.grammar", "nndl.lark", parser="lalr", lexer="contextual",
                                  keep_all_tokens=True, maybe_placeholders=False,
                                  postlex=BracketNewlines())


def grammar_constructs(parser: Lark) -> tuple[set[str], set[str]]:
    """(rule names, literal strings) the grammar defines.

    A rule's construct is its alias (`-> add`) or its name; rules starting with `_` are spliced
    into their parent and `?rule: x` alternatives of one symbol pass their child through, so
    neither is a construct of its own. Literal strings are the grammar's quoted keywords and
    operators, and each of COMPARE's operators."""
    rules = set()
    for rule in parser.rules:
        origin = rule.origin.name
        origin = origin.value if hasattr(origin, "value") else str(origin)
        if rule.alias:
            rules.add(str(rule.alias))
        elif origin.startswith("_") or (rule.options.expand1 and len(rule.expansion) == 1):
            continue
        else:
            rules.add(origin)
    literals = {t.pattern.value for t in parser.terminals if isinstance(t.pattern, PatternStr)}
    compare = next(t for t in parser.terminals if t.name == "COMPARE").pattern.value
    inner = re.fullmatch(r"\(\?:(.*)\)", compare)  # Lark writes `"<=" | ...` as (?:<=|...)
    literals |= set((inner[1] if inner else compare).split("|"))
    return rules, literals


def used_constructs(parser: Lark, texts) -> tuple[set[str], set[str], set[str]]:
    """(rules, literal strings, terminal types) used in the parse trees of `texts`."""
    rules, literals, types = set(), set(), set()
    for text in texts:
        tree = parser.parse(text + "\n")
        for node in tree.iter_subtrees():
            rules.add(str(node.data))
            for child in node.children:
                if isinstance(child, Token):
                    types.add(child.type)
                    literals.add(str(child))
    return rules, literals, types


def test_compare_operators_are_read_from_the_grammar():
    _, literals = grammar_constructs(keeping_parser())
    assert {"<=", ">=", "==", "!=", "<", ">", "->", "**", "network", "every"} <= literals


def test_every_construct_of_the_grammar_has_a_docs_example():
    """The reference (docs/language.md) shows every rule, keyword and operator of the grammar."""
    parser = keeping_parser()
    rules, literals = grammar_constructs(parser)
    used_rules, used_literals, types = used_constructs(
        parser, [program_text(b) for b in NNDL_BLOCKS if b.path == LANGUAGE])
    missing_rules = sorted(rules - used_rules)
    missing_literals = sorted(literals - used_literals)
    assert not missing_rules, f"grammar rules with no example in docs/language.md: " \
                              f"{missing_rules}"
    assert not missing_literals, f"keywords and operators with no example in docs/language.md: " \
                                 f"{missing_literals}"
    assert {"NAME", "NUMBER", "STRING"} <= types


def test_every_built_in_name_has_a_docs_example():
    """Names the checks resolve rather than the grammar: activations, rules and their metrics,
    initialisers, losses, optimisers, data sets, local rules, rewiring actions, the expression
    functions, and every parameter of each (as a keyword argument somewhere)."""
    from nndl.ir import expr
    from nndl.frontend import signatures

    parser = keeping_parser()
    names = set()
    for block in NNDL_BLOCKS:
        if block.path == LANGUAGE:
            tree = parser.parse(program_text(block) + "\n")
            names |= {str(t) for t in tree.scan_values(
                lambda t: isinstance(t, Token) and t.type == "NAME")}
    tables = ("ACTIVATIONS", "RULES", "INITIALISERS", "LOSSES", "OPTIMIZERS", "DATASETS",
              "LOCAL_RULES", "REWIRE_ACTIONS")
    wanted = set(expr.FUNCTIONS)
    for table in tables:
        for name, params in getattr(signatures, table).items():
            wanted.add(name)
            for param in params:
                wanted.add(param.name)
                wanted.update(param.choices)
    assert not sorted(wanted - names), f"built-in names with no example in docs/language.md: " \
                                       f"{sorted(wanted - names)}"


def test_the_grammar_constructs_are_found():
    """The coverage test sees the constructs it claims to (a check of the check)."""
    parser = keeping_parser()
    rules, _ = grammar_constructs(parser)
    assert {"network", "neuron", "train", "connect", "weight_opt", "delay_opt", "alias_opt",
            "ifelse", "or_", "not_", "pow", "subscript", "attr", "rewire_stmt", "every_opt",
            "kwarg", "call", "bare_spec", "data_stmt", "atom"} <= rules
    assert not {"expr", "_block", "_net_stmt", "or_test", "postfix"} & rules
    used, literals, _ = used_constructs(parser, [
        "network n {\n input x[2]\n output y[1]\n connect x -> y : where((pre.index > 0))\n}"])
    assert {"network", "input_decl", "output_decl", "connect", "call", "compare", "attr",
            "atom"} <= used
    assert {">", "->", "(", "network", "connect"} <= literals
