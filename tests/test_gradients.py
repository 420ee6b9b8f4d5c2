"""Backpropagation through the ticks is exact (DESIGN.md, Training) and the same in every backend
(DESIGN.md, Equivalence).

(a) On random networks, written as NNDL source by a strategy built from the property tests'
    pieces (every rule, shared kernels, delays 0-2, cycles through delays, neuron-level DAGs with
    delay 0, the built-in models and small smooth user models, softmax with cross-entropy, mse,
    a loss on the last tick or on every tick), central finite differences in float64 agree with
    `loss_and_grad` in both backends.
(b) The OO and NumPy backends give the same loss and gradients to 1e-9 (relative).
(c) Five Adam steps through `fit` leave both backends with the same weights to 1e-9.
(d) Hand-written cases: a shared convolution kernel, a user model with a conditional (OO ==
    NumPy only: its switch has a surrogate slope), a delay-2 loop, neuron-level steps with a
    model group, and with two.

Finite differences leave out everything with a surrogate derivative (`step`, comparisons, the
conditional) and every kink (`relu`, `leaky_relu`, `abs`, `min`, `max`, `clip`, `floor`, `%`):
only smooth functions here.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import draw_examples
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_properties import feedforward_rules
from test_recurrent_properties import (Literals, build_or_none, forward_rules, has_cycle,
                                       reachable, render)

from nndl.commands.equivalence import TOLERANCE
from nndl.runtime.optimizers import Adam

H = 1e-6  # the finite-difference step
RELATIVE = 1e-6
# The absolute term: a central difference carries the rounding of the two losses it subtracts,
# about eps * |loss| / h = 1e-16 / 1e-6 = 1e-10 for losses of order 1, and an entry whose true
# gradient is (nearly) zero has nothing for a relative bound to scale with.
ABSOLUTE = 1e-8
SAMPLE = 20  # entries checked per array once a network has more than ALL_UP_TO parameters
ALL_UP_TO = 150
AGREE = TOLERANCE["float64"]  # OO against NumPy, relative

EXAMPLES = settings(deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


# ---- the strategy: random networks that backpropagation can be checked on -----------------

# Smooth activations only. Not even leaky_relu: a group whose input has not arrived yet (a delay
# longer than the ticks so far) with a zero bias sits exactly on its kink.
SMOOTH = ["identity", "tanh", "tanh", "sigmoid", "softplus"]


@st.composite
def smooth_expressions(draw, names: list[str], lit: Literals, depth: int = 2) -> str:
    """A smooth expression over `names`: sums, products and smooth functions, no jumps."""
    kind = draw(st.sampled_from(["leaf"] * 2 + (["scale", "add", "mul", "tanh", "sigmoid",
                                                 "bump", "log", "ratio", "root"] if depth else [])))
    if kind == "leaf":
        return draw(st.sampled_from(names)) if draw(st.integers(0, 3)) else lit.text(-1.0, 1.0)

    def sub() -> str:
        return "(" + draw(smooth_expressions(names, lit, depth - 1)) + ")"

    if kind == "scale":
        return f"{lit.text(-1.0, 1.0)} * {sub()}"
    if kind in ("add", "mul"):
        return f"{sub()} {'+' if kind == 'add' else '*'} {sub()}"
    if kind == "tanh":
        return f"tanh({sub()})"
    if kind == "sigmoid":
        return f"sigmoid({lit.text(0.5, 2.0)} * {sub()})"
    x = sub()
    return {"bump": f"exp(-{x} * {x})", "log": f"log(1.0 + {x} * {x})",
            "ratio": f"{x} / (1.0 + {x} * {x})", "root": f"sqrt(1.0 + {x} * {x})"}[kind]


@st.composite
def smooth_models(draw, name: str, lit: Literals) -> dict:
    """A user neuron model with 0-2 parameters and 0-2 states, every statement smooth, `out`
    always reading `net` (so the weights into its group matter), and maybe a named input sum
    `sum(a)` (the connections into its groups may then say `target a`)."""
    params = ["p0", "p1"][:draw(st.integers(0, 2))]
    states = ["s0", "s1"][:draw(st.integers(0, 2))]
    sums = ["a"] if draw(st.booleans()) else []
    lines = [f"neuron {name} {{"]
    lines += [f"    param {p} = {lit.text(0.2, 0.9)}" for p in params]
    lines += [f"    state {s} = {lit.text(-0.5, 0.5)}" for s in states]
    known = ["net", "out", *params, *states, *(f"sum({s})" for s in sums)]
    for s in states:
        leak = draw(st.sampled_from([*params, None])) or lit.text(0.2, 0.9)
        lines.append(f"    {s} = {leak} * {s} + (1.0 - {leak}) * "
                     f"({draw(smooth_expressions(known, lit))})")
    squash = draw(st.sampled_from(["tanh", "sigmoid"]))
    read = "".join(f" + {lit.text(0.5, 1.5)} * sum({s})" for s in sums)  # read, whatever else
    value = (f"{squash}({lit.text(0.5, 1.5)} * net{read} + "
             f"({draw(smooth_expressions(known, lit))}))")
    leak = draw(st.sampled_from([None, *params]))
    lines.append(f"    out = {leak} * out + (1.0 - {leak}) * {value}" if leak else
                 f"    out = {value}")
    lines.append("}")
    return {"name": name, "text": "\n".join(lines), "params": params, "sums": sums}


@st.composite
def small_shapes(draw, at_least: int = 1) -> list[int]:
    """Rank 1-3, at most 3 per axis (rank 3 gives `local` feature maps)."""
    shape = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    if int(np.prod(shape)) < at_least:
        shape[-1] = at_least
    return shape


@st.composite
def smooth_activations(draw, g: dict, links: list, lit: Literals) -> str:
    """What a group computes: a smooth activation, a built-in model, the user model, or
    softmax where it may be (never in a neuron-level step: it needs its whole group)."""
    if g["model"] == "leaky":
        return draw(st.sampled_from(["leaky", f"leaky(leak={lit.text(0.1, 0.95)})"]))
    if g["model"] == "adaptive":
        names = ["leak", "excite", "threshold", "gain", "recovery", "strength"]
        ranges = [(0.3, 0.7), (0.5, 3.0), (0.2, 1.0), (0.5, 2.0), (0.8, 0.97), (0.1, 0.6)]
        chosen = draw(st.lists(st.sampled_from(range(6)), unique=True, max_size=3))
        args = ", ".join(f"{names[i]}={lit.text(*ranges[i])}" for i in sorted(chosen))
        return f"adaptive({args})" if args else "adaptive"
    if g["model"] != "activation":
        return g["model"]
    in_step = any(d == 0 and src["cluster"] == dst["cluster"] and g in (src, dst)
                  for src, dst, _, d in links)
    choice = draw(st.sampled_from(SMOOTH + ([] if in_step else ["softmax"] * 2)))
    return choice


@st.composite
def gradient_networks(draw):
    """NNDL source text of a random network to check gradients on.

    As in test_recurrent_properties: groups sit in ordered clusters; a delay-0 link runs from an
    input or an earlier cluster to a later one, or inside a cluster with a rule that only goes up
    in flat index (a neuron-level DAG); every other link has a delay of 1 or 2, and the first
    recurrent link closes a cycle. Rules come from test_properties (every rule, `local` with
    every metric, `wrap` and `shared`, `random` and `fan_in` with `where=`)."""
    lit = Literals(draw(st.integers(0, 2**32 - 1)))
    made = [draw(smooth_models("m0", lit))] if draw(st.booleans()) else []
    inputs = [{"name": f"i{i}", "role": "input", "shape": draw(small_shapes()), "cluster": -1,
               "init": False} for i in range(draw(st.integers(1, 2)))]
    count = draw(st.integers(2, 4))
    kinds = ["activation"] * 3 + ["leaky", "adaptive"] + [m["name"] for m in made] * 2
    groups = [{"name": f"g{i}", "role": "hidden", "shape": draw(small_shapes()),
               "cluster": draw(st.integers(0, max(count - 2, 0))), "init": draw(st.booleans()),
               "model": draw(st.sampled_from(kinds))} for i in range(count)]
    links = []  # (src, dst, rule, delay)
    for g in groups:  # drive: from an input or an earlier cluster
        earlier = inputs + [h for h in groups if h["cluster"] < g["cluster"]]
        for src in draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=2,
                                 unique_by=lambda h: h["name"])):
            links.append((src, g, draw(feedforward_rules(src, g)),
                          draw(st.sampled_from([0, 0, 0, 1, 2]))))
    for k in range(draw(st.integers(1, 3))):  # recurrence; the first one closes a cycle
        dst = draw(st.sampled_from(groups))
        src = draw(st.sampled_from(reachable(dst, links) if k == 0 else groups))
        if src["cluster"] < dst["cluster"]:
            links.append((src, dst, draw(feedforward_rules(src, dst)), draw(st.integers(0, 2))))
        else:
            links.append((src, dst, draw(feedforward_rules(src, dst)), draw(st.integers(1, 2))))
    wide = [g for g in groups if int(np.prod(g["shape"])) >= 2]
    if wide and draw(st.booleans()):  # a neuron-level DAG: delay-0 links inside a cluster
        b = draw(st.sampled_from(wide))
        others = [g for g in wide if g["cluster"] == b["cluster"] and g is not b]
        a = draw(st.sampled_from(others)) if others and draw(st.booleans()) else b
        links.append((a, b, draw(forward_rules()), 0))
        if a is not b and draw(st.booleans()):  # two groups, one neuron-level step
            links.append((b, a, draw(forward_rules()), 0))
    # links into a group of the model's that reads sum(a) may feed it instead of net (not into
    # a group of a neuron-level step: those take net only)
    leveled = {g["name"] for src, dst, _, d in links if d == 0 and
               src["cluster"] == dst["cluster"] and src in groups for g in (src, dst)}
    for k, (src, dst, rule, d) in enumerate(links):
        if made and made[0]["sums"] and dst["model"] == "m0" and dst["name"] not in leveled \
                and draw(st.booleans()):
            links[k] = (src, dst, f"{rule} target a", d)
    for g in groups[-1:] + [g for g in groups[:-1] if draw(st.booleans())]:
        g["role"] = "output"
    for g in groups:
        g["activation"] = draw(smooth_activations(g, links, lit))
    return render(inputs + groups, links, made, draw(st.integers(0, 2**31)), lit)


@st.composite
def problems(draw):
    """A network and how to train it: the loss, a loss on every tick or the last, the ticks,
    static or time-varying inputs, the batch, and a seed for the data. (Hypothesis starts from
    the simplest draws: even those have two groups, a cycle and three ticks.)"""
    return {"text": draw(gradient_networks()),
            "loss": draw(st.sampled_from(["mse", "cross_entropy"])),
            "every_tick": draw(st.booleans()),
            "ticks": draw(st.sampled_from([3, 1, 2, 4])),  # the simplest draw: 3, not 1
            "varying": draw(st.booleans()), "batch": draw(st.integers(1, 3)),
            "data": draw(st.integers(0, 2**32 - 1))}


def data_for(spec, problem: dict) -> tuple[dict, dict, dict]:
    """Inputs, targets for every output, and loss_and_grad's options."""
    rng = np.random.default_rng(problem["data"])
    ticks, batch, loss = problem["ticks"], problem["batch"], problem["loss"]
    lead = (ticks, batch) if problem["varying"] else (batch,)
    inputs = {g.name: rng.normal(0.0, 1.0, size=lead + g.shape) for g in spec.inputs}
    every = problem["every_tick"]
    targets = {}
    for g in spec.outputs:
        steps = (ticks,) if every else ()
        # class indices over ticks, (ticks, batch), read as (batch, *shape) when the group's
        # shape is (batch,): see test_training's test_class_indices_over_ticks_...
        ambiguous = every and g.shape == (batch,)
        if loss == "cross_entropy" and rng.integers(2) and not ambiguous:  # class indices
            targets[g.name] = rng.integers(0, g.size, size=steps + (batch,))
        elif loss == "cross_entropy":  # probabilities over the group's neurons
            p = rng.dirichlet(np.ones(g.size), size=steps + (batch,))
            targets[g.name] = p.reshape(steps + (batch,) + g.shape)
        else:
            targets[g.name] = rng.normal(0.0, 1.0, size=steps + (batch,) + g.shape)
    options = {"loss": loss, "every_tick": every,
               "ticks": None if problem["varying"] else ticks}
    return inputs, targets, options


# ---- checking ----------------------------------------------------------------------------


def loss_with(net, key: str, i: int, value: float, inputs, targets, options) -> float:
    """The loss with one parameter entry set to `value` (and left there)."""
    params = net._trainable()  # numpy: views into the weights; oo: copies, written back
    params[key][i] = value
    net._trained(params)
    return net.loss_and_grad(inputs, targets, backward=False, **options)[0]


def check_finite_differences(net, inputs, targets, options, rng, context="") -> int:
    """Central differences against the analytic gradient, every entry of a small network or
    SAMPLE entries of each array of a larger one; returns how many entries were checked."""
    loss, grads = net.loss_and_grad(inputs, targets, **options)
    assert np.isfinite(loss), context
    params = net._trainable()
    assert sorted(grads) == sorted(params), context
    every = sum(g.size for g in grads.values()) <= ALL_UP_TO
    checked = 0
    for key, g in grads.items():
        assert g.shape == params[key].shape, (key, context)
        assert np.isfinite(g).all(), (key, context)
        entries = range(g.size) if every or g.size <= SAMPLE else \
            rng.choice(g.size, SAMPLE, replace=False)
        for i in entries:
            old = float(net._trainable()[key][i])
            high, low = old + H, old - H
            up = loss_with(net, key, i, high, inputs, targets, options)
            down = loss_with(net, key, i, low, inputs, targets, options)
            loss_with(net, key, i, old, inputs, targets, options)
            fd = (up - down) / (high - low)  # the step as represented, not 2 * H
            bound = RELATIVE * max(abs(fd), abs(g[i])) + ABSOLUTE
            assert abs(fd - g[i]) <= bound, (key, i, fd, g[i], context)
            checked += 1
    # the perturbations were undone: the same loss again
    assert net.loss_and_grad(inputs, targets, backward=False, **options)[0] == loss, context
    return checked


def relative_difference(a, b) -> float:
    """max |a - b| over the arrays, relative to the larger one's largest entry (or to 1e-12,
    where both are smaller: then both are rounding noise around a zero gradient)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), 1e-12)
    return float(np.max(np.abs(a - b))) / scale


def assert_same_gradients(oo, vec, inputs, targets, options, context=""):
    loss_oo, grads_oo = oo.loss_and_grad(inputs, targets, **options)
    loss_np, grads_np = vec.loss_and_grad(inputs, targets, **options)
    assert relative_difference(loss_oo, loss_np) <= AGREE, (loss_oo, loss_np, context)
    assert sorted(grads_oo) == sorted(grads_np), context
    for key, g in grads_oo.items():
        assert grads_np[key].shape == g.shape, (key, context)
        assert relative_difference(grads_np[key], g) <= AGREE, (key, context)
    return loss_oo, grads_oo


def trained_weights(net) -> dict:
    return {k: v for k, v in net.parameters().items() if k.endswith((".w", ".bias"))}


def networks_or_skip(compile_text, text):
    oo, vec = (build_or_none(compile_text(text, b)) for b in ("oo", "numpy"))
    assert (oo is None) == (vec is None)
    assume(oo is not None)
    return oo, vec


# ---- (a) finite differences, (b) OO == NumPy, (c) Adam -------------------------------------


@settings(EXAMPLES, max_examples=25)
@given(problem=problems())
def test_random_networks_have_exact_gradients(compile_text, problem):
    oo, vec = networks_or_skip(compile_text, problem["text"])
    inputs, targets, options = data_for(oo.SPEC, problem)
    context = (problem["text"], options)
    for net in (oo, vec):
        check_finite_differences(net, inputs, targets, options, np.random.default_rng(0),
                                 context)


@settings(EXAMPLES, max_examples=25)
@given(problem=problems())
def test_random_networks_agree_on_gradients_and_adam_steps(compile_text, problem):
    oo, vec = networks_or_skip(compile_text, problem["text"])
    inputs, targets, options = data_for(oo.SPEC, problem)
    context = (problem["text"], options)
    assert_same_gradients(oo, vec, inputs, targets, options, context)
    # five Adam steps on the whole data (fit's loss is on the last tick without a regime)
    batch = problem["batch"]
    last = {name: y[-1] if options["every_tick"] else y for name, y in targets.items()}
    for net in (oo, vec):
        history = net.fit(inputs, last, epochs=5, batch=batch, loss=options["loss"],
                          ticks=options["ticks"], optimizer=("adam", {"lr": 0.01}),
                          progress=False)
        assert len(history["loss"]) == 5
    trained_oo, trained_np = trained_weights(oo), trained_weights(vec)
    assert sorted(trained_oo) == sorted(trained_np)
    for key, w in trained_oo.items():
        assert relative_difference(trained_np[key], w) <= AGREE, (key, context)


def test_the_gradient_generator_writes_every_feature(compile_text):
    """The strategy reaches what it claims to, and nearly all it writes builds."""
    drawn = draw_examples(problems(), 200)
    joined = "\n".join(p["text"] for p in drawn)
    for feature in [": full", ": one_to_one", "local(radius=", "shared=true", "wrap=true",
                    "random(p=", "fan_in(k=", "where(", "pre.index < post.index", "delay 1",
                    "delay 2", "delay 0", ": leaky", ": adaptive", "neuron m0", ": m0",
                    "state s0", "param p0", "softmax", "softplus",
                    "input i1", " init ", "sum(a)", "target a"]:
        assert feature in joined, feature
    assert {p["loss"] for p in drawn} == {"mse", "cross_entropy"}
    assert {p["every_tick"] for p in drawn} == {False, True}
    cases = drawn[-60:]  # the first draws are the simplest
    built, levels, cycles = 0, 0, 0
    for p in cases:
        module = compile_text(p["text"], "numpy")
        net = build_or_none(module)
        built += net is not None
        levels += any(step.neuron_level for step in module.SPEC.schedule)
        cycles += has_cycle(module.SPEC)
    assert built >= 0.8 * len(cases)
    assert levels >= 5
    assert cycles >= len(cases) // 2


# ---- (d) hand-written cases ----------------------------------------------------------------

CONV = """
network conv {
    seed 5
    input  image[5, 5]
    group  maps[2, 5, 5] : tanh
    output label[3]      : softmax
    connect image -> maps  : local(radius=1, metric=chebyshev, shared=true) as kernel
    connect image -> maps  : local(radius=1, wrap=true, shared=true) as torus weight normal(0, 0.3)
    connect maps  -> label : full
}
"""

CONDITIONAL = """
neuron gate {
    param cut = 0.2
    state v = 0.0
    v   = 0.5 * v + net
    out = tanh(v) if v > cut else 0.1 * v
}

network gated {
    seed 2
    input  x[3]
    group  h[4] : gate
    output y[2] : sigmoid
    connect x -> h : full weight normal(0, 1)
    connect h -> h : full delay 1
    connect h -> y : full
}
"""

DELAY_LOOP = """
network loop {
    seed 9
    input  x[2]
    group  h[3] : tanh
    output y[2]
    connect x -> h : full
    connect h -> h : full delay 2 weight normal(0, 0.5) as loop
    connect h -> y : full
}
"""

LEVEL_STEP = """
network levels {
    seed 4
    input  x[3]
    group  a[4] : leaky(leak=0.7)
    group  b[4] : tanh
    group  c[4] : adaptive(excite=2.0, gain=1.5)
    output y[2] : softmax
    connect x -> a : full
    connect a -> a : where(pre.index < post.index) weight normal(0, 0.5) as dag
    connect a -> b : where(pre.index <= post.index)
    connect b -> a : where(pre.index < post.index) as back
    connect b -> b : one_to_one delay 1
    connect x -> c : full
    connect c -> c : where(pre.index < post.index) weight normal(0, 0.5) as chain
    connect b -> y : full
    connect a -> y : full
    connect c -> y : full
}
"""

# Two model groups in one neuron-level step (the recurrent property tests build such networks).
TWO_MODELS = """
neuron plain {
    out = tanh(net)
}

network pair {
    seed 1
    input  x[2]
    group  a[3] : leaky(leak=0.7)
    output b[3] : SECOND
    connect x -> a : full
    connect a -> b : where(pre.index <= post.index)
    connect b -> a : where(pre.index < post.index)
}
"""

def hand_problem(module, ticks, varying, every_tick, loss, seed=0):
    return data_for(module.SPEC, {"ticks": ticks, "batch": 3, "loss": loss, "data": seed,
                                  "varying": varying, "every_tick": every_tick})


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_a_shared_convolution_kernel(compile_text, backend, loss):
    module = compile_text(CONV, backend)
    net = module.Network(dtype="float64")
    params = net.parameters()
    assert params["kernel.w"].size == 2 * 9 and params["torus.w"].size == 2 * 5  # kernels
    inputs, targets, options = hand_problem(module, 1, False, False, loss)
    checked = check_finite_differences(net, inputs, targets, options, np.random.default_rng(1))
    assert checked >= 18 + 10
    # a kernel entry's gradient is the sum over the synapses tied to it
    _, grads = net.loss_and_grad(inputs, targets, **options)
    assert grads["kernel.w"].shape == (18,) and np.abs(grads["kernel.w"]).min() > 0


def test_shared_kernels_agree_across_backends(compile_text):
    oo, vec = (compile_text(CONV, b).Network(dtype="float64") for b in ("oo", "numpy"))
    inputs, targets, options = hand_problem(oo, 1, False, False, "cross_entropy")
    assert_same_gradients(oo, vec, inputs, targets, options)


# grids of one and three axes (`local(..., axes=K)`): stencils, gathers (stride, wrap), shared
# kernels and a delayed loop on the grid
SIGNAL_CONV = """
network signal {
    seed 6
    input  wave[12]
    group  maps[2, 12] : tanh
    group  half[2, 6]  : sigmoid
    output label[3]    : softmax
    connect wave -> maps : local(radius=1, metric=chebyshev, shared=true) as kernel
    connect maps -> maps : local(radius=1, wrap=true, axes=1) delay 1 as loop
    connect maps -> half : local(radius=1.5, metric=manhattan, shared=true, axes=1) as pool
    connect half -> label : full
}
"""
VOLUME_CONV = """
network volume {
    seed 7
    input  clip[4, 4, 3]
    group  maps[2, 4, 4, 3] : tanh
    group  small[2, 2, 2]   : sigmoid
    output label[3]         : softmax
    connect clip -> maps  : local(radius=1, metric=chebyshev, shared=true, axes=3) as kernel
    connect maps -> maps  : local(radius=1, wrap=true, axes=3) delay 1 as loop
    connect maps -> small : local(radius=1, shared=true, axes=3) as pool
    connect small -> label : full
}
"""


@pytest.mark.parametrize("text", [SIGNAL_CONV, VOLUME_CONV], ids=["1-D", "3-D"])
def test_convolutions_on_signals_and_volumes(compile_text, backend, text):
    module = compile_text(text, backend)
    net = module.Network(dtype="float64")
    assert net.parameters()["kernel.w"].size == 2 * 3 ** (1 if "wave" in text else 3)
    inputs, targets, options = hand_problem(module, 2, True, True, "cross_entropy")
    check_finite_differences(net, inputs, targets, options, np.random.default_rng(2))


@pytest.mark.parametrize("text", [SIGNAL_CONV, VOLUME_CONV], ids=["1-D", "3-D"])
def test_convolutions_on_signals_and_volumes_agree_across_backends(compile_text, text):
    oo, vec = (compile_text(text, b).Network(dtype="float64") for b in ("oo", "numpy"))
    inputs, targets, options = hand_problem(oo, 3, True, True, "mse", seed=1)
    assert_same_gradients(oo, vec, inputs, targets, options)


@pytest.mark.parametrize("every_tick", [False, True])
def test_a_model_with_a_conditional_agrees_across_backends(compile_text, every_tick):
    """The switch of `a if c else b` backpropagates through a surrogate slope: no finite
    differences, but both backends compute the same finite gradient, and it is not zero."""
    oo, vec = (compile_text(CONDITIONAL, b).Network(dtype="float64") for b in ("oo", "numpy"))
    inputs, targets, options = hand_problem(oo, 5, True, every_tick, "mse", seed=3)
    _, grads = assert_same_gradients(oo, vec, inputs, targets, options)
    for key, g in grads.items():
        assert np.isfinite(g).all(), key
    assert np.abs(grads["x->h.w"]).max() > 0 and np.abs(grads["h->h.w"]).max() > 0


@pytest.mark.parametrize("every_tick", [False, True])
def test_a_delay_two_loop(compile_text, backend, every_tick):
    module = compile_text(DELAY_LOOP, backend)
    net = module.Network(dtype="float64")
    inputs, targets, options = hand_problem(module, 6, True, every_tick, "mse", seed=4)
    check_finite_differences(net, inputs, targets, options, np.random.default_rng(2))
    # with 2 ticks the loop's output (tick 0's, arriving at tick 2) never reaches the loss
    short = {"x": inputs["x"][:2]}
    target = {"y": targets["y"][-1] if every_tick else targets["y"]}
    _, grads = net.loss_and_grad(short, target, loss="mse")
    assert np.array_equal(grads["loop.w"], np.zeros(9))
    # with 3 it does
    _, grads = net.loss_and_grad({"x": inputs["x"][:3]}, target, loss="mse")
    assert np.abs(grads["loop.w"]).max() > 0


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_a_neuron_level_step_of_model_neurons(compile_text, backend, loss):
    module = compile_text(LEVEL_STEP, backend)
    steps = [set(step.groups) for step in module.SPEC.schedule if step.neuron_level]
    assert {"a", "b"} in steps and {"c"} in steps
    net = module.Network(dtype="float64")
    inputs, targets, options = hand_problem(module, 4, False, True, loss, seed=5)
    check_finite_differences(net, inputs, targets, options, np.random.default_rng(3))


def test_level_step_models_agree_across_backends(compile_text):
    oo, vec = (compile_text(LEVEL_STEP, b).Network(dtype="float64") for b in ("oo", "numpy"))
    for every_tick in (False, True):
        inputs, targets, options = hand_problem(oo, 4, True, every_tick, "cross_entropy")
        assert_same_gradients(oo, vec, inputs, targets, options)


def test_adam_by_hand_matches_fit(compile_text, backend):
    """fit with one batch of all the data is loss_and_grad followed by an Adam step, epoch after
    epoch (the shuffled order only changes the order of a sum)."""
    module = compile_text(LEVEL_STEP, backend)
    by_fit, by_hand = module.Network(dtype="float64"), module.Network(dtype="float64")
    inputs, targets, options = hand_problem(module, 3, False, False, "cross_entropy", seed=6)
    history = by_fit.fit(inputs, targets, epochs=5, batch=3, loss="cross_entropy", ticks=3,
                         optimizer=("adam", {"lr": 0.01}), progress=False)
    adam, losses = Adam(lr=0.01), []
    for _ in range(5):
        loss, grads = by_hand.loss_and_grad(inputs, targets, **options)
        params = by_hand._trainable()
        adam.step(params, grads)
        by_hand._trained(params)
        losses.append(loss)
    np.testing.assert_allclose(history["loss"], losses, rtol=1e-12)
    fitted, handmade = trained_weights(by_fit), trained_weights(by_hand)
    for key, w in handmade.items():
        assert relative_difference(fitted[key], w) <= 1e-12, key
    assert relative_difference(fitted["dag.w"], module.Network(dtype="float64")
                               .parameters()["dag.w"]) > 1e-4  # the weights did move


@pytest.mark.parametrize("second", ["leaky", "plain"])
def test_two_model_groups_in_one_neuron_level_step_oo(compile_text, second):
    module = compile_text(TWO_MODELS.replace("SECOND", second), "oo")
    assert any(step.neuron_level and set(step.groups) == {"a", "b"}
               for step in module.SPEC.schedule)
    inputs, targets, options = hand_problem(module, 3, True, True, "mse", seed=7)
    check_finite_differences(module.Network(dtype="float64"), inputs, targets, options,
                             np.random.default_rng(4))


@pytest.mark.parametrize("second", ["leaky", "plain"])
def test_two_model_groups_in_one_neuron_level_step_numpy(compile_text, second):
    text = TWO_MODELS.replace("SECOND", second)
    oo, vec = (compile_text(text, b).Network(dtype="float64") for b in ("oo", "numpy"))
    inputs, targets, options = hand_problem(oo, 3, True, True, "mse", seed=7)
    assert_same_gradients(oo, vec, inputs, targets, options)
    check_finite_differences(vec, inputs, targets, options, np.random.default_rng(4))
