"""How busy the machine is with work other than the benchmark's own.

The kernel's load average counts the benchmark's own contestants too (PyTorch alone keeps two
threads running), so it cannot tell an idle machine from a busy one while a run is going on.
Instead the harness samples, in the pauses between contestants (when its own processes sleep),
the number of runnable threads of /proc/loadavg minus those that are its own: the mean of those
samples is the load of everything else, on the same scale as the load average.
"""

from __future__ import annotations

import glob
import os
import statistics
import time
from pathlib import Path

THRESHOLD = 1.2  # a row measured with more load than this is refused (issue 17)
LOADAVG = Path("/proc/loadavg")


def load_average() -> float:
    """The kernel's one-minute load average (everything, the benchmark's own work included)."""
    return os.getloadavg()[0]


def runnable_threads(text: str) -> int:
    """Runnable threads right now from the text of /proc/loadavg ('0.52 0.58 0.59 3/452 ...')."""
    return int(text.split()[3].split("/")[0])


def is_running(stat: str) -> bool:
    """Whether a /proc/PID/task/TID/stat line is of a running thread (state R, after the name,
    which may itself hold spaces and parentheses)."""
    return stat[stat.rindex(")") + 2] == "R"


def own_running(pids) -> int:
    count = 0
    for pid in pids:
        for path in glob.glob(f"/proc/{pid}/task/*/stat"):
            try:
                count += is_running(Path(path).read_text(encoding="ascii", errors="replace"))
            except (OSError, ValueError):
                pass  # the thread ended between the listing and the read
    return count


def others_running(own_pids) -> float:
    """Runnable threads that are not the benchmark's own (the reading thread is its own)."""
    if not LOADAVG.exists():  # not Linux: the load average is the best there is
        return load_average()
    total = runnable_threads(LOADAVG.read_text(encoding="ascii"))
    return max(0, total - own_running({os.getpid(), *own_pids}))


class LoadMeter:
    """Samples of the others' load, taken while the benchmark's own processes wait."""

    def __init__(self):
        self.samples: list[float] = []

    def pause(self, seconds: float, own_pids=()) -> None:
        """Sleep, sampling twice in the second half (idle threads spin for a while first)."""
        for share in (0.6, 0.4):
            time.sleep(seconds * share)
            self.samples.append(others_running(own_pids))

    def watch(self, seconds: float, every: float = 0.25) -> float:
        """The mean load over `seconds` with nothing of the benchmark's running."""
        for _ in range(max(1, round(seconds / every))):
            time.sleep(every)
            self.samples.append(others_running(()))
        return self.mean()

    def mean(self) -> float:
        return statistics.fmean(self.samples) if self.samples else 0.0
