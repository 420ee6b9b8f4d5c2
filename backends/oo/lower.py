"""IR -> the OO module's template context: one constructor per group, one wiring per projection."""

from __future__ import annotations

from nndl import ir
from nndl.backends.codegen import common_context
from nndl.listing import call_text
from nndl.backends.oo.ops import ACTIVATIONS, activation_call
from nndl.runtime.weightfile import is_shared


def used_activations(network: ir.Network, table: dict[str, str]) -> str:
    """The source of each activation the network uses, in a fixed order, two lines apart."""
    used = {g.activation for g in network.groups if g.activation}
    return "\n\n\n".join(table[name].strip("\n") for name in table if name in used)


def describe(p: ir.Projection) -> str:
    """A one-line comment for a projection."""
    rule = call_text(p.rule.kind, p.rule.params)
    return f"{p.src} -> {p.dst}: {rule}" + (f", delay {p.delay}" if p.delay else "")


def _constructor(g: ir.Group) -> str:
    args = f"{g.name!r}, {g.shape!r}"
    if g.activation is None:
        return f"Group({args})"
    if g.activation == "softmax":
        return f"SoftmaxGroup({args})"
    if g.activation_params:
        return f"Group({args}, lambda x: {activation_call(g, 'x')})"
    return f"Group({args}, {g.activation})"


def _fires(index: int, step: ir.Step) -> dict:
    """What fires for one step of the schedule: a whole group, or neurons level by level."""
    if step.neuron_level:
        return {"code": f"*self._neurons_by_level({index})",
                "comment": f"{', '.join(step.groups)}: neuron by neuron, in topological levels"}
    return {"code": f"self.groups[{step.groups[0]!r}]", "comment": step.groups[0]}


def lower(network: ir.Network) -> dict:
    return {
        **common_context(network, "oo"),
        "backend_name": "object-oriented",
        "activations": used_activations(network, ACTIVATIONS),
        "groups": [{"key": repr(g.name), "constructor": _constructor(g)} for g in network.groups],
        "order": [_fires(i, step) for i, step in enumerate(network.schedule)],
        "shared": any(is_shared(p) for p in network.projections),
        "projections": [
            {"key": repr(p.name), "src": repr(p.src), "dst": repr(p.dst), "comment": describe(p)}
            for p in network.projections
        ],
    }
