"""The contestant's side of a benchmark: one process per contestant, driven by the harness over
its standard input. Standard library only, so that a peer running in another interpreter
(Brian2's, which needs numpy < 2.3) can use it as it is.

A contestant builds its workload, writes the numbers it computed (for the agreement check) and
then says `ready`; each `time N` line asks for N calls, answered with the seconds per call;
`profile N` asks for the same N calls under cProfile, answered with the top of the profile;
`memory` for the resident MiB after building and the peak so far; `quit` or the end of the
input ends it.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import sys
import time


def serve(step, built_mib: float = 0.0, timed=None) -> None:
    """Answer the harness's requests with timings of step() until it says quit. `timed`, when
    given, runs one step and returns the seconds of the part that counts (Brian2: its ticks
    without the set-up that each run() repeats)."""
    channel = _private_stdout()
    channel.write("ready\n")
    channel.flush()
    for line in sys.stdin:
        command, _, count = line.strip().partition(" ")
        if command == "time":
            seconds = (sum(timed() for _ in range(int(count))) / int(count) if timed
                       else seconds_per_call(step, int(count)))
            channel.write(f"ok {seconds!r}\n")
        elif command == "profile":
            channel.write(f"profile {json.dumps(profile(step, int(count)))}\n")
        elif command == "memory":
            channel.write(f"memory {built_mib!r} {resident_mib('VmHWM')!r}\n")
        else:
            break
        channel.flush()


def ticks_alone(network, duration, zero, setups: int = 3):
    """A timer of a Brian2 network's ticks alone: `run(duration)` less what `run(zero)` costs,
    the set-up each run repeats without a tick (the median of `setups` such runs, neither the
    cheapest nor the dearest). A round whose set-up took as long as the whole run (a busy
    machine) is an error, never a time of 0."""
    def timed() -> float:
        start = time.perf_counter()
        network.run(duration)
        total = time.perf_counter() - start
        costs = []
        for _ in range(setups):
            start = time.perf_counter()
            network.run(zero)  # the same set-up, no tick
            costs.append(time.perf_counter() - start)
        ticks = total - sorted(costs)[len(costs) // 2]
        if ticks <= 0:
            raise RuntimeError(f"the set-up alone ({sorted(costs)}) took as long as the timed "
                               f"run ({total:.6f} s): the machine is too busy to time this")
        return ticks
    return timed


def seconds_per_call(step, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        step()
    return (time.perf_counter() - start) / calls


def profile(step, calls: int, lines: int = 14) -> str:
    """The functions that took the most time over `calls` calls, as pstats prints them."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        step()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(lines)
    return text.getvalue()


def resident_mib(field: str = "VmRSS") -> float:
    """This process's resident memory now (VmRSS) or at its peak (VmHWM), in MiB: from
    /proc/self/status, since getrusage's peak carries the parent's across fork and exec."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _private_stdout():
    """A channel of its own for the protocol: whatever a library prints on standard output (a
    warning, a progress line) goes to standard error instead, so it cannot garble a reply."""
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    sys.stdout.flush()
    os.dup2(2, 1)
    return channel
