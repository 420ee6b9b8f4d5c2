"""The IR: JSON round trip, the readable listing, and the shared topological order."""

from pathlib import Path

import pytest

from nndl import ir
from nndl.frontend import load_program
from nndl.graph import topological_order
from nndl.listing import network_listing

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.nndl"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_json_round_trip(path):
    program = load_program(path)
    again = ir.Program.from_json(program.to_json())
    assert again == program
    assert again.to_json() == program.to_json()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_ir_command_shows_counts_and_layouts(path, capsys):
    from nndl.cli import main
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
    assert all(step in edges for step in zip(cycle, cycle[1:]))


def test_self_loop_is_a_cycle():
    assert topological_order(["x"], [("x", "x")]) == ([], ["x", "x"])
