"""Three-factor rules: a rule's `modulator` fed by a group's output or from Python, checked at
compile time with positions, run as a plain NumPy loop of the same rule says (OO and NumPy
backends alike), and learning a two-armed bandit; BCM's sliding threshold makes a cell
selective (examples/bcm.nndl, the language reference's example)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nndl
from nndl import ir
from nndl.commands.check import check_source
from nndl.frontend import check_text
from nndl.ir.listing import network_listing
from nndl.runtime.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
TICKS, EPOCHS, SOURCES, CELLS = 30, 2, 3, 2

GATED = """
rule gated {
    param rate = 0.01
    modulator reward                    # one for all synapses: `critic` has 1 neuron
    modulator gate                      # one per target neuron: `gates` has as many as `b`
    modulator bonus                     # from Python
    state e = 0.0
    every tick {
        e = 0.5 * e + pre * post
        w = w + rate * (reward * e + gate * pre + bonus)
    }
}
"""


def fed(delay: int, batch: int, feeds: str = "reward=critic, gate=gates, bonus=external") -> str:
    """Poisson groups only, so every output is the same whatever the weights do."""
    return GATED + f"""
network fed {{
    seed 2
    group  a[{SOURCES}]    : poisson(rate=0.4)
    output b[{CELLS}]      : poisson(rate=0.5)
    group  critic[1]       : poisson(rate=0.3)
    group  gates[{CELLS}]  : poisson(rate=0.6)
    connect a -> b : random(p=0.7) delay {delay}
}}
train t {{
    ticks  {TICKS}
    epochs {EPOCHS}
    batch  {batch}
    learn  a -> b : gated(rate=0.02, {feeds})
}}
"""


def bonus(tick: int, outputs: dict) -> np.ndarray:
    """The Python-fed modulator: one value per sample and target neuron, from this tick's
    output of `b` (an output of the network)."""
    return 0.1 * (tick % 7) * outputs["b"] - 0.05


def gated_by_hand(seen: dict, pre, post, w: np.ndarray, delay: int, rate: float) -> np.ndarray:
    ticks, batch = seen["a"].shape[:2]
    w = w.copy()
    e = np.zeros((batch, w.size))
    for t in range(ticks):
        delivered = seen["a"][t - delay] if t >= delay else np.zeros_like(seen["a"][0])
        x, y = delivered[:, pre], seen["b"][t][:, post]
        extra = bonus(t, {"b": seen["b"][t]})[:, post]
        e = 0.5 * e + x * y
        new = w + rate * (seen["critic"][t][:, [0]] * e + seen["gates"][t][:, post] * x + extra)
        w = w + (new - w).mean(axis=0)
    return w


@pytest.mark.parametrize("backend", ["oo", "numpy"])
@pytest.mark.parametrize("delay, batch", [(0, 1), (1, 3)])
def test_modulators_are_read_as_a_plain_numpy_loop_of_the_rule(compile_text, backend, delay,
                                                               batch):
    module = compile_text(fed(delay, batch), backend)
    seen = module.Network(dtype="float64").run(ticks=TICKS * EPOCHS, batch=batch,
                                               record=["a", "b", "critic", "gates"]).recorded
    net = module.Network(dtype="float64")
    start = net.parameters()
    calls = []

    def feed(tick, outputs):
        calls.append((tick, sorted(outputs), outputs["b"].shape))
        return bonus(tick, outputs)

    net.fit(progress=False, modulators={"bonus": feed})
    assert calls == [(t, ["b"], (batch, CELLS)) for t in range(TICKS * EPOCHS)]  # once a tick
    expected = gated_by_hand(seen, start["a->b.pre"], start["a->b.post"], start["a->b.w"],
                             delay, 0.02)
    got = net.parameters()["a->b.w"]
    assert np.abs(got - start["a->b.w"]).max() > 1e-3
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_event_blocks_read_modulators_alike_in_both_backends(compile_text):
    """`on pre` and `on post` read the modulators of the synapses they visit."""
    text = fed(1, 2).replace("""    every tick {
        e = 0.5 * e + pre * post
        w = w + rate * (reward * e + gate * pre + bonus)
    }""", """    every tick {
        e = 0.5 * e
    }
    on pre {
        e = e + reward
        w = w + rate * gate * e
    }
    on post {
        w = w + rate * bonus * e
    }""")
    weights = {}
    for backend in ("oo", "numpy"):
        net = compile_text(text, backend).Network(dtype="float64")
        start = net.parameters()["a->b.w"]
        net.fit(progress=False, modulators={"bonus": bonus})
        weights[backend] = net.parameters()["a->b.w"]
    assert np.abs(weights["numpy"] - start).max() > 1e-2
    np.testing.assert_allclose(weights["oo"], weights["numpy"], rtol=0, atol=1e-12)


def test_modulators_are_kept_in_the_ir_and_listed():
    program, diags = check_text(fed(0, 1))
    assert not diags.errors and not diags.warnings, diags.render()
    assert ir.Program.from_json(program.to_json()) == program
    spec = program.network()
    assert spec.plasticity("gated").modulators == ("reward", "gate", "bonus")
    learn, = spec.regime().learn
    assert learn.params == {"rate": 0.02}
    assert learn.modulators == (ir.Modulator("reward", "group", "critic"),
                                ir.Modulator("gate", "group", "gates"),
                                ir.Modulator("bonus", "external"))
    text = network_listing(spec)
    assert "    modulators  reward, gate, bonus" in text
    assert ("modulators: reward = critic's output (one for all synapses), gate = gates's output "
            "(one per target neuron), bonus from Python") in text


def test_a_group_that_feeds_a_modulator_is_no_dead_end():
    text = fed(0, 1).replace("group  critic[1]       : poisson(rate=0.3)",
                             "group  critic[1]       : sigmoid").replace(
        "connect a -> b :", "connect a -> critic : full\n    connect a -> b :")
    _, diags = check_source(text, "fed.nndl")
    assert not diags.errors and not diags.warnings, diags.render()


def errors_of(text: str) -> list[tuple[str, str, str | None]]:
    _, diags = check_text(text)
    return [(d.code, d.message, d.hint) for d in diags.errors]


@pytest.mark.parametrize("feeds, code, words", [
    ("reward=critic, gate=gates", "unfed-modulator", "reads modulator `bonus`"),
    ("reward=critc, gate=gates, bonus=external", "unknown-group", "`critc`"),
    ("reward=a, gate=gates, bonus=external", "modulator-size", "`a`, which has 3 neurons"),
    ("reward=critic, gate=gates, bonus=0.5", "bad-modulator", "modulator `bonus`"),
    ("reward=critic, gate=gates, bonus=external, reward=gates", "duplicate", "fed twice"),
])
def test_a_modulator_must_be_fed_by_a_group_of_the_right_size_or_from_python(feeds, code,
                                                                             words):
    (got, message, hint), = errors_of(fed(0, 1, feeds))
    assert got == code and words in message
    if code == "unknown-group":
        assert "did you mean `critic`?" in hint
    if code == "unfed-modulator":
        assert "bonus=external" in hint and "modulators=" in hint


def test_a_rule_cannot_assign_its_modulator_or_declare_it_twice():
    (code, message, _), = errors_of(fed(0, 1).replace("e = 0.5 * e", "reward = 1.0\n        e = "
                                                                     "0.5 * e"))
    assert code == "assign-modulator" and "`reward` is a modulator" in message
    (code, message, _), = errors_of(fed(0, 1).replace("state e = 0.0", "state gate = 0.0\n"
                                                                        "    state e = 0.0"))
    assert code == "duplicate" and "`gate` is declared twice" in message


def test_fit_checks_the_functions_it_is_given(compile_text):
    net = compile_text(fed(0, 2), "numpy").Network(dtype="float64")
    with pytest.raises(InputError, match=r'read modulator `bonus` from Python.*"bonus": f'):
        net.fit(progress=False)
    with pytest.raises(InputError, match="`bonsu`.*did you mean `bonus`"):
        net.fit(progress=False, modulators={"bonus": bonus, "bonsu": bonus})
    with pytest.raises(InputError, match="must be a function"):
        net.fit(progress=False, modulators={"bonus": 1.0})
    with pytest.raises(InputError, match=r"shape \(3,\) at tick 0"):
        net.fit(progress=False, modulators={"bonus": lambda tick, outputs: np.ones(3)})
    with pytest.raises(InputError, match="gave 3 values per sample"):
        net.fit(progress=False, modulators={"bonus": lambda tick, outputs: np.ones((2, 3))})
    for value in (0.5, np.ones(2), np.ones((2, 1))):  # a number, per sample, per sample again
        net.fit(progress=False, epochs=1, modulators={"bonus": lambda tick, outputs: value})


# ---- a two-armed bandit, learned by reward x eligibility ------------------------------------

def arm_choices(net, ticks: int = 400) -> np.ndarray:
    """How often each arm fired, with the weights learned (a run of its own)."""
    return net.run(ticks=ticks, batch=1, record=["arms"]).recorded["arms"][:, 0].mean(axis=0)


def test_the_bandit_example_learns_to_pull_the_better_arm():
    """examples/bandit.nndl: the reward is the network's own `payoff` group (a size-1 group:
    one value for every synapse); arm 0 pays 0.8, arm 1 0.3."""
    module = nndl.compile(ROOT / "examples" / "bandit.nndl", backend="numpy")
    net = module.Network(dtype="float64")
    before = arm_choices(net)
    net.fit(progress=False)
    after = arm_choices(net)
    assert 0.3 < before[0] < 0.7, before  # at first a coin
    assert after[0] > 0.9 and after[1] < 0.1, after


CLOSED_LOOP = (ROOT / "examples" / "bandit.nndl").read_text().split("neuron slot")[0] + """
network bandit {
    seed 5
    group  cue[1]  : poisson(rate=1.0)
    output arms[2] : coin
    connect cue  -> arms : full weight constant(0.0)
    connect arms -> arms : where(pre.index < post.index) weight constant(-20.0) as silence
}
train play {
    ticks  1500
    epochs 1
    batch  1
    learn cue -> arms : reinforce(reward=external)
}
"""


@pytest.mark.parametrize("odds", [(0.8, 0.3), (0.3, 0.8)])
def test_a_closed_loop_bandit_fed_from_python_learns_the_better_arm(compile_text, odds):
    """The environment is Python: it reads which arm the network pulled this tick and pays 1
    with that arm's odds, from its own random numbers."""
    net = compile_text(CLOSED_LOOP, "numpy").Network(dtype="float64")
    rng = np.random.default_rng(0)
    pulls = np.zeros(2)

    def environment(tick, outputs):
        arms = outputs["arms"][0]
        pulls[:] += arms
        return float(sum(rng.random() < p for p, pulled in zip(odds, arms) if pulled))

    net.fit(progress=False, modulators={"reward": environment})
    better = int(np.argmax(odds))
    assert pulls.sum() > 1000  # it played
    assert arm_choices(net)[better] > 0.9


# ---- BCM: selectivity from a sliding threshold ---------------------------------------------

@pytest.mark.parametrize("seed", [0, 4])
def test_bcm_makes_a_cell_selective_to_one_of_two_patterns(seed):
    """examples/bcm.nndl (the language reference's BCM example, word for word): the cell ends
    answering one pattern at about 2 (where theta, the mean of post^2 with each pattern shown
    half the time, equals the response: 2^2 / 2 = 2) and the other at 0. Seeds 0 and 4 pick
    different patterns: the choice is the dynamics', not built in."""
    module = nndl.compile(ROOT / "examples" / "bcm.nndl", backend="numpy")
    net = module.Network(seed=seed, dtype="float64")
    w = net.parameters()["sources->cell.w"]
    assert abs(w[:4].sum() - w[4:].sum()) < 0.4  # no preference at the start
    net.fit(progress=False)
    w = net.parameters()["sources->cell.w"]
    responses = np.maximum([w[:4].sum(), w[4:].sum()], 0.0)  # relu of each pattern's input
    strong, weak = responses.max(), responses.min()
    assert 1.3 < strong < 2.7 and weak < 0.05, responses
    assert np.argmax(responses) == (0 if seed == 0 else 1)


def test_the_bcm_example_is_the_language_references():
    text = (ROOT / "docs" / "language.md").read_text()
    assert "```nndl from=examples/bcm.nndl" in text
    assert "```nndl from=examples/bandit.nndl" in text
