"""Safe code generation (DESIGN.md, Errors): identifiers from a .nndl file never reach generated
code unvalidated, numbers and strings stay literals, and the module of a hostile file runs
nothing but the network.

The programs here are hostile on purpose: names that are Python keywords and builtins, the
generated code's own names, CUDA keywords, dunders, NNDL's own keywords, names that collide once
mangled, non-ASCII letters, names of up to 200 characters; numbers that overflow to inf or nan,
subnormals, negative zero; paths that try to end the header comment or a docstring, or that hold
an encoding declaration (`coding:unicode_escape`) for Python to find on line 1 or 2. For every
backend each is either refused with a clear diagnostic, or gives a module that

- compiles from its bytes, decoded as Python decodes the file (line 1 declares UTF-8, line 2 is
  NNDL's own text), and whose every identifier is one that the same network with plain names
  (its *twin*, `zq000`, `zq001`, ... in place of each name) has too, or a model variable safely
  mangled;
- calls nothing dangerous (exec, eval, open, ...) beyond the module's own fixed calls, and
  imports nothing but numpy, math and nndl;
- imports, runs and trains without running anything else (an audit hook refuses processes);
- computes what its twin computes, and the same in both backends (float64, 1e-9).
"""

from __future__ import annotations

import ast
import builtins
import collections
import contextlib
import importlib.util
import itertools
import keyword
import math
import re
import shutil
import sys
import textwrap
import types
from pathlib import Path
from string import Template

import cuda_emulation
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nndl
from nndl import backends
from nndl.commands.cli import main
from nndl.compiler import generate_source, module_from_source
from nndl.diagnostics import NNDLError
from nndl.frontend import check_text

ROOT = Path(__file__).parent.parent
# cupy on the CPU, through tests/cuda_emulation.py (which builds its kernels with g++)
BACKENDS = ("oo", "numpy") + (("cupy",) if shutil.which("g++") else ())


@pytest.fixture(autouse=True)
def emulated_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", cuda_emulation.fake_cupy())
TOLERANCE = 1e-9  # DESIGN.md, Equivalence: float64 runs agree to about 1e-9

# ---- hostile names ------------------------------------------------------------------------

PYTHON = ["__import__", "exec", "eval", "compile", "open", "getattr", "globals", "print",
          "None", "True", "False", "class", "def", "lambda", "import", "return", "yield",
          "await", "pass", "while", "with", "is", "in", "global", "match", "case", "type", "_",
          "self", "super", "float", "int", "len", "sum", "min", "max", "__builtins__",
          "__debug__", "__name__", "os", "sys", "inf", "nan"]
GENERATED = ["np", "math", "ir", "SPEC", "SOURCE", "Network", "NetworkBase", "Group",
             "ModelGroup", "Memory", "Tape", "sigmoid", "relu", "step", "tanh", "softmax",
             "gather_sum", "tanh_slope", "model_m", "model_m_backward", "backward_m", "out",
             "net", "nets", "W", "b", "gW", "adj", "tape", "t", "dnet", "g_out", "d_net", "out_1",
             "state", "carried", "last", "memory", "batch", "x", "pre0", "w0"]
CUDA = ["__global__", "__device__", "__shared__", "__syncthreads", "threadIdx", "blockDim",
        "gridDim", "atomicAdd", "float4", "double", "void", "unsigned", "struct", "template",
        "extern", "const", "goto", "cupy"]
DUNDER = ["__init__", "__class__", "__dict__", "__getattr__", "__main__", "__x", "__"]
NNDL = ["true", "false", "and", "or", "not", "if", "else", "param", "input", "output", "group",
        "connect", "neuron", "seed", "bias", "for", "full", "none"]
HOSTILE = list(dict.fromkeys(PYTHON + GENERATED + CUDA + DUNDER + NNDL))
# NNDL's truth values: `true` in an expression is the literal, so the front end refuses it as a
# model variable (see test_true_and_false_are_not_variables).
LITERALS = ("true", "false")

# Letters the grammar does not take (NAME is ASCII): each must be refused, clearly.
NON_ASCII = ["é", "ñet", "λ", "ſ", "ﬁ", "Ω", "x\u200b", "ｘ", "а", "x\u0301", "𝑥", "x²",
             "\u2028x", "µ", "ªb"]


def twin_names(names) -> list[str]:
    """Plain names, one per hostile name, that mean nothing to Python, CUDA or NNDL, and sort
    as the hostile names do (the IR lists neuron models in order of their names)."""
    rank = {name: i for i, name in enumerate(sorted(names))}
    return [f"zq{rank[name]:03d}" for name in names]


# ---- one name in one place: the programs --------------------------------------------------

# `$N` is the name; each program uses it everywhere the place allows (declaration and uses).
PLACES = {
    "network": "network $N {\n input x[2]\n output y[2] : tanh\n connect x -> y : full\n}\n",
    "input": "network n {\n input $N[2]\n output y[2] : tanh\n connect $N -> y : full\n}\n",
    "group": ("network n {\n input x[2]\n group $N[2] : tanh\n output y[2] : tanh\n"
              " connect x -> $N : full\n connect $N -> y : full\n}\n"),
    "output": "network n {\n input x[2]\n output $N[2] : tanh\n connect x -> $N : full\n}\n",
    "connection": ("network n {\n input x[2]\n output y[2] : tanh\n"
                   " connect x -> y : full as $N\n}\n"
                   "train r for n {\n data parity\n loss mse\n learn $N : hebb(rate=0.01)\n}\n"),
    "model": ("neuron $N {\n out = tanh(net)\n}\n"
              "network n {\n input x[2]\n output y[2] : $N\n connect x -> y : full\n}\n"),
    "param": ("neuron m {\n param $N = 0.5\n out = tanh($N * net)\n}\n"
              "network n {\n input x[2]\n output y[2] : m($N=0.25)\n connect x -> y : full\n}\n"),
    "state": ("neuron m {\n state $N = 0.5\n $N = 0.5 * $N + net\n out = tanh($N)\n}\n"
              "network n {\n input x[2]\n output y[2] : m\n connect x -> y : full\n}\n"),
    "temporary": ("neuron m {\n $N = 2.0 * net\n out = tanh($N)\n}\n"
                  "network n {\n input x[2]\n output y[2] : m\n connect x -> y : full\n}\n"),
    "regime": ("network n {\n input x[2]\n output y[2] : tanh\n connect x -> y : full\n}\n"
               "train $N for n {\n data parity\n loss mse\n input x\n output y\n}\n"),
    "sum": ("neuron m {\n out = tanh(net + sum($N))\n}\n"
            "network n {\n input x[2]\n output y[2] : m\n connect x -> y : full\n"
            " connect x -> y : full as c target $N\n}\n"),
}


def balanced(terms: list[str]) -> str:
    """`a + b + ...` nested as a balanced tree: the front end refuses a chain 100 deep."""
    if len(terms) <= 4:
        return " + ".join(terms)
    middle = len(terms) // 2
    return f"({balanced(terms[:middle])}) + ({balanced(terms[middle:])})"


def packed(place: str, names: list[str]) -> str:
    """One program that uses every name of `names` in `place` at once."""
    if place == "network":
        return "".join(Template(PLACES["network"]).substitute(N=n) for n in names)
    lines = []
    if place == "input":
        lines = [f" input {n}[2]" for n in names] + [" output y[2] : tanh"]
        lines += [f" connect {n} -> y : full" for n in names]
    elif place == "group":
        lines = [" input x[2]"] + [f" group {n}[2] : tanh" for n in names]
        lines += [" output y[2] : tanh"]
        lines += [f" connect x -> {n} : full\n connect {n} -> y : full" for n in names]
    elif place == "output":
        lines = [" input x[2]"] + [f" output {n}[2] : tanh" for n in names]
        lines += [f" connect x -> {n} : full" for n in names]
    elif place == "connection":
        lines = [" input x[2]", " output y[2] : tanh"]
        lines += [f" connect x -> y : full as {n}" for n in names]
    elif place == "model":
        lines = [" input x[2]", " output y[2] : tanh"]
        lines += [f" group h{i}[2] : {n}\n connect x -> h{i} : full\n connect h{i} -> y : full"
                  for i, n in enumerate(names)]
    elif place in ("param", "state", "temporary", "regime"):
        lines = [" input x[2]", " output y[2] : m", " connect x -> y : full"]
    elif place == "sum":
        lines = [" input x[2]", " output y[2] : m", " connect x -> y : full"]
        lines += [f" connect x -> y : full as c{i} target {n}" for i, n in enumerate(names)]
    network = "network n {\n" + "\n".join(lines) + "\n}\n"
    if place == "connection":
        network += "train r for n {\n data parity\n loss mse\n"
        network += "".join(f" learn {n} : hebb(rate=0.01)\n" for n in names) + "}\n"
    if place == "model":
        network = "".join(f"neuron {n} {{\n out = tanh(net + {0.1 * i})\n}}\n"
                          for i, n in enumerate(names)) + network
    if place == "regime":
        network = network.replace("output y[2] : m", "output y[2] : tanh")
        network += "".join(f"train {n} for n {{\n data parity\n loss mse\n input x\n"
                           f" output y\n batch {i + 1}\n}}\n" for i, n in enumerate(names))
    if place == "param":
        overrides = ", ".join(f"{n}={0.5 / (i + 1)}" for i, n in enumerate(names) if i % 2)
        declarations = "".join(f" param {n} = {0.3 + 0.01 * i}\n" for i, n in enumerate(names))
        total = balanced(names)
        network = network.replace(": m", f": m({overrides})")
        network = (f"neuron m {{\n{declarations} out = tanh(net * ({total}) / {len(names)})\n"
                   "}\n") + network
    if place == "state":
        body = "".join(f" state {n} = {0.01 * i}\n" for i, n in enumerate(names))
        body += "".join(f" {n} = {0.5 + 0.003 * i} * {n} + net\n" for i, n in enumerate(names))
        total = balanced(names)
        network = f"neuron m {{\n{body} out = tanh(({total}) / {len(names)})\n}}\n" + network
    if place == "sum":
        total = balanced([f"{0.5 + 0.01 * i} * sum({n})" for i, n in enumerate(names)])
        network = f"neuron m {{\n out = tanh(net + ({total}) / {len(names)})\n}}\n" + network
    if place == "temporary":
        body = f" {names[0]} = 2.0 * net\n"
        body += "".join(f" {n} = 0.9 * {p} + 0.01 * net\n" for p, n in itertools.pairwise(names))
        network = f"neuron m {{\n{body} out = tanh({names[-1]})\n}}\n" + network
    return network


# ---- checking outcomes -------------------------------------------------------------------

def assert_clear_diagnostics(text: str, path, capsys=None):
    """The program is refused: every error at a position, no traceback, and `nndlc check`
    exits 1 saying so."""
    program, diags = check_text(text, str(path))
    assert program is None and diags.errors, text
    rendered = diags.render()
    assert "Traceback" not in rendered and "internal error" not in rendered
    for d in diags.errors:
        assert d.code and d.message, d
    assert f"{path}:" in rendered and ": error: " in rendered, rendered
    if capsys is not None:
        path.write_text(text, encoding="utf-8")
        assert main(["check", str(path)]) == 1
        err = capsys.readouterr().err
        assert f"{path}:" in err and ": error: " in err and "Traceback" not in err, err
        with pytest.raises(NNDLError):
            nndl.compile(path, backend="numpy")
    return diags


def accepted(template: str, names: list[str], tmp_path, capsys) -> tuple[list, list]:
    """Split `names` into those the front end takes in this place and those it refuses (each
    refusal checked for a clear diagnostic)."""
    taken, refused = [], []
    for name in names:
        text = Template(template).substitute(N=name)
        program, diags = check_text(text, "f.nndl")
        if program is not None:
            taken.append(name)
            continue
        refused.append((name, sorted({d.code for d in diags.errors})))
        assert_clear_diagnostics(text, tmp_path / "refused.nndl", capsys)
    return taken, refused


# ---- the audit of a generated module -------------------------------------------------------

# Calls that could run anything, or reach anything, if a name or a string could steer them.
DANGEROUS = {"exec", "eval", "compile", "__import__", "open", "getattr", "setattr", "delattr",
             "globals", "locals", "vars", "input", "breakpoint", "system", "popen", "spawn",
             "fork", "Popen", "call", "check_output", "import_module", "loads", "load",
             "__getattribute__", "__subclasses__", "__globals__", "__builtins__"}
# ... and the module's own fixed ones: the OO module asks a group for its states, if any.
OWN_CALLS = {"getattr"}
IMPORTS = re.compile(r"(math|numpy|cupy|nndl(\.[a-z_.]+)?)")


def top_level_names(tree) -> list[str]:
    names = []
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
            names.append(statement.name)
        elif isinstance(statement, ast.Assign):
            names += [t.id for t in statement.targets if isinstance(t, ast.Name)]
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            names += [a.asname or a.name for a in statement.names]
    return names


def model_functions(tree) -> list[ast.FunctionDef]:
    """The module-level functions made from neuron models (one tick forwards, one backwards),
    known by their docstrings."""
    return [s for s in tree.body if isinstance(s, ast.FunctionDef)
            and (ast.get_docstring(s) or "").startswith(("Neuron model `", "Model `"))]


def rule_functions(tree) -> list[ast.FunctionDef]:
    """The module-level functions made from `rule` blocks (one per block), by their docstrings."""
    return [s for s in tree.body if isinstance(s, ast.FunctionDef)
            and (ast.get_docstring(s) or "").startswith("Rule `")]


def is_forward(function: ast.FunctionDef) -> bool:
    return ast.get_docstring(function).startswith("Neuron model `")


def model_of(function: ast.FunctionDef) -> str:
    """The name of the model a model function was made from, as its docstring says."""
    return ast.get_docstring(function).split("`")[1]


def canonical(node, rename: dict[str, str] | None = None) -> str:
    """The tree (or source) as a dump with every string blanked, every source position in the
    SPEC blanked (a name's length moves columns) and names renamed: the program's shape,
    whatever names and paths it was made from."""
    rename = rename or {}
    if isinstance(node, str):
        node = ast.parse(node)

    def dump(n) -> str:
        if isinstance(n, list):
            return "[" + ", ".join(dump(x) for x in n) + "]"
        if not isinstance(n, ast.AST):
            return repr(n)
        if isinstance(n, ast.Name):
            return f"Name({rename.get(n.id, n.id)!r})"
        if isinstance(n, ast.arg):
            return f"arg({rename.get(n.arg, n.arg)!r})"
        if isinstance(n, ast.FunctionDef):
            rest = ", ".join(dump(v) for k, v in ast.iter_fields(n) if k != "name")
            return f"FunctionDef({rename.get(('def', n.name), n.name)!r}, {rest})"
        if isinstance(n, ast.Constant):
            return "''" if isinstance(n.value, str) else repr(n.value)
        if isinstance(n, ast.Dict):
            return "{" + ", ".join(
                f"{dump(k)}: " + ("<loc>" if isinstance(k, ast.Constant) and k.value == "loc"
                                  else dump(v)) for k, v in zip(n.keys, n.values)) + "}"
        if isinstance(n, ast.expr_context):
            return ""
        return type(n).__name__ + "(" + ", ".join(dump(v) for _, v in ast.iter_fields(n)) + ")"

    return dump(node)


def outline(source: str) -> tuple:
    """A quicker, coarser `canonical`: how many nodes of each kind, and every identifier."""
    tree = ast.parse(source)
    kinds = collections.Counter(type(n).__name__ for n in ast.walk(tree))
    return sorted(kinds.items()), sorted(identifiers(tree))


def assert_same_program(a: str, b: str, what) -> None:
    """Two `canonical` dumps are equal (pytest's diff of long strings would take minutes)."""
    if a != b:
        at = next(i for i, (x, y) in enumerate(zip(a + "$", b + "#")) if x != y)
        pytest.fail(f"{what}: not the same program: ...{a[max(0, at - 300):at + 100]}... "
                    f"against ...{b[max(0, at - 300):at + 100]}...")


def mangled_pattern(variables) -> re.Pattern:
    """What the generated code may call a model variable: the name, with `_`s appended, or one
    of the reverse pass's names made from it (`g_v`, `d_v`, `v_1`, each with `_`s); a named
    input sum `sum.x` (in `variables`) is `sum_x`, with more `_`s after `sum` or `d`."""
    plain = sorted({"net", "out", *(v for v in variables if "." not in v)}, key=len,
                   reverse=True)
    sums = sorted((v.partition(".")[2] for v in variables if "." in v), key=len, reverse=True)
    alternatives = "|".join([*(re.escape(v) for v in plain),
                             *(rf"sum_+{re.escape(s)}" for s in sums)])
    return re.compile(rf"(?:[gd]_+)?(?:{alternatives})_*(?:_1_*)?")


def variables_of(text: str) -> set[str]:
    """Every model variable of a program: parameters, states, temporaries."""
    program, diags = check_text(text, "f.nndl")
    assert program is not None, diags.render()
    found = set()
    for network in program.networks:
        for model in network.models:
            found |= {*model.params, *model.states, *(t for t, _ in model.statements),
                      *(f"sum.{s}" for s in model.sums)}
    return found


class Facts:
    """What one walk of a top-level statement finds: its identifiers, its dangerous calls, its
    imports, and (for a function) its variables and the globals it reads."""

    def __init__(self, statement):
        self.identifiers, self.calls, self.imports, stores, loads = set(), [], [], [], set()
        for n in ast.walk(statement):
            if isinstance(n, ast.Name):
                self.identifiers.add(n.id)
                (stores.append if isinstance(n.ctx, ast.Store) else loads.add)(n.id)
            elif isinstance(n, ast.Attribute):
                self.identifiers.add(n.attr)
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.identifiers.add(n.name)
            elif isinstance(n, ast.arg) or (isinstance(n, ast.keyword) and n.arg):
                self.identifiers.add(n.arg)
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                self.imports.append(n)
                self.identifiers.update(a.asname or a.name for a in n.names)
            elif isinstance(n, (ast.Global, ast.Nonlocal)):
                self.identifiers.update(n.names)
            elif isinstance(n, ast.ExceptHandler) and n.name:
                self.identifiers.add(n.name)
            if isinstance(n, ast.Call):
                name = n.func.id if isinstance(n.func, ast.Name) else \
                    n.func.attr if isinstance(n.func, ast.Attribute) else None
                if name in DANGEROUS:
                    self.calls.append(name)
        arguments = [a.arg for a in statement.args.args] \
            if isinstance(statement, ast.FunctionDef) else []
        self.locals = list(dict.fromkeys(arguments + stores))  # in order of first binding
        self.global_reads = loads - set(self.locals)


def identifiers(node) -> set[str]:
    """Every identifier that a tree binds or reads."""
    return Facts(node).identifiers


def audit(source: str, twin: str, variables=(), mapping=None) -> None:
    """Check a generated module against its twin's (the same network with plain names).

    `variables`: the program's model variables (parameters, states, temporaries); `mapping`
    takes hostile names to the twin's."""
    mapping = mapping or {}
    tree, plain = ast.parse(source), ast.parse(twin)
    facts = {id(s): Facts(s) for s in tree.body}
    twin_facts = {id(s): Facts(s) for s in plain.body}
    # nothing but numpy, math, cupy and nndl is imported, and only at the top (cupy's in a
    # `try` that says what to install)
    for statement in tree.body:
        for n in facts[id(statement)].imports:
            assert n is statement or (isinstance(statement, ast.Try) and
                                      n in statement.body), ast.dump(n)
            names = [n.module or ""] if isinstance(n, ast.ImportFrom) else \
                [a.name for a in n.names]
            assert all(IMPORTS.fullmatch(name) for name in names), ast.dump(n)
    # no dangerous call beyond the module's own fixed ones
    found = sorted(c for f in facts.values() for c in f.calls)
    expected = sorted(c for f in twin_facts.values() for c in f.calls)
    assert found == expected and set(expected) <= OWN_CALLS, found
    # every name bound at the top is bound once: no model function replaces another, or a
    # generated function
    names = top_level_names(tree)
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    # the model functions, paired with the twin's
    ours, theirs = model_functions(tree), model_functions(plain)
    by_model = {(is_forward(f), model_of(f)): f for f in theirs}
    assert len(by_model) == len(theirs) == len(ours)
    pairs = [(f, by_model[is_forward(f), mapping.get(model_of(f), model_of(f))]) for f in ours]
    rest = ast.Module([s for s in tree.body if s not in ours], [])
    rest_plain = ast.Module([s for s in plain.body if s not in theirs], [])
    # every identifier of the twin but its models' own: what the code generator wrote
    generated = set().union(*(twin_facts[id(s)].identifiers for s in rest_plain.body))
    generated -= {f.name for f in theirs}
    for f in theirs:
        generated |= twin_facts[id(f)].identifiers - set(twin_facts[id(f)].locals) - {f.name}
    # what a model variable may never be called (model functions call no model function)
    reserved = set(keyword.kwlist) | set(dir(builtins)) | set(names) - {f.name for f in ours}
    pattern = mangled_pattern(variables)
    rename = {}
    for i, (mine, twin_f) in enumerate(pairs):
        rename[mine.name] = rename[twin_f.name] = f"<model function {i}>"
        rename["def", mine.name] = rename["def", twin_f.name] = f"<model function {i}>"
        known, its_facts = facts[id(mine)], twin_facts[id(twin_f)]
        own, its = known.locals, its_facts.locals
        assert len(own) == len(its), (mine.name, own, its)
        # a model variable never shadows a builtin, a keyword, or anything the module defines;
        # the function reads every global its twin reads (none is shadowed), and no other but
        # builtins (`float('inf')`)
        assert not set(own) & reserved, (mine.name, sorted(set(own) & reserved))
        assert its_facts.global_reads <= known.global_reads <= generated | set(dir(builtins)), \
            mine.name
        for name in own:
            assert pattern.fullmatch(name), (mine.name, name)
        assert known.identifiers - set(own) - {mine.name} <= generated, mine.name
        # a forward function is its twin's statements, up to the names of its variables (the
        # backward one sums some terms in an order that depends on the names)
        if is_forward(mine):
            a = {n: f"<v{i}>" for i, n in enumerate(own)} | {("def", mine.name): "f"}
            b = {n: f"<v{i}>" for i, n in enumerate(its)} | {("def", twin_f.name): "f"}
            assert_same_program(canonical(mine, a), canonical(twin_f, b), mine.name)
    # everything else: the identifiers of the twin, the same program once strings are blanked
    for statement in rest.body:
        for name in facts[id(statement)].identifiers:
            assert name in generated or name in rename, name
    assert_same_program(canonical(rest, rename), canonical(rest_plain, rename), "the module")


# ---- importing and running, under guard ----------------------------------------------------

_RECORDING: list | None = None  # the audit events of the guarded block running now
# Events that start processes, touch other files or load native code: refused outright.
REFUSED = ("os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.forkpty",
           "subprocess.Popen", "os.kill", "os.remove", "os.rename", "os.rmdir", "os.unlink",
           "os.chmod", "os.putenv", "os.unsetenv", "shutil.", "socket.", "ctypes.",
           "webbrowser.", "pty.", "urllib.", "http.", "builtins.input", "sys.settrace",
           "sys.setprofile", "cpython.run_")
# Events that change nothing outside Python's own objects.
HARMLESS = ("object.__getattr__", "object.__setattr__", "object.__delattr__", "builtins.id",
            "sys._getframe", "sys._getframemodulename")


def _hook(event, args):
    if _RECORDING is None:
        return
    if event.startswith(REFUSED):
        _RECORDING.append((event, "refused"))
        raise RuntimeError(f"generated code tried {event}{args!r:.200}")
    if not event.startswith(HARMLESS):
        _RECORDING.append((event, repr(args)[:200]))


sys.addaudithook(_hook)  # hooks stay for the process: this one records only in `guarded`


@contextlib.contextmanager
def guarded():
    """Record what runs inside the block; refuse processes, file changes, sockets."""
    global _RECORDING
    events = []
    _RECORDING = events
    try:
        yield events
    finally:
        _RECORDING = None


def module_from_bytes(data: bytes, name: str, path: str | None = None):
    """The module as Python imports the file that holds `data`: compiled from its bytes, which
    are decoded as their lines 1-2 declare (a string would skip the declaration)."""
    module = types.ModuleType(name)
    exec(builtins.compile(data, path or f"<{name}>", "exec"), module.__dict__)
    return module


def inputs_and_targets(spec, seed=0, batch=3):
    rng = np.random.default_rng(seed)
    inputs = {g.name: rng.normal(size=(batch, *g.shape)) for g in spec.inputs}
    targets = {g.name: rng.normal(size=(batch, *g.shape)) for g in spec.outputs}
    return inputs, targets


def exercise(source: str, name: str, rename=None, parameters=None, strict=True):
    """Import the module, build its network (with `parameters`, the twin's, keyed through
    `rename`, when given), run two ticks and take one loss_and_grad, all under guard: the only
    code compiled and executed is the module's own. Returns (network, outputs, loss, grads).

    Not `strict`: the first run of a kind of network may import parts of nndl's runtime (which
    compile and execute their own code); it still may not start a process."""
    if "(cupy backend)" in source.split("\n", 2)[1]:
        cuda_emulation.preload(source)  # its kernels built and loaded here, not under guard
    with guarded() as events:
        module = module_from_bytes(source.encode("utf-8"), name)
        net = module.Network(seed=5, dtype="float64")
        if parameters is not None:
            arrays = net._trainable()  # the hook that optimisers use
            for key, value in arrays.items():
                value[...] = parameters[rename(key)]
            net._trained(arrays)
        inputs, targets = inputs_and_targets(module.SPEC)  # drawn in the same order as its
        # twin's: the same arrays under other names
        outputs = net.run(inputs, ticks=2, every_tick=True)
        loss, grads = net.loss_and_grad(inputs, targets, loss="mse", ticks=2)
    assert not [e for e in events if e[1] == "refused"], events
    if not strict:
        return net, outputs, loss, grads
    executed = [e for e, _ in events if e in ("compile", "exec")]
    assert executed == ["compile", "exec"], events  # module_from_source's own, nothing else
    assert not [e for e, _ in events if e not in ("compile", "exec")], events
    return net, outputs, loss, grads


def assert_close(a, b, context):
    np.testing.assert_allclose(a, b, rtol=TOLERANCE, atol=1e-12, equal_nan=True,
                               err_msg=str(context))


def renamer(mapping: dict[str, str]):
    """A weight-file key (`NAME.w`, `GROUP.bias`, `SRC->DST.w`) under the other names."""
    def rename(key: str) -> str:
        base, _, field = key.rpartition(".")
        parts = [mapping.get(p, p) for p in base.split("->")]
        return "->".join(parts) + "." + field
    return rename


def generated(path, networks=(None,)) -> dict:
    """{(network, backend): source}, the file parsed once (as nndl.compile would generate)."""
    text = path.read_text(encoding="utf-8")
    program, diags = check_text(text, str(path))
    assert program is not None, diags.render()
    return {(n, b): backends.generate(program.network(n), b) for n in networks for b in BACKENDS}


def check_against_twin(path, twin_path, mapping: dict[str, str], networks=None, run=True,
                       groups=True, shape=True):
    """Generate, audit, run and compare a hostile program with its twin in both backends.

    `mapping` takes each hostile name to its twin's (`groups`: including groups' and
    connections', which key outputs and gradients); `networks`, when given, maps each hostile
    network to check to its twin. Not `shape`: the twin differs in more than names (numbers),
    so that only what they compute is compared."""
    networks = networks or {None: None}
    keys = mapping if groups else {}
    variables = variables_of(path.read_text(encoding="utf-8"))
    sources = generated(path, list(networks))
    twins = generated(twin_path, list(networks.values()))
    results = {}
    rename = renamer(keys)
    for network, twin_network in networks.items():
        for backend in BACKENDS:
            source, twin = sources[network, backend], twins[twin_network, backend]
            if shape:
                audit(source, twin, variables, mapping)
            if not run:
                continue
            plain, plain_out, plain_loss, plain_grads = exercise(twin, f"twin_{backend}",
                                                                  strict=False)
            _, out, loss, grads = exercise(source, f"hostile_{backend}", rename,
                                             plain.parameters())
            assert sorted(keys.get(k, k) for k in out) == sorted(plain_out)
            for key, value in out.items():
                assert_close(value, plain_out[keys.get(key, key)], (backend, key))
            assert_close(loss, plain_loss, backend)
            assert sorted(rename(k) for k in grads) == sorted(plain_grads)
            for key, value in grads.items():
                assert_close(value, plain_grads[rename(key)], (backend, key))
            results[network, backend] = out, loss, grads
        for other in BACKENDS[1:] if run else ():  # and the backends agree with each other
            out, loss, grads = results[network, "oo"]
            out2, loss2, grads2 = results[network, other]
            for key in out:
                assert_close(out2[key], out[key], (f"oo vs {other}", key))
            assert_close(loss2, loss, f"oo vs {other}")
            for key in grads:
                assert_close(grads2[key], grads[key], (f"oo vs {other}", key))
    return results


# ---- every hostile name in every place -----------------------------------------------------

@pytest.mark.parametrize("place", list(PLACES))
def test_hostile_names_in_every_place(place, tmp_path, capsys):
    """Each hostile name, alone in the place: refused clearly, or taken; then all the taken
    ones at once: a module whose identifiers are its twin's, that runs like its twin."""
    taken, refused = accepted(PLACES[place], HOSTILE, tmp_path, capsys)
    assert len(taken) >= len(HOSTILE) // 2, (place, refused)  # the test is not vacuous
    if place in ("param", "state", "temporary"):  # `out` is every model's own output
        taken = [n for n in taken if n not in LITERALS + ("out",)]
    plain = twin_names(taken)
    mapping = dict(zip(taken, plain))
    path, twin_path = tmp_path / "hostile.nndl", tmp_path / "twin.nndl"
    path.write_text(packed(place, taken), encoding="utf-8")
    twin_path.write_text(packed(place, plain), encoding="utf-8")
    if place == "network":  # a module for each network: a sample (the name reaches the
        # same places of the module whatever it is) is the twin's program; a few of them run
        sample = list(dict.fromkeys(taken[::4] + [n for n in (
            "__import__", "None", "class", "Network", "SPEC", "__global__") if n in taken]))
        twin = generated(twin_path, plain[:1])
        shape = {b: outline(twin[plain[0], b]) for b in BACKENDS}
        for (network, backend), source in generated(path, sample).items():
            assert outline(source) == shape[backend], (network, backend)
        run = [n for n in ("__import__", "None", "Network", "true") if n in taken]
        check_against_twin(path, twin_path, {}, networks={n: mapping[n] for n in run})
    else:
        check_against_twin(path, twin_path, mapping,
                           groups=place in ("input", "group", "output", "connection"))


# Legal names of every length (the grammar sets none), the long ones past any line they sit on
LENGTHS = [1, 2, 15, 16, 17, 18, 19, 20, 21, 40, 79, 80, 92, 99, 100, 101, 150, 199, 200]


def long_name(length: int) -> str:
    """A name of exactly `length` characters that reads like one (`first_hidden_layer`...)."""
    return ("first_hidden_layer_" * 11)[:length - 1] + "z"


@pytest.mark.parametrize("place", list(PLACES))
def test_names_of_every_length_generate(place):
    """`group first_hidden_layer[4] : tanh` broke the NumPy and CuPy modules' lines: a name of
    any length, in any place, gives a module that compiles, as Python reads its bytes."""
    for length in LENGTHS:
        text = Template(PLACES[place]).substitute(N=long_name(length))
        program, diags = check_text(text, "f.nndl")
        assert program is not None, diags.render()
        for backend in BACKENDS:
            data = backends.generate(program.network(None), backend).encode("utf-8")
            builtins.compile(data, f"{place}_{length}_{backend}.py", "exec")


@pytest.mark.parametrize("place", ["group", "output", "connection", "model", "state"])
def test_long_names_compute_what_short_ones_do(place, tmp_path):
    """All the lengths at once in one place: the module is its twin's (short names), runs and
    computes what the twin computes, in every backend."""
    names = [long_name(n) for n in LENGTHS if n > 2]  # `f`, `fz`: no clash with the program's
    plain = twin_names(names)
    path, twin_path = tmp_path / "long.nndl", tmp_path / "twin.nndl"
    path.write_text(packed(place, names), encoding="utf-8")
    twin_path.write_text(packed(place, plain), encoding="utf-8")
    check_against_twin(path, twin_path, dict(zip(names, plain)),
                       groups=place in ("group", "output", "connection"))


# Lines of generated code as the lowerings write them: assignments of calls, subscripts with
# names and strings (which may hold brackets, commas, quotes and `#`), operators, `def` lines.
IDENTIFIERS = st.from_regex(r"[a-z_][a-z0-9_]{0,40}", fullmatch=True).filter(
    lambda name: not keyword.iskeyword(name))
LINE_ATOMS = IDENTIFIERS | st.text("ab(),[]{}'\"# \\", max_size=12).map(repr) | \
    st.integers(0, 10**6).map(str)
EXPRESSIONS = st.recursive(LINE_ATOMS, lambda inner: st.one_of(
    st.tuples(IDENTIFIERS, st.lists(inner, max_size=5)).map(
        lambda call: f"{call[0]}({', '.join(call[1])})"),
    st.tuples(IDENTIFIERS, inner).map(lambda item: f"{item[0]}[{item[1]}]"),
    st.tuples(inner, st.sampled_from(["+", "*", "@", "-", "if 1 else"]), inner).map(
        lambda pair: f"({pair[0]} {pair[1]} {pair[2]})"),
    st.lists(inner, max_size=4).map(lambda items: f"[{', '.join(items)}]")), max_leaves=24)
LINES = st.one_of(
    st.tuples(st.lists(IDENTIFIERS.map(lambda n: f"out[{n!r}]"), min_size=1, max_size=3),
              EXPRESSIONS).map(lambda line: f"{', '.join(line[0])} = {line[1]}"),
    EXPRESSIONS,
    st.tuples(IDENTIFIERS, st.lists(IDENTIFIERS, unique=True, max_size=8)).map(
        lambda line: f"def {line[0]}({', '.join(line[1])}):"))


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(line=LINES, indent=st.sampled_from(["", "    ", "        "]),
       width=st.sampled_from([30, 60, 92, 100]))
def test_wrapped_lines_are_the_same_code(line, indent, width):
    """codegen.wrap_code breaks a line only where Python continues it: the pieces are the same
    statement, whatever the strings in it hold."""
    from nndl.backends.codegen import wrap_code

    pieces = wrap_code(indent + line, width)
    body = "\n    pass" if line.endswith(":") else ""
    expected = ast.dump(ast.parse(line + body))
    assert ast.dump(ast.parse(textwrap.dedent("\n".join(pieces)) + body)) == expected, pieces
    assert all(p.startswith(indent) for p in pieces)
    assert all(p.startswith(indent + "    ") for p in pieces[1:])  # continuations stand out


def test_a_long_line_is_broken_at_its_outermost_commas():
    from nndl.backends.codegen import wrap_code

    line = ("dnet = adj.take(t, 'first_hidden_layer', out['first_hidden_layer']) * "
            "tanh_slope(nets['first_hidden_layer'], out['first_hidden_layer'])")
    assert wrap_code(line, 92) == [
        "dnet = adj.take(t, 'first_hidden_layer', out['first_hidden_layer']) * tanh_slope(",
        "    nets['first_hidden_layer'], out['first_hidden_layer'])"]
    assert wrap_code("def backward_m(" + ", ".join(f"v{i}" for i in range(30)) + "):", 60)[1] \
        .startswith(" " * 8 + "v")  # a block's header: not indented like its body


def test_refused_names_are_the_reserved_ones(tmp_path, capsys):
    """What the front end refuses, and why: only reserved names and NNDL's own words."""
    expected = {
        "input": "reserved-name", "group": "reserved-name", "output": "reserved-name",
        "model": "duplicate",
    }
    for place, code in expected.items():
        used = set(re.findall(r"\w+", PLACES[place]))  # taken by the program: duplicates
        _, refused = accepted(PLACES[place], [n for n in HOSTILE if n not in used], tmp_path,
                              capsys)
        for name, codes in refused:
            assert codes == [code], (place, name, codes)
            assert name.startswith("__") or name in ("identity", "relu", "tanh", "sigmoid",
                                                     "softmax", "softplus", "leaky_relu",
                                                     "step"), (place, name)


def test_model_variables_avoid_every_name_a_module_defines():
    """render.GENERATED_NAMES, the names a model variable is kept from, holds every name that a
    generated module defines at its top (but the model functions), in every example."""
    from nndl.backends.render import GENERATED_NAMES

    paths = sorted((ROOT / "examples").glob("*.nndl")) + [ROOT / "tests" / "data" /
                                                         "design_example.nndl"]
    defined = set()
    for path in paths:
        program, diags = check_text(path.read_text(encoding="utf-8"), str(path))
        assert program is not None, diags.render()
        for network in program.networks:
            for backend in BACKENDS:
                tree = ast.parse(backends.generate(network, backend))
                own = {f.name for f in model_functions(tree) + rule_functions(tree)}
                defined |= set(top_level_names(tree)) - own
    assert defined <= GENERATED_NAMES, sorted(defined - GENERATED_NAMES)
    assert {"rows_backward", "spread_back", "softmax_backward", "ModelGroup"} <= defined


# ---- names that collide once mangled ------------------------------------------------------

CLASHING = """
neuron $M {
    param $class = 0.5
    param $class_ = 0.25
    param $float = 1.5
    param $float_ = -0.5
    param $inf = 2.0
    state $exec = 0.1
    state $exec_ = 0.2
    state $np = 0.0
    state $np_ = 0.3
    state $g_exec = 0.1
    state $d_net = 0.0
    state $s = 0.4
    state $s_1 = -0.2
    state $self = 0.0
    $np = $class * net + $exec_
    $np_ = $float * $np + $g_exec
    $out_1 = tanh($np_) * $class_
    $g_out = $out_1 + $float_ * $s_1
    $exec = 0.9 * $exec + 0.1 * $g_out
    $exec_ = sigmoid($exec) - 0.5
    $d_s = $s * $s_1
    $s = 0.8 * $s + 0.2 * $d_s + 0.1 * $np
    $s_1 = $s_1 + 0.05 * net
    $g_exec = $g_exec * 0.5 + 0.01 * $exec
    $d_net = $d_net + $np
    $self = $self + $g_out * 0.01
    out = tanh($g_out + $exec + $s + 0.1 * $d_net + $self) * ($inf / 2.0)
}

network $N {
    input $x[3]
    group $h[4] : $M($class=0.3, $float_=-0.25)
    output $y[2] : tanh
    connect $x -> $h : full as $W
    connect $h -> $h : full delay 1 as $b
    connect $h -> $y : full as $gW
}
"""
CLASH_NAMES = ["M", "class", "class_", "float", "float_", "inf", "exec", "exec_", "np", "np_",
               "g_exec", "d_net", "s", "s_1", "self", "out_1", "g_out", "d_s", "N", "x", "h",
               "y", "W", "b", "gW"]


def test_names_that_collide_once_mangled(tmp_path):
    """`class` and `class_`, `np` and `np_`, variables named like the reverse pass's own
    (`g_exec`, `d_net`, `s_1`, `out_1`): each keeps its own value."""
    hostile = {n: n for n in CLASH_NAMES} | {"M": "__init__", "N": "__import__", "x": "None",
                                               "h": "self", "y": "np"}
    plain = dict(zip(CLASH_NAMES, twin_names(CLASH_NAMES)))
    path, twin_path = tmp_path / "clash.nndl", tmp_path / "twin.nndl"
    path.write_text(Template(CLASHING).substitute(hostile), encoding="utf-8")
    twin_path.write_text(Template(CLASHING).substitute(plain), encoding="utf-8")
    check_against_twin(path, twin_path, {hostile[k]: plain[k] for k in CLASH_NAMES})


MODEL_NAMES = ["a", "a_backward", "model_a", "backward_a", "a_", "model_a_backward",
               "a_slope", "relu_slope", "model", "backward"]


def test_model_function_names_never_collide(tmp_path):
    """A model called `a_backward` beside a model `a`: each keeps its own functions."""
    models = "".join(f"neuron {n} {{\n param k = {i + 1}.0\n state s = 0.0\n s = 0.5 * s + net\n"
                     f" out = tanh(k * s)\n}}\n" for i, n in enumerate(MODEL_NAMES))
    network = "network n {\n input x[2]\n output y[2] : tanh\n"
    network += "".join(f" group h{i}[2] : {n}\n connect x -> h{i} : full\n"
                       f" connect h{i} -> y : full\n" for i, n in enumerate(MODEL_NAMES))
    network += "}\n"
    plain = twin_names(MODEL_NAMES)
    path, twin_path = tmp_path / "models.nndl", tmp_path / "twin.nndl"
    path.write_text(models + network, encoding="utf-8")
    twin_text = models
    for name, twin in sorted(zip(MODEL_NAMES, plain), key=lambda p: -len(p[0])):
        twin_text = re.sub(rf"\bneuron {name} ", f"neuron {twin} ", twin_text)
        network = re.sub(rf": {name}\n", f": {twin}\n", network)
    twin_path.write_text(twin_text + network, encoding="utf-8")
    check_against_twin(path, twin_path, dict(zip(MODEL_NAMES, plain)), groups=False)


@pytest.mark.parametrize("place", ["state", "temporary"])
def test_true_and_false_are_not_variables(place, tmp_path):
    """`state true = 0.5` then `out = tanh(true)` would read the literal 1.0, not the state:
    the name is refused, like `net` and `out`."""
    for name in LITERALS:
        diags = assert_clear_diagnostics(Template(PLACES[place]).substitute(N=name),
                                         tmp_path / "literal.nndl")
        assert {d.code for d in diags.errors} == {"reserved-name"}, diags.render()
        assert all(f"`{name}` is a truth value" in d.message for d in diags.errors)


# ---- names the grammar does not take -------------------------------------------------------

@pytest.mark.parametrize("place", ["network", "input", "group", "connection", "model", "param",
                                   "state", "temporary", "regime"])
def test_non_ascii_names_are_refused_clearly(place, tmp_path, capsys):
    for name in NON_ASCII:
        diags = assert_clear_diagnostics(Template(PLACES[place]).substitute(N=name),
                                         tmp_path / "letters.nndl", capsys)
        assert any("ASCII" in (d.hint or "") + d.message for d in diags.errors), \
            (name, diags.render())


@pytest.mark.parametrize("text", [
    "network n {\n input x[2]\n output y[2] : tanh\n connect x -> y : full  # ünïcødé ✓\n}\n",
    "# \u2028 \u0085 \x0c in a comment\n" + PLACES["output"].replace("$N", "y"),
    "\ufeff" + PLACES["output"].replace("$N", "y"),
    PLACES["output"].replace("$N", "y").replace("\n", "\r\n"),
    PLACES["output"].replace("$N", "y").replace("\n", "\r"),
    PLACES["output"].replace("$N", "y") + "\x00",
    PLACES["output"].replace("$N", "y").replace(" output", " out\x00put"),
    PLACES["output"].replace("$N", "y").replace("tanh", "tanh\\\nimport os"),
])
def test_odd_characters_give_a_diagnostic_or_a_safe_module(text, tmp_path):
    program, _ = check_text(text, str(tmp_path / "odd.nndl"))
    if program is None:
        assert_clear_diagnostics(text, tmp_path / "odd.nndl")
        return
    plain = PLACES["output"].replace("$N", "y")
    path, twin_path = tmp_path / "odd.nndl", tmp_path / "twin.nndl"
    path.write_text(text, encoding="utf-8", newline="")
    twin_path.write_text(plain, encoding="utf-8")
    check_against_twin(path, twin_path, {})


# ---- strings: source paths and data paths ---------------------------------------------------

HOSTILE_PATHS = [
    'x"""\nimport os\nos.system("echo injected")\n""".nndl',
    'x""";__import__("os").system("echo injected");"""y.nndl',
    "x''';__import__('os').system('echo injected');'''y.nndl",
    "it's \"quoted\" both 'ways'.nndl",
    "carriage\rreturn\r.nndl",
    "form\x0cfeed \x0b vertical \x1b escape.nndl",
    "#hash # and\n# newline.nndl",
    "back\\slash\\.nndl",
    "ends in a backslash\\",
    "{{ 7 * 7 }} {% if true %}jinja{% endif %} {# comment #}.nndl",
    "ünïcødé ✓ \u2028 \u2029 \u0085 λ.nndl",
    "\udcff surrogate.nndl",
    "\\N{LATIN SMALL LETTER A} \\x41 \\u0041.nndl",
]
PATH_PROGRAM = """
neuron leaky_exec {
    param leak = 0.7
    state v = 0.0
    v = leak * v + net
    out = tanh(v)
}

network n {
    input x[3]
    group h[4] : leaky_exec
    output y[2] : sigmoid
    connect x -> h : full
    connect h -> y : full
    connect y -> h : full delay 1
}
"""


@pytest.mark.parametrize("name", HOSTILE_PATHS)
def test_hostile_source_paths_stay_in_comments_and_strings(name, tmp_path):
    """The path appears in the header comment, SOURCE, the SPEC and model docstrings: in each
    it stays inside, and the module is its twin's (a plain path's) program exactly."""
    folder = tmp_path / "a \"folder\" with\nlines"
    folder.mkdir()
    path = folder / name
    try:
        path.write_text(PATH_PROGRAM, encoding="utf-8")
    except (OSError, UnicodeEncodeError) as e:  # a file system that cannot hold the name
        pytest.skip(f"cannot create {name!r}: {e}")
    twin_path = tmp_path / "plain.nndl"
    twin_path.write_text(PATH_PROGRAM, encoding="utf-8")
    for backend in BACKENDS:
        source = generate_source(path, backend)
        twin = generate_source(twin_path, backend)
        assert all(c == "\n" or c.isprintable() for c in source)  # no other line break
        assert_header_holds_no_user_text(source.encode("utf-8"))
        tree = ast.parse(source.encode("utf-8"))  # as Python reads the file
        assert_same_program(canonical(source), canonical(twin), name)
        # the path survives, exactly, in the module's strings
        strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
                   and isinstance(n.value, str)]
        assert str(path) in strings
        assert any(str(path) in s and "Neuron model" in s for s in strings)  # the docstring
        assert "injected" not in "".join(n for n in identifiers(tree))
        audit(source, twin, variables_of(PATH_PROGRAM))
        exercise(twin, f"plain_{backend}", strict=False)
        exercise(source, f"path_{backend}")
        # and through nndl.compile, with its cache, the way users get it: generated and stored
        # once, then imported from the cache under guard
        if name not in HOSTILE_PATHS[:3]:
            continue  # the same module: once is enough for the cache's own handling
        if "\udcff" in str(path):
            continue  # see test_a_path_that_is_not_utf8_compiles
        nndl.compile(path, backend=backend)
        with guarded() as events:
            module = nndl.compile(path, backend=backend)
            net = module.Network(seed=1, dtype="float64")
            net.run({"x": np.ones((2, 3))}, ticks=2)
        assert not [e for e in events if e[1] == "refused"], events
        assert module.SOURCE == str(path)


def test_a_path_that_is_not_utf8_compiles(tmp_path):
    """A file name with bytes that are not UTF-8 (Python holds them as surrogates)."""
    path = tmp_path / "\udcff.nndl"
    path.write_text(PATH_PROGRAM, encoding="utf-8")
    for backend in BACKENDS:
        assert nndl.compile(path, backend=backend).SOURCE == str(path)


def test_a_nul_in_the_source_name_stays_in_strings():
    """A path can hold anything but NUL; the name a program is checked under can."""
    for source_name in ["a\x00b", "a\x00\"\"\"\nimport os\n\x00", "\x00"]:
        program, _ = check_text(PATH_PROGRAM, source_name)
        twin, _ = check_text(PATH_PROGRAM, "plain")
        for backend in BACKENDS:
            source = backends.generate(program.network(None), backend)
            plain = backends.generate(twin.network(None), backend)
            assert "\x00" not in source
            assert_same_program(canonical(source), canonical(plain), source_name)
            exercise(source, f"nul_{backend}")


def test_the_cli_writes_a_module_that_runs_nothing_else(tmp_path, capsys):
    path = tmp_path / HOSTILE_PATHS[1]
    path.write_text(PATH_PROGRAM, encoding="utf-8")
    for backend in BACKENDS:
        out = tmp_path / f"module_{backend}.py"
        assert main(["compile", str(path), "--backend", backend, "-o", str(out)]) == 0
        source = out.read_text(encoding="utf-8")
        assert source.startswith(f"{CODING}# Generated by nndlc")
        exercise(source, f"cli_{backend}")
    capsys.readouterr()


@pytest.mark.parametrize("data", [
    r'"a\"\"\"b\nimport os.npz"', r'"x\\"', r'"\u0041\x00\N{BULLET}"', '"\'\'\'.npz"',
    '"#.npz"', '"{{ 7 * 7 }}.npz"',
])
def test_data_strings_stay_strings(data, tmp_path):
    """A regime's `data "PATH"` reaches the module only inside the SPEC's strings."""
    base = PLACES["output"].replace("$N", "y")
    text = base + f"train r for n {{\n data {data}\n loss mse\n}}\n"
    program, _ = check_text(text, "f.nndl")
    if program is None:
        assert_clear_diagnostics(text, tmp_path / "data.nndl")
        return
    path, twin_path = tmp_path / "data.nndl", tmp_path / "twin.nndl"
    path.write_text(text, encoding="utf-8")
    twin_path.write_text(base + 'train r for n {\n data "plain.npz"\n loss mse\n}\n',
                         encoding="utf-8")
    for backend in BACKENDS:
        source = generate_source(path, backend)
        module = module_from_source(source, "data_strings")
        assert module.SPEC.regimes[0].data == program.network(None).regimes[0].data
        audit(source, generate_source(twin_path, backend))


# ---- encoding declarations: what Python reads on lines 1-2 ---------------------------------

# Folder names that are a PEP 263 declaration (`coding[:=]NAME`) on the line that holds them,
# and file names that put a line break or a backslash where an escape would decode into one.
CODING_FOLDERS = ["coding:unicode_escape", "coding=unicode_escape",
                  "-*- coding: raw_unicode_escape -*-", "vim: set fileencoding=unicode_escape :",
                  "coding:latin-1", "coding:utf-16", "coding:nosuchcodec", "coding:utf_8_sig",
                  "\\\ncoding:unicode_escape", "a\\\nb"]
CODING_FILES = ["net.nndl", "back\\slash\nnewline.nndl",
                "x\nimport sys; sys.modules.setdefault('nndl_injected', 'ran') #.nndl",
                "\\u000aimport sys\\x0a\\'\\\".nndl"]
# A data path whose quotes an escape-decoding declaration would turn into real ones
INJECTION = "x'+str(__import__('sys').modules.setdefault('nndl_injected', 'ran'))+'\\\".npz"
CODING_PROGRAM = PLACES["output"].replace("$N", "y") + \
    f'train r for n {{\n data "{INJECTION}"\n loss mse\n}}\n'
CODING = "# -*- coding: utf-8 -*-\n"  # line 1 of every generated module
HEADER_LINE_2 = re.compile(r"# Generated by nndlc [\w.+-]+ \((oo|numpy|cupy) backend\)\. Do not "
                           r"edit: regenerate with\n")


def assert_header_holds_no_user_text(data: bytes) -> None:
    """Line 1 declares UTF-8, line 2 is NNDL's own text: Python reads no declaration of ours."""
    first, second = data.splitlines(keepends=True)[:2]
    assert first.decode() == CODING and HEADER_LINE_2.fullmatch(second.decode()), data[:300]


@pytest.mark.parametrize("folder", CODING_FOLDERS)
def test_a_declaration_in_the_path_decodes_nothing(folder, tmp_path, monkeypatch, capsys):
    """A path with `coding:unicode_escape` in it: the module's bytes, as `nndlc compile -o`
    writes them, `nndl.compile` caches them and `nndlc train` imports them, decode as UTF-8,
    and the data path stays the string it was (no quote of it closes a literal)."""
    monkeypatch.delitem(sys.modules, "nndl_injected", raising=False)
    spec = check_text(CODING_PROGRAM, "f.nndl")[0]
    assert spec.network(None).regimes[0].data.startswith("x'+str(")
    for i, name in enumerate(CODING_FILES):
        path = tmp_path / f"{i}" / folder / name
        try:
            path.parent.mkdir(parents=True)
            path.write_text(CODING_PROGRAM, encoding="utf-8")
        except OSError as e:  # a file system that cannot hold the name
            pytest.skip(f"cannot create {str(path)!r}: {e}")
        expected = spec.network(None).regimes[0].data
        for backend in BACKENDS:
            out = tmp_path / f"{i}" / f"module_{backend}.py"
            assert main(["compile", str(path), "--backend", backend, "-o", str(out)]) == 0
            data = out.read_bytes()
            assert_header_holds_no_user_text(data)
            module = module_from_bytes(data, f"coding_{backend}", str(out))
            assert module.SOURCE == str(path) and module.SPEC.regimes[0].data == expected
            if backend == "cupy":
                continue  # its module runs only under the emulation's preload
            loaded = importlib.util.spec_from_file_location(f"coding_{backend}_{i}", out)
            module = importlib.util.module_from_spec(loaded)
            loaded.loader.exec_module(module)  # as `import` reads it (and caches bytecode)
            assert module.SPEC.regimes[0].data == expected
            cached = nndl.compile(path, backend=backend)
            assert nndl.compile(path, backend=backend).SPEC.regimes[0].data == expected
            assert cached.SOURCE == str(path)
        # nndlc train imports the cached module, then looks for the data file (it has none)
        assert main(["train", str(path), "--out", str(tmp_path / f"run{i}"), "--quiet"]) == 1
        assert f"error: no data file at {path.parent / expected}" in capsys.readouterr().err
        assert "nndl_injected" not in sys.modules, (folder, name)


# ---- numbers ----------------------------------------------------------------------------

NUMBERS = ["1e999", "-1e999", "1e999 - 1e999", "-1.7976931348623157e308", "1e-320", "-5e-324",
           "1e-999", "-0.0", "123456789012345678901234567890", ".5", "5.", "1E5", "٣"]
NUMBER_MODEL = """
neuron num {
    param p = $V
    state s = $V
    k = $V
    s = s if s == s else $V
    out = tanh(net) * (0.5 if k > 0.0 else 0.25) * (0.5 if p > 0.0 else 0.25) * (0.5 if s > 0.0 else 0.25)
}

network n {
    input x[3]
    group h[4] : num
    output y[2] : tanh
    connect x -> h : full
    connect h -> y : full
}
"""


def as_float(text: str) -> float:
    """What NNDL makes of a number as written here (Python's float() takes any digits)."""
    return float("inf") - float("inf") if text == "1e999 - 1e999" else float(text)


def same_data(a, b) -> bool:
    """Equal plain data, where nan equals nan and -0.0 differs from 0.0."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and (
            (math.isnan(a) and math.isnan(b)) or
            (a == b and math.copysign(1, a) == math.copysign(1, b)))
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(
            same_data(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(
            same_data(x, y) for x, y in zip(a, b))
    return a == b and type(a) is type(b)


def assert_numbers_are_literals(source: str, network) -> None:
    """No bare `inf` or `nan` (a name: a NameError, or a model variable's value), and the SPEC
    the module holds is the checked network exactly, every float to the bit."""
    tree = ast.parse(source)
    bare = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} & {
        "inf", "nan", "infinity", "Infinity", "NaN"}
    assert not bare, bare
    module = module_from_source(source, "numbers")
    assert same_data(module.SPEC.to_dict(), network.to_dict())


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf - inf, 0 * inf: nan, as asked
@pytest.mark.parametrize("value", NUMBERS)
def test_numbers_in_models_stay_literals(value, tmp_path):
    """inf (1e999), nan (1e999 - 1e999), subnormals and -0.0 in a model's defaults and
    statements: literals that evaluate to themselves. The model only asks each number's sign,
    so the network computes what its twin with 0.5 or -0.5 in its place computes."""
    text = Template(NUMBER_MODEL).substitute(V=value)
    path, twin_path = tmp_path / "numbers.nndl", tmp_path / "twin.nndl"
    program, _ = check_text(text, str(path))
    if program is None:
        assert_clear_diagnostics(text, path)
        return
    expected = as_float(value)
    model = program.network(None).model("num")
    assert same_data(model.params["p"], expected) and same_data(model.states["s"], expected)
    path.write_text(text, encoding="utf-8")
    sign = "0.5" if expected > 0 else "-0.5"  # nan > 0 is false, like -0.5 > 0
    twin_path.write_text(Template(NUMBER_MODEL).substitute(V=sign), encoding="utf-8")
    for backend in BACKENDS:
        assert_numbers_are_literals(generate_source(path, backend), program.network(None))
    results = check_against_twin(path, twin_path, {}, shape=False)
    for out, loss, grads in results.values():
        assert np.isfinite(out["y"]).all() and np.isfinite(loss)


def test_a_number_never_reads_a_variable_called_inf(tmp_path):
    """Were 1e999 written `inf`, it would read the model's own parameter `inf` (2.0 here)."""
    text = """
neuron m {
    param inf = 2.0
    param nan = 3.0
    k = 1e999
    j = 1e999 - 1e999
    out = net * (0.5 if k > inf else 0.25) * (0.5 if j == j else 0.25) + 0.0 * nan
}
network n {
    input x[2]
    output y[2] : m
    connect x -> y : one_to_one weight constant(1.0)
}
"""
    path = tmp_path / "inf.nndl"
    path.write_text(text, encoding="utf-8")
    x = np.array([[1.0, -2.0]])
    for backend in BACKENDS:
        source = generate_source(path, backend)
        assert "float('inf')" in source
        module = module_from_source(source, f"inf_{backend}")
        y = module.Network(seed=0, dtype="float64").run({"x": x})["y"]
        np.testing.assert_array_equal(y, x * 0.5 * 0.25)


GROUP_NUMBERS = """
neuron num {
    param p = 0.5
    state s = 0.0
    out = tanh(net) * p
}

network n {
    $SEED
    input x[3]
    group h[$SHAPE] : leaky_relu(slope=$SLOPE) bias $BIAS init $INIT
    group m[2] : num(p=$OVR)
    output y[2] : identity
    connect x -> h : full weight $W
    connect x -> m : local(radius=$RADIUS)
    connect h -> y : random(p=$P)
    connect m -> y : full delay $DELAY
}

train r for n {
    data parity
    loss mse
    optimizer $OPT
    batch $BATCH
    epochs $EPOCHS
    ticks $TICKS
}
"""
DEFAULTS = {"SEED": "seed 1", "SHAPE": "2", "SLOPE": "0.1", "BIAS": "0.0", "INIT": "0.0",
            "OVR": "0.5", "W": "normal(0, 0.5)", "RADIUS": "1.0", "P": "0.5", "DELAY": "1",
            "OPT": "adam(lr=0.01)", "BATCH": "4", "EPOCHS": "1", "TICKS": "2"}
FORMS = {"SEED": "seed {}", "SHAPE": "{}", "SLOPE": "{}", "BIAS": "{}", "INIT": "{}",
         "OVR": "{}", "W": "constant({})", "W2": "normal(0, {})", "RADIUS": "{}", "P": "{}",
         "DELAY": "{}", "OPT": "sgd(lr={})", "OPT2": "adam(lr=0.01, eps={})",
         "OPT3": "sgd(lr=0.1, momentum={})", "BATCH": "{}", "EPOCHS": "{}", "TICKS": "{}"}


@pytest.mark.parametrize("value", ["1e999", "1e999 - 1e999", "-1e999", "1e308", "1e-320",
                                   "-0.0", "5.", "123456789012345678901234567890", "٣"])
def test_numbers_everywhere_else(value, tmp_path):
    """Seeds, shapes, activation and model parameters, biases, starting outputs, initialisers,
    rule parameters, delays, optimiser settings, batch, epochs, ticks: in each place the number
    is refused with a diagnostic (inf and nan are, everywhere here), or it reaches the module
    as a literal of exactly its value: all the places that take it at once, in one program."""
    taken = {}
    for place, form in FORMS.items():
        key = place.rstrip("23")
        text = Template(GROUP_NUMBERS).substitute(DEFAULTS | {key: form.format(value)})
        program, diags = check_text(text, "f.nndl")
        if program is None:
            assert_clear_diagnostics(text, tmp_path / "numbers.nndl")
        elif key not in taken:
            taken[key] = form.format(value)
    if "SHAPE" in taken and as_float(value) > 64:  # a group that large is refused when built,
        del taken["SHAPE"]  # not compiled; leave it out of the program that is
    text = Template(GROUP_NUMBERS).substitute(DEFAULTS | taken)
    program, diags = check_text(text, "f.nndl")
    assert program is not None, diags.render()
    network = program.network(None)
    for backend in BACKENDS:
        assert_numbers_are_literals(backends.generate(network, backend), network)


def test_literals_of_plain_data():
    """codegen.literal and number: every float as source that evaluates to it."""
    from nndl.backends.codegen import literal, number

    values = [math.inf, -math.inf, math.nan, -0.0, 5e-324, 1e308, np.float64(0.1),
              np.float64(math.inf), 1e22, 1e16, 0.1 + 0.2]
    for value in values:
        assert same_data(eval(number(value), {"__builtins__": {"float": float}}), float(value))
    data = {"a": values, "b": {"nested": (math.inf, [math.nan])}, "c": "inf", "d": 3}
    text = literal(data)
    ast.parse(text, mode="eval")
    assert same_data(eval(text, {"__builtins__": {"float": float}}),
                     {"a": [float(v) for v in values], "b": {"nested": (math.inf, [math.nan])},
                      "c": "inf", "d": 3})


# ---- an IR that did not come from the grammar ---------------------------------------------

EVIL = ["a\nimport os", "a'b", 'x"""', "é", "1a", "", "a b", "a.b", "os.system('x') or a",
        "a#b", None, 3]


def test_names_the_grammar_never_makes_are_refused_before_any_code():
    """An IR from elsewhere (JSON, a program) with a name the grammar could not have made: the
    code generator refuses it rather than write it into code or a comment."""
    import dataclasses

    program, _ = check_text(PATH_PROGRAM, "f.nndl")
    network = program.network(None)
    group, model, projection = network.groups[1], network.models[0], network.projections[0]
    statements = model.statements
    target, value = statements[0]
    changes = []
    for evil in EVIL:
        changes += [
            dataclasses.replace(network, name=evil),
            dataclasses.replace(network, groups=(network.groups[0], dataclasses.replace(
                group, name=evil), *network.groups[2:])),
            dataclasses.replace(network, projections=(dataclasses.replace(
                projection, name=evil), *network.projections[1:])),
            dataclasses.replace(network, models=(dataclasses.replace(model, name=evil),)),
            dataclasses.replace(network, models=(dataclasses.replace(
                model, params={evil: 0.5}),)),
            dataclasses.replace(network, models=(dataclasses.replace(
                model, statements=((evil, value), *statements[1:])),)),
            dataclasses.replace(network, models=(dataclasses.replace(
                model, statements=((target, {"var": evil}), *statements[1:])),)),
        ]
        if evil is not None:  # a group without an activation is an input's kind
            changes.append(dataclasses.replace(network, groups=(
                network.groups[0], dataclasses.replace(group, model=None, activation=evil),
                *network.groups[2:])))
    for changed in changes:
        for backend in BACKENDS:
            with pytest.raises(ValueError, match="names that NNDL never makes"):
                backends.generate(changed, backend)
    for backend in BACKENDS:  # the network itself is fine
        ast.parse(backends.generate(network, backend))
