"""`neuron` blocks -> NeuronModel IR, with checks.

A model has parameters (constants a group may override), states (values kept from tick to tick)
and statements run in order each tick. It reads `net` (bias plus the weighted input of this tick)
and must assign `out`; reading `out` before that gives the previous tick's output. A name
assigned without a declaration is a temporary that lives for one tick.
"""

from __future__ import annotations

import importlib.resources

from nndl.ir import expr as e
from nndl import ir
from nndl.frontend import syntax as s
from nndl.diagnostics import Diagnostics, Span
from nndl.frontend.expressions import PLACEHOLDER, convert
from nndl.diagnostics import suggest
from nndl.frontend.signatures import constant

INPUT, OUTPUT = "net", "out"
LITERALS = ("true", "false")  # an expression reads these as 1.0 and 0.0, never as a variable
BUILTIN_SOURCE = "<builtin models>"


def builtin_text() -> str:
    """The built-in models' source, shipped with the package so users can read it."""
    return importlib.resources.files("nndl.frontend").joinpath("builtin_models.nndl").read_text("utf-8")


class _Body:
    """What a model's statements may read at each point, walking them in order."""

    def __init__(self, block: s.NeuronBlock):
        self.declared: dict[str, str] = {}  # name -> "param" or "state", as declared so far
        self.later = {st.name.name: st for st in block.statements if isinstance(st, s.VarDecl)}
        self.temporaries: set[str] = set()
        self.sites = 0  # `rand()` and `randn()` calls so far: each its own call site

    def draw(self, node: s.Call, diags: Diagnostics) -> e.Expr:
        site, self.sites = self.sites, self.sites + 1
        return e.Draw(node.func.name, site)

    def name(self, node: s.Var, diags: Diagnostics) -> e.Expr:
        if node.name in (INPUT, OUTPUT) or node.name in self.declared or \
                node.name in self.temporaries:
            return e.Var(node.name)
        if node.name in self.later:
            decl = self.later[node.name]
            diags.error("used-before-declared", f"{decl.kind} `{node.name}` is used before it "
                        "is declared", node.span, notes=[("declared here", decl.name.span)])
        else:
            known = [INPUT, OUTPUT, *self.declared, *self.temporaries]
            diags.error("unknown-variable", f"unknown variable `{node.name}`", node.span,
                        suggest(node.name, known) or
                        f"declare it first: `state {node.name} = 0.0`")
        return PLACEHOLDER

    def field(self, node: s.Attr, index, diags: Diagnostics) -> e.Expr:
        diags.error("bad-expression", f"`{node.obj}.{node.attr}` has no meaning in a neuron "
                    "model", node.span, "pre.* and post.* belong in connection conditions")
        return PLACEHOLDER


def check_model(block: s.NeuronBlock, source: str, diags: Diagnostics) -> ir.NeuronModel | None:
    before = len(diags.errors)
    body = _Body(block)
    params, states, statements = {}, {}, []
    assigns_out = False
    for st in block.statements:
        if isinstance(st, s.VarDecl):
            value = _declare(st, body, diags)
            (params if st.kind == "param" else states)[st.name.name] = value
        else:
            statements.append(_assign(st, body, diags))
            assigns_out = assigns_out or st.target.name == OUTPUT
    if not assigns_out:
        diags.error("no-out", f"neuron model `{block.name.name}` never assigns `out`",
                    block.name.span, "every model ends a tick with `out = ...`")
    if len(diags.errors) > before:
        return None
    return ir.NeuronModel(block.name.name, params, states, tuple(statements), source,
                          ir.Loc(block.name.span.line, block.name.span.column,
                                 block.name.span.end_column))


def _declare(st: s.VarDecl, body: _Body, diags: Diagnostics) -> float:
    name = st.name.name
    if name in (INPUT, OUTPUT):
        diags.error("reserved-name", f"`{name}` is built into every model; it cannot be "
                    f"declared as a {st.kind}", st.name.span)
    elif name in LITERALS:
        diags.error("reserved-name", f"`{name}` is a truth value; it cannot be declared as a "
                    f"{st.kind}", st.name.span, "every expression would read the literal instead")
    elif name == "bias" and st.kind == "state":
        diags.error("reserved-name", "a state cannot be named `bias`: the weight file keeps the "
                    "group's bias as GROUP.bias and each state as GROUP.STATE", st.name.span)
    elif name in body.declared:
        diags.error("duplicate", f"`{name}` is declared twice in this model", st.name.span)
    elif name in body.temporaries:
        diags.error("used-before-declared", f"`{name}` is assigned before it is declared",
                    st.name.span, f"move `{st.kind} {name} = ...` above its first use")
    body.declared[name] = st.kind
    value = constant(st.value)
    if not isinstance(value, float):
        diags.error("bad-value", f"the starting value of {st.kind} `{name}` must be a number",
                    st.value.span)
        return 0.0
    return value


def _assign(st: s.Assign, body: _Body, diags: Diagnostics) -> tuple[str, dict]:
    target = st.target.name
    value = convert(st.value, body, diags)  # reads are checked before the name is bound
    if target == INPUT:
        diags.error("assign-net", "`net` is the neuron's input this tick: it cannot be assigned",
                    st.target.span, "use another name, e.g. `drive = net * 2`")
    elif target in LITERALS:
        diags.error("reserved-name", f"`{target}` is a truth value: it cannot be assigned",
                    st.target.span, "every expression would read the literal instead")
    elif body.declared.get(target) == "param":
        diags.error("assign-param", f"`{target}` is a parameter: it cannot change",
                    st.target.span, f"declare it with `state {target} = ...` to let it change")
    elif target in body.later and target not in body.declared:
        decl = body.later[target]
        diags.error("used-before-declared", f"{decl.kind} `{target}` is assigned before it is "
                    "declared", st.target.span, notes=[("declared here", decl.name.span)])
    elif target not in body.declared and target != OUTPUT:
        body.temporaries.add(target)
    return target, e.to_dict(e.as_num(value))


def model_span(model: ir.NeuronModel) -> Span | None:
    loc = model.loc
    return Span(loc.line, loc.column, loc.line, max(loc.end_column, loc.column + 1)) \
        if loc else None
