"""W5 LIF: a sparse spiking network (w5_lif.nndl: 3200 excitatory and 800 inhibitory
fixed-point LIF neurons after Brian2's CUBA benchmark, random(p=0.02), delay 1), 1000 ticks,
batch 1, float32 and float64, the raster recorded: by each peer as its users record spikes
(Brian2's SpikeMonitor, the hand loop's list of indices) and by NNDL's `run(record=[...])`,
which keeps a spiking group's spike indices (the context row: NNDL's every tick's outputs as
dense arrays instead). NNDL computes it event-driven (spike tables). Peers: Brian2's Cython target at its defaults (brian2_lif.py, in the Python of
w5_rate.py's brian_python), and a hand-written event-driven NumPy loop (one source-major padded
table over all 4000 neurons, one bincount a tick). All start from v = g = 0 (per-neuron
starting values are another item of the spiking issue). Every peer gets NNDL's synapses and
must give NNDL's raster spike for spike before it is timed (the arithmetic is on whole numbers,
so exact in any order: see w5_lif.nndl)."""

from __future__ import annotations

import numpy as np

from benchmarks.harness import HERE, BenchmarkError, Case, Contestant, Goal, load_data, save_data
from benchmarks.w5_rate import brian_python

TICKS, SIZES = 1000, {"exc": 3200, "inh": 800}
NEURONS = sum(SIZES.values())
THRESHOLD, DRIVE = 200.0, 14.0  # as in w5_lif.nndl


def cases(quick: bool) -> list[Case]:
    brian = {"python": brian_python(), "script": "brian2_lif.py"}
    found = []
    for dtype in ("float32",) if quick else ("float32", "float64"):
        contestants = [Contestant("nndl", f"NNDL numpy backend, {dtype}"),
                       Contestant("nndl_dense", f"NNDL numpy backend, {dtype}, every tick's "
                                                "outputs as dense arrays (every_tick=True)"),
                       Contestant("cython", "Brian2 Cython target (float64, its default)",
                                  **brian),
                       Contestant("hand", f"hand-written event-driven NumPy, {dtype}")]
        found.append(Case(f"W5 LIF network, {NEURONS} neurons, p=0.02, {TICKS} ticks, {dtype}",
                          "w5_lif", contestants,
                          [Goal("nndl", ("cython",), 1.0), Goal("nndl", ("hand",), 1.2)],
                          rounds=3 if quick else 7, settings={"dtype": dtype}, per=TICKS,
                          unit=" a tick"))
    return found


def _offsets() -> dict[str, int]:
    return {"exc": 0, "inh": SIZES["exc"]}


def raster(out: dict) -> dict:
    """(tick, neuron) of every spike, neurons numbered exc then inh, sorted by tick, neuron."""
    spikes = np.concatenate([out["exc"][:, 0], out["inh"][:, 0]], axis=1)
    ticks, neurons = np.nonzero(spikes)
    return {"ticks": ticks, "neurons": neurons}


def recorded_raster(run) -> dict:
    """The same, from what run(..., record=["exc", "inh"]) kept: each group's spikes."""
    at = _offsets()
    ticks = np.concatenate([run.spikes[name].tick for name in at])
    neurons = np.concatenate([run.spikes[name].neuron + at[name] for name in at])
    order = np.lexsort((neurons, ticks))
    return {"ticks": ticks[order], "neurons": neurons[order]}


def nndl_contestant(data: str, dtype: str):
    net = _nndl_network(data, dtype)
    return lambda: net.run(ticks=TICKS, record=["exc", "inh"]), recorded_raster


def nndl_dense_contestant(data: str, dtype: str):
    net = _nndl_network(data, dtype)
    return lambda: net.run(ticks=TICKS, every_tick=True), raster


def _nndl_network(data: str, dtype: str):
    import nndl
    net = nndl.compile(HERE / "w5_lif.nndl", backend="numpy").Network(dtype=dtype)
    q, at = net.parameters(), _offsets()
    pre, post, w = [], [], []
    for p in net.SPEC.projections:
        pre.append(q[f"{p.name}.pre"] + at[p.src])
        post.append(q[f"{p.name}.post"] + at[p.dst])
        w.append(q[f"{p.name}.w"].astype(np.float64))
    save_data(data, pre=np.concatenate(pre), post=np.concatenate(post), w=np.concatenate(w),
              n=NEURONS, ticks=TICKS, threshold=THRESHOLD, drive=DRIVE)
    return net


def hand_contestant(data: str, dtype: str):
    q = load_data(data)
    pre, post, n = q["pre"], q["post"], int(q["n"])
    order = np.argsort(pre, kind="stable")  # source-major, padded to the largest fan-out
    counts = np.bincount(pre, minlength=n)
    column = np.arange(pre.size) - np.repeat(np.cumsum(counts) - counts, counts)
    # pads go to bins past the last neuron, one per column: all in one bin, bincount's adds
    # into it would each wait for the one before (NNDL's SpikeTable does the same)
    targets = np.tile(n + np.arange(counts.max()), (n, 1))
    weights = np.zeros((n, counts.max()))
    targets[pre[order], column], weights[pre[order], column] = post[order], q["w"][order]
    bins = n + counts.max()
    dt, threshold, drive = np.dtype(dtype), q["threshold"], q["drive"]

    def run():
        v, g = np.zeros(n, dt), np.zeros(n, dt)
        fired, spikes = np.zeros(0, np.int64), []
        for _ in range(TICKS):
            net = np.bincount(targets.take(fired, axis=0).ravel(),
                              weights.take(fired, axis=0).ravel(), bins)[:n]
            g = np.floor(0.75 * g)
            g += net
            v = np.floor(0.9375 * v)
            v += g
            v += drive
            fired = np.flatnonzero(v >= threshold)
            v[fired] = 0.0
            spikes.append(fired)
        return spikes

    def result(spikes):
        ticks = np.repeat(np.arange(len(spikes)), [s.size for s in spikes])
        return {"ticks": ticks, "neurons": np.concatenate(spikes)}
    return run, result


CONTESTANTS = {"nndl": nndl_contestant, "nndl_dense": nndl_dense_contestant,
               "hand": hand_contestant}


def agree(ours: dict, peer: dict, what: str) -> None:
    """The same raster, spike for spike (in the order of tick, then neuron)."""
    order = np.lexsort((peer["neurons"], peer["ticks"]))
    theirs = peer["ticks"][order], peer["neurons"][order]
    if ours["ticks"].size != theirs[0].size:
        raise BenchmarkError(f"{what}: {ours['ticks'].size} spikes against {theirs[0].size}")
    if not (np.array_equal(ours["ticks"], theirs[0]) and
            np.array_equal(ours["neurons"], theirs[1])):
        first = int(np.flatnonzero((ours["ticks"] != theirs[0]) |
                                   (ours["neurons"] != theirs[1]))[0])
        raise BenchmarkError(f"{what}: the rasters differ from spike {first} on "
                             f"(tick {ours['ticks'][first]})")
    if ours["ticks"].size == 0:
        raise BenchmarkError(f"{what}: no neuron fired")
