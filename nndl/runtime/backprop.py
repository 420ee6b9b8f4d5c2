"""What a vectorised backend keeps for backpropagation through time, and what flows back.

A training run records every tick (`Tape`); backpropagation then walks the ticks backwards,
and each group's step backwards within a tick, accumulating d loss / d (a group's output at a
tick) in `Adjoints` as the consumers of that output are reached. Everything is (batch, neurons).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nndl.runtime.memory import Memory


@dataclass
class Tick:
    out: dict  # every group's output, inputs included
    net: dict  # every computed group's net input
    states: dict = field(default_factory=dict)  # model group -> {state: value before the tick}
    last: dict = field(default_factory=dict)  # model group -> its output before the tick


class Tape:
    def __init__(self, memory: Memory):
        self.start = memory.start  # outputs before the first tick, seen through delays
        self.ticks: list[Tick] = []

    def record(self, out: dict, net: dict, memory_before: tuple[dict, dict]) -> None:
        states, last = memory_before
        self.ticks.append(Tick(out, net, states, last))

    def earlier(self, t: int, group: str, ago: int):
        """The group's output `ago` ticks before tick t (its starting output before tick 0)."""
        return self.ticks[t - ago].out[group] if t >= ago else self.start[group]

    def outputs(self, group: str):
        """(ticks, batch, neurons): the group's output at every tick."""
        return np.stack([tick.out[group] for tick in self.ticks])

    def nets(self, group: str):
        return np.stack([tick.net[group] for tick in self.ticks])


def memory_before(memory: Memory, xp=np) -> tuple[dict, dict]:
    """The model states and last outputs a tick starts from (copies: steps that compute
    neuron by neuron write into them)."""
    states = {name: {var: value.copy() for var, value in variables.items()}
              for name, variables in memory.group_states().items()}
    return states, dict(memory.group_last())


class Adjoints:
    """d loss / d (group output at tick t), plus what model groups carry back to the tick
    before: d loss / d (the state a tick started from)."""

    def __init__(self, ticks: int, seeds_out: dict, seeds_net: dict):
        self.by_tick: list[dict] = [{} for _ in range(ticks)]
        for name, g in seeds_out.items():  # (ticks, batch, neurons) each
            for t in range(ticks):
                self.by_tick[t][name] = g[t]
        self.seeds_net = seeds_net
        self.carried: dict[str, tuple] = {}

    def take(self, t: int, group: str, like):
        """Everything gathered for this output (zeros when nothing depends on it)."""
        g = self.by_tick[t].pop(group, None)
        return like * 0 if g is None else g

    def send(self, t: int, group: str, value) -> None:
        """Add to d loss / d (group's output at tick t); ticks before the first are dropped
        (the starting outputs are constants)."""
        if t < 0:
            return
        gathered = self.by_tick[t]
        gathered[group] = value if group not in gathered else gathered[group] + value

    def seed_net(self, t: int, group: str, dnet):
        """dnet plus the loss's own gradient at the net input (cross-entropy on softmax)."""
        seed = self.seeds_net.get(group)
        return dnet if seed is None else dnet + seed[t]

    def carry(self, group: str, like: list):
        """d loss / d (each state the group's tick left), from the tick after (zeros at the
        last tick)."""
        carried = self.carried.pop(group, None)
        return [v * 0 for v in like] if carried is None else list(carried)
