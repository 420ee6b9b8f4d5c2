"""W5: a recurrent rate network (w5_rate.nndl: 4000 tanh neurons, random(p=0.02), delay 1),
1000 ticks forward, batch 1. Peers: Brian2's numpy and Cython targets, run by brian2_rate.py in
a separate Python that has Brian2 (it needs numpy < 2.3): $NNDL_BRIAN_PYTHON, else
/tmp/brian/bin/python (python -m venv /tmp/brian && /tmp/brian/bin/pip install brian2
'numpy<2.3' cython); without one, Brian2 is skipped. And hand-written scipy CSR in-process."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse

import nndl
from benchmarks.harness import HERE, Row, check_close, interleaved

TICKS = 1000


def brian_python() -> str | None:
    path = os.environ.get("NNDL_BRIAN_PYTHON", "/tmp/brian/bin/python")
    return path if Path(path).exists() else None


def brian(python: str, weights: Path, target: str) -> tuple[float, np.ndarray]:
    """Seconds for TICKS steps (the best of the runs after the first, which generates and
    compiles the code: Brian2's best case) and the final rates."""
    result = subprocess.run([python, str(HERE / "brian2_rate.py"), str(weights), target,
                             str(TICKS)], capture_output=True, text=True, check=True)
    times = [float(t) for t in result.stdout.split()]
    return min(times[1:]), np.load(f"{weights}.r.npy")


def hand_scipy(q, bias: float, init: float):
    a = scipy.sparse.csr_matrix((q["r->r.w"], (q["r->r.post"], q["r->r.pre"])), shape=(4000,
                                                                                       4000))

    def run():
        r = np.full(4000, init, np.float32)
        for _ in range(TICKS):
            r = np.tanh(a @ r + bias)
        return r
    return run


def run(quick: bool) -> list[Row]:
    net = nndl.compile(HERE / "w5_rate.nndl", backend="numpy").Network(seed=0)
    q = net.parameters()
    bias, init = float(q["r.bias"][0]), net.SPEC.group("r").init
    ours = net.run(ticks=TICKS)["r"][0]
    peer = hand_scipy(q, bias, init)
    check_close("W5 vs hand scipy", ours, peer())
    t = interleaved({"ours": lambda: net.run(ticks=TICKS), "scipy": peer}, 3 if quick else 7)
    name = f"W5 rate network, 4000 neurons, p=0.02, {TICKS} ticks (per tick)"
    per = {k: v / TICKS for k, v in t.items()}
    rows = [Row(name, "hand-written scipy CSR", per["ours"], per["scipy"])]
    python = brian_python()
    if python is None:
        return rows
    with tempfile.TemporaryDirectory(prefix="nndl-bench-") as folder:
        weights = Path(folder) / "w5.npz"
        np.savez(weights, pre=q["r->r.pre"], post=q["r->r.post"],
                 w=q["r->r.w"].astype(np.float64), n=4000, init=init, bias=bias)
        found = {}
        for target in ("numpy", "cython"):
            seconds, rates = brian(python, weights, target)
            check_close(f"W5 vs Brian2 ({target})", ours, rates)
            found[target] = seconds / TICKS
    best = min(found, key=found.get)
    for target, seconds in found.items():
        rows.append(Row(name, f"Brian2 {target} target" + (" (best)" if target == best else ""),
                        per["ours"], seconds, 0.4 if target == best else None))
    return rows
