"""Recording a run: every tick of the outputs and model states that `run(..., record=...)` asks for.

`record=["exc", "exc.v"]` names a group (its output) or `GROUP.STATE` (a state variable of its
neuron model; `GROUP.out` is the output too). Names are checked before the run starts. Each
recording is preallocated as (ticks, batch, size) in the network's dtype on the backend's array
module (on the GPU for CuPy, copied to the host once, at the end), and a backend fills one tick
(`take`, whole batch) or one tick of one sample (`put`, the OO backend) as it goes.

`run` returns a `Run`: the dict of output groups it always returned, with the recordings
beside it (`.recorded`, each (ticks, batch, *shape)) and, for every recorded output whose
values are all 0 or 1, its spikes as index arrays (`.spikes`). A backend that finds where a
spiking group fired (the NumPy module's model functions do) hands the recorder those indices
instead (`take`'s `fired`): it keeps them as they are, a few numbers a tick, as Brian2's
SpikeMonitor does, and `.recorded` makes the (ticks, batch, *shape) array of 0s and 1s only
when it is read.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    """Preallocated (ticks, batch, size) arrays that a backend fills tick by tick; and, for
    the outputs in `spikes` ({group: (array, first column, columns)}: where the backend's
    spike indices of a group are, flat over (batch, columns) of the array that holds it), each
    tick's indices of where they fired."""

    def __init__(self, chosen: tuple[Item, ...], ticks: int, batch: int, dtype, xp=np,
                 spikes: Mapping | None = None):
        self.items, self.ticks, self.batch, self.dtype = chosen, ticks, batch, dtype
        self.held = {i.key: spikes[i.group] for i in chosen
                     if i.var is None and spikes and i.group in spikes}
        # each tick's spike indices, once per array however many of its groups are recorded
        self.fired = {array: [] for array, _, _ in self.held.values()}
        self.arrays = {i.key: xp.zeros((ticks, batch, i.size), dtype=dtype) for i in chosen
                       if i.key not in self.held}
        # what each tick does, found once: (the list a tick's indices join, their key in
        # `take`'s `fired`), and the arrays filled from the outputs or the states
        self._kept = [(kept, (array, 0)) for array, kept in self.fired.items()]
        self._filled = [(self.arrays[i.key], i.group, i.var) for i in chosen
                        if i.key in self.arrays]
        self.needs_states = any(var is not None for _, _, var in self._filled)

    def take(self, t: int, out: dict, states: dict | None, fired: Mapping | None = None) -> None:
        """Tick t of the whole batch: `out` {group: (batch, size)}, `states` {group: {var:
        (batch, size)}} as the vectorised backends hold them (None when not `needs_states`),
        and `fired` {(array, 0): the indices where it fired this tick} for the outputs kept as
        spikes."""
        for kept, key in self._kept:
            kept.append(fired[key])
        for array, group, var in self._filled:
            array[t] = out[group] if var is None else states[group][var]

    def put(self, t: int, b: int, observe) -> None:
        """Tick t of sample b, from `observe(group, var)`: each neuron's value (OO backend)."""
        for i in self.items:
            self.arrays[i.key][t, b] = observe(i.group, i.var)

    def result(self, to_host=np.asarray) -> Recordings:
        """Each recording as (ticks, batch, *shape) on the host (those kept as spikes, when
        read)."""
        dense = {i.key: to_host(self.arrays[i.key]).reshape(self.arrays[i.key].shape[:2]
                                                              + i.shape)
                 for i in self.items if i.key in self.arrays}
        found = {array: _ticks_and_indices(fired) for array, fired in self.fired.items()}
        spikes = {}
        for i in self.items:
            if i.key in self.held:
                array, first, columns = self.held[i.key]
                spikes[i.key] = Spikes.of_indices(*found[array], len(self.fired[array]), first,
                                                  columns, i.size, self.batch)
        return Recordings([i.key for i in self.items], dense, spikes,
                          {i.key: i.shape for i in self.items}, self.dtype)


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
    def of_indices(cls, tick: np.ndarray, flat: np.ndarray, ticks: int, first: int,
                   columns: int, size: int, batch: int) -> Spikes:
        """From the ticks and indices of where an array fired (flat over its (batch, columns):
        see _ticks_and_indices), the spikes of the group in its columns first .. first +
        size."""
        sample, column = np.divmod(flat, columns)
        if first == 0 and size == columns:  # the array is the group's own
            return cls(tick, column, sample, ticks, batch, size)
        mine = (column >= first) & (column < first + size)
        return cls(tick[mine], column[mine] - first, sample[mine], ticks, batch, size)

    def dense(self, dtype) -> np.ndarray:
        """(ticks, batch, size): 1 where a neuron fired, else 0."""
        values = np.zeros((self.ticks, self.batch, self.size), dtype=dtype)
        values[self.tick, self.sample, self.neuron] = 1
        return values

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


def _ticks_and_indices(fired: list) -> tuple[np.ndarray, np.ndarray]:
    """Each tick's spike indices (a list of arrays) as one array of ticks and one of indices."""
    if not fired:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    counts = np.fromiter(map(len, fired), dtype=np.int64, count=len(fired))
    flat = np.concatenate(fired).astype(np.int64, copy=False)
    return np.repeat(np.arange(len(fired), dtype=np.int64), counts), flat


def is_spiking(values: np.ndarray) -> bool:
    """Whether every recorded value is 0 or 1: the group's output is a spike train."""
    return bool(np.all((values == 0) | (values == 1)))


class Recordings(Mapping):
    """A run's recordings, {key: (ticks, batch, *shape)}, in the order asked for: the arrays
    recorded, and those kept as spikes (`spikes`), made dense when first read."""

    def __init__(self, keys: list[str], dense: dict, spikes: dict, shapes: dict, dtype):
        self._keys, self._dense, self.spikes = keys, dict(dense), spikes
        self._shapes, self._dtype = shapes, dtype

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._dense:
            if key not in self.spikes:
                raise KeyError(key)
            found = self.spikes[key].dense(self._dtype)
            self._dense[key] = found.reshape(found.shape[:2] + self._shapes[key])
        return self._dense[key]

    def __contains__(self, key) -> bool:  # (without making a dense array)
        return key in self._shapes

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


class Run(dict):
    """What `run` returns: every output group by name (as a plain dict did), with the
    recordings beside: `.recorded` {key: (ticks, batch, *shape)} and `.spikes` {group: Spikes}
    for recorded outputs that hold only 0s and 1s."""

    def __init__(self, outputs: dict, recorded: Mapping | None = None):
        super().__init__(outputs)
        kept = recorded.spikes if isinstance(recorded, Recordings) else {}
        self.recorded = recorded if isinstance(recorded, Recordings) else dict(recorded or {})
        self.spikes = {key: kept[key] if key in kept else Spikes.of(self.recorded[key])
                       for key in self.recorded if "." not in key and
                       (key in kept or is_spiking(self.recorded[key]))}

    def recording(self, key: str) -> np.ndarray:
        """One recording, with a suggestion when `key` was not recorded."""
        if key not in self.recorded:
            hint = suggest(key, self.recorded)
            raise KeyError(f"`{key}` was not recorded (recorded: "
                           f"{', '.join(self.recorded) or 'nothing'})"
                           + (f"; {hint}" if hint else ""))
        return self.recorded[key]
