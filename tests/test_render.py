"""The expression IR and its renderers: types, precedence, and one model text in two backends."""

import math

import numpy as np
import pytest

from nndl.backends.oo.ops import MATH

from nndl.ir import expr as e
from nndl.backends.render import NumpyArrays, ScalarPython, identifiers

A, B, C = e.Var("a"), e.Var("b"), e.Var("c")
NAMES = {"a": "a", "b": "b", "c": "c", "net": "net"}


def scalar(node):
    return ScalarPython(NAMES).render(e.as_num(node))


@pytest.mark.parametrize("node, text", [
    (e.Binary("-", A, e.Binary("-", B, C)), "a - (b - c)"),
    (e.Binary("-", e.Binary("-", A, B), C), "a - b - c"),
    (e.Binary("*", e.Binary("+", A, B), C), "(a + b) * c"),
    (e.Unary("-", e.Binary("**", A, e.Num(2))), "-power(a, 2.0)"),
    (e.IfElse(e.Binary("<", A, B), C, e.Num(1)), "c if a < b else 1.0"),
    (e.Binary("<", A, B), "float(a < b)"),                       # a truth value as a number
    (e.IfElse(A, B, C), "b if a != 0.0 else c"),                 # a number as a truth value
    (e.Binary("+", e.Binary("<", A, B), C), "float(a < b) + c"),
])
def test_scalar_rendering(node, text):
    assert scalar(node) == text


def test_rendered_scalar_and_numpy_agree_with_python():
    node = e.IfElse(e.Binary("and", e.Binary(">", A, e.Num(0.5)), e.Unary("not", e.Binary(
        "==", B, e.Num(0)))), e.Call("clip", (e.Binary("%", A, e.Num(0.3)), e.Num(0.0),
                                               e.Num(0.2))), e.Call("sqrt", (e.Call("abs", (C,)),)))
    scalar_text = ScalarPython(NAMES).render(e.as_num(node))
    array_text = NumpyArrays(NAMES).render(e.as_num(node))
    rng = np.random.default_rng(0)
    a, b, c = rng.uniform(0, 1, 20), rng.integers(0, 2, 20).astype(float), rng.normal(size=20)
    net = np.zeros(20)
    vectorised = eval(array_text, {"np": np, "net": net, "a": a, "b": b, "c": c})
    helpers = {"math": math}
    for source in MATH.values():  # what a generated OO module defines for its models' math
        exec(source, helpers)
    for i in range(20):
        one = eval(scalar_text, {**helpers, "a": a[i], "b": b[i], "c": c[i]})
        expected = min(max(a[i] % 0.3, 0.0), 0.2) if a[i] > 0.5 and b[i] != 0 \
            else math.sqrt(abs(c[i]))
        assert one == pytest.approx(expected, rel=1e-15)
        assert vectorised[i] == pytest.approx(expected, rel=1e-15)


def test_numpy_truth_values_keep_the_network_dtype():
    text = NumpyArrays(NAMES).render(e.as_num(e.Binary("<", A, B)))
    net = np.zeros(3, dtype=np.float32)
    value = eval(text, {"np": np, "net": net, "a": np.ones(3, np.float32), "b": np.zeros(3)})
    assert value.dtype == np.float32


def test_identifiers_avoid_keywords_builtins_and_generated_names():
    names = identifiers(["v", "class", "sum", "np", "sigmoid", "np_", "lambda"])
    assert names["v"] == "v" and names["np_"] == "np_"
    assert names["class"] == "class_" and names["lambda"] == "lambda_"
    assert names["sum"] == "sum_" and names["sigmoid"] == "sigmoid_"
    assert names["np"] == "np__"  # `np_` is the user's own name already
    assert len(set(names.values())) == len(names)


def test_expression_dicts_round_trip():
    node = e.IfElse(e.Binary("<", A, e.Num(1.5)), e.Call("max", (A, B)), e.Unary("-", C))
    assert e.from_dict(e.to_dict(node)) == node
    assert e.render(node) == "max(a, b) if (a < 1.5) else -c"


def _numpy_model(statements, states=("v",), params=("threshold",)):
    """A model's NumPy function (source, callable) from (target, expression) pairs."""
    from nndl import ir
    from nndl.backends.render import model_function

    model = ir.NeuronModel(name="m", params={p: 1.0 for p in params},
                           states={s: 0.0 for s in states},
                           statements=tuple((t, e.to_dict(x)) for t, x in statements),
                           source="test")
    source = model_function(model, NumpyArrays)
    scope = {"np": np}
    exec(compile(source, "<model>", "exec"), scope)
    return source, scope["model_m"]


V, NET, OUT, T = e.Var("v"), e.Var("net"), e.Var("out"), e.Var("threshold")
RESET = ("v", e.IfElse(e.Binary(">", OUT, e.Num(0.5)), e.Num(0.0), V))


def test_a_reset_writes_into_the_models_own_array_only():
    """`v = 0.0 if C else v` changes v in place (np.copyto) where v holds an array the function
    made; never an argument (a state the network keeps), nor an array held under two names."""
    spike = ("out", e.IfElse(e.Binary(">=", V, T), e.Num(1.0), e.Num(0.0)))
    source, model = _numpy_model([("v", e.Binary("+", V, NET)), spike, RESET])
    # `out > 0.5` reads the spikes' truth values, kept: no second comparison
    assert "spiked = v >= threshold" in source and "out = spiked.astype(net.dtype)" in source
    assert "np.copyto(v, 0.0, where=spiked)" in source and "np.where" not in source
    net = np.array([[0.5, 2.0, 0.0]], dtype=np.float32)
    v0 = np.array([[0.2, 0.1, 1.5]], dtype=np.float32)
    kept = v0.copy()
    out, v = model(net, np.zeros_like(net), v0, 1.0)
    np.testing.assert_array_equal(v0, kept)  # the argument is untouched
    assert v.dtype == np.float32 and v.tolist() == [[0.699999988079071, 0.0, 0.0]]
    assert out.tolist() == [[0.0, 1.0, 1.0]]
    # the state as it came in: a new array
    source, _ = _numpy_model([("out", e.IfElse(e.Binary(">=", V, T), e.Num(1.0), e.Num(0.0))),
                              RESET])
    assert "np.copyto" not in source and "v = np.where(" in source
    # `out = v` makes the two names one array: changing v would change out
    source, model = _numpy_model([("v", e.Binary("+", V, NET)), ("out", V), RESET])
    assert "np.copyto" not in source
    out, v = model(net, np.zeros_like(net), v0, 1.0)
    assert out.tolist() != v.tolist()
    # from parameters alone: made for every sample and neuron (np.full_like), so its own
    source, model = _numpy_model([("v", e.Binary("*", T, e.Num(2.0))), RESET])
    assert "np.copyto" in source
    out = np.array([[1.0, 0.0, 1.0]], dtype=np.float32)
    assert model(net, out, v0, np.array([1.0, 2.0, 3.0], np.float32))[1].tolist() == \
        [[0.0, 4.0, 0.0]]
    # the other way round: the kept branch first
    keep = ("v", e.IfElse(e.Binary("<=", OUT, e.Num(0.5)), V, e.Num(-1.0)))
    source, model = _numpy_model([("v", e.Binary("+", V, NET)), spike, keep])
    assert "np.copyto(v, -1.0, where=spiked)" in source
    assert model(net, np.zeros_like(net), v0, 1.0)[1].tolist() == [[0.699999988079071, -1.0,
                                                                    -1.0]]


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!="])
@pytest.mark.parametrize("c", [-0.5, 0.0, 0.3, 0.5, 1.0, 1.5])
@pytest.mark.parametrize("mirrored", [False, True])
def test_a_spikes_comparisons_read_its_truth_values(op, c, mirrored):
    """`out OP c` (or `c OP out`) after `out = 1.0 if C else 0.0`: C itself, its negation, or
    (where the answer is the same for 0 and 1) the comparison as written; the same numbers."""
    spike = ("out", e.IfElse(e.Binary(">=", V, T), e.Num(1.0), e.Num(0.0)))
    test = e.Binary(op, e.Num(c), OUT) if mirrored else e.Binary(op, OUT, e.Num(c))
    use = ("v", e.IfElse(test, e.Num(2.0), e.Binary("-", V, e.Num(1.0))))
    source, model = _numpy_model([("v", e.Binary("+", V, NET)), spike, use])
    net = np.array([[0.5, 2.0, 0.0, 1.0]])
    v0 = np.array([[0.2, 0.1, 1.5, -3.0]])
    out, v = model(net, np.zeros_like(net), v0, 1.0)
    spikes = (v0 + net >= 1.0).astype(float)
    compare = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
               "==": np.equal, "!=": np.not_equal}[op]
    holds = compare(c, spikes) if mirrored else compare(spikes, c)
    np.testing.assert_array_equal(out, spikes)
    np.testing.assert_array_equal(v, np.where(holds, 2.0, v0 + net - 1.0))
    if np.all(holds == holds[0, 0]):  # the same for 0 and 1: no truth value to read
        assert "spiked)" not in source.split("astype")[-1]


def test_a_spiking_models_numpy_function_returns_its_spikes_indices():
    """model_function(..., indices=True): a model that spikes also returns `fired`, the flat
    indices spike_indices finds in its output; one that does not spike, just (out, *states)."""
    from nndl import ir
    from nndl.backends.render import model_function
    from nndl.runtime.layout import spike_indices

    def function(statements):
        model = ir.NeuronModel(name="m", params={"threshold": 1.0}, states={"v": 0.0},
                               statements=tuple((t, e.to_dict(x)) for t, x in statements),
                               source="test")
        source = model_function(model, NumpyArrays, indices=True)
        scope = {"np": np, "spike_indices": spike_indices}
        exec(compile(source, "<m>", "exec"), scope)
        return source, scope["model_m"]

    net = np.array([[0.5, 2.0, 0.0], [1.0, 0.0, 3.0]])
    v0 = np.zeros_like(net)
    spike = ("out", e.IfElse(e.Binary(">=", V, T), e.Num(1.0), e.Num(0.0)))
    number = ("out", e.Unary("num", e.Binary(">=", V, T)))  # 0/1, no truth value kept
    for out_statement, reset in ((spike, "v.put(fired, 0.0)"),  # the spikes alone
                                 (number, "np.copyto(v, 0.0, where=out > 0.5)")):
        source, model = function([("v", e.Binary("+", V, NET)), out_statement, RESET])
        assert reset in source
        out, v, fired = model(net, np.zeros_like(net), v0, 1.0)
        np.testing.assert_array_equal(fired, spike_indices(out))
        assert fired.tolist() == [1, 3, 5] and v.tolist() == [[0.5, 0.0, 0.0], [0.0, 0.0, 0.0]]
    _, model = function([("v", e.Binary("+", V, NET)), ("out", V)])  # not a spike: as before
    assert len(model(net, np.zeros_like(net), v0, 1.0)) == 2


def test_sums_of_a_new_array_are_computed_in_place():
    """`v = floor(0.5 * v) + net - 1` makes one array and adds into it, in the same order (the
    same numbers); not where a later operand reads v (it would read the new array), nor where
    the first operand may be an argument itself."""
    half = e.Call("floor", (e.Binary("*", e.Num(0.5), V),))
    chain = ("v", e.Binary("-", e.Binary("+", half, NET), e.Num(1.0)))
    source, model = _numpy_model([chain, ("out", V)])
    assert "    v = np.floor(0.5 * v)\n    v += net\n    v -= 1.0\n" in source
    net = np.array([[0.25, 2.0, -3.0]], dtype=np.float32)
    v0 = np.array([[3.0, -1.5, 0.7]], dtype=np.float32)
    kept = v0.copy()
    out, v = model(net, np.zeros_like(net), v0, 1.0)
    np.testing.assert_array_equal(v0, kept)  # the argument is untouched
    assert v.dtype == np.float32 and v.tolist() == (np.floor(0.5 * kept) + net - 1.0).tolist()
    reads = ("v", e.Binary("+", half, V))  # the old v on the right
    source, model = _numpy_model([reads, ("out", V)])
    assert "v = np.floor(0.5 * v) + v" in source
    assert model(net, np.zeros_like(net), v0, 1.0)[1].tolist() == \
        (np.floor(0.5 * kept) + kept).tolist()
    source, _ = _numpy_model([("v", e.Binary("+", V, NET)), ("out", V)])  # v: an argument
    assert "v = v + net" in source
