"""Expression IR -> Python source, from op tables: scalar Python (OO) and NumPy (a subclass that
overrides only what differs). Neuron models become one function per backend from the same IR.
"""

from __future__ import annotations

import builtins
import keyword

from nndl.ir import expr as e
from nndl import ir
from nndl.backends.codegen import number, quoted_text, wrap_code
from nndl.ir.reverse import Backward, activation_slope, model_backward
from nndl.ir import lazy_traces

# Binding strength of each operator, as in Python (higher binds tighter).
PRECEDENCE = {"if": 0, "or": 1, "and": 2, "not": 3, "<": 4, "<=": 4, ">": 4, ">=": 4, "==": 4,
              "!=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6, "neg": 7, "**": 8, "atom": 9}


class ScalarPython:
    """Renders for one neuron at a time: floats, `math`, the activation functions."""

    keeps_truths = False  # whether a model's spikes keep their truth values (see model_function)

    functions = {
        # NumPy's answers where `math` would raise: the helpers of backends/oo/ops.py's MATH
        "abs": "abs({})", "min": "minimum({}, {})", "max": "maximum({}, {})", "exp": "exp({})",
        "log": "log({})", "sqrt": "sqrt({})", "floor": "floor({})", "ceil": "ceil({})",
        "clip": "min(max({}, {}), {})", "tanh": "math.tanh({})",
        "sigmoid": "sigmoid({})", "relu": "relu({})", "step": "step({})",
    }
    binary = {op: "{} " + op + " {}" for op in ("+", "-", "*", "/", "%", "<", "<=", ">", ">=",
                                                "==", "!=", "and", "or")}
    binary.update({"**": "power({}, {})", "/": "divide({}, {})", "%": "remainder({}, {})"})
    plain = {"/": "{} / {}", "%": "{} % {}"}  # where the divisor cannot be 0 (see checked)

    def __init__(self, names: dict[str, str], scalars: frozenset[str] = frozenset(),
                 like: str = "net"):
        self.names = names  # model variable -> Python identifier
        self.scalars = scalars  # model variables that hold one number for every neuron
        self.like = like  # an array argument of the rendered function: its shape and dtype
        self.truths: dict[str, str] = {}  # variable -> the truth values its 0/1 numbers are
        self.spikes: str | None = None  # the flat indices where the truth values of `out` hold

    def render(self, node: e.Expr) -> str:
        return self._render(node)[0]

    def _render(self, node: e.Expr) -> tuple[str, int]:
        """(source, precedence of its outermost operator)."""
        if isinstance(node, e.Num):
            return self.number(node.value), PRECEDENCE["atom"]
        if isinstance(node, e.Bool):
            return ("True" if node.value else "False"), PRECEDENCE["atom"]
        if isinstance(node, e.Var):
            return self.names[node.name], PRECEDENCE["atom"]
        if isinstance(node, e.Unary):
            return self.unary(node)
        if isinstance(node, e.Binary):
            return self.binary_op(node)
        if isinstance(node, e.Call):
            args = [self.render(a) for a in node.args]
            return self.functions[node.func].format(*args), PRECEDENCE["atom"]
        if isinstance(node, e.Draw):
            return self.draw(node), PRECEDENCE["atom"]
        return self.conditional(node)

    def draw(self, node: e.Draw) -> str:
        """`rand()` or `randn()`: the model function's `noise` (nndl.runtime.philox) draws it,
        for this neuron, tick and sample, at the call's own site."""
        return f"noise.{node.kind}({node.site})"

    def number(self, value: float) -> str:
        return number(value)  # never `inf` or `nan`: those would read a variable

    def is_scalar(self, node: e.Expr) -> bool:
        """Whether the value reads no variable but numbers and parameters (one for all), and
        draws nothing."""
        return not e.variables(node) - self.scalars and not e.draws(node)

    def per_neuron(self, text: str) -> str:
        """A statement's scalar value as each neuron's own."""
        return text

    def overwrite(self, name: str, node: e.IfElse) -> str | None:
        """`name = A if C else name` (or `name if C else B`) as a line that changes the array
        in `name` in place, where the renderer can (the array is the function's own: see
        model_function); None: assigned anew."""
        return None

    def in_place(self, target: str, node: e.Expr, whole: set[str]) -> list[str] | None:
        """`target = A + b - c` as lines that make one array and change it in place, where the
        renderer can (see NumpyArrays); None: one assignment."""
        return None

    def wrap(self, node: e.Expr, at_least: int) -> str:
        text, precedence = self._render(node)
        return f"({text})" if precedence < at_least else text

    def unary(self, node: e.Unary) -> tuple[str, int]:
        if node.op == "num":  # a truth value as the number 1.0 or 0.0
            return f"float({self.render(node.operand)})", PRECEDENCE["atom"]
        if node.op == "not":
            return f"not {self.wrap(node.operand, PRECEDENCE['not'])}", PRECEDENCE["not"]
        return f"-{self.wrap(node.operand, PRECEDENCE['neg'])}", PRECEDENCE["neg"]

    def binary_op(self, node: e.Binary) -> tuple[str, int]:
        template = self.binary[node.op] if checked(node) else self.plain[node.op]
        if not template.startswith("{} "):  # a function call: no precedence to respect
            return template.format(self.render(node.left), self.render(node.right)), \
                PRECEDENCE["atom"]
        level = PRECEDENCE[node.op]
        # left-associative: an equal-precedence operator on the right needs parentheses
        left, right = self.wrap(node.left, level), self.wrap(node.right, level + 1)
        if node.op in e.COMPARISONS:  # never chain: `a < b < c` means something else
            left = self.wrap(node.left, level + 1)
        return template.format(left, right), level

    def conditional(self, node: e.IfElse) -> tuple[str, int]:
        then, other = self.wrap(node.then, 1), self.wrap(node.other, 0)
        return f"{then} if {self.wrap(node.cond, 1)} else {other}", PRECEDENCE["if"]


# Operators whose result NumpyArrays.in_place can write into its left operand's new array.
IN_PLACE = ("+", "-", "*")


def _new_array(node: e.Expr, whole: set[str]) -> bool:
    """Whether NumPy computes an expression into a new array of every sample and neuron, in
    the network's dtype: an operation (not a name, nor np.asarray, which may give back its
    argument, nor a draw) on one such array at least, with a number as its value."""
    return isinstance(node, (e.Unary, e.Binary, e.Call, e.IfElse)) and \
        not (isinstance(node, e.Unary) and node.op in ("num", "not")) and \
        not _truth(node) and not e.draws(node) and bool(e.variables(node) & whole)


# `a OP b` as `b OP' a`
MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def one_when(op: str, c: float) -> bool | None:
    """`x OP c` for a number x that is 0 or 1: True where it is x == 1, False where it is
    x == 0, None where it is neither (the same answer for both: rendered as written)."""
    at0, at1 = _compare(op, 0.0, c), _compare(op, 1.0, c)
    return None if at0 == at1 else at1


def _compare(op: str, a: float, b: float) -> bool:
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[op]


def checked(node: e.Binary) -> bool:
    """Whether an operation needs its helper: `/` and `%` but by a number other than 0 cannot
    fail, and stay plain Python."""
    return node.op not in ScalarPython.plain or not isinstance(node.right, e.Num) or \
        node.right.value == 0


class NumpyArrays(ScalarPython):
    """Renders for whole arrays of neurons at once: the same formulas with NumPy."""

    keeps_truths = True

    functions = {
        **ScalarPython.functions,
        "abs": "np.abs({})", "min": "np.minimum({}, {})", "max": "np.maximum({}, {})",
        "exp": "np.exp({})", "log": "np.log({})", "sqrt": "np.sqrt({})",
        "floor": "np.floor({})", "ceil": "np.ceil({})", "clip": "np.clip({}, {}, {})",
        "tanh": "np.tanh({})",
    }
    binary = {**ScalarPython.binary, **ScalarPython.plain, "**": "np.power({}, {})",
              "and": "np.logical_and({}, {})", "or": "np.logical_or({}, {})"}

    def _render(self, node: e.Expr) -> tuple[str, int]:
        if isinstance(node, e.Call) and self.is_scalar(node):
            # no array reaches this call: give it one, since the activation helpers call
            # array methods
            args = [self.array(a) for a in node.args]
            return self.functions[node.func].format(*args), PRECEDENCE["atom"]
        return super()._render(node)

    def array(self, node: e.Expr) -> str:
        """A plain number as an array in the network's dtype: NumPy functions of plain
        numbers, and np.where between two, would give float64 in a float32 network."""
        return f"np.asarray({self.render(node)}, {self.like}.dtype)"

    def unary(self, node: e.Unary) -> tuple[str, int]:
        if node.op == "num":  # in the array's own dtype: never widen float32 to float64
            return f"np.asarray({self.render(node.operand)}, {self.like}.dtype)", \
                PRECEDENCE["atom"]
        if node.op == "not":
            truth = self.truth_of(node.operand, negated=True) \
                if isinstance(node.operand, e.Binary) else None
            return truth or f"np.logical_not({self.render(node.operand)})", PRECEDENCE["atom"]
        return super().unary(node)

    def conditional(self, node: e.IfElse) -> tuple[str, int]:
        if node.then == e.Num(1.0) and node.other == e.Num(0.0) and \
                not self.is_scalar(node.cond):  # a spike: the truth values as numbers
            return f"{self.wrap(node.cond, PRECEDENCE['atom'])}.astype({self.like}.dtype)", \
                PRECEDENCE["atom"]
        then = self.array(node.then) if self.is_scalar(node.then) else self.render(node.then)
        other = self.array(node.other) if self.is_scalar(node.other) else self.render(node.other)
        return f"np.where({self.render(node.cond)}, {then}, {other})", PRECEDENCE["atom"]

    def per_neuron(self, text: str) -> str:
        # a scalar must not become a group's output or state: those are (batch, neurons)
        return f"np.full_like({self.like}, {text})"

    def binary_op(self, node: e.Binary) -> tuple[str, int]:
        truth = self.truth_of(node)
        if truth is not None:
            return truth, PRECEDENCE["atom"]
        return super().binary_op(node)

    def truth_of(self, node: e.Binary, negated: bool = False) -> str | None:
        """`out > 0.5` where `out` holds the numbers of truth values that the function keeps
        (`truths`, see model_function): those truth values themselves (or their negation), no
        second comparison over the arrays; `negated`: of `not (out > 0.5)`. None: rendered as
        written."""
        if node.op not in e.COMPARISONS:
            return None
        var, number, op = node.left, node.right, node.op
        if isinstance(var, e.Num):  # `0.5 < out`: as `out > 0.5`
            var, number, op = node.right, node.left, MIRRORED[node.op]
        if not (isinstance(var, e.Var) and var.name in self.truths and
                isinstance(number, e.Num)):
            return None
        holds = one_when(op, number.value)  # True: where the truth value holds
        if holds is None:
            return None
        kept = self.truths[var.name]
        return kept if holds != negated else f"np.logical_not({kept})"

    def in_place(self, target: str, node: e.Expr, whole: set[str]) -> list[str] | None:
        # `v = floor(0.9375 * v) + g + drive` as `v = np.floor(0.9375 * v)`, `v += g`,
        # `v += drive`: the same operations in the same order, one new array instead of three.
        # The first operand must be a new array of every sample and neuron (an operation that
        # reads one: `whole`), and no later one may read the target (it holds the new array).
        steps = []
        while isinstance(node, e.Binary) and node.op in IN_PLACE and \
                _new_array(node.left, whole):
            steps.append(node)
            node = node.left
        if not steps or any(target in e.variables(step.right) for step in steps):
            return None
        name = self.names[target]
        return [f"{name} = {self.render(node)}",
                *(f"{name} {step.op}= {self.render(step.right)}" for step in reversed(steps))]

    def overwrite(self, name: str, node: e.IfElse) -> str | None:
        # np.where's numbers written into the array itself: one pass, no new array (a reset
        # after a spike, `v = 0.0 if fired else v`, touches only the neurons that fired)
        if self.render(node.other) == name:
            value, where = node.then, self.render(node.cond)
        elif self.render(node.then) == name:
            value, where = node.other, self.render(e.Unary("not", node.cond))
        else:
            return None
        if self.spikes and where == self.truths.get("out") and isinstance(value, e.Num):
            return f"{name}.put({self.spikes}, {self.render(value)})"  # where it spiked alone
        return f"np.copyto({name}, {self.render(value)}, where={where})"


# ---- neuron models as functions ------------------------------------------------------------

# Every name a generated module defines at its top, but the model functions' own (`model_NAME`,
# `backward_NAME`): its imports, constants, activations and their slopes, helpers and classes.
# A model variable never takes one of these names (tests/test_codegen_safety.py keeps the list
# complete).
GENERATED_NAMES = {
    "np", "math", "ir", "NetworkBase", "Synapses", "Adjoints", "Tape", "memory_before",
    "gather_layout", "level_plan", "row_pointers", "source_order", "Memory", "Stencil",
    "LevelProducts", "SparseLevels", "all_ticks", "SparseProduct", "SpikeTable", "spike_layout",
    "event_sum", "SpikingNeuron", "spike_indices", "ScalarNoise",
    "stencil_sum", "stencil_back", "stencil_grads", "csr_back", "csr_grads",
    "stacked", "tied",
    "SOURCE", "SOURCE_SHA256", "NETWORK", "BACKEND", "SPEC", "TRAINABLE",
    *ir.ACTIVATIONS, *(f"{a}_slope" for a in ir.ACTIVATIONS),
    "sqrt", "log", "exp", "floor", "ceil", "minimum", "maximum", "power", "divide",
    "remainder",  # the OO module's scalar math
    "gather_sum", "csr_sum", "rows_sum", "segment_sum", "synapse_grads", "spread_back",
    "rows_backward", "softmax_backward",
    "Synapse", "SharedSynapse", "Neuron", "ModelNeuron", "InputSum", "Group", "SoftmaxGroup",
    "ModelGroup",
    "Network", "cp", "CUDA", "KERNELS", "Kernels", "to_device", "Wiring", "InputError",
    "tap_layout", "tap_weights", "stencil_launch",  # cupy's
    "ScalarNoise",  # the OO module's draws (nndl.runtime.philox)
    "noise",  # not a module's: the draws that a model function using rand() or randn() takes
    "spiked", "fired",  # not a module's: a NumPy model function's spikes (see model_function)
    "Recorder",  # the NumPy and CuPy modules' recordings
    "ALIKE",  # the NumPy module's groups computed as one array
    "SPIKES",  # the NumPy module's spikes kept for later ticks
    "SPIKING", "HISTORY",  # the NumPy module's recorded spikes and every_tick outputs
    "RULES",  # the plasticity rules' functions (see rule_table)
}


def identifiers(names: list[str]) -> dict[str, str]:
    """A Python identifier for each model variable: the name itself unless it is a keyword, a
    builtin or a name the generated code uses, in which case `_` is appended (until unique)."""
    reserved = set(keyword.kwlist) | set(dir(builtins)) | GENERATED_NAMES
    taken: set[str] = set()
    result = {}
    for name in names:
        ident = name
        while ident in reserved or ident in taken or (ident != name and ident in names):
            ident += "_"
        taken.add(ident)
        result[name] = ident
    return result


def model_function_name(model: ir.NeuronModel) -> str:
    return f"model_{model.name}"  # model names are [A-Za-z0-9_]: always an identifier


def noise_argument(model: ir.NeuronModel) -> list[str]:
    """A model that draws takes its draws last (nndl.runtime.philox: Noise or ScalarNoise)."""
    return ["noise"] if model.draws else []


def model_inputs(model: ir.NeuronModel) -> list[str]:
    """What a model's tick takes, in order: net, out, its states, its parameters, then its
    named input sums (the variables `sum.NAME`: see nndl.ir.NeuronModel.sums)."""
    return ["net", "out", *model.states, *model.params, *map(ir.sum_variable, model.sums)]


def model_function(model: ir.NeuronModel, renderer: type[ScalarPython],
                   indices: bool = False) -> str:
    """`def model_NAME(net, out, *states, *params, *sums[, noise])` returning (out, *states):
    one tick. `indices`: a model that spikes returns `fired` too, the flat indices of the
    spikes (b * neurons + i, as nndl.runtime.layout.spike_indices finds them in `out`), which
    its event-driven projections read."""
    temporaries = [t for t, _ in model.statements if t not in model.states and t != "out"]
    inputs = model_inputs(model)
    names = dotted_identifiers([*inputs, *dict.fromkeys(temporaries)])
    writer = renderer(names, frozenset(model.params))
    indices = indices and model.spikes
    arguments = ", ".join([*(names[n] for n in inputs), *noise_argument(model)])
    where = f"line {model.loc.line} of {model.source}" if model.loc else model.source
    lines = [*wrap_code(f"def {model_function_name(model)}({arguments}):"),
             f'    """Neuron model `{model.name}` ({quoted_text(where)}): one tick."""']
    # Which variables hold arrays of every sample and neuron (`whole`), and which of those this
    # function made itself, of numbers (not truth values), held under no other name (`own`):
    # the renderer may change those in place (see overwrite).
    whole, own = {"net", "out", *model.states, *map(ir.sum_variable, model.sums)}, set()
    for target, value in model.statements:
        node = e.from_dict(value)
        if target == "out" and writer.keeps_truths and _spike(node) and \
                not writer.is_scalar(node.cond):
            # the truth values kept as well (`spiked`): a later `out > 0.5` reads them, and
            # the spikes' indices are found in them (bools: no comparison of the numbers)
            lines.append(f"    spiked = {writer.render(node.cond)}")
            lines.append(f"    {names['out']} = spiked.astype({writer.like}.dtype)")
            if indices:
                lines.append("    fired = spiked.ravel().nonzero()[0]  # where it spiked: "
                             "b * neurons + i")
                writer.spikes = "fired"
            writer.truths["out"] = "spiked"
            whole.add("out")
            own.add("out")
            continue
        writer.truths.pop(target, None)  # (for the statement after this one)
        if target == "out":
            writer.spikes = None
        line = writer.overwrite(names[target], node) \
            if target in own and isinstance(node, e.IfElse) else None
        if line is None:
            text = writer.render(node)
            if writer.is_scalar(node):
                text = writer.per_neuron(text)
            line = f"{names[target]} = {text}"
            steps = writer.in_place(target, node, whole)
            if steps:
                lines += [f"    {step}" for step in steps[:-1]]
                line = steps[-1]
            made = writer.is_scalar(node) or bool(e.variables(node) & whole)  # a new array
            if made:
                whole.add(target)
            else:
                whole.discard(target)
            if isinstance(node, e.Var) or (isinstance(node, e.Unary) and node.op == "num" and
                                           isinstance(node.operand, e.Var)):
                own -= e.variables(node)  # one array under two names now (np.asarray: maybe)
                own.discard(target)
            elif made and not _truth(node):
                own.add(target)
            else:
                own.discard(target)
        lines.append(f"    {line}")
    results = ", ".join(names[n] for n in ["out", *model.states])
    if indices:
        if "out" not in writer.truths:  # (else found with them)
            lines.append(f"    fired = spike_indices({names['out']})  # where it spiked")
        results += ", fired"
    comma = "" if model.states or indices else ","  # a 1-tuple: callers unpack (out, *states)
    lines.append(f"    return {results}{comma}")
    return "\n".join(lines)


def _spike(node: e.Expr) -> bool:
    """Whether an expression is `1.0 if C else 0.0`: a spike where C holds."""
    return isinstance(node, e.IfElse) and node.then == e.Num(1.0) and node.other == e.Num(0.0)


def _truth(node: e.Expr) -> bool:
    """Whether an expression's value is a truth value (a bool array in NumPy)."""
    return isinstance(node, e.Bool) or (isinstance(node, e.Unary) and node.op == "not") or (
        isinstance(node, e.Binary) and node.op in ("<", "<=", ">", ">=", "==", "!=", "and", "or"))


# ---- plasticity rules as functions ---------------------------------------------------------

RULE_EVENTS = {"every": "every tick", "on_pre": "on pre", "on_post": "on post", "bias": "bias"}


def rule_function_name(rule: ir.PlasticityRule, event: str) -> str:
    return f"rule_{rule.name}_{event}"  # no other module-level name starts with `rule_`


def rule_arguments(rule: ir.PlasticityRule) -> list[str]:
    """The variables each function of a rule takes, in order (see nndl.runtime.synapse_rules):
    w, pre, post, the neurons' `pre.X` / `post.X`, the rule's states, its parameters, its
    modulators (one value per synapse, as `pre` is: nndl.runtime.modulators), `target` where
    the rule reads it, then (with lazy traces) the ticks since the synapse's last event (a
    function that draws takes `noise` after them all). New arguments go at the end."""
    return ["w", "pre", "post", *rule.reads, *rule.states, *rule.params, *rule.modulators,
            *(["target"] if rule.target else []),
            *([lazy_traces.ELAPSED] if rule.lazy else [])]


def bias_arguments(rule: ir.PlasticityRule) -> list[str]:
    """What `rule_NAME_bias` takes, once per target neuron: bias, post, the `post.X` the rule
    reads, its parameters, then `target` where it reads it."""
    return ["bias", "post", *(r for r in rule.reads if r.startswith("post.")), *rule.params,
            *(["target"] if rule.target else [])]


def rule_function(rule: ir.PlasticityRule, event: str, renderer: type[ScalarPython]) -> str:
    """`def rule_NAME_EVENT(w, pre, post, *reads, *states, *params, *modulators[, target]
    [, elapsed][, noise])` returning (w, *states): one event's statements
    (nndl.ir.lazy_traces.run_block), for one synapse (scalar Python) or arrays of them; for the
    event "bias", `def rule_NAME_bias(*bias_arguments)` returning the bias."""
    bias = event == "bias"
    statements = rule.bias if bias else lazy_traces.run_block(rule, event)
    inputs = bias_arguments(rule) if bias else rule_arguments(rule)
    temporaries = [t for t, _ in statements if t not in inputs]
    names = dotted_identifiers([*inputs, *dict.fromkeys(temporaries)])
    writer = renderer(names, frozenset(rule.params), like=names["bias" if bias else "w"])
    noise = ["noise"] if rule.draws and not bias else []
    where = f"line {rule.loc.line} of {rule.source}" if rule.loc else rule.source
    what = "`bias = ...`, per target neuron" if bias else f"`{RULE_EVENTS[event]}`"
    lines = [*wrap_code(f"def {rule_function_name(rule, event)}("
                        f"{', '.join([*(names[n] for n in inputs), *noise])}):"),
             f'    """Rule `{rule.name}` ({quoted_text(where)}): {what}."""']
    for target, value in statements:
        node = e.from_dict(value)
        text = writer.render(node)
        if writer.is_scalar(node):
            text = writer.per_neuron(text)
        lines.append(f"    {names[target]} = {text}")
    if bias:
        lines.append(f"    return {names['bias']}")
    else:  # a tuple, even of `w` alone
        comma = "" if rule.states else ","
        lines.append(f"    return {', '.join(names[n] for n in ['w', *rule.states])}{comma}")
    return "\n".join(lines)


def dotted_identifiers(variables: list[str]) -> dict[str, str]:
    """Python identifiers for variables that may have a dot (a rule's `pre.v`, a model's
    `sum.exc`): `pre.v` becomes `pre_v` (`pre__v` where there is a name `pre_v` of its own),
    then as `identifiers`."""
    plain = []
    for name in variables:
        spelled = name.replace(".", "_")
        while "." in name and (spelled in variables or spelled in plain):
            spelled = spelled.replace("_", "__", 1)  # `pre__v`, then `pre___v`, ...
        plain.append(spelled)
    return dict(zip(variables, identifiers(plain).values()))


def rule_functions(network: ir.Network, renderer: type[ScalarPython]) -> str:
    """Every block of every rule the network's regimes learn by, as a function."""
    return "\n\n\n".join(rule_function(rule, event, renderer) for rule in network.rules
                          for event in RULE_EVENTS if _has(rule, event))


def _has(rule: ir.PlasticityRule, event: str) -> bool:
    return bool(rule.bias if event == "bias" else lazy_traces.run_block(rule, event))


def rule_table(network: ir.Network) -> str:
    """`RULES`: each rule's functions by event, and its "bias" function (None for a block it
    lacks), for the runtime."""
    entries = []
    for rule in network.rules:
        functions = ", ".join(f"{event!r}: {rule_function_name(rule, event)}"
                              if _has(rule, event) else f"{event!r}: None"
                              for event in RULE_EVENTS)
        entries.append(f"{rule.name!r}: {{{functions}}}")
    return "{" + ", ".join(entries) + "}"


_BACKWARDS: dict[int, tuple[ir.NeuronModel, Backward]] = {}


def backward_of(model: ir.NeuronModel) -> Backward:
    """nndl.ir.reverse.model_backward(model), derived once per model object: the lowering asks for
    it several times per model and per group. (The model is kept with its entry, so that its id
    cannot name another model while the entry lives.)"""
    entry = _BACKWARDS.get(id(model))
    if entry is None or entry[0] is not model:
        if len(_BACKWARDS) >= 1024:
            _BACKWARDS.clear()
        entry = _BACKWARDS[id(model)] = (model, model_backward(model))
    return entry[1]


def model_backward_name(model: ir.NeuronModel) -> str:
    # A prefix of its own: `model_{name}_backward` was also the forward function of a model
    # called `{name}_backward`. No other module-level name starts with `model_` or `backward_`.
    return f"backward_{model.name}"


def model_backward_function(model: ir.NeuronModel, renderer: type[ScalarPython]) -> str:
    """`def backward_NAME(net, out, *states, *params, g_out, *g_states, *sums)`: one tick of
    backpropagation (see nndl.ir.reverse.model_backward), returning d loss / d (net, out,
    *states) at the tick's start, then each trainable parameter and each named input sum."""
    back = backward_of(model)
    names = dotted_identifiers([*back.inputs, *dict.fromkeys(t for t, _ in back.statements)])
    scalars = set(model.params)  # replayed values that are plain numbers stay plain numbers
    for target, node in back.statements:
        if not e.variables(node) - scalars and not e.draws(node):
            scalars.add(target)
    writer = renderer(names, frozenset(scalars))
    arguments = [*(names[n] for n in back.inputs), *noise_argument(model)]
    signature = f"def {model_backward_name(model)}({', '.join(arguments)}):"
    lines = wrap_code(signature)
    lines.append(f'    """Model `{model.name}` backwards: its tick replayed, then d loss / d each '
                 'value."""')
    lines += [f"    {names[target]} = {writer.render(node)}" for target, node in back.statements]
    zero = writer.per_neuron("0.0")  # nothing reaches this input
    results = ", ".join(names[o] if o else zero for o in back.outputs)
    lines.append(f"    return {results}")
    return "\n".join(lines)


def slope_name(activation: str) -> str:
    return f"{activation}_slope"


def slope_function(activation: str, renderer: type[ScalarPython]) -> str:
    """`def ACTIVATION_slope(net, out, *params)`: d out / d net (see nndl.ir.reverse)."""
    params = [p for p in ("slope",) if activation == "leaky_relu"]
    names = {n: n for n in ("net", "out", *params)}
    writer = renderer(names, frozenset(params))
    node = activation_slope(activation)
    text = writer.render(node)
    if writer.is_scalar(node):
        text = writer.per_neuron(text)
    return (f"def {slope_name(activation)}({', '.join(names)}):\n"
            f'    """d {activation}(net) / d net."""\n'
            f"    return {text}")


def slope_call(group: ir.Group, net: str, out: str) -> str:
    """The call giving d out / d net for a group's activation, e.g. `tanh_slope(net, out)`."""
    extra = "".join(f", {number(value)}" for value in group.params.values())
    return f"{slope_name(group.activation)}({net}, {out}{extra})"


def slope_functions(network: ir.Network, renderer: type[ScalarPython]) -> str:
    """The slope of each activation the network's groups use (softmax has its own backward)."""
    used = [a for a in ir.ACTIVATIONS if a != "softmax"
            and any(g.activation == a for g in network.groups if g.role != "input")]
    return "\n\n\n".join(slope_function(a, renderer) for a in used)


def functions_used(network: ir.Network) -> set[str]:
    """The activation functions that model statements, their backward functions and the
    slopes call (the module must define them)."""
    return operations_used(network) & {"sigmoid", "relu", "step"}


def operations_used(network: ir.Network) -> set[str]:
    """Every function that model statements, their backward functions and the slopes call,
    and every operator that needs a checked helper (see `checked`)."""
    used = set()
    for model in network.models:
        for _, value in model.statements:
            used |= _calls(e.from_dict(value))
        for _, node in backward_of(model).statements:
            used |= _calls(node)
    for g in network.groups:
        if g.activation and g.activation != "softmax" and g.role != "input":
            used |= _calls(activation_slope(g.activation))
    for rule in network.rules:
        for _, value in [*rule.bias, *(st for event in ir.EVENTS
                                         for st in lazy_traces.run_block(rule, event))]:
            used |= _calls(e.from_dict(value))
    return used


def _calls(node: e.Expr) -> set[str]:
    if isinstance(node, e.Call):
        return {node.func}.union(*(_calls(a) for a in node.args))
    if isinstance(node, e.Unary):
        return _calls(node.operand)
    if isinstance(node, e.Binary):
        own = {node.op} if node.op in ("**", "/", "%") and checked(node) else set()
        return own | _calls(node.left) | _calls(node.right)
    if isinstance(node, e.IfElse):
        return _calls(node.cond) | _calls(node.then) | _calls(node.other)
    return set()
