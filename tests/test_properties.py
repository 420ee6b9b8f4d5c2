"""Random feedforward networks, written as NNDL source: the OO backend (the specification) and
the NumPy backend agree on them in float64 (DESIGN.md, Equivalence). Also the compile cache."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
from conftest import assert_backends_agree, draw_examples, write_source
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import nndl
from nndl import backends, compiler
from nndl.runtime.build import BuildError, NNDLWarning

ACTIVATIONS = ["identity", "relu", "leaky_relu", "leaky_relu(slope={})", "tanh", "sigmoid",
               "softplus", "step", "softmax", None]  # None: an output's default (identity)
INITIALISERS = [None, "normal", "uniform", "constant"]  # None: the default
# What follows a group's or a connection's short name (`h3`, `p7`): nothing, or a tail that
# makes a name of up to 200 characters, longer than any line of generated code
NAME_TAILS = st.sampled_from([0, 0, 0, 1, 19, 50, 99, 150, 197]).map(
    lambda length: ("_first_hidden_layer" * 11)[:length])


def number(rng: np.random.Generator, low: float, high: float) -> str:
    """A literal from an rng, not from hypothesis: hypothesis favours values such as 1 and -1,
    which make `step` sit exactly on its jump where rounding order decides the side."""
    return repr(round(float(rng.uniform(low, high)), 6))


@st.composite
def group_decls(draw, index: int, role: str):
    shape = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    activation = draw(st.sampled_from(ACTIVATIONS if role == "output" else ACTIVATIONS[:-1]))
    bias = draw(st.sampled_from(["", "none", "value"]))
    return {"name": f"{role[0]}{index}{draw(NAME_TAILS)}", "role": role, "shape": shape,
            "activation": activation, "bias": bias}


@st.composite
def networks(draw):
    """NNDL source text of a random feedforward network, with a seed for its literals."""
    inputs = [draw(group_decls(i, "input")) for i in range(draw(st.integers(1, 2)))]
    roles = ["hidden"] * draw(st.integers(1, 5)) + ["output"] * draw(st.integers(1, 2))
    roles = draw(st.permutations(roles))  # outputs may come anywhere, and feed later groups
    later = [draw(group_decls(i, role)) for i, role in enumerate(roles)]
    connects = []
    for j, target in enumerate(later):
        earlier = inputs + later[:j]
        sources = draw(st.lists(st.sampled_from(earlier), unique_by=lambda g: g["name"],
                                max_size=3))
        for source in sources:
            rules = ["full"] + (["one_to_one"] if size(source) == size(target) else [])
            connects.append({"src": source["name"], "dst": target["name"],
                             "rule": draw(st.sampled_from(rules)),
                             "init": draw(st.sampled_from(INITIALISERS)),
                             "alias": draw(NAME_TAILS) if draw(st.booleans()) else None})
    literals = draw(st.integers(0, 2**32 - 1))
    return render(inputs + later, connects, draw(st.integers(0, 2**31)), literals)


def size(group: dict) -> int:
    return math.prod(group["shape"])


def render(groups: list[dict], connects: list[dict], seed: int, literals: int) -> str:
    rng = np.random.default_rng(literals)
    lines = ["network random {", f"    seed {seed}"]
    for g in groups:
        shape = "[" + ", ".join(map(str, g["shape"])) + "]"
        keyword = {"hidden": "group"}.get(g["role"], g["role"])
        line = f"    {keyword} {g['name']}{shape}"
        if g["role"] != "input" and g["activation"] is not None:
            line += " : " + g["activation"].format(number(rng, 0.0, 0.5))
        if g["role"] != "input" and g["bias"]:
            line += " bias " + ("none" if g["bias"] == "none" else number(rng, -1.0, 1.0))
        lines.append(line)
    for k, c in enumerate(connects):
        line = f"    connect {c['src']} -> {c['dst']} : {c['rule']}"
        if c["init"]:
            line += " weight " + initialiser(c["init"], rng)
        if c["alias"] is not None:
            line += f" as p{k}{c['alias']}"
        lines.append(line)
    return "\n".join(lines + ["}", ""])


def initialiser(kind: str, rng: np.random.Generator) -> str:
    if kind == "normal":
        return f"normal({number(rng, -0.5, 0.5)}, {number(rng, 0.05, 1.5)})"
    if kind == "uniform":
        low = number(rng, -1.5, 0.5)
        return f"uniform({low}, {float(low) + 0.1 + float(number(rng, 0.0, 1.0)):.6f})"
    return f"constant({number(rng, -1.5, 1.5)})"


def random_inputs(module, rng: np.random.Generator) -> tuple[dict, int]:
    """Inputs for every input group: static (batch, ...) or time-varying (ticks, batch, ...)."""
    ticks, batch = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    varying = bool(rng.integers(2))
    lead = (ticks, batch) if varying else (batch,)
    return {g.name: rng.normal(0.0, 2.0, size=lead + g.shape) for g in module.SPEC.inputs}, ticks


@settings(max_examples=40, deadline=None,
          # the per-test compile cache folder may be shared by every example
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=networks(), data_seed=st.integers(0, 2**32 - 1))
def test_random_networks_agree_across_backends(compile_text, text, data_seed):
    oo = compile_text(text, "oo").Network(dtype="float64")
    vec = compile_text(text, "numpy").Network(dtype="float64")
    inputs, ticks = random_inputs(oo, np.random.default_rng(data_seed))
    assert_backends_agree(oo, vec, inputs, text, ticks)


def test_the_generator_writes_every_feature(compile_text):
    """The strategy reaches what it claims to: check a sample of its output."""
    texts = draw_examples(networks(), 300)
    joined = "\n".join(texts)
    for feature in ["one_to_one", "leaky_relu(slope=", "softmax", "step", "bias none", "bias ",
                    "weight normal(", "weight uniform(", "weight constant(", " as p", "output ",
                    "input i1", "group h4", "output o1"]:
        assert feature in joined, feature
    assert any(text.count("output ") == 1 for text in texts)
    names = [word for text in texts for word in re.findall(r"\b[hiop]\d+\w*", text)]
    assert max(map(len, names)) == 199 and "h0_first_hidden_layer" in names
    compile_text(texts[0], "numpy")  # and what it writes compiles


# ---- the compile cache ---------------------------------------------------------------------

CACHED = """
network cached {
    input  x[2]
    output y[2] : tanh
    connect x -> y : full
}
"""


def counting_generate(monkeypatch) -> list:
    calls = []
    original = backends.generate

    def generate(network, backend):
        calls.append((network.name, backend))
        return original(network, backend)

    monkeypatch.setattr(backends, "generate", generate)
    return calls


def test_the_cache_lives_where_the_tests_point_it(isolated_cache, tmp_path):
    assert compiler.cache_directory() == isolated_cache
    nndl.compile(write_source(CACHED, tmp_path), backend="numpy")
    assert any(p.suffix == ".py" for p in isolated_cache.iterdir())


def test_a_second_compile_does_not_regenerate(monkeypatch, tmp_path):
    calls = counting_generate(monkeypatch)
    path = write_source(CACHED, tmp_path)
    first = nndl.compile(path, backend="numpy")
    second = nndl.compile(path, backend="numpy")
    assert calls == [("cached", "numpy")]
    x = np.array([[0.5, -1.0]])
    np.testing.assert_array_equal(first.Network().run(x=x)["y"], second.Network().run(x=x)["y"])
    nndl.compile(path, backend="oo")  # another backend is another module
    assert calls == [("cached", "numpy"), ("cached", "oo")]


def test_editing_the_file_regenerates(monkeypatch, tmp_path):
    calls = counting_generate(monkeypatch)
    path = write_source(CACHED, tmp_path)
    before = nndl.compile(path, backend="numpy").Network(dtype="float64")
    path.write_text(CACHED.replace("tanh", "relu"), encoding="utf-8")
    after = nndl.compile(path, backend="numpy").Network(dtype="float64")
    assert len(calls) == 2
    assert after.SPEC.group("y").activation == "relu"
    x = np.array([[-3.0, -3.0]])
    assert (after.run(x=x)["y"] >= 0).all() and not np.array_equal(before.run(x=x)["y"],
                                                                   after.run(x=x)["y"])
    nndl.compile(path, backend="numpy")
    assert len(calls) == 2


def test_without_cache_it_always_regenerates(monkeypatch, tmp_path):
    calls = counting_generate(monkeypatch)
    path = write_source(CACHED, tmp_path)
    nndl.compile(path, backend="oo", cache=False)
    nndl.compile(path, backend="oo", cache=False)
    assert len(calls) == 2


def test_a_cache_entry_without_its_manifest_is_regenerated(monkeypatch, tmp_path, isolated_cache):
    calls = counting_generate(monkeypatch)
    path = write_source(CACHED, tmp_path)
    nndl.compile(path, backend="numpy")
    for manifest in isolated_cache.glob("*.json"):
        manifest.unlink()
    nndl.compile(path, backend="numpy")
    assert len(calls) == 2


# ---- random networks with every connection rule --------------------------------------------

# Conditions for `where`, `random(where=)` and `fan_in(where=)`, each holding for at least one pair
# of any two groups. OPEN ones include (pre 0, post 0); MONOTONE ones also keep pre <= post and
# FORWARD ones pre < post (they include (0, 1)): links that never go down in flat index, with
# every loop through a FORWARD link, cannot close a neuron-level cycle.
OPEN = ["(pre.index + post.index) % 2 == 0", "abs(pre.coord[-1] - post.coord[-1]) <= 1",
        "max(pre.coord[0], post.coord[0]) < 2 or pre.index == post.index",
        "not (pre.index > 2 * post.index + 1)", "min(pre.coord[-1], post.coord[0]) == 0"]
MONOTONE = ["pre.index <= post.index", "pre.index <= post.index and post.index - pre.index <= 2",
            "pre.index == post.index or (pre.index < post.index and post.coord[-1] != 1)"]
FORWARD = ["pre.index < post.index", "post.index == pre.index + 1",
           "pre.index < post.index and post.index - pre.index <= 2",
           "pre.index < post.index and (post.index - pre.index) % 2 == 1"]
RULE_ACTIVATIONS = ["identity", "relu", "leaky_relu(slope={})", "tanh", "sigmoid", "softplus"]


@st.composite
def rule_groups(draw, name: str, role: str, at_least: int = 1):
    """A group of rank 1-3 (sizes 1-4) with at least `at_least` (1 or 2) neurons."""
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    if math.prod(shape) < at_least:
        shape[0] = at_least
    return {"name": name, "role": role, "shape": shape,
            "activation": draw(st.sampled_from(RULE_ACTIVATIONS)),
            "bias": draw(st.sampled_from(["", "none", "value"]))}


@st.composite
def conditioned(draw, kind: str, conditions: list[str], optional: bool) -> str:
    """`where(C)`, `random(p, where=C)` or `fan_in(k, where=C)`; where= may be left out."""
    cond = draw(st.sampled_from(conditions))
    if kind == "where":
        return f"where({cond})"
    # a narrow condition leaves few candidates: a high p keeps `no synapse at all` rare
    chances = [0.3, 0.6, 0.9] if optional else [0.7, 0.9, 0.97]
    arg = f"p={draw(st.sampled_from(chances))}" if kind == "random" else \
        f"k={draw(st.integers(1, 4))}"
    with_where = not optional or draw(st.booleans())
    return f"{kind}({arg}, where={cond})" if with_where else f"{kind}({arg})"


@st.composite
def feedforward_rules(draw, src: dict, dst: dict) -> str:
    """Any rule: the link runs from an earlier group to a later one."""
    kinds = ["full", "local", "random", "fan_in", "where"] + (
        ["one_to_one"] if size(src) == size(dst) else [])
    kind = draw(st.sampled_from(kinds))
    if kind in ("full", "one_to_one"):
        return kind
    if kind == "local":  # radius >= 1 reaches at least one source from every target
        radius = draw(st.sampled_from(["1", "1.5", "2"]))
        options = [f"radius={radius}"]
        metric = draw(st.sampled_from([None, "euclidean", "chebyshev", "manhattan"]))
        options += [f"metric={metric}"] if metric else []
        options += [f"{flag}=true" for flag in ("wrap", "shared") if draw(st.booleans())]
        rank = min(len(src["shape"]), len(dst["shape"]))  # `axes` may take any of those
        axes = draw(st.sampled_from([None] + list(range(1, rank + 1))))
        options += [f"axes={axes}"] if axes else []
        return f"local({', '.join(options)})"
    return draw(conditioned(kind, OPEN, optional=True))


@st.composite
def rule_networks(draw):
    """NNDL source text mixing every rule: skip links between groups of rank 1-3, `local` with
    every metric, wrap and shared kernels, sparse rules, and neuron-level DAGs (self-links that
    only go forward, and pairs of groups that feed each other), as (text, has_level_step)."""
    groups = [draw(rule_groups(f"i{i}", "input")) for i in range(draw(st.integers(1, 2)))]
    links, in_steps = [], set()  # links: (src, dst, rule)
    for u in range(draw(st.integers(1, 4))):
        pair = draw(st.booleans())
        unit = [draw(rule_groups(f"g{u}{side}", "hidden", 2 if pair else 1))
                for side in ("ab" if pair else "a")]
        earlier = list(groups)
        for g in unit:  # one or two links from anything before the unit: skip links
            for src in draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=2,
                                     unique_by=lambda s: s["name"])):
                links.append((src, g, draw(feedforward_rules(src, g))))
        if pair:  # a -> b never down in index, b -> a strictly up: a DAG of neurons
            a, b = unit
            kinds = ["where", "random", "fan_in"] + (["one_to_one"] if size(a) == size(b) else [])
            kind = draw(st.sampled_from(kinds))
            links.append((a, b, kind if kind == "one_to_one" else
                          draw(conditioned(kind, MONOTONE, optional=False))))
            kind = draw(st.sampled_from(["where", "random", "fan_in"]))
            links.append((b, a, draw(conditioned(kind, FORWARD, optional=False))))
            in_steps.update(g["name"] for g in unit)
        for g in unit:
            if size(g) >= 2 and draw(st.booleans()):  # a self-link that only goes forward
                kind = draw(st.sampled_from(["where", "random", "fan_in"]))
                links.append((g, g, draw(conditioned(kind, FORWARD, optional=False))))
                in_steps.add(g["name"])
        groups += unit
    hidden = [g for g in groups if g["role"] != "input"]
    for g in [hidden[-1]] + [g for g in hidden[:-1] if draw(st.booleans())]:
        g["role"] = "output"
    for g in hidden:  # softmax needs its whole group at once: never in a neuron-level step
        if g["name"] not in in_steps and draw(st.integers(0, 4)) == 0:
            g["activation"] = "softmax"
    literals = draw(st.integers(0, 2**32 - 1))
    return render_rules(groups, links, draw(st.integers(0, 2**31)), literals), bool(in_steps)


def render_rules(groups: list[dict], links: list, seed: int, literals: int) -> str:
    rng = np.random.default_rng(literals)
    lines = ["network rules {", f"    seed {seed}"]
    for g in groups:
        keyword = {"hidden": "group"}.get(g["role"], g["role"])
        line = f"    {keyword} {g['name']}[{', '.join(map(str, g['shape']))}]"
        if g["role"] != "input":
            line += " : " + g["activation"].format(number(rng, 0.0, 0.5))
            if g["bias"]:
                line += " bias " + ("none" if g["bias"] == "none" else number(rng, -1.0, 1.0))
        lines.append(line)
    pairs = set()
    for k, (src, dst, rule) in enumerate(links):
        line = f"    connect {src['name']} -> {dst['name']} : {rule}"
        init = rng.choice(INITIALISERS)
        if init:
            line += " weight " + initialiser(init, rng)
        if (src["name"], dst["name"]) in pairs or rng.integers(4) == 0:  # no two unnamed
            line += f" as p{k}"                                            # links of one pair
        pairs.add((src["name"], dst["name"]))
        lines.append(line)
    return "\n".join(lines + ["}", ""])


def build_or_none(module, **options):
    """The Network, or None when its rules happen to make no synapse for this seed (a sparse
    rule with few candidates): such a network is refused by design."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NNDLWarning)  # fan_in targets short of k
        try:
            return module.Network(**options)
        except BuildError as e:
            assert "makes no synapse" in str(e)
            return None


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=rule_networks(), data_seed=st.integers(0, 2**32 - 1))
def test_random_networks_with_every_rule_agree_across_backends(compile_text, case, data_seed):
    text, _ = case
    oo = build_or_none(compile_text(text, "oo"), dtype="float64")
    vec = build_or_none(compile_text(text, "numpy"), dtype="float64")
    assert (oo is None) == (vec is None)
    assume(oo is not None)
    inputs, ticks = random_inputs(oo, np.random.default_rng(data_seed))
    assert_backends_agree(oo, vec, inputs, text, ticks)


def test_the_rule_generator_writes_valid_networks_with_every_rule(compile_text):
    """The strategy reaches every rule and option, and nearly all it writes builds."""
    drawn = draw_examples(rule_networks(), 300)
    joined = "\n".join(text for text, _ in drawn)
    for feature in ["full", "one_to_one", "local(radius=", "metric=euclidean", "metric=chebyshev",
                    "metric=manhattan", "wrap=true", "shared=true", "random(p=", "fan_in(k=",
                    ", where=", "where(", "pre.coord[", "softmax", "input i1", " as p",
                    "axes=1", "axes=2", "axes=3"]:
        assert feature in joined, feature
    shapes = [line.split("[")[1] for line in joined.splitlines() if "connect" not in line
              and "[" in line]
    assert {shape.count(",") + 1 for shape in shapes} == {1, 2, 3}  # ranks
    cases = drawn[-40:]  # enough to see the rates (the first draws are the simplest)
    assert sum(level for _, level in cases) > 20  # neuron-level steps are common
    steps = [compile_text(text, "numpy").SPEC.schedule for text, _ in cases]
    assert sum(any(s.neuron_level and len(s.groups) == 2 for s in sched) for sched in steps) >= 4
    built = [build_or_none(compile_text(text, "numpy")) for text, _ in cases]
    assert sum(net is not None for net in built) >= 0.8 * len(cases)  # about 0.95 when measured
