"""Local learning rules: a projection's weights change with the activity on its two sides alone.

When: once per batch, after the batch's run, from the activity at the run's last tick (a
synapse with delay d sees its source as it was d ticks earlier, as it did in the run); each
change is the mean over the batch's samples, the same in every backend:

    hebb(rate, decay)   dw = rate * <post * pre> - decay * w
    oja(rate)           dw = rate * <post * (pre - post * w)>
    perceptron(rate)    dw = rate * <(target - post) * pre>, and the target group's bias moves
                        by rate * <target - post> (Rosenblatt's threshold, learned like a weight)

`<...>` is the mean over the batch. A shared kernel's entry changes by the sum over the synapses
tied to it. These work on the arrays every backend records (`_recorded`), keyed like the weight
file, so one implementation serves every backend; the CuPy module runs it on the device, with
one kernel for `synapse_changes`.
"""

from __future__ import annotations

import numpy as np

from nndl import ir
from nndl.runtime.errors import InputError


def activity(outputs, spec: ir.Network, p: ir.Projection, xp=np):
    """(batch, src size): the source's output as the projection saw it at the last tick, from
    `outputs(group)`, (ticks, batch, size) arrays of the array module `xp`."""
    out = outputs(p.src)
    last = out.shape[0] - 1 - p.delay
    if last < 0:  # the run was shorter than the delay: the group's starting output
        return xp.full(out.shape[1:], spec.group(p.src).init, dtype=out.dtype)
    return out[last]


def target_values(spec: ir.Network, group: str, target: np.ndarray, batch: int) -> np.ndarray:
    """A perceptron's targets as (batch, size) values: class indices become one-hot rows."""
    g = spec.group(group)
    target = np.asarray(target)
    if target.dtype.kind in "iu" and target.shape == (batch,):
        if g.size == 1:
            return target.reshape(batch, 1).astype(np.float64)
        return np.eye(g.size)[target]
    if target.shape[:1] != (batch,) or target[0].size != g.size:
        raise InputError(f"the perceptron rule on `{group}` needs targets of shape (batch, "
                         f"{', '.join(map(str, g.shape))}) or class indices (batch,); got "
                         f"{target.shape}")
    return target.reshape(batch, g.size).astype(np.float64)


def synapse_changes(rule: ir.LocalRule, x, y, w_syn, pre, post):
    """Each synapse's change, its mean over the batch, from the outputs of the two sides, x
    (batch, source size) and y (batch, target size; target - post for the perceptron), and
    its weight."""
    x, y = x[:, pre], y[:, post]  # (batch, synapses)
    rate = rule.params["rate"]
    if rule.kind == "hebb":
        return rate * (y * x).mean(axis=0) - rule.params.get("decay", 0.0) * w_syn
    if rule.kind == "oja":
        return rate * (y * (x - y * w_syn)).mean(axis=0)
    return rate * (y * x).mean(axis=0)  # perceptron


def changes(spec: ir.Network, rules: tuple[ir.LocalRule, ...], targets: dict, weights: dict,
            wiring: dict, outputs, xp=np, per_synapse=synapse_changes) -> tuple[dict, int]:
    """The change of each rule's weights (and perceptron biases), keyed like the weight file,
    from the recorded run; and how many samples a perceptron got wrong (0 without one).

    `outputs(group)` is each group's output over the run, (ticks, batch, size), in the dtype the
    changes are computed in; it, `weights` (flat, by `NAME.w`), `wiring` ((pre, post, tie) by
    projection) and the changes are arrays of the array module `xp` (NumPy, or CuPy on a GPU).
    `per_synapse` computes each synapse's change (`synapse_changes`, or a GPU kernel)."""
    result: dict = {}
    mistakes = 0
    for rule in rules:
        p = next(q for q in spec.projections if q.name == rule.projection)
        x, y = activity(outputs, spec, p, xp), outputs(p.dst)[-1]  # (batch, size) each
        pre, post, tie = wiring[p.name]
        w = weights[f"{p.name}.w"].astype(x.dtype, copy=False)
        if rule.kind == "perceptron":  # it learns from the error, target - post, instead of post
            if p.dst not in targets:
                raise InputError(f"the perceptron rule on `{p.name}` needs targets for "
                                 f"`{p.dst}`")
            t = target_values(spec, p.dst, targets[p.dst], y.shape[0])
            y = xp.asarray(t).astype(y.dtype) - y
            mistakes = max(mistakes, int((xp.abs(y) > 0.5).any(axis=1).sum()))
            bias = f"{p.dst}.bias"
            if spec.group(p.dst).bias and bias not in result:  # once per group
                result[bias] = rule.params["rate"] * y.mean(axis=0)
        dw = per_synapse(rule, x, y, w if tie is None else w[tie], pre, post)
        if tie is not None:  # a kernel entry moves by the sum over its synapses
            dw = xp.bincount(tie, dw, w.size)
        result[f"{p.name}.w"] = dw
    return result, mistakes
