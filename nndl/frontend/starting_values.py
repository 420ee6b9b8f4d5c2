"""Values computed once per neuron when a network is built: parameters and starting states.

A model's parameter defaults and state starting values, and a group's model arguments, may be
expressions over `index` (the neuron's flat index), `coord[K]` (its coordinate on axis K),
`rand()`, `randn()` and the parameters declared before them (a state's starting value may read
earlier states too). A plain number (arithmetic of literals included) stays one number for the
whole group; any other expression becomes one value per neuron, evaluated by the runtime
(nndl.runtime.starting) and saved in the weight file as `GROUP.NAME`.

In the expression IR the neuron's index is `index` and its coordinates `coord.K` (K as written,
possibly negative: the runtime reads it modulo the group's number of axes).
"""

from __future__ import annotations

from nndl.ir import expr as e
from nndl.frontend import syntax as s
from nndl.diagnostics import Diagnostics, suggest
from nndl.frontend.expressions import PLACEHOLDER, convert
from nndl.frontend.signatures import constant

NEURON_FIELDS = ("index", "coord")  # what a starting value knows of its neuron
RUNNING = ("net", "out")  # what exists only while the network runs


class Start:
    """The scope of a starting value: the neuron's index and coordinates, random draws, and
    the names in `known` (earlier parameters, and for a state earlier states)."""

    def __init__(self, known: list[str], later: dict[str, tuple[str, s.Ident]], what: str,
                 rank: int | None = None, refused: list[str] = (), argument: bool = False):
        self.known = known
        self.readable = ("an argument may read index, coord[K], rand(), randn() and the model's "
                         "parameters before it") if argument else \
            "a starting value may read index, coord[K], rand(), randn() and the parameters " \
            "declared above it"
        self.refused = refused  # states, which a parameter's value cannot read
        self.later = later  # name -> (kind, where declared or None): declared after this value
        self.what = what  # "the starting value of state `u`", for messages
        self.rank = rank  # the group's number of axes, where one group is meant
        self.sites = 0

    def name(self, node: s.Var, diags: Diagnostics) -> e.Expr:
        if node.name in self.known:
            return e.Var(node.name)
        if node.name == "index":
            return e.Var("index")
        if node.name in self.later:
            kind, decl = self.later[node.name]
            kind = {"param": "parameter"}.get(kind, kind)
            diags.error("used-before-declared", f"{self.what} reads {kind} `{node.name}`, "
                        "which is declared after it", node.span, self.readable,
                        notes=[("declared here", decl.span)] if decl else [])
        elif node.name in self.refused:
            diags.error("bad-start", f"{self.what} reads state `{node.name}`", node.span,
                        "a parameter is computed from parameters alone; a state's starting "
                        "value may read both")
        elif node.name in RUNNING:
            diags.error("bad-start", f"`{node.name}` exists only while the network runs; "
                        f"{self.what} is computed before the first tick", node.span,
                        self.readable)
        else:
            diags.error("unknown-variable", f"unknown variable `{node.name}` in {self.what}",
                        node.span, suggest(node.name, [*self.known, *NEURON_FIELDS]) or
                        self.readable)
        return PLACEHOLDER

    def subscript(self, node: s.Subscript, diags: Diagnostics) -> e.Expr:
        """`coord[K]`: the neuron's coordinate on axis K (a whole number)."""
        if not (isinstance(node.base, s.Var) and node.base.name == "coord"):
            diags.error("bad-expression", "only `coord[K]` can be indexed in a starting value",
                        node.span)
            return PLACEHOLDER
        axis = constant(node.index)
        rank = self.rank
        fits = rank is None or -rank <= (axis or 0) < rank
        if not isinstance(axis, float) or axis != int(axis) or not fits:
            where = f"from {-rank} to {rank - 1}" if rank else "(0 for the first axis)"
            diags.error("bad-expression", f"`coord[...]` needs a whole-number axis {where}",
                        node.index.span)
            return PLACEHOLDER
        return e.Var(f"coord.{int(axis)}")

    def field(self, node: s.Attr, index, diags: Diagnostics) -> e.Expr:
        diags.error("bad-expression", f"`{node.obj}.{node.attr}` has no meaning in {self.what}",
                    node.span, "a neuron's own index is `index`, its coordinates `coord[K]`")
        return PLACEHOLDER

    def draw(self, node: s.Call, diags: Diagnostics) -> e.Expr:
        site, self.sites = self.sites, self.sites + 1  # renumbered per group by the runtime
        return e.Draw(node.func.name, site)


def starting_value(node: s.Expr, scope: Start, diags: Diagnostics) -> float | dict | None:
    """A plain number, or the expression (typed, in nndl.ir.expr's dict form); None after an
    error."""
    value = constant(node)
    if isinstance(value, float):
        return value
    if isinstance(value, bool):
        diags.error("bad-value", f"{scope.what} must be a number, not a truth value", node.span)
        return None
    before = len(diags.errors)
    converted = convert(node, scope, diags)
    if len(diags.errors) > before:
        return None
    return e.to_dict(e.as_num(converted))


def coord_axes(value: float | dict) -> list[int]:
    """The axes K of every `coord[K]` a starting value reads."""
    if not isinstance(value, dict):
        return []
    return sorted(int(v.split(".")[1]) for v in e.variables(e.from_dict(value))
                  if v.startswith("coord."))
