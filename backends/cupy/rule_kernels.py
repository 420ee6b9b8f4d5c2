"""`rule` blocks as CUDA kernels: each block's statements, rendered from the expression IR, run
by one thread per visit — an element of the (sample, synapse) arrays that the runtime gathers
for the block (nndl.runtime.synapse_rules: every synapse of every sample for `every tick`, the
synapses of the neurons that fired for `on pre` and `on post`).

The Python wrapper of each kernel has the NumPy module's function's name and arguments,
`rule_NAME_EVENT(w, pre, post, *reads, *states, *params, *modulators[, noise])` returning
(w, *states)
(Kernels.visit), so the runtime runs the CuPy module's `RULES` as it runs NumPy's. A rule
computes in float64 in every backend: its kernels run from the double build of the source.
"""

from __future__ import annotations

from nndl.backends.codegen import quoted_text
from nndl.backends.cupy.kernels import elementwise_kernel
from nndl.backends.render import RULE_EVENTS, rule_function_name

from nndl.ir import expr as e, lazy_traces
from nndl import ir


def block_draws(rule: ir.PlasticityRule, event: str) -> bool:
    """Whether the block calls rand() or randn() (the rule's functions take the draws when any
    of its blocks does; a kernel, only when its own block does)."""
    return any(e.draws(e.from_dict(value)) for _, value in lazy_traces.run_block(rule, event))


def takes_elapsed(rule: ir.PlasticityRule, event: str) -> bool:
    """Whether the block's kernel takes the ticks since each visited synapse's last event: an
    event block of a rule with lazy traces (the functions all take it; `every tick` reads none)."""
    return bool(rule.lazy) and event != "every"


def rule_kernel(rule: ir.PlasticityRule, event: str) -> str:
    """One block as `rule_NAME_EVENT(n, w, pre, post, *states, *modulators[, elapsed], *reads,
    *params[, noise], *results)`: the arrays (one element per visit) in, `pre.X` / `post.X` held (a
    value per visit, or one for all: a neuron model's plain parameter), the rule's parameters
    as numbers; a block that draws takes each visit's synapse and sample."""
    statements = [(target, e.from_dict(value))
                  for target, value in lazy_traces.run_block(rule, event)]
    elapsed = [lazy_traces.ELAPSED] if takes_elapsed(rule, event) else []
    return elementwise_kernel(
        rule_function_name(rule, event),
        ["w", "pre", "post", *rule.states, *_fed(rule), *elapsed],
        [*rule.reads, *rule.params], statements, ["w", *rule.states],
        f"rule {rule.name}: `{RULE_EVENTS[event]}`, one thread per visit",
        block_draws(rule, event), held=rule.reads, visits=True)


def bias_kernel(rule: ir.PlasticityRule) -> str:
    """`bias = ...` as `rule_NAME_bias(n, bias, post[, target], *post_reads, *params,
    result0)`: one thread per target neuron and sample, its `post.X` held as a block's are."""
    reads = [r for r in rule.reads if r.startswith("post.")]
    statements = [(target, e.from_dict(value)) for target, value in rule.bias]
    return elementwise_kernel(
        rule_function_name(rule, "bias"), ["bias", "post", *(["target"] if rule.target else [])],
        [*reads, *rule.params], statements, ["bias"],
        f"rule {rule.name}: `bias = ...`, one thread per target neuron and sample", held=reads)


def _fed(rule: ir.PlasticityRule) -> list[str]:
    """The per-visit values after the states: the modulators, then `target` where it is read
    (backends/render.py rule_arguments)."""
    return [*rule.modulators, *(["target"] if rule.target else [])]


def rule_kernels(network: ir.Network) -> dict[str, str]:
    """A kernel per block of every rule the network's regimes learn by (and per `bias = ...`)."""
    kernels = {rule_function_name(rule, event): rule_kernel(rule, event)
               for rule in network.rules for event in ir.EVENTS
               if lazy_traces.run_block(rule, event)}
    kernels.update({rule_function_name(rule, "bias"): bias_kernel(rule)
                    for rule in network.rules if rule.bias})
    return kernels


def rule_calls(network: ir.Network) -> list[dict]:
    """The wrapper of each rule kernel (as kernels.kernel_calls gives a model kernel's)."""
    calls = []
    for rule in network.rules:
        where = f"line {rule.loc.line} of {rule.source}" if rule.loc else rule.source
        for event in (event for event in ir.EVENTS if lazy_traces.run_block(rule, event)):
            name = rule_function_name(rule, event)
            doc = f"Rule `{rule.name}` ({where}): `{RULE_EVENTS[event]}` (kernel `{name}`)."
            draws, elapsed = block_draws(rule, event), takes_elapsed(rule, event)
            calls.append({"name": name, "doc": quoted_text(doc), "lines": [
                f"return KERNELS.visit({name!r}, {_given(rule, draws, elapsed)},",
                f"                     reads={len(rule.reads)}, states={len(rule.states)}, "
                f"fed={len(_fed(rule)) + elapsed}, draws={draws})"]})
        if rule.bias:
            name = rule_function_name(rule, "bias")
            doc = f"Rule `{rule.name}` ({where}): `bias = ...` (kernel `{name}`)."
            reads = sum(r.startswith("post.") for r in rule.reads)
            calls.append({"name": name, "doc": quoted_text(doc), "lines": [
                f"return KERNELS.visit({name!r}, args, arrays=2, reads={reads}, states=0,",
                f"                     fed={int(rule.target)}, draws=False)[0]"]})
    return calls


def _given(rule: ir.PlasticityRule, draws: bool, elapsed: bool) -> str:
    """The function's arguments its kernel takes: all of them, less the draws a block that
    never draws would be handed, and the ticks since the last event that `every tick` ignores."""
    leading = 3 + len(rule.reads) + len(rule.states) + len(rule.params) + len(_fed(rule))
    if rule.lazy and not elapsed:  # args: (..., elapsed[, noise])
        return f"args[:{leading}] + args[{leading + 1}:]" if draws else f"args[:{leading}]"
    return "args[:-1]" if rule.draws and not draws else "args"
