"""Array layouts of a projection's synapses that vectorised backends compute with.

Synapses are stored in CSR order (sorted by post, then pre). From that: row pointers, a padded
per-target layout (ELL) for rules with an even fan-in, and the synapses of chosen rows.
"""

from __future__ import annotations

import numpy as np


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
