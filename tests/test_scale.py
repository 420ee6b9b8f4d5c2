"""A layer-free blob at scale: 100 000 neurons wired by `fan_in(k=10, where=pre.index <
post.index)` build and run in bounded memory, because sparse rules never visit every
(pre, post) pair and the neuron-level schedule works on arrays of synapses, not neurons."""

from __future__ import annotations

import time
import tracemalloc
import warnings

import numpy as np
import pytest

from nndl.runtime.build import NNDLWarning

N = 100_000
BLOB = f"""
network scale {{
    seed 1
    input  x[16]
    group  blob[{N}] : tanh
    output y[4]         : tanh
    connect x    -> blob : where(post.index < 200) weight normal(0, 0.5)
    connect blob -> blob : fan_in(k=10, where=pre.index < post.index)
    connect blob -> y    : where(pre.index >= {N - 200})
}}
"""
LIMIT = 1 << 30  # 1 GiB: a dense (post, pre) matrix alone would take 80 GB


@pytest.mark.slow
def test_a_100k_neuron_blob_builds_and_runs_in_bounded_memory(compile_text):
    module = compile_text(BLOB, "numpy")
    tracemalloc.start()  # numpy reports its array allocations to tracemalloc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NNDLWarning)  # neurons 0..9 have fewer than 10
            net = module.Network()
        y = net.run(x=np.random.default_rng(0).normal(size=(4, 16)))["y"]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < LIMIT, f"peak {peak / 2**20:.0f} MiB"
    assert peak > 10 * N * 8  # the measurement sees numpy: the synapse indices alone are this
    assert y.shape == (4, 4) and np.isfinite(y).all()
    params = net.parameters()
    pre, post = params["blob->blob.pre"], params["blob->blob.post"]
    assert (pre < post).all()
    counts = np.bincount(post, minlength=N)
    np.testing.assert_array_equal(counts[10:], 10)
    np.testing.assert_array_equal(counts[:10], np.arange(10))
    assert len(net.levels[0]) > 10  # a deep DAG, computed level by level in one tick


MILLION = 1_000_000
MILLION_BLOB = f"""
network million {{
    seed 1
    input  x[1]
    group  b[{MILLION}] : tanh
    output y[1]
    connect x -> b : full
    connect b -> b : fan_in(k=10, where=pre.index < post.index)
    connect b -> y : full
}}
"""
CPU_GUARD = 60  # seconds: a hang guard, over ten times what the build takes (the targets with
# few candidates once enumerated all of theirs, which took 78 s)


@pytest.mark.slow
def test_a_million_neuron_blob_builds_in_time_linear_in_its_synapses(compile_text):
    module = compile_text(MILLION_BLOB, "numpy")
    start = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NNDLWarning)  # neurons 0..9 have fewer than 10
        net = module.Network()
    spent = time.process_time() - start
    assert spent < CPU_GUARD, f"{spent:.0f} s of CPU to build"
    params = net.parameters()
    pre, post = params["b->b.pre"], params["b->b.post"]
    assert (pre < post).all()
    assert (np.diff(post * MILLION + pre) > 0).all()  # CSR order, each pair once
    counts = np.bincount(post, minlength=MILLION)
    np.testing.assert_array_equal(counts[10:], 10)
    np.testing.assert_array_equal(counts[:10], np.arange(10))
