"""Symbolic derivatives of the expression IR: one pass that every backend's gradients use.

`derivative(node, var)` returns d node / d var as expression IR (typed: see nndl.ir.expr.typed),
simplified so that generated code stays readable. Where a function has no useful derivative —
`step`, comparisons used as numbers, the switch of a conditional — the derivative is that of a
steep sigmoid standing in for the jump (a "surrogate"), as spiking-network trainers do:
d step(x) = SLOPE * sigmoid(SLOPE * x) * (1 - sigmoid(SLOPE * x)). `floor`, `ceil` and the
integer part of `%` have derivative 0, and so has a random draw (`rand()`, `randn()`): it
depends on no variable, only on its key and counter.
"""

from __future__ import annotations

from nndl.ir import expr as e

SLOPE = 10.0  # steepness of the surrogate sigmoid

ZERO, ONE, MINUS_ONE = e.Num(0.0), e.Num(1.0), e.Num(-1.0)


def derivative(node: e.Expr, var: str) -> e.Expr:
    """d node / d var, for a typed numeric expression."""
    return simplify(_d(node, var))


def _d(node: e.Expr, var: str) -> e.Expr:
    if isinstance(node, (e.Num, e.Bool, e.Draw)):
        return ZERO
    if isinstance(node, e.Var):
        return ONE if node.name == var else ZERO
    if isinstance(node, e.Unary):
        if node.op == "num":  # a truth value as 1 or 0: its surrogate's slope
            smooth = soft(node.operand)
            return ZERO if smooth == node else _d(smooth, var)  # `==` has no smooth stand-in
        return e.Unary("-", _d(node.operand, var))
    if isinstance(node, e.Binary):
        return _binary(node, var)
    if isinstance(node, e.Call):
        return _call(node, var)
    # the taken branch's derivative, plus the surrogate slope of the switch between them
    return add(e.IfElse(node.cond, _d(node.then, var), _d(node.other, var)),
               mul(_d(soft(node.cond), var), sub(node.then, node.other)))


def _binary(node: e.Binary, var: str) -> e.Expr:
    a, b = node.left, node.right
    da, db = _d(a, var), _d(b, var)
    if node.op == "+":
        return add(da, db)
    if node.op == "-":
        return sub(da, db)
    if node.op == "*":
        return add(mul(da, b), mul(a, db))
    if node.op == "/":
        return sub(div(da, b), div(mul(a, db), mul(b, b)))
    if node.op == "%":  # a - b * floor(a / b), and floor has slope 0
        return sub(da, mul(e.Call("floor", (div(a, b),)), db))
    if node.op == "**":  # a**b = exp(b log a): b a**(b-1) da + a**b log(a) db
        power = mul(mul(b, e.Binary("**", a, sub(b, ONE))), da)
        if db == ZERO:
            return power
        return add(power, mul(mul(node, e.Call("log", (a,))), db))
    raise ValueError(f"`{node.op}` gives a truth value, not a number")


def _call(node: e.Call, var: str) -> e.Expr:
    x = node.args[0]
    dx = _d(x, var)
    name = node.func
    if name in ("min", "max"):
        a, b = node.args
        pick_a = e.Binary("<=" if name == "min" else ">=", a, b)
        return e.IfElse(pick_a, _d(a, var), _d(b, var))
    if name == "clip":
        _, low, high = node.args
        inside = e.IfElse(e.Binary("<", x, low), _d(low, var),
                          e.IfElse(e.Binary(">", x, high), _d(high, var), dx))
        return inside
    slope = {
        "abs": lambda: sub(e.Unary("num", e.Binary(">", x, ZERO)),
                           e.Unary("num", e.Binary("<", x, ZERO))),
        "exp": lambda: node,
        "log": lambda: div(ONE, x),
        "sqrt": lambda: div(e.Num(0.5), node),
        "floor": lambda: ZERO,
        "ceil": lambda: ZERO,
        "tanh": lambda: sub(ONE, mul(node, node)),
        "sigmoid": lambda: mul(node, sub(ONE, node)),
        "relu": lambda: e.Unary("num", e.Binary(">", x, ZERO)),
        "step": lambda: surrogate_slope(x),
    }[name]()
    return mul(slope, dx)


def soft(cond: e.Expr) -> e.Expr:
    """A smooth stand-in for a truth value (1 or 0), used only for its derivative."""
    if isinstance(cond, e.Bool):
        return ONE if cond.value else ZERO
    if isinstance(cond, e.Unary) and cond.op == "not":
        return sub(ONE, soft(cond.operand))
    if isinstance(cond, e.Binary) and cond.op in ("<", "<="):
        return _smooth_step(sub(cond.right, cond.left))
    if isinstance(cond, e.Binary) and cond.op in (">", ">="):
        return _smooth_step(sub(cond.left, cond.right))
    if isinstance(cond, e.Binary) and cond.op == "and":
        return mul(soft(cond.left), soft(cond.right))
    if isinstance(cond, e.Binary) and cond.op == "or":
        a, b = soft(cond.left), soft(cond.right)
        return sub(add(a, b), mul(a, b))
    return e.Unary("num", cond)  # `==`, `!=`: no useful slope; its derivative is 0


def _smooth_step(x: e.Expr) -> e.Expr:
    return e.Call("sigmoid", (mul(e.Num(SLOPE), x),))


def surrogate_slope(x: e.Expr) -> e.Expr:
    """d step(x), as the slope of the steep sigmoid that stands in for it."""
    s = _smooth_step(x)
    return mul(e.Num(SLOPE), mul(s, sub(ONE, s)))


# ---- building and simplifying: keep generated derivative code short -----------------------


def add(a: e.Expr, b: e.Expr) -> e.Expr:
    if a == ZERO:
        return b
    if isinstance(b, e.Unary) and b.op == "-":
        return sub(a, b.operand)
    return a if b == ZERO else e.Binary("+", a, b)


def sub(a: e.Expr, b: e.Expr) -> e.Expr:
    if b == ZERO:
        return a
    return e.Unary("-", b) if a == ZERO else e.Binary("-", a, b)


def mul(a: e.Expr, b: e.Expr) -> e.Expr:
    if ZERO in (a, b):
        return ZERO
    if a == ONE:
        return b
    if MINUS_ONE in (a, b):
        return e.Unary("-", b if a == MINUS_ONE else a)
    return a if b == ONE else e.Binary("*", a, b)


def div(a: e.Expr, b: e.Expr) -> e.Expr:
    if a == ZERO:
        return ZERO
    return a if b == ONE else e.Binary("/", a, b)


def simplify(node: e.Expr) -> e.Expr:
    """Fold constants and drop zero terms, bottom up."""
    if isinstance(node, e.Unary):
        operand = simplify(node.operand)
        if node.op == "-" and isinstance(operand, e.Num):
            return e.Num(-operand.value)
        if node.op == "-" and isinstance(operand, e.Unary) and operand.op == "-":
            return operand.operand
        return e.Unary(node.op, operand)
    if isinstance(node, e.Binary):
        a, b = simplify(node.left), simplify(node.right)
        if isinstance(a, e.Num) and isinstance(b, e.Num) and node.op in "+-*":
            return e.Num({"+": a.value + b.value, "-": a.value - b.value,
                          "*": a.value * b.value}[node.op])
        build = {"+": add, "-": sub, "*": mul, "/": div}.get(node.op)
        return build(a, b) if build else e.Binary(node.op, a, b)
    if isinstance(node, e.IfElse):
        then, other = simplify(node.then), simplify(node.other)
        return then if then == other else e.IfElse(node.cond, then, other)
    if isinstance(node, e.Call):
        return e.Call(node.func, tuple(simplify(a) for a in node.args))
    return node
