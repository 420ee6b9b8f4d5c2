"""Losses and optimisers (PyTorch's definitions), checked by hand, by finite differences, and
against PyTorch itself where it is installed."""

import numpy as np
import pytest

from nndl import InputError
from nndl.runtime.losses import cross_entropy, mse
from nndl.runtime.optimizers import SGD, Adam

RNG = np.random.default_rng(0)


def numeric_gradient(loss, z, h=1e-6):
    grad = np.zeros_like(z)
    for index in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (loss(up)[0] - loss(down)[0]) / (2 * h)
    return grad


def test_mse_is_the_mean_of_squares_and_its_gradient():
    y, t = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    loss, grad = mse(y, t)
    assert loss == pytest.approx(np.mean((y - t) ** 2))
    np.testing.assert_allclose(grad, numeric_gradient(lambda v: mse(v, t), y), atol=1e-8)


@pytest.mark.parametrize("kind", ["indices", "probabilities"])
def test_cross_entropy_from_logits(kind):
    z = RNG.normal(size=(5, 4)) * 3
    if kind == "indices":
        t = np.array([0, 3, 1, 1, 2])
        expected = np.mean([-np.log(np.exp(z[i, t[i]]) / np.exp(z[i]).sum()) for i in range(5)])
    else:
        t = RNG.dirichlet(np.ones(4), size=5)
        expected = np.mean([-(t[i] * np.log(np.exp(z[i]) / np.exp(z[i]).sum())).sum()
                            for i in range(5)])
    loss, grad = cross_entropy(z, t)
    assert loss == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(grad, numeric_gradient(lambda v: cross_entropy(v, t), z),
                               atol=1e-8)


def test_cross_entropy_is_stable_for_huge_logits():
    loss, grad = cross_entropy(np.array([[1000.0, -1000.0, 0.0]]), np.array([1]))
    assert np.isfinite(loss) and loss == pytest.approx(2000.0)
    assert np.isfinite(grad).all()


@pytest.mark.parametrize("target", [np.array([0, 4]), np.array([0.5, 1.0]), np.zeros((2, 5))])
def test_bad_targets_are_clear_errors(target):
    with pytest.raises(InputError, match="cross_entropy"):
        cross_entropy(np.zeros((2, 3)), target)
    with pytest.raises(InputError, match="mse"):
        mse(np.zeros((2, 3)), np.zeros((3, 2)))


def test_sgd_with_momentum_by_hand():
    p, opt = {"w": np.array([1.0, -1.0])}, SGD(lr=0.1, momentum=0.9)
    grads = [np.array([1.0, 2.0]), np.array([0.5, -1.0]), np.array([0.0, 1.0])]
    v, w = None, np.array([1.0, -1.0])
    for g in grads:
        v = g if v is None else 0.9 * v + g
        w = w - 0.1 * v
        opt.step(p, {"w": g})
    np.testing.assert_allclose(p["w"], w)


def test_adam_by_hand_and_its_state_round_trip():
    p, opt = {"w": np.array([0.3, -0.2])}, Adam(lr=0.01)
    m, v, w = np.zeros(2), np.zeros(2), np.array([0.3, -0.2])
    grads = [RNG.normal(size=2) for _ in range(5)]
    for step, g in enumerate(grads, start=1):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - 0.01 * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
        opt.step(p, {"w": g})
    np.testing.assert_allclose(p["w"], w, rtol=1e-12)
    again = Adam(lr=0.01)
    again.load_state(opt.state())
    q, extra = {"w": p["w"].copy()}, RNG.normal(size=2)
    opt.step(p, {"w": extra})
    again.step(q, {"w": extra})
    np.testing.assert_array_equal(p["w"], q["w"])


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    z, t = RNG.normal(size=(6, 5)), np.array([0, 4, 2, 2, 1, 3])
    tz = torch.tensor(z, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(tz, torch.tensor(t))
    expected.backward()
    loss, grad = cross_entropy(z, t)
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, tz.grad.numpy(), rtol=1e-10)
    w0, grads = RNG.normal(size=3), [RNG.normal(size=3) for _ in range(4)]
    for ours, theirs in [(SGD(0.1, 0.9), lambda q: torch.optim.SGD(q, lr=0.1, momentum=0.9)),
                         (Adam(0.01), lambda q: torch.optim.Adam(q, lr=0.01))]:
        tw = torch.tensor(w0.copy(), requires_grad=True)
        reference, params = theirs([tw]), {"w": w0.copy()}
        for g in grads:
            tw.grad = torch.tensor(g)
            reference.step()
            ours.step(params, {"w": g})
        np.testing.assert_allclose(params["w"], tw.detach().numpy(), rtol=1e-12)
