"""A regime without data: a network without inputs, driven by its own Poisson groups, runs for
its ticks and learns by its local rules after every tick — from fit() and from nndlc train —
with the weights a hand computation from its recorded spikes gives, in every backend."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nndl.commands.cli import main
from nndl.frontend import check_text
from nndl.runtime.errors import InputError

RATE, TICKS, EPOCHS, BATCH = 0.05, 12, 2, 3


def source(delay: int) -> str:
    return f"""
network drive {{
    seed 7
    group  src[5]   : poisson(rate=0.4)
    output cells[2] : identity
    connect src -> cells : full weight normal(0.2, 0.3) delay {delay}
}}
train local for drive {{
    ticks  {TICKS}
    epochs {EPOCHS}
    batch  {BATCH}
    learn src -> cells : oja(rate={RATE})
}}
"""


def by_hand(spikes: np.ndarray, w: np.ndarray, delay: int):
    """Oja's rule after every tick, from the source's spikes (ticks, batch, 5): the weights at
    the end, and the mean |change| of each epoch."""
    w = w.copy()
    changes = []
    for t in range(spikes.shape[0]):
        x = spikes[t - delay] if t >= delay else np.zeros_like(spikes[0])  # as delivered
        y = x @ w.T  # the identity neurons' outputs (their biases stay 0)
        dw = RATE * (y[:, :, None] * (x[:, None, :] - y[:, :, None] * w)).mean(axis=0)
        w += dw
        changes.append(np.abs(dw).mean())
    return w, np.mean(np.reshape(changes, (EPOCHS, TICKS)), axis=1)


@pytest.mark.parametrize("delay", [0, 2])
def test_local_rules_learn_without_data_as_a_hand_computation_says(compile_text, backend,
                                                                     delay):
    module = compile_text(source(delay), backend)
    spikes = module.Network(dtype="float64").run(ticks=EPOCHS * TICKS + 1, batch=BATCH,
                                                 record=["src"]).recorded["src"]
    spikes, next_tick = spikes[:-1], spikes[-1]
    assert 0 < spikes.mean() < 1  # the source fires, and not always
    net = module.Network(dtype="float64")
    w0 = net.parameters()["src->cells.w"].reshape(2, 5)
    history = net.fit(progress=False)
    want, per_epoch = by_hand(spikes, w0, delay)
    got = net.parameters()["src->cells.w"].reshape(2, 5)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert np.abs(got - w0).max() > 1e-3  # the rule changed the weights
    np.testing.assert_allclose(history["weight_change"], per_epoch, rtol=1e-9)
    np.testing.assert_array_equal(net.parameters()["cells.bias"], 0)
    # the run went on for every tick of both epochs: a run that continues it draws the next
    after = net.run(ticks=1, reset=False, batch=BATCH, record=["src"]).recorded["src"]
    np.testing.assert_array_equal(after[0], next_tick)


def test_fit_without_data_takes_overrides_and_runs_on(compile_text):
    net = compile_text(source(0), "numpy").Network(dtype="float64")
    history = net.fit(epochs=3, ticks=4, batch=1, progress=False)
    assert len(history["weight_change"]) == 3
    continued = net.run(ticks=2, reset=False)  # from where the training run ended
    assert continued["cells"].shape == (1, 2)


def test_what_needs_targets_is_refused_without_data(compile_text):
    net = compile_text(source(0), "numpy").Network()
    with pytest.raises(InputError, match="regime `local` trains by the loss mse, which compares "
                       "the outputs with targets; network `drive` has no inputs"):
        net.fit(loss="mse", progress=False)
    with pytest.raises(InputError, match="takes no validation"):
        net.fit(validation=({}, {}), progress=False)
    before = net.parameters()["src->cells.w"].copy()
    with pytest.raises(InputError, match="takes no checkpoint"):
        net.fit(checkpoint="c.npz", progress=False)
    np.testing.assert_array_equal(net.parameters()["src->cells.w"], before)


def test_a_network_with_inputs_still_needs_its_data(compile_text):
    net = compile_text("network n {\n input x[2]\n output y[1] : sigmoid\n"
                       " connect x -> y : full\n}\n", "numpy").Network()
    with pytest.raises(InputError, match=r"fit\(\) needs data for the inputs of network `n` "
                       r"\(`x`\); only a network without inputs runs on its own"):
        net.fit(progress=False)


@pytest.mark.parametrize("statement, message", [
    ("loss mse", "a loss needs targets, and network `drive` has no inputs"),
    ("data xor", "network `drive` has no input for the data to feed"),
    ("learn src -> cells : perceptron(rate=0.1)", "the perceptron rule learns from targets, and "
                                                  "network `drive` has no inputs"),
])
def test_targets_and_data_without_inputs_are_compile_errors(statement, message):
    text = source(0).replace("    learn src -> cells : oja(rate=0.05)", f"    {statement}")
    if "learn" not in statement:  # keep the rule, so that only the statement is wrong
        text = text.replace("batch", "learn src -> cells : oja(rate=0.05)\n    batch")
    _, diags = check_text(text, "drive.nndl")
    errors = [d for d in diags.items if d.severity == "error"]
    assert len(errors) == 1 and errors[0].message.startswith(message), errors
    assert "learns from its own activity, by local rules" in errors[0].hint


def test_rewiring_without_data_counts_ticks(compile_text):
    text = source(0).replace("    learn src -> cells : oja(rate=0.05)",
                             "    learn src -> cells : oja(rate=0.05)\n"
                             "    rewire src -> cells : prune(below=0.25) every 5")
    net = compile_text(text, "numpy").Network(dtype="float64")
    history = net.fit(progress=False)
    assert history["synapses"][-1] < 10  # weights below 0.25 pruned, every 5 ticks
    assert net.parameters()["src->cells.w"].size == history["synapses"][-1]


def test_nndlc_train_runs_a_regime_without_data(tmp_path, capsys):
    path = tmp_path / "drive.nndl"
    path.write_text(source(1))
    out = tmp_path / "out"
    assert main(["train", str(path), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "ran on its own (no data) and learned by its local rules" in printed
    saved = json.loads((out / "history.json").read_text())
    assert len(saved["history"]["weight_change"]) == EPOCHS and saved["test"] == {}
    assert (out / "drive.npz").exists() and not (out / "checkpoint.npz").exists()
    assert main(["train", str(path), "--out", str(out), "--quiet", "--resume"]) == 1
    assert "cannot resume" in capsys.readouterr().err
