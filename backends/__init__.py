"""Code generators, one package per backend; each exposes `generate(network) -> source`.

Backends are imported only when asked for, so `import nndl` never needs cupy.
"""

from __future__ import annotations

import importlib

from nndl import ir

BACKENDS = ("oo", "numpy")


def generate(network: ir.Network, backend: str) -> str:
    """The Python source of `network`'s module for `backend`."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend `{backend}`; choose one of {', '.join(BACKENDS)}")
    return importlib.import_module(f"nndl.backends.{backend}").generate(network)
