"""Where the IR says a group, connection or neuron model was declared, for messages raised at run
time: they name the `.nndl` file, line and column, never the generated module."""

from __future__ import annotations

from nndl import ir


def source_position(source: str, loc: ir.Loc | None) -> str:
    """`file:line:col`, as the compiler's diagnostics begin, or the file alone."""
    return f"{source}:{loc.line}:{loc.column}" if loc else source


def declared(spec: ir.Network, group: str) -> str:
    """Where a group is declared, with its neuron model's declaration for a model group:
    `net.nndl:4:11`, or `net.nndl:4:11; neuron model `leaky` at net.nndl:1:8`."""
    g = spec.group(group)
    text = source_position(spec.source, g.loc)
    if g.model:
        model = spec.model(g.model)
        text += (f"; neuron model `{model.name}` at "
                 f"{source_position(model.source or spec.source, model.loc)}")
    return text
