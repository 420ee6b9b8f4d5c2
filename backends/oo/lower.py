"""IR -> the OO module's template context: one constructor per group, one wiring per projection."""

from __future__ import annotations

from nndl import ir
from nndl.backends.codegen import check_names, common_context, literal, number
from nndl.ir.listing import call_text
from nndl.backends.oo.ops import ACTIVATIONS, MATH, activation_call
from nndl.backends.render import (ScalarPython, functions_used, model_backward_function,
                                  model_backward_name, model_function, model_function_name,
                                  operations_used, rule_functions, rule_table, slope_call,
                                  slope_functions, slope_name)
from nndl.runtime.weightfile import is_shared


def used_activations(network: ir.Network, table: dict[str, str]) -> str:
    """The source of each activation the network (or one of its models) uses, in a fixed
    order, two lines apart."""
    used = {g.activation for g in network.groups if g.activation} | \
        functions_used(network)
    return "\n\n\n".join(table[name].strip("\n") for name in table if name in used)


def used_math(network: ir.Network) -> str:
    """The scalar math helpers the models and slopes call (NumPy's NaN and inf, not errors)."""
    used = operations_used(network)
    return "\n\n\n".join(MATH[name].strip("\n") for name in MATH if name in used)


def describe(p: ir.Projection) -> str:
    """A one-line comment for a projection."""
    rule = call_text(p.rule.kind, p.rule.params)
    return f"{p.src} -> {p.dst}: {rule}" + (f", delay {p.delay}" if p.delay else "") + \
        (f", into sum({p.target})" if p.target else "")


def _constructor(network: ir.Network, g: ir.Group) -> str:
    args = f"{g.name!r}, {g.shape!r}"
    extra = "".join([f", init={number(g.init)}" if g.init else "",
                     f", memory={network.max_delay(g.name)}" if network.max_delay(g.name) else ""])
    if g.model is not None:
        model = network.model(g.model)
        held = model.per_neuron(g)  # None: the neuron's own value (see _held_params)
        params = {name: None if name in held else float(g.params[name])
                  for name in model.params}
        indent = "\n" + " " * 16  # the constructor's arguments, one kind per line
        functions = f"{model_function_name(model)}, {model_backward_name(model)}"
        if model.draws:  # its rand() and randn() are keyed by the seed and the group
            extra += f",{indent}noise_key=self._noise_key({g.name!r}), dtype=self.dtype"
        if network.spiking(g.name):  # its neurons hand their spikes to outgoing synapses
            extra += ", spikes=True"
        if model.sums:  # its neurons sum the synapses of each apart
            extra += f", sums={model.sums!r}"
        held_params = f"self._held_params({g.name!r})" if held else "{}"
        return (f"ModelGroup({indent}{args}, {functions},{indent}{literal(params)}, "
                f"{held_params},{indent}self._starting_states({g.name!r}){extra})")
    if g.activation is None:
        return f"Group({args}{extra})"
    if g.activation == "softmax":
        return f"SoftmaxGroup({args}{extra})"
    if g.params:
        return (f"Group({args}, lambda x: {activation_call(g, 'x')},"
                f" lambda net, out: {slope_call(g, 'net', 'out')}{extra})")
    return f"Group({args}, {g.activation}, {slope_name(g.activation)}{extra})"


def _fires(index: int, step: ir.Step) -> dict:
    """What fires for one step of the schedule: a whole group, or neurons level by level."""
    if step.neuron_level:
        return {"code": f"*self._neurons_by_level({index})",
                "comment": f"{', '.join(step.groups)}: neuron by neuron, in topological levels"}
    return {"code": f"self.groups[{step.groups[0]!r}]", "comment": step.groups[0]}


def lower(network: ir.Network) -> dict:
    check_names(network)  # before any name is written into code
    return {
        **common_context(network, "oo"),
        "backend_name": "object-oriented",
        "activations": used_activations(network, ACTIVATIONS),
        "math": used_math(network),
        "groups": [{"key": repr(g.name), "constructor": _constructor(network, g)}
                   for g in network.groups],
        "models": "\n\n\n".join(model_function(m, ScalarPython) for m in network.models),
        "rules": rule_functions(network, ScalarPython),
        "rule_table": rule_table(network),
        "draws": any(m.draws for m in network.models),
        "model_backwards": "\n\n\n".join(model_backward_function(m, ScalarPython)
                                            for m in network.models),
        "slopes": slope_functions(network, ScalarPython),
        "order": [_fires(i, step) for i, step in enumerate(network.schedule)],
        "shared": any(is_shared(p) for p in network.projections),
        "projections": [
            {"key": repr(p.name), "src": repr(p.src), "dst": repr(p.dst), "comment": describe(p),
             "delay": (f", delay={p.delay}" if p.delay else "")
             + (", spikes=True" if network.event_driven(p) else "")
             + (f", target={p.target!r}" if p.target else "")}
            for p in network.projections
        ],
    }
