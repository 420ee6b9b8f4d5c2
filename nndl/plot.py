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



def pruning_curves(removed, before, after, path: str | os.PathLike, *, removed_after=None,
                   synapses: dict | None = None, baseline: float | None = None,
                   synapses_label: str = "synapses", title: str = "") -> None:
    """Test accuracy (fractions in [0, 1]) against the fraction of synapses removed: right after
    pruning (`before`) and after fine-tuning (`after`, drawn at `removed_after`, the fraction
    removed at the end, when regrowth or further pruning changed it), then the fine-tuned ones
    close up, with `baseline` (the unpruned network's accuracy) and the band 2 points below it.
    `synapses` = {fraction removed: counts} adds a panel with the synapse count over
    fine-tuning: entry 0 is the count right after pruning, entry i the count after epoch i."""
    panels = 3 if synapses else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4.2), squeeze=False)
    axes = axes[0]
    asked = [100 * r for r in removed]
    at_end = asked if removed_after is None else [100 * r for r in removed_after]
    before = [100 * a for a in before]
    after = [100 * a for a in after]
    whole, close = axes[0], axes[1]
    whole.plot(asked, before, marker="o", color="tab:red", label="right after pruning")
    whole.plot(at_end, after, marker="s", color="tab:blue", label="after fine-tuning")
    close.plot(at_end, after, marker="s", color="tab:blue", label="after fine-tuning")
    for x, a in zip(at_end, after):
        close.annotate(f"{a:.2f}", (x, a), textcoords="offset points", xytext=(0, -13),
                       ha="center", fontsize=8, color="tab:blue")
    low = min(before + after)
    whole.set_ylim(max(0.0, 10 * (low // 10) - 5), 101)
    whole.set_title("test accuracy", fontsize=10)
    close.set_title("after fine-tuning, close up", fontsize=10)
    lows = after[:]
    if baseline is not None:
        for ax in (whole, close):
            ax.axhline(100 * baseline, color="grey", linestyle="--", linewidth=1,
                       label=f"unpruned ({100 * baseline:.1f}%)")
            ax.axhspan(100 * baseline - 2, 100 * baseline, color="grey", alpha=0.15,
                       label="within 2 points of it")
        lows.append(100 * baseline - 2)
    close.set_ylim(min(lows) - 1, max(after + lows) + 1)
    for ax in (whole, close):
        ax.set_xlabel("synapses removed (%)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_xlim(-3, 103)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize=8)
    if synapses:
        count = axes[2]
        for fraction, counts in synapses.items():
            count.plot(range(len(counts)), counts, marker="o", markersize=3,
                       label=f"{100 * fraction:.0f}% removed")
        count.set_title("synapse count while fine-tuning", fontsize=10)
        count.set_xlabel("fine-tuning epoch (0: right after pruning)")
        count.set_ylabel(synapses_label)
        count.set_yscale("log")
        count.xaxis.get_major_locator().set_params(integer=True)
        count.grid(alpha=0.3, which="both")
        count.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
