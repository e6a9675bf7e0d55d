"""Transparent pixels read as glass (white) in every format that declares transparency.

A gray + alpha PNG has always been composited over white; a gray + alpha TIFF (ExtraSamples
alpha, interleaved or planar), a 16-bit gray + alpha PNG and PNG ``tRNS`` transparency (one
transparent gray value, or alpha per palette entry) must read the same way.
"""

import imagecodecs
import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from format_helpers import gray, roundtrip
from PIL import Image

from napari_colorize.io.colour_files import read_rgb
from napari_colorize.io.readers import open_image, read_image

SHAPE = (160, 120)


def opacity(top: int) -> np.ndarray:
    """Opaque, half transparent and transparent bands, in ``top``'s scale."""
    alpha = np.full(SHAPE, top, np.uint32)
    alpha[:40] = 0
    alpha[40:60] = top // 2
    return alpha


def over_white(img: np.ndarray, alpha: np.ndarray, top: int) -> np.ndarray:
    a = alpha / top
    return np.rint(img * a + top * (1 - a)).astype(img.dtype)


TILED = {"tile": (32, 32), "compression": "zlib"}  # read through zarr, not a memory map


@pytest.mark.parametrize("planar", [False, True])
@pytest.mark.parametrize(("dtype", "layout"), [("uint8", {}), ("uint16", {}), ("uint8", TILED)])
def test_gray_alpha_tiff_is_over_white(tmp_path, model, model_file, planar, dtype, layout):
    img = gray(SHAPE, dtype)
    top = np.iinfo(dtype).max
    alpha = opacity(top).astype(dtype)
    path = tmp_path / "la.tif"
    tifffile.imwrite(path, np.stack([img, alpha], axis=0 if planar else -1),
                     photometric="minisblack", planarconfig="separate" if planar else "contig",
                     extrasamples=["unassalpha"], **layout)
    seen = over_white(img, alpha, top)
    image = read_image(path)
    assert image.shape == SHAPE
    np.testing.assert_array_equal(image[...], seen)
    np.testing.assert_array_equal(image[30:70, 5:9], seen[30:70, 5:9])  # by region
    roundtrip(tmp_path, path, seen, model, model_file, (".png",))
    if dtype == "uint8":  # as the same pixels saved as a gray + alpha PNG
        iio.imwrite(tmp_path / "la.png", np.stack([img, alpha], axis=-1))
        np.testing.assert_array_equal(read_image(tmp_path / "la.png"), seen)


def test_associated_alpha_tiff_is_already_multiplied(tmp_path):
    img = gray(SHAPE)
    alpha = opacity(255).astype(np.uint8)
    stored = np.rint(img * (alpha / 255)).astype(np.uint8)  # associated: gray times alpha
    path = tmp_path / "assoc.tif"
    tifffile.imwrite(path, np.stack([stored, alpha], axis=-1), photometric="minisblack",
                     extrasamples=["assocalpha"])
    want = np.clip(np.rint(stored + 255 * (1 - alpha / 255)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(read_image(path)[...], want)


def test_unspecified_extra_sample_is_not_alpha(tmp_path, capsys):
    from napari_colorize.cli import main

    path = tmp_path / "pair.tif"
    tifffile.imwrite(path, np.stack([gray(SHAPE)] * 2, axis=-1), photometric="minisblack",
                     extrasamples=["unspecified"])
    assert read_image(path).shape == (*SHAPE, 2)
    assert main(["colorize", str(path), str(tmp_path / "o.png"), "--quiet"]) == 2
    assert "looks gray+alpha" in capsys.readouterr().err


def test_sixteen_bit_gray_alpha_png_keeps_its_bits(tmp_path, model, model_file):
    img = gray(SHAPE, "uint16")
    alpha = opacity(65535).astype(np.uint16)
    path = tmp_path / "la16.png"
    path.write_bytes(imagecodecs.png_encode(np.stack([img, alpha], axis=-1)))
    with Image.open(path) as im:
        assert im.mode == "RGBA"  # what Pillow makes of it: 8-bit colours
    seen = over_white(img, alpha, 65535)
    image = read_image(path)
    assert image.dtype == np.uint16
    np.testing.assert_array_equal(image, seen)
    roundtrip(tmp_path, path, seen, model, model_file, (".png",))


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_png_transparent_gray_value(tmp_path, model, model_file, dtype):
    img = gray(SHAPE, dtype)
    key = int(img[5, 5])
    img[:40, :40] = key  # the transparent value: a cleared corner
    path = tmp_path / "trns.png"
    Image.fromarray(img).save(path, transparency=key)
    with Image.open(path) as im:
        assert im.info["transparency"] == key
    seen = img.copy()
    seen[img == key] = np.iinfo(dtype).max
    np.testing.assert_array_equal(read_image(path), seen)
    roundtrip(tmp_path, path, seen, model, model_file, (".png",))


def test_gray_palette_png_transparent_entry(tmp_path, model, model_file):
    img = gray(SHAPE)
    img[:40] = 0
    path = tmp_path / "p.png"
    Image.fromarray(img, "L").convert("P").save(path, transparency=0)  # index 0 shows 0
    with Image.open(path) as im:
        assert im.mode == "P"
        assert "transparency" in im.info
    seen = img.copy()
    seen[img == 0] = 255
    np.testing.assert_array_equal(read_image(path), seen)
    roundtrip(tmp_path, path, seen, model, model_file, (".png",))


def test_colour_palette_png_alpha_per_entry(tmp_path):
    y, x = np.mgrid[0:SHAPE[0], 0:SHAPE[1]]
    indices = ((y // 20 + x // 30) % 4).astype(np.uint8)
    palette = [200, 40, 120, 10, 150, 60, 250, 250, 0, 30, 30, 30]
    picture = Image.fromarray(indices, "P")
    picture.putpalette(palette)
    path = tmp_path / "c.png"
    picture.save(path, transparency=bytes([255, 128, 0, 255]))  # opaque, half, clear, opaque
    table = np.array(palette, float).reshape(4, 3)
    alpha = np.array([255, 128, 0, 255]) / 255
    shown = np.rint(table * alpha[:, None] + 255 * (1 - alpha[:, None])).astype(np.uint8)
    np.testing.assert_array_equal(read_rgb(path), shown[indices])
    lightness = open_image(path, from_rgb=True)[...]
    np.testing.assert_array_equal(lightness, open_image(shown[indices], from_rgb=True)[...])
