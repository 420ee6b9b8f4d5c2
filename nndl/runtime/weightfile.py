"""The one weight format: a self-describing `.npz`, written atomically and read without pickle.

Keys: `NAME.pre`, `NAME.post` (int64, CSR order) and `NAME.w` per projection; `GROUP.bias` per
group with a bias; `__meta__`, a JSON string naming the source, its sha256, the network, the nndl
version and the dtype.
"""

from __future__ import annotations

import json
import os

import numpy as np

from nndl import ir
from nndl.runtime.errors import WeightFileError
from nndl.runtime.files import write_atomically

META_KEY = "__meta__"


def save(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write the file next to its destination, sync it, then rename it into place."""
    payload = dict(arrays)
    payload[META_KEY] = np.array(json.dumps(meta, sort_keys=True))
    write_atomically(path, lambda f: np.savez(f, **payload))


def load(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Every array and the metadata; damaged or pickled files raise WeightFileError."""
    arrays = _read_arrays(path)
    if META_KEY not in arrays:
        raise WeightFileError(f"{path} has no `{META_KEY}` entry: not an NNDL weight file")
    try:
        meta = json.loads(str(arrays.pop(META_KEY)), parse_int=_meta_int)
    except RecursionError:  # json's parser recurses once per level of nesting
        raise WeightFileError(f"{path} has a damaged `{META_KEY}` entry (nested too deeply)") \
            from None
    except ValueError as e:  # JSONDecodeError, or _meta_int's refusal
        raise WeightFileError(f"{path} has a damaged `{META_KEY}` entry ({e})") from None
    if not isinstance(meta, dict):
        raise WeightFileError(f"{path} has a damaged `{META_KEY}` entry (not a JSON object)")
    return arrays, meta


def _meta_int(digits: str) -> int:
    """A whole number in `__meta__` (a seed): Python refuses to read one of over 4,300 digits
    with a bare ValueError, and no seed needs more than a few dozen."""
    if len(digits) > 64:
        raise ValueError(f"a whole number of {len(digits)} digits")
    return int(digits)


def _read_arrays(path) -> dict[str, np.ndarray]:
    """Every array in an .npz. A damaged file can fail anywhere in the zip layer, the
    decompressor or numpy's header parser, each with its own exception (BadZipFile, zlib.error,
    NotImplementedError for an odd zip flag, tokenize.TokenError...): while decoding the file,
    any Exception is the file's fault, not ours."""
    try:
        contents = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise WeightFileError(f"no weight file at {path}") from None
    except Exception as e:
        raise WeightFileError(f"{path} is not a readable NNDL weight file ({e})") from None
    if isinstance(contents, np.ndarray):  # an .npy file: one bare array
        raise WeightFileError(f"{path} holds a single array, not an NNDL weight file (.npz)")
    try:
        with contents as f:
            return {key: f[key] for key in f.files}
    except Exception as e:  # members are decoded only here, so damage inside them shows here
        raise WeightFileError(f"{path} is not a readable NNDL weight file ({e})") from None


def is_shared(p: ir.Projection) -> bool:
    """Whether the projection's weights are a kernel tied to synapses by `NAME.tie`."""
    return bool(p.rule.params.get("shared"))


def expected_keys(network: ir.Network) -> list[str]:
    keys = []
    for p in network.projections:
        keys += [f"{p.name}.pre", f"{p.name}.post", f"{p.name}.w"]
        keys += [f"{p.name}.tie"] if is_shared(p) else []
    keys += [f"{g.name}.bias" for g in network.groups if g.bias]
    keys += state_keys(network)
    return keys


def state_keys(network: ir.Network) -> list[str]:
    """`GROUP.STATE`: each neuron's starting value of each state variable of its model."""
    return [f"{g.name}.{var}" for g in network.groups if g.model
            for var in network.model(g.model).states]


def check(network: ir.Network, arrays: dict[str, np.ndarray], meta: dict, path) -> None:
    """Raise WeightFileError unless the file fits this network (keys, sizes, dtypes, indices)."""
    if meta.get("network") != network.name:
        raise WeightFileError(f"{path} holds network `{meta.get('network')}` from "
                              f"{meta.get('source')}, not `{network.name}`")
    missing = [k for k in expected_keys(network) if k not in arrays]
    if missing:
        raise WeightFileError(f"{path} lacks {', '.join(missing[:5])}"
                              + (" ..." if len(missing) > 5 else "")
                              + f": it does not fit network `{network.name}`")
    for g in network.groups:
        if g.bias:
            _check_array(path, f"{g.name}.bias", arrays, "f", (g.size,))
        for var in network.model(g.model).states if g.model else ():
            _check_array(path, f"{g.name}.{var}", arrays, "f", (g.size,))
    for p in network.projections:
        _check_projection(network, p, arrays, path)


def _check_array(path, key: str, arrays: dict, kinds: str, shape: tuple) -> np.ndarray:
    a = arrays[key]
    if a.dtype.kind not in kinds or a.shape != shape:
        want = "integers" if kinds == "iu" else "floats"
        raise WeightFileError(f"{path}: `{key}` should be {want} of shape {shape}, "
                              f"not {a.dtype} of shape {a.shape}")
    if kinds == "f" and not np.isfinite(a).all():
        raise WeightFileError(f"{path}: `{key}` holds values that are not finite")
    return a


def _check_projection(network: ir.Network, p: ir.Projection, arrays: dict, path) -> None:
    # One entry per synapse in each of these; a shared kernel `NAME.w` is checked separately.
    keys = [f"{p.name}.pre", f"{p.name}.post", f"{p.name}.tie" if is_shared(p) else f"{p.name}.w"]
    shapes = [arrays[key].shape for key in keys]
    if any(len(shape) != 1 for shape in shapes) or len(set(shapes)) > 1:
        raise WeightFileError(f"{path}: `{keys[0]}`, `{keys[1]}` and `{keys[2]}` should be "
                              "1-D arrays of one length (one entry per synapse), not of shapes "
                              + ", ".join(str(shape) for shape in shapes))
    n = shapes[0][0]
    pre = _check_array(path, keys[0], arrays, "iu", (n,))
    post = _check_array(path, keys[1], arrays, "iu", (n,))
    if is_shared(p):
        _check_kernel(path, p, arrays, n)
    else:
        _check_array(path, keys[2], arrays, "f", (n,))
    src, dst = network.group(p.src), network.group(p.dst)
    if n and (pre.min() < 0 or pre.max() >= src.size or post.min() < 0 or post.max() >= dst.size):
        raise WeightFileError(f"{path}: projection `{p.name}` has neuron indices outside its "
                              f"groups ({src.size} -> {dst.size} neurons)")
    key = post.astype(np.int64) * src.size + pre.astype(np.int64)
    if n > 1 and not (np.diff(key) > 0).all():
        raise WeightFileError(f"{path}: projection `{p.name}` is not in CSR order "
                              "(sorted by post, then pre, no repeats)")


def _check_kernel(path, p: ir.Projection, arrays: dict, n: int) -> None:
    kernel = arrays[f"{p.name}.w"]
    if kernel.ndim != 1:
        raise WeightFileError(f"{path}: the kernel `{p.name}.w` should be 1-D, not of shape "
                              f"{kernel.shape}")
    _check_array(path, f"{p.name}.w", arrays, "f", kernel.shape)
    tie = _check_array(path, f"{p.name}.tie", arrays, "iu", (n,))
    if n and (tie.min() < 0 or tie.max() >= kernel.size):
        raise WeightFileError(f"{path}: `{p.name}.tie` points outside the kernel "
                              f"({kernel.size} entries)")
