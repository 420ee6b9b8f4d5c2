"""Conformance: every backend computes what DESIGN.md's Semantics says, checked against values
worked out here with plain NumPy (never just one backend against another)."""

from __future__ import annotations

import warnings
import zlib

import numpy as np
import pytest
from conftest import BACKENDS


def make(compile_text, text, backend, **options):
    return compile_text(text, backend).Network(**options)


def dense(params: dict, name: str, n_post: int, n_pre: int) -> np.ndarray:
    """A projection's (post, pre) weight matrix from the weight-file arrays."""
    w = np.zeros((n_post, n_pre))
    w[params[f"{name}.post"], params[f"{name}.pre"]] = params[f"{name}.w"]
    return w


def stream(seed: int, name: str) -> np.random.Generator:
    """DESIGN.md, Determinism: each projection draws from its own stream."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))  # 1 / (1 + e^-x), by a route unlike the backends' own


# ---- a network worked out by hand ----------------------------------------------------------

HAND = """
network hand {
    input  x[3]
    group  h[2]  : tanh bias 0.5
    output y[2]  : identity bias -0.25
    connect x -> h : full weight constant(0.5)
    connect h -> y : full weight constant(-2.0)
}
"""


def test_constant_weights_and_biases_by_hand(compile_text, backend):
    net = make(compile_text, HAND, backend, dtype="float64")
    x = np.array([[1.0, 2.0, -4.0], [0.0, 0.0, 0.0], [3.0, -1.5, 0.25]])
    h = np.tanh(0.5 + 0.5 * x.sum(axis=1, keepdims=True)) * np.ones((1, 2))
    y = -0.25 - 2.0 * h.sum(axis=1, keepdims=True) * np.ones((1, 2))
    np.testing.assert_allclose(net.run(x=x)["y"], y, rtol=1e-13, atol=1e-15)
    assert net.run(x=x[:1])["y"][0, 0] == pytest.approx(-0.25 - 4.0 * np.tanh(0.5 + 0.5 * -1.0))


def test_parameters_hold_the_declared_values(compile_text, backend):
    params = make(compile_text, HAND, backend, dtype="float64").parameters()
    assert sorted(params) == sorted(["x->h.pre", "x->h.post", "x->h.w", "h->y.pre", "h->y.post",
                                     "h->y.w", "h.bias", "y.bias"])
    np.testing.assert_array_equal(params["x->h.pre"], [0, 1, 2, 0, 1, 2])
    np.testing.assert_array_equal(params["x->h.post"], [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(params["x->h.w"], np.full(6, 0.5))
    np.testing.assert_array_equal(params["h->y.w"], np.full(4, -2.0))
    np.testing.assert_array_equal(params["h.bias"], [0.5, 0.5])
    np.testing.assert_array_equal(params["y.bias"], [-0.25, -0.25])
    assert params["x->h.pre"].dtype == np.int64 and params["x->h.post"].dtype == np.int64


# ---- activations ---------------------------------------------------------------------------

POINTS = np.array([-1000.0, -30.0, -3.0, -0.5, 0.0, 0.5, 3.0, 30.0, 1000.0])

EXPECTED = {
    "identity": lambda x: x,
    "relu": lambda x: np.where(x > 0, x, 0.0),
    "leaky_relu(slope=0.1)": lambda x: np.where(x > 0, x, 0.1 * x),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),  # the default slope
    "tanh": np.tanh,
    "sigmoid": sigmoid,
    "softplus": lambda x: np.logaddexp(0.0, x),
    "step": lambda x: (x > 0).astype(float),
}


def activation_network(activation: str, n: int) -> str:
    return f"""
network act {{
    input  x[{n}]
    output y[{n}] : {activation} bias none
    connect x -> y : one_to_one weight constant(1.0)
}}
"""


def run_strictly(net, **inputs):
    """Run with every warning an error and floating-point overflow or NaN raising."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            return net.run(**inputs)


@pytest.mark.parametrize("activation", list(EXPECTED))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_activation_values_including_extremes(compile_text, backend, activation, dtype):
    net = make(compile_text, activation_network(activation, POINTS.size), backend, dtype=dtype)
    x = np.stack([POINTS, -POINTS])
    y = run_strictly(net, x=x)["y"]
    assert y.dtype == np.dtype(dtype)
    assert np.isfinite(y).all()
    tolerance = 1e-12 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(y, EXPECTED[activation](x), rtol=tolerance, atol=1e-300)


def test_activations_saturate_exactly_at_extremes(compile_text, backend):
    for activation, low, high in [("sigmoid", 0.0, 1.0), ("tanh", -1.0, 1.0),
                                  ("softplus", 0.0, 1000.0), ("step", 0.0, 1.0)]:
        net = make(compile_text, activation_network(activation, 2), backend, dtype="float64")
        y = run_strictly(net, x=np.array([[-1000.0, 1000.0]]))["y"]
        np.testing.assert_array_equal(y, [[low, high]], err_msg=activation)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_sums_to_one_and_matches_direct_formula(compile_text, backend, dtype):
    net = make(compile_text, activation_network("softmax", 5), backend, dtype=dtype)
    x = np.array([[0.0, 1.0, 2.0, -1.0, 0.5],
                  [1000.0, 1000.0, -1000.0, 0.0, 1000.0],
                  [-1000.0, -1000.0, -1000.0, -1000.0, -1000.0]])
    y = run_strictly(net, x=x)["y"]
    assert y.dtype == np.dtype(dtype)
    tolerance = 1e-13 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=tolerance)
    direct = np.exp(x[0]) / np.exp(x[0]).sum()
    np.testing.assert_allclose(y[0], direct, rtol=tolerance)
    np.testing.assert_allclose(y[1], [1 / 3, 1 / 3, 0.0, 0.0, 1 / 3], rtol=tolerance, atol=1e-300)
    np.testing.assert_allclose(y[2], np.full(5, 0.2), rtol=tolerance)


def test_softmax_normalises_over_the_whole_group_not_one_axis(compile_text, backend):
    text = """
network soft {
    input  x[2, 3]
    output y[2, 3] : softmax bias none
    connect x -> y : one_to_one weight constant(1.0)
}
"""
    net = make(compile_text, text, backend, dtype="float64")
    x = np.arange(6.0).reshape(1, 2, 3)
    y = net.run(x=x)["y"]
    assert y.shape == (1, 2, 3)
    np.testing.assert_allclose(y, np.exp(x) / np.exp(x).sum(), rtol=1e-13)


# ---- biases and groups without inputs ------------------------------------------------------

BIASES = """
network biases {
    input  x[2]
    group  free[3] : sigmoid bias 2.0          # no incoming connections: bias only
    output y[2]    : identity bias none
    output z[2]    : tanh bias 0.5             # an output with nothing coming in
    output v[2]    : identity                  # the default bias, 0
    output k[2]    : identity bias 1.5         # its bias, passed on unchanged
    connect x    -> y : full weight constant(1.0)
    connect free -> y : full weight constant(1.0)
    connect x    -> v : one_to_one weight constant(3.0)
}
"""


def test_bias_none_constant_and_default(compile_text, backend):
    net = make(compile_text, BIASES, backend, dtype="float64")
    params = net.parameters()
    assert "y.bias" not in params and "x.bias" not in params
    np.testing.assert_array_equal(params["free.bias"], [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(params["v.bias"], [0.0, 0.0])
    x = np.array([[1.0, -2.5], [0.0, 4.0]])
    out = net.run(x=x)
    expected_y = x.sum(axis=1, keepdims=True) + 3 * sigmoid(2.0)
    np.testing.assert_allclose(out["y"], np.repeat(expected_y, 2, axis=1), rtol=1e-13)
    np.testing.assert_allclose(out["v"], 3.0 * x, rtol=1e-15)


def test_group_without_connections_gives_its_bias_for_every_sample(compile_text, backend):
    net = make(compile_text, BIASES, backend, dtype="float64")
    out = net.run(x=np.zeros((4, 2)), ticks=3, every_tick=True)
    assert out["z"].shape == (3, 4, 2)
    np.testing.assert_allclose(out["z"], np.tanh(0.5), rtol=1e-15)
    assert net.run(x=np.zeros((5, 2)))["z"].shape == (5, 2)


def test_outputs_are_fresh_writable_arrays(compile_text, backend):
    net = make(compile_text, BIASES, backend, dtype="float64")
    x = np.ones((2, 2))
    first = net.run(x=x)
    for y in first.values():
        y += 100.0  # must neither fail nor reach into the network
    second = net.run(x=x)
    np.testing.assert_allclose(second["z"], np.tanh(0.5), rtol=1e-15)
    np.testing.assert_allclose(second["v"], 3.0, rtol=1e-15)
    np.testing.assert_array_equal(second["k"], np.full((2, 2), 1.5))
    np.testing.assert_array_equal(net.parameters()["k.bias"], [1.5, 1.5])


# ---- shapes and flat row-major indexing ----------------------------------------------------

GRID = """
network grid {
    seed 5
    input  x[2, 3, 4]
    output y[3, 2] : identity bias none
    output f[24]   : identity bias none
    connect x -> y : full weight normal(0, 1)
    connect x -> f : one_to_one weight uniform(-1, 1)
}
"""


def test_multi_dim_groups_index_row_major(compile_text, backend):
    net = make(compile_text, GRID, backend, dtype="float64")
    w = stream(5, "x->y").normal(0.0, 1.0, size=6 * 24)  # CSR: post-major, then pre
    x = np.zeros((1, 2, 3, 4))
    x[0, 1, 2, 3] = 1.0  # flat index 1*12 + 2*4 + 3 = 23
    y = net.run(x=x)["y"]
    assert y.shape == (1, 3, 2)
    for i in range(3):
        for j in range(2):
            assert y[0, i, j] == pytest.approx(w[(i * 2 + j) * 24 + 23], rel=1e-14)


def test_one_to_one_follows_flat_order_across_shapes(compile_text, backend):
    net = make(compile_text, GRID, backend, dtype="float64")
    w = stream(5, "x->f").uniform(-1.0, 1.0, size=24)
    x = np.random.default_rng(0).normal(size=(3, 2, 3, 4))
    np.testing.assert_allclose(net.run(x=x)["f"], x.reshape(3, 24) * w, rtol=1e-14)
    params = net.parameters()
    np.testing.assert_array_equal(params["x->y.pre"], np.tile(np.arange(24), 6))
    np.testing.assert_array_equal(params["x->y.post"], np.repeat(np.arange(6), 24))


# ---- skip links and layer-free DAGs of groups ----------------------------------------------

# Declared out of evaluation order on purpose: the order must be computed from the connections.
DAG = """
network dag {
    seed 11
    output y[2] : identity bias 0.1
    output z[4] : softplus
    group  c[4] : sigmoid bias -0.3
    group  b[2] : relu
    group  a[4] : tanh bias 0.2
    input  x[3]
    connect x -> a : full weight normal(0, 1)
    connect a -> b : full weight normal(0, 1)
    connect x -> b : full weight uniform(-1, 1)
    connect a -> c : one_to_one weight normal(0, 1)
    connect c -> y : full
    connect b -> y : full
    connect x -> y : full weight constant(0.25) as skip
    connect c -> z : one_to_one weight constant(-1.5)
}
"""


def reference_dag(params: dict, x: np.ndarray) -> dict:
    """The DAG network computed directly, one group after another."""
    def w(name, n_post, n_pre):
        return dense(params, name, n_post, n_pre)

    a = np.tanh(0.2 + x @ w("x->a", 4, 3).T)
    b = np.maximum(0.0, 0.0 + a @ w("a->b", 2, 4).T + x @ w("x->b", 2, 3).T)
    c = sigmoid(-0.3 + a * params["a->c.w"])
    y = 0.1 + c @ w("c->y", 2, 4).T + b @ w("b->y", 2, 2).T + 0.25 * x.sum(axis=1)[:, None]
    z = np.logaddexp(0.0, -1.5 * c)
    return {"y": y, "z": z}


def test_skip_links_and_dag_in_topological_order(compile_text, backend):
    net = make(compile_text, DAG, backend, dtype="float64")
    x = np.random.default_rng(1).normal(size=(5, 3))
    out, expected = net.run(x=x), reference_dag(net.parameters(), x)
    assert sorted(out) == ["y", "z"]
    for name in out:
        np.testing.assert_allclose(out[name], expected[name], rtol=1e-12, atol=1e-14)


def test_seeded_initial_weights_follow_the_per_projection_streams(compile_text, backend):
    params = make(compile_text, DAG, backend, dtype="float64", seed=4).parameters()
    np.testing.assert_array_equal(params["x->a.w"], stream(4, "x->a").normal(0, 1, size=12))
    np.testing.assert_array_equal(params["x->b.w"], stream(4, "x->b").uniform(-1, 1, size=6))
    np.testing.assert_array_equal(params["skip.w"], np.full(6, 0.25))
    # default: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)); `c -> y` has fan-in 4 per target
    np.testing.assert_array_equal(params["c->y.w"], stream(4, "c->y").uniform(-1, 1, 8) / 2.0)
    bias_keys = sorted(k for k in params if k.endswith(".bias"))
    assert bias_keys == ["a.bias", "b.bias", "c.bias", "y.bias", "z.bias"]


# ---- ticks ---------------------------------------------------------------------------------


def test_every_tick_shapes_with_static_inputs(compile_text, backend):
    net = make(compile_text, DAG, backend, dtype="float64")
    x = np.random.default_rng(2).normal(size=(3, 3))
    last = net.run(x=x)
    every = net.run(x=x, ticks=4, every_tick=True)
    assert every["y"].shape == (4, 3, 2) and every["z"].shape == (4, 3, 4)
    assert net.run(x=x, ticks=4)["y"].shape == (3, 2)
    assert net.run(x=x, every_tick=True)["y"].shape == (1, 3, 2)
    assert net.run(x=x, ticks=np.int64(2), every_tick=True)["z"].shape == (2, 3, 4)
    for t in range(4):  # no delays: each tick is computed from that tick's (same) inputs
        np.testing.assert_allclose(every["y"][t], last["y"], rtol=1e-14)


def test_time_varying_inputs_give_each_tick_its_own_output(compile_text, backend):
    net = make(compile_text, DAG, backend, dtype="float64")
    x = np.random.default_rng(3).normal(size=(5, 2, 3))  # (ticks, batch, 3)
    every = net.run(x=x, every_tick=True)
    assert every["y"].shape == (5, 2, 2)
    params = net.parameters()
    for t in range(5):
        np.testing.assert_allclose(every["y"][t], reference_dag(params, x[t])["y"], rtol=1e-12)
    np.testing.assert_allclose(net.run(x=x)["y"], every["y"][-1], rtol=1e-14)
    np.testing.assert_allclose(net.run(x=x, ticks=5)["y"], every["y"][-1], rtol=1e-14)


# ---- dtypes --------------------------------------------------------------------------------

DEFAULT_DTYPE = {"oo": "float64", "numpy": "float32", "cupy": "float32"}


def test_default_dtype(compile_text, backend):
    net = make(compile_text, DAG, backend)
    assert net.dtype == DEFAULT_DTYPE[backend]
    out = net.run(x=np.ones((2, 3)))
    assert {y.dtype for y in out.values()} == {np.dtype(DEFAULT_DTYPE[backend])}


@pytest.mark.parametrize("dtype", ["float32", "float64", np.float32, np.float64])
def test_dtype_is_honoured(compile_text, backend, dtype):
    net = make(compile_text, BIASES, backend, dtype=dtype)
    want = np.dtype(dtype)
    for x in (np.ones((2, 2), dtype=np.int64), np.ones((2, 2), dtype=np.float32),
              np.ones((3, 2, 2), dtype=np.float64)):
        out = net.run(x=x, every_tick=True)
        assert {y.dtype for y in out.values()} == {want}
    assert {a.dtype for k, a in net.parameters().items() if k.endswith((".w", ".bias"))} == {want}


def test_float32_runs_agree_with_float64_hand_values(compile_text, backend):
    net = make(compile_text, DAG, backend, dtype="float32")
    x = np.random.default_rng(4).normal(size=(4, 3))
    expected = reference_dag(net.parameters(), x)
    for name, y in net.run(x=x).items():
        np.testing.assert_allclose(y, expected[name], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "int32", "complex128", "double-ish"])
def test_unsupported_dtype_is_refused(compile_text, backend, dtype):
    with pytest.raises(ValueError, match="dtype"):
        make(compile_text, HAND, backend, dtype=dtype)


# ---- determinism ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_same_seed_same_parameters_in_every_backend(compile_text, dtype):
    params = {b: compile_text(DAG, b).Network(seed=9, dtype=dtype).parameters()
              for b in BACKENDS}
    reference = params[BACKENDS[0]]
    for name, other in params.items():
        assert sorted(other) == sorted(reference), name
        for key in reference:
            assert other[key].dtype == reference[key].dtype, (name, key)
            np.testing.assert_array_equal(other[key], reference[key], err_msg=f"{name} {key}")


def test_the_file_seed_is_the_default(compile_text, backend):
    module = compile_text(DAG, backend)
    assert module.Network().seed == 11
    a, b = module.Network(dtype="float64"), module.Network(seed=11, dtype="float64")
    np.testing.assert_array_equal(a.parameters()["x->a.w"], b.parameters()["x->a.w"])


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True, None])
def test_seed_must_be_a_whole_number(compile_text, backend, seed):
    module = compile_text(HAND, backend)
    if seed is None:  # None means the file's seed (0 when it has none)
        assert module.Network(seed=None).seed == 0
        return
    with pytest.raises(ValueError, match="seed"):
        module.Network(seed=seed)


def test_different_seeds_give_different_weights(compile_text, backend):
    module = compile_text(DAG, backend)
    a, b = module.Network(seed=0).parameters(), module.Network(seed=1).parameters()
    for key in ("x->a.w", "a->b.w", "x->b.w", "c->y.w", "b->y.w"):
        assert not np.array_equal(a[key], b[key]), key
    for key in ("skip.w", "c->z.w", "x->a.pre", "x->a.post"):  # not random
        np.testing.assert_array_equal(a[key], b[key])


def test_adding_a_projection_changes_no_other(compile_text, backend):
    bigger = DAG.replace("    input  x[3]\n", "    input  x[3]\n    group  extra[5] : relu\n")
    bigger = bigger.replace("as skip\n", "as skip\n    connect x -> extra : full\n"
                            "    connect extra -> y : full weight normal(0, 2)\n")
    assert bigger.count("extra") == 3
    small = make(compile_text, DAG, backend, seed=3).parameters()
    large = make(compile_text, bigger, backend, seed=3).parameters()
    assert set(large) - set(small) == {"x->extra.pre", "x->extra.post", "x->extra.w",
                                       "extra->y.pre", "extra->y.post", "extra->y.w",
                                       "extra.bias"}
    for key, value in small.items():
        np.testing.assert_array_equal(large[key], value, err_msg=key)


def test_a_projections_name_picks_its_stream(compile_text, backend):
    renamed = DAG.replace("connect x -> a : full weight normal(0, 1)",
                          "connect x -> a : full weight normal(0, 1) as first")
    a = make(compile_text, DAG, backend).parameters()
    b = make(compile_text, renamed, backend).parameters()
    assert "first.w" in b and "x->a.w" not in b
    assert not np.array_equal(a["x->a.w"], b["first.w"])
    np.testing.assert_array_equal(a["a->b.w"], b["a->b.w"])


# ---- grids of one and three axes: shared kernels as convolutions -----------------------------

SIGNAL_KERNEL = """
network signal {
    seed 3
    input  x[2, 6]
    output y[3, 6] : identity bias none
    output r[3, 6] : identity bias none
    connect x -> y : local(radius=1, metric=chebyshev, shared=true, axes=1) weight normal(0, 1)
    connect x -> r : local(radius=1, metric=chebyshev, shared=true, wrap=true, axes=1)
}
"""


def correlate(x: np.ndarray, kernel: np.ndarray, wrap: bool) -> np.ndarray:
    """(batch, maps, *grid) through kernel (source maps, target maps, 3 ** axes): target map n
    at q sums kernel[m, n, o] * x[m, q + offset o], the offsets in sorted order (DESIGN.md:
    entries by source map, target map, offset); off the grid counts 0 unless it wraps."""
    axes = x.ndim - 2
    offsets = np.stack(np.unravel_index(np.arange(3 ** axes), (3,) * axes), axis=1) - 1
    padded = np.pad(x, [(0, 0), (0, 0)] + [(1, 1)] * axes, mode="wrap" if wrap else "constant")
    out = np.zeros((x.shape[0], kernel.shape[1]) + x.shape[2:])
    for o, offset in enumerate(offsets):
        window = tuple(slice(1 + d, 1 + d + n) for d, n in zip(offset, x.shape[2:]))
        shifted = padded[(slice(None), slice(None)) + window]
        out += np.einsum("bm...,mn->bn...", shifted, kernel[:, :, o])
    return out


def test_a_shared_kernel_on_a_signal_is_a_correlation(compile_text, backend):
    net = make(compile_text, SIGNAL_KERNEL, backend, dtype="float64")
    params = net.parameters()
    x = np.random.default_rng(0).normal(size=(4, 2, 6))
    out = net.run(x=x)
    for name, wrap in (("y", False), ("r", True)):
        kernel = params[f"x->{name}.w"].reshape(2, 3, 3)
        np.testing.assert_allclose(out[name], correlate(x, kernel, wrap), rtol=1e-12,
                                   atol=1e-12, err_msg=name)


VOLUME_KERNEL = """
network volume {
    seed 4
    input  x[4, 3, 5]
    output y[2, 4, 3, 5] : identity bias none
    output r[2, 4, 3, 5] : identity bias none
    connect x -> y : local(radius=1, metric=chebyshev, shared=true, axes=3) weight normal(0, 1)
    connect x -> r : local(radius=1, metric=chebyshev, shared=true, wrap=true, axes=3)
}
"""


def test_a_shared_kernel_on_a_volume_is_a_correlation(compile_text, backend):
    net = make(compile_text, VOLUME_KERNEL, backend, dtype="float64")
    params = net.parameters()
    x = np.random.default_rng(1).normal(size=(3, 4, 3, 5))
    out = net.run(x=x)
    for name, wrap in (("y", False), ("r", True)):
        kernel = params[f"x->{name}.w"].reshape(1, 2, 27)
        np.testing.assert_allclose(out[name], correlate(x[:, None], kernel, wrap), rtol=1e-12,
                                   atol=1e-12, err_msg=name)


# ---- out-of-domain math: NaN and infinities as NumPy gives them, in every backend ----------

DOMAIN_VALUES = np.array([[-2.0, 0.0, 0.5, 3.0, 1000.0]])
DOMAIN_CASES = {  # a model's expression of v (= net), and NumPy's answer
    "sqrt(v)": np.sqrt, "log(v)": np.log, "exp(v)": np.exp,
    "v ** 0.5": lambda v: np.power(v, 0.5), "v ** -1.0": lambda v: np.power(v, -1.0),
    "(0.0 - v) ** 3.0 * v ** 400.0": lambda v: np.power(-v, 3.0) * np.power(v, 400.0),
    "1.0 / v": lambda v: 1.0 / v, "v / (v - v)": lambda v: v / (v - v),
    "v % 0.0": lambda v: v % 0.0, "1.0 % v": lambda v: 1.0 % v,
    "floor(v / 0.0)": lambda v: np.floor(v / 0.0), "ceil(log(v))": lambda v: np.ceil(np.log(v)),
    "min(v, sqrt(v))": lambda v: np.minimum(v, np.sqrt(v)),
    "max(sqrt(v), v)": lambda v: np.maximum(np.sqrt(v), v),
    "relu(log(v))": lambda v: np.maximum(np.log(v), 0.0),
}


@pytest.mark.parametrize("expression", list(DOMAIN_CASES))
def test_math_outside_its_domain_gives_numpys_nan_and_inf(compile_text, backend, expression):
    text = (f"neuron odd {{\n    state v = 0.0\n    v = net\n    out = {expression}\n}}\n"
            "network n {\n input x[5]\n output y[5] : odd\n"
            " connect x -> y : one_to_one weight constant(1.0)\n}\n")
    net = make(compile_text, text, backend, dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "invalid value" notes
        out = net.run(x=DOMAIN_VALUES)["y"]
        with np.errstate(all="ignore"):
            expected = DOMAIN_CASES[expression](DOMAIN_VALUES)
    np.testing.assert_array_equal(out, expected)
