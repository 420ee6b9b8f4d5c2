"""Reverse mode for one tick of a neuron: what every backend's backpropagation renders.

Built once, on the expression IR, from the symbolic derivatives of nndl.ir.derivatives:

- `activation_slope(name)`: d out / d net of a built-in activation, in terms of `net` and `out`
  (softmax, which mixes a whole group, is the exception each backend writes by hand);
- `model_backward(model)`: a neuron model's backward tick as straight-line statements. The
  forward statements are replayed with every assignment given its own name (so `v = v + net`
  keeps both `v`s), then adjoints flow back through them in reverse order.

Backends render both with the same renderers as the forward code (nndl.backends.render).
"""

from __future__ import annotations

from dataclasses import dataclass

from nndl.ir import expr as e
from nndl import ir
from nndl.ir.derivatives import ONE, ZERO, add, derivative, mul, surrogate_slope

NET, OUT = e.Var("net"), e.Var("out")


def activation_slope(name: str) -> e.Expr:
    """d out / d net for a built-in activation (not softmax), reading `net`, `out` and the
    activation's own parameters (leaky_relu's `slope`)."""
    slopes = {
        "identity": ONE,
        "relu": e.Unary("num", e.Binary(">", NET, ZERO)),
        "leaky_relu": e.IfElse(e.Binary(">", NET, ZERO), ONE, e.Var("slope")),
        "tanh": e.Binary("-", ONE, e.Binary("*", OUT, OUT)),
        "sigmoid": e.Binary("*", OUT, e.Binary("-", ONE, OUT)),
        "softplus": e.Call("sigmoid", (NET,)),
        "step": surrogate_slope(NET),
    }
    return slopes[name]


@dataclass(frozen=True)
class Backward:
    """A model's backward tick: `def f(net, out, *states, *params, g_out, *g_states, *sums)`,
    where the `g_`s are d loss / d (the out and states the tick left), returning d loss / d
    (net, the out and states it started from, each trainable parameter as this tick used it,
    and each named input sum, `sum.NAME`).

    `inputs` and `outputs` are variable names; `statements` assign names in order, first the
    replayed forward values, then the adjoints (`d_X` accumulates over the statements that read
    X). An output that nothing reaches is None (zero).
    """

    inputs: tuple[str, ...]
    statements: tuple[tuple[str, e.Expr], ...]
    outputs: tuple[str | None, ...]


def model_backward(model: ir.NeuronModel) -> Backward:
    before = ["net", "out", *model.states]
    # parameters are constants of the tick, but for the trainable ones, whose adjoints are
    # returned after the states' (per neuron and sample: the caller sums them)
    params = [p for p in model.params if p not in model.trainable]
    sums = [ir.sum_variable(name) for name in model.sums]  # read like net, after the seeds
    used = {*before, *model.params, *sums, *(t for t, _ in model.statements)}  # none shadowed
    seeds = {name: _unused(f"g_{name}", used) for name in ["out", *model.states]}
    current = {name: name for name in [*before, *sums]}  # variable -> the value it holds now
    replay = []
    for target, value in model.statements:
        node = rename(e.from_dict(value), current)
        version = _unused(f"{target}_1", used)
        replay.append((version, node))
        current[target] = version

    # Adjoints: seeded at the values the tick leaves (its out and states), then carried back,
    # each `d_X` accumulating d loss / d X over the statements that read X.
    statements = list(replay)
    adjoints: dict[str, str] = {}  # value -> its adjoint's name, once something reaches it
    for name in ["out", *model.states]:  # distinct values: every assignment made a fresh one
        adjoints[current[name]] = seeds[name]  # a state never assigned passes straight through
    known = {node: e.Var(version) for version, node in replay}  # reuse, never recompute
    for version, node in reversed(replay):
        if version not in adjoints:
            continue  # nothing downstream depends on this value
        upstream = e.Var(adjoints[version])
        for var in sorted(e.variables(node) - set(params)):
            term = mul(upstream, reuse(derivative(node, var), known))
            if term == ZERO:
                continue
            if var in adjoints and adjoints[var] not in seeds.values():
                statements.append((adjoints[var], add(e.Var(adjoints[var]), term)))
            else:
                total = _unused(f"d_{var}", used)
                earlier = adjoints.get(var)  # a seed passed through so far
                statements.append((total, add(e.Var(earlier), term) if earlier else term))
                adjoints[var] = total
    outputs = tuple(adjoints.get(name) for name in [*before, *model.trainable, *sums])
    inputs = (*before, *model.params, *seeds.values(), *sums)
    return Backward(inputs, tuple(statements), outputs)


def _unused(name: str, used: set[str]) -> str:
    """`name`, or with underscores appended until no model variable has it (then it is used)."""
    while name in used:
        name += "_"
    used.add(name)
    return name


def reuse(node: e.Expr, known: dict[e.Expr, e.Var]) -> e.Expr:
    """The expression with every subexpression that a replayed statement computed replaced by
    that statement's value (d tanh(v) / d v reads `1 - out * out`, not tanh again)."""
    if node in known:
        return known[node]
    return e.map_children(node, lambda child: reuse(child, known))


def rename(node: e.Expr, names: dict[str, str]) -> e.Expr:
    """The expression reading `names[v]` wherever it read variable `v` (others unchanged)."""
    if isinstance(node, e.Var):
        return e.Var(names.get(node.name, node.name))
    return e.map_children(node, lambda child: rename(child, names))
