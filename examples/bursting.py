"""Drive the bursting neurons of examples/bursting.nndl with a constant input and show the bursts.

    python examples/bursting.py            # prints the bursts; saves bursting.png with matplotlib

Both backends run the same 300 ticks; the script checks they agree and counts the bursts.
"""

from pathlib import Path

import numpy as np

import nndl

HERE = Path(__file__).resolve().parent
TICKS = 300


def bursts(trace: np.ndarray, threshold: float = 0.5) -> list[tuple[int, int]]:
    """(first tick, last tick) of each run of ticks where the output is above the threshold."""
    on = np.r_[False, trace > threshold, False]
    edges = np.flatnonzero(np.diff(on.astype(int)))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def run(backend: str) -> dict:
    net = nndl.compile(HERE / "bursting.nndl", backend=backend).Network(dtype="float64")
    current = np.ones((1, 1))  # one sample, the same input every tick
    return net.run(current=current, ticks=TICKS, every_tick=True)


def main() -> None:
    outputs = {backend: run(backend) for backend in ("oo", "numpy")}
    trace = outputs["numpy"]["adapting"][:, 0, 0]
    found = bursts(trace)
    print(f"an adaptive neuron under constant input, {TICKS} ticks: {len(found)} bursts")
    print("  " + "".join("#" if x > 0.5 else "." for x in trace[:120]) + " ...")
    print("  bursts (first tick, last tick):", found)
    damped = outputs["numpy"]["damped"][:, 0, 0]
    print(f"the damped `bursting` model swings from {damped.max():.3f} and settles at "
          f"{damped[-1]:.3f}")
    difference = max(np.abs(outputs["oo"][k] - outputs["numpy"][k]).max() for k in outputs["oo"])
    print(f"oo and numpy {'agree' if difference < 1e-9 else 'DISAGREE'}: largest difference "
          f"{difference:.2e}")
    plot(watch_states())


def watch_states() -> dict[str, np.ndarray]:
    """Output and state of the first adaptive neuron, tick by tick (reset=False continues)."""
    net = nndl.compile(HERE / "bursting.nndl", backend="numpy").Network(dtype="float64")
    trace = {"out": [], "v": [], "a": []}
    for tick in range(TICKS):
        out = net.run(current=np.ones((1, 1)), reset=(tick == 0))
        state = net.states()["adapting"]
        trace["out"].append(out["adapting"][0, 0])
        trace["v"].append(state["v"][0, 0])
        trace["a"].append(state["a"][0, 0])
    return {name: np.array(values) for name, values in trace.items()}


def plot(trace: dict[str, np.ndarray]) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(install matplotlib to get bursting.png)")
        return
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 4.5), sharex=True)
    top.plot(trace["out"], color="black")
    top.set_ylabel("output")
    top.set_title("an adaptive neuron under constant input: bursts")
    bottom.plot(trace["v"], label="v (potential)")
    bottom.plot(trace["a"], label="a (adaptation)")
    bottom.set_xlabel("tick")
    bottom.set_ylabel("state")
    bottom.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig("bursting.png", dpi=100)
    print("saved bursting.png (output, potential and adaptation over the ticks)")


if __name__ == "__main__":
    main()
