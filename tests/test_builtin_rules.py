"""hebb, oja and perceptron are rule blocks (nndl/frontend/builtin_rules.nndl), and rule blocks
run in regimes with data: once per batch, after the batch's run, from its last tick — checked
against the plain NumPy formulas, through a delay, a shared kernel and rewiring, and with a
rule of the user's that keeps states and reads a neuron's state."""

from __future__ import annotations

import numpy as np
import pytest

from nndl.frontend import check_text
from nndl.frontend.semantic import builtin_rules
from nndl.frontend.signatures import LOCAL_RULES

TICKS, SAMPLES = 3, 6

NETWORK = """
network learning {
    seed 4
    input  image[5, 5]
    group  maps[2, 5, 5] : tanh
    group  echo[2, 5, 5] : tanh
    output y[3] : sigmoid
    connect image -> maps : local(radius=1, shared=true) weight normal(0, 0.3)
    connect maps -> echo : one_to_one delay 2 weight normal(0, 0.5)
    connect echo -> y : full weight normal(0, 0.1)
    connect maps -> y : random(p=0.5) weight normal(0, 0.3)
}
"""
RULES = f"""
train rules {{
    ticks {TICKS}
    batch {SAMPLES}
    learn image -> maps : hebb(rate=0.05, decay=0.01)
    learn maps -> echo : oja(rate=0.1)
    learn echo -> y : perceptron(rate=0.2)
    learn maps -> y : perceptron(rate=0.1)
    rewire maps -> y : grow(count=4) every 2
}}
"""


def data(seed: int = 6):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(SAMPLES, 5, 5)), rng.integers(0, 3, size=SAMPLES)


def with_parameters(module, params: dict):
    """A float64 network of the module holding `params` (a weight file's arrays)."""
    net = module.Network(dtype="float64")
    net._load_arrays(dict(params), net.metadata(), "<the test's arrays>")
    return net


def by_hand(module, params: dict, x: np.ndarray, y: np.ndarray) -> tuple[dict, int]:
    """One batch of the four rules as the plain formulas say, from a run with `params`."""
    net = with_parameters(module, params)
    out = net.run(image=x, ticks=TICKS, record=["image", "maps", "echo", "y"]).recorded
    last = {g: out[g][-1].reshape(SAMPLES, -1) for g in out}
    first = {g: out[g][0].reshape(SAMPLES, -1) for g in out}
    change = {}
    pre, post, tie = (params[f"image->maps.{k}"] for k in ("pre", "post", "tie"))
    w = params["image->maps.w"]
    per_synapse = 0.05 * (last["maps"][:, post] * last["image"][:, pre]).mean(0) - 0.01 * w[tie]
    change["image->maps.w"] = np.bincount(tie, per_synapse, w.size)  # the sum over the entry
    pre, post, w = (params[f"maps->echo.{k}"] for k in ("pre", "post", "w"))
    seen = first["maps"][:, pre]  # delay 2 in a run of 3 ticks: the source at tick 0
    change["maps->echo.w"] = 0.1 * (last["echo"][:, post] * (seen - last["echo"][:, post] * w)
                                    ).mean(0)
    error = np.eye(3)[y] - last["y"]
    for name, source, rate in (("echo->y", "echo", 0.2), ("maps->y", "maps", 0.1)):
        pre, post = params[f"{name}.pre"], params[f"{name}.post"]
        change[f"{name}.w"] = rate * (error[:, post] * last[source][:, pre]).mean(0)
    change["y.bias"] = 0.2 * error.mean(0)  # once, by the first rule that moves it
    return change, int((np.abs(error) > 0.5).any(axis=1).sum())


def test_the_built_in_rules_are_rule_blocks_whose_arguments_the_signatures_check():
    rules = {name: rule for name, rule, _ in builtin_rules()}
    assert set(rules) == set(LOCAL_RULES) and all(r.builtin for r in rules.values())
    for name, rule in rules.items():
        assert list(rule.params) == [p.name for p in LOCAL_RULES[name]]
        assert not rule.on_pre and not rule.on_post and not rule.states
    assert rules["perceptron"].target and [t for t, _ in rules["perceptron"].bias] == ["bias"]
    assert not rules["hebb"].target and not rules["oja"].bias


def rule_texts(text: str) -> dict[str, list[str]]:
    """Each `rule NAME { ... }` of a text, its lines without comments and indentation."""
    rules, name, depth = {}, None, 0
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("rule ") and line.endswith("{"):
            name = line.split()[1]
            rules[name] = []
        if name and line:
            rules[name].append(line)
            depth += line.count("{") - line.count("}")
            name = name if depth else None
    return rules


def test_the_language_reference_shows_the_built_in_rules_as_the_package_has_them():
    from pathlib import Path
    from nndl.frontend.plasticity_rules import builtin_rules_text
    docs = (Path(__file__).resolve().parent.parent / "docs" / "language.md").read_text()
    section = docs[docs.index("### Local rules: when and how weights change"):]
    shown = rule_texts(section[:section.index("| rule |")])
    assert shown == rule_texts(builtin_rules_text()) and len(shown) == 3


@pytest.mark.parametrize("backend", ["oo", "numpy"])
def test_hebb_oja_and_perceptron_change_the_weights_as_the_formulas_say(compile_text, backend):
    """A batch of several samples; Hebb on a shared kernel, Oja through a delay of two ticks,
    two perceptrons into one group (its bias moves once), one of them rewired: after the
    rewiring (at the second batch) the rules follow the new synapses."""
    module = compile_text(NETWORK + RULES, backend)
    x, y = data()
    after = {}
    for epochs in (2, 3):  # each epoch one batch of every sample; the rewiring after the 2nd
        net = module.Network(dtype="float64")
        history = net.fit({"image": x}, {"y": y}, epochs=epochs, progress=False)
        after[epochs] = net.parameters()
    before = after[2]
    assert before["maps->y.pre"].size > module.Network().parameters()["maps->y.pre"].size
    change, mistakes = by_hand(module, before, x, y)
    for key, expected in change.items():
        np.testing.assert_allclose(after[3][key] - before[key], expected, rtol=1e-9,
                                   atol=1e-13, err_msg=key)
    assert history["mistakes"][-1] == mistakes and len(history["weight_change"]) == 3


def test_the_backends_agree_on_the_built_in_rules_in_a_regime_with_data(compile_text):
    x, y = data(7)
    weights = {}
    for backend in ("oo", "numpy"):
        net = compile_text(NETWORK + RULES, backend).Network(dtype="float64")
        net.fit({"image": x}, {"y": y}, epochs=3, batch=4, progress=False)  # 4 then 2 samples
        weights[backend] = net.parameters()
    for key, value in weights["numpy"].items():
        np.testing.assert_allclose(weights["oo"][key], value, rtol=1e-9, atol=1e-12,
                                   err_msg=key)


COUNTING = """
rule counting {
    param rate = 0.001
    state seen = 0.0
    every tick {
        seen = seen + 1.0
        w = w + rate * seen
    }
}
network counted {
    seed 2
    input  x[6]
    output y[4] : tanh
    connect x -> y : random(p=0.5) weight constant(0.5)
}
train count {
    batch 4
    learn x -> y : counting(rate=0.01)
    rewire x -> y : grow(count=2) every 2
}
"""


@pytest.mark.parametrize("backend", ["oo", "numpy"])
def test_a_rule_of_the_users_keeps_its_states_across_batches_and_through_rewiring(
        compile_text, backend):
    """A state per synapse and batch position, carried from batch to batch: batches of 4 and
    2 samples (the smaller uses the first rows), two epochs. A synapse's `seen` counts the
    batches its row took part in, so an old synapse moves by rate * (1 + 2 + 2.5 + 4); one
    grown after the second batch starts anew, rate * (1 + 2); one grown after the fourth has
    not moved."""
    module = compile_text(COUNTING, backend)
    x = np.random.default_rng(1).normal(size=(6, 6))
    net = module.Network(dtype="float64")
    start = net.parameters()
    net.fit({"x": x}, {}, epochs=2, progress=False)
    end = net.parameters()
    old = set(zip(start["x->y.pre"], start["x->y.post"]))
    is_old = np.array([pair in old for pair in zip(end["x->y.pre"], end["x->y.post"])])
    assert is_old.sum() == start["x->y.w"].size and (~is_old).sum() == 4
    moved = np.round((end["x->y.w"] - 0.5) / 0.01, 9)
    assert set(moved[is_old]) == {9.5}
    assert sorted(moved[~is_old]) == [0.0, 0.0, 3.0, 3.0]


def test_a_file_rule_reading_target_on_an_output_learns_and_counts_mistakes(compile_text):
    text = """
rule delta {
    param rate = 0.5
    every tick {
        w    = w + rate * (target - post) * pre + 0.01 * post.v * pre
        bias = bias + 0.5 * rate * (target - post) * post.v
    }
}
network tiny {
    seed 1
    input  x[2]
    output y[1] : leaky(leak=0.0)
    connect x -> y : full
}
train delta_rule {
    batch 4
    learn x -> y : delta
}
"""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    t = np.array([0, 0, 0, 1])
    for backend in ("oo", "numpy"):
        net = compile_text(text, backend).Network(dtype="float64")
        start = net.parameters()
        history = net.fit({"x": x}, {"y": t}, epochs=1, progress=False)
        out = np.tanh(x @ start["x->y.w"] + start["y.bias"])  # leaky with leak 0: tanh(net)
        v = x @ start["x->y.w"] + start["y.bias"]
        error = t - out
        np.testing.assert_allclose(net.parameters()["x->y.w"] - start["x->y.w"],
                                   ((0.5 * error + 0.01 * v)[:, None] * x).mean(0), rtol=1e-10,
                                   atol=1e-14)
        np.testing.assert_allclose(net.parameters()["y.bias"] - start["y.bias"],
                                   [0.25 * (error * v).mean()], rtol=1e-10, atol=1e-14)
        assert history["mistakes"] == [int((np.abs(error) > 0.5).sum())]


def test_targets_are_needed_where_a_rule_reads_target(compile_text):
    from nndl.runtime.errors import InputError
    net = compile_text(NETWORK + RULES, "numpy").Network()
    with pytest.raises(InputError, match="no targets given"):
        net.fit({"image": data()[0]}, {}, progress=False)


EVENTS = """
rule events {
    param rate = 0.1
    param goal = 0.25
    every tick {
        bias = bias - rate * (post - goal)
    }
    on post {
        w = w + rate * pre
    }
}
network n {
    seed 5
    input  x[3]
    output y[2] : step
    connect x -> y : full weight normal(0, 1)
}
train keep {
    batch 5
    learn x -> y : events
}
"""


@pytest.mark.parametrize("backend", ["oo", "numpy"])
def test_a_rule_with_an_event_and_a_bias_of_its_own_learns_in_a_regime_with_data(
        compile_text, backend):
    """`on post` at the run's last tick visits the synapses of the targets that fired; `bias =
    ...` needs no targets (a homeostatic threshold). The checks of what `bias = ...` reads are
    golden (tests/golden/diagnostics/learning_rule_bias_mistakes.nndl)."""
    module = compile_text(EVENTS, backend)
    rule = module.SPEC.plasticity("events")
    assert not rule.target and [t for t, _ in rule.bias] == ["bias"]
    x = np.random.default_rng(2).normal(size=(5, 3))
    net = module.Network(dtype="float64")
    start = net.parameters()
    net.fit({"x": x}, {}, epochs=1, progress=False)
    w = start["x->y.w"].reshape(2, 3)  # full: synapses sorted by (post, pre)
    fired = (x @ w.T + start["y.bias"] > 0).astype(float)  # step
    assert 0 < fired.mean() < 1
    expected = 0.1 * (fired[:, :, None] * x[:, None, :]).mean(0).reshape(-1)
    np.testing.assert_allclose(net.parameters()["x->y.w"] - start["x->y.w"], expected,
                               rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(net.parameters()["y.bias"] - start["y.bias"],
                               -0.1 * (fired - 0.25).mean(0), rtol=1e-10, atol=1e-14)
