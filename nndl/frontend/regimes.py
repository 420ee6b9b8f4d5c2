"""Train blocks -> ir.Regime: every setting, local rule and rewiring, checked against its network.

A train block is checked against its network's declarations as written, so a mistake inside the
network is reported once there and does not echo here. `learn` and `rewire` statements are
checked and kept in the IR.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

from nndl import ir
from nndl.frontend import syntax as s
from nndl.diagnostics import Diagnostics, suggest
from nndl.frontend.signatures import (
    DATASETS,
    LOCAL_RULES,
    LOSSES,
    OPTIMIZERS,
    REWIRE_ACTIONS,
    SCHEDULES,
    Param,
    argument,
    bind,
    constant,
    not_this,
    whole,
)

COUNTS = {"batch": 32, "epochs": 10, "ticks": 1}  # the whole-number settings and their defaults
EXTERNAL = "external"  # `reward=external`: a modulator fed from Python (fit(modulators=...))


@dataclass(frozen=True)
class NetworkView:
    """What a train block may name in its network, from the declarations as written."""

    name: str
    groups: dict[str, str]  # name -> "input", "group" or "output", in source order
    connections: tuple[tuple[str, str, str], ...]  # (name, src, dst), in source order
    shared: frozenset[str] = frozenset()  # connections whose rule says `shared=true`
    models: dict = None  # group -> its model's or activation's name as written (None: input)
    sizes: dict = None  # group -> its number of neurons (None: its shape has an error)

    @classmethod
    def of(cls, block: s.NetworkBlock) -> NetworkView:
        groups: dict[str, str] = {}
        models: dict[str, str | None] = {}
        sizes: dict[str, int | None] = {}
        connections, shared = [], set()
        for st in block.statements:
            if isinstance(st, s.GroupDecl):
                groups.setdefault(st.name.name, st.role)
                models.setdefault(st.name.name, st.model.func.name if st.model else None)
                sizes.setdefault(st.name.name, _size(st.shape))
            elif isinstance(st, s.Connect):
                name = st.alias[0].name if st.alias else f"{st.src.name}->{st.dst.name}"
                connections.append((name, st.src.name, st.dst.name))
                if any(kw.name.name == "shared" and _is_true(kw.value) for kw in st.rule.kwargs):
                    shared.add(name)
        return cls(block.name.name, groups, tuple(connections), frozenset(shared), models,
                   sizes)

    def role(self, role: str) -> list[str]:
        return [name for name, r in self.groups.items() if r == role]

    # Looked up once per `learn` and `rewire` statement: indexes, not scans of every connection
    # (15 000 learn statements took minutes).
    @functools.cached_property
    def ends(self) -> dict[str, tuple[str, str]]:
        """Each connection's (src, dst), by name; the first of two with one name."""
        found: dict[str, tuple[str, str]] = {}
        for name, src, dst in self.connections:
            found.setdefault(name, (src, dst))
        return found

    @functools.cached_property
    def between(self) -> dict[tuple[str, str], list[str]]:
        """The names of the connections from one group to another, in source order."""
        found: dict[tuple[str, str], list[str]] = {}
        for name, src, dst in self.connections:
            found.setdefault((src, dst), []).append(name)
        return found

    @functools.cached_property
    def leaving(self) -> dict[str, list[str]]:
        """The names of the connections out of each group, in source order."""
        found: dict[str, list[str]] = {}
        for name, src, _ in self.connections:
            found.setdefault(src, []).append(name)
        return found


def _is_true(value: s.Expr) -> bool:
    return constant(value) is True


def _size(shape: tuple[s.Expr, ...]) -> int | None:
    """A group's number of neurons; None where a size is not a whole number (reported)."""
    dims = [constant(dim) for dim in shape]
    return math.prod(int(d) for d in dims) if all(whole(d) and d >= 1 for d in dims) else None


@dataclass(frozen=True)
class Written:
    """The learning rules, built-in and the file's `rule` blocks (None: one with errors, reported
    already), with where each reads `pre.X` / `post.X` / `target`, and the neuron models, to
    check `learn` statements against."""

    rules: dict
    reads: dict
    models: dict

    def table(self) -> dict:
        """Every learning rule a `learn` may name, with its parameters: the built-in rules'
        as LOCAL_RULES checks them, a rule of the file's with its defaults."""
        own = {name: tuple(Param(p, "number", value) for p, value in rule.params.items())
               for name, rule in self.rules.items() if rule and not rule.builtin}
        return {**LOCAL_RULES, **own}

    def from_targets(self, name: str) -> bool:
        """Whether the rule of that name reads `target` (as the perceptron does)."""
        return bool(self.rules.get(name)) and self.rules[name].target


NO_RULES = Written({}, {}, {})


def check_regimes(blocks: list[s.TrainBlock], networks: list[s.NetworkBlock],
                  diags: Diagnostics,
                  written: Written = NO_RULES) -> dict[str, tuple[ir.Regime, ...]]:
    """Each network's regimes, in source order; every mistake goes to `diags`."""
    views: dict[str, NetworkView] = {}
    for block in networks:
        views.setdefault(block.name.name, NetworkView.of(block))
    regimes: dict[str, list[ir.Regime]] = {}
    first: dict[tuple[str, str], s.Ident] = {}
    for block in blocks:
        view = _network_of(block, views, diags)
        regime = _check_regime(block, view, written, diags)
        if view is None:
            continue
        key = (view.name, block.name.name)
        if key in first:
            diags.error("duplicate", f"network `{view.name}` has two regimes named "
                        f"`{block.name.name}`", block.name.span,
                        notes=[("the first one", first[key].span)])
            continue
        first[key] = block.name
        regimes.setdefault(view.name, []).append(regime)
    return {name: tuple(found) for name, found in regimes.items()}


def _network_of(block: s.TrainBlock, views: dict[str, NetworkView],
                diags: Diagnostics) -> NetworkView | None:
    if block.network is not None:
        if block.network.name not in views:
            diags.error("unknown-network", f"unknown network `{block.network.name}`",
                        block.network.span, suggest(block.network.name, views))
        return views.get(block.network.name)
    if len(views) > 1:
        diags.error("ambiguous-network", f"train block `{block.name.name}` must say which network"
                    " it trains", block.name.span, f"write `train {block.name.name} for NETWORK`")
    return next(iter(views.values())) if len(views) == 1 else None


def _check_regime(block: s.TrainBlock, view: NetworkView | None, written: Written,
                  diags: Diagnostics) -> ir.Regime:
    """The regime; where a setting has an error, its default stands in (the IR is dropped)."""
    settings = _settings(block, diags)
    data, data_args = _check_data(settings.get("data"), diags)
    loss, every_tick = _check_loss(settings.get("loss"), diags)
    optimizer = _check_optimizer(settings.get("optimizer"), "loss" in settings, diags)
    schedule = _check_schedule(settings.get("schedule"), optimizer, "loss" in settings, diags)
    counts = {key: _check_count(settings[key].value if key in settings else None, key, default,
                                diags) for key, default in COUNTS.items()}
    groups = {role: _check_group(settings.get(role), role, view, diags)
              for role in ("input", "output")}
    _check_needs(block, settings, view, written, diags)
    learn = _check_each([st for st in block.statements if isinstance(st, s.Learn)],
                        functools.partial(_check_learn, written=written), view, diags)
    rewire = _check_each([st for st in block.statements if isinstance(st, s.Rewire)],
                         _check_rewire, view, diags)
    return ir.Regime(block.name.name, data, data_args, loss, every_tick, optimizer,
                     counts["batch"], counts["epochs"], counts["ticks"], groups["input"],
                     groups["output"], learn, rewire, ir.Loc.of(block.name.span), schedule)


def _settings(block: s.TrainBlock, diags: Diagnostics) -> dict[str, s.Setting]:
    """Each setting's statement; a setting given twice is an error."""
    first: dict[str, s.Setting] = {}
    for st in block.statements:
        if not isinstance(st, s.Setting):
            continue
        if st.key in first:
            diags.error("duplicate", f"`{st.key}` is set twice", st.span,
                        notes=[("first set here", first[st.key].span)])
        else:
            first[st.key] = st
    return first


def _lookup(call: s.Call, table: dict, what: str, diags: Diagnostics) -> dict | None:
    """A call's checked arguments against its entry in `table`, or None after an error."""
    name = call.func
    if name.name not in table:
        plural = what + ("es" if what.endswith("s") else "s")
        listed = f"{plural}: " + ", ".join(table)
        diags.error(f"unknown-{what.replace(' ', '-')}", f"unknown {what} `{name.name}`",
                    name.span, suggest(name.name, table) or listed)
        return None
    return bind(call, table[name.name], f"{what} `{name.name}`", diags)


# ---- settings ------------------------------------------------------------------------------


def _check_data(setting: s.Setting | None, diags: Diagnostics) -> tuple[str | None, dict]:
    if setting is None:
        return None, {}
    if isinstance(setting.value, str):  # a path
        path = setting.value
        if not path.lower().endswith(".npz"):
            hint = (f"a built-in data set is written without quotes: `data {path}`"
                    if path in DATASETS else "save the arrays with numpy.savez")
            diags.error("bad-data", "a data file must be an .npz file", setting.span, hint)
        return path, {}
    name = setting.value.func
    if name.name not in DATASETS:  # a name, not a path: say how to write one
        guess = suggest(name.name, DATASETS, cutoff=0.75)
        diags.error("unknown-data-set", f"unknown data set `{name.name}`", name.span,
                    guess or "built-in data sets: " + ", ".join(DATASETS)
                    + '; a path to an .npz file is written in quotes: `data "NAME.npz"`')
        return name.name, {}
    params = bind(setting.value, DATASETS[name.name], f"data set `{name.name}`", diags)
    return name.name, {k: v for k, v in (params or {}).items() if v is not None}


def _check_loss(setting: s.Setting | None, diags: Diagnostics) -> tuple[str | None, bool]:
    if setting is None:
        return None, False
    params = _lookup(setting.value, LOSSES, "loss", diags)
    if params is None:
        return None, False
    return setting.value.func.name, params["every_tick"]


def _check_optimizer(setting: s.Setting | None, has_loss: bool,
                     diags: Diagnostics) -> ir.Optimizer | None:
    if setting is None:
        return ir.Optimizer("adam", dict(ir.DEFAULT_ADAM)) if has_loss else None
    params = _lookup(setting.value, OPTIMIZERS, "optimizer", diags)
    if not has_loss:
        diags.warning("no-effect", "an optimizer has no effect without a `loss`", setting.span,
                      "add a loss (`loss mse`) or remove the optimizer")
        return None
    return ir.Optimizer(setting.value.func.name, params) if params is not None else None


def _check_schedule(setting: s.Setting | None, optimizer: ir.Optimizer | None, has_loss: bool,
                    diags: Diagnostics) -> ir.Schedule | None:
    if setting is None:
        return None
    params = _lookup(setting.value, SCHEDULES, "schedule", diags)
    if params is None:
        return None
    if not has_loss:
        diags.warning("no-effect", "a learning-rate schedule has no effect without a `loss`",
                      setting.span, "add a loss (`loss mse`) or remove the schedule")
        return None
    kind = setting.value.func.name
    if kind == "constant":
        return None
    lr = optimizer.params["lr"] if optimizer else None
    if lr is not None and params["final_lr"] >= lr:
        call = setting.value
        where = next((kw.value.span for kw in call.kwargs if kw.name.name == "final_lr"),
                     call.args[0].span if call.args else call.span)
        diags.error("bad-setting", f"`final_lr` of schedule `cosine` ({params['final_lr']:g}) "
                    f"must be below the optimizer's `lr` ({lr:g})", where,
                    "the rate falls from `lr` to `final_lr`; leave it out to end at 0")
        return None
    return ir.Schedule(kind, params)


def _check_count(expr: s.Expr | None, key: str, default: int, diags: Diagnostics) -> int:
    if expr is None:
        return default
    value = constant(expr)
    if not whole(value) or value < 1:
        diags.error("bad-setting", f"`{key}` must be a whole number, 1 or more{not_this(value)}",
                    expr.span)
        return default
    return int(value)


def _check_group(setting: s.Setting | None, role: str, view: NetworkView | None,
                 diags: Diagnostics) -> str | None:
    """The group named by `input NAME` / `output NAME`, which must be one of that role."""
    if setting is None:
        return None
    name = setting.value
    if view is None:  # the network is unknown: reported already
        return name.name
    allowed = view.role(role)
    if name.name in allowed:
        return name.name
    listed = f"the {role}s of `{view.name}`: " + (", ".join(allowed) or "none")
    if name.name not in view.groups:
        diags.error("unknown-group", f"unknown group `{name.name}`", name.span,
                    suggest(name.name, allowed) or listed)
    else:
        diags.error("bad-setting", f"`{name.name}` is not an {role} of network `{view.name}`",
                    name.span, listed)
    return None


def _check_needs(block: s.TrainBlock, settings: dict[str, s.Setting], view: NetworkView | None,
                 written: Written, diags: Diagnostics) -> None:
    """Something to train, and the group the data feeds and the targets belong to."""
    learns = any(isinstance(st, s.Learn) for st in block.statements)
    if "loss" not in settings and not learns:
        diags.error("nothing-to-train", f"regime `{block.name.name}` trains nothing",
                    block.name.span, "give it a loss (`loss mse`) or a local rule "
                    "(`learn SRC -> DST : hebb(rate=0.01)`)")
    if view is None:
        return
    if not view.role("input"):  # nothing to feed data to: it learns from its own activity
        _check_without_data(block, settings, view, written, diags)
    for role, needs in (("input", "data"), ("output", "loss")):
        groups = view.role(role)
        if needs in settings and role not in settings and len(groups) > 1:
            what = "data feeds" if role == "input" else "targets belong to"
            diags.error(f"ambiguous-{role}", f"network `{view.name}` has {len(groups)} {role}s "
                        f"({', '.join(groups)}): say which one the {what}", settings[needs].span,
                        f"add `{role} {groups[0]}` (or another {role}) to the train block")


def _check_without_data(block: s.TrainBlock, settings: dict[str, s.Setting], view: NetworkView,
                        written: Written, diags: Diagnostics) -> None:
    """A network without inputs runs on its own: no data set, and nothing that needs targets."""
    hint = ("a network without inputs learns from its own activity, by local rules such as "
            "`learn SRC -> DST : oja(rate=0.01)`")
    if "data" in settings:
        diags.error("data-without-input", f"network `{view.name}` has no input for the data "
                    "to feed", settings["data"].span, hint)
    if "loss" in settings:
        diags.error("loss-without-data", f"a loss needs targets, and network `{view.name}` "
                    "has no inputs to take the data they come with", settings["loss"].span,
                    hint)
    for st in block.statements:
        if isinstance(st, s.Learn) and written.from_targets(st.rule.func.name):
            diags.error("loss-without-data", f"the {st.rule.func.name} rule learns from "
                        f"targets, and network `{view.name}` has no inputs to take the data "
                        "they come with", st.rule.span, hint, notes=_target_read(written, st))


# ---- local rules and rewiring --------------------------------------------------------------


def _check_each(statements: list, check, view: NetworkView | None, diags: Diagnostics) -> tuple:
    """Check `learn` or `rewire` statements; two for the same connection are an error."""
    checked, first = [], {}
    for st in statements:
        item = check(st, view, diags)
        if item is None:
            continue
        if item.projection in first:
            word = "learn" if isinstance(st, s.Learn) else "rewire"
            diags.error("duplicate", f"connection `{item.projection}` has two `{word}` "
                        "statements", st.span, notes=[("the first one", first[item.projection])])
            continue
        first[item.projection] = st.span
        checked.append(item)
    return tuple(checked)


def _check_learn(st: s.Learn, view: NetworkView | None, diags: Diagnostics,
                 written: Written = NO_RULES) -> ir.LocalRule | None:
    projection = _resolve_projection(st.src, st.dst, "learn", view, diags)
    if st.rule.func.name in written.rules and written.rules[st.rule.func.name] is None:
        return None  # the rule's own errors are reported: its arguments cannot be checked
    rule = written.rules.get(st.rule.func.name)
    call, feeds = _modulator_arguments(st.rule, rule, diags)
    params = _lookup(call, written.table(), "learning rule", diags)
    if projection is None or params is None or feeds is None:
        return None
    modulators = ()
    if rule:
        modulators = _check_modulators(st, rule, feeds, view.ends[projection][1], view, diags)
        if not _check_written(st, rule, projection, view, written, diags) or modulators is None:
            return None
    if rule and rule.target:
        dst = view.ends[projection][1]
        if view.groups.get(dst) != "output":
            diags.error("perceptron-target", f"the {rule.name} rule learns from targets, but "
                        f"`{dst}` is not an output", st.rule.span,
                        f"learn a connection into an output ({', '.join(view.role('output'))})",
                        notes=_target_read(written, st))
            return None
    return ir.LocalRule(projection, st.rule.func.name, params, ir.Loc.of(st.span), modulators)


def _modulator_arguments(call: s.Call, rule: ir.PlasticityRule | None,
                         diags: Diagnostics) -> tuple[s.Call, dict | None]:
    """The call without the arguments that feed the rule's modulators, and those (by name;
    None after an error): `rstdp(rate=0.01, reward=critic)` -> `rstdp(rate=0.01)`, reward."""
    if not rule or not rule.modulators:
        return call, {}
    feeds: dict[str, s.KwArg] = {}
    ok = True
    for kw in call.kwargs:
        if kw.name.name in feeds:
            diags.error("duplicate", f"modulator `{kw.name.name}` is fed twice", kw.name.span,
                        notes=[("first fed here", feeds[kw.name.name].name.span)])
            ok = False
        elif kw.name.name in rule.modulators:
            feeds[kw.name.name] = kw
    rest = tuple(kw for kw in call.kwargs if kw.name.name not in rule.modulators)
    return dataclasses.replace(call, kwargs=rest), feeds if ok else None


def _check_modulators(st: s.Learn, rule: ir.PlasticityRule, feeds: dict, target: str,
                      view: NetworkView, diags: Diagnostics) -> tuple[ir.Modulator, ...] | None:
    """What feeds each of the rule's modulators (None after an error): a group of 1 neuron
    (one value for every synapse) or of the target's size (one per target neuron), or Python."""
    checked = []
    for name in rule.modulators:
        if name not in feeds:
            diags.error("unfed-modulator", f"rule `{rule.name}` reads modulator `{name}`, which "
                        "this `learn` does not feed", st.rule.span,
                        f"feed it from a group's output (`{name}=GROUP`), or from Python "
                        f"(`{name}={EXTERNAL}`, then `fit(modulators={{\"{name}\": f}})`)")
            continue
        fed = _check_feed(name, feeds[name].value, rule, target, view, diags)
        if fed is not None:
            checked.append(fed)
    return tuple(checked) if len(checked) == len(rule.modulators) else None


def _check_feed(name: str, value: s.Expr, rule: ir.PlasticityRule, target: str,
                view: NetworkView, diags: Diagnostics) -> ir.Modulator | None:
    if not isinstance(value, s.Var):
        diags.error("bad-modulator", f"modulator `{name}` of rule `{rule.name}` is fed by a "
                    "group's name, or by `external`", value.span,
                    f"`{name}=GROUP` reads the group's output each tick; `{name}={EXTERNAL}` "
                    "a Python function's (fit's `modulators`)")
        return None
    source = value.name
    if source == EXTERNAL and source not in view.groups:
        return ir.Modulator(name, "external")
    if source == EXTERNAL:
        diags.error("ambiguous-modulator", f"`{EXTERNAL}` names a group of network "
                    f"`{view.name}` and a modulator fed from Python", value.span,
                    "give the group another name")
        return None
    if source not in view.groups:
        diags.error("unknown-group", f"unknown group `{source}` for modulator `{name}`",
                    value.span, suggest(source, [*view.groups, EXTERNAL]) or
                    f"a modulator is fed by a group of `{view.name}` "
                    f"({_some(list(view.groups))}) or by `{EXTERNAL}` (from Python)")
        return None
    size, wanted = view.sizes.get(source), view.sizes.get(target)
    if size is not None and wanted is not None and size not in (1, wanted):
        takes = f"a group of 1, the size of `{target}`" if wanted == 1 else \
            f"a group of 1 (one value for every synapse) or of {wanted}, the size of " \
            f"`{target}` (one value per target neuron)"
        diags.error("modulator-size", f"modulator `{name}` is fed by `{source}`, which has "
                    f"{size} neurons: it takes {takes}", value.span)
        return None
    return ir.Modulator(name, "group", source)


def _target_read(written: Written, st: s.Learn) -> list:
    """Where a rule of the file reads `target` (a built-in's is in another file: none)."""
    rule = written.rules[st.rule.func.name]
    return [] if rule.builtin else [("`target` read here", written.reads[rule.name]["target"])]


def _check_written(st: s.Learn, rule: ir.PlasticityRule, projection: str, view: NetworkView,
                   written: Written, diags: Diagnostics) -> bool:
    """A `rule` block on a connection: the neurons have what it reads; an `on pre` block on a
    source that never spikes is worth a warning."""
    ok = True
    ends = dict(zip(("pre", "post"), view.ends[projection]))
    for name, span in written.reads[rule.name].items():
        side, _, var = name.partition(".")
        if not var:  # `target`: the perceptron check's
            continue
        group = ends[side]
        model = written.models.get(view.models.get(group))
        if model is None or (var not in model.states and var not in model.params):
            has = f"its model `{model.name}` has: " + (", ".join([*model.states, *model.params])
                                                          or "nothing") \
                if model else "it has no neuron model (an input or an activation)"
            diags.error("missing-state", f"rule `{rule.name}` reads `{name}`, but `{group}` "
                        f"has no state or parameter `{var}`", st.rule.span,
                        (suggest(var, [*model.states, *model.params]) or has) if model else has,
                        notes=[("read here", span)])
            ok = False
    src_model = written.models.get(view.models.get(ends["pre"]))
    if rule.on_pre and (src_model is None or not src_model.spikes):
        diags.warning("never-spikes", f"rule `{rule.name}` has an `on pre` block, but "
                      f"`{ends['pre']}` is not a spiking neuron model: its block runs whenever "
                      "the source's output is not 0", st.rule.span,
                      "use `every tick` for a rule of rates")
    return ok


def _check_rewire(st: s.Rewire, view: NetworkView | None,
                  diags: Diagnostics) -> ir.Rewire | None:
    projection = _resolve_projection(st.src, st.dst, "rewire", view, diags)
    actions, ok = {}, True
    for call in st.actions:
        name = call.func.name
        if name in actions:
            diags.error("duplicate", f"`{name}` is given twice", call.span,
                        notes=[("first given here", actions[name][0].span)])
            ok = False
            continue
        params = _lookup(call, REWIRE_ACTIONS, "rewiring action", diags)
        ok = ok and params is not None
        actions[name] = (call, params or {})
    every = _check_count(st.every, "every", 1, diags)
    if projection is None or not ok:
        return None
    if projection in view.shared:
        diags.error("rewire-shared", f"connection `{projection}` shares one kernel among its "
                    "synapses, so single synapses cannot be pruned or grown", st.span,
                    "rewire a connection without `shared=true`")
        return None
    prune, grow = (actions.get(name, (None, {}))[1] for name in ("prune", "grow"))
    if "prune" in actions and not _check_prune(actions["prune"][0], prune, diags):
        return None
    return ir.Rewire(projection, prune.get("below"), grow.get("count"), every, ir.Loc.of(st.span),
                     prune.get("keep"), prune.get("over") or 1)


def _check_prune(call: s.Call, given: dict, diags: Diagnostics) -> bool:
    """`prune` takes a threshold (`below`) or a fraction (`keep`, with `over`), one of the two.

    Not allowed: `prune()`, `prune(below=0.1, keep=0.2)`, `prune(below=0.1, over=5)`."""
    params = REWIRE_ACTIONS["prune"]
    below, keep, over = (argument(call, params, name) for name in ("below", "keep", "over"))
    if below is not None and keep is not None:
        diags.error("bad-argument", "`prune` takes `below` (a threshold) or `keep` (a fraction), "
                    "not both", keep.span, "keep one: `prune(keep=0.1)` keeps the strongest "
                    "tenth of the synapses", notes=[("`below` given here", below.span)])
        return False
    if below is None and keep is None:
        diags.error("bad-argument", "`prune` needs `below` (a threshold) or `keep` (a fraction)",
                    call.span, "`prune(below=0.01)` removes the synapses weaker than 0.01; "
                    "`prune(keep=0.1)` keeps the strongest tenth")
        return False
    if over is not None and keep is None:
        diags.error("bad-argument", "`over` sets how many rewirings `keep` takes to reach its "
                    "fraction, so it needs `keep`", over.span,
                    "`prune(keep=0.1, over=20)`; `below` prunes at once")
        return False
    return True


def _resolve_projection(src: s.Ident, dst: s.Ident | None, word: str, view: NetworkView | None,
                        diags: Diagnostics) -> str | None:
    """The connection's name: `SRC -> DST` is the connection named so (the unnamed one), else
    the only one from SRC to DST; a single name is a connection's name."""
    if view is None:
        return None
    if dst is None:
        if src.name in view.ends:
            return src.name
        names = [c[0] for c in view.connections]
        diags.error("unknown-connection", f"network `{view.name}` has no connection named "
                    f"`{src.name}`", src.span,
                    suggest(src.name, names) or f"its connections: {_some(names)}")
        return None
    between = view.between.get((src.name, dst.name), [])
    if f"{src.name}->{dst.name}" in between or len(between) == 1:
        return between[0] if len(between) == 1 else f"{src.name}->{dst.name}"
    unknown = [g for g in (src, dst) if g.name not in view.groups]
    for group in unknown:
        diags.error("unknown-group", f"unknown group `{group.name}`", group.span,
                    suggest(group.name, view.groups))
    if unknown:
        return None
    span = src.span.to(dst.span)
    if not between:
        out = view.leaving.get(src.name, [])
        diags.error("unknown-connection", f"network `{view.name}` has no connection from "
                    f"`{src.name}` to `{dst.name}`", span,
                    f"the connections from `{src.name}`: {_some(out)}")
    else:
        diags.error("ambiguous-connection", f"{len(between)} connections go from `{src.name}` "
                    f"to `{dst.name}`: {', '.join(between)}", span,
                    f"name the one you mean: `{word} {between[0]} : ...`")
    return None


# A hint lists this many names at most: one per misspelling, the whole list of a large network
# made the report grow with the square of its size.
LISTED = 12


def _some(names: list[str]) -> str:
    """`a, b, c`, or the first LISTED names and how many more; `none` for none."""
    if len(names) <= LISTED:
        return ", ".join(names) or "none"
    return ", ".join(names[:LISTED]) + f", ... ({len(names) - LISTED:,} more)"
