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


# --- blocks: planned per axis, equal to scanning every tile for every block -------------------


def brute_force_blocks(plane, tiles, block_size, constant):
    """The planner before per-axis planning: every tile tested against every block."""

    def overlaps(a, b):
        return all(x.start < y.stop and y.start < x.stop for x, y in zip(a, b, strict=True))

    blocks = []
    for r0 in range(0, plane[0], block_size):
        for c0 in range(0, plane[1], block_size):
            region = (slice(r0, min(r0 + block_size, plane[0])),
                      slice(c0, min(c0 + block_size, plane[1])))
            touching = tuple(i for i, t in enumerate(tiles)
                             if overlaps(t.crop if constant else t.read, region))
            blocks.append((region, touching))
    return blocks


def plan_for(shape, tile_size=64, overlap=8, block_size=100, blending="taper"):
    from napari_colorize.core.config import ColorizeConfig
    from napari_colorize.core.intensity import IntensityWindow
    from napari_colorize.core.plan import make_plan
    from napari_colorize.models.spec import ModelSpec

    class Declared:  # only a shape: planning must never read pixels
        dtype = np.dtype(np.uint8)

        def __init__(self, shape):
            self.shape = shape

    config = ColorizeConfig(tile_size=tile_size, overlap=overlap, block_size=block_size,
                            blending=blending)
    return make_plan(Declared(shape).shape, ModelSpec("x"), IntensityWindow(0, 255), config)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 700), cols=st.integers(1, 700),
    tile=st.sampled_from([64, 96, 128]), frac=st.floats(0, 0.49),
    block=st.integers(16, 400), constant=st.booleans(),
)
def test_block_tiles_equal_the_brute_force_planner(rows, cols, tile, frac, block, constant):
    overlap = int(tile * frac)
    plan = plan_for((rows, cols), tile, overlap, block, "constant" if constant else "taper")
    old_tiles = plan_tiles(plan.padded, plan.tile_shape, overlap)
    expected = brute_force_blocks((rows, cols), old_tiles, block, constant)
    blocks = list(plan.blocks)
    assert len(blocks) == len(plan.blocks) == len(expected)
    n_cols = len(plan.blocks.cols)
    for i, (block_, (region, touching)) in enumerate(zip(blocks, expected, strict=True)):
        assert block_.region == region
        assert plan.blocks[i] == block_
        assert tuple(r * n_cols + c for r, c in block_.tiles) == touching
        assert plan.block_tiles(block_) == [old_tiles[t] for t in touching]
    assert plan.blocks.n_tiles == sum(len(t) for _, t in expected)


def test_a_run_builds_each_tile_once(pointwise_model, gray_image, monkeypatch):
    from napari_colorize import colorize
    from napari_colorize.core import plan as plan_module
    from napari_colorize.core import tiling

    made = []
    real = tiling.make_tile

    def counting(rows, cols):
        made.append((rows, cols))
        return real(rows, cols)

    monkeypatch.setattr(plan_module, "make_tile", counting)
    colorize(gray_image, pointwise_model, tile_size=64, overlap=16, block_size=100)
    plan = plan_for(gray_image.shape, 64, 16, 100)
    assert len(made) == plan.blocks.n_tiles == sum(b.n_tiles for b in plan.blocks)
    assert len(made) > len(set(made))  # tiles on block edges are computed once per block


def _in_thread(fn, timeout=60.0):
    """``fn()``'s result, or a failure if it is still running after ``timeout`` s."""
    import threading

    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", fn()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"still planning after {timeout} s"
    return result["value"]


@pytest.mark.parametrize("side", [150_000, 1_000_000])
def test_huge_planes_plan_at_once_and_stay_small(side):
    import pickle

    plan = _in_thread(lambda: plan_for((3, side, side), 512, 64, 4096))
    per_axis = -(-side // 4096)
    assert len(plan.blocks) == per_axis**2
    assert len(pickle.dumps(plan)) < 4096  # dask workers get the whole plan
    last = plan.blocks[-1]
    assert (last.rows.stop, last.cols.stop) == (side, side)
    assert plan.tile(last.tile_rows[-1], last.tile_cols[-1]).read[0].stop == side
    n_tiles = _in_thread(lambda: plan.blocks.n_tiles)
    assert n_tiles >= len(plan.blocks.rows) * len(plan.blocks.cols)


def test_resume_counts_the_tiles_of_finished_blocks():
    plan = plan_for((2, 300, 250), 64, 8, 100)
    first, second = plan.blocks[0], plan.blocks[4]
    keys = {plan.key(0, first), plan.key(1, second), "stray-file", "2-0-0", "0-50-0"}
    assert plan.tiles_of_key(plan.key(0, first)) == first.n_tiles
    assert sum(plan.tiles_of_key(k) for k in keys) == first.n_tiles + second.n_tiles


def test_axis_plan_entries_match_the_list():
    from napari_colorize.core.tiling import AxisPlan

    axis = AxisPlan(1000, 256, 64)
    assert list(axis) == plan_axis(1000, 256, 64) == axis[:]
    assert axis[-1] == axis[len(axis) - 1]
    with pytest.raises(IndexError, match="out of range"):
        axis[len(axis)]
