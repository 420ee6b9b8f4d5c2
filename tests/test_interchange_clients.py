"""NIR against a real client: snnTorch runs what NNDL exports, and NNDL runs what snnTorch
exports, spike for spike over 100 ticks. Marked `clients` (torch is heavy); skipped where
torch or snnTorch is not installed."""

from __future__ import annotations

import numpy as np
import pytest

import nndl
from nndl.interchange import from_nir, to_nir

pytestmark = pytest.mark.clients
nir = pytest.importorskip("nir")
torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
pytest.importorskip("nirtorch")

TICKS = 100

# snnTorch's Leaky with reset_mechanism="zero" and reset_delay=False, tick for tick: the
# potential keeps beta of itself and adds the input, a spike when it passes the threshold,
# and then it is 0. NIR's LIF with forward Euler at snnTorch's dt (1e-4 s) is the same.
SPIKING = """
neuron lif {
    param leak = 0.9
    param threshold = 1.0
    state v = 0.0
    v   = leak * v + net
    out = step(v - threshold)
    v   = v * (1 - out)
}
network spiking {
    seed 4
    input  x[6]
    group  h[10] : lif(leak=0.8)
    output y[3]  : lif(leak=0.9, threshold=0.5)
    connect x -> h : full weight normal(0.3, 0.6)
    connect h -> y : full weight normal(0.2, 0.6)
}
"""


def snntorch_run(module, inputs: np.ndarray) -> np.ndarray:
    """Each tick's output spikes of a module whose neurons keep their own state."""
    spikes = []
    with torch.no_grad():
        for x in inputs:
            out = module(torch.tensor(x, dtype=torch.float32))
            while isinstance(out, tuple):  # (spikes, state) or (spikes, potential)
                out = out[0]
            spikes.append(out.numpy().astype(np.float64))
    return np.stack(spikes)


def test_snntorch_runs_the_exported_network_spike_for_spike(tmp_path):
    from snntorch.import_nir import import_from_nir

    path = tmp_path / "spiking.nndl"
    path.write_text(SPIKING)
    net = nndl.compile(path, backend="numpy", cache=False).Network(dtype="float64")
    nir.write(tmp_path / "spiking.nir", to_nir(net))
    module = import_from_nir(nir.read(tmp_path / "spiking.nir"))
    inputs = np.random.default_rng(0).normal(0.5, 1.0, (TICKS, 4, 6))
    want = net.run({"x": inputs}, ticks=TICKS, every_tick=True)["y"]
    got = snntorch_run(module, inputs)
    assert want.sum() > 50  # a network that spikes (else the test could not fail)
    np.testing.assert_array_equal(got, want)


def test_nndl_runs_what_snntorch_exports_spike_for_spike(tmp_path):
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)

    def leaky(n, beta, threshold, **more):
        return snn.Leaky(beta=torch.full((n,), beta), threshold=torch.full((n,), threshold),
                         init_hidden=True, reset_mechanism="zero", reset_delay=False, **more)

    module = torch.nn.Sequential(torch.nn.Linear(6, 10), leaky(10, 0.8, 1.0),
                                 torch.nn.Linear(10, 3), leaky(3, 0.9, 0.5, output=True))
    graph = export_to_nir(module, torch.zeros(1, 6), ignore_dims=[0])
    nir.write(tmp_path / "snntorch.nir", graph)
    imported = from_nir(tmp_path / "snntorch.nir")
    nndl_path, weights = imported.write(tmp_path / "snntorch.nndl")
    net = nndl.compile(nndl_path, backend="numpy", cache=False).Network(dtype="float64")
    net.load(weights)
    inputs = np.random.default_rng(1).normal(0.5, 1.0, (TICKS, 4, 6))
    for m in module.modules():
        if isinstance(m, snn.Leaky):
            m.reset_mem()
    want = snntorch_run(module, inputs)
    (got,) = net.run({net.SPEC.inputs[0].name: inputs}, ticks=TICKS, every_tick=True).values()
    assert want.sum() > 50
    # snnTorch computes in float32 and NIR stores its float32 parameters: equal spike trains
    # are expected unless a potential comes within float32 rounding (~1e-7) of a threshold
    np.testing.assert_array_equal(got, want)
