"""Per-neuron parameters, starting values as expressions, and trainable parameters (issue 18,
item 3): the front end's checks, the build-time values, every backend alike, the weight file,
and gradients of trainable parameters against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from nndl.frontend import check_source  # noqa: F401  (imported for its errors in other tests)

IZHIKEVICH = """
neuron izh {
    param a = 0.02
    param b = 0.2
    param c = -65
    param d = 8
    state v = -65
    state u = b * v
    v = v + 0.5 * (0.04 * v * v + 5 * v + 140 - u + net)
    v = v + 0.5 * (0.04 * v * v + 5 * v + 140 - u + net)
    u = u + a * (b * v - u)
    fired = v >= 30
    out = 1.0 if fired else 0.0
    v = c if fired else v
    u = u + d if fired else u
}
network n {
    seed 3
    input x[4]
    group exc[4] : izh(c = -65 + 15 * rand() ** 2, d = 8 - 0.4 * (c + 65))
    group inh[2, 3] : izh(a = 0.02 + 0.08 * rand(), b = 0.25 - 0.625 * (a - 0.02),
                          d = 2 + coord[1] + index)
    output y[4]
    connect x -> exc : one_to_one
    connect exc -> y : one_to_one
    connect x -> inh : full
}
"""
