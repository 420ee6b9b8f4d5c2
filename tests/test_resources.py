"""Memory estimates and the limit: too large a network is refused before anything is allocated,
with the estimate and the limit in the message."""

import time

import numpy as np
import pytest

from conftest import write_source
from nndl.commands.cli import main
from nndl.runtime import resources
from nndl.runtime.resources import MemoryLimitError

HUGE = """
network huge {
    input  x[1000, 1000]
    output y[1000000] : relu
    connect x -> y : full
}
"""


def test_a_full_projection_of_a_million_by_a_million_is_refused_at_once(compile_text):
    module = compile_text(HUGE, "numpy")
    start = time.perf_counter()
    with pytest.raises(MemoryLimitError, match=r"needs about 43\.7 TiB, more than the .* allowed"
                       r".*projection `x->y`, up to 1,000,000,000,000 synapses"):
        module.Network()
    print(f"refused in {(time.perf_counter() - start) * 1e3:.2f} ms")  # measured, not asserted


def test_nndlc_check_reports_it_at_the_projection(tmp_path, capsys):
    path = write_source(HUGE, tmp_path)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert ":5:5: error: network `huge` needs about 43.7 TiB" in err
    assert "help: use a sparser rule" in err and "Traceback" not in err


def test_the_limit_is_configurable(monkeypatch, compile_text):
    monkeypatch.setenv("NNDL_MEMORY_LIMIT", "10KiB")
    module = compile_text("network n {\n input x[30]\n output y[30]\n connect x -> y : full\n}\n",
                          "numpy")
    with pytest.raises(MemoryLimitError, match=r"more than the 10\.0 KiB allowed "
                                               r"\(NNDL_MEMORY_LIMIT\)"):
        module.Network()
    monkeypatch.setenv("NNDL_MEMORY_LIMIT", "1MB")
    assert module.Network().run(x=np.ones((1, 30)))["y"].shape == (1, 30)


def test_training_memory_is_checked_before_the_run(monkeypatch, compile_text):
    module = compile_text("network n {\n input x[50]\n output y[50] : tanh\n"
                          " connect x -> y : full\n connect y -> y : full delay 1\n}\n", "numpy")
    net = module.Network()
    monkeypatch.setenv("NNDL_MEMORY_LIMIT", "2MB")
    x = np.zeros((100, 3, 50), dtype=np.float32)  # 100 ticks x 3 samples: fine
    net.loss_and_grad({"x": x}, {"y": np.zeros((3, 50))}, loss="mse")
    x = np.zeros((1000, 64, 50), dtype=np.float32)
    with pytest.raises(MemoryLimitError, match="backpropagation through 1000 ticks of a batch "
                                               "of 64"):
        net.loss_and_grad({"x": x}, {"y": np.zeros((64, 50))}, loss="mse")


@pytest.mark.parametrize("text, expected", [("512", 512), ("1.5KB", 1500), ("2 GiB", 2**31),
                                            ("8gib", 8 * 2**30), ("3TB", 3 * 10**12)])
def test_sizes_parse(text, expected):
    assert resources.parse_size(text) == expected


@pytest.mark.parametrize("text", ["lots", "-1GB", "1 parsec", ""])
def test_a_bad_size_is_a_clear_error(text, monkeypatch):
    monkeypatch.setenv("NNDL_MEMORY_LIMIT", text)
    if text == "":
        assert resources.limit()[1] != "NNDL_MEMORY_LIMIT"  # empty: the default
        return
    with pytest.raises(resources.RuntimeNNDLError, match="NNDL_MEMORY_LIMIT must be a size"):
        resources.limit()


def test_the_estimate_bounds_every_examples_synapses():
    """An upper bound: never below what the build makes."""
    from pathlib import Path

    from nndl.frontend import load_program
    from nndl.runtime.build import build_all
    for path in sorted((Path(__file__).parent.parent / "examples").glob("*.nndl")):
        for network in load_program(path).networks:
            synapses, _ = build_all(network, network.seed)
            for p in network.projections:
                assert resources.synapse_bound(network, p) >= synapses[p.name].pre.size, \
                    (path.name, p.name)


def test_the_bound_of_a_local_rule_counts_the_axes_of_its_grid():
    """`axes=3`: up to 27 sources per target at chebyshev radius 1, reached in the middle of the
    volume; without `axes` the grid would be 8x8 with 8 source maps: 72 per target."""
    from nndl.frontend import check_text
    from nndl.runtime.build import build_all

    text = """
network volume {
    input  clip[8, 8, 8]
    output y[8, 8, 8] : relu
    connect clip -> y : local(radius=1, metric=chebyshev, axes=3)
}
"""
    program, diagnostics = check_text(text, "volume.nndl")
    diagnostics.raise_if_errors()
    network = program.networks[0]
    p = network.projections[0]
    synapses, _ = build_all(network, network.seed)
    assert resources.synapse_bound(network, p) == 512 * 27 >= synapses[p.name].pre.size
    # per axis, the two ends reach 2 positions and the 6 others 3: 2 * 2 + 6 * 3 = 22
    assert synapses[p.name].pre.size == 22 ** 3
