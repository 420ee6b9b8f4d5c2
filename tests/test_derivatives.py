"""Symbolic derivatives of the expression IR (nndl.ir.derivatives) against central differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nndl.ir import expr as e
from nndl.ir.derivatives import SLOPE, derivative
from nndl.runtime.evaluate import evaluate

X, Y = e.Var("x"), e.Var("y")
SMOOTH = ["exp", "tanh", "sigmoid"]


def value(node, x, y):
    with np.errstate(all="ignore"):
        return np.asarray(evaluate(node, {"x": x, "y": y}), dtype=float)


def central(node, var, x, y, h=1e-6):
    if var == "x":
        return (value(node, x + h, y) - value(node, x - h, y)) / (2 * h)
    return (value(node, x, y + h) - value(node, x, y - h)) / (2 * h)


@st.composite
def smooth_expressions(draw, depth=3):
    """Expressions differentiable everywhere on the sampled points (no jumps, no kinks)."""
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from([X, Y, e.Num(draw(st.floats(-2, 2).map(lambda v: round(
            v, 3))))]))
    kind = draw(st.sampled_from(["+", "-", "*", "/", "**", "call", "neg", "log", "sqrt"]))
    a = draw(smooth_expressions(depth - 1))
    if kind == "neg":
        return e.Unary("-", a)
    if kind == "call":
        return e.Call(draw(st.sampled_from(SMOOTH)), (a,))
    if kind in ("log", "sqrt"):  # kept away from 0: positive arguments
        return e.Call(kind, (e.Binary("+", e.Call("exp", (a,)), e.Num(0.5)),))
    b = draw(smooth_expressions(depth - 1))
    if kind == "/":  # a denominator kept away from 0
        b = e.Binary("+", e.Call("exp", (b,)), e.Num(0.5))
    if kind == "**":  # a positive base, any exponent
        return e.Binary("**", e.Call("sigmoid", (a,)), e.Binary("*", e.Num(0.5), b))
    return e.Binary(kind, a, b)


@settings(max_examples=150, deadline=None)
@given(node=smooth_expressions(), var=st.sampled_from(["x", "y"]))
def test_derivatives_of_smooth_expressions_match_central_differences(node, var):
    node = e.as_num(node)
    d = derivative(node, var)
    points = np.random.default_rng(0).uniform(-1.5, 1.5, size=(2, 16))
    exact = value(d, *points) * np.ones(16)
    numeric = central(node, var, *points) * np.ones(16)  # constants evaluate to one number
    finite = np.isfinite(numeric) & (np.abs(value(node, *points)) < 1e6)
    np.testing.assert_allclose(exact[finite], numeric[finite], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("func, args, away_from", [
    ("abs", (X,), 0.0), ("relu", (X,), 0.0), ("min", (X, Y), None), ("max", (X, Y), None),
    ("clip", (X, e.Num(-0.5), e.Num(0.5)), 0.5),
])
def test_kinked_functions_away_from_their_kinks(func, args, away_from):
    node = e.Call(func, args)
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-2, 2, 200), rng.uniform(-2, 2, 200)
    keep = np.abs(x - y) > 1e-3
    if away_from is not None:
        keep &= (np.abs(np.abs(x) - away_from) > 1e-3) & (np.abs(x) > 1e-3)
    for var in ("x", "y"):
        exact = value(derivative(node, var), x, y) * np.ones_like(x)
        np.testing.assert_allclose(exact[keep], central(node, var, x, y)[keep], atol=1e-6)


def test_modulo_and_floor():
    node = e.Binary("%", e.Binary("*", e.Num(3.0), X), e.Num(0.7))
    x = np.array([0.05, 0.4, 1.3])
    assert np.allclose(value(derivative(node, "x"), x, x), 3.0)
    assert derivative(e.Call("floor", (X,)), "x") == e.Num(0.0)


def test_step_and_comparisons_use_a_steep_sigmoid_surrogate():
    s = 1 / (1 + np.exp(-SLOPE * 0.1))
    surrogate = SLOPE * s * (1 - s)
    step = derivative(e.Call("step", (e.Binary("-", X, e.Num(1.0)),)), "x")
    assert value(step, 1.1, 0.0) == pytest.approx(surrogate)
    spike = e.as_num(e.IfElse(e.Binary(">", X, e.Num(1.0)), e.Num(1.0), e.Num(0.0)))
    assert value(derivative(spike, "x"), 1.1, 0.0) == pytest.approx(surrogate)
    compare = e.as_num(e.Binary("<", Y, X))  # 1 when y < x: rises with x, falls with y
    assert value(derivative(compare, "x"), 0.1, 0.0) == pytest.approx(surrogate)
    assert value(derivative(compare, "y"), 0.1, 0.0) == pytest.approx(-surrogate)


def test_derivatives_stay_readable():
    node = e.Binary("+", e.Binary("*", e.Num(0.8), X), Y)  # 0.8 * x + y
    assert derivative(node, "x") == e.Num(0.8)
    assert derivative(node, "y") == e.Num(1.0)
    assert derivative(node, "z") == e.Num(0.0)
    assert e.render(derivative(e.Call("tanh", (X,)), "x")) == "1 - (tanh(x) * tanh(x))"


def test_the_bursting_model_differentiates_through_its_statement():
    # v = leak * v + net - a: dv/dv = leak, dv/dnet = 1, dv/da = -1
    v = e.Binary("-", e.Binary("+", e.Binary("*", e.Var("leak"), e.Var("v")), e.Var("net")),
                 e.Var("a"))
    assert derivative(v, "v") == e.Var("leak")
    assert derivative(v, "net") == e.Num(1.0)
    assert derivative(v, "a") == e.Num(-1.0)
