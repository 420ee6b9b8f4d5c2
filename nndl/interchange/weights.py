"""A network's weights as the exporters see them: dense matrices, convolution kernels, biases.

Everything here reads the IR and the weight file's arrays (DESIGN.md, "One weight format"),
never a backend. `Conv` and `conv_matrix` are shared by the NIR and ONNX exporters and the NIR
importer, so that "this connection is a convolution" means the same everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nndl import ir
from nndl.runtime import geometry, weightfile
from nndl.runtime.build import build_all, initial_biases, initial_values


def spec_and_arrays(network, weights=None) -> tuple[ir.Network, dict[str, np.ndarray]]:
    """(the IR, the weight file's arrays) of an ir.Network, a compiled module or its Network.

    `weights`: a weight-file path, a dict of its arrays, or None: a Network object's own
    parameters, else the initial weights of the network's seed (as `Network()` builds them)."""
    if isinstance(network, ir.Network):
        spec = network
    elif hasattr(network, "SPEC"):  # a Network object (or its class)
        spec = network.SPEC
    elif hasattr(network, "Network"):  # a compiled module
        spec = network.Network.SPEC
    else:
        raise TypeError(f"expected an ir.Network, a compiled module or its Network; got "
                        f"{type(network).__name__}")
    if isinstance(weights, (str, Path)):
        return spec, weightfile.load(weights, spec)[0]
    if weights is not None:
        return spec, dict(weights)
    if hasattr(network, "parameters") and not isinstance(network, type):
        return spec, network.parameters()
    return spec, initial_arrays(spec)


def initial_arrays(spec: ir.Network) -> dict[str, np.ndarray]:
    """The weight file a fresh `Network(seed=spec.seed)` would save, in float64."""
    synapses, _ = build_all(spec, spec.seed)
    arrays = {}
    for name, syn in synapses.items():
        arrays |= {f"{name}.pre": syn.pre, f"{name}.post": syn.post, f"{name}.w": syn.w}
        if syn.tie is not None:
            arrays[f"{name}.tie"] = syn.tie
    arrays |= {f"{name}.bias": bias for name, bias in initial_biases(spec).items()}
    params, states = initial_values(spec, spec.seed)
    for held in (params, states):  # GROUP.PARAM (per neuron, or trainable) and GROUP.STATE
        for name, values in held.items():
            arrays |= {f"{name}.{var}": v for var, v in values.items()}
    return arrays


def model_values(spec: ir.Network, arrays: dict, g: ir.Group) -> dict[str, float | np.ndarray]:
    """The model parameters of group `g`: the weight file's array where the network holds one
    (a per-neuron value, or a trainable one, as trained), else the number the source gives."""
    values = {}
    for name, default in spec.model(g.model).params.items():
        held = arrays.get(f"{g.name}.{name}")
        values[name] = float(g.params.get(name, default)) if held is None \
            else np.asarray(held, dtype=np.float64).reshape(-1)
    return values


def synapse_weights(arrays: dict, p: ir.Projection) -> np.ndarray:
    """Each synapse's weight (a shared kernel's entry, where the rule ties them)."""
    w = np.asarray(arrays[f"{p.name}.w"], dtype=np.float64)
    tie = arrays.get(f"{p.name}.tie")
    return w if tie is None else w[np.asarray(tie)]


def dense(spec: ir.Network, arrays: dict, p: ir.Projection) -> np.ndarray:
    """(target size, source size): weight of the synapse from each source to each target
    neuron, 0 where there is none."""
    matrix = np.zeros((spec.group(p.dst).size, spec.group(p.src).size))
    matrix[arrays[f"{p.name}.post"], arrays[f"{p.name}.pre"]] = synapse_weights(arrays, p)
    return matrix


def bias(spec: ir.Network, arrays: dict, group: ir.Group) -> np.ndarray:
    return np.asarray(arrays[f"{group.name}.bias"], dtype=np.float64) if group.bias \
        else np.zeros(group.size)


@dataclass(frozen=True)
class Conv:
    """A correlation (as PyTorch's ConvNd and ONNX's Conv compute) with zero padding."""

    kernel: np.ndarray  # (out maps, in maps, *kernel size)
    stride: tuple[int, ...]
    padding: tuple[int, ...]  # on both sides of each grid axis
    in_shape: tuple[int, ...]  # (in maps, *grid)
    out_shape: tuple[int, ...]  # (out maps, *grid)


def conv_output_grid(grid, kernel_size, stride, padding) -> tuple[int, ...]:
    return tuple((n + 2 * pad - k) // s + 1
                 for n, k, s, pad in zip(grid, kernel_size, stride, padding))


def conv_matrix(conv: Conv) -> np.ndarray:
    """The convolution as a dense (out size, in size) matrix: what it does to each input."""
    out_maps, in_maps, *size = conv.kernel.shape
    in_grid, out_grid = conv.in_shape[1:], conv.out_shape[1:]
    matrix = np.zeros((math.prod(conv.out_shape), math.prod(conv.in_shape)))
    n_in, n_out = math.prod(in_grid), math.prod(out_grid)
    for q in np.ndindex(*out_grid):
        for k in np.ndindex(*size):
            p = tuple(qi * s - pad + ki
                      for qi, s, pad, ki in zip(q, conv.stride, conv.padding, k))
            if all(0 <= pi < n for pi, n in zip(p, in_grid)):
                rows = np.arange(out_maps) * n_out + np.ravel_multi_index(q, out_grid)
                cols = np.arange(in_maps) * n_in + np.ravel_multi_index(p, in_grid)
                matrix[np.ix_(rows, cols)] += conv.kernel[(slice(None), slice(None), *k)]
    return matrix


def as_conv(spec: ir.Network, arrays: dict, p: ir.Projection) -> Conv | None:
    """The convolution that a shared `local` projection computes, or None where its geometry
    is no convolution with zero padding (`wrap=true`, sizes that are no whole stride).

    The kernel is the projection's own with the neighbourhood mask applied (zeros outside
    it); the result is checked against the synapses, so a None is never a wrong kernel."""
    rule = p.rule
    if rule.kind != "local" or not rule.params.get("shared") or rule.params.get("wrap"):
        return None
    src, dst = spec.group(p.src), spec.group(p.dst)
    lay = geometry.layout(src.shape, dst.shape, rule.params.get("axes"))
    if len(lay.src_grid) > 2 or any(s % d for s, d in zip(lay.src_grid, lay.dst_grid)):
        return None
    stride = tuple(s // d for s, d in zip(lay.src_grid, lay.dst_grid))
    pre, post = np.asarray(arrays[f"{p.name}.pre"]), np.asarray(arrays[f"{p.name}.post"])
    if pre.size == 0:
        return None
    n_src, n_dst = math.prod(lay.src_grid), math.prod(lay.dst_grid)
    src_pos = np.stack(np.unravel_index(pre % n_src, lay.src_grid), axis=1)
    dst_pos = np.stack(np.unravel_index(post % n_dst, lay.dst_grid), axis=1)
    rel = src_pos - dst_pos * np.asarray(stride)
    padding = tuple(int(v) for v in -rel.min(axis=0))
    size = tuple(int(v) for v in rel.max(axis=0) + np.asarray(padding) + 1)
    if any(pad < 0 or pad >= k for pad, k in zip(padding, size)):
        return None
    kernel = np.zeros((lay.dst_maps, lay.src_maps, *size))
    index = (post // n_dst, pre // n_src, *(rel + np.asarray(padding)).T)
    kernel[index] = synapse_weights(arrays, p)
    conv = Conv(kernel, stride, padding, (lay.src_maps, *lay.src_grid),
                (lay.dst_maps, *lay.dst_grid))
    if conv_output_grid(lay.src_grid, size, stride, padding) != lay.dst_grid:
        return None
    return conv if np.array_equal(conv_matrix(conv), dense(spec, arrays, p)) else None
