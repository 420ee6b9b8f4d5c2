"""Named input sums (`connect ... target NAME`, read as `sum(NAME)` in a neuron model): the IR
they make, what `nndlc ir` shows, that every backend computes them alike forwards and backwards
(spiking sources included, and finite differences), the warning for a sum nothing feeds, and
names that could clash in the generated code."""

from __future__ import annotations

import numpy as np
import pytest

from nndl import backends, compiler, ir
from nndl.interchange import ExportError, to_nir

# conductance-based LIF: excitatory and inhibitory spikes into sums of their own, each a
# conductance that decays; the source groups spike, so the sums see spikes
COBA = """
neuron coba {
    param tau_e = 0.8
    param tau_i = 0.9
    state ge = 0.0
    state gi = 0.0
    state v = 0.0
    ge = tau_e * ge + sum(exc)
    gi = tau_i * gi + sum(inh)
    v = 0.9 * v + net + ge * (1.5 - v) - gi * (v + 0.5)
    out = 1.0 if v > 1.0 else 0.0
    v = 0.0 if out > 0.5 else v
}
network coba_net {
    seed 3
    input  x[6]
    group  e[8] : coba
    group  i[4] : coba(tau_i=0.7)
    output y[3] : identity
    connect x -> e : full weight uniform(0, 0.8)
    connect x -> i : full weight uniform(0, 0.8)
    connect e -> e : random(p=0.5) weight uniform(0, 0.6) delay 1 as ee target exc
    connect e -> i : full weight uniform(0, 0.4) target exc
    connect i -> e : fan_in(k=2) weight uniform(0, 0.9) delay 2 as ie target inh
    connect i -> i : one_to_one weight constant(0.3) delay 1 as ii target inh
    connect x -> e : full weight uniform(0, 0.02) as xe target exc
    connect e -> y : full
}
"""

# smooth: for finite differences; two sums, one fed by two connections, one by a delay
SMOOTH = """
neuron mix {
    param g = 0.7
    state m = 0.1
    m = g * m + (1 - g) * tanh(sum(a) - 0.5 * sum(b))
    out = sigmoid(net + m * sum(a))
}
network smooth {
    seed 5
    input  x[3]
    group  h[4] : mix
    output y[2] : tanh
    connect x -> h : full as xa target a
    connect x -> h : full as xb target b weight normal(0, 0.7)
    connect h -> h : full delay 1 as ha target a weight normal(0, 0.5)
    connect x -> h : full
    connect h -> y : full
}
"""


def network_of(text: str) -> ir.Network:
    program, diags = compiler.check_text(text, "sums.nndl")
    diags.raise_if_errors()
    return program.networks[0]


def test_targets_and_sums_are_in_the_ir_and_round_trip_through_json():
    network = network_of(SMOOTH)
    assert network.model("mix").sums == ("a", "b")
    assert {p.name: p.target for p in network.projections} == {
        "xa": "a", "xb": "b", "ha": "a", "x->h": None, "h->y": None}
    assert [p.name for p in network.inputs_of("h", "a")] == ["xa", "ha"]
    assert [p.name for p in network.inputs_of("h")] == ["x->h"]
    again = ir.Network.from_dict(network.to_dict())
    assert again == network


def test_nndlc_ir_shows_which_sum_a_connection_feeds(tmp_path, capsys):
    from nndl.commands.cli import main

    path = tmp_path / "smooth.nndl"
    path.write_text(SMOOTH)
    assert main(["ir", str(path)]) == 0
    listing = capsys.readouterr().out
    assert "h sum(a)" in listing and "h sum(b)" in listing


def test_spikes_into_sums_are_event_driven():
    """Each tick visits only the synapses of the neurons that fired, into a sum as into net;
    a sum may mix them with a rate connection (x -> e)."""
    from nndl.backends.numpy.layouts import listed

    network = network_of(COBA)
    driven = {p.name for p in network.projections if network.event_driven(p)}
    assert driven == {"ee", "e->i", "ie", "ii", "e->y"}
    ee = next(p for p in network.projections if p.name == "ee")
    assert listed(network, ee).startswith("numpy: event")
    source = backends.generate(network, "numpy")
    assert "self.spike_tables['i sum(exc)']" in source  # a delay-0 spike: its own table
    assert "earlier[:, " in source  # the delayed ones: the table of earlier spikes


def test_spikes_into_sums_are_the_same_in_every_backend(compile_text, backend):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1.5, size=(12, 3, 6))
    reference = compile_text(COBA, "numpy").Network(dtype="float64")
    other = compile_text(COBA, backend).Network(dtype="float64")
    want = reference.run({"x": x}, every_tick=True, record=["e", "i", "e.ge", "i.gi"])
    got = other.run({"x": x}, every_tick=True, record=["e", "i", "e.ge", "i.gi"])
    spikes = want.recorded["e"].sum() + want.recorded["i"].sum()
    assert 0 < spikes < want.recorded["e"].size + want.recorded["i"].size  # some, not all
    assert want.recorded["i.gi"].max() > 0 and want.recorded["e.ge"].max() > 0  # fed
    for key in want.recorded:
        np.testing.assert_allclose(got.recorded[key], want.recorded[key], atol=1e-12,
                                   err_msg=key)
    targets = rng.normal(size=(12, 3, 3))
    loss, grads = reference.loss_and_grad({"x": x}, {"y": targets}, loss="mse", every_tick=True)
    loss2, grads2 = other.loss_and_grad({"x": x}, {"y": targets}, loss="mse", every_tick=True)
    assert abs(loss - loss2) <= 1e-12 * max(1.0, abs(loss))
    assert sorted(grads) == sorted(grads2)
    for key in grads:
        np.testing.assert_allclose(grads2[key], grads[key], rtol=1e-9, atol=1e-12, err_msg=key)
    # the surrogate reaches the sums' connections
    assert np.abs(grads["ee.w"]).max() > 0 and np.abs(grads["ie.w"]).max() > 0


def test_sums_are_summed_apart_not_into_net(compile_text):
    """The model sees exactly its sums: with every `net` connection gone and `sum(b)` alone
    fed, h's out is sigmoid(m * sum(a)) where sum(a) = 0: one half, whatever b carries."""
    text = SMOOTH.replace("    connect x -> h : full as xa target a\n", "") \
        .replace("    connect h -> h : full delay 1 as ha target a weight normal(0, 0.5)\n", "") \
        .replace("    connect x -> h : full\n", "")
    net = compile_text(text, "numpy").Network(dtype="float64")
    result = net.run({"x": np.ones((2, 3))}, ticks=3, record=["h", "h.m"])
    bias = net.parameters()["h.bias"]
    np.testing.assert_allclose(result.recorded["h"][-1], np.broadcast_to(
        1 / (1 + np.exp(-bias)), (2, 4)), rtol=1e-12)
    assert np.abs(result.recorded["h.m"][-1]).max() > 0  # sum(b) reached the state


@pytest.mark.parametrize("backend_name", ["oo", "numpy"])
def test_gradients_through_sums_match_finite_differences(compile_text, backend_name):
    from test_gradients import check_finite_differences

    net = compile_text(SMOOTH, backend_name).Network(dtype="float64")
    rng = np.random.default_rng(1)
    inputs = {"x": rng.normal(size=(5, 2, 3))}
    targets = {"y": rng.normal(size=(5, 2, 2))}
    checked = check_finite_differences(net, inputs, targets,
                                       {"loss": "mse", "every_tick": True, "ticks": None}, rng)
    assert checked >= 50


def test_a_sum_that_nothing_feeds_is_a_warning_and_stays_zero(compile_text):
    text = SMOOTH.replace("    connect x -> h : full as xb target b weight normal(0, 0.7)\n", "")
    program, diags = compiler.check_text(text, "sums.nndl")
    diags.raise_if_errors()
    assert [w.code for w in diags.warnings] == ["unfed-sum"]
    assert "`sum(b)` of `h`" in diags.warnings[0].message
    with_b = compile_text(SMOOTH.replace("weight normal(0, 0.7)", "weight constant(0)"),
                          "numpy").Network(dtype="float64")
    without = compile_text(text, "numpy").Network(dtype="float64")
    x = {"x": np.random.default_rng(2).normal(size=(4, 2, 3))}
    weights = with_b.parameters()
    for key, value in without.parameters().items():
        np.testing.assert_array_equal(value, weights[key])
    np.testing.assert_array_equal(without.run(x)["y"], with_b.run(x)["y"])


HOSTILE = """
neuron hostile {
    state sum_out = 0.0
    sum_out = 0.5 * sum_out + sum(out) + sum(net)
    sum_net = sum(return) * 2
    out = tanh(net + sum_out + sum_net + sum(float))
}
network n {
    input  x[3]
    group  h[4] : hostile
    output y[2]
    connect x -> h : full as a target out
    connect x -> h : full as b target net
    connect x -> h : full as c target return
    connect h -> h : full delay 1 as d target float
    connect x -> h : full
    connect h -> y : full
}
"""


def test_sum_names_that_clash_with_code_and_variables(compile_text, backend):
    """Sums called `out`, `net`, `return` and `float` beside variables `sum_out`, `sum_net`:
    every backend's module compiles and computes what NumPy computes."""
    x = {"x": np.random.default_rng(3).normal(size=(5, 2, 3))}
    want = compile_text(HOSTILE, "numpy").Network(dtype="float64").run(x, every_tick=True)
    got = compile_text(HOSTILE, backend).Network(dtype="float64").run(x, every_tick=True)
    np.testing.assert_allclose(got["y"], want["y"], rtol=1e-12, atol=1e-13)
    source = backends.generate(network_of(HOSTILE), "numpy")
    compile(source.encode(), "hostile.py", "exec")  # what Python will execute


def test_nir_export_refuses_a_model_with_sums():
    with pytest.raises(ExportError, match=r"connection `xa` feeds `sum\(a\)` of group `h`"):
        to_nir(network_of(SMOOTH))


def test_the_summary_shows_the_sums_and_counts_the_models_trainable_parameters(compile_text):
    text = SMOOTH.replace("param g = 0.7", "param g = 0.7 trainable\n"
                          "    param k = 0 * index trainable").replace("tanh(sum(a)",
                                                                    "tanh(k + sum(a)")
    net = compile_text(text, "numpy").Network()
    summary = net.summary()
    assert summary.model_parameters == 1 + 4  # g for the group, k per neuron
    assert summary.parameters == summary.weights + summary.biases + 5
    shown = summary.text()
    assert "x -> h sum(a)" in shown and "h -> h sum(a)" in shown and "x -> h sum(b)" in shown
    assert "+ 5 of neuron models)" in shown
    assert sum(np.size(v) for k, v in net.parameters().items()
               if k.endswith((".w", ".bias", ".g", ".k"))) == summary.parameters


REWIRED = SMOOTH.replace("output y[2] : tanh", "output y[2] : softmax") + """
train prune {
    loss cross_entropy
    optimizer adam(lr=0.05)
    rewire xa : prune(below=0.3) grow(count=2) every 2
    rewire ha : prune(below=0.3) every 3
    batch 8
    epochs 3
    ticks 2
}
"""


def test_rewiring_a_sums_connections_is_the_same_in_both_backends(compile_text):
    rng = np.random.default_rng(4)
    data = {"x": rng.normal(size=(24, 3))}, {"y": rng.integers(0, 2, size=24)}
    nets, histories = [], []
    for name in ("oo", "numpy"):
        net = compile_text(REWIRED, name).Network(dtype="float64")
        histories.append(net.fit(*data, progress=False))
        nets.append(net)
    assert histories[0]["synapses"] == histories[1]["synapses"]
    assert sum(histories[1]["pruned"]) > 0
    a, b = (net.parameters() for net in nets)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_the_coba_example_fires_asynchronously_and_irregularly():
    """examples/coba.nndl (excitation and inhibition as named sums, event-driven): over 0.5 s
    of the model both populations fire at a moderate rate, with intervals at least as
    irregular as a Poisson process's, and no network-wide bursts."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent.parent / "examples" / "coba.py"
    spec = importlib.util.spec_from_file_location("coba_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    found = example.measure(0.5)
    for name in ("exc", "inh"):
        m = found[name]
        assert 5 < m["rate"] < 60, (name, m)
        assert m["cv"] > 1.0, (name, m)
        assert m["synchrony"] < 10, (name, m)
