"""Which synapses a projection has, and their initial weights: one implementation for every backend.

Each projection draws from its own stream, `default_rng([seed, crc32(name)])`, so adding a
projection changes no other. Synapses come out in CSR order: sorted by (post, pre). Problems
found while building (a rule that makes no synapse, targets short of `fan_in`'s k) are returned
as `Finding`s with the projection's source position; the caller decides how to report them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from nndl import ir
from nndl.ir import expr
from nndl.runtime import geometry, sampling
from nndl.runtime.evaluate import condition
from nndl.runtime.ranges import Ranges, ranges, side_env


@dataclass
class Synapses:
    """One projection's synapses as flat neuron indices into its groups, and float64 weights.

    For a shared rule `w` is the kernel and `tie[i]` the kernel entry of synapse i; otherwise
    `tie` is None and `w[i]` is synapse i's own weight.
    """

    pre: np.ndarray  # int64, (n,)
    post: np.ndarray  # int64, (n,)
    w: np.ndarray  # float64, (n,) or (kernel entries,)
    tie: np.ndarray | None = None  # int64, (n,)

    def weights(self) -> np.ndarray:
        """Each synapse's weight (the kernel entry it is tied to, for shared rules)."""
        return self.w if self.tie is None else self.w[self.tie]

    @property
    def wiring(self) -> Wiring:
        return Wiring(self.pre, self.post, self.tie)


@dataclass(frozen=True)
class Wiring:
    """Which neurons a projection's synapses join, without their weights."""

    pre: np.ndarray
    post: np.ndarray
    tie: np.ndarray | None = None


@dataclass(frozen=True)
class Finding:
    """Something the build noticed about a projection: severity, message, where it is declared."""

    severity: str
    code: str
    message: str
    projection: ir.Projection


def projection_rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def pair_condition(cond: dict | None, src: ir.Group, dst: ir.Group):
    """The rule's condition as a function over arrays of flat (pre, post) indices, or None."""
    if cond is None:
        return None
    node = expr.from_dict(cond)
    wanted = expr.variables(node)

    def allowed(pre: np.ndarray, post: np.ndarray) -> np.ndarray:
        env = side_env("pre", pre, src, wanted) | side_env("post", post, dst, wanted)
        return condition(node, env, pre.shape)

    return allowed


def rule_ranges(rule: ir.Rule, src: ir.Group, dst: ir.Group) -> Ranges | None:
    """For rules that draw among candidates (where, random, fan_in): each target's range of
    sources its condition allows; None for the other rules."""
    if rule.kind == "where":
        return ranges(rule.params["condition"], src, dst)
    if rule.kind in ("random", "fan_in"):
        return ranges(rule.params["where"], src, dst)
    return None


def connect(rule: ir.Rule, src: ir.Group, dst: ir.Group, rng: np.random.Generator):
    """(pre, post, tie, number of targets short of fan_in's k) for a rule between two groups."""
    params = rule.params
    if rule.kind == "full":
        post = np.repeat(np.arange(dst.size, dtype=np.int64), src.size)
        pre = np.tile(np.arange(src.size, dtype=np.int64), dst.size)
        return pre, post, None, 0
    if rule.kind == "one_to_one":
        index = np.arange(dst.size, dtype=np.int64)
        return index, index.copy(), None, 0
    if rule.kind == "local":
        pre, post, tie = geometry.local_synapses(src.shape, dst.shape, params["radius"],
                                                 params["metric"], params["wrap"],
                                                 params["shared"], params.get("axes"))
        return pre, post, tie, 0
    if rule.kind == "where":
        allowed = pair_condition(params["condition"], src, dst)
        within = rule_ranges(rule, src, dst)
        return (*sampling.where_pairs(src.size, dst.size, allowed, within), None, 0)
    if rule.kind == "random":
        allowed = pair_condition(params["where"], src, dst)
        return (*sampling.bernoulli_pairs(src.size, dst.size, params["p"], allowed, rng), None, 0)
    if rule.kind == "fan_in":
        allowed, within = pair_condition(params["where"], src, dst), rule_ranges(rule, src, dst)
        pre, post, short = sampling.fan_in_pairs(src.size, dst.size, params["k"], allowed, rng,
                                                 within)
        return pre, post, None, short
    raise ValueError(f"no synapse builder for rule `{rule.kind}`")


def fan_in(post: np.ndarray, n_post: int) -> np.ndarray:
    """For each synapse, how many synapses of its projection reach the same target neuron."""
    return np.bincount(post, minlength=n_post)[post]


def initial_weights(init: ir.Init, post: np.ndarray, n_post: int, count: int,
                    rng: np.random.Generator) -> np.ndarray:
    """`count` weights. The default is PyTorch's Linear rule, per target neuron:
    uniform(-1/sqrt(k), 1/sqrt(k)) with k that neuron's fan-in within the projection (for a
    shared kernel, the largest fan-in)."""
    if init.kind == "default":
        k = fan_in(post, n_post) if count == post.size else np.bincount(post).max(initial=1)
        return rng.uniform(-1.0, 1.0, size=count) / np.sqrt(np.maximum(k, 1))
    if init.kind == "normal":
        return rng.normal(init.params["mean"], init.params["std"], size=count)
    if init.kind == "uniform":
        return rng.uniform(init.params["low"], init.params["high"], size=count)
    if init.kind == "constant":
        return np.full(count, float(init.params["value"]))
    raise ValueError(f"no initialiser `{init.kind}`")


def build(network: ir.Network, projection: ir.Projection, seed: int,
          findings: list[Finding] | None = None) -> Synapses:
    """A projection's synapses and initial weights for a given seed.

    Synapses are drawn first, then weights, from the projection's one stream.
    """
    src, dst = network.group(projection.src), network.group(projection.dst)
    rng = projection_rng(seed, projection.name)
    pre, post, tie, short = connect(projection.rule, src, dst, rng)
    count = post.size if tie is None else int(tie.max(initial=-1)) + 1
    w = initial_weights(projection.init, post, dst.size, count, rng)
    if findings is not None:
        # a fan_in target short of candidates with no synapse at all had none to choose from
        none = int(dst.size - np.unique(post).size) if short else 0
        findings.extend(_findings(projection, pre.size, short, none))
    return Synapses(pre, post, w, tie)


def count_without_building(network: ir.Network, projection: ir.Projection
                           ) -> tuple[int, list[Finding]] | None:
    """(synapses, what `build` would find) where the rule alone tells, drawing nothing: `full`,
    `one_to_one`, and `where` or `fan_in` whose condition is an exact source range; else None."""
    counted = _count(projection.rule, network.group(projection.src),
                     network.group(projection.dst))
    if counted is None:
        return None
    count, short, none = counted
    return count, _findings(projection, count, short, none)


def _count(rule: ir.Rule, src: ir.Group, dst: ir.Group
           ) -> tuple[int, int, int] | None:
    """(synapses, targets short of fan_in's k, targets with no candidate), or None where only
    building tells."""
    if rule.kind == "full":
        return src.size * dst.size, 0, 0
    if rule.kind == "one_to_one":
        return dst.size, 0, 0
    within = rule_ranges(rule, src, dst)
    if rule.kind == "random" or within is None or not within.exact:
        return None
    sizes = within.sizes(np.arange(dst.size, dtype=np.int64))
    if rule.kind == "where":
        return int(sizes.sum()), 0, 0
    k = rule.params["k"]
    return (int(np.minimum(sizes, k).sum()), int((sizes < k).sum()),
            int((sizes == 0).sum()))


def _findings(projection: ir.Projection, count: int, short: int, none: int
              ) -> list[Finding]:
    rule = projection.rule
    if count == 0:
        return [Finding("error", "no-synapses", f"connection `{projection.name}` "
                        f"({rule.kind}) makes no synapse at all", projection)]
    if short:
        return [Finding("warning", "fan-in-short", _shortfall(projection, short, none),
                        projection)]
    return []


def _shortfall(projection: ir.Projection, short: int, none: int) -> str:
    """fan_in's warning: how many targets have fewer than k candidates, and how many none."""
    k, name = projection.rule.params["k"], projection.name
    if none == short:
        return (f"{none} target neuron{'s have' if none != 1 else ' has'} no candidate source "
                f"in `{name}` (fan_in k={k}), so `{name}` gives "
                f"{'them' if none != 1 else 'it'} no synapse")
    text = (f"{short} target neuron{'s have' if short != 1 else ' has'} fewer than k={k} "
            f"candidate sources in `{name}`; they get all they have")
    return text + (f" ({none} of them {'have' if none != 1 else 'has'} none at all)"
                   if none else "")


def initial_bias(group: ir.Group) -> np.ndarray:
    return np.full(group.size, group.bias_init if group.bias else 0.0)
