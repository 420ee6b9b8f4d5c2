"""IR -> the NumPy module's template context: how each projection is stored and summed, and the
statements of one tick, step by step.

Each projection gets the cheapest layout for its rule, and only its synapses are computed:
  dense        `full`: one matrix product, W of shape (post, pre) — the CSR weights reshaped;
  elementwise  `one_to_one`: an elementwise product;
  gather       `local`, `fan_in`: padded rows of sources (ELL), one gather and one reduction;
  csr          `random`, `where`: products over the synapses, summed per target run (CSR);
  levels       delay-0 links inside a neuron-level step: the CSR rows of each topological level
               (see nndl.runtime.schedule), summed level by level.
"""

from __future__ import annotations

import textwrap

from nndl import ir
from nndl.backends.codegen import check_names, common_context, number
from nndl.backends.numpy.backward import back_layouts, lower_backward
from nndl.backends.numpy.layouts import comment_lines, kind, synapse_weights
from nndl.backends.numpy.ops import ACTIVATIONS, BACKWARD, SPARSE_SUMS, activation_call
from nndl.backends.oo.lower import describe, used_activations
from nndl.backends.render import (NumpyArrays, model_backward_function, model_function,
                                  model_function_name, slope_functions)
from nndl.runtime.schedule import inner_projections
from nndl.runtime.weightfile import is_shared


def _setup(p: ir.Projection, network: ir.Network) -> dict:
    """The lines that store one projection's parameters in its layout."""
    key, n_dst = repr(p.name), network.group(p.dst).size
    shape = (n_dst, network.group(p.src).size)
    lines = {
        "dense": [f"self.W[{key}] = syn.w.reshape({shape}).astype(dt)"],
        "elementwise": [f"self.W[{key}] = syn.w.astype(dt)"],
        "gather": [f"self.W[{key}] = syn.w.astype(dt)",
                   f"self.layout[{key}] = gather_layout(syn.pre, syn.post, syn.tie, syn.w.size, "
                   f"{n_dst})"],
        "csr": [f"self.W[{key}] = syn.w.astype(dt)",
                f"self.layout[{key}] = syn.pre, row_pointers(syn.post, {n_dst})"],
        "levels": [f"self.W[{key}] = syn.w.astype(dt)"],
    }[kind(network, p)]
    what = {"dense": f"a dense {shape} matrix", "elementwise": "one weight per neuron",
            "gather": "padded rows of sources (gather)", "csr": "CSR rows",
            "levels": "CSR rows, level by level"}[kind(network, p)]
    if is_shared(p):
        what += ", weights tied to a shared kernel"
    return {"key": key, "lines": lines, "comment": comment_lines(f"{describe(p)}: {what}")}


def _source(p: ir.Projection) -> str:
    """The source group's output that reaches the target now: this tick's, or d ticks ago."""
    return f"out[{p.src!r}]" if p.delay == 0 else f"memory.earlier({p.src!r}, {p.delay})"


def _term(p: ir.Projection, network: ir.Network) -> str:
    """The whole target group's input through one projection, (batch, post)."""
    key, src = repr(p.name), _source(p)
    return {
        "dense": f"{src} @ W[{key}].T",
        "elementwise": f"{src} * W[{key}]",
        "gather": f"gather_sum({src}, self.layout[{key}], W[{key}])",
        "csr": f"csr_sum({src}, self.layout[{key}], W[{key}])",
    }[kind(network, p)]


def _net(g: ir.Group, terms: list[str]) -> list[str]:
    """Lines that leave the group's net input in `net`: bias plus every term."""
    bias = f"b[{g.name!r}]"
    if not terms:  # nothing comes in: every sample sees just the bias (a copy: run() returns it)
        first = f"np.tile({bias}, (batch, 1))" if g.bias else \
            f"np.zeros((batch, {g.size}), dtype=self.dtype)"
    else:
        first = f"{bias} + {terms[0]}" if g.bias else terms[0]
    # `first` is always a fresh array, so adding in place is safe.
    return [f"net = {first}"] + [f"net += {term}" for term in terms[1:]]


def _apply(network: ir.Network, g: ir.Group, rows: str | None = None) -> list[str]:
    """Lines that turn `net` into the group's output (of `rows` only, when given)."""
    key = repr(g.name)
    target = f"out[{key}]" + (f"[:, {rows}]" if rows else "")
    if g.model is None:
        return [f"{target} = {activation_call(g, 'net')}"]
    model = network.model(g.model)
    pick = f"[:, {rows}]" if rows else ""
    states = [f"state[{var!r}]{pick}" for var in model.states]
    params = [number(g.params[name]) for name in model.params]
    arguments = ", ".join([f"memory.last[{key}]{pick}", *states, *params])
    results = ", ".join([target, *states]) + ("" if states else ",")  # unpack (out,) too
    call = [f"{results} = {model_function_name(model)}("]
    call += [f"    {line}" for line in textwrap.wrap(f"net, {arguments})", 80)]
    return [f"state = memory.state[{key}]", *call]


def _describe_group(g: ir.Group) -> str:
    if g.model is None:
        return f"{g.name}{list(g.shape)}, {g.activation}"
    params = ", ".join(f"{k}={v:g}" for k, v in g.params.items())
    return f"{g.name}{list(g.shape)}, neuron model {g.model}({params})"


def _group_step(network: ir.Network, g: ir.Group) -> dict:
    incoming = network.incoming(g.name)
    sources = ", ".join(f"{p.src} ({p.rule.kind}{f', delay {p.delay}' if p.delay else ''})"
                        for p in incoming) or "nothing"
    lines = _net(g, [_term(p, network) for p in incoming]) + [f"nets[{g.name!r}] = net"]
    lines += _apply(network, g)
    return {"comment": comment_lines(f"{_describe_group(g)}, from {sources}"), "lines": lines}


def _level_step(network: ir.Network, index: int, step: ir.Step) -> dict:
    """A neuron-level step: the outside input first, then the step's own neurons level by level."""
    inner = inner_projections(network, step)
    lines = ["external = {}"]
    for name in step.groups:
        g = network.group(name)
        outside = [p for p in network.incoming(name) if p not in inner]
        lines += _net(g, [_term(p, network) for p in outside])
        lines += [f"external[{name!r}] = net",
                  f"out[{name!r}] = np.zeros((batch, {g.size}), dtype=self.dtype)",
                  f"nets[{name!r}] = np.zeros((batch, {g.size}), dtype=self.dtype)"]
    for i, p in enumerate(inner):
        lines += [f"pre{i}, w{i} = self.wiring[{p.name!r}].pre, {synapse_weights(network, p)}"
                  f"  # {p.name}"]
    lines.append(f"for level in self.plans[{index}]:")
    for name in step.groups:
        g = network.group(name)
        lines += [f"    if {name!r} in level:",
                  f"        rows, segments = level[{name!r}]",
                  f"        net = external[{name!r}][:, rows]"]
        for i, p in enumerate(inner):
            if p.dst == name:
                lines.append(f"        net += rows_sum(out[{p.src!r}], pre{i}, w{i}, "
                             f"segments[{p.name!r}])")
        lines.append(f"        nets[{name!r}][:, rows] = net")
        lines += [f"        {line}" for line in _apply(network, g, rows="rows")]
    names = ", ".join(step.groups)
    links = ", ".join(p.name for p in inner)
    comment = f"{names}: neuron by neuron, in topological levels of the delay-0 links {links}"
    return {"comment": comment_lines(comment), "lines": lines}


def _plan(network: ir.Network, index: int, step: ir.Step) -> str:
    inner = inner_projections(network, step)
    by_group = {name: [p.name for p in inner if p.dst == name] for name in step.groups}
    sizes = {p.name: network.group(p.dst).size for p in inner}
    return f"level_plan(self.levels[{index}], {by_group!r}, synapses, {sizes!r})"


def lower(network: ir.Network) -> dict:
    check_names(network)  # before any name is written into code
    steps, plans = [], []
    for index, step in enumerate(network.schedule):
        if step.neuron_level:
            steps.append(_level_step(network, index, step))
            plans.append({"index": index, "value": _plan(network, index, step)})
        else:
            steps.append(_group_step(network, network.group(step.groups[0])))
    kinds = {kind(network, p) for p in network.projections}
    helpers = [SPARSE_SUMS[k] for k in ("gather", "csr") if k in kinds]
    helpers += [SPARSE_SUMS["rows"]] if plans else []
    backs = back_layouts(network)
    if "csr" in kinds or plans or backs:
        helpers.append(SPARSE_SUMS["segment"])
    backward = [BACKWARD["softmax"]] if any(g.activation == "softmax"
                                            for g in network.groups) else []
    backward += [BACKWARD["synapses"]] if kinds & {"gather", "csr"} else []
    backward += [BACKWARD["rows"]] if plans else []
    return {
        **common_context(network, "numpy"),
        "activations": used_activations(network, ACTIVATIONS),
        "models": "\n\n\n".join(model_function(m, NumpyArrays) for m in network.models),
        "helpers": "\n\n\n".join(h.strip("\n") for h in helpers),
        "parameters": [_setup(p, network) for p in network.projections],
        "plans": plans,
        "steps": steps,
        "slopes": slope_functions(network, NumpyArrays),
        "model_backwards": "\n\n\n".join(model_backward_function(m, NumpyArrays)
                                            for m in network.models),
        "backward_helpers": "\n\n\n".join(h.strip("\n") for h in backward),
        "backs": backs,
        "backward_steps": lower_backward(network),
        "any_level": bool(plans),
    }
