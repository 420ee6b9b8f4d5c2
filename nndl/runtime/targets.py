"""Targets and the loss over a recorded run: which layout a target array has, how many samples
the data hold, and where backpropagation starts (d loss / d out, or d net for cross-entropy on a
softmax group) at the chosen ticks."""

from __future__ import annotations

import numpy as np

from nndl import ir
from nndl.runtime import losses
from nndl.runtime.errors import InputError
from nndl.diagnostics import suggest


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
