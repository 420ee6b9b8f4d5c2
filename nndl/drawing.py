"""The network as a picture: Graphviz DOT text, written here, rendered by Graphviz's `dot`
where it is installed, else drawn by matplotlib (nndl.drawing_mpl, the same texts and colours).

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

Node ids are generated (`g0`, `g1`, ...) and every label is an HTML-like label whose text is
escaped, so no name or condition can break the DOT syntax.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

from nndl import graph, ir
from nndl.runtime.errors import RuntimeNNDLError
from nndl.runtime.files import write_atomically, write_text_atomically
from nndl.summary import Summary, count_text, describe, model_text, shape_text

FORMATS = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png", ".pdf": "pdf"}
FONT = "Helvetica,Arial,sans-serif"
PNG_DPI = 110
WRAP = 34  # characters per line of an arrow's label

ROLE_STYLE = {  # shape, fill, border, borders
    "input": ("box", "#dbe9f6", "#2b6ca3", 1),
    "hidden": ("box", "#f2f2f2", "#555555", 1),
    "output": ("box", "#dcf0dc", "#2e7d32", 2),
}
CYCLE_COLOUR = "#c62828"
PLAIN_COLOUR = "#444444"


class DrawingError(RuntimeNNDLError):
    """Neither Graphviz nor matplotlib is installed, or Graphviz failed to render."""


def format_of(path: str | Path) -> str:
    """`dot`, `svg`, `png` or `pdf` from the file's suffix; ValueError for any other."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"cannot draw into {Path(path).name!r}: name a .svg, .png, .pdf or "
                         ".dot file")
    return FORMATS[suffix]


def dot_program() -> str | None:
    return shutil.which("dot")


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


# ---- escaping ----

def html_text(text) -> str:
    """Text for an HTML-like label: entities for & < > " ', line breaks as <BR/>."""
    text = str(text)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"),
                         ("'", "&#39;")):
        text = text.replace(char, entity)
    return "<BR/>".join(text.splitlines()) if text else ""


def quoted(text) -> str:
    """A DOT double-quoted string (an escString: backslashes doubled, quotes escaped)."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\r", "").replace("\n", "\\n") + '"'


def _wrap(text: str, width: int = WRAP) -> list[str]:
    """Break a long call such as `local(radius=1, metric=chebyshev, shared=true)` after its
    commas."""
    pieces = text.split(", ")
    lines, line = [], pieces[0]
    for piece in pieces[1:]:
        if len(line) + 2 + len(piece) > width:
            lines.append(line + ",")
            line = "  " + piece
        else:
            line += ", " + piece
    return lines + [line]


def _label(lines: list[tuple[str, str]], background: str | None = None) -> str:
    """An HTML-like label from (style, text) lines; style "b" bold, "s" small, "" plain.
    With a `background`, the text sits on a box of that colour (so lines behind it do not
    cross it)."""
    out = []
    for style, text in lines:
        text = html_text(text)
        if style == "b":
            text = f'<B>{text}</B>'
        elif style == "s":
            text = f'<FONT POINT-SIZE="10">{text}</FONT>'
        out.append(text)
    if background:
        return (f'<<TABLE BORDER="0" CELLBORDER="0" CELLPADDING="1" CELLSPACING="0" '
                f'BGCOLOR="{background}"><TR><TD>' + "<BR/>".join(out) + "</TD></TR></TABLE>>")
    return "<" + "<BR/>".join(out) + ">"


# ---- what the drawing says (the same in every drawing) ----

def node_text(spec: ir.Network, g: ir.Group) -> list[tuple[str, str]]:
    """A group's box as (style, text) lines: its name, shape and size, then its role, neuron
    model (with its parameters) or activation, and its bias and starting output when not
    the usual."""
    text = [("b", g.name),
            ("s", f"{shape_text(g.shape)}  {g.size:,} neuron{'s' * (g.size != 1)}")]
    if g.role == "input":
        text.append(("s", "input"))
    elif g.model:
        text.append(("s", f"neuron model {g.model}"))
        if g.params:
            params = ", ".join(f"{k}={v:g}" for k, v in g.params.items())
            text += [("s", line) for line in _wrap(params, 28)]
    else:
        text.append(("", model_text(spec, g)))
    extras = []
    if g.role != "input" and not g.bias:
        extras.append("no bias")
    elif g.role != "input" and g.bias_init != 0:
        extras.append(f"bias {g.bias_init:g}")
    if g.init != 0:
        extras.append(f"init {g.init:g}")
    if extras:
        text.append(("s", ", ".join(extras)))
    return text


def edge_text(p: ir.Projection, row) -> list[tuple[str, str]]:
    """A connection's label as (style, text) lines: its name (when given with `as`), rule,
    delay, synapse count and shared weights (`row` is its nndl.summary.ProjectionRow)."""
    text = []
    if p.name != f"{p.src}->{p.dst}":
        text.append(("b", p.name))
    text += [("", line) for line in _wrap(row.rule)]
    if p.delay:
        text.append(("", f"delay {p.delay}"))
    plural = "s" * (row.synapses != 1 or not row.exact)
    text.append(("s", f"{count_text(row.synapses, row.exact)} synapse{plural}"))
    if row.weights is not None and row.weights != row.synapses:
        text.append(("s", f"{row.weights:,} shared weights"))
    return text


def pen_width(row) -> float:
    """An arrow's width in points, growing with the log of its synapse count."""
    return 1 + 0.35 * math.log10(max(row.synapses, 1))


def legend_text(s: Summary, cyclic: set[str]) -> list[tuple[str, str]]:
    """The caption: the network, its seed and sizes, and what the colours and dashes mean."""
    title = (f"network {s.network}, seed {s.seed}: {len(s.groups)} groups, "
             f"{s.neurons:,} neurons, {count_text(s.synapses, s.exact)} synapses")
    notes = ["blue: inputs; green, double: outputs"]
    if cyclic:
        notes.append("red arrows lie on a cycle of groups")
    if any(p.delay for p in s.projections):
        notes.append("dashed arrows are delayed")
    lines = [("b", title), ("s", "; ".join(notes))]
    if not s.built:
        lines.append(("s", 'counts "up to" N are bounds: the network is too large to build'))
    return lines


# ---- the DOT text ----

def cycle_edges(spec: ir.Network) -> set[str]:
    """The projections that lie on a cycle of groups: both ends in one strongly connected
    component (a group connected to itself included)."""
    names = [g.name for g in spec.groups]
    component = {}
    for i, members in enumerate(graph.components(names, [(p.src, p.dst)
                                                          for p in spec.projections])):
        for m in members:
            component[m] = i
    return {p.name for p in spec.projections
            if p.src == p.dst or component[p.src] == component[p.dst]}


def to_dot(obj, seed: int | None = None) -> str:
    """DOT text for a Network object, a compiled module, an ir.Network or a Summary."""
    summary = obj if isinstance(obj, Summary) else describe(obj, seed)
    spec = summary.spec
    ids = {g.name: f"g{i}" for i, g in enumerate(spec.groups)}
    rank = {g.name: i for i, g in enumerate(spec.groups)}
    cyclic = cycle_edges(spec)
    font = quoted(FONT)
    lines = [f"digraph {quoted(summary.network)} {{",
             (f"  graph [rankdir=TB, nodesep=0.35, ranksep=0.45, fontname={font}, fontsize=11, "
              f"labelloc=b, pad=0.2, label={_legend(summary, cyclic)}];"),
             (f"  node [fontname={font}, fontsize=12, style=\"filled,rounded\", "
              "margin=\"0.15,0.06\"];"),
             f"  edge [fontname={font}, fontsize=10, arrowsize=0.8];"]

    def node(g: ir.Group) -> str:
        shape, fill, border, borders = ROLE_STYLE.get(g.role, ROLE_STYLE["hidden"])
        style = "filled" if g.role == "input" else "filled,rounded"
        return (f"{ids[g.name]} [shape={shape}, style={quoted(style)}, peripheries={borders}, "
                f"fillcolor={quoted(fill)}, "
                f"color={quoted(border)}, tooltip={quoted(g.name)}, "
                f"label={_label(node_text(spec, g))}];")

    clustered = set()
    for i, step in enumerate(spec.schedule):
        if not step.neuron_level:
            continue
        lines.append(f"  subgraph cluster_step{i} {{")
        lines.append('    style="dashed,rounded"; color="#8e6c00"; fontcolor="#8e6c00"; '
                     'fontsize=10; labeljust=l;')
        lines.append("    label=" + _label([("", "computed neuron by neuron"),
                                            ("", "(levels of its delay-0 synapses)")]) + ";")
        for name in step.groups:
            lines.append("    " + node(spec.group(name)))
            clustered.add(name)
        lines.append("  }")
    for g in spec.groups:
        if g.name not in clustered:
            lines.append("  " + node(g))

    for p, row in zip(spec.projections, summary.projections):
        colour = CYCLE_COLOUR if p.name in cyclic else PLAIN_COLOUR
        attrs = [f"label={_label(edge_text(p, row), background='#ffffffcc')}",
                 f"color={quoted(colour)}", f"fontcolor={quoted(colour)}",
                 f"tooltip={quoted(p.name)}", f"penwidth={pen_width(row):.2f}"]
        if p.delay:
            attrs.append("style=dashed")
        if rank[p.src] > rank[p.dst]:  # a connection back: let evaluation order set the ranks
            attrs.append("constraint=false")
        lines.append(f"  {ids[p.src]} -> {ids[p.dst]} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _legend(s: Summary, cyclic: set[str]) -> str:
    return _label(legend_text(s, cyclic))


# ---- files ----

def render(dot_text: str, fmt: str, dot: str | None = None) -> bytes:
    """The picture Graphviz's `dot` draws from the text, in format `svg`, `png` or `pdf`."""
    program = dot or dot_program()
    if program is None:
        raise DrawingError("Graphviz's `dot` program is not installed")
    command = [program, f"-T{fmt}"] + ([f"-Gdpi={PNG_DPI}"] if fmt == "png" else [])
    try:
        done = subprocess.run(command, input=dot_text.encode("utf-8"), capture_output=True,
                              timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DrawingError(f"Graphviz's `dot` failed: {e}") from None
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
        raise DrawingError(f"Graphviz's `dot` failed: {message}")
    return done.stdout


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
        from nndl import drawing_mpl

        write_atomically(path, lambda f: drawing_mpl.save(summary, cycle_edges(summary.spec),
                                                          format_of(path), f))
    return engine
