"""What a vectorised network carries from tick to tick: recent outputs and model states.

A delayed connection reads its source's output from `d` ticks ago (or the group's `init` value
before the first tick); a neuron model reads its own previous `out` and its state variables.
Everything is (batch, neurons), reset at the start of each run unless the run asks otherwise.

Groups that a module computes as one array (`alike`, e.g. {'exc+inh': ('exc', 'inh')}: the same
model with the same arguments, see backends/numpy/lower.py) are held as that array alone, their
columns one group after another; each group's outputs and states are views of its columns
(`earlier`, `group_states`, `group_last`).

The spikes of the arrays named in `spikes` ({array: ticks}, the NumPy module's SPIKES) are also
kept as their indices (nndl.runtime.layout.spike_indices) for that many ticks: what its spike
tables read from earlier ticks (`spikes`), as its model functions found them (`remember`).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from nndl import ir
from nndl.runtime.layout import spike_indices


class Memory:
    def __init__(self, spec: ir.Network, start_states: dict, batch: int, dtype, xp=np,
                 alike: dict | None = None, spikes: dict | None = None):
        self.batch = batch
        self.tick = 0  # ticks since the run started: what counts the draws of rand()
        self.fired = None  # the last tick's spike indices, {(array, 0): ...} (see remember)
        self.start = {g.name: xp.full((batch, g.size), g.init, dtype=dtype) for g in spec.groups
                      if spec.max_delay(g.name) or g.model}
        delays = {name: spec.max_delay(name) for name in self.start}
        self.last = {g.name: self.start[g.name] for g in spec.groups if g.model}
        self.state = {  # every sample starts from each neuron's starting state
            name: {var: xp.tile(xp.asarray(values, dtype=dtype), (batch, 1))
                   for var, values in states.items()}
            for name, states in start_states.items()
        }
        self.stateful, self.models = list(self.state), list(self.last)  # by group, in order
        self.columns = {}  # a group computed in an `alike` array: (the array, first, last + 1)
        for key, groups in (alike or {}).items():
            at = 0
            for name in groups:
                size = spec.group(name).size
                self.columns[name] = (key, at, at + size)
                at += size
            self.start[key] = xp.concatenate([self.start[name] for name in groups], axis=1)
            self.last[key] = self.start[key]
            if groups[0] in self.state:  # (a model without states has none)
                held = [self.state.pop(name) for name in groups]
                self.state[key] = {var: xp.concatenate([h[var] for h in held], axis=1)
                                   for var in held[0]}
            delays[key] = max(delays.pop(name) for name in groups)
            for name in groups:  # held in the array alone
                del self.last[name]
        self.recent = {name: deque(maxlen=delay) for name, delay in delays.items() if delay}
        # their spikes' indices, of spiking groups: none before the first tick (they start at 0)
        self.recent_spikes = {name: deque(maxlen=ticks) for name, ticks in (spikes or {}).items()}
        self.no_spikes = xp.zeros(0, dtype=np.intp)

    def earlier(self, group: str, ago: int):
        """The group's output `ago` ticks before this one."""
        if group in self.columns:
            key, first, last = self.columns[group]
            return self.earlier(key, ago)[:, first:last]
        recent = self.recent[group]
        return recent[-ago] if ago <= len(recent) else self.start[group]

    def spikes(self, array: str, ago: int):
        """Where an array of `spikes` spiked `ago` ticks before this one (spike_indices)."""
        recent = self.recent_spikes[array]
        return recent[-ago] if ago <= len(recent) else self.no_spikes

    def group_states(self) -> dict:
        """{group: {state: (batch, size)}}, of groups held in an `alike` array as views."""
        if not self.columns:
            return self.state
        return {name: self._state_of(name) for name in self.stateful}

    def group_last(self) -> dict:
        """{model group: its output of the tick before}, as group_states."""
        if not self.columns:
            return self.last
        return {name: self._columns_of(self.last, name) for name in self.models}

    def _state_of(self, name: str) -> dict:
        if name not in self.columns:
            return self.state[name]
        key, first, last = self.columns[name]
        return {var: v[:, first:last] for var, v in self.state[key].items()}

    def _columns_of(self, arrays: dict, name: str):
        if name not in self.columns:
            return arrays[name]
        key, first, last = self.columns[name]
        return arrays[key][:, first:last]

    def remember(self, out: dict, fired: dict | None = None) -> None:
        """Keep this tick's outputs for the ticks after it (of an `alike` array: the array),
        and the spikes of `spikes`: `fired[array, 0]` where the tick found them, else found
        here."""
        for name, recent in self.recent.items():
            recent.append(out[name])
        for name, recent in self.recent_spikes.items():
            found = fired.get((name, 0)) if fired else None
            recent.append(spike_indices(out[name]) if found is None else found)
        for name in self.last:
            self.last[name] = out[name]
        self.fired = fired  # this tick's spike indices, for a recording (see SPIKING)
        self.tick += 1
