"""The one weight format: a self-describing `.npz`, written atomically and read without pickle.

Keys: `NAME.pre`, `NAME.post` (int64, CSR order) and `NAME.w` per projection; `GROUP.bias` per
group with a bias; `GROUP.STATE` per state of a model group (each neuron's starting value) and
`GROUP.PARAM` per model parameter it holds as an array (each neuron's value, or one value for a
trainable parameter given as a number); `__meta__`, a JSON string naming the source, its
sha256, the network, the nndl version and the dtype.
"""

from __future__ import annotations

import json
import os

import numpy as np

from nndl import ir
from nndl.runtime import npzfile
from nndl.runtime.errors import WeightFileError
from nndl.runtime.files import write_atomically

META_KEY = "__meta__"
META_BYTES = 64 * 2**20  # the metadata, with a checkpoint's history: far below this
OPTIMIZER = "optimizer."  # a checkpoint's optimiser state (nndl.runtime.checkpoints)


def save(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write the file next to its destination, sync it, then rename it into place."""
    payload = dict(arrays)
    payload[META_KEY] = np.array(json.dumps(meta, sort_keys=True))
    write_atomically(path, lambda f: np.savez(f, **payload))


def load(path: str | os.PathLike, network: ir.Network | None = None, dtype=None,
         extra=None) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and the metadata. With `network`, every member's name, dtype and shape is
    checked from the zip directory and its `.npy` header before anything is inflated, then the
    values (`check`), also once converted to `dtype`. `extra(archive, meta)` checks the
    members a checkpoint adds (`optimizer.*`) and returns the keys to read; without it they
    are left unread. Without `network` every member is read (to inspect a file)."""
    with npzfile.Archive(path, WeightFileError, "weight file") as archive:
        meta = _read_meta(archive, path)
        if network is None:
            return archive.read([k for k in archive.keys if k != META_KEY]), meta
        _check_members(network, archive, meta, path)
        keys = expected_keys(network) + (extra(archive, meta) if extra else [])
        arrays = archive.read(keys)
    check(network, arrays, meta, path)
    if dtype is not None:
        for key in expected_keys(network):
            _check_fits(path, key, arrays[key], np.dtype(dtype))
    return arrays, meta


def _read_meta(archive: npzfile.Archive, path) -> dict:
    if META_KEY not in archive.keys:
        raise WeightFileError(f"{path} has no `{META_KEY}` entry: not an NNDL weight file")
    member = archive.header(META_KEY)
    if member.dtype.kind != "U" or member.shape != () or member.nbytes > META_BYTES:
        raise WeightFileError(f"{path}: `{META_KEY}` should be a JSON string of at most "
                              f"{META_BYTES // 4} characters, not {member.dtype} of shape "
                              f"{member.shape}")
    try:
        meta = json.loads(str(archive.read([META_KEY])[META_KEY]), parse_int=_meta_int)
    except RecursionError:  # json's parser recurses once per level of nesting
        raise WeightFileError(f"{path} has a damaged `{META_KEY}` entry (nested too deeply)") \
            from None
    except ValueError as e:  # JSONDecodeError, or _meta_int's refusal
        raise WeightFileError(f"{path} has a damaged `{META_KEY}` entry ({e})") from None
    if not isinstance(meta, dict):
        raise WeightFileError(f"{path} has a damaged `{META_KEY}` entry (not a JSON object)")
    return meta


def _check_members(network: ir.Network, archive: npzfile.Archive, meta: dict, path) -> None:
    """Names, dtypes and shapes as the headers declare them, before any data is read."""
    _check_network(network, meta, path)
    allowed = set(expected_keys(network)) | {META_KEY}
    unknown = [k for k in archive.keys if k not in allowed and not k.startswith(OPTIMIZER)]
    if unknown:
        raise WeightFileError(f"{path} holds entries that network `{network.name}` has no use "
                              f"for: {_listed(unknown)}; they were not read")
    _check_missing(network, archive.keys, path)
    for g in network.groups:
        if g.bias:
            _check_declared(path, archive.header(f"{g.name}.bias"), "f", g.size)
        for var in network.model(g.model).states if g.model else ():
            _check_declared(path, archive.header(f"{g.name}.{var}"), "f", g.size)
        for param, size in param_sizes(network, g):
            _check_declared(path, archive.header(f"{g.name}.{param}"), "f", size)
    for p in network.projections:
        pairs = network.group(p.src).size * network.group(p.dst).size  # at most one synapse each
        for suffix, kinds in (("pre", "iu"), ("post", "iu"), ("w", "f"), ("tie", "iu")):
            if suffix != "tie" or is_shared(p):
                _check_declared(path, archive.header(f"{p.name}.{suffix}"), kinds, pairs,
                                exact=False)


def _check_declared(path, member: npzfile.Member, kinds: str, size: int,
                    exact: bool = True) -> None:
    """A 1-D array of `size` entries (at most `size` unless `exact`) of the right kind."""
    fits = len(member.shape) == 1 and (member.shape[0] == size if exact
                                       else member.shape[0] <= size)
    if member.dtype.kind not in kinds or not fits:
        want = "integers" if kinds == "iu" else "floats"
        shape = f"({size},)" if exact else f"(n,) with n <= {size}"
        raise WeightFileError(f"{path}: `{member.key}` should be {want} of shape {shape}, not "
                              f"{member.dtype} of shape {member.shape}")


def _check_fits(path, key: str, a: np.ndarray, dtype: np.dtype) -> None:
    """A float64 value beyond float32's range passes the finite check and becomes inf."""
    if a.dtype.kind != "f" or a.dtype.itemsize <= dtype.itemsize:
        return
    with np.errstate(over="ignore"):
        converted = a.astype(dtype)
    if not np.isfinite(converted).all():
        index = int(np.argmax(~np.isfinite(converted)))
        raise WeightFileError(f"{path}: `{key}` holds {float(a[index])!r} at index {index}, "
                              f"beyond the range of {dtype} (the network's dtype)")


def _listed(keys) -> str:
    return ", ".join(f"`{k}`" for k in keys[:5]) + (" ..." if len(keys) > 5 else "")


def _check_network(network: ir.Network, meta: dict, path) -> None:
    if meta.get("network") != network.name:
        raise WeightFileError(f"{path} holds network `{meta.get('network')}` from "
                              f"{meta.get('source')}, not `{network.name}`")


def _check_missing(network: ir.Network, keys, path) -> None:
    missing = [k for k in expected_keys(network) if k not in keys]
    if missing:
        raise WeightFileError(f"{path} lacks {_listed(missing)}: it does not fit network "
                              f"`{network.name}`")


def _meta_int(digits: str) -> int:
    """A whole number in `__meta__` (a seed): Python refuses to read one of over 4,300 digits
    with a bare ValueError, and no seed needs more than a few dozen."""
    if len(digits) > 64:
        raise ValueError(f"a whole number of {len(digits)} digits")
    return int(digits)


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
    keys += [f"{g.name}.{param}" for g in network.groups for param, _ in param_sizes(network, g)]
    return keys


def param_sizes(network: ir.Network, g: ir.Group) -> list[tuple[str, int]]:
    """`GROUP.PARAM` entries of a group and their lengths: a parameter given as an expression
    has one value per neuron; a trainable one given as a number, one for the group."""
    if not g.model:
        return []
    model = network.model(g.model)
    return [(p, g.size if isinstance(g.params[p], dict) else 1) for p in model.per_neuron(g)]


def trainable_keys(network: ir.Network) -> list[str]:
    """The `GROUP.PARAM` entries that training changes, beside every `.w` and `.bias`."""
    return [f"{g.name}.{p}" for g in network.groups if g.model
            for p in network.model(g.model).trainable]


def state_keys(network: ir.Network) -> list[str]:
    """`GROUP.STATE`: each neuron's starting value of each state variable of its model."""
    return [f"{g.name}.{var}" for g in network.groups if g.model
            for var in network.model(g.model).states]


def check(network: ir.Network, arrays: dict[str, np.ndarray], meta: dict, path) -> None:
    """Raise WeightFileError unless the file fits this network (keys, sizes, dtypes, indices)."""
    _check_network(network, meta, path)
    _check_missing(network, arrays, path)
    for g in network.groups:
        if g.bias:
            _check_array(path, f"{g.name}.bias", arrays, "f", (g.size,))
        for var in network.model(g.model).states if g.model else ():
            _check_array(path, f"{g.name}.{var}", arrays, "f", (g.size,))
        for param, size in param_sizes(network, g):
            _check_array(path, f"{g.name}.{param}", arrays, "f", (size,))
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
