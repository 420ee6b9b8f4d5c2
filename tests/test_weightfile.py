"""The one weight format: cross-backend save/load, the file's keys, and damaged files refused
without touching the network's parameters (DESIGN.md, One weight format; Errors)."""

from __future__ import annotations

import hashlib
import io
import json
import os

import numpy as np
import pytest
import npz_bombs
from conftest import BACKENDS, backend_unavailable, write_source

import nndl

NET = """
network saver {
    seed 2
    input  x[2, 3]
    group  h[4]  : tanh bias 0.5
    group  g[4]  : sigmoid bias none
    output y[3]  : softmax
    connect x -> h : full weight normal(0, 1)
    connect h -> g : one_to_one weight uniform(-2, 2)
    connect g -> y : full
    connect x -> y : full weight normal(0, 0.5) as skip
}
"""

OTHER = NET.replace("network saver", "network other")

KEYS = {"x->h.pre", "x->h.post", "x->h.w", "h->g.pre", "h->g.post", "h->g.w", "g->y.pre",
        "g->y.post", "g->y.w", "skip.pre", "skip.post", "skip.w", "h.bias", "y.bias"}

X = np.random.default_rng(0).normal(size=(4, 2, 3))


@pytest.fixture(params=BACKENDS)
def other_backend(request) -> str:
    reason = backend_unavailable(request.param)
    if reason:
        pytest.skip(reason)
    return request.param


def read(path) -> dict:
    with np.load(path, allow_pickle=False) as f:
        return {key: f[key] for key in f.files}


def assert_same_parameters(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for key, value in a.items():
        assert value.dtype == b[key].dtype, key
        np.testing.assert_array_equal(value, b[key], err_msg=key)


# ---- round trips ---------------------------------------------------------------------------


def test_a_file_saved_by_one_backend_loads_into_another(compile_text, backend, other_backend,
                                                        tmp_path):
    saver = compile_text(NET, backend).Network(seed=5, dtype="float64")
    path = tmp_path / "w.npz"
    saver.save(path)
    loader = compile_text(NET, other_backend).Network(seed=6, dtype="float64")
    assert not np.array_equal(loader.parameters()["x->h.w"], saver.parameters()["x->h.w"])
    loader.load(path)
    assert_same_parameters(loader.parameters(), saver.parameters())
    expected = saver.run(x=X)["y"]
    np.testing.assert_allclose(loader.run(x=X)["y"], expected, rtol=1e-12, atol=1e-12)


def test_float32_file_loads_into_float64_network(compile_text, backend, tmp_path):
    saver = compile_text(NET, backend).Network(seed=5, dtype="float32")
    saver.save(tmp_path / "w.npz")
    loader = compile_text(NET, backend).Network(seed=6, dtype="float64")
    loader.load(tmp_path / "w.npz")
    for key, value in saver.parameters().items():
        np.testing.assert_array_equal(loader.parameters()[key], value.astype(np.float64))


def test_float64_file_loads_into_float32_network_rounded(compile_text, backend, tmp_path):
    saver = compile_text(NET, backend).Network(seed=5, dtype="float64")
    saver.save(tmp_path / "w.npz")
    loader = compile_text(NET, backend).Network(seed=6, dtype="float32")
    loader.load(tmp_path / "w.npz")
    for key, value in saver.parameters().items():
        want = value.astype(np.float32) if value.dtype == np.float64 else value
        np.testing.assert_array_equal(loader.parameters()[key], want, err_msg=key)
    np.testing.assert_allclose(loader.run(x=X)["y"], saver.run(x=X)["y"], rtol=1e-5)


def test_file_keys_dtypes_and_metadata(compile_text, backend, tmp_path):
    path = write_source(NET, tmp_path)
    net = nndl.compile(path, backend=backend).Network(dtype="float64")
    net.save(tmp_path / "w.npz")
    arrays = read(tmp_path / "w.npz")
    assert set(arrays) == KEYS | {"__meta__"}
    for name in ("x->h", "h->g", "g->y", "skip"):
        pre, post = arrays[f"{name}.pre"], arrays[f"{name}.post"]
        assert pre.dtype == np.int64 and post.dtype == np.int64
        order = np.lexsort((pre, post))  # CSR: by post, then pre
        np.testing.assert_array_equal(order, np.arange(pre.size))
        assert arrays[f"{name}.w"].dtype == np.float64 and arrays[f"{name}.w"].shape == pre.shape
    assert arrays["x->h.pre"].size == 24 and arrays["h->g.pre"].size == 4
    np.testing.assert_array_equal(arrays["h.bias"], np.full(4, 0.5))
    meta = json.loads(str(arrays["__meta__"]))
    assert meta["source"] == str(path)
    assert meta["sha256"] == hashlib.sha256(NET.encode()).hexdigest()
    assert meta["network"] == "saver"
    assert meta["nndl_version"] == nndl.__version__
    assert meta["dtype"] == "float64"


def test_saving_a_float32_network_records_float32(compile_text, backend, tmp_path):
    compile_text(NET, backend).Network(dtype="float32").save(tmp_path / "w.npz")
    arrays = read(tmp_path / "w.npz")
    assert json.loads(str(arrays["__meta__"]))["dtype"] == "float32"
    assert arrays["x->h.w"].dtype == np.float32 and arrays["x->h.pre"].dtype == np.int64


def test_save_replaces_an_existing_file_and_leaves_no_temporary(compile_text, backend, tmp_path):
    module = compile_text(NET, backend)
    module.Network(seed=1).save(tmp_path / "w.npz")
    module.Network(seed=2).save(tmp_path / "w.npz")
    assert os.listdir(tmp_path) == ["w.npz"]
    np.testing.assert_array_equal(read(tmp_path / "w.npz")["x->h.w"],
                                  module.Network(seed=2).parameters()["x->h.w"])


def test_a_failed_save_leaves_the_old_file_intact(compile_text, backend, tmp_path, monkeypatch):
    module = compile_text(NET, backend)
    path = tmp_path / "w.npz"
    module.Network(seed=1).save(path)
    old = path.read_bytes()

    def broken_savez(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a zip")  # some bytes reach the temporary file first
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        module.Network(seed=2).save(path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["w.npz"]


# ---- damaged and foreign files -------------------------------------------------------------


@pytest.fixture
def saved(compile_text, backend, tmp_path):
    """(a network, the arrays of a good file of another instance, a writer for variants)."""
    compile_text(NET, backend).Network(seed=1, dtype="float64").save(tmp_path / "good.npz")
    arrays = read(tmp_path / "good.npz")
    net = compile_text(NET, backend).Network(seed=2, dtype="float64")

    def write(changed: dict, drop=()) -> str:
        payload = {k: v for k, v in {**arrays, **changed}.items() if k not in drop}
        path = tmp_path / "bad.npz"
        np.savez(path, **payload)
        return path

    return net, arrays, write


def assert_refused(net, path, match: str) -> None:
    """Loading raises WeightFileError naming the problem, and changes nothing."""
    before, outputs = net.parameters(), net.run(x=X)["y"]
    with pytest.raises(nndl.WeightFileError, match=match):
        net.load(path)
    assert_same_parameters(net.parameters(), before)
    np.testing.assert_array_equal(net.run(x=X)["y"], outputs)


def test_a_file_of_another_network_is_refused(compile_text, backend, tmp_path, saved):
    net, _, _ = saved
    compile_text(OTHER, backend).Network().save(tmp_path / "other.npz")
    assert_refused(net, tmp_path / "other.npz", "`other`.*not `saver`")


def test_truncated_files_are_refused(saved, tmp_path):
    net, _, _ = saved
    data = (tmp_path / "good.npz").read_bytes()
    for cut in (0, 10, len(data) // 3, len(data) // 2, len(data) - 30, len(data) - 1):
        (tmp_path / "cut.npz").write_bytes(data[:cut])
        assert_refused(net, tmp_path / "cut.npz", "cut.npz")


def test_a_file_that_is_not_a_weight_file_is_refused(saved, tmp_path):
    net, _, _ = saved
    (tmp_path / "text.npz").write_text("hello")
    assert_refused(net, tmp_path / "text.npz", "not a readable")
    assert_refused(net, tmp_path / "missing.npz", "no weight file")
    np.save(tmp_path / "plain.npy", np.zeros(3))
    assert_refused(net, tmp_path / "plain.npy", "plain.npy")


UNPICKLED = []


def unpickled() -> float:
    UNPICKLED.append(True)
    return 0.0


class Trap:
    """Unpickling it calls `unpickled`: a file holding it shows whether a load unpickles."""

    def __reduce__(self):
        return unpickled, ()


def test_object_arrays_are_never_unpickled(saved):
    net, _, write = saved
    UNPICKLED.clear()
    assert_refused(net, write({"h.bias": np.array([Trap()] * 4, dtype=object)}), "bad.npz")
    assert_refused(net, write({"__meta__": np.array([Trap()], dtype=object)}), "bad.npz")
    assert UNPICKLED == []


@pytest.mark.parametrize("key", ["x->h.w", "skip.pre", "g->y.post", "h.bias", "__meta__"])
def test_a_missing_key_is_refused(saved, key):
    net, _, write = saved
    assert_refused(net, write({}, drop=[key]), key)


@pytest.mark.parametrize("meta", ["not json", "[1, 2]", '"saver"', "42", "null"])
def test_damaged_metadata_is_refused(saved, meta):
    net, _, write = saved
    assert_refused(net, write({"__meta__": np.array(meta)}), "__meta__")


@pytest.mark.parametrize("meta, why", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"network": "saver", "seed": ' + "7" * 5000 + "}", "a whole number of 5000 digits"),
])
def test_metadata_nested_too_deeply_or_with_a_huge_number_is_refused(saved, meta, why):
    """json raises RecursionError for the one and Python a bare ValueError for the other."""
    net, _, write = saved
    assert_refused(net, write({"__meta__": np.array(meta)}), rf"`__meta__` entry \({why}\)")


SWAP = np.r_[1, 0, 2:24]  # the first two synapses of `x -> h` exchanged

# Each damage a file can have: (what replaces which arrays, a pattern its message must match).
DAMAGE = {
    "w-int": (lambda a: {"x->h.w": a["x->h.w"].astype(np.int64)}, "x->h.w"),
    "w-complex": (lambda a: {"x->h.w": a["x->h.w"].astype(complex)}, "x->h.w"),
    "pre-float": (lambda a: {"x->h.pre": a["x->h.pre"].astype(float)}, "x->h.pre"),
    "bias-str": (lambda a: {"h.bias": np.array(["a"] * 4)}, "h.bias"),
    "w-short": (lambda a: {"x->h.w": a["x->h.w"][:-1]}, "x->h.w"),
    "w-2d": (lambda a: {"x->h.w": a["x->h.w"].reshape(4, 6)}, "x->h.w"),
    "all-short": (lambda a: {k: a[k][:-1] for k in ("x->h.pre", "x->h.post", "x->h.w")},
                  "x->h"),
    "bias-long": (lambda a: {"h.bias": np.zeros(5)}, "h.bias"),
    "bias-2d": (lambda a: {"h.bias": np.zeros((1, 4))}, "h.bias"),
    "bias-scalar": (lambda a: {"h.bias": np.array(0.5)}, "h.bias"),
    "w-nan": (lambda a: {"x->h.w": np.r_[np.nan, a["x->h.w"][1:]]}, "finite"),
    "bias-inf": (lambda a: {"h.bias": np.full(4, np.inf)}, "finite"),
    "pre-high": (lambda a: {"x->h.pre": np.r_[a["x->h.pre"][:-1], 6]}, "outside"),
    "pre-negative": (lambda a: {"x->h.pre": np.r_[-1, a["x->h.pre"][1:]]}, "outside"),
    "post-high": (lambda a: {"h->g.post": np.array([0, 1, 2, 4])}, "outside"),
    "unsorted": (lambda a: {"x->h.pre": a["x->h.pre"][SWAP], "x->h.w": a["x->h.w"][SWAP]},
                 "CSR"),
    "repeated": (lambda a: {"h->g.pre": np.array([0, 1, 1, 3]),
                            "h->g.post": np.array([0, 1, 1, 3])}, "CSR"),
    "missing-synapse": (lambda a: {k: a[k][1:] for k in ("x->h.pre", "x->h.post", "x->h.w")},
                        "full"),
    "one-to-one-crossed": (lambda a: {"h->g.pre": np.array([1, 0, 2, 3])}, "one_to_one"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_arrays_are_refused_and_change_nothing(saved, case):
    net, arrays, write = saved
    damage, match = DAMAGE[case]
    assert_refused(net, write(damage(arrays)), match)


def test_refusal_messages_name_the_file(saved, tmp_path):
    net, arrays, write = saved
    with pytest.raises(nndl.WeightFileError, match="bad.npz"):
        net.load(write({"x->h.w": arrays["x->h.w"][:-1]}))


def test_entries_the_network_has_no_use_for_are_refused_unread(saved, backend):
    net, _, write = saved
    assert_refused(net, write({"notes": np.array([1.0, 2.0])}), "no use for: `notes`")


def test_values_beyond_a_float32_network_are_refused_by_name(compile_text, backend, saved):
    _, arrays, write = saved
    net = compile_text(NET, backend).Network(seed=2, dtype="float32")
    weights = arrays["x->h.w"].copy()
    weights[3] = -1e300  # finite in the file, -inf once float32
    assert_refused(net, write({"x->h.w": weights}),
                   r"`x->h.w` holds -1e\+300 at index 3, beyond the range of float32")
    compile_text(NET, backend).Network(dtype="float64").load(write({"x->h.w": weights}))


BOMB = 2**26  # bytes of zeros a member inflates to: 64 MiB from about 64 KiB on disk


def test_a_member_that_inflates_beyond_its_shape_is_refused_uninflated(saved, tmp_path):
    net, arrays, _ = saved
    path = tmp_path / "bomb.npz"
    npz_bombs.write(path, {k: v for k, v in arrays.items() if k != "h.bias"},
                    bombs={"h.bias": ((BOMB // 8,), np.float64)})
    assert path.stat().st_size < BOMB // 100
    assert npz_bombs.peak_bytes(lambda: net.load(path)) < BOMB // 8
    assert_refused(net, path, r"`h.bias` should be floats of shape \(4,\), not float64 of "
                              r"shape \(8388608,\)")


def test_an_unknown_member_is_refused_uninflated(saved, tmp_path):
    net, arrays, _ = saved
    path = tmp_path / "extra.npz"
    npz_bombs.write(path, arrays, bombs={"payload": ((BOMB // 8,), np.float64)})
    assert npz_bombs.peak_bytes(lambda: net.load(path)) < BOMB // 8
    assert_refused(net, path, "no use for: `payload`; they were not read")


def test_synapse_arrays_beyond_every_pair_of_neurons_are_refused_uninflated(saved, tmp_path):
    net, arrays, _ = saved
    path = tmp_path / "synapses.npz"
    npz_bombs.write(path, {k: v for k, v in arrays.items() if k != "x->h.w"},
                    bombs={"x->h.w": ((BOMB // 8,), np.float64)})
    assert npz_bombs.peak_bytes(lambda: net.load(path)) < BOMB // 8
    assert_refused(net, path, r"`x->h.w` should be floats of shape \(n,\) with n <= 24")


def test_a_header_that_declares_more_than_the_member_holds_is_refused(saved, tmp_path):
    net, arrays, _ = saved
    path = tmp_path / "lie.npz"
    npz_bombs.write(path, {k: v for k, v in arrays.items() if k != "x->h.pre"},
                    lies={"x->h.pre": ((24,), np.int64)})
    assert_refused(net, path, r"damaged: `x->h.pre` declares 192 bytes .* but holds 64")


def test_load_reads_no_pickle_even_from_a_file_object(compile_text, backend):
    buffer = io.BytesIO()
    np.savez(buffer, payload=np.array([Trap()], dtype=object))
    buffer.seek(0)
    net = compile_text(NET, backend).Network()
    UNPICKLED.clear()
    with pytest.raises(nndl.WeightFileError):
        net.load(buffer)
    assert UNPICKLED == []


def test_same_name_but_other_structure_is_refused(compile_text, backend, tmp_path, saved):
    net, _, _ = saved
    wider = NET.replace("h[4]", "h[5]").replace("g[4]", "g[5]")
    compile_text(wider, backend).Network().save(tmp_path / "wider.npz")
    assert_refused(net, tmp_path / "wider.npz", "h.bias|x->h")


def test_a_file_from_edited_source_of_the_same_network_loads_with_a_warning(
        compile_text, backend, tmp_path):
    edited = NET.replace("network saver {", "network saver {   # a comment changes the hash")
    saver = compile_text(edited, backend).Network(seed=8, dtype="float64")
    saver.save(tmp_path / "w.npz")
    net = compile_text(NET, backend).Network(dtype="float64")
    with pytest.warns(UserWarning, match="different source"):
        net.load(tmp_path / "w.npz")
    assert_same_parameters(net.parameters(), saver.parameters())


@pytest.mark.parametrize("writer", [np.savez, np.savez_compressed])
def test_damaged_bytes_are_refused_or_read_intact(saved, tmp_path, writer):
    """Flip bytes all over a good file: each load either refuses it or reads the intact arrays."""
    net, arrays, _ = saved
    writer(tmp_path / "clean.npz", **arrays)
    data = (tmp_path / "clean.npz").read_bytes()
    refused = 0
    for position in range(0, len(data), max(1, len(data) // 150)):
        damaged = bytearray(data)
        damaged[position] ^= 0xFF
        (tmp_path / "flip.npz").write_bytes(bytes(damaged))
        before = net.parameters()
        try:
            net.load(tmp_path / "flip.npz")
        except nndl.WeightFileError:
            refused += 1
            assert_same_parameters(net.parameters(), before)
            continue
        loaded = net.parameters()  # read intact: it must hold exactly the clean file's arrays
        for key in KEYS:
            np.testing.assert_array_equal(loaded[key], arrays[key], err_msg=f"byte {position}")
    assert refused > 100
