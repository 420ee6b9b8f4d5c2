"""ONNX export: onnx.checker passes and onnxruntime gives NNDL's outputs (float32, 1e-5) for
every example ONNX can run, one tick and unrolled; sparse connections stay sparse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nndl
from nndl.frontend import check_text, load_program
from nndl.interchange import ExportError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from nndl.interchange import to_onnx  # noqa: E402

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.nndl"))
# the first reason the exporter finds, where an example has several (bandit also draws)
REFUSED = {"blob": "group `blob` feeds its own neurons without a delay",
           "bandit": "group `arms` feeds its own neurons without a delay"}


def draws(path: Path) -> bool:
    """Whether an example's network draws random numbers (Poisson sources, noise), which ONNX
    cannot draw as NNDL does."""
    return any(m.draws for m in load_program(path).networks[0].models)


REFUSED = {**{p.stem: "draws random numbers" for p in EXAMPLES if draws(p)}, **REFUSED}


def outputs_agree(path: Path, ticks: int, batch: int = 3, network: str | None = None):
    module = nndl.compile(path, backend="numpy", network=network, cache=False)
    net = module.Network(dtype="float64")
    model = to_onnx(net, ticks=ticks)
    onnx.checker.check_model(model, full_check=True)
    rng = np.random.default_rng(1)
    inputs = {g.name: rng.normal(0, 1, (ticks, batch, *g.shape)) for g in net.SPEC.inputs}
    want = net.run(inputs, ticks=ticks)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {k: (v if ticks > 1 else v[0]).astype(np.float32) for k, v in inputs.items()}
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed)))
    assert set(got) == set(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-5)
    return model


# every network of every example that ONNX can hold (a file may declare several)
EXPORTABLE = [(p, n.name) for p in EXAMPLES if p.stem not in REFUSED
              for n in load_program(p).networks]


@pytest.mark.parametrize("path, network", EXPORTABLE, ids=lambda v: getattr(v, "name", v))
@pytest.mark.parametrize("ticks", [1, 4])
def test_onnxruntime_gives_nndls_outputs(path, network, ticks):
    outputs_agree(path, ticks, network=network)


@pytest.mark.parametrize("name, why", sorted(REFUSED.items()))
def test_what_onnx_cannot_run_is_refused(name, why):
    with pytest.raises(ExportError, match=why):
        to_onnx(load_program(ROOT / "examples" / f"{name}.nndl").networks[0])


def operators(model) -> list[str]:
    return [n.op_type for n in model.graph.node]


def test_each_kind_of_connection_is_its_operator():
    model = outputs_agree(ROOT / "examples" / "digits.nndl", ticks=1)
    assert operators(model).count("Conv") == 1 and "MatMul" in operators(model)
    model = outputs_agree(ROOT / "examples" / "reservoir.nndl", ticks=5)
    kinds = operators(model)
    assert "Gather" in kinds and "ReduceSum" in kinds
    # the sparse weights are (targets, largest fan-in), never sources x targets
    sizes = [np.prod(t.dims) for t in model.graph.initializer]
    assert max(sizes) < 300 * 300 / 2


def test_a_wrapped_local_rule_is_sparse_not_conv(tmp_path):
    path = tmp_path / "ring.nndl"
    path.write_text("network ring { seed 1\n input x[10]\n output y[2, 10] : tanh\n"
                    " connect x -> y : local(radius=1, wrap=true, shared=true) }\n")
    model = outputs_agree(path, ticks=1)
    assert "Conv" not in operators(model) and "Gather" in operators(model)


def test_model_statements_become_operators(tmp_path):
    path = tmp_path / "models.nndl"
    path.write_text("""
neuron odd {
    param k = 1.5
    state v = 0.0
    state c = 0.0
    v   = clip(0.5 * v + net, -2, 2) + abs(min(v, 0.1)) ** 2
    c   = (c + 1) % 3
    out = max(v, -1.0) if not (v > k and c != 1) else exp(-v) - sqrt(c) + floor(v) / ceil(k)
}
network models { seed 2
    input  x[4]
    group  h[6] : odd(k=0.2)
    group  s[6] : leaky(leak=0.5)
    output y[3] : sigmoid
    connect x -> h : full
    connect h -> s : one_to_one
    connect s -> y : full
    connect y -> h : full delay 1
}
""")
    outputs_agree(path, ticks=6)


def test_the_model_is_written_and_read_back(tmp_path):
    from nndl.interchange import write_onnx

    net = load_program(ROOT / "examples" / "xor.nndl").networks[0]
    write_onnx(tmp_path / "xor.onnx", net)
    model = onnx.load(tmp_path / "xor.onnx")
    assert [i.name for i in model.graph.input] == ["x"]
    assert [o.name for o in model.graph.output] == ["y"]


def test_rand_is_refused():
    program, diags = check_text("network n { input x[1]\n group p[3] : poisson\n"
                                "output y[1] : identity\n connect p -> y : full }")
    with pytest.raises(ExportError, match="random numbers"):
        to_onnx(program.networks[0])


PER_NEURON = """
neuron leaking {
    param leak = 0.9
    param gain = 1.0 trainable
    state v = 0.0
    v   = leak * v + net
    out = tanh(gain * v)
}
network per_neuron {
    input  x[3]
    output y[3] : leaking(leak = 0.5 + 0.1 * index + 0.05 * rand())
    connect x -> y : full
}
"""


def test_per_neuron_and_trained_parameters_are_exported_as_the_network_holds_them(tmp_path):
    """A parameter drawn per neuron goes to ONNX as one value per neuron, and a trainable one
    as the network holds it now (changed here as training would), not as the source wrote it."""
    path = tmp_path / "per_neuron.nndl"
    path.write_text(PER_NEURON)
    net = nndl.compile(path, backend="numpy", cache=False).Network(dtype="float64")
    params = net.parameters()
    assert np.ptp(params["y.leak"]) > 0.1
    net.save(tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz") as held:
        arrays = dict(held)
    arrays["y.gain"] = np.array([1.7])  # as training would leave it
    np.savez(tmp_path / "trained.npz", **arrays)
    net.load(tmp_path / "trained.npz")
    model = to_onnx(net, ticks=4)
    x = np.random.default_rng(2).normal(size=(4, 2, 3))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"x": x.astype(np.float32)})
    np.testing.assert_allclose(got, net.run({"x": x}, ticks=4)["y"], rtol=1e-5, atol=1e-5)
