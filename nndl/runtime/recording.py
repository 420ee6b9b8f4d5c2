"""Recording a run: every tick of the outputs and model states that `run(..., record=...)` asks for.

`record=["exc", "exc.v"]` names a group (its output) or `GROUP.STATE` (a state variable of its
neuron model; `GROUP.out` is the output too). Names are checked before the run starts. Each
recording is preallocated as (ticks, batch, size) in the network's dtype on the backend's array
module (on the GPU for CuPy, copied to the host once, at the end), and a backend fills one tick
(`take`, whole batch) or one tick of one sample (`put`, the OO backend) as it goes.

`run` returns a `Run`: the dict of output groups it always returned, with the recordings
beside it (`.recorded`, each (ticks, batch, *shape)) and, for every recorded output whose
values are all 0 or 1, its spikes as index arrays (`.spikes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nndl import ir
from nndl.diagnostics import suggest
from nndl.runtime.errors import InputError

OUT = "out"  # `GROUP.out`: the group's output, as `GROUP` alone


@dataclass(frozen=True)
class Item:
    """One thing to record: `key` as asked, the group, and a state variable (None: the output)."""

    key: str
    group: str
    var: str | None
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


def items(spec: ir.Network, names) -> tuple[Item, ...]:
    """The recordings `names` ask for, checked: InputError (with a suggestion) for a name that
    is not a group or a state of one, before anything runs."""
    if isinstance(names, str):  # record="exc" means one name, not three letters
        names = [names]
    found: dict[str, Item] = {}
    for name in names:
        if not isinstance(name, str):
            raise InputError(f"record takes names of groups or GROUP.STATE; got {name!r}")
        item = _item(spec, name.strip())
        found.setdefault(item.key, item)
    return tuple(found.values())


def _item(spec: ir.Network, name: str) -> Item:
    group_name, _, var = name.partition(".")
    groups = [g.name for g in spec.groups]
    if group_name not in groups:
        hint = suggest(group_name, groups)
        raise InputError(f"cannot record `{name}`: network `{spec.name}` has no group "
                         f"`{group_name}`" + (f"; {hint}" if hint else
                                              f" (groups: {', '.join(groups)})"))
    group = spec.group(group_name)
    if not var or var == OUT:
        return Item(group.name, group.name, None, group.shape)  # `exc.out` is `exc`
    states = list(spec.model(group.model).states) if group.model else []
    if var not in states:
        what = (f"its model `{group.model}` has the states {', '.join(states)}" if states else
                f"its model `{group.model}` has no states" if group.model else
                f"it has no neuron model ({group.activation or group.role})")
        hint = suggest(var, states + [OUT])
        raise InputError(f"cannot record `{name}`: group `{group.name}` has no state `{var}` "
                         f"({what}; `{group.name}` alone records its output)"
                         + (f"; {hint}" if hint else ""))
    return Item(name, group.name, var, group.shape)


def sizes(chosen: tuple[Item, ...], ticks: int, batch: int, dtype) -> dict[str, int]:
    """Bytes of each recording, labelled for the memory check's message."""
    itemsize = np.dtype(dtype).itemsize
    return {f"recording `{i.key}` ({ticks:,} ticks x {batch:,} samples x {i.size:,} neurons)":
            ticks * batch * i.size * itemsize for i in chosen}


class Recorder:
    """Preallocated (ticks, batch, size) arrays that a backend fills tick by tick."""

    def __init__(self, chosen: tuple[Item, ...], ticks: int, batch: int, dtype, xp=np):
        self.items = chosen
        self.arrays = {i.key: xp.zeros((ticks, batch, i.size), dtype=dtype) for i in chosen}

    def take(self, t: int, out: dict, states: dict) -> None:
        """Tick t of the whole batch: `out` {group: (batch, size)}, `states` {group: {var:
        (batch, size)}} as the vectorised backends hold them."""
        for i in self.items:
            self.arrays[i.key][t] = out[i.group] if i.var is None else states[i.group][i.var]

    def put(self, t: int, b: int, observe) -> None:
        """Tick t of sample b, from `observe(group, var)`: each neuron's value (OO backend)."""
        for i in self.items:
            self.arrays[i.key][t, b] = observe(i.group, i.var)

    def result(self, to_host=np.asarray) -> dict[str, np.ndarray]:
        """Each recording as (ticks, batch, *shape) on the host."""
        return {i.key: to_host(self.arrays[i.key]).reshape(self.arrays[i.key].shape[:2]
                                                             + i.shape) for i in self.items}


@dataclass(frozen=True)
class Spikes:
    """A group's spikes as index arrays, in time order: at tick `tick[k]`, neuron `neuron[k]`
    (its flat, row-major index) of sample `sample[k]` had output 1."""

    tick: np.ndarray
    neuron: np.ndarray
    sample: np.ndarray
    ticks: int  # how long the run was
    batch: int
    size: int  # how many neurons the group has

    @classmethod
    def of(cls, values: np.ndarray) -> Spikes:
        """From a recording (ticks, batch, *shape) of 0s and 1s."""
        ticks, batch = values.shape[:2]
        flat = values.reshape(ticks, batch, -1)
        tick, sample, neuron = np.nonzero(flat)
        return cls(tick.astype(np.int64), neuron.astype(np.int64), sample.astype(np.int64),
                   int(ticks), int(batch), int(flat.shape[2]))

    def __repr__(self) -> str:
        return (f"<Spikes: {self.tick.size:,} spikes of {self.size:,} neurons over "
                f"{self.ticks:,} ticks, batch {self.batch}>")

    def of_sample(self, sample: int) -> tuple[np.ndarray, np.ndarray]:
        """(tick, neuron) of one sample's spikes."""
        mask = self.sample == sample
        return self.tick[mask], self.neuron[mask]

    def rate(self, sample: int | None = None) -> np.ndarray:
        """The fraction of the group's neurons that fired at each tick (of one sample, or
        averaged over the batch)."""
        if sample is None:
            return np.bincount(self.tick, minlength=self.ticks) / (self.size * self.batch)
        tick = self.tick[self.sample == sample]
        return np.bincount(tick, minlength=self.ticks) / self.size


def is_spiking(values: np.ndarray) -> bool:
    """Whether every recorded value is 0 or 1: the group's output is a spike train."""
    return bool(np.all((values == 0) | (values == 1)))


class Run(dict):
    """What `run` returns: every output group by name (as a plain dict did), with the
    recordings beside: `.recorded` {key: (ticks, batch, *shape)} and `.spikes` {group: Spikes}
    for recorded outputs that hold only 0s and 1s."""

    def __init__(self, outputs: dict, recorded: dict | None = None):
        super().__init__(outputs)
        self.recorded = dict(recorded or {})
        self.spikes = {key: Spikes.of(values) for key, values in self.recorded.items()
                       if "." not in key and is_spiking(values)}

    def recording(self, key: str) -> np.ndarray:
        """One recording, with a suggestion when `key` was not recorded."""
        if key not in self.recorded:
            hint = suggest(key, self.recorded)
            raise KeyError(f"`{key}` was not recorded (recorded: "
                           f"{', '.join(self.recorded) or 'nothing'})"
                           + (f"; {hint}" if hint else ""))
        return self.recorded[key]
