"""Everything `nndlc check` reports: the front end's diagnostics, then what building shows.

Some mistakes only show once synapses exist (a rule that makes none, fan_in shortfalls, a
neuron-level cycle), so a file that passes the front end is built once with each network's seed.
"""

from __future__ import annotations

from nndl import ir
from nndl.diagnostics import Diagnostics
from nndl.frontend import check_text
from nndl.runtime.build import check_build


def check_source(text: str, path: str) -> tuple[ir.Program | None, Diagnostics]:
    """The program (None if anything is wrong) and every diagnostic, front end and build."""
    program, diags = check_text(text, path)
    if program is None:
        return None, diags
    for network in program.networks:
        check_build(network, diags)
    return (None if diags.errors else program), diags
