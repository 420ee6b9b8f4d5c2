"""Which `every tick` statements of a rule run lazily at events (nndl.ir.lazy_traces): decided
once, in the IR, and only where the result cannot differ but by rounding."""

from __future__ import annotations

import pytest

from nndl.frontend import check_text


def rule(every: str, on_pre: str = "w = w + apre", params: str = "") -> str:
    return f"""
rule r {{
    param tau = 20.0
    {params}
    state apre = 0.0
    state apost = 0.0
    every tick {{
{every}
    }}
    on pre {{
        {on_pre}
    }}
}}
neuron lif {{
    state v = 0.0
    v   = 0.9 * v + net
    out = 1.0 if v > 0.5 else 0.0
}}
network n {{
    group  s[3] : poisson(rate=0.2)
    output c[1] : lif
    connect s -> c : full
}}
train t {{
    ticks 5
    learn s -> c : r
}}
"""


def lazy(text: str) -> tuple[str, ...]:
    program, diags = check_text(text)
    assert not diags.errors, diags.render()
    return program.network().plasticity("r").lazy


@pytest.mark.parametrize("every, expected", [
    ("apre = apre * exp(-1.0 / tau)", ("apre",)),
    ("apre = 0.9 * apre\napost = apost * (1.0 - 1.0 / tau)", ("apre", "apost")),
    ("apre = apre * exp(-1.0 / tau)\nw = w + 0.001 * apre", ()),  # read every tick
    ("apre = apre * 0.9\napre = apre * 0.9", ()),  # assigned twice
    ("apre = apre * apost", ()),  # a factor that changes
    ("apre = apre * post.v", ()),  # read from a neuron
    ("apre = apre * rand()", ()),  # a draw
    ("apre = apre * 0.9 + 0.1", ()),  # not a product alone
    ("w = w * 0.99", ()),  # the weight is no trace: the neurons read it every tick
])
def test_what_runs_lazily(every, expected):
    assert lazy(rule(every)) == expected


def test_a_rule_without_events_keeps_its_every_tick_statements():
    text = rule("apre = apre * 0.9").replace("    on pre {\n        w = w + apre\n    }\n", "")
    assert lazy(text) == ()
