"""`nndlc check` decides what it can from the rules, without building (nndl.runtime.survey):
synapse counts and fan_in shortfalls of exact source ranges, and neuron-level steps whose
delay-0 synapses all run one way; what must be built is built once."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nndl.commands.check import check_source
from nndl.commands.cli import main
from nndl.frontend import check_text
from nndl.runtime import sampling, synapses
from nndl.runtime.schedule import levels
from nndl.runtime.survey import one_way, survey
from nndl.runtime.synapses import build, count_without_building

CONDITIONS = [
    "pre.index < post.index", "pre.index <= post.index - 3", "pre.index > 2 * post.index",
    "post.index < 5 and pre.index >= 2", "pre.index == post.index", "post.index / 2 > pre.index",
    "pre.index < post.index and pre.index % 2 == 0", "pre.coord[0] < 2", "pre.index >= 7",
]


def network_text(n_src: int, n_dst: int, rule: str, inner_delay: int = 0) -> str:
    """a -> b and b -> b by `rule`, the second with `inner_delay`."""
    return (f"network n {{\n  input x[1]\n  group a[{n_src}] : tanh\n  group b[{n_dst}] : tanh\n"
            f"  output y[1]\n  connect x -> a : full\n  connect a -> b : {rule}\n"
            f"  connect b -> b : {rule} delay {inner_delay}\n  connect b -> y : full\n}}\n")


def network(text: str):
    program, diags = check_text(text, "n.nndl")
    assert program is not None, diags.render()
    return program.networks[0]


rules = st.one_of(
    st.builds(lambda c: f"where({c})", st.sampled_from(CONDITIONS)),
    st.builds(lambda k, c: f"fan_in(k={k}, where={c})", st.integers(1, 9),
              st.sampled_from(CONDITIONS)),
    st.builds(lambda k: f"fan_in(k={k})", st.integers(1, 9)),
)


@settings(max_examples=120, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), rules, st.integers(0, 3))
def test_counts_without_building_are_what_building_finds(n_src, n_dst, rule, seed):
    spec = network(network_text(n_src, n_dst, rule, inner_delay=1))
    for p in spec.projections:
        known = count_without_building(spec, p)
        if known is None:
            continue
        findings = []
        built = build(spec, p, seed, findings)
        assert known[0] == built.pre.size
        assert [f.message for f in known[1]] == [f.message for f in findings]


@settings(max_examples=120, deadline=None)
@given(st.integers(1, 40), st.sampled_from(CONDITIONS), st.booleans())
def test_a_step_that_runs_one_way_has_levels(n, condition, fan_in):
    rule = f"fan_in(k=3, where={condition})" if fan_in else f"where({condition})"
    spec = network(network_text(n, n, rule))
    found = survey(spec, spec.seed)
    for step in spec.schedule:
        if step.neuron_level and one_way(spec, step):
            levels(spec, step, found.synapses(spec.projections))  # raises on a cycle


BLOB = """network blob {
    seed 1
    input x[1]
    group b[100000] : tanh
    output y[1]
    connect x -> b : full
    connect b -> b : fan_in(k=10, where=pre.index < post.index)
    connect b -> y : full
}
"""


def test_check_of_a_large_blob_draws_no_synapse(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("check drew synapses it could count")

    for name in ("fan_in_pairs", "where_pairs", "bernoulli_pairs"):
        monkeypatch.setattr(sampling, name, refuse)
    program, diags = check_source(BLOB, "blob.nndl")
    assert program is not None and not diags.errors
    assert [d.code for d in diags.warnings] == ["fan-in-short"]
    assert "10 target neurons have fewer than k=10" in diags.warnings[0].message


def test_check_still_finds_a_cycle_the_rules_do_not_rule_out():
    program, diags = check_source(network_text(6, 6, "where(pre.index != post.index)"), "n.nndl")
    assert program is None and [d.code for d in diags.errors] == ["cycle"]


def test_ir_builds_each_drawn_projection_once(tmp_path, monkeypatch, capsys):
    path = tmp_path / "drawn.nndl"
    path.write_text(network_text(30, 30, "random(p=0.3, where=pre.index < post.index)"))
    calls = []
    real = synapses.connect

    def counting(rule, *args):
        calls.append(rule.kind)
        return real(rule, *args)

    monkeypatch.setattr(synapses, "connect", counting)
    assert main(["ir", str(path)]) == 0
    assert calls.count("random") == 2  # a -> b and b -> b, each once
    assert "a->b" in capsys.readouterr().out
