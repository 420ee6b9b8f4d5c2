"""Which sources a connection condition can allow each target: a range lo <= pre.index < hi.

`pre.index < post.index` allows target j exactly the sources 0 .. j-1. Knowing the range lets
fan_in draw straight from it, `where` visit only the pairs in it, and `nndlc check` count
synapses and see that a neuron-level step is acyclic, all without building a synapse.

The condition is read as a conjunction (`and`). A conjunct `pre.index OP f(post)` (OP one of
<, <=, >, >=, ==, `pre.index` on either side, f reading no `pre` variable) narrows the range;
a conjunct that reads no `pre` variable keeps or drops a whole target. Any other conjunct leaves
the range an upper bound only (`exact` is False): its pairs must still be tested.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nndl import ir
from nndl.ir import expr
from nndl.runtime.evaluate import condition, evaluate

MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "=="}  # a OP b == b MIRRORED a
PRE_INDEX = expr.Var("pre.index")


def side_env(side: str, index: np.ndarray, group: ir.Group, wanted: set[str]) -> dict:
    """The condition's variables of one side (`pre` or `post`) at flat neuron indices."""
    env = {f"{side}.index": index}
    if any(name.startswith(f"{side}.coord.") for name in wanted):
        for axis, coord in enumerate(np.unravel_index(index, group.shape)):
            env[f"{side}.coord.{axis}"] = coord
    return env


@dataclass(frozen=True)
class Ranges:
    """For each target neuron, the range of flat source indices a condition can allow."""

    n_pre: int
    dst: ir.Group
    limits: tuple[tuple[str, expr.Expr], ...]  # (OP, f): the conjunct `pre.index OP f(post)`
    filters: tuple[expr.Expr, ...]  # conjuncts over the target alone
    exact: bool  # every source in a target's range is a candidate

    def bounds(self, posts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) for each target in `posts`: its candidates lie in lo <= pre < hi, and
        0 <= lo <= hi <= n_pre."""
        parts = [f for _, f in self.limits] + list(self.filters)
        env = side_env("post", posts, self.dst, set().union(*map(expr.variables, parts)))
        lo = np.zeros(posts.shape, dtype=np.int64)
        hi = np.full(posts.shape, self.n_pre, dtype=np.int64)
        for op, f in self.limits:
            value = _values(f, env, posts.shape)
            if op in ("<", "<=", "=="):
                hi = np.minimum(hi, _first_above(value, op == "<", self.n_pre))
            if op in (">", ">=", "=="):
                lo = np.maximum(lo, _first_within(value, op == ">", self.n_pre))
        for f in self.filters:
            hi = np.where(condition(f, env, posts.shape), hi, lo)
        return lo, np.maximum(hi, lo)

    def sizes(self, posts: np.ndarray) -> np.ndarray:
        """How many sources each target's range holds."""
        lo, hi = self.bounds(posts)
        return hi - lo


def ranges(cond: dict | None, src: ir.Group, dst: ir.Group) -> Ranges:
    """The ranges of a condition in the expression IR's dict form (None: every source)."""
    if cond is None:
        return Ranges(src.size, dst, (), (), True)
    limits, filters, exact = [], [], True
    for part in _conjuncts(expr.from_dict(cond)):
        limit = _limit(part)
        if limit is not None:
            limits.append(limit)
        elif not _reads_pre(part):
            filters.append(part)
        else:
            exact = False
    return Ranges(src.size, dst, tuple(limits), tuple(filters), exact)


def _conjuncts(node: expr.Expr) -> list[expr.Expr]:
    if isinstance(node, expr.Binary) and node.op == "and":
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _reads_pre(node: expr.Expr) -> bool:
    return any(name.startswith("pre.") for name in expr.variables(node))


def _limit(node: expr.Expr) -> tuple[str, expr.Expr] | None:
    """(OP, f) when the conjunct is `pre.index OP f` or `f OP pre.index`, f free of `pre`."""
    if not isinstance(node, expr.Binary) or node.op not in MIRRORED:
        return None
    if node.left == PRE_INDEX and not _reads_pre(node.right):
        return node.op, node.right
    if node.right == PRE_INDEX and not _reads_pre(node.left):
        return MIRRORED[node.op], node.left
    return None


def _values(f: expr.Expr, env: dict, shape: tuple[int, ...]) -> np.ndarray:
    """f at every target, as the condition computes it (so comparisons agree exactly)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        value = np.asarray(evaluate(f, env))
    if value.dtype == bool:
        value = value.astype(np.int64)
    return np.broadcast_to(value, shape)


def _first_above(value: np.ndarray, strict: bool, n: int) -> np.ndarray:
    """The least whole number hi with: pre < value (strict) or pre <= value, exactly when
    pre < hi; clipped to 0 .. n."""
    if value.dtype.kind == "i":
        bound = np.clip(value, -1, n).astype(np.int64)
        return np.clip(bound if strict else bound + 1, 0, n)
    value = np.clip(np.where(np.isnan(value), -1.0, value), -1.0, n + 1.0)  # NaN: nothing
    return np.clip(np.ceil(value) if strict else np.floor(value) + 1, 0, n).astype(np.int64)


def _first_within(value: np.ndarray, strict: bool, n: int) -> np.ndarray:
    """The least whole number lo with: pre > value (strict) or pre >= value, exactly when
    pre >= lo; clipped to 0 .. n."""
    if value.dtype.kind == "i":
        bound = np.clip(value, -1, n).astype(np.int64)
        return np.clip(bound + 1 if strict else bound, 0, n)
    value = np.clip(np.where(np.isnan(value), n + 1.0, value), -1.0, n + 1.0)  # NaN: nothing
    return np.clip(np.floor(value) + 1 if strict else np.ceil(value), 0, n).astype(np.int64)
