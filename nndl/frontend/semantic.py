"""AST -> IR: resolve names, check shapes, arguments and cycles, and report what is wrong.

Each check reports to the collector and carries on, so one run shows every independent mistake.
"""

from __future__ import annotations

import dataclasses
import functools
import math

from nndl import ir
from nndl.ir import expr
from nndl.frontend import syntax as s
from nndl.frontend.conditions import check_condition
from nndl.diagnostics import Diagnostics, Span, suggest
from nndl.frontend.neuron_models import (BUILTIN_SOURCE, builtin_text, check_model,
                                         model_arguments)
from nndl.frontend.input_sums import check_levels, check_targets
from nndl.frontend.ordering import schedule_groups
from nndl.frontend.parser import parse
from nndl.frontend.plasticity_rules import builtin_rules_text, check_rule
from nndl.frontend.regimes import Written, check_regimes
from nndl.frontend.signatures import (
    ACTIVATIONS,
    INITIALISERS,
    LOCAL_RULES,
    RULES,
    Param,
    argument,
    bind,
    constant,
    not_this,
    whole,
)

# Parameters of rules that hold a condition over (pre, post) pairs.
CONDITIONS = ("condition", "where")
# Input names that `Network.run(**inputs)` could not take as keywords.
RUN_KEYWORDS = ("ticks", "every_tick")
# Keywords that Network.run took later: an input of such a name still works, given in a dict.
LATER_RUN_KEYWORDS = ("reset", "record", "batch")


def check_program(program: s.Program, source: str, sha256: str, diags: Diagnostics) -> ir.Program:
    """Check every block of a parsed file; the IR is only meaningful when `diags` has no errors."""
    networks = [b for b in program.blocks if isinstance(b, s.NetworkBlock)]
    _check_unique([b.name for b in networks], "network", diags)
    blocks = [b for b in program.blocks if isinstance(b, s.NeuronBlock)]
    _check_unique([b.name for b in blocks], "neuron model", diags)
    models = dict(builtin_models())  # a model of the same name in the file replaces a built-in
    for block in blocks:
        if block.name.name in ACTIVATIONS:
            diags.error("duplicate", f"`{block.name.name}` is a built-in activation",
                        block.name.span, "give the neuron model another name")
        models[block.name.name] = check_model(block, source, diags)
    written = _check_rules([b for b in program.blocks if isinstance(b, s.RuleBlock)], models,
                           source, diags)
    trains = [b for b in program.blocks if isinstance(b, s.TrainBlock)]
    regimes = check_regimes(trains, networks, diags, written)
    checked = tuple(_check_network(n, models, source, sha256, regimes.get(n.name.name, ()), diags)
                    for n in networks)
    checked = tuple(_with_rules(n, written) for n in checked)
    if not networks and not diags.errors:
        diags.error("no-network", "this file declares no network", None,
                    "start one with `network NAME { ... }`")
    return ir.Program(source, sha256, checked)


def _check_rules(blocks: list[s.RuleBlock], models: dict, source: str,
                 diags: Diagnostics) -> Written:
    """The built-in rules and the file's `rule` blocks, checked (None for one with errors): a
    rule of the same name in the file replaces a built-in, as a neuron model does."""
    _check_unique([b.name for b in blocks], "rule", diags)
    rules, reads = {}, {}
    for block in blocks:
        checked = check_rule(block, source, diags)
        rules.setdefault(block.name.name, checked[0] if checked else None)
        reads.setdefault(block.name.name, checked[1] if checked else {})
    for name, rule, its_reads in builtin_rules():
        rules.setdefault(name, rule)
        reads.setdefault(name, its_reads)
    return Written(rules, reads, models)


def _with_rules(network: ir.Network, written: Written) -> ir.Network:
    """The network with the `rule` blocks its regimes learn by."""
    used = dict.fromkeys(r.kind for regime in network.regimes for r in regime.learn
                         if written.rules.get(r.kind))
    return dataclasses.replace(network, rules=tuple(written.rules[k] for k in used)) \
        if used else network


@functools.lru_cache(maxsize=1)
def builtin_models() -> tuple[tuple[str, ir.NeuronModel], ...]:
    """The models every program may use, parsed from the package's own .nndl file."""
    text = builtin_text()
    diags = Diagnostics(BUILTIN_SOURCE, text)
    tree = parse(text, diags)
    models = [check_model(b, BUILTIN_SOURCE, diags) for b in tree.blocks] if tree else []
    if diags.errors:  # our file, so our bug
        raise RuntimeError("internal error in the built-in models:\n" + diags.render())
    return tuple((m.name, m) for m in models)


@functools.lru_cache(maxsize=1)
def builtin_rules() -> tuple[tuple[str, ir.PlasticityRule, dict], ...]:
    """hebb, oja and perceptron, with where they read `pre.X` / `post.X` / `target`, parsed from
    the package's own .nndl file."""
    text = builtin_rules_text()
    diags = Diagnostics(ir.BUILTIN_RULES, text)
    tree = parse(text, diags)
    checked = [check_rule(b, ir.BUILTIN_RULES, diags) for b in tree.blocks] if tree else []
    arguments = {name: [p.name for p in params] for name, params in LOCAL_RULES.items()}
    if diags.errors or arguments != {rule.name: list(rule.params) for rule, _ in checked}:
        raise RuntimeError("internal error in the built-in rules (their `learn` arguments: "
                           "signatures.LOCAL_RULES):\n" + diags.render())
    return tuple((rule.name, rule, reads) for rule, reads in checked)


def _check_unique(names: list[s.Ident], what: str, diags: Diagnostics) -> None:
    first: dict[str, s.Ident] = {}
    for ident in names:
        if ident.name in first:
            diags.error("duplicate", f"{what} `{ident.name}` is declared twice", ident.span,
                        notes=[("first declared here", first[ident.name].span)])
        else:
            first[ident.name] = ident


# ---- networks ------------------------------------------------------------------------------


def _check_network(block: s.NetworkBlock, models: dict[str, ir.NeuronModel | None],
                   source: str, sha256: str, regimes: tuple[ir.Regime, ...],
                   diags: Diagnostics) -> ir.Network:
    seeds = [st for st in block.statements if isinstance(st, s.SeedStmt)]
    decls = [st for st in block.statements if isinstance(st, s.GroupDecl)]
    connects = [st for st in block.statements if isinstance(st, s.Connect)]
    seed = _check_seed(seeds, diags)
    _check_unique([d.name for d in decls], "group", diags)
    groups: dict[str, ir.Group | None] = {}  # None: declared, but with an error already reported
    for decl in decls:
        group = _check_group(decl, models, diags)
        if decl.name.name not in groups:
            groups[decl.name.name] = group
    if not any(d.role == "output" for d in decls):
        diags.error("no-output", f"network `{block.name.name}` has no output group",
                    block.name.span, "declare one with `output NAME[SIZE] : ACTIVATION`")
    checked = _check_connections(connects, groups, diags)
    checked = check_targets(checked, decls, groups, models, diags)
    projections = [p for p, _ in checked]
    spans = {p.name: conn.span for p, conn in checked}
    _check_file_keys(decls, groups, models, checked, diags)
    order, schedule = schedule_groups([g for g in groups.values() if g], projections, spans, diags)
    check_levels(schedule, projections, spans, diags)
    drawing = {name for name, g in groups.items() if g and g.model and models[g.model].draws}
    _warn_unconnected(decls, connects, drawing, diags)
    used = sorted({g.model for g in order if g.model})
    return ir.Network(block.name.name, seed, tuple(order), tuple(projections), source, sha256,
                      tuple(schedule), tuple(models[name] for name in used), regimes)


def _check_file_keys(decls: list[s.GroupDecl], groups: dict[str, ir.Group | None],
                     models: dict[str, ir.NeuronModel | None], checked, diags: Diagnostics):
    """A connection named like a model group would share weight-file keys with it
    (`NAME.w` of the connection and `GROUP.w` of a state or parameter `w`)."""
    suffixes = {"pre", "post", "w", "tie"}
    for p, conn in checked:
        g = groups.get(p.name)
        if g is None or not g.model or not conn.alias:
            continue
        model = models[g.model]
        clash = sorted(suffixes & ({*model.states} | {*model.per_neuron(g)}))
        if clash:
            decl = next(d for d in decls if d.name.name == g.name)
            diags.error("duplicate", f"connection `{p.name}` and group `{g.name}` would both keep "
                        f"`{p.name}.{clash[0]}` in the weight file", conn.alias[0].span,
                        "give the connection another name",
                        notes=[("the group", decl.name.span)])


def _check_seed(seeds: list[s.SeedStmt], diags: Diagnostics) -> int:
    for extra in seeds[1:]:
        diags.error("duplicate", "the seed is set twice", extra.span,
                    notes=[("first set here", seeds[0].span)])
    if not seeds:
        return 0
    value = constant(seeds[0].value)
    if not whole(value) or not 0 <= value < 2**63:
        diags.error("bad-seed", f"the seed must be a whole number, 0 or more{not_this(value)}",
                    seeds[0].value.span)
        return 0
    return int(value)


def _loc(span: Span) -> ir.Loc:
    return ir.Loc.of(span)


def _check_group(decl: s.GroupDecl, models: dict[str, ir.NeuronModel | None],
                 diags: Diagnostics) -> ir.Group | None:
    name = decl.name
    if name.name.startswith("__"):
        diags.error("reserved-name", f"names starting with `__` are reserved: `{name.name}`",
                    name.span)
    if decl.role == "input" and name.name in RUN_KEYWORDS:
        diags.error("reserved-name", f"an input cannot be named `{name.name}`: "
                    "it is a keyword argument of Network.run", name.span)
    if decl.role == "input" and name.name in LATER_RUN_KEYWORDS:
        diags.warning("reserved-name", f"`{name.name}` is a keyword argument of Network.run: "
                      f"this input can only be given in a dict, run({{'{name.name}': x}})",
                      name.span, "rename the input")
    shape = _check_shape(decl, diags)
    kind, model, params = _check_model(decl, models, shape, diags)
    bias, bias_init = _check_bias(decl, diags)
    init = _check_init_value(decl, diags)
    if shape is None or kind is None:
        return None
    role = {"group": "hidden"}.get(decl.role, decl.role)
    activation = kind if role != "input" and model is None else None
    return ir.Group(name.name, shape, role, activation, params, bias and role != "input",
                    bias_init, _loc(name.span), model, init)


def _check_shape(decl: s.GroupDecl, diags: Diagnostics) -> tuple[int, ...] | None:
    dims = []
    for dim in decl.shape:
        value = constant(dim)
        if not whole(value) or value < 1:
            diags.error("bad-shape", "a group's sizes must be whole numbers, 1 or more"
                        + not_this(value), dim.span, "for example `[8, 8]`")
            return None
        dims.append(int(value))
    return tuple(dims)


def _check_model(decl: s.GroupDecl, models: dict[str, ir.NeuronModel | None],
                 shape: tuple[int, ...] | None, diags: Diagnostics):
    """(activation or "model", model name or None, parameters), or Nones after an error."""
    if decl.model is None:
        return ("identity" if decl.role == "output" else "input"), None, {}
    name = decl.model.func
    if name.name in models:
        model = models[name.name]
        if model is None:  # its block has errors, already reported
            return None, None, None
        params = model_arguments(decl.model, model, shape, diags)
        return ("model", name.name, params) if params is not None else (None, None, None)
    if name.name not in ACTIVATIONS:
        diags.error("unknown-activation", f"unknown activation or neuron model `{name.name}`",
                    name.span, suggest(name.name, [*ACTIVATIONS, *models]) or
                    "built-in activations: " + ", ".join(ACTIVATIONS))
        return None, None, None
    params = bind(decl.model, ACTIVATIONS[name.name], f"activation `{name.name}`", diags)
    return (name.name, None, params) if params is not None else (None, None, None)


def _check_init_value(decl: s.GroupDecl, diags: Diagnostics) -> float:
    for extra in decl.init[1:]:
        diags.error("duplicate", "the starting output is set twice", extra.span)
    if not decl.init:
        return 0.0
    value = constant(decl.init[0])
    if not isinstance(value, float) or not math.isfinite(value):
        diags.error("bad-init", "a starting output (`init`) is a number", decl.init[0].span)
        return 0.0
    return value


def _check_bias(decl: s.GroupDecl, diags: Diagnostics) -> tuple[bool, float]:
    for extra in decl.bias[1:]:
        diags.error("duplicate", "the bias is set twice", extra.span)
    if not decl.bias:
        return True, 0.0
    expr = decl.bias[0]
    if (isinstance(expr, s.Var) and expr.name == "none"
            or isinstance(expr, s.Bool) and not expr.value):
        return False, 0.0
    value = constant(expr)
    if not isinstance(value, float) or not math.isfinite(value):
        diags.error("bad-bias", "a bias is a number, or `none` for no bias", expr.span)
        return True, 0.0
    return True, value


# ---- connections ---------------------------------------------------------------------------


def _check_connections(connects: list[s.Connect], groups: dict[str, ir.Group],
                       diags: Diagnostics) -> list[tuple[ir.Projection, s.Connect]]:
    """The projections that passed their checks, each with the statement that declared it."""
    projections = []
    named: dict[str, s.Connect] = {}
    for conn in connects:
        name = conn.alias[0].name if conn.alias else f"{conn.src.name}->{conn.dst.name}"
        if name in named:
            _report_same_name(conn, name, named[name], diags)
            continue
        named[name] = conn
        projection = _check_connection(conn, name, groups, diags)
        if projection is not None:
            projections.append((projection, conn))
    return projections


def _report_same_name(conn: s.Connect, name: str, other: s.Connect, diags: Diagnostics) -> None:
    notes = [("the other one", other.span)]
    if conn.alias:
        diags.error("duplicate", f"connection name `{name}` is used twice", conn.alias[0].span,
                    notes=notes)
    else:  # an alias cannot contain `->`, so both connections are unnamed
        diags.error("duplicate", f"two unnamed connections from `{conn.src.name}` to "
                    f"`{conn.dst.name}`", conn.span, "name one of them with `as NAME`",
                    notes=notes)


def _check_connection(conn: s.Connect, name: str, groups: dict[str, ir.Group],
                      diags: Diagnostics) -> ir.Projection | None:
    src = _resolve_group(conn.src, groups, diags)
    dst = _resolve_group(conn.dst, groups, diags)
    if dst is not None and dst.role == "input":
        diags.error("into-input", f"`{dst.name}` is an input: it cannot receive connections",
                    conn.dst.span)
        dst = None
    for extra in conn.weight[1:]:
        diags.error("duplicate", "the weight initialiser is given twice", extra.span)
    for extra in conn.delay[1:]:
        diags.error("duplicate", "the delay is given twice", extra.span)
    for extra in conn.alias[1:]:
        diags.error("duplicate", "the connection is named twice", extra.span)
    for extra in conn.target[1:]:
        diags.error("duplicate", "the connection's target is given twice", extra.span)
    rule = _check_rule(conn.rule, src, dst, diags)
    init = _check_init(conn.weight[0], diags) if conn.weight else ir.Init("default")
    delay = _check_delay(conn.delay[0], diags) if conn.delay else 0
    if None in (src, dst, rule, init, delay):
        return None
    if rule.kind == "one_to_one" and src.size != dst.size:
        diags.error("size-mismatch", f"`one_to_one` needs groups of the same size: `{src.name}` "
                    f"has {src.size} neurons, `{dst.name}` has {dst.size}", conn.rule.span)
        return None
    return ir.Projection(name, src.name, dst.name, rule, init, delay, _loc(conn.span),
                         conn.target[0].name if conn.target else None)


def _resolve_group(ident: s.Ident, groups: dict[str, ir.Group | None], diags: Diagnostics):
    if ident.name in groups:
        return groups[ident.name]
    diags.error("unknown-group", f"unknown group `{ident.name}`", ident.span,
                suggest(ident.name, groups))
    return None


def _check_rule(call: s.Call, src: ir.Group | None, dst: ir.Group | None,
                diags: Diagnostics) -> ir.Rule | None:
    name = call.func
    if name.name not in RULES:
        diags.error("unknown-rule", f"unknown connection rule `{name.name}`", name.span,
                    suggest(name.name, RULES) or "rules: " + ", ".join(RULES))
        return None
    params = bind(call, RULES[name.name], f"rule `{name.name}`", diags)
    if params is None:
        return None
    if params.get("axes") is not None and not _check_grid_axes(call, params["axes"], src, dst,
                                                                diags):
        return None
    for key in CONDITIONS:
        if params.get(key) is None:
            continue
        if src is None or dst is None:  # the unknown group has its error; the condition waits
            return None
        condition = check_condition(params[key], src, dst, diags)
        if condition is None:
            return None
        params[key] = expr.to_dict(condition)
    return ir.Rule(name.name, params)


def _check_grid_axes(call: s.Call, axes: int, src: ir.Group | None, dst: ir.Group | None,
                     diags: Diagnostics) -> bool:
    """Whether both groups have the `axes` trailing axes that `local(axes=K)` takes as its
    grid (an unknown group has its own error already)."""
    short = [g for g in (src, dst) if g is not None and len(g.shape) < axes]
    if not short:
        return True
    group = min(short, key=lambda g: len(g.shape))
    have = len(group.shape)
    diags.error("bad-argument", f"`axes` of rule `local` is {axes}, but `{group.name}` has "
                f"{have} ax{'i' if have == 1 else 'e'}s (shape {list(group.shape)})",
                argument(call, RULES["local"], "axes").span,
                f"the grid is the last `axes` axes of both groups: at most {have} here")
    return False


def _check_init(call: s.Call, diags: Diagnostics) -> ir.Init | None:
    name = call.func
    if name.name not in INITIALISERS:
        diags.error("unknown-initialiser", f"unknown weight initialiser `{name.name}`", name.span,
                    suggest(name.name, INITIALISERS) or "initialisers: " + ", ".join(INITIALISERS))
        return None
    params = bind(call, INITIALISERS[name.name], f"initialiser `{name.name}`", diags)
    if params is None:
        return None
    if name.name == "uniform" and not params["low"] < params["high"]:
        diags.error("bad-argument", f"`uniform` needs low < high, but low is {params['low']:g} "
                    f"and high is {params['high']:g}", call.span)
        return None
    return ir.Init(name.name, params)


def _check_delay(expr: s.Expr, diags: Diagnostics) -> int | None:
    value = constant(expr)
    if not whole(value) or value < 0:
        diags.error("bad-delay", f"a delay is a whole number of ticks, 0 or more{not_this(value)}",
                    expr.span)
        return None
    return int(value)


def _warn_unconnected(decls: list[s.GroupDecl], connects: list[s.Connect], drawing: set[str],
                      diags: Diagnostics) -> None:
    """Warn of inputs that feed nothing and of groups that nothing feeds (but those whose model
    draws random numbers, as a `poisson` source does: their output changes anyway)."""
    declared = {d.name.name for d in decls}
    if any(c.src.name not in declared or c.dst.name not in declared for c in connects):
        return  # a misspelt group name has its error; the group it meant is not unconnected
    sources = {c.src.name for c in connects}
    targets = {c.dst.name for c in connects}
    for decl in decls:
        name = decl.name.name
        if decl.role == "input" and name not in sources:
            diags.warning("unused", f"input `{name}` is not connected to anything", decl.name.span)
        elif decl.role != "input" and name not in targets and name not in drawing:
            diags.warning("unconnected", f"group `{name}` receives no connections: its output "
                          "is constant", decl.name.span)
