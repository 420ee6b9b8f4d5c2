"""The order of a tick: groups in evaluation order, neuron-level steps, and delay-0 cycles.

Groups joined by delay-0 projections in a loop form one neuron-level step (see nndl.ir.Step);
loops that are certain to be cycles between neurons are reported here, with every connection on
them; any other neuron-level cycle shows once synapses exist (nndl.runtime.schedule).
"""

from __future__ import annotations

import itertools

from nndl import ir
from nndl.diagnostics import Diagnostics, Span
from nndl.ir.graph import components, topological_order


def schedule_groups(groups: list[ir.Group], projections: list[ir.Projection],
                    spans: dict[str, Span],
                    diags: Diagnostics) -> tuple[list[ir.Group], list[ir.Step]]:
    """Groups in evaluation order (inputs first) and the steps of a tick.

    Groups joined by delay-0 projections in a loop (a self-connection, or groups that feed each
    other) form one neuron-level step: their synapses must form a DAG among the neurons, which
    the runtime checks once they exist. Loops that are certain to be cycles are errors here.
    """
    by_name = {g.name: g for g in groups}
    instant = []
    for p in projections:
        if p.delay > 0:
            continue
        if p.src == p.dst and by_name[p.dst].activation == "softmax":
            diags.error("softmax-self", f"softmax group `{p.dst}` cannot take a delay-0 "
                        "connection from itself", spans[p.name], "give this connection `delay 1`")
        else:
            instant.append(p)
    names = [g.name for g in groups if g.role == "input"] + [
        g.name for g in groups if g.role != "input"]
    _report_cycles(names, [p for p in instant if _always_cyclic(p)], spans, diags)
    order, steps = [], []
    self_fed = {p.dst for p in instant if p.src == p.dst}
    for component in components(names, [(p.src, p.dst) for p in instant]):
        order += [by_name[n] for n in component]
        looped = len(component) > 1 or component[0] in self_fed
        if by_name[component[0]].role != "input" or looped:
            steps.append(ir.Step(tuple(component), looped))
        if looped:
            _check_neuron_level(component, by_name, instant, spans, diags)
    return order, steps


def _always_cyclic(p: ir.Projection) -> bool:
    """Whether a delay-0 projection closes a neuron-level cycle whenever its groups are in one.

    `full` links everything; inside one group, `one_to_one` and `local` link each neuron to
    itself, and `random`/`fan_in` without `where=` may.
    """
    if p.rule.kind == "full":
        return True
    if p.src != p.dst:
        return False
    return p.rule.kind in ("one_to_one", "local") or (
        p.rule.kind in ("random", "fan_in") and p.rule.params.get("where") is None)


def _check_neuron_level(component: list[str], by_name: dict[str, ir.Group],
                        instant: list[ir.Projection], spans: dict[str, Span],
                        diags: Diagnostics) -> None:
    for name in component:
        if by_name[name].activation == "softmax":
            inner = next(p for p in instant if p.dst == name and p.src in component)
            diags.error("softmax-level", f"softmax group `{name}` would be computed neuron by "
                        "neuron here, but softmax needs its whole group at once",
                        spans[inner.name], "give this connection `delay 1`")


def _report_cycles(names: list[str], instant: list[ir.Projection], spans: dict[str, Span],
                   diags: Diagnostics) -> None:
    """Every delay-0 cycle: once one is reported, its first link is set aside to look for more."""
    links = list(instant)
    while True:
        _, cycle = topological_order(names, [(p.src, p.dst) for p in links])
        if cycle is None:
            return
        found = _cycle_links(cycle, links, spans)
        _report_cycle(found, spans, diags)
        links = [p for p in links if (p.src, p.dst) != (found[0].src, found[0].dst)]


def _cycle_links(cycle: list[str], links: list[ir.Projection],
                 spans: dict[str, Span]) -> list[ir.Projection]:
    """The connections along `cycle`, starting from the one written first in the file."""
    found = [next(p for p in links if (p.src, p.dst) == pair) for pair in itertools.pairwise(cycle)]
    first = min(range(len(found)), key=lambda i: _position(spans[found[i].name]))
    return found[first:] + found[:first]


def _position(span: Span) -> tuple[int, int]:
    return span.line, span.column


def _report_cycle(links: list[ir.Projection], spans: dict[str, Span], diags: Diagnostics) -> None:
    path = " -> ".join([p.src for p in links] + [links[0].src])
    notes = [(f"`{p.name}` also has delay 0", spans[p.name]) for p in links[1:]]
    one = len(links) == 1
    what = "this connection forms" if one else "these connections form"
    hint = "give " + ("it" if one else "one of them") + " `delay 1` so the loop runs over ticks"
    if one and links[0].rule.kind in ("random", "fan_in"):
        hint += ", or let it link forward only: `where=pre.index < post.index`"
    diags.error("cycle", f"{what} a cycle with no delay: {path}", spans[links[0].name], hint,
                notes=notes)


