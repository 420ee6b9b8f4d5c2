"""What `Network.run` refuses: every mistake in the inputs is an `nndl.InputError` whose message
says what was expected (DESIGN.md, Errors), in every backend."""

from __future__ import annotations

import re

import numpy as np
import pytest

import nndl

TWO_INPUTS = """
network pair {
    input  image[2, 3]
    input  context[4]
    group  h[3] : relu
    output y[2] : identity
    connect image   -> h : full
    connect context -> h : full
    connect h -> y : full
}
"""


@pytest.fixture
def net(compile_text, backend):
    return compile_text(TWO_INPUTS, backend).Network(dtype="float64")


def good(batch: int = 2, ticks: int | None = None) -> dict:
    lead = (batch,) if ticks is None else (ticks, batch)
    return {"image": np.ones(lead + (2, 3)), "context": np.ones(lead + (4,))}


def refused(net, match: str, *args, **kwargs) -> str:
    with pytest.raises(nndl.InputError, match=match) as info:
        net.run(*args, **kwargs)
    return str(info.value)


def test_good_inputs_run(net):
    assert net.run(good())["y"].shape == (2, 2)
    assert net.run(**good(3))["y"].shape == (3, 2)
    assert net.run({"image": np.ones((2, 2, 3))}, context=np.ones((2, 4)))["y"].shape == (2, 2)


def test_unknown_input_suggests_the_closest_name(net):
    message = refused(net, "no input `imgae`", {**good(), "imgae": np.ones((2, 2, 3))})
    assert "did you mean `image`?" in message
    message = refused(net, "no input `zzz`", **good(), zzz=np.ones((2, 4)))
    assert "image" in message and "context" in message  # nothing close: it lists the inputs


def test_missing_input(net):
    refused(net, "missing input `context`", image=np.ones((2, 2, 3)))
    refused(net, "missing input `image`, `context`")


def test_input_given_twice(net):
    refused(net, "`image` is given twice", good(), image=np.ones((2, 2, 3)))


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 2), (2, 6), (1, 2, 2, 2, 3), (2, 2, 3, 1), ()])
def test_wrong_shape_names_the_expected_shapes(net, shape):
    message = refused(net, "`image`", {**good(), "image": np.ones(shape)})
    assert "(batch, 2, 3)" in message and "(ticks, batch, 2, 3)" in message
    assert str(shape) in message


def test_a_single_sample_without_batch_axis_gets_a_hint(net):
    assert "x[None]" in refused(net, "`image`", {**good(), "image": np.ones((2, 3))})


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs(net, value):
    image = np.ones((2, 2, 3))
    image[1, 0, 2] = value
    message = refused(net, "finite", {**good(), "image": image})
    assert "(1, 0, 2)" in message and "`image`" in message


@pytest.mark.parametrize("value", [1e39, -1e300, float(np.finfo(np.float32).max) * 1.0001])
def test_values_beyond_the_networks_dtype_are_refused(compile_text, backend, value):
    net = compile_text(TWO_INPUTS, backend).Network(dtype="float32")
    image = np.ones((2, 2, 3))
    image[0, 1, 2] = value
    message = refused(net, "beyond the range of float32", {**good(), "image": image})
    assert "`image`" in message and "(0, 1, 2)" in message and repr(value) in message
    image[0, 1, 2] = float(np.finfo(np.float32).max)  # the largest float32 is an input
    assert net.run(**{**good(), "image": image})["y"].shape == (2, 2)


@pytest.mark.parametrize("value", [
    np.array([[["a"] * 3] * 2] * 2),
    np.full((2, 2, 3), None, dtype=object),
    np.ones((2, 2, 3), dtype=complex),
    np.ones((2, 2, 3), dtype="datetime64[s]"),
    "image",
])
def test_non_numeric_inputs(net, value):
    refused(net, "`image`.*(real numbers|array of numbers)", {**good(), "image": value})


def test_ragged_lists_are_refused(net):
    refused(net, "`image`", {**good(), "image": [[[1.0, 2.0, 3.0], [1.0]]]})


def test_integer_and_boolean_inputs_are_numbers(net):
    ints = net.run({**good(), "image": np.ones((2, 2, 3), dtype=np.int32)})["y"]
    bools = net.run({**good(), "image": np.ones((2, 2, 3), dtype=bool)})["y"]
    np.testing.assert_array_equal(ints, net.run(good())["y"])
    np.testing.assert_array_equal(bools, ints)


def test_batch_sizes_must_agree(net):
    message = refused(net, "batch size", image=np.ones((2, 2, 3)), context=np.ones((3, 4)))
    assert "`image` has 2" in message and "`context` has 3" in message
    refused(net, "batch size", image=np.ones((5, 2, 2, 3)), context=np.ones((5, 3, 4)))


def test_an_empty_batch_is_refused(net):
    refused(net, "batch is empty", good(batch=0))


def test_time_varying_inputs_must_agree_on_ticks(net):
    message = refused(net, "ticks", image=np.ones((4, 2, 2, 3)), context=np.ones((3, 2, 4)))
    assert "`image` has 4" in message and "`context` has 3" in message


def test_ticks_must_match_time_varying_inputs(net):
    message = refused(net, "ticks=3", good(ticks=4), ticks=3)
    assert "4" in message
    assert net.run(good(ticks=4), ticks=4)["y"].shape == (2, 2)


def test_static_and_varying_inputs_mix(net):
    inputs = {"image": np.ones((4, 2, 2, 3)), "context": np.ones((2, 4))}
    assert net.run(inputs, every_tick=True)["y"].shape == (4, 2, 2)


@pytest.mark.parametrize("ticks", [0, -1, 2.5, "3", True])
def test_ticks_must_be_a_whole_number_from_1(net, ticks):
    refused(net, "ticks must be a whole number", good(), ticks=ticks)


def test_a_refused_run_changes_nothing(net):
    before = net.parameters()
    with pytest.raises(nndl.InputError):
        net.run(image=np.full((2, 2, 3), np.nan), context=np.ones((2, 4)))
    for key, value in net.parameters().items():
        np.testing.assert_array_equal(value, before[key])


# ---- a positional array, and where the input is declared (issue 15, items 12 and 13) ------


def test_a_positional_array_says_which_keyword_to_use(net):
    message = refused(net, r"run\(\) takes the inputs as a dict by group name", np.ones((2, 4)))
    assert "{'image': ..., 'context': ...}" in message and "run(image=..., context=...)" in message
    assert "ndarray" in message and "ambiguous" not in message


@pytest.mark.parametrize("method", ["fit", "loss_and_grad", "evaluate"])
def test_training_methods_name_the_dicts_they_take(net, method):
    with pytest.raises(nndl.InputError, match=rf"{method}\(\) takes the inputs as a dict"):
        getattr(net, method)(np.ones((2, 4)), {"y": np.zeros((2, 2))})
    with pytest.raises(nndl.InputError, match=rf"{method}\(\) takes the targets as a dict by "
                                              r"group name, \{'y': \.\.\.\}; got a value of "
                                              r"type ndarray"):
        getattr(net, method)(good(), np.zeros((2, 2)))


def test_a_wrong_shape_names_where_the_input_is_declared(net):
    message = refused(net, "`image`", {**good(), "image": np.ones((2, 6))})
    assert re.search(r"input `image` \(\S+\.nndl:3:12\) expects shape", message), message
