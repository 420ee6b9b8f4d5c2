"""`nndlc sweep` / `nndl.sweep`: the grid, results.csv, failed runs, resuming, and the same numbers
serially, on a LocalCluster and on a real Dask scheduler with workers (one killed mid-way)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nndl
from nndl.commands.cli import main
from nndl.commands.sweep import SweepError, parse_grid, plan, read_results, task_key

SOURCE = """\
param n_hidden = 3
param lr = 0.05
network xor {
    input  x[2]
    group  h[n_hidden] : tanh
    output y[1] : sigmoid
    connect x -> h : full
    connect h -> y : full
}
train fit {
    data xor
    loss mse
    optimizer adam(lr=lr)
    batch 4
    epochs EPOCHS
}
"""
GRID = {"n_hidden": [2, 3], "lr": [0.05, 0.2]}
SEEDS = 2
KEYS = sorted(task_key(combo, seed) for combo, seed in plan(
    {"n_hidden": [2.0, 3.0], "lr": [0.05, 0.2]}, range(SEEDS)))


def source(folder: Path, epochs: int = 20) -> Path:
    path = folder / "xor.nndl"
    path.write_text(SOURCE.replace("EPOCHS", str(epochs)))
    return path


def comparable(rows: list[dict]) -> dict[str, dict]:
    """Each run's numbers and history by key: everything but its wall time."""
    return {r["key"]: {k: v for k, v in r.items() if k != "seconds"} for r in rows}


def lines(results: Path) -> list[str]:
    return results.read_text().splitlines()[1:]


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    """The reference: every run one after another in this process, without Dask."""
    folder = tmp_path_factory.mktemp("serial")
    result = nndl.sweep(source(folder), GRID, SEEDS, workers=0, out=folder / "out")
    return comparable(result.rows)


def test_grid_and_keys():
    assert parse_grid(["r=1,1.5,2.5", "tied=true,false", "r=4"]) == {
        "r": [1.0, 1.5, 2.5, 4.0], "tied": [True, False]}
    assert plan({"a": [1, 2], "b": [3]}, [0, 1]) == [
        ({"a": 1, "b": 3}, 0), ({"a": 1, "b": 3}, 1), ({"a": 2, "b": 3}, 0),
        ({"a": 2, "b": 3}, 1)]
    assert task_key({"n_hidden": 32.0, "r": 1.5, "tied": False}, 4) == \
        "n_hidden=32,r=1.5,tied=false,seed=4"


def test_a_serial_sweep_writes_every_run(serial, tmp_path):
    assert sorted(serial) == KEYS
    assert all(r["status"] == "ok" and r["test_loss"] is not None for r in serial.values())
    assert {r["synapses"] for r in serial.values()} == {6.0, 9.0}  # 2 * n + n
    assert all(len(r["history"]["loss"]) == 20 for r in serial.values())
    # the same seed gives the same run; another seed, another
    a, b = serial["n_hidden=2,lr=0.05,seed=0"], serial["n_hidden=2,lr=0.05,seed=1"]
    assert a["history"] != b["history"]


def test_outputs_of_a_sweep(tmp_path, capsys):
    path = source(tmp_path, epochs=3)
    out = tmp_path / "out"
    argv = ["sweep", str(path), "--grid", "n_hidden=2,3", "--seeds", "2", "--workers", "0",
            "--out", str(out), "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "4 runs (4 now, 0 failed)" in printed and "test_accuracy (mean ± std)" in printed
    assert len(lines(out / "results.csv")) == 4
    for run in ("n_hidden=2,seed=0", "n_hidden=3,seed=1"):
        assert (out / "runs" / run / "xor.npz").is_file()
        assert (out / "runs" / run / "history.json").is_file()
    assert (out / "summary.csv").read_text().startswith("n_hidden,runs,failed,mean,std,")
    assert (out / "test_accuracy_vs_n_hidden.png").stat().st_size > 1000
    # the same folder again without --resume would mix two sweeps: refused, nothing lost
    assert main(argv) == 1
    assert "--resume" in capsys.readouterr().err
    assert len(lines(out / "results.csv")) == 4
    assert main(argv + ["--resume"]) == 0  # nothing left to run
    assert "4 runs (0 now, 0 failed)" in capsys.readouterr().out


def test_a_run_that_fails_is_recorded_and_the_others_go_on(tmp_path):
    path = source(tmp_path, epochs=2)
    result = nndl.sweep(path, {"n_hidden": [0, 2]}, 1, workers=0, out=tmp_path / "out")
    by_key = {r["key"]: r for r in result.rows}
    assert by_key["n_hidden=2,seed=0"]["status"] == "ok"
    failed = by_key["n_hidden=0,seed=0"]
    assert failed["status"] == "failed" and failed["test_loss"] is None
    assert "a group's sizes must be whole numbers, 1 or more, not 0" in failed["error"]
    assert result.summary[0]["n_hidden"] == 2  # best first; the failed combination last


def test_a_sweep_over_seeds_alone(tmp_path):
    result = nndl.sweep(source(tmp_path, epochs=2), {}, 2, workers=0, out=tmp_path / "out")
    assert [r["key"] for r in result.rows] == ["seed=0", "seed=1"]
    assert len(result.summary) == 1 and result.summary[0]["runs"] == 2 and not result.plots


def test_mistakes_before_any_run(tmp_path, capsys):
    path = source(tmp_path)
    with pytest.raises(SweepError, match="no parameter `n_hiden`; did you mean `n_hidden`"):
        nndl.sweep(path, {"n_hiden": [2]}, workers=0, out=tmp_path / "a")
    with pytest.raises(SweepError, match="both swept and fixed"):
        nndl.sweep(path, {"lr": [0.1]}, params={"lr": 0.2}, workers=0, out=tmp_path / "b")
    assert not (tmp_path / "a").exists()
    with pytest.raises(SystemExit) as exit:
        main(["sweep", str(path), "--grid", "n_hidden=", "--workers", "0"])
    assert exit.value.code == 2
    assert "--grid takes NAME=V1,V2" in capsys.readouterr().err


def test_resuming_another_sweep_is_refused(tmp_path):
    out = tmp_path / "out"
    nndl.sweep(source(tmp_path, epochs=1), {"n_hidden": [2]}, workers=0, out=out)
    with pytest.raises(SweepError, match="another sweep"):  # the source changed
        nndl.sweep(source(tmp_path, epochs=2), {"n_hidden": [2]}, workers=0, out=out,
                   resume=True)


def test_import_nndl_needs_no_dask():
    code = ("import sys, nndl; nndl.compile; assert 'dask' not in sys.modules; "
            "assert 'distributed' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- on Dask ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A `dask scheduler` and `dask worker` processes on 127.0.0.1, each its own process."""

    def __init__(self, workers: int):
        dask = Path(sys.executable).with_name("dask")
        if not dask.exists():
            pytest.skip("the `dask` command is not installed beside this Python")
        port = free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        self.scheduler = subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            env=env, **quiet)
        self.workers = [subprocess.Popen(
            [dask, "worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
             "--host", "127.0.0.1", "--death-timeout", "60", "--name", f"w{i}"], env=env, **quiet)
            for i in range(workers)]
        self._wait_for(workers)

    def _wait_for(self, count: int) -> None:
        from dask.distributed import Client

        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(count, timeout=120)

    def close(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers, self.scheduler]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def cluster():
    pytest.importorskip("dask.distributed")
    made = Cluster(workers=2)
    yield made
    made.close()


def test_on_a_dask_cluster_with_a_worker_killed(cluster, serial, tmp_path):
    """Every run once, equal to the serial run, though a worker died in the middle."""
    from dask.distributed import Client

    killed = []  # the runs that the killed worker had in hand

    def kill_one(result):
        if killed:
            return
        with Client(cluster.address, timeout="30s") as client:
            names = {a: w["name"] for a, w in client.scheduler_info()["workers"].items()}
            busy = {names[a]: keys for a, keys in client.processing().items() if keys}
        name = sorted(busy)[0]  # 7 runs are left: a worker has one in hand
        cluster.workers[int(name[1:])].kill()
        killed.append(name)
        killed.extend(str(key).split("-", 3)[3] for key in busy[name])  # nndl-sweep-TAG-KEY

    out = tmp_path / "out"
    result = nndl.sweep(source(tmp_path), GRID, SEEDS, scheduler=cluster.address, out=out,
                        on_result=kill_one)
    victim = cluster.workers[int(killed[0][1:])]
    assert victim.wait(timeout=20) == -signal.SIGKILL
    assert len(killed) > 1 and set(killed[1:]) <= set(KEYS)  # ... and the other one ran them
    assert sorted(line.split('"')[1] for line in lines(out / "results.csv")) == KEYS  # once each
    assert comparable(result.rows) == serial


def test_a_local_cluster_gives_the_same_numbers(serial, tmp_path):
    pytest.importorskip("dask.distributed")
    result = nndl.sweep(source(tmp_path), GRID, SEEDS, workers=2, out=tmp_path / "out")
    assert comparable(result.rows) == serial


def test_a_killed_sweep_resumes(serial, tmp_path):
    """`nndlc sweep` killed after some runs; `--resume` runs only the others."""
    path, out = source(tmp_path), tmp_path / "out"
    argv = [sys.executable, "-m", "nndl", "sweep", str(path), "--grid", "n_hidden=2,3",
            "--grid", "lr=0.05,0.2", "--seeds", str(SEEDS), "--workers", "0", "--out", str(out),
            "--quiet"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        results = out / "results.csv"
        deadline = time.monotonic() + 120
        while (process.poll() is None and time.monotonic() < deadline
               and (not results.exists() or len(lines(results)) < 2)):
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    before = lines(results)
    assert 2 <= len(before) < len(KEYS), "the sweep should have been killed part-way"
    ran = []
    result = nndl.sweep(path, GRID, SEEDS, workers=0, out=out, resume=True, on_result=ran.append)
    assert len(ran) == len(KEYS) - len(before) == result.ran
    assert lines(results)[:len(before)] == before  # nothing rewritten
    assert sorted(line.split('"')[1] for line in lines(results)) == KEYS
    assert comparable(result.rows) == serial


TWO = """\
param lr = 0.05
network wide {
    param n_hidden = 4
    input  x[2]
    group  h[n_hidden] : tanh
    output y[1] : sigmoid
    connect x -> h : full
    connect h -> y : full
}
network narrow {
    param n_hidden = 2
    input  x[2]
    group  h[n_hidden] : tanh
    output y[1] : sigmoid
    connect x -> h : full
    connect h -> y : full
}
train fit for wide {
    data xor
    loss mse
    optimizer adam(lr=lr)
    batch 4
    epochs 5
}
train fit for narrow {
    data xor
    loss mse
    optimizer adam(lr=lr)
    batch 4
    epochs 5
}
"""


def test_one_sweep_trains_every_network_of_a_file(tmp_path, capsys):
    """Without --network, a file of several networks is swept whole: each network a column of
    results.csv and of the summary, each run what a sweep of that network alone gives."""
    path = tmp_path / "two.nndl"
    path.write_text(TWO)
    both = nndl.sweep(path, {"lr": [0.05, 0.2]}, 2, workers=0, out=tmp_path / "both")
    assert both.names == ["network", "lr"]
    assert sorted(r["key"] for r in both.rows) == sorted(
        f"network={n},lr={lr},seed={s}" for n in ("wide", "narrow") for lr in ("0.05", "0.2")
        for s in (0, 1))
    assert {r["network"] for r in both.rows} == {"wide", "narrow"}
    assert {(s["network"], s["lr"]) for s in both.summary} == {
        (n, lr) for n in ("wide", "narrow") for lr in (0.05, 0.2)}
    assert {r["synapses"] for r in both.rows if r["network"] == "narrow"} == {6.0}
    alone = nndl.sweep(path, {"lr": [0.05, 0.2]}, 2, network="narrow", workers=0,
                       out=tmp_path / "alone")
    assert alone.names == ["lr"]
    narrow = {r["key"].removeprefix("network=narrow,"): r for r in both.rows
              if r["network"] == "narrow"}
    for r in alone.rows:
        assert narrow[r["key"]]["test_loss"] == r["test_loss"]
        assert narrow[r["key"]]["history"] == r["history"]
    # the command line: a list of networks, resumed; the table names each network
    out = tmp_path / "cli"
    assert main(["sweep", str(path), "--network", "narrow,wide", "--workers", "0",
                 "--out", str(out), "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "network" in table.splitlines()[1] and "narrow" in table and "wide" in table
    assert main(["sweep", str(path), "--network", "narrow,wide", "--workers", "0",
                 "--out", str(out), "--quiet", "--resume"]) == 0
    assert "2 runs (0 now, 0 failed)" in capsys.readouterr().out
    with pytest.raises(LookupError, match="no network `wid`"):
        nndl.sweep(path, {}, 1, network="narrow,wid", workers=0, out=tmp_path / "bad")
