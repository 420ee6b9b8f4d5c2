"""Gradient training that every backend shares: losses over the recorded ticks, `fit`'s loop,
checkpoints, and finding where a NaN or infinity started.

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
from nndl.runtime import local_rules, losses, rewiring, weightfile
from nndl.runtime.errors import InputError, RuntimeNNDLError, WeightFileError
from nndl.runtime.inputs import prepare_inputs
from nndl.runtime.optimizers import SGD, Adam
from nndl.signatures import suggest

LOSSES = ("mse", "cross_entropy")


class TrainingError(RuntimeNNDLError):
    """Training cannot go on: a loss or gradient is no longer a finite number."""


@dataclass
class Settings:
    """One training run's settings: a regime's, with the caller's overrides."""

    loss: str | None  # None: a regime of local rules only
    every_tick: bool = False
    ticks: int | None = None
    batch: int = 32
    epochs: int = 10
    optimizer: tuple[str, dict] = ("adam", {"lr": 0.001})
    name: str = "fit"
    learn: tuple = ()  # ir.LocalRule: projections that learn from local activity
    rewire: tuple = ()  # ir.Rewire: projections that prune and grow synapses


def settings(spec: ir.Network, regime: str | None, *, epochs, batch, ticks, loss, optimizer,
             targets: dict) -> Settings:
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


def check_loss(loss: str) -> str:
    if loss not in LOSSES:
        hint = suggest(str(loss), LOSSES)
        raise InputError(f"unknown loss {loss!r}; the losses are {', '.join(LOSSES)}"
                         + (f" ({hint})" if hint else ""))
    return loss


# ---- targets and the loss over the recorded ticks -----------------------------------------


def target_layout(name: str, target: np.ndarray, group: ir.Group, loss: str | None = None) -> str:
    """"static" (samples first) or "ticks" (ticks, then samples) for a target array.

    Integers for cross-entropy are class indices: (batch,) or (ticks, batch). Otherwise the
    values' own shape decides: (batch, *shape) or (ticks, batch, *shape)."""
    shape = group.shape
    if loss == "cross_entropy" and target.dtype.kind in "iu" and target.ndim in (1, 2):
        return "static" if target.ndim == 1 else "ticks"
    if target.shape[1:] == shape and target.ndim == 1 + len(shape):
        return "static"
    if target.shape[2:] == shape and target.ndim == 2 + len(shape):
        return "ticks"
    if target.dtype.kind in "iu" and target.ndim in (1, 2):  # class indices
        return "static" if target.ndim == 1 else "ticks"
    raise InputError(f"targets for `{name}` must be (batch, {_dims(shape)}) or class indices "
                     f"(batch,), or either with a leading ticks axis; got {target.shape}")


def _dims(shape) -> str:
    return ", ".join(str(d) for d in shape)


def check_targets(spec: ir.Network, targets: dict, needed: bool = True) -> dict[str, np.ndarray]:
    outputs = {g.name: g for g in spec.outputs}
    checked = {}
    for name, value in targets.items():
        if name not in outputs:
            hint = suggest(name, outputs)
            raise InputError(f"network `{spec.name}` has no output `{name}` to train"
                             + (f"; {hint}" if hint else
                                f" (outputs: {', '.join(outputs) or 'none'})"))
        target = np.asarray(value)
        if target.dtype.kind not in "biuf":
            raise InputError(f"targets for `{name}` must be numbers, not {target.dtype}")
        if target.dtype.kind == "f" and not np.isfinite(target).all():
            raise InputError(f"targets for `{name}` hold {int((~np.isfinite(target)).sum())} "
                             "values that are not finite")
        target_layout(name, target, outputs[name])
        checked[name] = target
    if not checked and needed:
        raise InputError(f"no targets given: name an output of `{spec.name}` "
                         f"({', '.join(outputs)})")
    return checked


def _at_tick(target: np.ndarray, layout: str, t: int, group: ir.Group, batch: int,
             loss: str) -> np.ndarray:
    """The target for one tick, as the loss function wants it: (batch, n), or class indices
    (batch,) for cross-entropy."""
    value = target[t] if layout == "ticks" else target
    if value.shape[:1] != (batch,):
        raise InputError(f"targets for `{group.name}` have {value.shape[0] if value.ndim else 0}"
                         f" samples; the inputs have {batch}")
    if value.dtype.kind in "iu" and value.ndim == 1:
        if loss == "cross_entropy":
            return value
        # mse against class indices: one-hot rows, or the value itself for one output
        if group.size == 1:
            return value.reshape(batch, 1).astype(np.float64)
        if value.min(initial=0) < 0 or value.max(initial=0) >= group.size:
            raise InputError(f"class indices for `{group.name}` must be from 0 to "
                             f"{group.size - 1}")
        return np.eye(group.size)[value]
    return value.reshape(batch, group.size)


def loss_and_seeds(net, targets: dict[str, np.ndarray], loss: str, every_tick: bool,
                   batch: int) -> tuple[float, dict, dict]:
    """The loss of the recorded run, and where backpropagation starts: d loss / d out of each
    target group at every tick, or d loss / d net for cross-entropy on a softmax group."""
    spec = net.SPEC
    total, seeds_out, seeds_net = 0.0, {}, {}
    for name, target in targets.items():
        group = spec.group(name)
        fused = loss == "cross_entropy" and group.activation == "softmax"
        values = net._recorded(name, "net" if fused else "out")  # (ticks, batch, n)
        ticks = values.shape[0]
        chosen = range(ticks) if every_tick else [ticks - 1]
        layout = target_layout(name, target, group, loss)
        if layout == "ticks" and target.shape[0] != ticks:
            raise InputError(f"targets for `{name}` have {target.shape[0]} ticks; the run has "
                             f"{ticks}")
        seed = np.zeros(values.shape, dtype=values.dtype)
        for t in chosen:
            wanted = _at_tick(target, layout, t, group, batch, loss)
            value, grad = getattr(losses, loss)(values[t].astype(np.float64), wanted)
            total += value / len(chosen)
            seed[t] = grad / len(chosen)
        (seeds_net if fused else seeds_out)[name] = seed
    return total, seeds_out, seeds_net


# ---- where a NaN started ------------------------------------------------------------------


def first_not_finite(net, backward: bool = True) -> str:
    """Where the first NaN or infinity of the last forward (and backward) pass appeared."""
    spec = net.SPEC
    if backward:
        outs, dnets = net._traced()
    else:
        outs, dnets = {g.name: net._recorded(g.name, "out") for g in spec.groups}, {}
    order = [name for step in spec.schedule for name in step.groups]
    ticks = next(iter(outs.values())).shape[0]
    for t in range(ticks):
        for name in order:
            if not np.isfinite(outs[name][t]).all():
                return f"the output of group `{name}` at tick {t}"
    for t in reversed(range(ticks)):
        for name in reversed(order):
            if name in dnets and not np.isfinite(dnets[name][t]).all():
                return f"the gradient of group `{name}` at tick {t} (backpropagating)"
    return "the loss itself"


def check_finite(net, loss: float, grads: dict, where: str) -> None:
    bad = [key for key, g in grads.items() if not np.isfinite(g).all()]
    if math.isfinite(loss) and not bad:
        return
    what = "the loss" if not math.isfinite(loss) else f"the gradient of `{bad[0]}`"
    raise TrainingError(f"training stopped at {where}: {what} became {_kind(loss, grads)}; "
                        f"the first value that was not finite is {first_not_finite(net)}. "
                        "Try a smaller learning rate, or check the data")


def _kind(loss: float, grads: dict) -> str:
    values = [np.asarray(loss)] + list(grads.values())
    return "NaN" if any(np.isnan(v).any() for v in values) else "infinite"


# ---- fit --------------------------------------------------------------------------------


def make_optimizer(kind: str, params: dict):
    if kind == "sgd":
        return SGD(**params)
    if kind == "adam":
        return Adam(**params)
    raise InputError(f"unknown optimizer {kind!r}; the optimizers are sgd and adam")


def samples(spec: ir.Network, inputs: dict, targets: dict, loss: str | None = None) -> int:
    """How many samples the arrays hold (all must agree)."""
    counts = {}
    for name, x in inputs.items():
        shape = spec.group(name).shape
        counts[f"input `{name}`"] = x.shape[1] if x.ndim == len(shape) + 2 else x.shape[0]
    for name, y in targets.items():
        layout = target_layout(name, y, spec.group(name), loss)
        counts[f"targets `{name}`"] = y.shape[1] if layout == "ticks" else y.shape[0]
    if len(set(counts.values())) > 1:
        raise InputError("the data disagree on the number of samples: " + ", ".join(
            f"{what} has {n}" for what, n in counts.items()))
    return next(iter(counts.values()))


def take(spec: ir.Network, inputs: dict, targets: dict, index: np.ndarray,
         loss: str | None = None):
    """The samples at `index` of every input and target."""
    def pick(array, ticks_first):
        return array[:, index] if ticks_first else array[index]
    x = {name: pick(v, v.ndim == len(spec.group(name).shape) + 2) for name, v in inputs.items()}
    y = {name: pick(v, target_layout(name, v, spec.group(name), loss) == "ticks")
         for name, v in targets.items()}
    return x, y


def shuffle_rng(seed: int, regime: str) -> np.random.Generator:
    """The stream that orders the samples of each epoch: the network's seed and the regime's
    name, so training is reproducible and independent of how synapses were drawn."""
    return np.random.default_rng([seed, zlib.crc32(f"fit:{regime}".encode("utf-8"))])


def save_checkpoint(net, path, optimizer, epoch: int, rng, history: dict,
                    settings: Settings) -> None:
    """A weight file (it loads with `net.load`) plus the optimiser's state, the epoch, the
    shuffling stream's state and the history so far; written atomically."""
    arrays = net.parameters()
    arrays.update({f"optimizer.{key}": np.asarray(v) for key, v in optimizer.state().items()})
    meta = net.metadata()
    meta["checkpoint"] = {"epoch": epoch, "rng": rng.bit_generator.state, "history": history,
                          "regime": settings.name, "optimizer": settings.optimizer[0]}
    weightfile.save(path, arrays, meta)


def load_checkpoint(net, path, optimizer, rng) -> tuple[int, dict]:
    """Restore weights, optimiser, stream; returns (epochs done, history so far)."""
    arrays, meta = weightfile.load(path)
    state = meta.get("checkpoint")
    if not isinstance(state, dict):
        raise WeightFileError(f"{path} is a weight file, not a training checkpoint")
    net.load(path)
    optimizer.load_state({key.removeprefix("optimizer."): v for key, v in arrays.items()
                          if key.startswith("optimizer.")})
    rng.bit_generator.state = state["rng"]
    return int(state["epoch"]), {key: list(v) for key, v in state["history"].items()}


def fit(net, inputs: dict, targets: dict, settings: Settings, *, validation=None,
        checkpoint=None, resume: bool = False, progress: bool = True, on_epoch=None) -> dict:
    """Train for the epochs the settings ask; returns the per-epoch history."""
    spec = net.SPEC
    n = samples(spec, inputs, targets, settings.loss)
    ticks = run_ticks(spec, inputs, settings.ticks)
    optimizer = make_optimizer(*settings.optimizer)
    learner = Learner(net, settings) if settings.learn else None
    rewirer = Rewirer(net, settings.rewire, optimizer, learner) if settings.rewire else None
    rng = shuffle_rng(net.seed, settings.name)
    history: dict[str, list] = {"loss": []} if settings.loss else {}
    done = 0
    if resume and checkpoint is not None and os.path.exists(checkpoint):
        done, history = load_checkpoint(net, checkpoint, optimizer, rng)
    batches = math.ceil(n / settings.batch)
    bar = _progress(total=(settings.epochs - done) * batches, enabled=progress)
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
                for key, value in net.evaluate(*validation, loss=settings.loss or "mse",
                                               ticks=ticks,
                                               every_tick=settings.every_tick).items():
                    history.setdefault(f"test_{key}", []).append(value)
            if checkpoint is not None:
                save_checkpoint(net, checkpoint, optimizer, epoch + 1, rng, history, settings)
            if on_epoch is not None:
                on_epoch(epoch + 1, history)
    finally:
        bar.close()
    return history


class Rewirer:
    """The `rewire` statements of a regime during `fit`: every N steps, prune and grow, then
    put the new synapses in place; the optimiser's state and the local rules follow."""

    def __init__(self, net, actions: tuple, optimizer, learner):
        self.net, self.actions, self.optimizer, self.learner = net, actions, optimizer, learner
        self.pruned = self.grown = 0

    def step(self, step: int) -> None:
        due = [a for a in self.actions if step % a.every == 0]
        if not due:
            return
        spec = self.net.SPEC
        synapses, biases = self.net._get_parameters()
        moved = {}
        for action in due:
            p = next(q for q in spec.projections if q.name == action.projection)
            outcome = rewiring.rewire(spec, p, action, synapses[p.name], self.net.seed,
                                      step // action.every)
            synapses[p.name] = outcome.synapses
            moved[p.name] = outcome.source_index
            self.pruned += outcome.pruned
            self.grown += outcome.grown
        self.net._install(synapses, biases)
        for name, source in moved.items():
            self.optimizer.remap(f"{name}.w", source)
        if self.learner:
            self.learner.rewired(synapses)

    def epoch_summary(self) -> dict:
        synapses, _ = self.net._get_parameters()
        summary = {"synapses": int(sum(syn.pre.size for syn in synapses.values())),
                   "pruned": self.pruned, "grown": self.grown}
        self.pruned = self.grown = 0
        return summary


class Learner:
    """The local rules of a regime during `fit`: their changes after each batch's run, and
    what each epoch did (the mean size of the changes; the perceptron's mistakes)."""

    def __init__(self, net, settings: Settings):
        self.net, self.rules = net, settings.learn
        self.rewired(net._get_parameters()[0])
        self.change, self.mistakes, self.batches = 0.0, 0, 0

    def rewired(self, synapses: dict) -> None:
        self.wiring = {name: (syn.pre, syn.post, syn.tie) for name, syn in synapses.items()}

    def changes(self, targets: dict, where: str) -> dict[str, np.ndarray]:
        spec = self.net.SPEC
        with np.errstate(over="ignore", invalid="ignore"):  # a runaway is reported below
            result, mistakes = local_rules.changes(self.net, spec, self.rules, targets,
                                                   self.net._trainable(), self.wiring)
        bad = [key for key, change in result.items() if not np.isfinite(change).all()]
        if bad:
            raise TrainingError(f"training stopped at {where}: the local rule's change of "
                                f"`{bad[0]}` is not finite; the first value that was not finite "
                                f"is {first_not_finite(self.net, backward=False)}. Try a smaller "
                                "rate, or a decay")
        self.change += float(np.mean([np.abs(c).mean() for c in result.values()]))
        self.mistakes += mistakes
        self.batches += 1
        return result

    def epoch_summary(self, samples: int) -> dict[str, float]:
        summary = {"weight_change": self.change / max(1, self.batches)}
        if any(rule.kind == "perceptron" for rule in self.rules):
            summary["mistakes"] = self.mistakes
        self.change, self.mistakes, self.batches = 0.0, 0, 0
        return summary


def evaluate(net, inputs: dict, targets: dict, loss: str, ticks, every_tick: bool,
             batch: int = 256) -> dict:
    """The mean loss over the samples and, for class-index targets, the accuracy (the largest
    output at the last tick is the answer)."""
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
                answer = net._recorded(name, "out")[-1].argmax(axis=-1)
                correct += int((answer == target).sum())
                counted += index.size
    result = {"loss": total / n}
    if counted:
        result["accuracy"] = correct / counted
    return result


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


def _progress(total: int, enabled: bool):
    """A tqdm bar on a terminal, else one that shows nothing."""
    if not enabled:
        return _Silent()
    from tqdm import tqdm  # imported only when a bar may be shown
    # disable=None: no bar when stderr is not a terminal (a log file would fill with them)
    return tqdm(total=total, unit="batch", leave=False, dynamic_ncols=True, disable=None,
                mininterval=0.2)
