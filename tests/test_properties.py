"""Random feedforward networks, written as NNDL source: the OO backend (the specification) and
the NumPy backend agree on them in float64 (DESIGN.md, Equivalence). Also the compile cache."""

from __future__ import annotations

import math
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NonInteractiveExampleWarning

import nndl
from conftest import write_source
from nndl import backends, compiler
from nndl.equivalence import TOLERANCE, scaled_difference

ACTIVATIONS = ["identity", "relu", "leaky_relu", "leaky_relu(slope={})", "tanh", "sigmoid",
               "softplus", "step", "softmax", None]  # None: an output's default (identity)
INITIALISERS = [None, "normal", "uniform", "constant"]  # None: the default


def number(rng: np.random.Generator, low: float, high: float) -> str:
    """A literal from an rng, not from hypothesis: hypothesis favours values such as 1 and -1,
    which make `step` sit exactly on its jump where rounding order decides the side."""
    return repr(round(float(rng.uniform(low, high)), 6))


@st.composite
def group_decls(draw, index: int, role: str):
    shape = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    activation = draw(st.sampled_from(ACTIVATIONS if role == "output" else ACTIVATIONS[:-1]))
    bias = draw(st.sampled_from(["", "none", "value"]))
    return {"name": f"{role[0]}{index}", "role": role, "shape": shape,
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
                             "alias": draw(st.booleans())})
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
        if c["alias"]:
            line += f" as p{k}"
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
    reference, other = oo.parameters(), vec.parameters()
    assert sorted(reference) == sorted(other)
    for key in reference:
        np.testing.assert_array_equal(other[key], reference[key], err_msg=key)
    inputs, ticks = random_inputs(oo, np.random.default_rng(data_seed))
    expected = oo.run(inputs, ticks=ticks, every_tick=True)
    actual = vec.run(inputs, ticks=ticks, every_tick=True)
    assert sorted(actual) == sorted(expected) == sorted(g.name for g in oo.SPEC.outputs)
    for name, y in expected.items():
        assert actual[name].shape == y.shape
        assert np.isfinite(y).all()
        assert scaled_difference(actual[name], y) <= TOLERANCE["float64"], (name, text)


def test_the_generator_writes_every_feature(compile_text):
    """The strategy reaches what it claims to: check a sample of its output."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        texts = [networks().example() for _ in range(60)]
    joined = "\n".join(texts)
    for feature in ["one_to_one", "leaky_relu(slope=", "softmax", "step", "bias none", "bias ",
                    "weight normal(", "weight uniform(", "weight constant(", " as p", "output ",
                    "input i1", "group h4", "output o1"]:
        assert feature in joined, feature
    assert any(text.count("output ") == 1 for text in texts)
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
