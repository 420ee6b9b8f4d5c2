"""Source ranges of connection conditions (nndl.runtime.ranges) and the fast paths they open:
on random small conditions, the ranges hold every candidate (exactly them, when `exact`), and
`where` and `fan_in` built through them give the very synapses of the general path."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nndl.ir import expr as e
from nndl import ir
from nndl.runtime import sampling
from nndl.runtime.ranges import ranges
from nndl.runtime.synapses import pair_condition

PRE, POST = e.Var("pre.index"), e.Var("post.index")
COMPARE = ("<", "<=", ">", ">=", "==")


def group(name: str, shape: tuple[int, ...]) -> ir.Group:
    return ir.Group(name, shape, "hidden", "tanh")


def of_post():
    """Expressions over the target alone: affine in its index, a coordinate, a remainder, and a
    division by zero (inf and NaN)."""
    scale = st.sampled_from([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 3.0])
    offset = st.sampled_from([-7.0, -1.0, -0.5, 0.0, 0.25, 1.0, 2.0, 10.0, 40.0])
    affine = st.builds(lambda a, b: e.Binary("+", e.Binary("*", e.Num(a), POST), e.Num(b)),
                       scale, offset)
    return st.one_of(affine, st.just(POST), st.just(e.Var("post.coord.0")),
                     st.just(e.Binary("%", POST, e.Num(3.0))),
                     st.just(e.Binary("/", POST, e.Num(0.0))),
                     st.builds(e.Num, offset))


def conjunct():
    limit = st.builds(lambda op, f, flip: e.Binary(op, f, PRE) if flip else e.Binary(op, PRE, f),
                      st.sampled_from(COMPARE), of_post(), st.booleans())
    keep = st.builds(lambda op, f: e.Binary(op, f, e.Num(3.0)), st.sampled_from(COMPARE),
                     of_post())
    other = st.sampled_from([
        e.Binary("==", e.Binary("%", PRE, e.Num(2.0)), e.Binary("%", POST, e.Num(2.0))),
        e.Binary("<", e.Var("pre.coord.0"), e.Num(2.0)),
        e.Binary("or", e.Binary("<", PRE, POST), e.Binary(">", PRE, e.Num(5.0))),
        e.Unary("not", e.Binary("<", PRE, POST)),
    ])
    return st.one_of(limit, limit, keep, other)


def conjunction(parts: list) -> e.Expr:
    return parts[0] if len(parts) == 1 else e.Binary("and", parts[0], conjunction(parts[1:]))


def conditions():
    return st.lists(conjunct(), min_size=1, max_size=3).map(conjunction)


shapes = st.sampled_from([(1,), (7,), (30,), (5, 6), (2, 3, 4), (13, 17), (400,)])


@settings(max_examples=300, deadline=None)
@given(conditions(), shapes, shapes)
def test_ranges_hold_every_candidate_and_only_those_when_exact(cond, src_shape, dst_shape):
    src, dst = group("a", src_shape), group("b", dst_shape)
    cond_dict = e.to_dict(cond)
    allowed = pair_condition(cond_dict, src, dst)
    pre, post = np.meshgrid(np.arange(src.size), np.arange(dst.size))
    truth = allowed(pre.reshape(-1), post.reshape(-1)).reshape(dst.size, src.size)
    found = ranges(cond_dict, src, dst)
    lo, hi = found.bounds(np.arange(dst.size))
    inside = (pre >= lo[:, None]) & (pre < hi[:, None])
    assert not (truth & ~inside).any()  # no candidate outside its range
    if found.exact:
        np.testing.assert_array_equal(truth, inside)


@settings(max_examples=200, deadline=None)
@given(conditions(), shapes, shapes, st.integers(1, 12), st.integers(0, 2**32))
def test_where_and_fan_in_through_ranges_give_the_general_paths_synapses(
        cond, src_shape, dst_shape, k, seed):
    src, dst = group("a", src_shape), group("b", dst_shape)
    cond_dict = e.to_dict(cond)
    allowed, within = pair_condition(cond_dict, src, dst), ranges(cond_dict, src, dst)
    general = sampling.where_pairs(src.size, dst.size, allowed)
    fast = sampling.where_pairs(src.size, dst.size, allowed, within)
    np.testing.assert_array_equal(general[0], fast[0])
    np.testing.assert_array_equal(general[1], fast[1])
    general = sampling.fan_in_pairs(src.size, dst.size, k, allowed, np.random.default_rng(seed))
    fast = sampling.fan_in_pairs(src.size, dst.size, k, allowed, np.random.default_rng(seed),
                                 within)
    np.testing.assert_array_equal(general[0], fast[0])
    np.testing.assert_array_equal(general[1], fast[1])
    assert general[2] == fast[2]


def test_the_blob_condition_is_an_exact_range_below_each_target():
    blob = group("blob", (50,))
    found = ranges(e.to_dict(e.Binary("<", PRE, POST)), blob, blob)
    lo, hi = found.bounds(np.arange(50))
    assert found.exact and (lo == 0).all() and (hi == np.arange(50)).all()


def test_a_small_block_size_changes_no_synapse(monkeypatch):
    blob = group("blob", (300,))
    cond = e.to_dict(e.Binary("and", e.Binary("<", PRE, POST),
                              e.Binary("==", e.Binary("%", PRE, e.Num(3.0)), e.Num(0.0))))
    allowed, within = pair_condition(cond, blob, blob), ranges(cond, blob, blob)
    expected = sampling.fan_in_pairs(300, 300, 4, allowed, np.random.default_rng(5), within)
    monkeypatch.setattr(sampling, "PAIRS_PER_BLOCK", 50)  # many blocks of a few targets
    found = sampling.fan_in_pairs(300, 300, 4, allowed, np.random.default_rng(5), within)
    for a, b in zip(expected[:2], found[:2]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("target", [10, 40])  # fewer and more candidates than 4k + 8 draws
def test_fan_in_from_exact_ranges_is_uniform_over_candidates(target):
    # among 3000 sources, 10 or 40 candidates are too few for rejection: the ranges decide
    blob = group("blob", (3000,))
    cond = e.to_dict(e.Binary("<", PRE, POST))
    below, within = pair_condition(cond, blob, blob), ranges(cond, blob, blob)
    hits = np.zeros(target + 1)
    for seed in range(2000):
        pre, post, _ = sampling.fan_in_pairs(3000, target + 1, 2, below,
                                             np.random.default_rng(seed), within)
        hits += np.bincount(pre[post == target], minlength=target + 1)
    expected = 2000 * 2 / target
    assert hits[target] == 0
    assert np.abs(hits[:target] - expected).max() < 5 * np.sqrt(expected)


def test_distinct_positions_are_distinct_in_range_and_all_when_few():
    count = np.array([0, 1, 3, 4, 5, 20, 21, 1000, 10**12])
    row, position = sampling.distinct_positions(count, 4, np.random.default_rng(0))
    for i, c in enumerate(count):
        mine = position[row == i]
        assert mine.size == min(c, 4) and np.unique(mine).size == mine.size
        assert ((0 <= mine) & (mine < c)).all()
    assert (np.diff(row * 10**13 + position) > 0).all()  # sorted by (row, position)
