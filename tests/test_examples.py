"""Every example compiles with every backend and the backends agree (`nndlc check` and `equiv`)."""

import runpy
import sys
from pathlib import Path

import pytest

from nndl.commands.cli import main

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.nndl"))
SCRIPTS = sorted((ROOT / "examples").glob("*.py"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_checks(path, capsys):
    assert main(["check", str(path)]) == 0
    err = capsys.readouterr().err
    assert "error" not in err
    # a warning is allowed only where the example's own comment explains it
    assert not err or "warns" in path.read_text()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_backends_agree(path, capsys):
    assert main(["equiv", str(path), "--ticks", "2"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("the backends agree")


# scripts whose default run is long: a shorter one that takes the same steps
SCRIPT_ARGUMENTS = {"stdp_song.py": ["5"],  # 5 s of the model instead of 200 (20 000 ticks)
                    "coba.py": ["0.2"]}  # 0.2 s instead of 1 (2 000 ticks)


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_example_script_runs(path, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)  # scripts must find their .nndl files wherever they run from
    monkeypatch.setattr(sys, "argv", [str(path), *SCRIPT_ARGUMENTS.get(path.name, ())])
    runpy.run_path(str(path), run_name="__main__")
    assert "agree" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["delay_line", "reservoir", "bursting"])
def test_examples_with_time_agree_over_100_ticks(name, capsys):
    path = ROOT / "examples" / f"{name}.nndl"
    assert main(["equiv", str(path), "--ticks", "100", "--batch", "2"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("the backends agree")


def test_balanced_network_runs_event_driven_asynchronous_and_irregular():
    """examples/balanced.nndl: every projection carries spikes (event-driven); after a start
    of 100 ticks the excitatory neurons (the output) fire at a few spikes per second,
    irregularly (the coefficient of variation of their intervals near 1, as a Poisson process)
    and never all together."""
    import numpy as np

    import nndl

    module = nndl.compile(ROOT / "examples" / "balanced.nndl", backend="numpy")
    assert all(module.SPEC.event_driven(p) for p in module.SPEC.projections)
    out = module.Network().run(ticks=600, every_tick=True)
    spikes = out["exc"][100:, 0]
    rate = spikes.mean() * 1000  # a tick is 1 ms
    assert 2 < rate < 30, rate
    intervals = [np.diff(np.flatnonzero(cell)) for cell in spikes.T]
    cv = np.mean([d.std() / d.mean() for d in intervals if d.size >= 3])
    assert 0.5 < cv < 1.5, cv
    assert spikes.mean(axis=1).max() < 0.1  # no tick where a tenth of the network fires


def test_balanced_network_spikes_agree_in_oo_and_numpy(tmp_path):
    """The same network a tenth the size (the same number of synapses per neuron): the OO
    backend, whose neurons hand their spikes to their outgoing synapses, fires the NumPy
    backend's spikes, spike for spike."""
    import numpy as np

    import nndl

    text = (ROOT / "examples" / "balanced.nndl").read_text()
    for big, small in [("[3200]", "[320]"), ("[800]", "[80]"), ("[1000]", "[100]"),
                       ("p=0.02", "p=0.2"), ("p=0.05", "p=0.5")]:
        assert big in text
        text = text.replace(big, small)
    (tmp_path / "small.nndl").write_text(text)
    runs = [nndl.compile(tmp_path / "small.nndl", backend=b).Network(dtype="float64")
            .run(ticks=60, every_tick=True) for b in ("oo", "numpy")]
    np.testing.assert_array_equal(runs[0]["exc"], runs[1]["exc"])
    assert runs[1]["exc"].sum() > 0


def test_izhikevich_network_shows_its_alpha_rhythm():
    """Izhikevich 2003's 1000 neurons, drawn in the language: over 1000 ticks (1 ms each) the
    excitatory population's rate has its strongest frequency in 5-15 Hz, as in the paper."""
    import numpy as np

    import nndl

    module = nndl.compile(ROOT / "examples" / "izhikevich_network.nndl", backend="numpy")
    net = module.Network(dtype="float64")
    params = net.parameters()
    c, d = params["exc.c"], params["exc.d"]
    assert -65 <= c.min() and c.max() < -50 and np.allclose(d, 8 - 0.4 * (c + 65))
    assert np.allclose(net.start_states["inh"]["u"], -65 * params["inh.b"])
    spikes = net.run(ticks=1000, every_tick=True)["exc"][:, 0]  # (ticks, 800)
    assert 2 < spikes.mean() * 1000 < 20  # a few spikes per neuron and second
    rate = spikes.sum(axis=1)
    power = np.abs(np.fft.rfft(rate - rate.mean())) ** 2
    frequency = np.fft.rfftfreq(rate.size, d=1e-3)
    assert 5 <= frequency[np.argmax(power)] <= 15
