"""Everything `nndlc check` reports: the front end's diagnostics, then what building shows.

Some mistakes only show once synapses exist (a rule that makes none, fan_in shortfalls, a
neuron-level cycle). A file that passes the front end is surveyed with each network's seed:
decided from the rules where they tell, by building the rest once (nndl.runtime.survey).
"""

from __future__ import annotations

from nndl import ir
from nndl.diagnostics import Diagnostics
from nndl.frontend import check_text
from nndl.runtime.build import check_build
from nndl.runtime.survey import Survey


def check_source(text: str, path: str) -> tuple[ir.Program | None, Diagnostics]:
    """The program (None if anything is wrong) and every diagnostic, front end and build."""
    program, diags, _ = check_networks(text, path)
    return program, diags


def check_networks(text: str, path: str
                   ) -> tuple[ir.Program | None, Diagnostics, dict[str, Survey]]:
    """As `check_source`, with each network's survey (synapse counts, what was built)."""
    program, diags = check_text(text, path)
    if program is None:
        return None, diags, {}
    surveys = {}
    for network in program.networks:
        found = check_build(network, diags)
        if found is not None:
            surveys[network.name] = found
    return (None if diags.errors else program), diags, surveys
