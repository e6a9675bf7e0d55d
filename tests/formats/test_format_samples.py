"""Every TIFF in sample_data/ through the CLI, and colour input on purpose (``from_rgb``)."""

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from format_helpers import fingerprint, read_result
from skimage.color import rgb2lab

from napari_colorize import colorize
from napari_colorize.cli import main
from napari_colorize.core.color import uint8_lightness_table
from napari_colorize.io.readers import open_image

SAMPLES = Path(__file__).parents[2] / "sample_data"
SAMPLE_TIFFS = sorted(SAMPLES.glob("*.tif"))
RGB_SAMPLE = SAMPLES / "cmu1_region_rgb.jpg"
WIDE = {"tile_size": 256, "overlap": 32}
WIDE_CLI = ["--tile", "256", "--overlap", "32", "--quiet"]


def test_samples_are_there():
    assert len(SAMPLE_TIFFS) >= 3


@pytest.mark.parametrize("path", SAMPLE_TIFFS, ids=lambda p: p.name)
def test_every_sample_tiff_through_the_cli(tmp_path, model, model_file, path):
    before = fingerprint(path)
    out = tmp_path / "out.ome.zarr"
    assert main(["colorize", str(path), str(out), "--model", model_file, *WIDE_CLI]) == 0
    image = tifffile.imread(path)
    got = read_result(out)
    assert got.shape == (*image.shape, 3)
    if image.dtype == np.uint8 and image.ndim == 3:  # planes are independent: check two
        image, got = image[[0, -1]], got[[0, -1]]
    np.testing.assert_array_equal(got, colorize(image, model, **WIDE))
    assert fingerprint(path) == before


def lightness(rgb: np.ndarray) -> np.ndarray:
    return rgb2lab(rgb[..., :3])[..., 0]


def test_rgb_refused_without_the_option(tmp_path, model, model_file, capsys):
    with pytest.raises(ValueError, match=r"from_rgb=True \(CLI --from-rgb\)"):
        colorize(RGB_SAMPLE, model)
    assert main(["colorize", str(RGB_SAMPLE), str(tmp_path / "o.png"), "--model", model_file,
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--from-rgb" in err
    assert "cmu1_region_rgb.jpg" in err
    assert not (tmp_path / "o.png").exists()


def test_from_rgb_gray_has_the_colour_lightness():
    rgb = iio.imread(RGB_SAMPLE)
    gray = np.asarray(open_image(RGB_SAMPLE, from_rgb=True))
    assert gray.shape == rgb.shape[:2]
    assert gray.dtype == np.uint8
    # the nearest uint8 gray in lightness, computed independently (float64, scikit-image)
    table = uint8_lightness_table()
    crop = (slice(300, 500), slice(600, 800))
    want = np.abs(lightness(rgb[crop])[..., None] - table).argmin(axis=-1)
    assert np.abs(gray[crop].astype(int) - want).max() <= 1
    assert np.mean(gray[crop] != want) < 1e-3
    assert np.abs(table[gray] - lightness(rgb)).max() < 0.3


def test_from_rgb_api_and_cli_keep_the_lightness(tmp_path, model, model_file):
    before = fingerprint(RGB_SAMPLE)
    rgb = iio.imread(RGB_SAMPLE)
    got = colorize(RGB_SAMPLE, model, from_rgb=True, **WIDE).rgb
    assert got.shape == rgb.shape
    assert got.dtype == np.uint8
    d = np.abs(lightness(got) - lightness(rgb))
    assert d.mean() < 0.5
    assert np.percentile(d, 99.9) < 1.5
    np.testing.assert_array_equal(colorize(rgb, model, from_rgb=True, **WIDE), got)
    for suffix in (".png", ".ome.zarr"):
        out = tmp_path / f"o{suffix}"
        assert main(["colorize", str(RGB_SAMPLE), str(out), "--from-rgb", "--model",
                     model_file, *WIDE_CLI]) == 0
        np.testing.assert_array_equal(read_result(out), got)
    assert fingerprint(RGB_SAMPLE) == before


def test_from_rgb_reads_a_tiled_rgb_tiff_lazily(tmp_path, model):
    rgb = iio.imread(RGB_SAMPLE)[:300, :260]
    path = tmp_path / "slide.tif"
    tifffile.imwrite(path, rgb, photometric="rgb", tile=(128, 128), compression="zlib")
    image = open_image(path, from_rgb=True)
    assert image.shape == (300, 260)
    np.testing.assert_array_equal(image[100:164, 7:90], np.asarray(image)[100:164, 7:90])
    np.testing.assert_array_equal(colorize(path, model, from_rgb=True, **WIDE),
                                  colorize(rgb, model, from_rgb=True, **WIDE))


@pytest.mark.parametrize(
    "colour", ["uint16", "float01", "float255", "rgba"], ids=str
)
def test_from_rgb_other_colour_encodings(model, colour):
    rgb8 = iio.imread(RGB_SAMPLE)[:200, :150]
    ref = colorize(rgb8, model, from_rgb=True, **WIDE).rgb
    data = {"uint16": rgb8.astype(np.uint16) * 257, "float01": rgb8 / 255.0,
            "float255": rgb8.astype(np.float32),
            "rgba": np.concatenate([rgb8, np.full_like(rgb8[..., :1], 255)], axis=-1)}[colour]
    np.testing.assert_array_equal(colorize(data, model, from_rgb=True, **WIDE), ref)


@pytest.mark.parametrize(
    ("image", "message"),
    [(np.zeros((64, 64), np.uint8), r"from_rgb needs an RGB\(A\) image .*got shape \(64, 64\)"),
     (np.zeros((64, 64, 3), np.int16), r"unsigned integer or float colours; image is int16")],
)
def test_from_rgb_refuses_what_is_not_colour(model, image, message):
    with pytest.raises(ValueError, match=message):
        colorize(image, model, from_rgb=True)


def test_from_rgb_must_be_a_bool(model):
    with pytest.raises(TypeError, match="from_rgb must be True or False"):
        colorize(np.zeros((64, 64, 3), np.uint8), model, from_rgb="yes")
