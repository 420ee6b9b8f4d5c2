"""W5: a recurrent rate network (w5_rate.nndl: 4000 tanh neurons, random(p=0.02), delay 1),
1000 ticks forward, batch 1. Peers: Brian2's Cython and numpy targets, each with its own
synapse order, run by brian2_rate.py in a separate Python that has Brian2 (it needs numpy <
2.3): $NNDL_BRIAN_PYTHON, else /tmp/brian/bin/python (python -m venv /tmp/brian &&
/tmp/brian/bin/pip install brian2 'numpy<2.3' cython); without one, Brian2's rows say so. And
hand-written scipy CSR."""

from __future__ import annotations

import os

import numpy as np

from benchmarks.harness import HERE, Case, Contestant, Goal, check_close, load_data, save_data

TICKS, NEURONS = 1000, 4000
P, SIGMA, SEED = 0.02, 0.05, 5  # as in w5_rate.nndl


def brian_python() -> str:
    return os.environ.get("NNDL_BRIAN_PYTHON", "/tmp/brian/bin/python")


def cases(quick: bool) -> list[Case]:
    brian = {"python": brian_python(), "script": "brian2_rate.py"}
    contestants = [Contestant("nndl", "NNDL numpy backend"),
                   Contestant("cython", "Brian2 Cython target, its own synapse order", **brian),
                   Contestant("cython+setup", "Brian2 Cython target, each run() with the code "
                              "generation it repeats", **brian),
                   Contestant("numpy", "Brian2 numpy target, its own synapse order", **brian),
                   Contestant("scipy", "hand-written scipy CSR")]
    return [Case(f"W5 rate network, {NEURONS} neurons, p={P}, {TICKS} ticks", "w5_rate",
                 contestants, [Goal("nndl", ("cython",), 0.5)], rounds=3 if quick else 7,
                 per=TICKS, unit=" a tick")]


def nndl_contestant(data: str):
    import nndl
    net = nndl.compile(HERE / "w5_rate.nndl", backend="numpy").Network(seed=0)
    q = net.parameters()
    save_data(data, pre=q["r->r.pre"], post=q["r->r.post"], w=q["r->r.w"].astype(np.float64),
              n=NEURONS, init=net.SPEC.group("r").init, bias=float(q["r.bias"][0]), ticks=TICKS,
              p=P, sigma=SIGMA, seed=SEED)
    return lambda: net.run(ticks=TICKS)["r"][0], lambda r: {"r": r}


def scipy_contestant(data: str):
    import scipy.sparse
    q = load_data(data)
    a = scipy.sparse.csr_matrix((q["w"].astype(np.float32), (q["post"], q["pre"])),
                                shape=(NEURONS, NEURONS))
    bias, init = np.float32(q["bias"]), float(q["init"])

    def run():
        r = np.full(NEURONS, init, np.float32)
        for _ in range(TICKS):
            r = np.tanh(a @ r + bias)
        return r
    return run, lambda r: {"r": r}


CONTESTANTS = {"nndl": nndl_contestant, "scipy": scipy_contestant}


def agree(ours: dict, peer: dict, what: str) -> None:
    check_close(f"{what}: final rates", ours["r"], peer["r"])
