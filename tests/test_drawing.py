"""Drawing networks (nndl.drawing, `nndlc graph`): DOT text for every example, cycles marked,
labels escaped, Graphviz used when installed and a clear message when it is not."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import nndl
from nndl import drawing, ir
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
            assert drawing.html_text(f"{list(g.shape)}  {g.size:,} neuron") in node.group(1)
            assert f"peripheries={2 if g.role == 'output' else 1}" in node.group(1)
        found = edges(dot)
        assert sum(len(v) for v in found.values()) == len(network.projections)
        cyclic = drawing.cycle_edges(network)
        for p, row in zip(network.projections, summary.projections):
            attrs = next(a for a in found[ids[p.src], ids[p.dst]] if f'tooltip="{p.name}"' in a)
            assert f"{row.synapses:,} synapse" in attrs
            assert (f"delay {p.delay}" in attrs) == (p.delay > 0)
            assert ("style=dashed" in attrs) == (p.delay > 0)
            assert (drawing.CYCLE_COLOUR in attrs) == (p.name in cyclic)
        if HAVE_DOT:
            text = svg_text(drawing.render(dot, "svg"))
            for g in network.groups:
                assert g.name in text


def test_cycles_are_the_connections_inside_a_strongly_connected_component():
    def cyclic(name):
        return drawing.cycle_edges(networks(ROOT / "examples" / f"{name}.nndl")[0])

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
    assert drawing.html_text('a<b>&"c\'') == "a&lt;b&gt;&amp;&quot;c&#39;"
    assert drawing.quoted('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    if HAVE_DOT:
        text = svg_text(drawing.render(dot, "svg"))
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
    monkeypatch.setattr(drawing.shutil, "which", lambda name: None)
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
def test_cli_says_how_to_get_graphviz(tmp_path, capsys, monkeypatch, suffix):
    monkeypatch.setattr(drawing.shutil, "which", lambda name: None)
    target = tmp_path / f"net{suffix}"
    code, _, err = run(["graph", str(ROOT / "examples" / "xor.nndl"), "-o", str(target)],
                       capsys)
    assert code == 1 and not target.exists()
    assert err == (f"error: drawing {suffix} needs Graphviz's `dot` program (apt install "
                   "graphviz / brew install graphviz); `-o net.dot` writes the graph without "
                   "it\n")


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
    assert code == 0 and out.startswith('digraph "second" {') and drawing.CYCLE_COLOUR in out
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
def test_cli_renders_png_and_svg(tmp_path, capsys):
    for name in ("digits", "reservoir"):
        target = tmp_path / f"{name}.png"
        code, _, err = run(["graph", str(ROOT / "examples" / f"{name}.nndl"), "-o",
                            str(target)], capsys)
        assert code == 0, err
        data = target.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
        width, height = struct.unpack(">II", data[16:24])
        assert 300 <= width <= 2000 and 300 <= height <= 2000, (width, height)
    target = tmp_path / "reservoir.svg"
    assert run(["graph", str(ROOT / "examples" / "reservoir.nndl"), "-o", str(target)],
               capsys)[0] == 0
    text = svg_text(target.read_bytes())
    for word in ("drive", "blob", "slow", "readout", "feedback", "delay 2", "4,532 synapses"):
        assert word in text


@needs_dot
def test_graphviz_failures_are_reported():
    with pytest.raises(drawing.DrawingError, match="Graphviz's `dot` failed"):
        drawing.render("digraph { this is not dot", "svg")
    assert subprocess.run(["dot", "-V"], capture_output=True, check=False).returncode == 0
