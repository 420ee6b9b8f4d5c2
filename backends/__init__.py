"""Code generators, one package per backend; each exposes `generate(network) -> source`.

Backends are imported only when asked for, so `import nndl` never needs cupy. Every backend
generates code anywhere; `cupy` runs only where CuPy finds a CUDA device (`unavailable`).
"""

from __future__ import annotations

import importlib
import importlib.util

from nndl import ir

BACKENDS = ("oo", "numpy", "cupy")


def generate(network: ir.Network, backend: str) -> str:
    """The Python source of `network`'s module for `backend`."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend `{backend}`; choose one of {', '.join(BACKENDS)}")
    return importlib.import_module(f"nndl.backends.{backend}").generate(network)


def unavailable(backend: str) -> str | None:
    """Why `backend`'s modules cannot run on this machine, or None when they can."""
    if backend != "cupy":
        return None
    if importlib.util.find_spec("cupy") is None:
        return "cupy is not installed (pip install 'nndl[gpu]')"
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "CuPy finds no CUDA device"
    except Exception as e:  # CuPy raises its own CUDARuntimeError without a driver
        return f"CuPy finds no usable CUDA device ({e})"
    return None


def available() -> tuple[str, ...]:
    """The backends whose modules run here."""
    return tuple(b for b in BACKENDS if unavailable(b) is None)
