"""Which neuron models are NIR's LI, I, LIF, IF, CubaLI and CubaLIF, read from their statements.

A model is recognised by what its statements compute, not by its name: each statement is read
as an affine function of the model's variables (parameters are numbers here), so
`v = leak * v + net`, `v = net + v * leak` and `v = 0.9 * v + 1.0 * net` are the same
integrator. The shapes recognised, with NNDL's tick as NIR's forward-Euler step `dt`:

    [i = alpha * i + g_in * net]        a synaptic current (CubaLI, CubaLIF)
    v = a * v + b * (net or i) + c      the membrane
    out = v                             LI / I / CubaLI: the output is the potential
    out = step(v - threshold)           LIF / IF / CubaLIF: a spike when v > threshold ...
    v = reset if out > 0 else v         ... and the potential set to `reset` (any spelling
                                        that is `reset` after a spike and `v` without one)

Euler's step of `tau dv/dt = (v_leak - v) + R I` is `v += dt/tau * (v_leak - v + R I)`, so
a = 1 - dt/tau, b = R dt/tau and c = (1 - a) v_leak: the mapping is exact both ways, and it
is snnTorch's (beta = 1 - dt/tau, R = tau/dt for an input weight of 1). `a = 1` is the pure
integrator I / IF (R = b/dt). `MODELS` holds the NNDL source of each, as the importer writes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from nndl import ir
from nndl.ir import expr as E
from nndl.interchange.errors import ExportError


@dataclass(frozen=True)
class Dynamics:
    """A model's statements read as NIR's dynamics, in NNDL's per-tick numbers."""

    kind: str  # "LI", "I", "LIF", "IF", "CubaLI" or "CubaLIF"
    leak: float  # a: fraction of v kept per tick
    gain: float  # b: what one unit of input (net, or the current i) adds to v
    rest: float  # v_leak (0 for I and IF)
    threshold: float | None = None  # the spiking kinds only
    reset: float | None = None
    syn_leak: float | None = None  # alpha: fraction of the current kept per tick (Cuba*)
    syn_gain: float | None = None  # what one unit of net adds to the current

    def to_nir_params(self, dt: float) -> dict[str, float]:
        """NIR's continuous-time parameters for a tick of `dt` seconds."""
        if self.leak == 1.0:
            params = {"r": self.gain / dt}
        else:
            tau = dt / (1.0 - self.leak)
            params = {"tau": tau, "r": self.gain / (1.0 - self.leak), "v_leak": self.rest}
        if self.syn_leak is not None:
            tau_syn = dt / (1.0 - self.syn_leak)
            params = {"tau_syn": tau_syn, "tau_mem": params.pop("tau"), **params,
                      "w_in": self.syn_gain / (1.0 - self.syn_leak)}
        if self.threshold is not None:
            params |= {"v_threshold": self.threshold, "v_reset": self.reset}
        return params


def dynamics(model: ir.NeuronModel, params: dict[str, float], where: str) -> Dynamics:
    """The NIR dynamics of `model` with `params`, or ExportError saying what does not fit
    (`where` names the group, for the message)."""
    values = dict(model.params) | dict(params)
    statements = [(target, E.from_dict(value)) for target, value in model.statements]
    try:
        return _read(model, values, statements)
    except _NoMatch as e:
        raise ExportError(f"{where}: neuron model `{model.name}` has no NIR counterpart: "
                          f"{e}. NIR holds LI, I, LIF, IF, CubaLI and CubaLIF neurons "
                          "(docs/interchange.md shows the statements that map to each)") from None


class _NoMatch(Exception):
    pass


def _read(model: ir.NeuronModel, values: dict, statements: list) -> Dynamics:
    if model.draws:
        raise _NoMatch("it draws random numbers (rand(), randn()), and NIR's neurons do not")
    states = list(model.states)
    if any(not isinstance(v, (int, float)) or float(v) != 0.0 for v in model.states.values()):
        raise _NoMatch("a state starts at a value other than 0, and NIR's start at 0")
    if len(states) not in (1, 2) or len(statements) not in (2, 3, 4):
        raise _NoMatch(f"it has {len(states)} state variables and {len(statements)} "
                       "statements; NIR's neurons have a potential (and a current) and "
                       "two to four statements")
    syn = None
    if len(states) == 2:
        (current, first), statements = statements[0], statements[1:]
        syn = _linear(first, values, current, "net", f"the current `{current}`")
    (v, update), (out, output), *rest = statements
    if out != "out" or v not in states or (syn and v == current):
        raise _NoMatch("its statements are not `v = ...` then `out = ...`")
    drive = current if syn else "net"
    leak, gain, const = _linear(update, values, v, drive, f"the potential `{v}`")
    threshold = _spike(output, values, v)
    if threshold is None:
        if not _is_just(_affine(output, values), v) or rest:
            raise _NoMatch("its output is neither its potential nor a spike of it")
        kind = "CubaLI" if syn else ("I" if leak == 1.0 else "LI")
        return _dynamics(kind, leak, gain, const, syn)
    if len(rest) != 1 or rest[0][0] != v:
        raise _NoMatch(f"after a spike `{v}` must be set to a reset value (NIR's LIF sets "
                       f"it to v_reset): add `{v} = 0.0 if out > 0 else {v}`")
    reset = _reset(rest[0][1], values, v)
    kind = "CubaLIF" if syn else ("IF" if leak == 1.0 else "LIF")
    return _dynamics(kind, leak, gain, const, syn, threshold, reset)


def _dynamics(kind, leak, gain, const, syn, threshold=None, reset=None) -> Dynamics:
    if leak == 1.0 and const != 0.0:
        raise _NoMatch("an integrator that adds a constant each tick (NIR's I and IF have no "
                       "v_leak)")
    if leak > 1.0:
        raise _NoMatch(f"its potential grows by itself (it keeps {leak:g} of itself per tick; "
                       "a time constant needs at most 1)")
    if syn is not None and syn[0] >= 1.0:
        raise _NoMatch("its current never decays (CubaLIF's tau_syn needs alpha < 1)")
    if syn is not None and (syn[2] != 0.0 or leak == 1.0):
        raise _NoMatch("its current adds a constant, or its potential does not leak")
    rest = 0.0 if leak == 1.0 else const / (1.0 - leak)
    return Dynamics(kind, leak, gain, rest, threshold, reset,
                    *((syn[0], syn[1]) if syn is not None else (None, None)))


def _linear(e: E.Expr, values: dict, own: str, drive: str, what: str):
    """(a, b, c) of `a * own + b * drive + c`, or _NoMatch."""
    form = _affine(e, values)
    if form is None or set(form) - {own, drive, ""}:
        raise _NoMatch(f"{what} is not updated as `a * {own} + b * {drive} + c` "
                       f"(it is {E.render(e)})")
    return form.get(own, 0.0), form.get(drive, 0.0), form.get("", 0.0)


def _spike(e: E.Expr, values: dict, v: str) -> float | None:
    """The threshold of `out = step(v - threshold)` (or `v > threshold` as a number, or
    `1 if v > threshold else 0`); None where the output is no spike of `v`."""
    if isinstance(e, E.IfElse) and _constant(e.then, values) == 1.0 \
            and _constant(e.other, values) == 0.0:
        return _crossing(e.cond, values, v)
    if isinstance(e, E.Unary) and e.op == "num":
        return _crossing(e.operand, values, v)
    if isinstance(e, E.Call) and e.func == "step":
        form = _affine(e.args[0], values)
        if form and set(form) <= {v, ""} and form.get(v, 0.0) > 0.0:
            return -form.get("", 0.0) / form[v]
    return None


def _crossing(cond: E.Expr, values: dict, v: str) -> float | None:
    if isinstance(cond, E.Binary) and cond.op in (">", "<"):
        above, below = (cond.left, cond.right) if cond.op == ">" else (cond.right, cond.left)
        return _spike(E.Call("step", (E.Binary("-", above, below),)), values, v)
    if isinstance(cond, E.Binary) and cond.op in (">=", "<="):
        raise _NoMatch("it fires at `>=` its threshold; NIR's neurons fire strictly above it "
                       "(`>`)")
    return None


def _reset(e: E.Expr, values: dict, v: str) -> float:
    """The value `v` is set to after a spike: `e` must be `v` when out = 0 and a constant
    when out = 1."""
    silent = _affine(e, values | {"out": 0.0})
    fired = _affine(e, values | {"out": 1.0})
    if not _is_just(silent, v):
        raise _NoMatch(f"the statement after the spike changes `{v}` when there is none")
    if fired is None or set(fired) - {""}:
        raise _NoMatch(f"after a spike `{v}` is {E.render(e)}, not a reset value (a reset by "
                       "subtraction has no NIR counterpart: NIR's LIF sets v to v_reset)")
    return fired.get("", 0.0)


def _is_just(form: dict | None, v: str) -> bool:
    """Whether an affine form is the variable `v` itself."""
    return form is not None and {k: c for k, c in form.items() if c != 0.0} == {v: 1.0}


def _constant(e: E.Expr, values: dict) -> float | None:
    form = _affine(e, values)
    return form.get("", 0.0) if form is not None and set(form) <= {""} else None


def _affine(e: E.Expr, values: dict) -> dict[str, float] | None:
    """`e` as {variable: coefficient, "": constant}, reading `values` as numbers; None where
    it is no affine function of the other variables."""
    if isinstance(e, E.Num):
        return {"": float(e.value)}
    if isinstance(e, E.Var):
        return {"": float(values[e.name])} if e.name in values else {e.name: 1.0}
    if isinstance(e, E.Unary) and e.op == "-":
        inner = _affine(e.operand, values)
        return None if inner is None else {k: -c for k, c in inner.items()}
    if isinstance(e, E.Unary) and e.op == "num":
        truth = _truth(e.operand, values)
        return None if truth is None else {"": 1.0 if truth else 0.0}
    if isinstance(e, E.IfElse):
        truth = _truth(e.cond, values)
        return None if truth is None else _affine(e.then if truth else e.other, values)
    if isinstance(e, E.Binary) and e.op in ("+", "-", "*", "/"):
        return _combine(e.op, _affine(e.left, values), _affine(e.right, values))
    return None


def _combine(op: str, left, right):
    if left is None or right is None:
        return None
    if op in "+-":
        sign = 1.0 if op == "+" else -1.0
        out = dict(left)
        for k, c in right.items():
            out[k] = out.get(k, 0.0) + sign * c
        return {k: c for k, c in out.items() if c != 0.0 or k == ""}
    scalar = lambda form: form.get("", 0.0) if set(form) <= {""} else None  # noqa: E731
    if op == "/":
        d = scalar(right)
        return None if not d else {k: c / d for k, c in left.items()}
    a, b = scalar(left), scalar(right)
    if a is None and b is None:
        return None
    factor, form = (a, right) if a is not None else (b, left)
    return {k: factor * c for k, c in form.items() if factor * c != 0.0 or k == ""}


def _truth(e: E.Expr, values: dict) -> bool | None:
    """A condition's value where it reads only numbers, else None."""
    if isinstance(e, E.Bool):
        return e.value
    if isinstance(e, E.Unary) and e.op == "not":
        inner = _truth(e.operand, values)
        return None if inner is None else not inner
    if isinstance(e, E.Binary) and e.op in E.COMPARISONS:
        a, b = _constant(e.left, values), _constant(e.right, values)
        if a is None or b is None:
            return None
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b,
                "!=": a != b}[e.op]
    if isinstance(e, E.Binary) and e.op in E.LOGICAL:
        a, b = _truth(e.left, values), _truth(e.right, values)
        if a is None or b is None:
            return None
        return (a and b) if e.op == "and" else (a or b)
    return None


# The models the importer writes, one per NIR neuron: NNDL's reading of NIR's equations for a
# tick of dt (the comment in each file gives dt). Their statements are those `dynamics` reads.
MODELS = {
    "LI": ("leaky_integrator", ("leak", "gain", "rest"), ("v",), (
        "v   = leak * v + (1 - leak) * rest + gain * net",
        "out = v")),
    "I": ("integrator", ("gain",), ("v",), (
        "v   = v + gain * net",
        "out = v")),
    "LIF": ("lif", ("leak", "gain", "rest", "threshold", "reset"), ("v",), (
        "v   = leak * v + (1 - leak) * rest + gain * net",
        "out = step(v - threshold)             # a spike when v > threshold",
        "v   = reset if out > 0 else v")),
    "IF": ("integrate_and_fire", ("gain", "threshold", "reset"), ("v",), (
        "v   = v + gain * net",
        "out = step(v - threshold)             # a spike when v > threshold",
        "v   = reset if out > 0 else v")),
    "CubaLI": ("cuba_li", ("syn_leak", "syn_gain", "leak", "gain", "rest"), ("i", "v"), (
        "i   = syn_leak * i + syn_gain * net   # the synaptic current",
        "v   = leak * v + (1 - leak) * rest + gain * i",
        "out = v")),
    "CubaLIF": ("cuba_lif", ("syn_leak", "syn_gain", "leak", "gain", "rest", "threshold",
                             "reset"), ("i", "v"), (
        "i   = syn_leak * i + syn_gain * net   # the synaptic current",
        "v   = leak * v + (1 - leak) * rest + gain * i",
        "out = step(v - threshold)             # a spike when v > threshold",
        "v   = reset if out > 0 else v")),
}

# What each parameter of MODELS means in NIR's terms (for the comments the importer writes).
MEANING = {"leak": "1 - dt/tau", "gain": "r * dt/tau (r * dt for I and IF)",
           "rest": "v_leak", "threshold": "v_threshold", "reset": "v_reset",
           "syn_leak": "1 - dt/tau_syn", "syn_gain": "w_in * dt/tau_syn"}


def model_source(kind: str, dt: float) -> str:
    """The `neuron` block the importer writes for NIR's `kind`."""
    name, params, states, statements = MODELS[kind]
    lines = [f"# NIR's {kind}, one tick = one forward-Euler step of dt = {dt:g} s",
             f"neuron {name} {{"]
    lines += [f"    {f'param {p} = {_DEFAULTS[p]}':<26}# {MEANING[p]}" for p in params]
    lines += [f"    state {s} = 0.0" for s in states]
    lines += [f"    {s}" for s in statements]
    return "\n".join(lines + ["}"])


_DEFAULTS = {"leak": 0.9, "gain": 1.0, "rest": 0.0, "threshold": 1.0, "reset": 0.0,
             "syn_leak": 0.8, "syn_gain": 1.0}


def model_params(d: Dynamics) -> dict[str, float]:
    """The arguments of MODELS[d.kind] that give `d`."""
    values = {"leak": d.leak, "gain": d.gain, "rest": d.rest, "threshold": d.threshold,
              "reset": d.reset, "syn_leak": d.syn_leak, "syn_gain": d.syn_gain}
    return {p: values[p] for p in MODELS[d.kind][1]}


def from_nir_params(kind: str, node: dict[str, float], dt: float) -> Dynamics:
    """NIR's parameters (one value each) as NNDL's per-tick numbers: `to_nir_params`'s
    inverse."""
    if kind in ("I", "IF"):
        leak, gain, rest = 1.0, node["r"] * dt, 0.0
    else:
        tau = node["tau_mem"] if kind.startswith("Cuba") else node["tau"]
        leak, gain, rest = 1.0 - dt / tau, node["r"] * dt / tau, node["v_leak"]
    syn_leak = syn_gain = None
    if kind.startswith("Cuba"):
        syn_leak = 1.0 - dt / node["tau_syn"]
        syn_gain = node["w_in"] * dt / node["tau_syn"]
    threshold = node.get("v_threshold")
    reset = node.get("v_reset", 0.0) if threshold is not None else None
    return Dynamics(kind, leak, gain, rest, threshold, reset, syn_leak, syn_gain)
