"""The abstract syntax tree of an NNDL file: plain dataclasses, each node with its source span."""

from __future__ import annotations

from dataclasses import dataclass, field

from nndl.diagnostics import Span


@dataclass(frozen=True)
class Ident:
    """A name as written, with where it was written."""

    name: str
    span: Span


# ---- expressions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    value: float
    text: str  # as written, so `3` and `3.0` can be told apart (integer parameters)
    span: Span


@dataclass(frozen=True)
class Bool:
    value: bool
    span: Span


@dataclass(frozen=True)
class Var:
    name: str
    span: Span


@dataclass(frozen=True)
class Attr:
    """`pre.index`, `post.coord`."""

    obj: str
    attr: str
    span: Span


@dataclass(frozen=True)
class Subscript:
    base: Expr
    index: Expr
    span: Span


@dataclass(frozen=True)
class Unary:
    op: str  # "-", "+", "not"
    operand: Expr
    span: Span


@dataclass(frozen=True)
class Binary:
    op: str  # "+", "-", "*", "/", "%", "**", "<", "<=", ">", ">=", "==", "!=", "and", "or"
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class IfElse:
    """`then if cond else other`, as in Python."""

    then: Expr
    cond: Expr
    other: Expr
    span: Span


@dataclass(frozen=True)
class KwArg:
    name: Ident
    value: Expr


@dataclass(frozen=True)
class Call:
    """A function call in an expression, or a spec such as `local(radius=1.5)` or `relu`."""

    func: Ident
    args: tuple[Expr, ...]
    kwargs: tuple[KwArg, ...]
    span: Span
    parenthesised: bool = True


Expr = Number | Bool | Var | Attr | Subscript | Unary | Binary | IfElse | Call


# ---- parameters (file or network scope) ----------------------------------------------------


@dataclass(frozen=True)
class ParamStmt:
    """`param NAME = VALUE` outside neuron blocks: a named number that other numbers may use
    (a neuron model's own `param` is a VarDecl)."""

    name: Ident
    value: Expr
    span: Span


# ---- network blocks ------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedStmt:
    value: Expr
    span: Span


@dataclass(frozen=True)
class GroupDecl:
    role: str  # "input", "group" or "output"
    name: Ident
    shape: tuple[Expr, ...]
    shape_span: Span
    model: Call | None  # activation or neuron model; None for inputs and bare outputs
    bias: tuple[Expr, ...]  # more than one is an error, reported by the checks
    span: Span
    init: tuple[Expr, ...] = ()  # the output before the first tick


@dataclass(frozen=True)
class Connect:
    src: Ident
    dst: Ident
    rule: Call
    weight: tuple[Call, ...]  # more than one is an error, reported by the checks
    delay: tuple[Expr, ...]
    alias: tuple[Ident, ...]
    span: Span
    target: tuple[Ident, ...] = ()  # `target NAME`: the model input `sum(NAME)` it feeds


@dataclass(frozen=True)
class NetworkBlock:
    name: Ident
    statements: tuple[SeedStmt | GroupDecl | Connect | ParamStmt, ...]
    span: Span


# ---- neuron models -------------------------------------------------------------------------


@dataclass(frozen=True)
class VarDecl:
    kind: str  # "param" or "state"
    name: Ident
    value: Expr
    span: Span
    trainable: bool = False  # `param tau = 0.9 trainable`


@dataclass(frozen=True)
class Assign:
    target: Ident
    value: Expr
    span: Span


@dataclass(frozen=True)
class NeuronBlock:
    name: Ident
    statements: tuple[VarDecl | Assign, ...]
    span: Span


# ---- learning rules ------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleEvent:
    """`every tick { ... }`, `on pre { ... }` or `on post { ... }` of a rule: `event` is the
    name as written (`tick` for `every tick`)."""

    event: Ident
    statements: tuple[Assign, ...]  # an Assign's target may be `pre.X` (refused by the checks)
    span: Span


@dataclass(frozen=True)
class ModulatorDecl:
    """`modulator reward` in a rule: a signal its statements read, fed by each `learn`."""

    name: Ident
    span: Span


@dataclass(frozen=True)
class RuleBlock:
    name: Ident
    statements: tuple[VarDecl | ModulatorDecl | RuleEvent, ...]
    span: Span


# ---- training regimes ----------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One setting of a train block: `data digits`, `loss mse`, `optimizer adam(lr=0.01)`,
    `schedule cosine`, `batch 32`, `epochs 20`, `ticks 4`, `input image`, `output label`."""

    key: str
    # a Call for `data`, `loss`, `optimizer` and `schedule` (`digits` is a Call without parentheses), a str
    # for `data "path.npz"`, an Ident for `input` and `output`, an Expr for the counts
    value: Expr | Ident | str
    span: Span


@dataclass(frozen=True)
class Learn:
    """`learn SRC -> DST : oja(rate=0.001)`, or `learn NAME : ...` (then `dst` is None and `src`
    holds the connection's name)."""

    src: Ident
    dst: Ident | None
    rule: Call
    span: Span


@dataclass(frozen=True)
class Rewire:
    """`rewire SRC -> DST : prune(below=0.01) grow(count=16) every 50` (`dst` as in Learn)."""

    src: Ident
    dst: Ident | None
    actions: tuple[Call, ...]
    every: Expr | None
    span: Span


@dataclass(frozen=True)
class TrainBlock:
    name: Ident
    network: Ident | None
    statements: tuple[Setting | Learn | Rewire, ...]
    span: Span


@dataclass
class Program:
    blocks: list[NetworkBlock | NeuronBlock | RuleBlock | TrainBlock | ParamStmt] = field(
        default_factory=list)
