"""Training that every backend shares: a regime's settings, `fit`'s loop and `evaluate`.
Targets and losses: nndl.runtime.targets; checkpoints: nndl.runtime.checkpoints; local rules
and rewiring during fit: nndl.runtime.plasticity; NaN diagnosis: nndl.runtime.nonfinite.

A backend supplies the forward and backward passes (`_forward_for_grad`, `_recorded`,
`_backward`) and access to its parameters (`_trainable`, `_trained`); everything here works on
plain NumPy arrays keyed like the weight file.
"""

from __future__ import annotations

import math
import os
import zlib
from dataclasses import dataclass

import numpy as np

from nndl import ir
from nndl.runtime.checkpoints import load_checkpoint, save_checkpoint
from nndl.runtime.errors import InputError, TrainingError  # noqa: F401  (TrainingError: API)
from nndl.runtime.inputs import prepare_inputs
from nndl.runtime.nonfinite import check_finite
from nndl.runtime.optimizers import SGD, Adam
from nndl.runtime.plasticity import Learner, Rewirer
from nndl.runtime.learning_rates import rate
from nndl.runtime.targets import check_targets, samples, take
from nndl.diagnostics import suggest

LOSSES = ("mse", "cross_entropy")


@dataclass
class Settings:
    """One training run's settings: a regime's, with the caller's overrides."""

    loss: str | None  # None: a regime of local rules only
    every_tick: bool = False
    ticks: int | None = None
    batch: int = 32
    epochs: int = 10
    optimizer: tuple[str, dict] = ("adam", {"lr": 0.001})
    schedule: tuple[str, dict] | None = None  # the learning rate's: None keeps it constant
    name: str = "fit"
    learn: tuple = ()  # ir.LocalRule: projections that learn from local activity
    rewire: tuple = ()  # ir.Rewire: projections that prune and grow synapses


SCHEDULES = {"constant": (), "cosine": ("final_lr",)}  # as the language's (a test keeps them so)


def settings(spec: ir.Network, regime: str | None, *, epochs, batch, ticks, loss, optimizer,
             targets: dict, schedule=None) -> Settings:
    """The run's settings: the regime's (the network's first when none is named), with the
    caller's overrides; defaults where neither says."""
    chosen = regime_of(spec, regime)
    learn = chosen.learn if chosen else ()
    rewire = chosen.rewire if chosen else ()
    if loss is None:
        if chosen and chosen.loss:
            loss = chosen.loss
        elif not learn:  # neither a loss nor local rules: train the outputs by gradient
            loss = default_loss(spec, targets)
    if optimizer is None:
        optimizer = (chosen.optimizer.kind, dict(chosen.optimizer.params)) \
            if chosen and chosen.optimizer else ("adam", {"lr": 0.001})
    return Settings(
        loss=check_loss(loss) if loss is not None else None,
        every_tick=bool(chosen and chosen.every_tick),
        ticks=ticks if ticks is not None else (chosen.ticks if chosen else None),
        batch=_count("batch", batch if batch is not None else (chosen.batch if chosen else 32)),
        epochs=_count("epochs", epochs if epochs is not None else
                      (chosen.epochs if chosen else 10)),
        optimizer=optimizer,
        schedule=check_schedule(schedule) if schedule is not None else
        ((chosen.schedule.kind, dict(chosen.schedule.params)) if chosen and chosen.schedule
         else None),
        name=chosen.name if chosen else "fit",
        learn=learn,
        rewire=rewire,
    )


def _count(what: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{what} must be a whole number, 1 or more; got {value!r}")
    return int(value)


def run_ticks(spec: ir.Network, inputs: dict, ticks: int | None) -> int | None:
    """Time-varying inputs set the number of ticks themselves; a regime's `ticks` applies to
    static ones."""
    varying = any(x.ndim == len(spec.group(name).shape) + 2 for name, x in inputs.items())
    return None if varying else ticks


def regime_of(spec: ir.Network, name: str | None) -> ir.Regime | None:
    """The named regime (or the network's first one when `name` is None; None when it has
    none)."""
    regimes = getattr(spec, "regimes", ())
    if name is None:
        return regimes[0] if regimes else None
    for regime in regimes:
        if regime.name == name:
            return regime
    names = ", ".join(f"`{r.name}`" for r in regimes) or "none"
    hint = suggest(name, [r.name for r in regimes])
    raise InputError(f"network `{spec.name}` has no train regime `{name}` (it has: {names})"
                     + (f"; {hint}" if hint else ""))


def default_loss(spec: ir.Network, targets: dict) -> str:
    """Without a regime: cross-entropy when every target group is a softmax group, else mse."""
    outputs = {g.name: g for g in spec.outputs}  # unknown names are check_targets' to report
    softmax = all(name in outputs and outputs[name].activation == "softmax" for name in targets)
    return "cross_entropy" if targets and softmax else "mse"


def check_schedule(schedule) -> tuple[str, dict] | None:
    """fit(schedule=...): "cosine", ("cosine", {"final_lr": 1e-4}) or "constant" (None)."""
    kind, params = (schedule, {}) if isinstance(schedule, str) else schedule
    if kind not in SCHEDULES:
        hint = suggest(str(kind), SCHEDULES)
        raise InputError(f"unknown schedule {kind!r}; the schedules are "
                         f"{', '.join(SCHEDULES)}" + (f" ({hint})" if hint else ""))
    unknown = sorted(set(params) - set(SCHEDULES[kind]))
    if unknown:
        raise InputError(f"schedule {kind!r} has no parameter {unknown[0]!r}")
    return None if kind == "constant" else (kind, dict(params))


def check_loss(loss: str) -> str:
    if loss not in LOSSES:
        hint = suggest(str(loss), LOSSES)
        raise InputError(f"unknown loss {loss!r}; the losses are {', '.join(LOSSES)}"
                         + (f" ({hint})" if hint else ""))
    return loss


# ---- fit -----------------------------------------------------------------------------------


def make_optimizer(kind: str, params: dict):
    if kind == "sgd":
        return SGD(**params)
    if kind == "adam":
        return Adam(**params)
    if kind == "adamw":  # Adam's state and step, the decay decoupled from the gradient
        return Adam(**dict(ir.DEFAULT_ADAMW, **params), decoupled=True)
    raise InputError(f"unknown optimizer {kind!r}; the optimizers are sgd, adam and adamw")


def shuffle_rng(seed: int, regime: str) -> np.random.Generator:
    """The stream that orders the samples of each epoch: the network's seed and the regime's
    name, so training is reproducible and independent of how synapses were drawn."""
    return np.random.default_rng([seed, zlib.crc32(f"fit:{regime}".encode("utf-8"))])


def fit(net, inputs: dict, targets: dict, settings: Settings, *, validation=None,
        checkpoint=None, resume: bool = False, progress: bool = True, on_epoch=None) -> dict:
    """Train for the epochs the settings ask; returns the per-epoch history."""
    spec = net.SPEC
    n = samples(spec, inputs, targets, settings.loss)
    ticks = run_ticks(spec, inputs, settings.ticks)
    optimizer = make_optimizer(*settings.optimizer)
    learner = Learner(net, settings.learn, settings.batch) if settings.learn else None
    batches = math.ceil(n / settings.batch)
    rewirer = Rewirer(net, settings.rewire, optimizer, learner, settings.epochs * batches) \
        if settings.rewire else None
    rng = shuffle_rng(net.seed, settings.name)
    history: dict[str, list] = {"loss": []} if settings.loss else {}
    done = 0
    if resume and checkpoint is not None and os.path.exists(checkpoint):
        done, history = load_checkpoint(net, checkpoint, optimizer, rng, settings.name)
    lr = optimizer.lr  # the schedule's starting rate
    bar = progress_bar(total=(settings.epochs - done) * batches, enabled=progress)
    try:
        for epoch in range(done, settings.epochs):
            order = rng.permutation(n)
            total = 0.0
            bar.set_description(f"epoch {epoch + 1}/{settings.epochs}")
            for b in range(batches):
                index = order[b * settings.batch:(b + 1) * settings.batch]
                x, y = take(spec, inputs, targets, index, settings.loss)
                where = f"epoch {epoch + 1}, batch {b + 1}"
                if settings.loss:
                    loss, grads = net.loss_and_grad(x, y, loss=settings.loss, ticks=ticks,
                                                    every_tick=settings.every_tick)
                    check_finite(net, loss, grads, where)
                else:  # local rules only: they need the run, not a loss
                    prepared, steps, size = prepare_inputs(spec, x, ticks, np.dtype(net.dtype))
                    net._forward_for_grad(prepared, steps, size)
                changes = learner.changes(y, where) if learner else {}
                params = net._trainable()
                if settings.loss:
                    optimizer.lr = rate(settings.schedule, lr, epoch * batches + b,
                                        settings.epochs * batches)
                    optimizer.step(params, {key: g for key, g in grads.items()
                                            if key not in changes})
                    total += loss * index.size
                    bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                for key, change in changes.items():
                    params[key] += change.astype(params[key].dtype)
                net._trained(params)
                if rewirer:
                    rewirer.step(epoch * batches + b + 1)
                bar.update(1)
            if settings.loss:
                history["loss"].append(total / n)
            if learner:
                for key, value in learner.epoch_summary(n).items():
                    history.setdefault(key, []).append(value)
            if rewirer:
                for key, value in rewirer.epoch_summary().items():
                    history.setdefault(key, []).append(value)
            if validation is not None:
                for key, value in held_out(net, *validation, settings.loss, settings.learn,
                                           ticks, settings.every_tick).items():
                    history.setdefault(f"test_{key}", []).append(value)
            if checkpoint is not None:
                save_checkpoint(net, checkpoint, optimizer, epoch + 1, rng, history,
                                settings.name)
            if on_epoch is not None:
                on_epoch(epoch + 1, history)
    finally:
        bar.close()
    return history


def evaluate(net, inputs: dict, targets: dict, loss: str, ticks, every_tick: bool,
             batch: int = 256) -> dict:
    """The mean loss over the samples and, for class-index targets, the accuracy (the largest
    output at the last tick is the answer; for a single neuron, an output above one half)."""
    total, correct, counted = _tally(net, inputs, targets, loss, ticks, every_tick, batch)
    result = {"loss": total}
    if counted:
        result["accuracy"] = correct / counted
    return result


def _tally(net, inputs: dict, targets: dict, loss: str, ticks, every_tick: bool,
           batch: int = 256) -> tuple[float, int, int]:
    """The mean loss, and how many class-index targets were answered right, of how many."""
    spec = net.SPEC
    targets = check_targets(spec, targets)
    n = samples(spec, inputs, targets, loss)
    ticks = run_ticks(spec, inputs, ticks)
    total, correct, counted = 0.0, 0, 0
    for start in range(0, n, batch):
        index = np.arange(start, min(start + batch, n))
        x, y = take(spec, inputs, targets, index, loss)
        value, _ = net.loss_and_grad(x, y, loss=loss, ticks=ticks, every_tick=every_tick,
                                     backward=False)
        total += value * index.size
        for name, target in y.items():
            if target.dtype.kind in "iu" and target.ndim == 1:
                answer = _answers(net._recorded(name, "out")[-1])
                correct += int((answer == target).sum())
                counted += index.size
    return total / n, correct, counted


def _answers(out: np.ndarray) -> np.ndarray:
    """The class each sample's output names: the largest neuron, or for a single neuron
    (trained on labels 0 and 1, as mse and the perceptron take them) 1 above one half."""
    flat = out.reshape(out.shape[0], -1)
    if flat.shape[1] == 1:
        return (flat[:, 0] > 0.5).astype(np.int64)
    return flat.argmax(axis=-1)


def held_out(net, inputs: dict, targets: dict, loss: str | None, learn: tuple, ticks,
             every_tick: bool) -> dict:
    """What held-out samples tell of a network trained with `loss` or the local rules `learn`:
    evaluate's loss (and accuracy) under a loss; under local rules alone, the accuracy and the
    mistakes when a rule learns from the targets (reads `target`, as the perceptron does), and
    nothing for hebb or oja, which never see a target."""
    inputs = {name: np.asarray(x) for name, x in inputs.items()}
    if loss is not None:
        return evaluate(net, inputs, targets, loss, ticks, every_tick)
    if not net.SPEC.needs_targets(learn):
        return {}
    # the perceptron's targets as mse takes them (the rule minimises no loss: none is reported)
    _, correct, counted = _tally(net, inputs, targets, "mse", ticks, every_tick)
    return {"accuracy": correct / counted, "mistakes": counted - correct} if counted else {}


class _Silent:
    """A progress bar that shows nothing."""

    def update(self, n):
        pass

    def set_description(self, text):
        pass

    def set_postfix(self, **values):
        pass

    def close(self):
        pass


def progress_bar(total: int, enabled: bool):
    """A tqdm bar on a terminal, else one that shows nothing."""
    if not enabled:
        return _Silent()
    from tqdm import tqdm  # imported only when a bar may be shown
    # disable=None: no bar when stderr is not a terminal (a log file would fill with them)
    return tqdm(total=total, unit="batch", leave=False, dynamic_ncols=True, disable=None,
                mininterval=0.2)
