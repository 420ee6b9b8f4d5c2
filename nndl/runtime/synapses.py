"""Which synapses a projection has, and their initial weights: one implementation for every backend.

Each projection draws from its own stream, `default_rng([seed, crc32(name)])`, so adding a
projection changes no other. Synapses come out in CSR order: sorted by (post, pre).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from nndl import ir


@dataclass
class Synapses:
    """One projection's synapses as flat neuron indices into its groups, and float64 weights."""

    pre: np.ndarray  # int64, (n,)
    post: np.ndarray  # int64, (n,)
    w: np.ndarray  # float64, (n,)


def projection_rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def connect(rule: ir.Rule, src: ir.Group, dst: ir.Group) -> tuple[np.ndarray, np.ndarray]:
    """(pre, post) in CSR order for a rule between two groups."""
    if rule.kind == "full":
        post = np.repeat(np.arange(dst.size, dtype=np.int64), src.size)
        pre = np.tile(np.arange(src.size, dtype=np.int64), dst.size)
        return pre, post
    if rule.kind == "one_to_one":
        index = np.arange(dst.size, dtype=np.int64)
        return index, index.copy()
    raise ValueError(f"no synapse builder for rule `{rule.kind}`")


def fan_in(post: np.ndarray, n_post: int) -> np.ndarray:
    """For each synapse, how many synapses of its projection reach the same target neuron."""
    return np.bincount(post, minlength=n_post)[post]


def initial_weights(init: ir.Init, post: np.ndarray, n_post: int,
                    rng: np.random.Generator) -> np.ndarray:
    """Weights in CSR order. The default is PyTorch's Linear rule, per target neuron:
    uniform(-1/sqrt(k), 1/sqrt(k)) with k that neuron's fan-in within the projection."""
    n = post.size
    if init.kind == "default":
        bound = 1.0 / np.sqrt(np.maximum(fan_in(post, n_post), 1))
        return rng.uniform(-1.0, 1.0, size=n) * bound
    if init.kind == "normal":
        return rng.normal(init.params["mean"], init.params["std"], size=n)
    if init.kind == "uniform":
        return rng.uniform(init.params["low"], init.params["high"], size=n)
    if init.kind == "constant":
        return np.full(n, float(init.params["value"]))
    raise ValueError(f"no initialiser `{init.kind}`")


def build(network: ir.Network, projection: ir.Projection, seed: int) -> Synapses:
    """A projection's synapses and initial weights for a given seed."""
    src, dst = network.group(projection.src), network.group(projection.dst)
    rng = projection_rng(seed, projection.name)
    pre, post = connect(projection.rule, src, dst)
    w = initial_weights(projection.init, post, dst.size, rng)
    return Synapses(pre, post, w)


def initial_bias(group: ir.Group) -> np.ndarray:
    return np.full(group.size, group.bias_init if group.bias else 0.0)
