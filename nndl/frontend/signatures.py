"""What each built-in name accepts, and binding a call's arguments against it with clear errors.

Activations, connection rules, weight initialisers and the settings of train blocks (losses,
optimisers, data sets, local rules, rewiring) are all written as `name(args)` in the source; one
table per kind says which parameters each takes, of what type, with which default.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from nndl.frontend import syntax as s
from nndl.diagnostics import Diagnostics, suggest

REQUIRED = object()


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "number", "int", "bool", "choice" or "expr"
    default: object = REQUIRED
    choices: tuple[str, ...] = ()
    check: Callable[[float], bool] | None = None
    requirement: str = ""  # says what `check` demands, for the message


POSITIVE = {"check": lambda v: v > 0, "requirement": "greater than 0"}
NON_NEGATIVE = {"check": lambda v: v >= 0, "requirement": "0 or more"}

ACTIVATIONS: dict[str, tuple[Param, ...]] = {
    "identity": (),
    "relu": (),
    "leaky_relu": (Param("slope", "number", 0.01, **NON_NEGATIVE),),
    "tanh": (),
    "sigmoid": (),
    "softplus": (),
    "step": (),
    "softmax": (),
}

RULES: dict[str, tuple[Param, ...]] = {
    "full": (),
    "one_to_one": (),
    "local": (
        Param("radius", "number", **NON_NEGATIVE),
        Param("metric", "choice", "euclidean", choices=("euclidean", "chebyshev", "manhattan")),
        Param("wrap", "bool", False),
        Param("shared", "bool", False),
        # how many trailing axes are the grid; left out, those both groups have, at most two
        Param("axes", "int", None, check=lambda v: 1 <= v <= 3, requirement="1, 2 or 3"),
    ),
    "random": (
        Param("p", "number", check=lambda v: 0 < v <= 1, requirement="in (0, 1]"),
        Param("where", "expr", None),
    ),
    "fan_in": (
        Param("k", "int", check=lambda v: v >= 1, requirement="1 or more"),
        Param("where", "expr", None),
    ),
    "where": (Param("condition", "expr"),),
}

INITIALISERS: dict[str, tuple[Param, ...]] = {
    "normal": (Param("mean", "number", 0.0), Param("std", "number", **NON_NEGATIVE)),
    "uniform": (Param("low", "number"), Param("high", "number")),
    "constant": (Param("value", "number"),),
}

# ---- train blocks ----

FRACTION = {"check": lambda v: 0 <= v < 1, "requirement": "in [0, 1)"}
WHOLE_POSITIVE = {"check": lambda v: v >= 1, "requirement": "1 or more"}

LOSSES: dict[str, tuple[Param, ...]] = {
    "mse": (Param("every_tick", "bool", False),),
    "cross_entropy": (Param("every_tick", "bool", False),),
}

ADAM = (
    Param("lr", "number", 0.001, **POSITIVE),
    Param("beta1", "number", 0.9, **FRACTION),
    Param("beta2", "number", 0.999, **FRACTION),
    Param("eps", "number", 1e-8, **POSITIVE),
)
OPTIMIZERS: dict[str, tuple[Param, ...]] = {
    "sgd": (Param("lr", "number", **POSITIVE), Param("momentum", "number", 0.0, **FRACTION),
            Param("weight_decay", "number", 0.0, **NON_NEGATIVE)),
    "adam": ADAM + (Param("weight_decay", "number", 0.0, **NON_NEGATIVE),),
    # PyTorch's AdamW: the decay decoupled from the gradient, on by default
    "adamw": ADAM + (Param("weight_decay", "number", 0.01, **NON_NEGATIVE),),
}

# Learning-rate schedules (nndl.runtime.learning_rates); `constant` is the same as none.
SCHEDULES: dict[str, tuple[Param, ...]] = {
    "constant": (),
    "cosine": (Param("final_lr", "number", 0.0, **NON_NEGATIVE),),
}

MNIST1D = (Param("seed", "int", None, **NON_NEGATIVE),
           Param("samples", "int", None, check=lambda v: v >= 10, requirement="10 or more"))
# Built-in data sets, as nndl.datasets defines them (a test keeps the two in step). An argument
# left out takes the data set's own default there, so the IR holds only the arguments written.
DATASETS: dict[str, tuple[Param, ...]] = {
    "digits": (),
    "digits_rows": (),
    "xor": (),
    "parity": (Param("n", "int", None, check=lambda v: 1 <= v <= 16, requirement="from 1 to 16"),),
    "mnist1d": MNIST1D,
    "mnist1d_seq": MNIST1D,
}

# The arguments a `learn` gives the built-in rules (their statements: builtin_rules.nndl, whose
# parameters these must name, in its order): what each must be, checked where it is written.
LOCAL_RULES: dict[str, tuple[Param, ...]] = {
    "hebb": (Param("rate", "number", **POSITIVE), Param("decay", "number", 0.0, **NON_NEGATIVE)),
    "oja": (Param("rate", "number", **POSITIVE),),
    "perceptron": (Param("rate", "number", **POSITIVE),),
}

REWIRE_ACTIONS: dict[str, tuple[Param, ...]] = {
    # `below` (an absolute threshold) or `keep` (a fraction of the built synapses, reached
    # at the `over`-th rewiring): one of the two; regimes._check_prune says so
    "prune": (Param("below", "number", None, **NON_NEGATIVE),
              Param("keep", "number", None, check=lambda v: 0 < v <= 1,
                    requirement="in (0, 1]"),
              Param("over", "int", None, **WHOLE_POSITIVE)),
    "grow": (Param("count", "int", **WHOLE_POSITIVE),),
}


def whole(value) -> bool:
    """Whether a constant's value is a finite whole number (booleans are not numbers here)."""
    return isinstance(value, float) and math.isfinite(value) and value == int(value)


def not_this(value) -> str:
    """`, not 2.5` for a message about a wrong number; nothing where the value is not one."""
    return f", not {value:g}" if isinstance(value, float) else ""


def constant(expr: s.Expr) -> float | bool | None:
    """The value of a constant expression (numbers, booleans, arithmetic), or None."""
    if isinstance(expr, s.Number):
        return expr.value
    if isinstance(expr, s.Bool):
        return expr.value
    if isinstance(expr, s.Unary) and expr.op in "+-":
        value = constant(expr.operand)
        if isinstance(value, float):
            return -value if expr.op == "-" else value
    if isinstance(expr, s.Binary) and expr.op in ("+", "-", "*", "/", "**"):
        left, right = constant(expr.left), constant(expr.right)
        if isinstance(left, float) and isinstance(right, float):
            try:
                return {"+": left + right, "-": left - right, "*": left * right,
                        "/": left / right if right else None,
                        "**": left ** right}[expr.op]
            except (OverflowError, ZeroDivisionError, TypeError):
                return None
    return None


def bind(call: s.Call, params: tuple[Param, ...], what: str, diags: Diagnostics) -> dict | None:
    """Match a call's arguments to `params`; report every problem, return the values or None."""
    given, ok = _match(call, params, what, diags)
    values = {}
    for param in params:
        if param.name in given:
            values[param.name] = _convert(param, given[param.name], what, diags)
            ok = ok and values[param.name] is not _BAD
        elif param.default is not REQUIRED:
            values[param.name] = param.default
        else:
            if ok:  # after a misspelt or doubled keyword, "needs" would only repeat that error
                diags.error("bad-argument", f"{what} needs `{param.name}`", call.span,
                            _takes(params))
            ok = False
    return values if ok else None


def argument(call: s.Call, params: tuple[Param, ...], name: str) -> s.Expr | None:
    """The expression a call gives for parameter `name` (by name or by position), or None."""
    for kw in call.kwargs:
        if kw.name.name == name:
            return kw.value
    position = [p.name for p in params].index(name)
    return call.args[position] if position < len(call.args) else None


def _match(call: s.Call, params: tuple[Param, ...], what: str, diags: Diagnostics):
    """The argument given for each parameter, and whether they matched without a problem."""
    ok = True
    if len(call.args) > len(params):
        extra = call.args[len(params)]
        takes = f"takes at most {_count(len(params))}" if params else "takes no arguments"
        diags.error("bad-argument", f"{what} {takes} ({len(call.args)} given)", extra.span)
        ok = False
    names = [p.name for p in params]
    given: dict[str, s.Expr] = dict(zip(names, call.args))
    by_name = set()
    for kw in call.kwargs:
        name = kw.name.name
        if name not in names:
            diags.error("bad-argument", f"{what} has no parameter `{name}`", kw.name.span,
                        suggest(name, names) or _takes(params))
        elif name in given:
            how = "twice" if name in by_name else "both by position and by name"
            diags.error("bad-argument", f"`{name}` of {what} is given {how}", kw.name.span)
        else:
            given[name] = kw.value
            by_name.add(name)
            continue
        ok = False
    return given, ok


def _either(names: tuple[str, ...]) -> str:
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]


def _count(n: int) -> str:
    return f"{n} argument" + "s" * (n != 1)


_BAD = object()


def _takes(params: tuple[Param, ...]) -> str:
    if not params:
        return "it takes no arguments"
    return "it takes " + ", ".join(_signature(p) for p in params)


def _signature(p: Param) -> str:
    if p.default is REQUIRED:
        return p.name
    return f"{p.name} (optional)" if p.default is None else f"{p.name}={_show(p.default)}"


def _show(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else str(value)


def _convert(param: Param, expr: s.Expr, what: str, diags: Diagnostics):
    """One argument's value, checked against its parameter."""
    label = f"`{param.name}` of {what}"
    if param.kind == "expr":
        return expr
    if param.kind == "choice":
        if isinstance(expr, s.Var) and expr.name in param.choices:
            return expr.name
        choices = _either(param.choices)
        if not isinstance(expr, s.Var):
            diags.error("bad-argument", f"{label} must be one of the names {choices}", expr.span)
            return _BAD
        hint = suggest(expr.name, param.choices) or f"choose {choices}"
        diags.error("bad-argument", f"{label} cannot be `{expr.name}`", expr.span, hint)
        return _BAD
    value = constant(expr)
    if param.kind == "bool":
        if isinstance(value, bool):
            return value
        diags.error("bad-argument", f"{label} must be true or false", expr.span)
        return _BAD
    if not isinstance(value, float):
        diags.error("bad-argument", f"{label} must be a number", expr.span)
        return _BAD
    if not math.isfinite(value):
        diags.error("bad-argument", f"{label} must be a finite number", expr.span)
        return _BAD
    if param.kind == "int":
        if value != int(value):
            diags.error("bad-argument", f"{label} must be a whole number, not {value:g}", expr.span)
            return _BAD
        value = int(value)
    if param.check is not None and not param.check(value):
        diags.error("bad-argument", f"{label} must be {param.requirement}, not {value:g}",
                    expr.span)
        return _BAD
    return value
