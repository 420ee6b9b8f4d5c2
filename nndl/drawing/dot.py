"""The drawing as Graphviz DOT text, and Graphviz's `dot` program rendering it.

Node ids are generated (`g0`, `g1`, ...) and every label is an HTML-like label whose text is
escaped, so no name or condition can break the DOT syntax.
"""

from __future__ import annotations

import shutil
import subprocess

from nndl import ir
from nndl.drawing.labels import (CYCLE_COLOUR, FONT, PLAIN_COLOUR, PNG_DPI, ROLE_STYLE,
                                 cycle_edges, edge_text, legend_text, node_text, pen_width)
from nndl.runtime.errors import RuntimeNNDLError
from nndl.summary import Summary, describe


class DrawingError(RuntimeNNDLError):
    """Neither Graphviz nor matplotlib is installed, or Graphviz failed to render."""


def dot_program() -> str | None:
    return shutil.which("dot")



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


# ---- the DOT text ----

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
