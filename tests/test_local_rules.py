"""Local learning rules (hebb, oja, perceptron) against known results, by hand, and across
backends; and regimes that mix a loss with a local rule."""

from pathlib import Path

import numpy as np
import pytest

import nndl
from nndl.runtime.training import TrainingError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

MIXED = """
network mixed {{
    seed 5
    input  x[4]
    group  features[3] : {activation}
    output y[2] : softmax
    connect x -> features : full weight normal(0, 0.3)
    connect features -> y : full
}}
train both {{
    loss  cross_entropy
    optimizer sgd(lr=0.1)
    learn x -> features : {rule}
    batch 8
    epochs 3
}}
"""


def correlated(dim: int, seed: int, n: int = 500):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(dim, dim))
    return rng.multivariate_normal(np.zeros(dim), mixing @ mixing.T / dim, size=n)


@pytest.mark.parametrize("dim, seed", [(2, 0), (2, 5), (10, 0), (10, 1)])
def test_oja_converges_to_the_leading_eigenvector(dim, seed, tmp_path):
    source = (EXAMPLES / "oja_pca.nndl").read_text().replace("x[10]", f"x[{dim}]")
    (tmp_path / "oja.nndl").write_text(source)
    net = nndl.compile(tmp_path / "oja.nndl", backend="numpy").Network(dtype="float64")
    x = correlated(dim, seed)
    net.fit({"x": x}, {}, progress=False)
    w = net.parameters()["x->y.w"]
    _, vectors = np.linalg.eigh(np.cov(x.T))
    assert abs(w @ vectors[:, -1]) / np.linalg.norm(w) > 0.99
    assert np.linalg.norm(w) == pytest.approx(1.0, abs=0.05)  # Oja keeps |w| near 1


def perceptron_mistakes(x, y, epochs, backend="numpy"):
    net = nndl.compile(EXAMPLES / "perceptron.nndl", backend=backend).Network(dtype="float64")
    return net.fit({"x": x}, {"y": y}, epochs=epochs, progress=False)["mistakes"]


def test_the_perceptron_separates_a_separable_set_in_finitely_many_updates():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(100, 2))
    labels = (points @ np.array([1.0, -2.0]) + 0.3 > 0).astype(np.int64)
    mistakes = perceptron_mistakes(points, labels, 50)
    first = mistakes.index(0)  # raises if it never converged
    assert all(m == 0 for m in mistakes[first:])  # once separated, nothing moves again


def test_the_perceptron_does_not_converge_on_xor():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    assert min(perceptron_mistakes(x, np.array([0, 1, 1, 0]), 300)) > 0


@pytest.mark.parametrize("rule, activation", [("hebb(rate=0.05, decay=0.01)", "tanh"),
                                              ("oja(rate=0.05)", "tanh"),
                                              ("hebb(rate=0.02)", "identity")])
def test_every_rule_agrees_across_backends_over_several_epochs(rule, activation, tmp_path):
    (tmp_path / "m.nndl").write_text(MIXED.format(rule=rule, activation=activation))
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(24, 4)), rng.integers(0, 2, size=24)
    weights = {}
    for backend in ("oo", "numpy"):
        net = nndl.compile(tmp_path / "m.nndl", backend=backend).Network(dtype="float64")
        net.fit({"x": x}, {"y": y}, progress=False)
        weights[backend] = net.parameters()
    for key, value in weights["numpy"].items():
        np.testing.assert_allclose(weights["oo"][key], value, rtol=1e-9, atol=1e-12)


def test_the_perceptron_agrees_across_backends():
    rng = np.random.default_rng(2)
    points, labels = rng.normal(size=(30, 2)), rng.integers(0, 2, size=30)
    assert perceptron_mistakes(points, labels, 5, "oo") == \
        perceptron_mistakes(points, labels, 5, "numpy")


def test_a_mixed_regime_changes_the_local_projection_by_the_rule_alone(tmp_path):
    """One batch of all the samples: the Hebbian projection moves by exactly
    rate * <post * pre> - decay * w; the readout is trained by the gradient (and its loss falls
    over a few epochs)."""
    (tmp_path / "m.nndl").write_text(MIXED.format(rule="hebb(rate=0.05, decay=0.01)",
                                                  activation="tanh"))
    module = nndl.compile(tmp_path / "m.nndl", backend="numpy")
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(16, 4)), rng.integers(0, 2, size=16)
    net = module.Network(dtype="float64")
    before = net.parameters()
    features = np.tanh(x @ before["x->features.w"].reshape(3, 4).T + before["features.bias"])
    net.fit({"x": x}, {"y": y}, epochs=1, batch=16, progress=False)
    after = net.parameters()
    expected = 0.05 * (features.T @ x / 16).reshape(-1) - 0.01 * before["x->features.w"]
    np.testing.assert_allclose(after["x->features.w"] - before["x->features.w"], expected,
                               rtol=1e-10, atol=1e-14)
    assert not np.array_equal(after["features->y.w"], before["features->y.w"])  # the gradient's
    history = module.Network(dtype="float64").fit({"x": x}, {"y": y}, epochs=20,
                                                  progress=False)
    assert history["loss"][-1] < history["loss"][0]
    assert len(history["weight_change"]) == 20


def test_a_diverging_hebbian_rule_stops_with_a_clear_error(tmp_path):
    (tmp_path / "m.nndl").write_text(MIXED.format(rule="hebb(rate=1e30)", activation="identity")
                                     .replace("loss  cross_entropy\n", "")
                                     .replace("optimizer sgd(lr=0.1)\n", ""))
    net = nndl.compile(tmp_path / "m.nndl", backend="numpy").Network(dtype="float64")
    x = np.random.default_rng(0).normal(size=(64, 4)) * 1e3
    with pytest.raises(TrainingError, match=r"local rule's change of `x->features.w`|not finite"):
        net.fit({"x": x}, {}, epochs=10, progress=False)


def test_a_perceptron_without_targets_is_an_input_error():
    net = nndl.compile(EXAMPLES / "perceptron.nndl", backend="numpy").Network()
    with pytest.raises(nndl.runtime.errors.InputError, match="no targets given"):
        net.fit({"x": np.zeros((4, 2))}, {}, progress=False)
