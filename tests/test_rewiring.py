"""Structural plasticity: pruning and growing synapses during `fit`, the same in every backend."""

import warnings

import numpy as np
import pytest

from nndl.backends.numpy.layouts import kind
from nndl.runtime.build import NNDLWarning
from nndl.runtime.errors import WeightFileError
from nndl.runtime.optimizers import SGD, Adam

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
