"""`local` geometry, counted by hand (nndl.runtime.geometry)."""

import math

import numpy as np
import pytest

from nndl.runtime.geometry import centres, grid_pairs, layout, local_synapses

GRID = (7, 7)
CENTRE = np.ravel_multi_index((3, 3), GRID)


def neighbours(radius, metric, wrap=False, target=CENTRE, src=GRID, dst=GRID):
    src_pos, dst_pos, _ = grid_pairs(src, dst, radius, metric, wrap)
    return np.sort(src_pos[dst_pos == target])


@pytest.mark.parametrize("radius, metric, count", [
    (1.5, "euclidean", 9),    # the 3x3 square: corners are sqrt(2) ~ 1.41 away
    (2, "euclidean", 13),     # + the four cells two steps away along an axis
    (3, "euclidean", 29),     # 1 + 4*(1+2+3) on axes + 4 diagonals (1,1) + 8 of (1,2) + 8 of (2,2)
    (1, "chebyshev", 9),
    (2, "chebyshev", 25),
    (2, "manhattan", 13),     # the diamond 1 + 4 + 8
    (0, "euclidean", 1),
])
def test_centre_counts(radius, metric, count):
    assert neighbours(radius, metric).size == count


def test_border_cells_have_fewer_neighbours_unless_wrapped():
    corner = 0
    assert neighbours(1.5, "euclidean", target=corner).size == 4
    edge = np.ravel_multi_index((0, 3), GRID)
    assert neighbours(1.5, "euclidean", target=edge).size == 6
    assert neighbours(1.5, "euclidean", wrap=True, target=corner).size == 9
    # wrapped, the corner's neighbours include the opposite corner
    assert np.ravel_multi_index((6, 6), GRID) in neighbours(1.5, "euclidean", True, corner)


def test_with_wrap_every_cell_has_the_full_count():
    _, dst_pos, _ = grid_pairs(GRID, GRID, 3, "euclidean", True)
    assert (np.bincount(dst_pos) == 29).all()


def test_a_small_torus_counts_each_neuron_once():
    _, dst_pos, _ = grid_pairs((3, 3), (3, 3), 2, "euclidean", True)
    assert (np.bincount(dst_pos) == 9).all()


def test_8x8_to_4x4_aligns_centres():
    # target (0, 0) maps to u = (0.5, 0.5): the 2x2 block of sources around it
    assert centres((8, 8), (4, 4))[0].tolist() == [0.5, 0.5]
    assert neighbours(1, "chebyshev", target=0, src=(8, 8), dst=(4, 4)).tolist() == [0, 1, 8, 9]
    # target (3, 3) maps to (6.5, 6.5): sources 6..7 on each axis
    last = neighbours(0.5, "chebyshev", target=15, src=(8, 8), dst=(4, 4))
    assert last.tolist() == [54, 55, 62, 63]


def test_4x4_to_8x8_maps_targets_between_sources():
    # target 0 maps to u = -0.25: only source 0 lies within 0.75 on each axis
    assert centres((4, 4), (8, 8))[0].tolist() == [-0.25, -0.25]
    assert neighbours(0.75, "chebyshev", target=0, src=(4, 4), dst=(8, 8)).tolist() == [0]


def test_layout_takes_at_most_two_trailing_axes_as_the_grid():
    assert layout((8, 8), (4, 8, 8)) == layout((8, 8), (4, 8, 8))
    lay = layout((3, 8, 8), (4, 8, 8))
    assert (lay.src_maps, lay.dst_maps, lay.src_grid, lay.dst_grid) == (3, 4, (8, 8), (8, 8))
    lay = layout((10,), (2, 5))
    assert (lay.src_maps, lay.dst_maps, lay.src_grid, lay.dst_grid) == (1, 2, (10,), (5,))


def test_feature_maps_connect_all_to_all_in_csr_order():
    pre, post, tie = local_synapses((2, 5, 5), (3, 5, 5), 1, "chebyshev", False, False)
    per_map_pair = grid_pairs((5, 5), (5, 5), 1, "chebyshev", False)[0].size
    assert pre.size == 2 * 3 * per_map_pair and tie is None
    assert (np.diff(post * 50 + pre) > 0).all()


def test_shared_kernel_entries():
    _, _, tie = local_synapses((6, 6), (2, 6, 6), 1, "chebyshev", True, True)
    assert tie.max() + 1 == 2 * 9  # one 3x3 kernel per (source map, target map)
    _, _, tie = local_synapses((9, 9), (9, 9), 2, "euclidean", False, True)
    assert tie.max() + 1 == 13  # a circular kernel: 13 taps
    assert math.isclose(np.bincount(tie).sum(), tie.size)
