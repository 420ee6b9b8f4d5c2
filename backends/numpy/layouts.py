"""How the NumPy backend stores each projection (its layout), shared by the forward and the
backward lowering."""

from __future__ import annotations

import textwrap

from nndl import ir
from nndl.runtime.weightfile import is_shared

KINDS = {"full": "dense", "one_to_one": "elementwise", "local": "gather", "fan_in": "gather",
         "random": "csr", "where": "csr"}


def kind(network: ir.Network, p: ir.Projection) -> str:
    """The layout the NumPy backend uses for a projection (shown by `nndlc ir`)."""
    if p.delay == 0 and p.src in network.step_of(p.dst).groups and \
            network.step_of(p.dst).neuron_level:
        return "levels"
    return KINDS[p.rule.kind]


def synapse_weights(network: ir.Network, p: ir.Projection) -> str:
    """Each synapse's weight, in CSR order."""
    key = repr(p.name)
    if kind(network, p) == "dense":
        return f"W[{key}].reshape(-1)"
    return f"W[{key}][self.wiring[{key}].tie]" if is_shared(p) else f"W[{key}]"


def comment_lines(text: str) -> list[str]:
    """A comment wrapped to fit the generated code's 100 columns."""
    return textwrap.wrap(text, 88)
