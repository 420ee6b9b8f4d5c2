"""Plots of training runs, with matplotlib (an optional extra: `pip install 'nndl[examples]'`).

Files only, never a window: the Agg backend draws without a display.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display is needed or wanted

import matplotlib.pyplot as plt  # noqa: E402


def training_curves(history: dict, path: str | os.PathLike, title: str = "") -> None:
    """Loss per epoch (training and, when present, test), and test accuracy beside it."""
    has_accuracy = bool(history.get("test_accuracy"))
    fig, axes = plt.subplots(1, 2 if has_accuracy else 1, figsize=(10 if has_accuracy else 5.5,
                                                                   4), squeeze=False)
    epochs = range(1, len(history["loss"]) + 1)
    loss = axes[0][0]
    loss.plot(epochs, history["loss"], marker="o", markersize=3, label="training")
    if history.get("test_loss"):
        loss.plot(epochs, history["test_loss"], marker="o", markersize=3, label="test")
    loss.set_xlabel("epoch")
    loss.set_ylabel("loss")
    loss.set_yscale("log")
    loss.grid(alpha=0.3)
    loss.legend()
    if has_accuracy:
        accuracy = axes[0][1]
        accuracy.plot(epochs, [100 * a for a in history["test_accuracy"]], marker="o",
                      markersize=3, color="tab:green")
        accuracy.set_xlabel("epoch")
        accuracy.set_ylabel("test accuracy (%)")
        accuracy.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
