"""The benchmark harness's own logic (benchmarks/): verdicts, the choice of the best peer, the
refusal of a busy row, the load reading, the environment each contestant gets, the protocol a
contestant answers and where a run goes in RESULTS.md. Nothing here times anything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# benchmarks/ is the repository's, not the installed package's: `pytest` (unlike
# `python -m pytest`) does not put the repository's root on the path
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import harness, load, report  # noqa: E402
from benchmarks.harness import Case, Contestant, Goal, Row, Stats  # noqa: E402


def stats(median: float) -> Stats:
    return Stats(median * 0.9, median, median * 1.2, 5)


def test_stats_are_min_median_max_over_the_rounds():
    assert Stats.of([3.0, 1.0, 2.0, 10.0, 2.5]) == Stats(1.0, 2.5, 10.0, 5)


@pytest.mark.parametrize("ours, goal, verdict", [
    (0.8, 0.9, "met"), (0.9, 0.9, "met"), (1.8, 0.9, "missed (2.00x)"), (1.0, None, "context")])
def test_a_row_is_met_when_its_ratio_is_within_the_goal(ours, goal, verdict):
    row = Row("W1", "NNDL", stats(ours), "PyTorch", stats(1.0), goal, load=0.3)
    assert row.ratio == pytest.approx(ours)
    assert row.verdict() == verdict


def test_a_row_without_a_peer_is_judged_by_its_time():
    assert Row("C build", "NNDL", stats(12.0), goal=10.0).verdict() == "missed (1.20x)"
    assert Row("C build", "NNDL", stats(3.0), goal=10.0).verdict() == "met"


def test_a_busy_row_is_refused_unless_the_user_accepts_a_busy_machine():
    row = Row("W1", "NNDL", stats(0.5), "PyTorch", stats(1.0), 0.9, load=1.5)
    assert row.verdict() == "refused (load 1.50 > 1.2)"
    row.busy_allowed = True
    assert row.verdict() == "met, not valid (load 1.50)"
    assert not row.missed and Row("W1", "NNDL", stats(2.0), "PyTorch", stats(1.0), 0.9,
                                  load=1.5).missed  # a busy miss is still profiled
    assert not Row("W1", "NNDL", stats(0.5), "PyTorch", stats(1.0), 0.9, load=1.2).busy


def _case() -> Case:
    contestants = [Contestant("nndl", "NNDL"), Contestant("dense", "dense"),
                   Contestant("csr", "CSR"), Contestant("gather", "gather"),
                   Contestant("hand", "hand NumPy")]
    goals = [Goal("nndl", ("dense", "csr"), 0.15, best="built-in"), Goal("nndl", ("gather",), 0.8)]
    return Case("W2", "w2_local", contestants, goals, rounds=3)


def test_a_goal_of_several_peers_is_against_the_fastest_and_the_others_are_context():
    times = {"nndl": stats(1.0), "dense": stats(20.0), "csr": stats(8.0), "gather": stats(2.0),
             "hand": stats(3.0)}
    rows = harness.make_rows(_case(), times, {}, load=0.1)
    assert [(r.peer_label, r.goal) for r in rows] == [
        ("CSR (best built-in)", 0.15), ("gather", 0.8), ("dense", None), ("hand NumPy", None)]
    assert rows[0].ratio == pytest.approx(1 / 8)


def test_a_goal_whose_peer_is_missing_still_prints_and_says_why():
    times = {"nndl": stats(1.0), "hand": stats(3.0)}
    missing = {"dense": "torch is not installed", "csr": "torch is not installed",
               "gather": "torch is not installed"}
    rows = harness.make_rows(_case(), times, missing, load=0.1)
    assert [r.verdict() for r in rows] == ["not run: torch is not installed"] * 2 + ["context"]
    assert "not run" in report.line(rows[0])


def test_the_load_counts_running_threads_and_reads_odd_process_names():
    assert load.runnable_threads("0.52 0.58 0.59 3/452 12345\n") == 3
    assert load.is_running("17 (a) R (b)) R 1 17 17 0 -1")
    assert not load.is_running("17 (python) S 1 17 17 0 -1")
    assert load.others_running(()) >= 0


def test_contestants_get_no_thread_or_wait_policy_setting(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("HOME_OF_SOMETHING", "kept")
    env = harness.contestant_environment()
    assert "OMP_WAIT_POLICY" not in env and "OMP_NUM_THREADS" not in env
    assert env["HOME_OF_SOMETHING"] == "kept"
    assert env["PYTHONPATH"].split(":")[0] == str(harness.ROOT)


def test_the_benchmark_package_sets_no_environment_variable(monkeypatch):
    code = ("import os, benchmarks, benchmarks.harness, benchmarks.w1_mlp; "
            "print(sorted(k for k in benchmarks.harness.THREAD_VARIABLES if k in os.environ))")
    done = subprocess.run([sys.executable, "-c", code], env=harness.contestant_environment(),
                          cwd=harness.ROOT,
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_contestant_answers_the_protocol_even_when_its_step_prints():
    code = ("from benchmarks.serve import serve\n"
            "serve(lambda: print('noise from a library'), 12.5)\n")
    done = subprocess.run([sys.executable, "-c", code], input="time 3\nprofile 1\nmemory\nquit\n",
                          env=harness.contestant_environment(), cwd=harness.ROOT,
                          capture_output=True, text=True, check=True)
    lines = done.stdout.splitlines()
    assert lines[0] == "ready"
    assert lines[1].startswith("ok ") and float(lines[1].split()[1]) >= 0
    assert "function calls" in json.loads(lines[2].partition(" ")[2])
    assert lines[3].split()[:2] == ["memory", "12.5"]
    assert done.stderr.count("noise from a library") == 4  # the step's prints went there


def test_agreement_refuses_other_numbers():
    harness.check_close("same", [1.0, 2.0], [1.0, 2.0000001])
    with pytest.raises(harness.BenchmarkError, match="differ by"):
        harness.check_close("other", [1.0, 2.0], [1.0, 2.5])
    with pytest.raises(harness.BenchmarkError, match="shapes differ"):
        harness.check_close("shape", [1.0, 2.0], [1.0])


def test_a_full_run_replaces_the_summary_and_others_go_above_the_history(tmp_path, monkeypatch):
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# R\n\n{report.PENDING}\n\n{report.BEGIN}\nPending.\n{report.END}\n\n"
                       f"{report.HISTORY} (old)\nold figures\n", encoding="utf-8")
    monkeypatch.setattr(report, "RESULTS", results)
    report.record("### run 1\n", summary=True)
    report.record("### run 2\n", summary=False)
    text = results.read_text(encoding="utf-8")
    assert "Pending" not in text and "## Summary\n" in text
    assert text.index(report.BEGIN) < text.index("run 1") < text.index(report.END)
    assert text.index(report.END) < text.index("run 2") < text.index(report.HISTORY)
    assert text.endswith("old figures\n")
    report.record("### run 3\n", summary=True)  # the summary it replaces moves among the runs
    text = results.read_text(encoding="utf-8")
    assert text.index(report.BEGIN) < text.index("run 3") < text.index(report.END)
    assert text.index(report.END) < text.index("run 1") < text.index(report.HISTORY)


def test_a_busy_run_is_marked_not_valid():
    row = Row("W1", "NNDL", stats(0.5), "PyTorch", stats(1.0), 0.9, load=2.0, busy_allowed=True)
    text = report.section("python -m benchmarks", [row], [], busy=True)
    assert "busy machine, not valid" in text.splitlines()[0]
    assert "not valid (load 2.00)" in text


def test_a_run_does_not_start_on_a_busy_machine(monkeypatch, capsys):
    from benchmarks import __main__ as cli
    monkeypatch.setattr(cli.LoadMeter, "watch", lambda self, seconds: 2.5)
    monkeypatch.setattr(cli, "_workload", lambda *a: pytest.fail("started on a busy machine"))
    assert cli.main(["--only", "W1"]) == 2
    assert "busy (load 2.50 > 1.2" in capsys.readouterr().out


def test_a_run_with_a_refused_row_is_not_recorded_unless_asked(monkeypatch, capsys):
    from benchmarks import __main__ as cli
    busy_row = Row("W1", "NNDL", stats(0.5), "PyTorch", stats(1.0), 0.9, load=1.9)
    monkeypatch.setattr(cli.LoadMeter, "watch", lambda self, seconds: 0.1)
    monkeypatch.setattr(cli, "_workload", lambda key, args: ([busy_row], [], []))
    recorded = []
    monkeypatch.setattr(report, "record", lambda text, summary: recorded.append((text, summary)))
    assert cli.main(["--only", "W1"]) == 2
    assert not recorded and "refused" in capsys.readouterr().out
    assert cli.main(["--only", "W1", "--busy"]) == 0
    assert len(recorded) == 1 and recorded[0][1] is False  # never the summary
    assert "busy machine, not valid" in recorded[0][0]


def test_cold_commands_run_in_rounds_and_a_clear_miss_only_once():
    seconds = {"fast": [0.1, 0.3, 0.2], "slow": [40.0]}
    ran = []

    def timed(command):
        ran.append(command[0])
        return seconds[command[0]][ran.count(command[0]) - 1]

    rows = harness.cold_rows("C ", {"fast": ["fast"], "slow": ["slow"]}, goal=10.0, rounds=3,
                             pause=0.0, timed=timed)
    assert ran == ["fast", "slow", "fast", "fast"]
    assert [r.ours for r in rows] == [Stats(0.1, 0.2, 0.3, 3), Stats(40.0, 40.0, 40.0, 1)]
    assert [r.missed for r in rows] == [False, True]


def test_a_contestant_can_time_only_the_part_that_counts():
    code = ("from benchmarks.serve import serve\n"
            "serve(lambda: None, timed=lambda: 0.25)\n")
    done = subprocess.run([sys.executable, "-c", code], input="time 4\nquit\n",
                          env=harness.contestant_environment(), cwd=harness.ROOT,
                          capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[1] == "ok 0.25"
