"""The one weight format: a self-describing `.npz`, written atomically and read without pickle.

Keys: `NAME.pre`, `NAME.post` (int64, CSR order) and `NAME.w` per projection; `GROUP.bias` per
group with a bias; `__meta__`, a JSON string naming the source, its sha256, the network, the nndl
version and the dtype.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from nndl import ir
from nndl.runtime.errors import WeightFileError

META_KEY = "__meta__"


def save(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write the file next to its destination, sync it, then rename it into place."""
    path = Path(path)
    payload = dict(arrays)
    payload[META_KEY] = np.array(json.dumps(meta, sort_keys=True))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Every array and the metadata; damaged or pickled files raise WeightFileError."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in f.files}
    except FileNotFoundError:
        raise WeightFileError(f"no weight file at {path}") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise WeightFileError(f"{path} is not a readable NNDL weight file ({e})") from None
    if META_KEY not in arrays:
        raise WeightFileError(f"{path} has no `{META_KEY}` entry: not an NNDL weight file")
    try:
        meta = json.loads(str(arrays.pop(META_KEY)))
    except json.JSONDecodeError as e:
        raise WeightFileError(f"{path} has a damaged `{META_KEY}` entry ({e})") from None
    return arrays, meta


def expected_keys(network: ir.Network) -> list[str]:
    keys = []
    for p in network.projections:
        keys += [f"{p.name}.pre", f"{p.name}.post", f"{p.name}.w"]
    keys += [f"{g.name}.bias" for g in network.groups if g.bias]
    return keys


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
    n = arrays[f"{p.name}.w"].shape[0] if arrays[f"{p.name}.w"].ndim == 1 else -1
    pre = _check_array(path, f"{p.name}.pre", arrays, "iu", (n,))
    post = _check_array(path, f"{p.name}.post", arrays, "iu", (n,))
    _check_array(path, f"{p.name}.w", arrays, "f", (n,))
    src, dst = network.group(p.src), network.group(p.dst)
    if n and (pre.min() < 0 or pre.max() >= src.size or post.min() < 0 or post.max() >= dst.size):
        raise WeightFileError(f"{path}: projection `{p.name}` has neuron indices outside its "
                              f"groups ({src.size} -> {dst.size} neurons)")
    key = post.astype(np.int64) * src.size + pre.astype(np.int64)
    if n > 1 and not (np.diff(key) > 0).all():
        raise WeightFileError(f"{path}: projection `{p.name}` is not in CSR order "
                              "(sorted by post, then pre, no repeats)")
