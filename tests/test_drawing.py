"""Drawing networks (nndl.drawing, `nndlc graph`): DOT text for every example, cycles marked,
labels escaped, Graphviz used when installed, matplotlib when it is not (the CLI says which), and
a clear message when neither is."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import nndl
from nndl import drawing, ir
from nndl.drawing import dot as dot_text
from nndl.drawing import labels, mpl
from nndl.commands.cli import main
from nndl.frontend import check_text, read_source
from nndl.runtime import synapses as synapses_module
from nndl.summary import describe

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.nndl"))
HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's `dot` is not installed")
SVG = "{http://www.w3.org/2000/svg}"
TWO_NETWORKS = """
network first {
    input  x[3]
    output y[2]
    connect x -> y : full
}
network second {
    input  a[2]
    output b[2] : tanh
    connect a -> b : one_to_one
    connect b -> b : full delay 1
}
"""


def networks(path: Path) -> list[ir.Network]:
    program, diags = check_text(read_source(path), str(path))
    assert program is not None, diags.render()
    return list(program.networks)


def edges(dot: str) -> dict[tuple[str, str], list[str]]:
    """{(source id, target id): [attribute text, ...]} of the DOT's edge statements."""
    found: dict[tuple[str, str], list[str]] = {}
    for a, b, attrs in re.findall(r"^\s*(g\d+) -> (g\d+) \[(.*)\];$", dot, re.MULTILINE):
        found.setdefault((a, b), []).append(attrs)
    return found


def svg_text(svg: bytes) -> str:
    """Every piece of text an SVG shows (the XML must parse)."""
    root = ET.fromstring(svg)
    return "\n".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_draws(path):
    for network in networks(path):
        summary = describe(network)
        dot = drawing.to_dot(summary)
        assert dot.startswith(f'digraph "{network.name}" {{') and dot.rstrip().endswith("}")
        ids = {g.name: f"g{i}" for i, g in enumerate(network.groups)}
        for g in network.groups:  # every group a node, labelled with its name and shape
            node = re.search(rf"^\s*{ids[g.name]} \[(.*)\];$", dot, re.MULTILINE)
            assert node, g.name
            assert f"<B>{g.name}</B>" in node.group(1)
            assert dot_text.html_text(f"{list(g.shape)}  {g.size:,} neuron") in node.group(1)
            assert f"peripheries={2 if g.role == 'output' else 1}" in node.group(1)
        found = edges(dot)
        assert sum(len(v) for v in found.values()) == len(network.projections)
        cyclic = labels.cycle_edges(network)
        for p, row in zip(network.projections, summary.projections):
            attrs = next(a for a in found[ids[p.src], ids[p.dst]] if f'tooltip="{p.name}"' in a)
            assert f"{row.synapses:,} synapse" in attrs
            assert (f"delay {p.delay}" in attrs) == (p.delay > 0)
            assert ("style=dashed" in attrs) == (p.delay > 0)
            assert (labels.CYCLE_COLOUR in attrs) == (p.name in cyclic)
        if HAVE_DOT:
            text = svg_text(dot_text.render(dot, "svg"))
            for g in network.groups:
                assert g.name in text


def test_cycles_are_the_connections_inside_a_strongly_connected_component():
    def cyclic(name):
        return labels.cycle_edges(networks(ROOT / "examples" / f"{name}.nndl")[0])

    assert cyclic("reservoir") == {"recurrent", "blob->slow", "feedback"}
    assert cyclic("digit_rows") == {"memory->memory"}
    assert cyclic("blob") == {"blob->blob"}
    assert cyclic("digits") == cyclic("skip_stack") == cyclic("delay_line") == set()


def test_neuron_level_steps_are_boxed():
    dot = drawing.to_dot(networks(ROOT / "examples" / "blob.nndl")[0])
    cluster = re.search(r"subgraph cluster_step\d+ \{(.*?)\n  \}", dot, re.DOTALL)
    assert cluster and "computed neuron by neuron" in cluster.group(1)
    assert re.search(r"^\s*g1 \[", cluster.group(1), re.MULTILINE)  # blob
    assert "cluster" not in drawing.to_dot(networks(ROOT / "examples" / "digits.nndl")[0])


def test_labels_say_rule_delay_name_and_shared_weights():
    dot = drawing.to_dot(networks(ROOT / "examples" / "reservoir.nndl")[0])
    feedback = edges(dot)["g2", "g1"][0]
    assert "<B>feedback</B>" in feedback and "random(p=0.1)" in feedback
    assert "delay 2" in feedback and "1,486 synapses" in feedback
    assert "constraint=false" in feedback  # backwards in evaluation order
    assert "leak=0.8" in dot and "neuron model leaky" in dot
    digits = drawing.to_dot(networks(ROOT / "examples" / "digits.nndl")[0])
    assert "7,744 synapses" in digits and "144 shared weights" in digits
    assert "local(radius=1, metric=chebyshev," in digits  # wrapped after a comma


def test_a_network_object_is_drawn_with_its_own_synapses():
    module = nndl.compile(ROOT / "examples" / "reservoir.nndl", backend="numpy")
    net = module.Network(seed=0)
    count = net.parameters()["feedback.pre"].size
    assert count != 1486  # the seed 9 count
    dot = drawing.to_dot(net)
    assert f"{count:,} synapses" in edges(dot)["g2", "g1"][0]
    assert "seed 0:" in dot
    assert drawing.to_dot(module) == drawing.to_dot(module.Network.SPEC)


def renamed(spec: ir.Network, names: dict[str, str]) -> ir.Network:
    text = spec.to_json()
    for old, new in names.items():
        text = text.replace(json.dumps(old), json.dumps(new))
    return ir.Network.from_json(text)


NASTY = {"gate": 'ga"te<&>\\', "x->y": '"]; evil -> x [label="', "hidden->gate": '\\"<BR/>'}


def test_every_label_is_escaped():
    spec = renamed(networks(ROOT / "examples" / "skip_mlp.nndl")[0], NASTY)
    dot = drawing.to_dot(spec)
    for line in dot.splitlines()[1:-1]:  # each statement is one line, its quotes balanced
        stripped = re.sub(r'\\.', "", line)
        assert stripped.count('"') % 2 == 0, line
    assert "evil -> x" not in re.sub(r'"(\\.|[^"\\])*"|<[^\n]*>', "", dot)
    assert dot_text.html_text('a<b>&"c\'') == "a&lt;b&gt;&amp;&quot;c&#39;"
    assert dot_text.quoted('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    if HAVE_DOT:
        text = svg_text(dot_text.render(dot, "svg"))
        assert 'ga"te<&>\\' in text and '"]; evil -> x [label="' in text
        assert '\\"<BR/>' in text


def test_a_network_too_large_to_build_is_drawn_with_bounds(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("built a network too large to build")

    monkeypatch.setattr(synapses_module, "build", refuse)
    program, _ = check_text("network huge {\n input x[1000000]\n group h[1000000] : relu\n"
                                " output y[2]\n connect x -> h : random(p=0.5)\n"
                                " connect h -> y : full\n}\n", "huge.nndl")
    dot = drawing.to_dot(program.networks[0])
    assert re.search(r"up to [\d,]+ synapses", edges(dot)["g0", "g1"][0])
    assert "2,000,000 synapses" in edges(dot)["g1", "g2"][0]  # full: exact without building
    assert "are bounds" in dot


# ---- the command line ----

def run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exit:
        code = exit.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_writes_dot_without_graphviz(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(dot_text.shutil, "which", lambda name: None)
    target = tmp_path / "net.dot"
    code, out, err = run(["graph", str(ROOT / "examples" / "reservoir.nndl"), "-o", str(target)],
                         capsys)
    assert code == 0, err
    assert out == f"wrote {target} (network reservoir: 4 groups, 6 connections)\n"
    assert target.read_text() == drawing.to_dot(networks(ROOT / "examples" /
                                                         "reservoir.nndl")[0])
    code, out, err = run(["graph", str(ROOT / "examples" / "xor.nndl"), "-o", "-"], capsys)
    assert code == 0 and out.startswith('digraph "xor" {')


@pytest.mark.parametrize("suffix", [".svg", ".png", ".pdf"])
def test_cli_says_how_to_get_graphviz_or_matplotlib(tmp_path, capsys, monkeypatch, suffix):
    monkeypatch.setattr(dot_text.shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    target = tmp_path / f"net{suffix}"
    code, _, err = run(["graph", str(ROOT / "examples" / "xor.nndl"), "-o", str(target)],
                       capsys)
    assert code == 1 and not target.exists()
    assert err == (f"error: drawing {suffix} needs Graphviz's `dot` program (apt-get install "
                   "graphviz) or matplotlib (pip install matplotlib); `-o net.dot` writes the "
                   "graph without either\n")


# ---- without Graphviz: matplotlib ----

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NO_DOT = "drew with matplotlib (Graphviz's `dot` not found"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def no_dot(monkeypatch):
    """Graphviz's `dot` hidden: not on PATH, and shutil.which finds no other."""
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(dot_text.shutil, "which", lambda name: None)


def test_graphviz_draws_where_dot_is_installed_and_matplotlib_elsewhere(monkeypatch):
    monkeypatch.setattr(dot_text.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert [drawing.drawer(f"net{suffix}") for suffix in (".png", ".svg", ".pdf", ".dot")] == \
        ["graphviz", "graphviz", "graphviz", "dot text"]
    monkeypatch.setattr(dot_text.shutil, "which", lambda name: None)
    assert drawing.drawer("net.PNG") == "matplotlib" and drawing.drawer("n.gv") == "dot text"


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_cli_draws_with_matplotlib_without_dot_and_says_so(tmp_path, capsys, no_dot, suffix):
    target = tmp_path / f"reservoir{suffix}"
    code, out, err = run(["graph", str(ROOT / "examples" / "reservoir.nndl"), "-o",
                          str(target)], capsys)
    assert code == 0, err
    assert out == f"wrote {target} (network reservoir: 4 groups, 6 connections)\n"
    assert err.startswith(NO_DOT) and err.count("\n") == 1
    data = target.read_bytes()
    if suffix == ".png":
        width, height = png_size(data)
        assert 300 <= width <= 2000 and 300 <= height <= 2000, (width, height)
    elif suffix == ".pdf":
        assert data[:5] == b"%PDF-" and data.rstrip().endswith(b"%%EOF")
    else:
        text = svg_text(data)
        for word in ("drive", "blob", "slow", "readout", "feedback", "recurrent", "delay 2",
                     "4,532 synapses", "1,486 synapses", "network reservoir, seed 9"):
            assert word in text


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_draws_with_matplotlib(path, tmp_path, no_dot):
    """Every box and label that the DOT text has, the matplotlib SVG shows too; the red of a
    cycle only where there is one; and the labels and boxes take room of their own."""
    for network in networks(path):
        summary = describe(network)
        target = tmp_path / f"{network.name}.svg"
        assert drawing.draw(summary, target) == "matplotlib"
        svg = target.read_bytes()
        text = svg_text(svg)
        for g in network.groups:
            for _, line in labels.node_text(network, g):
                assert line in text, (g.name, line)
        for p, row in zip(network.projections, summary.projections):
            for _, line in labels.edge_text(p, row):
                assert line in text, (p.name, line)
        assert (labels.CYCLE_COLOUR.encode() in svg) == bool(labels.cycle_edges(network))
        assert_nothing_overlaps(mpl.Layout(summary, labels.cycle_edges(network)))


def assert_nothing_overlaps(layout):
    rectangles = {("group", g.name): layout.box(g.name) for g in layout.spec.groups}
    for i, (x, y) in layout.label_places().items():
        text = layout.labels[i]
        rectangles["label", layout.spec.projections[i].name] = (
            x - text.width / 2, y - text.height / 2, text.width, text.height)
    assert len(rectangles) == len(layout.spec.groups) + len(layout.spec.projections)
    named = sorted(rectangles.items())
    for k, (a, (ax, ay, aw, ah)) in enumerate(named):
        for b, (bx, by, bw, bh) in named[k + 1:]:
            apart = ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay
            assert apart, (a, b)


def test_the_matplotlib_layout_runs_down_the_evaluation_order():
    """Inputs in the top row, outputs in the bottom one, every connection that is not a cycle
    going down; connections back up are drawn upwards and loops beside their box."""
    for path in EXAMPLES:
        for network in networks(path):
            rows = mpl.group_rows(network)
            last = max(rows.values())
            assert all(rows[g.name] == 0 for g in network.inputs), network.name
            assert all(rows[g.name] == last for g in network.outputs), network.name
            rank = {g.name: i for i, g in enumerate(network.groups)}
            for p in network.projections:
                if rank[p.src] < rank[p.dst]:
                    assert rows[p.src] < rows[p.dst], p.name
    network = networks(ROOT / "examples" / "reservoir.nndl")[0]
    layout = mpl.Layout(describe(network), labels.cycle_edges(network))
    routes = {route.projection.name: route for route in layout.routes}
    assert routes["feedback"].upwards and not routes["blob->slow"].upwards
    assert layout.loops["blob"] == [1] and "recurrent" not in routes
    points = layout.points(list(routes).index("feedback"), layout.ports())
    assert points[0][1] == layout.box("slow")[1]  # from the top of slow
    assert points[-1][1] == pytest.approx(sum(layout.box("blob")[1::2]))  # into blob's bottom
    blob_left, _, blob_width, _ = layout.box("blob")
    assert layout.label_places()[1][0] > blob_left + blob_width  # the loop's label: beside


def test_matplotlib_labels_are_text_not_markup(tmp_path, no_dot):
    spec = renamed(networks(ROOT / "examples" / "skip_mlp.nndl")[0],
                   {**NASTY, "hidden": "$x^2$ \\alpha"})
    target = tmp_path / "nasty.svg"
    drawing.draw(spec, target)
    text = svg_text(target.read_bytes())
    for name in ('ga"te<&>\\', '"]; evil -> x [label="', '\\"<BR/>', "$x^2$ \\alpha"):
        assert name in text


def test_matplotlib_drawings_are_the_same_bytes_each_time(tmp_path, no_dot):
    network = networks(ROOT / "examples" / "digits.nndl")[0]
    for suffix in (".svg", ".pdf", ".png"):
        first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
        drawing.draw(network, first)
        drawing.draw(network, second)
        assert first.read_bytes() == second.read_bytes(), suffix


def test_cli_errors(tmp_path, capsys):
    example = str(ROOT / "examples" / "xor.nndl")
    code, _, err = run(["graph", example, "-o", str(tmp_path / "net.jpg")], capsys)
    assert code == 2 and "name a .svg, .png, .pdf or .dot file" in err
    code, _, err = run(["graph", str(tmp_path / "missing.nndl"), "-o", "x.dot"], capsys)
    assert code == 2 and "no such file" in err
    two = tmp_path / "two.nndl"
    two.write_text(TWO_NETWORKS)
    code, _, err = run(["graph", str(two), "-o", str(tmp_path / "g.dot")], capsys)
    assert code == 1 and "declares 2 networks (first, second); name one" in err
    code, _, err = run(["graph", str(two), "--network", "third", "-o", "x.dot"], capsys)
    assert code == 1 and "no network `third`" in err
    code, out, err = run(["graph", str(two), "--network", "second", "-o", "-"], capsys)
    assert code == 0 and out.startswith('digraph "second" {') and labels.CYCLE_COLOUR in out
    broken = tmp_path / "broken.nndl"
    broken.write_text("network n {\n  input x[3]\n  output y[2]\n  connect x -> z : full\n}\n")
    code, _, err = run(["graph", str(broken), "-o", str(tmp_path / "b.dot")], capsys)
    assert code == 1 and "unknown group `z`" in err and not (tmp_path / "b.dot").exists()


def test_cli_draws_a_network_that_check_refuses_as_too_large(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NNDL_MEMORY_LIMIT", "64KB")
    target = tmp_path / "reservoir.dot"
    example = str(ROOT / "examples" / "reservoir.nndl")
    assert run(["check", example], capsys)[0] == 1
    code, _, err = run(["graph", example, "-o", str(target)], capsys)
    assert code == 0, err
    dot = target.read_text()
    assert "up to 4," in edges(dot)["g1", "g1"][0] and "900 synapses" in dot


@needs_dot
def test_cli_renders_png_and_svg_with_graphviz_and_says_so(tmp_path, capsys):
    for name in ("digits", "reservoir"):
        target = tmp_path / f"{name}.png"
        code, _, err = run(["graph", str(ROOT / "examples" / f"{name}.nndl"), "-o",
                            str(target)], capsys)
        assert code == 0, err
        assert err == "drew with Graphviz's `dot`\n"
        width, height = png_size(target.read_bytes())
        assert 300 <= width <= 2000 and 300 <= height <= 2000, (width, height)
    target = tmp_path / "reservoir.svg"
    assert run(["graph", str(ROOT / "examples" / "reservoir.nndl"), "-o", str(target)],
               capsys)[0] == 0
    assert b"Generated by graphviz" in target.read_bytes()  # not by matplotlib
    text = svg_text(target.read_bytes())
    for word in ("drive", "blob", "slow", "readout", "feedback", "delay 2", "4,532 synapses"):
        assert word in text


@needs_dot
def test_graphviz_failures_are_reported():
    with pytest.raises(drawing.DrawingError, match="Graphviz's `dot` failed"):
        dot_text.render("digraph { this is not dot", "svg")
    assert subprocess.run(["dot", "-V"], capture_output=True, check=False).returncode == 0
