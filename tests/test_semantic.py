"""Front end: checks and the AST -> IR step (no backend involved)."""

import dataclasses
from pathlib import Path

import pytest

from nndl import ir
from nndl.diagnostics import Diagnostics
from nndl.frontend import check_text
from nndl.frontend.parser import parse
from nndl.frontend.semantic import check_program


def check(text: str):
    program, diags = check_text(text, "t.nndl")
    return program, diags


def codes(text: str) -> list[str]:
    return [d.code for d in check(text)[1].errors]


NET = "network n {{\n  input x[4]\n{body}\n}}\n"


def test_a_checked_network_becomes_ir_in_topological_order():
    program, diags = check(NET.format(body="  output y[2] : softmax\n  group h[3] : tanh bias 0.5\n"
                                           "  connect h -> y : full\n  connect x -> h : full\n"
                                           "  connect x -> y : full as skip"))
    assert not diags.errors, diags.render()
    net = program.network()
    assert [g.name for g in net.groups] == ["x", "h", "y"]
    assert net.group("h").bias_init == 0.5 and net.group("x").bias is False
    assert [p.name for p in net.projections] == ["h->y", "x->h", "skip"]
    assert net.projections[0].init.kind == "default"


def test_parameters_are_bound_and_defaults_filled():
    program, diags = check(NET.format(body="  output y[4] : leaky_relu(slope=0.2)\n"
                                           "  connect x -> y : one_to_one weight normal(std=0.1)"))
    assert not diags.errors, diags.render()
    net = program.network()
    assert net.group("y").params == {"slope": 0.2}
    assert net.projections[0].init.params == {"mean": 0.0, "std": 0.1}


@pytest.mark.parametrize("body, code", [
    ("  output y[2] : relu\n  connect x -> z : full", "unknown-group"),
    ("  output y[2] : relu\n  connect x -> y : ful", "unknown-rule"),
    ("  output y[2] : rellu\n  connect x -> y : full", "unknown-activation"),
    ("  output y[2] : relu\n  connect x -> y : full\n  connect x -> y : full", "duplicate"),
    ("  output y[2] : relu\n  connect y -> x : full", "into-input"),
    ("  output y[3] : relu\n  connect x -> y : one_to_one", "size-mismatch"),
    ("  output y[2] : relu\n  connect x -> y : full weight uniform(1, 0)", "bad-argument"),
    ("  output y[0] : relu", "bad-shape"),
    ("  output y[2.5] : relu", "bad-shape"),
    ("  group h[2] : relu\n  connect x -> h : full", "no-output"),
    ("  output y[2] : softmax\n  connect y -> y : full", "softmax-self"),
    ("  output y[2] : relu\n  group h[2] : relu\n  connect y -> h : full\n  connect h -> y : full",
     "cycle"),
    ("  output y[2] : relu\n  connect x -> y : where(pre.idx < 1)", "bad-condition"),
    ("  output y[2] : relu\n  connect x -> y : where(pre.index + 1)", "bad-condition"),
    ("  output y[2] : relu\n  connect x -> y : where(pre.coord[1] < 1)", "bad-condition"),
    ("  output y[2] : relu\n  connect x -> y : where(pre.coord < 1)", "bad-condition"),
    ("  output y[2] : relu\n  connect x -> y : where(foo(pre.index) < 1)", "bad-expression"),
    (("  output y[2] : relu\n  group h[3] : relu\n  connect x -> h : full\n"
      "  connect h -> h : fan_in(k=2)\n  connect h -> y : full"), "cycle"),
    (("  output y[2] : relu\n  group h[3] : relu\n  connect x -> h : full\n"
      "  connect h -> h : local(radius=1)\n  connect h -> y : full"), "cycle"),
    (("  output y[2] : softmax\n  group h[2] : relu\n  connect x -> h : full\n"
      "  connect h -> y : where(pre.index < post.index)\n"
      "  connect y -> h : where(pre.index < post.index) as back"), "softmax-level"),
    ("  output y[2] : relu\n  connect x -> y : full delay -1", "bad-delay"),
    ("  output y[2] : relu\n  connect x -> y : local(radius=1, metric=cheb)", "bad-argument"),
    ("  output y[2] : relu\n  connect x -> y : random(p=1.5)", "bad-argument"),
    ("  output y[2] : relu\n  connect x -> y : fan_in(k=2.5)", "bad-argument"),
    ("  output y[2] : relu\n  seed 1\n  seed 2", "duplicate"),
    ("  output __y[2] : relu", "reserved-name"),
])
def test_mistakes_are_reported(body, code):
    assert code in codes(NET.format(body=body))


def test_a_cycle_names_every_connection_on_it():
    _, diags = check(NET.format(body="  output y[2] : relu\n  group a[2] : relu\n  group b[2] : relu\n"
                                     "  connect x -> a : full\n  connect a -> b : full\n"
                                     "  connect b -> a : full\n  connect b -> y : full"))
    (error,) = diags.errors
    assert "a -> b -> a" in error.message
    assert "delay 1" in error.hint
    assert [note[1].line for note in error.notes] == [8]


def test_a_broken_model_does_not_cascade():
    _, diags = check("neuron m {\n  out = nett\n}\n" + NET.format(
        body="  output y[2] : m\n  connect x -> y : full"))
    assert [d.code for d in diags.errors] == ["unknown-variable"]


def test_a_train_block_needs_a_known_network():
    assert "unknown-network" in codes(NET.format(body="  output y[2] : relu\n  connect x -> y : full")
                                      + "train t for m {\n  loss mse\n}\n")


def test_warnings_for_loose_ends():
    _, diags = check(NET.format(body="  input unused[2]\n  output y[2] : relu\n  group lonely[2] : relu"
                                     "\n  connect x -> y : full\n  connect lonely -> y : full as l2"))
    assert sorted(d.code for d in diags.warnings) == ["unconnected", "unused"]
    assert not diags.errors


def test_conditions_become_expression_ir():
    program, diags = check(NET.format(body="  output y[3, 3] : relu\n"
                                           "  connect x -> y : where(pre.index % 2 == post.coord[-1])"))
    assert not diags.errors, diags.render()
    condition = program.network().projections[0].rule.params["condition"]
    assert condition["binary"] == "==" and condition["right"] == {"var": "post.coord.1"}


def test_neuron_level_steps_are_scheduled():
    program, diags = check(NET.format(body="  output y[2] : relu\n  group a[4] : tanh\n"
                                           "  group b[4] : tanh\n  connect x -> a : full\n"
                                           "  connect a -> b : where(pre.index <= post.index)\n"
                                           "  connect b -> a : where(pre.index < post.index) as back"
                                           "\n  connect a -> a : fan_in(k=2, where=pre.index < post.index)"
                                           "\n  connect b -> y : full"))
    assert not diags.errors, diags.render()
    net = program.network()
    assert [(s.groups, s.neuron_level) for s in net.schedule] == [(("a", "b"), True),
                                                                  (("y",), False)]


# ---- train blocks ----------------------------------------------------------------------------

DESIGN_EXAMPLE = Path(__file__).parent / "data" / "design_example.nndl"

TWO_WAY = """network n {
  input a[4]
  input b[4]
  group h[3] : tanh
  output y[2] : softmax
  output z[3]
  connect a -> h : full
  connect b -> h : full
  connect h -> y : full
  connect h -> z : full
  connect h -> z : one_to_one as direct
  connect h -> h : full delay 1 as back
}
"""
ONE_WAY = NET.format(body="  output y[2] : softmax\n  group h[3] : tanh\n  connect x -> h : full\n"
                          "  connect h -> y : full\n  connect h -> y : random(p=0.5) as diag")


def regimes(text: str) -> tuple[tuple[ir.Regime, ...], Diagnostics]:
    """Every network's regimes, checked even where errors stop check_text (learn, rewire)."""
    diags = Diagnostics("t.nndl", text)
    tree = parse(text, diags)
    assert tree is not None, diags.render()
    program = check_program(tree, "t.nndl", "0" * 64, diags)
    return tuple(r for net in program.networks for r in net.regimes), diags


def test_a_full_regime_becomes_ir():
    program, diags = check(TWO_WAY + """
train supervised for n {
  data      parity(n=4)
  input     b
  output    z
  loss      mse(every_tick=true)
  optimizer sgd(lr=0.5, momentum=0.9)
  batch     8
  epochs    3
  ticks     5
}
""")
    assert not diags.items, diags.render()
    (regime,) = program.network().regimes
    assert regime == ir.Regime(
        "supervised", "parity", {"n": 4}, "mse", True, ir.Optimizer("sgd", {"lr": 0.5,
                                                                           "momentum": 0.9,
                                                                           "weight_decay": 0.0}),
        batch=8, epochs=3, ticks=5, input="b", output="z", loc=ir.Loc(15, 7, 17))


def test_regime_defaults():
    program, diags = check(ONE_WAY + "train t {\n  loss cross_entropy\n}\n")
    assert not diags.items, diags.render()
    regime = program.network().regime("t")
    assert (regime.data, regime.data_args, regime.loss, regime.every_tick) == \
        (None, {}, "cross_entropy", False)
    assert regime.optimizer == ir.Optimizer("adam", {"lr": 0.001, "beta1": 0.9, "beta2": 0.999,
                                                     "eps": 1e-8, "weight_decay": 0.0})
    assert (regime.batch, regime.epochs, regime.ticks) == (32, 10, 1)
    assert (regime.input, regime.output, regime.learn, regime.rewire) == (None, None, (), ())


def test_adam_fills_what_is_left_out_and_sgd_momentum_defaults_to_0():
    program, diags = check(ONE_WAY + "train a {\n  loss mse\n  optimizer adam(lr=0.01)\n}\n"
                           "train s {\n  loss mse\n  optimizer sgd(0.1)\n}\n")
    assert not diags.items, diags.render()
    net = program.network()
    assert net.regime("a").optimizer.params == {"lr": 0.01, "beta1": 0.9, "beta2": 0.999,
                                                "eps": 1e-8, "weight_decay": 0.0}
    assert net.regime("s").optimizer == ir.Optimizer("sgd", {"lr": 0.1, "momentum": 0.0,
                                                             "weight_decay": 0.0})


@pytest.mark.parametrize("data, name, args", [
    ("digits", "digits", {}),
    ("digits_rows", "digits_rows", {}),
    ("xor", "xor", {}),
    ("parity", "parity", {}),  # the data set's own default applies (nndl.datasets)
    ("parity(5)", "parity", {"n": 5}),
    ("parity(n=5)", "parity", {"n": 5}),
    ('"sets/mine.npz"', "sets/mine.npz", {}),
])
def test_data_settings(data, name, args):
    program, diags = check(ONE_WAY + f"train t {{\n  data {data}\n  loss mse\n}}\n")
    assert not diags.items, diags.render()
    regime = program.network().regime()
    assert (regime.data, regime.data_args) == (name, args)


def test_the_data_set_table_matches_nndl_datasets():
    from nndl import datasets
    from nndl.frontend.signatures import DATASETS
    assert set(DATASETS) == set(datasets.NAMES)


def test_regimes_belong_to_their_network_in_source_order():
    program, diags = check(ONE_WAY + TWO_WAY.replace("network n", "network m")
                           + "train b for m {\n  input a\n  output y\n  data xor\n  loss mse\n}\n"
                           + "train a for n {\n  loss mse\n}\n"
                           + "train c for m {\n  output z\n  loss mse\n}\n")
    assert not diags.items, diags.render()
    assert [r.name for r in program.network("m").regimes] == ["b", "c"]
    assert [r.name for r in program.network("n").regimes] == ["a"]
    assert program.network("m").regime().name == "b"


def test_network_regime_lookup_errors_name_the_choices():
    program, _ = check(ONE_WAY + "train a {\n  loss mse\n}\ntrain b {\n  loss mse\n}\n")
    with pytest.raises(KeyError, match="has no regime `c` \\(it has: a, b\\)"):
        program.network().regime("c")
    bare, _ = check(ONE_WAY)
    with pytest.raises(KeyError, match="has no train block"):
        bare.network().regime()


def test_learn_and_rewire_reach_the_ir():
    found, diags = regimes(ONE_WAY + """
train local {
  data   xor
  epochs 2
  learn  x -> h : hebb(rate=0.1)
  learn  diag : oja(rate=0.01)
  rewire h -> y : prune(below=0.05) grow(count=3) every 4
  rewire x -> h : grow(count=1)
}
""")
    assert not diags.errors, diags.render()
    (regime,) = found
    assert (regime.loss, regime.optimizer) == (None, None)
    assert [(r.projection, r.kind, r.params) for r in regime.learn] == [
        ("x->h", "hebb", {"rate": 0.1, "decay": 0.0}), ("diag", "oja", {"rate": 0.01})]
    assert [(w.projection, w.prune_below, w.grow_count, w.every) for w in regime.rewire] == [
        ("h->y", 0.05, 3, 4), ("x->h", None, 1, 1)]
    assert regime.learn[0].loc == ir.Loc(13, 3, 33)


def test_prune_to_a_fraction_reaches_the_ir():
    found, diags = regimes(ONE_WAY + """
train sparse {
  loss   mse
  rewire h -> y : prune(keep=0.1, over=20) grow(count=2) every 50
  rewire x -> h : prune(keep=0.5)
}
""")
    assert not diags.errors, diags.render()
    assert [(w.prune_below, w.prune_keep, w.prune_over, w.grow_count, w.every)
            for w in found[0].rewire] == [(None, 0.1, 20, 2, 50), (None, 0.5, 1, None, 1)]
    assert found[0].rewire[0].actions() == "prune(keep=0.1, over=20) grow(count=2)"
    assert ir.Rewire.from_dict(dataclasses.asdict(found[0].rewire[0])) == found[0].rewire[0]


def test_src_to_dst_names_the_unnamed_connection_between_them():
    # `h -> y` is the connection named `h->y`, although `diag` also goes from h to y
    found, diags = regimes(ONE_WAY + "train t {\n  learn h -> y : perceptron(rate=1)\n}\n")
    assert not diags.errors, diags.render()
    assert found[0].learn[0].projection == "h->y"


def test_src_to_dst_is_the_only_connection_between_them_when_it_is_named():
    found, diags = regimes(TWO_WAY + "train t {\n  rewire h -> h : prune(below=0.1)\n}\n"
                           "train u {\n  loss mse\n  output z\n}\n")
    assert sorted(d.code for d in diags.errors) == ["nothing-to-train"]
    assert found[0].rewire[0].projection == "back"


def test_the_design_example_compiles_whole():
    text = DESIGN_EXAMPLE.read_text()
    program, diags = check(text)
    assert not diags.errors, diags.render()
    found, _ = regimes(text)
    supervised, local = found
    assert (supervised.data, supervised.loss, supervised.optimizer.params["lr"]) == \
        ("digits", "cross_entropy", 0.01)
    assert (supervised.batch, supervised.epochs, supervised.ticks) == (32, 20, 4)
    assert local.learn[0].projection == "blob->label"
    assert local.rewire[0] == ir.Rewire("blob->blob", 0.01, 16, 50, ir.Loc(41, 5, 69))


TRAIN = "train t {{\n{body}\n}}\n"


@pytest.mark.parametrize("network, body, code", [
    (ONE_WAY, "  data digts\n  loss mse", "unknown-data-set"),
    (ONE_WAY, "  data iris\n  loss mse", "unknown-data-set"),
    (ONE_WAY, "  data parity(n=0)\n  loss mse", "bad-argument"),
    (ONE_WAY, "  data parity(m=3)\n  loss mse", "bad-argument"),
    (ONE_WAY, "  data xor(3)\n  loss mse", "bad-argument"),
    (ONE_WAY, '  data "mine.csv"\n  loss mse', "bad-data"),
    (ONE_WAY, '  data "digits"\n  loss mse', "bad-data"),
    (ONE_WAY, "  loss mae", "unknown-loss"),
    (ONE_WAY, "  loss mse(every_tick=1)", "bad-argument"),
    (ONE_WAY, "  loss mse\n  optimizer adamax", "unknown-optimizer"),
    (ONE_WAY, "  loss mse\n  optimizer sgd", "bad-argument"),
    (ONE_WAY, "  loss mse\n  optimizer sgd(lr=0)", "bad-argument"),
    (ONE_WAY, "  loss mse\n  optimizer sgd(lr=0.1, momentum=1)", "bad-argument"),
    (ONE_WAY, "  loss mse\n  optimizer adam(beta2=-0.1)", "bad-argument"),
    (ONE_WAY, "  loss mse\n  optimizer adam(eps=0)", "bad-argument"),
    (ONE_WAY, "  loss mse\n  batch 0", "bad-setting"),
    (ONE_WAY, "  loss mse\n  epochs 2.5", "bad-setting"),
    (ONE_WAY, "  loss mse\n  ticks -1", "bad-setting"),
    (ONE_WAY, "  loss mse\n  ticks true", "bad-setting"),
    (ONE_WAY, "  loss mse\n  epochs 3\n  epochs 4", "duplicate"),
    (ONE_WAY, "  loss mse\n  loss cross_entropy", "duplicate"),
    (ONE_WAY, "  loss mse\n  input h", "bad-setting"),
    (ONE_WAY, "  loss mse\n  input image", "unknown-group"),
    (ONE_WAY, "  loss mse\n  output h", "bad-setting"),
    (ONE_WAY, "  loss mse\n  output x", "bad-setting"),
    (TWO_WAY, "  data xor\n  loss mse\n  output y", "ambiguous-input"),
    (TWO_WAY, "  loss mse\n  input a", "ambiguous-output"),
    (ONE_WAY, "  data xor\n  epochs 3", "nothing-to-train"),
    (ONE_WAY, "  rewire x -> h : prune(below=0.1)", "nothing-to-train"),
    (ONE_WAY, "  learn x -> y : hebb(rate=0.1)", "unknown-connection"),
    (ONE_WAY, "  learn x -> q : hebb(rate=0.1)", "unknown-group"),
    (ONE_WAY, "  learn conv : hebb(rate=0.1)", "unknown-connection"),
    (TWO_WAY, "  learn h -> z : hebb(rate=0.1)\n  rewire back : prune(below=1)\n  "
     "learn back : oja(rate=1)\n  learn h->z : oja(rate=1)", "duplicate"),  # `h->z` is named so
    (ONE_WAY, "  learn x -> h : perceptron(rate=0.1)", "perceptron-target"),
    (ONE_WAY, "  learn x -> h : hebbian(rate=0.1)", "unknown-learning-rule"),
    (ONE_WAY, "  learn x -> h : oja", "bad-argument"),
    (ONE_WAY, "  learn x -> h : hebb(rate=0.1, decay=-1)", "bad-argument"),
    (ONE_WAY, "  learn x -> h : oja(rate=0.1)\n  learn x -> h : hebb(rate=0.1)", "duplicate"),
    (ONE_WAY, "  loss mse\n  rewire x -> h : shrink(below=0.1)", "unknown-rewiring-action"),
    (ONE_WAY, "  loss mse\n  rewire x -> h : prune(below=-1)", "bad-argument"),
    (ONE_WAY, "  loss mse\n  rewire x -> h : grow(count=1.5)", "bad-argument"),
    (ONE_WAY, "  loss mse\n  rewire x -> h : grow(count=1) grow(count=2)", "duplicate"),
    (ONE_WAY, "  loss mse\n  rewire x -> h : grow(count=1) every 0", "bad-setting"),
    (ONE_WAY, "  loss mse\n  rewire x -> h : grow(count=1)\n  rewire x -> h : prune(below=1)",
     "duplicate"),
])
def test_train_block_mistakes_are_reported(network, body, code):
    assert code in codes(network + TRAIN.format(body=body))


def test_an_ambiguous_connection_asks_for_a_name():
    _, diags = regimes(TWO_WAY.replace("connect h -> z : full", "connect h -> z : full as dense")
                       + TRAIN.format(body="  learn h -> z : hebb(rate=0.1)"))
    (error,) = [d for d in diags.errors if d.code == "ambiguous-connection"]
    assert error.message == "2 connections go from `h` to `z`: dense, direct"
    assert error.hint == "name the one you mean: `learn dense : ...`"


def test_several_train_mistakes_are_reported_at_once():
    _, diags = check(ONE_WAY + TRAIN.format(body="  data digts\n  loss mae\n  batch 0\n"
                                                 "  input h\n  optimizer sdg(lr=1)"))
    assert [d.code for d in diags.errors] == ["unknown-data-set", "unknown-loss",
                                              "unknown-optimizer", "bad-setting", "bad-setting"]


def test_a_setting_given_twice_points_at_the_first():
    _, diags = check(ONE_WAY + TRAIN.format(body="  loss mse\n  batch 4\n  batch 8"))
    (error,) = diags.errors
    assert error.message == "`batch` is set twice"
    assert [(note, span.line) for note, span in error.notes] == [("first set here", 11)]


def test_two_regimes_of_one_name_for_one_network():
    text = ONE_WAY + TRAIN.format(body="  loss mse") * 2
    _, diags = check(text)
    (error,) = diags.errors
    assert error.code == "duplicate" and error.notes[0][1].line == 9
    two_networks = (ONE_WAY + ONE_WAY.replace("network n", "network m")
                    + "train t for n {\n  loss mse\n}\ntrain t for m {\n  loss mse\n}\n")
    assert not codes(two_networks)


def test_an_optimizer_without_a_loss_is_a_warning():
    found, diags = regimes(ONE_WAY + TRAIN.format(body="  learn x -> h : oja(rate=0.1)\n"
                                                       "  optimizer sgd(lr=0.1)"))
    assert [d.code for d in diags.warnings] == ["no-effect"]
    assert found[0].optimizer is None
