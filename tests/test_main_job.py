"""The main job, end to end: `nndlc train` on the examples, with the accuracies the README
promises, the files it saves, and its errors."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import nndl
from nndl import datasets
from nndl.commands.cli import main

pytest.importorskip("sklearn")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def train(capsys, name, out, *extra):
    code = main(["train", str(EXAMPLES / name), "--out", str(out), "--quiet", *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads((out / "history.json").read_text()), captured.out


def test_digits_main_job_reaches_97_percent_and_saves_weights_history_and_plot(capsys,
                                                                               tmp_path):
    history, printed = train(capsys, "digits.nndl", tmp_path)
    assert history["test"]["accuracy"] >= 0.97
    assert "test accuracy" in printed and "held-out" in printed
    assert len(history["history"]["loss"]) == 40
    assert history["history"]["loss"][-1] < history["history"]["loss"][0] / 10
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the saved weights give the printed accuracy again, in the other backend too
    ds = datasets.load("digits")
    for backend in ("numpy", "oo"):
        net = nndl.compile(EXAMPLES / "digits.nndl", backend=backend).Network()
        net.load(tmp_path / "digits.npz")
        x = ds.x_test if backend == "numpy" else ds.x_test[:40]
        y = ds.y_test if backend == "numpy" else ds.y_test[:40]
        accuracy = (net.run(image=x)["label"].argmax(-1) == y).mean()
        if backend == "numpy":
            assert accuracy == pytest.approx(history["test"]["accuracy"])
        else:  # float32 weights, float64 arithmetic: the same answers on these 40
            reference = nndl.compile(EXAMPLES / "digits.nndl", backend="numpy").Network()
            reference.load(tmp_path / "digits.npz")
            assert np.array_equal(net.run(image=x)["label"].argmax(-1),
                                  reference.run(image=x)["label"].argmax(-1))


def test_recurrent_digits_read_row_by_row_reach_90_percent(capsys, tmp_path):
    history, _ = train(capsys, "digit_rows.nndl", tmp_path)
    assert history["test"]["accuracy"] >= 0.90


@pytest.mark.parametrize("name", ["xor.nndl", "parity.nndl"])
def test_xor_and_parity_are_learned_exactly(capsys, tmp_path, name):
    history, printed = train(capsys, name, tmp_path)
    assert history["test"]["accuracy"] == 1.0
    assert "the training samples" in printed  # no held-out samples to speak of


def test_resume_continues_from_the_checkpoint(capsys, tmp_path):
    straight, _ = train(capsys, "xor.nndl", tmp_path / "a", "--epochs", "6")
    train(capsys, "xor.nndl", tmp_path / "b", "--epochs", "3")
    resumed, _ = train(capsys, "xor.nndl", tmp_path / "b", "--epochs", "6", "--resume")
    assert resumed["history"] == straight["history"]
    a, b = (np.load(tmp_path / d / "xor.npz") for d in "ab")
    assert all(np.array_equal(a[key], b[key]) for key in a.files if key != "__meta__")


def test_data_of_the_wrong_shape_is_a_clear_error(capsys, tmp_path):
    code = main(["train", str(EXAMPLES / "xor.nndl"), "--data", "digits", "--out",
                 str(tmp_path), "--quiet"])
    assert code == 1
    assert "input `x` of network `xor` takes 2" in capsys.readouterr().err


def test_a_network_without_a_train_block_is_a_clear_error(capsys, tmp_path):
    code = main(["train", str(EXAMPLES / "skip_mlp.nndl"), "--out", str(tmp_path)])
    assert code == 1
    assert capsys.readouterr().err.startswith("error: network `skip_mlp` has no train block")


def test_unknown_data_set_suggests_the_right_one(capsys, tmp_path):
    code = main(["train", str(EXAMPLES / "xor.nndl"), "--data", "digts", "--out",
                 str(tmp_path)])
    assert code == 1
    assert "did you mean `digits`?" in capsys.readouterr().err


def test_user_npz_data_relative_to_the_nndl_file(capsys, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2))
    np.savez(tmp_path / "halves.npz", x_train=x, y_train=(x[:, 0] > 0).astype(np.int64))
    (tmp_path / "halves.nndl").write_text(
        (EXAMPLES / "xor.nndl").read_text().replace("data      xor", 'data      "halves.npz"'))
    out = tmp_path / "out"
    code = main(["train", str(tmp_path / "halves.nndl"), "--out", str(out), "--quiet",
                 "--epochs", "40"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "13 held-out samples" in captured.out  # 20% of 64, held out by nndl.datasets
    assert json.loads((out / "history.json").read_text())["test"]["accuracy"] >= 0.9


# ---- regimes of local rules alone: no loss to report, what the rules did instead ----

HEBB = """
network associative {
    seed 2
    input  x[2]
    output y[2] : tanh
    connect x -> y : full weight normal(0, 0.1)
}

train hebbian {
    data   xor
    learn  x -> y : hebb(rate=0.05, decay=0.1)
    batch  1
    epochs 6
}
"""


def is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_perceptron_trains_on_xor_labels_and_reports_its_accuracy_and_mistakes(capsys,
                                                                                    tmp_path):
    """0/1 labels are the targets of a 1-neuron output, as `fit` takes them; a perceptron
    never settles on XOR, so some of the four are wrong, and the report says how many."""
    history, printed = train(capsys, "perceptron.nndl", tmp_path, "--data", "xor",
                             "--epochs", "8")
    test = history["test"]
    assert set(test) == {"accuracy", "mistakes"}  # the rule minimises no loss
    assert test["mistakes"] == round(4 * (1 - test["accuracy"])) and test["mistakes"] >= 1
    assert f"test accuracy {100 * test['accuracy']:.2f}%, test mistakes {test['mistakes']}" \
        in printed
    curves = history["history"]
    assert "loss" not in curves and len(curves["mistakes"]) == 8
    assert len(curves["test_accuracy"]) == len(curves["test_mistakes"]) == 8
    if importlib.util.find_spec("matplotlib"):
        assert is_png(tmp_path / "loss.png")


def test_the_perceptron_separates_a_linearly_separable_set(capsys, tmp_path):
    """The accuracy of a single neuron is that of its answers, 1 for an output above one half
    (argmax over one neuron always said 0)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    np.savez(tmp_path / "halves.npz", x_train=x, y_train=y)
    history, printed = train(capsys, "perceptron.nndl", tmp_path / "out", "--data",
                             str(tmp_path / "halves.npz"), "--epochs", "20")
    assert history["test"]["accuracy"] >= 0.95
    assert "40 held-out samples" in printed
    net = nndl.compile(EXAMPLES / "perceptron.nndl", backend="numpy").Network()
    net.load(tmp_path / "out" / "perceptron.npz")
    ds = datasets.load(tmp_path / "halves.npz")
    answers = (net.run(x=ds.x_test)["y"][:, 0] > 0.5).astype(np.int64)
    assert (answers == ds.y_test).mean() == pytest.approx(history["test"]["accuracy"])
    assert history["test"]["mistakes"] == int((answers != ds.y_test).sum())


@pytest.mark.parametrize("program, data", [("oja_pca.nndl", "parity(10)"), ("hebb", "xor")])
def test_oja_and_hebb_alone_train_and_plot_what_they_did(capsys, tmp_path, program, data):
    """No loss and no targets to compare with: nothing is evaluated, the weight change of each
    epoch is recorded and plotted."""
    if program == "hebb":
        (tmp_path / "hebb.nndl").write_text(HEBB)
        path = str(tmp_path / "hebb.nndl")
    else:
        path = str(EXAMPLES / program)
    out = tmp_path / "out"
    code = main(["train", path, "--data", data, "--out", str(out), "--epochs", "3"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    history = json.loads((out / "history.json").read_text())
    assert history["test"] == {}
    assert list(history["history"]) == ["weight_change"]
    assert len(history["history"]["weight_change"]) == 3
    assert "nothing to evaluate on the training samples" in captured.out
    assert captured.out.count("  weight change ") == 3  # each epoch's line
    if importlib.util.find_spec("matplotlib"):
        assert is_png(out / "loss.png")
