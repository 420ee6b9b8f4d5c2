"""`fit` and `evaluate` (DESIGN.md, Training and Python API): the history, seeded shuffling,
checkpoints that resume exactly, clear errors for diverging runs and bad targets, and small
problems learned exactly."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

from nndl import InputError, WeightFileError, datasets
from nndl.runtime import weightfile
from nndl.runtime.training import TrainingError

CLASSIFIER = """
network classifier {
    seed 3
    input  x[4]
    group  hidden[6] : tanh
    output y[3]      : softmax
    connect x      -> hidden : full
    connect hidden -> y      : full
    connect x      -> y      : full
}
"""

# a recurrent reader with a model group and sparse rules, to train over ticks
RECURRENT = """
network reader {
    seed 5
    input  x[3]
    group  h[5] : leaky(leak=0.6)
    output y[2] : softmax
    connect x -> h : fan_in(k=2)
    connect h -> h : random(p=0.5) delay 1
    connect h -> y : full
}
"""


def classification(n=48, seed=0):
    """Labels from a fixed linear rule of 4 features: learnable, not trivially."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = np.argmax(x @ np.array([[1.0, -1.0, 0.5], [0.5, 1.0, -1.0], [-1.0, 0.3, 1.0],
                                [0.2, 0.2, 0.2]]), axis=1)
    return {"x": x}, {"y": y}


def weights(net) -> dict:
    return {k: v for k, v in net.parameters().items() if k.endswith((".w", ".bias"))}


def assert_same_weights(a: dict, b: dict):
    assert sorted(a) == sorted(b)
    for key, value in a.items():
        assert np.array_equal(value, b[key]), key


FIT = {"batch": 8, "loss": "cross_entropy", "optimizer": ("adam", {"lr": 0.02}),
       "progress": False}


# ---- the history ---------------------------------------------------------------------------


def test_one_loss_per_epoch_and_it_goes_down(compile_text, backend):
    net = compile_text(CLASSIFIER, backend).Network(dtype="float64")
    x, y = classification()
    held_out = classification(24, seed=1)
    history = net.fit(x, y, epochs=15, validation=held_out, **FIT)
    assert sorted(history) == ["loss", "test_accuracy", "test_loss"]
    assert all(len(values) == 15 for values in history.values())
    assert all(np.isfinite(history["loss"]))
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["test_loss"][-1] < history["test_loss"][0]
    assert history["test_accuracy"][-1] >= 0.75
    # the held-out entries are what evaluate says about the trained network
    final = net.evaluate(*held_out)
    assert final["loss"] == pytest.approx(history["test_loss"][-1], rel=1e-12)
    assert final["accuracy"] == history["test_accuracy"][-1]


def test_without_validation_only_the_training_loss(compile_text):
    net = compile_text(CLASSIFIER, "numpy").Network(dtype="float64")
    history = net.fit(*classification(), epochs=3, **FIT)
    assert list(history) == ["loss"] and len(history["loss"]) == 3


def test_training_over_ticks_goes_down(compile_text, backend):
    net = compile_text(RECURRENT, backend).Network(dtype="float64")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 32, 3))  # (ticks, samples, features): the ticks come from x
    y = (x[:, :, 0].sum(axis=0) > 0).astype(np.int64)  # the sign of a sum over the ticks
    history = net.fit({"x": x}, {"y": y}, epochs=12, **FIT)
    assert len(history["loss"]) == 12
    assert history["loss"][-1] < 0.8 * history["loss"][0]


def test_both_backends_follow_the_same_trajectory(compile_text):
    """Same seed, same data: the same shuffles and updates (DESIGN.md, Determinism)."""
    x, y = classification()
    histories, trained = [], []
    for backend in ("oo", "numpy"):
        net = compile_text(RECURRENT, backend).Network(dtype="float64")
        histories.append(net.fit({"x": x["x"][:, :3]}, {"y": y["y"] % 2}, epochs=4, ticks=3,
                                 **FIT))
        trained.append(weights(net))
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"], rtol=1e-9)
    for key, w in trained[0].items():
        np.testing.assert_allclose(trained[1][key], w, rtol=1e-9, atol=1e-12, err_msg=key)


# ---- shuffling -------------------------------------------------------------------------------


def test_shuffling_is_seeded(compile_text, backend, tmp_path):
    module = compile_text(CLASSIFIER, backend)
    x, y = classification()
    first = module.Network(seed=0, dtype="float64")
    first.save(tmp_path / "start.npz")
    again = module.Network(seed=0, dtype="float64")
    history = first.fit(x, y, epochs=3, **FIT)
    assert again.fit(x, y, epochs=3, **FIT) == history  # exactly
    assert_same_weights(weights(again), weights(first))
    # another seed with the same starting weights: only the order of the samples differs
    other = module.Network(seed=1, dtype="float64")
    other.load(tmp_path / "start.npz")
    other_history = other.fit(x, y, epochs=3, **FIT)
    assert other_history["loss"] != history["loss"]
    # one batch of everything: the order no longer matters (but for rounding)
    whole = {**FIT, "batch": 48}
    a, b = module.Network(seed=0, dtype="float64"), module.Network(seed=1, dtype="float64")
    b.load(tmp_path / "start.npz")
    np.testing.assert_allclose(a.fit(x, y, epochs=3, **whole)["loss"],
                               b.fit(x, y, epochs=3, **whole)["loss"], rtol=1e-12)


# ---- checkpoints -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [CLASSIFIER, RECURRENT], ids=["classifier", "recurrent"])
def test_resuming_from_a_checkpoint_is_exact(compile_text, backend, tmp_path, text):
    module = compile_text(text, backend)
    x, y = classification()
    x = {"x": x["x"][:, :3]} if text is RECURRENT else x
    y = {"y": y["y"] % 2} if text is RECURRENT else y
    held_out = ({"x": x["x"][:8]}, {"y": y["y"][:8]})
    options = {**FIT, "optimizer": ("sgd", {"lr": 0.05, "momentum": 0.9})} \
        if text is RECURRENT else FIT
    options = {**options, "ticks": 3} if text is RECURRENT else options

    straight = module.Network(dtype="float64")
    expected = straight.fit(x, y, epochs=4, validation=held_out, **options)

    path = tmp_path / "run.ckpt.npz"
    interrupted = module.Network(dtype="float64")
    interrupted.fit(x, y, epochs=2, validation=held_out, checkpoint=path, **options)
    resumed = module.Network(dtype="float64")  # a new object: nothing but the file carries over
    history = resumed.fit(x, y, epochs=4, validation=held_out, checkpoint=path, resume=True,
                          **options)
    assert history == expected  # the first two epochs come from the checkpoint, exactly
    assert_same_weights(weights(resumed), weights(straight))

    # the checkpoint now holds epoch 4: resuming again trains no more
    done = module.Network(dtype="float64")
    assert done.fit(x, y, epochs=4, validation=held_out, checkpoint=path, resume=True,
                    **options) == expected
    assert_same_weights(weights(done), weights(straight))


def test_resume_without_a_checkpoint_starts_from_scratch(compile_text, tmp_path):
    module = compile_text(CLASSIFIER, "numpy")
    x, y = classification()
    expected = module.Network(dtype="float64").fit(x, y, epochs=2, **FIT)
    path = tmp_path / "absent.npz"
    net = module.Network(dtype="float64")
    assert net.fit(x, y, epochs=2, checkpoint=path, resume=True, **FIT) == expected
    assert path.exists()


def test_a_checkpoint_is_a_weight_file(compile_text, backend, tmp_path):
    module = compile_text(CLASSIFIER, backend)
    trained = module.Network(dtype="float64")
    path = tmp_path / "run.npz"
    trained.fit(*classification(), epochs=2, checkpoint=path, **FIT)
    fresh = module.Network(seed=9, dtype="float64")
    fresh.load(path)
    assert_same_weights(weights(fresh), weights(trained))
    x = classification(5, seed=3)[0]
    np.testing.assert_array_equal(fresh.run(x)["y"], trained.run(x)["y"])
    # and the other backend opens it too
    other = compile_text(CLASSIFIER, "numpy" if backend == "oo" else "oo").Network(
        dtype="float64")
    other.load(path)
    assert_same_weights(weights(other), weights(trained))


def test_a_plain_weight_file_is_not_a_checkpoint(compile_text, tmp_path):
    module = compile_text(CLASSIFIER, "numpy")
    path = tmp_path / "weights.npz"
    module.Network(dtype="float64").save(path)
    with pytest.raises(WeightFileError, match="not a training checkpoint"):
        module.Network(dtype="float64").fit(*classification(), epochs=1, checkpoint=path,
                                            resume=True, **FIT)


def damaged(path, change_meta=None, change_arrays=None):
    """Rewrite the checkpoint at `path` with its metadata or arrays changed."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files if k != "__meta__"}
        meta = json.loads(str(f["__meta__"]))
    if change_meta:
        change_meta(meta["checkpoint"])
    if change_arrays:
        change_arrays(arrays)
    weightfile.save(path, arrays, meta)


def set_to(key, value):
    return lambda state: state.__setitem__(key, value)


@pytest.mark.parametrize("change_meta, change_arrays, why", [
    (set_to("rng", {}), None, "shuffling stream's state is unusable"),
    (set_to("rng", {"bit_generator": "PCG64", "state": "x"}), None, "stream's state"),
    (set_to("history", [1.0, 2.0]), None, "history is not lists of numbers"),
    (set_to("history", {"loss": ["a"]}), None, "history is not lists of numbers"),
    (set_to("epoch", "2"), None, "epoch is '2', not a whole number"),
    (set_to("epoch", -1), None, "epoch is -1"),
    (set_to("epoch", 1.5), None, "epoch is 1.5"),
    (None, lambda a: a.pop("optimizer.steps"), "lacks `optimizer.steps`"),
    (None, lambda a: a.__setitem__("optimizer.steps", np.array([1, 2])), "`optimizer.steps`"),
    (None, lambda a: a.__setitem__("optimizer.steps", np.array(-3)), "is -3, below 0"),
    (None, lambda a: a.__setitem__("optimizer.m.x->y.w", np.zeros(5)),
     r"`optimizer.m.x->y.w` should be floats of shape \(12,\)"),
    (None, lambda a: a.__setitem__("optimizer.v.y.bias", np.zeros(3, dtype=np.int64)),
     "`optimizer.v.y.bias` should be floats of shape"),
    (None, lambda a: a.pop("optimizer.v.y.bias"), "m and v state cover different arrays"),
    (None, lambda a: a.__setitem__("optimizer.m.nowhere.w", np.zeros(3)),
     "no trainable array"),
    (None, lambda a: a.__setitem__("optimizer.velocity.y.bias", np.zeros(3)),
     "that adam has not"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_a_damaged_checkpoint_is_refused_before_anything_is_loaded(compile_text, tmp_path,
                                                                   change_meta, change_arrays,
                                                                   why):
    module = compile_text(CLASSIFIER, "numpy")
    path = tmp_path / "run.npz"
    module.Network(dtype="float64").fit(*classification(), epochs=1, checkpoint=path, **FIT)
    damaged(path, change_meta, change_arrays)
    net = module.Network(seed=3, dtype="float64")
    before = weights(net)
    with pytest.raises(WeightFileError, match=f"damaged checkpoint: .*{why}"):
        net.fit(*classification(), epochs=2, checkpoint=path, resume=True, **FIT)
    assert_same_weights(weights(net), before)


@pytest.mark.parametrize("what, resume_with", [
    ("regime 'other', not 'fit'", {}),
    ("seed 3, not 4", {"seed": 4}),
    ("optimiser 'adam', not 'sgd'", {"optimizer": ("sgd", {"lr": 0.1})}),
])
def test_resume_refuses_a_checkpoint_of_another_run(compile_text, tmp_path, what, resume_with):
    module = compile_text(CLASSIFIER, "numpy")
    path = tmp_path / "run.npz"
    module.Network(dtype="float64").fit(*classification(), epochs=1, checkpoint=path, **FIT)
    if "regime" in what:
        damaged(path, set_to("regime", "other"))
    net = module.Network(seed=resume_with.pop("seed", 3), dtype="float64")
    before = weights(net)
    with pytest.raises(WeightFileError, match=f"checkpoint of {what}"):
        net.fit(*classification(), epochs=2, checkpoint=path, resume=True,
                **{**FIT, **resume_with})
    assert_same_weights(weights(net), before)


# ---- runs that diverge -----------------------------------------------------------------------

LINEAR = """
network linear {
    seed 0
    input  x[3]
    group  h[4] : identity
    output y[2]
    connect x -> h : full
    connect h -> y : full
}
"""

EXPLODING = """
network exploding {
    input  x[1]
    group  h[1] : identity
    output y[1]
    connect x -> h : full weight constant(1e150)
    connect h -> h : full delay 1 weight constant(1e150)
    connect h -> y : full
}
"""

WHERE = re.compile(r"group `(\w+)` at tick (\d+)")


def fit_quietly(net, *args, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow warnings
        return net.fit(*args, **options)


def test_a_huge_learning_rate_stops_with_a_training_error(compile_text, backend):
    net = compile_text(LINEAR, backend).Network(dtype="float64")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    with pytest.raises(TrainingError) as error:
        fit_quietly(net, {"x": x}, {"y": y}, epochs=50, batch=8, loss="mse",
                    optimizer=("sgd", {"lr": 1e6}), progress=False)
    message = str(error.value)
    assert re.search(r"epoch \d+, batch 1", message) and "not finite" in message
    assert WHERE.search(message).group(1) in ("h", "y"), message
    assert "learning rate" in message  # a hint
    # it stopped before an update could write NaN into the weights
    assert all(np.isfinite(v).all() for v in net.parameters().values())


def test_an_input_that_overflows_names_the_group(compile_text, backend):
    text = LINEAR.replace("x -> h : full", "x -> h : full weight constant(4.0)")
    net = compile_text(text, backend).Network(dtype="float64")
    x = np.full((4, 3), 1e308)  # finite, but 3 * 4 * 1e308 is not
    with pytest.raises(TrainingError) as error:
        fit_quietly(net, {"x": x}, {"y": np.zeros((4, 2))}, epochs=1, batch=4, loss="mse",
                    progress=False)
    message = str(error.value)
    assert "the output of group `h` at tick 0" in message, message
    assert "epoch 1, batch 1" in message


def test_a_loss_that_overflows_says_so(compile_text, backend):
    net = compile_text(LINEAR, backend).Network(dtype="float64")
    x = np.full((4, 3), 1e200)  # every output is finite; their squares are not
    with pytest.raises(TrainingError, match=r"the loss became infinite; the first value that "
                                            r"was not finite is the loss itself"):
        fit_quietly(net, {"x": x}, {"y": np.zeros((4, 2))}, epochs=1, batch=4, loss="mse",
                    progress=False)


def test_an_overflow_later_in_time_names_its_tick(compile_text, backend):
    net = compile_text(EXPLODING, backend).Network(dtype="float64")
    # tick 0: h = 1e150; tick 1: 1e150 + 1e300; tick 2: 1e450 overflows
    with pytest.raises(TrainingError) as error:
        fit_quietly(net, {"x": np.ones((2, 1))}, {"y": np.zeros((2, 1))}, epochs=1, batch=2,
                    ticks=3, loss="mse", progress=False)
    assert "the output of group `h` at tick 2" in str(error.value), str(error.value)


def test_inputs_that_are_not_finite_are_refused_before_training(compile_text):
    net = compile_text(LINEAR, "numpy").Network(dtype="float64")
    x = np.zeros((4, 3))
    x[1, 2] = np.inf
    with pytest.raises(InputError, match=r"input `x` holds inf"):
        net.fit({"x": x}, {"y": np.zeros((4, 2))}, epochs=1, progress=False)


# ---- bad targets -----------------------------------------------------------------------------


def train_somehow(net, how: str, x: dict, targets: dict, loss=None):
    if how == "fit":
        net.fit(x, targets, epochs=1, loss=loss, progress=False)
    elif how == "loss_and_grad":
        net.loss_and_grad(x, targets, loss=loss)
    else:
        net.evaluate(x, targets, loss=loss)


@pytest.mark.parametrize("targets, message", [
    ({"hidden": np.zeros((4, 6))}, r"no output `hidden` to train"),  # a group, not an output
    ({"y": np.zeros((4, 5))}, r"targets for `y` must be \(batch, 3\) or class indices"),
    ({"y": np.zeros((4, 3, 1))}, r"targets for `y` must be"),
    ({"y": np.array([[0.1, np.nan, 0.2]] * 4)}, r"targets for `y` hold 4 values that are not"),
    ({"y": np.array(["a", "b", "c", "a"])}, r"targets for `y` must be numbers"),
    ({"y": np.array([0, 1, 3, 2])}, r"class indices must be whole numbers from 0 to 2"),
    ({"y": np.zeros((5, 3))}, r"samples"),
    ({}, r"no targets given"),
])
@pytest.mark.parametrize("how", ["fit", "loss_and_grad", "evaluate"])
def test_bad_targets_are_input_errors(compile_text, targets, message, how):
    net = compile_text(CLASSIFIER, "numpy").Network(dtype="float64")
    x = {"x": np.zeros((4, 4))}
    before = weights(net)
    with pytest.raises(InputError, match=message):
        train_somehow(net, how, x, targets)
    assert_same_weights(weights(net), before)  # nothing changed


@pytest.mark.parametrize("name, message", [("z", r"no output `z` to train \(outputs: y\)"),
                                           ("yy", r"no output `yy` to train; did you mean `y`")])
@pytest.mark.parametrize("how, loss", [("loss_and_grad", None), ("loss_and_grad", "mse"),
                                       ("fit", "cross_entropy"), ("evaluate", "mse")])
def test_a_wrong_output_name_is_an_input_error(compile_text, name, message, how, loss):
    net = compile_text(CLASSIFIER, "numpy").Network(dtype="float64")
    with pytest.raises(InputError, match=message):
        train_somehow(net, how, {"x": np.zeros((4, 4))}, {name: np.zeros((4, 3))}, loss)


@pytest.mark.parametrize("how", ["fit", "evaluate"])
def test_a_wrong_output_name_without_a_loss_is_an_input_error(compile_text, how):
    net = compile_text(CLASSIFIER, "numpy").Network(dtype="float64")
    with pytest.raises(InputError, match=r"no output `z` to train"):
        train_somehow(net, how, {"x": np.zeros((4, 4))}, {"z": np.zeros((4, 3))})


def cross_entropy_over_ticks(net, x: dict, labels: np.ndarray, ticks: int) -> float:
    """-log p(label) averaged over the samples and the ticks, from run's softmax outputs."""
    p = net.run(x, ticks=ticks, every_tick=True)["y"]  # (ticks, batch, classes)
    t, b = np.meshgrid(np.arange(p.shape[0]), np.arange(p.shape[1]), indexing="ij")
    return float(-np.mean(np.log(p[t, b, labels])))


def test_class_indices_over_ticks(compile_text):
    net = compile_text(RECURRENT, "numpy").Network(dtype="float64")
    x = {"x": np.random.default_rng(0).normal(size=(3, 3))}  # 3 samples, 2 classes
    labels = np.array([[0, 1, 1], [1, 1, 0], [0, 0, 1], [1, 0, 0]])  # (ticks, batch)
    loss, _ = net.loss_and_grad(x, {"y": labels}, every_tick=True, ticks=4)
    assert loss == pytest.approx(cross_entropy_over_ticks(net, x, labels, 4), rel=1e-12)


def test_class_indices_over_ticks_when_the_batch_equals_the_group_size(compile_text):
    net = compile_text(RECURRENT, "numpy").Network(dtype="float64")
    x = {"x": np.random.default_rng(0).normal(size=(2, 3))}  # 2 samples, 2 classes
    labels = np.array([[0, 1], [1, 1], [0, 0]])  # (ticks, batch)
    loss, _ = net.loss_and_grad(x, {"y": labels}, every_tick=True, ticks=3)
    assert loss == pytest.approx(cross_entropy_over_ticks(net, x, labels, 3), rel=1e-12)


def test_mse_against_class_indices_out_of_range(compile_text):
    net = compile_text(CLASSIFIER, "numpy").Network(dtype="float64")
    with pytest.raises(InputError, match=r"class indices for `y` must be from 0 to 2"):
        net.loss_and_grad({"x": np.zeros((2, 4))}, {"y": np.array([0, 7])}, loss="mse")


def test_an_unknown_loss_or_optimizer(compile_text):
    net = compile_text(CLASSIFIER, "numpy").Network(dtype="float64")
    x, y = classification(8)
    with pytest.raises(InputError, match=r"unknown loss 'mae'"):
        net.fit(x, y, loss="mae", epochs=1, progress=False)
    with pytest.raises(InputError, match=r"unknown optimizer 'rmsprop'"):
        net.fit(x, y, optimizer=("rmsprop", {}), epochs=1, progress=False)
    with pytest.raises(InputError, match=r"batch must be a whole number"):
        net.fit(x, y, batch=0, epochs=1, progress=False)


# ---- evaluate --------------------------------------------------------------------------------


def test_evaluate_gives_the_mean_loss_and_the_accuracy(compile_text, backend):
    net = compile_text(CLASSIFIER, backend).Network(dtype="float64")
    x, y = classification(300, seed=4)  # more than evaluate's batch of 256
    result = net.evaluate(x, y)
    assert sorted(result) == ["accuracy", "loss"]
    loss, _ = net.loss_and_grad(x, y, loss="cross_entropy", backward=False)
    assert result["loss"] == pytest.approx(loss, rel=1e-12)
    answers = net.run(x)["y"].argmax(axis=1)
    assert result["accuracy"] == np.mean(answers == y["y"])
    # an mse target of floats has no accuracy
    targets = np.eye(3)[y["y"]]
    result = net.evaluate(x, {"y": targets}, loss="mse")
    assert list(result) == ["loss"]
    assert result["loss"] == pytest.approx(np.mean((net.run(x)["y"] - targets) ** 2), rel=1e-12)


# ---- small problems, learned exactly ---------------------------------------------------------

XOR = """
network xor {
    seed 1
    input  x[2]
    group  hidden[4] : tanh
    output y[2]      : softmax
    connect x      -> hidden : full
    connect hidden -> y      : full
}
"""

PARITY = """
network parity {
    seed 1
    input  bits[4]
    group  hidden[8] : tanh
    output odd[2]    : softmax
    connect bits   -> hidden : full
    connect hidden -> odd    : full
    connect bits   -> odd    : full
}
"""


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_xor_is_learned_exactly(compile_text, seed):
    data = datasets.load("xor")
    net = compile_text(XOR, "numpy").Network(seed=seed)
    history = net.fit({"x": data.x_train}, {"y": data.y_train}, epochs=200, batch=4,
                      optimizer=("adam", {"lr": 0.05}), progress=False)
    assert history["loss"][-1] < 0.05
    result = net.evaluate({"x": data.x_test}, {"y": data.y_test})
    assert result["accuracy"] == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parity_of_four_bits_is_learned_exactly(compile_text, seed):
    data = datasets.load("parity", n=4)
    assert data.x_train.shape == (16, 4)
    net = compile_text(PARITY, "numpy").Network(seed=seed)
    history = net.fit({"bits": data.x_train}, {"odd": data.y_train}, epochs=300, batch=16,
                      optimizer=("adam", {"lr": 0.03}), progress=False)
    assert history["loss"][-1] < 0.05
    result = net.evaluate({"bits": data.x_test}, {"odd": data.y_test})
    assert result["accuracy"] == 1.0
    answers = net.run(bits=data.x_test)["odd"].argmax(axis=1)
    np.testing.assert_array_equal(answers, data.x_test.sum(axis=1).astype(int) % 2)


ROOTED = """neuron rooted {
    state v = 0.0
    v = net - 1.0
    out = sqrt(v)
}
network rooted {
    input  x[3]
    group  h[2] : rooted
    output y[2]
    connect x -> h : full weight constant(0.1)
    connect h -> y : full
}
"""


def test_a_model_out_of_its_domain_stops_with_the_group_tick_and_model_line(compile_text,
                                                                              backend):
    """sqrt of a negative v: NaN in every backend (not a ValueError in oo), and fit names
    where, in the .nndl file, the group and its model are declared."""
    net = compile_text(ROOTED, backend).Network(dtype="float64")
    with pytest.raises(TrainingError) as error:
        fit_quietly(net, {"x": np.ones((4, 3))}, {"y": np.zeros((4, 2))}, epochs=1, batch=4,
                    loss="mse", progress=False)
    message = str(error.value)
    assert re.search(r"the output of group `h` at tick 0 \(\S+\.nndl:8:12; neuron model "
                     r"`rooted` at \S+\.nndl:1:8\)", message), message
