"""Evaluating the expression IR over NumPy arrays: one vectorised operation per node.

Connection conditions are evaluated over whole blocks of (pre, post) pairs at once, never pair by
pair. Semantics follow Python: `%` takes the sign of the divisor, `/` is true division,
comparisons and `and`/`or`/`not` give booleans.
"""

from __future__ import annotations

import numpy as np

from nndl.ir import expr as e

FUNCTIONS = {
    "abs": np.abs,
    "min": np.minimum,
    "max": np.maximum,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "floor": np.floor,
    "ceil": np.ceil,
    "clip": np.clip,
    "tanh": np.tanh,
    "sigmoid": lambda x: 0.5 * (1.0 + np.tanh(0.5 * x)),
    "relu": lambda x: np.maximum(x, 0.0),
    "step": lambda x: (np.asarray(x) > 0).astype(float),
}
BINARY = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "%": np.mod,
    "**": np.power, "<": np.less, "<=": np.less_equal, ">": np.greater,
    ">=": np.greater_equal, "==": np.equal, "!=": np.not_equal,
    "and": np.logical_and, "or": np.logical_or,
}


def evaluate(node: e.Expr, env: dict[str, np.ndarray], draw=None):
    """The value of `node` with variables taken from `env` (arrays broadcast together) and
    random draws from `draw(node)` (where the expression may draw: starting values)."""
    if isinstance(node, e.Draw):
        return draw(node)
    if isinstance(node, e.Num):
        return node.value
    if isinstance(node, e.Bool):
        return node.value
    if isinstance(node, e.Var):
        return env[node.name]
    if isinstance(node, e.Unary):
        value = evaluate(node.operand, env, draw)
        if node.op == "num":  # a truth value as the number 1 or 0
            return np.asarray(value, dtype=float)
        return np.logical_not(value) if node.op == "not" else np.negative(value)
    if isinstance(node, e.Binary):
        return BINARY[node.op](evaluate(node.left, env, draw), evaluate(node.right, env, draw))
    if isinstance(node, e.Call):
        return FUNCTIONS[node.func](*(evaluate(a, env, draw) for a in node.args))
    return np.where(evaluate(node.cond, env, draw), evaluate(node.then, env, draw),
                    evaluate(node.other, env, draw))


def condition(node: e.Expr, env: dict[str, np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """A boolean array of `shape`: where the condition holds (a constant condition broadcasts)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        value = evaluate(node, env)
    return np.broadcast_to(np.asarray(value, dtype=bool), shape)
