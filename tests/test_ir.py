"""The IR: JSON round trip, the readable listing, and the shared topological order."""

import itertools
from pathlib import Path

import pytest
from test_fuzz_frontend import watchdog


from nndl import ir
from nndl.datasets import SEQUENCE_TICKS
from nndl.frontend import load_program
from nndl.ir.graph import reaching, topological_order
from nndl.ir.listing import network_listing

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.nndl"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_json_round_trip(path):
    program = load_program(path)
    again = ir.Program.from_json(program.to_json())
    assert again == program
    assert again.to_json() == program.to_json()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_ir_command_shows_counts_and_layouts(path, capsys):
    from nndl.commands.cli import main
    assert main(["ir", str(path)]) == 0
    text = capsys.readouterr().out
    assert "groups, in evaluation order:" in text and "projections:" in text
    assert "synapses in all" in text and "numpy: " in text


def test_listing_without_a_build_leaves_unknown_counts_open():
    net = load_program(Path(__file__).parent.parent / "examples" / "blob.nndl").network()
    text = network_listing(net)
    assert "?" in text and "synapses in all" not in text


def test_listing_of_skip_mlp():
    net = load_program(Path(__file__).parent.parent / "examples" / "skip_mlp.nndl").network()
    lines = network_listing(net).splitlines()
    assert any(line.split()[:2] == ["x->y", "x"] and line.split()[-1] == "48" for line in lines)
    assert lines[-1] == "288 synapses in all"


def test_topological_order_keeps_source_order_among_ties():
    order, cycle = topological_order(["a", "b", "c", "d"], [("c", "b"), ("a", "d")])
    assert cycle is None
    assert order == ["a", "c", "b", "d"]


def test_topological_order_finds_a_cycle_downstream_nodes_do_not_hide():
    order, cycle = topological_order(["a", "b", "c", "d"],
                                     [("a", "b"), ("b", "c"), ("c", "b"), ("c", "d")])
    assert order == ["a"]
    assert cycle[0] == cycle[-1] and set(cycle) == {"b", "c"}
    edges = {("b", "c"), ("c", "b")}
    assert all(step in edges for step in itertools.pairwise(cycle))


def test_reaching_walks_back_along_edges_through_cycles():
    edges = [("a", "b"), ("b", "out"), ("c", "c"), ("d", "a"), ("out", "e"), ("f", "g"),
             ("g", "f"), ("g", "b")]
    assert reaching(["out"], edges) == {"out", "b", "a", "d", "g", "f"}
    assert reaching([], edges) == set()


def test_reaching_is_linear_in_the_edges():
    """`nndlc check`'s dead-end warning grew the set one step per pass over every
    connection: 73 s for a 20 000-group chain. One walk back takes milliseconds."""
    n = 200_000
    edges = [(i, i + 1) for i in range(n)]
    with watchdog(5, cpu=True):
        assert len(reaching([n], edges)) == n + 1


def test_self_loop_is_a_cycle():
    assert topological_order(["x"], [("x", "x")]) == ([], ["x", "x"])


REGIMES = """network n {
  input  x[4]
  group  h[3] : tanh
  output y[2] : softmax
  connect x -> h : full
  connect h -> y : full
  connect h -> h : random(p=0.5) delay 1 as back
}
train supervised {
  data      parity(n=4)
  loss      cross_entropy(every_tick=true)
  optimizer sgd(lr=0.1, momentum=0.5)
  batch     4
  ticks     3
}
train local {
  data   "sets/mine.npz"
  loss   mse
  learn  x -> h : hebb(rate=0.01)
  rewire back : prune(below=0.001) grow(count=2) every 10
}
"""


def _with_regimes() -> ir.Program:
    """A program whose regimes include learn and rewire."""
    from nndl.diagnostics import Diagnostics
    from nndl.frontend.parser import parse
    from nndl.frontend.semantic import check_program
    diags = Diagnostics("r.nndl", REGIMES)
    program = check_program(parse(REGIMES, diags), "r.nndl", "0" * 64, diags)
    assert not diags.errors, diags.render()
    return program


def test_regimes_round_trip_through_json():
    program = _with_regimes()
    _, local = program.network().regimes
    assert local.learn == (ir.LocalRule("x->h", "hebb", {"rate": 0.01, "decay": 0.0},
                                        ir.Loc(19, 3, 34)),)
    assert local.rewire[0].projection == "back"
    again = ir.Program.from_json(program.to_json())
    assert again == program
    assert again.network().regime("local").rewire == local.rewire
    assert again.to_json() == program.to_json()


def test_a_network_without_regimes_loads_from_an_older_dict():
    net = _with_regimes().network()
    old = net.to_dict()
    del old["regimes"]
    assert ir.Network.from_dict(old).regimes == ()
    assert ir.Network.from_dict(net.to_dict()) == net


def test_listing_shows_every_regime_setting():
    text = network_listing(_with_regimes().network())
    regimes = text[text.index("regimes:"):].splitlines()
    assert regimes[1] == "  supervised  (line 9)"
    rows = {tuple(line.split(None, 1)) for line in regimes if line.startswith("    ")}
    assert ("data", "parity(n=4)") in rows
    assert ("input", "x (the only input)") in rows
    assert ("loss", "cross_entropy, averaged over every tick") in rows
    assert ("optimizer", "sgd(lr=0.1, momentum=0.5, weight_decay=0)") in rows
    assert ("optimizer", "adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, "
                          "weight_decay=0)") in rows
    assert ("data", "\"sets/mine.npz\" (relative to the source file's folder)") in rows
    assert ("learn", "x->h: hebb(rate=0.01, decay=0)  (rule; after each batch's run, at its "
            "last tick; every tick: all synapses)") in rows
    assert ("rewire", "back: prune(below=0.001) grow(count=2) every 10") in rows
    assert ("ticks", "3") in rows and ("epochs", "10") in rows
    rules = text[text.index("rules:"):text.index("regimes:")].splitlines()
    assert rules[1:4] == ["  hebb  (built in)", "    params  rate, decay  (as each `learn` gives "
                          "them)", "    every tick:"]


def test_listing_names_the_neuron_model_of_a_model_group():
    net = load_program(Path(__file__).parent.parent / "examples" / "reservoir.nndl").network()
    rows = {line.split()[0]: line for line in network_listing(net).splitlines()[2:7]}
    assert "neuron leaky(leak=0.8)" in rows["slow"], rows


def test_listing_gives_a_sequence_data_sets_own_ticks():
    net = load_program(Path(__file__).parent.parent / "examples" / "digit_rows.nndl").network()
    ticks = [line.split() for line in network_listing(net, sequence_ticks=SEQUENCE_TICKS)
             .splitlines() if line.split()[:1] == ["ticks"]]
    assert ticks and ticks[0][1] == "8", ticks
