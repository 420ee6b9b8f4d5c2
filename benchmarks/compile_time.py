"""C: building and compiling, each measured in a fresh process with an empty cache of its own
(a cold start is what a user waits for):

- building a `fan_in(k=10, where=pre.index < post.index)` blob of 10^6 neurons
  (nndl.compile and Network(seed=0), timed inside the process): under 10 s;
- `nndlc check` and `nndlc compile` of a 10^5-neuron blob (the whole command): under 1 s;
- a cold `nndlc compile` of every example (the whole command): under 0.35 s each.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import HERE, PAUSE, BenchmarkError, cold_rows, contestant_environment

BLOB = """network blob {{
    seed 1
    output blob[{n}] : tanh
    connect blob -> blob : fan_in(k=10, where=pre.index < post.index)
}}
"""
BUILD = ("import sys, time, warnings; warnings.simplefilter('ignore'); import nndl; "
         "start = time.perf_counter(); nndl.compile(sys.argv[1], backend='numpy').Network(seed=0)"
         "; print(time.perf_counter() - start)")


def nndlc() -> list[str]:
    """The console script beside this interpreter, as a user runs it (else python -m nndl)."""
    script = Path(sys.executable).with_name("nndlc")
    return [str(script)] if script.exists() else [sys.executable, "-m", "nndl"]


def run(quick: bool, pause: float = PAUSE):
    folder = Path(tempfile.mkdtemp(prefix="nndl-bench-"))
    small, large = folder / "blob_1e5.nndl", folder / "blob_1e6.nndl"
    small.write_text(BLOB.format(n=100_000), encoding="utf-8")
    large.write_text(BLOB.format(n=1_000_000), encoding="utf-8")
    rows = cold_rows("C build a fan_in(k=10) blob of 10^6 neurons (compile + Network)",
                     {"": [sys.executable, "-c", BUILD, str(large)]}, goal=10.0,
                     rounds=1 if quick else 3, pause=pause, timed=reported_time)
    out = str(folder / "out.py")
    rows += cold_rows("C `nndlc ", {"check` of a 10^5-neuron blob": [*nndlc(), "check", str(small)],
                                    "compile` of a 10^5-neuron blob": [*nndlc(), "compile",
                                                                       str(small), "-o", out]},
                      goal=1.0, rounds=2 if quick else 5, pause=pause)
    commands = {}
    for path in sorted((HERE.parent / "examples").glob("*.nndl")):
        names = networks_of(path)
        for name in names:  # a file of several networks compiles one at a time (--network)
            chosen = ["--network", name] if len(names) > 1 else []
            what = f"examples/{path.name}`" + (f" (network {name})" if chosen else "")
            commands[what] = [*nndlc(), "compile", str(path), *chosen, "-o", out]
    rows += cold_rows("C cold `nndlc compile ", commands, goal=0.35, rounds=1 if quick else 3,
                      pause=pause)
    return rows, []


def networks_of(path: Path) -> list[str]:
    """The names of the networks a file declares."""
    from nndl.frontend import check_text, read_source

    program, diags = check_text(read_source(path), str(path))
    if program is None:
        raise RuntimeError(diags.render())
    return [network.name for network in program.networks]


def reported_time(command: list[str]) -> float:
    """The seconds the command prints as its last line (a time measured inside the process)."""
    done = subprocess.run(command, env=contestant_environment(), capture_output=True, text=True)
    if done.returncode:
        raise BenchmarkError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.split()[-1])
