"""PyTorch as a peer for trainable neuron parameters: a small spiking network of PLIF neurons
(Fang et al., ICCV 2021: the membrane keeps sigmoid(w) of its input each tick, with w learnt)
declared in NNDL, re-implemented in PyTorch from its weight file with the same surrogate
gradient, and the loss and every gradient -- weights, biases and each group's w, shared or per
neuron -- compared in float64."""

from __future__ import annotations

import numpy as np
import pytest

from nndl.ir.derivatives import SLOPE

torch = pytest.importorskip("torch")

PLIF = """
neuron plif {
    param w = 0.5 trainable     # sigmoid(w): the fraction of its input the membrane takes
    param threshold = 1.0
    state v = 0.0
    v   = v + sigmoid(w) * (net - v)
    out = step(v - threshold)   # a spike; its gradient is the surrogate's
    v   = v * (1 - out)         # reset to 0 after a spike
}
network plif_net {
    seed 4
    input  x[5]
    group  hidden[6] : plif                                  # one w for the group
    output spikes[3] : plif(w = -0.5 + rand() + 0.1 * index)  # a w per neuron
    connect x -> hidden      : full weight normal(0.5, 0.8)
    connect hidden -> spikes : full weight normal(0.4, 0.6)
}
"""
TICKS, BATCH = 8, 4
TOLERANCE = 1e-10


class Spike(torch.autograd.Function):
    """step(x) forwards; backwards NNDL's surrogate, SLOPE * s (1 - s) with s = sigmoid(SLOPE x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(SLOPE * x)
        return grad * SLOPE * s * (1 - s)


def tensors(path, spec):
    """The weight file as tensors that require gradients: dense (post, pre) matrices, biases and
    each group's w."""
    arrays = np.load(path, allow_pickle=False)
    found = {}
    for p in spec.projections:
        w = np.zeros((spec.group(p.dst).size, spec.group(p.src).size))
        w[arrays[f"{p.name}.post"], arrays[f"{p.name}.pre"]] = arrays[f"{p.name}.w"]
        found[p.name] = w
    for key in ("hidden.bias", "spikes.bias", "hidden.w", "spikes.w"):
        found[key] = arrays[key]
    return {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in found.items()}, \
        arrays


def plif_tick(v, net, w):
    v = v + torch.sigmoid(w) * (net - v)
    out = Spike.apply(v - 1.0)
    return v * (1 - out), out


def torch_run(t, x):
    v_hidden, v_spikes = torch.zeros(BATCH, 6, dtype=torch.float64), \
        torch.zeros(BATCH, 3, dtype=torch.float64)
    outs = []
    for tick in range(TICKS):
        net = t["hidden.bias"] + torch.tensor(x[tick]) @ t["x->hidden"].T
        v_hidden, hidden = plif_tick(v_hidden, net, t["hidden.w"])
        net = t["spikes.bias"] + hidden @ t["hidden->spikes"].T
        v_spikes, spikes = plif_tick(v_spikes, net, t["spikes.w"])
        outs.append(spikes)
    return torch.stack(outs)


def test_plif_gradients_match_pytorch(compile_text, backend, tmp_path):
    net = compile_text(PLIF, backend).Network(dtype="float64")
    path = tmp_path / "plif.npz"
    net.save(path)
    t, arrays = tensors(path, net.SPEC)
    assert t["hidden.w"].shape == (1,) and t["spikes.w"].shape == (3,)
    rng = np.random.default_rng(3)
    x = rng.normal(0.6, 1.0, size=(TICKS, BATCH, 5))
    wanted = rng.uniform(0, 1, size=(TICKS, BATCH, 3))
    out = torch_run(t, x)
    assert 0 < out.detach().numpy().mean() < 1  # some spikes, not all
    loss = torch.nn.MSELoss()(out, torch.tensor(wanted))
    loss.backward()
    assert np.array_equal(net.run({"x": x}, every_tick=True)["spikes"], out.detach().numpy())
    value, grads = net.loss_and_grad({"x": x}, {"spikes": wanted}, loss="mse", every_tick=True)
    assert abs(value - loss.item()) <= TOLERANCE
    for p in net.SPEC.projections:
        want = t[p.name].grad.numpy()[arrays[f"{p.name}.post"], arrays[f"{p.name}.pre"]]
        np.testing.assert_allclose(grads[f"{p.name}.w"], want, rtol=1e-9, atol=1e-12)
    for key in ("hidden.bias", "spikes.bias", "hidden.w", "spikes.w"):
        np.testing.assert_allclose(grads[key], t[key].grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=key)
    assert np.abs(grads["hidden.w"]).sum() > 0 and np.abs(grads["spikes.w"]).min() > 0
