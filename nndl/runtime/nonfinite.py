"""Stopping training at a NaN or infinity, and saying where it started: the first group and
tick of the forward pass whose output was not finite, else the first (latest tick, last step)
of the backward pass."""

from __future__ import annotations

import math

import numpy as np

from nndl.runtime.errors import TrainingError
from nndl.runtime.locations import declared


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
                return f"the output of group `{name}` at tick {t} ({declared(spec, name)})"
    for t in reversed(range(ticks)):
        for name in reversed(order):
            if name in dnets and not np.isfinite(dnets[name][t]).all():
                return (f"the gradient of group `{name}` at tick {t} (backpropagating, "
                        f"{declared(spec, name)})")
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
