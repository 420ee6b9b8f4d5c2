"""Time and neuron models (DESIGN.md, Semantics: "Time and cycles", "Neurons"): delays, `init`,
cycles through delays, `run(..., reset=False)` and user-written models, each checked against
values worked out here with plain Python or NumPy loops (never one backend against another
alone)."""

from __future__ import annotations

import ast
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import write_source

import nndl
from nndl.compiler import generate_source

EXAMPLES = Path(__file__).parent.parent / "examples"


def make(compile_text, text, backend, **options):
    return compile_text(text, backend).Network(dtype="float64", **options)


def dense(params: dict, name: str, n_post: int, n_pre: int) -> np.ndarray:
    """A projection's (post, pre) weight matrix from the weight-file arrays."""
    w = np.zeros((n_post, n_pre))
    w[params[f"{name}.post"], params[f"{name}.pre"]] = params[f"{name}.w"]
    return w


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def bursts(trace: np.ndarray, threshold: float = 0.5) -> list[tuple[int, int]]:
    """(first tick, last tick) of each run of ticks above the threshold."""
    runs, start = [], None
    for t, value in enumerate(trace.tolist() + [-math.inf]):
        if value > threshold and start is None:
            start = t
        elif value <= threshold and start is not None:
            runs.append((start, t - 1))
            start = None
    return runs


# ---- delays ----------------------------------------------------------------------------------


def test_delay_line_shifts_the_input_by_six_ticks(backend):
    net = nndl.compile(EXAMPLES / "delay_line.nndl", backend=backend).Network(dtype="float64")
    x = np.random.default_rng(1).normal(size=(20, 3, 1))  # (ticks, batch, 1): varies every tick
    echo = net.run(signal=x, every_tick=True)["echo"]
    expected = np.zeros_like(x)
    expected[6:] = x[:-6]  # 2 + 3 + 1 ticks late; nothing has arrived before tick 6
    np.testing.assert_array_equal(echo, expected)
    # the last tick alone, and a run shorter than the line: only the starting zeros come out
    np.testing.assert_array_equal(net.run(signal=x)["echo"], x[13])
    assert not net.run(signal=x[:6], every_tick=True)["echo"].any()


def test_a_delay_reads_exactly_d_ticks_back(compile_text, backend):
    """Several delays into one group, from one source: each term is the source `d` ticks ago."""
    text = """
    network taps {
        input  x[2]
        output y[2] : identity
        connect x -> y : one_to_one as now
        connect x -> y : one_to_one delay 1 as one
        connect x -> y : full delay 3 as three
    }
    """
    net = make(compile_text, text, backend)
    p = net.parameters()
    w0, w1, w3 = (dense(p, name, 2, 2) for name in ("now", "one", "three"))
    x = np.random.default_rng(2).normal(size=(9, 4, 2))

    def earlier(d, t):
        return x[t - d] if t >= d else np.zeros_like(x[0])

    expected = np.stack([p["y.bias"] + earlier(0, t) @ w0.T + earlier(1, t) @ w1.T
                         + earlier(3, t) @ w3.T for t in range(9)])
    np.testing.assert_allclose(net.run(x=x, every_tick=True)["y"], expected, rtol=1e-12,
                               atol=1e-14)


# ---- init: the output before the first tick --------------------------------------------------

INIT = """
network starts {
    input  x[3]
    group  src[3] : identity init 0.5 bias none
    output y[3]   : identity bias 0.25
    connect x   -> src : one_to_one weight constant(1.0)
    connect src -> y   : one_to_one weight normal(0, 1) delay 2
}
"""


def test_init_is_seen_through_a_delay_for_the_first_ticks(compile_text, backend):
    net = make(compile_text, INIT, backend)
    w = net.parameters()["src->y.w"]  # one_to_one: neuron k's weight, in order
    x = np.random.default_rng(3).normal(size=(6, 2, 3))
    y = net.run(x=x, every_tick=True)["y"]
    # ticks 0 and 1 see src's starting output 0.5; from tick 2 on, src's output of t - 2 (= x)
    np.testing.assert_allclose(y[:2], np.broadcast_to(0.25 + 0.5 * w, (2, 2, 3)), rtol=1e-13)
    np.testing.assert_allclose(y[2:], 0.25 + x[:-2] * w, rtol=1e-13)


def test_an_input_init_is_seen_through_a_delay(compile_text, backend):
    text = """
    network input_init {
        input  x[2] init -1.5
        output y[2] : identity bias none
        connect x -> y : one_to_one weight constant(2.0) delay 1
    }
    """
    x = np.full((4, 1, 2), 3.0)
    y = make(compile_text, text, backend).run(x=x, every_tick=True)["y"]
    np.testing.assert_array_equal(y[:, 0, 0], [-3.0, 6.0, 6.0, 6.0])


def test_a_model_reading_out_first_sees_its_init(compile_text, backend):
    """`out` before it is assigned is the previous tick's output: the group's init at tick 0."""
    text = """
    neuron echoing {
        out = 0.5 * out + net
    }
    network n {
        input  x[2]
        output y[2] : echoing init 1.0 bias none
        connect x -> y : one_to_one weight constant(1.0)
    }
    """
    x = np.random.default_rng(4).normal(size=(5, 3, 2))
    expected, previous = [], np.ones((3, 2))
    for t in range(5):
        previous = 0.5 * previous + x[t]
        expected.append(previous)
    y = make(compile_text, text, backend).run(x=x, every_tick=True)["y"]
    np.testing.assert_allclose(y, np.stack(expected), rtol=1e-13)


# ---- cycles through delays -------------------------------------------------------------------

CYCLE = """
network loop {
    seed 5
    input  x[3]
    group  a[4] : tanh
    output b[2] : sigmoid
    connect x -> a : full weight normal(0, 1)
    connect a -> b : full weight normal(0, 1.5)
    connect b -> a : full weight normal(0, 1.5) delay 1 as back
    connect a -> a : one_to_one weight normal(0, 0.8) delay 2 as self
}
"""


def test_a_cycle_through_delays_against_a_numpy_loop(compile_text, backend):
    net = make(compile_text, CYCLE, backend)
    p = net.parameters()
    w_xa, w_ab = dense(p, "x->a", 4, 3), dense(p, "a->b", 2, 4)
    w_ba, w_aa = dense(p, "back", 4, 2), dense(p, "self", 4, 4)
    x = np.random.default_rng(5).normal(size=(30, 2, 3))
    a_hist, b_hist = [np.zeros((2, 4))] * 2, [np.zeros((2, 2))]  # outputs before tick 0
    for t in range(30):
        a = np.tanh(p["a.bias"] + x[t] @ w_xa.T + b_hist[-1] @ w_ba.T + a_hist[-2] @ w_aa.T)
        b = sigmoid(p["b.bias"] + a @ w_ab.T)
        a_hist.append(a)
        b_hist.append(b)
    expected = np.stack(b_hist[1:])
    assert np.ptp(expected[10:], axis=0).max() > 0.05  # the loop keeps moving: not a fixed point
    np.testing.assert_allclose(net.run(x=x, every_tick=True)["b"], expected, rtol=1e-12,
                               atol=1e-14)


# ---- state across runs: reset=False --------------------------------------------------------

PERSIST = """
neuron bursting {
    param leak = 0.8
    state v = 0.0
    state a = 0.0
    v   = leak * v + net - a
    out = sigmoid(2.0 * v)
    a   = 0.97 * a + 0.2 * out
}

network persist {
    seed 11
    input  x[3]
    group  blob[5] : bursting(leak=0.9) init 0.2
    group  pool[4] : leaky(leak=0.7)
    output y[2]    : tanh
    connect x    -> blob : full
    connect blob -> blob : full weight normal(0, 0.5) delay 1 as recurrent
    connect blob -> pool : full delay 2
    connect pool -> blob : full weight normal(0, 0.5) delay 3 as feedback
    connect pool -> y    : full
    connect blob -> y    : full delay 1
}
"""


def test_reset_false_continues_where_the_last_run_ended(compile_text, backend):
    net = make(compile_text, PERSIST, backend)
    x = np.random.default_rng(6).normal(size=(3, 3))  # static: the same every tick
    whole = net.run(x=x, ticks=17, every_tick=True)["y"]
    first = net.run(x=x, ticks=7, every_tick=True)["y"]
    second = net.run(x=x, ticks=10, every_tick=True, reset=False)["y"]
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=1e-12, atol=1e-14)
    assert np.abs(second - first[:1]).max() > 1e-3  # it did not start over
    # the default (reset=True) starts again from the init outputs and starting states
    np.testing.assert_allclose(net.run(x=x, ticks=7, every_tick=True)["y"], first, rtol=1e-12,
                               atol=1e-14)
    # continuing once more, without every_tick: the last tick of the longer run
    net.run(x=x, ticks=10, reset=False)
    np.testing.assert_allclose(net.run(x=x, ticks=6, reset=False)["y"],
                               net.run(x=x, ticks=23)["y"], rtol=1e-12, atol=1e-14)


def test_reset_false_with_time_varying_input(compile_text, backend):
    net = make(compile_text, PERSIST, backend)
    x = np.random.default_rng(7).normal(size=(12, 2, 3))
    whole = net.run(x=x, every_tick=True)["y"]
    first = net.run(x=x[:5], every_tick=True)["y"]
    second = net.run(x=x[5:], every_tick=True, reset=False)["y"]
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=1e-12, atol=1e-14)


def test_reset_false_needs_the_same_batch(compile_text, backend):
    net = make(compile_text, PERSIST, backend)
    x = np.random.default_rng(8).normal(size=(3, 3))
    net.run(x=x, ticks=4)
    with pytest.raises(nndl.InputError, match="batch"):
        net.run(x=x[:2], ticks=4, reset=False)
    # the refused run changed nothing: the first one can still be continued
    np.testing.assert_allclose(net.run(x=x, ticks=3, reset=False)["y"],
                               net.run(x=x, ticks=7)["y"], rtol=1e-12, atol=1e-14)
    net.run(x=x[:2], ticks=4)  # a fresh run may change the batch


# ---- neuron models ---------------------------------------------------------------------------

INTEGRATE_AND_FIRE = """
neuron iaf {
    param threshold = 1.0
    state v = 0.0
    v = v + net
    spike = 1.0 if v > threshold else 0.0
    v = v - spike * threshold
    out = spike
}
network spiking {
    input  x[4]
    output y[4] : iaf(threshold=1.5) bias none
    connect x -> y : one_to_one weight constant(1.0)
}
"""


def test_integrate_and_fire_against_a_python_loop(compile_text, backend):
    x = np.random.default_rng(8).uniform(-0.2, 0.7, size=(50, 3, 4))
    expected = np.zeros_like(x)
    for b in range(3):
        for k in range(4):
            v = 0.0
            for t in range(50):
                v += float(x[t, b, k])
                spike = 1.0 if v > 1.5 else 0.0
                v -= spike * 1.5
                expected[t, b, k] = spike
    assert 10 < expected.sum() < expected.size / 2  # it spikes, but not every tick
    y = make(compile_text, INTEGRATE_AND_FIRE, backend).run(x=x, every_tick=True)["y"]
    np.testing.assert_array_equal(y, expected)


def test_leaky_against_its_formula(compile_text, backend):
    text = """
    network leaking {
        input  x[3]
        output y[3] : leaky(leak=0.6) bias 0.1
        connect x -> y : one_to_one weight constant(2.0)
    }
    """
    x = np.random.default_rng(9).normal(size=(15, 2, 3))
    v, expected = np.zeros((2, 3)), []
    for t in range(15):
        v = 0.6 * v + (0.1 + 2.0 * x[t])
        expected.append(np.tanh(v))
    y = make(compile_text, text, backend).run(x=x, every_tick=True)["y"]
    np.testing.assert_allclose(y, np.stack(expected), rtol=1e-13, atol=1e-15)


def test_leaky_default_leak_is_0_9(compile_text, backend):
    text = """
    network leaking {
        input  x[1]
        output y[1] : leaky bias none
        connect x -> y : one_to_one weight constant(1.0)
    }
    """
    y = make(compile_text, text, backend).run(x=np.ones((1, 1)), ticks=3, every_tick=True)["y"]
    np.testing.assert_allclose(y[:, 0, 0], np.tanh([1.0, 1.9, 2.71]), rtol=1e-13)


def test_adaptive_fires_in_separated_bursts(compile_text, backend):
    text = """
    network adapting {
        input  current[1]
        output y[2] : adaptive bias none
        connect current -> y : full weight constant(1.0)
    }
    """
    y = make(compile_text, text, backend).run(current=np.ones((1, 1)), ticks=300,
                                              every_tick=True)["y"]
    trace = y[:, 0, 0]
    found = bursts(trace)
    gaps = [nxt[0] - prev[1] - 1 for prev, nxt in itertools.pairwise(found)]
    assert len(found) >= 3, found
    assert min(gaps) >= 10, found
    np.testing.assert_array_equal(y[:, 0, 1], trace)  # identical neurons stay identical


def test_adaptive_against_its_formula(compile_text, backend):
    text = """
    network adapting {
        input  current[2]
        output y[2] : adaptive(excite=5.0, strength=0.4) bias none
        connect current -> y : one_to_one weight constant(1.0)
    }
    """
    x = np.random.default_rng(10).uniform(0.0, 2.0, size=(40, 1, 2))
    v, a, out, expected = np.zeros(2), np.zeros(2), np.zeros(2), []
    for t in range(40):
        v = 0.5 * v + x[t, 0] + 5.0 * out - a - 0.5
        out = sigmoid(4.0 * v)
        a = 0.95 * a + 0.4 * out
        expected.append(out)
    y = make(compile_text, text, backend).run(current=x, every_tick=True)["y"]
    np.testing.assert_allclose(y[:, 0], np.stack(expected), rtol=1e-12, atol=1e-14)


def test_a_model_without_state(compile_text, backend):
    """A model may have no state at all: it is then a user-written activation."""
    text = """
    neuron squash {
        param gain = 0.5
        out = tanh(gain * net) + 0.125 * net
    }
    network n {
        input  x[3]
        output y[3] : squash(gain=2.0) bias none
        connect x -> y : one_to_one weight constant(1.0)
    }
    """
    x = np.random.default_rng(11).normal(size=(4, 3))
    y = make(compile_text, text, backend).run(x=x)["y"]
    np.testing.assert_allclose(y, np.tanh(2.0 * x) + 0.125 * x, rtol=1e-13)


CONSTANTS = """
neuron constants {
    param p = 0.75
    state c = 0.0
    state v = 0.0
    c = step(p - 0.5) + sigmoid(0.5)
    v = 0.5 * v + (0.5 if net > 0.0 else -0.25)
    out = tanh(v) + c * 0.25 + (1.0 if p > 2.0 else 0.125)
}
network n {
    input  x[3]
    output y[3] : constants(p=0.25) bias none
    connect x -> y : one_to_one weight constant(1.0)
    connect y -> y : where(pre.index < post.index) weight constant(0.5) as chain
}
"""


def constants_by_hand(x: np.ndarray) -> np.ndarray:
    c = 0.0 + sigmoid(0.5)  # p = 0.25: step(-0.25) = 0
    v, out = np.zeros(x.shape[1:]), []
    for xt in x:
        y = np.zeros(xt.shape)
        for k in range(xt.shape[1]):  # the chain links lower to higher neurons within a tick
            net = xt[:, k] + 0.5 * y[:, :k].sum(axis=1)
            v[:, k] = 0.5 * v[:, k] + np.where(net > 0.0, 0.5, -0.25)
            y[:, k] = np.tanh(v[:, k]) + c * 0.25 + 0.125
        out.append(y)
    return np.stack(out)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_statements_of_numbers_alone_give_every_neuron_a_value(compile_text, backend, dtype):
    """A statement that reads no variable (only numbers and parameters) still sets each neuron's
    own value, in the network's dtype, also neuron by neuron."""
    x = np.random.default_rng(13).normal(size=(6, 2, 3))
    net = compile_text(CONSTANTS, backend).Network(dtype=dtype)
    y = net.run(x=x.astype(dtype), every_tick=True)["y"]
    assert y.dtype == np.dtype(dtype) and y.shape == x.shape
    tolerance = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(y, constants_by_hand(x.astype(dtype).astype(np.float64)),
                               rtol=tolerance, atol=tolerance)


def test_statements_run_in_order_and_temporaries_last_one_tick(compile_text, backend):
    text = """
    neuron ordered {
        state s = 1.0
        double = 2.0 * s
        s = s + net
        out = double + s
        double = 100.0
    }
    network n {
        input  x[1]
        output y[1] : ordered bias none
        connect x -> y : one_to_one weight constant(1.0)
    }
    """
    x = np.array([[[0.5]], [[-1.0]], [[2.0]]])
    s, expected = 1.0, []
    for value in x[:, 0, 0]:
        double = 2.0 * s  # the old s, and never last tick's 100
        s += value
        expected.append(double + s)
    y = make(compile_text, text, backend).run(x=x, every_tick=True)["y"]
    np.testing.assert_allclose(y[:, 0, 0], expected, rtol=1e-14)


# ---- identifiers that Python or the generated code would trip over --------------------------

AWKWARD = """
neuron awkward {
    param class  = 0.5
    param lambda = 0.3
    param None   = 0.1
    state np     = 0.0
    state math   = 0.2
    state self   = 0.0
    sum     = class * np + net
    sigmoid = tanh(sum) + lambda * None
    np      = sigmoid
    math    = 0.9 * math + 0.1 * np
    self    = self + 1.0
    out     = sigmoid - 0.5 * math + 0.01 * self
}
network n {
    input  x[2]
    group  h[3] : awkward(class=0.7) bias none
    output y[3] : awkward(None=-0.2)
    connect x -> h : full
    connect h -> h : where(pre.index < post.index) as dag
    connect h -> y : one_to_one delay 1
}
"""


def awkward_by_hand(net_in, cls, lam, none, np_, math_, self_):
    """One tick of `awkward`, in plain NumPy; returns (out, np, math, self)."""
    sum_ = cls * np_ + net_in
    sigmoid_ = np.tanh(sum_) + lam * none
    np_ = sigmoid_
    math_ = 0.9 * math_ + 0.1 * np_
    self_ = self_ + 1.0
    return sigmoid_ - 0.5 * math_ + 0.01 * self_, np_, math_, self_


def test_awkward_identifiers_compile_and_run(compile_text, backend, tmp_path):
    source = generate_source(write_source(AWKWARD, tmp_path), backend)
    ast.parse(source)
    net = make(compile_text, AWKWARD, backend)
    p = net.parameters()
    w_xh, w_hh = dense(p, "x->h", 3, 2), dense(p, "dag", 3, 3)
    x = np.random.default_rng(12).normal(size=(8, 2, 2))
    zero = np.zeros((2, 3))
    h_state, y_state = (zero, zero + 0.2, zero), (zero, zero + 0.2, zero)
    h_prev, expected = zero, []
    for t in range(8):
        # h: neuron by neuron, since the `dag` links lower to higher indices with delay 0
        h = np.zeros((2, 3))
        new = [np.zeros((2, 3)) for _ in range(3)]
        for k in range(3):
            net_in = x[t] @ w_xh[k] + h @ w_hh[k]
            out, *state = awkward_by_hand(net_in, 0.7, 0.3, 0.1,
                                          *(s[:, k] for s in h_state))
            h[:, k] = out
            for n, s in zip(new, state):
                n[:, k] = s
        h_state = tuple(new)
        y, *y_state = awkward_by_hand(p["y.bias"] + h_prev * p["h->y.w"], 0.5, 0.3, -0.2,
                                      *y_state)
        h_prev = h
        expected.append(y)
    got = net.run(x=x, every_tick=True)["y"]
    np.testing.assert_allclose(got, np.stack(expected), rtol=1e-12, atol=1e-14)


def test_states_can_be_watched_tick_by_tick(compile_text, backend):
    text = """
    network leaking {
        input  x[2, 2]
        output y[2, 2] : leaky(leak=0.6) bias 0.1
        connect x -> y : one_to_one weight constant(2.0)
    }
    """
    net = make(compile_text, text, backend)
    with pytest.raises(nndl.InputError):
        net.states()  # nothing has run yet
    x = np.random.default_rng(3).normal(size=(6, 3, 2, 2))
    v = np.zeros((3, 2, 2))
    for t in range(6):
        net.run(x=x[t:t + 1], reset=(t == 0))
        v = 0.6 * v + (0.1 + 2.0 * x[t])
        watched = net.states()
        assert list(watched) == ["y"] and list(watched["y"]) == ["v"]
        np.testing.assert_allclose(watched["y"]["v"], v, rtol=1e-13)
    # one run of 6 ticks ends in the same state
    net.run(x=x)
    np.testing.assert_allclose(net.states()["y"]["v"], v, rtol=1e-13)
