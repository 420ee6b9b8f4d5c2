"""Named input sums: `connect SRC -> DST : RULE target NAME` feeds the destination model's
`sum(NAME)` instead of its `net` (ANNarchy's targets). Checked here once the connections and
groups are: the destination must be a model group whose statements read that sum."""

from __future__ import annotations

from nndl import ir
from nndl.diagnostics import Diagnostics, suggest
from nndl.frontend import syntax as s


def check_targets(checked: list[tuple[ir.Projection, s.Connect]], decls: list[s.GroupDecl],
                  groups: dict[str, ir.Group | None], models: dict[str, ir.NeuronModel | None],
                  diags: Diagnostics) -> list[tuple[ir.Projection, s.Connect]]:
    """The connections whose `target` (if any) names a sum their destination's model reads;
    a warning for each sum of a model group that no connection feeds (it stays 0)."""
    kept, fed, refused = [], set(), set()  # refused: groups a wrong target was meant for
    for p, conn in checked:
        if p.target is None:
            kept.append((p, conn))
            continue
        where = conn.target[0].span
        dst = groups[p.dst]
        model = models.get(dst.model) if dst.model else None
        if model is None:
            if dst.model is None:  # (a model with errors was reported already)
                diags.error("bad-target", f"`target {p.target}` names an input sum of a neuron "
                            f"model, but `{dst.name}` computes `{dst.activation}`", where,
                            f"give `{dst.name}` a neuron model that reads `sum({p.target})`, or "
                            f"drop `target {p.target}` to feed its `net`")
            continue
        if p.target not in model.sums:
            refused.add(dst.name)  # (its sums' warnings would follow from this mistake)
            reads = ", ".join(f"`sum({n})`" for n in model.sums)
            diags.error("bad-target", f"neuron model `{model.name}` of `{dst.name}` reads no "
                        f"`sum({p.target})`", where,
                        suggest(p.target, model.sums) or
                        (f"it reads {reads}" if reads else
                         f"its statements read `net`: drop `target {p.target}`"))
            continue
        fed.add((p.dst, p.target))
        kept.append((p, conn))
    for decl in decls:
        g = groups.get(decl.name.name)
        model = models.get(g.model) if g is not None and g.model else None
        for name in model.sums if model else ():
            if (g.name, name) not in fed and g.name not in refused:
                diags.warning("unfed-sum", f"no connection feeds `sum({name})` of `{g.name}` "
                              f"(neuron model `{model.name}`): it is always 0", decl.name.span,
                              f"connect a group to it with `connect SRC -> {g.name} : RULE "
                              f"target {name}`")
    return kept


def check_levels(schedule: list[ir.Step], projections: list[ir.Projection],
                 spans: dict, diags: Diagnostics) -> None:
    """Groups computed neuron by neuron (delay-0 links among them) take their input through `net`
    only: their levels sum one input per neuron."""
    leveled = {name for step in schedule if step.neuron_level for name in step.groups}
    for p in projections:
        if p.target is not None and p.dst in leveled:
            diags.error("unsupported", f"`{p.dst}` is computed neuron by neuron (a delay-0 "
                        f"connection runs among its own neurons, or through groups back to "
                        f"it), and such a group takes its input through `net` only: "
                        f"`target {p.target}` is not supported there yet",
                        spans[p.name], "give one of the cycle's connections a delay (`delay 1`)")
