"""Compile examples/digits_mlp.nndl with both backends, run it, and show that they agree.

    python examples/quickstart.py

Uses scikit-learn's bundled 8x8 digits when scikit-learn is installed (`pip install .[examples]`),
otherwise random images. Training arrives with `train` blocks; this run shows the untrained net.
"""

from pathlib import Path

import numpy as np

import nndl

HERE = Path(__file__).resolve().parent


def digit_images(count: int) -> tuple[np.ndarray, str]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        rng = np.random.default_rng(0)
        return rng.uniform(0, 1, size=(count, 8, 8)), "random 8x8 images (no scikit-learn)"
    digits = load_digits()
    return digits.images[:count] / 16.0, "scikit-learn's 8x8 digits"


def main() -> None:
    source = HERE / "digits_mlp.nndl"
    images, what = digit_images(64)
    print(f"NNDL {nndl.__version__}: {source.name} on {len(images)} {what}")
    outputs = {}
    for backend in ("oo", "numpy"):
        module = nndl.compile(source, backend=backend)
        net = module.Network(dtype="float64")  # same seed (the file's) in both backends
        print(f"  {net}")
        outputs[backend] = net.run(image=images)["label"]
    probabilities = outputs["numpy"]
    print("  first 3 samples, class probabilities (numpy backend):")
    for row in probabilities[:3]:
        print("   ", " ".join(f"{p:.3f}" for p in row))
    difference = np.max(np.abs(outputs["oo"] - outputs["numpy"]))
    verdict = "agree" if difference < 1e-9 else "DISAGREE"
    print(f"  oo and numpy {verdict}: largest difference {difference:.2e} over "
          f"{probabilities.size} outputs")


if __name__ == "__main__":
    main()
