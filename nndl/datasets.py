"""Data sets for training and evaluation: built in, or the user's own `.npz` file.

Nothing is downloaded at run time. Built-in sets (`NAMES`):

- `digits`: scikit-learn's bundled 8x8 handwritten digits (1797 images, `load_digits`, which reads
  a file installed with scikit-learn). x `(n, 8, 8)` float64 in [0, 1] (pixel / 16), y int64 class
  indices 0..9, `classes == 10`. The split is fixed and stratified: in the order of
  `numpy.random.default_rng(0).permutation(1797)`, the first `(count + 2) // 5` samples of each
  class (20%, rounded to the nearest) are the test set, the rest the training set; both keep that
  (shuffled) order. 1438 training and 359 test samples.
- `digits_rows`: the same images, labels and split as a sequence (`sequence=True`): one image row
  of 8 pixels per tick, so x is `(n, 8 ticks, 8 features)`.
- `xor`: the 4 patterns `[0,0], [0,1], [1,0], [1,1]` (float64), labels `[0, 1, 1, 0]`; train ==
  test.
- `mnist1d` (`seed=42`, `samples=5000`): MNIST-1D (Greydanus & Kobak 2020), generated offline by
  the optional `mnist1d` package (`pip install 'nndl[mnist1d]'`; DataError naming it when it is
  missing): x `(n, 40)` float64 (the whole set centred, standard deviation 1), y class indices
  0..9; the package's own split, the first 80% training: 4000 training and 1000 test sequences
  with the defaults, which make the paper's data set. Generated once per (seed, samples), then
  read from a cache (nndl.data_mnist1d).
- `mnist1d_seq`: the same sequences, one value per tick (`sequence=True`, 40 ticks, 1 feature),
  for recurrent networks.
- `parity` (`n=4`, 1 <= n <= 16): all `2**n` bit patterns, x `(2**n, n)` float64 in {0, 1}, row `i`
  holding the bits of `i` with the most significant first; y = the number of ones mod 2 (a class
  index); train == test.

A user's data file is an `.npz` (e.g. `numpy.savez("mine.npz", x_train=..., y_train=...)`), read
with `allow_pickle=False`, holding these entries and no others:

- `x_train` (required): numbers of shape `(n, *features)`, or `(n, ticks, *features)` when
  `sequence` is true; stored as float64.
- `y_train` (required): `n` targets. Integers (or bools) of shape `(n,)` are class indices
  (0 .. classes-1; `classes` is their largest value + 1 over train and test). Floats of shape
  `(n, *out)` are regression targets (`classes` is None). Integers of any other shape are refused.
- `x_test`, `y_test` (optional, both or neither): held-out samples with the same per-sample shapes
  as the training ones. Without them, `(n + 2) // 5` training samples (20%, at least 1) are held
  out: the first ones in the order of `numpy.random.default_rng(0).permutation(n)` become the test
  set, the rest stay for training, both in that order.
- `sequence` (optional): a 0-d bool (`numpy.savez(..., sequence=True)`); true when x has a time
  axis after the sample axis, one step per tick. Default false.

Every array must hold finite numbers (no NaN or infinity, no object arrays), with at least one
sample. A file that breaks any of this raises `DataError` (an `nndl.InputError`) naming the file,
the entry and what was expected.

    ds = load("digits")                 # or load("parity", n=5), load("path/to/mine.npz")
    out = net.run(image=ds.inputs(ds.x_test))
    accuracy = (out["label"].argmax(-1) == ds.y_test).mean()
"""

from __future__ import annotations

import difflib
import inspect
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nndl.runtime import npzfile
from nndl.runtime.errors import InputError

__all__ = ["NAMES", "DataError", "Dataset", "digits", "digits_rows", "from_npz", "load",
           "mnist1d", "mnist1d_seq", "parity", "xor"]

NAMES = ("digits", "digits_rows", "xor", "parity", "mnist1d", "mnist1d_seq")
# The ticks of each built-in sequence data set (a sequence sets the ticks of a run itself), for
# listings that should not load the data to tell.
SEQUENCE_TICKS = {"digits_rows": 8, "mnist1d_seq": 40}

FILE_KEYS = ("x_train", "y_train", "x_test", "y_test", "sequence")
LAYOUT = ("an NNDL data file (.npz) holds `x_train` and `y_train`, optionally `x_test` and "
          "`y_test` (both or neither) and `sequence` (a 0-d bool)")


class DataError(InputError):
    """A data set that cannot be used: an unknown name, or a missing, damaged or malformed file."""


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Training and test samples. x is float64 `(n, *features)`, or `(n, ticks, *features)` when
    `sequence`; y is int64 class indices `(n,)` when `classes` is set, else float64 `(n, *out)`.
    The arrays are checked and converted on construction (DataError for bad ones)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int | None
    sequence: bool = False

    def __post_init__(self):
        arrays = _validate(f"data set `{self.name}`", self.x_train, self.y_train, self.x_test,
                           self.y_test, self.classes, self.sequence)
        for key, value in zip(("x_train", "y_train", "x_test", "y_test", "classes"), arrays):
            object.__setattr__(self, key, value)
        object.__setattr__(self, "sequence", bool(self.sequence))

    @property
    def ticks(self) -> int:
        """Time steps per sample: `x.shape[1]` for a sequence, else 1."""
        return self.x_train.shape[1] if self.sequence else 1

    @property
    def features(self) -> tuple[int, ...]:
        """The shape of one sample at one tick (the input group's shape)."""
        return tuple(self.x_train.shape[2:] if self.sequence else self.x_train.shape[1:])

    def inputs(self, x) -> np.ndarray:
        """x (samples first, as stored here) ready for `Network.run`: `(batch, *features)`, or
        time-major `(ticks, batch, *features)` for a sequence."""
        x = np.asarray(x, dtype=np.float64)
        lead = 2 if self.sequence else 1
        if x.ndim != lead + len(self.features) or x.shape[lead:] != self.features:
            want = "(batch, ticks, " if self.sequence else "(batch, "
            want += ", ".join(map(str, self.features)) + ")"
            raise DataError(f"data set `{self.name}`: inputs should have shape {want}, "
                            f"not {x.shape}")
        return np.ascontiguousarray(np.moveaxis(x, 1, 0)) if self.sequence else x

    def __repr__(self) -> str:
        target = f"classes={self.classes}" if self.classes is not None else \
            f"targets={tuple(self.y_train.shape[1:])}"
        seq = f", ticks={self.ticks}" if self.sequence else ""
        return (f"Dataset({self.name!r}, train={len(self.x_train)}, test={len(self.x_test)}"
                f"{seq}, features={self.features}, {target})")


# --- built-in data sets -------------------------------------------------------------------------


def digits() -> Dataset:
    """scikit-learn's bundled 8x8 digits, pixels in [0, 1], with the fixed stratified split."""
    images, labels = _digits_arrays("digits")
    train, test = _stratified_split(labels)
    return Dataset("digits", images[train], labels[train], images[test], labels[test], 10)


def digits_rows() -> Dataset:
    """The digits as sequences: one image row (8 pixels) per tick, 8 ticks."""
    images, labels = _digits_arrays("digits_rows")
    train, test = _stratified_split(labels)
    return Dataset("digits_rows", images[train], labels[train], images[test], labels[test], 10,
                   sequence=True)


def xor() -> Dataset:
    """The 4 XOR patterns; the test set is the training set."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return Dataset("xor", x, y, x.copy(), y.copy(), 2)


def parity(n: int = 4) -> Dataset:
    """All 2**n patterns of n bits (most significant first), labelled by their parity."""
    bits = _bit_count(n)
    index = np.arange(2**bits)
    x = ((index[:, None] >> np.arange(bits - 1, -1, -1)) & 1).astype(np.float64)
    y = (x.sum(axis=1).astype(np.int64) % 2)
    return Dataset("parity", x, y, x.copy(), y.copy(), 2)


def mnist1d(seed: int = 42, samples: int = 5000) -> Dataset:
    """MNIST-1D: sequences of 40 values, 10 classes (see nndl.data_mnist1d)."""
    from nndl import data_mnist1d

    a = data_mnist1d.arrays(_whole("mnist1d", "seed", seed, 0),
                            _whole("mnist1d", "samples", samples, 10), error=DataError)
    return Dataset("mnist1d", a["x_train"], a["y_train"], a["x_test"], a["y_test"], 10)


def mnist1d_seq(seed: int = 42, samples: int = 5000) -> Dataset:
    """MNIST-1D as sequences: one of the 40 values per tick."""
    flat = mnist1d(seed, samples)
    return Dataset("mnist1d_seq", flat.x_train[..., None], flat.y_train, flat.x_test[..., None],
                   flat.y_test, 10, sequence=True)


def _whole(name: str, arg: str, value, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise DataError(f"data set `{name}`: `{arg}` is a whole number, {least} or more; "
                        f"got {value!r}")
    return int(value)


_BUILDERS = {"digits": digits, "digits_rows": digits_rows, "xor": xor, "parity": parity,
             "mnist1d": mnist1d, "mnist1d_seq": mnist1d_seq}


def load(name_or_path: str | os.PathLike, **args) -> Dataset:
    """A built-in set by name (`NAMES`, with its keyword arguments), or a user's `.npz` file: a
    name ending in `.npz` or holding a path separator is a path."""
    if _is_path(name_or_path):
        if args:
            raise DataError(f"a data file takes no arguments (got {_show_args(args)}): "
                            f"{os.fspath(name_or_path)}")
        return from_npz(name_or_path)
    if not isinstance(name_or_path, str):
        raise DataError(f"a data set is a name ({', '.join(NAMES)}) or a path to an .npz file, "
                        f"not {type(name_or_path).__name__}")
    builder = _BUILDERS.get(name_or_path)
    if builder is None:
        raise DataError(_unknown_name(name_or_path))
    signature = inspect.signature(builder)
    try:
        signature.bind(**args)
    except TypeError:
        takes = ", ".join(signature.parameters) or "no arguments"
        raise DataError(f"data set `{name_or_path}` takes {takes}, not {_show_args(args)}") \
            from None
    return builder(**args)


def from_npz(path: str | os.PathLike) -> Dataset:
    """A user's data set from an `.npz` laid out as the module docstring says."""
    where = os.fspath(path)
    arrays = _read_npz(path)
    sequence = _read_sequence(where, arrays)
    x_train, y_train = arrays["x_train"], arrays["y_train"]
    if "x_test" in arrays:
        x_test, y_test = arrays["x_test"], arrays["y_test"]
    else:
        _check_x(where, "x_train", x_train, sequence)
        _check_y(where, "y_train", y_train)
        _check_count(where, "train", x_train, y_train)
        if len(x_train) < 2:
            raise DataError(f"{where} has {len(x_train)} training sample and no `x_test`/"
                            "`y_test`: holding out a test set needs at least 2 samples")
        order = np.random.default_rng(0).permutation(len(x_train))
        held = max(1, (len(x_train) + 2) // 5)
        test, train = order[:held], order[held:]
        x_test, y_test = x_train[test], y_train[test]
        x_train, y_train = x_train[train], y_train[train]
    xs = _validate(where, x_train, y_train, x_test, y_test, "infer", sequence)
    return Dataset(Path(where).stem or where, *xs, sequence=sequence)


# --- checks ---------------------------------------------------------------------------------------


def _validate(where, x_train, y_train, x_test, y_test, classes, sequence):
    """The four arrays converted (x float64; y int64 class indices or float64 targets) and the
    number of classes; `classes="infer"` takes the largest label + 1. DataError for bad data."""
    if not isinstance(sequence, (bool, np.bool_)):
        raise DataError(f"{where}: `sequence` should be True or False, not {sequence!r}")
    x_train = _check_x(where, "x_train", x_train, sequence)
    x_test = _check_x(where, "x_test", x_test, sequence)
    y_train = _check_y(where, "y_train", y_train)
    y_test = _check_y(where, "y_test", y_test)
    _check_count(where, "train", x_train, y_train)
    _check_count(where, "test", x_test, y_test)
    if x_train.shape[1:] != x_test.shape[1:]:
        what = "(ticks, *features)" if sequence else "features"
        raise DataError(f"{where}: `x_train` samples have shape {x_train.shape[1:]} but `x_test` "
                        f"samples have shape {x_test.shape[1:]}: train and test need the same "
                        f"{what}")
    labels = y_train.dtype.kind in "iu"
    if labels != (y_test.dtype.kind in "iu"):
        raise DataError(f"{where}: `y_train` holds {y_train.dtype} and `y_test` {y_test.dtype}: "
                        "both should be integer class indices or both float targets")
    if not labels:
        if y_train.shape[1:] != y_test.shape[1:]:
            raise DataError(f"{where}: `y_train` targets have shape {y_train.shape[1:]} but "
                            f"`y_test` targets have shape {y_test.shape[1:]}")
        if classes not in (None, "infer"):
            raise DataError(f"{where}: float targets are regression targets, so `classes` should "
                            f"be None, not {classes!r} (class indices are integers)")
        return x_train, y_train, x_test, y_test, None
    for key, y in (("y_train", y_train), ("y_test", y_test)):
        negative = y < 0
        if negative.any():
            raise DataError(f"{where}: `{key}` holds {int(negative.sum())} negative class "
                            f"indices (the smallest is {int(y.min())}): class indices count from 0")
    largest = int(max(y_train.max(), y_test.max()))
    if classes == "infer":
        classes = largest + 1
    elif classes is None:
        raise DataError(f"{where}: integer targets are class indices, so `classes` should be "
                        f"their number (at least {largest + 1}), not None (use float targets for "
                        "regression)")
    elif isinstance(classes, (bool, np.bool_)) or not isinstance(classes, (int, np.integer)) \
            or classes <= largest:
        raise DataError(f"{where}: `classes` should be a whole number above the largest class "
                        f"index ({largest}), not {classes!r}")
    return (x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64), int(classes))


def _check_x(where, key, x, sequence) -> np.ndarray:
    x = _numeric(where, key, x)
    need = 3 if sequence else 2
    if x.ndim < need:
        want = "(samples, ticks, *features)" if sequence else "(samples, *features)"
        raise DataError(f"{where}: `{key}` should have shape {want}, not {x.shape}")
    _nonempty(where, key, x)
    if sequence and x.shape[1] == 0:  # a run has one tick at least: there would be no output
        raise DataError(f"{where}: `{key}` holds sequences of 0 ticks (shape {x.shape}): each "
                        "sample needs one tick or more")
    _finite(where, key, x)
    return np.ascontiguousarray(x, dtype=np.float64)


def _check_y(where, key, y) -> np.ndarray:
    y = _numeric(where, key, y)
    if y.ndim == 0:
        raise DataError(f"{where}: `{key}` should have one entry per sample, not a single value")
    if y.dtype.kind == "b":
        y = y.astype(np.int64)
    if y.dtype.kind in "iu":
        if y.ndim != 1:
            raise DataError(f"{where}: integer `{key}` are class indices and should have shape "
                            f"(samples,), not {y.shape} (store regression targets as floats)")
        if y.dtype.kind == "u" and y.size and int(y.max()) > np.iinfo(np.int64).max:
            raise DataError(f"{where}: `{key}` holds class indices too large for int64")
        _nonempty(where, key, y)
        return y
    _nonempty(where, key, y)
    _finite(where, key, y)
    return np.ascontiguousarray(y, dtype=np.float64)


def _numeric(where, key, a) -> np.ndarray:
    a = np.asarray(a)
    _check_dtype(where, key, a.dtype)
    return a


def _check_dtype(where, key, dtype: np.dtype) -> None:
    if dtype.kind == "O":
        raise DataError(f"{where}: `{key}` is an object array: data must be plain numbers "
                        "(ints, floats or bools)")
    if dtype.kind not in "biuf":
        raise DataError(f"{where}: `{key}` should hold numbers (ints, floats or bools), "
                        f"not {dtype}")


def _nonempty(where, key, a) -> None:
    if len(a) == 0:
        raise DataError(f"{where}: `{key}` holds no samples")


def _finite(where, key, a) -> None:
    nan, inf = int(np.isnan(a).sum()), int(np.isinf(a).sum())
    if nan or inf:
        parts = [f"{nan} NaN" if nan else "", f"{inf} infinite" if inf else ""]
        raise DataError(f"{where}: `{key}` holds {' and '.join(p for p in parts if p)} "
                        f"value{'s' if nan + inf > 1 else ''} among its {a.size}: data must be "
                        "finite")


def _check_count(where, part, x, y) -> None:
    if len(x) != len(y):
        raise DataError(f"{where}: `x_{part}` has {len(x)} samples but `y_{part}` has {len(y)}: "
                        "they need one target per sample")


# --- helpers --------------------------------------------------------------------------------------


def _digits_arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError(f"data set `{name}` needs scikit-learn, which is not installed: "
                        "pip install scikit-learn (or pip install 'nndl[examples]')") from None
    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float64) / 16.0
    return images, np.asarray(bunch.target, dtype=np.int64)


def _stratified_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices: per class, the first (count + 2) // 5 in the order of
    default_rng(0).permutation(n) go to test; both keep that order."""
    order = np.random.default_rng(0).permutation(len(labels))
    ordered = labels[order]
    seen: dict[int, int] = {}
    rank = np.empty(len(order), dtype=np.int64)
    for i, c in enumerate(ordered.tolist()):
        rank[i] = seen.get(c, 0)
        seen[c] = rank[i] + 1
    quota = np.array([(seen[c] + 2) // 5 for c in ordered.tolist()], dtype=np.int64)
    is_test = rank < quota
    return order[~is_test], order[is_test]


def _bit_count(n) -> int:
    try:
        if isinstance(n, (bool, np.bool_)):
            raise TypeError
        if isinstance(n, (float, np.floating)) and float(n).is_integer():
            n = int(n)
        bits = int(n.__index__())
    except (TypeError, AttributeError):
        raise DataError(f"parity: n should be a whole number from 1 to 16, not {n!r}") from None
    if not 1 <= bits <= 16:
        raise DataError(f"parity: n should be from 1 to 16 (2**n patterns), not {bits}")
    return bits


def _is_path(name) -> bool:
    if isinstance(name, os.PathLike):
        return True
    if not isinstance(name, str):
        return False
    seps = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return name.lower().endswith(".npz") or any(s in name for s in seps)


def _read_npz(path) -> dict[str, np.ndarray]:
    """Every entry of the file, each checked from the zip directory and its `.npy` header (name,
    dtype, sample count) before anything is inflated, so a small file that declares gigabytes
    is refused unread."""
    where = os.fspath(path)
    with npzfile.Archive(path, DataError, "data file", hint=LAYOUT) as archive:
        _check_entries(where, archive.keys)
        members = {key: archive.header(key) for key in archive.keys}
        for key, member in members.items():
            if key != "sequence":
                _check_dtype(where, key, member.dtype)
        for part in ("train", "test"):
            x, y = members.get(f"x_{part}"), members.get(f"y_{part}")
            if x and y and x.shape and y.shape:
                _check_count(where, part, range(x.shape[0]), range(y.shape[0]))
        return archive.read(archive.keys)


def _check_entries(where: str, keys) -> None:
    """The file holds `x_train` and `y_train`, maybe the others of FILE_KEYS, nothing else."""
    present = sorted(keys)
    missing = [k for k in ("x_train", "y_train") if k not in keys]
    if missing:
        has = ", ".join(f"`{k}`" for k in present) or "nothing"
        raise DataError(f"{where} lacks {' and '.join(f'`{k}`' for k in missing)} (it holds "
                        f"{has}): {LAYOUT}")
    unknown = [k for k in present if k not in FILE_KEYS]
    if unknown:
        hints = [_close(k, FILE_KEYS) for k in unknown]
        hint = "; ".join(f"`{k}`: did you mean `{h}`?" for k, h in zip(unknown, hints) if h)
        raise DataError(f"{where} holds unexpected entries {', '.join(f'`{k}`' for k in unknown)}"
                        f" ({hint + '; ' if hint else ''}{LAYOUT}, and nothing else)")
    if ("x_test" in keys) != ("y_test" in keys):
        has, lacks = ("x_test", "y_test") if "x_test" in keys else ("y_test", "x_test")
        raise DataError(f"{where} has `{has}` but no `{lacks}`: give both or neither (without "
                        "them, 20% of the training samples are held out for testing)")


def _read_sequence(where, arrays) -> bool:
    if "sequence" not in arrays:
        return False
    s = arrays["sequence"]
    if s.shape != () or s.dtype.kind != "b":
        raise DataError(f"{where}: `sequence` should be a 0-d bool (numpy.savez(..., "
                        f"sequence=True)), not {s.dtype} of shape {s.shape}")
    return bool(s)


def _close(name: str, known) -> str | None:
    """The known name that differs only in case, else the closest one, else None."""
    same = [k for k in known if k.lower() == name.lower()]
    close = same or difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return close[0] if close else None


def _unknown_name(name: str) -> str:
    guess = _close(name, NAMES)
    hint = f"did you mean `{guess}`? " if guess else ""
    message = (f"unknown data set `{name}`: {hint}the built-in data sets are "
               f"{', '.join(NAMES)}; a user's data set is a path to an .npz file")
    if os.path.exists(name):
        message += f" (to read the file `{name}`, write ./{name})"
    return message


def _show_args(args: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())
