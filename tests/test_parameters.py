"""`param NAME = VALUE` at file and network scope: uses, overrides, checks and the cache."""

import numpy as np
import pytest

import nndl
from nndl.commands.cli import main
from nndl.frontend import check_text
from nndl.frontend.parameters import OverrideError, parse_override

SOURCE = """\
param n_hidden = 8
param r = 1.5
param n_epochs = 2
param k = n_hidden / 2          # follows n_hidden when it is overridden
network net {
    param d = 1
    param tied = false
    seed 3
    input  x[4, 4]
    group  maps[2, 4, 4] : relu
    group  h[n_hidden]   : leaky_relu(slope=0.1 * r)
    output y[3]          : softmax
    connect x -> maps : local(radius=r, shared=tied)
    connect maps -> h : fan_in(k=k) weight normal(0, 0.1 * r)
    connect h -> h    : one_to_one delay d
    connect h -> y    : full
}
train fit {
    data xor
    loss mse
    optimizer adam(lr=0.001 * n_hidden)
    epochs n_epochs
    ticks d + 1
}
"""


def network(params=None, text=SOURCE):
    program, diags = check_text(text, "net.nndl", params or {})
    assert program is not None, diags.render()
    return program.networks[0]


def test_parameters_stand_wherever_a_number_does():
    net = network()
    assert net.group("h").shape == (8,)
    assert net.group("h").params == {"slope": pytest.approx(0.15)}
    rules = {p.name: p for p in net.projections}
    assert rules["x->maps"].rule.params["radius"] == 1.5
    assert rules["x->maps"].rule.params["shared"] is False
    assert rules["maps->h"].rule.params["k"] == 4
    assert rules["maps->h"].init.params["std"] == pytest.approx(0.15)
    assert rules["h->h"].delay == 1
    (regime,) = net.regimes
    assert (regime.epochs, regime.ticks) == (2, 2)
    assert regime.optimizer.params["lr"] == pytest.approx(0.008)


def test_overrides_replace_a_value_and_what_depends_on_it():
    net = network({"n_hidden": 12, "r": 2.5, "tied": True, "d": 2, "n_epochs": 6})
    assert net.group("h").shape == (12,)
    rules = {p.name: p for p in net.projections}
    assert rules["maps->h"].rule.params["k"] == 6  # k = n_hidden / 2, recomputed
    assert rules["x->maps"].rule.params == {**rules["x->maps"].rule.params, "radius": 2.5,
                                             "shared": True}
    assert rules["h->h"].delay == 2
    assert net.regimes[0].epochs == 6


def test_an_overridden_value_is_checked_like_a_literal_and_named():
    program, diags = check_text(SOURCE, "net.nndl", {"n_hidden": 2.5})
    assert program is None
    shape = next(d for d in diags.errors if d.code == "bad-shape")
    assert "not 2.5" in shape.message
    assert ("`n_hidden` is 2.5, set by `--set n_hidden=2.5`", None) in shape.notes
    # k = n_hidden / 2 = 1.25 too: its note, then the note of what it was computed from
    (k,) = [d for d in diags.errors if d is not shape]
    assert [note for note, _ in k.notes] == ["`k` is 1.25, set here",
                                             "`n_hidden` is 2.5, set by `--set n_hidden=2.5`"]


def test_a_declared_value_is_named_with_its_declaration():
    text = SOURCE.replace("param r = 1.5", "param r = -1")
    _, diags = check_text(text, "net.nndl")
    radius = next(d for d in diags.errors if "radius" in d.message)
    assert "0 or more, not -1" in radius.message
    note, span = radius.notes[0]
    assert note == "`r` is -1, set here" and span.line == 2


def test_an_unknown_override_is_an_error_with_a_suggestion():
    _, diags = check_text(SOURCE, "net.nndl", {"n_hiden": 4}, how="params=")
    (error,) = diags.errors
    assert error.code == "unknown-parameter"
    assert "`params={'n_hiden': 4}`" in error.message
    assert error.hint == "did you mean `n_hidden`?"


@pytest.mark.parametrize("text, code", [
    ("param n = 1\nparam n = 2\n", "duplicate"),
    ("param n = 1\nnetwork net {\n param n = 2\n", "duplicate"),  # shadows the file's
    ("param none = 1\n", "reserved-name"),
    ("param chebyshev = 1\n", "reserved-name"),
    ("param m = n + 1\nparam n = 1\n", "unknown-parameter"),  # only earlier ones
    ("param n = 1 / 0\n", "bad-parameter"),
    ("param n = 1 < 2\n", "bad-parameter"),
])
def test_bad_declarations(text, code):
    if "network" not in text:
        text += "network net {\n"
    text += " input x[2]\n output y[2] : relu\n connect x -> y : full\n}\n"
    _, diags = check_text(text, "net.nndl")
    assert code in [d.code for d in diags.errors], diags.render()


def test_a_parameter_whose_value_is_wrong_is_reported_once():
    text = SOURCE.replace("param n_hidden = 8", "param n_hidden = 8 * width")
    _, diags = check_text(text, "net.nndl")
    assert [d.code for d in diags.errors] == ["unknown-parameter"], diags.render()


def test_a_misspelt_parameter_gets_a_hint():
    _, diags = check_text(SOURCE.replace("h[n_hidden]", "h[n_hiden]"), "net.nndl")
    (error,) = diags.errors
    assert error.hint == "`n_hiden` is no parameter; did you mean `n_hidden`?"


def test_network_scope_is_the_networks_own():
    text = ("network a {\n param n = 3\n input x[n]\n output y[2] : relu\n connect x -> y : full\n}"
            "\nnetwork b {\n input x[n]\n output y[2] : relu\n connect x -> y : full\n}\n")
    _, diags = check_text(text, "net.nndl")
    (error,) = diags.errors
    assert error.span.line == 8 and error.code == "bad-shape"


def test_parse_override():
    assert parse_override("n_hidden=64") == ("n_hidden", 64.0)
    assert parse_override("r = -2.5e-1") == ("r", -0.25)
    assert parse_override("tied=true") == ("tied", True)
    for bad in ("n", "=3", "n=abc", "n=", "1x=2"):
        with pytest.raises(OverrideError):
            parse_override(bad)


def test_compile_takes_params_and_caches_each_set_apart(tmp_path, isolated_cache):
    path = tmp_path / "net.nndl"
    path.write_text(SOURCE)
    small = nndl.compile(path, params={"n_hidden": 6})
    large = nndl.compile(path, params={"n_hidden": np.int64(10)})
    again = nndl.compile(path, params={"n_hidden": 6.0})  # the same value: the same entry
    assert small.SPEC.group("h").shape == (6,) and large.SPEC.group("h").shape == (10,)
    assert again.__name__ == small.__name__ != large.__name__
    out = large.Network().run(x=np.ones((2, 4, 4)))["y"]
    assert out.shape == (2, 3)
    with pytest.raises(ValueError, match="a number or a bool"):
        nndl.compile(path, params={"n_hidden": "6"})
    with pytest.raises(nndl.NNDLError, match="not 0"):
        nndl.compile(path, params={"n_hidden": 0})


def test_set_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "net.nndl"
    path.write_text(SOURCE)
    assert main(["ir", str(path), "--set", "n_hidden=5", "--set", "k=2"]) == 0
    listing = capsys.readouterr().out
    assert "[5]" in listing and "fan_in(k=2)" in listing
    assert main(["check", str(path), "--set", "n_hidden=0", "--concise"]) == 1
    assert "not 0" in capsys.readouterr().err
    out = tmp_path / "m.py"
    assert main(["compile", str(path), "--set", "n_hidden=6", "-o", str(out)]) == 0
    assert "(6,)" in out.read_text()
    with pytest.raises(SystemExit) as exit:
        main(["check", str(path), "--set", "n_hidden"])
    assert exit.value.code == 2
