"""Summaries of networks (nndl.summary): text for print, HTML for Jupyter, numbers that match the
weight file, bounds instead of building for a network too large to build."""

from __future__ import annotations

import json
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import nndl
from nndl import ir
from nndl.frontend import check_text, read_source
from nndl.runtime import synapses as synapses_module
from nndl.summary import describe, html_summary, text_summary

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.nndl"))


class WellFormed(HTMLParser):
    """Every tag closed in order (the summary uses no void elements); the text, for reading."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.data, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)
        self.tags.append(tag)

    def handle_startendtag(self, tag, attrs):
        raise AssertionError(f"unexpected self-closing <{tag}/>")

    def handle_endtag(self, tag):
        assert self.stack, f"</{tag}> closes nothing"
        assert self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1]}>"
        self.stack.pop()

    def handle_data(self, data):
        self.data.append(data)


def parse_html(text: str) -> WellFormed:
    parser = WellFormed()
    parser.feed(text)
    parser.close()
    assert parser.stack == [], f"unclosed: {parser.stack}"
    return parser


def quietly(make):
    with warnings.catch_warnings():  # blob's fan_in shortfall: reported by nndlc check
        warnings.simplefilter("ignore")
        return make()


# each network of each example (a file may declare several)
EXAMPLE_NETWORKS = [(path, name) for path in EXAMPLES
                    for name in re.findall(r"^network\s+(\w+)", path.read_text(), re.M)]


@pytest.mark.parametrize("path, network", EXAMPLE_NETWORKS,
                         ids=[f"{p.stem}:{n}" for p, n in EXAMPLE_NETWORKS])
def test_every_example_summarises_on_every_backend(path, network, backend, tmp_path):
    module = nndl.compile(path, backend=backend, network=network)
    net = quietly(module.Network)
    spec = module.Network.SPEC
    text = str(net)
    assert text == text_summary(net) == net.summary().text()
    assert text.startswith(f"network {spec.name}  ({backend} backend, {net.dtype}, "
                           f"seed {net.seed}; ")
    for g in spec.groups:
        assert f"\n  {g.name} " in text
    for p in spec.projections:
        assert f"\n  {p.name} " in text and f"{p.src} -> {p.dst}" in text
    for r in spec.regimes:
        assert f"\n  {r.name}: " in text
    assert "memory:" in text and "allowed" in text
    assert max(len(line) for line in text.splitlines()) < 200
    # repr stays one line; Jupyter gets tables
    assert "\n" not in repr(net) and repr(net).startswith(f"<{spec.name} Network ({backend}")
    page = net._repr_html_()
    assert page == html_summary(net)
    parsed = parse_html(page)
    assert parsed.tags.count("table") == 3
    words = "".join(parsed.data)
    for g in spec.groups:
        assert g.name in words
    # the module (or its Network class) describes what Network() builds: the same numbers
    from_module = describe(module)
    assert describe(module.Network).text() == from_module.text()
    assert from_module.projections == net.summary().projections
    assert from_module.groups == net.summary().groups
    assert from_module.memory == net.summary().memory
    assert from_module.text() == text


@pytest.mark.parametrize("name", ["digits", "reservoir", "bursting", "circular_conv", "blob"])
def test_numbers_match_the_weight_file(name, backend, tmp_path):
    module = nndl.compile(ROOT / "examples" / f"{name}.nndl", backend=backend)
    net = quietly(lambda: module.Network(seed=4, dtype="float32"))
    summary = net.summary()
    net.save(tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz") as f:
        arrays = {key: f[key] for key in f.files if key != "__meta__"}
    for row in summary.projections:
        assert row.exact
        assert row.synapses == arrays[f"{row.name}.pre"].size == arrays[f"{row.name}.post"].size
        assert row.weights == arrays[f"{row.name}.w"].size
    assert summary.synapses == sum(a.size for k, a in arrays.items() if k.endswith(".pre"))
    assert summary.biases == sum(a.size for k, a in arrays.items() if k.endswith(".bias"))
    assert summary.weights == sum(a.size for k, a in arrays.items() if k.endswith(".w"))
    assert summary.parameters == summary.weights + summary.biases
    assert summary.memory.weight_file == sum(a.nbytes for a in arrays.values())
    assert summary.seed == 4 and summary.dtype == "float32"
    for g in summary.groups:
        assert g.biases == (arrays[f"{g.name}.bias"].size if f"{g.name}.bias" in arrays else 0)
    text = summary.text()
    assert f"{summary.synapses:,} synapses" in text
    assert f"{summary.parameters:,} trainable parameters" in text
    # the module's summary for the same seed predicts the same numbers before anything is built
    predicted = describe(module, seed=4)
    assert predicted.projections == summary.projections
    if backend == "numpy":  # its default dtype is float32, like this network's
        assert predicted.memory.weight_file == summary.memory.weight_file


def test_digits_in_detail():
    module = nndl.compile(ROOT / "examples" / "digits.nndl", backend="numpy")
    s = describe(module)
    conv = s.projections[0]
    assert (conv.name, conv.src, conv.dst) == ("conv", "image", "maps")
    assert conv.rule == "local(radius=1, metric=chebyshev, shared=true)"
    assert (conv.synapses, conv.weights) == (7744, 144)  # one 3x3 kernel per feature map
    assert [g.model for g in s.groups] == ["-", "relu", "relu", "softmax"]
    assert s.neurons == 1226 and s.synapses == 140_736 and s.biases == 1162
    assert s.parameters == 144 + 131_072 + 1280 + 640 + 1162
    assert s.regimes == (("supervised: data digits; loss cross_entropy; adam(lr=0.0005); "
                          "batch 16, 40 epochs, 1 tick"),)
    assert set(s.memory.training) == {"supervised"}
    assert s.memory.training["supervised"][1:] == (16, 1)
    assert "  conv           image -> maps" in s.text()


def test_neuron_models_and_neuron_level_steps_are_named():
    s = describe(nndl.compile(ROOT / "examples" / "bursting.nndl", backend="numpy"))
    models = {g.name: g.model for g in s.groups}
    assert models["damped"] == "neuron bursting(leak=0.9)"
    assert models["adapting"].startswith("neuron adaptive(leak=")  # every parameter
    assert "recovery=0.95" in models["adapting"] and "strength=0.5" in models["adapting"]
    blob = describe(nndl.compile(ROOT / "examples" / "blob.nndl", backend="numpy"))
    assert [g.neuron_level for g in blob.groups] == [False, True, False]
    assert "tanh (neuron by neuron)" in blob.text()


def test_the_ir_alone_and_wrong_arguments():
    program, _ = check_text(read_source(ROOT / "examples" / "reservoir.nndl"), "reservoir.nndl")
    s = describe(program.networks[0])
    assert s.backend is None and s.dtype == "float32" and "(IR, float32, seed 9;" in s.text()
    assert describe(program).text() == s.text()
    with pytest.raises(TypeError, match="describe\\(\\) takes"):
        describe("examples/reservoir.nndl")
    net = nndl.compile(ROOT / "examples" / "xor.nndl", backend="numpy").Network()
    with pytest.raises(ValueError):
        describe(net, seed=3)


def test_a_network_is_described_as_it_is_now(tmp_path):
    """After pruning (here: fewer synapses in a loaded file), the summary counts what is held."""
    module = nndl.compile(ROOT / "examples" / "digits_pruning.nndl", backend="numpy")
    net = module.Network()
    arrays = net.parameters()
    keep = np.arange(arrays["maps->hidden.pre"].size) % 2 == 0
    for key in ("pre", "post", "w"):
        arrays[f"maps->hidden.{key}"] = arrays[f"maps->hidden.{key}"][keep]
    from nndl.runtime import weightfile
    weightfile.save(tmp_path / "pruned.npz", arrays, net.metadata())
    net.load(tmp_path / "pruned.npz")
    row = {p.name: p for p in net.summary().projections}["maps->hidden"]
    assert row.synapses == row.weights == 131_072 // 2
    assert describe(module).projections[1].synapses == 131_072  # the module: as built


TOO_LARGE = """
network huge {
    input  x[1000000]
    group  h[1000000] : relu
    output y[10]
    connect x -> h : random(p=0.5)
    connect h -> h : local(radius=2, shared=true) delay 1
    connect h -> y : full
}
"""


def test_a_network_too_large_to_build_is_summarised_with_bounds(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("built a network too large to build")

    monkeypatch.setattr(synapses_module, "build", refuse)
    program, diags = check_text(TOO_LARGE, "huge.nndl")
    assert program is not None, diags.render()
    s = describe(program.networks[0])
    assert not s.built and not s.exact
    rows = {p.name: p for p in s.projections}
    assert rows["x->h"].synapses > 4 * 10**11 and not rows["x->h"].exact
    assert rows["x->h"].weights == rows["x->h"].synapses
    assert rows["h->h"].weights is None  # a shared kernel's size needs building
    assert rows["h->y"].exact and rows["h->y"].synapses == 10**7
    text = s.text()
    assert f"up to {rows['x->h'].synapses:,}" in text
    assert "weights unknown until built" in text and "not built: network `huge` needs" in text
    assert s.memory.weight_file is None
    parse_html(s.html())


def test_names_are_escaped_in_html():
    program, _ = check_text(read_source(ROOT / "examples" / "skip_mlp.nndl"), "skip_mlp.nndl")
    spec = renamed(program.networks[0], {"gate": 'g<a>"te&\'', "x->y": "</table><b>"})
    page = describe(spec).html()
    parsed = parse_html(page)
    words = "".join(parsed.data)
    assert 'g<a>"te&\'' in words and "</table><b>" in words
    assert "<b>" not in page and 'g<a>' not in page


def renamed(spec: ir.Network, names: dict[str, str]) -> ir.Network:
    """The IR with groups or projections renamed (to names the language would refuse)."""
    text = spec.to_json()
    for old, new in names.items():
        text = text.replace(json.dumps(old), json.dumps(new))
    return ir.Network.from_json(text)
