"""Sparse wiring: `where`, `random(p)` and `fan_in(k)` (nndl.runtime.sampling)."""

import numpy as np
import pytest

from nndl.runtime import sampling
from nndl.runtime.sampling import bernoulli_pairs, fan_in_pairs, first_distinct, where_pairs


def below(pre, post):
    return pre < post


def is_csr(pre, post, n_pre):
    return pre.size < 2 or bool((np.diff(post * n_pre + pre) > 0).all())


def test_where_lists_every_candidate_in_csr_order():
    pre, post = where_pairs(6, 5, lambda a, b: (a + b) % 3 == 0)
    expected = [(i, j) for j in range(5) for i in range(6) if (i + j) % 3 == 0]
    assert list(zip(pre.tolist(), post.tolist())) == expected


def test_where_works_in_blocks(monkeypatch):
    monkeypatch.setattr(sampling, "PAIRS_PER_BLOCK", 7)  # many tiny blocks, same answer
    pre, post = where_pairs(10, 10, below)
    assert pre.size == 45 and is_csr(pre, post, 10)


def test_random_has_the_expected_density_and_respects_its_condition():
    rng = np.random.default_rng(0)
    pre, post = bernoulli_pairs(400, 300, 0.05, None, rng)
    assert abs(pre.size - 6000) < 4 * np.sqrt(6000) and is_csr(pre, post, 400)
    pre, post = bernoulli_pairs(300, 300, 0.2, below, rng)
    assert (pre < post).all() and abs(pre.size - 0.2 * 300 * 299 / 2) < 400


def test_random_with_p_1_is_every_candidate():
    pre, post = bernoulli_pairs(7, 6, 1.0, below, np.random.default_rng(1))
    assert pre.size == sum(range(6))


def test_first_distinct_keeps_draw_order():
    draws = np.array([[5, 5, 2, 7, 2, 9], [1, 1, 1, 1, 1, 1]])
    accepted = np.array([[True, True, False, True, True, True]] + [[True] * 6])
    mask = first_distinct(draws, accepted, 3)
    assert draws[0][mask[0]].tolist() == [5, 7, 2]
    assert draws[1][mask[1]].tolist() == [1]


@pytest.mark.parametrize("n", [40, 5000])
def test_fan_in_gives_k_distinct_candidates(n):
    pre, post, short = fan_in_pairs(n, n, 4, below, np.random.default_rng(2))
    counts = np.bincount(post, minlength=n)
    assert (counts == np.minimum(np.arange(n), 4)).all()
    assert short == 4  # targets 0..3 have fewer than 4 candidates
    assert (pre < post).all() and is_csr(pre, post, n)


def test_fan_in_is_uniform_over_candidates():
    hits = np.zeros(30)
    for seed in range(3000):
        pre, post, _ = fan_in_pairs(30, 21, 2, below, np.random.default_rng(seed))
        hits += np.bincount(pre[post == 20], minlength=30)
    expected = 3000 * 2 / 20
    assert hits[20:].sum() == 0
    assert np.abs(hits[:20] - expected).max() < 5 * np.sqrt(expected)


def test_fan_in_without_condition_and_more_k_than_sources():
    pre, post, short = fan_in_pairs(3, 4, 5, None, np.random.default_rng(0))
    assert short == 4 and pre.size == 12


def test_a_large_sparse_dag_never_enumerates_all_pairs(monkeypatch):
    calls = []
    real = sampling.candidates

    def counting(n_pre, posts, *rest):
        calls.append(len(posts))
        return real(n_pre, posts, *rest)

    monkeypatch.setattr(sampling, "candidates", counting)
    n = 20000
    pre, post, short = fan_in_pairs(n, n, 10, below, np.random.default_rng(3))
    assert pre.size == 10 * n - 55 and short == 10
    # only the earliest targets (few candidates, so rejection fails) were enumerated (counted,
    # then picked: twice)
    assert sum(calls) < n // 10
