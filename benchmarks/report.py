"""The table `python -m benchmarks` prints, and the run it writes into RESULTS.md."""

from __future__ import annotations

import datetime
import platform
import re
import sys
from importlib import metadata

from benchmarks.harness import HERE, Row, Stats
from benchmarks.load import THRESHOLD

RESULTS = HERE / "RESULTS.md"
# RESULTS.md's summary holds the last full run on an idle machine, between these two lines
BEGIN, END = "<!-- summary: begin -->", "<!-- summary: end -->"
HISTORY = "## History"  # runs are added above the old harness's figures
PENDING = "## Summary: pending the lead's honest run on an idle machine"
HEADER = ["| workload | NNDL | median (min-max) | peer | median (min-max) | NNDL / peer | goal | "
          "load | verdict |", "|---|---|---|---|---|---|---|---|---|"]


def table(rows: list[Row]) -> list[str]:
    return HEADER + [line(r) for r in rows]


def line(r: Row) -> str:
    peer = f"{r.peer_label} | {_stats(r.peer, r.unit)}" if r.peer_label else "— | —"
    ratio = "" if r.ratio is None or not r.peer_label else f"{r.ratio:.3g}"
    return (f"| {r.workload} | {r.ours_label} | {_stats(r.ours, r.unit)} | {peer} | {ratio} | "
            f"{_goal(r)} | {r.load:.2f} | {r.verdict()} |")


def _goal(r: Row) -> str:
    if r.goal is None:
        return ""
    if not r.peer_label:
        return f"< {_time(r.goal)}"
    return f"≤ 1/{1 / r.goal:.0f}" if r.goal < 0.01 else f"≤ {r.goal:g}"


def _stats(s: Stats | None, unit: str = "") -> str:
    if s is None:
        return "—"
    return f"{_time(s.median)}{unit} ({_time(s.low)}-{_time(s.high)})"


def _time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def versions(names=("numpy", "scipy", "torch", "neat-python")) -> str:
    found = [f"Python {platform.python_version()}"]
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(found)


def section(title: str, rows: list[Row], notes: list[str], busy: bool) -> str:
    """The run as Markdown: what was run and how, the table, the notes."""
    command = " ".join(["python -m benchmarks", *sys.argv[1:]]).strip()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    mark = " — busy machine, not valid" if busy else ""
    text = [f"### {title} ({stamp}){mark}", "",
            (f"`{command}` — {versions()}; float32; every contestant in a process of its own at "
             f"its library's defaults (no thread or wait-policy variable), interleaved rounds "
             f"with pauses; load = runnable threads of everything else, sampled in the pauses "
             f"(a row above {THRESHOLD} is refused)."), "", *table(rows), ""]
    text += [f"- {note}" for note in notes]
    return "\n".join(text).rstrip("\n") + "\n"


def record(text: str, summary: bool) -> None:
    """Write a run into RESULTS.md: a full valid run becomes the summary (the one it replaces
    moves down among the runs); any other run goes in above the history."""
    old = RESULTS.read_text(encoding="utf-8")
    pattern = re.compile(f"{re.escape(BEGIN)}(.*?){re.escape(END)}", re.S)
    found = pattern.search(old)
    if summary and found:
        previous = found.group(1).strip()
        new = pattern.sub(lambda _: f"{BEGIN}\n\n{text}\n{END}", old, count=1)
        new = new.replace(PENDING, "## Summary")
        if previous and not previous.startswith("Pending"):
            new = _above_history(new, previous + "\n")
    else:
        new = _above_history(old, text)
    RESULTS.write_text(new, encoding="utf-8")


def _above_history(old: str, text: str) -> str:
    if HISTORY not in old:
        return old.rstrip("\n") + "\n\n" + text
    at = old.index(HISTORY)
    return old[:at] + text + "\n" + old[at:]
