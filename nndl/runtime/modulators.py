"""A rule's modulators (`modulator reward`) at work: the third factor of three-factor rules.

Each `learn` feeds each of its rule's modulators (ir.LocalRule.modulators) from a group's output
(`reward=critic`) or from Python (`reward=external`, then `fit(modulators={"reward": f})`).
Either is read once per tick, after the neurons' update and before the rules run: a group's
output of this tick (what `post` is), a function's answer to `f(tick, outputs)`, where `tick`
counts from 0 since `fit` started and `outputs` holds this tick's output of every output group
of the network, (batch, *shape) each: what the network just did, for an environment that
answers with a reward. A function is called once per tick, however many rules read it.

A value is one number for every synapse of the connection (a group of 1 neuron; a function's
number, or one number per sample: shape (batch,) or (batch, 1)), or one per target neuron, that
neuron's synapses all reading it (a group of the target's size; a function's (batch, n)).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from nndl import ir
from nndl.diagnostics import suggest
from nndl.runtime.errors import InputError

DTYPE = np.float64


def external(learns: tuple[ir.LocalRule, ...]) -> list[str]:
    """The names of the modulators the `learn` statements feed from Python, in order."""
    return list(dict.fromkeys(m.name for rule in learns for m in rule.modulators
                              if m.kind == "external"))


class Modulators:
    """The values of the modulators of a regime's written rules, tick by tick."""

    def __init__(self, spec: ir.Network, learns: tuple[ir.LocalRule, ...], batch: int,
                 given: Mapping[str, Callable] | None):
        self.spec, self.batch = spec, batch
        self.functions = check_given(learns, dict(given or {}))
        self.answers: dict[str, np.ndarray] = {}

    def recorded(self, learns: tuple[ir.LocalRule, ...]) -> list[str]:
        """The groups whose outputs the modulators read: the feeding groups, and the network's
        outputs where a function is given them."""
        groups = [m.source for rule in learns for m in rule.modulators if m.kind == "group"]
        if self.functions:
            groups += [g.name for g in self.spec.outputs]
        return list(dict.fromkeys(groups))

    def tick(self, tick: int, outputs) -> None:
        """Ask each function for this tick's value, from `outputs(group)`: (ticks kept, batch,
        size) of a group's output, the last entry this tick's."""
        if not self.functions:
            return
        shown = {g.name: outputs(g.name)[-1].reshape(self.batch, *g.shape)
                 for g in self.spec.outputs}
        for name, function in self.functions.items():
            answer = np.asarray(function(tick, dict(shown)), DTYPE)
            self.answers[name] = self._per_sample(name, answer, tick)

    def values(self, learn: ir.LocalRule, target: str, post: np.ndarray,
               outputs) -> dict[str, np.ndarray]:
        """Each modulator of `learn`'s rule as (batch, synapses), where `target` is the group
        the connection leads to and `post` holds each synapse's neuron of it."""
        if not learn.modulators:
            return {}
        size = self.spec.group(target).size
        values = {}
        for m in learn.modulators:
            fed = outputs(m.source)[-1] if m.kind == "group" else self.answers[m.name]
            if fed.shape[1] not in (1, size):
                raise InputError(f"modulator `{m.name}` from Python gave {fed.shape[1]} values "
                                 f"per sample; rule `{learn.kind}` on `{learn.projection}` takes "
                                 f"1 or {size} (one per neuron of `{target}`)")
            index = post if fed.shape[1] == size and size != 1 else np.zeros_like(post)
            values[m.name] = fed[:, index]
        return values

    def _per_sample(self, name: str, answer: np.ndarray, tick: int) -> np.ndarray:
        """A function's answer as (batch, 1) or (batch, n)."""
        if answer.ndim == 0:
            return np.full((self.batch, 1), float(answer))
        if answer.ndim in (1, 2) and answer.shape[0] == self.batch:
            return answer.reshape(self.batch, -1)
        raise InputError(f"modulator `{name}` from Python gave an array of shape "
                         f"{answer.shape} at tick {tick}: it takes a number, ({self.batch},) "
                         f"(one per sample) or ({self.batch}, n) (one per target neuron)")


def check_given(learns: tuple[ir.LocalRule, ...], given: dict) -> dict[str, Callable]:
    """`fit`'s `modulators`, checked before anything runs (InputError): a function for each
    modulator the `learn` statements feed from Python, and nothing else."""
    wanted = external(learns)
    for name, function in given.items():
        if name not in wanted:
            near = suggest(name, wanted)
            raise InputError(f"fit() was given modulator `{name}`, which no rule of this regime "
                             "reads from Python" + (f"; {near}" if near else
                                                    f" (those it reads: {', '.join(wanted)})"
                                                    if wanted else ""))
        if not callable(function):
            raise InputError(f"modulator `{name}` must be a function f(tick, outputs) that "
                             f"returns its value; got {type(function).__name__}")
    missing = [name for name in wanted if name not in given]
    if missing:
        listed = ", ".join(f'"{name}": f' for name in missing)
        raise InputError(f"the regime's rules read modulator `{missing[0]}` from Python "
                         f"(`{missing[0]}=external`): give fit(modulators={{{listed}}}), "
                         "f(tick, outputs) returning its value each tick")
    return {name: given[name] for name in wanted}
