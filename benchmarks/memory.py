"""M: resident memory of W2 and W3, NNDL against PyTorch's dense weight x mask and CSR. Each
contestant runs in its own process (benchmarks/worker.py: it imports only what it needs), builds
the workload, runs two steps and reports its resident memory after building and its peak.

    python -m benchmarks --only M [--quick]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks import w2_local, w3_recurrent
from benchmarks.harness import BenchmarkError, Worker

CONTESTANTS = {"W2": ("nndl", "dense", "csr"),
               "W3": ("nndl_bptt", "torch_dense_bptt", "torch_csr_bptt")}
LABELS = ("NNDL", "PyTorch dense weight x mask", "PyTorch sparse_csr_tensor")


def run(quick: bool, pause: float = 0.0):
    """No timed rows; the notes hold a Markdown table, built MiB / peak MiB per contestant."""
    found = [("W2", 64)] if quick else \
        [("W2", 32), ("W2", 64), ("W2", 128), ("W3", 1024), ("W3", 2048), ("W3", 4096)]
    lines = ["| workload | size | " + " | ".join(f"{label}: built / peak" for label in LABELS)
             + " |", "|---|---|" + "---|" * len(LABELS)]
    for workload, size in found:
        cells = [_cell(workload, size, key) for key in CONTESTANTS[workload]]
        label = f"{size}x{size}" if workload == "W2" else f"{size} neurons"
        lines.append(f"| {workload} | {label} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    intro = ("Resident memory (MiB), each contestant in a process of its own: after importing "
             "and building, and the peak over two steps:")
    return [], [intro + "\n\n" + "\n".join(lines)]


def _cell(workload: str, size: int, key: str) -> str:
    if workload == "W2":
        case = w2_local.cases(False)[w2_local.GRIDS.index(size)]
        if size > w2_local.LARGEST.get(key, size):
            return "(not run: too large)"
    else:
        case = next(c for c in w3_recurrent.cases(False)
                    if c.settings["n"] == size and c.name.endswith("BPTT"))
    first = case.contestants[0]
    contestant = next(c for c in case.contestants if c.key == key)
    worker = None
    with tempfile.TemporaryDirectory(prefix="nndl-bench-") as folder:
        data = Path(folder) / "data.npz"
        try:
            if key != first.key:
                Worker(case, first, Path(folder), data).stop()  # writes the shared data
            worker = Worker(case, contestant, Path(folder), data)
            worker.time(2)
            built, peak = worker.memory()
        except BenchmarkError as e:
            return f"(failed: {str(e).splitlines()[0]})"
        finally:
            if worker is not None:
                worker.stop()
    return f"{built:.0f} / {peak:.0f}"
