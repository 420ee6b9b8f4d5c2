"""Grid geometry for `local` rules: which source neurons lie within a radius of each target.

A group's grid is its last K axes: K is the rule's `axes` (1, 2 or 3) when it gives one, else
the trailing axes both groups have, at most two. Any axes before those are feature maps,
connected all to all. A target grid coordinate `q` maps into the source grid by aligning
centres, `u = (q + 0.5) * (src / tgt) - 0.5` per axis, and a source neuron at `p` is within
reach when its distance to `u` is at most `radius + 1e-9` (measured around a torus with `wrap`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EPS = 1e-9
OFFSET_DECIMALS = 6  # offsets equal to this many decimals share a kernel entry


@dataclass(frozen=True)
class Layout:
    """How a pair of groups splits into feature maps and grids."""

    src_maps: int
    dst_maps: int
    src_grid: tuple[int, ...]
    dst_grid: tuple[int, ...]


DEFAULT_AXES = 2  # without `axes`, at most the last two axes that both groups have


def grid_rank(src_shape: tuple[int, ...], dst_shape: tuple[int, ...],
              axes: int | None = None) -> int:
    """How many trailing axes are the grid: `axes` where the rule gives it (the checks make
    sure both groups have that many), else those both groups have, at most two."""
    return axes if axes is not None else min(len(src_shape), len(dst_shape), DEFAULT_AXES)


def layout(src_shape: tuple[int, ...], dst_shape: tuple[int, ...],
           axes: int | None = None) -> Layout:
    rank = grid_rank(src_shape, dst_shape, axes)
    return Layout(math.prod(src_shape[:-rank]), math.prod(dst_shape[:-rank]),
                  tuple(src_shape[-rank:]), tuple(dst_shape[-rank:]))


def centres(src_grid: tuple[int, ...], dst_grid: tuple[int, ...]) -> np.ndarray:
    """(targets, axes): each target grid position mapped into source coordinates."""
    q = np.stack(np.unravel_index(np.arange(math.prod(dst_grid)), dst_grid), axis=1)
    scale = np.asarray(src_grid, dtype=float) / np.asarray(dst_grid, dtype=float)
    return (q + 0.5) * scale - 0.5


def distance(d: np.ndarray, metric: str) -> np.ndarray:
    """Distance of offset vectors `d` (last axis: grid axes)."""
    if metric == "chebyshev":
        return np.abs(d).max(axis=-1)
    if metric == "manhattan":
        return np.abs(d).sum(axis=-1)
    return np.sqrt((d * d).sum(axis=-1))


def grid_pairs(src_grid, dst_grid, radius: float, metric: str, wrap: bool):
    """Spatial pairs within reach: (src position, dst position, offset), offsets as (n, axes).

    Candidates come from a window around each centre, so the work grows with the number of
    pairs within reach, never with src x dst.
    """
    u = centres(src_grid, dst_grid)
    size = np.asarray(src_grid)
    width = int(math.floor(2 * radius + 2 * EPS)) + 2
    window = np.stack(np.unravel_index(np.arange(width ** len(src_grid)),
                                       (width,) * len(src_grid)), axis=1)
    base = np.ceil(u - radius - EPS).astype(np.int64)
    cand = base[:, None, :] + window[None, :, :]  # (targets, window, axes)
    d = cand - u[:, None, :]
    if wrap:
        d = d - size * np.round(d / size)  # the shortest way round the torus
        inside = np.ones(cand.shape[:2], dtype=bool)
    else:
        inside = ((cand >= 0) & (cand < size)).all(axis=-1)
    keep = inside & (distance(d, metric) <= radius + EPS)
    dst_pos, slot = np.nonzero(keep)
    src_coords = cand[dst_pos, slot] % size
    src_pos = np.ravel_multi_index(tuple(src_coords.T), src_grid)
    offsets = np.round(d[dst_pos, slot], OFFSET_DECIMALS)
    if wrap:  # on a small torus, one neuron can sit in the window twice
        _, first = np.unique(dst_pos * math.prod(src_grid) + src_pos, return_index=True)
        dst_pos, src_pos, offsets = dst_pos[first], src_pos[first], offsets[first]
    return src_pos, dst_pos, offsets


def local_synapses(src_shape, dst_shape, radius: float, metric: str, wrap: bool, shared: bool,
                   axes: int | None = None):
    """(pre, post, tie) in CSR order; `tie` maps each synapse to a kernel entry, or is None.

    Kernel entries are numbered in sorted order of (source map, target map, offset).
    """
    lay = layout(src_shape, dst_shape, axes)
    src_pos, dst_pos, offsets = grid_pairs(lay.src_grid, lay.dst_grid, radius, metric, wrap)
    n_src, n_dst = math.prod(lay.src_grid), math.prod(lay.dst_grid)
    m, n = np.meshgrid(np.arange(lay.src_maps), np.arange(lay.dst_maps), indexing="ij")
    m, n = m.reshape(-1, 1), n.reshape(-1, 1)  # every (source map, target map) pair
    pre = (m * n_src + src_pos).reshape(-1)
    post = (n * n_dst + dst_pos).reshape(-1)
    order = np.lexsort((pre, post))
    pre, post = pre[order].astype(np.int64), post[order].astype(np.int64)
    if not shared:
        return pre, post, None
    _, offset_id = np.unique(offsets, axis=0, return_inverse=True)
    n_offsets = int(offset_id.max()) + 1 if offset_id.size else 0
    entry = (m * lay.dst_maps + n) * n_offsets + offset_id.reshape(-1)
    _, tie = np.unique(entry.reshape(-1)[order], return_inverse=True)
    return pre, post, tie.astype(np.int64).reshape(-1)
