"""IR -> the NumPy module's backward tick: backpropagation through one tick, step by step in
reverse order, in the same layouts as the forward tick (see lower.py).

For a group: dnet = d loss / d net from d loss / d out (the activation's slope, the softmax
Jacobian, or the neuron model's generated backward function); then each incoming projection
adds its weight gradient (gW), and sends dnet back through its synapses to its source's output
at the tick it was read (`adj.send`; a delayed source gets it `delay` ticks earlier).
"""

from __future__ import annotations

from nndl.backends.codegen import number
from nndl.backends.numpy.layouts import (
    comment_lines,
    cpu_kind,
    gpu_kind,
    synapse_weights,
    wrap_call,
    wrap_lines,
)
from nndl.backends.render import backward_of, model_backward_name, slope_call

from nndl import ir
from nndl.runtime.schedule import inner_projections
from nndl.runtime.weightfile import is_shared


def _source(p: ir.Projection) -> str:
    """The source output that the forward tick read through this projection."""
    return f"out[{p.src!r}]" if p.delay == 0 else f"tape.earlier(t, {p.src!r}, {p.delay})"


def _when(p: ir.Projection) -> str:
    return "t" if p.delay == 0 else f"t - {p.delay}"


def needs_back(network: ir.Network, p: ir.Projection) -> bool:
    """Whether gradients flow back through the projection to its source (not to inputs)."""
    return network.group(p.src).role != "input"


def projection_lines(network: ir.Network, p: ir.Projection, dnet: str,
                     cpu: bool = False) -> list[str]:
    """The weight gradient of one projection, and what it sends back to its source. `cpu` (the
    NumPy module): dnet and the source are kept for one weight gradient over all ticks (see
    weight_grad_lines), and scipy's products and stencils send dnet back."""
    key, x = repr(p.name), _source(p)
    if cpu:
        return _cpu_projection_lines(network, p, dnet)
    layout = gpu_kind(network, p)
    if layout == "dense":
        grad, back = f"{dnet}.T @ {x}", f"{dnet} @ W[{key}]"
    elif layout == "elementwise":
        grad, back = f"({dnet} * {x}).sum(axis=0)", f"{dnet} * W[{key}]"
    elif layout == "stencil":  # the GPU's kernels over the taps
        grad = (f"stencil_grads({dnet}, {x}, self.layout[{key}], self.wiring[{key}], "
                f"W[{key}].size)")
        back = f"stencil_back({dnet}, self.layout[{key}], {synapse_weights(network, p)})"
    else:  # gather and csr: per synapse, and back through the synapses sorted by source
        grad = f"synapse_grads({dnet}, {x}, self.wiring[{key}], W[{key}].size)"
        back = (f"spread_back({dnet}, {synapse_weights(network, p)}, self.wiring[{key}], "
                f"self.back[{key}])")
    lines = [f"gW[{key}] += {grad}"]
    if needs_back(network, p):
        lines.append(f"adj.send({_when(p)}, {p.src!r}, {back})")
    return lines


def _cpu_projection_lines(network: ir.Network, p: ir.Projection, dnet: str) -> list[str]:
    key, layout = repr(p.name), cpu_kind(network, p)
    lines = [f"stash[{key}].append(({dnet}, {_source(p)}))"]
    if not needs_back(network, p):
        return lines
    back = {"dense": f"{dnet} @ W[{key}]", "elementwise": f"{dnet} * W[{key}]",
            "csr": f"csr_back({dnet}, self.layout[{key}])",
            "stencil": f"stencil_back({dnet}, self.layout[{key}], "
                       f"{synapse_weights(network, p)})",
            "gather": f"spread_back({dnet}, {synapse_weights(network, p)}, "
                      f"self.wiring[{key}], self.back[{key}])"}[layout]
    return lines + [f"adj.send({_when(p)}, {p.src!r}, {back})"]


def weight_grad_lines(network: ir.Network) -> list[dict]:
    """The NumPy module's weight gradients, each computed once from every tick's dnet and
    source output stacked as samples (one matrix product for a dense projection, however many
    ticks): the projections that a neuron-level step does not sum level by level."""
    inner = {p.name for i, step in enumerate(network.schedule) if step.neuron_level
             for p in inner_projections(network, step)}
    grads = []
    for p in network.projections:
        if p.name in inner:
            continue
        key, layout = repr(p.name), cpu_kind(network, p)
        size = f"W[{key}].size"
        grad = {"dense": "dnet.T @ x", "elementwise": "(dnet * x).sum(axis=0)",
                "gather": f"synapse_grads(dnet, x, self.wiring[{key}], {size})",
                "csr": f"csr_grads(dnet, x, self.wiring[{key}], self.layout[{key}].shape, "
                       f"{size})",
                "stencil": f"stencil_grads(dnet, x, self.layout[{key}], self.wiring[{key}], "
                           f"{size})"}[layout]
        lines = [f"dnet, x = stacked(stash[{key}])", f"gW[{key}] += {grad}"]
        grads.append({"lines": wrap_lines(lines)})
    return grads


def noise_call(key: str, tick: str, rows: str | None, batch: str = "batch") -> str:
    """The draws of a model group's tick (of `rows` only, when given): nndl.runtime.philox."""
    return f"self._noise({key}, {tick}, {batch}{f', {rows}' if rows else ''})"


def _model_call(network: ir.Network, g: ir.Group, rows: str | None, k: str = "") -> list[str]:
    """Lines that leave d loss / d net in `dnet` for a model group (of `rows` only, when
    given), carrying its state gradients to the tick before. `k` tells apart the variables of
    several model groups in one neuron-level step."""
    model = network.model(g.model)
    back = backward_of(model)
    key = repr(g.name)
    pick = f"[:, {rows}]" if rows else ""
    states = [f"state{k}[{var!r}]{pick}" for var in model.states]
    carried = [f"carried{k}[{i}]{pick}" for i in range(len(model.states))]
    params = param_arguments(network, g, rows)
    gout = f"g_out[{key}]{pick}" if rows else f"adj.take(t, {key}, out[{key}])"
    # the tick replayed draws what it drew forwards: the tape's tick t is the run's tick t
    noise = [noise_call(key, "t", rows, f"len(nets[{key}])")] if model.draws else []
    sums = [f"nets[{key}, {name!r}]{pick}" for name in model.sums]
    arguments = ", ".join([f"nets[{key}]{pick}", f"last{k}{pick}", *states, *params, gout,
                           *carried, *sums, *noise])
    d_last = f"d_last{k}{pick}" if back.outputs[1] is not None else "_"
    n_before = 2 + len(model.states)
    learned = [(name, f"d_{i}") for i, name in enumerate(model.trainable)
               if back.outputs[n_before + i] is not None]
    d_params = [dict(learned).get(name, "_") for name in model.trainable]
    d_sums = [f"dsums[{name!r}]" for name in model.sums]  # each sum's projections read theirs
    results = ", ".join(["dnet", d_last, *carried, *d_params, *d_sums])
    lines = ["dsums = {}"] if d_sums else []
    lines += wrap_call(f"{results} = {model_backward_name(model)}({arguments})")
    for name, d in learned:  # a parameter's gradient: over the samples, and for a shared one
        # over its neurons too
        grad = f"self._gP[{key}][{name!r}]"
        if isinstance(g.params[name], dict):
            lines.append(f"{grad}{f'[{rows}]' if rows else ''} += {d}.sum(axis=0)")
        else:
            lines.append(f"{grad} += {d}.sum()")
    return lines


def param_arguments(network: ir.Network, g: ir.Group, rows: str | None) -> list[str]:
    """The model parameters of a group as its model function takes them: a number written
    into the code, or the group's array (`self.P`) for one held per neuron or trained."""
    model = network.model(g.model)
    held = model.per_neuron(g)
    key = repr(g.name)
    arguments = []
    for name in model.params:
        if name not in held:
            arguments.append(number(g.params[name]))
            continue
        pick = f"[{rows}]" if rows and isinstance(g.params[name], dict) else ""
        arguments.append(f"self.P[{key}][{name!r}]{pick}")
    return arguments


def _model_setup(network: ir.Network, g: ir.Group, level: bool, k: str = "") -> list[str]:
    model = network.model(g.model)
    key = repr(g.name)
    lines = [f"state{k}, last{k} = tape.ticks[t].states[{key}], tape.ticks[t].last[{key}]"]
    like = ", ".join(f"state{k}[{var!r}]" for var in model.states)
    if model.states:
        copy = "[c.copy() for c in {}]" if level else "{}"  # level rows are written in place
        lines.append(f"carried{k} = " + copy.format(f"adj.carry({key}, [{like}])"))
    if level and backward_of(model).outputs[1] is not None:
        lines.append(f"d_last{k} = np.zeros_like(out[{key}])")
    return lines


def _model_finish(network: ir.Network, g: ir.Group, k: str = "") -> list[str]:
    model = network.model(g.model)
    key = repr(g.name)
    lines = [f"adj.carried[{key}] = carried{k}"] if model.states else []
    if backward_of(model).outputs[1] is not None:
        lines.append(f"adj.send(t - 1, {key}, d_last{k})")
    return lines


def _dnet_lines(network: ir.Network, g: ir.Group) -> list[str]:
    """d loss / d net of a whole group, as `dnet`."""
    key = repr(g.name)
    if g.model is not None:
        lines = _model_setup(network, g, level=False) + _model_call(network, g, None)
        lines += _model_finish(network, g)
    elif g.activation == "softmax":
        lines = [f"dnet = softmax_backward(out[{key}], adj.take(t, {key}, out[{key}]))"]
    else:
        slope = slope_call(g, f"nets[{key}]", f"out[{key}]")
        lines = [f"dnet = adj.take(t, {key}, out[{key}]) * {slope}"]
    if g.role == "output":
        lines.append(f"dnet = adj.seed_net(t, {key}, dnet)")
    return lines


def _group_step(network: ir.Network, g: ir.Group, cpu: bool) -> dict:
    lines = _dnet_lines(network, g) + [f"self._note(t, {g.name!r}, dnet)"]
    if g.bias:
        lines.append(f"gb[{g.name!r}] += dnet.sum(axis=0)")
    for p in network.incoming(g.name):  # a named input sum's projections: by its gradient
        dnet = "dnet" if p.target is None else f"dsums[{p.target!r}]"
        lines += projection_lines(network, p, dnet, cpu)
    return {"comment": comment_lines(f"{g.name}: back through its inputs"), "lines": lines}


def _level_step(network: ir.Network, index: int, step: ir.Step, cpu: bool) -> dict:
    """A neuron-level step, backwards: its levels in reverse, then the outside projections."""
    inner = inner_projections(network, step)
    lines = []
    for name in step.groups:
        lines.append(f"g_out[{name!r}] = adj.take(t, {name!r}, out[{name!r}]).copy()")
        lines.append(f"dnets[{name!r}] = np.zeros_like(out[{name!r}])")
    for i, p in enumerate(inner):
        lines += [f"w{i} = {synapse_weights(network, p)}  # {p.name}: per synapse",
                  f"gsyn{i} = np.zeros(w{i}.size, self.dtype)  # and their gradients"]
    # each model group of the step gets its own state{k}, last{k}, carried{k}, d_last{k}
    models = {n: str(k) for k, n in enumerate(n for n in step.groups if network.group(n).model)}
    for name, k in models.items():
        lines += _model_setup(network, network.group(name), level=True, k=k)
    lines.append(f"for level in reversed(self.plans[{index}]):")
    for name in step.groups:
        g, key = network.group(name), repr(name)
        body = ["rows, segments = level[" + key + "]"]
        if g.model is not None:
            body += _model_call(network, g, "rows", models[name])
        else:
            slope = slope_call(g, f"nets[{key}][:, rows]", f"out[{key}][:, rows]")
            body.append(f"dnet = g_out[{key}][:, rows] * {slope}")
        if g.role == "output":
            body.append(f"dnet = adj.seed_net(t, {key}, dnet)")
        body.append(f"dnets[{key}][:, rows] = dnet")
        for i, p in enumerate(inner):
            if p.dst == name:
                body.append(f"rows_backward(dnets[{key}], out[{p.src!r}], g_out[{p.src!r}], "
                            f"self.wiring[{p.name!r}], w{i}, segments[{p.name!r}][0], gsyn{i})")
        lines += [f"    if {key} in level:"] + [f"        {line}" for line in body]
    for name, k in models.items():
        lines += _model_finish(network, network.group(name), k)
    for i, p in enumerate(inner):
        total = f"np.bincount(self.wiring[{p.name!r}].tie, gsyn{i}, W[{p.name!r}].size)" \
            if is_shared(p) else f"gsyn{i}"
        lines.append(f"gW[{p.name!r}] += {total}")
    for name in step.groups:
        g = network.group(name)
        lines.append(f"self._note(t, {name!r}, dnets[{name!r}])")
        if g.bias:
            lines.append(f"gb[{name!r}] += dnets[{name!r}].sum(axis=0)")
        for p in network.incoming(name):
            if p not in inner:
                lines += projection_lines(network, p, f"dnets[{name!r}]", cpu)
    names = ", ".join(step.groups)
    comment = f"{names}: back through the levels in reverse, then through their other inputs"
    return {"comment": comment_lines(comment), "lines": lines}


def lower_backward(network: ir.Network, cpu: bool = False) -> list[dict]:
    """The backward tick's steps: the forward schedule in reverse."""
    steps = []
    for index in reversed(range(len(network.schedule))):
        step = network.schedule[index]
        if step.neuron_level:
            steps.append(_level_step(network, index, step, cpu))
        else:
            steps.append(_group_step(network, network.group(step.groups[0]), cpu))
    for step in steps:
        step["lines"] = wrap_lines(step["lines"])
    return steps


def back_layouts(network: ir.Network, cpu: bool = False) -> list[dict]:
    """The sparse projections whose gradients go back to a computed source by their synapses
    sorted by source (`self.back`); the NumPy module's scipy matrices and stencils need none."""
    sorted_back = ("gather",) if cpu else ("gather", "csr")
    layout = cpu_kind if cpu else gpu_kind
    return [{"key": repr(p.name), "size": network.group(p.src).size}
            for p in network.projections
            if layout(network, p) in sorted_back and needs_back(network, p)]
