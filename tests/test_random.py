"""rand() and randn(): Philox4x32-10 against Random123's known answers in each of its three
implementations (NumPy arrays, scalar Python, CUDA C), the statistics of what it draws, and
models that draw: the same numbers in every backend, whatever the order of evaluation.

NumPy's own `numpy.random.Philox` is Philox4x64 (64-bit words), not 4x32: no oracle here.
"""

from __future__ import annotations

import shutil
import zlib

import numpy as np
import pytest
from test_cupy import compile_ptx, cuda_of
from test_gradients import check_finite_differences, hand_problem

from nndl import backends
from nndl.frontend import check_text
from nndl.ir import expr as e
from nndl.ir.derivatives import derivative
from nndl.runtime import philox

# Random123's kat_vectors, the three `philox4x32 10` lines: counter, key, the four words.
KNOWN_ANSWERS = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]
DRAWS = 10 ** 6


@pytest.mark.parametrize("counter, key, expected", KNOWN_ANSWERS)
def test_numpy_philox_gives_the_known_answers(counter, key, expected):
    words = philox.philox4x32(counter, key)
    assert tuple(int(w) for w in words) == expected
    assert all(w.dtype == np.uint32 for w in words)


@pytest.mark.parametrize("counter, key, expected", KNOWN_ANSWERS)
def test_scalar_philox_gives_the_known_answers(counter, key, expected):
    assert philox.philox4x32_scalar(counter, key) == expected


def test_array_and_scalar_philox_agree_on_many_counters():
    rng = np.random.default_rng(5)
    counters = rng.integers(0, 2 ** 32, size=(4, 200), dtype=np.uint64).astype(np.uint32)
    key = (0x12345678, 0x9ABCDEF0)
    words = np.stack(philox.philox4x32(tuple(counters), key))
    for j in range(counters.shape[1]):
        block = philox.philox4x32_scalar(tuple(int(c) for c in counters[:, j]), key)
        assert tuple(int(w) for w in words[:, j]) == block


def test_the_key_is_the_seed_and_the_groups_crc32():
    assert philox.stream_key(7, "pool") == (7, zlib.crc32(b"pool"))
    assert philox.stream_key(2 ** 32 + 7, "pool") == philox.stream_key(7, "pool")


# ---- words -> numbers ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uniforms_are_exact_and_never_one(dtype):
    top = np.array([0xFFFFFFFF], dtype=np.uint32)
    u = philox.uniform_of(top, top, dtype)
    assert u.dtype == np.dtype(dtype) and 0.0 < u[0] < 1.0
    assert u[0] == 1.0 - 2.0 ** (-24 if dtype == "float32" else -53)
    zero = np.zeros(1, dtype=np.uint32)
    assert philox.uniform_of(zero, zero, dtype)[0] == 0.0
    z = philox.normal_of((zero, zero, zero, zero), dtype)
    assert np.isfinite(z).all()  # log(1 - 0): never log(0)
    words = (int(top[0]), int(top[0]), 0, 0)
    assert philox.uniform_scalar(words, dtype) == float(u[0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_scalar_numbers_match_the_array_numbers(dtype):
    noise = philox.Noise((3, 4), 9, np.arange(50), 3, dtype)
    uniform, normal = noise.rand(2), noise.randn(2)
    for b in range(3):
        for k in range(50):
            one = philox.ScalarNoise((3, 4), k, 9, b, dtype)
            assert one.rand(2) == float(uniform[b, k])  # exact: the same bits
            assert one.randn(2) == pytest.approx(float(normal[b, k]), rel=1e-6, abs=1e-6)


def big_draws(dtype: str, kind: str) -> np.ndarray:
    """DRAWS numbers: (1000 neurons) x (1000 ticks) of one sample, in `dtype`."""
    neurons = np.arange(1000)
    ticks = [philox.Noise((11, 22), t, neurons, 1, dtype) for t in range(1000)]
    return np.stack([getattr(noise, kind)(0)[0] for noise in ticks])


def within(estimate: float, expected: float, sd: float) -> bool:
    return abs(estimate - expected) <= 5 * sd


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uniform_mean_variance_and_independence(dtype):
    u = big_draws(dtype, "rand").astype(np.float64)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert within(u.mean(), 0.5, np.sqrt(1 / 12 / DRAWS))
    assert within(u.var(), 1 / 12, np.sqrt((1 / 80 - 1 / 144) / DRAWS))
    assert_uncorrelated(u)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normal_mean_variance_and_independence(dtype):
    z = big_draws(dtype, "randn").astype(np.float64)
    assert within(z.mean(), 0.0, np.sqrt(1 / DRAWS))
    assert within(z.var(), 1.0, np.sqrt(2 / DRAWS))
    fourth = np.mean(z ** 4)  # 3 for a normal: Box-Muller is not just any bell
    assert within(fourth, 3.0, np.sqrt(96 / DRAWS))
    assert_uncorrelated(z)


def assert_uncorrelated(x: np.ndarray) -> None:
    """Neighbouring neurons (axis 1), neighbouring ticks (axis 0), and two call sites."""
    count = x.size - 1000
    bound = 5 / np.sqrt(count)
    across_neurons = np.corrcoef(x[:, :-1].ravel(), x[:, 1:].ravel())[0, 1]
    across_ticks = np.corrcoef(x[:-1].ravel(), x[1:].ravel())[0, 1]
    assert abs(across_neurons) <= bound and abs(across_ticks) <= bound


def test_call_sites_and_samples_draw_apart():
    noise = philox.Noise((1, 2), 0, np.arange(DRAWS // 1000), 1000, "float64")
    sites = noise.rand(0).ravel(), noise.rand(1).ravel()
    assert abs(np.corrcoef(*sites)[0, 1]) <= 5 / np.sqrt(DRAWS)
    by_sample = noise.rand(0)
    assert abs(np.corrcoef(by_sample[:-1].ravel(), by_sample[1:].ravel())[0, 1]) <= \
        5 / np.sqrt(by_sample[1:].size)


# ---- the CUDA C twin, built as the CuPy module builds it ------------------------------------

KAT_KERNELS = r'''
extern "C" __global__ void philox_words(long long n, const long long* given, long long* words) {
    long long i = NNDL_THREAD;
    if (i >= n) return;
    unsigned int c[4];
    for (int j = 0; j < 4; ++j) c[j] = (unsigned int)given[6 * i + j];
    nndl_philox(c, (unsigned int)given[6 * i + 4], (unsigned int)given[6 * i + 5]);
    for (int j = 0; j < 4; ++j) words[4 * i + j] = c[j];
}
extern "C" __global__ void draws(long long n, const long long* counters, long long k0,
        long long k1, real* uniform, real* normal) {
    long long i = NNDL_THREAD;
    if (i >= n) return;
    const long long* c = counters + 4 * i;
    uniform[i] = nndl_rand(k0, k1, c[0], c[1], (unsigned int)c[2], c[3]);
    normal[i] = nndl_randn(k0, k1, c[0], c[1], (unsigned int)c[2], c[3]);
}
'''


@pytest.fixture
def cupy_like():
    """CuPy where it finds a GPU, else tests/cuda_emulation.py (the same C++ built by g++)."""
    if not backends.unavailable("cupy"):
        import cupy

        return cupy
    if shutil.which("g++") is None:
        pytest.skip("neither CuPy on a GPU nor g++ to emulate one")
    import cuda_emulation

    return cuda_emulation.fake_cupy()


def cuda_module(cp, real: str):
    from nndl.backends.cupy.kernels import PRELUDE

    return cp.RawModule(code=f"typedef {real} real;\n{PRELUDE}\n{KAT_KERNELS}")


def test_cuda_philox_gives_the_known_answers(cupy_like):
    cp = cupy_like
    given = cp.asarray(np.array([[*c, *k] for c, k, _ in KNOWN_ANSWERS], dtype=np.int64))
    words = cp.asarray(np.zeros((len(KNOWN_ANSWERS), 4), dtype=np.int64))
    kernel = cuda_module(cp, "double").get_function("philox_words")
    kernel((1,), (len(KNOWN_ANSWERS),), (np.int64(len(KNOWN_ANSWERS)), given, words))
    assert [tuple(int(w) for w in row) for row in cp.asnumpy(words)] == \
        [expected for _, _, expected in KNOWN_ANSWERS]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cuda_numbers_match_numpy(cupy_like, dtype):
    cp, neurons, batch, tick, site = cupy_like, np.arange(40), 3, 17, 5
    key = philox.stream_key(12, "pool")
    noise = philox.Noise(key, tick, neurons, batch, dtype)
    counters = np.stack(np.broadcast_arrays(neurons[None, :], tick, site,
                                            np.arange(batch)[:, None]), axis=-1)
    counters = cp.asarray(counters.reshape(-1, 4).astype(np.int64))
    n = batch * len(neurons)
    uniform, normal = (cp.asarray(np.zeros(n, dtype=dtype)) for _ in range(2))
    kernel = cuda_module(cp, {"float32": "float", "float64": "double"}[dtype]).get_function(
        "draws")
    kernel((1,), (n,), (np.int64(n), counters, np.int64(key[0]), np.int64(key[1]), uniform,
                        normal))
    assert np.array_equal(cp.asnumpy(uniform).reshape(batch, -1), noise.rand(site))
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(cp.asnumpy(normal).reshape(batch, -1), noise.randn(site),
                               rtol=tolerance, atol=tolerance)


# ---- the language: call sites, derivatives, listing -------------------------------------------

NOISY = """
neuron noisy {
    param gain = 1.0
    state v = 0.0
    v   = 0.5 * v + gain * net + 0.2 * randn()
    out = tanh(v) + 0.05 * rand() * v
}
"""


def checked(text: str):
    program, diags = check_text(text, "<test>")
    diags.raise_if_errors()
    return program


def draws_in(node: e.Expr) -> list[tuple[str, int]]:
    """Every Draw in the expression, as (kind, site)."""
    if isinstance(node, e.Draw):
        return [(node.kind, node.site)]
    found = []
    e.map_children(node, lambda child: found.extend(draws_in(child)) or child)
    return found


def test_each_call_is_its_own_site_in_source_order():
    program = checked(NOISY + """
network n {
    input x[2]
    output y[3] : noisy
    connect x -> y : full
}""")
    model = program.networks[0].models[0]
    nodes = [e.from_dict(value) for _, value in model.statements]
    assert model.draws
    assert [draws_in(node) for node in nodes] == [[("randn", 0)], [("rand", 1)]]
    assert "randn()" in e.render(nodes[0]) and "rand()" in e.render(nodes[1])
    assert e.from_dict(e.to_dict(nodes[1])) == nodes[1]


def test_a_draw_has_derivative_zero():
    node = e.Binary("*", e.Var("v"), e.Draw("randn", 0))
    assert derivative(node, "v") == e.Draw("randn", 0)
    assert derivative(e.Draw("rand", 3), "v") == e.Num(0.0)


def test_a_drawing_source_is_not_warned_of_as_constant():
    program, diags = check_text("""
network n {
    input x[2]
    group s[5] : poisson(rate=0.5)
    output y[2] : identity
    connect x -> y : full
    connect s -> y : full
}""", "<test>")
    assert not diags.errors
    assert not [d for d in diags.warnings if d.code == "unconnected"], diags.render()


# ---- models that draw, in every backend ----------------------------------------------------

POISSON = """
network spikes {
    seed 4
    input x[2]
    output s[7, 5] : poisson(rate=0.3)
    connect x -> s : full
}
"""


def poisson_reference(seed: int, ticks: int, batch: int, rate: float, dtype: str) -> np.ndarray:
    """What the poisson model must give, straight from the generator: (ticks, batch, 35)."""
    key = philox.stream_key(seed, "s")
    rate = np.dtype(dtype).type(rate)
    return np.stack([(philox.Noise(key, t, np.arange(35), batch, dtype).rand(0) < rate)
                     .astype(dtype) for t in range(ticks)])


def spikes_of(net, ticks: int, batch: int) -> np.ndarray:
    x = np.zeros((batch, 2))
    return np.asarray(net.run(x=x, ticks=ticks, every_tick=True)["s"]).reshape(ticks, batch, 35)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_poisson_spikes_are_the_generators_in_every_backend(compile_text, backend, dtype):
    net = compile_text(POISSON, backend).Network(dtype=dtype, seed=9)
    spikes = spikes_of(net, 100 if backend != "oo" else 40, 3)
    expected = poisson_reference(9, len(spikes), 3, 0.3, dtype)
    assert np.array_equal(spikes, expected)
    assert within(spikes.mean(), 0.3, np.sqrt(0.3 * 0.7 / spikes.size))


def test_poisson_spikes_are_bit_identical_in_oo_and_numpy(compile_text):
    for dtype in ("float32", "float64"):
        runs = [spikes_of(compile_text(POISSON, b).Network(dtype=dtype), 100, 2)
                for b in ("oo", "numpy")]
        assert np.array_equal(*runs) and runs[0].any() and not runs[0].all()


def test_the_seed_changes_the_spikes(compile_text):
    module = compile_text(POISSON, "numpy")
    first, second = (spikes_of(module.Network(seed=s), 20, 2) for s in (1, 2))
    assert not np.array_equal(first, second)
    assert np.array_equal(spikes_of(module.Network(), 20, 2),
                          poisson_reference(4, 20, 2, 0.3, "float32"))  # the file's seed


def test_a_sample_draws_by_its_place_in_the_batch(compile_text, backend):
    """Samples run together or fewer at a time draw the same numbers at the same places: a
    sample's numbers depend on its index in the batch, not on what else is in it."""
    net = compile_text(POISSON, backend).Network(dtype="float64")
    whole = spikes_of(net, 10, 4)
    assert np.array_equal(spikes_of(net, 10, 2), whole[:, :2])
    assert not np.array_equal(whole[:, 0], whole[:, 1])  # each place its own stream


def test_reset_false_counts_the_ticks_on(compile_text, backend):
    net = compile_text(POISSON, backend).Network(dtype="float64")
    ten = spikes_of(net, 10, 2)
    x = np.zeros((2, 2))
    first = net.run(x=x, ticks=6, every_tick=True)["s"]
    rest = net.run(x=x, ticks=4, every_tick=True, reset=False)["s"]
    assert np.array_equal(np.concatenate([first, rest]).reshape(10, 2, 35), ten)


NOISY_NETWORK = NOISY + """
network jitter {
    seed 2
    input  x[3]
    group  h[6] : noisy(gain=0.8)
    output y[2] : identity
    connect x -> h : full
    connect h -> h : where(pre.index < post.index)   # neuron by neuron, level by level
    connect h -> y : full
}
"""


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_noisy_model_agrees_in_every_backend_neuron_by_neuron(compile_text, backend, dtype):
    """The level-by-level step evaluates the neurons in another order than the oo backend's
    one at a time: the same numbers."""
    x = np.random.default_rng(0).normal(size=(5, 4, 3))
    outputs = {b: compile_text(NOISY_NETWORK, b).Network(dtype=dtype).run(
        x=x, every_tick=True)["y"] for b in ("oo", backend)}
    tolerance = 1e-4 if dtype == "float32" else 1e-9
    np.testing.assert_allclose(outputs[backend], outputs["oo"], rtol=tolerance, atol=tolerance)


def test_backprop_through_a_noisy_model_draws_the_same_numbers(compile_text, backend):
    """Finite differences: the backward pass replays each tick with its own draws."""
    module = compile_text(NOISY_NETWORK, backend)
    net = module.Network(dtype="float64")
    inputs, targets, options = hand_problem(module, 4, True, True, "mse", seed=1)
    assert check_finite_differences(net, inputs, targets, options, np.random.default_rng(0))


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
def test_drawing_kernels_compile_with_nvcc(tmp_path):
    """The models that draw, forwards and backwards, and the known-answer kernels, for float
    and double (to PTX, as CuPy's NVRTC compiles them on a GPU machine)."""
    sources = [cuda_of(backends.generate(checked(text).networks[0], "cupy"))
               for text in (POISSON, NOISY_NETWORK)]
    from nndl.backends.cupy.kernels import PRELUDE

    sources.append(f"{PRELUDE}\n{KAT_KERNELS}")
    for i, code in enumerate(sources):
        assert i == 2 or "nndl_rand" in code.split("extern", 1)[1]  # a kernel draws
    compile_ptx(tmp_path, {f"net{i}": code for i, code in enumerate(sources)})
