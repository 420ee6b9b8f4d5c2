"""What NIR's weight nodes are as NNDL connections: their matrices, biases and rules."""

from __future__ import annotations

import math
import re

import numpy as np

from nndl import ir
from nndl.interchange import weights
from nndl.interchange.errors import ImportNIRError
from nndl.runtime.synapses import connect


def dense(node, kind: str) -> np.ndarray:
    if kind in ("Affine", "Linear"):
        w = np.asarray(node.weight, dtype=float)
        return w.reshape(w.shape[-2], -1)
    conv = conv_of(node, kind)
    return weights.conv_matrix(conv)


def conv_of(node, kind: str) -> weights.Conv:
    rank = 1 if kind == "Conv1d" else 2
    if getattr(node, "groups", 1) != 1 or np.any(np.asarray(node.dilation) != 1):
        raise ImportNIRError(f"a {kind} with groups or dilation is not read yet")
    if isinstance(node.padding, str) or node.input_shape is None:
        raise ImportNIRError(f"a {kind} needs a numeric padding and its input_shape")
    kernel = np.asarray(node.weight, dtype=float)
    stride = tuple(int(s) for s in np.broadcast_to(node.stride, (rank,)))
    padding = tuple(int(s) for s in np.broadcast_to(node.padding, (rank,)))
    grid = tuple(int(s) for s in np.broadcast_to(node.input_shape, (rank,)))
    out = weights.conv_output_grid(grid, kernel.shape[2:], stride, padding)
    return weights.Conv(kernel, stride, padding, (kernel.shape[1], *grid),
                        (kernel.shape[0], *out))


def bias_of(node, kind: str, shape=None) -> np.ndarray:
    if kind == "Linear":
        return np.zeros(math.prod(shape) if shape else 1)
    b = np.asarray(node.bias, dtype=float).reshape(-1)
    if kind in ("Conv1d", "Conv2d") and shape is not None:
        return np.repeat(b, math.prod(shape) // b.size)
    return b


def local_rule(node, kind: str) -> str | None:
    """`local(...)` drawing the convolution's kernel positions, where one does."""
    conv = conv_of(node, kind)
    size = conv.kernel.shape[2:]
    if len(set(size)) != 1 or len(set(conv.stride)) != 1 or len(set(conv.padding)) != 1:
        return None
    k, s, pad = size[0], conv.stride[0], conv.padding[0]
    if k != s + 2 * pad or any(n % s for n in conv.in_shape[1:]):
        return None  # the kernel is not centred where NNDL's geometry puts it
    axes = ", axes=1" if kind == "Conv1d" else ""
    return f"local(radius={(k - 1) / 2!r}, metric=chebyshev, shared=true{axes})"


def rule_holds(rule_text: str, src_shape, dst_shape, matrix: np.ndarray) -> bool:
    """Whether the rule's synapses and ties carry `matrix` exactly."""
    rule = _parse_local(rule_text)
    src, dst = ir.Group("src", src_shape, "input", None), ir.Group("dst", dst_shape, "hidden", None)
    pre, post, tie, _ = connect(rule, src, dst, np.random.default_rng(0))
    values = matrix[post, pre]
    if np.count_nonzero(matrix) != np.count_nonzero(values):
        return False  # a weight where the rule has no synapse
    kernel = np.zeros(int(tie.max(initial=-1)) + 1)
    kernel[tie] = values
    return bool(np.array_equal(kernel[tie], values))


def _parse_local(text: str) -> ir.Rule:
    radius = float(re.search(r"radius=([0-9.e+-]+)", text).group(1))
    return ir.Rule("local", {"radius": radius, "metric": "chebyshev", "wrap": False,
                             "shared": True, "axes": 1 if "axes=1" in text else None})


def synapse_arrays(spec: ir.Network, p: ir.Projection, matrix: np.ndarray) -> dict:
    pre, post, tie, _ = connect(p.rule, spec.group(p.src), spec.group(p.dst),
                                np.random.default_rng(0))
    values = matrix[post, pre]
    arrays = {f"{p.name}.pre": pre, f"{p.name}.post": post}
    if tie is None:
        return arrays | {f"{p.name}.w": values}
    kernel = np.zeros(int(tie.max(initial=-1)) + 1)
    kernel[tie] = values
    return arrays | {f"{p.name}.w": kernel, f"{p.name}.tie": tie}
