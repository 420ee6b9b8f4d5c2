"""PyTorch as a peer for named input sums: a GRU written as an NNDL neuron model (each gate
summing its own connections, `target z` / `sum(z)`) against torch.nn.GRU given the same
weights, in float64: the output at every tick, the loss and every gradient -- the six weight
matrices, the biases of `net` and the gates' trainable per-neuron biases."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

GRU = """
neuron gru_unit {
    param bz  = 0.3 * randn() trainable
    param br  = 0.3 * randn() trainable
    param bhn = 0.3 * randn() trainable
    state h = 0.0
    z   = sigmoid(sum(z) + bz)
    r   = sigmoid(sum(r) + br)
    n   = tanh(net + r * (sum(hn) + bhn))
    h   = (1 - z) * n + z * h
    out = h
}
network gru {
    seed 7
    input  x[3]
    group  memory[5] : gru_unit
    output y[2]      : identity
    connect x      -> memory : full weight normal(0, 0.6)
    connect x      -> memory : full as x_z target z weight normal(0, 0.6)
    connect x      -> memory : full as x_r target r weight normal(0, 0.6)
    connect memory -> memory : full delay 1 as h_z target z weight normal(0, 0.6)
    connect memory -> memory : full delay 1 as h_r target r weight normal(0, 0.6)
    connect memory -> memory : full delay 1 as h_n target hn weight normal(0, 0.6)
    connect memory -> y      : full
}
"""
TICKS, BATCH = 7, 4
# the NNDL names of torch.nn.GRU's weights, in its order (reset, update, new)
INPUT_WEIGHTS, HIDDEN_WEIGHTS = ("x_r", "x_z", "x->memory"), ("h_r", "h_z", "h_n")


def dense(arrays, spec, name):
    p = next(p for p in spec.projections if p.name == name)
    w = np.zeros((spec.group(p.dst).size, spec.group(p.src).size))
    w[arrays[f"{name}.post"], arrays[f"{name}.pre"]] = arrays[f"{name}.w"]
    return w


def torch_gru(arrays, spec):
    """torch.nn.GRU with NNDL's weights; biases: b_ir + b_hr = br, b_iz + b_hz = bz,
    b_in = the group's bias (of `net`), b_hn = bhn."""
    gru = torch.nn.GRU(3, 5, dtype=torch.float64)
    hidden = arrays["memory.bias"].size
    zero = np.zeros(hidden)
    with torch.no_grad():
        gru.weight_ih_l0.copy_(torch.tensor(np.vstack([dense(arrays, spec, n)
                                                       for n in INPUT_WEIGHTS])))
        gru.weight_hh_l0.copy_(torch.tensor(np.vstack([dense(arrays, spec, n)
                                                       for n in HIDDEN_WEIGHTS])))
        gru.bias_ih_l0.copy_(torch.tensor(np.concatenate(
            [arrays["memory.br"], arrays["memory.bz"], arrays["memory.bias"]])))
        gru.bias_hh_l0.copy_(torch.tensor(np.concatenate([zero, zero, arrays["memory.bhn"]])))
    readout = torch.nn.Linear(5, 2, dtype=torch.float64)
    with torch.no_grad():
        readout.weight.copy_(torch.tensor(dense(arrays, spec, "memory->y")))
        readout.bias.copy_(torch.tensor(arrays["y.bias"]))
    return gru, readout


def test_a_gru_model_computes_what_torch_gru_computes(compile_text, backend, tmp_path):
    net = compile_text(GRU, backend).Network(dtype="float64")
    path = tmp_path / "gru.npz"
    net.save(path)
    arrays = dict(np.load(path, allow_pickle=False))
    assert arrays["memory.bz"].shape == (5,) and np.abs(arrays["memory.bz"]).min() > 0
    gru, readout = torch_gru(arrays, net.SPEC)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(TICKS, BATCH, 3))
    wanted = rng.normal(size=(TICKS, BATCH, 2))
    states, _ = gru(torch.tensor(x))  # (ticks, batch, hidden): torch's default layout
    out = readout(states)
    loss = torch.nn.MSELoss()(out, torch.tensor(wanted))
    loss.backward()
    np.testing.assert_allclose(net.run({"x": x}, every_tick=True)["y"], out.detach().numpy(),
                               rtol=1e-12, atol=1e-13)
    value, grads = net.loss_and_grad({"x": x}, {"y": wanted}, loss="mse", every_tick=True)
    assert abs(value - loss.item()) <= 1e-12
    hidden = 5
    torch_grads = {}
    for names, matrix in ((INPUT_WEIGHTS, gru.weight_ih_l0), (HIDDEN_WEIGHTS, gru.weight_hh_l0)):
        for k, name in enumerate(names):
            torch_grads[name] = matrix.grad.numpy()[k * hidden:(k + 1) * hidden]
    torch_grads["memory->y"] = readout.weight.grad.numpy()
    for name, want in torch_grads.items():
        got = dense({**arrays, f"{name}.w": grads[f"{name}.w"]}, net.SPEC, name)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13, err_msg=name)
    b_ih, b_hh = gru.bias_ih_l0.grad.numpy(), gru.bias_hh_l0.grad.numpy()
    # the gates' biases enter both of torch's bias vectors alike: either one's gradient
    for key, want in (("memory.br", b_ih[:hidden]), ("memory.bz", b_ih[hidden:2 * hidden]),
                      ("memory.bias", b_ih[2 * hidden:]), ("memory.bhn", b_hh[2 * hidden:]),
                      ("y.bias", readout.bias.grad.numpy())):
        np.testing.assert_allclose(grads[key], want, rtol=1e-10, atol=1e-13, err_msg=key)
