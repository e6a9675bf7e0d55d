"""Colour files through the CLI: as references and ``--from-rgb`` inputs, each file must give
exactly what the same colours saved as an interleaved 8-bit PNG give; a gray palette PNG
colorizes like the gray PNG it shows."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from format_helpers import CLI, gray
from PIL import Image

from napari_colorize.cli import main
from napari_colorize.io.writers import write_rgb


def colours() -> np.ndarray:
    """A pinkish colour image (96 x 80) with some structure."""
    v = gray((96, 80)).astype(np.float64) / 255
    rgb = np.stack([0.55 + 0.4 * v, 0.25 + 0.6 * v, 0.5 + 0.35 * v ** 2], axis=-1)
    return np.round(rgb * 255).astype(np.uint8)


def save_cmyk_jpeg(path, rgb):
    Image.fromarray(rgb).convert("CMYK").save(path)
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def save_planar(path, rgb):
    tifffile.imwrite(path, np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate")
    return rgb


def save_ome_cyx(path, rgb):
    tifffile.imwrite(path, np.moveaxis(rgb, -1, 0), metadata={"axes": "CYX"})
    return rgb


def save_own_zarr(path, rgb):
    write_rgb(path, rgb)
    return rgb


def save_12_bit(path, rgb):
    tifffile.imwrite(path, np.round(rgb / 255 * 4095).astype(np.uint16), photometric="rgb")
    return rgb


def save_float_noise(path, rgb):
    data = (rgb / 255).astype(np.float32)
    data[0, 0] = np.float32(1.0000001)
    tifffile.imwrite(path, data, photometric="rgb")
    rgb = rgb.copy()
    rgb[0, 0] = 255
    return rgb


WRITERS = {"c.jpg": save_cmyk_jpeg, "p.tif": save_planar, "c.ome.tif": save_ome_cyx,
           "r.ome.zarr": save_own_zarr, "cam.tif": save_12_bit, "f.tif": save_float_noise}


def run(*args) -> np.ndarray:
    out = args[1]
    assert main(["colorize", *map(str, args), *CLI]) == 0
    return iio.imread(out)


@pytest.mark.parametrize("name", list(WRITERS))
def test_colour_file_as_reference(tmp_path, model_file, name):
    shows = WRITERS[name](tmp_path / name, colours())
    iio.imwrite(tmp_path / "same.png", shows)
    iio.imwrite(tmp_path / "in.png", gray((64, 72), seed=3))
    model = ("--model", model_file)
    want = run(tmp_path / "in.png", tmp_path / "want.png", "--reference", tmp_path / "same.png",
               *model)
    got = run(tmp_path / "in.png", tmp_path / "got.png", "--reference", tmp_path / name, *model)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ["c.jpg", "p.tif", "c.ome.tif", "r.ome.zarr", "f.tif"])
def test_colour_file_from_rgb(tmp_path, model_file, name):
    shows = WRITERS[name](tmp_path / name, colours())
    iio.imwrite(tmp_path / "same.png", shows)
    model = ("--model", model_file)
    want = run(tmp_path / "same.png", tmp_path / "want.png", "--from-rgb", *model)
    got = run(tmp_path / name, tmp_path / "got.png", "--from-rgb", *model)
    np.testing.assert_array_equal(got, want)


def test_gray_palette_png_colorizes_as_its_gray(tmp_path, model_file):
    img = gray((64, 72))
    iio.imwrite(tmp_path / "g.png", img)
    Image.fromarray(img, "L").convert("P").save(tmp_path / "p.png")
    model = ("--model", model_file)
    want = run(tmp_path / "g.png", tmp_path / "want.png", *model)
    np.testing.assert_array_equal(run(tmp_path / "p.png", tmp_path / "got.png", *model), want)


@pytest.mark.parametrize(("extra", "expected"), [("unassalpha", (227, 147, 187)),
                                                 ("assocalpha", (227, 147, 187)),
                                                 ("unspecified", (200, 40, 120))])
def test_tiff_alpha_kinds(tmp_path, extra, expected):
    # straight alpha is multiplied in; associated alpha already was; an unspecified sample is
    # no alpha at all
    from napari_colorize.io.colour_files import read_rgb
    from napari_colorize.io.readers import open_image

    colour, opacity = np.array([200, 40, 120.0]), 128 / 255
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., :3] = np.round(colour * opacity) if extra == "assocalpha" else colour
    rgba[..., 3] = 128
    path = tmp_path / f"{extra}.tif"
    tifffile.imwrite(path, rgba, photometric="rgb", extrasamples=[extra])
    assert tuple(read_rgb(path)[0, 0]) == expected
    gray = open_image(path, from_rgb=True)[...]
    plain = open_image(np.full((8, 8, 3), expected, np.uint8), from_rgb=True)[...]
    assert np.abs(gray.astype(int) - plain).max() <= 1


def test_four_bit_rgb_tiff_is_scaled_by_its_depth(tmp_path):
    from napari_colorize.io.colour_files import read_rgb
    from napari_colorize.io.readers import open_image

    stored = (np.arange(16 * 16 * 3).reshape(16, 16, 3) % 16).astype(np.uint8)
    path = tmp_path / "rgb4.tif"
    tifffile.imwrite(path, stored, photometric="rgb", bitspersample=4)
    np.testing.assert_array_equal(read_rgb(path), stored * 17)  # 15 is full intensity
    np.testing.assert_array_equal(open_image(path, from_rgb=True)[...],
                                  open_image(stored * 17, from_rgb=True)[...])
