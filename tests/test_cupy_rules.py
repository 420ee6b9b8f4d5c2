"""Learning rules that users write (`rule` blocks) on the CuPy backend: each block is a CUDA
kernel over the synapses it visits, which compiles with nvcc, and training by a rule gives the
NumPy backend's weights, rule states and neuron states (float64, to rounding) — on a GPU with
CuPy where there is one, else on the CPU through tests/cuda_emulation.py."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from test_codegen_safety import HOSTILE, LITERALS, balanced
from test_cupy import build, compile_ptx, cuda_of, emulated  # noqa: F401 (a fixture)
from test_plasticity_rules import network

from nndl import backends
from nndl.compiler import module_from_source
from nndl.diagnostics import NNDLError
from nndl.frontend import check_text
from nndl.runtime import plasticity

nvcc = pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")

# A rule that draws (rand() and randn(), at sites in two blocks) and reads a neuron's state
# (post.v), a parameter held per neuron (post.threshold) and a plain one (post.leak).
NOISY = """
rule noisy {
    param rate = 0.001
    state trace = 0.0
    state kick = 0.0
    every tick {
        trace = 0.9 * trace + post.v + 0.01 * randn()
        kick  = 0.5 * kick
    }
    on pre {
        kick = kick + rand() * post.threshold
        w    = w + rate * (rand() - 0.5) + 0.1 * rate * trace * post.leak
    }
    on post {
        w = w - rate * kick
    }
}
"""


def noisy_network(delay: int, batch: int) -> str:
    return NOISY + network(delay, batch, "noisy(rate=0.003)").replace(
        "output cells[3]   : lif", "output cells[3]   : lif(threshold=0.03 + 0.002 * index)")


def spec_of(text: str):
    program, diagnostics = check_text(text, "rules.nndl")
    diagnostics.raise_if_errors()
    return program.networks[0]


def trained(spec, backend: str, monkeypatch) -> dict:
    """Weights, neuron states and the rule's states (on the host) after the regime's `fit`."""
    kept = []

    class Keeping(plasticity.SynapseRules):  # the rules of the run, to read their states
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            kept.append(self)

    monkeypatch.setattr(plasticity, "SynapseRules", Keeping)
    module = module_from_source(backends.generate(spec, backend), f"nndl_rules_{backend}")
    net = build(module, dtype="float64")
    net.fit(progress=False)
    (item,) = kept[-1].items
    result = {f"rule.{v}": net._to_host(s) for v, s in item.states.items()}
    if backend == "cupy":  # kept on the device from tick to tick
        assert all(isinstance(s, sys.modules["cupy"].ndarray) for s in item.states.values())
    result.update(net.parameters())
    result.update({f"{g}.{v}": s for g, states in net.states().items() for v, s in states.items()})
    return result


def assert_same(got: dict, expected: dict) -> None:
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-12, atol=1e-15, err_msg=key)


@pytest.mark.parametrize("delay, batch", [(0, 1), (2, 3)])
def test_stdp_on_the_device_learns_as_numpy_does(delay, batch, emulated, monkeypatch):
    spec = spec_of(network(delay, batch, "stdp(wmax=0.012)"))
    numpy, cupy = (trained(spec, b, monkeypatch) for b in ("numpy", "cupy"))
    start = build(module_from_source(backends.generate(spec, "numpy"), "n"), dtype="float64")
    moved = np.abs(numpy["drive->cells.w"] - start.parameters()["drive->cells.w"]).max()
    assert moved > 1e-4 and np.abs(numpy["rule.apost"]).max() > 0  # it learned something
    assert_same(cupy, numpy)


@pytest.mark.parametrize("delay, batch", [(1, 2), (3, 4)])
def test_a_rule_that_draws_and_reads_the_neurons_learns_as_numpy_does(delay, batch, emulated,
                                                                      monkeypatch):
    spec = spec_of(noisy_network(delay, batch))
    numpy, cupy = (trained(spec, b, monkeypatch) for b in ("numpy", "cupy"))
    assert np.abs(numpy["rule.kick"]).max() > 0 and np.abs(numpy["rule.trace"]).max() > 0
    assert_same(cupy, numpy)


def test_a_float32_network_learns_by_its_rule_in_float64(emulated):
    """The rule's kernels run from the source's double build, whatever the network's dtype."""
    spec = spec_of(network(1, 2, "stdp(wmax=0.012)"))
    module = module_from_source(backends.generate(spec, "cupy"), "nndl_rules_float32")
    net = build(module, dtype="float32")
    before = net.parameters()["drive->cells.w"]
    net.fit(progress=False)
    assert np.abs(net.parameters()["drive->cells.w"] - before).max() > 1e-4
    assert sorted(module.KERNELS.modules) == ["float32", "float64"]


# ---- the kernels compile -------------------------------------------------------------------

# The kernels' own names and spellings, for a rule's variables to meet.
KERNEL_NAMES = ["w_in", "in_v_w", "v_w", "n_post_v", "post_v", "count_n_post_v", "i", "n",
                "result0", "noise_tick", "noise_sample", "real"]


def hostile_rule(names: list[str]) -> str:
    """A rule with a state `N` and a parameter `N_p` for each name, learned in the test network
    (whose own STDP rule is renamed out of the way)."""
    params = "".join(f"    param {n}_p = 0.5\n    state {n} = 0.1\n" for n in names)
    every = "".join(f"        {n} = {n} * {n}_p + post.v\n" for n in names)
    total = balanced(list(names))  # no expression nests 100 deep
    rule = (f"rule r {{\n{params}    every tick {{\n{every}    }}\n"
            f"    on pre {{\n        w = w + ({total}) * rand()\n    }}\n}}\n")
    return rule + network(1, 2, "r").replace("rule stdp", "rule s")


def accepted_states() -> list[str]:
    """The hostile names of test_codegen_safety.py, and the kernels' own, that a rule takes as
    a state."""
    taken = []
    for name in dict.fromkeys([*HOSTILE, *KERNEL_NAMES]):
        if name in LITERALS:
            continue
        try:
            spec_of(hostile_rule([name]))
        except NNDLError:
            continue
        taken.append(name)
    return taken


@nvcc
def test_every_rule_block_compiles_with_nvcc(tmp_path):
    """STDP, the drawing rule, a rule whose variables take hostile names, the bandit's
    reward-modulated rule and the built-in perceptron (its `bias = ...` and `target`): every
    block's kernel, for float and double, in one nvcc run."""
    states = accepted_states()
    assert set(KERNEL_NAMES) <= set(states)
    bandit = (Path(__file__).parent.parent / "examples" / "bandit.nndl").read_text()
    perceptron = (Path(__file__).parent.parent / "examples" / "perceptron.nndl").read_text()
    sources = {name: cuda_of(backends.generate(spec_of(text), "cupy")) for name, text in (
        ("stdp", network(2, 3)), ("noisy", noisy_network(1, 2)), ("r", hostile_rule(states)),
        ("reinforce", bandit), ("perceptron", perceptron))}
    assert "void rule_perceptron_bias(" in sources["perceptron"]  # `bias = ...`, a kernel too
    assert "const real* in_v_reward" in sources["reinforce"]  # the modulator, one per visit
    for name in ("noisy", "r", "reinforce"):
        assert f"void rule_{name}_every(" in sources[name]
    for name in ("stdp", "noisy", "r"):
        assert f"void rule_{name}_on_pre(" in sources[name]
    assert "void rule_stdp_on_post(" in sources["stdp"]
    # STDP's traces are lazy (nndl.ir.lazy_traces): no `every tick` kernel, and its event
    # kernels take the ticks since each synapse's last event
    assert "void rule_stdp_every(" not in sources["stdp"]
    assert sources["stdp"].count("const real* in_n_ticks_elapsed") == 2
    files = compile_ptx(tmp_path, sources)
    assert all(f.with_suffix(".ptx").exists() for f in files)
