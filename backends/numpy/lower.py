"""IR -> the NumPy module's template context: per group, the statements of one tick.

A dense projection is one matrix product, `out[src] @ W[name].T` with W of shape (post, pre) —
the CSR-ordered weights reshaped, no copy; a one_to_one projection is an elementwise product.
"""

from __future__ import annotations

from nndl import ir
from nndl.backends.codegen import common_context
from nndl.backends.numpy.ops import ACTIVATIONS, activation_call
from nndl.backends.oo.lower import describe, used_activations


def _term(p: ir.Projection) -> str:
    if p.rule.kind == "full":
        return f"out[{p.src!r}] @ W[{p.name!r}].T"
    if p.rule.kind == "one_to_one":
        return f"out[{p.src!r}] * W[{p.name!r}]"
    raise NotImplementedError(f"numpy lowering of rule `{p.rule.kind}`")


def _group_statements(network: ir.Network, g: ir.Group) -> list[str]:
    """The lines that compute one group for one tick."""
    terms = [_term(p) for p in network.incoming(g.name)]
    bias = f"b[{g.name!r}]"
    if not terms:  # no connections: every sample sees just the bias
        # A copy, not a broadcast view: an identity group passes it on to the user unchanged,
        # and run() must return writable arrays that do not alias the biases.
        first = f"np.tile({bias}, (batch, 1))" if g.bias else \
            f"np.zeros((batch, {g.size}), dtype=self.dtype)"
    else:
        first = f"{bias} + {terms[0]}" if g.bias else terms[0]
    # `first` is always a fresh array, so adding in place is safe.
    lines = [f"net = {first}"] + [f"net += {term}" for term in terms[1:]]
    lines.append(f"out[{g.name!r}] = {activation_call(g, 'net')}")
    return lines


def _comment(network: ir.Network, g: ir.Group) -> str:
    sources = ", ".join(f"{p.src} ({p.rule.kind})" for p in network.incoming(g.name))
    return f"{g.name}{list(g.shape)}, {g.activation}, from " + (sources or "nothing")


def _parameter(p: ir.Projection, network: ir.Network) -> dict:
    if p.rule.kind == "full":
        shape = (network.group(p.dst).size, network.group(p.src).size)
        return {"key": repr(p.name), "value": f"syn.w.reshape({shape}).astype(dt)",
                "comment": f"{describe(p)}: a dense {shape} matrix"}
    return {"key": repr(p.name), "value": "syn.w.astype(dt)",
            "comment": f"{describe(p)}: one weight per neuron"}


def lower(network: ir.Network) -> dict:
    hidden = [g for g in network.groups if g.role != "input"]
    return {
        **common_context(network, "numpy"),
        "activations": used_activations(network, ACTIVATIONS),
        "parameters": [_parameter(p, network) for p in network.projections],
        "steps": [{"comment": _comment(network, g), "lines": _group_statements(network, g)}
                  for g in hidden],
    }
