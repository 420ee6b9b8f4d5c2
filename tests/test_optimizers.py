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


# ---- learning-rate schedules ---------------------------------------------------------------


def torch_cosine_annealing(lr, final_lr, total):
    """PyTorch's CosineAnnealingLR (T_max=total, eta_min=final_lr) stepped once per step, in its
    recursive form (torch.optim.lr_scheduler, `get_lr`): the rate each of `total` steps uses."""
    rates, current = [lr], lr
    for t in range(1, total):
        current = final_lr + (1 + np.cos(np.pi * t / total)) / (
            1 + np.cos(np.pi * (t - 1) / total)) * (current - final_lr)
        rates.append(current)
    return np.array(rates)


@pytest.mark.parametrize("final_lr", [0.0, 0.002])
def test_the_cosine_schedule_is_torchs_cosine_annealing(final_lr):
    from nndl.runtime.learning_rates import rate

    total = 37
    ours = [rate(("cosine", {"final_lr": final_lr}), 0.05, t, total) for t in range(total)]
    np.testing.assert_allclose(ours, torch_cosine_annealing(0.05, final_lr, total), rtol=1e-9)
    assert ours[0] == 0.05 and final_lr < ours[-1] < final_lr + 1e-3


def test_a_regimes_schedule_sets_the_rate_of_every_step(compile_text):
    """fit under `schedule cosine` is Adam whose rate follows the curve step by step (one batch
    per epoch, so the steps are the epochs), written out here with the network's gradients."""
    text = REGIME.replace("OPTIMIZER", "adam(lr=0.05)\n    schedule  cosine(final_lr=0.01)") \
                 .replace("batch     8", "batch     48")
    module = compile_text(text, "numpy")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 4))
    y = np.argmax(x[:, :3], axis=1)
    net = module.Network(dtype="float64")
    net.fit({"x": x}, {"y": y}, progress=False)
    by_hand = module.Network(dtype="float64")
    optimizer = make_optimizer("adam", {"lr": 0.05})
    for step in range(20):
        optimizer.lr = 0.01 + 0.04 * (1 + np.cos(np.pi * step / 20)) / 2
        _, grads = by_hand.loss_and_grad({"x": x}, {"y": y}, loss="cross_entropy")
        params = by_hand._trainable()
        optimizer.step(params, grads)
        by_hand._trained(params)
    for key, value in net.parameters().items():
        np.testing.assert_allclose(value, by_hand.parameters()[key], rtol=1e-9, atol=1e-12)
    constant = module.Network(dtype="float64")
    constant.fit({"x": x}, {"y": y}, schedule="constant", progress=False)
    assert not np.allclose(constant.parameters()["x->hidden.w"], net.parameters()["x->hidden.w"])


def test_fit_refuses_an_unknown_schedule(compile_text):
    from nndl import InputError

    net = compile_text(REGIME.replace("OPTIMIZER", "adam(lr=0.05)"), "numpy").Network()
    with pytest.raises(InputError, match="unknown schedule 'cosin'.*cosine"):
        net.fit({"x": np.zeros((4, 4))}, {"y": np.zeros(4, dtype=int)}, schedule="cosin",
                progress=False)


def test_the_runtimes_schedules_are_the_languages():
    from nndl.frontend.signatures import SCHEDULES
    from nndl.runtime.training import SCHEDULES as RUNTIME

    assert {k: tuple(p.name for p in v) for k, v in SCHEDULES.items()} == RUNTIME
