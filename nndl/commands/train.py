"""What `nndlc train` does: compile a network, load its regime's data, train, evaluate on the
held-out samples, and save the weights, the history and a plot of its curves. A network without
inputs whose regime names no data runs on its own and learns by its local rules.

It prints nothing itself (nndl.commands.cli does); `on_epoch` hears about each finished epoch.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nndl import datasets, ir
from nndl.compiler import compile as compile_file
from nndl.datasets import DataError, Dataset
from nndl.runtime import training
from nndl.runtime.errors import OutputError
from nndl.runtime.files import refuse_overwriting, write_text_atomically


@dataclass
class Result:
    network: str
    regime: str
    backend: str
    data: str | None  # None: a regime without data (the network runs on its own)
    train_samples: int
    test_samples: int
    history: dict
    test: dict  # the final evaluation (nndl.runtime.training.held_out); {} for hebb, oja
    test_is_train: bool  # the data set has no held-out samples (xor, parity: every pattern)
    seconds: float
    weights: Path
    history_file: Path
    plot: Path | None  # None when matplotlib is not installed


def find_data(regime: ir.Regime, source: str, override: str | None) -> Dataset:
    """The regime's data set (or `override`): a built-in name, or an .npz path, read relative to
    the .nndl file's folder."""
    name = override if override is not None else regime.data
    if name is None:
        raise DataError(f"train regime `{regime.name}` names no data: add `data NAME` to it or "
                        "pass --data NAME|PATH")
    if override is None and regime.data_args:
        return datasets.load(name, **regime.data_args)
    path = data_file(regime, source, override)
    if path is not None:
        return datasets.load(path)
    if "(" in name:  # --data parity(5)
        base, _, rest = name.partition("(")
        return datasets.load(base, **_arguments(rest.rstrip(")")))
    return datasets.load(name)


def data_file(regime: ir.Regime, source: str, override: str | None) -> Path | None:
    """The data file that `find_data` reads, or None for a built-in data set."""
    name = override if override is not None else regime.data
    if name is None or (override is None and regime.data_args) or not (
            name.endswith(".npz") or "/" in name):
        return None
    path = Path(name)
    return Path(source).parent / path if override is None and not path.is_absolute() else path


def _arguments(text: str) -> dict:
    """`5` or `n=5` -> {"n": 5}: the built-in data sets take whole numbers."""
    args = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = item.rpartition("=")
        try:
            args[key.strip() or "n"] = int(value)
        except ValueError:
            raise DataError(f"data set arguments are whole numbers; got {item!r}") from None
    return args


def fit_data(network: ir.Network, regime: ir.Regime, data: Dataset):
    """The input and output groups the data map onto, and the data shaped for them: inputs
    (samples, *shape) or time-major (ticks, samples, *shape), targets as the data set has them."""
    source = network.group(regime.input) if regime.input else _only(network.inputs, "input",
                                                                      network)
    target = network.group(regime.output) if regime.output else _only(network.outputs,
                                                                       "output", network)
    if int(np.prod(data.features)) != source.size:
        raise DataError(f"data set `{data.name}` has samples of shape {data.features} "
                        f"({int(np.prod(data.features))} values per tick); input `{source.name}` "
                        f"of network `{network.name}` takes {source.size} "
                        f"({list(source.shape)})")
    # labels 0 and 1 for a single neuron are its target values, as `fit` takes them
    binary = data.classes == 2 and target.size == 1
    if data.classes is not None and data.classes > target.size and not binary:
        raise DataError(f"data set `{data.name}` has {data.classes} classes; output "
                        f"`{target.name}` has only {target.size} neurons")

    def shaped(x):
        x = data.inputs(x)  # (n, *features) or (ticks, n, *features)
        lead = x.shape[:-len(data.features)] if data.features else x.shape
        return x.reshape(lead + source.shape)
    return source.name, target.name, shaped


def _only(groups, role: str, network: ir.Network) -> ir.Group:
    if len(groups) != 1:
        names = ", ".join(g.name for g in groups)
        raise DataError(f"network `{network.name}` has {len(groups)} {role}s ({names}); name "
                        f"the one the data belong to with `{role} NAME` in the regime")
    return groups[0]


def train(path: str, *, regime: str | None = None, network: str | None = None,
          data: str | None = None, backend: str = "numpy", out: str | None = None,
          epochs: int | None = None, seed: int | None = None, resume: bool = False,
          progress: bool = True, on_epoch=None, cache: bool = True,
          params: dict | None = None, how: str = "--set", plot: bool = True) -> Result:
    started = time.perf_counter()
    module = compile_file(path, backend=backend, network=network, cache=cache, params=params,
                          how=how)
    spec: ir.Network = module.SPEC
    chosen = spec.regime(regime)
    if not spec.inputs and data is None and chosen.data is None:  # it runs on its own
        return _train_without_data(module, chosen, path, backend, out, epochs, seed, resume,
                                   progress, on_epoch, started)
    dataset = find_data(chosen, path, data)
    source, target, shaped = fit_data(spec, chosen, dataset)
    x_train, x_test = shaped(dataset.x_train), shaped(dataset.x_test)
    folder = _output_folder(spec, out, [path, data_file(chosen, path, data)])
    checkpoint = folder / "checkpoint.npz"
    if not resume:  # an earlier run's: a later --resume must not continue it from this run
        checkpoint.unlink(missing_ok=True)
    net = module.Network(seed=seed)
    history = net.fit({source: x_train}, {target: dataset.y_train}, regime=chosen.name,
                      epochs=epochs, validation=({source: x_test}, {target: dataset.y_test}),
                      checkpoint=checkpoint, resume=resume, progress=progress,
                      on_epoch=on_epoch)
    final = training.held_out(net, {source: x_test}, {target: dataset.y_test}, chosen.loss,
                              chosen.learn, chosen.ticks, chosen.every_tick)
    weights = folder / f"{spec.name}.npz"
    net.save(weights)
    history_file = folder / "history.json"
    write_text_atomically(history_file, json.dumps({"network": spec.name, "regime": chosen.name,
                                                    "backend": backend, "history": history,
                                                    "test": final}, indent=2) + "\n")
    plotted = _plot(history, folder, f"{spec.name} ({chosen.name}, {backend})") if plot else None
    same = dataset.x_train.shape == dataset.x_test.shape and \
        np.array_equal(dataset.x_train, dataset.x_test)
    return Result(spec.name, chosen.name, backend, dataset.name, len(dataset.y_train),
                  len(dataset.y_test), history, final, same, time.perf_counter() - started,
                  weights, history_file, plotted)


def _plot(history: dict, folder: Path, title: str) -> Path | None:
    """loss.png (named so also when the curves are of local rules); None without matplotlib."""
    try:
        import nndl.plot as plotting
    except ImportError:  # matplotlib is an optional extra
        return None
    plot = folder / "loss.png"
    plotting.training_curves(history, plot, title=title)
    return plot


def _output_folder(spec: ir.Network, out: str | None, inputs: list) -> Path:
    """The folder for the results, made if need be; nothing in it may be one of `inputs`."""
    folder = Path(out) if out else Path("runs") / spec.name
    outputs = [folder / name for name in (f"{spec.name}.npz", "checkpoint.npz", "history.json",
                                          "loss.png")]
    refuse_overwriting(outputs, inputs)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"cannot write into {folder}: it is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _train_without_data(module, chosen: ir.Regime, path: str, backend: str, out, epochs, seed,
                        resume: bool, progress: bool, on_epoch, started: float) -> Result:
    """A network without inputs, driven by its own groups, learning by its local rules: no
    data set, no held-out samples, no checkpoint (its activity lives in the run)."""
    spec: ir.Network = module.SPEC
    if resume:
        raise DataError(f"regime `{chosen.name}` has no data, and a run without data cannot "
                        "resume: the network's activity is not in a checkpoint; start again "
                        "without --resume")
    folder = _output_folder(spec, out, [path])
    net = module.Network(seed=seed)
    history = net.fit(regime=chosen.name, epochs=epochs, progress=progress, on_epoch=on_epoch)
    weights = folder / f"{spec.name}.npz"
    net.save(weights)
    history_file = folder / "history.json"
    write_text_atomically(history_file, json.dumps({"network": spec.name, "regime": chosen.name,
                                                    "backend": backend, "history": history,
                                                    "test": {}}, indent=2) + "\n")
    plot = _plot(history, folder, f"{spec.name} ({chosen.name}, {backend}, no data)")
    return Result(spec.name, chosen.name, backend, None, 0, 0, history, {}, False,
                  time.perf_counter() - started, weights, history_file, plot)
