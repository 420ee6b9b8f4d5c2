"""Run examples/coba.nndl, the conductance-based balanced network, and show what it does: the
excitatory and inhibitory neurons fire asynchronously (the population rate stays level, no
network-wide bursts) and irregularly (inter-spike intervals as variable as a Poisson process's,
or more).

    python examples/coba.py           # 1 s of the model (10 000 ticks of 0.1 ms)
    python examples/coba.py 0.2       # 0.2 s

Prints the rates, the spread of the intervals and of the population rate; saves coba.png (the
raster of the excitatory neurons, with matplotlib when installed). Then checks that the OO
backend, neuron by neuron and synapse by synapse, fires the same spikes over 30 ticks.
"""

import sys
from pathlib import Path

import numpy as np

import nndl

HERE = Path(__file__).resolve().parent
DT = 0.1  # ms a tick (the model's `param dt`)


def irregularity(spikes: np.ndarray) -> float:
    """The median coefficient of variation of the inter-spike intervals, over the neurons with
    at least four spikes (1 for a Poisson process); `spikes` is (ticks, neurons) of 0/1."""
    found = []
    for neuron in range(spikes.shape[1]):
        intervals = np.diff(np.flatnonzero(spikes[:, neuron]))
        if intervals.size >= 3:
            found.append(intervals.std() / intervals.mean())
    return float(np.median(found)) if found else float("nan")


def synchrony(spikes: np.ndarray, ticks_per_bin: int = 10) -> float:
    """The population's spike count per 1 ms bin: its variance over its mean (about 1 for
    independent neurons, far above it for network-wide bursts)."""
    usable = spikes.shape[0] // ticks_per_bin * ticks_per_bin
    counts = spikes[:usable].reshape(-1, ticks_per_bin, spikes.shape[1]).sum(axis=(1, 2))
    return float(counts.var() / counts.mean())


def measure(seconds: float) -> dict:
    net = nndl.compile(HERE / "coba.nndl", backend="numpy").Network(dtype="float64")
    ticks = round(seconds * 1000 / DT)
    result = net.run(ticks=ticks, record=["exc", "inh"])
    settled = ticks // 5  # leave out the first fifth: the start from random potentials
    found = {"result": result, "ticks": ticks}
    for name in ("exc", "inh"):
        spikes = result.recorded[name][settled:, 0]
        found[name] = {"rate": spikes.mean() * 1000 / DT, "cv": irregularity(spikes),
                       "synchrony": synchrony(spikes)}
    return found


def backends_agree(ticks: int = 30) -> float:
    """The largest difference between the OO and NumPy backends' spikes and potentials."""
    runs = []
    for backend in ("oo", "numpy"):
        net = nndl.compile(HERE / "coba.nndl", backend=backend).Network(dtype="float64")
        runs.append(net.run(ticks=ticks, record=["exc", "inh", "exc.v", "inh.ge"]).recorded)
    return max(float(np.abs(runs[0][k] - runs[1][k]).max()) for k in runs[1])


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    found = measure(seconds)
    print(f"{seconds:g} s of the model ({found['ticks']:,} ticks of {DT} ms), "
          "measured after its first fifth:")
    for name in ("exc", "inh"):
        m = found[name]
        print(f"  {name}: {m['rate']:5.1f} spikes/s a neuron, interval CV {m['cv']:.2f}, "
              f"population variance/mean {m['synchrony']:.1f}")
    plot(found["result"])
    difference = backends_agree()
    print(f"oo and numpy {'agree' if difference == 0 else 'DISAGREE'} over 30 ticks "
          f"(largest difference {difference:.1e})")


def plot(result) -> None:
    try:
        from nndl import plot as plots
    except ImportError:  # matplotlib is an extra
        print("(pip install matplotlib to draw coba.png)")
        return
    plots.raster(result, "coba.png", group="exc",
                 title="examples/coba.nndl: the excitatory neurons' spikes")
    print("saved coba.png")


if __name__ == "__main__":
    main()
