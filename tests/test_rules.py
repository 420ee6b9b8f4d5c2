"""Connection rules in every backend, checked against values worked out here with plain NumPy:
shared kernels against hand-written cross-correlations, `local` alignment, `where` over
coordinates, neuron-level DAGs in one tick, `random`/`fan_in` statistics, determinism, and the
weight file's handling of every rule (DESIGN.md, Semantics; Determinism; One weight format)."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import BACKENDS

import nndl
from nndl.commands.cli import main
from nndl.runtime import weightfile
from nndl.runtime.build import NNDLWarning
from nndl.runtime.schedule import CycleError

# MIXED's `blob->blob` leaves neurons 0..2 short of k=3 by design; the tests that care check it
pytestmark = pytest.mark.filterwarnings("ignore:.*candidate sources in `blob->blob`")

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.nndl"))


def make(compile_text, text, backend, **options):
    options.setdefault("dtype", "float64")
    return compile_text(text, backend).Network(**options)


def csr_ordered(params: dict, name: str, n_pre: int) -> bool:
    key = params[f"{name}.post"] * n_pre + params[f"{name}.pre"]
    return bool((np.diff(key) > 0).all())


def synapse_weights(params: dict, name: str) -> np.ndarray:
    w = params[f"{name}.w"]
    return w[params[f"{name}.tie"]] if f"{name}.tie" in params else w


def sources_of(params: dict, name: str) -> dict[int, dict[int, float]]:
    """target -> {source: weight} for one projection."""
    rows: dict[int, dict[int, float]] = {}
    for p, q, w in zip(params[f"{name}.pre"].tolist(), params[f"{name}.post"].tolist(),
                       synapse_weights(params, name).tolist()):
        assert p not in rows.setdefault(q, {}), f"synapse {p} -> {q} twice"
        rows[q][p] = w
    return rows


# ---- shared kernels: convolutions ----------------------------------------------------------


def kernel_by_offset(params: dict, name: str, src_shape, dst_shape, wrap=False) -> dict:
    """{(source map, target map, dy, dx): weight}, worked out from the synapses alone.

    Grids have the same size here, so a synapse's offset is its source's grid position minus
    its target's (taken the short way round with wrap). Asserts that the kernel's entries and
    the (map pair, offset) keys correspond one to one.
    """
    grid = np.asarray(src_shape[-2:])
    assert tuple(grid) == tuple(dst_shape[-2:])
    n_grid = int(grid.prod())
    pre, post, tie = params[f"{name}.pre"], params[f"{name}.post"], params[f"{name}.tie"]
    src_map, dst_map = pre // n_grid, post // n_grid
    offset = (np.stack(np.unravel_index(pre % n_grid, tuple(grid)), axis=1)
              - np.stack(np.unravel_index(post % n_grid, tuple(grid)), axis=1))
    if wrap:
        offset = (offset + grid // 2) % grid - grid // 2
    keys = [(int(m), int(n), int(dy), int(dx))
            for m, n, (dy, dx) in zip(src_map, dst_map, offset)]
    entry_of: dict[tuple, int] = {}
    for key, entry in zip(keys, tie.tolist()):
        assert entry_of.setdefault(key, entry) == entry, f"{key} tied to two kernel entries"
    assert sorted(entry_of.values()) == list(range(params[f"{name}.w"].size)), \
        "some kernel entry serves two offsets, or none"
    return {key: float(params[f"{name}.w"][entry]) for key, entry in entry_of.items()}


def correlate(x: np.ndarray, kernel: dict, maps_out: int, wrap: bool) -> np.ndarray:
    """y[b, n] = sum over (m, n, dy, dx) of K * x[b, m, i + dy, j + dx], padded with zeros or
    wrapped: a direct NumPy cross-correlation. `x` is (batch, maps, H, W)."""
    reach = max(max(abs(dy), abs(dx)) for _, _, dy, dx in kernel)
    pad = ((0, 0), (0, 0), (reach, reach), (reach, reach))
    padded = np.pad(x, pad, mode="wrap" if wrap else "constant")
    batch, _, h, w = x.shape
    y = np.zeros((batch, maps_out, h, w))
    for (m, n, dy, dx), k in kernel.items():
        y[:, n] += k * padded[:, m, reach + dy:reach + dy + h, reach + dx:reach + dx + w]
    return y


CONV = """
network conv {{
    seed 3
    input  x[{h}, {w}]
    output c[3, {h}, {w}] : identity bias none
    connect x -> c : local(radius=1, metric=chebyshev, wrap={wrap}, shared=true) as k
}}
"""


def load_kernel(net, tmp_path, make_kernel) -> dict:
    """Save the network, replace its kernel `k.w` with make_kernel(size), load it back."""
    path = tmp_path / "kernel.npz"
    net.save(path)
    arrays, meta = weightfile.load(path)
    arrays["k.w"] = make_kernel(arrays["k.w"].size)
    weightfile.save(path, arrays, meta)
    net.load(path)
    return net.parameters()


@pytest.mark.parametrize("wrap", [False, True])
def test_shared_3x3_kernel_is_a_cross_correlation(compile_text, backend, wrap, tmp_path):
    h, w = 6, 7  # not square, so swapped axes would show
    net = make(compile_text, CONV.format(h=h, w=w, wrap=str(wrap).lower()), backend)
    params = load_kernel(net, tmp_path, lambda n: np.linspace(-2.0, 3.0, n) ** 2 - 1.0)
    assert params["k.w"].size == 3 * 9  # one 3x3 kernel per target map
    kernel = kernel_by_offset(params, "k", (h, w), (3, h, w), wrap)
    assert sorted({(dy, dx) for _, _, dy, dx in kernel}) == [
        (dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    x = np.random.default_rng(0).normal(size=(2, h, w))
    expected = correlate(x[:, None], kernel, 3, wrap)
    np.testing.assert_allclose(net.run(x=x)["c"], expected, rtol=1e-12, atol=1e-12)
    # the kernel applies at every position: a single pixel leaves the flipped kernel behind
    impulse = np.zeros((1, h, w))
    impulse[0, 2, 3] = 1.0
    y = net.run(x=impulse)["c"][0]
    for (_, n, dy, dx), k in kernel.items():
        assert y[n, 2 - dy, 3 - dx] == pytest.approx(k, abs=1e-15)


def test_wrap_reaches_across_the_border_and_no_wrap_does_not(compile_text, backend):
    x = np.zeros((1, 5, 5))
    x[0, 0, 0] = 1.0
    ys = {}
    for wrap in (False, True):
        text = CONV.format(h=5, w=5, wrap=str(wrap).lower()).replace(
            "as k", "weight constant(1.0) as k")
        ys[wrap] = make(compile_text, text, backend).run(x=x)["c"][0, 0]
    assert ys[False][4, 4] == 0.0 and ys[False][4, 0] == 0.0
    assert ys[True][4, 4] == 1.0 and ys[True][4, 0] == 1.0 and ys[True][0, 4] == 1.0
    assert ys[True].sum() == 9.0 and ys[False].sum() == 4.0


DISC = """
network disc {
    seed 8
    input  x[2, 7, 8]
    output c[3, 7, 8] : identity bias none
    connect x -> c : local(radius=2, shared=true) weight normal(0, 1) as k
}
"""


def test_circular_kernel_has_13_taps_and_is_a_masked_5x5_correlation(compile_text, backend):
    net = make(compile_text, DISC, backend)
    params = net.parameters()
    assert params["k.w"].size == 2 * 3 * 13  # 13 taps per (source map, target map)
    kernel = kernel_by_offset(params, "k", (2, 7, 8), (3, 7, 8))
    mask = np.array([[0, 0, 1, 0, 0],
                     [0, 1, 1, 1, 0],
                     [1, 1, 1, 1, 1],
                     [0, 1, 1, 1, 0],
                     [0, 0, 1, 0, 0]], dtype=bool)
    for m in range(2):
        for n in range(3):
            taps = {(dy + 2, dx + 2) for mm, nn, dy, dx in kernel if (mm, nn) == (m, n)}
            assert taps == set(zip(*np.nonzero(mask))), (m, n)
    k5 = np.zeros((2, 3, 5, 5))
    for (m, n, dy, dx), k in kernel.items():
        k5[m, n, dy + 2, dx + 2] = k
    x = np.random.default_rng(1).normal(size=(3, 2, 7, 8))
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    expected = np.zeros((3, 3, 7, 8))
    for i in range(7):
        for j in range(8):
            window = padded[:, :, i:i + 5, j:j + 5]  # (batch, source map, 5, 5)
            expected[:, :, i, j] = np.einsum("bmyx,mnyx->bn", window, k5 * mask)
    np.testing.assert_allclose(net.run(x=x)["c"], expected, rtol=1e-12, atol=1e-12)


# ---- local without sharing, one_to_one and where between grids -----------------------------

POOL = """
network pool {
    seed 6
    input  x[8, 8]
    output disc[4, 4]  : identity bias none
    output block[4, 4] : identity bias none
    connect x -> disc  : local(radius=2) weight normal(0, 1)
    connect x -> block : local(radius=0.5, metric=chebyshev) weight constant(1.0)
}
"""

# Target (q0, q1) of a 4x4 grid sits at u = (2 q0 + 0.5, 2 q1 + 0.5) on the 8x8 grid. Within 2
# of u (euclidean): the 4x4 square of rows 2q0-1 .. 2q0+2 without its corners (distance
# sqrt(1.5^2 + 1.5^2) > 2), clipped to the grid. Written out for a few targets:
DISC_SOURCES = {
    (0, 0): [(r, c) for r in range(3) for c in range(3) if (r, c) != (2, 2)],
    (1, 2): [(r, c) for r in range(1, 5) for c in range(3, 7)
             if (r, c) not in {(1, 3), (1, 6), (4, 3), (4, 6)}],
    (3, 1): [(r, c) for r in range(5, 8) for c in range(1, 5) if (r, c) not in {(5, 1), (5, 4)}],
    (3, 3): [(r, c) for r in range(5, 8) for c in range(5, 8) if (r, c) != (5, 5)],
}


def test_local_between_grids_of_different_sizes_aligns_centres(compile_text, backend):
    net = make(compile_text, POOL, backend)
    params = net.parameters()
    rows = sources_of(params, "x->disc")
    x = np.random.default_rng(2).normal(size=(3, 8, 8))
    y = net.run(x=x)["disc"]
    for (q0, q1), cells in DISC_SOURCES.items():
        target = q0 * 4 + q1
        want = sorted(r * 8 + c for r, c in cells)
        assert sorted(rows[target]) == want, (q0, q1)
        expected = sum(rows[target][r * 8 + c] * x[:, r, c] for r, c in cells)
        np.testing.assert_allclose(y[:, q0, q1], expected, rtol=1e-12)
    assert len(rows[5]) == 12  # an inner target sees all 12
    # radius 0.5 (chebyshev) pools exactly the 2x2 block under each target
    blocks = x.reshape(3, 4, 2, 4, 2).sum(axis=(2, 4))
    np.testing.assert_allclose(net.run(x=x)["block"], blocks, rtol=1e-13)
    assert params["x->block.pre"].size == 64 and csr_ordered(params, "x->block", 64)


GRIDS = """
network grids {
    input  x[3, 5]
    input  v[2, 3, 4]
    output t[5, 3]    : identity bias none
    output flat[4, 6] : identity bias none
    output near[3, 5] : identity bias none
    output turn[4, 3, 2] : identity bias none
    connect x -> t    : where(pre.coord[0] == post.coord[1] and
                                pre.coord[1] == post.coord[0]) weight constant(1.0)
    connect v -> flat : one_to_one weight constant(1.0)
    connect v -> turn : where(pre.coord[0] == post.coord[2] and pre.coord[1] == post.coord[1]
                              and pre.coord[2] == post.coord[0]) weight constant(1.0)
    connect x -> near : where(max(abs(pre.coord[0] - post.coord[0]),
                                  abs(pre.coord[-1] - post.coord[-1])) <= 1
                              and not (pre.index + post.index) % 3 == 0) weight constant(1.0)
}
"""


def test_where_over_coordinates_and_one_to_one_between_grids(compile_text, backend):
    net = make(compile_text, GRIDS, backend)
    rng = np.random.default_rng(3)
    x, v = rng.normal(size=(2, 3, 5)), rng.normal(size=(2, 2, 3, 4))
    out = net.run(x=x, v=v)
    np.testing.assert_array_equal(out["t"], x.transpose(0, 2, 1))
    np.testing.assert_array_equal(out["flat"], v.reshape(2, 4, 6))
    np.testing.assert_array_equal(out["turn"], v.transpose(0, 3, 2, 1))
    # `near`: every pair within one step on both axes whose flat indices do not sum to 0 mod 3
    pre, post = np.meshgrid(np.arange(15), np.arange(15), indexing="xy")  # [post, pre]
    allowed = ((np.abs(pre // 5 - post // 5) <= 1) & (np.abs(pre % 5 - post % 5) <= 1)
               & ((pre + post) % 3 != 0))
    np.testing.assert_allclose(out["near"].reshape(2, 15), x.reshape(2, 15) @ allowed.T,
                               rtol=1e-13)
    params = net.parameters()
    assert params["x->near.pre"].size == allowed.sum()
    assert csr_ordered(params, "x->near", 15) and csr_ordered(params, "x->t", 15)


# ---- neuron-level DAGs: computed in one tick -----------------------------------------------

CHAIN = """
network chain {
    input  x[6]
    output h[6] : %s
    connect x -> h : one_to_one weight constant(1.0)
    connect h -> h : where(post.index == pre.index + 1) weight constant(%s)
}
"""


@pytest.mark.parametrize("activation, weight", [("identity bias none", 1.0),
                                                ("identity bias 0.5", 1.0),
                                                ("tanh bias -0.25", 0.75)])
def test_a_chain_in_one_group_is_a_running_sum_in_one_tick(compile_text, backend, activation,
                                                             weight):
    module = compile_text(CHAIN % (activation, weight), backend)
    assert [(s.groups, s.neuron_level) for s in module.SPEC.schedule] == [(("h",), True)]
    net = module.Network(dtype="float64")
    x = np.random.default_rng(4).normal(size=(3, 6))
    y = net.run(x=x, ticks=1)["h"]
    if activation == "identity bias none":
        np.testing.assert_allclose(y, np.cumsum(x, axis=1), rtol=1e-13)
    elif activation == "identity bias 0.5":
        np.testing.assert_allclose(y, np.cumsum(x + 0.5, axis=1), rtol=1e-13)
    else:  # h[i] = tanh(-0.25 + x[i] + 0.75 h[i-1]), one neuron after another
        h = np.zeros((3, 6))
        for i in range(6):
            h[:, i] = np.tanh(-0.25 + x[:, i] + (weight * h[:, i - 1] if i else 0.0))
        np.testing.assert_allclose(y, h, rtol=1e-13)


PING_PONG = """
network ping_pong {
    input  x[5]
    output a[5] : identity bias none
    output b[5] : tanh bias 0.1
    connect x -> a : one_to_one weight constant(1.0)
    connect a -> b : where(post.index == pre.index) weight constant(2.0)
    connect b -> a : where(post.index == pre.index + 1) weight constant(-0.5)
}
"""


def test_two_groups_feeding_each_other_form_a_neuron_level_dag(compile_text, backend):
    module = compile_text(PING_PONG, backend)
    assert [(s.groups, s.neuron_level) for s in module.SPEC.schedule] == [(("a", "b"), True)]
    x = np.random.default_rng(5).normal(size=(4, 5))
    out = module.Network(dtype="float64").run(x=x, ticks=1)
    a, b = np.zeros((4, 5)), np.zeros((4, 5))
    for i in range(5):  # a[i] <- x[i], b[i-1];  b[i] <- a[i]
        a[:, i] = x[:, i] - 0.5 * (b[:, i - 1] if i else 0.0)
        b[:, i] = np.tanh(0.1 + 2.0 * a[:, i])
    np.testing.assert_allclose(out["a"], a, rtol=1e-13)
    np.testing.assert_allclose(out["b"], b, rtol=1e-13)


KERNEL_LOOP = """
network kernel_loop {
    seed 9
    input  x[7]
    output a[7] : identity bias none
    output b[7] : tanh bias 0.2
    connect x -> a : one_to_one weight constant(1.0)
    connect a -> b : local(radius=1, shared=true) weight normal(0, 1) as k
    connect b -> a : where(post.index == pre.index + 2) weight constant(0.5)
}
"""


def test_a_shared_kernel_inside_a_neuron_level_step(compile_text, backend):
    """a -> b by a 3-tap kernel, b[i] -> a[i + 2]: a DAG of neurons across two groups. Its
    value is the fixed point of computing every neuron from the others' latest values, which
    a DAG reaches after as many sweeps as it is deep."""
    module = compile_text(KERNEL_LOOP, backend)
    assert [(s.groups, s.neuron_level) for s in module.SPEC.schedule] == [(("a", "b"), True)]
    net = module.Network(dtype="float64")
    params = net.parameters()
    offsets = params["k.pre"] - params["k.post"]
    taps = {int(o): float(params["k.w"][t]) for o, t in zip(offsets, params["k.tie"])}
    assert sorted(taps) == [-1, 0, 1] and params["k.w"].size == 3
    x = np.random.default_rng(9).normal(size=(3, 7))
    a, b = np.zeros((3, 7)), np.zeros((3, 7))
    for _ in range(14):
        a = x + 0.5 * np.pad(b, ((0, 0), (2, 0)))[:, :7]
        padded = np.pad(a, ((0, 0), (1, 1)))
        b = np.tanh(0.2 + sum(w * padded[:, 1 + o:8 + o] for o, w in taps.items()))
    out = net.run(x=x, ticks=1)
    np.testing.assert_allclose(out["a"], a, rtol=1e-13)
    np.testing.assert_allclose(out["b"], b, rtol=1e-13)


CYCLES = {
    "ring": """
network ring {
    input  x[6]
    output h[6] : identity
    connect x -> h : one_to_one
    connect h -> h : where(post.index == (pre.index + 1) % 6)
}
""",
    "pair": """
network pair {
    input  x[5]
    group  a[5] : tanh
    output b[5] : identity
    connect x -> a : one_to_one
    connect a -> b : where(post.index == pre.index)
    connect b -> a : where(post.index == 4 - pre.index)
}
""",
}


@pytest.mark.parametrize("case", list(CYCLES))
def test_a_neuron_level_cycle_is_refused_at_construction_and_by_check(
        compile_text, backend, case, tmp_path, capsys):
    module = compile_text(CYCLES[case], backend)  # the front end cannot see it: the rule can
    with pytest.raises(CycleError, match="cycle"):
        module.Network()
    path = tmp_path / f"{case}.nndl"
    path.write_text(CYCLES[case], encoding="utf-8")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "cycle" in err and "delay 1" in err


# ---- random and fan_in: statistics of the built synapses -----------------------------------

SPARSE = """
network sparse {
    input  x[40]
    group  r[50]  : tanh
    group  q[30]  : tanh
    output f[36]  : identity
    output g[30]  : identity
    connect x -> r : random(p=0.3)
    connect r -> q : random(p=0.5, where=pre.index < post.index) as lower
    connect x -> f : fan_in(k=5)
    connect q -> g : fan_in(k=4, where=pre.index <= post.index - 3) as late
}
"""


def built(compile_text, backend, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NNDLWarning)  # `late`: some targets are short
        return make(compile_text, SPARSE, backend, seed=seed).parameters()


def test_random_and_fan_in_wire_what_their_rules_say(compile_text, backend):
    params = built(compile_text, backend, 0)
    for name, n_pre in [("x->r", 40), ("lower", 50), ("x->f", 40), ("late", 30)]:
        assert csr_ordered(params, name, n_pre), name  # sorted by (post, pre), no repeats
    # random(p): each of the 2000 pairs with probability 0.3 (sd ~ 20)
    assert abs(params["x->r.pre"].size - 600) < 5 * 20.5
    pre, post = params["lower.pre"], params["lower.post"]
    assert (pre < post).all()
    candidates = sum(min(j, 50) for j in range(30))  # 435
    assert abs(pre.size - 0.5 * candidates) < 5 * math.sqrt(candidates * 0.25)
    # fan_in(k): exactly k distinct sources per target, or all of its candidates
    assert (np.bincount(params["x->f.post"], minlength=36) == 5).all()
    pre, post = params["late.pre"], params["late.post"]
    assert (pre <= post - 3).all()
    counts = np.bincount(post, minlength=30)
    for j in range(30):
        have = max(j - 2, 0)  # candidates 0 .. j-3
        assert counts[j] == min(4, have), j
        if have <= 4:
            assert sorted(pre[post == j]) == list(range(have))


def test_fan_in_reports_the_targets_that_are_short(compile_text, backend):
    with pytest.warns(NNDLWarning, match=r"6 target neurons have fewer than k=4 .* `late`"):
        make(compile_text, SPARSE, backend)


EDGES = """
network edges {
    input  x[3]
    input  s[4, 5]
    output all[4]  : identity
    output same[6] : identity
    output sure[6] : identity
    output self[4, 5] : identity
    connect x -> all  : fan_in(k=5)
    connect x -> same : where(pre.index != post.index % 3)
    connect x -> sure : random(p=1.0, where=pre.index != post.index % 3)
    connect s -> self : local(radius=0, metric=chebyshev)
}
"""


def test_extreme_arguments_of_the_rules(compile_text, backend):
    with pytest.warns(NNDLWarning, match="4 target neurons have fewer than k=5"):
        params = make(compile_text, EDGES, backend).parameters()
    np.testing.assert_array_equal(params["x->all.pre"], np.tile(np.arange(3), 4))
    np.testing.assert_array_equal(params["x->all.post"], np.repeat(np.arange(4), 3))
    for part in ("pre", "post"):  # random(p=1) keeps every candidate
        np.testing.assert_array_equal(params[f"x->sure.{part}"], params[f"x->same.{part}"])
    assert params["x->same.pre"].size == 12
    np.testing.assert_array_equal(params["s->self.pre"], np.arange(20))  # radius 0: itself
    np.testing.assert_array_equal(params["s->self.post"], np.arange(20))


def test_random_and_fan_in_draw_uniformly_over_seeds(compile_text):
    """Over many seeds: every pair of random(p) appears with frequency p; each candidate of a
    fan_in target with frequency k / candidates (both the sampling and enumerating paths)."""
    text = """
network draws {
    input  x[12]
    input  s[3]
    output y[4] : identity
    output z[5] : identity
    output w[6] : identity
    connect x -> y : fan_in(k=3)
    connect s -> z : fan_in(k=2)
    connect x -> w : random(p=0.2)
}
"""
    module = compile_text(text, "numpy")
    seeds = 300
    freq = {"x->y": np.zeros((4, 12)), "s->z": np.zeros((5, 3)), "x->w": np.zeros((6, 12))}
    for seed in range(seeds):
        params = module.Network(seed=seed).parameters()
        for name, f in freq.items():
            np.add.at(f, (params[f"{name}.post"], params[f"{name}.pre"]), 1)
    for name, p in [("x->y", 3 / 12), ("s->z", 2 / 3), ("x->w", 0.2)]:
        sd = math.sqrt(seeds * p * (1 - p))
        assert np.abs(freq[name] - seeds * p).max() < 4.5 * sd, (name, freq[name])


# ---- determinism ---------------------------------------------------------------------------


def parameters_everywhere(compile_text, text_or_path, seed, dtype="float64",
                          network=None) -> dict:
    """{backend: parameters} for one source (text, or an example's path)."""
    result = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NNDLWarning)
        for b in BACKENDS:
            module = nndl.compile(text_or_path, backend=b, network=network) \
                if isinstance(text_or_path, Path) else compile_text(text_or_path, b)
            result[b] = module.Network(seed=seed, dtype=dtype).parameters()
    return result


def assert_same(a: dict, b: dict, what="") -> None:
    assert sorted(a) == sorted(b), what
    for key, value in a.items():
        assert value.dtype == b[key].dtype, (what, key)
        np.testing.assert_array_equal(value, b[key], err_msg=f"{what} {key}")


# each network of each example (a file may declare several)
EXAMPLE_NETWORKS = [(path, name) for path in EXAMPLES
                    for name in re.findall(r"^network\s+(\w+)", path.read_text(), re.M)]


@pytest.mark.parametrize("path, network", EXAMPLE_NETWORKS,
                         ids=[f"{p.name}:{n}" for p, n in EXAMPLE_NETWORKS])
def test_every_example_builds_the_same_parameters_in_every_backend(compile_text, path, network):
    for seed in (0, 17):
        params = parameters_everywhere(compile_text, path, seed, network=network)
        for b in BACKENDS[1:]:
            assert_same(params[BACKENDS[0]], params[b], f"{path.name} seed {seed} {b}")
    again = parameters_everywhere(compile_text, path, 17, network=network)
    assert_same(params[BACKENDS[0]], again[BACKENDS[0]], "rebuilt")


MIXED = """
network mixed {
    seed 12
    input  x[6, 6]
    group  conv[2, 6, 6] : relu
    group  blob[40]      : tanh
    group  pool[3, 3]    : tanh
    output y[5]          : identity
    connect x    -> conv : local(radius=1.5, wrap=true, shared=true)
    connect x    -> pool : local(radius=1, metric=manhattan)
    connect conv -> blob : random(p=0.2)
    connect x    -> blob : fan_in(k=4, where=pre.index % 2 == post.index % 2) as picky
    connect blob -> blob : fan_in(k=3, where=pre.index < post.index)
    connect pool -> y    : where((pre.index + post.index) % 2 == 0) weight normal(0, 1)
    connect blob -> y    : full
}
"""
SEEDED = ("conv->blob", "picky", "blob->blob")  # the rules that draw their synapses


def test_the_seed_picks_random_and_fan_in_synapses_only(compile_text, backend):
    a = make(compile_text, MIXED, backend, seed=1).parameters()
    b = make(compile_text, MIXED, backend, seed=2).parameters()
    for name in SEEDED:
        assert not (np.array_equal(a[f"{name}.pre"], b[f"{name}.pre"])
                    and np.array_equal(a[f"{name}.post"], b[f"{name}.post"])), name
    for name in ("x->conv", "x->pool", "pool->y", "blob->y"):
        for part in ("pre", "post", "tie"):
            if f"{name}.{part}" in a:
                np.testing.assert_array_equal(a[f"{name}.{part}"], b[f"{name}.{part}"])
    assert not np.array_equal(a["x->conv.w"], b["x->conv.w"])


def test_adding_a_projection_leaves_every_other_unchanged(compile_text, backend):
    bigger = MIXED.replace("    output y[5]", "    group  extra[7]     : relu\n    output y[5]")
    bigger = bigger.replace("    connect blob -> y    : full\n",
                            "    connect x    -> extra : fan_in(k=2)\n"
                            "    connect blob -> y    : full\n"
                            "    connect extra -> y   : random(p=0.5) as more\n")
    small = make(compile_text, MIXED, backend, seed=5).parameters()
    large = make(compile_text, bigger, backend, seed=5).parameters()
    assert set(large) - set(small) == {"x->extra.pre", "x->extra.post", "x->extra.w",
                                       "more.pre", "more.post", "more.w", "extra.bias"}
    for key, value in small.items():
        np.testing.assert_array_equal(large[key], value, err_msg=key)


def test_the_same_seed_gives_the_same_parameters_in_both_backends_float32(compile_text):
    params = parameters_everywhere(compile_text, MIXED, 3, dtype="float32")
    for b in BACKENDS[1:]:
        assert_same(params[BACKENDS[0]], params[b], b)


def test_float32_networks_compute_in_float32_with_every_rule(compile_text, backend):
    net = make(compile_text, MIXED, backend, dtype="float32")
    x = np.random.default_rng(6).normal(size=(2, 6, 6)).astype(np.float32)
    y = net.run(x=x)["y"]
    assert y.dtype == np.float32
    reference = make(compile_text, MIXED, backend, dtype="float64").run(x=x)["y"]
    np.testing.assert_allclose(y, reference, rtol=1e-4, atol=1e-4)


# ---- the weight file and every rule --------------------------------------------------------


@pytest.mark.parametrize("source", BACKENDS)
def test_sparse_and_shared_parameters_round_trip_between_backends(compile_text, backend, source,
                                                                  tmp_path):
    saver = make(compile_text, MIXED, source, seed=7)
    path = tmp_path / "mixed.npz"
    saver.save(path)
    loader = make(compile_text, MIXED, backend, seed=8)  # other random synapses until loaded
    x = np.random.default_rng(7).normal(size=(3, 6, 6))
    assert np.abs(loader.run(x=x)["y"] - saver.run(x=x)["y"]).max() > 1e-6
    loader.load(path)
    assert_same(loader.parameters(), saver.parameters())
    assert "x->conv.tie" in loader.parameters()
    np.testing.assert_allclose(loader.run(x=x)["y"], saver.run(x=x)["y"], rtol=1e-12, atol=1e-12)


def drop_one(arrays: dict, name: str, at: int) -> None:
    keep = np.arange(arrays[f"{name}.pre"].size) != at
    for part in ("pre", "post", "tie") if f"{name}.tie" in arrays else ("pre", "post", "w"):
        arrays[f"{name}.{part}"] = arrays[f"{name}.{part}"][keep]


def move_one(arrays: dict, name: str, n_pre: int) -> None:
    """Move one synapse of target 0 to a source it does not have, keeping CSR order."""
    pre, post = arrays[f"{name}.pre"].copy(), arrays[f"{name}.post"]
    run = pre[post == 0].tolist()  # the first synapses, ascending
    bounds = [-1] + run + [n_pre]
    i, p = next((i, p) for i in range(len(run)) for p in range(bounds[i] + 1, bounds[i + 2])
                if p not in run)
    pre[i] = p
    arrays[f"{name}.pre"] = pre


def swap_ties(arrays: dict, name: str) -> None:
    tie = arrays[f"{name}.tie"].copy()
    first = int(np.flatnonzero(tie != tie[0])[0])
    tie[0], tie[first] = tie[first], tie[0]
    arrays[f"{name}.tie"] = tie


ALTERED = {
    "local synapse dropped": lambda a: drop_one(a, "x->pool", 3),
    "local synapse moved": lambda a: move_one(a, "x->pool", 36),
    "shared synapse dropped": lambda a: drop_one(a, "x->conv", 10),
    "shared ties swapped": lambda a: swap_ties(a, "x->conv"),
    "where synapse dropped": lambda a: drop_one(a, "pool->y", 0),
    "where synapse moved": lambda a: move_one(a, "pool->y", 9),
}


@pytest.mark.parametrize("case", list(ALTERED))
def test_a_file_with_other_local_or_where_synapses_is_refused(compile_text, backend, tmp_path,
                                                             case):
    net = make(compile_text, MIXED, backend, seed=1)
    path = tmp_path / "altered.npz"
    make(compile_text, MIXED, backend, seed=2).save(path)
    arrays, meta = weightfile.load(path)
    ALTERED[case](arrays)
    weightfile.save(path, arrays, meta)
    before = net.parameters()
    x = np.random.default_rng(8).normal(size=(2, 6, 6))
    y = net.run(x=x)["y"]
    with pytest.raises(nndl.WeightFileError, match="x->pool|x->conv|pool->y"):
        net.load(path)
    assert_same(net.parameters(), before)
    np.testing.assert_array_equal(net.run(x=x)["y"], y)


def test_a_file_whose_random_synapses_differ_loads(compile_text, backend, tmp_path):
    """random/fan_in synapses depend on the seed (and may be rewired): any valid set loads."""
    net = make(compile_text, MIXED, backend, seed=1)
    path = tmp_path / "rewired.npz"
    net.save(path)
    arrays, meta = weightfile.load(path)
    drop_one(arrays, "conv->blob", 5)
    move_one(arrays, "picky", 36)
    weightfile.save(path, arrays, meta)
    net.load(path)
    params = net.parameters()
    for key in ("conv->blob.pre", "conv->blob.w", "picky.pre"):
        np.testing.assert_array_equal(params[key], arrays[key])


def test_a_file_that_closes_a_neuron_level_cycle_is_refused(compile_text, backend, tmp_path):
    net = make(compile_text, MIXED, backend, seed=1)
    path = tmp_path / "cyclic.npz"
    net.save(path)
    arrays, meta = weightfile.load(path)
    pre, post = arrays["blob->blob.pre"], arrays["blob->blob.post"]
    # neuron 39 listens to an earlier neuron `first`; let `first` listen to 39 too: a loop
    first = int(pre[post == 39][0])
    arrays["blob->blob.pre"] = np.concatenate([[39], pre])
    arrays["blob->blob.post"] = np.concatenate([[first], post])
    order = np.lexsort((arrays["blob->blob.pre"], arrays["blob->blob.post"]))
    for part in ("pre", "post"):
        arrays[f"blob->blob.{part}"] = arrays[f"blob->blob.{part}"][order]
    arrays["blob->blob.w"] = np.concatenate([[0.5], arrays["blob->blob.w"]])[order]
    weightfile.save(path, arrays, meta)
    before = net.parameters()
    with pytest.raises(nndl.WeightFileError, match="cycle"):
        net.load(path)
    assert_same(net.parameters(), before)
