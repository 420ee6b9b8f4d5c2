"""Building a network's synapses for a seed: every projection, what the build found, the levels.

The Network base class uses this at construction; `nndlc check` reports, through `check_build`,
problems that only show once synapses exist (a rule that makes none, fan_in shortfalls, cycles).
"""

from __future__ import annotations

import warnings

import numpy as np

from nndl import ir
from nndl.diagnostics import Diagnostics, Span
from nndl.runtime import resources, starting
from nndl.runtime.errors import RuntimeNNDLError
from nndl.runtime.locations import source_position
from nndl.runtime.schedule import (CYCLE_HINT, CycleError, Level, cycle_message,
                                   inner_projections, levels)
from nndl.runtime.survey import Survey, one_way, survey
from nndl.runtime.synapses import Finding, Synapses, build, initial_bias


class BuildError(RuntimeNNDLError):
    """A projection's rule cannot be built as written (e.g. it makes no synapse)."""


class NNDLWarning(UserWarning):
    """Something about a built network that is allowed but probably not meant."""


def build_all(spec: ir.Network, seed: int) -> tuple[dict[str, Synapses], list[Finding]]:
    findings: list[Finding] = []
    synapses = {p.name: build(spec, p, seed, findings) for p in spec.projections}
    return synapses, findings


def initial_biases(spec: ir.Network) -> dict[str, np.ndarray]:
    return {g.name: initial_bias(g) for g in spec.groups if g.bias}


def initial_values(spec: ir.Network, seed: int) -> tuple[dict, dict]:
    """Each model group's parameters held as arrays and its starting states, per neuron:
    ({group: {param: array}}, {group: {state: array}}), see nndl.runtime.starting."""
    values = starting.build_values(spec, seed)
    message = starting.not_finite(spec, values)
    if message:
        raise BuildError(message)
    return ({name: params for name, (params, _) in values.items()},
            {name: states for name, (_, states) in values.items()})


def locate(spec: ir.Network, finding: Finding) -> str:
    """`file:line:col: severity: message`, as the compiler's diagnostics read."""
    where = source_position(spec.source, finding.projection.loc)
    return f"{where}: {finding.severity}: {finding.message}"


def report(spec: ir.Network, findings: list[Finding]) -> None:
    """Raise on the first error (after warning about everything else)."""
    errors = [f for f in findings if f.severity == "error"]
    for f in findings:
        if f.severity == "warning":
            warnings.warn(NNDLWarning(locate(spec, f)), stacklevel=3)
    if errors:
        raise BuildError("\n".join(locate(spec, f) for f in errors))


def neuron_levels(spec: ir.Network, synapses: dict[str, Synapses]) -> dict[int, list[Level]]:
    """Levels of every neuron-level step, keyed by the step's position in the schedule."""
    return {i: levels(spec, step, synapses) for i, step in enumerate(spec.schedule)
            if step.neuron_level}


def span_of(loc: ir.Loc | None) -> Span | None:
    if loc is None:
        return None
    return Span(loc.line, loc.column, loc.line, max(loc.end_column, loc.column + 1))


def check_build(spec: ir.Network, diags: Diagnostics) -> Survey | None:
    """Report, as diagnostics, what the network's synapses for its own seed show: rules that
    make no synapse, fan_in shortfalls, neuron-level cycles -- from the rules alone where they
    tell, else by building (survey.py). Returns the survey (counts, what was built), or None
    when the network is too large for memory: that is reported instead."""
    need = resources.estimate(spec)
    message = resources.too_large(spec, need)
    if message:
        diags.error("too-large", message, span_of(need.loc),
                    "use a sparser rule (random, fan_in, local) or smaller groups")
        return None
    found = survey(spec, spec.seed)
    for f in found.findings:
        add = diags.error if f.severity == "error" else diags.warning
        add(f.code, f.message, span_of(f.projection.loc))
    for step in spec.schedule:
        if not step.neuron_level or one_way(spec, step):
            continue
        try:
            levels(spec, step, found.synapses(inner_projections(spec, step)))
        except CycleError as e:
            first, *others = e.projections
            notes = [(f"`{p.name}` also has delay 0", span_of(p.loc)) for p in others]
            diags.error("cycle", cycle_message(spec, step, e.projections, located=False),
                        span_of(first.loc), CYCLE_HINT, notes=notes)
    return found
