"""Structural plasticity: pruning and growing synapses during `fit`, the same in every backend."""

import warnings

import numpy as np
import pytest

from nndl import ir
from nndl.backends.numpy.layouts import kind
from nndl.runtime import rewiring
from nndl.runtime.build import NNDLWarning
from nndl.runtime.errors import WeightFileError
from nndl.runtime.optimizers import SGD, Adam
from nndl.runtime.synapses import build

REWIRED = """
network rw {
    seed 2
    input x[6]
    group h[8] : tanh
    output y[2] : softmax
    connect x -> h : full
    connect h -> h : fan_in(k=3) delay 1
    connect h -> y : full
}
train prune {
    loss cross_entropy
    optimizer adam(lr=0.01)
    rewire x -> h : prune(below=0.2) grow(count=3) every 2
    rewire h -> h : prune(below=0.3) grow(count=2) every 3
    batch 8
    epochs 4
    ticks 2
}
"""


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(size=(n, 6))}, {"y": rng.integers(0, 2, size=n)}


def trained(compile_text, backend, text=REWIRED, **options):
    net = compile_text(text, backend).Network(dtype="float64")
    history = net.fit(*data(), progress=False, **options)
    return net, history


def test_both_backends_end_with_the_same_synapses_and_weights(compile_text):
    (oo, h_oo), (vec, h_vec) = (trained(compile_text, b) for b in ("oo", "numpy"))
    assert h_oo["synapses"] == h_vec["synapses"] and h_oo["grown"] == h_vec["grown"]
    assert sum(h_vec["pruned"]) > 0 and sum(h_vec["grown"]) > 0
    a, b = oo.parameters(), vec.parameters()
    assert a.keys() == b.keys()
    for key in a:
        if key.endswith((".pre", ".post")):
            assert np.array_equal(a[key], b[key]), key
        else:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_synapses_stay_in_csr_order_and_among_the_rule_candidates(compile_text):
    net, history = trained(compile_text, "numpy")
    p = net.parameters()
    for name in ("x->h", "h->h"):
        keys = p[f"{name}.post"] * 8 + p[f"{name}.pre"]
        assert (np.diff(keys) > 0).all()
    assert history["synapses"][-1] == sum(p[f"{n}.pre"].size for n in ("x->h", "h->h", "h->y"))


def test_a_rewired_projection_is_sparse_in_the_numpy_backend(compile_text):
    spec = compile_text(REWIRED, "numpy").SPEC
    layouts = {p.name: kind(spec, p) for p in spec.projections}
    assert layouts == {"x->h": "csr", "h->h": "csr", "h->y": "dense"}


def test_the_weight_file_of_a_rewired_network_loads_in_the_other_backend(compile_text,
                                                                          tmp_path):
    net, _ = trained(compile_text, "numpy")
    net.save(tmp_path / "w.npz")
    other = compile_text(REWIRED, "oo").Network(dtype="float64")
    other.load(tmp_path / "w.npz")
    x, _ = data(5, seed=9)
    np.testing.assert_allclose(other.run(x, ticks=2)["y"], net.run(x, ticks=2)["y"], atol=1e-12)


def test_a_synapse_its_rule_does_not_allow_is_refused_on_load(compile_text, tmp_path):
    text = REWIRED.replace("connect x -> h : full", "connect x -> h : where(pre.index == 0)")
    net = compile_text(text, "numpy").Network(dtype="float64")
    arrays = net.parameters()
    arrays["x->h.pre"] = np.ones_like(arrays["x->h.pre"])  # pre 1 is not a candidate
    np.savez(tmp_path / "bad.npz", **arrays, __meta__=np.array(
        '{"network": "rw", "source": "t", "sha256": "%s"}' % net.SPEC.sha256))
    with pytest.raises(WeightFileError, match="synapses its rule .* does not allow"):
        net.load(tmp_path / "bad.npz")


def test_growing_a_full_candidate_set_warns_and_goes_on(compile_text):
    text = REWIRED.replace("prune(below=0.2) grow(count=3) every 2", "grow(count=5)")
    with pytest.warns(NNDLWarning, match="found only 0 candidate synapses"):
        net, history = trained(compile_text, "numpy", text=text, epochs=1)
    assert history["grown"] == [0] or history["grown"][0] < 20


def test_pruning_everything_warns_and_the_network_still_runs(compile_text):
    text = REWIRED.replace("prune(below=0.2) grow(count=3) every 2", "prune(below=100)")
    with pytest.warns(NNDLWarning, match="removed every synapse"):
        net, _ = trained(compile_text, "numpy", text=text, epochs=1)
    assert net.parameters()["x->h.pre"].size == 0
    out = net.run(data(3)[0], ticks=2)["y"]
    assert np.isfinite(out).all()


def test_resuming_a_rewiring_run_from_its_checkpoint_ends_where_a_straight_one_does(
        compile_text, tmp_path):
    straight, _ = trained(compile_text, "numpy", epochs=4)
    first, _ = trained(compile_text, "numpy", epochs=2, checkpoint=tmp_path / "c.npz")
    resumed = compile_text(REWIRED, "numpy").Network(dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checkpoint fits the source: no warning
        resumed.fit(*data(), epochs=4, checkpoint=tmp_path / "c.npz", resume=True,
                    progress=False)
    a, b = straight.parameters(), resumed.parameters()
    assert all(np.array_equal(a[key], b[key]) for key in a)


@pytest.mark.parametrize("optimizer", [SGD(lr=0.1, momentum=0.9), Adam(lr=0.1)])
def test_optimizer_state_follows_its_synapses(optimizer):
    params = {"p.w": np.array([1.0, 2.0, 3.0])}
    optimizer.step(params, {"p.w": np.array([0.1, 0.2, 0.3])})
    before = {key: value.copy() for key, value in optimizer.state().items() if key != "steps"}
    optimizer.remap("p.w", np.array([2, -1, 0]))  # synapse 1 pruned, one grown in the middle
    after = optimizer.state()
    for key, old in before.items():
        np.testing.assert_array_equal(after[key], [old[2], 0.0, old[0]])


# ---- prune(keep=f, over=K): to a fraction of the synapses built -------------------------------

def test_the_schedule_falls_as_a_cube_and_ends_on_the_fraction_exactly():
    """Zhu & Gupta's cubic schedule: round(built * (f + (1 - f) (1 - e/K)^3)), f from e = K on."""
    counts = [rewiring.target(0.1, 4, 2000, event) for event in range(1, 7)]
    assert counts == [959, 425, 228, 200, 200, 200]  # 2000 (0.1 + 0.9 * 0.75^3) = 959.375
    assert [rewiring.target(0.25, 1, 10, e) for e in (1, 2)] == [3, 3]  # 2.5 rounds half up
    assert rewiring.target(1.0, 3, 7, 1) == 7 and rewiring.target(0.05, 1, 9, 1) == 0


def test_the_strongest_are_kept_and_ties_go_to_the_earlier_synapse():
    w = np.array([0.3, -0.9, 0.1, 0.3, -0.3, 0.0, 0.9, -0.2])
    assert np.flatnonzero(rewiring.strongest(w, 3)).tolist() == [0, 1, 6]  # of three 0.3s
    assert np.flatnonzero(rewiring.strongest(w, 5)).tolist() == [0, 1, 3, 4, 6]
    assert rewiring.strongest(w, 0).sum() == 0 and rewiring.strongest(w, 8).all()
    equal = rewiring.strongest(np.full(6, 0.5), 2)
    assert np.flatnonzero(equal).tolist() == [0, 1]


def test_one_pruning_keeps_exactly_the_count_asked_the_largest_in_csr_order(compile_text):
    spec = compile_text(REWIRED, "numpy").SPEC
    p = next(q for q in spec.projections if q.name == "x->h")
    action = ir.Rewire("x->h", None, None, 1, None, 0.3, 1)
    syn = build(spec, p, 5)
    outcome = rewiring.rewire(spec, p, action, syn, 5, 1)
    assert outcome.synapses.pre.size == round(0.3 * 48) == 14 and outcome.pruned == 34
    kept = outcome.source_index
    assert (np.diff(kept) > 0).all()  # CSR order, each synapse where it was
    weakest_kept = np.abs(syn.w[kept]).min()
    assert (np.abs(np.delete(syn.w, kept)) <= weakest_kept).all()
    np.testing.assert_array_equal(outcome.synapses.w, syn.w[kept])
    np.testing.assert_array_equal(outcome.synapses.pre, syn.pre[kept])


def test_keep_counts_against_the_synapses_built_not_those_left(compile_text):
    spec = compile_text(REWIRED, "numpy").SPEC
    p = next(q for q in spec.projections if q.name == "h->h")  # fan_in(k=3): 24 built
    assert rewiring.built_count(spec, p, 2) == 24
    syn = build(spec, p, 2)
    action = ir.Rewire("h->h", None, 2, 1, None, 0.5, 1)  # keep 12, then grow 2 more
    once = rewiring.rewire(spec, p, action, syn, 2, 1)
    assert once.synapses.pre.size == 14 and once.grown == 2
    twice = rewiring.rewire(spec, p, action, once.synapses, 2, 2)
    assert twice.pruned == 2 and twice.synapses.pre.size == 14  # back to 12, then 2 grown


KEPT = REWIRED.replace("prune(below=0.2) grow(count=3) every 2",
                      "prune(keep=0.25, over=3) every 2") \
    .replace("prune(below=0.3) grow(count=2) every 3", "prune(keep=0.5) grow(count=2) every 3")


def test_fit_follows_the_schedule_to_the_exact_count(compile_text):
    """x -> h: 48 synapses, 5 batches of 8 an epoch; pruned at steps 2, 4, 6 to the
    schedule's 23, 13, 12 and left at 12 (steps 8, 10); h -> h keeps 12 of its 24 and grows
    2 at steps 3, 6 and 9; h -> y, 16, is not rewired."""
    net, history = trained(compile_text, "numpy", text=KEPT, epochs=2)
    expected = [rewiring.target(0.25, 3, 48, e) for e in (1, 2, 3)]
    assert expected == [23, 13, 12]
    assert net.parameters()["x->h.pre"].size == 12
    assert net.parameters()["h->h.pre"].size == 14
    assert history["synapses"] == [13 + 14 + 16, 12 + 14 + 16]
    assert history["pruned"] == [(48 - 13) + (24 - 12), 1 + 2 + 2]


def test_both_backends_prune_to_a_fraction_alike(compile_text):
    (oo, h_oo), (vec, h_vec) = (trained(compile_text, b, text=KEPT) for b in ("oo", "numpy"))
    assert h_oo["synapses"] == h_vec["synapses"] and h_oo["pruned"] == h_vec["pruned"]
    a, b = oo.parameters(), vec.parameters()
    for key in a:
        if key.endswith((".pre", ".post")):
            assert np.array_equal(a[key], b[key]), key
        else:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-9, atol=1e-12, err_msg=key)


SEEN = """
rule seen_pre {
    param rate = 0.01
    state seen = 0.0
    every tick {
        seen = seen + pre
        w = w + rate * seen
    }
}
network counted {
    seed 4
    input  x[6]
    output y[4] : tanh
    connect x -> y : full weight normal(0, 1)
}
train count {
    batch 4
    learn x -> y : seen_pre(rate=0.01)
    rewire x -> y : prune(keep=0.5, over=2) every 2
}
"""


@pytest.mark.parametrize("backend", ["oo", "numpy"])
def test_a_rules_states_move_with_the_synapses_kept(compile_text, backend):
    """A rule whose change of each synapse reads only that synapse's state and source, so a
    synapse kept ends where it would have without pruning; a state left behind (or taken from
    another synapse) would move it otherwise. 24 synapses: 14 after step 2, 12 after step 4."""
    x = np.random.default_rng(3).normal(size=(6, 6))
    ends = {}
    for text in (SEEN, SEEN.replace("    rewire x -> y : prune(keep=0.5, over=2) every 2\n", "")):
        net = compile_text(text, backend).Network(dtype="float64")
        history = net.fit({"x": x}, {}, epochs=2, progress=False)
        ends[len(history.get("synapses", ()))] = net.parameters()
    pruned, plain = ends[2], ends[0]
    assert pruned["x->y.pre"].size == 12
    where = pruned["x->y.post"] * 6 + pruned["x->y.pre"]
    np.testing.assert_allclose(pruned["x->y.w"], plain["x->y.w"][where], rtol=1e-12)


def test_a_schedule_longer_than_the_run_warns_with_the_count_it_ends_at(compile_text):
    """5 steps, x -> h's schedule ends at step 6 (over=3, every 2): 13 left, not 12."""
    with pytest.warns(NNDLWarning, match=r"x->h.*step 6, but this run has 5 steps: it ends "
                                         r"with 13 of the 48 synapses built, not 12"):
        net, _ = trained(compile_text, "numpy", text=KEPT, epochs=1)
    assert net.parameters()["x->h.pre"].size == 13
