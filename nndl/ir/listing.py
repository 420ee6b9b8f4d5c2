"""The IR as a readable listing (`nndlc ir`): groups in evaluation order, projections, regimes."""

from __future__ import annotations

from nndl import ir
from nndl.ir import expr
from nndl.ir import lazy_traces


def synapse_count(network: ir.Network, p: ir.Projection) -> int | None:
    """Known without building for `full` and `one_to_one`; None otherwise."""
    src, dst = network.group(p.src), network.group(p.dst)
    if p.rule.kind == "full":
        return src.size * dst.size
    if p.rule.kind == "one_to_one":
        return dst.size
    return None


def model_text(g: ir.Group) -> str:
    """`relu`, `leaky_relu(slope=0.2)`, or `neuron leaky(leak=0.8)` for a neuron model (every
    parameter, the group's overrides applied); `-` for an input."""
    if g.model:
        return "neuron " + call_text(g.model, g.params)
    if g.activation is None:
        return "-"
    return call_text(g.activation, g.params)


def value_text(value) -> str:
    """A parameter's value as source text: a number, a name, or an expression."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):  # a condition, in the expression IR's dict form
        return expr.render(expr.from_dict(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def call_text(kind: str, params: dict) -> str:
    """A rule or initialiser as source text: `local(radius=1.5, metric=euclidean, ...)`."""
    shown = [value_text(v) if k == "condition" else f"{k}={value_text(v)}"
             for k, v in params.items() if v is not None]
    return f"{kind}({', '.join(shown)})" if shown else kind


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def network_listing(network: ir.Network, counts: dict[str, int] | None = None,
                    layouts: dict[str, str] | None = None,
                    sequence_ticks: dict[str, int] | None = None) -> str:
    """The listing; `counts` (synapses per projection, once built) and `layouts` (how a backend
    stores each projection) add columns when given; `sequence_ticks` names the built-in data
    sets of sequences and their ticks (nndl.datasets.SEQUENCE_TICKS: data sets are no part of
    the IR)."""
    counts = counts or {p.name: synapse_count(network, p) for p in network.projections}
    title = (f"network {network.name}  (seed {network.seed}; {network.source}, "
             f"sha256 {network.sha256[:12]})")
    lines = [title, "groups, in evaluation order:"]
    rows = [["name", "role", "shape", "neurons", "model", "bias"]]
    for g in network.groups:
        bias = "-" if g.role == "input" else (f"{g.bias_init:g}" if g.bias else "none")
        level = " (neuron by neuron)" if g.role != "input" and \
            network.step_of(g.name).neuron_level else ""
        rows.append([g.name, g.role, str(list(g.shape)), str(g.size), model_text(g) + level, bias])
    lines += _table(rows)
    lines.append("projections:")
    rows = [["name", "from", "to", "rule", "weights", "delay", "synapses"]
            + (["layout"] if layouts else [])]
    for p in network.projections:
        count = counts.get(p.name)
        into = p.dst if p.target is None else f"{p.dst} sum({p.target})"  # a named input sum
        rows.append([p.name, p.src, into, call_text(p.rule.kind, p.rule.params),
                     call_text(p.init.kind, p.init.params), str(p.delay),
                     f"{count:,}" if count is not None else "?"]
                    + ([layouts[p.name]] if layouts else []))
    lines += _table(rows) if network.projections else ["  (none)"]
    if network.projections and None not in counts.values():
        lines.append(f"{sum(counts.values()):,} synapses in all")
    if network.rules:
        lines.append("rules:")
        for rule in network.rules:
            lines += rule_listing(rule)
    if network.regimes:
        lines.append("regimes:")
        for regime in network.regimes:
            lines += regime_listing(network, regime, sequence_ticks or {})
    return "\n".join(lines) + "\n"


def regime_listing(network: ir.Network, r: ir.Regime,
                   sequence_ticks: dict[str, int]) -> list[str]:
    """One regime's lines: every setting, defaults included."""
    where = f"  (line {r.loc.line})" if r.loc else ""
    rows = [["data", _data(r)],
            ["input", _group(r.input, network.inputs, "input")],
            ["output", _group(r.output, network.outputs, "output")],
            ["loss", _loss(r)],
            ["optimizer", call_text(r.optimizer.kind, r.optimizer.params) if r.optimizer
             else "none"],
            ["schedule", call_text(r.schedule.kind, r.schedule.params) if r.schedule
             else "constant"],
            ["batch", str(r.batch)], ["epochs", str(r.epochs)], ["ticks", _ticks(r, sequence_ticks)]]
    data = bool(network.inputs)
    rows += [["learn", f"{rule.projection}: {call_text(rule.kind, rule.params)}"
              + _visits(network.plasticity(rule.kind), data) + _fed(network, rule)]
             for rule in r.learn]
    rows += [["rewire", f"{w.projection}: {_rewire(w)}"] for w in r.rewire]
    return [f"  {r.name}{where}"] + ["  " + line for line in _table(rows)]


def _visits(rule: ir.PlasticityRule | None, data: bool) -> str:
    """When a rule runs and which synapses its blocks visit (nndl.runtime.synapse_rules): each
    tick without data, after each batch's run (at its last tick) with data."""
    if rule is None:
        return ""
    visits = {"every": "every tick: all synapses", "on_pre": "on pre: the synapses of sources "
              "that fired", "on_post": "on post: the synapses of targets that fired"}
    found = [visits[e] for e in ir.EVENTS if lazy_traces.run_block(rule, e)]
    found += ["bias: once per target neuron"] if rule.bias else []
    when = "after each batch's run, at its last tick; " if data else ""
    return f"  (rule; {when}" + "; ".join(found) + ")"


def _fed(network: ir.Network, rule: ir.LocalRule) -> str:
    """What feeds each modulator of a written rule (nndl.runtime.modulators)."""
    feeds = [f"{m.name} from Python (fit's modulators)" if m.kind == "external" else
             f"{m.name} = {m.source}'s output (" + ("one for all synapses"
                                                   if network.group(m.source).size == 1 else
                                                   "one per target neuron") + ")"
             for m in rule.modulators]
    return ("; modulators: " + ", ".join(feeds)) if feeds else ""


def rule_listing(rule: ir.PlasticityRule) -> list[str]:
    """A `rule` block's lines: parameters, per-synapse states and each block's statements."""
    where = "  (built in)" if rule.builtin else f"  (line {rule.loc.line})" if rule.loc else ""
    lines = [f"  {rule.name}{where}"]
    if rule.params and rule.builtin:  # their `learn` statements give them (or their defaults)
        lines.append("    params  " + ", ".join(rule.params) + "  (as each `learn` gives them)")
    elif rule.params:
        lines.append("    params  " + ", ".join(f"{k}={v:g}" for k, v in rule.params.items()))
    if rule.states:
        lines.append("    states  " + ", ".join(f"{k}={v:g}" for k, v in rule.states.items())
                     + "  (one per synapse and sample)")
    if rule.modulators:
        lines.append("    modulators  " + ", ".join(rule.modulators))
    for event, title in (("every", "every tick"), ("on_pre", "on pre"), ("on_post", "on post")):
        if rule.block(event):
            lines.append(f"    {title}:")
            lines += [f"      {target} = {expr.render(expr.from_dict(value))}"
                      + (_lazy(rule, target) if event == "every" else "")
                      for target, value in rule.block(event)]
    lines += [f"      bias = {expr.render(expr.from_dict(value))}  (once per target neuron)"
              for _, value in rule.bias]
    return lines


def _lazy(rule: ir.PlasticityRule, state: str) -> str:
    if state not in rule.lazy:
        return ""
    return (f"  (lazy: at events, {state} * ({lazy_traces.factor_text(rule, state)}) ** the "
            "ticks since the synapse's last event)")


def _data(r: ir.Regime) -> str:
    if r.data is None:
        return "none (the arrays given to fit)"
    if r.data.lower().endswith(".npz"):
        return f'"{r.data}" (relative to the source file\'s folder)'
    return call_text(r.data, r.data_args)


def _ticks(r: ir.Regime, sequence_ticks: dict[str, int]) -> str:
    """The ticks a run of the regime takes: a sequence data set's own, whatever `ticks` says."""
    if r.data in sequence_ticks:
        return f"{sequence_ticks[r.data]} (one per step of {r.data}'s sequences)"
    if r.data is not None and r.data.lower().endswith(".npz"):
        return f"{r.ticks} (for static data; a sequence file has one tick per step)"
    return str(r.ticks)


def _group(name: str | None, groups: tuple[ir.Group, ...], role: str) -> str:
    if name is not None:
        return name
    return f"{groups[0].name} (the only {role})" if len(groups) == 1 else "-"


def _loss(r: ir.Regime) -> str:
    if r.loss is None:
        return "none (local rules only)"
    return r.loss + (", averaged over every tick" if r.every_tick else ", at the last tick")


def _rewire(w: ir.Rewire) -> str:
    return f"{w.actions()} every {w.every}"
