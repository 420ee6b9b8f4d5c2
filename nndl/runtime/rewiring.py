"""Structural plasticity: `rewire NAME : prune(below=θ) grow(count=k) every N`.

Every N training steps (batches), for each rewired projection, in this order:

1. prune: with `below=θ`, the synapses with |w| < θ are removed; with `keep=f, over=K`, at the
   e-th rewiring (e = 1, 2, ... counts the projection's rewirings since training began) the
   synapses with the largest |w| are kept, `target(e)` of them (`target`, below: Zhu & Gupta's
   cubic schedule from every built synapse down to the fraction f of them at e = K, and f
   after), ties going to the synapse earlier in CSR order; nothing is pruned where the
   projection has `target(e)` synapses or fewer;
2. grow: k synapses are added among the candidates the projection's rule allows that do not
   exist (now), chosen without replacement from the stream
   `default_rng([seed, crc32("rewire:" + NAME), event])` (event = e), with weights from the
   projection's initialiser (the default one scaled by each target's fan-in after growing).

Synapses stay in CSR order; `source_index` tells, for each synapse after, which one it was
before (-1 for a new one), so an optimiser's state follows its synapse. One implementation,
on the weight file's arrays (float64 on the host), for every backend.
"""

from __future__ import annotations

import math
import warnings
import zlib
from dataclasses import dataclass

import numpy as np

from nndl import ir
from nndl.runtime import sampling
from nndl.runtime.build import NNDLWarning
from nndl.runtime.synapses import (Synapses, connect, fan_in, initial_weights, pair_condition,
                                   projection_rng)

# Rules whose candidates are the rule's own synapses (every seed gives the same); the others
# (random, fan_in) may grow anywhere their `where=` allows.
FIXED = ("full", "one_to_one", "local", "where")


def rewired(network: ir.Network, projection: str) -> bool:
    """Whether some regime rewires the projection: its synapse set may then change."""
    return any(r.projection == projection for regime in network.regimes for r in regime.rewire)


def candidates(network: ir.Network, p: ir.Projection) -> np.ndarray:
    """Every synapse the projection's rule allows, as keys post * n_src + pre (sorted)."""
    src, dst = network.group(p.src), network.group(p.dst)
    if p.rule.kind in FIXED:
        pre, post, _, _ = connect(p.rule, src, dst, np.random.default_rng(0))
    else:
        allowed = pair_condition(p.rule.params.get("where"), src, dst)
        pre, post = sampling.where_pairs(src.size, dst.size, allowed)
    return np.sort(post.astype(np.int64) * src.size + pre.astype(np.int64))


def built_count(network: ir.Network, p: ir.Projection, seed: int) -> int:
    """How many synapses the projection is built with for `seed` (what `keep` counts against)."""
    src, dst = network.group(p.src), network.group(p.dst)
    return int(connect(p.rule, src, dst, projection_rng(seed, p.name))[1].size)


def target(keep: float, over: int, built: int, event: int) -> int:
    """The synapses `prune(keep, over)` leaves at rewiring `event`: round(built * d), with
    d = keep + (1 - keep) * (1 - min(event, over) / over) ** 3 (Zhu & Gupta 2017), so the
    count falls fastest at first and is exactly round(built * keep) from event `over` on."""
    left = 1.0 - min(event, over) / over
    return math.floor(built * (keep + (1.0 - keep) * left ** 3) + 0.5)


def warn_if_cut_short(action: ir.Rewire, built: int | None, steps: int) -> None:
    """A `prune(keep, over)` whose schedule ends after the run's last step warns."""
    if action.prune_keep is None or action.prune_over * action.every <= steps:
        return
    events = steps // action.every
    left = target(action.prune_keep, action.prune_over, built, events) if events else built
    warnings.warn(NNDLWarning(
        f"rewire `{action.projection}`: {action.actions()} every {action.every} reaches its "
        f"fraction at step {action.prune_over * action.every}, but this run has {steps} steps: "
        f"it ends with {left} of the {built} synapses built, not "
        f"{target(action.prune_keep, 1, built, 1)}; make `over` or `every` smaller"),
        stacklevel=4)


def strongest(w: np.ndarray, count: int) -> np.ndarray:
    """A mask of the `count` synapses with the largest |w|; of equal ones, the earlier win."""
    order = np.lexsort((np.arange(w.size), -np.abs(w)))
    keep = np.zeros(w.size, dtype=bool)
    keep[order[:count]] = True
    return keep


@dataclass
class Outcome:
    synapses: Synapses
    source_index: np.ndarray  # for each synapse now, its index before (-1: grown)
    pruned: int
    grown: int


def rewire(network: ir.Network, p: ir.Projection, action: ir.Rewire, syn: Synapses,
           seed: int, event: int, built: int | None = None) -> Outcome:
    """One rewiring; `built` (from built_count, worked out here when not given) serves
    `prune(keep=...)`."""
    n_src = network.group(p.src).size
    keep = np.ones(syn.pre.size, dtype=bool)
    if action.prune_below is not None:
        keep = np.abs(syn.w) >= action.prune_below
    if action.prune_keep is not None:
        built = built_count(network, p, seed) if built is None else built
        count = target(action.prune_keep, action.prune_over, built, event)
        if syn.w.size > count:
            keep = strongest(syn.w, count)
    pre, post, w = syn.pre[keep], syn.post[keep], syn.w[keep]
    index = np.flatnonzero(keep)
    grown = 0
    if action.grow_count:
        existing = post * n_src + pre
        free = np.setdiff1d(candidates(network, p), existing, assume_unique=True)
        if free.size < action.grow_count:
            warnings.warn(NNDLWarning(
                f"rewire `{p.name}`: grow(count={action.grow_count}) found only {free.size} "
                "candidate synapses that do not exist yet; it grows those"), stacklevel=3)
        rng = np.random.default_rng([seed, zlib.crc32(f"rewire:{p.name}".encode()), event])
        chosen = np.sort(rng.choice(free, size=min(action.grow_count, free.size),
                                    replace=False))
        grown = chosen.size
        new_pre, new_post = chosen % n_src, chosen // n_src
        all_post = np.concatenate([post, new_post])
        new_w = _grown_weights(p.init, new_post, all_post, network.group(p.dst).size, rng)
        order = np.argsort(np.concatenate([existing, chosen]), kind="stable")
        pre = np.concatenate([pre, new_pre])[order]
        post = all_post[order]
        w = np.concatenate([w, new_w])[order]
        index = np.concatenate([index, np.full(grown, -1)])[order]
    if pre.size == 0:
        warnings.warn(NNDLWarning(f"rewire `{p.name}`: {action.actions()} removed every "
                                  "synapse; the connection carries nothing now"), stacklevel=3)
    return Outcome(Synapses(pre.astype(np.int64), post.astype(np.int64), w.astype(np.float64)),
                   index.astype(np.int64), int((~keep).sum()), grown)


def _grown_weights(init: ir.Init, new_post, all_post, n_post: int, rng) -> np.ndarray:
    """New synapses' weights from the initialiser; the default one uses each target's fan-in
    after growing, as it did when the projection was built."""
    if init.kind == "default":
        k = fan_in(all_post, n_post)[all_post.size - new_post.size:]
        return rng.uniform(-1.0, 1.0, size=new_post.size) / np.sqrt(np.maximum(k, 1))
    return initial_weights(init, new_post, n_post, new_post.size, rng)


def subset_of_candidates(network: ir.Network, p: ir.Projection, pre, post) -> bool:
    """For loading: a rewired projection's synapses must be among its rule's candidates."""
    keys = post.astype(np.int64) * network.group(p.src).size + pre.astype(np.int64)
    return bool(np.isin(keys, candidates(network, p)).all())
