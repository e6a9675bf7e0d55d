"""Colour files as users' tools write them: CMYK, 10-14-bit, float noise, planar, gray palettes.

Each is read as the RGB (or gray) it shows, by :func:`read_rgb` (references, training images)
and by :func:`open_image` (gray inputs, ``from_rgb``).
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import zarr
from PIL import Image

from napari_colorize.io.arrays import LightnessArray
from napari_colorize.io.colour_files import as_rgb_uint8, read_rgb
from napari_colorize.io.colour_layout import cmyk_to_rgb
from napari_colorize.io.readers import open_image, read_image
from napari_colorize.io.writers import write_rgb


@pytest.fixture
def rgb() -> np.ndarray:
    """A smooth colour image with every channel spanning most of 0-255."""
    y, x = np.mgrid[0:48, 0:64]
    planes = [np.sin(y / 7.0) * np.cos(x / 5.0), np.cos(y / 11.0), np.sin((x + y) / 9.0)]
    return np.round(np.stack(planes, axis=-1) * 127 + 128).astype(np.uint8)


def lightness(rgb: np.ndarray) -> np.ndarray:
    """The ``from_rgb`` gray of interleaved uint8 colours (the reference to match)."""
    return LightnessArray(rgb)[...]


# 1. CMYK


def test_cmyk_jpeg_reads_as_pillows_rgb(tmp_path, rgb):
    path = tmp_path / "c.jpg"
    Image.fromarray(rgb).convert("CMYK").save(path)
    with Image.open(path) as im:
        assert im.mode == "CMYK"
        want = np.asarray(im.convert("RGB"))
    assert np.abs(want.astype(int) - rgb).mean() < 4  # a JPEG of the same colours
    np.testing.assert_array_equal(read_rgb(path), want)
    np.testing.assert_array_equal(read_image(path), want)
    np.testing.assert_array_equal(open_image(path, from_rgb=True)[...], lightness(want))


def test_cmyk_tiff_converts_like_pillow(tmp_path):
    inks = np.random.default_rng(0).integers(0, 256, (40, 50, 4), dtype=np.uint8)
    want = np.asarray(Image.fromarray(inks, "CMYK").convert("RGB"))
    np.testing.assert_array_equal(cmyk_to_rgb(inks), want)
    path = tmp_path / "c.tif"
    tifffile.imwrite(path, inks, photometric="separated")
    np.testing.assert_array_equal(read_rgb(path), want)
    np.testing.assert_array_equal(open_image(path, from_rgb=True)[...], lightness(want))
    with pytest.raises(ValueError, match="looks CMYK"):
        open_image(path)


# 2. bit depth


@pytest.mark.parametrize("bits", [10, 12, 14])
def test_camera_rgb_in_16_bit_samples_uses_its_bits(tmp_path, rgb, bits):
    data = np.round(rgb / 255 * (2**bits - 1)).astype(np.uint16)
    path = tmp_path / "cam.tif"
    tifffile.imwrite(path, data, photometric="rgb")  # BitsPerSample 16, as cameras write
    np.testing.assert_array_equal(read_rgb(path), rgb)
    np.testing.assert_array_equal(as_rgb_uint8(data), rgb)
    got = open_image(path, from_rgb=True)[...].astype(int)  # finer steps than 8 bits: +-1
    assert np.abs(got - lightness(rgb)).max() <= 1


def test_declared_bit_depths(tmp_path, rgb):
    dark = np.round(rgb / 255 * 1000).astype(np.uint16)  # would guess 10 bits
    path = tmp_path / "b12.tif"
    tifffile.imwrite(path, dark, photometric="rgb", bitspersample=12)
    want = np.round(dark / 4095 * 255).astype(np.uint8)
    np.testing.assert_array_equal(read_rgb(path), want)
    path = tmp_path / "max.tif"
    tifffile.imwrite(path, dark, photometric="rgb", extratags=[(281, "H", 3, (4095,) * 3, True)])
    np.testing.assert_array_equal(read_rgb(path), want)
    got = open_image(path, from_rgb=True)[...].astype(int)
    assert np.abs(got - lightness(want)).max() <= 1


def test_full_range_16_bit_is_unchanged(tmp_path, rgb):
    path = tmp_path / "rgb16.tif"
    tifffile.imwrite(path, rgb.astype(np.uint16) * 257, photometric="rgb")
    np.testing.assert_array_equal(read_rgb(path), rgb)
    np.testing.assert_array_equal(open_image(path, from_rgb=True)[...], lightness(rgb))


# 3. floats


def test_float_rounding_noise_above_one_is_still_0_to_1(tmp_path, rgb):
    data = rgb / 255.0
    data[0, 0, 0] = 1.0000001
    want = rgb.copy()
    want[0, 0, 0] = 255
    np.testing.assert_array_equal(as_rgb_uint8(data), want)
    path = tmp_path / "f.tif"
    tifffile.imwrite(path, data.astype(np.float32), photometric="rgb")
    np.testing.assert_array_equal(read_rgb(path), want)
    np.testing.assert_array_equal(open_image(path, from_rgb=True)[...], lightness(want))
    np.testing.assert_array_equal(as_rgb_uint8(rgb.astype(np.float64)), rgb)  # 0-255 floats


def test_float_overshoot_from_resampling_is_still_0_to_1(tmp_path, rgb):
    # stain normalisation or bicubic resampling leaves maxima of 1.02: not a 0-255 image
    data = rgb / 255.0 * 1.02
    want = np.clip(np.round(rgb * 1.02), 0, 255).astype(np.uint8)
    assert np.abs(as_rgb_uint8(data).astype(int) - want).max() <= 1  # rounding at .5
    path = tmp_path / "f102.tif"
    tifffile.imwrite(path, data.astype(np.float32), photometric="rgb")
    assert np.abs(read_rgb(path).astype(int) - want).max() <= 1


def test_nan_colours_are_refused_naming_the_file(tmp_path, rgb):
    data = (rgb / 255.0).astype(np.float32)
    data[:2, :3] = np.nan
    with pytest.raises(ValueError, match=r"^ref array contains 18 NaN or infinite values"):
        as_rgb_uint8(data, "ref array")
    path = tmp_path / "nan.tif"
    tifffile.imwrite(path, data, photometric="rgb")
    with pytest.raises(ValueError, match=r"nan\.tif contains 18 NaN or infinite values") as err:
        read_rgb(path)
    assert "\n" not in str(err.value)


# 4. channel-first colours


def test_planar_rgb_tiff(tmp_path, rgb):
    path = tmp_path / "planar.tif"
    tifffile.imwrite(path, np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate")
    np.testing.assert_array_equal(read_rgb(path), rgb)
    gray = open_image(path, from_rgb=True)
    assert gray.shape == rgb.shape[:2]
    np.testing.assert_array_equal(gray[...], lightness(rgb))
    np.testing.assert_array_equal(gray[5, 7:20], lightness(rgb)[5, 7:20])  # regions too
    with pytest.raises(ValueError, match="pass from_rgb=True"):
        open_image(path)


def test_ome_tiff_cyx(tmp_path, rgb):
    path = tmp_path / "c.ome.tif"
    tifffile.imwrite(path, np.moveaxis(rgb, -1, 0), metadata={"axes": "CYX"})
    np.testing.assert_array_equal(read_rgb(path), rgb)
    np.testing.assert_array_equal(open_image(path, from_rgb=True)[...], lightness(rgb))


def test_own_ome_zarr_output(tmp_path, rgb):
    path = write_rgb(tmp_path / "r.ome.zarr", rgb)
    np.testing.assert_array_equal(read_rgb(path), rgb)
    np.testing.assert_array_equal(open_image(path, from_rgb=True)[...], lightness(rgb))


def test_ome_zarr_tcyx(tmp_path, rgb):
    path = tmp_path / "t.ome.zarr"
    group = zarr.open_group(path, mode="w", zarr_format=2)
    axes = [{"name": "t", "type": "time"}, {"name": "c", "type": "channel"},
            {"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
    group.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": [{
        "path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1] * 4}]}]}]
    group.create_array("0", data=np.moveaxis(rgb, -1, 0)[None])
    np.testing.assert_array_equal(read_rgb(path), rgb)  # one time point: one image
    np.testing.assert_array_equal(open_image(path, from_rgb=True)[0], lightness(rgb))


def test_bare_channel_first_arrays_are_not_guessed(rgb):
    with pytest.raises(ValueError, match=r"is not an RGB image \(shape \(3, 48, 64\)\)"):
        as_rgb_uint8(np.moveaxis(rgb, -1, 0))


# 5. palettes


def test_gray_palette_png_reads_as_gray(tmp_path, rgb):
    gray = rgb[..., 0]
    path = tmp_path / "p.png"
    Image.fromarray(gray, "L").convert("P").save(path)
    with Image.open(path) as im:
        assert im.mode == "P"
    np.testing.assert_array_equal(read_image(path), gray)
    np.testing.assert_array_equal(open_image(path)[...], gray)


def test_colour_palette_png_stays_colour(tmp_path, rgb):
    path = tmp_path / "c.png"
    Image.fromarray(rgb).quantize(16).save(path)
    with Image.open(path) as im:
        want = np.asarray(im.convert("RGB"))
    np.testing.assert_array_equal(read_rgb(path), want)
    with pytest.raises(ValueError, match="looks RGB"):
        open_image(path)


def test_transparent_pixels_are_glass_not_dark_tissue(tmp_path, rgb):
    # an RGBA region exported from a slide: transparent where it is not the region, RGB 0 there
    rgba = np.concatenate([rgb, np.full((*rgb.shape[:2], 1), 255, np.uint8)], -1)
    rgba[:20] = 0
    path = tmp_path / "region.png"
    Image.fromarray(rgba).save(path)
    got = read_rgb(path)
    np.testing.assert_array_equal(got[20:], rgb[20:])
    assert (got[:20] == 255).all()
    half = rgba[20:].copy()
    half[..., 3] = 128
    np.testing.assert_allclose(as_rgb_uint8(half).astype(float),
                               rgb[20:].astype(float) * 128 / 255 + 255 * (1 - 128 / 255), atol=1)
