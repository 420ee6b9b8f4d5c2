"""Interchange: NNDL networks to and from NIR (neuromorphic tools) and to ONNX (deep learning).

`to_nir(network, weights=None, dt=1e-4)` gives a `nir.NIRGraph`, `write_nir` writes it (HDF5);
`from_nir(graph_or_path)` gives an `Imported` network (.nndl text and weight arrays), and
`to_onnx(network, weights=None, ticks=1)` an `onnx.ModelProto`. They read the IR and the weight
arrays only (never a backend). `nir` and `onnx` are optional extras (`pip install 'nndl[nir]'`,
`'nndl[onnx]'`): importing this package needs neither; a call that does names the one missing.
See docs/interchange.md for what maps to what.
"""

from __future__ import annotations

from nndl.interchange.errors import (ExportError, ImportNIRError, InterchangeWarning,
                                     MissingExtra, require)


def to_nir(network, weights=None, dt: float | None = None):
    """A `nir.NIRGraph` of `network` (an ir.Network or a generated module's Network object)
    with `weights` (a weight-file path, its arrays, or None for the seed's initial weights)."""
    from nndl.interchange.nir_export import to_nir as export

    return export(network, weights, dt)


def write_nir(path, network, weights=None, dt: float | None = None):
    """Write `to_nir(...)` to `path` (HDF5, as `nir.write` does); returns the graph."""
    from nndl.interchange.nir_export import write

    return write(path, network, weights, dt)


def from_nir(graph, name: str = "imported", dt: float | None = None):
    """An `Imported` network (source text, weight arrays) from a NIR graph or a .nir path."""
    from nndl.interchange.nir_import import from_nir as convert

    return convert(graph, name, dt)


def to_onnx(network, weights=None, ticks: int = 1):
    """An `onnx.ModelProto` computing `ticks` ticks of a rate network's outputs."""
    from nndl.interchange.onnx_export import to_onnx as export

    return export(network, weights, ticks)


def write_onnx(path, network, weights=None, ticks: int = 1):
    """Write `to_onnx(...)` to `path`; returns the model."""
    from nndl.interchange.onnx_export import write

    return write(path, network, weights, ticks)


__all__ = ["ExportError", "ImportNIRError", "InterchangeWarning", "MissingExtra", "from_nir",
           "require", "to_nir", "to_onnx", "write_nir", "write_onnx"]
