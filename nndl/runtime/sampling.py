"""Sparse wiring without visiting every (pre, post) pair: `where`, `random(p)` and `fan_in(k)`.

Every function returns (pre, post) in CSR order (sorted by post, then pre) and takes the
projection's own random stream, so the result depends only on the seed and the rule.
A candidate is a pair the rule's condition allows (every pair when there is none). Given the
condition's `Ranges` (nndl.runtime.ranges), only the pairs inside them are visited.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from nndl.runtime.ranges import Ranges

PAIRS_PER_BLOCK = 1 << 22  # how many pairs one vectorised step looks at (bounds temp memory)
ROUNDS = 3  # rejection-sampling rounds for fan_in before counting a target's candidates

# allowed(pre, post) -> bool array: the rule's condition over arrays of flat indices
Allowed = Callable[[np.ndarray, np.ndarray], np.ndarray] | None


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)


def _concat(parts) -> tuple[np.ndarray, np.ndarray]:
    parts = list(parts)
    if not parts:
        return _empty()
    return (np.concatenate([p for p, _ in parts]).astype(np.int64, copy=False),
            np.concatenate([q for _, q in parts]).astype(np.int64, copy=False))


def csr_order(pre: np.ndarray, post: np.ndarray, n_pre: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs sorted by (post, pre), each pair once: one sort of post * n_pre + pre, which
    is many times faster than lexsort."""
    if pre.size and post.max() >= 2**62 // max(n_pre, 1):  # the key would overflow
        order = np.lexsort((pre, post))
        return pre[order], post[order]
    post, pre = np.divmod(np.sort(post * n_pre + pre), max(n_pre, 1))
    return pre, post


def runs(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """lo[0] .. hi[0]-1, then lo[1] .. hi[1]-1, and so on, in one array."""
    sizes = hi - lo
    return np.repeat(lo - (np.cumsum(sizes) - sizes), sizes) + np.arange(sizes.sum())


def _blocks(sizes: np.ndarray):
    """Slices of consecutive targets holding at most PAIRS_PER_BLOCK pairs (or one target)."""
    ends = np.cumsum(sizes)
    start = 0
    while start < sizes.size:
        before = int(ends[start - 1]) if start else 0
        stop = int(np.searchsorted(ends, before + PAIRS_PER_BLOCK, side="right"))
        yield slice(start, max(stop, start + 1))
        start = max(stop, start + 1)


def candidates(n_pre: int, posts: np.ndarray, allowed: Allowed, ranges: Ranges | None = None):
    """Every candidate pair whose post is in `posts` (ascending), in CSR order, block by block:
    (row, pre, post) with `row` the position of each pair's post in `posts`. With `ranges`,
    only the pairs inside them are visited (and, when they are exact, none is tested)."""
    if ranges is None:
        lo, hi = np.zeros(posts.size, dtype=np.int64), np.full(posts.size, n_pre, dtype=np.int64)
    else:
        lo, hi = ranges.bounds(posts)
    test = None if ranges is not None and ranges.exact else allowed
    for block in _blocks(hi - lo):
        row = np.repeat(np.arange(block.start, block.stop), hi[block] - lo[block])
        pre, post = runs(lo[block], hi[block]), posts[row]
        if test is not None:
            keep = test(pre, post)
            row, pre, post = row[keep], pre[keep], post[keep]
        yield row, pre, post


def where_pairs(n_pre: int, n_post: int, allowed: Allowed, ranges: Ranges | None = None):
    """`where(cond)`: every candidate is a synapse."""
    posts = np.arange(n_post, dtype=np.int64)
    return _concat((pre, post) for _, pre, post in candidates(n_pre, posts, allowed, ranges))


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


def first_k_distinct(draws: np.ndarray, accepted: np.ndarray, k: int):
    """The rows whose accepted draws hold k distinct values, and each such row's first k
    distinct accepted values: (full, a (full rows, k) array) -- what `first_distinct` picks.
    Mostly a row's first k accepted draws already differ; only the others are sorted out whole.
    """
    rank = np.cumsum(accepted, axis=1, dtype=np.int32)
    enough = rank[:, -1] >= k  # fewer accepted draws cannot hold k values
    rows = np.flatnonzero(enough)
    leading = draws[accepted & (rank <= k) & enough[:, None]].reshape(-1, k)
    ordered = np.sort(leading, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
    full = np.zeros(draws.shape[0], dtype=bool)
    chosen = np.zeros((draws.shape[0], k), dtype=draws.dtype)
    full[rows[~repeated]], chosen[rows[~repeated]] = True, leading[~repeated]
    retry = rows[repeated]
    if retry.size:
        mask = first_distinct(draws[retry], accepted[retry], k)
        enough = mask.sum(axis=1) == k
        full[retry[enough]] = True
        chosen[retry[enough]] = draws[retry][enough][mask[enough]].reshape(-1, k)
    return full, chosen[full]


def fan_in_pairs(n_pre: int, n_post: int, k: int, allowed: Allowed, rng: np.random.Generator,
                 ranges: Ranges | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """`fan_in(k)`: each target gets k distinct candidates chosen uniformly (or all it has).

    Returns (pre, post, number of targets with fewer than k candidates). Targets first try
    rejection sampling (cheap when candidates are common). The rest count their candidates --
    from `ranges` when they are exact, else by visiting them -- and draw k distinct positions
    among them, so the work is linear in the synapses plus the candidates visited.
    """
    parts, pending = _by_rejection(n_pre, n_post, k, allowed, rng)
    if ranges is not None and ranges.exact:
        lo, hi = ranges.bounds(pending)
        row, position = distinct_positions(hi - lo, k, rng)
        parts.append((lo[row] + position, pending[row]))
        short = int((hi - lo < k).sum())
    else:
        pre, post, short = _by_enumeration(n_pre, pending, k, allowed, ranges, rng)
        parts.append((pre, post))
    return *csr_order(*_concat(parts), n_pre), short


def _by_rejection(n_pre: int, n_post: int, k: int, allowed: Allowed, rng: np.random.Generator):
    """A few rounds of uniform draws, wider each round: the pairs of the targets that found k
    distinct candidates, and the targets still pending."""
    parts, pending = [], np.arange(n_post, dtype=np.int64)
    width = 4 * k + 8
    for _ in range(ROUNDS):
        if not pending.size or width > 4 * n_pre:
            break
        left = []
        for rows in np.array_split(pending, max(1, pending.size * width // PAIRS_PER_BLOCK)):
            draws = rng.integers(0, n_pre, size=(rows.size, width))
            accepted = np.ones(draws.shape, dtype=bool) if allowed is None else \
                allowed(draws.reshape(-1), np.repeat(rows, width)).reshape(draws.shape)
            full, chosen = first_k_distinct(draws, accepted, k)
            parts.append((chosen.reshape(-1), np.repeat(rows[full], k)))
            left.append(rows[~full])
        pending = np.concatenate(left)
        width *= 4
    return parts, pending


def _by_enumeration(n_pre: int, posts: np.ndarray, k: int, allowed: Allowed,
                    ranges: Ranges | None, rng: np.random.Generator):
    """fan_in for targets whose candidates must be visited: counted in one pass, then picked by
    their position in a second, so that no more than a block of them is held at once."""
    count = np.zeros(posts.size, dtype=np.int64)
    for row, _, _ in candidates(n_pre, posts, allowed, ranges):
        if row.size:
            count[row[0]:row[-1] + 1] += np.bincount(row - row[0])
    row, position = distinct_positions(count, k, rng)
    wanted = (np.cumsum(count) - count)[row] + position  # ascending: candidates in CSR order
    picked, seen = [], 0
    for _, pre, post in candidates(n_pre, posts, allowed, ranges):
        first, last = np.searchsorted(wanted, [seen, seen + pre.size])
        picked.append((pre[wanted[first:last] - seen], post[wanted[first:last] - seen]))
        seen += pre.size
    return *_concat(picked), int((count < k).sum())


def distinct_positions(count: np.ndarray, k: int, rng: np.random.Generator):
    """For each row i, k distinct positions in 0 .. count[i]-1 chosen uniformly, or all of them
    where count[i] <= k: (row, position) of each one chosen, sorted. Work: O(k) per row."""
    width = 4 * k + 8
    few = np.flatnonzero(count <= k)
    some = np.flatnonzero((count > k) & (count <= width))
    many = np.flatnonzero(count > width)
    rows = [np.repeat(few, count[few]), np.repeat(some, k), np.repeat(many, k)]
    positions = [runs(np.zeros_like(few), count[few]),
                 _smallest_keys(count[some], k, width, rng),
                 _distinct_draws(count[many], k, width, rng)]
    row, position = np.concatenate(rows), np.concatenate(positions).astype(np.int64)
    order = np.lexsort((position, row))
    return row[order], position[order]


def _row_blocks(n: int, width: int):
    return np.array_split(np.arange(n), max(1, n * width // PAIRS_PER_BLOCK))


def _smallest_keys(count: np.ndarray, k: int, width: int, rng: np.random.Generator):
    """k of 0 .. count-1 per row (count <= width): those with the k smallest random keys."""
    chosen = [np.zeros((0, k), dtype=np.int64)]
    for rows in _row_blocks(count.size, width):
        keys = rng.random((rows.size, width))
        keys[np.arange(width) >= count[rows, None]] = np.inf  # no such position
        chosen.append(np.argpartition(keys, k - 1, axis=1)[:, :k])
    return np.concatenate(chosen).reshape(-1)


def _distinct_draws(count: np.ndarray, k: int, width: int, rng: np.random.Generator):
    """k of 0 .. count-1 per row (count > width): the first k distinct of `width` uniform
    draws, drawn again for the rare row that does not find k."""
    chosen = np.zeros((count.size, k), dtype=np.int64)
    pending = np.arange(count.size)
    while pending.size:
        left = []
        for rows in np.array_split(pending, max(1, pending.size * width // PAIRS_PER_BLOCK)):
            draws = rng.integers(0, count[rows, None], size=(rows.size, width))
            full, picked = first_k_distinct(draws, np.ones(draws.shape, dtype=bool), k)
            chosen[rows[full]] = picked
            left.append(rows[~full])
        pending = np.concatenate(left)
    return chosen.reshape(-1)
