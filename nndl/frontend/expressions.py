"""AST expressions -> the expression IR, shared by connection conditions and neuron models.

What a name or `obj.field` means depends on where the expression stands, so the caller passes
a `Scope` that resolves them (and reports unknown ones); operators and functions are the same
everywhere.
"""

from __future__ import annotations

from typing import Protocol

from nndl.ir import expr as e
from nndl.frontend import syntax as s
from nndl.diagnostics import Diagnostics
from nndl.diagnostics import suggest

INPUT_SUM = "sum"  # `sum(NAME)`: a neuron model's input from the connections `target NAME`
PLACEHOLDER = e.Num(0.0)  # stands in for a part already reported as wrong
# What to write instead of giving a random function an argument.
RANDOM_HINTS = {"rand": "for a uniform number in [lo, hi) write `lo + (hi - lo) * rand()`",
                "randn": "for a normal number of mean m and spread s write `m + s * randn()`"}


class Scope(Protocol):
    def name(self, node: s.Var, diags: Diagnostics) -> e.Expr: ...

    def field(self, node: s.Attr, index: s.Expr | None, diags: Diagnostics) -> e.Expr: ...

    def draw(self, node: s.Call, diags: Diagnostics) -> e.Expr: ...


def convert(node: s.Expr, scope: Scope, diags: Diagnostics) -> e.Expr:
    if isinstance(node, s.Number):
        return e.Num(node.value)
    if isinstance(node, s.Bool):
        return e.Bool(node.value)
    if isinstance(node, s.Var):
        return scope.name(node, diags)
    if isinstance(node, s.Attr):
        return scope.field(node, None, diags)
    if isinstance(node, s.Subscript) and isinstance(node.base, s.Attr):
        return scope.field(node.base, node.index, diags)
    if isinstance(node, s.Subscript) and hasattr(scope, "subscript"):  # `coord[K]`
        return scope.subscript(node, diags)
    if isinstance(node, s.Unary):
        operand = convert(node.operand, scope, diags)
        return operand if node.op == "+" else e.Unary(node.op, operand)
    if isinstance(node, s.Binary):
        return e.Binary(node.op, convert(node.left, scope, diags),
                        convert(node.right, scope, diags))
    if isinstance(node, s.IfElse):
        return e.IfElse(convert(node.cond, scope, diags), convert(node.then, scope, diags),
                        convert(node.other, scope, diags))
    if isinstance(node, s.Call):
        return _call(node, scope, diags)
    diags.error("bad-expression", "this cannot appear in an expression", node.span)
    return PLACEHOLDER


def _call(node: s.Call, scope: Scope, diags: Diagnostics) -> e.Expr:
    name = node.func.name
    if name == INPUT_SUM:  # a named input of a neuron model: only its statements may read one
        if hasattr(scope, "input_sum"):
            return scope.input_sum(node, diags)
        diags.error("bad-expression", "`sum(NAME)`, a named input sum, is read only in a neuron "
                    "model's statements", node.span,
                    "connections feed it with `connect SRC -> DST : RULE target NAME`")
        return PLACEHOLDER
    if name not in e.FUNCTIONS:
        diags.error("bad-expression", f"unknown function `{name}`", node.func.span,
                    suggest(name, e.FUNCTIONS) or "functions: " + ", ".join(e.FUNCTIONS))
        return PLACEHOLDER
    count = e.FUNCTIONS[name]
    if node.kwargs or len(node.args) != count:
        diags.error("bad-expression", f"`{name}` takes {count} argument{'s' * (count != 1)}",
                    node.span, RANDOM_HINTS.get(name))
        return PLACEHOLDER
    if name in e.RANDOM:  # where a draw may stand, and its call site, are the scope's to say
        return scope.draw(node, diags)
    return e.Call(name, tuple(convert(a, scope, diags) for a in node.args))
