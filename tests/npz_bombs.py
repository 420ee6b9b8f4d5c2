"""Crafting hostile `.npz` files without holding them in memory: members that inflate far beyond
their compressed size, and headers that declare more than the member holds."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import numpy as np
from numpy.lib import format as npy

CHUNK = bytes(2**20)


def header(shape: tuple, dtype=np.float64) -> bytes:
    out = io.BytesIO()
    npy.write_array_header_1_0(out, {"descr": npy.dtype_to_descr(np.dtype(dtype)),
                                     "fortran_order": False, "shape": shape})
    return out.getvalue()


def write(path, arrays: dict, bombs: dict = (), lies: dict = ()) -> None:
    """An .npz (deflated) of `arrays`, plus `bombs` {key: (shape, dtype)}: members of zeros
    streamed a megabyte at a time, and `lies` {key: (shape, dtype)}: a header declaring that
    shape over a few bytes of data."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, value in arrays.items():
            out = io.BytesIO()
            npy.write_array(out, np.asanyarray(value), allow_pickle=False)
            zf.writestr(f"{key}.npy", out.getvalue())
        for key, (shape, dtype) in dict(bombs).items():
            nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
            with zf.open(f"{key}.npy", "w", force_zip64=True) as f:
                f.write(header(shape, dtype))
                for start in range(0, nbytes, len(CHUNK)):
                    f.write(CHUNK[: min(len(CHUNK), nbytes - start)])
        for key, (shape, dtype) in dict(lies).items():
            zf.writestr(f"{key}.npy", header(shape, dtype) + bytes(64))


def peak_bytes(call) -> int:
    """The most memory Python and numpy held while `call()` ran (it may raise)."""
    tracemalloc.start()
    try:
        call()
    except Exception:  # noqa: BLE001 - the caller checks the error itself
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak
