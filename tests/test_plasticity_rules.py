"""Learning rules that users write (`rule` blocks): checked with positions, kept in the IR, and
run after every tick of a regime without data as a plain NumPy loop of the same rule says, in
the OO and NumPy backends alike."""

from __future__ import annotations

import numpy as np
import pytest

from nndl import ir
from nndl.frontend import check_text
from nndl.ir.listing import network_listing

STDP = """
rule stdp {
    param tau_pre  = 20.0
    param tau_post = 20.0
    param a_pre    = 0.01
    param a_post   = -0.0105
    param wmax     = 0.01
    state apre  = 0.0
    state apost = 0.0
    every tick {
        apre  = apre  * exp(-1.0 / tau_pre)
        apost = apost * exp(-1.0 / tau_post)
    }
    on pre {
        apre = apre + a_pre
        w    = clip(w + apost, 0.0, wmax)
    }
    on post {
        apost = apost + a_post
        w     = clip(w + apre, 0.0, wmax)
    }
}
"""
LIF = """
neuron lif {
    param threshold = 0.03
    param leak      = 0.8
    state v = 0.0
    v     = leak * v + net
    fired = v > threshold
    out   = 1.0 if fired else 0.0
    v     = 0.0 if fired else v
}
"""
TICKS, EPOCHS, SOURCES, CELLS = 40, 2, 12, 3


def network(delay: int, batch: int, rule: str = "stdp(wmax=0.012)") -> str:
    return STDP + LIF + f"""
network song {{
    seed 3
    group  drive[{SOURCES}] : poisson(rate=0.25)
    output cells[{CELLS}]   : lif
    connect drive -> cells : random(p=0.8) weight uniform(0.0, 0.012) delay {delay}
}}
train song for song {{
    ticks  {TICKS}
    epochs {EPOCHS}
    batch  {batch}
    learn  drive -> cells : {rule}
}}
"""


def stdp_by_hand(x: np.ndarray, pre, post, w: np.ndarray, delay: int, p: dict) -> np.ndarray:
    """The LIF cells and the STDP rule tick by tick, from the sources' spikes x (ticks, batch,
    sources): each sample its own potentials and traces, the weight one for all, moved by the
    mean over the samples."""
    ticks, batch = x.shape[:2]
    w = w.copy()
    v = np.zeros((batch, CELLS))
    apre = np.zeros((batch, w.size))
    apost = np.zeros((batch, w.size))
    for t in range(ticks):
        delivered = x[t - delay] if t >= delay else np.zeros_like(x[0])
        net = np.zeros((batch, CELLS))
        for k in range(w.size):
            net[:, post[k]] += w[k] * delivered[:, pre[k]]
        v = 0.8 * v + net
        y = (v > 0.03).astype(float)
        v = np.where(y > 0, 0.0, v)
        new = np.tile(w, (batch, 1))
        for b in range(batch):
            for k in range(w.size):
                apre[b, k] *= np.exp(-1.0 / p["tau_pre"])
                apost[b, k] *= np.exp(-1.0 / p["tau_post"])
                if delivered[b, pre[k]] != 0:
                    apre[b, k] += p["a_pre"]
                    new[b, k] = min(max(new[b, k] + apost[b, k], 0.0), p["wmax"])
                if y[b, post[k]] != 0:
                    apost[b, k] += p["a_post"]
                    new[b, k] = min(max(new[b, k] + apre[b, k], 0.0), p["wmax"])
        w = w + (new - w).mean(axis=0)
    return w


@pytest.mark.parametrize("backend", ["oo", "numpy"])
@pytest.mark.parametrize("delay, batch", [(0, 1), (2, 3)])
def test_stdp_learns_as_a_plain_numpy_loop_of_the_rule(compile_text, backend, delay, batch):
    module = compile_text(network(delay, batch), backend)
    # the sources are Poisson groups of the counter-based generator: the same spikes whatever
    # the weights, so a run records those the training sees
    x = module.Network(dtype="float64").run(ticks=TICKS * EPOCHS, batch=batch,
                                            record=["drive"]).recorded["drive"]
    assert 0 < x.mean() < 1
    net = module.Network(dtype="float64")
    start = net.parameters()
    history = net.fit(progress=False)
    params = dict(module.SPEC.rules[0].params, wmax=0.012)
    expected = stdp_by_hand(x.reshape(TICKS * EPOCHS, batch, SOURCES), start["drive->cells.pre"],
                            start["drive->cells.post"], start["drive->cells.w"], delay, params)
    got = net.parameters()["drive->cells.w"]
    assert np.abs(got - start["drive->cells.w"]).max() > 1e-4  # it learned something
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert len(history["weight_change"]) == EPOCHS


def test_the_backends_agree_on_a_rule_that_draws(compile_text):
    text = network(1, 2, "noisy(rate=0.003)").replace("rule stdp {", """rule noisy {
    param rate = 0.001
    state trace = 0.0
    every tick {
        trace = 0.9 * trace + post.v
    }
    on pre {
        w = w + rate * (rand() - 0.5) + 0.1 * rate * trace
    }
}
rule stdp {""")
    weights = {}
    for backend in ("oo", "numpy"):
        net = compile_text(text, backend).Network(dtype="float64")
        net.fit(progress=False)
        weights[backend] = net.parameters()["drive->cells.w"]
    np.testing.assert_allclose(weights["oo"], weights["numpy"], rtol=0, atol=1e-12)


def test_a_rule_is_kept_in_the_ir_and_listed():
    program, diags = check_text(network(0, 1))
    assert not diags.errors, diags.render()
    spec = program.network()
    assert ir.Program.from_json(program.to_json()) == program
    rule = spec.plasticity("stdp")
    assert rule.states == {"apre": 0.0, "apost": 0.0}
    assert [t for t, _ in rule.on_post] == ["apost", "w"]
    assert spec.plasticity("oja") is None  # no regime learns by it
    text = network_listing(spec)
    assert "on pre: the synapses of sources that fired" in text
    assert "      w = clip(w + apost, 0, wmax)" in text


def errors_of(text: str) -> list[tuple[str, str, str | None]]:
    _, diags = check_text(text)
    return [(d.code, d.message, d.hint) for d in diags.errors]


def test_unknown_names_are_reported_with_suggestions():
    (code, message, hint), = errors_of(network(0, 1).replace("apre + a_pre", "apre + a_pr"))
    assert code == "unknown-variable" and "`a_pr`" in message and "a_pre" in hint


@pytest.mark.parametrize("statement, word", [("pre = 1.0", "`pre` is the pre-synaptic"),
                                             ("post.v = 0.0", "`post.v` belongs to a neuron"),
                                             ("tau_pre = 2.0", "`tau_pre` is a parameter")])
def test_a_rule_assigns_only_w_and_its_states(statement, word):
    text = network(0, 1).replace("        apre = apre + a_pre\n",
                                 f"        apre = apre + a_pre\n        {statement}\n")
    (_, message, _), = errors_of(text)
    assert word in message


def test_a_rule_reading_a_state_the_neurons_lack_is_refused_where_it_is_learned():
    text = network(0, 1).replace("apre + a_pre", "apre + a_pre * post.u")
    (code, message, hint), = errors_of(text)
    assert code == "missing-state" and "`post.u`" in message and "`cells`" in message


def test_on_pre_on_a_source_that_never_spikes_is_a_warning():
    text = network(0, 1).replace("poisson(rate=0.25)", "tanh").replace(
        "network song {", "neuron tanh_cell {\n    state v = 0.0\n    v = net\n    out = tanh(v)\n}"
        "\nnetwork song {")
    text = text.replace("group  drive[12] : tanh", "group  drive[12] : tanh_cell")
    _, diags = check_text(text)
    assert "never-spikes" in [d.code for d in diags.warnings], diags.render()


def test_unknown_events_are_refused_and_rules_learn_on_networks_with_inputs():
    assert errors_of(network(0, 1).replace("on post {", "on spike {"))[0][0] == "unknown-event"
    with_input = network(0, 1).replace("group  drive[12] : poisson(rate=0.25)",
                                       "input drive[12]")
    assert errors_of(with_input) == []  # a regime with data runs it after each batch


def test_a_rule_of_the_file_named_as_a_built_in_one_replaces_it():
    """As a neuron model of the file replaces a built-in model of its name."""
    program, diags = check_text(network(0, 1).replace("rule stdp", "rule hebb").replace(
        ": stdp(", ": hebb("))
    assert not diags.errors, diags.render()
    rule = program.network().plasticity("hebb")
    assert not rule.builtin and rule.states == {"apre": 0.0, "apost": 0.0}
    assert "wmax" in rule.params  # its own parameters, not hebb's rate and decay
