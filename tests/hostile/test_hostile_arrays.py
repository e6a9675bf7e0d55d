"""Hostile arrays: shapes, dtypes and values a script may hand to ``colorize``.

Each bad input gets one line that names the problem (ValueError/TypeError) and leaves the input
untouched; each odd but valid input (1x1, 5-D, views, masked arrays, lists) gets the result its
plain numpy equivalent gets. The pointwise model makes results exact, so "works" means "equal".

A ``(3, H, W)`` uint8 array is a stack of three planes, not channel-first RGB: colour input is
channel-last (``(H, W, 3)``, refused unless ``from_rgb=True``), as napari and scikit-image hold it.
"""

from __future__ import annotations

import textwrap
import threading
import time
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from napari_colorize import colorize, iter_colorize
from napari_colorize.core.color import rgb_uint8_to_lab
from napari_colorize.core.intensity import compute_window

FAST = {"tile_size": 64, "overlap": 16}
#: The model fixtures hold no state between calls, so hypothesis may reuse them.
STATELESS_FIXTURES = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


def refused(model, image, exc, match, **kw):
    """Assert ``colorize(image)`` raises ``exc`` with one line matching ``match``."""
    before = np.array(image, copy=True) if isinstance(image, np.ndarray) else None
    with pytest.raises(exc, match=match) as info:
        colorize(image, model, **{**FAST, **kw})
    assert "\n" not in str(info.value)
    if before is not None and before.dtype != object:
        np.testing.assert_array_equal(image, before)  # never written
    return str(info.value)


def ramp(shape, dtype=np.uint8, scale=1.0):
    return (np.arange(int(np.prod(shape))).reshape(shape) % 251 * scale).astype(dtype)


# --- shapes and dtypes that cannot be a grayscale image ---------------------------------------


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.array(5, np.uint8), r"at least 2 dimensions .* got shape \(\)"),
        (np.zeros(10, np.uint8), r"at least 2 dimensions .* got shape \(10,\)"),
        (np.zeros((0, 5), np.uint8), r"image is empty \(shape \(0, 5\)\)"),
        (np.zeros((5, 0), np.float32), r"image is empty"),
        (np.zeros((2, 0, 5), np.uint16), r"image is empty"),
        (np.zeros((0, 64, 64), np.uint8), r"image is empty"),
        (np.zeros((8, 8), bool), "image is boolean"),
        (np.zeros((8, 8), np.complex64), r"image is complex \(complex64\)"),
        (np.zeros((8, 8), object), "dtype object is not numeric"),
        (np.array([["a"] * 8] * 8), "is not numeric"),
        (np.zeros((8, 8), "datetime64[s]"), "is not numeric"),
        (np.zeros((8, 8), "V4"), "is not numeric"),
        (np.zeros((16, 16, 3), np.uint8), "looks RGB"),
        (np.zeros((2, 16, 16, 4), np.uint16), "looks RGBA"),
    ],
    ids=["0-d", "1-d", "rows-0", "cols-0", "stack-0", "planes-0", "bool", "complex", "object",
         "strings", "datetime", "void", "rgb-last", "rgba-stack"],
)
def test_arrays_that_are_not_gray_images(pointwise_model, image, match):
    refused(pointwise_model, image, ValueError, match)


@pytest.mark.parametrize("value", [None, 42, 3.5])
def test_non_arrays_are_refused_in_one_line(pointwise_model, value):
    with pytest.raises((TypeError, ValueError), match="image") as info:
        colorize(value, pointwise_model, **FAST)
    assert "\n" not in str(info.value)


# --- odd but valid shapes ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 1), (1, 100), (100, 1), (1, 1, 1), (3, 2, 65)])
def test_tiny_and_thin_planes_work(pointwise_model, tiny_model, shape):
    image = ramp(shape)
    assert colorize(image, tiny_model, **FAST).rgb.shape == (*shape, 3)  # padded for the network
    out = colorize(image, pointwise_model, **FAST).rgb
    assert out.shape == (*shape, 3)
    assert out.dtype == np.uint8
    for idx in np.ndindex(*shape[:-2]):
        np.testing.assert_array_equal(out[idx], colorize(image[idx], pointwise_model, **FAST))


@pytest.mark.parametrize("leading", [(2, 1, 2), (1, 2, 1, 2)], ids=["5-D", "6-D"])
def test_5d_and_6d_stacks_equal_their_planes(pointwise_model, leading):
    stack = ramp((*leading, 20, 30), np.uint16, 13)
    kw = {**FAST, "contrast_limits": (0, 4000)}
    out = colorize(stack, pointwise_model, **kw).rgb
    assert out.shape == (*stack.shape, 3)
    for idx in np.ndindex(*leading):
        np.testing.assert_array_equal(out[idx], colorize(stack[idx], pointwise_model, **kw))


def test_channel_first_rgb_shaped_uint8_is_a_three_plane_stack(pointwise_model):
    """(3, H, W) is three gray planes (documented choice), never read as colour."""
    stack = np.stack([ramp((40, 50)), ramp((40, 50))[::-1], np.full((40, 50), 200, np.uint8)])
    out = colorize(stack, pointwise_model, **FAST).rgb
    assert out.shape == (3, 40, 50, 3)
    for i in range(3):
        np.testing.assert_array_equal(out[i], colorize(stack[i], pointwise_model, **FAST))


# --- views, masks, lists ----------------------------------------------------------------------


def test_read_only_and_strided_views_give_the_plain_result(pointwise_model):
    base = ramp((150, 140), np.float32, 3.0)
    views = {
        "read-only": base.copy(),
        "strided": base[::3, ::2],
        "reversed": base[::-1, ::-2],
        "transposed": base.T,
        "fortran": np.asfortranarray(base),
    }
    views["read-only"].flags.writeable = False
    for name, view in views.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. torch's "not writable" warning
            out = colorize(view, pointwise_model, **FAST).rgb
        np.testing.assert_array_equal(
            out, colorize(np.ascontiguousarray(view), pointwise_model, **FAST), err_msg=name
        )


def test_float_tiff_runs_never_warn(tmp_path):
    """torch warns once per process on read-only arrays (a TIFF's memmap): a fresh process
    with every warning an error runs a float TIFF from its path and from its memmap."""
    import subprocess
    import sys

    import tifffile

    path = tmp_path / "float.tif"
    tifffile.imwrite(path, ramp((90, 80), np.float32, 0.5))
    script = textwrap.dedent(f"""
        import warnings, numpy as np, tifffile, torch
        from napari_colorize import colorize
        from napari_colorize.models.network import ChromaNet
        from napari_colorize.models.spec import ColorModel, ModelSpec
        warnings.simplefilter("error")  # from here on: the run itself
        model = ColorModel(ChromaNet((8, 8, 8, 8)), ModelSpec("tiny"))
        mapped = tifffile.memmap({str(path)!r}, mode="r")
        assert not mapped.flags.writeable
        a = colorize(mapped, model, tile_size=64, overlap=16)
        b = colorize({str(path)!r}, model, tile_size=64, overlap=16)
        assert np.array_equal(a, b)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]


def test_masked_pixels_are_no_data(pointwise_model):
    data = ramp((64, 70), np.float32)
    data[:8] = 1e6  # a fill value under the mask
    mask = np.eye(64, 70, dtype=bool) | (data > 1e5)
    masked = np.ma.masked_array(data, mask=mask, fill_value=0)
    result = colorize(masked, pointwise_model, **FAST)
    low, high = result.window
    unmasked = compute_window(data[~mask][None, :])  # the window of the unmasked values only
    assert (low, high) == (unmasked.low, unmasked.high)
    expected = colorize(np.where(mask, np.array(low).astype(data.dtype), data), pointwise_model,
                        contrast_limits=(low, high), **FAST)
    np.testing.assert_array_equal(result, expected)


def test_lists_and_nested_lists_are_arrays(pointwise_model):
    rows = [[0, 50, 100, 150, 9], [200, 250, 25, 75, 90]]
    np.testing.assert_array_equal(
        colorize(rows, pointwise_model, **FAST),
        colorize(np.asarray(rows), pointwise_model, **FAST),
    )
    nested = [rows, rows[::-1], rows]  # a 3-plane stack of int64 values
    out = colorize(nested, pointwise_model, **FAST).rgb
    assert out.shape == (3, 2, 5, 3)
    np.testing.assert_array_equal(out[0], out[2])


def test_ragged_lists_are_refused_in_one_line(pointwise_model):
    with pytest.raises(ValueError, match=r"inhomogeneous|ragged") as info:
        colorize([[1, 2], [3]], pointwise_model, **FAST)
    assert "\n" not in str(info.value)


# --- extreme values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        np.array([[0.0, 1e300], [5e299, 2e300]] * 20),
        np.array([[1e-300, 2e-300], [3e-300, 0.0]] * 20),
        np.array([[-np.finfo(np.float64).max, np.finfo(np.float64).max, 0.0, 1.0]] * 8),
        np.array([[5e-324, 0.0, 1e-323, 0.0]] * 8),
        np.array([[np.finfo(np.float32).min, np.finfo(np.float32).max, 0, 1]] * 8, np.float32),
        np.array([[np.finfo(np.float16).min, np.finfo(np.float16).max, 0, 1]] * 8, np.float16),
        np.array([[np.iinfo(np.int64).min, np.iinfo(np.int64).max, 0, -1]] * 8, np.int64),
        np.array([[0, np.iinfo(np.uint64).max, 1, 2]] * 8, np.uint64),
        np.array([[np.iinfo(np.int32).min, np.iinfo(np.int32).max, 0, 1]] * 8, np.int32),
    ],
    ids=["1e300", "1e-300", "float64-range", "subnormal", "float32-range", "float16-range",
         "int64-range", "uint64-range", "int32-range"],
)
def test_extreme_values_give_finite_ordered_lightness(pointwise_model, image):
    out = colorize(image, pointwise_model, **FAST).rgb
    assert out.shape == (*image.shape, 3)
    # the output keeps the input's order of brightness: the window maps monotonically
    lightness = rgb_uint8_to_lab(out[0][None]).numpy()[0, 0]
    order = np.argsort(image[0].astype(np.float64), kind="stable")
    assert (np.diff(lightness[order]) >= -1.5).all()
    assert lightness.max() - lightness.min() > 20  # not collapsed to one gray


@pytest.mark.parametrize(
    "limits", [(0.0, 1e-300), (1e300, 1.5e300), (-1.7e308, 1.7e308), (1.0, 1.0 + 2e-16)]
)
def test_extreme_contrast_limits(pointwise_model, limits):
    low, high = limits
    image = (low * 0.5 + np.linspace(0, 1, 64 * 64) * (high * 0.5 - low * 0.5)) * 2
    image = image.reshape(64, 64)
    out = colorize(image, pointwise_model, contrast_limits=limits, **FAST).rgb
    assert out[0, 0].sum() < out[-1, -1].sum()


@pytest.mark.parametrize(
    "value", [0.0, 7.0, -3.5, 1e300, -1e300, 1e-300, np.finfo(np.float64).max, 65000]
)
def test_constant_images(pointwise_model, value):
    dtype = np.uint16 if value == 65000 else np.float64
    image = np.full((2, 40, 40), value, dtype)
    out = colorize(image, pointwise_model, **FAST).rgb
    assert (out == out[0, 0, 0]).all()  # one colour everywhere, planes alike


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(pointwise_model, bad):
    image = np.ones((70, 70), np.float32)
    image[3, 4] = bad
    refused(pointwise_model, image, ValueError, r"image contains 1 NaN or infinite values")


def test_non_finite_in_a_late_plane_found_during_the_run_names_it(pointwise_model):
    """Window given, so nothing samples the planes first: the run meets the NaN in plane 11,
    refuses in one line naming it, and the caller's output array is left as it was."""
    stack = np.ones((12, 64, 64), np.float32)
    stack[11, 60, 60] = np.nan
    target = np.zeros((*stack.shape, 3), np.uint8)
    before = stack.copy()
    with pytest.raises(ValueError, match=r"image plane \(11,\) contains 1 NaN") as info:
        colorize(stack, pointwise_model, contrast_limits=(0, 2), out=target, **FAST)
    assert "\n" not in str(info.value)
    assert not target.any()  # blocks written before the NaN were taken back
    np.testing.assert_array_equal(stack, before)


def test_non_finite_in_a_sampled_plane_names_it(pointwise_model):
    stack = np.ones((3, 2, 40, 40))
    stack[2, 1, 0, 0] = np.inf
    refused(pointwise_model, stack, ValueError, r"image plane \(2, 1\) contains 1 NaN")


def test_non_finite_late_plane_zarr_output_discarded(pointwise_model, tmp_path):
    stack = np.ones((10, 64, 64))
    stack[9, 0, 0] = -np.inf
    out = tmp_path / "r.ome.zarr"
    with pytest.raises(ValueError, match=r"plane \(9,\)"):
        colorize(stack, pointwise_model, contrast_limits=(0, 2), out=out, **FAST)
    assert not out.exists()


# --- huge declared shapes: planned at once, nothing allocated ---------------------------------


class Declared:
    """An array of any declared shape that reads as a constant (only the parts asked for)."""

    dtype = np.dtype(np.uint8)

    def __init__(self, shape):
        self.shape = shape
        self.ndim = len(shape)

    def __getitem__(self, index):
        shape = [len(range(*s.indices(n))) for s, n in zip(index[-2:], self.shape[-2:],
                                                             strict=True)]
        return np.full(shape, 120, np.uint8)


class Sink:
    """An output array that keeps nothing."""

    dtype = np.dtype(np.uint8)

    def __init__(self, shape):
        self.shape = shape

    def __setitem__(self, index, value):
        pass


@pytest.mark.parametrize("side", [150_000, 1_000_000])
def test_huge_plane_starts_without_planning_every_tile(pointwise_model, side):
    shape = (side, side)
    found = {}

    def first_event():
        gen = iter_colorize(Declared(shape), pointwise_model, tile_size=512, overlap=64,
                            out=Sink((*shape, 3)))
        found["plan"], found["event"] = next(gen), next(gen)  # the plan, then a batch
        gen.close()

    thread = threading.Thread(target=first_event, daemon=True)
    start = time.perf_counter()
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "planning a huge plane did not finish"
    plan, event = found["plan"], found["event"]
    assert plan.done == 0
    assert plan.total == event.total > 0
    assert event.done > 0
    assert event.total >= (side // 448) ** 2  # every tile counted, none built
    assert time.perf_counter() - start < 120


# --- property: any finite float array colorizes; stacks equal their planes --------------------


@settings(max_examples=15, deadline=None, suppress_health_check=STATELESS_FIXTURES)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.float64, np.float32, np.float16, np.int64, np.uint16]),
        shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=9),
        elements={"allow_nan": False, "allow_infinity": False},
    )
)
def test_any_finite_array_colorizes(pointwise_model, image):
    out = colorize(image, pointwise_model, **FAST).rgb
    assert out.shape == (*image.shape, 3)
    assert out.dtype == np.uint8


@settings(max_examples=10, deadline=None, suppress_health_check=STATELESS_FIXTURES)
@given(
    leading=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=2),
    plane=st.tuples(st.integers(1, 90), st.integers(5, 90)),
    dtype=st.sampled_from([np.uint8, np.uint16, np.int16, np.float32, np.float64]),
)
def test_stacks_of_any_shape_equal_their_planes(pointwise_model, leading, plane, dtype):
    stack = ramp((*leading, *plane), dtype, 7 if dtype != np.uint8 else 1)
    kw = {**FAST, "contrast_limits": (0, 2000)}
    out = colorize(stack, pointwise_model, **kw).rgb
    for idx in np.ndindex(*leading):
        np.testing.assert_array_equal(out[idx], colorize(stack[idx], pointwise_model, **kw))


class Chunked:
    """A lazily generated float image with a chunk grid, recording every region read."""

    dtype = np.dtype(np.float32)

    def __init__(self, shape, chunks):
        self.shape, self.chunks, self.ndim = shape, chunks, len(shape)
        self.reads = []

    def __getitem__(self, index):
        self.reads.append(index)
        rows, cols = (range(*s.indices(n)) for s, n in zip(index[-2:], self.shape[-2:],
                                                             strict=True))
        return np.add.outer(np.asarray(rows) % 1000, np.asarray(cols) % 7).astype(np.float32)


def test_intensity_window_of_a_huge_stack_reads_a_bounded_sample():
    """A strided sample of a chunked store touches every chunk; the window must read a fixed
    number of chunk-sized windows instead, whatever the image's size."""
    from napari_colorize.core.intensity import SAMPLE_PLANES, SAMPLE_WINDOWS, compute_window

    image = Chunked((20, 10**6, 10**6), (1, 1024, 1024))
    window = _first_in_thread(lambda: compute_window(image), 60)
    assert len(image.reads) <= SAMPLE_PLANES * SAMPLE_WINDOWS
    for index in image.reads:
        for s, chunk in zip(index[-2:], image.chunks[-2:], strict=True):
            assert s.step in (None, 1)
            assert s.start // chunk == (s.stop - 1) // chunk  # inside one chunk
    assert 0 <= window.low < window.high <= 1006


def _first_in_thread(fn, timeout):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", fn()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive()
    return result["value"]


@pytest.mark.parametrize("shape", [(300, 200), (3, 900, 900), (2000, 1900)])
def test_intensity_window_of_a_small_image_uses_every_pixel(shape):
    from napari_colorize.core.intensity import PERCENTILES, compute_window

    image = np.random.default_rng(1).gamma(2.0, 100.0, shape).astype(np.float32)
    window = compute_window(image)
    low, high = np.percentile(image.astype(np.float64), PERCENTILES, method="inverted_cdf")
    assert (window.low, window.high) == (low, high)


def test_intensity_window_of_a_plane_alone_in_a_stack_and_chunked():
    """A plane gets one window alone, in a stack of copies, and however it is chunked (planes
    up to 4 MP are read whole; the percentiles are values of the sample, not interpolated)."""
    da = pytest.importorskip("dask.array")
    from napari_colorize.core.intensity import compute_window

    plane = (np.random.default_rng(3).gamma(2.0, 300.0, (1100, 1100)) + 100).astype(np.uint16)
    alone = compute_window(plane)
    for depth in (2, 8, 9):
        stack = np.stack([plane] * depth)
        assert compute_window(stack) == alone
        for chunks in ((1, 100, 100), (1, 256, 256), (1, 7, 1100), (1, 1100, 1100)):
            assert compute_window(da.from_array(stack, chunks=chunks)) == alone


def test_intensity_window_samples_every_plane_of_a_short_stack():
    from napari_colorize.core.intensity import sample_planes

    assert sample_planes(np.zeros((3, 4, 4))) == [(0,), (1,), (2,)]
    assert sample_planes(np.zeros((2, 3, 4, 4))) == [(i, j) for i in range(2) for j in range(3)]
    assert len(sample_planes(np.zeros((1000, 4, 4)))) == 8
