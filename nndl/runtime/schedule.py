"""Neuron-level evaluation order for the steps whose groups feed themselves with delay 0.

A `neuron_level` step's delay-0 synapses among its own neurons must form a DAG. Its neurons are
split into topological levels: a level's neurons depend only on earlier levels, so each level is
one vectorised step in NumPy, and the OO backend fires the neurons level by level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nndl import ir
from nndl.runtime.errors import RuntimeNNDLError
from nndl.runtime.synapses import Synapses


class CycleError(RuntimeNNDLError):
    """The built delay-0 synapses contain a cycle at the neuron level."""

    def __init__(self, message: str, projections: list[ir.Projection]):
        super().__init__(message)
        self.projections = projections  # the delay-0 projections among the step's groups


@dataclass(frozen=True)
class Level:
    """The neurons of one level, as (group, sorted flat indices) for each group that has some."""

    parts: tuple[tuple[str, np.ndarray], ...]


def inner_projections(network: ir.Network, step: ir.Step) -> list[ir.Projection]:
    """The delay-0 projections that run among the step's own groups."""
    members = set(step.groups)
    return [p for p in network.projections if p.delay == 0 and p.src in members
            and p.dst in members]


def levels(network: ir.Network, step: ir.Step, synapses: dict[str, Synapses]) -> list[Level]:
    """Topological levels of a neuron-level step (Kahn's algorithm, one level at a time)."""
    offset, total = {}, 0
    for name in step.groups:
        offset[name] = total
        total += network.group(name).size
    inner = inner_projections(network, step)
    src = np.concatenate([synapses[p.name].pre + offset[p.src] for p in inner] or [[]])
    dst = np.concatenate([synapses[p.name].post + offset[p.dst] for p in inner] or [[]])
    src, dst = _by_source(src.astype(np.int64), dst.astype(np.int64), total)
    starts = np.searchsorted(src, np.arange(total + 1))
    indegree = np.bincount(dst, minlength=total)
    frontier = np.flatnonzero(indegree == 0)
    placed, result = frontier.size, []
    while frontier.size:
        result.append(_level(step, network, offset, frontier))
        outgoing = dst[_edges_from(starts, frontier)]
        np.subtract.at(indegree, outgoing, 1)
        frontier = _distinct(outgoing[indegree[outgoing] == 0])
        placed += frontier.size
    if placed < total:
        raise CycleError(cycle_message(network, step, inner), inner)
    return result


def _by_source(src: np.ndarray, dst: np.ndarray, total: int) -> tuple[np.ndarray, np.ndarray]:
    """The edges sorted by source: one sort of src * total + dst (far faster than argsort;
    total**2 fits in int64 for any step that fits in memory)."""
    return np.divmod(np.sort(src * total + dst), max(total, 1))


def _distinct(nodes: np.ndarray) -> np.ndarray:
    """The sorted distinct values (np.unique, without its slower hashing)."""
    nodes = np.sort(nodes)
    return nodes[np.r_[True, nodes[1:] != nodes[:-1]]] if nodes.size else nodes


def _edges_from(starts: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Positions of every edge leaving `nodes`, with edges sorted by source (CSR by source)."""
    first, counts = starts[nodes], starts[nodes + 1] - starts[nodes]
    run_start = np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(first, counts) + np.arange(counts.sum()) - run_start


def _level(step: ir.Step, network: ir.Network, offset: dict, nodes: np.ndarray) -> Level:
    parts = []
    for name in step.groups:
        lo, hi = offset[name], offset[name] + network.group(name).size
        inside = nodes[(nodes >= lo) & (nodes < hi)] - lo
        if inside.size:
            parts.append((name, np.sort(inside)))
    return Level(tuple(parts))


CYCLE_HINT = "give one of them `delay 1`, or let it link forward only: " \
             "`where=pre.index < post.index`"


def cycle_message(network: ir.Network, step: ir.Step, inner: list[ir.Projection],
                  located: bool = True) -> str:
    groups = ", ".join(f"`{g}`" for g in step.groups)
    message = (f"the delay-0 synapses among {groups} form a cycle from neuron to neuron "
               f"(connections: {', '.join(f'`{p.name}`' for p in inner)})")
    if not located:
        return message
    loc = inner[0].loc
    lines = ", ".join(str(p.loc.line) for p in inner if p.loc)
    where = f"{network.source}:{loc.line}:{loc.column}" if loc else network.source
    return f"{where}: error: {message} on line(s) {lines}; {CYCLE_HINT}"
