"""Run the benchmarks of issue 17 and write the run into benchmarks/RESULTS.md.

    python -m benchmarks [--quick] [--only W1 W2 ...] [--no-record] [--busy] [--profile]

Every row is NNDL against a peer (or a time limit) with its goal and a verdict. Each contestant
runs in a process of its own at its library's defaults; each is first checked to compute the
same numbers as NNDL, then all are timed in interleaved rounds with a pause before each turn.
A row measured while other work loaded the machine above 1.2 is refused, and a run with a
refused row is not written to RESULTS.md unless --busy, which marks it "busy machine, not valid".
A full run (no --quick, no --only) on an idle machine replaces RESULTS.md's summary.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from benchmarks import harness, report
from benchmarks.load import THRESHOLD, LoadMeter, load_average

WORKLOADS = {"W1": "w1_mlp", "W2": "w2_local", "W3": "w3_recurrent", "W4": "w4_dag",
             "W5": "w5_rate", "W5L": "w5_lif", "C": "compile_time",
             "M": "memory"}  # M: peak RSS, context only


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    before = LoadMeter().watch(3.0)
    if before > THRESHOLD and not args.busy:
        print(f"the machine is busy (load {before:.2f} > {THRESHOLD} before the start): "
              "not started; --busy runs anyway, marked not valid")
        return 2
    start, average_before = time.perf_counter(), load_average()
    rows, notes, errors = [], [], []
    for key in args.only or WORKLOADS:
        found, extra, failed = _workload(key, args)
        rows += found
        notes += extra
        errors += failed
    busy = any(r.busy for r in rows) or before > THRESHOLD
    notes = [f"load before the start {before:.2f}; kernel load average (with the benchmark's "
             f"own work) before {average_before:.2f}, after {load_average():.2f}; "
             f"all of it took {time.perf_counter() - start:.0f} s"] + notes + errors
    print("\n".join(f"- {n}" for n in notes[:1] + errors))
    return _finish(args, rows, notes, busy, errors)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one size each, fewer rounds")
    parser.add_argument("--only", nargs="+", choices=sorted(WORKLOADS), metavar="ID",
                        help=f"some of {', '.join(WORKLOADS)}")
    parser.add_argument("--no-record", action="store_true", help="print, leave RESULTS.md")
    parser.add_argument("--busy", action="store_true",
                        help="run and record on a busy machine, marked 'busy machine, not valid'")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile NNDL's side of every missed row")
    parser.add_argument("--pause", type=float, default=harness.PAUSE,
                        help=f"seconds before each turn (default {harness.PAUSE})")
    return parser


def _workload(key: str, args) -> tuple[list, list[str], list[str]]:
    """Rows, notes and errors of one workload, each case printed as soon as it is done."""
    module = importlib.import_module(f"benchmarks.{WORKLOADS[key]}")
    if not hasattr(module, "cases"):  # C and M measure cold processes, not contestants
        try:
            rows, notes = module.run(args.quick, args.pause)
        except harness.BenchmarkError as e:
            print(f"{key}: not measured: {e}", flush=True)
            return [], [], [f"{key}: not measured: {e}"]
        _show(rows, args.busy)
        return rows, notes, []
    rows, notes, errors = [], [], []
    for case in module.cases(args.quick):
        try:
            outcome = harness.run_case(case, args.pause, args.profile)
        except harness.BenchmarkError as e:
            errors.append(f"{case.name}: not measured: {e}")
            print(f"{case.name}: not measured: {e}", flush=True)
            continue
        _show(outcome.rows, args.busy)
        rows += outcome.rows
        for what, text in outcome.profiles.items():
            print(f"\nprofile of {what}:\n{text}", flush=True)
            notes.append(f"profile of {what}:\n\n```\n{text.strip()}\n```")
    return rows, notes, errors


def _show(rows, busy_allowed: bool) -> None:
    for row in rows:
        row.busy_allowed = busy_allowed
    if rows:
        print("\n".join(report.table(rows)), flush=True)


def _finish(args, rows, notes, busy: bool, errors: list[str]) -> int:
    if busy and not args.busy:
        print(f"refused: the load was above {THRESHOLD}; not written to RESULTS.md "
              "(--busy writes it, marked not valid)")
        return 2
    if not args.no_record:
        full = not (args.quick or args.only or busy or errors)
        title = "python -m benchmarks" + (" --quick" if args.quick else "")
        report.record(report.section(title, rows, notes, busy), summary=full)
        print(f"written to {report.RESULTS}" + (" (the summary)" if full else ""))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
