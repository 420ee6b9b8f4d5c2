"""Recording a run (`run(..., record=[...])`): every tick of any group's output and model states,
the same values in every backend, spikes as index arrays, names and memory checked first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nndl
from nndl.runtime.errors import InputError
from nndl.runtime.recording import Run, Spikes
from nndl.runtime.resources import MemoryLimitError

# A Poisson source and an input drive a hidden group of integrate-and-fire neurons (a state `v`
# and 0/1 outputs) through a delay; a rate group reads it. Nothing here is an output but `rate`.
SPIKING = """
neuron lif {
    param threshold = 0.6
    param leak = 0.8
    state v = 0.0
    v     = leak * v + net
    fired = v > threshold
    out   = 1.0 if fired else 0.0
    v     = 0.0 if fired else v
}

network spiking {
    seed 5
    input  x[3]
    group  noise[8]  : poisson(rate=0.3)
    group  cells[2, 3] : lif
    output rate[2]   : sigmoid
    connect x -> cells     : full weight normal(0.3, 0.1)
    connect noise -> cells : random(p=0.5) weight normal(0.4, 0.2)
    connect cells -> cells : fan_in(k=2) delay 1
    connect cells -> rate  : full
}
"""

TICKS, BATCH = 30, 2
EXAMPLES = Path(__file__).parent.parent / "examples"
KEYS = ["x", "noise", "cells", "cells.v", "rate"]


def recorded_run(compile_text, backend, dtype="float64", ticks=TICKS, **options):
    net = compile_text(SPIKING, backend).Network(dtype=dtype)
    x = np.random.default_rng(0).uniform(0, 1, (ticks, BATCH, 3))
    return net, net.run(x=x, record=KEYS, **options)


def test_every_backend_records_the_same_values(compile_text, backend):
    _, reference = recorded_run(compile_text, "numpy")
    _, result = recorded_run(compile_text, backend)
    assert list(result.recorded) == KEYS
    for key in KEYS:
        assert result.recorded[key].dtype == np.float64
        np.testing.assert_allclose(result.recorded[key], reference.recorded[key], rtol=1e-9,
                                   atol=1e-12, err_msg=key)
    for name in ("noise", "cells"):  # 0/1 outputs: their spikes, index for index
        for field in ("tick", "neuron", "sample"):
            np.testing.assert_array_equal(getattr(result.spikes[name], field),
                                          getattr(reference.spikes[name], field))


def test_recordings_agree_with_what_run_already_shows(compile_text, backend):
    net, result = recorded_run(compile_text, backend)
    assert result.recorded["cells"].shape == (TICKS, BATCH, 2, 3)  # the group's own shape
    assert result.recorded["cells.v"].shape == (TICKS, BATCH, 2, 3)
    np.testing.assert_array_equal(result.recorded["rate"][-1], result["rate"])
    np.testing.assert_allclose(result.recorded["cells.v"][-1], net.states()["cells"]["v"])
    x = np.random.default_rng(0).uniform(0, 1, (TICKS, BATCH, 3))
    np.testing.assert_array_equal(result.recorded["x"], x)  # inputs, as given
    every = net.run(x=x, every_tick=True)["rate"]
    np.testing.assert_array_equal(result.recorded["rate"], every)


def test_the_recorded_potential_follows_the_model(compile_text):
    """v is the state at the end of each tick: reset to 0 where the neuron fired, else below
    the threshold; each tick's out is 1 exactly where it fired."""
    _, result = recorded_run(compile_text, "numpy")
    v, out = result.recorded["cells.v"], result.recorded["cells"]
    assert set(np.unique(out)) == {0.0, 1.0}
    assert np.all(v[out == 1] == 0) and np.all(v[out == 0] <= 0.6)


def test_spikes_are_the_ones_as_index_arrays(compile_text):
    _, result = recorded_run(compile_text, "numpy", dtype="float32")
    assert result.recorded["cells"].dtype == np.float32
    spikes = result.spikes["cells"]
    values = result.recorded["cells"].reshape(TICKS, BATCH, 6)
    assert spikes.tick.size == int(values.sum()) > 0
    assert np.all(values[spikes.tick, spikes.sample, spikes.neuron] == 1)
    assert np.all(np.diff(spikes.tick) >= 0)  # in time order
    tick, neuron = spikes.of_sample(1)
    assert tick.size == int(values[:, 1].sum())
    np.testing.assert_allclose(spikes.rate(), values.mean(axis=(1, 2)))
    np.testing.assert_allclose(spikes.rate(1), values[:, 1].mean(axis=1))
    assert "rate" not in result.spikes and "cells.v" not in result.spikes  # not 0/1: no spikes
    assert repr(spikes).startswith(f"<Spikes: {tick.size + int(values[:, 0].sum())} spikes")


def test_spikes_of_an_empty_run_are_empty():
    spikes = Spikes.of(np.zeros((4, 2, 3)))
    assert spikes.tick.size == 0 and spikes.rate().tolist() == [0.0] * 4


def test_without_record_run_returns_its_outputs_as_before(compile_text, backend):
    net = compile_text(SPIKING, backend).Network(dtype="float64")
    out = net.run(x=np.ones((BATCH, 3)), ticks=5)
    assert isinstance(out, dict) and isinstance(out, Run)
    assert list(out) == ["rate"] and out["rate"].shape == (BATCH, 2)
    assert out.recorded == {} and out.spikes == {}


def test_reset_false_records_the_ticks_of_this_run(compile_text, backend):
    net = compile_text(SPIKING, backend).Network(dtype="float64")
    x = np.random.default_rng(0).uniform(0, 1, (TICKS, BATCH, 3))
    whole = net.run(x=x, record=["cells.v", "noise"]).recorded
    net.run(x=x[:10])
    rest = net.run(x=x[10:], reset=False, record=["cells.v", "noise"]).recorded
    np.testing.assert_allclose(rest["cells.v"], whole["cells.v"][10:], rtol=1e-12)
    np.testing.assert_array_equal(rest["noise"], whole["noise"][10:])


def test_names_are_checked_before_the_run(compile_text):
    net = compile_text(SPIKING, "numpy").Network()
    cases = {"cels": "no group `cels`; did you mean `cells`?",
             "cells.vv": "group `cells` has no state `vv` (its model `lif` has the states v;",
             "rate.v": "it has no neuron model (sigmoid)",
             "noise.v": "its model `poisson` has no states"}
    for name, message in cases.items():
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")
                           .replace("?", r"\?")):
            net.run(x=np.ones((1, 3)), record=[name])
    assert not hasattr(net, "_batch")  # refused before anything ran
    with pytest.raises(InputError, match="record takes names"):
        net.run(x=np.ones((1, 3)), record=[3])
    out = net.run(x=np.ones((1, 3)), ticks=2, record="cells.out")  # one name; `.out`: output
    assert list(out.recorded) == ["cells"]


def test_recordings_count_in_the_memory_check(compile_text, monkeypatch):
    net = compile_text(SPIKING, "numpy").Network(dtype="float64")
    monkeypatch.setenv("NNDL_MEMORY_LIMIT", "6MB")
    x = np.ones((64, 3))
    net.run(x=x, ticks=1000, record=["cells"])  # fits: the run (2.5 MiB) and `cells` (2.9 MiB)
    with pytest.raises(MemoryLimitError, match=r"the most goes to recording `noise` \(1,000 "
                       r"ticks x 64 samples x 8 neurons\): 3.9 MiB; without the recordings the "
                       r"run would fit: record fewer groups or states, fewer ticks or a smaller "
                       r"batch \(the largest, recording `noise`, needs 3.9 MiB\)"):
        net.run(x=x, ticks=1000, record=["cells.v", "noise"])


@pytest.mark.parametrize("example", ["group_dag", "bursting"])
def test_every_group_and_state_of_an_example_is_recorded_alike(backend, example):
    """Neuron-level steps inside a group, skip links, softmax (group_dag); model states
    (bursting): every group and state, in every backend, as the NumPy backend records them."""
    path = EXAMPLES / f"{example}.nndl"
    runs = {}
    for name in dict.fromkeys(("numpy", backend)):
        net = nndl.compile(path, backend=name).Network(dtype="float64")
        keys = [g.name for g in net.SPEC.groups] + [
            f"{group}.{var}" for group, states in net.start_states.items() for var in states]
        x = {g.name: np.random.default_rng(1).normal(size=(6, 2) + g.shape)
             for g in net.SPEC.inputs}
        runs[name] = net.run(x, record=keys).recorded
    assert len(runs["numpy"]) == len(keys) > 3
    for key in keys:
        np.testing.assert_allclose(runs[backend][key], runs["numpy"][key], rtol=1e-9,
                                   atol=1e-12, err_msg=key)


def test_an_input_named_like_a_keyword_of_run_is_warned_of_and_works_in_a_dict(compile_text):
    from nndl.frontend import check_text

    text = ("network n {\n input record[2]\n output y[1] : identity\n"
            " connect record -> y : full\n}\n")
    _, diags = check_text(text, "n.nndl")
    assert [d.message for d in diags.warnings] == [
        "`record` is a keyword argument of Network.run: this input can only be given in a "
        "dict, run({'record': x})"]
    net = compile_text(text, "numpy").Network()
    assert net.run({"record": np.ones((3, 2))}, record=["record"]).recorded["record"].shape == \
        (1, 3, 2)


def test_the_numpy_backend_records_spiking_groups_as_their_indices(backend):
    """A spiking group's recording in the NumPy module is the indices its model function found
    each tick (several samples, groups computed as one array, delays): the same spikes, and
    the same dense 0/1 array when that is read, as every backend's own recording gives; the
    dense array is made only when read."""
    path = Path(__file__).parent.parent / "examples" / "balanced.nndl"
    numpy_net = nndl.compile(path, backend="numpy").Network(dtype="float64")
    other = nndl.compile(path, backend=backend).Network(dtype="float64")
    names = ["drive", "inh", "exc", "exc.v"]
    kept = numpy_net.run(ticks=40, batch=2, record=names)
    assert kept.recorded._dense.keys() == {"exc.v"}  # the spikes: indices only, so far
    assert "exc" in kept.recorded and kept.recorded._dense.keys() == {"exc.v"}
    want = other.run(ticks=40, batch=2, record=names)
    for name in ("drive", "inh", "exc"):
        np.testing.assert_array_equal(kept.recorded[name], want.recorded[name], err_msg=name)
    np.testing.assert_allclose(kept.recorded["exc.v"], want.recorded["exc.v"], rtol=1e-12,
                               atol=1e-12)  # (sums in another order)
    for name in ("drive", "inh", "exc"):
        ours, theirs = kept.spikes[name], want.spikes[name]
        assert ours.tick.size > 0 and np.array_equal(ours.sample, theirs.sample)
        assert np.array_equal(ours.tick, theirs.tick) and np.array_equal(ours.neuron,
                                                                         theirs.neuron)
        assert (ours.ticks, ours.batch, ours.size) == (theirs.ticks, theirs.batch, theirs.size)
    assert set(np.unique(kept.spikes["exc"].sample)) == {0, 1}  # both samples fired
