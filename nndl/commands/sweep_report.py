"""What a sweep's results say: one line per combination (mean and spread over the seeds), best
first, saved as OUT/summary.csv, and plots of the metric against each swept parameter
(OUT/METRIC_vs_NAME.png, with matplotlib installed)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from nndl.runtime.files import write_text_atomically

# The metric a sweep is judged by: the first that its successful runs have, and whether more
# is better.
RANKING = (("test_accuracy", True), ("test_loss", False), ("test_mistakes", False),
           ("train_loss", False))


def metric_of(rows: list[dict]) -> tuple[str | None, bool]:
    ok = [r for r in rows if r["status"] == "ok"]
    for name, higher in RANKING:
        if any(r.get(name) is not None for r in ok):
            return name, higher
    return None, True


def summarise(rows: list[dict], names: list[str]) -> tuple[list[dict], str | None]:
    """One dict per combination of the swept values: runs, failed, mean, std (over seeds,
    n - 1 in the denominator), min and max of the metric, mean synapses; best first."""
    metric, higher = metric_of(rows)
    combos: dict[tuple, list[dict]] = {}
    for row in rows:
        combos.setdefault(tuple(row[n] for n in names), []).append(row)
    summary = []
    for combo, runs in combos.items():
        ok = [r for r in runs if r["status"] == "ok"]
        values = [r[metric] for r in ok if metric and r[metric] is not None]
        line = dict(zip(names, combo))
        line.update(runs=len(runs), failed=len(runs) - len(ok), **_spread(values))
        synapses = [r["synapses"] for r in ok if r["synapses"] is not None]
        line["synapses"] = sum(synapses) / len(synapses) if synapses else None
        summary.append(line)
    worst = -math.inf if higher else math.inf
    summary.sort(key=lambda s: s["mean"] if s["mean"] is not None else worst, reverse=higher)
    return summary, metric


def _spread(values: list[float]) -> dict:
    if not values:
        return {"mean": None, "std": None, "min": None, "max": None}
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
    return {"mean": mean, "std": math.sqrt(var), "min": min(values), "max": max(values)}


def table(summary: list[dict], names: list[str], metric: str | None, limit: int = 20) -> str:
    """The summary as aligned text, best first (`limit` lines at most)."""
    percent = metric == "test_accuracy"
    head = [*names, "runs", "failed", f"{metric or 'metric'} (mean ± std)", "min", "max",
            "synapses"]
    lines = [head]
    for s in summary[:limit]:
        lines.append([*(_value(s[n]) for n in names), str(s["runs"]), str(s["failed"]),
                      _metric(s["mean"], percent) + (f" ± {_metric(s['std'], percent)}"
                                                     if s["std"] is not None else ""),
                      _metric(s["min"], percent), _metric(s["max"], percent),
                      "-" if s["synapses"] is None else f"{s['synapses']:,.0f}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
            for line in lines]
    more = len(summary) - limit
    return "\n".join(text) + (f"\n... and {more} more (summary.csv has all)" if more > 0
                              else "") + "\n"


def _value(value) -> str:
    if isinstance(value, str):  # a network's name
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}"


def _metric(value, percent: bool) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.2f}%" if percent else f"{value:.4g}"


def save(folder: Path, rows: list[dict], summary: list[dict], metric: str | None,
         names: list[str]) -> list[Path]:
    """summary.csv, and the plots where matplotlib is installed; the plots' paths."""
    text = io.StringIO()
    fields = [*names, "runs", "failed", "mean", "std", "min", "max", "synapses"]
    writer = csv.DictWriter(text, fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else _value(v) if k in names else v)
                      for k, v in s.items()} for s in summary)
    write_text_atomically(folder / "summary.csv", text.getvalue())
    try:
        from nndl import plot
    except ImportError:  # matplotlib is an optional extra
        return []
    if metric is None:
        return []
    # against each swept parameter (a network, named, is no axis: one line per network)
    return [_plot(plot, folder, rows, metric, names, name) for name in names
            if name != "network"]


def _plot(plot, folder: Path, rows: list[dict], metric: str, names: list[str],
          name: str) -> Path:
    """The metric against one swept parameter: each seed a dot, the mean over seeds a line with
    its standard deviation as error bars, one line per combination of the other parameters."""
    plt = plot.plt
    others = [n for n in names if n != name]
    lines: dict[tuple, dict[float, list[float]]] = {}
    for r in rows:
        if r["status"] == "ok" and r[metric] is not None:
            lines.setdefault(tuple(r[n] for n in others), {}).setdefault(
                float(r[name]), []).append(r[metric])
    fig, ax = plt.subplots(figsize=(6, 4))
    for other, points in sorted(lines.items()):
        xs = sorted(points)
        for x in xs:
            ax.plot([x] * len(points[x]), points[x], ".", color="0.6", alpha=0.6)
        means = [sum(points[x]) / len(points[x]) for x in xs]
        spreads = [_spread(points[x])["std"] for x in xs]
        label = ", ".join(f"{n}={_value(v)}" for n, v in zip(others, other)) or None
        ax.errorbar(xs, means, yerr=spreads, marker="o", capsize=3, label=label)
    ax.set_xlabel(name)
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(f"{metric.replace('_', ' ')} against {name} (dots: seeds; bars: ±1 std)")
    if others and len(lines) > 1:
        ax.legend(fontsize="small")
    fig.tight_layout()
    path = folder / f"{metric}_vs_{name}.png"
    fig.savefig(path, dpi=plot.DPI)
    plt.close(fig)
    return path
