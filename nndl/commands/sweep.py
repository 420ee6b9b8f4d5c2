"""`nndlc sweep` and `nndl.sweep`: train a network (or several of a file's) for every
combination of parameter values and every seed, each run a task on Dask (a LocalCluster by
default, any scheduler by address), or one after another in this process (`workers=0`).

Every task is independent and carries what it needs (the source text, a data file's bytes), so a
remote worker needs only nndl installed. It trains with `nndl.commands.train.train`, exactly as
`nndlc train --set ... --seed S` would, and sends back its metrics, history and weights; this
process writes each result as it arrives: one line appended to `OUT/results.csv` (one write,
synced) and `OUT/runs/KEY/` (weights, history). A sweep stopped at any point is continued with
`resume=True`, which runs only the tasks that have no line yet. Dask reruns a task whose worker
died; a task that fails in the user's program (a NaN, a bad parameter value) is a result too:
status `failed`, with its message. Nothing here prints (the CLI does); `on_result` hears of
each result.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nndl.commands import sweep_report
from nndl.commands.train import data_file, train
from nndl.compiler import select_network
from nndl.frontend import check_text, declared_parameters, read_source
from nndl.frontend.parameters import OverrideError, override_values
from nndl.runtime.errors import RuntimeNNDLError
from nndl.runtime.files import write_atomically, write_text_atomically

# The metrics of a run, as results.csv names them: the held-out evaluation, then the last
# epoch's training loss and the synapses the trained network has.
METRICS = ("test_accuracy", "test_loss", "test_mistakes", "train_loss", "synapses")
# How many times the scheduler may lose a task's worker before the task counts as failed.
ALLOWED_FAILURES = 3


class SweepError(RuntimeNNDLError):
    """A sweep that cannot start: a grid naming no parameter, another sweep's folder, no Dask."""


@dataclass(frozen=True)
class Job:
    """One task: what a worker needs to train one combination with one seed (plain data)."""

    key: str  # `n_hidden=32,r=1.5,seed=0`: the run's name in results.csv and OUT/runs/
    params: dict[str, float | bool]
    seed: int
    source: str  # the .nndl text
    file_name: str
    regime: str | None = None
    network: str | None = None
    backend: str = "numpy"
    epochs: int | None = None
    data: str | None = None  # a built-in data set's name (None: the regime's)
    data_bytes: bytes | None = None  # the data file, when the regime (or `data`) names one
    data_name: str | None = None


@dataclass
class SweepResult:
    folder: Path
    results: Path  # results.csv: one line per run, in the order they finished
    rows: list[dict]  # every run of the sweep (this call's and earlier ones'), as read back
    summary: list[dict]  # one line per combination, best first (see sweep_report.summarise)
    metric: str | None  # what `summary` is sorted by
    plots: list[Path] = field(default_factory=list)
    ran: int = 0  # tasks this call ran (the others had results already)
    names: list[str] = field(default_factory=list)  # the summary's columns before its numbers:
    # `network` (in a sweep of several), then the swept parameters


def parse_grid(items: Sequence[str]) -> dict[str, list[float | bool]]:
    """`["r=1,1.5,2.5", "n_hidden=32,64"]` as {"r": [1.0, 1.5, 2.5], "n_hidden": [32.0, 64.0]};
    OverrideError for a malformed item."""
    from nndl.frontend.parameters import parse_override

    grid: dict[str, list] = {}
    for item in items:
        name, _, values = item.partition("=")
        parsed = [parse_override(f"{name}={v}")[1] for v in values.split(",") if v.strip()]
        if not parsed:
            raise OverrideError(f"--grid takes NAME=V1,V2,...; got {item!r}")
        grid.setdefault(name.strip(), []).extend(parsed)
    return grid


def seed_list(seeds: int | Sequence[int]) -> list[int]:
    """`5` as seeds 0..4; a list as itself."""
    if isinstance(seeds, int):
        if seeds < 1:
            raise SweepError(f"a sweep needs 1 seed or more, not {seeds}")
        return list(range(seeds))
    return [int(s) for s in seeds]


def task_key(params: Mapping[str, float | bool], seed: int, network: str | None = None) -> str:
    """The run's name: the network (in a sweep of several), each parameter as written on a
    command line, then the seed."""
    shown = [f"{name}={_show(value)}" for name, value in params.items()]
    return ",".join([*([f"network={network}"] if network else []), *shown, f"seed={seed}"])


def _show(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(int(value)) if math.isfinite(value) and value == int(value) else repr(value)


def plan(grid: Mapping[str, Sequence], seeds: Sequence[int]) -> list[tuple[dict, int]]:
    """Every combination of the grid's values (first parameter slowest), each with every seed."""
    names = list(grid)
    combos = itertools.product(*(grid[n] for n in names))
    return [(dict(zip(names, combo)), seed) for combo in combos for seed in seeds]


# ---- one task (runs on a worker) ----------------------------------------------------------


def run_task(job: Job) -> dict:
    """Train one run; its result as a dict (status `ok` or `failed` with the message). Errors
    of the user's program or data are results; anything else is raised for Dask to report."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nndl-sweep-") as tmp:
        folder = Path(tmp)
        path = folder / job.file_name
        path.write_text(job.source, encoding="utf-8")
        data = job.data
        if job.data_bytes is not None:
            data = str(folder / job.data_name)
            Path(data).write_bytes(job.data_bytes)
        try:
            result = train(str(path), regime=job.regime, network=job.network, data=data,
                           backend=job.backend, out=str(folder / "run"), epochs=job.epochs,
                           seed=job.seed, progress=False, cache=False, params=job.params,
                           how="params=", plot=False)
        except Exception as e:  # noqa: BLE001 - the user's program failed: that is its result
            return _failed(job, e, time.perf_counter() - started)
        weights = result.weights.read_bytes()
    history = result.history
    row = {"test_accuracy": result.test.get("accuracy"), "test_loss": result.test.get("loss"),
           "test_mistakes": result.test.get("mistakes"),
           "train_loss": history["loss"][-1] if history.get("loss") else None,
           "synapses": _synapses(weights)}
    return {"key": job.key, "status": "ok", "metrics": row, "history": history,
            "weights": weights, "network": result.network, "error": "",
            "seconds": time.perf_counter() - started, "host": socket.gethostname()}


def _failed(job: Job, error: Exception, seconds: float) -> dict:
    message = str(error).strip() or type(error).__name__
    if not isinstance(error, RuntimeNNDLError) and "Error" not in message[:40]:
        message = f"{type(error).__name__}: {message}"
    return {"key": job.key, "status": "failed", "metrics": dict.fromkeys(METRICS),
            "history": {}, "weights": None, "network": None, "error": message,
            "seconds": seconds, "host": socket.gethostname()}


def _synapses(weights: bytes) -> int:
    import numpy as np

    with np.load(io.BytesIO(weights), allow_pickle=False) as arrays:
        return sum(arrays[name].size for name in arrays.files if name.endswith(".pre"))


# ---- the sweep (runs here) ----------------------------------------------------------------


def sweep(path: str | os.PathLike, grid: Mapping[str, Sequence], seeds: int | Sequence[int] = 1,
          *, regime: str | None = None, network: str | Sequence[str] | None = None,
          backend: str = "numpy",
          params: Mapping[str, float | bool] | None = None, epochs: int | None = None,
          data: str | None = None, scheduler: str | None = None, workers: int | None = None,
          out: str | os.PathLike | None = None, resume: bool = False, progress: bool = False,
          on_result: Callable[[dict], None] | None = None) -> SweepResult:
    """Train `path` for every combination of `grid` ({name: values}, names the file's `param`s)
    with every seed (`5`: seeds 0..4), for the `network` (a name; "a,b" or a list of names
    for several; None: the file's only one, or all of a file of several), on Dask:
    `scheduler` ("tcp://host:port") or a LocalCluster of `workers` processes (default: one per
    core); `workers=0` runs each task here, one after another, without Dask. `params` fixes
    other parameters for every run. The results go to `out` (default sweeps/NAME);
    `resume=True` continues a sweep stopped there."""
    path = Path(path)
    text = read_source(path)
    fixed = override_values(params)
    grid = {name: [override_values({name: v})[name] for v in values]
            for name, values in grid.items()}
    jobs, spec = _jobs(path, text, grid, seed_list(seeds), fixed, regime, network, backend,
                       epochs, data)
    folder = Path(out) if out is not None else Path("sweeps") / path.stem
    results = folder / "results.csv"
    several = ["network"] if spec["networks"] else []  # a column naming each run's network
    columns = ["key", "status", *several, "seed", *spec["grid"], *METRICS, "seconds", "error",
               "history"]
    names = [*several, *spec["grid"]]  # what tells the runs of one seed apart
    done = _prepare(folder, results, columns, spec, resume)
    todo = [job for job in jobs if job.key not in done]
    by_key = {job.key: job for job in todo}
    bar = _progress(len(jobs), len(jobs) - len(todo)) if progress else None
    try:
        for result in _execute(todo, scheduler, workers):
            _record(folder, results, columns, by_key[result["key"]], result)
            if bar is not None:
                bar.update(1)
            if on_result is not None:
                on_result(result)
    finally:
        if bar is not None:
            bar.close()
    rows = read_results(results)
    wanted = {job.key for job in jobs}
    rows = [r for r in rows if r["key"] in wanted]
    summary, metric = sweep_report.summarise(rows, names)
    plots = sweep_report.save(folder, rows, summary, metric, names)
    return SweepResult(folder, results, rows, summary, metric, plots, len(todo), names)


def _jobs(path: Path, text: str, grid: dict, seeds: list[int], fixed: dict, regime, network,
          backend, epochs, data) -> tuple[list[Job], dict]:
    """Every task, after checking the file, the grid's names and the data (errors raise)."""
    declared = declared_parameters(text, str(path))
    for name in [*grid, *fixed]:
        if name not in declared:
            from nndl.diagnostics import suggest

            hint = suggest(name, declared) or \
                f"its parameters: {', '.join(declared) or 'none (declare one with `param`)'}"
            raise SweepError(f"{path} declares no parameter `{name}`; {hint}")
    clash = [n for n in grid if n in fixed]
    if clash:
        raise SweepError(f"parameter `{clash[0]}` is both swept and fixed")
    program, diags = check_text(text, str(path), fixed, "params=")
    diags.raise_if_errors()  # the file itself is wrong: no run could succeed
    names = network_names(program, network)
    several = len(names) > 1
    jobs, regimes = [], []
    for name in names:
        chosen = select_network(program, name).regime(regime)
        regimes.append(chosen.name)
        file = data_file(chosen, str(path), data)
        data_bytes = file.read_bytes() if file is not None else None
        jobs += [Job(task_key(combo, seed, name if several else None), {**fixed, **combo}, seed,
                     text, path.name, chosen.name, name, backend, epochs,
                     None if file is not None else data, data_bytes,
                     file.name if file is not None else None)
                 for combo, seed in plan(grid, seeds)]
    spec = {"source": path.name, "sha256": program.sha256,
            "network": names if several else network, "networks": names if several else [],
            "regime": regimes if several else regimes[0], "backend": backend, "epochs": epochs,
            "data": data, "params": fixed, "grid": {n: grid[n] for n in grid}}
    return jobs, spec


def network_names(program, network: str | Sequence[str] | None) -> list[str | None]:
    """The networks a sweep trains: the one named, those of "a,b" or a list (each checked),
    or, when none is named, the file's only one (None) or all of a file of several."""
    if network is None:
        return [n.name for n in program.networks] if len(program.networks) > 1 else [None]
    names = [n.strip() for n in network.split(",")] if isinstance(network, str) else \
        [str(n) for n in network]
    if not names or "" in names or len(set(names)) != len(names):
        raise SweepError(f"--network takes NAME or NAME,NAME,... (each once); got {network!r}")
    for name in names:
        select_network(program, name)  # LookupError naming the file's networks
    return names


def _prepare(folder: Path, results: Path, columns: list[str], spec: dict,
             resume: bool) -> set[str]:
    """Make the folder; the keys that already have a result (when resuming)."""
    if folder.exists() and not folder.is_dir():
        raise SweepError(f"cannot write into {folder}: it is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    described = folder / "sweep.json"
    if results.exists() and not resume:
        raise SweepError(f"{folder} holds a sweep's results already: continue it with "
                         "--resume (resume=True), or choose another --out")
    if resume and described.exists():
        before = json.loads(described.read_text(encoding="utf-8"))
        same = ("sha256", "network", "regime", "backend", "epochs", "data", "params")
        changed = [k for k in same if before.get(k) != _jsonable(spec).get(k)]
        if changed or list(before.get("grid", {})) != list(spec["grid"]):
            what = ", ".join(changed) or "the swept parameters"
            raise SweepError(f"{folder} holds another sweep ({what} differ): its results "
                             "would not compare; choose another --out")
    write_text_atomically(described, json.dumps(_jsonable(spec), indent=2) + "\n")
    if not results.exists():
        _append(results, _line(columns))
        return set()
    _drop_partial_line(results)
    with results.open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f), None)
    if header != columns:
        raise SweepError(f"{results} has other columns than this sweep writes: choose another "
                         "--out")
    return {row["key"] for row in read_results(results)}


def _jsonable(spec: dict) -> dict:
    return json.loads(json.dumps(spec))


def _drop_partial_line(results: Path) -> None:
    """A sweep killed in the middle of a line (which one write makes unlikely) left it
    unfinished: cut it, so the next line starts on a line of its own."""
    data = results.read_bytes()
    if data and not data.endswith(b"\n"):
        with results.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def _execute(jobs: list[Job], scheduler: str | None, workers: int | None):
    """Each job's result, in the order they finish."""
    if not jobs:
        return
    if workers == 0 and scheduler is None:
        for job in jobs:
            yield run_task(job)
        return
    yield from _on_dask(jobs, scheduler, workers)


def _on_dask(jobs: list[Job], scheduler: str | None, workers: int | None):
    try:
        import dask
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise SweepError("a sweep on Dask needs dask.distributed: pip install 'nndl[sweep]' "
                         "(or run the tasks here, one after another, with --workers 0)") from None
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        if scheduler is None:
            cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1,
                                   threads_per_worker=1, processes=True,
                                   dashboard_address=":0")  # any free port: never a clash
            client = Client(cluster)
        else:
            cluster, client = None, Client(scheduler, timeout="30s")
        try:
            # keys unique to this call: two sweeps on one scheduler must not share results
            tag = uuid.uuid4().hex[:12]
            futures = {client.submit(run_task, job, key=f"nndl-sweep-{tag}-{job.key}",
                                     pure=False): job for job in jobs}
            for future in as_completed(futures):
                yield _outcome(future, futures[future])
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def _outcome(future, job: Job) -> dict:
    """A finished future's result; a task whose workers kept dying, or that raised (a bug of
    ours or a missing nndl on the worker), is a failed result."""
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        error = (f"its worker died {ALLOWED_FAILURES} times while running it (out of memory?)")
    except Exception as e:  # noqa: BLE001 - recorded, and the others go on
        error = f"{type(e).__name__}: {e}"
    return {"key": job.key, "status": "failed", "metrics": dict.fromkeys(METRICS),
            "history": {}, "weights": None, "network": None, "error": error, "seconds": 0.0,
            "host": ""}


def _record(folder: Path, results: Path, columns: list[str], job: Job, result: dict) -> None:
    """The run's files, then its line (the line last: a line means the run is complete)."""
    run = folder / "runs" / job.key
    if result["weights"] is not None:
        run.mkdir(parents=True, exist_ok=True)
        write_atomically(run / f"{result['network']}.npz", lambda f: f.write(result["weights"]))
        write_text_atomically(run / "history.json",
                              json.dumps({"params": job.params, "seed": job.seed,
                                          "history": result["history"]}, indent=2) + "\n")
    values = {"key": job.key, "status": result["status"], "network": job.network,
              "seed": job.seed, **{name: _show(job.params[name]) for name in
                                   columns[columns.index("seed") + 1:columns.index(METRICS[0])]},
              **{k: "" if v is None else repr(v) for k, v in result["metrics"].items()},
              "seconds": f"{result['seconds']:.3f}", "error": result["error"],
              "history": json.dumps(result["history"], separators=(",", ":"))}
    _append(results, _line([values[c] for c in columns]))


def _line(values: list) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow(values)
    return text.getvalue().encode("utf-8")


def _append(path: Path, data: bytes) -> None:
    """One line appended in one write, synced: a reader never sees half of it."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_results(results: Path) -> list[dict]:
    """results.csv as dicts: numbers as floats (None where empty), the history decoded; the
    first line of a key counts (no key is run twice, but a file edited by hand might say so)."""
    rows, seen = [], set()
    with results.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        for raw in reader:
            if raw["key"] in seen or None in raw.values():  # a repeated or a cut-off line
                continue
            seen.add(raw["key"])
            rows.append(_decoded(raw, reader.fieldnames))
    return rows


def _decoded(raw: dict, fields: list[str]) -> dict:
    row = dict(raw)
    row["seed"] = int(raw["seed"])  # (a sweep of several networks names each: a string)
    for name in fields[fields.index("seed") + 1:fields.index(METRICS[0])]:
        row[name] = {"true": True, "false": False}.get(raw[name]) if raw[name] in (
            "true", "false") else float(raw[name])
    for name in (*METRICS, "seconds"):
        row[name] = float(raw[name]) if raw[name] else None
    row["history"] = json.loads(raw["history"]) if raw["history"] else {}
    return row


def _progress(total: int, done: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="run", desc="sweep", dynamic_ncols=True)
