"""C: `nndlc compile` of every example in a fresh process with an empty cache (the goal: under
0.5 s each; Brian2's Cython target needs about 13 s cold)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks.harness import HERE, Row

GOAL = 0.5  # seconds


def cold_compile(path, backend: str = "numpy") -> float:
    """Wall time of `nndlc compile` in a new interpreter with a new, empty cache."""
    with tempfile.TemporaryDirectory(prefix="nndl-bench-") as folder:
        env = dict(os.environ, NNDL_CACHE_DIR=folder)
        command = [sys.executable, "-m", "nndl", "compile", str(path), "--backend", backend,
                   "-o", os.path.join(folder, "out.py")]
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        return time.perf_counter() - start


def run(quick: bool) -> list[Row]:
    examples = sorted((HERE.parent / "examples").glob("*.nndl"))
    rows = []
    for path in examples:
        t = statistics.median(cold_compile(path) for _ in range(1 if quick else 3))
        rows.append(Row(f"C `nndlc compile examples/{path.name}`, cold", "the goal, 0.5 s", t,
                        GOAL, 1.0))
    return rows
