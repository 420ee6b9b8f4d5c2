"""Event-driven spikes: which models spike (nndl.ir.expr.spikes), and that the event-driven sums
compute what the dense/sparse sums compute, in every backend, forwards and backwards."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from nndl import backends, compiler
from nndl.ir import expr as e
from nndl.runtime.layout import SpikeTable, spike_indices, spike_layout

LIF = """
neuron lif {
    param threshold = 1.0
    param leak = 0.9
    state v = 0.0
    v = leak * v + net
    fired = v > threshold
    out = OUT
    v = 0.0 if fired else v
}
"""
SPIKE = "1.0 if v > threshold else 0.0"  # the comparison here: its surrogate has a slope
OPAQUE = "(1.0 if v > threshold else 0.0) + 0.0"  # the same numbers, but not provably 0 or 1: dense

# Every rule kind from a spiking source, with delays, a recurrent fan_in, a spiking target.
RULES = LIF + """
network rules {
    seed 4
    input x[4, 4]
    group a[4, 4] : lif
    group b[16] : lif(threshold=0.5)
    output y[6]
    connect x -> a : full weight uniform(0, 0.6)
    connect a -> b : random(p=0.3) weight normal(0.3, 0.3)
    connect a -> a : fan_in(k=3) weight normal(0, 0.5) delay 2
    connect b -> a : one_to_one weight constant(0.2) delay 1
    connect a -> a : local(radius=1.5) weight normal(0.1, 0.2) delay 1 as near
    connect a -> y : full
    connect b -> y : full delay 3
}
"""


def statements(text: str) -> list:
    """A model's statements from `target = expression` lines, through the front end."""
    program, diags = compiler.check_text(LIF.replace("OUT", SPIKE) + """
neuron probe {
    state v = 0.0
""" + text + """
}
network n {
    input x[1]
    output y[1] : probe
    connect x -> y : full
}""", "probe.nndl")
    diags.raise_if_errors()
    model = program.network().model("probe")
    return model


@pytest.mark.parametrize("body, spikes", [
    ("v = v + net\nout = 1.0 if v > 1 else 0.0", True),
    ("fired = v > 1.0\nout = 1.0 if fired else 0.0", True),
    ("fired = v > 1.0\nout = fired", True),  # a truth value used as a number
    ("out = step(v + net)", True),
    ("out = (v > 0) * (net > 0)", True),
    ("out = 0.0", True),
    ("out = sigmoid(v + net)", False),
    ("out = 2.0 if v > 1 else 0.0", False),
    ("out = (1.0 if v > 1 else 0.0) + 0.0", False),
    ("out = 1.0 if v > 1 else 0.0\nout = out * 0.5", False),  # the last assignment counts
    ("v = 1.0 if net > 0 else 0.0\nout = v", True),  # v as this tick assigned it
    ("out = v", False),  # the state as the last tick left it: not known
])
def test_which_models_spike(body, spikes):
    assert statements(body).spikes is spikes


def test_a_spiking_group_needs_no_spike_before_the_first_tick(compile_text):
    source = RULES.replace("group a[4, 4] : lif", "group a[4, 4] : lif init 1")
    spec = compile_text(source.replace("OUT", SPIKE), "numpy").SPEC
    assert not spec.spiking("a") and spec.spiking("b")
    assert spec.model("poisson").spikes if any(m.name == "poisson" for m in spec.models) else True


def test_spike_layout_lists_each_sources_synapses():
    pre, post = np.array([1, 0, 1, 2, 1]), np.array([0, 1, 1, 1, 2])  # CSR order
    targets, slots = spike_layout(pre, post, None, 4, 3)
    assert targets.tolist() == [[1, 3, 3], [0, 1, 2], [1, 3, 3], [3, 3, 3]]
    assert slots[:3].tolist() == [[1, 0, 0], [0, 2, 4], [3, 0, 0]]
    # two projections into one group of 3: the one above and a tied one from 2 sources
    table = SpikeTable([(pre, post, None, 4), (np.array([0, 1]), np.array([2, 2]),
                                              np.array([1, 0]), 2)], 3)
    table.weights([np.array([1.0, 2.0, 4.0, 8.0, 16.0]), np.array([32.0, 64.0])])
    x = np.array([[0, 1, 1, 0], [1, 0, 0, 0]], dtype=np.float32)
    y = np.array([[1, 1], [0, 1]], dtype=np.float32)
    fired = [spike_indices(x), spike_indices(y)]
    got = table.sum(fired, 2, np.float32)
    assert got.dtype == np.float32
    assert got.tolist() == [[1.0, 12.0, 112.0], [0.0, 2.0, 32.0]]
    one = table.sum([spike_indices(x[:1]), spike_indices(y[:1])], 1, np.float64)
    assert one.tolist() == [[1.0, 12.0, 112.0]]


def test_spike_table_copies_the_weights_again_where_they_changed():
    """weights() at each run: the same table while no weight changed, the new weights after an
    optimiser changed one in place."""
    pre, post = np.array([1, 0, 1, 2, 1]), np.array([0, 1, 1, 1, 2])
    table = SpikeTable([(pre, post, None, 4)], 3)
    w = np.array([1.0, 2.0, 4.0, 8.0, 16.0], dtype=np.float32)
    first = table.weights([w])
    assert table.weights([w.copy()]) is first  # equal weights: nothing copied
    x = np.array([[0, 1, 1, 0]], dtype=np.float32)
    assert table.sum([spike_indices(x)], 1, np.float32).tolist() == [[1.0, 12.0, 16.0]]
    w[4] = 32.0  # in place, as an optimiser steps
    assert table.weights([w]) is not first
    assert table.sum([spike_indices(x)], 1, np.float32).tolist() == [[1.0, 12.0, 32.0]]


def test_spike_table_shares_a_sources_rows_among_its_projections():
    """One table for two target groups side by side (the second from column 3): parts from one
    source share its rows (`sources`), and the sum is the separate tables' sums side by side."""
    rng = np.random.default_rng(5)
    parts, ws = [], []
    for n_pre, n_post in [(4, 3), (2, 3), (4, 2), (2, 2)]:  # e->e, i->e, e->i, i->i
        pre, post = np.nonzero(rng.random((n_pre, n_post)) < 0.6)
        order = np.lexsort((pre, post))  # CSR order: by target
        parts.append((pre[order], post[order], None, n_pre))
        ws.append(rng.integers(1, 9, pre.size).astype(np.float64))
    shifted = [(pre, post + 3 * (k >= 2), tie, n) for k, (pre, post, tie, n) in enumerate(parts)]
    table = SpikeTable(shifted, 5, sources=[0, 1, 0, 1])
    table.weights(ws)
    assert table.targets.shape[0] == 6  # 4 + 2 sources, not a block per projection
    assert table.table.dtype == np.float64
    into_e, into_i = SpikeTable(parts[:2], 3), SpikeTable(parts[2:], 2)
    into_e.weights(ws[:2])
    into_i.weights(ws[2:])
    e_out = np.array([[1, 0, 1, 1], [0, 1, 0, 0], [0, 0, 0, 0]], dtype=np.float32)
    i_out = np.array([[0, 1], [1, 1], [0, 0]], dtype=np.float32)
    for batch in (1, 3):
        fired = [spike_indices(e_out[:batch]), spike_indices(i_out[:batch])]
        got = table.sum(fired, batch, np.float32)
        want = np.concatenate([into_e.sum(fired, batch, np.float32),
                               into_i.sum(fired, batch, np.float32)], axis=1)
        assert got.dtype == np.float32 and got.shape == (batch, 5)
        np.testing.assert_array_equal(got, want)
    assert np.abs(got).sum() > 0


# Two spiking groups connected all ways with delays (the shape of benchmarks/w5_lif.nndl): the
# NumPy module sums all their spikes in one table for the network.
RECURRENT = LIF + """
network recurrent {
    seed 3
    input x[5]
    group e[12] : lif(threshold=0.6)
    group i[4] : lif(threshold=0.4)
    output y[3]
    connect x -> e : full weight uniform(0, 0.5)
    connect e -> e : random(p=0.4) weight normal(0.1, 0.3) delay 1
    connect e -> i : random(p=0.5) weight normal(0.3, 0.2) delay 1
    connect i -> e : random(p=0.5) weight normal(-0.2, 0.2) delay 2
    connect i -> i : one_to_one weight constant(-0.3) delay 1
    connect e -> y : full delay 1
}
"""


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_spikes_of_earlier_ticks_are_one_sum_for_the_network(compile_text, backend, dtype):
    """The network-wide table of earlier ticks' spikes: the same outputs and gradients as the
    dense path, in every backend."""
    if backend == "oo" and dtype == "float32":
        pytest.skip("the OO backend computes in double; float64 covers it")
    text = RECURRENT.replace("OUT", SPIKE)
    if backend == "numpy":
        source = backends.generate(compile_text(text, "numpy").SPEC, "numpy")
        assert ("earlier = self.earlier_spikes.sum([fired['e', 1], fired['i', 2], "
                "fired['i', 1]], batch,") in source
        for columns in ("0:12", "12:16", "16:19"):  # e, i, y: every group spikes reach
            assert f"net = earlier[:, {columns}]" in source
        assert "self.spike_tables[" not in source  # no spike reaches a group in its own tick
    x = np.random.default_rng(2).random((30, 3, 5))
    target = np.random.default_rng(4).random((3, 3))
    results = []
    for out in (SPIKE, OPAQUE):
        net = compile_text(RECURRENT.replace("OUT", out), backend).Network(seed=1, dtype=dtype)
        outputs = net.run({"x": x}, ticks=30, every_tick=True, record=["e", "i"])
        loss, grads = net.loss_and_grad({"x": x[:10]}, {"y": target}, ticks=10)
        results.append((outputs, loss, grads))
    (event, loss_e, g_e), (dense, loss_d, g_d) = results
    tolerance = 1e-10 if dtype == "float64" else 1e-4
    for group in ("e", "i"):
        np.testing.assert_array_equal(event.recorded[group], dense.recorded[group])
    assert event.recorded["e"].sum() > 0 and event.recorded["i"].sum() > 0
    np.testing.assert_allclose(event["y"], dense["y"], rtol=tolerance, atol=tolerance)
    assert loss_e == pytest.approx(loss_d, rel=tolerance)
    for name in g_e:
        np.testing.assert_allclose(g_e[name], g_d[name], rtol=tolerance, atol=tolerance,
                                   err_msg=name)


# Two groups of one model with the same arguments: the NumPy module computes them as one array
# ('e+i'), in the tick after their sums of earlier spikes (`together`), or, where e also gets
# spikes of this tick (from s), side by side from the array's own table and the earlier one.
ALIKE = LIF + """
network alike {
    seed 5
    input x[5]
    SOURCE
    group e[12] : lif(threshold=0.5)
    group i[4] : lif(threshold=0.5)
    output y[3]
    connect x -> e : full weight uniform(0, 0.6)
    connect e -> e : random(p=0.4) weight normal(0.1, 0.3) delay 1
    connect e -> i : random(p=0.5) weight normal(0.3, 0.2) delay 1
    connect i -> e : random(p=0.5) weight normal(-0.2, 0.2) delay 2
    connect i -> i : one_to_one weight constant(-0.3) delay 1
    connect e -> y : full delay 1
    connect i -> y : full
}
"""
ALIKE_SOURCES = {
    "together": ("", "net = earlier  # all of e+i"),
    "side by side": ("group s[6] : lif(threshold=0.3)\n    connect x -> s : full\n"
                     "    connect s -> e : random(p=0.5) weight normal(0.4, 0.2)",
                     "net = np.concatenate([nets['e'], nets['i']], axis=1)"),
}


@pytest.mark.parametrize("case", list(ALIKE_SOURCES))
def test_groups_alike_are_one_array_with_the_numbers_of_one_each(compile_text, case):
    """One model call for e and i (ALIKE), and every output, state and gradient as the OO
    backend computes them group by group; batch 3 (each group's columns a strided view)."""
    source, net_line = ALIKE_SOURCES[case]
    text = ALIKE.replace("SOURCE", source).replace("OUT", SPIKE)
    generated = backends.generate(compile_text(text, "numpy").SPEC, "numpy")
    assert "ALIKE = {'e+i': ('e', 'i')}" in generated and net_line in generated
    tick = generated[generated.index("    def tick("):generated.index("    def _drives(")]
    assert tick.count("model_lif(") == 1 + bool(source)  # s is not alike: other arguments
    x = np.random.default_rng(2).random((30, 3, 5))
    target = np.random.default_rng(4).random((3, 3))
    results = {}
    for backend in ("oo", "numpy"):
        net = compile_text(text, backend).Network(seed=1, dtype="float64")
        outputs = net.run({"x": x}, ticks=30, every_tick=True, record=["e", "i", "e.v", "i.v"])
        loss, grads = net.loss_and_grad({"x": x[:10]}, {"y": target}, ticks=10)
        net.run({"x": x[:7]}, ticks=7)
        results[backend] = outputs, loss, grads, net.states()
    (oo, loss_oo, g_oo, s_oo), (np_, loss_np, g_np, s_np) = results["oo"], results["numpy"]
    for key in ("e", "i", "e.v", "i.v"):
        np.testing.assert_allclose(np_.recorded[key], oo.recorded[key], rtol=1e-12, atol=1e-12)
    assert oo.recorded["e"].sum() > 0 and oo.recorded["i"].sum() > 0
    np.testing.assert_allclose(np_["y"], oo["y"], rtol=1e-12, atol=1e-12)
    assert loss_np == pytest.approx(loss_oo, rel=1e-10)
    for name in g_oo:
        np.testing.assert_allclose(g_np[name], g_oo[name], rtol=1e-9, atol=1e-10, err_msg=name)
    for group in ("e", "i"):
        np.testing.assert_allclose(s_np[group]["v"], s_oo[group]["v"], rtol=1e-12, atol=1e-12)


def test_groups_with_other_arguments_are_not_alike(compile_text):
    """RECURRENT's e and i differ in their threshold: each its own model call."""
    generated = backends.generate(
        compile_text(RECURRENT.replace("OUT", SPIKE), "numpy").SPEC, "numpy")
    assert "ALIKE = {}" in generated


def run_both(compile_text, backend, dtype, batch=3, ticks=25, text=RULES):
    """(event-driven, dense) outputs of every tick, and the modules."""
    results = []
    for out in (SPIKE, OPAQUE):
        module = compile_text(text.replace("OUT", out), backend)
        net = module.Network(seed=1, dtype=dtype)
        x = np.random.default_rng(0).random((ticks, batch, 4, 4))
        results.append(net.run({"x": x}, ticks=ticks, every_tick=True)["y"])
    return results


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_event_driven_equals_dense(compile_text, backend, dtype):
    """Spike for spike (the outputs of y read the spikes through the weights: equal to
    rounding), every rule kind, delays, batch 3."""
    if backend == "oo" and dtype == "float32":
        pytest.skip("the OO backend computes in double; float64 covers it")
    event, dense = run_both(compile_text, backend, dtype)
    tolerance = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(event, dense, rtol=tolerance, atol=tolerance)
    assert np.ptp(event) > 0  # something fired


def test_kept_spikes_carry_over_to_a_run_that_continues(compile_text):
    """run(..., reset=False) reads the spikes of the run before through its delays (the
    NumPy module keeps their indices, SPIKES): 12 ticks then 13 equal 25 at once."""
    net = compile_text(RULES.replace("OUT", SPIKE), "numpy").Network(seed=1, dtype="float64")
    x = np.random.default_rng(0).random((25, 3, 4, 4))
    whole = net.run({"x": x}, every_tick=True)["y"]
    first = net.run({"x": x[:12]}, every_tick=True)["y"]
    rest = net.run({"x": x[12:]}, every_tick=True, reset=False)["y"]
    np.testing.assert_array_equal(np.concatenate([first, rest]), whole)
    assert np.ptp(whole[12:15]) > 0


def test_event_driven_modules_say_so(compile_text):
    numpy_source = backends.generate(
        compile_text(RULES.replace("OUT", SPIKE), "numpy").SPEC, "numpy")
    # this tick's spikes as the model function found them, earlier ticks' as memory kept them
    assert "out['a'], state['v'], fired['a', 0] = model_lif(" in numpy_source
    assert "fired = spiked.ravel().nonzero()[0]" in numpy_source
    assert "fired['b', 3] = memory.spikes('b', 3)" in numpy_source
    assert "SPIKES = {'a': 2, 'b': 3}" in numpy_source
    assert "self.spike_tables['y'].sum([fired['a', 0], fired['b', 3]], batch" in numpy_source
    assert "csr_sum(out['a']" not in numpy_source
    cupy_source = backends.generate(
        compile_text(RULES.replace("OUT", SPIKE), "numpy").SPEC, "cupy")
    assert "event_sum(out['a'], self.events['a->b'], W['a->b'], 16)" in cupy_source
    dense = backends.generate(compile_text(RULES.replace("OUT", OPAQUE), "numpy").SPEC, "numpy")
    assert "self.events[" not in dense
    oo = backends.generate(compile_text(RULES.replace("OUT", SPIKE), "oo").SPEC, "oo")
    assert "spikes=True" in oo and "class SpikingNeuron" in oo


def test_backends_agree_on_spikes(compile_text):
    """oo (spikes handed to outgoing synapses) and numpy (spike tables), float64."""
    results = {}
    for backend in ("oo", "numpy"):
        module = compile_text(RULES.replace("OUT", SPIKE), backend)
        net = module.Network(seed=2, dtype="float64")
        x = np.random.default_rng(3).random((30, 2, 4, 4))
        results[backend] = net.run({"x": x}, ticks=30, every_tick=True)["y"]
    np.testing.assert_allclose(results["oo"], results["numpy"], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradients_through_spikes_equal_the_dense_path(compile_text, backend, dtype):
    """Surrogate gradients: the same numbers whether spikes were summed event by event."""
    if backend == "oo" and dtype == "float32":
        pytest.skip("the OO backend computes in double; float64 covers it")
    grads = []
    for out in (SPIKE, OPAQUE):
        net = compile_text(RULES.replace("OUT", out), backend).Network(seed=1, dtype=dtype)
        x = np.random.default_rng(0).random((12, 2, 4, 4))
        target = np.random.default_rng(1).random((2, 6))
        loss, g = net.loss_and_grad({"x": x}, {"y": target}, ticks=12)
        grads.append((loss, g))
    (loss_e, g_e), (loss_d, g_d) = grads
    tolerance = 1e-10 if dtype == "float64" else 1e-4
    assert loss_e == pytest.approx(loss_d, rel=tolerance)
    assert g_e.keys() == g_d.keys()
    for name in g_e:
        np.testing.assert_allclose(g_e[name], g_d[name], rtol=tolerance, atol=tolerance,
                                   err_msg=name)
    assert any(np.abs(g).max() > 0 for name, g in g_e.items() if name.startswith("a->b"))


def test_nndlc_ir_shows_the_event_layout(compile_text, tmp_path, capsys):
    from nndl.commands.cli import main

    path = tmp_path / "rules.nndl"
    path.write_text(RULES.replace("OUT", SPIKE))
    assert main(["ir", str(path)]) == 0
    listing = capsys.readouterr().out
    row = next(line for line in listing.splitlines() if line.strip().startswith("a->b"))
    assert "numpy: event (csr backwards); cupy: event (csr backwards)" in row
    row = next(line for line in listing.splitlines() if line.strip().startswith("x->a"))
    assert "event" not in row


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
def test_event_kernel_compiles_with_nvcc(compile_text, tmp_path):
    from test_cupy import compile_ptx, cuda_of

    spec = compile_text(RULES.replace("OUT", SPIKE), "numpy").SPEC
    code = cuda_of(backends.generate(spec, "cupy"))
    assert "void event_sum(" in code
    files = compile_ptx(tmp_path, {"events": code})
    assert all(f.with_suffix(".ptx").exists() for f in files)


LEVELS = LIF + """
network levels {
    seed 2
    input x[6]
    group a[12] : lif(threshold=0.6)
    group blob[10] : tanh
    group cells[10] : lif
    output y[3]
    connect x -> a : full weight uniform(0, 0.5)
    connect a -> blob : random(p=0.5)
    connect blob -> blob : random(p=0.4, where=pre.index < post.index)
    connect a -> cells : random(p=0.5) weight uniform(0, 1)
    connect cells -> cells : random(p=0.4, where=pre.index < post.index) weight uniform(0, 1)
    connect blob -> y : full
    connect cells -> y : full delay 1
}
"""


def test_spikes_into_neuron_level_steps(compile_text, backend):
    """Spikes from outside into groups computed neuron by neuron (an activation group, whose
    NumPy step is neuron-major, and a spiking one, whose delay-0 link among its own neurons
    keeps its level-by-level sum)."""
    runs = []
    for out in (SPIKE, OPAQUE):
        module = compile_text(LEVELS.replace("OUT", out), backend)
        x = np.random.default_rng(5).random((20, 2, 6))
        runs.append(module.Network(seed=3, dtype="float64").run({"x": x}, ticks=20,
                                                                every_tick=True)["y"])
    spec = module.SPEC
    events = {p.name for p in spec.projections if p.name in ("a->blob", "a->cells")}
    assert events == {"a->blob", "a->cells"}
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-12, atol=1e-12)
    event_spec = compile_text(LEVELS.replace("OUT", SPIKE), "numpy").SPEC
    assert event_spec.event_driven(event_spec.projections[1])  # a -> blob
    assert not event_spec.event_driven(event_spec.projections[4])  # cells -> cells, inside
    assert event_spec.event_driven(event_spec.projections[6])  # cells -> y, delay 1
