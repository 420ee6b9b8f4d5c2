"""Every function of nndl.plot draws a readable PNG of the size it promises, for real example
networks: receptive fields on retina.nndl's grids, digits.nndl's shared convolution kernel, the
activity of bursting.nndl's neurons over 300 ticks, and the synapse count of a short fit of
digits_pruning.nndl's rewiring regime. The data behind the pictures (a receptive field, a
kernel's taps) is checked against the network's own synapses."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

import nndl  # noqa: E402
from nndl import plot  # noqa: E402

EXAMPLES = Path(__file__).parent.parent / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def no_open_figures():
    """Start each test with no pyplot figure open (an earlier test elsewhere may leave one), so
    that `check_png` can tell that the plot function closed its own."""
    plt.close("all")
    yield
    plt.close("all")


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG's IHDR chunk, after checking the file is a PNG."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def check_png(path: Path, inches: tuple[float, float]) -> np.ndarray:
    """The PNG exists, has the promised size (inches x plot.DPI, to a pixel) and shows something
    (not one flat colour); returns its pixels."""
    assert path.exists() and path.stat().st_size > 5000, f"{path} is missing or nearly empty"
    width, height = png_size(path)
    assert abs(width - inches[0] * plot.DPI) <= 1 and abs(height - inches[1] * plot.DPI) <= 1, \
        (width, height, inches)
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[:2] == (height, width)
    assert pixels[..., :3].std() > 0.05  # drawn on, not blank
    assert plt.get_fignums() == []  # the figure was closed
    return pixels


def network(name: str, **options):
    return nndl.compile(EXAMPLES / f"{name}.nndl", backend="numpy").Network(**options)


# ---- the existing plots of training runs ----


def test_training_curves(tmp_path):
    history = {"loss": [1.5, 0.6, 0.3, 0.2], "test_loss": [0.7, 0.4, 0.3, 0.25],
               "test_accuracy": [0.89, 0.93, 0.95, 0.96]}
    plot.training_curves(history, tmp_path / "loss.png", title="digits")
    check_png(tmp_path / "loss.png", (10, 4))
    plot.training_curves({"loss": [1.0, 0.5]}, tmp_path / "only_loss.png")
    check_png(tmp_path / "only_loss.png", (5.5, 4))


def test_training_curves_of_local_rules_draw_what_the_history_holds(tmp_path):
    """A regime without a loss records what its rules did; each measure gets its panel."""
    perceptron = {"mistakes": [3, 2, 1, 0], "weight_change": [0.05, 0.03, 0.01, 0.0],
                  "test_accuracy": [0.5, 0.75, 1.0, 1.0], "test_mistakes": [2, 1, 0, 0]}
    plot.training_curves(perceptron, tmp_path / "perceptron.png", title="perceptron")
    check_png(tmp_path / "perceptron.png", (15, 4))
    plot.training_curves({"weight_change": [0.01, 0.004, 0.002]}, tmp_path / "oja.png")
    check_png(tmp_path / "oja.png", (5.5, 4))
    with pytest.raises(ValueError, match="no measure to plot"):
        plot.training_curves({}, tmp_path / "nothing.png")


def test_pruning_curves(tmp_path):
    plot.pruning_curves([0.0, 0.5, 0.9], [0.97, 0.95, 0.6], [0.975, 0.97, 0.96],
                        tmp_path / "pruning.png", removed_after=[0.0, 0.49, 0.88],
                        synapses={0.5: [100, 95, 96], 0.9: [20, 19, 21]}, baseline=0.975)
    check_png(tmp_path / "pruning.png", (15, 4.2))


# ---- activity over ticks ----


def test_activity_of_bursting_neurons(tmp_path):
    net = network("bursting", dtype="float64")
    outputs = net.run(current=np.ones((2, 1)), ticks=300, every_tick=True)
    assert outputs["adapting"].shape == (300, 2, 3)
    plot.activity(outputs, tmp_path / "activity.png", title="bursting.nndl, constant input")
    check_png(tmp_path / "activity.png", (10, 0.9 + 2.2 * 2))
    # one group, given as an array or picked from the dict
    plot.activity(outputs["adapting"], tmp_path / "array.png", sample=1)
    check_png(tmp_path / "array.png", (10, 0.9 + 2.2))
    plot.activity(outputs, tmp_path / "one.png", groups="damped")
    check_png(tmp_path / "one.png", (10, 0.9 + 2.2))


def test_activity_of_a_signed_grid_group(tmp_path):
    """A group with a grid (flattened row-major) and signed outputs (tanh)."""
    net = network("reservoir")
    drive = np.random.default_rng(0).normal(size=(40, 1, 4))
    outputs = net.run(drive=drive, every_tick=True)
    plot.activity(outputs, tmp_path / "reservoir.png")
    check_png(tmp_path / "reservoir.png", (10, 0.9 + 2.2))


def test_activity_refuses_a_last_tick_output(tmp_path):
    with pytest.raises(ValueError, match="every_tick=True"):
        plot.activity({"y": np.zeros(3)}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="sample 4"):
        plot.activity({"y": np.zeros((5, 2, 3))}, tmp_path / "x.png", sample=4)
    assert plt.get_fignums() == []  # refused before a figure was opened


# ---- receptive fields ----


def test_receptive_field_on_the_retina(tmp_path):
    net = network("retina")
    field = plot.receptive_field_grid(net, "photoreceptors->on_centre", (8, 8))
    assert field.shape == (1, 16, 16)
    rows, cols = np.nonzero(np.isfinite(field[0]))
    assert len(rows) == 13  # a disc of radius 2 in the middle of the grid
    assert np.all((rows - 8) ** 2 + (cols - 8) ** 2 <= 4)
    # the weights are the network's own, placed where their source neurons are
    arrays = net.parameters()
    pre, post = arrays["photoreceptors->on_centre.pre"], arrays["photoreceptors->on_centre.post"]
    mine = post == 8 * 16 + 8
    np.testing.assert_array_equal(field.reshape(-1)[pre[mine]],
                                  arrays["photoreceptors->on_centre.w"][mine])
    # at the corner, a quarter of the disc
    corner = plot.receptive_field_grid(net, "photoreceptors->on_centre", 0)
    assert np.isfinite(corner).sum() == 6

    plot.receptive_field(net, "photoreceptors->on_centre", (8, 8), tmp_path / "disc.png")
    check_png(tmp_path / "disc.png", (4 + 1.3, 4 + 1))
    # the coarser grid pools 2x2 blocks of the finer one; spaces around `->` are fine
    plot.receptive_field(net, "on_centre -> pooled", (2, 5), tmp_path / "pool.png")
    check_png(tmp_path / "pool.png", (4 + 1.3, 4 + 1))
    assert np.isfinite(plot.receptive_field_grid(net, "on_centre->pooled", (2, 5))).sum() == 4


def test_receptive_field_over_feature_maps(tmp_path):
    """digits.nndl: a hidden neuron sees all 16 feature maps (full), drawn side by side."""
    net = network("digits")
    field = plot.receptive_field_grid(net, "maps->hidden", 5)
    assert field.shape == (16, 8, 8) and np.isfinite(field).all()
    plot.receptive_field(net, "maps->hidden", 5, tmp_path / "hidden.png")
    check_png(tmp_path / "hidden.png", (8 * 1.8 + 1.3, 2 * 1.8 + 1))
    # a source of one axis is drawn as one strip
    assert plot.receptive_field_grid(net, "hidden->label", 3).shape == (1, 1, 128)
    plot.receptive_field(net, "hidden->label", 3, tmp_path / "strip.png")
    check_png(tmp_path / "strip.png", (6 + 1.3, 1.2 + 1.4))


def test_receptive_field_errors(tmp_path):
    net = network("retina")
    with pytest.raises(KeyError, match="no projection `retina->on`"):
        plot.receptive_field(net, "retina->on", 0, tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"neuron \(16, 0\) is not in group `on_centre`"):
        plot.receptive_field(net, "photoreceptors->on_centre", (16, 0), tmp_path / "x.png")
    assert plt.get_fignums() == []


# ---- shared kernels ----


def test_kernel_of_the_digits_convolution(tmp_path):
    net = network("digits")
    weights, taps = plot.kernel_entries(net, "conv")
    assert weights.shape == (1, 16, 9)
    assert sorted(map(tuple, taps)) == [(r, c) for r in (-1, 0, 1) for c in (-1, 0, 1)]
    # each map's receptive field (read through the tie) is its kernel, placed at the offsets
    for target_map in (0, 7, 15):
        field = plot.receptive_field_grid(net, "conv", (target_map, 3, 4))[0]
        for (dr, dc), w in zip(taps, weights[0, target_map]):
            assert field[3 + int(dr), 4 + int(dc)] == pytest.approx(w)
        assert np.isfinite(field).sum() == 9
    plot.kernel(net, "conv", tmp_path / "kernel.png")
    check_png(tmp_path / "kernel.png", (8 * 1.5 + 1.3, 2 * 1.5 + 1.1))


def test_kernels_of_the_circular_convolution(tmp_path):
    """circular_conv.nndl: a 13-tap disc, and a stride-2 kernel from 4 maps into 4."""
    net = network("circular_conv")
    weights, taps = plot.kernel_entries(net, "image->features")
    assert weights.shape == (1, 4, 13)
    assert np.all((taps ** 2).sum(axis=1) <= 4)
    field = plot.receptive_field_grid(net, "image->features", (2, 6, 6))[0]
    for (dr, dc), w in zip(taps, weights[0, 2]):
        assert field[6 + int(dr), 6 + int(dc)] == pytest.approx(w)
    weights, taps = plot.kernel_entries(net, "features->pooled")
    assert weights.shape == (4, 4, 4)
    assert sorted(map(tuple, taps)) == [(-0.5, -0.5), (-0.5, 0.5), (0.5, -0.5), (0.5, 0.5)]
    plot.kernel(net, "image->features", tmp_path / "disc.png")
    check_png(tmp_path / "disc.png", (4 * 1.5 + 1.3, 1.5 + 1.1))
    plot.kernel(net, "features->pooled", tmp_path / "stride.png")
    check_png(tmp_path / "stride.png", (4 * 1.5 + 1.3, 4 * 1.5 + 1.1))


def test_kernels_around_a_torus_and_into_a_coarser_grid(tmp_path):
    """Kernels with wrap=true (a 13-tap disc on an 8x8 torus) and from 6 maps into a grid half
    the size: each target's receptive field, read through the tie, is its kernel placed at the
    taps' offsets from the target's centre (around the torus where it wraps)."""
    source = tmp_path / "kernels.nndl"
    source.write_text("""network kernels {
    input  image[8, 8]
    group  maps[6, 8, 8] : relu
    group  discs[2, 8, 8] : relu
    output coarse[4, 4]
    connect image -> maps   : local(radius=1, metric=chebyshev, shared=true)
    connect image -> discs  : local(radius=2, shared=true, wrap=true)
    connect maps  -> coarse : local(radius=0.5, metric=chebyshev, shared=true)
    connect discs -> coarse : full
}
""")
    net = nndl.compile(source).Network()
    weights, taps = plot.kernel_entries(net, "image->discs")
    assert weights.shape == (1, 2, 13)
    for target in [(1, 0, 0), (0, 7, 3), (1, 4, 4)]:
        field = plot.receptive_field_grid(net, "image->discs", target)[0]
        assert np.isfinite(field).sum() == 13
        for (dr, dc), w in zip(taps, weights[0, target[0]]):
            assert field[(target[1] + int(dr)) % 8, (target[2] + int(dc)) % 8] == \
                pytest.approx(w)
    weights, taps = plot.kernel_entries(net, "maps->coarse")
    assert weights.shape == (6, 1, 4)
    field = plot.receptive_field_grid(net, "maps->coarse", (1, 2))  # centre (2.5, 4.5)
    for m in range(6):
        for (dr, dc), w in zip(taps, weights[m, 0]):
            assert field[m, int(2.5 + dr), int(4.5 + dc)] == pytest.approx(w)
    plot.kernel(net, "maps->coarse", tmp_path / "maps.png")   # 6 source maps into 1: a row
    check_png(tmp_path / "maps.png", (6 * 1.5 + 1.3, 1.5 + 1.1))
    plot.kernel(net, "image->discs", tmp_path / "discs.png")  # 5.5 inches across at least
    check_png(tmp_path / "discs.png", (5.5, 1.5 + 1.1))


def test_kernels_of_a_signal_and_of_a_volume(tmp_path):
    """signal_conv1d.nndl (axes=1): 4 kernels of 5 taps, then a stride-2 layer of 4 x 8
    kernels of 4 taps, drawn as rows; a kernel over three axes has its entries, and a clear
    refusal to be drawn."""
    net = network("signal_conv1d")
    weights, taps = plot.kernel_entries(net, "signal->features")
    assert weights.shape == (1, 4, 5) and taps[:, 0].tolist() == [-2, -1, 0, 1, 2]
    weights, taps = plot.kernel_entries(net, "features->pooled")
    assert weights.shape == (4, 8, 4) and taps[:, 0].tolist() == [-1.5, -0.5, 0.5, 1.5]
    plot.kernel(net, "signal->features", tmp_path / "signal.png")
    source = tmp_path / "volume.nndl"
    source.write_text("""network volume {
    input  clip[4, 4, 3]
    output maps[2, 4, 4, 3]
    connect clip -> maps : local(radius=1, metric=chebyshev, shared=true, axes=3)
}
""")
    net = nndl.compile(source).Network()
    weights, taps = plot.kernel_entries(net, "clip->maps")
    assert weights.shape == (1, 2, 27) and taps.shape == (27, 3)
    with pytest.raises(ValueError, match="a grid of 3 axes: only kernels over one or two"):
        plot.kernel(net, "clip->maps", tmp_path / "volume.png")
    assert plt.get_fignums() == [] and not (tmp_path / "volume.png").exists()


def test_kernel_needs_a_shared_rule(tmp_path):
    with pytest.raises(ValueError, match="no shared kernel"):
        plot.kernel(network("retina"), "photoreceptors->on_centre", tmp_path / "x.png")


# ---- synapse counts over training with rewire ----


def test_synapse_counts_of_a_rewiring_fit(tmp_path):
    from nndl import datasets

    ds = datasets.load("digits")
    net = network("digits_pruning")
    start = sum(net.parameters()[f"{p.name}.pre"].size for p in net.SPEC.projections)
    history = net.fit({"image": ds.x_train[:240]}, {"label": ds.y_train[:240]},
                      regime="finetune", epochs=2, batch=8, progress=False)
    assert len(history["synapses"]) == 2 and sum(history["pruned"]) > 0
    plot.synapse_counts(history, tmp_path / "synapses.png", start=start,
                        title="digits_pruning, finetune")
    check_png(tmp_path / "synapses.png", (10, 4))
    plot.synapse_counts({"synapses": history["synapses"]}, tmp_path / "count.png")
    check_png(tmp_path / "count.png", (5.5, 4))
    with pytest.raises(ValueError, match="no `synapses`"):
        plot.synapse_counts({"loss": [1.0]}, tmp_path / "x.png")


# ---- recordings: rasters and traces ----

SPIKING = """
neuron lif {
    param threshold = 1.0
    state v = 0.0
    v     = 0.9 * v + net
    fired = v > threshold
    out   = 1.0 if fired else 0.0
    v     = 0.0 if fired else v
}

network pool {
    seed 2
    group  drive[40] : poisson(rate=0.2)
    output cells[4, 5] : lif
    connect drive -> cells : random(p=0.3) weight uniform(0.05, 0.25)
}
"""


def spiking_run(tmp_path, ticks=200):
    path = tmp_path / "pool.nndl"
    path.write_text(SPIKING)
    net = nndl.compile(path, backend="numpy").Network(dtype="float64")
    return net.run(ticks=ticks, record=["drive", "cells", "cells.v"])


def test_raster_draws_a_dot_at_every_spike_and_the_rate_below(tmp_path):
    result = spiking_run(tmp_path)
    fig = plot.raster(result, group="cells")
    top, bottom = fig.axes
    dots = top.collections[0].get_offsets()
    spikes = result.spikes["cells"]
    assert len(dots) == spikes.tick.size > 0
    np.testing.assert_array_equal(dots[:, 0], spikes.tick)
    np.testing.assert_array_equal(dots[:, 1], spikes.neuron)
    x, y = bottom.lines[0].get_data()
    np.testing.assert_array_equal(x, np.arange(200))
    values = result.recorded["cells"].reshape(200, 20)
    np.testing.assert_allclose(y, values.mean(axis=1))  # the fraction of neurons firing
    assert top.get_title(loc="left").startswith(f"cells: {spikes.tick.size:,} spikes of 20")
    plt.close(fig)
    plot.raster(result, tmp_path / "raster.png", group="drive", title="pool.nndl")
    check_png(tmp_path / "raster.png", (10, 6))


def test_raster_takes_spikes_or_an_array_and_names_what_is_missing(tmp_path):
    result = spiking_run(tmp_path, ticks=50)
    for given in (result.spikes["drive"], result.recorded["drive"]):
        fig = plot.raster(given)
        assert len(fig.axes[0].collections[0].get_offsets()) == result.spikes["drive"].tick.size
        plt.close(fig)
    with pytest.raises(ValueError, match="needs group=NAME: .* are drive, cells"):
        plot.raster(result)
    with pytest.raises(ValueError, match="`cells.v` to draw: it has outputs other than 0 and 1"):
        plot.raster(result, group="cells.v")
    with pytest.raises(ValueError, match="of 0s and 1s"):
        plot.raster(result.recorded["cells.v"])
    with pytest.raises(ValueError, match="sample 3 is not in a batch of 1"):
        plot.raster(result, group="cells", sample=3)


def test_traces_draw_the_chosen_neurons_values(tmp_path):
    result = spiking_run(tmp_path)
    v = result.recorded["cells.v"]
    fig = plot.traces(result, "cells.v", neurons=[0, (2, 3)])
    lines = fig.axes[0].lines
    assert len(lines) == 2
    np.testing.assert_array_equal(lines[0].get_ydata(), v[:, 0, 0, 0])
    np.testing.assert_array_equal(lines[1].get_ydata(), v[:, 0, 2, 3])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == \
        ["neuron [0, 0]", "neuron [2, 3]"]
    plt.close(fig)
    plot.traces(v, path=tmp_path / "traces.png")  # an array: the first five neurons
    check_png(tmp_path / "traces.png", (10, 4))
    with pytest.raises(KeyError, match="`cells.u` was not recorded .*did you mean `cells.v`"):
        plot.traces(result, "cells.u")
    with pytest.raises(ValueError, match=r"neuron \(4, 0\) is not in a group of shape \[4, 5\]"):
        plot.traces(result, "cells.v", neurons=[(4, 0)])
