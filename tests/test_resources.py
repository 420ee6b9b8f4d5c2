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


# ---- neurons, ticks and batches count too (issue 15, item 5) ----------------------------------

MANY_NEURONS = """
network wide {
    input  x[4]
    group  h[200000000] : relu
    output y[2]
    connect x -> h : random(p=1e-9)
    connect h -> y : random(p=1e-9)
}
"""
SMALL = "network small {\n input x[4]\n group h[8] : relu\n output y[2]\n" \
        " connect x -> h : full\n connect h -> y : full\n}\n"


def _cpu_seconds(action) -> float:
    start = time.process_time()
    action()
    return time.process_time() - start


def test_a_group_of_2e8_neurons_is_refused_for_its_neurons(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("NNDL_MEMORY_LIMIT", "8GiB")
    path = write_source(MANY_NEURONS, tmp_path)
    assert _cpu_seconds(lambda: main(["check", str(path)])) < 30  # a hang guard, far above
    err = capsys.readouterr().err
    assert ":4:12: error: network `wide` needs about 11.9 GiB" in err
    assert "the most goes to group `h`, 200,000,000 neurons: 11.9 GiB" in err


def test_the_oo_backend_counts_its_neuron_objects(monkeypatch, compile_text):
    monkeypatch.setenv("NNDL_MEMORY_LIMIT", "1MiB")
    text = "network n {\n input x[4]\n output y[4000]\n connect x -> y : fan_in(k=1)\n}\n"
    compile_text(text, "numpy").Network()  # 4,000 neurons of 64 bytes fit in 1 MiB
    with pytest.raises(MemoryLimitError, match=r"group `y`, 4,000 neurons: 2.4 MiB \(declared "
                                               r"at \S+\.nndl:3:9\)"):
        compile_text(text, "oo").Network()


def test_a_group_of_1e308_neurons_is_refused_with_its_order_of_magnitude(tmp_path, capsys):
    text = "network huge {\n input x[4]\n group h[1e308] : relu\n output y[2]\n" \
           " connect x -> h : full\n connect h -> y : random(p=1e-300)\n}\n"
    assert main(["check", str(write_source(text, tmp_path))]) == 1
    err = capsys.readouterr().err
    assert "needs about 10^310 B" in err and "up to about 10^308 synapses" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("option", [["--ticks", "100000000"], ["--batch", "1000000000"]])
def test_nndlc_equiv_refuses_ticks_and_batches_that_would_not_fit(option, tmp_path, capsys,
                                                                  monkeypatch):
    monkeypatch.setenv("NNDL_MEMORY_LIMIT", "8GiB")
    path = write_source(SMALL, tmp_path)
    assert _cpu_seconds(lambda: main(["equiv", str(path), "--backends", "oo,numpy",
                                      *option])) < 60
    err = capsys.readouterr().err
    assert "error: network `small` needs about" in err
    assert "the most goes to backpropagation through" in err


@pytest.mark.parametrize("backend", ["oo", "numpy"])
def test_a_run_of_1e8_ticks_is_refused_before_it_starts(backend, compile_text, monkeypatch):
    monkeypatch.setenv("NNDL_MEMORY_LIMIT", "8GiB")
    net = compile_text(SMALL, backend).Network()
    with pytest.raises(MemoryLimitError, match="the most goes to a run of 100,000,000 ticks of "
                                               "a batch of 1"):
        net.run(x=np.ones((1, 4)), ticks=10**8, every_tick=True)
    assert net.run(x=np.ones((1, 4)), ticks=1000, every_tick=True)["y"].shape == (1000, 1, 2)


@pytest.mark.parametrize("p", [1e-16, 1e-19, 1e-300])
def test_random_with_a_tiny_p_between_large_groups_neither_overflows_nor_loops(p):
    from nndl.runtime.sampling import bernoulli_pairs

    rng = np.random.default_rng(0)
    seconds = _cpu_seconds(lambda: bernoulli_pairs(10**6, 10**6, p, None, rng))
    n = 2 * 10**9  # 4e18 pairs: near the end of int64
    pre, post = bernoulli_pairs(n, n, p, None, rng)
    mean = p * n * n
    assert seconds < 10 and pre.size == post.size <= mean + 6 * mean**0.5 + 16
    assert ((pre >= 0) & (pre < n) & (post >= 0) & (post < n)).all()
    flat = post * n + pre
    assert (np.diff(flat) > 0).all()  # distinct, in CSR order


def test_tiny_p_keeps_the_synapses_of_ordinary_p():
    """The cut at the remaining pairs changes no draw that stays inside them."""
    from nndl.runtime.sampling import bernoulli_pairs

    pre, post = bernoulli_pairs(300, 200, 0.05, None, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    chosen = np.cumsum(rng.geometric(0.05, size=10**5)) - 1  # one stream, however drawn
    chosen = chosen[chosen < 60000]
    assert np.array_equal(pre, chosen % 300) and np.array_equal(post, chosen // 300)
