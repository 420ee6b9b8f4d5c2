"""Connection conditions (`where(...)`, `where=`): AST -> expression IR, with checks.

A condition may read `pre.index`, `post.index`, `pre.coord[K]` and `post.coord[K]` (K a whole
number below the group's number of axes; negative K counts from the end), and must be a
comparison or a logical combination of them.
"""

from __future__ import annotations

from nndl.ir import expr as e
from nndl import ir
from nndl.frontend import syntax as s
from nndl.diagnostics import Diagnostics
from nndl.frontend.expressions import PLACEHOLDER, convert
from nndl.diagnostics import suggest
from nndl.frontend.signatures import constant

FIELDS = ("index", "coord")


def check_condition(node: s.Expr, src: ir.Group, dst: ir.Group,
                    diags: Diagnostics) -> e.Expr | None:
    """The condition as expression IR, or None after reporting what is wrong with it."""
    before = len(diags.errors)
    converted = convert(node, _Pairs(src, dst), diags)
    if len(diags.errors) > before:
        return None
    if not _is_boolean(converted):
        diags.error("bad-condition", "a connection condition must be true or false, "
                    "e.g. a comparison", node.span, "for example `pre.index < post.index`")
        return None
    return converted


def _is_boolean(node: e.Expr) -> bool:
    if isinstance(node, e.Bool):
        return True
    if isinstance(node, e.Binary):
        return node.op in e.COMPARISONS or node.op in e.LOGICAL
    if isinstance(node, e.Unary):
        return node.op == "not"
    if isinstance(node, e.IfElse):
        return _is_boolean(node.then) and _is_boolean(node.other)
    return False


class _Pairs:
    """The scope of a condition: `pre` and `post`, nothing else."""

    def __init__(self, src: ir.Group, dst: ir.Group):
        self.sides = {"pre": src, "post": dst}

    def name(self, node: s.Var, diags: Diagnostics) -> e.Expr:
        hint = suggest(node.name, ["pre", "post"]) or \
            "use pre.index, post.index, pre.coord[K] or post.coord[K]"
        diags.error("bad-condition", f"`{node.name}` is not known in a connection condition",
                    node.span, hint)
        return PLACEHOLDER

    def field(self, attr: s.Attr, index: s.Expr | None, diags: Diagnostics) -> e.Expr:
        return _field(attr, index, self.sides, diags)

    def draw(self, node: s.Call, diags: Diagnostics) -> e.Expr:
        # A condition is a fixed rule over indices and coordinates (rules that ignore the seed
        # are checked against weight files as such); the seeded rules draw random wiring, one
        # stream per projection.
        diags.error("bad-condition", f"`{node.func.name}()` belongs in neuron models: a "
                    "connection condition is a fixed rule over indices and coordinates",
                    node.span, "for random wiring use `random(p=..., where=...)` or "
                    "`fan_in(k=..., where=...)`")
        return PLACEHOLDER


def _field(attr: s.Attr, index: s.Expr | None, sides, diags: Diagnostics) -> e.Expr:
    if attr.obj not in sides:
        diags.error("bad-condition", f"`{attr.obj}` is not known in a connection condition",
                    attr.span, suggest(attr.obj, sides) or "use `pre` or `post`")
        return PLACEHOLDER
    if attr.attr not in FIELDS:
        diags.error("bad-condition", f"`{attr.obj}` has no field `{attr.attr}`", attr.span,
                    suggest(attr.attr, FIELDS) or "fields: index, coord[K]")
        return PLACEHOLDER
    if attr.attr == "index":
        if index is not None:
            diags.error("bad-condition", f"`{attr.obj}.index` is a number; it cannot be "
                        "indexed", index.span)
        return e.Var(f"{attr.obj}.index")
    group = sides[attr.obj]
    if index is None:
        diags.error("bad-condition", f"`{attr.obj}.coord` needs an axis, e.g. "
                    f"`{attr.obj}.coord[0]`", attr.span)
        return PLACEHOLDER
    axis = constant(index)
    rank = len(group.shape)
    if not isinstance(axis, float) or axis != int(axis) or not -rank <= axis < rank:
        diags.error("bad-condition", f"`{attr.obj}.coord[...]` needs a whole-number axis from "
                    f"{-rank} to {rank - 1}: `{group.name}` has shape {list(group.shape)}",
                    index.span)
        return PLACEHOLDER
    return e.Var(f"{attr.obj}.coord.{int(axis) % rank}")
