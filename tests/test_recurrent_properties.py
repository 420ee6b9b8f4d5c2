"""Random recurrent networks with neuron models, written as NNDL source: the OO backend (the
specification) and the NumPy backend agree on them in float64 at every one of 100 ticks
(DESIGN.md, Equivalence). The networks have delays 0-3 on any connection, cycles through delays,
neuron-level DAGs with delay 0, `init` outputs, time-varying inputs, the built-in models with
random parameters and small random models written by the strategy.

Tameness. Agreement to 1e-9 after 100 ticks needs dynamics that do not amplify rounding (the two
backends sum synapses in different orders, and `math.exp` and `np.exp` may differ in the last
bit), so what the strategy writes is bounded and damped: outputs of groups that feed others pass
through tanh, sigmoid, softmax or step; model states and outputs are bounded functions, mixed
with their old values through a leak; weights are small. Functions with a jump (floor, ceil,
step, %, comparisons) or an infinite slope (sqrt, fractional powers) are always shifted by a
random constant, so they never sit where saturated values land (exactly 0 or 1), which is where
one backend's 1 - 1e-16 is the other's 1.0.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from conftest import assert_backends_agree, draw_examples
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from nndl.runtime.build import BuildError, NNDLWarning

TICKS = 100

# Conditions that only link a lower flat index to a higher one: delay-0 links with these inside
# one cluster of groups (below) can never close a neuron-level cycle. Each holds for (0, 1).
FORWARD = ["pre.index < post.index", "post.index == pre.index + 1",
           "pre.index < post.index and (post.index - pre.index) % 2 == 1"]
# Conditions for any link, each holding for (0, 0).
OPEN = ["(pre.index + post.index) % 2 == 0", "abs(pre.index - post.index) <= 1",
        "pre.index >= post.index or post.index == 1"]
BOUNDED = ["tanh", "sigmoid", "step"]  # activations of groups that feed others
SINK_ONLY = ["identity", "relu", "softplus"]  # unbounded: only where nothing listens
COMPARE = ["<", "<=", ">", ">="]


class Literals:
    """Numbers from an rng, not from hypothesis: hypothesis favours 0, 1 and -1, which put jumps
    exactly where saturated values land. `text(low, high)` is a literal in [low, high)."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def text(self, low: float, high: float) -> str:
        return repr(round(float(self.rng.uniform(low, high)), 4))


# ---- random neuron models ------------------------------------------------------------------


@st.composite
def raw(draw, names: list[str], lit: Literals, depth: int) -> str:
    """An unbounded but finite expression over the model's variables (depth at most 2)."""
    choices = ["leaf"] * 2 + (["scale", "add", "sub", "mul", "ratio", "abs", "neg", "min", "max",
                               "root", "log", "decay", "power", "mod", "floor", "ceil", "relu",
                               "ifelse", "truth"] if depth else [])
    kind = draw(st.sampled_from(choices))
    if kind == "leaf":
        return draw(st.sampled_from(names)) if draw(st.integers(0, 4)) else lit.text(-1.0, 1.0)

    def sub() -> str:
        return draw(raw(names, lit, depth - 1))

    def shift() -> str:  # keeps jumps and infinite slopes off 0 and 1
        return lit.text(0.1, 0.9)

    return {
        "scale": lambda: f"{lit.text(-1.0, 1.0)} * {sub()}",
        "add": lambda: f"({sub()} + {sub()})",
        "sub": lambda: f"({sub()} - {sub()})",
        "mul": lambda: f"{sub()} * {sub()}",
        "ratio": lambda: f"{sub()} / (1.0 + abs({sub()}))",
        "abs": lambda: f"abs({sub()})",
        "neg": lambda: f"-{sub()}",
        "min": lambda: f"min({sub()}, {sub()})",
        "max": lambda: f"max({sub()}, {sub()})",
        "root": lambda: f"sqrt(abs({sub()}) + {shift()})",
        "log": lambda: f"log(1.0 + abs({sub()}))",
        "decay": lambda: f"exp(-abs({sub()}))",
        "power": lambda: f"(abs({sub()}) + {shift()}) ** {lit.text(0.3, 2.0)}",
        "mod": lambda: f"(({sub()} + {shift()}) % {lit.text(0.5, 2.0)})",
        "floor": lambda: f"floor({sub()} + {shift()})",
        "ceil": lambda: f"ceil({sub()} - {shift()})",
        "relu": lambda: f"relu({sub()})",
        "ifelse": lambda: f"({sub()} if {draw(condition(names, lit, depth - 1))} else {sub()})",
        "truth": lambda: f"{lit.text(0.2, 1.0)} * ({draw(condition(names, lit, depth - 1))})",
    }[kind]()


@st.composite
def condition(draw, names: list[str], lit: Literals, depth: int) -> str:
    """A truth value; every comparison is offset by a random constant."""
    kind = draw(st.sampled_from(["compare"] * 3 + (["and", "or", "not", "number"] if depth
                                                    else [])))
    if kind == "compare":
        left, right = draw(raw(names, lit, depth)), draw(raw(names, lit, depth))
        return f"{left} {draw(st.sampled_from(COMPARE))} {right} + {lit.text(0.1, 0.9)}"
    if kind == "not":
        return f"not ({draw(condition(names, lit, depth - 1))})"
    if kind == "number":  # a number used as a truth value means `!= 0`: never exactly 0 here
        return f"(abs({draw(raw(names, lit, depth - 1))}) + {lit.text(0.1, 0.9)})"
    parts = [draw(condition(names, lit, depth - 1)) for _ in range(2)]
    return f"({parts[0]} {kind} {parts[1]})"


@st.composite
def bounded(draw, names: list[str], lit: Literals) -> str:
    """A value in [-1, 1]: a bounded function of a raw expression (or a choice between two)."""
    kind = draw(st.sampled_from(["tanh", "tanh", "sigmoid", "clip", "step", "choose"]))
    inner = draw(raw(names, lit, 2))
    if kind == "clip":
        return f"clip({inner}, -1.0, 1.0)"
    if kind == "step":
        return f"step({inner} - {lit.text(0.1, 0.9)})"
    if kind == "choose":
        then, other = draw(bounded(names, lit)), draw(bounded(names, lit))
        return f"({then} if {draw(condition(names, lit, 1))} else {other})"
    return f"{kind}({lit.text(0.3, 1.0)} * {inner})"  # a gentle slope


@st.composite
def models(draw, name: str, lit: Literals) -> dict:
    """A small model: 0-2 parameters, 0-2 states (each updated once, through a leak), 0-2
    temporaries, `out` (perhaps reading the last one first), as its source text and the names
    of its parameters."""
    plain = draw(st.integers(0, 3)) > 0  # else names that Python or generated code owns
    params = (["p0", "p1"] if plain else ["class", "None"])[:draw(st.integers(0, 2))]
    states = (["s0", "s1"] if plain else ["np", "self"])[:draw(st.integers(0, 2))]
    temporaries = (["t0", "t1"] if plain else ["sigmoid", "sum"])[:draw(st.integers(0, 2))]
    lines = [f"neuron {name} {{"]
    lines += [f"    param {p} = {lit.text(0.2, 0.9)}" for p in params]  # also used as leaks
    lines += [f"    state {s} = {lit.text(-0.5, 0.5)}" for s in states]
    known = ["net", "out", *params, *states]
    after = draw(st.lists(st.sampled_from(states), unique=True)) if states else []
    for t in temporaries:  # each bounded
        lines.append(f"    {t} = {draw(bounded(known, lit))}")
        known.append(t)
    for s in [s for s in states if s not in after]:
        lines.append(f"    {s} = {draw(update(s, known, params, lit))}")
    leak = draw(st.sampled_from([None, *params]))
    value = draw(bounded(known, lit))
    lines.append(f"    out = {leak} * out + (1.0 - {leak}) * {value}" if leak else
                 f"    out = {value}")
    for s in after:  # states updated after `out` see this tick's output
        lines.append(f"    {s} = {draw(update(s, known, params, lit))}")
    lines.append("}")
    return {"name": name, "text": "\n".join(lines), "params": params}


@st.composite
def update(draw, state: str, known: list[str], params: list[str], lit: Literals) -> str:
    """A state's new value: its old one, leaked, plus a bounded input; stays within [-1, 1]
    once there (the starting values are)."""
    leak = draw(st.sampled_from([*params, None])) or lit.text(0.2, 0.95)
    return f"{leak} * {state} + (1.0 - {leak}) * {draw(bounded(known, lit))}"


# ---- random networks -----------------------------------------------------------------------


def size(group: dict) -> int:
    return math.prod(group["shape"])


@st.composite
def shapes(draw, at_least: int = 1) -> list[int]:
    shape = draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))
    if math.prod(shape) < at_least:
        shape[-1] = at_least
    return shape


@st.composite
def rules(draw, src: dict, dst: dict, lit: Literals) -> str:
    """Any rule between two groups (its synapses may run any way in index)."""
    kinds = ["full", "full", "local", "fan_in", "where", "random"] + (
        ["one_to_one"] if size(src) == size(dst) else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "local":  # radius >= 1 reaches a source from every target
        return f"local(radius={draw(st.sampled_from(['1', '1.5']))})"
    if kind == "fan_in":
        return f"fan_in(k={draw(st.integers(1, 3))})"
    if kind == "where":
        return f"where({draw(st.sampled_from(OPEN))})"
    if kind == "random":  # (0, 0) is always a candidate: p near 1 keeps "no synapse" rare
        return f"random(p=0.9, where={draw(st.sampled_from(OPEN))})"
    return kind


@st.composite
def forward_rules(draw) -> str:
    """A rule whose synapses only go up in flat index: safe with delay 0 inside a cluster."""
    cond = draw(st.sampled_from(FORWARD))
    kind = draw(st.sampled_from(["where", "where", "fan_in"]))
    return f"where({cond})" if kind == "where" else f"fan_in(k={draw(st.integers(1, 2))}, " \
                                                    f"where={cond})"


@st.composite
def recurrent_networks(draw):
    """NNDL source text of a random recurrent network.

    Groups are placed in ordered clusters (not in the order they are written). A delay-0 link
    runs from an input or an earlier cluster to a later one, or inside a cluster with a rule that
    only goes up in index; every other link has a delay of 1-3. So the delay-0 synapses form a
    DAG of neurons, ordered by (cluster, index), and every cycle runs through a delay.
    """
    lit = Literals(draw(st.integers(0, 2**32 - 1)))
    made = [draw(models(f"m{i}", lit)) for i in range(draw(st.integers(1, 2)))]
    inputs = [{"name": f"i{i}", "role": "input", "shape": draw(shapes()), "cluster": -1,
               "init": draw(st.booleans())} for i in range(draw(st.integers(1, 2)))]
    count = draw(st.integers(2, 4))
    groups = [{"name": f"g{i}", "role": "hidden", "shape": draw(shapes()),
               "cluster": draw(st.integers(0, count - 2)), "init": draw(st.booleans()),
               "model": draw(st.sampled_from(["activation"] * 2 + ["leaky", "adaptive"]
                                              + [m["name"] for m in made] * 2))}
              for i in range(count)]
    links = []  # (src, dst, rule, delay)
    for g in groups:  # drive: from an input or an earlier cluster
        earlier = inputs + [h for h in groups if h["cluster"] < g["cluster"]]
        for src in draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=2,
                                 unique_by=lambda h: h["name"])):
            links.append((src, g, draw(rules(src, g, lit)),
                          draw(st.sampled_from([0, 0, 0, 1, 2, 3]))))
    for k in range(draw(st.integers(1, 4))):  # recurrence; the first one closes a cycle
        dst = draw(st.sampled_from(groups))
        # anything reachable from `dst` (itself included) sits in its cluster or a later one
        src = draw(st.sampled_from(reachable(dst, links) if k == 0 else groups))
        if src["cluster"] < dst["cluster"]:
            links.append((src, dst, draw(rules(src, dst, lit)), draw(st.integers(0, 3))))
        elif (src["cluster"] == dst["cluster"] and size(dst) >= 2 and k > 0
              and draw(st.booleans())):  # a neuron-level DAG inside the cluster
            links.append((src, dst, draw(forward_rules()), 0))
        else:
            links.append((src, dst, draw(rules(src, dst, lit)), draw(st.integers(1, 3))))
    wide = [g for g in groups if size(g) >= 2]
    if wide and draw(st.booleans()):  # a neuron-level DAG: delay-0 links inside a cluster
        b = draw(st.sampled_from(wide))
        others = [g for g in groups if g["cluster"] == b["cluster"] and g is not b]
        a = draw(st.sampled_from(others)) if others and draw(st.booleans()) else b
        links.append((a, b, draw(forward_rules()), 0))
        if a is not b and size(a) >= 2 and draw(st.booleans()):  # two groups, one step
            links.append((b, a, draw(forward_rules()), 0))
    for g in groups[-1:] + [g for g in groups[:-1] if draw(st.booleans())]:
        g["role"] = "output"
    for g in groups:
        g["activation"] = draw(activations(g, links))
    return render(inputs + groups, links, made, draw(st.integers(0, 2**31)), lit)


def reachable(start: dict, links: list) -> list[dict]:
    """The groups that `start` reaches through links, itself first."""
    found = [start]
    for g in found:
        found += [dst for src, dst, _, _ in links if src is g and dst not in found]
    return found


@st.composite
def activations(draw, g: dict, links: list) -> str:
    """What the group computes: an activation, or a model with random parameter overrides."""
    lit = Literals(draw(st.integers(0, 2**32 - 1)))
    if g["model"] == "leaky":
        return draw(st.sampled_from(["leaky", f"leaky(leak={lit.text(0.1, 0.95)})"]))
    if g["model"] == "adaptive":
        names = ["leak", "excite", "threshold", "gain", "recovery", "strength"]
        ranges = [(0.3, 0.7), (2.0, 6.0), (0.2, 1.0), (1.0, 4.0), (0.8, 0.97), (0.1, 0.6)]
        chosen = draw(st.lists(st.sampled_from(range(6)), unique=True, max_size=3))
        args = ", ".join(f"{names[i]}={lit.text(*ranges[i])}" for i in sorted(chosen))
        return f"adaptive({args})" if args else "adaptive"
    if g["model"] != "activation":
        return g["model"]
    sink = not any(src is g for src, _, _, _ in links)
    in_step = any(d == 0 and src["cluster"] == dst["cluster"] and g in (src, dst)
                  for src, dst, _, d in links)
    choices = BOUNDED + (SINK_ONLY if sink else []) + ([] if in_step else ["softmax"] * 5)
    return draw(st.sampled_from(choices))


def render(groups: list[dict], links: list, made: list[dict], seed: int, lit: Literals) -> str:
    used = {g["activation"].split("(")[0] for g in groups if g["role"] != "input"}
    lines = [m["text"] for m in made if m["name"] in used]
    lines += ["network recurrent {", f"    seed {seed}"]
    for g in groups:
        keyword = {"hidden": "group"}.get(g["role"], g["role"])
        line = f"    {keyword} {g['name']}[{', '.join(map(str, g['shape']))}]"
        if g["role"] != "input":
            line += " : " + override(g["activation"], made, lit)
            if lit.rng.integers(3) == 0:
                line += " bias " + ("none" if lit.rng.integers(2) else lit.text(-0.5, 0.5))
        if g["init"]:
            line += f" init {lit.text(-1.0, 1.0)}"
        lines.append(line)
    pairs = set()
    for k, (src, dst, rule, delay) in enumerate(links):
        line = f"    connect {src['name']} -> {dst['name']} : {rule}"
        if lit.rng.integers(2):  # a gentle weight; otherwise uniform(+-1/sqrt(fan-in))
            line += f" weight normal(0, {lit.text(0.1, 0.6)})"
        if delay or lit.rng.integers(4) == 0:
            line += f" delay {delay}"
        if (src["name"], dst["name"]) in pairs or lit.rng.integers(4) == 0:
            line += f" as c{k}"  # two unnamed links of one pair would be an error
        pairs.add((src["name"], dst["name"]))
        lines.append(line)
    return "\n".join(lines + ["}", ""])


def override(activation: str, made: list[dict], lit: Literals) -> str:
    """A generated model's name, with some of its parameters set by the group."""
    model = next((m for m in made if m["name"] == activation), None)
    if model is None or not model["params"]:
        return activation
    chosen = [p for p in model["params"] if lit.rng.integers(2)]
    args = ", ".join(f"{p}={lit.text(0.2, 0.9)}" for p in chosen)
    return f"{activation}({args})" if args else activation


# ---- the property --------------------------------------------------------------------------


def build_or_none(module):
    """The Network in float64, or None when a sparse rule happens to make no synapse for this
    seed (refused by design; rare, see the generator test)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NNDLWarning)  # fan_in targets short of k
        try:
            return module.Network(dtype="float64")
        except BuildError as e:
            assert "makes no synapse" in str(e)
            return None


def time_varying_inputs(module, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    batch = int(rng.integers(1, 3))
    return {g.name: rng.normal(0.0, 1.0, size=(TICKS, batch) + g.shape)
            for g in module.SPEC.inputs}


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=recurrent_networks(), data_seed=st.integers(0, 2**32 - 1))
def test_random_recurrent_networks_agree_at_every_tick(compile_text, text, data_seed):
    oo_module, np_module = compile_text(text, "oo"), compile_text(text, "numpy")
    oo, vec = build_or_none(oo_module), build_or_none(np_module)
    assert (oo is None) == (vec is None)
    assume(oo is not None)
    inputs = time_varying_inputs(oo_module, data_seed)
    expected = assert_backends_agree(oo, vec, inputs, text)
    assert all(y.shape[0] == TICKS for y in expected.values())


def test_the_generator_writes_valid_recurrent_networks(compile_text):
    """The strategy reaches what it claims to, and nearly everything it writes compiles, builds
    and stays finite (so the property above rarely discards an example)."""
    texts = sample(300)
    joined = "\n".join(texts)
    for feature in ["neuron m0", "param p0", "state s0", "    t0 = ", "out = p", "* out",
                    "param class", "state np", "    sigmoid = ",
                    "leaky", "adaptive", "delay 0", "delay 1", "delay 2", "delay 3", " init ",
                    "input i1", "pre.index < post.index", ", where=", "local(",
                    "one_to_one", "softmax", " if ", "floor(", "%"]:
        assert feature in joined, feature
    texts = texts[-50:]  # enough to see the rates (the first draws are the simplest)
    built, levels, cycles = 0, 0, 0
    for text in texts:
        module = compile_text(text, "numpy")  # raises on any compile error
        net = build_or_none(module)
        if net is None:
            continue
        built += 1
        levels += any(step.neuron_level for step in module.SPEC.schedule)
        cycles += has_cycle(module.SPEC)
        out = net.run(time_varying_inputs(module, 0), every_tick=True)
        assert all(np.isfinite(y).all() for y in out.values()), text
    assert built >= 0.9 * len(texts)
    assert cycles == built  # every network has a cycle (through a delay: it compiled)
    assert levels >= 5


def sample(count: int) -> list[str]:
    """`count` texts from the strategy, drawn as a test draws them, deterministically."""
    return draw_examples(recurrent_networks(), count)


def has_cycle(spec) -> bool:
    """Whether the groups' links (any delay) form a cycle."""
    edges = {(p.src, p.dst) for p in spec.projections}
    for g in spec.groups:
        reached, frontier = set(), [g.name]
        while frontier:
            node = frontier.pop()
            for dst in [d for s, d in edges if s == node and d not in reached]:
                reached.add(dst)
                frontier.append(dst)
        if g.name in reached:
            return True
    return False
