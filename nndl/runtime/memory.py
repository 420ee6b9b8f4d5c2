"""What a vectorised network carries from tick to tick: recent outputs and model states.

A delayed connection reads its source's output from `d` ticks ago (or the group's `init` value
before the first tick); a neuron model reads its own previous `out` and its state variables.
Everything is (batch, neurons), reset at the start of each run unless the run asks otherwise.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from nndl import ir


class Memory:
    def __init__(self, spec: ir.Network, start_states: dict, batch: int, dtype, xp=np):
        self.batch = batch
        self.tick = 0  # ticks since the run started: what counts the draws of rand()
        self.start = {g.name: xp.full((batch, g.size), g.init, dtype=dtype) for g in spec.groups
                      if spec.max_delay(g.name) or g.model}
        self.recent = {name: deque(maxlen=spec.max_delay(name)) for name in self.start
                       if spec.max_delay(name)}
        self.last = {g.name: self.start[g.name] for g in spec.groups if g.model}
        self.state = {  # every sample starts from each neuron's starting state
            name: {var: xp.tile(xp.asarray(values, dtype=dtype), (batch, 1))
                   for var, values in states.items()}
            for name, states in start_states.items()
        }

    def earlier(self, group: str, ago: int):
        """The group's output `ago` ticks before this one."""
        recent = self.recent[group]
        return recent[-ago] if ago <= len(recent) else self.start[group]

    def remember(self, out: dict) -> None:
        """Keep this tick's outputs for the ticks after it."""
        for name, recent in self.recent.items():
            recent.append(out[name])
        for name in self.last:
            self.last[name] = out[name]
        self.tick += 1
