"""Plots of training runs and of networks, with matplotlib (an optional extra: `pip install
'nndl[examples]'`).

- `training_curves(history, path)`: loss per epoch and test accuracy, or what a regime of local
  rules records (nndlc train's loss.png);
- `pruning_curves(...)`: test accuracy against the fraction of synapses removed;
- `synapse_counts(history, path)`: the synapse count per epoch of a `fit` with `rewire`;
- `activity(outputs, path)`: each group's output over the ticks, as a heat map;
- `receptive_field(net, projection, neuron, path)`: one neuron's incoming weights on its
  source's grid;
- `kernel(net, projection, path)`: a shared kernel, one small image per pair of maps;
- `raster(recording, path)`: a recorded group's spikes as dots at (tick, neuron), with the
  population rate below; `traces(recording, "exc.v", path, neurons=[...])`: recorded values
  of a few neurons over the ticks (`run(..., record=[...])`).

Files only, never a window: the Agg backend draws without a display. Every function saves a PNG
and closes its figure; `raster` and `traces` without a path return the Figure instead (to
inspect or draw on; close it with `plt.close(fig)`).
"""

from __future__ import annotations

import math
import os
import re
import textwrap

import matplotlib
import numpy as np

matplotlib.use("Agg")  # before pyplot: no display is needed or wanted

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

DPI = 110  # every figure is saved at this resolution: its size in pixels is inches times 110


# The panels of `training_curves`, each drawn when the history has one of its keys: the axis
# label, whether a log scale suits it, and its curves as (history key, legend label, scale).
CURVES = (
    ("loss", True, (("loss", "training", 1), ("test_loss", "test", 1))),
    ("test accuracy (%)", False, (("test_accuracy", None, 100),)),
    ("perceptron mistakes", False, (("mistakes", "training", 1), ("test_mistakes", "test", 1))),
    ("mean weight change per batch", True, (("weight_change", None, 1),)),
    ("synapses", False, (("synapses", None, 1),)),
    ("output rate (a tick)", False, (("output_rate", None, 1),)),
)


def training_curves(history: dict, path: str | os.PathLike, title: str = "") -> None:
    """One panel per measure the history holds, per epoch: the loss (training and, when
    present, test), the test accuracy, and, for local rules and rewiring, the perceptron's
    mistakes, the mean weight change and the synapse count."""
    panels = [(label, log, [c for c in curves if history.get(c[0])])
              for label, log, curves in CURVES]
    panels = [panel for panel in panels if panel[2]]
    if not panels:
        raise ValueError("the history holds no measure to plot (keys: "
                         f"{', '.join(history) or 'none'})")
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 if len(panels) == 1 else
                                                      5 * len(panels), 4), squeeze=False)
    for axis, (label, log, curves) in zip(axes[0], panels):
        _curves(axis, history, label, log, curves)
    _finish(fig, path, title)


def _curves(axis, history: dict, label: str, log: bool, curves) -> None:
    values = []
    for key, legend, scale in curves:
        points = [scale * v for v in history[key]]
        axis.plot(range(1, len(points) + 1), points, marker="o", markersize=3, label=legend)
        values += points
    axis.set_xlabel("epoch")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 2.5
    axis.set_ylabel(label)
    if log and min(values) > 0:  # a zero (nothing changed) has no place on a log scale
        axis.set_yscale("log")
    axis.grid(alpha=0.3)
    if any(legend for _, legend, _ in curves):
        axis.legend()


def pruning_curves(removed, before, after, path: str | os.PathLike, *, removed_after=None,
                   synapses: dict | None = None, baseline: float | None = None,
                   synapses_label: str = "synapses", title: str = "") -> None:
    """Test accuracy (fractions in [0, 1]) against the fraction of synapses removed: right after
    pruning (`before`) and after fine-tuning (`after`, drawn at `removed_after`, the fraction
    removed at the end, when regrowth or further pruning changed it), then the fine-tuned ones
    close up, with `baseline` (the unpruned network's accuracy) and the band 2 points below it.
    `synapses` = {fraction removed: counts} adds a panel with the synapse count over
    fine-tuning: entry 0 is the count right after pruning, entry i the count after epoch i."""
    panels = 3 if synapses else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4.2), squeeze=False)
    axes = axes[0]
    asked = [100 * r for r in removed]
    at_end = asked if removed_after is None else [100 * r for r in removed_after]
    before = [100 * a for a in before]
    after = [100 * a for a in after]
    whole, close = axes[0], axes[1]
    whole.plot(asked, before, marker="o", color="tab:red", label="right after pruning")
    whole.plot(at_end, after, marker="s", color="tab:blue", label="after fine-tuning")
    close.plot(at_end, after, marker="s", color="tab:blue", label="after fine-tuning")
    for x, a in zip(at_end, after):
        close.annotate(f"{a:.2f}", (x, a), textcoords="offset points", xytext=(0, -13),
                       ha="center", fontsize=8, color="tab:blue")
    low = min(before + after)
    whole.set_ylim(max(0.0, 10 * (low // 10) - 5), 101)
    whole.set_title("test accuracy", fontsize=10)
    close.set_title("after fine-tuning, close up", fontsize=10)
    lows = after[:]
    if baseline is not None:
        for ax in (whole, close):
            ax.axhline(100 * baseline, color="grey", linestyle="--", linewidth=1,
                       label=f"unpruned ({100 * baseline:.1f}%)")
            ax.axhspan(100 * baseline - 2, 100 * baseline, color="grey", alpha=0.15,
                       label="within 2 points of it")
        lows.append(100 * baseline - 2)
    close.set_ylim(min(lows) - 1, max(after + lows) + 1)
    for ax in (whole, close):
        ax.set_xlabel("synapses removed (%)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_xlim(-3, 103)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize=8)
    if synapses:
        count = axes[2]
        for fraction, counts in synapses.items():
            count.plot(range(len(counts)), counts, marker="o", markersize=3,
                       label=f"{100 * fraction:.0f}% removed")
        count.set_title("synapse count while fine-tuning", fontsize=10)
        count.set_xlabel("fine-tuning epoch (0: right after pruning)")
        count.set_ylabel(synapses_label)
        count.set_yscale("log")
        count.xaxis.get_major_locator().set_params(integer=True)
        count.grid(alpha=0.3, which="both")
        count.legend(fontsize=8)
    _finish(fig, path, title)


# ---- a network's activity and wiring ----------------------------------------------------------

def activity(outputs, path: str | os.PathLike, *, groups=None, sample: int = 0,
             title: str = "") -> None:
    """A heat map of each group's output over the ticks: one panel per group, ticks across,
    neurons (flattened, row-major) down, for one sample of the batch.

    `outputs` is what `net.run(..., every_tick=True)` returns — {group: (ticks, batch, *shape)}
    — or one such array. `groups` picks and orders the groups (default: all of them). The figure
    is 10 x (0.9 + 2.2 per group) inches."""
    if not isinstance(outputs, dict):
        outputs = {"output": outputs}
    names = list(outputs) if groups is None else [groups] if isinstance(groups, str) \
        else list(groups)
    if not names:
        raise ValueError("activity() needs at least one group")
    traces = {}
    for name in names:
        values = np.asarray(outputs[name], dtype=float)
        if values.ndim < 2:
            raise ValueError(f"activity of `{name}`: expected (ticks, batch, *shape) from "
                             f"run(..., every_tick=True); got shape {values.shape}")
        if not 0 <= sample < values.shape[1]:
            raise ValueError(f"sample {sample} is not in a batch of {values.shape[1]}")
        traces[name] = values[:, sample].reshape(values.shape[0], -1).T  # (neurons, ticks)
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 0.9 + 2.2 * len(names)),
                             squeeze=False, sharex=True)
    for ax, name in zip(axes[:, 0], names):
        trace = traces[name]
        low, high = float(trace.min()), float(trace.max())
        cmap = "magma"
        if low < 0 < high:  # signed outputs (tanh): a diverging map, white at 0
            cmap, high = "RdBu_r", max(-low, high)
            low = -high
        elif low == high:
            low, high = low - 0.5, high + 0.5
        image = ax.imshow(trace, aspect="auto", interpolation="nearest", cmap=cmap,
                          vmin=low, vmax=high, origin="upper",
                          extent=(-0.5, trace.shape[1] - 0.5, trace.shape[0] - 0.5, -0.5))
        ax.set_title(f"{name}: {trace.shape[0]} neuron{'s' * (trace.shape[0] != 1)}, "
                     f"sample {sample}", fontsize=10, loc="left")
        ax.set_ylabel("neuron")
        if trace.shape[0] <= 8:
            ax.set_yticks(range(trace.shape[0]))
        else:
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        fig.colorbar(image, ax=ax, pad=0.01, fraction=0.04, label="output")
    axes[-1, 0].set_xlabel("tick")
    _finish(fig, path, title)


def receptive_field(net, projection: str, neuron, path: str | os.PathLike, *,
                    title: str = "") -> None:
    """One target neuron's incoming weights in `projection`, each drawn at its source neuron's
    place on the source group's grid (its last two axes; a group of one axis is one row), the
    source's feature maps (any leading axes) side by side. Grid cells without a synapse are
    grey; a shared kernel's weights are read through the tie. For a `local` rule, a cross marks
    where the target's centre falls on the source grid.

    `neuron` is a flat index or a coordinate tuple in the target group. Each map is a panel of
    4 inches square (one map), 2.6 (up to four) or 1.8 (more, eight to a row), plus 1.3 inches
    across for the colour bar and 1 inch down for the titles; a source of one axis is a strip 6
    by 1.2 inches, plus 1.3 across and 1.4 down."""
    spec = net.SPEC
    p = _projection(spec, projection)
    src, dst = spec.group(p.src), spec.group(p.dst)
    index = _neuron_index(dst, neuron)
    field = receptive_field_grid(net, projection, neuron)
    maps, grid = field.shape[0], field.shape[1:]
    weights = field[np.isfinite(field)]
    cols = min(maps, 8)
    rows = -(-maps // cols)
    panel = 4.0 if maps == 1 else 2.6 if maps <= 4 else 1.8
    size = (panel * cols + 1.3, panel * rows + 1.0)
    if grid[0] == 1:  # a source of one axis: strips of one row
        size = (6 * cols + 1.3, 1.2 * rows + 1.4)
    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False, layout="constrained")
    limit = float(np.abs(weights).max()) if weights.size else 1.0
    limit = limit or 1.0
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="0.85")
    centre = _centre_on_source(p, src, dst, index)
    image = None
    for k, ax in enumerate(axes.flat):
        if k >= maps:
            ax.set_axis_off()
            continue
        image = ax.imshow(np.ma.masked_invalid(field[k]), cmap=cmap, vmin=-limit, vmax=limit,
                          interpolation="nearest", aspect="equal" if grid[0] > 1 else "auto")
        if centre is not None:
            ax.plot(centre[1], centre[0], marker="x", color="black", markersize=8, mew=1.5)
        if maps > 1:
            ax.set_title(f"map {_coords(src.shape[:-len(grid)] or (maps,), k)}", fontsize=9)
        _integer_ticks(ax)
        if grid[0] == 1:
            ax.set_yticks([])
        elif k % cols == 0:
            ax.set_ylabel("row")
        if k + cols >= maps:  # the lowest panel of its column
            ax.set_xlabel("column" if grid[0] > 1 else "neuron")
    fig.colorbar(image, ax=axes.ravel().tolist(), fraction=0.05, pad=0.03,
                 label="weight (grey: no synapse)")
    where = _coords(dst.shape, index)
    count = weights.size
    heading = (f"receptive field of {dst.name}{where}\n{p.name} ({p.rule.kind}): {count} "
               f"synapse{'s' * (count != 1)} from {src.name}{list(src.shape)}")
    _finish(fig, path, title or heading, layout=False)


def receptive_field_grid(net, projection: str, neuron) -> np.ndarray:
    """What `receptive_field` draws: (source maps, rows, columns), the weight of each source
    neuron's synapse onto `neuron` (a shared kernel's, through the tie), NaN where there is
    none. The grid is the source group's last two axes (one row for a group of one axis); the
    maps are its leading axes, flattened."""
    spec = net.SPEC
    p = _projection(spec, projection)
    src, dst = spec.group(p.src), spec.group(p.dst)
    index = _neuron_index(dst, neuron)
    arrays = net.parameters()
    pre, post, w = arrays[f"{p.name}.pre"], arrays[f"{p.name}.post"], arrays[f"{p.name}.w"]
    tie = arrays.get(f"{p.name}.tie")
    mine = post == index
    field = np.full(src.size, np.nan)
    field[pre[mine]] = w[tie[mine]] if tie is not None else w[mine]
    grid = tuple(src.shape[-2:]) if len(src.shape) >= 2 else (1,) + tuple(src.shape)
    return field.reshape((src.size // math.prod(grid),) + grid)


def kernel_entries(net, projection: str):
    """A shared kernel as (weights, offsets): weights (source maps, target maps, taps), and the
    offset `p - u` of each tap (taps, grid axes), in the order the weight file numbers a
    kernel's entries (sorted by source map, target map, offset; nndl/runtime/geometry.py)."""
    from nndl.runtime import geometry

    spec = net.SPEC
    p = _projection(spec, projection)
    if p.rule.kind != "local" or not p.rule.params.get("shared"):
        rule = p.rule.kind + (" without shared=true" if p.rule.kind == "local" else "")
        raise ValueError(f"projection `{p.name}` has no shared kernel (its rule is {rule})")
    src, dst = spec.group(p.src), spec.group(p.dst)
    params = p.rule.params
    lay = geometry.layout(src.shape, dst.shape, params.get("axes"))
    _, _, offsets = geometry.grid_pairs(lay.src_grid, lay.dst_grid, params["radius"],
                                        params.get("metric", "euclidean"),
                                        params.get("wrap", False))
    taps = np.unique(offsets, axis=0)
    w = np.asarray(net.parameters()[f"{p.name}.w"], dtype=float)
    expected = lay.src_maps * lay.dst_maps * len(taps)
    if w.size != expected:
        raise ValueError(f"kernel `{p.name}` has {w.size} entries; its geometry gives "
                         f"{lay.src_maps} x {lay.dst_maps} maps x {len(taps)} taps")
    return w.reshape(lay.src_maps, lay.dst_maps, len(taps)), taps


def kernel(net, projection: str, path: str | os.PathLike, *, title: str = "") -> None:
    """A shared kernel (`local(..., shared=true)`): one small image per (source map, target
    map), each tap drawn at its offset from the target's centre on the source grid (rows:
    source maps, columns: target maps; with one map on either side, eight images to a row).
    Each image is 1.5 inches square, plus 1.3 inches across for the colour bar (5.5 inches
    across at least) and 1.1 down for the titles."""
    weights, taps = kernel_entries(net, projection)
    p = _projection(net.SPEC, projection)
    if taps.shape[1] > 2:  # a volume's kernel has no single picture
        raise ValueError(f"kernel `{p.name}` spans a grid of {taps.shape[1]} axes: only "
                         "kernels over one or two are drawn (kernel_entries gives its weights "
                         "and offsets)")
    n_src, n_dst, _ = weights.shape
    if taps.shape[1] == 1:
        taps = np.concatenate([np.zeros_like(taps), taps], axis=1)
    ys, xs = np.unique(taps[:, 0]), np.unique(taps[:, 1])
    row_of = {v: i for i, v in enumerate(ys)}
    col_of = {v: i for i, v in enumerate(xs)}
    cells = [(row_of[a], col_of[b]) for a, b in taps]
    pairs = [(m, n) for m in range(n_src) for n in range(n_dst)]
    cols = min(len(pairs), 8) if 1 in (n_src, n_dst) else n_dst
    rows = -(-len(pairs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(1.5 * cols + 1.3, 5.5), 1.5 * rows + 1.1),
                             squeeze=False, layout="constrained")
    limit = float(np.abs(weights).max()) or 1.0
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="0.85")
    image = None
    for k, ax in enumerate(axes.flat):
        if k >= len(pairs):
            ax.set_axis_off()
            continue
        m, n = pairs[k]
        picture = np.full((len(ys), len(xs)), np.nan)
        for (r, c), value in zip(cells, weights[m, n]):
            picture[r, c] = value
        image = ax.imshow(np.ma.masked_invalid(picture), cmap=cmap, vmin=-limit, vmax=limit,
                          interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{m} \u2192 {n}" if n_src > 1 else f"map {n}", fontsize=9)
    fig.colorbar(image, ax=axes.ravel().tolist(), fraction=0.05, pad=0.03, label="weight")
    shape = "x".join(str(len(v)) for v in (ys, xs) if len(v) > 1 or len(ys) == 1)
    heading = (f"shared kernel {p.name}: {n_src} source map{'s' * (n_src != 1)} \u2192 {n_dst} "
               f"target map{'s' * (n_dst != 1)}\n{len(taps)} taps each, at their offsets from "
               f"the target's centre ({shape}; grey: no tap)")
    _finish(fig, path, title or heading, layout=False)


def synapse_counts(history: dict, path: str | os.PathLike, *, start: int | None = None,
                   title: str = "") -> None:
    """The network's synapse count at the end of each epoch (`fit`'s history["synapses"], with
    a `rewire` regime), from `start` (the count before training, drawn at epoch 0) when given,
    and beside it the synapses pruned and grown in each epoch when the history has them.
    10 x 4 inches (5.5 x 4 without pruned and grown)."""
    counts = history.get("synapses")
    if not counts:
        raise ValueError("the history has no `synapses`: only a regime that rewires records "
                         "them")
    changes = bool(history.get("pruned") or history.get("grown"))
    fig, axes = plt.subplots(1, 2 if changes else 1, figsize=(10 if changes else 5.5, 4),
                             squeeze=False)
    epochs = np.arange(1, len(counts) + 1)
    count = axes[0][0]
    if start is None:
        count.plot(epochs, counts, marker="o", markersize=4, color="tab:blue")
    else:
        count.plot(np.r_[0, epochs], [start, *counts], marker="o", markersize=4,
                   color="tab:blue")
    count.set_xlabel("epoch" if start is None else "epoch (0: before training)")
    count.set_ylabel("synapses at the end of the epoch")
    count.set_title("synapse count", fontsize=10)
    count.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    count.xaxis.get_major_locator().set_params(integer=True)
    count.grid(alpha=0.3)
    if changes:
        moved = axes[0][1]
        pruned = history.get("pruned") or [0] * len(counts)
        grown = history.get("grown") or [0] * len(counts)
        for shift, values, colour, label in ((-0.2, pruned, "tab:red", "pruned"),
                                             (0.2, grown, "tab:green", "grown")):
            bars = moved.bar(epochs + shift, values, width=0.4, color=colour, label=label)
            if len(epochs) <= 20:
                moved.bar_label(bars, fontsize=7, padding=1)
        moved.set_xlabel("epoch")
        moved.set_ylabel("synapses")
        moved.set_title("pruned and grown in each epoch", fontsize=10)
        moved.xaxis.get_major_locator().set_params(integer=True)
        moved.grid(alpha=0.3, axis="y")
        moved.set_ylim(0, 1.3 * max(1, *pruned, *grown))  # headroom for the legend
        moved.legend(fontsize=8, loc="upper right", ncol=2)
    _finish(fig, path, title)


# ---- recordings: spikes and traces ----------------------------------------------------------


def raster(recording, path: str | os.PathLike | None = None, *, group: str | None = None,
           sample: int = 0, title: str = ""):
    """A raster plot: a dot at (tick, neuron) for each spike of one sample, and below it the
    population rate (the fraction of the group's neurons that fired, per tick).

    `recording` is what `run(..., record=[...])` returns (`group` picks a recorded group whose
    outputs are 0/1; it may be left out when only one is), a `Spikes`, or one recorded array
    (ticks, batch, *shape) of 0s and 1s. The figure is 10 x 6 inches; without `path` it is
    returned, else saved and closed."""
    name, spikes = _spikes_of(recording, group)
    if not 0 <= sample < spikes.batch:
        raise ValueError(f"sample {sample} is not in a batch of {spikes.batch}")
    tick, neuron = spikes.of_sample(sample)
    rate = spikes.rate(sample)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True,
                                      gridspec_kw={"height_ratios": (3, 1)})
    if spikes.size <= 50:  # few neurons: a short bar per spike, as in a textbook raster
        top.scatter(tick, neuron, s=40, c="black", marker="|", linewidths=0.8)
    else:  # many: dots, smaller the more there are
        top.scatter(tick, neuron, s=max(0.3, min(4.0, 20000 / max(1, tick.size))),
                    c="black", marker=".", linewidths=0)
    top.set_ylim(-0.5, spikes.size - 0.5)
    top.set_ylabel("neuron")
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    top.set_title(f"{name}: {tick.size:,} spikes of {spikes.size:,} neurons over "
                  f"{spikes.ticks:,} ticks, sample {sample} (mean rate {rate.mean():.3g} per "
                  "neuron per tick)", fontsize=10, loc="left")
    bottom.plot(np.arange(spikes.ticks), rate, color="tab:red", linewidth=0.8)
    bottom.set_xlim(-0.5, spikes.ticks - 0.5)
    bottom.set_ylabel("fraction firing")
    bottom.set_xlabel("tick")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.grid(alpha=0.3)
    return _done(fig, path, title)


def _spikes_of(recording, group: str | None):
    """(name, Spikes) from a run's result, a Spikes or a recorded array."""
    from nndl.runtime.recording import Spikes, is_spiking

    if isinstance(recording, Spikes):
        return group or "spikes", recording
    if hasattr(recording, "spikes") and hasattr(recording, "recorded"):
        spiking = recording.spikes
        if group is None:
            if len(spiking) != 1:
                raise ValueError("raster() needs group=NAME: the recorded groups with 0/1 "
                                 f"outputs are {', '.join(spiking) or 'none'}")
            group = next(iter(spiking))
        if group not in spiking:
            why = "was not recorded" if group not in recording.recorded else \
                "has outputs other than 0 and 1"
            raise ValueError(f"no spikes of `{group}` to draw: it {why} (groups with spikes: "
                             f"{', '.join(spiking) or 'none'})")
        return group, spiking[group]
    values = np.asarray(recording)
    if values.ndim < 3 or not is_spiking(values):
        raise ValueError("raster() draws spikes: a run's recording, a Spikes, or an array "
                         f"(ticks, batch, *shape) of 0s and 1s; got shape {values.shape}"
                         + ("" if values.ndim < 3 else " with other values"))
    return group or "spikes", Spikes.of(values)


def traces(recording, key: str | None = None, path: str | os.PathLike | None = None, *,
           neurons=None, sample: int = 0, title: str = ""):
    """One line per neuron: a recorded output or state (`"exc.v"`) of one sample over the
    ticks. `recording` is what `run(..., record=[...])` returns (then `key` names what to
    draw) or one recorded array (ticks, batch, *shape). `neurons` lists flat indices or
    coordinate tuples (default: the first five). The figure is 10 x 4 inches; without `path`
    it is returned, else saved and closed."""
    if hasattr(recording, "recording"):
        if key is None:
            raise ValueError("traces() needs the key of a recording: one of "
                             + ", ".join(recording.recorded))
        values = recording.recording(key)
    else:
        values = np.asarray(recording)
    if values.ndim < 3:
        raise ValueError(f"traces() expects a recording (ticks, batch, *shape); got shape "
                         f"{values.shape}")
    if not 0 <= sample < values.shape[1]:
        raise ValueError(f"sample {sample} is not in a batch of {values.shape[1]}")
    shape = values.shape[2:]
    flat = values[:, sample].reshape(values.shape[0], -1)
    shown = list(range(min(5, flat.shape[1]))) if neurons is None else list(neurons)
    fig, ax = plt.subplots(figsize=(10, 4))
    for neuron in shown:
        index = _flat_index(shape, neuron)
        ax.plot(np.arange(flat.shape[0]), flat[:, index], linewidth=1,
                label=f"neuron {_coords(shape, index) if len(shape) > 1 else index}")
    ax.set_xlabel("tick")
    ax.set_ylabel(key or "value")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(f"{key or 'recording'}, sample {sample}", fontsize=10, loc="left")
    return _done(fig, path, title)


def _flat_index(shape, neuron) -> int:
    size = math.prod(shape)
    if isinstance(neuron, (tuple, list)):
        if len(neuron) != len(shape) or not all(0 <= int(c) < s for c, s in zip(neuron, shape)):
            raise ValueError(f"neuron {tuple(neuron)} is not in a group of shape {list(shape)}")
        return int(np.ravel_multi_index(tuple(int(c) for c in neuron), shape))
    if not 0 <= int(neuron) < size:
        raise ValueError(f"neuron {neuron} is not in a group of {size}")
    return int(neuron)


def _done(fig, path, title: str):
    """Save and close (returning None), or, without a path, lay out and return the figure."""
    if path is not None:
        _finish(fig, path, title)
        return None
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


# ---- helpers --------------------------------------------------------------------------------


def _finish(fig, path, title: str | None, layout: bool = True) -> None:
    if title:  # wrapped to the figure's width (about 11 characters an inch at this size),
        # never inside brackets: `image[11, 11]` stays on one line
        title = re.sub(r"\[[^\]]*\]", lambda m: m[0].replace(" ", "\u00a0"), title)
        width = max(20, int(fig.get_figwidth() * 11))
        fig.suptitle("\n".join(textwrap.fill(line, width) for line in title.split("\n")),
                     fontsize=11)
    if layout:
        fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def _projection(spec, name: str):
    wanted = name.replace(" ", "")
    for p in spec.projections:
        if p.name == wanted:
            return p
    pairs = [p for p in spec.projections if f"{p.src}->{p.dst}" == wanted]
    if len(pairs) == 1:
        return pairs[0]
    names = ", ".join(f"`{p.name}`" for p in spec.projections)
    raise KeyError(f"network `{spec.name}` has no projection `{name}`; it has {names}")


def _neuron_index(group, neuron) -> int:
    if isinstance(neuron, (tuple, list)):
        if len(neuron) != len(group.shape) or not all(0 <= int(c) < s for c, s in
                                                      zip(neuron, group.shape)):
            raise ValueError(f"neuron {tuple(neuron)} is not in group `{group.name}` of shape "
                             f"{list(group.shape)}")
        return int(np.ravel_multi_index(tuple(int(c) for c in neuron), group.shape))
    index = int(neuron)
    if not 0 <= index < group.size:
        raise ValueError(f"neuron {index} is not in group `{group.name}` of {group.size}")
    return index


def _coords(shape, index: int) -> str:
    return "[" + ", ".join(str(int(c)) for c in np.unravel_index(index, tuple(shape))) + "]"


def _centre_on_source(p, src, dst, index: int):
    """Where a `local` rule puts the target's centre on the source grid, as (row, column)."""
    if p.rule.kind != "local":
        return None
    from nndl.runtime import geometry

    lay = geometry.layout(src.shape, dst.shape, p.rule.params.get("axes"))
    position = index % math.prod(lay.dst_grid)
    u = geometry.centres(lay.src_grid, lay.dst_grid)[position]
    if len(u) == 2:
        return float(u[0]), float(u[1])
    if len(src.shape) == 1:  # a one-axis source is drawn as one row
        return 0.0, float(u[0])
    return None  # a grid of one axis inside a source drawn with two: no single place


def _integer_ticks(ax) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
