"""How the NumPy backend stores each projection (its layout), shared by the forward and the
backward lowering."""

from __future__ import annotations

import math
import textwrap

from nndl import ir
from nndl.backends.codegen import wrap_code
from nndl.runtime import geometry
from nndl.runtime.layout import stencil_fits
from nndl.runtime.rewiring import rewired
from nndl.runtime.weightfile import is_shared

KINDS = {"full": "dense", "one_to_one": "elementwise", "local": "gather", "fan_in": "gather",
         "random": "csr", "where": "csr"}


def kind(network: ir.Network, p: ir.Projection) -> str:
    """The layout the NumPy backend uses for a projection (shown by `nndlc ir`)."""
    if p.delay == 0 and p.src in network.step_of(p.dst).groups and \
            network.step_of(p.dst).neuron_level:
        return "levels"
    if rewired(network, p.name):  # its synapse set changes while training: sparse rows
        return "csr"
    return KINDS[p.rule.kind]


def cpu_kind(network: ir.Network, p: ir.Projection) -> str:
    """The layout the NumPy module itself uses: `kind`, except that a `local` projection
    between maps of the same shape, without wrap, is a stencil of shifted slices when its
    padded map is at most twice the map (see nndl.runtime.layout.Stencil); otherwise it stays a
    padded gather."""
    layout = kind(network, p)
    if layout != "gather" or p.rule.kind != "local" or p.rule.params.get("wrap"):
        return layout
    src, dst = network.group(p.src), network.group(p.dst)
    reach = math.floor(float(p.rule.params["radius"]) + 1e-9)  # cells, as geometry.py counts
    if src.shape != dst.shape or not stencil_fits(dst.shape, reach):
        return layout
    return "stencil"


def gpu_kind(network: ir.Network, p: ir.Projection) -> str:
    """The layout of the portable lowering, which the CuPy module runs: `kind`, except that a
    `local` projection between groups of one grid (any feature maps, wrap or not) is a stencil:
    CUDA kernels that find each target's sources from the grid and the tap offsets
    (nndl.runtime.layout.Taps), with no index table; without a zero frame it needs no
    `stencil_fits`."""
    layout = kind(network, p)
    if layout != "gather" or p.rule.kind != "local":
        return layout
    lay = geometry.layout(network.group(p.src).shape, network.group(p.dst).shape,
                          p.rule.params.get("axes"))
    return "stencil" if lay.src_grid == lay.dst_grid else layout


def event_driven(network: ir.Network, p: ir.Projection) -> bool:
    """Whether a projection's forward sum is event-driven (ir.Network.event_driven): a spike
    table (nndl.runtime.layout.SpikeTable); its weights keep the layout of `kind`, which
    backpropagation uses."""
    return network.event_driven(p)


def listed(network: ir.Network, p: ir.Projection) -> str:
    """How `nndlc ir` shows a projection's layouts: the NumPy module's and the CuPy module's."""
    if event_driven(network, p):
        return (f"numpy: event ({cpu_kind(network, p)} backwards); "
                f"cupy: event ({gpu_kind(network, p)} backwards)")
    return f"numpy: {cpu_kind(network, p)}; cupy: {gpu_kind(network, p)}"


def flat_weights(network: ir.Network, p: ir.Projection) -> str:
    """The weight vector that a spike table's slots index (a dense matrix as a flat view)."""
    key = repr(p.name)
    return f"W[{key}].reshape(-1)" if kind(network, p) == "dense" else f"W[{key}]"


def synapse_weights(network: ir.Network, p: ir.Projection) -> str:
    """Each synapse's weight, in CSR order."""
    key = repr(p.name)
    if kind(network, p) == "dense":
        return f"W[{key}].reshape(-1)"
    return f"W[{key}][self.wiring[{key}].tie]" if is_shared(p) else f"W[{key}]"


def comment_lines(text: str) -> list[str]:
    """A comment wrapped to fit the generated code's 100 columns."""
    return textwrap.wrap(text, 88)


def wrap_call(line: str, width: int = 92) -> list[str]:
    """A generated line broken to fit the generated code's 100 columns (with the 8 columns of
    the method body): see codegen.wrap_code."""
    return wrap_code(line, width)


def wrap_lines(lines: list[str]) -> list[str]:
    """Every line through wrap_call."""
    return [part for line in lines for part in wrap_call(line)]
