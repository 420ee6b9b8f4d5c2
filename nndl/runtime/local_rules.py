"""What local learning rules read of a run, the same in every backend.

When: once per batch, after the batch's run, from the activity at the run's last tick (a
synapse with delay d sees its source as it was d ticks earlier, as it did in the run); each
change is the mean over the batch's samples. The rules themselves — hebb, oja and perceptron
among them — are `rule` blocks (nndl/frontend/builtin_rules.nndl), run by
nndl.runtime.synapse_rules in every backend.
"""

from __future__ import annotations

import numpy as np

from nndl import ir
from nndl.runtime.errors import InputError


def activity(outputs, spec: ir.Network, p: ir.Projection):
    """(batch, src size): the source's output as the projection saw it at the last tick, from
    `outputs(group)`, (ticks, batch, size) host arrays."""
    out = outputs(p.src)
    last = out.shape[0] - 1 - p.delay
    if last < 0:  # the run was shorter than the delay: the group's starting output
        return np.full(out.shape[1:], spec.group(p.src).init, dtype=out.dtype)
    return out[last]


def target_values(spec: ir.Network, group: str, target: np.ndarray, batch: int) -> np.ndarray:
    """A rule's `target` as (batch, size) values: class indices become one-hot rows."""
    g = spec.group(group)
    target = np.asarray(target)
    if target.dtype.kind in "iu" and target.shape == (batch,):
        if g.size == 1:
            return target.reshape(batch, 1).astype(np.float64)
        return np.eye(g.size)[target]
    if target.shape[:1] != (batch,) or target[0].size != g.size:
        raise InputError(f"a rule that learns from targets (`target`) needs targets for "
                         f"`{group}` of shape (batch, "
                         f"{', '.join(map(str, g.shape))}) or class indices (batch,); got "
                         f"{target.shape}")
    return target.reshape(batch, g.size).astype(np.float64)
