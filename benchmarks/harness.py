"""What every benchmark shares: interleaved timing, a correctness check, and the record
appended to RESULTS.md. (The package's __init__ pins the threads before numpy is imported.)"""

from __future__ import annotations

import datetime
import os
import platform
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"


@dataclass
class Row:
    """One comparison: NNDL's median time against one peer's, and the goal for their ratio."""
    workload: str
    peer: str
    ours: float  # seconds
    theirs: float
    goal: float | None = None  # the largest NNDL / peer ratio that meets the goal

    @property
    def ratio(self) -> float:
        return self.ours / self.theirs

    def verdict(self) -> str:
        if self.goal is None:
            return "(context)"
        return "met" if self.ratio <= self.goal else f"missed ({self.ratio / self.goal:.2f}x)"


def torch_threads():
    """PyTorch on two threads, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    return torch


def torch_mlp(torch, weights, softmax: bool = False):
    """An MLP in PyTorch with NNDL's weights [(W, b), ...]: Linear layers with relu between
    them, and a softmax at the end (or logits, for a loss that fuses it)."""
    layers = []
    for i, (w, b) in enumerate(weights):
        linear = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear, torch.nn.ReLU()] if i < len(weights) - 1 else [linear]
    return torch.nn.Sequential(*layers, *([torch.nn.Softmax(dim=1)] if softmax else []))


def interleaved(fns: dict, rounds: int, inner: int = 1) -> dict[str, float]:
    """Median seconds per call of each function, timed in turns (A B A B ...) so that a change in
    the machine's load hits every contestant alike; each is called once first to warm up."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            times[name].append((time.perf_counter() - start) / inner)
    return {name: statistics.median(values) for name, values in times.items()}


def check_close(what: str, ours, theirs, rtol: float = 1e-3, atol: float = 1e-4) -> None:
    """Refuse to time a peer that computes something else."""
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    if ours.shape != theirs.shape:
        raise AssertionError(f"{what}: shapes differ, {ours.shape} vs {theirs.shape}")
    scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
    worst = float(np.abs(ours - theirs).max(initial=0.0))
    if worst > atol * scale + rtol * scale:
        raise AssertionError(f"{what}: NNDL and the peer differ by {worst:.3g}")


def peak_rss_mib() -> float:
    """This process's peak resident memory so far: VmHWM, which starts afresh in a new program
    (getrusage's ru_maxrss carries the parent's peak across fork and exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def versions(names=("numpy", "scipy", "torch", "neat-python")) -> str:
    found = [f"Python {platform.python_version()}"]
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(found)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def table(rows: list[Row]) -> list[str]:
    lines = ["| workload | NNDL | peer | peer time | NNDL / peer | goal | |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        goal = "" if r.goal is None else f"≤ {r.goal:.4g}"
        lines.append(f"| {r.workload} | {_ms(r.ours)} | {r.peer} | {_ms(r.theirs)} | "
                     f"{r.ratio:.3f} | {goal} | {r.verdict()} |")
    return lines


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def record(title: str, rows: list[Row], notes: list[str], load_before: str,
           extra: list[str] = ()) -> None:
    """Append a run to RESULTS.md: the command, the date, versions, load, the table, notes."""
    command = "python -m benchmarks " + " ".join(sys.argv[1:])
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = [f"\n## {title} ({stamp})\n",
            (f"`{command.strip()}` — {versions()}; 2 threads, float32; load average before "
             f"{load_before}, after {load()} (1, 5, 15 min).\n"),
            *table(rows), ""]
    text += [f"- {note}" for note in notes] + list(extra)
    with open(RESULTS, "a", encoding="utf-8") as f:
        f.write("\n".join(text).rstrip("\n") + "\n")


def resized(name: str, old: str, new: str) -> Path:
    """A copy of benchmarks/NAME with `old` written as `new` (a workload at another size)."""
    import tempfile
    text = (HERE / name).read_text(encoding="utf-8")
    if old not in text:
        raise ValueError(f"{name} has no {old!r} to resize")
    folder = Path(tempfile.mkdtemp(prefix="nndl-bench-"))
    path = folder / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def append_section(title: str, lines: list[str], load_before: str) -> None:
    """Append a section of ready-made lines (a table) with the command, versions and load."""
    command = "python -m " + " ".join(["benchmarks.memory", *sys.argv[1:]]) \
        if sys.argv[0].endswith("memory.py") else "python " + " ".join(sys.argv)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = [f"\n## {title} ({stamp})\n",
            (f"`{command.strip()}` — {versions()}; load average before {load_before}, after "
             f"{load()}.\n"), *lines]
    with open(RESULTS, "a", encoding="utf-8") as f:
        f.write("\n".join(text) + "\n")
