"""What a drawing of a network says, the same whoever draws it: the texts of boxes, arrows and
caption, the colours, and which connections lie on a cycle."""

from __future__ import annotations

import math

from nndl import ir
from nndl.ir import graph
from nndl.ir.listing import value_text
from nndl.summary import Summary, count_text, model_text, shape_text

FONT = "Helvetica,Arial,sans-serif"
PNG_DPI = 110
WRAP = 34  # characters per line of an arrow's label

ROLE_STYLE = {  # shape, fill, border, borders
    "input": ("box", "#dbe9f6", "#2b6ca3", 1),
    "hidden": ("box", "#f2f2f2", "#555555", 1),
    "output": ("box", "#dcf0dc", "#2e7d32", 2),
}
CYCLE_COLOUR = "#c62828"
PLAIN_COLOUR = "#444444"



def _wrap(text: str, width: int = WRAP) -> list[str]:
    """Break a long call such as `local(radius=1, metric=chebyshev, shared=true)` after its
    commas."""
    pieces = text.split(", ")
    lines, line = [], pieces[0]
    for piece in pieces[1:]:
        if len(line) + 2 + len(piece) > width:
            lines.append(line + ",")
            line = "  " + piece
        else:
            line += ", " + piece
    return lines + [line]


def node_text(spec: ir.Network, g: ir.Group) -> list[tuple[str, str]]:
    """A group's box as (style, text) lines: its name, shape and size, then its role, neuron
    model (with its parameters) or activation, and its bias and starting output when not
    the usual."""
    text = [("b", g.name),
            ("s", f"{shape_text(g.shape)}  {g.size:,} neuron{'s' * (g.size != 1)}")]
    if g.role == "input":
        text.append(("s", "input"))
    elif g.model:
        text.append(("s", f"neuron model {g.model}"))
        if g.params:
            params = ", ".join(f"{k}={value_text(v)}" for k, v in g.params.items())
            text += [("s", line) for line in _wrap(params, 28)]
    else:
        text.append(("", model_text(spec, g)))
    extras = []
    if g.role != "input" and not g.bias:
        extras.append("no bias")
    elif g.role != "input" and g.bias_init != 0:
        extras.append(f"bias {g.bias_init:g}")
    if g.init != 0:
        extras.append(f"init {g.init:g}")
    if extras:
        text.append(("s", ", ".join(extras)))
    return text


def edge_text(p: ir.Projection, row) -> list[tuple[str, str]]:
    """A connection's label as (style, text) lines: its name (when given with `as`), rule,
    delay, synapse count and shared weights (`row` is its nndl.summary.ProjectionRow)."""
    text = []
    if p.name != f"{p.src}->{p.dst}":
        text.append(("b", p.name))
    text += [("", line) for line in _wrap(row.rule)]
    if p.delay:
        text.append(("", f"delay {p.delay}"))
    if p.target:
        text.append(("", f"into sum({p.target})"))
    plural = "s" * (row.synapses != 1 or not row.exact)
    text.append(("s", f"{count_text(row.synapses, row.exact)} synapse{plural}"))
    if row.weights is not None and row.weights != row.synapses:
        text.append(("s", f"{row.weights:,} shared weights"))
    return text


def pen_width(row) -> float:
    """An arrow's width in points, growing with the log of its synapse count."""
    return 1 + 0.35 * math.log10(max(row.synapses, 1))


def legend_text(s: Summary, cyclic: set[str]) -> list[tuple[str, str]]:
    """The caption: the network, its seed and sizes, and what the colours and dashes mean."""
    title = (f"network {s.network}, seed {s.seed}: {len(s.groups)} groups, "
             f"{s.neurons:,} neurons, {count_text(s.synapses, s.exact)} synapses")
    notes = ["blue: inputs; green, double: outputs"]
    if cyclic:
        notes.append("red arrows lie on a cycle of groups")
    if any(p.delay for p in s.projections):
        notes.append("dashed arrows are delayed")
    lines = [("b", title), ("s", "; ".join(notes))]
    if not s.built:
        lines.append(("s", 'counts "up to" N are bounds: the network is too large to build'))
    return lines


def cycle_edges(spec: ir.Network) -> set[str]:
    """The projections that lie on a cycle of groups: both ends in one strongly connected
    component (a group connected to itself included)."""
    names = [g.name for g in spec.groups]
    component = {}
    for i, members in enumerate(graph.components(names, [(p.src, p.dst)
                                                          for p in spec.projections])):
        for m in members:
            component[m] = i
    return {p.name for p in spec.projections
            if p.src == p.dst or component[p.src] == component[p.dst]}
