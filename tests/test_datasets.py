"""nndl.datasets: the built-in sets, the fixed digits split, user .npz files and their errors."""

from __future__ import annotations

import os
import sys
import threading

import npz_bombs
import numpy as np
import pytest

from nndl import InputError, datasets
from nndl.datasets import DataError, Dataset


@pytest.fixture
def sklearn():
    return pytest.importorskip("sklearn")


# --- built-in sets ------------------------------------------------------------------------------


def test_digits_shapes_dtypes_and_ranges(sklearn):
    ds = datasets.digits()
    assert ds.name == "digits" and ds.classes == 10 and not ds.sequence
    assert ds.x_train.shape == (1438, 8, 8) and ds.x_test.shape == (359, 8, 8)
    assert ds.y_train.shape == (1438,) and ds.y_test.shape == (359,)
    assert ds.x_train.dtype == np.float64 and ds.y_train.dtype == np.int64
    for x in (ds.x_train, ds.x_test):
        assert x.min() == 0.0 and x.max() == 1.0
    assert set(ds.y_train) == set(ds.y_test) == set(range(10))
    assert ds.ticks == 1 and ds.features == (8, 8)


def test_digits_split_is_fixed_disjoint_complete_and_stratified(sklearn):
    from sklearn.datasets import load_digits

    a, b = datasets.digits(), datasets.digits()
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    full = load_digits()
    flat = full.images.reshape(len(full.images), -1) / 16.0
    # Some digits images occur twice; match each sample to its row by image and label together.
    rows = {}
    for i, (row, label) in enumerate(zip(flat, full.target)):
        rows.setdefault((row.tobytes(), int(label)), []).append(i)
    taken = []
    for x, y in ((a.x_train, a.y_train), (a.x_test, a.y_test)):
        for img, label in zip(x.reshape(len(x), -1), y):
            taken.append(rows[(img.tobytes(), int(label))].pop())
    assert sorted(taken) == list(range(1797))  # disjoint and covering all 1797
    counts_all = np.bincount(full.target, minlength=10)
    np.testing.assert_array_equal(np.bincount(a.y_test, minlength=10), (counts_all + 2) // 5)


def test_digits_split_follows_the_documented_permutation(sklearn):
    from sklearn.datasets import load_digits

    full = load_digits()
    order = np.random.default_rng(0).permutation(1797)
    ds = datasets.digits()
    # The first training sample is the first in the permutation that is not held out.
    rank = {}
    first_train = None
    for i in order:
        c = int(full.target[i])
        rank[c] = rank.get(c, 0) + 1
        if rank[c] > (np.sum(full.target == c) + 2) // 5:
            first_train = i
            break
    np.testing.assert_array_equal(ds.x_train[0], full.images[first_train] / 16.0)
    np.testing.assert_array_equal(ds.x_test[0], full.images[order[0]] / 16.0)


def test_digits_rows_are_the_digits_images_one_row_per_tick(sklearn):
    img, rows = datasets.digits(), datasets.digits_rows()
    assert rows.sequence and rows.name == "digits_rows" and rows.classes == 10
    assert rows.ticks == 8 and rows.features == (8,)
    np.testing.assert_array_equal(rows.x_train, img.x_train)
    np.testing.assert_array_equal(rows.x_test, img.x_test)
    np.testing.assert_array_equal(rows.y_train, img.y_train)
    np.testing.assert_array_equal(rows.y_test, img.y_test)


def test_inputs_is_time_major_for_sequences(sklearn):
    rows = datasets.digits_rows()
    batch = rows.x_test[:5]
    x = rows.inputs(batch)
    assert x.shape == (8, 5, 8)
    for t in range(8):
        np.testing.assert_array_equal(x[t], batch[:, t, :])
    flat = datasets.digits()
    assert flat.inputs(flat.x_test[:5]).shape == (5, 8, 8)


def test_inputs_checks_the_feature_shape():
    ds = datasets.xor()
    with pytest.raises(DataError, match=r"inputs should have shape \(batch, 2\), not \(4, 3\)"):
        ds.inputs(np.zeros((4, 3)))
    seq = Dataset("s", np.zeros((3, 5, 2)), np.zeros(3, np.int64), np.zeros((1, 5, 2)),
                  np.zeros(1, np.int64), 1, sequence=True)
    assert seq.inputs(np.zeros((4, 7, 2))).shape == (7, 4, 2)  # any number of ticks
    with pytest.raises(DataError, match=r"\(batch, ticks, 2\), not \(4, 2\)"):
        seq.inputs(np.zeros((4, 2)))


def test_xor():
    ds = datasets.xor()
    np.testing.assert_array_equal(ds.x_train, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(ds.y_train, [0, 1, 1, 0])
    np.testing.assert_array_equal(ds.x_test, ds.x_train)
    np.testing.assert_array_equal(ds.y_test, ds.y_train)
    assert ds.x_train.dtype == np.float64 and ds.y_train.dtype == np.int64
    assert ds.classes == 2 and ds.features == (2,) and ds.ticks == 1


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_parity_labels(n):
    ds = datasets.parity(n)
    assert ds.x_train.shape == (2**n, n) and ds.x_train.dtype == np.float64
    assert set(np.unique(ds.x_train)) <= {0.0, 1.0}
    assert len({tuple(row) for row in ds.x_train}) == 2**n  # every pattern once
    for row, label in zip(ds.x_train, ds.y_train):
        assert label == int(row.sum()) % 2
    np.testing.assert_array_equal(ds.x_test, ds.x_train)
    np.testing.assert_array_equal(ds.y_test, ds.y_train)
    assert ds.classes == 2 and ds.y_train.dtype == np.int64


def test_parity_default_and_bounds():
    assert datasets.parity().x_train.shape == (16, 4)
    assert datasets.parity(16).x_train.shape == (65536, 16)
    for bad in (0, 17, -1):
        with pytest.raises(ValueError, match=rf"n should be from 1 to 16 .*not {bad}"):
            datasets.parity(bad)
    for bad in (2.5, "4", True):
        with pytest.raises(ValueError, match="n should be a whole number from 1 to 16"):
            datasets.parity(bad)


# --- load ---------------------------------------------------------------------------------------


def test_load_by_name_and_with_arguments():
    assert datasets.load("xor").classes == 2
    assert datasets.load("parity", n=3).x_train.shape == (8, 3)
    assert datasets.NAMES == ("digits", "digits_rows", "xor", "parity", "mnist1d", "mnist1d_seq")


def test_load_unknown_name_suggests_and_lists_names():
    with pytest.raises(DataError, match="unknown data set `digit`: did you mean `digits`?") as e:
        datasets.load("digit")
    assert "digits, digits_rows, xor, parity" in str(e.value)
    assert ".npz" in str(e.value)
    with pytest.raises(DataError, match="unknown data set `zzz`: the built-in data sets are"):
        datasets.load("zzz")


def test_load_rejects_wrong_arguments():
    with pytest.raises(DataError, match=r"data set `xor` takes no arguments, not n=3"):
        datasets.load("xor", n=3)
    with pytest.raises(DataError, match=r"data set `parity` takes n, not bits=3"):
        datasets.load("parity", bits=3)


def test_load_treats_npz_names_and_separators_as_paths(tmp_path):
    path = tmp_path / "mine.npz"
    np.savez(path, x_train=np.ones((5, 2)), y_train=np.arange(5))
    assert datasets.load(str(path)).name == "mine"
    assert datasets.load(path).name == "mine"  # a PathLike
    with pytest.raises(DataError, match="no data file at nowhere.npz"):
        datasets.load("nowhere.npz")
    with pytest.raises(DataError, match="no data file at some/dir/file"):
        datasets.load("some/dir/file")
    with pytest.raises(DataError, match="a data file takes no arguments"):
        datasets.load(str(path), n=3)


def test_digits_without_scikit_learn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(DataError, match=r"data set `digits` needs scikit-learn.*pip install scikit-learn"):
        datasets.digits()
    with pytest.raises(DataError, match=r"nndl\[examples\]"):
        datasets.load("digits_rows")


def test_dataerror_is_an_input_error():
    assert issubclass(DataError, InputError) and issubclass(DataError, ValueError)


# --- user .npz files ----------------------------------------------------------------------------


def save(tmp_path, name="data.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_npz_round_trip_classification(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {"x_train": rng.random((10, 3, 2)), "y_train": np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]),
              "x_test": rng.random((4, 3, 2)).astype(np.float32), "y_test": np.array([4, 0, 1, 2])}
    ds = datasets.from_npz(save(tmp_path, **arrays))
    assert ds.name == "data" and ds.classes == 5 and not ds.sequence  # max over train and test
    np.testing.assert_array_equal(ds.x_train, arrays["x_train"])
    np.testing.assert_array_equal(ds.x_test, arrays["x_test"].astype(np.float64))
    np.testing.assert_array_equal(ds.y_train, arrays["y_train"])
    assert ds.x_test.dtype == np.float64 and ds.y_test.dtype == np.int64
    assert ds.features == (3, 2)


def test_npz_round_trip_regression_and_sequence(tmp_path):
    rng = np.random.default_rng(2)
    arrays = {"x_train": rng.random((6, 5, 3)), "y_train": rng.random((6, 2)),
              "x_test": rng.random((2, 5, 3)), "y_test": rng.random((2, 2)), "sequence": True}
    ds = datasets.load(str(save(tmp_path, **arrays)))
    assert ds.classes is None and ds.sequence and ds.ticks == 5 and ds.features == (3,)
    np.testing.assert_array_equal(ds.y_test, arrays["y_test"])
    assert ds.y_train.dtype == np.float64
    assert ds.inputs(ds.x_test).shape == (5, 2, 3)


def test_npz_bool_labels_are_class_indices(tmp_path):
    ds = datasets.from_npz(save(tmp_path, x_train=np.ones((5, 1)), y_train=np.arange(5) % 2 == 0))
    assert ds.classes == 2 and ds.y_train.dtype == np.int64


def test_npz_holds_out_a_fixed_fifth_when_there_is_no_test_set(tmp_path):
    x = np.arange(40, dtype=np.float64).reshape(20, 2)
    y = np.arange(20) % 3
    path = save(tmp_path, x_train=x, y_train=y)
    a, b = datasets.from_npz(path), datasets.from_npz(path)
    assert a.x_train.shape == (16, 2) and a.x_test.shape == (4, 2)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    order = np.random.default_rng(0).permutation(20)
    np.testing.assert_array_equal(a.x_test, x[order[:4]])
    np.testing.assert_array_equal(a.y_train, y[order[4:]])
    together = np.concatenate([a.x_train[:, 0], a.x_test[:, 0]])
    assert sorted(together) == sorted(x[:, 0])  # disjoint and complete
    assert a.classes == 3
    two = datasets.from_npz(save(tmp_path, "two.npz", x_train=x[:2], y_train=y[:2]))
    assert len(two.x_train) == 1 and len(two.x_test) == 1


# --- errors in user files -----------------------------------------------------------------------


def test_error_missing_file(tmp_path):
    with pytest.raises(DataError, match="no data file at .*absent.npz"):
        datasets.from_npz(tmp_path / "absent.npz")
    with pytest.raises(DataError, match="is a directory"):
        datasets.from_npz(tmp_path)


def test_error_not_an_npz(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("x_train, y_train\n1, 2\n")
    with pytest.raises(DataError, match=r"notes.npz is not a readable .npz file .*holds `x_train`"):
        datasets.from_npz(text)
    single = tmp_path / "one.npy"
    np.save(single, np.ones(3))
    with pytest.raises(DataError, match=r"holds a single array \(an .npy file\), not an .npz"):
        datasets.from_npz(single)


def test_error_truncated_and_corrupt_files(tmp_path):
    path = save(tmp_path, x_train=np.random.default_rng(0).random((50, 4)),
                y_train=np.zeros(50, dtype=np.int64))
    data = path.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated.npz is not a readable .npz file"):
        datasets.from_npz(truncated)
    corrupt = tmp_path / "corrupt.npz"
    spoiled = bytearray(data)
    start = data.index(b"\x93NUMPY") + 200  # inside x_train's values
    spoiled[start:start + 64] = bytes(64)
    corrupt.write_bytes(bytes(spoiled))
    with pytest.raises(DataError, match=r"corrupt.npz is damaged: `x_train` cannot be read"):
        datasets.from_npz(corrupt)


def test_error_missing_keys_are_named_with_the_layout(tmp_path):
    path = save(tmp_path, x_train=np.ones((3, 2)), labels=np.zeros(3))
    with pytest.raises(DataError, match=r"lacks `y_train` \(it holds `labels`, `x_train`\): "
                                        r"an NNDL data file \(.npz\) holds `x_train` and"):
        datasets.from_npz(path)
    with pytest.raises(DataError, match="lacks `x_train` and `y_train`"):
        datasets.from_npz(save(tmp_path, "other.npz", a=np.ones(2)))


def test_error_unexpected_keys_suggest_the_right_one(tmp_path):
    path = save(tmp_path, x_train=np.ones((3, 2)), y_train=np.zeros(3, np.int64),
                X_test=np.ones((1, 2)))
    with pytest.raises(DataError, match=r"unexpected entries `X_test` \(`X_test`: did you mean "
                                        r"`x_test`\?"):
        datasets.from_npz(path)


def test_error_x_test_without_y_test(tmp_path):
    path = save(tmp_path, x_train=np.ones((3, 2)), y_train=np.zeros(3, np.int64),
                x_test=np.ones((1, 2)))
    with pytest.raises(DataError, match="has `x_test` but no `y_test`: give both or neither"):
        datasets.from_npz(path)
    path = save(tmp_path, "b.npz", x_train=np.ones((3, 2)), y_train=np.zeros(3, np.int64),
                y_test=np.zeros(1, np.int64))
    with pytest.raises(DataError, match="has `y_test` but no `x_test`"):
        datasets.from_npz(path)


def test_error_sample_counts_differ(tmp_path):
    path = save(tmp_path, x_train=np.ones((10, 2)), y_train=np.zeros(9, np.int64))
    with pytest.raises(DataError, match="`x_train` has 10 samples but `y_train` has 9"):
        datasets.from_npz(path)
    path = save(tmp_path, "b.npz", x_train=np.ones((10, 2)), y_train=np.zeros(10, np.int64),
                x_test=np.ones((3, 2)), y_test=np.zeros(4, np.int64))
    with pytest.raises(DataError, match="`x_test` has 3 samples but `y_test` has 4"):
        datasets.from_npz(path)


def test_error_nan_and_infinity(tmp_path):
    x = np.ones((5, 2))
    x[0, 0] = x[1, 1] = np.nan
    x[2, 0] = np.inf
    path = save(tmp_path, x_train=x, y_train=np.zeros(5, np.int64))
    with pytest.raises(DataError, match=r"`x_train` holds 2 NaN and 1 infinite values among its "
                                        r"10: data must be finite"):
        datasets.from_npz(path)
    y = np.zeros((5, 1))
    y[3] = -np.inf
    path = save(tmp_path, "b.npz", x_train=np.ones((5, 2)), y_train=np.zeros((5, 1)),
                x_test=np.ones((5, 2)), y_test=y)
    with pytest.raises(DataError, match=r"`y_test` holds 1 infinite value among its 5"):
        datasets.from_npz(path)


def test_error_object_and_non_numeric_arrays(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x_train=np.array([np.ones(2), "a"], dtype=object), y_train=np.zeros(2))
    with pytest.raises(DataError, match=r"`x_train` is an object array, which numpy stores with "
                                        r"pickle and NNDL never loads"):
        datasets.from_npz(path)
    path = save(tmp_path, "text.npz", x_train=np.array([["a", "b"]]), y_train=np.zeros(1))
    with pytest.raises(DataError, match=r"`x_train` should hold numbers .*not <U1"):
        datasets.from_npz(path)


def test_error_negative_class_indices(tmp_path):
    path = save(tmp_path, x_train=np.ones((4, 2)), y_train=np.array([0, -1, 2, -3]))
    with pytest.raises(DataError, match=r"`y_train` holds 2 negative class indices \(the smallest "
                                        r"is -3\): class indices count from 0"):
        datasets.from_npz(path)


def test_error_features_differ_between_train_and_test(tmp_path):
    path = save(tmp_path, x_train=np.ones((4, 8, 8)), y_train=np.zeros(4, np.int64),
                x_test=np.ones((2, 64)), y_test=np.zeros(2, np.int64))
    with pytest.raises(DataError, match=r"`x_train` samples have shape \(8, 8\) but `x_test` "
                                        r"samples have shape \(64,\)"):
        datasets.from_npz(path)
    path = save(tmp_path, "b.npz", x_train=np.ones((4, 2)), y_train=np.zeros((4, 3)),
                x_test=np.ones((2, 2)), y_test=np.zeros((2, 1)))
    with pytest.raises(DataError, match=r"`y_train` targets have shape \(3,\) but `y_test`"):
        datasets.from_npz(path)


def test_error_label_kinds_and_shapes(tmp_path):
    path = save(tmp_path, x_train=np.ones((4, 2)), y_train=np.zeros(4, np.int64),
                x_test=np.ones((2, 2)), y_test=np.zeros(2))
    with pytest.raises(DataError, match="both should be integer class indices or both float"):
        datasets.from_npz(path)
    path = save(tmp_path, "b.npz", x_train=np.ones((4, 2)), y_train=np.zeros((4, 3), np.int64))
    with pytest.raises(DataError, match=r"integer `y_train` are class indices and should have "
                                        r"shape \(samples,\), not \(4, 3\)"):
        datasets.from_npz(path)


def test_error_sequence_entry_and_shape(tmp_path):
    path = save(tmp_path, x_train=np.ones((4, 2)), y_train=np.zeros(4, np.int64), sequence=1)
    with pytest.raises(DataError, match=r"`sequence` should be a 0-d bool .*not int64 of shape"):
        datasets.from_npz(path)
    path = save(tmp_path, "b.npz", x_train=np.ones((4, 2)), y_train=np.zeros(4, np.int64),
                sequence=True)
    with pytest.raises(DataError, match=r"`x_train` should have shape \(samples, ticks, "
                                        r"\*features\), not \(4, 2\)"):
        datasets.from_npz(path)


def test_error_too_few_samples_to_hold_out(tmp_path):
    path = save(tmp_path, x_train=np.ones((1, 2)), y_train=np.zeros(1, np.int64))
    with pytest.raises(DataError, match="holding out a test set needs at least 2 samples"):
        datasets.from_npz(path)
    path = save(tmp_path, "b.npz", x_train=np.ones((0, 2)), y_train=np.zeros(0, np.int64),
                x_test=np.ones((1, 2)), y_test=np.zeros(1, np.int64))
    with pytest.raises(DataError, match="`x_train` holds no samples"):
        datasets.from_npz(path)


# --- Dataset built by hand ----------------------------------------------------------------------


def test_dataset_checks_classes_when_built_by_hand():
    x, y = np.ones((3, 2)), np.array([0, 1, 2])
    with pytest.raises(DataError, match=r"data set `d`: `classes` should be a whole number above "
                                        r"the largest class index \(2\), not 2"):
        Dataset("d", x, y, x, y, 2)
    with pytest.raises(DataError, match="integer targets are class indices, so `classes`"):
        Dataset("d", x, y, x, y, None)
    with pytest.raises(DataError, match="float targets are regression targets"):
        Dataset("d", x, y.astype(float), x, y.astype(float), 3)
    ds = Dataset("d", x, y, x, y, 3)
    assert "Dataset('d', train=3, test=3, features=(2,), classes=3)" == repr(ds)


# --- files that declare more than they hold, or inflate far beyond their size -----------------

BOMB = 2**26  # bytes of zeros a member inflates to: 64 MiB from about 64 KiB on disk
SAMPLES = BOMB // 8 // 4  # rows of 4 float64 features


def test_a_file_beyond_the_memory_limit_is_refused_uninflated(tmp_path, monkeypatch):
    monkeypatch.setenv("NNDL_MEMORY_LIMIT", "16MiB")
    path = tmp_path / "bomb.npz"
    npz_bombs.write(path, {"y_train": np.zeros(SAMPLES, dtype=np.int8)},
                    bombs={"x_train": ((SAMPLES, 4), np.float64)})
    assert path.stat().st_size < BOMB // 100
    assert npz_bombs.peak_bytes(lambda: datasets.from_npz(path)) < BOMB // 8
    with pytest.raises(DataError, match=r"bomb.npz declares 66.0 MiB of arrays, more than the "
                                        r"16.0 MiB allowed \(NNDL_MEMORY_LIMIT\)"):
        datasets.from_npz(path)


def test_sample_counts_that_disagree_are_refused_uninflated(tmp_path):
    path = tmp_path / "counts.npz"
    npz_bombs.write(path, {"y_train": np.zeros(3, dtype=np.int64)},
                    bombs={"x_train": ((SAMPLES, 4), np.float64)})
    assert npz_bombs.peak_bytes(lambda: datasets.from_npz(path)) < BOMB // 8
    with pytest.raises(DataError, match=f"`x_train` has {SAMPLES} samples but `y_train` has 3"):
        datasets.from_npz(path)


def test_an_unknown_entry_is_refused_uninflated(tmp_path):
    path = tmp_path / "extra.npz"
    npz_bombs.write(path, {"x_train": np.zeros((3, 2)), "y_train": np.zeros(3, dtype=np.int64)},
                    bombs={"payload": ((BOMB // 8,), np.float64)})
    assert npz_bombs.peak_bytes(lambda: datasets.from_npz(path)) < BOMB // 8
    with pytest.raises(DataError, match="unexpected entries `payload`"):
        datasets.from_npz(path)


def test_a_header_that_declares_more_than_the_entry_holds_is_refused(tmp_path):
    path = tmp_path / "lie.npz"
    npz_bombs.write(path, {"y_train": np.zeros(3, dtype=np.int64)},
                    lies={"x_train": ((3, 2**40), np.float64)})
    with pytest.raises(DataError, match=r"lie.npz is damaged: `x_train` declares 26388279066624 "
                                        r"bytes of float64 \(3, 1099511627776\) but holds 64"):
        datasets.from_npz(path)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "data.npz"
    os.mkfifo(fifo)
    # a hang guard, far above the time a refusal takes: a writer that opens and closes the
    # FIFO ends a blocked read, so a regression fails here instead of hanging the suite
    writer = threading.Timer(30, lambda: open(fifo, "wb").close())
    writer.daemon = True
    writer.start()
    try:
        with pytest.raises(DataError, match="data.npz is not a regular file"):
            datasets.from_npz(fifo)
    finally:
        writer.cancel()


def test_error_sequences_of_zero_ticks(tmp_path):
    """Not an IndexError once training starts: refused on loading."""
    path = save(tmp_path, x_train=np.ones((5, 0, 3)), y_train=np.zeros(5, np.int64),
                sequence=True)
    with pytest.raises(DataError, match=r"`x_train` holds sequences of 0 ticks \(shape "
                                        r"\(5, 0, 3\)\): each sample needs one tick or more"):
        datasets.from_npz(path)
    with pytest.raises(DataError, match="`x_test` holds sequences of 0 ticks"):
        Dataset("mine", np.ones((2, 1, 3)), np.zeros(2, np.int64), np.ones((2, 0, 3)),
                np.zeros(2, np.int64), 1, sequence=True)


def test_the_listed_ticks_of_built_in_sequences_are_theirs(sklearn):
    for name in datasets.NAMES:
        if name.startswith("mnist1d"):  # a small one: its ticks do not depend on the size
            pytest.importorskip("mnist1d")
        data = datasets.load(name, **({"samples": 50} if name.startswith("mnist1d") else {}))
        assert datasets.SEQUENCE_TICKS.get(name, 1) == data.ticks, name


# --- MNIST-1D -----------------------------------------------------------------------------------


def test_mnist1d_is_generated_offline_seeded_and_cached(isolated_cache):
    pytest.importorskip("mnist1d")
    import random

    np.random.seed(5)
    random.seed(5)
    before = np.random.random(), random.random()
    np.random.seed(5)
    random.seed(5)
    data = datasets.load("mnist1d", samples=100)
    assert (np.random.random(), random.random()) == before  # the user's generators untouched
    assert data.x_train.shape == (80, 40) and data.x_test.shape == (20, 40)
    assert data.classes == 10 and set(data.y_train) <= set(range(10))
    assert data.x_train.dtype == np.float64 and data.y_train.dtype == np.int64
    (cached,) = (isolated_cache / "datasets").glob("mnist1d-*-seed42-n100.npz")
    again = datasets.load("mnist1d", samples=100)  # from the cache
    assert np.array_equal(again.x_train, data.x_train)
    cached.write_bytes(b"damaged")  # generated afresh
    assert np.array_equal(datasets.load("mnist1d", samples=100).x_test, data.x_test)
    other = datasets.load("mnist1d", seed=1, samples=100)
    assert not np.array_equal(other.x_train, data.x_train)
    seq = datasets.load("mnist1d_seq", samples=100)
    assert (seq.ticks, seq.features) == (40, (1,))
    assert np.array_equal(seq.x_train[..., 0], data.x_train)


def test_mnist1d_without_its_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "mnist1d", None)  # as if not installed
    with pytest.raises(DataError, match=r"pip install 'nndl\[mnist1d\]'"):
        datasets.load("mnist1d")
    with pytest.raises(DataError, match="`samples` is a whole number, 10 or more"):
        datasets.load("mnist1d", samples=3)
