"""A network at a glance, as text (`print(net)`) and as an HTML table (Jupyter).

    import nndl
    from nndl.summary import describe

    mod = nndl.compile("examples/digits.nndl")
    describe(mod)             # in Jupyter: tables; in a terminal: the text below
    net = mod.Network()
    net                       # in Jupyter the same tables, for this network's own synapses
    print(net)                # the text summary; repr(net) stays one line
    net.summary().groups      # the numbers, as data

`describe` takes a generated module (or its `Network` class), a `Network` object, or the IR
(`ir.Network`). A `Network` object is described as it is now: the synapses it holds (after
loading, pruning or growing), its seed and dtype. A module or the IR is described as
`Network()` would build it, with the network's seed and the backend's default dtype; synapse
counts come from building each connection whose count is not known from its rule alone, unless
the network would not fit in memory (`nndl.runtime.resources`), when they are bounds ("up to").
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field

import numpy as np

from nndl import ir
from nndl.ir import listing
from nndl.ir.listing import call_text
from nndl.runtime import resources, weightfile

# Parameters of rules and optimisers left out of their short form when they have these values.
RULE_DEFAULTS = {"local": {"metric": "euclidean", "wrap": False, "shared": False}}
OPTIMIZER_DEFAULTS = {"adam": dict(ir.DEFAULT_ADAM, lr=None),
                      "adamw": dict(ir.DEFAULT_ADAMW, lr=None),
                      "sgd": {"momentum": 0.0, "weight_decay": 0.0}}
INDEX_BYTES = 8  # pre, post and tie are int64 in the weight file


@dataclass(frozen=True)
class GroupRow:
    name: str
    role: str  # input, hidden or output
    shape: tuple[int, ...]
    neurons: int
    model: str  # `relu`, `leaky_relu(slope=0.2)`, `neuron leaky(leak=0.8)`; `-` for inputs
    biases: int  # trainable biases (0 for inputs and `bias none`)
    neuron_level: bool = False  # computed neuron by neuron, in topological levels


@dataclass(frozen=True)
class ProjectionRow:
    name: str
    src: str
    dst: str
    rule: str  # the rule with the parameters that differ from their defaults
    init: str
    delay: int
    synapses: int  # exact when `exact`, else an upper bound (the network was not built)
    weights: int | None  # trainable weights (a shared kernel's entries); None when not built
    exact: bool = True
    target: str | None = None  # the named input sum of dst's model it feeds; None: its net


@dataclass(frozen=True)
class Memory:
    weight_file: int | None  # bytes of the weight file's arrays (uncompressed); None: not built
    run: int  # resources.estimate: an upper bound to build and run the synapses
    training: dict[str, tuple[int, int, int]]  # regime -> (bytes, batch, ticks)
    allowed: int
    allowed_source: str
    refusal: str | None  # resources.too_large's message, when the network would not fit


@dataclass(frozen=True)
class Summary:
    network: str
    source: str
    backend: str | None  # None when describing the IR alone
    dtype: str
    seed: int
    groups: tuple[GroupRow, ...]
    projections: tuple[ProjectionRow, ...]
    regimes: tuple[str, ...]  # one line each
    memory: Memory
    spec: ir.Network = field(repr=False, compare=False)
    built: bool = True  # False: some synapse counts are bounds (the network is too large)

    # ---- totals ----

    @property
    def neurons(self) -> int:
        return sum(g.neurons for g in self.groups)

    @property
    def synapses(self) -> int:
        """Exact when every row is; otherwise an upper bound."""
        return sum(p.synapses for p in self.projections)

    @property
    def exact(self) -> bool:
        return all(p.exact for p in self.projections)

    @property
    def weights(self) -> int | None:
        if any(p.weights is None for p in self.projections):
            return None
        return sum(p.weights for p in self.projections)

    @property
    def biases(self) -> int:
        return sum(g.biases for g in self.groups)

    @property
    def model_parameters(self) -> int:
        """The neuron models' trainable parameters: one per group, or one per neuron for a
        parameter given as an expression (the weight file's GROUP.PARAM)."""
        spec = self.spec
        return sum(g.size if isinstance(g.params[name], dict) else 1
                   for g in spec.groups if g.model for name in spec.model(g.model).trainable)

    @property
    def parameters(self) -> int | None:
        """Trainable parameters: weights, biases and the models' trainable parameters (None
        when the weights are not known)."""
        return None if self.weights is None else \
            self.weights + self.biases + self.model_parameters

    # ---- rendering ----

    def text(self) -> str:
        return text_of(self)

    def html(self) -> str:
        return html_of(self)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:  # the REPL shows the summary itself
        return self.text()

    def _repr_html_(self) -> str:
        return self.html()


# ---- building a summary ----

def describe(obj, seed: int | None = None) -> Summary:
    """The summary of a generated module, its `Network` class, a `Network` object or an
    `ir.Network` (also an `ir.Program` of one network). `seed` replaces the network's when it is
    not a `Network` object."""
    # A generated module's Network class carries its IR as SPEC, so an object of it has a class
    # with a SPEC (told so, not by the runtime's NetworkBase: the runtime imports this module).
    if isinstance(getattr(type(obj), "SPEC", None), ir.Network):
        if seed is not None:
            raise ValueError("a Network object is described with its own seed")
        return _of_network(obj)
    cls = getattr(obj, "Network", obj)
    if isinstance(cls, type) and isinstance(getattr(cls, "SPEC", None), ir.Network):
        return summarise(cls.SPEC, cls.BACKEND, cls.DEFAULT_DTYPE, seed)
    if isinstance(obj, ir.Program):
        obj = obj.network()
    if isinstance(obj, ir.Network):
        return summarise(obj, None, "float32", seed)
    raise TypeError("describe() takes a module from nndl.compile, its Network class, a Network "
                    f"object or an ir.Network; got {type(obj).__name__}")


def text_summary(obj) -> str:
    """`describe(obj)` as text."""
    return describe(obj).text()


def html_summary(obj) -> str:
    """`describe(obj)` as an HTML fragment (tables), escaped throughout."""
    return describe(obj).html()


def synapse_counts(spec: ir.Network, seed: int | None = None
                   ) -> dict[str, tuple[int, int | None, bool]]:
    """{projection: (synapses, weights, exact)}.

    `full` and `one_to_one` are counted from their rule, and so are `where` and `fan_in` over an
    exact source range (synapses.count_without_building); other rules are built with the seed
    (the network's by default), exactly as `Network()` builds them, unless the network would
    not fit in memory (`resources.too_large`): then their counts are upper bounds, not exact,
    and a shared kernel's number of weights is unknown (None).
    """
    from nndl.runtime.synapses import build, count_without_building

    seed = spec.seed if seed is None else seed
    fits = resources.too_large(spec, resources.estimate(spec)) is None
    counts: dict[str, tuple[int, int | None, bool]] = {}
    for p in spec.projections:
        src, dst = spec.group(p.src), spec.group(p.dst)
        if p.rule.kind == "full":
            counts[p.name] = (src.size * dst.size, src.size * dst.size, True)
        elif p.rule.kind == "one_to_one":
            counts[p.name] = (dst.size, dst.size, True)
        elif fits and (known := count_without_building(spec, p)) is not None:
            counts[p.name] = (known[0], known[0], True)  # where, fan_in: a weight per synapse
        elif fits:
            with warnings.catch_warnings():  # `nndlc check` reports what building finds
                warnings.simplefilter("ignore")
                syn = build(spec, p, seed, [])
            counts[p.name] = (int(syn.pre.size), int(np.size(syn.w)), True)
        else:  # a shared kernel's size is known once built; other rules have a weight each
            bound = resources.synapse_bound(spec, p)
            counts[p.name] = (bound, None if p.rule.params.get("shared") else bound, False)
    return counts


def summarise(spec: ir.Network, backend: str | None, dtype: str,
              seed: int | None = None) -> Summary:
    """A summary of the network as `Network(seed)` would build it."""
    counts = synapse_counts(spec, seed)
    rows = [_projection_row(p, *counts[p.name]) for p in spec.projections]
    built = all(r.exact for r in rows)
    shared = {p.name for p in spec.projections if p.rule.params.get("shared")}
    weight_file = _weight_file_bytes(spec, rows, shared, np.dtype(dtype).itemsize) \
        if built else None
    return _summary(spec, backend, dtype, spec.seed if seed is None else seed, rows,
                    weight_file, built)


def _of_network(net) -> Summary:
    spec = net.SPEC
    synapses, _ = net._get_parameters()
    rows = [_projection_row(p, int(np.size(synapses[p.name].pre)),
                            int(np.size(synapses[p.name].w)), True) for p in spec.projections]
    weight_file = sum(a.nbytes for a in net.parameters().values())
    return _summary(spec, net.BACKEND, net.dtype, net.seed, rows, weight_file, built=True)


def _summary(spec, backend, dtype, seed, rows, weight_file, built) -> Summary:
    groups = tuple(GroupRow(g.name, g.role, tuple(g.shape), g.size, model_text(spec, g),
                            g.bias_count,
                            g.role != "input" and spec.step_of(g.name).neuron_level)
                   for g in spec.groups)
    allowed, source = resources.limit()
    need = resources.estimate(spec)
    training = {r.name: (resources.estimate(spec, r.batch, r.ticks, training=True).total,
                         r.batch, r.ticks) for r in spec.regimes}
    memory = Memory(weight_file, need.total, training, allowed, source,
                    resources.too_large(spec, need))
    return Summary(spec.name, spec.source, backend, dtype, seed, groups, tuple(rows),
                   tuple(regime_text(r) for r in spec.regimes), memory, spec, built)


def _projection_row(p: ir.Projection, synapses: int, weights: int | None,
                    exact: bool) -> ProjectionRow:
    return ProjectionRow(p.name, p.src, p.dst, rule_text(p.rule), call_text(p.init.kind,
                                                                             p.init.params),
                         p.delay, synapses, weights, exact, p.target)


def _weight_file_bytes(spec: ir.Network, rows, shared: set[str], itemsize: int) -> int:
    """What `Network.parameters()` will hold: pre, post (and tie) per synapse, each weight,
    bias and starting state, and each model parameter held as an array."""
    total = 0
    for r in rows:
        total += 2 * INDEX_BYTES * r.synapses + itemsize * r.weights
        if r.name in shared:
            total += INDEX_BYTES * r.synapses
    for g in spec.groups:
        total += itemsize * g.bias_count
        if g.model:
            total += itemsize * g.size * len(spec.model(g.model).states)
            total += itemsize * sum(size for _, size in weightfile.param_sizes(spec, g))
    return total


# ---- short forms of what the source says ----

def _number(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


def rule_text(rule: ir.Rule) -> str:
    """A rule with its parameters, leaving out those at their defaults:
    `local(radius=1, metric=chebyshev, shared=true)`."""
    defaults = RULE_DEFAULTS.get(rule.kind, {})
    params = {k: v for k, v in rule.params.items()
              if not (k in defaults and v == defaults[k] and type(v) is type(defaults[k]))}
    return call_text(rule.kind, params)


def model_text(spec: ir.Network, g: ir.Group) -> str:
    """The group's activation or neuron model, as `nndlc ir` lists it."""
    return listing.model_text(g)


def optimizer_text(opt: ir.Optimizer | None) -> str:
    if opt is None:
        return "no optimizer"
    defaults = OPTIMIZER_DEFAULTS.get(opt.kind, {})
    return call_text(opt.kind, {k: v for k, v in opt.params.items()
                                if k not in defaults or defaults[k] != v})


def regime_text(r: ir.Regime) -> str:
    """`supervised: data digits; loss cross_entropy; adam(lr=0.0005); batch 16, 40 epochs,
    1 tick`, then local rules and rewiring."""
    data = "data given to fit" if r.data is None else \
        (f'data "{r.data}"' if r.data.lower().endswith(".npz") else
         "data " + call_text(r.data, r.data_args))
    parts = [data]
    if r.loss:
        parts.append(f"loss {r.loss}" + (" (every tick)" if r.every_tick else ""))
        parts.append(optimizer_text(r.optimizer))
        if r.schedule:
            parts.append(f"cosine schedule to {r.schedule.params['final_lr']:g}")
    parts.append(f"batch {r.batch}, {_plural(r.epochs, 'epoch')}, {_plural(r.ticks, 'tick')}")
    parts += [f"learn {rule.projection}: {call_text(rule.kind, rule.params)}" for rule in r.learn]
    for w in r.rewire:
        parts.append(f"rewire {w.projection}: {w.actions()} every {w.every}")
    return f"{r.name}: " + "; ".join(parts)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("s" if n != 1 else "")


def count_text(n: int | None, exact: bool = True) -> str:
    if n is None:
        return "?"
    return f"{n:,}" if exact else f"up to {n:,}"


def shape_text(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


# ---- text ----

def _title(s: Summary) -> str:
    how = [f"{s.backend} backend" if s.backend else "IR", s.dtype, f"seed {s.seed}"]
    return f"network {s.network}  ({', '.join(how)}; {s.source or 'no source file'})"


def _group_cells(g: GroupRow) -> list[str]:
    model = g.model + (" (neuron by neuron)" if g.neuron_level else "")
    return [g.name, g.role, shape_text(g.shape), f"{g.neurons:,}",
            f"{g.biases:,}" if g.biases else "-", model]


def _projection_cells(p: ProjectionRow) -> list[str]:
    into = f"{p.dst} sum({p.target})" if p.target else p.dst
    return [p.name, f"{p.src} -> {into}", p.rule, str(p.delay),
            count_text(p.synapses, p.exact), count_text(p.weights, p.exact)]


GROUP_HEADER = ["name", "role", "shape", "neurons", "biases", "model"]
GROUP_NUMBERS = {3, 4}
PROJECTION_HEADER = ["name", "from -> to", "rule", "delay", "synapses", "weights"]
PROJECTION_NUMBERS = {3, 4, 5}


def _totals(s: Summary) -> str:
    line = f"{s.neurons:,} neurons, {count_text(s.synapses, s.exact)} synapses"
    if s.parameters is not None:
        learnt = f" + {s.model_parameters:,} of neuron models" if s.model_parameters else ""
        line += (f"; {count_text(s.parameters, s.exact)} trainable parameters "
                 f"({count_text(s.weights, s.exact)} weights + {s.biases:,} biases{learnt})")
    else:
        line += f"; {s.biases:,} biases; weights unknown until built"
    return line


def _memory_rows(s: Summary) -> list[list[str]]:
    m = resources.size
    mem = s.memory
    rows = []
    if mem.weight_file is not None:
        arrays = f"{m(mem.weight_file)} as {s.dtype} (the weight file's arrays, uncompressed)"
        rows.append(["weights and biases", arrays])
    rows.append(["building and running", f"up to {m(mem.run)} (estimate)"])
    for name, (need, batch, ticks) in mem.training.items():
        rows.append([f"training {name}",
                     f"up to {m(need)} (batch {batch}, {_plural(ticks, 'tick')})"])
    rows.append(["allowed", f"{m(mem.allowed)} ({mem.allowed_source})"])
    return rows


WIDTH = 100  # regime lines wrap here


def wrap(text: str, width: int, sep: str, first: str = "", rest: str = "") -> list[str]:
    """`text` in lines of at most `width` characters where it can, broken after `sep`."""
    pieces = text.split(sep)
    lines, line = [], first + pieces[0]
    for piece in pieces[1:]:
        if len(line) + len(sep) + len(piece) > width:
            lines.append(line + sep.rstrip())
            line = rest + piece
        else:
            line += sep + piece
    return lines + [line]


def _table(rows: list[list[str]], numbers: set[int] = frozenset()) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c.rjust(w) if i in numbers else c.ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths))]
        lines.append(("  " + "  ".join(cells)).rstrip())
    return lines


def text_of(s: Summary) -> str:
    lines = [_title(s), "groups:"]
    lines += _table([GROUP_HEADER] + [_group_cells(g) for g in s.groups], GROUP_NUMBERS)
    lines.append("connections:")
    if s.projections:
        lines += _table([PROJECTION_HEADER] + [_projection_cells(p) for p in s.projections],
                        PROJECTION_NUMBERS)
    else:
        lines.append("  (none)")
    lines.append("totals: " + _totals(s))
    lines.append("memory:")
    lines += _table(_memory_rows(s))
    if s.memory.refusal:
        lines.append(f"  not built: {s.memory.refusal}")
    if s.regimes:
        lines.append("regimes:")
        for r in s.regimes:
            lines += wrap(r, WIDTH - 2, "; ", first="  ", rest="      ")
    return "\n".join(lines) + "\n"


# ---- HTML ----

def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _html_table(caption: str, header: list[str], rows: list[list[str]], numbers: set[int],
                footer: list[str] | None = None) -> str:
    def row(cells, tag):
        return "<tr>" + "".join(
            f'<{tag} style="text-align:{"right" if i in numbers else "left"}">{_e(c)}</{tag}>'
            for i, c in enumerate(cells)) + "</tr>"

    parts = ['<table class="nndl-table">', f"<caption>{_e(caption)}</caption>",
             "<thead>" + row(header, "th") + "</thead>",
             "<tbody>" + "".join(row(r, "td") for r in rows) + "</tbody>"]
    if footer:
        parts.append("<tfoot>" + row(footer, "th") + "</tfoot>")
    parts.append("</table>")
    return "".join(parts)


def html_of(s: Summary) -> str:
    groups = _html_table("groups", GROUP_HEADER, [_group_cells(g) for g in s.groups],
                         GROUP_NUMBERS,
                         ["total", "", "", f"{s.neurons:,}", f"{s.biases:,}", ""])
    projections = _html_table(
        "connections", PROJECTION_HEADER, [_projection_cells(p) for p in s.projections],
        PROJECTION_NUMBERS,
        ["total", "", "", "", count_text(s.synapses, s.exact), count_text(s.weights, s.exact)])
    memory = "".join(f"<tr><th style=\"text-align:left\">{_e(k)}</th>"
                     f"<td style=\"text-align:left\">{_e(v)}</td></tr>"
                     for k, v in _memory_rows(s))
    parts = ['<div class="nndl-summary">', f"<p><strong>{_e(_title(s))}</strong></p>",
             groups, projections, f"<p>{_e(_totals(s))}</p>",
             f'<table class="nndl-table"><caption>memory</caption><tbody>{memory}</tbody></table>']
    if s.memory.refusal:
        parts.append(f"<p>not built: {_e(s.memory.refusal)}</p>")
    if s.regimes:
        parts.append("<p>regimes:</p><ul>" + "".join(f"<li>{_e(r)}</li>" for r in s.regimes)
                     + "</ul>")
    parts.append("</div>")
    return "".join(parts)
