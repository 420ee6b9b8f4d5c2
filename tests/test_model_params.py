"""Per-neuron parameters, starting values as expressions, and trainable parameters (issue 18,
item 3): the front end's checks, the build-time values, every backend alike, the weight file,
and gradients of trainable parameters against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from test_gradients import check_finite_differences

from nndl.frontend import check_text
from nndl.runtime import philox
from nndl.runtime.build import BuildError
from nndl.runtime.errors import WeightFileError
from nndl.runtime.starting import BUILD_SAMPLE, group_values

IZHIKEVICH = """
neuron izh {
    param a = 0.02
    param b = 0.2
    param c = -65
    param d = 8
    state v = -65
    state u = b * v
    v = v + 0.5 * (0.04 * v * v + 5 * v + 140 - u + net)
    v = v + 0.5 * (0.04 * v * v + 5 * v + 140 - u + net)
    u = u + a * (b * v - u)
    fired = v >= 30
    out = 1.0 if fired else 0.0
    v = c if fired else v
    u = u + d if fired else u
}
network n {
    seed 3
    input x[4]
    group exc[4] : izh(c = -65 + 15 * rand() ** 2, d = 8 - 0.4 * (c + 65))
    group inh[2, 3] : izh(a = 0.02 + 0.08 * rand(), b = 0.25 - 0.625 * (a - 0.02),
                          d = 2 + coord[1] + index)
    output y[4]
    connect x -> exc : one_to_one
    connect exc -> y : one_to_one
    connect x -> inh : full
}
"""


def build_uniform(seed: int, group: str, neurons: int, site: int) -> np.ndarray:
    """rand() of a starting value, as docs/language.md says it is drawn (float64)."""
    words = philox.philox4x32((np.arange(neurons), 0, site, BUILD_SAMPLE),
                              philox.stream_key(seed, group))
    return philox.uniform_of(words[0], words[1], np.float64)


def test_values_are_drawn_and_computed_per_neuron(compile_text):
    net = compile_text(IZHIKEVICH, "numpy").Network(dtype="float64")
    params, states = net.model_params, net.start_states
    r = build_uniform(3, "exc", 4, 0)
    assert np.array_equal(params["exc"]["c"], -65 + 15 * r ** 2)
    assert np.allclose(params["exc"]["d"], 8 - 6 * r ** 2)  # the same draw, through c
    assert sorted(params["exc"]) == ["c", "d"]  # a and b stay numbers written into the code
    ri = build_uniform(3, "inh", 6, 0)
    assert np.array_equal(params["inh"]["a"], 0.02 + 0.08 * ri)
    assert np.allclose(params["inh"]["b"], 0.25 - 0.05 * ri)
    assert np.array_equal(params["inh"]["d"], 2 + np.array([0, 1, 2, 0, 1, 2]) + np.arange(6))
    assert np.array_equal(states["inh"]["u"], params["inh"]["b"] * -65)  # u = b * v
    assert np.array_equal(states["exc"]["u"], np.full(4, 0.2 * -65))
    # the seed keys the draws: the same one gives the same values, another others
    again = compile_text(IZHIKEVICH, "numpy").Network(dtype="float64")
    assert np.array_equal(again.model_params["exc"]["c"], params["exc"]["c"])
    other = compile_text(IZHIKEVICH, "numpy").Network(seed=4, dtype="float64")
    assert not np.array_equal(other.model_params["exc"]["c"], params["exc"]["c"])
    assert np.array_equal(other.model_params["exc"]["c"], -65 + 15 * build_uniform(4, "exc", 4, 0) ** 2)


def test_draws_of_one_group_are_numbered_in_order():
    text = """
neuron m {
    param p = rand()
    param q = randn() + rand()
    state s = rand()
    out = net * p * q + s
}
network n {
    input x[5]
    output y[5] : m
    connect x -> y : one_to_one
}
"""
    program, diags = check_text(text)
    assert program is not None, diags.render()
    spec = program.networks[0]
    params, states = group_values(spec, spec.group("y"), 7)
    assert np.array_equal(params["p"], build_uniform(7, "y", 5, 0))
    words = philox.philox4x32((np.arange(5), 0, 1, BUILD_SAMPLE), philox.stream_key(7, "y"))
    assert np.allclose(params["q"], philox.normal_of(words, np.float64) + build_uniform(7, "y", 5, 2))
    assert np.array_equal(states["s"], build_uniform(7, "y", 5, 3))


def test_backends_agree_on_per_neuron_values(compile_text, backend):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 12, (200, 2, 4))
    reference = compile_text(IZHIKEVICH, "numpy").Network(dtype="float64")
    want = reference.run({"x": x}, every_tick=True)["y"]
    assert want.sum() > 0  # some spikes, so that c and d show
    net = compile_text(IZHIKEVICH, backend).Network(dtype="float64")
    got = net.run({"x": x}, every_tick=True)["y"]
    assert np.allclose(got, want, atol=1e-9)
    for group, states in reference.states().items():
        for var, values in states.items():
            assert np.allclose(net.states()[group][var], values, atol=1e-6), (group, var)


def test_the_weight_file_keeps_per_neuron_parameters(compile_text, backend, tmp_path):
    module = compile_text(IZHIKEVICH, backend)
    net = module.Network(dtype="float64")
    arrays = net.parameters()
    assert arrays["exc.c"].shape == (4,) and arrays["inh.a"].shape == (6,)
    assert "exc.a" not in arrays  # a number stays in the code
    path = tmp_path / "izh.npz"
    net.save(path)
    other = module.Network(seed=99, dtype="float64")  # other draws, until it loads the file
    assert not np.array_equal(other.parameters()["exc.c"], arrays["exc.c"])
    other.load(path)
    for key, value in other.parameters().items():
        assert np.array_equal(value, arrays[key]), key
    x = np.random.default_rng(1).uniform(0, 12, (100, 1, 4))
    assert np.array_equal(other.run({"x": x}, every_tick=True)["y"],
                          net.run({"x": x}, every_tick=True)["y"])


def test_a_weight_file_with_a_wrong_parameter_is_refused(compile_text, tmp_path):
    module = compile_text(IZHIKEVICH, "numpy")
    net = module.Network(dtype="float64")
    arrays = net.parameters()
    from nndl.runtime import weightfile
    for key, bad in [("exc.c", np.zeros(3)), ("inh.a", np.zeros(6, dtype=np.int64)),
                     ("exc.d", np.full(4, np.nan))]:
        path = tmp_path / f"{key}.npz"
        weightfile.save(path, {**arrays, key: bad}, net.metadata())
        with pytest.raises(WeightFileError, match=key.replace(".", r"\.")):
            net.load(path)
    missing = {k: v for k, v in arrays.items() if k != "exc.c"}
    weightfile.save(tmp_path / "missing.npz", missing, net.metadata())
    with pytest.raises(WeightFileError, match="lacks"):
        net.load(tmp_path / "missing.npz")
    assert np.array_equal(net.parameters()["exc.c"], arrays["exc.c"])  # nothing changed


# A PLIF-like neuron (Fang et al., "Incorporating learnable membrane time constant to enhance
# learning of spiking neural networks", ICCV 2021): the membrane keeps sigmoid(w) of its input
# each tick, with w learnt; the output is smooth here, so that finite differences are exact.
PLIF = """
neuron plif {
    param w = 0.0 trainable
    param threshold = 1.0
    state v = 0.0
    v = v + sigmoid(w) * (net - v)
    out = sigmoid(4 * (v - threshold))
    v = v - out * threshold
}
network p {
    seed 2
    input x[3]
    group a[4] : plif
    output b[2] : plif(w = -1 + 0.5 * rand() + 0.1 * index)
    connect x -> a : full
    connect a -> b : full
}
"""


def plif_problem(ticks=5, batch=3):
    rng = np.random.default_rng(0)
    return ({"x": rng.normal(size=(ticks, batch, 3))}, {"b": rng.uniform(size=(ticks, batch, 2))},
            {"loss": "mse", "every_tick": True})


def test_trainable_parameters_have_exact_gradients(compile_text, backend):
    net = compile_text(PLIF, backend).Network(dtype="float64")
    inputs, targets, options = plif_problem()
    _, grads = net.loss_and_grad(inputs, targets, **options)
    assert grads["a.w"].shape == (1,)  # shared by the group: summed over its neurons
    assert grads["b.w"].shape == (2,)  # one per neuron
    assert np.abs(grads["a.w"]).min() > 0 and np.abs(grads["b.w"]).min() > 0
    checked = check_finite_differences(net, inputs, targets, options, np.random.default_rng(1))
    assert checked >= 3 + 12 + 8 + 6  # the parameters, weights and biases


def test_backends_agree_on_gradients_of_trainable_parameters(compile_text, backend):
    inputs, targets, options = plif_problem()
    _, want = compile_text(PLIF, "numpy").Network(dtype="float64").loss_and_grad(
        inputs, targets, **options)
    _, got = compile_text(PLIF, backend).Network(dtype="float64").loss_and_grad(
        inputs, targets, **options)
    assert sorted(got) == sorted(want)
    for key in want:
        assert np.allclose(got[key], want[key], rtol=1e-9, atol=1e-12), key


def test_fit_trains_a_time_constant(compile_text, backend, tmp_path):
    module = compile_text(PLIF, backend)
    net = module.Network(dtype="float64")
    inputs, targets, options = plif_problem(batch=8)
    before = net.parameters()
    first = net.loss_and_grad(inputs, targets, **options)[0]
    history = net.fit(inputs, targets, epochs=20, batch=8, ticks=5, loss="mse",
                      optimizer=("adam", {"lr": 0.05}), progress=False)
    after = net.parameters()
    assert history["loss"][-1] < first
    assert after["a.w"] != pytest.approx(before["a.w"])
    assert not np.allclose(after["b.w"], before["b.w"])
    net.save(tmp_path / "plif.npz")  # the learnt values come back from the file
    again = module.Network(dtype="float64")
    again.load(tmp_path / "plif.npz")
    assert np.array_equal(again.parameters()["b.w"], after["b.w"])
    assert again.loss_and_grad(inputs, targets, **options)[0] == pytest.approx(
        net.loss_and_grad(inputs, targets, **options)[0], rel=1e-12)


def test_a_checkpoint_resumes_training_of_a_parameter(compile_text, tmp_path):
    text = PLIF.replace("param w = 0.0 trainable", "param leak = 0.0 trainable") \
               .replace("sigmoid(w)", "sigmoid(leak)").replace("(w = ", "(leak = ")
    module = compile_text(text, "numpy")
    inputs, targets, _ = plif_problem(batch=8)
    options = dict(batch=8, ticks=5, loss="mse", optimizer=("adam", {"lr": 0.05}),
                   progress=False)
    whole = module.Network(dtype="float64")
    whole.fit(inputs, targets, epochs=4, **options)
    path = tmp_path / "run.npz"
    first = module.Network(dtype="float64")
    first.fit(inputs, targets, epochs=2, checkpoint=path, **options)
    resumed = module.Network(dtype="float64")
    resumed.fit(inputs, targets, epochs=4, checkpoint=path, resume=True, **options)
    for key in ("a.leak", "b.leak"):
        assert np.allclose(resumed.parameters()[key], whole.parameters()[key], rtol=1e-12)


def test_a_value_that_is_not_finite_is_refused_at_build(compile_text):
    text = IZHIKEVICH.replace("d = 2 + coord[1] + index", "d = log(index - 2)")
    module = compile_text(text, "numpy")
    with pytest.raises(BuildError, match=r"`inh\.d` is nan at neuron 0"):
        module.Network()


def test_a_trainable_parameter_that_nothing_reads_is_warned_of():
    text = """
neuron m {
    param gain = 1.0 trainable
    state v = 0.0
    v   = 0.5 * v + net
    out = v
}
network n {
    input  x[2]
    output y[2] : m
    connect x -> y : one_to_one
}
"""
    program, diags = check_text(text)
    assert program is not None
    assert [(w.code, w.span.line) for w in diags.warnings] == [("unused-trainable", 3)]
    assert "always 0" in diags.warnings[0].message


@pytest.mark.parametrize("body, code", [
    ("param p = rand()\n    state v = p * index + coord[0]\n    out = v + net", None),
    ("state v = net\n    out = v", "bad-start"),
    ("state v = w\n    param w = 1\n    out = v + w", "used-before-declared"),
    ("param index = 1\n    out = net", "reserved-name"),
    ("param bias = 1\n    out = net", "reserved-name"),
    ("param t = 1 trainable\n    param u = 2 * t\n    out = net * t * u", "bad-trainable"),
    ("state v = pre.index\n    out = v", "bad-expression"),
    ("state v = true\n    out = v", "bad-value"),
])
def test_starting_values_are_checked(body, code):
    text = f"neuron m {{\n    {body}\n}}\nnetwork n {{\n    input x[2]\n    output y[2] : m\n" \
           "    connect x -> y : one_to_one\n}\n"
    program, diags = check_text(text)
    assert [d.code for d in diags.errors] == ([code] if code else []), diags.render()


# A model group in a neuron-level step (delay-0 links among its own neurons): its per-neuron
# and trainable parameters are picked row by row, forwards and backwards.
LEVELS = PLIF.replace("connect a -> b : full", "connect a -> b : full\n"
                      "    connect b -> b : where(pre.index < post.index) weight constant(0.3)")


def test_per_neuron_parameters_in_a_neuron_level_step(compile_text, backend):
    module = compile_text(LEVELS, backend)
    assert any(step.neuron_level for step in module.SPEC.schedule)
    inputs, targets, options = plif_problem()
    net = module.Network(dtype="float64")
    reference = compile_text(LEVELS, "numpy").Network(dtype="float64")
    loss, grads = net.loss_and_grad(inputs, targets, **options)
    want_loss, want = reference.loss_and_grad(inputs, targets, **options)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    for key in want:
        assert np.allclose(grads[key], want[key], rtol=1e-9, atol=1e-12), key
    check_finite_differences(net, inputs, targets, options, np.random.default_rng(2))


REWIRED = PLIF.replace("connect x -> a : full", "connect x -> a : random(p=0.6)") + """
train grow {
    loss mse
    optimizer adam(lr=0.05)
    rewire x -> a : prune(below=0.3) grow(count=2) every 1
    batch 8
    epochs 3
    ticks 5
}
"""


def test_rewiring_keeps_what_training_made_of_the_parameters(compile_text, backend):
    """Rewiring rebuilds the backend's arrays; a learnt parameter must come through it."""
    inputs, targets, _ = plif_problem(batch=8)
    rewired = compile_text(REWIRED, backend).Network(dtype="float64")
    rewired.fit(inputs, targets, progress=False)
    plain = compile_text(REWIRED.replace("    rewire x -> a : prune(below=0.3) grow(count=2) "
                                         "every 1\n", ""), backend).Network(dtype="float64")
    plain.fit(inputs, targets, progress=False)
    start = compile_text(REWIRED, backend).Network(dtype="float64").parameters()
    for key in ("a.w", "b.w"):  # both moved away from where they started, by about as much
        moved = np.abs(rewired.parameters()[key] - start[key])
        assert moved.min() > 0.02, key
        assert moved.max() < 3 * np.abs(plain.parameters()[key] - start[key]).max() + 0.1
