"""What `nndlc check` must know of a network's synapses, building as few of them as it can.

A rule's synapse count and fan_in shortfall often follow from the rule alone (`full`,
`one_to_one`, `where` and `fan_in` over an exact source range), and a neuron-level step whose
delay-0 synapses all run from lower to higher indices (or all the other way) holds no cycle.
The rest is built, once, with the network's seed; the built synapses are kept for the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nndl import ir
from nndl.runtime.schedule import inner_projections
from nndl.runtime.synapses import Finding, Synapses, build, count_without_building, rule_ranges


@dataclass
class Survey:
    """Each projection's synapse count, what building them would find, and those built."""

    spec: ir.Network
    seed: int
    counts: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    built: dict[str, Synapses] = field(default_factory=dict)

    def synapses(self, projections: list[ir.Projection]) -> dict[str, Synapses]:
        """The synapses of `projections`, built now where the survey did not need them."""
        for p in projections:
            if p.name not in self.built:
                self.built[p.name] = build(self.spec, p, self.seed)
        return {p.name: self.built[p.name] for p in projections}


def survey(spec: ir.Network, seed: int) -> Survey:
    """Counts and findings for every projection, building only those the rule does not tell."""
    found = Survey(spec, seed)
    for p in spec.projections:
        known = count_without_building(spec, p)
        if known is None:
            found.built[p.name] = build(spec, p, seed, found.findings)
            found.counts[p.name] = int(found.built[p.name].pre.size)
        else:
            found.counts[p.name] = known[0]
            found.findings.extend(known[1])
    return found


def one_way(spec: ir.Network, step: ir.Step) -> bool:
    """Whether every delay-0 synapse among the step's groups raises the neuron index (or every
    one lowers it): then no path can come back to where it started."""
    directions = {direction(spec, p) for p in inner_projections(spec, step)}
    return len(directions) == 1 and 0 not in directions


def direction(spec: ir.Network, p: ir.Projection) -> int:
    """1 when the rule lets every synapse run only from a lower index to a higher, -1 only from
    a higher to a lower, 0 when it does not say."""
    dst = spec.group(p.dst)
    within = rule_ranges(p.rule, spec.group(p.src), dst)
    if within is None:
        return 0
    posts = np.arange(dst.size, dtype=np.int64)
    lo, hi = within.bounds(posts)
    some = hi > lo
    if (hi[some] <= posts[some]).all():
        return 1
    if (lo[some] > posts[some]).all():
        return -1
    return 0
