"""PyTorch as a peer for grids of one and three axes: a shared `local(radius=1,
metric=chebyshev, shared=true, axes=K)` kernel is `conv1d` (K = 1) or `conv3d` (K = 3) with
padding 1 (circular padding with `wrap`). The weight file's kernel, reshaped to PyTorch's
(out channels, in channels, *kernel), gives the same outputs, and the same weight gradients of
the same mse loss, in float64."""

from __future__ import annotations

from string import Template

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (an optional peer)")
F = torch.nn.functional

CONV = Template("""
network conv {
    seed 12
    input  x[2, $grid]
    output y[3, $grid] : identity bias none
    connect x -> y : local(radius=1, metric=chebyshev, shared=true, wrap=$wrap, axes=$axes) as k
}
""")
GRIDS = {1: "40", 3: "5, 4, 6"}  # a signal; a volume (or a clip: x, y and time)
TOLERANCE = 1e-10
BATCH = 4


def torch_kernel(w: np.ndarray, axes: int):
    """NNDL's kernel, entries by (source map, target map, offset) with the offsets in sorted
    order (DESIGN.md, Geometry), as PyTorch's (out channels, in channels, 3, ...)."""
    kernel = w.reshape((2, 3) + (3,) * axes).swapaxes(0, 1)
    return torch.tensor(np.ascontiguousarray(kernel), dtype=torch.float64, requires_grad=True)


def torch_convolution(x: np.ndarray, kernel, axes: int, wrap: bool):
    x = torch.tensor(x, dtype=torch.float64)
    conv = {1: F.conv1d, 3: F.conv3d}[axes]
    if wrap:
        return conv(F.pad(x, (1, 1) * axes, mode="circular"), kernel)
    return conv(x, kernel, padding=1)


def assert_close(actual, expected, what):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected)
    assert actual.shape == expected.shape, what
    scale = max(1.0, float(np.max(np.abs(expected))))
    assert float(np.max(np.abs(actual - expected))) <= TOLERANCE * scale, what


@pytest.mark.parametrize("axes", [1, 3], ids=["conv1d", "conv3d"])
@pytest.mark.parametrize("wrap", [False, True], ids=["zero-padded", "circular"])
def test_a_shared_kernel_is_pytorchs_convolution(compile_text, backend, axes, wrap):
    text = CONV.substitute(grid=GRIDS[axes], wrap=str(wrap).lower(), axes=axes)
    net = compile_text(text, backend).Network(dtype="float64")
    shape = net.SPEC.group("x").shape
    rng = np.random.default_rng(axes)
    x = rng.normal(size=(BATCH,) + shape)
    target = rng.normal(size=(BATCH, 3) + shape[1:])
    w = net.parameters()["k.w"]
    assert w.size == 2 * 3 * 3 ** axes

    kernel = torch_kernel(w, axes)
    out = torch_convolution(x, kernel, axes, wrap)
    assert_close(net.run(x=x)["y"], out.detach().numpy(), "outputs")

    loss, grads = net.loss_and_grad({"x": x}, {"y": target}, loss="mse")
    peer_loss = F.mse_loss(out, torch.tensor(target, dtype=torch.float64))
    peer_loss.backward()
    assert_close(loss, peer_loss.item(), "loss")
    expected = kernel.grad.numpy().swapaxes(0, 1).reshape(-1)  # back to NNDL's entry order
    assert_close(grads["k.w"], expected, "weight gradients")
