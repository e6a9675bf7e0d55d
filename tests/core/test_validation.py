import numpy as np
import pytest

from napari_colorize import colorize
from napari_colorize.io.readers import read_image


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((0, 10), np.uint8), "image is empty"),
        (np.zeros((10, 0, 5), np.uint8), "image is empty"),
        (np.zeros(10, np.uint8), "at least 2 dimensions"),
        (np.zeros((64, 64), bool), "image is boolean"),
        (np.zeros((64, 64), np.complex64), "image is complex"),
        (np.zeros((64, 64, 3), np.uint8), "looks RGB"),
        (np.zeros((64, 64, 4), np.uint8), "looks RGBA"),
        (np.zeros((64, 64, 2), np.uint8), "looks gray\\+alpha"),
        (np.full((64, 64), np.nan, np.float32), "NaN or infinite"),
        (np.array([[0, np.inf], [1, 2]] * 40, np.float64)[:, :2], "NaN or infinite"),
        (np.array([["a"] * 64] * 64), "not numeric"),
    ],
)
def test_bad_images_raise_one_line(pointwise_model, image, message):
    with pytest.raises(ValueError, match=message) as info:
        colorize(image, pointwise_model)
    assert "\n" not in str(info.value)


def test_nan_in_a_later_plane_writes_nothing(pointwise_model, tmp_path):
    stack = np.ones((3, 64, 64), np.float32)
    stack[2, 5, 5] = np.nan
    out = tmp_path / "x.ome.zarr"
    with pytest.raises(ValueError, match="NaN"):
        colorize(stack, pointwise_model, contrast_limits=(0, 2), tile_size=64, overlap=0, out=out)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"tile_size": 32}, "tile_size 32 is below the model's minimum of 64"),
        ({"tile_size": 100}, "multiple of 32"),
        ({"tile_size": 128, "overlap": 64}, "overlap 64 must be < tile_size/2 = 64"),
        ({"overlap": -1}, "overlap -1 must be >= 0"),
        ({"batch_size": 0}, "batch_size 0 must be >= 1"),
        ({"blending": "max"}, "blending 'max'"),
        ({"tile_size": 256.0}, "tile_size must be an integer number of pixels or 'auto'; got "
                               "256.0"),
        ({"tile_size": "big"}, "tile_size must be an integer number of pixels or 'auto'; got "
                               "'big'"),
        ({"overlap": "64"}, "overlap must be an integer"),
        ({"contrast_limits": (5, 5)}, "must increase"),
    ],
)
def test_bad_settings(pointwise_model, gray_image, kw, message):
    with pytest.raises(ValueError, match=message):
        colorize(gray_image, pointwise_model, **kw)


def test_unknown_model_lists_available(gray_image):
    with pytest.raises(ValueError, match=r"unknown model 'nope'; available: .*he-histology"):
        colorize(gray_image, "nope")


def test_existing_output_is_refused(pointwise_model, gray_image, tmp_path):
    out = tmp_path / "o.ome.zarr"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="already exists"):
        colorize(gray_image, pointwise_model, out=out)
    assert (out / "keep.txt").read_text() == "mine"
    # overwrite replaces zarr stores only: a folder of other files is never deleted
    with pytest.raises(ValueError, match="not a zarr store; refusing to delete it"):
        colorize(gray_image, pointwise_model, out=out, overwrite=True)
    assert (out / "keep.txt").read_text() == "mine"
    (out / "keep.txt").unlink()
    colorize(gray_image, pointwise_model, out=out, tile_size=128, overlap=32, overwrite=True)
    flipped = gray_image[::-1].copy()
    colorize(flipped, pointwise_model, out=out, overwrite=True, tile_size=128,
             overlap=32)  # a finished store is replaced
    expected = colorize(flipped, pointwise_model, tile_size=128, overlap=32).rgb
    np.testing.assert_array_equal(np.moveaxis(np.asarray(read_image(out)), 0, -1), expected)


def test_unreadable_and_truncated_files(pointwise_model, tmp_path):
    import tifffile

    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a tiff at all")
    with pytest.raises(ValueError, match=f"cannot read {bad}"):
        colorize(bad, pointwise_model)
    good = tmp_path / "cut.tif"
    tifffile.imwrite(good, np.random.default_rng(0).integers(0, 255, (512, 512), np.uint8))
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cannot read"):
        colorize(good, pointwise_model)
    with pytest.raises(ValueError, match="no such file"):
        colorize(tmp_path / "missing.png", pointwise_model)
