"""Rosenblatt's perceptron (examples/perceptron.nndl): it separates a linearly separable set in
finitely many updates, and keeps making mistakes on XOR, which no line separates.

    python examples/perceptron.py
"""

from pathlib import Path

import numpy as np

import nndl

HERE = Path(__file__).resolve().parent


def mistakes_per_epoch(x: np.ndarray, y: np.ndarray, epochs: int,
                       backend: str = "numpy") -> list[int]:
    net = nndl.compile(HERE / "perceptron.nndl", backend=backend).Network(dtype="float64")
    return net.fit({"x": x}, {"y": y}, epochs=epochs, progress=False)["mistakes"]


def main() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(100, 2))
    labels = (points @ np.array([1.0, -2.0]) + 0.3 > 0).astype(np.int64)
    separable = mistakes_per_epoch(points, labels, 50)
    first = separable.index(0) + 1
    print(f"separable set, mistakes per epoch: {separable[:first]}: none from epoch {first} on")
    xor = mistakes_per_epoch(np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float),
                             np.array([0, 1, 1, 0]), 200)
    print(f"XOR, mistakes per epoch (last 10 of 200): {xor[-10:]}; fewest {min(xor)}")
    same = mistakes_per_epoch(points, labels, 5, "oo") == separable[:5]
    print("the oo backend makes the same mistakes: the backends "
          + ("agree" if same else "DISAGREE"))


if __name__ == "__main__":
    main()
