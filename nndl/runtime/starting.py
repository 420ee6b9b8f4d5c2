"""Each model neuron's parameters and starting states, computed once when a network is built.

A group's model parameters and its model's state starting values are numbers or expressions
(nndl.frontend.starting_values) over `index`, `coord.K`, random draws and the values before
them. They are evaluated here, with NumPy in float64, for every backend alike; a backend gets
the arrays. Draws are keyed as a model's per-tick draws are (nndl.runtime.philox: the seed and
the group), counted by (neuron, 0, build site, BUILD_SAMPLE): the build site numbers the
group's `rand()`/`randn()` calls in order (its parameters in the model's order, then its
states; in each expression in source order), and BUILD_SAMPLE, a sample index no batch
reaches, keeps them apart from every tick's draws.
"""

from __future__ import annotations

import numpy as np

from nndl import ir
from nndl.ir import expr as e
from nndl.runtime import philox
from nndl.runtime.evaluate import evaluate

BUILD_SAMPLE = philox.MASK  # 2**32 - 1: the counter's sample word of build-time draws


def neuron_env(group: ir.Group) -> dict[str, np.ndarray]:
    """`index` and `coord.K` (K and K - rank alike) of every neuron of the group, as floats."""
    index = np.arange(group.size)
    env = {"index": index.astype(np.float64)}
    rank = len(group.shape)
    for axis, coord in enumerate(np.unravel_index(index, group.shape)):
        env[f"coord.{axis}"] = env[f"coord.{axis - rank}"] = coord.astype(np.float64)
    return env


def numbered(node: e.Expr, sites: list[int]) -> e.Expr:
    """The expression with its draws numbered on from `sites[0]`, in source order."""
    if isinstance(node, e.Draw):
        sites[0] += 1
        return e.Draw(node.kind, sites[0] - 1)
    if isinstance(node, e.IfElse):  # `then if cond else other`: as written
        then = numbered(node.then, sites)
        cond = numbered(node.cond, sites)
        return e.IfElse(cond, then, numbered(node.other, sites))
    return e.map_children(node, lambda child: numbered(child, sites))


class BuildDraws:
    """`rand()` and `randn()` of a group's starting values: one per neuron, float64."""

    def __init__(self, seed: int, group: ir.Group):
        self.key = philox.stream_key(seed, group.name)
        self.neurons = np.arange(group.size, dtype=np.uint32)

    def __call__(self, node: e.Draw) -> np.ndarray:
        words = philox.philox4x32((self.neurons, 0, node.site, BUILD_SAMPLE), self.key)
        if node.kind == "rand":
            return philox.uniform_of(words[0], words[1], np.float64)
        return philox.normal_of(words, np.float64)


def group_values(spec: ir.Network, group: ir.Group, seed: int):
    """({parameter: array} for the parameters the group holds as arrays (per neuron, (size,);
    a trainable one given as a number, (1,)), {state: (size,) starting values})."""
    model = spec.model(group.model)
    env, draws, sites = neuron_env(group), BuildDraws(seed, group), [0]

    def value(v: float | dict) -> np.ndarray:
        if not isinstance(v, dict):
            return np.float64(v)
        with np.errstate(all="ignore"):  # a value that is not finite is reported below
            return np.asarray(evaluate(numbered(e.from_dict(v), sites), env, draws), np.float64)

    for name in model.params:
        env[name] = value(group.params[name])
    stored = {}
    for name in model.per_neuron(group):
        shape = (group.size,) if isinstance(group.params[name], dict) else (1,)
        stored[name] = np.broadcast_to(env[name], shape).copy()
    states = {}
    for name, start in model.states.items():
        env[name] = states[name] = np.broadcast_to(value(start), (group.size,)).copy()
    return stored, states


def build_values(spec: ir.Network, seed: int):
    """Every model group's ({parameter: array}, {state: array}), see group_values."""
    return {g.name: group_values(spec, g, seed) for g in spec.groups if g.model}


def not_finite(spec: ir.Network, values: dict) -> str | None:
    """A message naming the first parameter or starting state computed by an expression that
    is not finite at some neuron, if any (a number written as such, even 1e999, is as meant)."""
    for group, (params, states) in values.items():
        g = spec.group(group)
        model = spec.model(g.model)
        computed = [*((n, a) for n, a in params.items() if isinstance(g.params[n], dict)),
                    *((n, a) for n, a in states.items() if isinstance(model.states[n], dict))]
        for name, a in computed:
            if not np.isfinite(a).all():
                index = int(np.argmax(~np.isfinite(a)))
                return (f"`{group}.{name}` is {float(a[index])!r} at neuron {index}: its "
                        "expression gives a value that is not finite")
    return None
