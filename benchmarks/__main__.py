"""Run the performance benchmarks of issue 10 and append the results to benchmarks/RESULTS.md.

    python -m benchmarks [--quick] [--only W1 W2 ...] [--no-record]

--quick: one size per workload and fewer rounds (under 3 minutes on 2 cores). Each benchmark
first checks that NNDL and each peer compute the same numbers, then times them in turns.
"""

from __future__ import annotations

import argparse
import time
import warnings

from benchmarks import harness

WORKLOADS = {"W1": "w1_mlp", "W2": "w2_local", "W3": "w3_recurrent", "W4": "w4_dag",
             "W5": "w5_rate", "C": "compile_time", "M": "memory"}  # M: peak RSS of W2 and W3, a process each


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one size each, fewer rounds")
    parser.add_argument("--only", nargs="+", choices=sorted(WORKLOADS), metavar="ID",
                        help=f"some of {', '.join(WORKLOADS)}")
    parser.add_argument("--no-record", action="store_true", help="print, leave RESULTS.md")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # build-time notes of the workloads (fan_in shortfalls)
    load_before, start = harness.load(), time.perf_counter()
    rows, extra = [], []
    for key in args.only or WORKLOADS:
        module = __import__(f"benchmarks.{WORKLOADS[key]}", fromlist=["run"])
        if key == "M":
            intro = ("Peak RSS, each contestant in its own process (baseline: everything "
                     "imported and built, nothing run):")
            extra = ["", intro, "", *module.run(args.quick)]
            continue
        found = module.run(args.quick)
        print("\n".join(harness.table(found)), flush=True)
        rows += found
    seconds = time.perf_counter() - start
    notes = [(f"all of it took {seconds:.0f} s; peak RSS of the process "
              f"{harness.peak_rss_mib():.0f} MiB")]
    if not args.no_record:
        title = "python -m benchmarks" + (" --quick" if args.quick else "")
        harness.record(title, rows, notes, load_before, extra)
    print(notes[0])


if __name__ == "__main__":
    main()
