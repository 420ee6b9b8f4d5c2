"""Checking what a user passes to `Network.run`: names, shapes, batch sizes, ticks and values."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from nndl import ir
from nndl.runtime.errors import InputError
from nndl.diagnostics import suggest
from nndl.runtime.locations import source_position


def prepare_inputs(network: ir.Network, given: dict, ticks: int | None,
                   dtype: np.dtype, batch: int | None = None
                   ) -> tuple[dict[str, np.ndarray], int, int]:
    """Each input as a (ticks, batch, size) array of `dtype`, plus (ticks, batch).

    A static input (batch, *shape) is repeated over the ticks (a broadcast view, not a copy);
    a time-varying one is (ticks, batch, *shape). `batch`, where given, must be the inputs'
    batch; it is the batch of a network without inputs (1 where not given).
    """
    expected = {g.name: g for g in network.inputs}
    for name in given:
        if name not in expected:
            hint = suggest(name, expected)
            raise InputError(f"network `{network.name}` has no input `{name}`"
                             + (f"; {hint}" if hint else f" (inputs: {_names(expected)})"))
    missing = [name for name in expected if name not in given]
    if missing:
        raise InputError(f"missing input {_names(missing)} for network `{network.name}`")
    if ticks is not None and (isinstance(ticks, bool)  # an int to Python, never a count here
                              or not isinstance(ticks, (int, np.integer)) or ticks < 1):
        raise InputError(f"ticks must be a whole number, 1 or more; got {ticks!r}")
    if batch is not None and (isinstance(batch, bool)
                              or not isinstance(batch, (int, np.integer)) or batch < 1):
        raise InputError(f"batch must be a whole number, 1 or more; got {batch!r}")
    arrays = {name: _as_array(name, value, expected[name], network.source)
              for name, value in given.items()}
    steps, found = _agree(arrays, expected, ticks)
    if batch is not None and arrays and batch != found:
        raise InputError(f"batch={batch} but the inputs have a batch of {found}")
    batch = found if batch is None or arrays else int(batch)
    prepared = {}
    for name, x in arrays.items():
        group = expected[name]
        lead = x.shape[: x.ndim - len(group.shape)]  # (batch,) or (ticks, batch)
        x = _converted(name, x, dtype).reshape(lead + (group.size,))
        if x.ndim == 2:  # static: the same values every tick
            x = np.broadcast_to(x, (steps,) + x.shape)
        prepared[name] = x
    return prepared, steps, batch


def _names(names) -> str:
    return ", ".join(f"`{n}`" for n in names) or "none"


def by_name(groups, given, method: str, what: str = "inputs") -> dict:
    """`given` ({group name: array}, or None) as a dict; an array in its place is a mistake
    whose message says how to name it (numpy's own would be "truth value ... is ambiguous")."""
    if given is None:
        return {}
    if isinstance(given, Mapping):
        return dict(given)
    example = ", ".join(f"{g.name!r}: ..." for g in groups)
    keywords = ", ".join(f"{g.name}=..." for g in groups)
    also = f" or as keywords, {method}({keywords})" if method == "run" else ""
    raise InputError(f"{method}() takes the {what} as a dict by group name, {{{example}}}"
                     f"{also}; got a value of type {type(given).__name__}")


def _as_array(name: str, value, group: ir.Group, source: str) -> np.ndarray:
    try:
        x = np.asarray(value)
    except Exception as e:  # ragged lists and the like
        raise InputError(f"input `{name}` is not an array of numbers: {e}") from None
    if x.dtype.kind not in "biuf":
        raise InputError(f"input `{name}` must hold real numbers, not {x.dtype}")
    shape = group.shape
    static, varying = ("batch",) + shape, ("ticks", "batch") + shape
    if x.ndim not in (len(static), len(varying)) or tuple(x.shape[x.ndim - len(shape):]) != shape:
        raise InputError(f"input `{name}` ({source_position(source, group.loc)}) expects "
                         f"shape {_show(static)} or {_show(varying)}; got {tuple(x.shape)}"
                         + ("; add a batch axis, e.g. x[None]" if x.shape == shape else ""))
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise InputError(f"input `{name}` holds {x[bad]} at index {bad}: inputs must be finite")
    return x


def _converted(name: str, x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """x as `dtype`; a finite value beyond its range (1e39 in float32) would become inf."""
    with np.errstate(over="ignore"):
        converted = x.astype(dtype, copy=False)
    if converted is not x and converted.dtype.kind == "f" and not np.isfinite(converted).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(converted))[0])
        raise InputError(f"input `{name}` holds {float(x[bad])!r} at index {bad}, beyond the "
                         f"range of {np.dtype(dtype)} (the network's dtype)")
    return converted


def _show(dims) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ")"


def _agree(arrays: dict, groups: dict, ticks: int | None) -> tuple[int, int]:
    """The run's (ticks, batch): every input must agree on both."""
    batches = {name: x.shape[x.ndim - len(groups[name].shape) - 1] for name, x in arrays.items()}
    if len(set(batches.values())) > 1:
        raise InputError("inputs disagree on the batch size: " + ", ".join(
            f"`{n}` has {b}" for n, b in batches.items()))
    lengths = {name: x.shape[0] for name, x in arrays.items()
               if x.ndim == len(groups[name].shape) + 2}
    if len(set(lengths.values())) > 1:
        raise InputError("time-varying inputs disagree on the number of ticks: " + ", ".join(
            f"`{n}` has {t}" for n, t in lengths.items()))
    if lengths:
        steps = next(iter(lengths.values()))
        if ticks is not None and ticks != steps:
            raise InputError(f"ticks={ticks} but the time-varying inputs have {steps} ticks")
    else:
        steps = ticks or 1
    batch = next(iter(batches.values()), 1)
    if batch < 1:
        raise InputError("the batch is empty")
    return steps, batch
