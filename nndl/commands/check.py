"""Everything `nndlc check` reports: the front end's diagnostics, then what building shows.

Some mistakes only show once synapses exist (a rule that makes none, fan_in shortfalls, a
neuron-level cycle). A file that passes the front end is surveyed with each network's seed:
decided from the rules where they tell, by building the rest once (nndl.runtime.survey).
"""

from __future__ import annotations

from collections.abc import Mapping

from nndl import ir
from nndl.diagnostics import Diagnostics
from nndl.frontend import check_text, collector_paused
from nndl.ir.graph import reaching
from nndl.runtime.build import check_build, span_of
from nndl.runtime.survey import Survey


def check_source(text: str, path: str, params: Mapping[str, float | bool] = ()
                 ) -> tuple[ir.Program | None, Diagnostics]:
    """The program (None if anything is wrong) and every diagnostic, front end and build;
    `params` override the file's `param` values (as `--set` does)."""
    program, diags, _ = check_networks(text, path, params)
    return program, diags


def check_networks(text: str, path: str, params: Mapping[str, float | bool] = ()
                   ) -> tuple[ir.Program | None, Diagnostics, dict[str, Survey]]:
    """As `check_source`, with each network's survey (synapse counts, what was built)."""
    with collector_paused():  # the front end's and the build checks' objects, all at once
        program, diags = check_text(text, path, params)
        if program is None:
            return None, diags, {}
        surveys = {}
        for network in program.networks:
            warn_dead_ends(network, diags)
            found = check_build(network, diags)
            if found is not None:
                surveys[network.name] = found
    return (None if diags.errors else program), diags, surveys


def warn_dead_ends(network: ir.Network, diags: Diagnostics) -> None:
    """A group from which no connection leads to an output cannot change any result. (A group
    without any connection has its own warning.) A group that feeds a rule's modulator leads
    where the rule's connection does: it changes those weights."""
    ends = {p.name: (p.src, p.dst) for p in network.projections}
    fed = [(m.source, ends[rule.projection][1]) for regime in network.regimes
           for rule in regime.learn for m in rule.modulators if m.kind == "group"]
    leads = reaching([g.name for g in network.outputs], [*ends.values(), *fed])
    connected = {p.src for p in network.projections} | {p.dst for p in network.projections}
    for g in network.groups:
        if g.name not in leads and g.name in connected:
            diags.warning("dead-end", f"{'input' if g.role == 'input' else 'group'} "
                          f"`{g.name}` reaches no output, so it changes no result",
                          span_of(g.loc), "connect it on to an output, or remove it")
