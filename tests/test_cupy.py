"""The CuPy backend: its CUDA compiles (nvcc), and its generated modules compute what the NumPy
backend computes — on a GPU with CuPy where there is one, else on the CPU through
tests/cuda_emulation.py (the kernels' own text built with g++).

float64 runs agree with NumPy's to DESIGN.md's 1e-9, float32 runs with NumPy's float64 to 1e-4:
outputs, losses, gradients, short training runs, local rules and rewiring, on every example and
on the generated networks of test_properties.py and test_recurrent_properties.py.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from string import Template

import cuda_emulation
import numpy as np
import pytest
from conftest import draw_examples
from test_codegen_safety import HOSTILE, LITERALS, PLACES, packed
from test_properties import rule_networks
from test_recurrent_properties import recurrent_networks

from nndl import backends
from nndl.commands.cli import main
from nndl.compiler import module_from_source
from nndl.diagnostics import NNDLError
from nndl.commands.equivalence import compare, random_inputs, scaled_difference
from nndl.frontend import check_text, read_source
from nndl.runtime.build import BuildError, NNDLWarning

EXAMPLES = sorted(Path(__file__).parent.parent.glob("examples/*.nndl"))
TOLERANCE = {"float64": 1e-9, "float32": 1e-4}


def networks_of(path: Path):
    program, diagnostics = check_text(read_source(path), str(path))
    diagnostics.raise_if_errors()
    return program.networks


def cuda_of(source: str) -> str:
    """The CUDA C a generated CuPy module holds."""
    return source.split("CUDA = '''\n", 1)[1].split("'''", 1)[0]


@pytest.fixture
def emulated(monkeypatch):
    """Generated CuPy modules import CuPy where it finds a GPU, else the CPU stand-in: without
    a GPU these tests check the kernels' numbers on the CPU, with one on the GPU."""
    if backends.unavailable("cupy"):
        if shutil.which("g++") is None:
            pytest.skip(f"neither CuPy on a GPU ({backends.unavailable('cupy')}) nor g++ to "
                        "emulate one")
        monkeypatch.setitem(sys.modules, "cupy", cuda_emulation.fake_cupy())


def modules(network, names=("numpy", "cupy")) -> dict:
    return {name: module_from_source(backends.generate(network, name),
                                     f"nndl_test_{name}_{network.name}") for name in names}


def build(module, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NNDLWarning)
        return module.Network(**options)


def assert_close(actual: dict, expected: dict, tolerance: float, context: str) -> None:
    assert sorted(actual) == sorted(expected), context
    for key, value in expected.items():
        assert np.shape(actual[key]) == np.shape(value), (key, context)
        difference = scaled_difference(np.asarray(actual[key], np.float64), np.asarray(value))
        assert difference <= tolerance, (key, difference, context)


def run_and_grad(net, network, ticks: int = 3, batch: int = 4) -> tuple[dict, dict]:
    """Outputs at every tick, and the mse loss and its gradients on fixed random data."""
    batch = batch if network.inputs else 1  # a network without inputs runs one sample
    inputs = random_inputs(network, batch, ticks, 0)
    rng = np.random.default_rng(1)
    targets = {g.name: rng.normal(size=(ticks, batch) + g.shape) for g in network.outputs}
    outputs = net.run(inputs, ticks=ticks, every_tick=True)
    loss, grads = net.loss_and_grad(inputs, targets, loss="mse", every_tick=True, ticks=ticks)
    return outputs, {"loss": np.asarray(loss), **grads}


# ---- the generated CUDA compiles ------------------------------------------------------------


def nvcc_architecture() -> str | None:
    """The oldest virtual architecture this nvcc knows with double atomicAdd (6.0 or newer)."""
    listed = subprocess.run(["nvcc", "--list-gpu-arch"], capture_output=True, text=True).stdout
    known = sorted(int(a.split("_")[1]) for a in listed.split() if a.startswith("compute_"))
    usable = [a for a in known if a >= 60]
    return f"compute_{usable[0]}" if usable else None


def compile_ptx(folder: Path, sources: dict[str, str], reals=("float", "double")) -> list[Path]:
    """Each CUDA source for each element type, in one `nvcc --ptx` run (the device compiler, as
    CuPy's NVRTC runs it on a GPU machine); fails with nvcc's errors. The .cu files written."""
    files = []
    for name, code in sources.items():
        for real in reals:
            files.append(folder / f"{name}_{real}.cu")
            files[-1].write_text(f"typedef {real} real;\n{code}")
    done = subprocess.run(["nvcc", "--ptx", f"-arch={nvcc_architecture()}",
                           *(f.name for f in files)], cwd=folder, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    return files


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_kernel_compiles_with_nvcc(path, tmp_path):
    """Each network's CUDA, for float and double, in one nvcc run per example (to PTX: the
    device compiler, as CuPy's NVRTC runs it on a GPU machine)."""
    files = compile_ptx(tmp_path, {network.name: cuda_of(backends.generate(network, "cupy"))
                                   for network in networks_of(path)})
    assert all(f.with_suffix(".ptx").exists() for f in files)


def accepted_names(place: str) -> list[str]:
    """The hostile names of test_codegen_safety.py that the front end takes in `place`."""
    taken = []
    for name in HOSTILE:
        _, diagnostics = check_text(Template(PLACES[place]).substitute(N=name), "h.nndl")
        try:
            diagnostics.raise_if_errors()
        except NNDLError:
            continue
        taken.append(name)
    return [n for n in taken if n not in LITERALS + ("out",)]


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
def test_kernels_with_hostile_model_names_compile_with_nvcc(tmp_path):
    """Model, parameter, state and temporary names that are CUDA and C++ keywords, CUDA's own
    names, Python's and the generated code's: all in one nvcc run."""
    sources = {}
    kernels_own = ["net_in", "in_v_net", "count_v_x", "v_net", "result0", "noise_tick"]
    for place in ("model", "param", "state", "temporary"):
        names = accepted_names(place) + (kernels_own if place != "model" else [])
        program, diagnostics = check_text(packed(place, list(dict.fromkeys(names))), "h.nndl")
        diagnostics.raise_if_errors()
        sources[place] = cuda_of(backends.generate(program.networks[0], "cupy"))
    compile_ptx(tmp_path, sources, reals=("float",))


# ---- the CuPy modules on the CPU: the same numbers as NumPy ---------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_computes_what_numpy_computes(path, emulated):
    """Outputs at every tick, the loss and every gradient: float64 to 1e-9, float32 to 1e-4
    of NumPy's float64."""
    for network in networks_of(path):
        made = modules(network)
        seed = network.seed
        reference = run_and_grad(build(made["numpy"], seed=seed, dtype="float64"), network)
        for dtype, tolerance in TOLERANCE.items():
            net = build(made["cupy"], seed=seed, dtype=dtype)
            outputs, grads = run_and_grad(net, network)
            assert_close(outputs, reference[0], tolerance, f"{network.name} {dtype} outputs")
            assert_close(grads, reference[1], tolerance, f"{network.name} {dtype} gradients")


# ---- `local` between groups of one grid: the stencil kernels ---------------------------------

STENCILS = {"examples/retina.nndl": ["photoreceptors->on_centre"],
            "examples/circular_conv.nndl": ["image->features"],
            "examples/digits.nndl": ["conv"], "benchmarks/w2_local.nndl": ["image->hidden"],
            "examples/signal_conv1d.nndl": ["signal->features"]}


@pytest.mark.parametrize("path", sorted(STENCILS))
def test_local_rules_on_one_grid_get_the_stencil_kernels(path, capsys):
    """Those projections sum, send back and take gradients through the stencil kernels (no
    index table: the offsets of the taps and the grid find the sources); a `local` between
    two grids (stride) keeps the gather; `nndlc ir` says which."""
    name, path = path, Path(__file__).parent.parent / path
    network = networks_of(path)[0]
    source = backends.generate(network, "cupy")
    cuda, body = cuda_of(source), source.split("class Network", 1)[1]
    assert "long long nndl_tap_source(" in cuda
    assert all(f"void {k}(" in cuda for k in ("stencil_sum", "stencil_grads"))
    for p in network.projections:
        stencil = p.name in STENCILS[name]
        assert (f"self.layout[{p.name!r}] = tap_layout(" in body) == stencil, p.name
        assert (f"self.layout[{p.name!r}] = gather_layout(" in body) == \
            (p.rule.kind == "local" and not stencil), p.name
    assert main(["ir", str(path)]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if "cupy: " in line]
    assert sum("cupy: stencil" in line for line in listed) == len(STENCILS[name])


STENCIL_NET = Template("""
network stencil {
    seed 5
    input  img$src
    group  h$src   : tanh
    group  a$dst   : tanh
    output y[3]    : softmax
    connect img -> h : one_to_one
    connect h   -> a : local(radius=$radius, metric=$metric, wrap=$wrap, shared=$shared$axes)
    connect a   -> a : local(radius=1, metric=$metric, wrap=$wrap, shared=$shared$axes) delay 1
    connect a   -> y : full
}
""")
SHAPES = [("[5, 7]", "[5, 7]"), ("[5, 7]", "[2, 5, 7]"), ("[3, 5, 7]", "[2, 5, 7]"),
          ("[7]", "[2, 7]")]


# grids of one and three axes (`local(..., axes=K)`), with feature maps on either side
GRID_SHAPES = [("[9]", "[2, 9]", 1), ("[2, 9]", "[3, 9]", 1), ("[3, 4, 5]", "[3, 4, 5]", 3),
               ("[3, 4, 5]", "[2, 3, 4, 5]", 3), ("[2, 3, 4, 5]", "[3, 4, 5]", 3)]


@pytest.mark.parametrize("shapes", SHAPES, ids=lambda s: f"{s[0]}->{s[1]}")
@pytest.mark.parametrize("radius", [1.5, 9])
@pytest.mark.parametrize("metric", ["euclidean", "chebyshev", "manhattan"])
def test_stencils_compute_what_numpy_computes(shapes, radius, metric, emulated):
    """Every metric, with and without wrap, shared or not, one or several maps, an odd grid and
    a radius wider than it: outputs, loss and every gradient as NumPy's (the stencil's sum,
    its input gradient through `h`, its weight gradient, and a delayed one onto itself)."""
    check_stencils_against_numpy(shapes[0], shapes[1], "", radius, metric)


@pytest.mark.parametrize("shapes", GRID_SHAPES, ids=lambda s: f"{s[0]}->{s[1]},axes={s[2]}")
@pytest.mark.parametrize("radius", [1.5, 9])
@pytest.mark.parametrize("metric", ["euclidean", "chebyshev", "manhattan"])
def test_stencils_on_signals_and_volumes_compute_what_numpy_computes(shapes, radius, metric,
                                                                     emulated):
    """The same on grids of one and three axes."""
    check_stencils_against_numpy(shapes[0], shapes[1], f", axes={shapes[2]}", radius, metric)


def check_stencils_against_numpy(src: str, dst: str, axes: str, radius, metric: str) -> None:
    for wrap, shared in [("false", "false"), ("true", "false"), ("false", "true"),
                         ("true", "true")]:
        text = STENCIL_NET.substitute(src=src, dst=dst, radius=radius, metric=metric,
                                      wrap=wrap, shared=shared, axes=axes)
        program, diagnostics = check_text(text, "stencil.nndl")
        diagnostics.raise_if_errors()
        network = program.networks[0]
        tick = backends.generate(network, "cupy").split("def tick", 1)[1]
        assert all(f"{k}(" in tick for k in ("stencil_sum", "stencil_back", "stencil_grads"))
        assert "gather_sum(" not in tick and "synapse_grads(" not in tick
        made = modules(network)
        reference = run_and_grad(build(made["numpy"], dtype="float64"), network, batch=3)
        for dtype, tolerance in TOLERANCE.items():
            outputs, grads = run_and_grad(build(made["cupy"], dtype=dtype), network, batch=3)
            assert_close(outputs, reference[0], tolerance, text)
            assert_close(grads, reference[1], tolerance, text)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
@pytest.mark.parametrize("src, dst, axes", [("[3, 5, 7]", "[2, 5, 7]", ""),
                                            ("[9]", "[2, 9]", ", axes=1"),
                                            ("[3, 4, 5]", "[2, 3, 4, 5]", ", axes=3")],
                         ids=["2-D", "1-D", "3-D"])
def test_the_stencil_kernels_compile_with_nvcc(tmp_path, src, dst, axes):
    """The stencil's sum, input gradient and weight gradient, for float and double."""
    text = STENCIL_NET.substitute(src=src, dst=dst, radius=1.5, metric="euclidean",
                                  wrap="true", shared="true", axes=axes)
    program, diagnostics = check_text(text, "stencil.nndl")
    diagnostics.raise_if_errors()
    code = cuda_of(backends.generate(program.networks[0], "cupy"))
    assert all(f"void {k}(" in code for k in ("stencil_sum", "stencil_back", "stencil_grads"))
    files = compile_ptx(tmp_path, {"stencil": code})
    assert all(f.with_suffix(".ptx").exists() for f in files)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_regime_trains_as_numpy_does(path, emulated):
    """Two epochs of each regime (gradients, local rules, rewiring) on random data: the same
    weights and synapses afterwards."""
    for network in networks_of(path):
        made = modules(network)
        rules = {rule.name for rule in network.rules if not rule.builtin}
        for regime in network.regimes:
            # a rule written in the language: a short run, float64 (a float32 potential at its
            # threshold may fire where float64's does not: no rounding-sized difference)
            written = any(learn.kind in rules for learn in regime.learn)
            options = dict(ticks=30, batch=2) if written else dict(batch=8)
            trained = {}
            for name, dtype in (("numpy", "float64"), ("cupy", "float64"), ("cupy", "float32")):
                if written and dtype == "float32":
                    continue
                net = build(made[name], seed=network.seed, dtype=dtype)
                inputs, targets = training_data(network, regime)
                net.fit(inputs, targets, regime=regime.name, epochs=2, progress=False, **options)
                trained[name, dtype] = net.parameters()
            reference = trained["numpy", "float64"]
            for (name, dtype), parameters in trained.items():
                assert_close(parameters, reference, TOLERANCE[dtype],
                             f"{network.name} {regime.name} {dtype}")


def training_data(network, regime, samples: int = 16) -> tuple[dict, dict]:
    rng = np.random.default_rng(2)
    inputs = {g.name: rng.normal(size=(samples,) + g.shape) for g in network.inputs}
    targets = {}
    for g in network.outputs:
        if regime.loss == "cross_entropy" or any(r.kind == "perceptron" for r in regime.learn):
            targets[g.name] = rng.integers(0, g.size, size=samples)
        elif regime.loss:
            targets[g.name] = rng.normal(size=(samples,) + g.shape)
    return inputs, targets


LEARNING = """
network learning {
    seed 4
    input  image[6, 6]
    group  maps[2, 6, 6] : tanh
    group  echo[2, 6, 6] : tanh
    output y[3] : step
    connect image -> maps : local(radius=1, shared=true) weight normal(0, 0.3)
    connect maps -> echo : one_to_one delay 2
    connect echo -> y : full weight normal(0, 0.1)
    connect maps -> y : random(p=0.5)
}
train rules {
    ticks 3
    batch 5
    learn image -> maps : hebb(rate=0.05, decay=0.01)
    learn maps -> echo : oja(rate=0.1)
    learn echo -> y : perceptron(rate=0.2)
    learn maps -> y : perceptron(rate=0.1)
    rewire maps -> y : prune(below=0.05) grow(count=4) every 2
}
"""


KEEPING = LEARNING.replace("prune(below=0.05) grow(count=4) every 2",
                           "prune(keep=0.3, over=2) grow(count=4) every 2")


@pytest.mark.parametrize("text", [LEARNING, KEEPING], ids=["below", "keep"])
def test_local_rules_and_rewiring_on_the_device_match_the_runtime(emulated, text):
    """Hebb with decay on a shared kernel, Oja through a delay, two perceptrons on one group
    (its bias moves once), rewiring in between (by a threshold, or to a fraction): cupy's
    kernels against the shared runtime's rules in NumPy, float64 to 1e-9, float32 to 1e-4."""
    program, diagnostics = check_text(text, "learning.nndl")
    diagnostics.raise_if_errors()
    network = program.networks[0]
    made = modules(network)
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(15, 6, 6)), rng.integers(0, 3, size=15)
    trained = {}
    for name, dtype in (("numpy", "float64"), ("cupy", "float64"), ("cupy", "float32")):
        net = build(made[name], dtype=dtype)
        history = net.fit({"image": x}, {"y": y}, epochs=3, progress=False)
        trained[name, dtype] = net.parameters(), history
    reference, history = trained["numpy", "float64"]
    assert history["mistakes"] and history["pruned"] and history["grown"]
    for (name, dtype), (parameters, its_history) in trained.items():
        assert_close(parameters, reference, TOLERANCE[dtype], f"{name} {dtype}")
        assert its_history["mistakes"] == history["mistakes"]


def test_a_weight_file_from_the_gpu_backend_opens_in_the_others(emulated, tmp_path):
    network = networks_of(EXAMPLES[0].parent / "digits.nndl")[0]
    made = modules(network, ("oo", "numpy", "cupy"))
    gpu = build(made["cupy"], seed=5, dtype="float64")
    x = np.random.default_rng(3).normal(size=(2, 8, 8))
    gpu.fit({"image": x}, {"label": np.array([1, 7])}, epochs=1, batch=2, progress=False)
    gpu.save(tmp_path / "w.npz")
    for name in ("oo", "numpy"):
        other = build(made[name], seed=0, dtype="float64")
        other.load(tmp_path / "w.npz")
        assert_close(other.run(image=x), gpu.run(image=x), 1e-9, name)
    back = build(made["cupy"], seed=0, dtype="float64")
    back.load(tmp_path / "w.npz")
    assert_close(back.parameters(), gpu.parameters(), 0.0, "round trip")


def test_model_states_and_continued_runs_match(emulated):
    network = networks_of(EXAMPLES[0].parent / "bursting.nndl")[0]
    made = modules(network)
    nets = {name: build(m, dtype="float64") for name, m in made.items()}
    x = np.random.default_rng(4).normal(size=(5, 3, 1))
    for net in nets.values():
        net.run(current=x, reset=True)
        net.run(current=x, reset=False)
    assert_close({f"{g}.{v}": a for g, s in nets["cupy"].states().items() for v, a in s.items()},
                 {f"{g}.{v}": a for g, s in nets["numpy"].states().items() for v, a in s.items()},
                 1e-9, "states")


def generated(strategy, count: int) -> list[str]:
    texts = draw_examples(strategy, count)
    return [t if isinstance(t, str) else t[0] for t in texts]


@pytest.mark.parametrize("text", generated(rule_networks(), 20) + generated(
    recurrent_networks(), 20), ids=lambda t: "net" + hashlib.sha256(t.encode()).hexdigest()[:8])
def test_generated_networks_compute_what_numpy_computes(text, emulated, tmp_path):
    """Every rule, shared kernels, cycles, delays, neuron models with hostile variable names."""
    program, diagnostics = check_text(text, "generated.nndl")
    diagnostics.raise_if_errors()
    network = program.networks[0]
    made = modules(network)
    try:
        reference = run_and_grad(build(made["numpy"], dtype="float64"), network, batch=2)
    except BuildError as e:  # a sparse rule that makes no synapse for this seed: refused
        assert "makes no synapse" in str(e)
        return
    for dtype in ("float64", "float32"):
        outputs, grads = run_and_grad(build(made["cupy"], dtype=dtype), network, batch=2)
        assert_close(outputs, reference[0], TOLERANCE[dtype], text)
        assert_close(grads, reference[1], TOLERANCE[dtype], text)


def test_nndlc_compile_writes_a_cupy_module_that_runs(emulated, tmp_path):
    out = tmp_path / "xor_cupy.py"
    assert main(["compile", str(EXAMPLES[0].parent / "xor.nndl"), "--backend", "cupy", "-o",
                 str(out)]) == 0
    text = out.read_text()
    assert text.splitlines()[1].startswith("# Generated by nndlc")
    assert "(cupy backend)" in text.splitlines()[1]
    module = module_from_source(text, "nndl_test_written_cupy")
    x = np.array([[0.0, 0.0], [1.0, 1.0]])
    expected = module_from_source(backends.generate(module.SPEC, "numpy"), "nndl_test_xor_np")
    assert_close(module.Network(dtype="float64").run(x=x),
                 expected.Network(dtype="float64").run(x=x), 1e-9, "xor")


def test_the_equivalence_check_takes_the_cupy_backend(emulated):
    network = networks_of(EXAMPLES[0].parent / "group_dag.nndl")[0]
    results = compare(network, ["numpy", "cupy", "oo"], ticks=2)
    assert results and all(r.agrees for r in results), [r for r in results if not r.agrees]
    assert {(r.backend, r.tolerance) for r in results} == {("cupy", 1e-9), ("oo", 1e-9),
                                                           ("cupy float32", 1e-4)}


# ---- without CuPy --------------------------------------------------------------------------


def test_importing_nndl_and_generating_cupy_code_never_imports_cupy(tmp_path):
    script = ("import sys, nndl\nfrom nndl import backends\n"
              "from nndl.frontend import check_text\n"
              "program, _ = check_text('network n { input x[2]\\n output y[2] : tanh\\n"
              " connect x -> y : full }', 'n.nndl')\n"
              "backends.generate(program.networks[0], 'cupy')\n"
              "assert 'cupy' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(backends.unavailable("cupy") is None, reason="CuPy is installed here")
def test_without_cupy_the_module_says_what_to_install_and_equiv_says_why(tmp_path):
    network = networks_of(EXAMPLES[0].parent / "xor.nndl")[0]
    with pytest.raises(ImportError, match=r"nndl\[gpu\]"):
        module_from_source(backends.generate(network, "cupy"), "nndl_test_no_cupy")
    done = subprocess.run([sys.executable, "-m", "nndl", "equiv", str(EXAMPLES[0].parent /
                                                                     "xor.nndl"),
                           "--backends", "numpy,cupy"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert done.returncode == 2 and "cannot run here" in done.stderr, done.stderr


# ---- on a GPU ------------------------------------------------------------------------------

gpu = pytest.mark.skipif(backends.unavailable("cupy") is not None,
                         reason=f"no GPU backend here: {backends.unavailable('cupy')}")


def test_arrays_stay_on_the_device_and_kernels_compile_once_per_dtype(emulated):
    cupy = sys.modules["cupy"] if "cupy" in sys.modules else __import__("cupy")
    network = networks_of(EXAMPLES[0].parent / "reservoir.nndl")[0]  # delays and cycles
    module = modules(network, ("cupy",))["cupy"]
    x = np.random.default_rng(5).normal(size=(3, 2, *network.inputs[0].shape))
    for dtype in ("float32", "float64", "float32"):
        net = build(module, dtype=dtype)
        assert all(isinstance(w, cupy.ndarray) for w in net.W.values())
        net.run({network.inputs[0].name: x})
        net.run({network.inputs[0].name: x}, reset=False)
        assert all(isinstance(v, cupy.ndarray) for values in net.memory.recent.values()
                   for v in values)
    assert sorted(module.KERNELS.modules) == ["float32", "float64"]


@gpu
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_on_the_gpu_nvrtc_compiles_every_example_kernel(path):
    """CuPy's own compiler, for float and double, on the device here."""
    import cupy

    from nndl.runtime.cuda import Kernels
    for network in networks_of(path):
        kernels = Kernels(cupy, cuda_of(backends.generate(network, "cupy")))
        for name in cuda_emulation.signatures(kernels.source):
            for dtype in ("float32", "float64"):
                kernels.function(name, dtype)
