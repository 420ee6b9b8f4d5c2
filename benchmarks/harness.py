"""What every benchmark shares: each contestant in a process of its own, at its own defaults,
checked to compute the same numbers as NNDL, then timed in interleaved rounds with a pause
before each turn; min / median / max per contestant and the load of everything else.

A workload module (w1_mlp.py, ...) says what to run: `cases(quick)` gives its Cases, its
CONTESTANTS map a name to a builder that returns (step, to_result), and `agree(ours, peer,
what)` compares two results. The first contestant of a case is NNDL's: it writes the shared data
(weights, inputs) that the others read, so every side starts from the same numbers.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.load import THRESHOLD, LoadMeter

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GIVE_UP = 3.0  # a cold command this many times over its limit is measured once
PAUSE = 0.3  # seconds before each turn: idle OpenMP and OpenBLAS threads stop spinning by then

# Settings that favour one library over another (the old harness made PyTorch's idle threads
# sleep with OMP_WAIT_POLICY=PASSIVE, which halved its speed): unset for every contestant, so
# each library runs at the defaults its users have.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OMP_PROC_BIND", "OMP_PLACES",
                    "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "KMP_AFFINITY", "MKL_NUM_THREADS",
                    "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


class BenchmarkError(RuntimeError):
    """A contestant failed to build or run, or computed other numbers than NNDL."""


@dataclass(frozen=True)
class Stats:
    """Seconds per call over the rounds."""
    low: float
    median: float
    high: float
    rounds: int

    @classmethod
    def of(cls, values) -> Stats:
        values = list(values)
        return cls(min(values), statistics.median(values), max(values), len(values))


@dataclass
class Contestant:
    key: str  # the builder's name in the module's CONTESTANTS, or a script's target
    label: str
    needs: str = ""  # a module that must be importable (torch, neat), else it is not run
    python: str = ""  # another interpreter, running `script` (Brian2's, which needs numpy < 2.3)
    script: str = ""
    calls: int | None = None  # calls per round, when not the case's
    skip: str = ""  # why it is not run at this size

    def missing(self) -> str:
        """Why this contestant cannot run here, or ''."""
        if self.skip:
            return self.skip
        if self.python and not Path(self.python).exists():
            return f"no {self.python} (see benchmarks/w5_rate.py)"
        if self.needs and importlib.util.find_spec(self.needs) is None:
            return f"{self.needs} is not installed (pip install '.[bench]')"
        return ""


@dataclass
class Goal:
    """NNDL's time / a peer's, at most `ratio`; with several peers, against the fastest."""
    ours: str
    peers: tuple[str, ...]
    ratio: float
    best: str = ""  # with several peers: what the fastest is the best of ("built-in")


@dataclass
class Case:
    name: str
    module: str  # benchmarks.<module>
    contestants: list[Contestant]  # the first is NNDL's and writes the shared data
    goals: list[Goal]
    rounds: int
    calls: int = 1
    settings: dict = field(default_factory=dict)  # keyword arguments of every builder
    per: int = 1  # units of work a call does (W5: ticks); times are per unit
    unit: str = ""  # " a tick"


@dataclass
class Row:
    """One line of the table: NNDL against a peer (or, without a peer, against a time limit)."""
    workload: str
    ours_label: str
    ours: Stats | None
    peer_label: str = ""
    peer: Stats | None = None
    goal: float | None = None  # the largest ratio (or, without a peer, seconds) that meets it
    load: float = 0.0
    note: str = ""  # why it was not measured
    unit: str = ""
    busy_allowed: bool = False  # --busy: give the verdict anyway, marked not valid

    @property
    def ratio(self) -> float | None:
        if self.ours is None or (self.peer_label and self.peer is None):
            return None
        return self.ours.median / self.peer.median if self.peer else self.ours.median

    @property
    def missed(self) -> bool:
        return not self.note and self.goal is not None and self.ratio > self.goal

    @property
    def busy(self) -> bool:
        return self.load > THRESHOLD

    def verdict(self) -> str:
        """met / missed (by how much) / context / not run; a busy row is refused."""
        if self.note:
            return self.note
        if self.busy and not self.busy_allowed:
            return f"refused (load {self.load:.2f} > {THRESHOLD})"
        mark = f", not valid (load {self.load:.2f})" if self.busy else ""
        if self.goal is None:
            return "context" + mark
        if self.ratio <= self.goal:
            return "met" + mark
        return f"missed ({self.ratio / self.goal:.2f}x){mark}"


class Worker:
    """A contestant's process, driven over its standard input (benchmarks/serve.py)."""

    def __init__(self, case: Case, contestant: Contestant, folder: Path, data: Path):
        self.contestant, self.result_path = contestant, folder / f"{contestant.key}.npz"
        settings = dict(case.settings, data=str(data))
        if contestant.python:
            command = [contestant.python, str(HERE / contestant.script), contestant.key]
        else:
            command = [sys.executable, "-m", "benchmarks.worker", case.module, contestant.key]
        self.log = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
        self.process = subprocess.Popen(
            [*command, json.dumps(settings), str(self.result_path)], cwd=ROOT,
            env=contestant_environment(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, text=True)
        self._expect("ready")

    @property
    def pid(self) -> int:
        return self.process.pid

    def result(self) -> dict[str, np.ndarray]:
        with np.load(self.result_path, allow_pickle=False) as arrays:
            return dict(arrays)

    def time(self, calls: int) -> float:
        return float(self._ask(f"time {calls}", "ok"))

    def memory(self) -> tuple[float, float]:
        """Resident MiB after building, and the peak so far."""
        built, peak = self._ask("memory", "memory").split()
        return float(built), float(peak)

    def profile(self, calls: int) -> str:
        return json.loads(self._ask(f"profile {calls}", "profile"))

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.close()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self.log.close()

    def _ask(self, request: str, answer: str) -> str:
        self.process.stdin.write(request + "\n")
        self.process.stdin.flush()
        return self._expect(answer)

    def _expect(self, answer: str) -> str:
        line = self.process.stdout.readline()
        word, _, rest = line.strip().partition(" ")
        if word != answer:
            self.process.kill()
            self.process.wait()
            self.log.seek(0)
            tail = "".join(self.log.readlines()[-15:])
            raise BenchmarkError(f"{self.contestant.label} stopped instead of answering "
                                 f"{answer!r}:\n{tail}")
        return rest


def contestant_environment() -> dict[str, str]:
    """The user's environment without the thread and allocator settings; the repository's root
    first on the path, so `benchmarks` and `nndl` import from this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@dataclass
class Outcome:
    rows: list[Row]
    profiles: dict[str, str] = field(default_factory=dict)  # a missed row's NNDL profile


def run_case(case: Case, pause: float = PAUSE, profile: bool = False) -> Outcome:
    """Start every contestant, check each against NNDL, time them in turns, make the rows."""
    module = importlib.import_module(f"benchmarks.{case.module}")
    missing = {c.key: c.missing() for c in case.contestants if c.missing()}
    with tempfile.TemporaryDirectory(prefix="nndl-bench-") as folder:
        workers = {}
        try:
            for c in case.contestants:
                if c.key not in missing:
                    workers[c.key] = Worker(case, c, Path(folder), Path(folder) / "data.npz")
            _check_agreement(case, module, workers)
            meter = LoadMeter()
            times = _interleaved(case, workers, pause, meter)
            rows = make_rows(case, times, missing, meter.mean())
            profiles = _profiles(case, workers, rows) if profile else {}
        finally:
            for worker in workers.values():
                worker.stop()
    return Outcome(rows, profiles)


def _check_agreement(case: Case, module, workers: dict[str, Worker]) -> None:
    """Refuse to time a contestant that computes something else than NNDL."""
    first, *others = workers
    ours = workers[first].result()
    for key in others:
        module.agree(ours, workers[key].result(), f"{case.name}: {workers[key].contestant.label}")


def _interleaved(case: Case, workers: dict[str, Worker], pause: float,
                 meter: LoadMeter) -> dict[str, Stats]:
    """Rounds of one turn each, the order rotated every round so that no contestant always
    follows the same one; a pause before each turn."""
    keys = list(workers)
    pids = [w.pid for w in workers.values()]
    samples = {key: [] for key in keys}
    for r in range(case.rounds):
        for key in keys[r % len(keys):] + keys[:r % len(keys)]:
            meter.pause(pause, pids)
            calls = workers[key].contestant.calls or case.calls
            samples[key].append(workers[key].time(calls) / case.per)
    return {key: Stats.of(values) for key, values in samples.items()}


def make_rows(case: Case, times: dict[str, Stats], missing: dict[str, str],
              load: float) -> list[Row]:
    """A row per goal (against the fastest of its peers), then the other peers as context."""
    label = {c.key: c.label for c in case.contestants}
    first = case.contestants[0].key
    rows, covered = [], set()
    for goal in case.goals:
        ran = [p for p in goal.peers if p in times]
        best = min(ran, key=lambda p: times[p].median) if ran else None
        covered.add(best)  # the goal's other peers follow as context
        peer_label = label[best] if best else f"the best {goal.best}" if goal.best else \
            " or ".join(label[p] for p in goal.peers)
        if goal.best and best:
            peer_label += f" (best {goal.best})"
        note = "" if best else "not run: " + "; ".join(sorted({missing.get(p, "?")
                                                                for p in goal.peers}))
        if goal.ours not in times:
            note = f"not run: {missing.get(goal.ours, '?')}"
        rows.append(Row(case.name, label[goal.ours], times.get(goal.ours), peer_label,
                        times.get(best), goal.ratio, load, note, case.unit))
    for c in case.contestants[1:]:
        if c.key not in covered and c.key in times and c.key not in {g.ours for g in case.goals}:
            rows.append(Row(case.name, label[first], times[first], c.label, times[c.key],
                            None, load, "", case.unit))
    return rows


def _profiles(case: Case, workers: dict[str, Worker], rows: list[Row]) -> dict[str, str]:
    """cProfile of NNDL's side of every missed row (the why of a miss)."""
    found = {}
    for row in rows:
        if row.missed:
            key = next(c.key for c in case.contestants if c.label == row.ours_label)
            calls = workers[key].contestant.calls or case.calls
            found[f"{row.workload}: {row.ours_label}"] = workers[key].profile(calls)
    return found


def cold_rows(name: str, commands: dict[str, list[str]], goal: float, rounds: int,
              pause: float = PAUSE, timed=None) -> list[Row]:
    """Rows for commands measured from a fresh process each time (a cold start is the point),
    in interleaved rounds. `timed(command) -> seconds` runs one; by default the wall time of
    the whole process. A command that took more than GIVE_UP times its goal is not run again:
    the miss is clear, and more rounds would only stretch the run."""
    timed = timed or wall_time
    meter = LoadMeter()
    samples = {label: [] for label in commands}
    for _ in range(rounds):
        for label, command in commands.items():
            if samples[label] and samples[label][-1] > GIVE_UP * goal:
                continue
            meter.pause(pause)
            samples[label].append(timed(command))
    return [Row(f"{name}{label}", "NNDL", Stats.of(values), goal=goal, load=meter.mean())
            for label, values in samples.items()]


def wall_time(command: list[str]) -> float:
    """Seconds from the start of a new process to its end, with an empty cache of its own."""
    import time
    with tempfile.TemporaryDirectory(prefix="nndl-bench-") as folder:
        env = dict(contestant_environment(), NNDL_CACHE_DIR=folder)
        start = time.perf_counter()
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if done.returncode:
        raise BenchmarkError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return seconds


# ----- shared by the workload modules -----

def check_close(what: str, ours, theirs, rtol: float = 1e-3, atol: float = 1e-4) -> None:
    """Refuse to time a peer that computes something else."""
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    if ours.shape != theirs.shape:
        raise BenchmarkError(f"{what}: shapes differ, {ours.shape} vs {theirs.shape}")
    scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
    worst = float(np.abs(ours - theirs).max(initial=0.0))
    if worst > atol * scale + rtol * scale:
        raise BenchmarkError(f"{what}: NNDL and the peer differ by {worst:.3g}")


def agree_all(ours: dict, peer: dict, what: str, rtol: float = 1e-3) -> None:
    """Every array the peer reports matches NNDL's of the same name."""
    for name, value in peer.items():
        check_close(f"{what}, {name}", ours[name], value, rtol=rtol)


def save_data(path: str, **arrays) -> None:
    np.savez(path, **arrays)


def load_data(path: str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as arrays:
        return dict(arrays)


def resized(name: str, old: str, new: str) -> Path:
    """A copy of benchmarks/NAME with `old` written as `new` (a workload at another size)."""
    text = (HERE / name).read_text(encoding="utf-8")
    if old not in text:
        raise ValueError(f"{name} has no {old!r} to resize")
    path = Path(tempfile.mkdtemp(prefix="nndl-bench-")) / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


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


def torch_csr(torch, p, n):
    """A sparse (post, pre) weight matrix in PyTorch's CSR, its trainable values in the order of
    NNDL's synapses (sorted by target): (a function making the matrix from them, the values,
    their gradient after backward)."""
    crow = np.concatenate([[0], np.cumsum(np.bincount(p["post"], minlength=n))])
    crow, col = torch.from_numpy(crow), torch.from_numpy(p["pre"])
    values = torch.from_numpy(p["w"].copy()).requires_grad_()
    return (lambda: torch.sparse_csr_tensor(crow, col, values, (n, n)), values,
            lambda: values.grad)


def torch_masked_dense(torch, p, n):
    """The same matrix as a dense PyTorch weight times a 0/1 mask of the synapses that exist:
    what a PyTorch user writes for a fixed sparse wiring. (A function making the masked matrix,
    the dense weight, the gradient of the synapses' weights after backward.)"""
    pre, post = torch.from_numpy(p["pre"]), torch.from_numpy(p["post"])
    matrix = torch.zeros(n, n)
    matrix[post, pre] = torch.from_numpy(p["w"])
    matrix.requires_grad_()
    mask = torch.zeros(n, n)
    mask[post, pre] = 1.0
    return lambda: matrix * mask, matrix, lambda: matrix.grad[post, pre]
