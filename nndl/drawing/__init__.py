"""The network as a picture: Graphviz DOT text, written here, rendered by Graphviz's `dot`
where it is installed (`dot`), else drawn by matplotlib (`mpl`); both say what `labels` says.

    nndlc graph examples/reservoir.nndl -o reservoir.svg   # .png, .pdf; .dot needs neither

    from nndl.drawing import to_dot, draw
    draw(net, "net.png")          # a Network object, a compiled module or an ir.Network

Groups are boxes: inputs blue and square-cornered, outputs green with a double border, hidden
groups grey, each with its name, shape, neuron count and activation or neuron model (with every
parameter). Connections are arrows
labelled with their name (when given with `as`), rule, delay and synapse count (built with the
network's seed, as `nndl.summary.synapse_counts` counts them: "up to N" for a network too large
to build). Arrows on a cycle of groups are red, delayed ones dashed, and groups computed neuron
by neuron (a neuron-level DAG) sit in a dashed box.
"""

from __future__ import annotations

from pathlib import Path

from nndl.drawing.dot import DrawingError, dot_program, render, to_dot
from nndl.drawing.labels import cycle_edges
from nndl.runtime.files import write_atomically, write_text_atomically
from nndl.summary import Summary, describe

FORMATS = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png", ".pdf": "pdf"}


def format_of(path: str | Path) -> str:
    """`dot`, `svg`, `png` or `pdf` from the file's suffix; ValueError for any other."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"cannot draw into {Path(path).name!r}: name a .svg, .png, .pdf or "
                         ".dot file")
    return FORMATS[suffix]


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401  (an optional extra: only asked whether it is there)
    except ImportError:
        return False
    return True


def drawer(path: str | Path) -> str:
    """Who draws into `path`: "dot text" for .dot; "graphviz" (its `dot` program, the better
    layout) for a picture where it is installed, else "matplotlib"; where neither is, a
    DrawingError saying how to get either (or do without)."""
    if format_of(path) == "dot":
        return "dot text"
    if dot_program() is not None:
        return "graphviz"
    if have_matplotlib():
        return "matplotlib"
    path = Path(path)
    raise DrawingError(f"drawing {path.suffix} needs Graphviz's `dot` program (apt-get install "
                       "graphviz) or matplotlib (pip install matplotlib); "
                       f"`-o {path.stem}.dot` writes the graph without either")


DREW_WITH = {  # what `nndlc graph` says of each drawer of a picture
    "graphviz": "drew with Graphviz's `dot`",
    "matplotlib": "drew with matplotlib (Graphviz's `dot` not found: apt-get install graphviz "
                  "lays it out better)",
}


def draw(obj, path: str | Path, seed: int | None = None) -> str:
    """Write the drawing to `path` (.dot, .svg, .png or .pdf): DOT text, or the picture drawn by
    `drawer(path)`. Returns who drew it (see `drawer`)."""
    engine = drawer(path)
    summary = obj if isinstance(obj, Summary) else describe(obj, seed)
    if engine == "dot text":
        write_text_atomically(path, to_dot(summary))
    elif engine == "graphviz":
        picture = render(to_dot(summary), format_of(path))
        write_atomically(path, lambda f: f.write(picture))
    else:
        from nndl.drawing import mpl

        write_atomically(path, lambda f: mpl.save(summary, cycle_edges(summary.spec),
                                                          format_of(path), f))
    return engine
