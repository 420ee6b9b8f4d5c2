"""NIR export and import: NNDL -> NIR -> NNDL gives the same outputs (float64, 1e-12), models
are recognised from their statements, and what NIR cannot hold is refused by name."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import nndl
from nndl.frontend import load_program
from nndl.interchange import ExportError, models

nir = pytest.importorskip("nir")

from nndl.interchange import from_nir, to_nir, write_nir  # noqa: E402
from nndl.interchange.nir_export import DenseWarning  # noqa: E402

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.nndl"))

LIF = """
neuron lif {
    param leak = 0.9
    param threshold = 1.0
    state v = 0.0
    v   = leak * v + net
    out = step(v - threshold)
    v   = v * (1 - out)              # reset to zero, as snnTorch's reset_mechanism="zero"
}
"""

NETWORKS = {
    "lif_conv": LIF + """
network spiking {
    seed 3
    input  x[2, 6, 6]
    group  conv[4, 6, 6] : lif(leak=0.8)
    group  pool[4, 3, 3] : lif(threshold=0.5)
    group  h[20]         : lif
    output y[3]          : lif(threshold=0.5)
    connect x    -> conv : local(radius=1, shared=true) weight normal(0.3, 0.5)  # a plus sign
    connect conv -> pool : local(radius=0.5, metric=chebyshev, shared=true)  # 2x2, stride 2
    connect pool -> h    : random(p=0.5) weight normal(0.2, 1)
    connect h    -> h    : fan_in(k=3) delay 2
    connect h    -> y    : full weight normal(0.2, 0.5)
}
""",
    "integrators": """
neuron li {
    param leak = 0.7
    state v = 0.0
    v   = net * 0.5 + v * leak + 0.1
    out = v
}
neuron counter {
    state v = 0.0
    v   = v + 2 * net
    out = v
}
neuron cuba {
    param alpha = 0.6
    param beta = 0.8
    state i = 0.0
    state v = 0.0
    i   = alpha * i + net
    v   = beta * v + i
    out = 1.0 if v > 0.7 else 0.0
    v   = -0.2 if out > 0 else v
}
network integrators {
    seed 5
    input  x[5]
    group  a[4] : li
    group  b[5] : counter
    group  c[6] : cuba
    group  s[3] : step
    output y[6] : identity
    connect x -> a : full
    connect x -> b : one_to_one weight normal(0, 1) as diag
    connect x -> c : full weight normal(0, 2)
    connect a -> s : full
    connect b -> y : full
    connect c -> y : full delay 1
    connect s -> y : full
    connect y -> c : full delay 3 as feedback
}
""",
    "conv1d": LIF + """
network line {
    seed 2
    input  signal[12]
    group  maps[3, 12] : lif(leak=0.5)
    output half[2, 6]  : lif
    connect signal -> maps : local(radius=1, shared=true, axes=1)
    connect maps   -> half : local(radius=1.5, metric=chebyshev, shared=true, axes=1)
}
""",
}


def exportable(path) -> bool:
    try:
        to_nir(load_program(path).networks[0])
        return True
    except ExportError:
        return False


def run(path, weights, inputs, ticks):
    net = nndl.compile(path, backend="numpy", cache=False).Network(dtype="float64")
    if weights is not None:
        net.load(weights)
    return net, net.run(inputs, ticks=ticks, every_tick=True)


def round_trip(path: Path, tmp_path: Path, ticks: int = 30):
    original = nndl.compile(path, backend="numpy", cache=False).Network(dtype="float64")
    with warnings.catch_warnings():  # sparse connections are written dense: said elsewhere
        warnings.simplefilter("ignore", DenseWarning)
        graph = write_nir(tmp_path / "net.nir", original)
    imported = from_nir(tmp_path / "net.nir")
    nndl_path, weights = imported.write(tmp_path / "net.nndl")
    rng = np.random.default_rng(0)
    inputs = {g.name: rng.normal(0, 1.5, (ticks, 3, *g.shape)) for g in original.SPEC.inputs}
    want = original.run(inputs, ticks=ticks, every_tick=True)
    _, got = run(nndl_path, weights, inputs, ticks)
    assert set(got) == set(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-12)
    return graph, imported, want


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_round_trip_gives_the_same_outputs(name, tmp_path):
    path = tmp_path / f"{name}.nndl"
    path.write_text(NETWORKS[name])
    graph, imported, outputs = round_trip(path, tmp_path)
    assert any(np.any(v) for v in outputs.values())  # something happened
    assert nir.read(tmp_path / "net.nir").nodes.keys() == graph.nodes.keys()


@pytest.mark.parametrize("path", [p for p in EXAMPLES if exportable(p)], ids=lambda p: p.name)
def test_every_example_nir_holds_round_trips(path, tmp_path):
    round_trip(path, tmp_path)


def test_the_examples_nir_holds():
    held = sorted(p.stem for p in EXAMPLES if exportable(p))
    assert held == ["delay_line", "oja_pca", "perceptron"]  # the others use rate activations


def test_the_nodes_are_the_primitives_named(tmp_path):
    path = tmp_path / "net.nndl"
    path.write_text(NETWORKS["lif_conv"])
    with pytest.warns(UserWarning, match="dense matrices with zeros"):
        graph = to_nir(load_program(path).networks[0], dt=1e-3)
    kinds = {k: type(v).__name__ for k, v in graph.nodes.items()}
    assert kinds["x"] == "Input" and kinds["y_output"] == "Output"
    assert kinds["x_to_conv"] == kinds["conv_to_pool"] == "Conv2d"
    assert kinds["conv"] == "LIF" and kinds["h_to_h_delay"] == "Delay"
    assert kinds["pool_to_h"] == "Affine" and kinds["h_to_h"] == "Linear"
    # the disc of radius 1 is a 3x3 kernel with its corners masked
    kernel = graph.nodes["x_to_conv"].weight
    assert kernel.shape == (4, 2, 3, 3) and np.all(kernel[:, :, 0, 0] == 0)
    assert np.all(kernel[:, :, 1, 1] != 0)
    assert graph.nodes["conv_to_pool"].stride == (2, 2)
    np.testing.assert_allclose(graph.nodes["h_to_h_delay"].delay, 2e-3)
    lif = graph.nodes["conv"]  # leak 0.8 = 1 - dt/tau, gain 1 = r dt/tau
    np.testing.assert_allclose(lif.tau, 1e-3 / 0.2)
    np.testing.assert_allclose(lif.r, 5.0)
    assert ("h_to_h", "h") in graph.edges and ("h", "h_to_h_delay") in graph.edges  # the cycle


@pytest.mark.parametrize("model, kind", [
    ("v = leak * v + net\n out = v", "LI"),
    ("v = v + net\n out = v", "I"),
    ("v = leak * v + net\n out = step(v - 1)\n v = 0.0 if out > 0 else v", "LIF"),
    ("v = v + 0.5 * net\n out = v > 1\n v = v - out * v", "IF"),
])
def test_models_are_recognised_from_their_statements(model, kind):
    program = load_program_text(one_model_network(model))
    network = program.networks[0]
    assert models.dynamics(network.model("m"), network.group("y").params, "y").kind == kind


@pytest.mark.parametrize("model, why", [
    ("v = leak * v + net\n out = tanh(v)", "neither its potential nor a spike"),
    ("v = leak * v + net\n out = step(v - 1)\n v = v - out", "reset by subtraction"),
    ("v = leak * v + net\n out = step(v - 1)", "must be set to a reset value"),
    ("v = leak * v * v + net\n out = v", "is not updated as"),
    ("v = leak * v + net\n out = 1.0 if v >= 1 else 0.0\n v = 0.0 if out > 0 else v",
     "strictly above"),
    ("v = 1.5 * v + net\n out = v", "grows by itself"),
])
def test_models_nir_lacks_are_refused_naming_the_group(model, why):
    program = load_program_text(one_model_network(model))
    with pytest.raises(ExportError, match=why) as e:
        to_nir(program.networks[0])
    assert "group `y`" in str(e.value) and "`m`" in str(e.value)


@pytest.mark.parametrize("example, why", [
    ("xor", "group `hidden` uses `tanh`"),
    ("reservoir", "group `blob` uses `tanh`"),
    ("bursting", "neuron model `adaptive`"),
    ("blob", "group `blob` feeds its own neurons without a delay"),
])
def test_examples_nir_cannot_hold_are_refused(example, why):
    with pytest.raises(ExportError, match=why):
        to_nir(load_program(ROOT / "examples" / f"{example}.nndl").networks[0])


def test_poisson_is_refused_for_its_random_numbers():
    program = load_program_text("network n { input x[1]\n group p[3] : poisson\n"
                                "output y[1] : identity\n connect p -> y : full }")
    with pytest.raises(ExportError, match="draws random numbers"):
        to_nir(program.networks[0])


def test_the_imported_file_is_readable_nndl(tmp_path):
    path = tmp_path / "lif.nndl"
    path.write_text(NETWORKS["lif_conv"])
    with pytest.warns(UserWarning):
        imported = from_nir(to_nir(load_program(path).networks[0], dt=1e-3))
    text = imported.source
    assert "one tick is dt = 0.001 s" in text and "neuron lif {" in text
    assert "group  conv[4, 6, 6] : lif(leak=0.8" in text
    assert "connect x -> conv : local(radius=1.0, metric=chebyshev, shared=true)" in text
    assert "connect h -> h : full delay 2" in text
    # it compiles for the OO backend, neuron by neuron
    source = nndl.backends.generate(load_program_text(text).networks[0], "oo")
    compile(source, "imported_oo.py", "exec")


def one_model_network(statements: str) -> str:
    return (f"neuron m {{\n param leak = 0.9\n state v = 0.0\n {statements}\n}}\n"
            "network n { input x[1]\n output y[1] : m\n connect x -> y : full }")


def load_program_text(text):
    from nndl.frontend import check_text

    program, diags = check_text(text)
    diags.raise_if_errors()
    return program


def test_a_graph_from_elsewhere_is_read(tmp_path):
    """A subgraph with a delay-free recurrent edge (as snnTorch writes RLeaky), a Scale, and
    weights straight into an Output."""
    rng = np.random.default_rng(3)
    w_in, w_rec, w_out = rng.normal(size=(4, 3)), rng.normal(size=(4, 4)), rng.normal(size=(2, 4))
    lif = nir.LIF(tau=np.full(4, 2e-3), r=np.full(4, 20.0), v_leak=np.zeros(4),
                  v_threshold=np.full(4, 0.5))
    sub = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([4])}),
                              "lif": lif, "w_rec": nir.Linear(weight=w_rec),
                              "output": nir.Output(output_type={"output": np.array([4])})},
                       edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"),
                              ("lif", "output")])
    graph = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([3])}),
        "fc": nir.Affine(weight=w_in, bias=np.full(4, 0.1)),
        "rnn": sub,
        "half": nir.Scale(scale=np.full(4, 0.5)),
        "readout": nir.Linear(weight=w_out),
        "output": nir.Output(output_type={"output": np.array([2])})},
        edges=[("input", "fc"), ("fc", "rnn"), ("rnn", "half"), ("half", "readout"),
               ("readout", "output")], metadata={"dt": 1e-3})
    imported = from_nir(graph, name="elsewhere")
    text = imported.source
    assert "input  input_[3]" in text and "output output_[2] : identity bias none" in text
    assert "group  rnn_lif[4] : lif(leak=0.5, gain=10.0" in text
    assert "connect rnn_lif -> rnn_lif : full delay 1 as rnn_w_rec" in text
    assert any("read as one tick late" in n for n in imported.notes)
    np.testing.assert_array_equal(imported.arrays["rnn_lif.bias"], np.full(4, 0.1))
    # the Scale's 0.5 has gone into the half group's input, the identity of `rnn_lif -> half`
    path, weights = imported.write(tmp_path / "elsewhere.nndl")
    net = nndl.compile(path, backend="numpy", cache=False).Network(dtype="float64")
    net.load(weights)
    x = rng.normal(0, 2, (20, 2, 3))
    got = net.run({"input_": x}, ticks=20, every_tick=True)["output_"]
    # NIR's equations, stepped by forward Euler at dt, the recurrent edge one tick late
    v, spikes, want = np.zeros((2, 4)), np.zeros((2, 4)), []
    for t in range(20):
        # leak = 1 - dt/tau = 0.5, gain = r dt/tau = 10
        v = 0.5 * v + 10.0 * (x[t] @ w_in.T + 0.1 + spikes @ w_rec.T)
        spikes = (v > 0.5).astype(float)
        v = np.where(spikes > 0, 0.0, v)
        want.append((0.5 * spikes) @ w_out.T)
    np.testing.assert_allclose(got, np.stack(want), rtol=1e-12, atol=1e-12)


def test_a_module_a_network_and_the_ir_export_alike():
    path = ROOT / "examples" / "delay_line.nndl"
    module = nndl.compile(path, backend="oo", cache=False)
    graphs = [to_nir(x) for x in (module, module.Network(), load_program(path).networks[0])]
    weights = [[n.weight for k, n in g.nodes.items() if hasattr(n, "weight")] for g in graphs]
    assert all(len(w) == 3 for w in weights)
    for other in weights[1:]:
        for a, b in zip(weights[0], other):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="expected an ir.Network"):
        to_nir("delay_line.nndl")


def test_a_parameter_that_differs_between_neurons_is_refused(tmp_path):
    text = """
    neuron lif {
        param leak = 0.9
        state v = 0.0
        v   = leak * v + net
        out = 1.0 if v > 1.0 else 0.0
        v   = 0.0 if v > 1.0 else v
    }
    network varied {
        input  x[3]
        output y[3] : lif(leak = 0.8 + 0.05 * index)
        connect x -> y : full
    }
    """
    path = tmp_path / "varied.nndl"
    path.write_text(text)
    with pytest.raises(ExportError, match="parameter `leak` differs from neuron to neuron"):
        to_nir(nndl.compile(path, backend="numpy", cache=False).Network())
