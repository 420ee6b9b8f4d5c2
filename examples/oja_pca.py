"""Oja's rule as principal component analysis: train examples/oja_pca.nndl on correlated
Gaussian data and compare its weights with the leading eigenvector from numpy.linalg.eigh.

    python examples/oja_pca.py
"""

from pathlib import Path

import numpy as np

import nndl

HERE = Path(__file__).resolve().parent


def main() -> None:
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(10, 10))
    covariance = mixing @ mixing.T / 10
    x = rng.multivariate_normal(np.zeros(10), covariance, size=500)
    net = nndl.compile(HERE / "oja_pca.nndl", backend="numpy").Network(dtype="float64")
    history = net.fit({"x": x}, {})  # Oja's rule needs no targets
    w = net.parameters()["x->y.w"]
    values, vectors = np.linalg.eigh(np.cov(x.T))
    cosine = abs(w @ vectors[:, -1]) / np.linalg.norm(w)
    print(f"after {len(history['weight_change'])} epochs: |w| = {np.linalg.norm(w):.4f}, "
          f"cosine with the leading eigenvector = {cosine:.5f} "
          f"(eigenvalues {values[-1]:.3f}, {values[-2]:.3f}, ...)")
    # The OO backend, neuron by neuron, learns the same weights (two epochs: it is slow).
    learned = {}
    for backend in ("oo", "numpy"):
        net = nndl.compile(HERE / "oja_pca.nndl", backend=backend).Network(dtype="float64")
        net.fit({"x": x}, {}, epochs=2, progress=False)
        learned[backend] = net.parameters()["x->y.w"]
    difference = np.abs(learned["oo"] - learned["numpy"]).max()
    print(f"oo and numpy backends after 2 epochs: largest difference {difference:.2g} "
          f"({'they agree' if difference < 1e-9 else 'they DISAGREE'})")


if __name__ == "__main__":
    main()
