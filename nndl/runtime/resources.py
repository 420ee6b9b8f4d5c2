"""Memory estimates, made from the IR before anything is allocated, and the limit they must fit.

A network whose synapses cannot fit is refused in microseconds with its estimate and the limit,
instead of exhausting the machine while building (a `full` projection of 10^6 x 10^6 neurons
would need about 40 TB). The estimate is an upper bound per projection:

    full        src x dst           one_to_one  dst
    local       dst x (floor(2 radius) + 1)^axes x source maps, at most src x dst
    random(p)   p x src x dst (+ 6 standard deviations)      fan_in(k)   k x dst
    where(...)  src x dst (at most)

times the bytes a synapse costs while it is built and used (indices, weights, the backend's
layout; with training also its gradient and the optimiser's two running averages); plus each
group's neurons (bias, state, row pointers; in the OO backend a Python object each); plus, for
a run, what it keeps of every tick (its bookkeeping and the output groups' values; the OO
backend also keeps each neuron's net input and output), and for training what backpropagation
keeps of every tick: each neuron's output, net input and gradient for every sample of the batch;
plus what a run records (`run(..., record=...)`: ticks x batch x neurons values of each).

The limit: NNDL_MEMORY_LIMIT (bytes, or with a unit: "512MB", "8GiB"), else 80% of this machine's
physical memory.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

from nndl import ir
from nndl.runtime import geometry
from nndl.runtime.errors import RuntimeNNDLError
from nndl.runtime.locations import source_position

BYTES_PER_SYNAPSE = 48  # pre and post (int64), float64 weight while built, layout, backend copy
BYTES_PER_SYNAPSE_TRAINING = 48 + 24  # + its gradient and two optimiser averages
BYTES_PER_NEURON_TICK = 4 * 8  # recorded output, net input, their gradients (float64 at most)
BYTES_PER_NEURON = 64  # bias and starting state (float64 and the backend's copy), row pointers
BYTES_PER_OBJECT_NEURON = 640  # an OO `Neuron`: a Python object with its dict and lists
BYTES_PER_OBJECT_NEURON_TICK = 112  # an OO neuron keeps (net, out) of every tick, as a tuple
BYTES_PER_TICK = 512  # a run's own record of each tick: a dict and an array header per output
BYTES_PER_OUTPUT_VALUE = 16  # one output value of one tick: kept, then stacked for every_tick
# Past this many (pre, post) pairs the bound is the pair count itself: p * pairs would not fit
# in a float, and a group of 2**500 neurons is refused for its neurons anyway.
HUGE_PAIRS = 2**1000
UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
         "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


class MemoryLimitError(RuntimeNNDLError, MemoryError):
    """A network (or a training run) that would not fit in the memory allowed."""


@dataclass(frozen=True)
class Estimate:
    total: int  # bytes
    largest: str  # what needs the most, for the message
    largest_bytes: int
    loc: ir.Loc | None = None  # where the largest part is declared (a group or a projection)


def synapse_bound(network: ir.Network, p: ir.Projection) -> int:
    """At most how many synapses the projection can have."""
    src, dst = network.group(p.src), network.group(p.dst)
    pairs = src.size * dst.size
    kind, params = p.rule.kind, p.rule.params
    if kind == "one_to_one":
        return dst.size
    if kind == "fan_in":
        return min(pairs, params["k"] * dst.size)
    if kind == "random" and pairs < HUGE_PAIRS:  # the mean and six standard deviations above
        mean = params["p"] * pairs
        return min(pairs, math.ceil(mean + 6 * math.sqrt(mean * (1 - params["p"])) + 16))
    if kind == "local":
        axes = geometry.grid_rank(src.shape, dst.shape, params.get("axes"))
        source_maps = math.prod(src.shape[:-axes])
        # an interval of length 2r holds at most floor(2r) + 1 whole grid coordinates
        taps = (math.floor(2 * params["radius"] + 1e-9) + 1) ** axes
        return min(pairs, dst.size * taps * source_maps)
    return pairs  # full, and where(...) at most


def estimate(network: ir.Network, batch: int = 0, ticks: int = 0, training: bool = False,
             backend: str = "", recorded: dict[str, int] | None = None) -> Estimate:
    """Bytes for the network's synapses and neurons in `backend` (any but "oo" cost the same);
    with `ticks`, also for a run of a batch over them (training: backpropagation through it);
    `recorded` adds the recordings' bytes, by a label naming each."""
    per_synapse = BYTES_PER_SYNAPSE_TRAINING if training else BYTES_PER_SYNAPSE
    parts = {f"projection `{p.name}`, up to {_count(synapse_bound(network, p))} synapses":
             (synapse_bound(network, p) * per_synapse, p.loc) for p in network.projections}
    per_neuron = BYTES_PER_OBJECT_NEURON if backend == "oo" else BYTES_PER_NEURON
    parts.update({f"group `{g.name}`, {_count(g.size)} neurons": (g.size * per_neuron, g.loc)
                  for g in network.groups})
    neurons = sum(g.size for g in network.groups)
    if training:
        parts[f"backpropagation through {ticks} ticks of a batch of {batch}, "
              f"{_count(neurons)} neurons"] = (neurons * batch * ticks * BYTES_PER_NEURON_TICK,
                                               None)
    elif ticks:
        parts[f"a run of {ticks:,} ticks of a batch of {batch:,}"] = (
            _run_bytes(network, batch, ticks, backend), None)
    parts.update({label: (n, None) for label, n in (recorded or {}).items()})
    if not parts:
        return Estimate(0, "nothing", 0)
    largest = max(parts, key=lambda part: parts[part][0])
    return Estimate(sum(b for b, _ in parts.values()), largest, *parts[largest])


def _run_bytes(network: ir.Network, batch: int, ticks: int, backend: str) -> int:
    """What a run keeps of its ticks: each tick's record and output values (and in the OO
    backend every neuron's net input and output)."""
    values = sum(g.size for g in network.outputs) * BYTES_PER_OUTPUT_VALUE
    if backend == "oo":
        values += sum(g.size for g in network.groups) * BYTES_PER_OBJECT_NEURON_TICK
    return ticks * (BYTES_PER_TICK + batch * values)


def _count(n: int) -> str:
    """A count for people: 1,000,000, or about 10^308 where the digits would fill the screen."""
    return f"{n:,}" if n < 10**30 else f"about 10^{_log10(n)}"


def _log10(n: int) -> int:
    """floor(log10(n)) exactly, for integers too large for a float."""
    digits = int(math.log10(n))  # may be one off where n is near a power of ten
    return digits + (10 ** (digits + 1) <= n) - (10**digits > n)


def limit() -> tuple[int, str]:
    """(bytes allowed, where that number comes from)."""
    text = os.environ.get("NNDL_MEMORY_LIMIT")
    if text:
        return parse_size(text), "NNDL_MEMORY_LIMIT"
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: do not guess, allow anything
        return 2**62, "no limit known"
    return int(0.8 * physical), "80% of this machine's memory; set NNDL_MEMORY_LIMIT to change it"


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).lower() not in UNITS:
        raise RuntimeNNDLError(f"NNDL_MEMORY_LIMIT must be a size such as 8GiB or 512MB; "
                               f"got {text!r}")
    return int(float(match.group(1)) * UNITS[match.group(2).lower()])


def size(n: int) -> str:
    """Bytes for people: 1.5 GiB, 40.0 TiB, 10^309 B."""
    if n >= 10**300:  # too large for a float: the order of magnitude is the message
        return f"10^{_log10(n)} B"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def too_large(network: ir.Network, need: Estimate) -> str | None:
    """The refusal's message when the estimate exceeds the limit, else None."""
    allowed, source = limit()
    if need.total <= allowed:
        return None
    return (f"network `{network.name}` needs about {size(need.total)}, more than the "
            f"{size(allowed)} allowed ({source}); the most goes to {need.largest}: "
            f"{size(need.largest_bytes)}")


def check(network: ir.Network, batch: int = 0, ticks: int = 0, training: bool = False,
          backend: str = "", recorded: dict[str, int] | None = None) -> None:
    """Raise MemoryLimitError before allocating anything that would not fit."""
    need = estimate(network, batch, ticks, training, backend, recorded)
    message = too_large(network, need)
    if message:
        where = f" (declared at {source_position(network.source, need.loc)})" if need.loc else ""
        raise MemoryLimitError(message + where + _record_less(recorded, need.total))


def _record_less(recorded: dict[str, int] | None, total: int) -> str:
    """What to record less of, when the recordings are what does not fit."""
    if not recorded:
        return ""
    largest = max(recorded, key=recorded.get)
    fits = total - sum(recorded.values()) <= limit()[0]
    return (f"; {'without the recordings the run would fit: ' if fits else ''}record fewer "
            f"groups or states, fewer ticks or a smaller batch (the largest, "
            f"{largest.partition(' (')[0]}, needs {size(recorded[largest])})")
