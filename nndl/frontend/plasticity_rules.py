"""`rule` blocks -> PlasticityRule IR, with checks.

A rule has parameters (constants a `learn` statement may override), states (one value per
synapse, kept from tick to tick) and up to three blocks of statements: `every tick`, `on pre`
and `on post`. They read `w`, `pre`, `post`, `pre.X` / `post.X` (checked against the connection's
models where a `learn` statement uses the rule: nndl.frontend.regimes), the rule's own names and
`rand()` / `randn()`, and its modulators (`modulator reward`: a signal such as a reward, fed
where the rule is learned); they assign `w`, states and temporaries (which live for one block).

Two names serve learning from targets (the perceptron): `target`, the target neuron's target
value (the `learn` checks say where it exists: a connection into an output, in a regime with
data), and `bias = ...` in `every tick`, which moves the target group's bias once per target
neuron — so its right side reads only what one neuron has: `bias`, `post`, `post.X`, `target`
and the rule's parameters.
"""

from __future__ import annotations

import importlib.resources

from nndl import ir
from nndl.diagnostics import Diagnostics, suggest
from nndl.frontend import syntax as s
from nndl.frontend.expressions import PLACEHOLDER, convert
from nndl.frontend.signatures import constant, not_this
from nndl.ir import expr as e
from nndl.ir.lazy_traces import lazy_states

WEIGHT, SIDES, TARGET, BIAS = "w", ("pre", "post"), "target", "bias"
BUILT_IN = ("w", "pre", "post", TARGET)  # what every rule reads
PER_NEURON = ("post", TARGET, BIAS)  # what `bias = ...` reads, besides `post.X` and parameters
EVENTS = {"every tick": "every", "pre": "on_pre", "post": "on_post"}  # as written -> IR block


def builtin_rules_text() -> str:
    """The built-in rules' source (hebb, oja, perceptron), shipped so users can read it."""
    return importlib.resources.files("nndl.frontend").joinpath("builtin_rules.nndl") \
        .read_text("utf-8")


class _Block:
    """What one block's statements may read, walking them in order."""

    def __init__(self, rule: _Rule):
        self.rule, self.temporaries = rule, set()

    def draw(self, node: s.Call, diags: Diagnostics) -> e.Expr:
        return self.rule.draw(node)

    def name(self, node: s.Var, diags: Diagnostics) -> e.Expr:
        known = [*BUILT_IN, *self.rule.declared, *self.temporaries]
        if node.name in known:
            if node.name == TARGET:
                self.rule.reads.setdefault(TARGET, node.span)
            return e.Var(node.name)
        if node.name == BIAS:
            diags.error("unknown-variable", f"rule `{self.rule.name}` reads `bias` only in "
                        "`bias = ...`", node.span, "the bias is one per target neuron, not "
                        "per synapse: move it with `bias = bias + ...` in `every tick`")
            return PLACEHOLDER
        diags.error("unknown-variable", f"unknown variable `{node.name}` in rule "
                    f"`{self.rule.name}`", node.span, suggest(node.name, known) or
                    f"a rule reads w, pre, post, pre.X, post.X and its own names; declare "
                    f"it first: `state {node.name} = 0.0`")
        return PLACEHOLDER

    def field(self, node: s.Attr, index, diags: Diagnostics) -> e.Expr:
        if node.obj not in SIDES or index is not None:
            diags.error("bad-expression", f"`{node.obj}.{node.attr}` has no meaning in a rule",
                        node.span, "a rule reads the two neurons' states and parameters as "
                        "`pre.X` and `post.X`")
            return PLACEHOLDER
        name = f"{node.obj}.{node.attr}"
        self.rule.reads.setdefault(name, node.span)
        return e.Var(name)


class _Neuron(_Block):
    """What `bias = ...` may read: one target neuron's names and the rule's parameters."""

    def draw(self, node: s.Call, diags: Diagnostics) -> e.Expr:
        diags.error("bias-per-neuron", "`bias = ...` cannot draw random numbers", node.span,
                    "a rule's draws are per synapse; the bias moves once per target neuron")
        return PLACEHOLDER

    def name(self, node: s.Var, diags: Diagnostics) -> e.Expr:
        if node.name in PER_NEURON or self.rule.declared.get(node.name) == "param":
            if node.name == TARGET:
                self.rule.reads.setdefault(TARGET, node.span)
            return e.Var(node.name)
        if node.name in [*BUILT_IN, *self.rule.declared, *self.temporaries]:
            return self._per_synapse(node.name, node.span, diags)
        return super().name(node, diags)

    def field(self, node: s.Attr, index, diags: Diagnostics) -> e.Expr:
        if node.obj == "pre":
            return self._per_synapse(f"pre.{node.attr}", node.span, diags)
        return super().field(node, index, diags)

    def _per_synapse(self, name: str, span, diags: Diagnostics) -> e.Expr:
        diags.error("bias-per-neuron", f"`bias = ...` runs once per target neuron, and `{name}` "
                    "is one per synapse", span, "the bias reads bias, post, post.X, target and "
                    "the rule's parameters")
        return PLACEHOLDER


class _Rule:
    def __init__(self, block: s.RuleBlock):
        self.name = block.name.name
        self.declared: dict[str, str] = {}
        self.reads: dict[str, object] = {}  # `pre.X` / `post.X` / `target` -> where first read
        self.bias: list = []  # the `bias = ...` statements, in order
        self.sites = 0

    def draw(self, node: s.Call) -> e.Expr:
        site, self.sites = self.sites, self.sites + 1
        return e.Draw(node.func.name, site)


def check_rule(block: s.RuleBlock, source: str,
               diags: Diagnostics) -> tuple[ir.PlasticityRule, dict] | None:
    """The rule's IR and where each `pre.X` / `post.X` (and `target`) is first read (for the
    `learn` checks); None after an error."""
    before = len(diags.errors)
    rule = _Rule(block)
    values: dict[str, dict[str, float]] = {"param": {}, "state": {}}
    blocks: dict[str, list] = {}
    modulators = []
    for st in block.statements:
        if isinstance(st, s.VarDecl):
            values[st.kind][st.name.name] = _declare(st, rule, diags)
        elif isinstance(st, s.ModulatorDecl):
            if _name_free(st.name, "modulator", rule, diags):
                modulators.append(st.name.name)
            rule.declared.setdefault(st.name.name, "modulator")
        else:
            _event(st, rule, blocks, diags)
    if not blocks:
        diags.warning("no-effect", f"rule `{rule.name}` has no `every tick`, `on pre` or `on "
                      "post` block: it changes nothing", block.name.span)
    if len(diags.errors) > before:
        return None
    every, on_pre, on_post = (tuple(blocks.get(event, ())) for event in ir.EVENTS)
    lazy = lazy_states(values["param"], values["state"], every, (on_pre, on_post))
    reads = tuple(name for name in rule.reads if name != TARGET)
    return ir.PlasticityRule(rule.name, values["param"], values["state"], every, on_pre, on_post,
                             reads, source, ir.Loc.of(block.name.span), tuple(modulators), lazy,
                             TARGET in rule.reads, tuple(rule.bias)), rule.reads


def _name_free(name: s.Ident, kind: str, rule: _Rule, diags: Diagnostics) -> bool:
    """Whether a declaration's name is neither built in nor declared before (else an error)."""
    if name.name in (*BUILT_IN, BIAS):
        diags.error("reserved-name", f"`{name.name}` is built into every rule; it cannot be "
                    f"declared as a {kind}", name.span)
    elif name.name in rule.declared:
        diags.error("duplicate", f"`{name.name}` is declared twice in rule `{rule.name}`",
                    name.span)
    else:
        return True
    return False


def _declare(st: s.VarDecl, rule: _Rule, diags: Diagnostics) -> float:
    name = st.name.name
    if _name_free(st.name, st.kind, rule, diags) and st.trainable:
        diags.error("bad-trainable", "a rule's parameter cannot be trainable", st.span,
                    "backpropagation trains neuron models' parameters; drop `trainable`")
    value = constant(st.value)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        diags.error("bad-expression", f"the value of {st.kind} `{name}` of a rule must be a "
                    f"number{not_this(value)}", st.value.span,
                    "per-synapse starting values other than numbers are not supported yet")
        value = 0.0
    rule.declared.setdefault(name, st.kind)
    return float(value)


def _event(st: s.RuleEvent, rule: _Rule, blocks: dict, diags: Diagnostics) -> None:
    event = st.event.name
    if event not in EVENTS:
        diags.error("unknown-event", f"unknown event `on {event}`", st.event.span,
                    suggest(event, SIDES) or "a rule has `every tick`, `on pre` and `on post`")
        return
    key = EVENTS[event]
    if key in blocks:
        diags.error("duplicate", f"rule `{rule.name}` has two `{_written(key)}` blocks",
                    st.event.span)
        return
    scope = _Block(rule)
    statements = [_assign(a, scope, key, diags) for a in st.statements]
    blocks[key] = [a for a in statements if a[0] != BIAS]
    rule.bias += [a for a in statements if a[0] == BIAS]


def _assign_bias(st: s.Assign, scope: _Block, event: str,
                 diags: Diagnostics) -> tuple[str, dict]:
    """`bias = ...`: in `every tick`, run once per target neuron (so it reads per-neuron names)."""
    if event != "every":
        diags.error("bias-per-neuron", f"`bias` moves in `every tick` only, not in "
                    f"`{_written(event)}`", st.target.span, "a bias is one per target neuron; "
                    "`on pre` and `on post` visit synapses")
    neuron = _Neuron(scope.rule)
    neuron.temporaries = scope.temporaries  # named, so reading one says why it cannot
    return BIAS, e.to_dict(e.as_num(convert(st.value, neuron, diags)))


def _written(key: str) -> str:
    return "every tick" if key == "every" else key.replace("_", " ")


def _assign(st: s.Assign, scope: _Block, event: str, diags: Diagnostics) -> tuple[str, dict]:
    target = st.target.name
    if target == BIAS:
        return _assign_bias(st, scope, event, diags)
    value = convert(st.value, scope, diags)
    rule = scope.rule
    if "." in target:
        diags.error("assign-neuron", f"`{target}` belongs to a neuron: a rule cannot assign it",
                    st.target.span, "a rule assigns `w` and its own states; a neuron's state "
                    "changes by its model's statements")
    elif target in SIDES:
        diags.error("assign-neuron", f"`{target}` is the {target}-synaptic neuron's output "
                    "this tick: a rule cannot assign it", st.target.span,
                    "a rule assigns `w` and its own states")
    elif target == TARGET:
        diags.error("assign-neuron", "`target` is the target neuron's target value: a rule "
                    "cannot assign it", st.target.span, "a rule assigns `w`, `bias` and its "
                    "own states")
    elif rule.declared.get(target) == "param":
        diags.error("assign-param", f"`{target}` is a parameter: it cannot change",
                    st.target.span, f"declare it with `state {target} = ...` to let it change")
    elif rule.declared.get(target) == "modulator":
        diags.error("assign-modulator", f"`{target}` is a modulator: the rule reads it, and "
                    "the `learn` statement feeds it", st.target.span,
                    f"keep what the rule makes of it in a state: `state {target}_seen = 0.0`")
    elif target != WEIGHT and target not in rule.declared:
        scope.temporaries.add(target)
    return target, e.to_dict(e.as_num(value))
