"""Front end: checks and the AST -> IR step (no backend involved)."""

import pytest

from nndl.frontend import check_text


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
    ("  output y[2] : relu\n  group h[3] : relu\n  connect x -> h : full\n"
     "  connect h -> h : fan_in(k=2)\n  connect h -> y : full", "cycle"),
    ("  output y[2] : relu\n  group h[3] : relu\n  connect x -> h : full\n"
     "  connect h -> h : local(radius=1)\n  connect h -> y : full", "cycle"),
    ("  output y[2] : softmax\n  group h[2] : relu\n  connect x -> h : full\n"
     "  connect h -> y : where(pre.index < post.index)\n"
     "  connect y -> h : where(pre.index < post.index) as back", "softmax-level"),
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
                                      + "train t for m {\n  epochs 1\n}\n")


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
