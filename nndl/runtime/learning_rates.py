"""Learning-rate schedules: the rate of each optimiser step, from the regime's `schedule`.

`cosine(final_lr=0)`: step t of T (t = 0 for the first, counted across epochs) uses
final_lr + (lr - final_lr) * (1 + cos(pi * t / T)) / 2 — PyTorch's CosineAnnealingLR with
T_max = T and eta_min = final_lr, stepped after every optimiser step. The rate is a function of
the step alone, so a run resumed from a checkpoint continues on the same curve.
"""

from __future__ import annotations

import math


def rate(schedule: tuple[str, dict] | None, lr: float, step: int, total: int) -> float:
    """The learning rate of step `step` (0-based) of `total`."""
    if schedule is None or schedule[0] == "constant":
        return lr
    kind, params = schedule
    if kind == "cosine":
        final = params.get("final_lr", 0.0)
        return final + (lr - final) * (1.0 + math.cos(math.pi * step / total)) / 2.0
    raise ValueError(f"unknown schedule {kind!r}")  # the frontend admits only the above
