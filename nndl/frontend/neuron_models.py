"""`neuron` blocks -> NeuronModel IR, with checks.

A model has parameters (constants a group may override), states (values kept from tick to tick)
and statements run in order each tick. It reads `net` (bias plus the weighted input of this tick)
and must assign `out`; reading `out` before that gives the previous tick's output. A name
assigned without a declaration is a temporary that lives for one tick. `sum(NAME)` reads a
named input sum, fed only by the connections that say `target NAME` (ANNarchy's `sum(exc)`): a
gated unit keeps its gates' inputs apart this way.
"""

from __future__ import annotations

import importlib.resources

from nndl.ir import expr as e
from nndl import ir
from nndl.frontend import syntax as s
from nndl.diagnostics import Diagnostics, Span
from nndl.frontend.expressions import PLACEHOLDER, convert
from nndl.diagnostics import suggest
from nndl.frontend.signatures import Param, bind
from nndl.frontend.starting_values import Start, coord_axes, starting_value

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
        self.sums: dict[str, None] = {}  # the named input sums read, in order of first use

    def input_sum(self, node: s.Call, diags: Diagnostics) -> e.Expr:
        """`sum(NAME)`: the variable `sum.NAME` (no model variable has a dot in its name)."""
        if node.kwargs or len(node.args) != 1 or not isinstance(node.args[0], s.Var):
            diags.error("bad-expression", "`sum` takes the name of an input sum, e.g. `sum(exc)`",
                        node.span, "connections feed it with `connect SRC -> DST : RULE "
                        "target exc`")
            return PLACEHOLDER
        name = node.args[0].name
        self.sums[name] = None
        return e.Var(ir.sum_variable(name))

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
            value = _declare(st, body, params, states, diags)
            (params if st.kind == "param" else states)[st.name.name] = value
        else:
            statements.append(_assign(st, body, diags))
            assigns_out = assigns_out or st.target.name == OUTPUT
    if not assigns_out:
        diags.error("no-out", f"neuron model `{block.name.name}` never assigns `out`",
                    block.name.span, "every model ends a tick with `out = ...`")
    trainable = _check_trainable(block, diags)
    read = set().union(*(e.variables(e.from_dict(value)) for _, value in statements))
    for st in block.statements:
        if isinstance(st, s.VarDecl) and st.trainable and st.name.name not in read:
            diags.warning("unused-trainable", f"trainable parameter `{st.name.name}` is read by "
                          "no statement: its gradient is always 0", st.span,
                          "use it in the model's statements, or drop `trainable`")
    if len(diags.errors) > before:
        return None
    return ir.NeuronModel(block.name.name, params, states, tuple(statements), source,
                          ir.Loc(block.name.span.line, block.name.span.column,
                                 block.name.span.end_column), trainable, tuple(body.sums))


def _declare(st: s.VarDecl, body: _Body, params: dict, states: dict,
             diags: Diagnostics) -> float | dict:
    name = st.name.name
    if name in (INPUT, OUTPUT):
        diags.error("reserved-name", f"`{name}` is built into every model; it cannot be "
                    f"declared as a {st.kind}", st.name.span)
    elif name in LITERALS:
        diags.error("reserved-name", f"`{name}` is a truth value; it cannot be declared as a "
                    f"{st.kind}", st.name.span, "every expression would read the literal instead")
    elif name == "bias":
        diags.error("reserved-name", f"a {st.kind} cannot be named `bias`: the weight file keeps "
                    "the group's bias as GROUP.bias and each state and per-neuron parameter as "
                    "GROUP.NAME", st.name.span)
    elif name in body.declared:
        diags.error("duplicate", f"`{name}` is declared twice in this model", st.name.span)
    elif name in ("index", "coord"):
        diags.error("reserved-name", f"`{name}` is each neuron's own in a starting value; it "
                    f"cannot be declared as a {st.kind}", st.name.span)
    elif name in body.temporaries:
        diags.error("used-before-declared", f"`{name}` is assigned before it is declared",
                    st.name.span, f"move `{st.kind} {name} = ...` above its first use")
    # a parameter reads earlier parameters; a state's starting value, earlier states too
    known = [*params, *states] if st.kind == "state" else list(params)
    later = {v: (decl.kind, decl.name) for v, decl in body.later.items()
             if v not in body.declared and v != name}
    what = f"the value of parameter `{name}`" if st.kind == "param" else \
        f"the starting value of state `{name}`"
    refused = list(states) if st.kind == "param" else []
    value = starting_value(st.value, Start(known, later, what, refused=refused), diags)
    body.declared[name] = st.kind
    return 0.0 if value is None else value


def _check_trainable(block: s.NeuronBlock, diags: Diagnostics) -> tuple[str, ...]:
    """The trainable parameters; a starting value may not read one (gradients flow into a
    parameter through the ticks, never through values computed before them)."""
    trainable = {st.name.name: st for st in block.statements
                 if isinstance(st, s.VarDecl) and st.trainable}
    for st in block.statements:
        if not isinstance(st, s.VarDecl):
            continue
        for node in _names_in(st.value):
            if node.name in trainable and node.name != st.name.name:
                diags.error("bad-trainable", f"{st.kind} `{st.name.name}` starts from "
                            f"trainable parameter `{node.name}`", node.span,
                            "training changes a trainable parameter after the network is "
                            "built; start from a number or another parameter",
                            notes=[("declared trainable here", trainable[node.name].span)])
    return tuple(trainable)


def _names_in(node: s.Expr) -> list[s.Var]:
    """Every variable an AST expression reads, in source order."""
    if isinstance(node, s.Var):
        return [node]
    found = []
    for child in vars(node).values():
        children = child if isinstance(child, tuple) else (child,)
        for c in children:
            if isinstance(c, s.KwArg):
                c = c.value
            if hasattr(c, "span") and not isinstance(c, (s.Ident, s.Number, s.Bool)):
                found += _names_in(c)
    return found


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


def model_arguments(call: s.Call, model: ir.NeuronModel, shape: tuple[int, ...] | None,
                    diags: Diagnostics) -> dict[str, float | dict] | None:
    """A group's parameters of its model: each argument (a number, or an expression over
    index, coord[K], rand(), randn() and the parameters before it), else the default."""
    what = f"neuron model `{model.name}`"
    given = bind(call, tuple(Param(p, "expr", None) for p in model.params), what, diags)
    if given is None:
        return None
    before = len(diags.errors)
    names = list(model.params)
    params = {}
    for i, name in enumerate(names):
        if given[name] is None:
            params[name] = model.params[name]
            continue
        later = {p: ("parameter", None) for p in names[i + 1:]}
        scope = Start(names[:i], later, f"argument `{name}` of {what}",
                      rank=len(shape) if shape else None, refused=list(model.states),
                      argument=True)
        value = starting_value(given[name], scope, diags)
        params[name] = 0.0 if value is None else value
    if shape:
        defaults = [p for p in names if given[p] is None]
        _check_axes(call, model, defaults, len(shape), diags)
    return params if len(diags.errors) == before else None


def _check_axes(call: s.Call, model: ir.NeuronModel, defaults: list[str], rank: int,
                diags: Diagnostics) -> None:
    """A model's own starting values (the defaults a group keeps, and its states') may read
    coord[K] for a K that this group lacks."""
    values = [*((f"parameter `{p}`", model.params[p]) for p in defaults),
              *((f"state `{v}`", value) for v, value in model.states.items())]
    for what, value in values:
        bad = [k for k in coord_axes(value) if not -rank <= k < rank]
        if bad:
            diags.error("bad-expression", f"{what} of neuron model `{model.name}` starts from "
                        f"coord[{bad[0]}], but this group has {rank} "
                        f"ax{'es' if rank != 1 else 'is'}", call.func.span,
                        notes=[("the model", model_span(model))] if model.loc else [])
