"""The expression IR: what `where(...)` conditions and neuron models compute.

Plain frozen dataclasses with a tagged-dict JSON form. Variables are named by strings:
`pre.index`, `post.index`, `pre.coord.K`, `post.coord.K` in connection conditions. A `Draw` is
a `rand()` or `randn()` of a neuron model, numbered by the front end (see nndl.runtime.philox).
"""

from __future__ import annotations

from dataclasses import dataclass

# Functions the expression language knows, with their number of arguments.
FUNCTIONS = {
    "abs": 1, "min": 2, "max": 2, "exp": 1, "log": 1, "sqrt": 1, "floor": 1, "ceil": 1,
    "clip": 3, "tanh": 1, "sigmoid": 1, "relu": 1, "step": 1, "rand": 0, "randn": 0,
}
# Functions that draw a random number (a `Draw` node, never a `Call`): uniform in [0, 1), normal.
RANDOM = ("rand", "randn")
ARITHMETIC = ("+", "-", "*", "/", "%", "**")
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
LOGICAL = ("and", "or")


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Bool:
    value: bool


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class Unary:
    op: str  # "-", "not", or "num" (a truth value as the number 1 or 0; see `typed`)
    operand: "Expr"


@dataclass(frozen=True)
class Binary:
    op: str
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple["Expr", ...]


@dataclass(frozen=True)
class IfElse:
    cond: "Expr"
    then: "Expr"
    other: "Expr"


@dataclass(frozen=True)
class Draw:
    kind: str  # "rand" or "randn"
    site: int  # the call's number in its model, in source order: part of its Philox counter


Expr = Num | Bool | Var | Unary | Binary | Call | IfElse | Draw


def to_dict(e: Expr) -> dict:
    if isinstance(e, Num):
        return {"num": e.value}
    if isinstance(e, Bool):
        return {"bool": e.value}
    if isinstance(e, Var):
        return {"var": e.name}
    if isinstance(e, Unary):
        return {"unary": e.op, "operand": to_dict(e.operand)}
    if isinstance(e, Binary):
        return {"binary": e.op, "left": to_dict(e.left), "right": to_dict(e.right)}
    if isinstance(e, Call):
        return {"call": e.func, "args": [to_dict(a) for a in e.args]}
    if isinstance(e, Draw):
        return {"draw": e.kind, "site": e.site}
    return {"if": to_dict(e.cond), "then": to_dict(e.then), "else": to_dict(e.other)}


def from_dict(d: dict) -> Expr:
    if "num" in d:
        return Num(d["num"])
    if "bool" in d:
        return Bool(d["bool"])
    if "var" in d:
        return Var(d["var"])
    if "unary" in d:
        return Unary(d["unary"], from_dict(d["operand"]))
    if "binary" in d:
        return Binary(d["binary"], from_dict(d["left"]), from_dict(d["right"]))
    if "call" in d:
        return Call(d["call"], tuple(from_dict(a) for a in d["args"]))
    if "draw" in d:
        return Draw(d["draw"], int(d["site"]))
    return IfElse(from_dict(d["if"]), from_dict(d["then"]), from_dict(d["else"]))


def variables(e: Expr) -> set[str]:
    """Every variable name the expression reads."""
    if isinstance(e, Var):
        return {e.name}
    if isinstance(e, Unary):
        return variables(e.operand)
    if isinstance(e, Binary):
        return variables(e.left) | variables(e.right)
    if isinstance(e, Call):
        return set().union(*(variables(a) for a in e.args))
    if isinstance(e, IfElse):
        return variables(e.cond) | variables(e.then) | variables(e.other)
    return set()


def draws(e: Expr) -> bool:
    """Whether the expression draws a random number anywhere (its value differs per neuron,
    tick and sample even where it reads no variable)."""
    if isinstance(e, Draw):
        return True
    found = []
    map_children(e, lambda child: found.append(draws(child)) or child)
    return any(found)


def binary(e: Expr, known: frozenset[str] = frozenset()) -> bool:
    """Whether a number expression is always 0 or 1, whatever its variables hold: 0, 1, a truth
    value as a number, a choice between two such, their product, `step(x)`, or a variable in
    `known` (one assigned such a value earlier in the tick). What this cannot prove is False."""
    if isinstance(e, Num):
        return e.value in (0.0, 1.0)
    if isinstance(e, Var):
        return e.name in known
    if isinstance(e, Unary):
        return e.op == "num"
    if isinstance(e, IfElse):
        return binary(e.then, known) and binary(e.other, known)
    if isinstance(e, Binary):
        return e.op == "*" and binary(e.left, known) and binary(e.right, known)
    return isinstance(e, Call) and e.func == "step"


def spikes(statements) -> bool:
    """Whether a neuron model's statements (target, expression) always leave `out` at 0 or 1:
    every assignment to `out` is `binary`, given the names assigned such values before it in
    the tick (a name read before its assignment holds the last tick's value: not known)."""
    known: set[str] = set()
    for target, value in statements:
        if binary(value, frozenset(known)):
            known.add(target)
        elif target == "out":
            return False
        else:
            known.discard(target)
    return "out" in known


def map_children(e: Expr, f) -> Expr:
    """The same node with `f` applied to each of its direct subexpressions."""
    if isinstance(e, Unary):
        return Unary(e.op, f(e.operand))
    if isinstance(e, Binary):
        return Binary(e.op, f(e.left), f(e.right))
    if isinstance(e, Call):
        return Call(e.func, tuple(f(a) for a in e.args))
    if isinstance(e, IfElse):
        return IfElse(f(e.cond), f(e.then), f(e.other))
    return e


def render(e: Expr) -> str:
    """The expression as NNDL source (fully parenthesised where it nests), for listings."""
    if isinstance(e, Num):
        return f"{e.value:g}"
    if isinstance(e, Bool):
        return "true" if e.value else "false"
    if isinstance(e, Var):
        if e.name.startswith("coord."):  # a neuron's own coordinate, in a starting value
            return f"coord[{e.name[6:]}]"
        side, _, rest = e.name.partition(".")
        if rest.startswith("coord."):
            return f"{side}.coord[{rest[6:]}]"
        return e.name
    if isinstance(e, Unary):
        if e.op == "num":
            return render(e.operand)
        return f"not {_nested(e.operand)}" if e.op == "not" else f"-{_nested(e.operand)}"
    if isinstance(e, Binary):
        return f"{_nested(e.left)} {e.op} {_nested(e.right)}"
    if isinstance(e, Call):
        return f"{e.func}({', '.join(render(a) for a in e.args)})"
    if isinstance(e, Draw):
        return f"{e.kind}()"
    return f"{_nested(e.then)} if {_nested(e.cond)} else {_nested(e.other)}"


def _nested(e: Expr) -> str:
    text = render(e)
    return f"({text})" if isinstance(e, (Binary, IfElse)) else text


# ---- types: every operator gets operands of the kind it needs ----------------------------
#
# Numbers and truth values are kept apart so that every backend computes the same thing:
# `typed` inserts `Unary("num", x)` where a truth value is used as a number (1 or 0) and
# `x != 0` where a number is used as a truth value. Renderers then never guess.


def typed(node: Expr) -> tuple[Expr, str]:
    """(node with explicit conversions, "num" or "bool")."""
    if isinstance(node, Num):
        return node, "num"
    if isinstance(node, Bool):
        return node, "bool"
    if isinstance(node, (Var, Draw)):
        return node, "num"
    if isinstance(node, Unary):
        if node.op == "not":
            return Unary("not", as_bool(node.operand)), "bool"
        if node.op == "num":
            return node, "num"
        return Unary(node.op, as_num(node.operand)), "num"
    if isinstance(node, Binary):
        if node.op in LOGICAL:
            return Binary(node.op, as_bool(node.left), as_bool(node.right)), "bool"
        result = "bool" if node.op in COMPARISONS else "num"
        return Binary(node.op, as_num(node.left), as_num(node.right)), result
    if isinstance(node, Call):
        return Call(node.func, tuple(as_num(a) for a in node.args)), "num"
    return IfElse(as_bool(node.cond), as_num(node.then), as_num(node.other)), "num"


def as_num(node: Expr) -> Expr:
    converted, kind = typed(node)
    return converted if kind == "num" else Unary("num", converted)


def as_bool(node: Expr) -> Expr:
    converted, kind = typed(node)
    return converted if kind == "bool" else Binary("!=", converted, Num(0.0))
