"""Training checkpoints: a weight file (it opens with `net.load`) that also holds the optimiser's
state (`optimizer.*` arrays) and, in its metadata, the epoch, the shuffling stream's state, the
history and the regime; written atomically.

A checkpoint is checked whole before anything is loaded: its metadata, the headers of its
optimiser arrays (before they are inflated), then its values; only then do the weights, the
optimiser and the stream change, so a damaged one leaves the run as it was.
"""

from __future__ import annotations

import numpy as np

from nndl.runtime import npzfile, weightfile
from nndl.runtime.errors import WeightFileError

SLOTS = {"adam": ("m", "v"), "sgd": ("velocity",)}  # each optimiser's per-parameter arrays


def save_checkpoint(net, path, optimizer, epoch: int, rng, history: dict,
                    regime: str) -> None:
    """A weight file (it loads with `net.load`) plus the optimiser's state, the epoch, the
    shuffling stream's state and the history so far; written atomically."""
    arrays = net.parameters()
    arrays.update({f"optimizer.{key}": np.asarray(v) for key, v in optimizer.state().items()})
    meta = net.metadata()
    meta["checkpoint"] = {"epoch": epoch, "rng": rng.bit_generator.state, "history": history,
                          "regime": regime, "optimizer": type(optimizer).__name__.lower()}
    weightfile.save(path, arrays, meta)


def load_checkpoint(net, path, optimizer, rng, regime: str) -> tuple[int, dict]:
    """Restore weights, optimiser, stream; returns (epochs done, history so far). The
    checkpoint must be of this network, seed, regime and optimiser."""
    kind = type(optimizer).__name__.lower()

    def optimizer_keys(archive: npzfile.Archive, meta: dict) -> list[str]:
        _check_run(meta, path, net.seed, regime, kind, rng)
        return _check_optimizer_members(archive, path, kind, trainable_arrays(net.SPEC))

    arrays, meta = weightfile.load(path, net.SPEC, net.dtype, extra=optimizer_keys)
    state = meta["checkpoint"]
    optimizer_state = {key.removeprefix(weightfile.OPTIMIZER): a for key, a in arrays.items()
                       if key.startswith(weightfile.OPTIMIZER)}
    _check_optimizer_values(optimizer_state, path)
    net._load_arrays(arrays, meta, path)  # checks what remains; on error changes nothing
    optimizer.load_state(optimizer_state)
    rng.bit_generator.state = state["rng"]
    return state["epoch"], {key: list(v) for key, v in state["history"].items()}


def _check_run(meta: dict, path, seed: int, regime: str, kind: str, rng) -> None:
    """The metadata: a checkpoint of this run, with an epoch, a stream state and a history
    that can be used."""
    state = meta.get("checkpoint")
    if not isinstance(state, dict):
        raise WeightFileError(f"{path} is a weight file, not a training checkpoint")
    for what, saved, now in (("regime", state.get("regime"), regime),
                             ("optimiser", state.get("optimizer"), kind),
                             ("seed", meta.get("seed"), seed)):
        if saved != now:
            raise WeightFileError(f"{path} is a checkpoint of {what} {saved!r}, not {now!r}: "
                                  "--resume continues the same run (remove the checkpoint, or "
                                  "write to another folder, to start a new one)")
    epoch = state.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise _damaged(path, f"its epoch is {epoch!r}, not a whole number of epochs done")
    history = state.get("history")
    if not isinstance(history, dict) or not all(
            isinstance(values, list) and all(_is_number(v) for v in values)
            for values in history.values()):
        raise _damaged(path, "its history is not lists of numbers by name")
    probe = type(rng.bit_generator)()
    try:
        probe.state = state.get("rng")
    except (TypeError, ValueError, KeyError) as e:
        raise _damaged(path, f"its shuffling stream's state is unusable "
                             f"({npzfile.reason(e)})") from None


def trainable_arrays(spec) -> set[str]:
    """The arrays of a weight file that an optimiser updates: every `.w` and `.bias`, and the
    trainable model parameters (`GROUP.PARAM`)."""
    keys = {f"{p.name}.w" for p in spec.projections} | \
        {f"{g.name}.bias" for g in spec.groups if g.bias}
    return keys | set(weightfile.trainable_keys(spec))


def _check_optimizer_members(archive: npzfile.Archive, path, kind: str,
                             trainable: set[str]) -> list[str]:
    """The optimiser's arrays, from their headers: each slot of a trainable array has that
    array's shape and holds floats; Adam also has its step count."""
    keys = [k for k in archive.keys if k.startswith(weightfile.OPTIMIZER)]
    names = {k.removeprefix(weightfile.OPTIMIZER) for k in keys}
    if kind == "adam":
        if "steps" not in names:
            raise _damaged(path, "its Adam state lacks `optimizer.steps`")
        steps = archive.header(weightfile.OPTIMIZER + "steps")
        if steps.shape != () or steps.dtype.kind not in "iu":
            raise _damaged(path, f"`optimizer.steps` should be a whole number, not "
                                 f"{steps.dtype} of shape {steps.shape}")
    slots = {slot: {n.removeprefix(f"{slot}.") for n in names if n.startswith(f"{slot}.")}
             for slot in SLOTS[kind]}
    known = {f"{slot}.{key}" for slot, params in slots.items() for key in params}
    unknown = sorted(names - known - ({"steps"} if kind == "adam" else set()))
    if unknown:
        raise _damaged(path, f"it holds optimiser state {_listed(unknown)} that {kind} has not")
    for slot, params in slots.items():
        for key in sorted(params):
            _check_slot(archive, path, f"{weightfile.OPTIMIZER}{slot}.{key}", key, trainable)
    if len({frozenset(params) for params in slots.values()}) > 1:
        raise _damaged(path, f"its {' and '.join(SLOTS[kind])} state cover different arrays")
    return keys


def _check_slot(archive: npzfile.Archive, path, name: str, key: str,
                trainable: set[str]) -> None:
    if key not in archive.keys or key not in trainable:
        raise _damaged(path, f"`{name}` is the state of `{key}`, which is no trainable array "
                             "of this file")
    want, member = archive.header(key), archive.header(name)
    if member.dtype.kind != "f" or member.shape != want.shape:
        raise _damaged(path, f"`{name}` should be floats of shape {want.shape} (as `{key}`), "
                             f"not {member.dtype} of shape {member.shape}")


def _check_optimizer_values(state: dict[str, np.ndarray], path) -> None:
    for key, a in state.items():
        if key == "steps":
            if int(a) < 0:
                raise _damaged(path, f"`optimizer.steps` is {int(a)}, below 0")
        elif not np.isfinite(a).all():
            raise _damaged(path, f"`optimizer.{key}` holds values that are not finite")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _listed(keys) -> str:
    return ", ".join(f"`optimizer.{k}`" for k in keys[:5]) + (" ..." if len(keys) > 5 else "")


def _damaged(path, why: str) -> WeightFileError:
    return WeightFileError(f"{path} is a damaged checkpoint: {why}; nothing was loaded")
