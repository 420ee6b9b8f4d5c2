"""Song, Miller & Abbott (2000): train examples/stdp_song.nndl (1000 Poisson inputs onto one
conductance-based integrate-and-fire cell, STDP bounded to [0, wmax]) and show its two results:
the weights part to the two bounds, and the cell's rate comes down and settles.

    python examples/stdp_song.py           # 200 s of the model (800 000 ticks; minutes)
    python examples/stdp_song.py 50        # only the first 50 s

Prints the fractions of the weights near each bound and the rate every 5 s; saves
stdp_song.png (the weight histogram, and the rate over time) with matplotlib. Then checks that
the OO backend, synapse by synapse, learns the NumPy backend's weights on a short run.
"""

import sys
from pathlib import Path

import numpy as np

import nndl

HERE = Path(__file__).resolve().parent
DT = 0.25  # ms a tick (the example's `param dt`)
WMAX = 0.01
EVERY = 5.0  # seconds of the model between two measures of the rate


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 200.0
    module = nndl.compile(HERE / "stdp_song.nndl", backend="numpy")
    net = module.Network(dtype="float64")
    start = net.parameters()["inputs->cell.w"] / WMAX
    ticks = round(EVERY * 1000 / DT)  # one epoch of `fit` for each measure of the rate
    epochs = max(1, round(seconds / EVERY))
    print(f"{epochs * EVERY:g} s of the model ({epochs * ticks:,} ticks of {DT} ms), "
          f"1000 inputs at 15 Hz:")

    def report(epoch: int, history: dict) -> None:
        if epoch % 4 == 0 or epoch == epochs:
            hz = history["output_rate"][-1] * 1000 / DT
            print(f"  {epoch * EVERY:6g} s: the cell fires at {hz:5.1f} Hz")

    history = net.fit(epochs=epochs, ticks=ticks, progress=False, on_epoch=report)
    w = net.parameters()["inputs->cell.w"] / WMAX
    low, high = np.mean(w < 0.1), np.mean(w > 0.9)
    print(f"weights in the bottom tenth of [0, wmax]: {low:.1%} (at the start "
          f"{np.mean(start < 0.1):.1%}), in the top tenth: {high:.1%}; in the middle fifth: "
          f"{np.mean((w > 0.4) & (w < 0.6)):.1%}")
    rates = np.array(history["output_rate"]) * 1000 / DT
    plot(start, w, rates)
    print(backends_agree())


def backends_agree(ticks: int = 400) -> str:
    """The first 0.1 s with the OO and the NumPy backends: the same weights."""
    learned = {}
    for backend in ("oo", "numpy"):
        net = nndl.compile(HERE / "stdp_song.nndl", backend=backend).Network(dtype="float64")
        before = net.parameters()["inputs->cell.w"]
        net.fit(epochs=1, ticks=ticks, progress=False)
        learned[backend] = net.parameters()["inputs->cell.w"]
    moved = np.abs(learned["numpy"] - before).max()
    difference = np.abs(learned["oo"] - learned["numpy"]).max()
    verdict = "agree" if difference < 1e-12 else "DISAGREE"
    return (f"oo and numpy over {ticks} ticks {verdict}: largest difference {difference:.2g} "
            f"(the largest change of a weight: {moved:.2g})")


def plot(start: np.ndarray, w: np.ndarray, rates: np.ndarray) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(install matplotlib to get stdp_song.png)")
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    bins = np.linspace(0, 1, 21)
    left.hist(w, bins=bins, color="black", label="after learning")
    left.hist(start, bins=bins, histtype="step", color="tab:orange", linewidth=2,
              label="at the start")
    left.set_xlabel("weight / wmax")
    left.set_ylabel("synapses")
    left.set_title("STDP parts the weights to the bounds")
    left.legend(loc="upper center")
    times = EVERY * np.arange(1, rates.size + 1)
    right.plot(times, rates, color="black", marker=".")
    right.set_xlabel("time (s of the model)")
    right.set_ylabel("output rate (Hz)")
    right.set_ylim(0, None)
    right.set_title(f"the cell's rate, every {EVERY:g} s")
    fig.tight_layout()
    fig.savefig("stdp_song.png", dpi=100)
    print("saved stdp_song.png (the weight histogram, and the output rate over time)")


if __name__ == "__main__":
    main()
