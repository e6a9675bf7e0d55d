import dask.array as da
import numpy as np
import pytest
import zarr

from napari_colorize import colorize, iter_colorize
from napari_colorize.core.events import Progress


def whole(image, model, **kw):
    """Untiled reference: one tile as large as the plane."""
    tile = max(64, int(np.ceil(max(image.shape[-2:]) / 32)) * 32)
    return colorize(image, model, tile_size=tile, overlap=0, **kw)


@pytest.mark.parametrize("shape", [(511, 237), (60, 40), (64, 700), (1030, 1030)])
def test_pointwise_tiled_equals_whole_exactly_with_constant_blending(pointwise_model, shape):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    tiled = colorize(image, pointwise_model, tile_size=128, overlap=32, blending="constant").rgb
    np.testing.assert_array_equal(tiled, whole(image, pointwise_model, blending="constant"))


def test_pointwise_tiled_equals_whole_with_taper(pointwise_model, gray_image):
    result = colorize(gray_image, pointwise_model, tile_size=128, overlap=48, confidence=True)
    rgb, conf = result.rgb, result.confidence
    ref = whole(gray_image, pointwise_model, confidence=True)
    ref_rgb, ref_conf = ref.rgb, ref.confidence
    assert np.abs(rgb.astype(int) - ref_rgb).max() <= 1
    np.testing.assert_allclose(conf, ref_conf, atol=1e-5)


@pytest.mark.parametrize("leading", [(3,), (2, 3)])
def test_stacks_match_plane_by_plane(pointwise_model, leading):
    rng = np.random.default_rng(1)
    stack = rng.integers(0, 256, (*leading, 100, 130), dtype=np.uint8)
    out = colorize(stack, pointwise_model, tile_size=64, overlap=16, batch_size=3).rgb
    assert out.shape == (*leading, 100, 130, 3)
    for index in np.ndindex(*leading):
        np.testing.assert_array_equal(out[index], colorize(stack[index], pointwise_model,
                                                           tile_size=64, overlap=16))


def test_numpy_dask_zarr_inputs_agree(pointwise_model, gray_image, tmp_path):
    ref = colorize(gray_image, pointwise_model, tile_size=128, overlap=32).rgb
    lazy = da.from_array(gray_image, chunks=(100, 100))
    z = zarr.create_array(tmp_path / "in.zarr", shape=gray_image.shape, dtype=np.uint8,
                          chunks=(128, 128))
    z[...] = gray_image
    for image in (lazy, z, zarr.open_array(tmp_path / "in.zarr", mode="r")):
        np.testing.assert_array_equal(colorize(image, pointwise_model, tile_size=128, overlap=32),
                                      ref)


def test_zarr_outputs(pointwise_model, tmp_path):
    stack = np.random.default_rng(2).integers(0, 256, (2, 90, 120), dtype=np.uint8)
    ref = colorize(stack, pointwise_model, tile_size=64, overlap=16).rgb
    target = zarr.create_array(tmp_path / "out.zarr", shape=(2, 90, 120, 3), dtype=np.uint8)
    got = colorize(stack, pointwise_model, tile_size=64, overlap=16, out=target).rgb
    np.testing.assert_array_equal(got[...], ref)
    ome = colorize(stack, pointwise_model, tile_size=64, overlap=16,
                   out=tmp_path / "r.ome.zarr").rgb
    np.testing.assert_array_equal(np.moveaxis(ome[...], 0, -1), ref)  # stored (c, z, y, x)


def test_taper_blend_of_real_net_close_to_whole(tiny_model, gray_image):
    tiled = colorize(gray_image, tiny_model, tile_size=128, overlap=48).rgb
    ref = whole(gray_image, tiny_model)
    assert np.abs(tiled.astype(int) - ref).mean() < 2.0


def test_lightness_is_kept(tiny_model, gray_image):
    from skimage.color import rgb2lab

    rgb = colorize(gray_image, tiny_model, tile_size=128, overlap=32).rgb
    got = rgb2lab(rgb)[..., 0]
    want = rgb2lab(np.repeat(gray_image[..., None], 3, -1))[..., 0]
    d = np.abs(got - want)
    assert d.mean() < 0.5
    assert np.percentile(d, 99.9) < 1.5


def test_progress_events_and_result(pointwise_model, gray_image):
    gen = iter_colorize(gray_image, pointwise_model, tile_size=128, overlap=32, batch_size=2)
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            result = stop.value
            break
    assert all(isinstance(e, Progress) for e in events)
    assert events[-1].done == events[-1].total == 5 * 3  # 511 x 237 in 128-px tiles, step 96
    assert [e.done for e in events] == sorted(e.done for e in events)
    assert result.rgb.shape == (*gray_image.shape, 3)


def test_close_cancels_and_discards_zarr_output(pointwise_model, tmp_path):
    stack = np.zeros((4, 200, 200), np.uint8)
    out = tmp_path / "cancel.ome.zarr"
    gen = iter_colorize(stack, pointwise_model, tile_size=64, overlap=0, batch_size=1, out=out)
    for _ in range(20):  # past the first plane
        next(gen)
    gen.close()
    assert not out.exists()
    assert not list(tmp_path.iterdir())


def test_close_restores_callers_zarr_array(pointwise_model, tmp_path):
    stack = np.full((3, 64, 64), 200, np.uint8)
    target = zarr.create_array(tmp_path / "t.zarr", shape=(3, 64, 64, 3), dtype=np.uint8)
    gen = iter_colorize(stack, pointwise_model, tile_size=64, overlap=0, batch_size=1, out=target)
    next(gen)
    next(gen)
    assert target[0].any()
    gen.close()
    assert not target[...].any()


def test_float_and_uint16_use_one_window_for_the_stack(pointwise_model):
    rng = np.random.default_rng(3)
    stack = rng.integers(0, 4000, (3, 64, 64)).astype(np.uint16)
    stack[2] //= 4  # a dim plane must stay dim, not be stretched on its own
    out = colorize(stack, pointwise_model, tile_size=64, overlap=0).rgb
    assert out[2].mean() < out[0].mean() - 20
    as_float = colorize(stack.astype(np.float32), pointwise_model, tile_size=64, overlap=0).rgb
    np.testing.assert_array_equal(out, as_float)
    limits = colorize(stack, pointwise_model, tile_size=64, overlap=0,
                      contrast_limits=(0, 4000)).rgb
    assert not np.array_equal(limits, out)


def test_input_is_not_modified(pointwise_model, gray_image):
    before = gray_image.copy()
    colorize(gray_image, pointwise_model, tile_size=128, overlap=32)
    np.testing.assert_array_equal(gray_image, before)


def test_separable_blend_weights_equal_the_2d_sum():
    """Per-axis inverse weights multiply to 1 / (sum of 2-D taper windows) over a block."""
    from napari_colorize.core.blending import taper_window
    from napari_colorize.core.merge import axis_inverse_weight
    from napari_colorize.core.tiling import AxisPlan

    rows, cols = AxisPlan(700, 256, 48), AxisPlan(530, 256, 48)
    r0, r1, c0, c1 = 100, 600, 0, 530  # a block cutting through tiles on both axes
    total = np.zeros((r1 - r0, c1 - c0))
    for a, b, *_ in rows:
        for c, d, *_ in cols:
            lo, hi = max(a, r0), min(b, r1)
            if lo < hi:
                total[lo - r0 : hi - r0, c - c0 : d - c0] += taper_window((b - a, d - c), 48)[
                    lo - a : hi - a]
    touching = [(a - r0, b - r0) for a, b, *_ in rows if a < r1 and b > r0]
    inv_rows = axis_inverse_weight(r1 - r0, tuple(touching), 48).numpy()
    inv_cols = axis_inverse_weight(c1 - c0, tuple((c, d) for c, d, *_ in cols), 48).numpy()
    np.testing.assert_allclose(np.outer(inv_rows, inv_cols), 1 / total, rtol=1e-5)


class _StripArray:
    """A (4096, 2048) uint16 image in one-row strips (tifffile's zarr chunks for a compressed
    strip TIFF): every row holds one value, a random permutation of the rows. Counts strips read."""

    def __init__(self) -> None:
        self.shape, self.chunks, self.dtype = (4096, 2048), (1, 2048), np.dtype(np.uint16)
        self.rows = np.random.default_rng(7).permutation(4096).astype(np.uint16)
        self.strips = 0

    def __getitem__(self, index):
        rows = self.rows[index[0]]
        self.strips += rows.size
        return np.repeat(rows[:, None], len(range(*index[1].indices(2048))), axis=1)


def test_window_of_thin_strips_spans_several_strips():
    """Sample windows span several thin chunks, so the sample is not a handful of rows."""
    from napari_colorize.core.intensity import (
        SAMPLE_WINDOW_SIDE,
        SAMPLE_WINDOWS,
        compute_window,
        sample_windows,
    )

    image = _StripArray()
    window = compute_window(image)
    low, high = np.percentile(image.rows.astype(np.float64), (0.5, 99.5))
    assert abs(window.low - low) < 0.01 * 4096
    assert abs(window.high - high) < 0.01 * 4096
    assert image.strips <= SAMPLE_WINDOWS * SAMPLE_WINDOW_SIDE  # a bounded read
    assert compute_window(image) == window  # deterministic
    for rows, cols in sample_windows((4096, 2048), (16, 2048)):
        assert rows.start % 16 == 0
        assert rows.stop - rows.start == SAMPLE_WINDOW_SIDE
        assert cols.stop - cols.start == SAMPLE_WINDOW_SIDE
    for rows, cols in sample_windows((4096, 4096), (1024, 1024)):  # inside one tile
        assert rows.start // 1024 == (rows.stop - 1) // 1024
        assert cols.start // 1024 == (cols.stop - 1) // 1024
