"""The main job, end to end: `nndlc train` on the examples, with the accuracies the README
promises, the files it saves, and its errors."""

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
