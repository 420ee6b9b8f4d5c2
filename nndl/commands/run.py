"""What `nndlc run` does: compile a network, run it for some ticks while recording groups and
states, and save the recordings to an `.npz` (and their plots).

A network with inputs needs each of them from a `.npy` file (`--input NAME=FILE.npy`, static
(batch, *shape) or time-varying (ticks, batch, *shape)); one without inputs, driven by its own
Poisson groups, just runs. It prints nothing itself (nndl.commands.cli does).

The file holds each recording under its key (`exc`, `exc.v`: (ticks, batch, *shape)), for each
recorded output of 0s and 1s its spikes as `__spikes__.GROUP.tick`, `.neuron` (flat index) and
`.sample` (int64, in time order), and `__meta__`, a JSON string naming the source, its sha256,
the network, the backend, dtype, seed, ticks, batch and the nndl version.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nndl.compiler import compile as compile_file
from nndl.runtime import recording
from nndl.runtime.errors import InputError, OutputError
from nndl.runtime.files import refuse_overwriting, write_atomically
from nndl.version import __version__

SPIKES = "__spikes__"  # names starting with `__` are no group's: they cannot collide
META = "__meta__"


@dataclass
class Result:
    network: str
    backend: str
    dtype: str
    seed: int
    ticks: int
    batch: int
    result: recording.Run  # the run's outputs and recordings
    seconds: float
    file: Path
    plots: list[Path]  # empty without matplotlib, or with plot=False
    plotting: bool  # whether matplotlib was there to draw


def parse_inputs(items: list[str]) -> dict[str, Path]:
    """`NAME=FILE.npy` pairs; InputError for one without `=`."""
    inputs = {}
    for item in items:
        name, sep, file = item.partition("=")
        if not sep or not name.strip() or not file.strip():
            raise InputError(f"--input takes NAME=FILE.npy; got {item!r}")
        inputs[name.strip()] = Path(file.strip())
    return inputs


def read_input(name: str, path: Path) -> np.ndarray:
    """An input's array from a `.npy` file, never unpickled."""
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"--input {name}: no such file {path}") from None
    except (ValueError, OSError, EOFError) as e:
        raise InputError(f"--input {name}: {path} is not a readable .npy file ({e})") from None


def check_inputs(spec, given: dict[str, Path]) -> None:
    """Every input of the network, and only those, must be given (before anything runs)."""
    names = [g.name for g in spec.inputs]
    unknown = [n for n in given if n not in names]
    if unknown:
        raise InputError(f"network `{spec.name}` has no input `{unknown[0]}` (inputs: "
                         f"{', '.join(names) or 'none'})")
    missing = [n for n in names if n not in given]
    if missing:
        raise InputError(f"network `{spec.name}` takes the input{'s' * (len(missing) > 1)} "
                         f"{', '.join(missing)}: give each as --input NAME=FILE.npy "
                         "((batch, *shape), or (ticks, batch, *shape) when it varies)")


def run(path: str, *, ticks: int, record: list[str] | None = None, network: str | None = None,
        backend: str = "numpy", weights: str | None = None, seed: int | None = None,
        dtype: str | None = None, batch: int | None = None, inputs: dict | None = None,
        out: str | None = None, plot: str | None = None, draw: bool = True,
        cache: bool = True) -> Result:
    started = time.perf_counter()
    module = compile_file(path, backend=backend, network=network, cache=cache)
    spec = module.SPEC
    given = dict(inputs or {})
    check_inputs(spec, given)
    keys = record or [g.name for g in spec.groups if g.role != "input"]
    chosen = recording.items(spec, keys)  # unknown names: refused before anything runs
    file = Path(out) if out else Path(f"{Path(path).stem}_{spec.name}_run.npz")
    plots = plot_paths(Path(plot) if plot else file.with_suffix(".png"), chosen) if draw else []
    refuse_overwriting([file, *plots], [path, weights, *given.values()])
    net = module.Network(seed=seed, dtype=dtype)
    if weights:
        net.load(weights)
    arrays = {name: read_input(name, file_path) for name, file_path in given.items()}
    result = net.run(arrays, ticks=ticks, batch=batch, record=[i.key for i in chosen])
    steps, size = next(iter(result.recorded.values())).shape[:2]
    meta = {"source": spec.source, "sha256": spec.sha256, "network": spec.name,
            "backend": backend, "dtype": net.dtype, "seed": net.seed, "ticks": int(steps),
            "batch": int(size), "weights": weights, "nndl_version": __version__,
            "recorded": list(result.recorded)}
    save(file, result, meta)
    drawn, plotting = draw_plots(result, chosen, plots, f"{spec.name} ({backend})") \
        if draw else ([], True)
    return Result(spec.name, backend, net.dtype, net.seed, int(steps), int(size), result,
                  time.perf_counter() - started, file, drawn, plotting)


def save(file: Path, result: recording.Run, meta: dict) -> None:
    """The recordings, spikes and metadata, written atomically."""
    payload = dict(result.recorded)
    for name, spikes in result.spikes.items():
        for field in ("tick", "neuron", "sample"):
            payload[f"{SPIKES}.{name}.{field}"] = getattr(spikes, field)
    payload[META] = np.array(json.dumps(meta, sort_keys=True))
    if file.parent != Path("") and not file.parent.is_dir():
        raise OutputError(f"cannot write {file}: the folder {file.parent} does not exist")
    write_atomically(file, lambda f: np.savez(f, **payload))


def plot_paths(plot: Path, chosen: tuple) -> list[Path]:
    """One plot per recording: `plot` itself for one, else PLOT_STEM.KEY.png for each."""
    if len(chosen) == 1:
        return [plot]
    return [plot.with_name(f"{plot.stem}.{item.key}{plot.suffix or '.png'}") for item in chosen]


def draw_plots(result: recording.Run, chosen: tuple, paths: list[Path],
               title: str) -> tuple[list[Path], bool]:
    """A raster for each recording of spikes, traces for the others; ([], False) without
    matplotlib."""
    try:
        import nndl.plot as plotting  # (not `from nndl import`: that finds a loaded module)
    except ImportError:  # matplotlib is an optional extra
        return [], False
    for item, path in zip(chosen, paths):
        if item.key in result.spikes:
            plotting.raster(result, path, group=item.key, title=title)
        else:
            plotting.traces(result, item.key, path, title=title)
    return paths, True
