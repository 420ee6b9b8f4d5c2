"""C: `nndlc compile` of every example in a fresh process with an empty cache (the goal: under
0.5 s each; Brian2's Cython target needs about 13 s cold).

Measured twice: as installed here, and as a plain `pip install nndl` has it, without
interegular (only the test extra installs it; with it, Lark checks every pair of terminals of
every contextual lexer state for collisions while it builds the parser, about half the time)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks.harness import HERE, Row

GOAL = 0.5  # seconds


WITHOUT_INTEREGULAR = ("import sys; sys.modules['interegular'] = None; "
                      "from nndl.commands.cli import main; sys.exit(main())")


def cold_compile(path, backend: str = "numpy", interegular: bool = True) -> float:
    """Wall time of `nndlc compile` in a new interpreter with a new, empty cache."""
    with tempfile.TemporaryDirectory(prefix="nndl-bench-") as folder:
        env = dict(os.environ, NNDL_CACHE_DIR=folder)
        start = [sys.executable, "-m", "nndl"] if interegular else \
            [sys.executable, "-c", WITHOUT_INTEREGULAR]
        command = [*start, "compile", str(path), "--backend", backend,
                   "-o", os.path.join(folder, "out.py")]
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        return time.perf_counter() - start


def run(quick: bool) -> list[Row]:
    examples = sorted((HERE.parent / "examples").glob("*.nndl"))
    rows = []
    for path in examples:
        for interegular in (True, False):
            t = statistics.median(cold_compile(path, interegular=interegular)
                                  for _ in range(1 if quick else 3))
            how = "" if interegular else " without interegular"
            rows.append(Row(f"C `nndlc compile examples/{path.name}`, cold{how}",
                            "the goal, 0.5 s", t, GOAL, 1.0))
    return rows
