"""IR -> the NumPy module's template context: how each projection is stored and summed, and the
statements of one tick, step by step.

Each projection gets the cheapest layout for its rule, and only its synapses are computed:
  dense        `full`: one matrix product, W of shape (post, pre) — the CSR weights reshaped;
  elementwise  `one_to_one`: an elementwise product;
  gather       `local`, `fan_in`: padded rows of sources (ELL), one gather and one reduction;
  stencil      `local` between maps of one shape, in the NumPy module (without wrap, when the
               zero frame at most doubles the map): a multiply-add of shifted slices per offset;
               in the portable lowering, `local` between groups of one grid (GPU kernels over
               the taps, see layouts.gpu_kind);
  csr          `random`, `where`: products over the synapses, summed per target run (CSR); in
               the NumPy module itself, scipy's CSR x dense product;
  levels       delay-0 links inside a neuron-level step: the CSR rows of each topological level
               (see nndl.runtime.schedule), summed level by level.

A projection from a spiking group (ir.Network.event_driven) is summed event-driven instead, its
layout above kept for backpropagation: in the NumPy module, every such projection into a group
is one source-major SpikeTable (nndl.runtime.layout), and each tick finds each source's spikes
once (`fired`), picks their rows and bincounts their weights into the targets; in the portable
lowering, one `event_sum` a projection (the CuPy module's kernel, over spike_layout's tables).

Groups of consecutive steps with the same neuron model and the same arguments are computed, in
the NumPy module, as one array (`alike`): one model call a tick for all of them, their spikes one
block of the spike table's rows; each group's outputs and states are views of its columns.
"""

from __future__ import annotations

from nndl.backends.codegen import check_names, common_context, number
from nndl.backends.numpy.backward import (back_layouts, lower_backward, noise_call,
                                          param_arguments, weight_grad_lines)
from nndl.backends.numpy.layouts import (
    comment_lines,
    cpu_kind,
    event_driven,
    flat_weights,
    gpu_kind,
    synapse_weights,
    wrap_call,
    wrap_lines,
)
from nndl.backends.numpy.ops import (
    ACTIVATIONS,
    BACKWARD,
    CPU_BACKWARD,
    CPU_SUMS,
    SPARSE_SUMS,
    activation_call,
)
from nndl.backends.oo.lower import describe, used_activations
from nndl.backends.render import (
    NumpyArrays,
    model_backward_function,
    model_function,
    model_function_name,
    rule_functions,
    rule_table,
    slope_functions,
)

from nndl import ir
from nndl.ir.listing import value_text
from nndl.runtime.schedule import inner_projections
from nndl.runtime.weightfile import is_shared


def kind(network: ir.Network, p: ir.Projection) -> str:
    """The layout the NumPy module uses for a projection (shown by `nndlc ir`)."""
    return cpu_kind(network, p)


def layout_of(network: ir.Network, p: ir.Projection, cpu: bool) -> str:
    """The NumPy module's layout (`cpu`), or the portable one a GPU backend shares."""
    return cpu_kind(network, p) if cpu else gpu_kind(network, p)


def _axes_argument(p: ir.Projection) -> str:
    """`, axes=K` for a `local` rule that says how many trailing axes are its grid."""
    axes = p.rule.params.get("axes")
    return "" if axes is None else f", axes={axes}"


def _setup(p: ir.Projection, network: ir.Network, cpu: bool = False) -> dict:
    """The lines that store one projection's parameters in its layout (and, from a spiking
    group, its spike table: see _events)."""
    found = _stored(p, network, cpu)
    if event_driven(network, p):
        found["comment"] += comment_lines(f"spikes of {p.src}: event-driven, source-major "
                                          "(the layout above for backpropagation)")
        if not cpu:  # the NumPy module stacks them per target group (see _spike_tables)
            sizes = f"{network.group(p.src).size}, {network.group(p.dst).size}"
            found["lines"] += wrap_call(f"self.events[{p.name!r}] = spike_layout(syn.pre, "
                                        f"syn.post, syn.tie, {sizes})")
    return found


def _spiking_into(network: ir.Network, g: ir.Group,
                  target: str | None = None) -> list[ir.Projection]:
    return [p for p in network.inputs_of(g.name, target) if event_driven(network, p)]


def _input(group: str, target: str | None) -> str:
    """A spike table's name for the input it sums: a group's net (the group's name), or its
    model's named input sum, `GROUP sum(NAME)` (no group's name has a space)."""
    return group if target is None else f"{group} sum({target})"


def _inputs(network: ir.Network, g: ir.Group) -> list[str | None]:
    """The inputs of a group that spikes may reach: its net, then its model's named sums."""
    return [None, *(network.model(g.model).sums if g.model else ())]


def alike(network: ir.Network) -> dict[str, tuple[str, ...]]:
    """The NumPy module's groups computed as one array, e.g. {'exc+inh': ('exc', 'inh')}:
    runs of consecutive steps whose groups have one neuron model with the same arguments
    (numbers written into the code: no parameter held per neuron, no draws), none reading
    another of the run at delay 0. One model call a tick then computes them all (W5 LIF: one
    call on 4000 neurons instead of one on 3200 and one on 800), their columns one group after
    another (nndl.runtime.memory)."""
    found, run = {}, []
    for step in [*network.schedule, None]:
        g = None if step is None or step.neuron_level else network.group(step.groups[0])
        if run and (g is None or not _same_tick(network, network.group(run[0]), g, run)):
            if len(run) > 1:
                found["+".join(run)] = tuple(run)
            run = []
        if g is not None and g.model is not None and not network.model(g.model).draws \
                and not network.model(g.model).sums:
            run.append(g.name)
    return found


def _same_tick(network: ir.Network, first: ir.Group, g: ir.Group, run: list[str]) -> bool:
    """Whether group g can be computed in one array with the groups of `run` (see alike)."""
    return g.model == first.model and \
        param_arguments(network, g, None) == param_arguments(network, first, None) and \
        not any(p.delay == 0 and p.src in run for p in network.incoming(g.name))


def _held(network: ir.Network, name: str) -> tuple[str, int, int]:
    """Where the NumPy module holds a group's outputs: (its array, first column, size of the
    array): an `alike` array's columns, or the group's own array."""
    for key, groups in alike(network).items():
        if name in groups:
            at = 0
            for member in groups[:groups.index(name)]:
                at += network.group(member).size
            return key, at, sum(network.group(member).size for member in groups)
    return name, 0, network.group(name).size


def _earlier(network: ir.Network) -> tuple[list[ir.Projection], dict]:
    """The NumPy module's spikes of earlier ticks: the groups whose spikes all come with a
    delay (all known when a tick starts) take them from one table for the whole network, one
    sum a tick however many groups they reach (the network's `earlier`, its columns the groups
    one after another, and the named input sums of their models beside). (Their projections,
    each input's (first, last + 1) column, by _input.)"""
    projections, columns, at = [], {}, 0
    for g in network.groups:
        for target in _inputs(network, g):
            found = _spiking_into(network, g, target)
            if found and all(p.delay for p in found):
                projections += found
                columns[_input(g.name, target)] = (at, at + g.size)
                at += g.size
    return projections, columns


def _earlier_width(network: ir.Network) -> int:
    """How many columns the sum of the spikes of earlier ticks has (see _earlier)."""
    return sum(last - first for first, last in _earlier(network)[1].values())


def _blocks(network: ir.Network, projections: list[ir.Projection]) -> list[tuple[str, int]]:
    """The (source's array, delay) of each block of the earlier spikes' rows (see _held), in
    the order of `projections`."""
    return list(dict.fromkeys((_held(network, p.src)[0], p.delay) for p in projections))


def _spike_tables(network: ir.Network) -> list[dict]:
    """The NumPy module's spike tables, and the weight vectors each copies at the start of each
    run (nndl.runtime.layout.SpikeTable): the spikes of earlier ticks in one (see _earlier),
    and of each other group that spikes reach, or `alike` array, every event-driven projection
    into it (see _other_tables). Their rows are the sources' arrays, a block each (_blocks)."""
    tables = []
    projections, columns = _earlier(network)
    size = _earlier_width(network)
    named = {"self.earlier_spikes": (projections, columns, size)} if projections else {}
    for key, found in _other_tables(network).items():
        named[f"self.spike_tables[{key!r}]"] = found
    for name, (projections, columns, size) in named.items():
        blocks = _blocks(network, projections)
        parts = ", ".join(_part(network, p, columns[_input(p.dst, p.target)][0], held=True)
                          for p in projections)
        sources = ", ".join(str(blocks.index((_held(network, p.src)[0], p.delay)))
                            for p in projections)
        weights = ", ".join(flat_weights(network, p) for p in projections)
        tables.append({
            "lines": wrap_call(f"{name} = SpikeTable([{parts}], {size}, sources=[{sources}])"),
            "refresh": wrap_call(f"{name}.weights([{weights}])"),
        })
    return tables


def _other_tables(network: ir.Network) -> dict[str, tuple[list[ir.Projection], dict, int]]:
    """The spike tables besides the earlier one: {group or `alike` array, or a named input sum
    (see _input): (the event-driven projections into it, each input's (first, last + 1)
    column, how many columns)}: the groups of an array share one table, their columns as in the
    array (zero for one without spikes)."""
    columns, tables = _earlier(network)[1], {}
    for g in network.groups:
        for target in _inputs(network, g):
            found = _spiking_into(network, g, target)
            name = _input(g.name, target)
            if not found or name in columns:
                continue
            key, first, size = _held(network, g.name) if target is None else (name, 0, g.size)
            projections, spans, _ = tables.setdefault(key, ([], {}, size))
            projections += found
            spans[name] = (first, first + g.size)
    return tables


def _part(network: ir.Network, p: ir.Projection, column: int, held: bool = False) -> str:
    """A projection's part of a spike table: its synapses, targets from `column` on; `held`:
    sources numbered in the array that holds the source group (see _held)."""
    syn = f"synapses[{p.name!r}]"
    post = f"{syn}.post + {column}" if column else f"{syn}.post"
    _, first, size = _held(network, p.src) if held else (p.src, 0, network.group(p.src).size)
    pre = f"{syn}.pre + {first}" if first else f"{syn}.pre"
    return f"({pre}, {post}, {syn}.tie, {size})"


def _earlier_step(network: ir.Network, fired: set) -> list[dict]:
    """The tick's first step, where some groups' spikes all come from earlier ticks: their
    sum, once (see _earlier)."""
    projections, columns = _earlier(network)
    if not projections:
        return []
    lines = []
    for src, delay in _blocks(network, projections):
        fired.add((src, delay))
        lines.append(f"fired[{src!r}, {delay}] = memory.spikes({src!r}, {delay})")
    found = ", ".join(f"fired[{src!r}, {delay}]" for src, delay in _blocks(network, projections))
    lines.append(f"earlier = self.earlier_spikes.sum([{found}], batch, self.dtype)")
    comment = (f"the spikes of earlier ticks into {', '.join(columns)}: one sum, side by side "
               "(columns " + ", ".join(f"{a}:{b} {name}" for name, (a, b) in columns.items())
               + ")")
    return [{"comment": comment_lines(comment), "lines": lines}]


def _terms(network: ir.Network, g: ir.Group, projections, cpu: bool, fired: set,
           target: str | None = None) -> tuple[list[str], list[str]]:
    """(lines that find the spikes it needs, the terms of its net input, or of its model's
    input sum `target`): in the NumPy module, the spikes of every event-driven projection are
    one term, first: the input's columns of `earlier` where all come from earlier ticks (see
    _earlier), else from its own table (a net's: its columns of its `alike` array's), from the
    spikes of each source's array found once a tick (`fired`: those found already, by array
    and delay)."""
    spiking = [p for p in projections if cpu and event_driven(network, p)]
    terms = [_term(p, network, cpu) for p in projections if p not in spiking]
    if not spiking:
        return [], terms
    columns, name = _earlier(network)[1], _input(g.name, target)
    if name in columns:
        first, last = columns[name]
        return [], [f"earlier[:, {first}:{last}]"] + terms
    key, first, _ = _held(network, g.name) if target is None else (name, 0, g.size)
    projections = _other_tables(network)[key][0]
    lines, term = [], f"self.spike_tables[{key!r}].sum"
    for src, delay in _blocks(network, projections):
        if (src, delay) not in fired:  # (this tick's: found by the source's model function)
            fired.add((src, delay))
            found = f"memory.spikes({src!r}, {delay})" if delay else \
                f"spike_indices(out[{src!r}])"
            lines.append(f"fired[{src!r}, {delay}] = {found}")
    found = ", ".join(f"fired[{src!r}, {delay}]" for src, delay in _blocks(network, projections))
    if key == name:
        return lines, [f"{term}([{found}], batch, self.dtype)"] + terms
    if ("arriving", key) not in fired:  # the array's table: summed once, for all its groups
        fired.add(("arriving", key))
        lines.append(f"arriving = {term}([{found}], batch, self.dtype)  # into all of {key}")
    return lines, [f"arriving[:, {first}:{first + g.size}]"] + terms


def spike_blocks(network: ir.Network) -> list[tuple[str, int]]:
    """The (source's array, delay) of every spike table's blocks (see _blocks)."""
    found = [_earlier(network)[0], *(p for p, _, _ in _other_tables(network).values())]
    return list(dict.fromkeys(b for projections in found for b in _blocks(network, projections)))


def spikes_kept(network: ir.Network) -> dict[str, int]:
    """The NumPy module's SPIKES: the arrays whose spikes the spike tables read from earlier
    ticks, and how many ticks back at most (nndl.runtime.memory keeps their indices)."""
    kept: dict[str, int] = {}
    for src, delay in spike_blocks(network):
        if delay:
            kept[src] = max(kept.get(src, 0), delay)
    return kept


def _fired_target(network: ir.Network, key: str, g: ir.Group, fired: set) -> str | None:
    """Where a model call of the NumPy module (of group g, or of the `alike` array `key` that
    holds it) puts the spikes' indices its function returns: `fired[key, 0]`, which the spike
    tables read (this tick or later: see spikes_kept) and a recording keeps (see
    recorded_spikes); None for a model that does not spike."""
    if g.model is None or not network.model(g.model).spikes:
        return None
    fired.add((key, 0))
    return f"fired[{key!r}, 0]"


def recorded_spikes(network: ir.Network) -> dict[str, tuple[str, int, int]]:
    """The NumPy module's SPIKING: each group whose model spikes, computed at once (not neuron
    by neuron), with where its tick's spike indices are: (the array, or `alike` array, whose
    `fired[array, 0]` they are, the group's first column there, the array's columns); a
    recording keeps those indices (nndl.runtime.recording.Recorder)."""
    found = {}
    for step in network.schedule:
        g = network.group(step.groups[0])
        if not step.neuron_level and g.model and network.model(g.model).spikes:
            found[g.name] = _held(network, g.name)
    return found


def _stored(p: ir.Projection, network: ir.Network, cpu: bool) -> dict:
    """The lines that store one projection's weights in its layout."""
    key, n_dst = repr(p.name), network.group(p.dst).size
    shape = (n_dst, network.group(p.src).size)
    layout = layout_of(network, p, cpu)
    if cpu and layout in ("csr", "stencil"):
        weights = "self.W[" + key + "]" + ("[syn.tie]" if is_shared(p) else "")
        make = f"SparseProduct(syn.pre, syn.post, {weights}, {n_dst}, {shape[1]})" \
            if layout == "csr" else f"Stencil(syn.pre, syn.post, {network.group(p.dst).shape})"
        what = {"csr": "a scipy CSR matrix", "stencil": "a stencil of shifted slices"}[layout]
        return {"key": key, "lines": [f"self.W[{key}] = syn.w.astype(dt)",
                                      *wrap_call(f"self.layout[{key}] = {make}")],
                "comment": comment_lines(f"{describe(p)}: {what}"
                                         + (", weights tied to a shared kernel"
                                            if is_shared(p) else ""))}
    lines = {
        "dense": [f"self.W[{key}] = syn.w.reshape({shape}).astype(dt)"],
        "elementwise": [f"self.W[{key}] = syn.w.astype(dt)"],
        "gather": [f"self.W[{key}] = syn.w.astype(dt)",
                   f"self.layout[{key}] = gather_layout(syn.pre, syn.post, syn.tie, syn.w.size, "
                   f"{n_dst})"],
        "csr": [f"self.W[{key}] = syn.w.astype(dt)",
                f"self.layout[{key}] = syn.pre, row_pointers(syn.post, {n_dst})"],
        "levels": [f"self.W[{key}] = syn.w.astype(dt)"],
        "stencil": [f"self.W[{key}] = syn.w.astype(dt)",
                    *wrap_call(f"self.layout[{key}] = tap_layout(syn.pre, syn.post, "
                               f"{network.group(p.src).shape}, {network.group(p.dst).shape}, "
                               f"{bool(p.rule.params.get('wrap'))}{_axes_argument(p)})")],
    }[layout]
    what = {"dense": f"a dense {shape} matrix", "elementwise": "one weight per neuron",
            "gather": "padded rows of sources (gather)", "csr": "CSR rows",
            "levels": "CSR rows, level by level",
            "stencil": "a stencil, each target's sources found from the tap offsets"}[layout]
    if is_shared(p):
        what += ", weights tied to a shared kernel"
    return {"key": key, "lines": lines, "comment": comment_lines(f"{describe(p)}: {what}")}


def _source(p: ir.Projection) -> str:
    """The source group's output that reaches the target now: this tick's, or d ticks ago."""
    return f"out[{p.src!r}]" if p.delay == 0 else f"memory.earlier({p.src!r}, {p.delay})"


def driven(network: ir.Network, p: ir.Projection, cpu: bool) -> bool:
    """Whether the NumPy module multiplies a projection for every tick at once before the
    ticks run (`drive`): a dense one from an input group, without delay."""
    return cpu and p.delay == 0 and network.group(p.src).role == "input" and \
        cpu_kind(network, p) == "dense"


def _term(p: ir.Projection, network: ir.Network, cpu: bool = False) -> str:
    """The whole target group's input through one projection, (batch, post)."""
    key, src = repr(p.name), _source(p)
    if event_driven(network, p):  # only the synapses of the sources that fired (cpu: _terms)
        n_dst = network.group(p.dst).size  # the CuPy module's kernel (backends/cupy/kernels.py)
        return f"event_sum({src}, self.events[{key}], {flat_weights(network, p)}, {n_dst})"
    if driven(network, p, cpu):
        return f"drive[{key}]"
    layout = layout_of(network, p, cpu)
    if cpu and layout == "csr":  # tied weights are copied into the matrix first
        tie = f", {synapse_weights(network, p)}" if is_shared(p) else ""
        return f"csr_sum({src}, self.layout[{key}]{tie})"
    return {
        "dense": f"{src} @ W[{key}].T",
        "elementwise": f"{src} * W[{key}]",
        "gather": f"gather_sum({src}, self.layout[{key}], W[{key}])",
        "csr": f"csr_sum({src}, self.layout[{key}], W[{key}])",
        "stencil": f"stencil_sum({src}, self.layout[{key}], {synapse_weights(network, p)})",
    }[layout]


def _net(g: ir.Group, terms: list[str], cpu: bool = False, into: str = "net",
         biased: bool = True) -> list[str]:
    """Lines that leave the group's net input in `net`: bias plus every term (`into` another
    variable, and without the bias unless `biased`: a named input sum, see _sum_lines)."""
    bias, with_bias = f"b[{g.name!r}]", g.bias and biased
    if not terms:  # nothing comes in: every sample sees just the bias (a copy: run() returns it)
        first = f"np.tile({bias}, (batch, 1))" if with_bias else \
            f"np.zeros((batch, {g.size}), dtype=self.dtype)"
    elif cpu and with_bias and not terms[0].startswith("drive["):
        # the first term is a fresh array: the bias is added into it (one array fewer a tick)
        return [f"{into} = {terms[0]}"] + [f"{into} += {term}" for term in [*terms[1:], bias]]
    else:  # a drive is computed before the ticks: copied, so that `+=` leaves it alone
        alone = f"{terms[0]}.copy()" if terms[0].startswith("drive[") else terms[0]
        first = f"{bias} + {terms[0]}" if with_bias else alone
    # `first` is always a fresh array, so adding in place is safe.
    return [f"{into} = {first}"] + [f"{into} += {term}" for term in terms[1:]]


def _sum_lines(network: ir.Network, g: ir.Group, cpu: bool, fired: set) -> list[str]:
    """Lines that leave each named input sum of a model group (`sum(NAME)`, fed by the
    projections `target NAME`) in `nets[GROUP, NAME]`, where the backward tick finds it."""
    lines = []
    for name in network.model(g.model).sums if g.model else ():
        found, terms = _terms(network, g, network.inputs_of(g.name, name), cpu, fired, name)
        lines += found + _net(g, terms, cpu, into=f"nets[{g.name!r}, {name!r}]", biased=False)
    return lines


def _apply(network: ir.Network, g: ir.Group, rows: str | None = None,
           held: str | None = None, spikes: str | None = None) -> list[str]:
    """Lines that turn `net` into the group's output (of `rows` only, when given; `held`: of
    the whole `alike` array of that name, as the arguments of g say). `spikes`: in the NumPy
    module, where the indices that a spiking model's function returns go (`_`: nowhere)."""
    key = repr(held or g.name)
    target = f"out[{key}]" + (f"[:, {rows}]" if rows else "")
    if g.model is None:
        return [f"{target} = {activation_call(g, 'net')}"]
    model = network.model(g.model)
    pick = f"[:, {rows}]" if rows else ""
    states = [f"state[{var!r}]{pick}" for var in model.states]
    params = param_arguments(network, g, rows)
    noise = [noise_call(key, "memory.tick", rows)] if model.draws else []
    sums = [f"nets[{key}, {name!r}]{pick}" for name in model.sums]  # (no `alike` array has any)
    arguments = ", ".join([f"memory.last[{key}]{pick}", *states, *params, *sums, *noise])
    found = [spikes] if spikes and model.spikes else []  # see render.model_function
    results = ", ".join([target, *states, *found]) + ("" if states or found else ",")
    call = f"{results} = {model_function_name(model)}(net, {arguments})"
    return [f"state = memory.state[{key}]", *wrap_call(call)]


def _describe_group(g: ir.Group) -> str:
    if g.model is None:
        return f"{g.name}{list(g.shape)}, {g.activation}"
    params = ", ".join(f"{k}={value_text(v)}" for k, v in g.params.items())
    return f"{g.name}{list(g.shape)}, neuron model {g.model}({params})"


def _group_step(network: ir.Network, g: ir.Group, cpu: bool, fired: set) -> dict:
    incoming = network.inputs_of(g.name)
    sources = _sources(network, g.name)
    if cpu:  # a CSR product first: its (batch, post) result is neuron-major underneath, so the
        # net input and output are too, and the next tick's product reads them without a copy
        incoming = sorted(incoming, key=lambda p: cpu_kind(network, p) != "csr")
    lines, terms = _terms(network, g, incoming, cpu, fired)
    lines += _net(g, terms, cpu) + [f"nets[{g.name!r}] = net"]
    lines += _sum_lines(network, g, cpu, fired)
    lines += _apply(network, g, spikes=_fired_target(network, g.name, g, fired) if cpu else None)
    return {"comment": comment_lines(f"{_describe_group(g)}, from {sources}"), "lines": lines}


def _alike_step(network: ir.Network, key: str, groups: tuple, fired: set) -> dict:
    """The NumPy module's step of the groups of one `alike` array: each one's net input as
    in _group_step, all of them side by side (the earlier spikes' columns themselves where
    those sums are theirs, side by side, in order), one model call, and each group's output
    as a view of its columns."""
    columns, lines, spans, alone = _earlier(network)[1], [], [], []
    others = _other_tables(network).get(key, ([], {}))[1]
    for name in groups:
        g = network.group(name)
        incoming = sorted(network.incoming(name), key=lambda p: cpu_kind(network, p) != "csr")
        found, terms = _terms(network, g, incoming, True, fired)
        computed = _net(g, terms, True)
        if computed == [f"net = {terms[0]}"]:  # one term alone
            lines += found
            alone.append(f"nets[{name!r}] = {terms[0]}")
        else:
            lines += found + computed + [f"nets[{name!r}] = net"]
        spans.append(("earlier", *columns[name]) if name in columns else
                     ("arriving", *others[name]) if name in others else None)
    together = all(spans) and all(a[0] == b[0] and a[2] == b[1]
                                  for a, b in zip(spans, spans[1:]))
    if together:  # each group's sum went into its columns of one sum of spikes, in place
        if alone:  # views of those columns: only backpropagation reads them
            lines += ["if self._taping:  # (the tape keeps each group's net input)",
                      *(f"    {line}" for line in alone)]
        table, first, last = spans[0][0], spans[0][1], spans[-1][2]
        width = _earlier_width(network) if table == "earlier" else \
            _other_tables(network)[key][2]
        whole = "" if (first, last) == (0, width) else f"[:, {first}:{last}]"
        lines.append(f"net = {table}{whole}  # all of {key}")
    else:
        lines += alone
        lines.append(f"net = np.concatenate([{', '.join(f'nets[{n!r}]' for n in groups)}], "
                     "axis=1)")
    model_group = network.group(groups[0])  # (every group of the array has its model)
    lines += _apply(network, model_group, held=key,
                    spikes=_fired_target(network, key, model_group, fired))
    at = 0
    for name in groups:
        size = network.group(name).size
        lines.append(f"out[{name!r}] = out[{key!r}][:, {at}:{at + size}]")
        at += size
    described = ", ".join(_describe_group(network.group(n)) for n in groups)
    comment = (f"{described}: computed as one array {key!r} of {at} neurons, the groups' "
               "columns one after another; from " + _sources(network, groups[0]))
    return {"comment": comment_lines(comment), "lines": lines}


def _history(network: ir.Network, arrays: dict) -> dict:
    """Where every_tick copies each output from (the module's HISTORY): an `alike` array whose
    groups are all outputs is copied whole, once a tick, each output a view of its columns."""
    found = {}
    for g in network.outputs:
        key, first, size = _held(network, g.name)
        whole = key != g.name and key in arrays and \
            all(network.group(n).role == "output" for n in arrays[key])
        found[g.name] = (key, first, first + g.size) if whole else (g.name, 0, g.size)
    return found


def _sources(network: ir.Network, name: str) -> str:
    return ", ".join(f"{p.src} ({p.rule.kind}{f', delay {p.delay}' if p.delay else ''}"
                     f"{f', into sum({p.target})' if p.target else ''})"
                     for p in network.incoming(name)) or "nothing"


def _level_step(network: ir.Network, index: int, step: ir.Step, cpu: bool,
                fired: set) -> dict:
    """A neuron-level step: the outside input first, then the step's own neurons level by level."""
    inner = inner_projections(network, step)
    lines = ["external = {}"]
    for name in step.groups:
        g = network.group(name)
        outside = [p for p in network.incoming(name) if p not in inner]
        found, terms = _terms(network, g, outside, cpu, fired)
        lines += found + _net(g, terms, cpu)
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
        lines += [f"        {line}" for line in _apply(network, g, rows="rows",
                                                        spikes="_" if cpu else None)]
    names = ", ".join(step.groups)
    links = ", ".join(p.name for p in inner)
    comment = f"{names}: neuron by neuron, in topological levels of the delay-0 links {links}"
    return {"comment": comment_lines(comment), "lines": lines}


def sparse_levels(network: ir.Network, step: ir.Step, cpu: bool) -> bool:
    """Whether the NumPy module computes a neuron-level step neuron-major with one sparse
    product per level and inner projection (every group an activation; model groups keep the
    portable step, which carries their states in (batch, neurons) arrays)."""
    return cpu and step.neuron_level and all(network.group(n).model is None
                                             for n in step.groups)


def _sparse_level_step(network: ir.Network, index: int, step: ir.Step, fired: set) -> dict:
    """A neuron-level step, neuron-major (rows are neurons) and reordered level by level: each
    level's rows of a group are one contiguous block, summed by one scipy product per inner
    projection into the net input's block itself."""
    inner = inner_projections(network, step)
    lines = [f"reordered = self.reordered[{index}]  # rows level by level (SparseLevels)",
             "net_t, out_t = {}, {}  # (neurons, batch), in that order"]
    for name in step.groups:
        g = network.group(name)
        outside = [p for p in network.incoming(name) if p not in inner]
        found, terms = _terms(network, g, outside, True, fired)
        lines += found + _net(g, terms, True)
        lines += [f"net_t[{name!r}] = net.T[reordered.order[{name!r}]]",
                  "# empty: a row is read only after its level wrote it",
                  f"out_t[{name!r}] = np.empty(({g.size}, batch), dtype=self.dtype)"]
    for i, p in enumerate(inner):
        lines += wrap_call(f"products{i} = self.products[{index}][{p.name!r}].refresh("
                           f"{synapse_weights(network, p)})")
    lines.append("for k, block in enumerate(reordered.blocks):")
    for name in step.groups:
        g = network.group(name)
        lines += [f"    if {name!r} in block:",
                  f"        net = net_t[{name!r}][block[{name!r}]]  # a view: sums go in place"]
        lines += [f"        net += products{i}[k] @ out_t[{p.src!r}]"
                  for i, p in enumerate(inner) if p.dst == name]
        lines += [f"        out_t[{name!r}][block[{name!r}]] = {activation_call(g, 'net')}"]
    for name in step.groups:
        rank = f"reordered.rank[{name!r}]"
        lines += [f"out[{name!r}] = out_t[{name!r}][{rank}].T  # back in neuron order",
                  "if self._taping:  # only backpropagation reads the net inputs",
                  f"    nets[{name!r}] = net_t[{name!r}][{rank}].T"]
    names = ", ".join(step.groups)
    links = ", ".join(p.name for p in inner)
    comment = (f"{names}: neuron by neuron, in topological levels of the delay-0 links {links};"
               " neuron-major, each level one sparse product per link")
    return {"comment": comment_lines(comment), "lines": lines}


def _product_lines(network: ir.Network, index: int, step: ir.Step) -> list[str]:
    sizes = {name: network.group(name).size for name in step.groups}
    lines = [f"self.reordered[{index}] = SparseLevels(self.plans[{index}], {sizes!r})",
             f"self.products[{index}] = {{}}"]
    for p in inner_projections(network, step):
        n_src = network.group(p.src).size
        pre = f"self.reordered[{index}].rank[{p.src!r}][synapses[{p.name!r}].pre]"
        lines += wrap_call(f"self.products[{index}][{p.name!r}] = LevelProducts(self.plans["
                           f"{index}], {p.dst!r}, {p.name!r}, {pre}, {n_src}, dt)")
    return lines


def _plan(network: ir.Network, index: int, step: ir.Step) -> str:
    inner = inner_projections(network, step)
    by_group = {name: [p.name for p in inner if p.dst == name] for name in step.groups}
    sizes = {p.name: network.group(p.dst).size for p in inner}
    return f"level_plan(self.levels[{index}], {by_group!r}, synapses, {sizes!r})"


def _helpers(kinds: set, plans: list, backs: list, cpu: bool) -> tuple[list, list]:
    """The sums over sparse synapses the module needs, forward and backward."""
    sums = {**SPARSE_SUMS, **CPU_SUMS} if cpu else SPARSE_SUMS
    helpers = [sums[k] for k in ("gather", "csr", "stencil") if k in kinds and k in sums]
    helpers += [CPU_SUMS["drive"]] if cpu else []
    helpers += [SPARSE_SUMS["rows"]] if plans else []
    if (not cpu and "csr" in kinds) or plans or backs:
        helpers.append(SPARSE_SUMS["segment"])
    per_synapse = {"gather"} if cpu else {"gather", "csr"}
    backward = [BACKWARD["synapses"]] if kinds & per_synapse else []
    backward += [BACKWARD["rows"]] if plans else []
    if cpu:
        backward += [CPU_BACKWARD[k] for k in ("stacked", "csr", "stencil")
                     if k == "stacked" or k in kinds]
    if kinds & per_synapse or (cpu and kinds & {"csr", "stencil"}):  # their weight gradients
        backward.insert(0, BACKWARD["tied"])
    return helpers, backward


def lower(network: ir.Network, cpu: bool = False) -> dict:
    """The template context. `cpu`: the NumPy module's own layouts (scipy CSR products,
    stencils, weight gradients once over all ticks); without it, the portable lowering that a
    GPU backend runs line for line."""
    check_names(network)  # before any name is written into code
    steps, plans, products = [], [], []
    fired: set = set()  # the spikes found so far in a tick, by group and delay (see _terms)
    arrays = alike(network) if cpu else {}
    first_of = {groups[0]: key for key, groups in arrays.items()}
    held = {name for groups in arrays.values() for name in groups}
    if cpu:
        steps += _earlier_step(network, fired)
    for index, step in enumerate(network.schedule):
        if step.neuron_level:
            if sparse_levels(network, step, cpu):
                steps.append(_sparse_level_step(network, index, step, fired))
                products += _product_lines(network, index, step)
            else:
                steps.append(_level_step(network, index, step, cpu, fired))
            plans.append({"index": index, "value": _plan(network, index, step)})
        elif step.groups[0] in first_of:  # with the other groups of its array
            key = first_of[step.groups[0]]
            steps.append(_alike_step(network, key, arrays[key], fired))
        elif step.groups[0] not in held:
            steps.append(_group_step(network, network.group(step.groups[0]), cpu, fired))
    for step in steps:  # the lines, broken to fit the generated code's 100 columns
        step["lines"] = wrap_lines(step["lines"])
    kinds = {layout_of(network, p, cpu) for p in network.projections}
    backs = back_layouts(network, cpu)
    helpers, backward = _helpers(kinds, plans, backs, cpu)
    if any(g.activation == "softmax" for g in network.groups):
        backward.insert(0, BACKWARD["softmax"])
    return {
        **common_context(network, "numpy"),
        "activations": used_activations(network, ACTIVATIONS),
        "models": "\n\n\n".join(model_function(m, NumpyArrays, indices=cpu)
                                  for m in network.models),
        "rules": rule_functions(network, NumpyArrays),
        "rule_table": rule_table(network),
        "helpers": "\n\n\n".join(h.strip("\n") for h in helpers),
        "parameters": [_setup(p, network, cpu) for p in network.projections],
        "plans": plans,
        "products": products,
        "steps": steps,
        "slopes": slope_functions(network, NumpyArrays),
        "model_backwards": "\n\n\n".join(model_backward_function(m, NumpyArrays)
                                            for m in network.models),
        "backward_helpers": "\n\n\n".join(h.strip("\n") for h in backward),
        "backs": backs,
        "backward_steps": lower_backward(network, cpu),
        "weight_grads": weight_grad_lines(network) if cpu else [],
        "drives": [{"key": repr(p.name), "src": repr(p.src)} for p in network.projections
                   if driven(network, p, cpu)],
        "cpu": cpu,
        "any_level": bool(plans),
        "spike_tables": _spike_tables(network) if cpu else [],
        "alike": repr(arrays),
        "history": repr(_history(network, arrays)),
        "spikes": repr(spikes_kept(network) if cpu else {}),
        "spiking": repr(recorded_spikes(network) if cpu else {}),
        "fired": bool(fired),
    }
