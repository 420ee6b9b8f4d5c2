"""Array layouts of a projection's synapses that vectorised backends compute with.

Synapses are stored in CSR order (sorted by post, then pre). From that: row pointers, a padded
per-target layout (ELL) for rules with an even fan-in, and the synapses of chosen rows.
"""

from __future__ import annotations

import math

import numpy as np

from nndl.runtime import geometry


def row_pointers(post: np.ndarray, n_post: int) -> np.ndarray:
    """indptr: target j's synapses are positions indptr[j]:indptr[j + 1]."""
    return np.concatenate([[0], np.cumsum(np.bincount(post, minlength=n_post))]).astype(np.int64)


def source_order(pre: np.ndarray, n_pre: int) -> tuple[np.ndarray, np.ndarray]:
    """The synapses sorted by source (stable), and pointers: source i's synapses are
    order[pointers[i]:pointers[i + 1]]. Backpropagation sums over each source's synapses."""
    order = np.argsort(pre, kind="stable")
    return order, row_pointers(pre, n_pre)


def padded_rows(post: np.ndarray, n_post: int) -> np.ndarray:
    """(n_post, K) synapse positions per target, K its largest fan-in; -1 pads short rows."""
    indptr = row_pointers(post, n_post)
    counts = np.diff(indptr)
    width = int(counts.max(initial=0))
    slots = np.full((n_post, width), -1, dtype=np.int64)
    column = np.arange(post.size) - np.repeat(indptr[:-1], counts)
    slots[post, column] = np.arange(post.size)
    return slots


def rows_segments(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The synapse positions of `rows` (ascending), and where each row's run starts in them."""
    counts = indptr[rows + 1] - indptr[rows]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    positions = np.repeat(indptr[rows], counts) + np.arange(counts.sum()) - np.repeat(starts,
                                                                                    counts)
    return positions.astype(np.int64), starts


def gather_layout(pre: np.ndarray, post: np.ndarray, tie: np.ndarray | None, n_weights: int,
                  n_post: int) -> tuple[np.ndarray, np.ndarray]:
    """(sources, weight slots), each (n_post, K): target j sums w[slot] * x[source] over its row.

    Padding points at source 0 and at weight slot `n_weights`, which callers fill with 0.
    """
    slots = padded_rows(post, n_post)
    pad = slots < 0
    sources = np.where(pad, 0, pre[slots])
    weight_slots = slots if tie is None else tie[slots]
    return sources, np.where(pad, n_weights, weight_slots)


def level_plan(levels, inner: dict[str, list[str]], synapses, n_post: dict[str, int]) -> list:
    """Per level: {group: (rows, {projection: (positions, starts)})} for a neuron-level step.

    `inner` lists, per group, the projections into it from inside the step; positions are the
    synapses of those projections that reach the level's rows (see rows_segments).
    """
    pointers = {name: row_pointers(synapses[name].post, n_post[name])
                for names in inner.values() for name in names}
    plan = []
    for level in levels:
        plan.append({group: (rows, {name: rows_segments(pointers[name], rows)
                                    for name in inner[group]})
                     for group, rows in level.parts})
    return plan


def csr_matrix_of(pre: np.ndarray, post: np.ndarray, w: np.ndarray, n_post: int, n_pre: int):
    """A scipy CSR matrix (post x pre) of the synapses whose data *is* `w` (not a copy), so an
    optimiser's in-place updates of the weights reach it."""
    import scipy.sparse  # only the NumPy backend's modules need scipy

    matrix = scipy.sparse.csr_matrix((w, pre, row_pointers(post, n_post)), shape=(n_post, n_pre))
    if w.size and not np.shares_memory(matrix.data, w):
        raise RuntimeError("internal error: the CSR matrix copied the weights")
    return matrix


class SparseProduct:
    """A projection's synapses as a scipy CSR matrix (post x pre) whose data is the weight
    vector, multiplied on neuron-major arrays (scipy's CSR x dense product wants the dense
    operand's rows contiguous). (Splitting a product into two row blocks in two threads, since
    scipy releases the GIL, bought nothing in W3's forward run: see benchmarks/RESULTS.md.)"""

    def __init__(self, pre: np.ndarray, post: np.ndarray, w: np.ndarray, n_post: int,
                 n_pre: int):
        self.matrix = csr_matrix_of(pre, post, w, n_post, n_pre)
        self.shape = (n_post, n_pre)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(batch, pre) -> (batch, post): each target's weighted sum of its sources."""
        return (self.matrix @ np.ascontiguousarray(x.T)).T

    def backward(self, d: np.ndarray) -> np.ndarray:
        """(batch, post) -> (batch, pre): what each source gets back (the transposed product,
        through scipy's CSC view of the same arrays)."""
        return (self.matrix.T @ np.ascontiguousarray(d.T)).T


def grid_positions(index: np.ndarray, grid: tuple[int, ...]) -> np.ndarray:
    """(neurons, grid axes): each neuron's position on the grid of its map (index modulo the
    grid's cells, so that every feature map has the same positions)."""
    return np.stack(np.unravel_index(index % math.prod(grid), grid), axis=1)


def grid_offsets(pre: np.ndarray, post: np.ndarray, grid: tuple[int, ...],
                 wrap: bool = False) -> np.ndarray:
    """(synapses, grid axes): each synapse's source - target grid position per axis; with
    `wrap`, modulo the grid, so that `(target + offset) % grid` is the source's position. The
    taps of both stencils (Taps, Stencil) are the distinct offsets."""
    offsets = grid_positions(pre, grid) - grid_positions(post, grid)
    if wrap:
        offsets %= np.array(grid, dtype=offsets.dtype)
    return offsets


class Taps:
    """A `local` projection whose two groups have the same grid (geometry.layout), any numbers of
    feature maps, as taps: each distinct (source map, grid offset) of its synapses is one tap,
    the offset being source - target grid position per axis (modulo the grid with `wrap`, so
    that `(target + offset) % grid` is the source's position). A target and a tap name at most
    one source, so (tap, target) names at most one synapse.

    `offsets` is (taps, 1 + grid axes): each tap's source map, then its offset; `slot[i]` is
    synapse i's place in a (taps, targets) map: its tap * targets + its target."""

    def __init__(self, pre: np.ndarray, post: np.ndarray, src_shape: tuple[int, ...],
                 dst_shape: tuple[int, ...], wrap: bool = False, axes: int | None = None):
        lay = geometry.layout(tuple(src_shape), tuple(dst_shape), axes)
        if lay.src_grid != lay.dst_grid:
            raise ValueError("internal error: taps need one grid")
        self.grid, cells = lay.src_grid, math.prod(lay.src_grid)
        offsets = grid_offsets(pre, post, self.grid, wrap)
        keys = np.concatenate([(pre // cells)[:, None], offsets], axis=1).astype(np.int64)
        self.offsets, tap = np.unique(keys.reshape(-1, 1 + len(self.grid)), axis=0,
                                      return_inverse=True)
        self.offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        n_dst = lay.dst_maps * cells
        self.slot = (tap.reshape(-1) * n_dst + post).astype(np.int64)


def tap_layout(pre: np.ndarray, post: np.ndarray, src_shape: tuple[int, ...],
               dst_shape: tuple[int, ...], wrap: bool, axes: int | None = None) -> dict:
    """What a GPU stencil reads (see Taps; `axes` as the rule gives it): the grid, the taps
    (taps, 1 + axes) and each synapse's slot, all int64; whether offsets wrap (0 or 1); the
    sizes of the grid (`cells`), the source and the target."""
    taps = Taps(pre, post, src_shape, dst_shape, wrap, axes)
    return {"grid": np.array(taps.grid, dtype=np.int64), "taps": taps.offsets,
            "slot": taps.slot, "wrap": int(wrap), "cells": math.prod(taps.grid),
            "sources": math.prod(src_shape), "targets": math.prod(dst_shape)}


class Stencil:
    """A projection between two maps of the same shape as shifted copies of one padded map: each
    distinct offset (source position - target position) of its synapses is one tap, and every
    tap is one contiguous multiply-add over the flattened padded map (no gather at all).

    Maps are (batch, neurons); `pad` places them in a zero frame wide enough for every offset.
    `start:start + span` is the flat range of padded positions holding the targets; a tap whose
    offset is `delta` in the flattened padded map reads `start + delta:start + delta + span`.
    Padding positions and missing synapses weigh 0 in each tap's weight row.
    """

    def __init__(self, pre: np.ndarray, post: np.ndarray, shape: tuple[int, ...]):
        shape = tuple(shape)
        target = grid_positions(post, shape)
        offsets = grid_offsets(pre, post, shape)
        low = np.maximum(0, -offsets.min(axis=0, initial=0))
        high = np.maximum(0, offsets.max(axis=0, initial=0))
        self.padded_shape = tuple(int(s) for s in np.array(shape) + low + high)
        self.interior = (slice(None),) + tuple(slice(lo, lo + s) for lo, s in zip(low, shape))
        self.shape, self.size = shape, int(np.prod(self.padded_shape))
        flat = np.ravel_multi_index(tuple(target.T + low[:, None]),
                                    self.padded_shape) if pre.size else np.zeros(0, np.int64)
        self.start = int(np.ravel_multi_index(tuple(low), self.padded_shape))
        last = np.ravel_multi_index(tuple(np.array(shape) - 1 + low), self.padded_shape)
        self.span = int(last) - self.start + 1
        taps, tap = np.unique(offsets, axis=0, return_inverse=True)
        strides = np.cumprod((self.padded_shape[1:] + (1,))[::-1])[::-1]
        self.deltas = [int(d) for d in taps @ strides]
        self.slot = tap.reshape(-1) * self.span + (flat - self.start)  # synapse -> weight map

    def pad(self, x: np.ndarray) -> np.ndarray:
        """(batch, padded size): x in the middle of a zero frame."""
        padded = np.zeros((x.shape[0], self.size), dtype=x.dtype)
        padded.reshape((x.shape[0],) + self.padded_shape)[self.interior] = \
            x.reshape((x.shape[0],) + self.shape)
        return padded

    def unpad(self, padded: np.ndarray) -> np.ndarray:
        """(batch, neurons): the middle of a padded map."""
        inner = padded.reshape((padded.shape[0],) + self.padded_shape)[self.interior]
        return inner.reshape(padded.shape[0], -1)

    def weight_map(self, w: np.ndarray) -> np.ndarray:
        """(taps, span): each tap's weight at each target position (0 where it has none)."""
        rows = np.zeros(len(self.deltas) * self.span, dtype=w.dtype)
        rows[self.slot] = w
        return rows.reshape(len(self.deltas), self.span)


def stencil_fits(shape: tuple[int, ...], reach: int) -> bool:
    """Whether a stencil computes few positions that hold no synapse: the padded map (`reach`
    cells more on each side of every axis) is at most twice the map."""
    return float(np.prod([(s + 2 * reach) / s for s in shape])) <= 2.0


class SparseLevels:
    """A neuron-level step's groups with their neurons reordered level by level, so that each
    level's rows of a group are one contiguous block (`blocks[k][group]`, a slice); `order[g]`
    lists g's neurons in that order and `rank[g]` is its inverse (neuron -> row)."""

    def __init__(self, plan: list, sizes: dict[str, int]):
        self.order, self.rank = {}, {}
        for group, size in sizes.items():
            parts = [level[group][0] for level in plan if group in level]
            self.order[group] = np.concatenate(parts or [[]]).astype(np.int64)
            self.rank[group] = np.empty(size, dtype=np.int64)
            self.rank[group][self.order[group]] = np.arange(self.order[group].size)
        self.blocks, at = [], dict.fromkeys(sizes, 0)
        for level in plan:
            block = {}
            for group, (rows, _) in level.items():
                block[group] = slice(at[group], at[group] + rows.size)
                at[group] += rows.size
            self.blocks.append(block)


class LevelProducts:
    """One inner projection of a neuron-level step as a scipy CSR matrix per level (the level's
    rows of the target x the source's neurons, in the order of SparseLevels), all over one
    weight buffer that `refresh` fills from the weights with a single take: each level is then
    one sparse product on neuron-major arrays. `matrices[k]` is None where level k has no rows
    of the target."""

    def __init__(self, plan: list, group: str, name: str, pre: np.ndarray, n_pre: int, dtype):
        import scipy.sparse

        found = [level[group][1][name] if group in level else None for level in plan]
        self.positions = np.concatenate([f[0] for f in found if f is not None] or [[]])
        self.positions = self.positions.astype(np.int64)
        self.buffer = np.zeros(self.positions.size, dtype=dtype)
        self.matrices, at = [], 0
        for level, f in zip(plan, found):
            if f is None:
                self.matrices.append(None)
                continue
            (positions, starts), rows = f, level[group][0]
            data = self.buffer[at:at + positions.size]
            matrix = scipy.sparse.csr_matrix((data, pre[positions],
                                              np.append(starts, positions.size)),
                                             shape=(rows.size, n_pre))
            matrix.data = data  # scipy copies a view much smaller than its base ("prunes")
            self.matrices.append(matrix)
            at += positions.size

    def refresh(self, w: np.ndarray) -> list:
        """The matrices with the current weights (taken once per run)."""
        np.take(w, self.positions, out=self.buffer)
        return self.matrices


def spike_layout(pre: np.ndarray, post: np.ndarray, tie: np.ndarray | None, n_pre: int,
                 n_post: int) -> tuple[np.ndarray, np.ndarray]:
    """A projection source-major, for event-driven sums: (targets, slots), each (n_pre, K) with
    K the largest fan-out (at least 1). Row i holds the targets of source i's synapses (in CSR
    order) and the places of their weights in the weight vector (a synapse's CSR position, or
    its kernel entry when tied); pads aim at target `n_post`, which no sum keeps, with slot 0."""
    order = np.argsort(pre, kind="stable")  # by source, each source's in CSR order
    counts = np.bincount(pre, minlength=n_pre)
    width = max(int(counts.max(initial=0)), 1)
    column = np.arange(pre.size) - np.repeat(row_pointers(pre, n_pre)[:-1], counts)
    targets = np.full((n_pre, width), n_post, dtype=np.int64)
    slots = np.zeros((n_pre, width), dtype=np.int64)
    targets[pre[order], column] = post[order]
    slots[pre[order], column] = order if tie is None else tie[order]
    return targets, slots


def spike_indices(x: np.ndarray) -> np.ndarray:
    """Where a (batch, neurons) spike array holds a spike, as flat indices b * neurons + i."""
    # np.flatnonzero, but through a truth array: NumPy finds the nonzero entries of one about
    # four times faster than those of a float array (2.5 against 10 us for 3200 neurons)
    return (x.ravel() != 0).nonzero()[0]


class SpikeTable:
    """The NumPy module's event-driven input: the spike layouts (`spike_layout`) of projections
    from spiking groups, as one source-major table whose rows are their sources one after
    another (one block of rows per source, shared by every projection from it: `sources`),
    with the weights copied into a table of the same shape in float64, bincount's own type
    (see `weights`). A tick then visits only the synapses of the sources that fired: one row
    pick of each table and one bincount into the targets, however many projections bring
    spikes, and into however many groups (`post` numbered one group after another). Pads fall
    into bins past the last target, one per column (dropped): pads all in one bin would make
    bincount add into one place over and over, each add waiting for the one before (about a
    third slower for W5 LIF, whose rows are a quarter pads)."""

    def __init__(self, parts: list, n_post: int, sources: list | None = None):
        """`parts`: (pre, post, tie, n_pre) of each projection. `sources`: the row block of each
        part (parts with one block share its rows: they come from one source); by default,
        a block a part, in the order `sum` gets the blocks' spikes."""
        sources = list(range(len(parts))) if sources is None else sources
        layouts = [spike_layout(pre, post, tie, n_pre, n_post) for pre, post, tie, n_pre in parts]
        blocks = sorted(set(sources))
        self.parts = [[i for i, s in enumerate(sources) if s == block] for block in blocks]
        self.order = []  # each block: where each entry of its parts side by side moves to
        targets = []
        for members in self.parts:  # each block's parts side by side, its pads moved last
            side = np.hstack([layouts[i][0] for i in members])
            order = np.argsort(side == n_post, axis=1, kind="stable")
            width = max(int((side != n_post).sum(axis=1).max(initial=0)), 1)
            self.order.append(order[:, :width])
            targets.append(np.take_along_axis(side, self.order[-1], axis=1))
        width = max(t.shape[1] for t in targets)
        table = np.concatenate([_widened(t, width, n_post) for t in targets])
        self.targets = np.where(table == n_post, n_post + np.arange(width), table)
        self.slots = [slots for _, slots in layouts]
        self.width, self.n_post = width, n_post
        self.stride = n_post + width  # a sample's bins: its targets, then the pads' own
        self.sizes = [t.shape[0] for t in targets]
        self.starts = np.cumsum([0] + self.sizes[:-1]).tolist()  # each block's first row
        self.table = None  # the weights in the layout of `targets`, from `weights`
        self._entries, self._seen = None, []  # (weight vector sizes, _places), weights copied

    def weights(self, ws: list) -> np.ndarray:
        """Each table entry's weight, from each projection's weight vector (at the start of
        each run: training changes the weights between runs, never during one), in float64;
        pads weigh whatever, since their bin is dropped. Copied anew only where a weight
        changed since the last copy: a comparison costs a fraction of the copy (W5 LIF: 320 000
        weights into 456 000 entries, about 1 ms), which a short run would feel."""
        if self.table is not None and len(ws) == len(self._seen) and all(
                w.shape == seen.shape and np.array_equal(w, seen)
                for w, seen in zip(ws, self._seen)):
            return self.table
        sizes = [w.size for w in ws]
        if self._entries is None or self._entries[0] != sizes:
            self._entries = sizes, self._places(sizes)
        flat = np.concatenate([*(np.ravel(w) for w in ws), np.zeros(1)]).astype(np.float64)
        self.table = flat.take(self._entries[1])
        self._seen = [np.array(w) for w in ws]  # copies, to compare with at the next run
        return self.table

    def _places(self, sizes: list) -> np.ndarray:
        """Where each table entry's weight is in the weight vectors one after another (their
        slots, in the layout of `targets`; widening pads at the zero after the last)."""
        offsets = np.cumsum([0] + sizes[:-1])
        blocks = []
        for members, order in zip(self.parts, self.order):
            side = np.hstack([self.slots[i] + offsets[i] for i in members])
            blocks.append(_widened(np.take_along_axis(side, order, axis=1), self.width,
                                   sum(sizes)))
        return np.concatenate(blocks)

    def sum(self, fired: list, batch: int, dtype) -> np.ndarray:
        """(batch, post): each target's summed weights of the sources that fired; `fired` holds
        each block's spike_indices. A spike of sample b reaches sample b alone. Summed in
        float64 (bincount), returned in `dtype`."""
        stride = self.stride
        if batch == 1:  # one sample: the spikes index the table's rows directly
            if len(fired) == 1:  # one block (from row 0)
                rows = fired[0]
            else:
                rows = np.concatenate([f + start for f, start in zip(fired, self.starts)])
            bins = self.targets.take(rows, axis=0)  # take: faster than [rows] for few rows
        else:
            rows, samples = [], []
            for f, start, size in zip(fired, self.starts, self.sizes):
                sample, source = np.divmod(f, size)
                rows.append(source + start)
                samples.append(sample)
            rows, samples = np.concatenate(rows), np.concatenate(samples)
            bins = self.targets.take(rows, axis=0) + (samples * stride)[:, None]
        weights = self.table.take(rows, axis=0)
        total = np.bincount(bins.ravel(), weights.ravel(), batch * stride)
        if batch == 1:  # (a view with a new axis costs less than a reshape)
            return total[None, :self.n_post].astype(dtype, copy=False)
        return total.reshape(batch, stride)[:, :self.n_post].astype(dtype, copy=False)


def _widened(table: np.ndarray, width: int, pad) -> np.ndarray:
    """A table padded with `pad` to `width` columns."""
    if table.shape[1] == width:
        return table
    wide = np.full((table.shape[0], width), pad, dtype=table.dtype)
    wide[:, :table.shape[1]] = table
    return wide
