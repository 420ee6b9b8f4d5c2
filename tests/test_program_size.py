"""Checking takes time in proportion to the size of the program.

Each lookup by name once scanned every group or connection, and each "did you mean" compared a
misspelling with every name: a 10 000-group chain took 21 s to check, 100 000 groups over five
minutes, and 2 000 misspelt references among 5 000 groups 24 s. The bounds below are CPU-time
hang guards, many times the time these take now.
"""

from __future__ import annotations

import difflib
import random

import pytest
from test_fuzz_frontend import watchdog

from nndl.commands.check import check_source
from nndl.frontend import check_text
from nndl.diagnostics import suggest


def chain(n: int, misspelt: int = 0, learn: bool = False) -> str:
    """`x -> g0 -> ... -> g{n-1} -> y`; `misspelt` of the connections name their target
    `hiden...` instead; `learn` adds a regime with a local rule on every connection."""
    names = ["x"] + [f"hidden{i}" for i in range(n)] + ["y"]
    lines = ["network chain {", "    input x[1]"]
    lines += [f"    group hidden{i}[1]: relu" for i in range(n)]
    lines += ["    output y[1] : sigmoid"]
    targets = names[1:]
    for k in range(misspelt):
        i = (k * 7919) % n  # spread over the chain
        targets[i] = f"hiden{i}"
    lines += [f"    connect {a} -> {b} : full" for a, b in zip(names, targets)]
    lines += ["}"]
    if learn:
        lines += ["train local {", "    data xor"]
        lines += [f"    learn {a} -> {b} : hebb(rate=0.01)" for a, b in zip(names, names[1:-1])]
        lines += ["}"]
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_a_chain_of_15000_groups_with_a_local_rule_on_each_connection_is_checked():
    """About 6 s on a busy 2-core machine; minutes before (a scan per lookup)."""
    n = 15_000
    with watchdog(60, cpu=True):
        program, diags = check_source(chain(n, learn=True), "chain.nndl")
    assert not diags.items, diags.render()
    network = program.network()
    assert [g.name for g in network.groups] == ["x"] + [f"hidden{i}" for i in range(n)] + ["y"]
    assert len(network.projections) == n + 1 and len(network.regime().learn) == n
    assert network.incoming("y")[0].src == f"hidden{n - 1}"


def tanh_chain(n: int) -> str:
    """The chain of issue 15: `g0 -> g1 -> ... -> g{n-1} -> out`, groups of 2 tanh neurons."""
    lines = ["network chain {", "    input g0[2]"]
    lines += [f"    group g{i}[2] : tanh" for i in range(1, n)]
    lines += [f"    connect g{i - 1} -> g{i} : full" for i in range(1, n)]
    lines += ["    output out[2]", f"    connect g{n - 1} -> out : full", "}"]
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_a_chain_of_20000_groups_is_parsed_and_checked_in_linear_time():
    """About 3.5 s of CPU time now (parse 2.3 s); 6 s before the AST was built while parsing.
    Anything that costs time in proportion to the part already read (a list copied at each
    statement cost 60 s here) trips the guard."""
    n = 20_000
    with watchdog(45, cpu=True):
        program, diags = check_source(tanh_chain(n), "chain.nndl")
    assert not diags.items, diags.render()
    network = program.network()
    assert [g.name for g in network.groups] == [f"g{i}" for i in range(n)] + ["out"]
    assert [(p.src, p.dst) for p in network.projections][-2:] == [
        (f"g{n - 2}", f"g{n - 1}"), (f"g{n - 1}", "out")]


@pytest.mark.slow
def test_2000_misspelt_groups_among_5000_each_get_a_suggestion():
    """Each "did you mean" compared the misspelling with all 5 000 names (24 s); now with the
    few spelt most like it."""
    with watchdog(30, cpu=True):
        _, diags = check_text(chain(5000, misspelt=2000), "chain.nndl")
    errors = [d for d in diags.errors if d.code == "unknown-group"]
    assert len(errors) == 2000
    assert all(d.hint == f"did you mean `hidden{d.message[len('unknown group `hiden'):-1]}`?"
               for d in errors), [d.hint for d in errors[:5]]


@pytest.mark.parametrize("typo, meant", [
    ("hiden123", "hidden123"),  # a letter dropped in the middle
    ("xidden4567", "hidden4567"),  # the first letter wrong
    ("hidden9999x", "hidden9999"),  # a letter too many at the end
    ("outptu_layer", "output_layer"),
])
def test_suggestions_among_100000_names_find_the_name_meant(typo, meant):
    names = [f"hidden{i}" for i in range(100_000)] + ["output_layer"]
    with watchdog(20, cpu=True):
        hints = [suggest(typo, names) for _ in range(100)]
    assert set(hints) == {f"did you mean `{meant}`?"}


def test_suggestions_among_few_names_are_difflibs():
    """Up to 40 names (nndl.diagnostics.SUGGESTION_CANDIDATES) every one is compared, as
    before."""
    rng = random.Random(3)
    letters = "abcdehilnoprstu_"
    for _ in range(300):
        known = ["".join(rng.choices(letters, k=rng.randint(1, 9)))
                 for _ in range(rng.randint(1, 40))]
        name = "".join(rng.choices(letters, k=rng.randint(1, 9)))
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        assert suggest(name, known) == (f"did you mean `{close[0]}`?" if close else None)
