"""Sparse wiring without visiting every (pre, post) pair: `where`, `random(p)` and `fan_in(k)`.

Every function returns (pre, post) in CSR order (sorted by post, then pre) and takes the
projection's own random stream, so the result depends only on the seed and the rule.
A candidate is a pair the rule's condition allows (every pair when there is none).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

PAIRS_PER_BLOCK = 1 << 22  # how many pairs one vectorised step looks at (bounds temp memory)
ROUNDS = 3  # rejection-sampling rounds for fan_in before enumerating a target's candidates

# allowed(pre, post) -> bool array: the rule's condition over arrays of flat indices
Allowed = Callable[[np.ndarray, np.ndarray], np.ndarray] | None


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)


def _concat(parts) -> tuple[np.ndarray, np.ndarray]:
    parts = list(parts)
    if not parts:
        return _empty()
    return (np.concatenate([p for p, _ in parts]).astype(np.int64),
            np.concatenate([q for _, q in parts]).astype(np.int64))


def candidates(n_pre: int, posts: np.ndarray, allowed: Allowed):
    """Every candidate pair whose post is in `posts` (ascending), in CSR order, block by block."""
    rows = max(1, PAIRS_PER_BLOCK // max(n_pre, 1))
    pre_all = np.arange(n_pre, dtype=np.int64)
    for start in range(0, len(posts), rows):
        block = posts[start:start + rows]
        post = np.repeat(block, n_pre)
        pre = np.tile(pre_all, len(block))
        if allowed is not None:
            keep = allowed(pre, post)
            pre, post = pre[keep], post[keep]
        yield pre, post


def where_pairs(n_pre: int, n_post: int, allowed: Allowed):
    """`where(cond)`: every candidate is a synapse."""
    return _concat(candidates(n_pre, np.arange(n_post, dtype=np.int64), allowed))


def bernoulli_pairs(n_pre: int, n_post: int, p: float, allowed: Allowed,
                    rng: np.random.Generator):
    """`random(p)`: each candidate independently with probability p.

    Pairs are numbered post-major (so ascending numbers are CSR order) and chosen by geometric
    gaps between successes; the condition is then applied to the chosen pairs only, which is the
    same as drawing over the candidates alone.
    """
    total = n_pre * n_post
    parts, position = [], -1
    while total:
        left = total - position  # a gap this long or longer ends the draw
        batch = max(1024, int(min(PAIRS_PER_BLOCK, 1.2 * p * left + 64)))
        batch = min(batch, max(1, 2**62 // left))  # so that the running sum fits int64
        steps = rng.geometric(p, size=batch) if p < 1 else np.ones(batch, dtype=np.int64)
        # a tiny p draws gaps near 1/p (int64's largest for p < 1e-19): cut them at `left`
        chosen = position + np.cumsum(np.minimum(steps, left))
        position = int(chosen[-1])
        chosen = chosen[chosen < total]
        pre, post = chosen % n_pre, chosen // n_pre
        if allowed is not None and pre.size:
            keep = allowed(pre, post)
            pre, post = pre[keep], post[keep]
        parts.append((pre, post))
        if position >= total - 1:
            break
    return _concat(parts)


def first_distinct(draws: np.ndarray, accepted: np.ndarray, k: int) -> np.ndarray:
    """Mask of each row's first k distinct accepted values, in draw order."""
    rows, width = draws.shape
    keyed = np.where(accepted, draws, -1)
    position = np.broadcast_to(np.arange(width), draws.shape)
    order = np.lexsort((position, keyed), axis=-1)
    ordered = np.take_along_axis(keyed, order, axis=-1)
    new = np.ones_like(ordered, dtype=bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    first = np.zeros_like(new)
    np.put_along_axis(first, order, new & (ordered >= 0), axis=-1)
    return first & (np.cumsum(first, axis=1) <= k)


def fan_in_pairs(n_pre: int, n_post: int, k: int, allowed: Allowed,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """`fan_in(k)`: each target gets k distinct candidates chosen uniformly (or all it has).

    Returns (pre, post, number of targets with fewer than k candidates). Targets first try
    rejection sampling (cheap when candidates are common); the rest enumerate their candidates.
    """
    parts, pending = [], np.arange(n_post, dtype=np.int64)
    width = 4 * k + 8
    for _ in range(ROUNDS):
        if not pending.size or width > 4 * n_pre:
            break
        done = []
        for rows in np.array_split(pending, max(1, pending.size * width // PAIRS_PER_BLOCK)):
            draws = rng.integers(0, n_pre, size=(rows.size, width))
            post = np.broadcast_to(rows[:, None], draws.shape)
            accepted = np.ones(draws.shape, dtype=bool) if allowed is None else \
                allowed(draws.reshape(-1), post.reshape(-1)).reshape(draws.shape)
            chosen = first_distinct(draws, accepted, k)
            full = chosen.sum(axis=1) == k
            parts.append((draws[full][chosen[full]], post[full][chosen[full]]))
            done.append(rows[full])
        pending = np.setdiff1d(pending, np.concatenate(done))
        width *= 4
    satisfied = 0
    for pre, post in candidates(n_pre, pending, allowed):
        picked_pre, picked_post, enough = _choose_per_row(pre, post, k, rng)
        parts.append((picked_pre, picked_post))
        satisfied += enough
    short = pending.size - satisfied
    pre, post = _concat(parts)
    order = np.lexsort((pre, post))
    return pre[order], post[order], short


def _choose_per_row(pre: np.ndarray, post: np.ndarray, k: int, rng: np.random.Generator):
    """k candidates per post chosen uniformly (random keys, k smallest), or all of them; also
    how many posts had at least k."""
    if not pre.size:
        return pre, post, 0
    keys = rng.random(pre.size)
    order = np.lexsort((keys, post))
    post_sorted = post[order]
    starts = np.flatnonzero(np.r_[True, post_sorted[1:] != post_sorted[:-1]])
    counts = np.diff(np.r_[starts, post_sorted.size])
    rank = np.arange(post_sorted.size) - np.repeat(starts, counts)
    keep = order[rank < k]
    return pre[keep], post[keep], int((counts >= k).sum())
