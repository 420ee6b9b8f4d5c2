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
file, so one implementation serves every backend.
"""

from __future__ import annotations

import numpy as np

from nndl import ir
from nndl.runtime.errors import InputError


def activity(net, spec: ir.Network, p: ir.Projection) -> np.ndarray:
    """(batch, src size): the source's output as the projection saw it at the last tick."""
    out = net._recorded(p.src, "out")  # (ticks, batch, size)
    last = out.shape[0] - 1 - p.delay
    if last < 0:  # the run was shorter than the delay: the group's starting output
        return np.full(out.shape[1:], spec.group(p.src).init, dtype=np.float64)
    return out[last].astype(np.float64)


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


def changes(net, spec: ir.Network, rules: tuple[ir.LocalRule, ...], targets: dict,
            weights: dict[str, np.ndarray], wiring: dict) -> tuple[dict[str, np.ndarray], int]:
    """The change of each rule's weights (and perceptron biases), keyed like the weight file,
    from the recorded run; and how many samples a perceptron got wrong (0 without one)."""
    result: dict[str, np.ndarray] = {}
    mistakes = 0
    for rule in rules:
        p = next(q for q in spec.projections if q.name == rule.projection)
        pre_all = activity(net, spec, p)
        post_all = net._recorded(p.dst, "out")[-1].astype(np.float64)
        pre, post, tie = wiring[p.name]
        x, y = pre_all[:, pre], post_all[:, post]  # (batch, synapses)
        w = weights[f"{p.name}.w"].astype(np.float64)
        w_syn = w if tie is None else w[tie]
        rate = rule.params["rate"]
        if rule.kind == "hebb":
            dw = rate * (y * x).mean(axis=0) - rule.params.get("decay", 0.0) * w_syn
        elif rule.kind == "oja":
            dw = rate * (y * (x - y * w_syn)).mean(axis=0)
        else:  # perceptron
            if p.dst not in targets:
                raise InputError(f"the perceptron rule on `{p.name}` needs targets for "
                                 f"`{p.dst}`")
            t = target_values(spec, p.dst, targets[p.dst], post_all.shape[0])
            error = t - post_all
            mistakes = max(mistakes, int((np.abs(error) > 0.5).any(axis=1).sum()))
            dw = rate * (error[:, post] * x).mean(axis=0)
            bias = f"{p.dst}.bias"
            if spec.group(p.dst).bias and bias not in result:  # once per group
                result[bias] = rate * error.mean(axis=0)
        if tie is not None:  # a kernel entry moves by the sum over its synapses
            dw = np.bincount(tie, dw, w.size)
        result[f"{p.name}.w"] = dw
    return result, mistakes
