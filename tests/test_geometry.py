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


# ---- grids of one and three axes (`local(..., axes=K)`) ---------------------------------------

def test_a_signal_counts_the_same_in_every_metric():
    # on one axis every metric is |p - u|: radius 2 reaches 2 cells either side
    for metric in ("euclidean", "chebyshev", "manhattan"):
        assert neighbours(2, metric, target=5, src=(10,), dst=(10,)).tolist() == [3, 4, 5, 6, 7]
        assert neighbours(2, metric, target=0, src=(10,), dst=(10,)).tolist() == [0, 1, 2]
        assert neighbours(2, metric, True, 0, (10,), (10,)).tolist() == [0, 1, 2, 8, 9]


def test_a_signal_of_half_the_length_aligns_centres():
    # target q maps to u = 2q + 0.5: sources 2q and 2q + 1 lie within 0.5
    assert centres((10,), (5,))[:, 0].tolist() == [0.5, 2.5, 4.5, 6.5, 8.5]
    assert neighbours(0.5, "euclidean", target=0, src=(10,), dst=(5,)).tolist() == [0, 1]
    assert neighbours(0.5, "euclidean", target=4, src=(10,), dst=(5,)).tolist() == [8, 9]


VOLUME = (5, 5, 5)
MIDDLE = np.ravel_multi_index((2, 2, 2), VOLUME)


@pytest.mark.parametrize("radius, metric, count", [
    (1, "euclidean", 7),      # the centre and its 6 faces
    (1.5, "euclidean", 19),   # + 12 edges at sqrt(2); corners at sqrt(3) ~ 1.73 are out
    (2, "euclidean", 33),     # + 8 corners at sqrt(3) + 6 cells two steps along an axis
    (1, "chebyshev", 27),     # the 3x3x3 cube
    (1, "manhattan", 7),
    (2, "manhattan", 25),     # the octahedron 1 + 6 + 18
])
def test_volume_centre_counts(radius, metric, count):
    assert neighbours(radius, metric, target=MIDDLE, src=VOLUME, dst=VOLUME).size == count


def test_a_volume_corner_reaches_round_the_torus_only_with_wrap():
    # (0, 0, 0) and its faces (0, 0, 1) = 1, (0, 1, 0) = 5, (1, 0, 0) = 25; wrapped, also
    # (0, 0, 4) = 4, (0, 4, 0) = 20 and (4, 0, 0) = 100
    assert neighbours(1, "euclidean", False, 0, VOLUME, VOLUME).tolist() == [0, 1, 5, 25]
    assert neighbours(1, "euclidean", True, 0, VOLUME, VOLUME).tolist() == \
        [0, 1, 4, 5, 20, 25, 100]
    assert neighbours(1, "chebyshev", False, 0, VOLUME, VOLUME).size == 8
    assert neighbours(1, "chebyshev", True, 0, VOLUME, VOLUME).size == 27


def test_a_small_volume_torus_counts_each_neuron_once():
    _, dst_pos, _ = grid_pairs((3, 3, 3), (3, 3, 3), 2, "chebyshev", True)
    assert (np.bincount(dst_pos) == 27).all()


def test_8x8x8_to_4x4x4_aligns_centres():
    # target (0, 0, 0) maps to u = (0.5, 0.5, 0.5): the 2x2x2 block of sources around it
    assert centres((8, 8, 8), (4, 4, 4))[0].tolist() == [0.5, 0.5, 0.5]
    block = neighbours(1, "chebyshev", target=0, src=(8, 8, 8), dst=(4, 4, 4))
    assert block.tolist() == [0, 1, 8, 9, 64, 65, 72, 73]


def test_axes_says_how_many_trailing_axes_are_the_grid():
    lay = layout((2, 8, 8, 6), (3, 8, 8, 6), axes=3)  # video: x, y and time
    assert (lay.src_maps, lay.dst_maps, lay.src_grid, lay.dst_grid) == (2, 3, (8, 8, 6),
                                                                        (8, 8, 6))
    lay = layout((2, 8, 8, 6), (3, 8, 8, 6))  # without it, the last two as before
    assert (lay.src_maps, lay.dst_maps, lay.src_grid, lay.dst_grid) == (16, 24, (8, 6), (8, 6))
    lay = layout((2, 40), (3, 40), axes=1)  # a signal with feature maps
    assert (lay.src_maps, lay.dst_maps, lay.src_grid, lay.dst_grid) == (2, 3, (40,), (40,))


def test_signal_feature_maps_connect_all_to_all():
    # axes=1: map 1, position 5 of the target takes positions 4..6 of both source maps
    pre, post, _ = local_synapses((2, 10), (3, 10), 1, "euclidean", False, False, axes=1)
    assert pre[post == 15].tolist() == [4, 5, 6, 14, 15, 16]
    assert pre.size == 2 * 3 * (10 * 3 - 2)  # both ends of the signal lack one neighbour
    # by default the grid would be (2, 10) against (3, 10): another geometry altogether
    default, _, _ = local_synapses((2, 10), (3, 10), 1, "euclidean", False, False)
    assert default.size != pre.size


def test_a_shared_signal_kernel_numbers_entries_by_maps_then_offset():
    pre, post, tie = local_synapses((2, 10), (3, 10), 1, "chebyshev", True, True, axes=1)
    assert tie.max() + 1 == 2 * 3 * 3  # one 3-tap kernel per (source map, target map)
    offset = (pre % 10 - post % 10 + 1) % 10 - 1  # -1, 0 or 1, round the torus
    assert (tie == ((pre // 10) * 3 + post // 10) * 3 + offset + 1).all()


def test_a_shared_volume_kernel_has_one_entry_per_map_pair_and_offset():
    _, _, tie = local_synapses((6, 6, 6), (2, 6, 6, 6), 1, "chebyshev", False, True, axes=3)
    assert tie.max() + 1 == 2 * 27
    pre, post, tie = local_synapses((5, 5, 5), (5, 5, 5), 1, "euclidean", True, True, axes=3)
    assert tie.max() + 1 == 7 and pre.size == 125 * 7
