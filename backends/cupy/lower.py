"""IR -> the CuPy module's template context.

The CuPy module runs the NumPy module's tick, forward and backward, line for line: the same
layouts (backends/numpy/layouts.py, `gpu_kind`: a `local` between groups of one grid is a
stencil) and the same statements (backends/numpy/lower.py and backward.py), with the arrays on
the GPU. What NumPy does with library calls, CuPy does with
the same calls (`@` is cuBLAS); what it does with NumPy helpers (activations, neuron models,
sparse sums and their backward) calls generated CUDA kernels of the same names here.
"""

from __future__ import annotations

import re

from nndl.backends.codegen import common_context
from nndl.backends.cupy.kernels import kernel_calls, network_source
from nndl.backends.cupy.rule_kernels import rule_calls, rule_kernels
from nndl.backends.numpy.lower import lower as numpy_lower

from nndl import ir

# Helpers of the NumPy module that the CuPy module defines as kernel launches.
KERNEL_HELPERS = ("event_sum", "gather_sum", "csr_sum", "rows_sum", "stencil_sum", "synapse_grads",
                  "spread_back", "rows_backward", "stencil_back", "stencil_grads")
# NumPy's array functions in the tick's lines, the same in CuPy.
_NUMPY = re.compile(r"(?<![\w.'])np\.")


def _on_device(steps: list[dict]) -> list[dict]:
    """The NumPy tick's steps with their array functions taken from CuPy (`np.zeros` ->
    `cp.zeros`). Names in the lines are quoted strings, so `np.` never starts inside one."""
    return [{"comment": s["comment"], "lines": [_NUMPY.sub("cp.", line) for line in s["lines"]]}
            for s in steps]


def _used(steps: list[dict], names) -> list[str]:
    text = "\n".join(line for s in steps for line in s["lines"])
    return [name for name in names if re.search(rf"\b{name}\(", text)]


def lower(network: ir.Network) -> dict:
    context = numpy_lower(network)  # checks the names first
    steps = _on_device(context["steps"])
    backward_steps = _on_device(context["backward_steps"])
    sums = _used(steps + backward_steps, KERNEL_HELPERS)
    stencils = any(name.startswith("stencil_") for name in sums)
    sums = (["tap_source"] if stencils else []) + sums  # the stencils' helper
    source = network_source(network, sums, rule_kernels(network))
    if "'''" in source or "\\" in source:  # it goes into a plain triple-quoted string
        raise RuntimeError("internal error: CUDA source the module cannot quote")
    return {
        **context,
        **common_context(network, "cupy"),
        "steps": steps,
        "backward_steps": backward_steps,
        "cuda": source,
        "calls": kernel_calls(network) + rule_calls(network),
        "sums": sums,
        "rules": bool(network.rules),  # written rules: the wrappers of their kernels in RULES
        "draws": any(m.draws for m in network.models),
        "softmax": any(g.activation == "softmax" for g in network.groups),
        "identity": any(g.activation == "identity" for g in network.groups
                        if g.role != "input"),
    }
