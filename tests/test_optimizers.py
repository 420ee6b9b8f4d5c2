"""The optimisers' update rules (nndl.runtime.optimizers) against PyTorch's, written out here as
plain NumPy from torch.optim's documented algorithms: SGD and Adam with an L2 `weight_decay`
added to the gradient, AdamW with the decay decoupled from it. tests/test_peer_torch.py runs
the same steps in torch itself where it is installed."""

from __future__ import annotations

import numpy as np
import pytest

from nndl.runtime.training import make_optimizer


def torch_sgd(p, grads, lr, momentum=0.0, weight_decay=0.0):
    b = None
    for g in grads:
        g = g + weight_decay * p
        b = g if b is None else momentum * b + g  # the buffer starts at the first gradient
        p = p - lr * (b if momentum else g)
    return p


def torch_adam(p, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
               decoupled=False):
    m = v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        p = p - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return p


CASES = [
    ("sgd", {"lr": 0.1, "weight_decay": 0.3}, lambda p, g: torch_sgd(p, g, 0.1, 0, 0.3)),
    ("sgd", {"lr": 0.1, "momentum": 0.8, "weight_decay": 0.3},
     lambda p, g: torch_sgd(p, g, 0.1, 0.8, 0.3)),
    ("adam", {"lr": 0.05, "weight_decay": 0.2}, lambda p, g: torch_adam(p, g, 0.05,
                                                                         weight_decay=0.2)),
    ("adamw", {"lr": 0.05, "weight_decay": 0.2},
     lambda p, g: torch_adam(p, g, 0.05, weight_decay=0.2, decoupled=True)),
    ("adamw", {"lr": 0.05}, lambda p, g: torch_adam(p, g, 0.05, weight_decay=0.01,
                                                    decoupled=True)),  # AdamW's default 0.01
]


@pytest.mark.parametrize("kind, params, reference", CASES)
def test_steps_follow_torch_formulas(kind, params, reference):
    rng = np.random.default_rng(4)
    start = rng.normal(size=6)
    grads = [rng.normal(size=6) for _ in range(5)]
    optimizer = make_optimizer(kind, dict(params))
    values = {"w": start.copy()}
    for g in grads:
        optimizer.step(values, {"w": g})
    np.testing.assert_allclose(values["w"], reference(start, grads), rtol=1e-12, atol=1e-14)


def test_decoupled_decay_differs_from_the_l2_penalty():
    """AdamW's decay is not rescaled by Adam's second moment, so the two part ways."""
    rng = np.random.default_rng(1)
    start, grads = rng.normal(size=4), [rng.normal(size=4) for _ in range(3)]
    coupled = torch_adam(start, grads, 0.05, weight_decay=0.5)
    decoupled = torch_adam(start, grads, 0.05, weight_decay=0.5, decoupled=True)
    assert np.abs(coupled - decoupled).max() > 1e-3
    optimizer, values = make_optimizer("adamw", {"lr": 0.05, "weight_decay": 0.5}), \
        {"w": start.copy()}
    for g in grads:
        optimizer.step(values, {"w": g})
    np.testing.assert_allclose(values["w"], decoupled, rtol=1e-12)


def test_without_a_gradient_adamw_only_decays():
    """A zero gradient moves nothing under Adam; AdamW still shrinks by 1 - lr * decay a step."""
    optimizer, values = make_optimizer("adamw", {"lr": 0.1, "weight_decay": 0.5}), \
        {"w": np.array([2.0, -4.0])}
    for _ in range(3):
        optimizer.step(values, {"w": np.zeros(2)})
    np.testing.assert_allclose(values["w"], np.array([2.0, -4.0]) * 0.95 ** 3)


REGIME = """
network classifier {
    seed 3
    input  x[4]
    group  hidden[6] : tanh
    output y[3]      : softmax
    connect x      -> hidden : full
    connect hidden -> y      : full
}

train decayed {
    loss      cross_entropy
    optimizer OPTIMIZER
    batch     8
    epochs    20
}
"""


def test_a_regimes_weight_decay_keeps_the_weights_smaller(compile_text):
    """`adamw(weight_decay=...)` written in a train block reaches fit: the same run with a
    strong decay ends with smaller weights than without one, and `weight_decay=0` is Adam."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 4))
    y = np.argmax(x[:, :3], axis=1)

    def trained(optimizer):
        net = compile_text(REGIME.replace("OPTIMIZER", optimizer), "numpy").Network(
            dtype="float64")
        net.fit({"x": x}, {"y": y}, progress=False)
        return np.concatenate([v.ravel() for k, v in net.parameters().items()
                               if k.endswith(".w")])

    plain = trained("adam(lr=0.05)")
    np.testing.assert_allclose(trained("adamw(lr=0.05, weight_decay=0)"), plain, rtol=1e-12)
    decayed = trained("adamw(lr=0.05, weight_decay=2)")
    assert np.linalg.norm(decayed) < 0.7 * np.linalg.norm(plain)
