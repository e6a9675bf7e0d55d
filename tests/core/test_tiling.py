import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_colorize.core.blending import taper_window
from napari_colorize.core.tiling import plan_axis, plan_tiles


def coverage(shape, tiles, attr):
    count = np.zeros(shape, int)
    for t in tiles:
        count[getattr(t, attr)] += 1
    return count


@pytest.mark.parametrize(
    ("shape", "tile", "overlap"),
    [((511, 237), 256, 32), ((512, 512), 512, 64), ((1000, 1000), 256, 0), ((70, 900), 64, 16)],
)
def test_crops_cover_every_pixel_once_and_reads_stay_inside(shape, tile, overlap):
    tiles = plan_tiles(shape, tile, overlap)
    assert (coverage(shape, tiles, "crop") == 1).all()
    assert (coverage(shape, tiles, "read") >= 1).all()
    for t in tiles:
        for s, n, size in zip(t.read, shape, (tile, tile), strict=True):
            assert 0 <= s.start < s.stop <= n
            assert s.stop - s.start == min(size, n)


def test_image_smaller_than_tile_is_one_tile():
    (t,) = plan_tiles((100, 50), 256, 64)
    assert t.read == t.crop == (slice(0, 100), slice(0, 50))


def test_edge_tiles_shift_inward_and_overlap():
    plan = plan_axis(600, 256, 64)
    assert [p[:2] for p in plan] == [(0, 256), (192, 448), (344, 600)]


@settings(max_examples=60, deadline=None)
@given(
    length=st.integers(1, 3000),
    tile=st.sampled_from([64, 128, 256, 512]),
    frac=st.floats(0, 0.49),
)
def test_axis_plan_property(length, tile, frac):
    overlap = int(tile * frac)
    plan = plan_axis(length, tile, overlap)
    owned = np.zeros(length, int)
    for start, stop, own_start, own_stop in plan:
        assert start <= own_start <= own_stop <= stop
        owned[own_start:own_stop] += 1
    assert (owned == 1).all()


def test_taper_window_is_positive_and_flat_inside():
    w = taper_window((256, 256), 64)
    assert w.min() > 0
    assert w[64:192, 64:192].min() == 1.0
    np.testing.assert_allclose(w, w[::-1, ::-1])
    assert (taper_window((128, 128), 0) == 1).all()
