"""`nndlc run`: run a network for some ticks, save what it recorded to .npz with plots; exit codes
0 ok, 1 an error in the program or data, 2 a wrong command line."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import nndl
from nndl.commands.cli import main

# Driven by its own Poisson group: no input, so it just runs.
DRIVEN = """
neuron lif {
    state v = 0.0
    v     = 0.8 * v + net
    fired = v > 1.0
    out   = 1.0 if fired else 0.0
    v     = 0.0 if fired else v
}

network driven {
    seed 3
    group  drive[30] : poisson(rate=0.2)
    output cells[8]  : lif
    connect drive -> cells : random(p=0.4) weight uniform(0.1, 0.5)
}
"""

# With an input, which must be given.
FED = """
network fed {
    input  x[3]
    group  h[4] : tanh
    output y[2] : sigmoid
    connect x -> h : full
    connect h -> y : full
}
"""


@pytest.fixture
def driven(tmp_path):
    path = tmp_path / "driven.nndl"
    path.write_text(DRIVEN)
    return path


@pytest.fixture
def fed(tmp_path):
    path = tmp_path / "fed.nndl"
    path.write_text(FED)
    return path


def test_run_saves_the_recordings_spikes_and_metadata(driven, tmp_path, capsys):
    out = tmp_path / "rec.npz"
    assert main(["run", str(driven), "--ticks", "60", "--record", "cells", "--record",
                 "cells.v", "--record", "drive", "--batch", "2", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ran 60 ticks of a batch of 2" in printed
    expected = nndl.compile(driven).Network().run(ticks=60, batch=2,
                                                  record=["cells", "cells.v", "drive"])
    with np.load(out, allow_pickle=False) as saved:
        for key in ("cells", "cells.v", "drive"):
            np.testing.assert_array_equal(saved[key], expected.recorded[key])
        for field in ("tick", "neuron", "sample"):
            np.testing.assert_array_equal(saved[f"__spikes__.cells.{field}"],
                                          getattr(expected.spikes["cells"], field))
        assert "__spikes__.cells.v.tick" not in saved  # a state: no spikes
        meta = json.loads(str(saved["__meta__"]))
    assert meta["network"] == "driven" and meta["ticks"] == 60 and meta["batch"] == 2
    assert meta["seed"] == 3 and meta["dtype"] == "float32" and meta["backend"] == "numpy"
    assert meta["recorded"] == ["cells", "cells.v", "drive"]
    spikes = expected.spikes["cells"].tick.size
    assert f"cells            (60, 2, 8)  {spikes:,} spikes" in printed
    pytest.importorskip("matplotlib")
    plots = sorted(p.name for p in tmp_path.glob("rec.*.png"))
    assert plots == ["rec.cells.png", "rec.cells.v.png", "rec.drive.png"]
    assert f"saved {out} and {tmp_path / 'rec.cells.png'}" in printed


def test_one_recording_gets_the_plot_asked_for(driven, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "raster.png"
    assert main(["run", str(driven), "--ticks", "20", "--record", "drive", "-o",
                 str(tmp_path / "r.npz"), "--plot", str(plot), "--seed", "4",
                 "--backend", "oo"]) == 0
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert "oo backend (float64, seed 4)" in capsys.readouterr().out


def test_without_matplotlib_the_recordings_are_saved_and_it_says_so(driven, tmp_path,
                                                                     monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "nndl.plot", None)  # `import nndl.plot` fails
    out = tmp_path / "r.npz"
    assert main(["run", str(driven), "--ticks", "5", "-o", str(out)]) == 0
    assert "(no plot: pip install matplotlib for one)" in capsys.readouterr().out
    with np.load(out) as saved:  # every group that is not an input, by default
        assert saved["cells"].shape == (5, 1, 8) and saved["drive"].shape == (5, 1, 30)
    assert list(tmp_path.glob("*.png")) == []


def test_inputs_come_from_npy_files(fed, tmp_path, capsys):
    x = np.random.default_rng(1).normal(size=(7, 3, 3))  # time-varying: 7 ticks, batch 3
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "r.npz"
    assert main(["run", str(fed), "--ticks", "7", "--input", f"x={tmp_path / 'x.npy'}",
                 "--record", "h", "--no-plot", "-o", str(out)]) == 0
    net = nndl.compile(fed).Network()
    with np.load(out) as saved:
        np.testing.assert_array_equal(saved["h"], net.run(x=x, record=["h"]).recorded["h"])
    assert capsys.readouterr().out.rstrip().endswith(f"saved {out}")


@pytest.mark.parametrize("argv, message", [
    (["--record", "hh"], "cannot record `hh`: network `fed` has no group `hh`; did you mean `h`?"),
    (["--record", "h.v"], "group `h` has no state `v`"),
    ([], "network `fed` takes the input x: give each as --input NAME=FILE.npy"),
    (["--input", "x"], "--input takes NAME=FILE.npy; got 'x'"),
    (["--input", "z=z.npy"], "network `fed` has no input `z`"),
])
def test_wrong_command_lines_exit_2(fed, tmp_path, capsys, argv, message):
    if "--input" not in argv:
        np.save(tmp_path / "x.npy", np.ones((1, 3)))
        argv = argv + (["--input", f"x={tmp_path / 'x.npy'}"] if argv else [])
    assert main(["run", str(fed), "--ticks", "2", "-o", str(tmp_path / "r.npz"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.npz").exists()


@pytest.mark.parametrize("make, message", [
    (lambda d: None, "--input x: no such file"),
    (lambda d: (d / "x.npy").write_bytes(b"not an array"), "is not a readable .npy file"),
    (lambda d: np.save(d / "x.npy", np.ones((2, 4))), "input `x` ("),
    (lambda d: np.save(d / "x.npy", np.array([[1.0, np.nan, 0.0]])), "inputs must be finite"),
])
def test_bad_input_files_exit_1_and_write_nothing(fed, tmp_path, capsys, make, message):
    make(tmp_path)
    out = tmp_path / "r.npz"
    assert main(["run", str(fed), "--ticks", "2", "--input", f"x={tmp_path / 'x.npy'}", "-o",
                 str(out)]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_weights_are_loaded_before_the_run(fed, tmp_path):
    net = nndl.compile(fed).Network(seed=9)
    params = net.parameters()
    net.save(tmp_path / "w.npz")
    np.save(tmp_path / "x.npy", np.ones((2, 3)))
    out = tmp_path / "r.npz"
    assert main(["run", str(fed), "--ticks", "3", "--weights", str(tmp_path / "w.npz"),
                 "--input", f"x={tmp_path / 'x.npy'}", "--no-plot", "-o", str(out)]) == 0
    h = np.tanh(np.ones((2, 3)) @ params["x->h.w"].reshape(4, 3).T)  # biases start at 0
    with np.load(out) as saved:
        np.testing.assert_allclose(saved["h"][-1], h, rtol=1e-5)


def test_run_refuses_to_write_over_its_source(driven, capsys):
    before = driven.read_bytes()
    assert main(["run", str(driven), "--ticks", "2", "-o", str(driven), "--no-plot"]) == 1
    assert "refusing to write" in capsys.readouterr().err
    assert driven.read_bytes() == before
