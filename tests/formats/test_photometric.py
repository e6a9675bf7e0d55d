"""What the file displays is what is colorized: MINISWHITE and palette TIFFs, one-frame DICOM.

The input's displayed brightness becomes the output's lightness, so a MINISWHITE TIFF (0 shows
white) must colorize like the same picture stored MINISBLACK, and a gray palette TIFF like the
gray image its table shows.
"""

import pickle
import shutil

import imageio.v3 as iio
import numpy as np
import pydicom
import pytest
import tifffile
from format_helpers import CLI, SETTINGS, gray, roundtrip
from pydicom.data import get_testdata_file

from napari_colorize import colorize
from napari_colorize.cli import main
from napari_colorize.core.color import rgb_uint8_to_lab
from napari_colorize.io.colour_files import read_rgb
from napari_colorize.io.readers import open_image, read_image
from napari_colorize.io.tiff import DisplayArray

SHAPE = (96, 128)
LAYOUTS = {"strip": {}, "tiled": {"tile": (32, 32), "compression": "zlib"}}  # memmap / zarr


def lightness(rgb: np.ndarray) -> np.ndarray:
    return rgb_uint8_to_lab(rgb)[0].numpy()


def one_line_naming(exc: pytest.ExceptionInfo, path) -> str:
    text = str(exc.value)
    assert "\n" not in text
    assert str(path) in text
    return text


# --- MINISWHITE -------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_miniswhite_colorizes_its_displayed_brightness(tmp_path, model, dtype, layout):
    stored = gray(SHAPE, dtype)
    stored[:, : SHAPE[1] // 2] = 0  # shows white
    top = np.iinfo(dtype).max
    shown = (top - stored).astype(dtype)
    white, black = tmp_path / "white.tif", tmp_path / "black.tif"
    tifffile.imwrite(white, stored, photometric="miniswhite", **LAYOUTS[layout])
    tifffile.imwrite(black, shown, photometric="minisblack", **LAYOUTS[layout])
    image = read_image(white)
    assert isinstance(image, DisplayArray)
    assert image.dtype == stored.dtype
    np.testing.assert_array_equal(image[...], shown)
    np.testing.assert_array_equal(image[5:40, 70:90], shown[5:40, 70:90])  # lazily, by region
    got = colorize(white, model, device="cpu", **SETTINGS).rgb
    np.testing.assert_array_equal(got, colorize(black, model, device="cpu", **SETTINGS).rgb)
    light = lightness(got)
    assert light[:, : SHAPE[1] // 2].min() > 90  # stored 0 shows white: comes out light
    assert light[:, : SHAPE[1] // 2].mean() > light[:, SHAPE[1] // 2:].mean() + 20


def test_miniswhite_through_the_cli(tmp_path, model, model_file):
    stored = gray(SHAPE, "uint16")
    stored[:20] = 0
    path = tmp_path / "white.tif"
    tifffile.imwrite(path, stored, photometric="miniswhite")
    want = roundtrip(tmp_path, path, 65535 - stored, model, model_file, (".png", ".tif"))
    assert lightness(want)[:20].min() > 90


def test_miniswhite_contrast_limits_are_in_displayed_values(tmp_path, model):
    stored = gray(SHAPE, "uint16")
    path = tmp_path / "white.tif"
    tifffile.imwrite(path, stored, photometric="miniswhite", **LAYOUTS["tiled"])
    limits = (10000.0, 40000.0)
    got = colorize(path, model, contrast_limits=limits, **SETTINGS).rgb
    want = colorize(65535 - stored, model, contrast_limits=limits, **SETTINGS).rgb
    np.testing.assert_array_equal(got, want)


def test_miniswhite_inverts_within_its_bits_per_sample(tmp_path):
    stored = (gray(SHAPE, "uint16") // 16).astype(np.uint16)  # 12-bit values
    path = tmp_path / "white12.tif"
    tifffile.imwrite(path, stored, photometric="miniswhite", bitspersample=12)
    np.testing.assert_array_equal(read_image(path)[...], 4095 - stored)


@pytest.mark.parametrize("photometric", ["minisblack", "miniswhite"])
@pytest.mark.parametrize("bits", [2, 4, 6])
def test_few_bit_gray_is_scaled_to_8_bits(tmp_path, bits, photometric):
    stored = (gray(SHAPE) >> (8 - bits)).astype(np.uint8)  # 0 .. 2**bits - 1
    path = tmp_path / f"gray{bits}.tif"
    tifffile.imwrite(path, stored, photometric=photometric, bitspersample=bits)
    shown = stored if photometric == "minisblack" else (2**bits - 1) - stored
    expected = np.rint(shown * 255.0 / (2**bits - 1)).astype(np.uint8)  # as viewers show it
    np.testing.assert_array_equal(read_image(path)[...], expected)


def test_signed_miniswhite_inverts_within_the_dtype_range(tmp_path):
    stored = gray(SHAPE, "int16")
    path = tmp_path / "white.tif"
    tifffile.imwrite(path, stored, photometric="miniswhite")
    np.testing.assert_array_equal(read_image(path)[...], -1 - stored)  # min + max - v


def test_float_miniswhite_is_refused(tmp_path, model):
    path = tmp_path / "white.tif"
    tifffile.imwrite(path, gray(SHAPE, "float32"), photometric="miniswhite")
    with pytest.raises(ValueError, match="float MINISWHITE") as info:
        colorize(path, model)
    one_line_naming(info, path)


def test_displayed_array_pickles_by_reopening(tmp_path):
    stored = gray(SHAPE)
    path = tmp_path / "white.tif"
    tifffile.imwrite(path, stored, photometric="miniswhite", **LAYOUTS["tiled"])
    image = read_image(path)
    copy = pickle.loads(pickle.dumps(image))
    assert copy.shape == image.shape
    np.testing.assert_array_equal(copy[...], 255 - stored)


def test_from_rgb_still_needs_colour(tmp_path, model):
    path = tmp_path / "white.tif"
    tifffile.imwrite(path, gray(SHAPE), photometric="miniswhite")
    with pytest.raises(ValueError, match="from_rgb needs an RGB"):
        colorize(path, model, from_rgb=True)
    rgb = np.stack([gray(SHAPE, seed=s) for s in range(3)], axis=-1)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    got = colorize(tmp_path / "rgb.tif", model, from_rgb=True, **SETTINGS).rgb
    np.testing.assert_array_equal(got, colorize(rgb, model, from_rgb=True, **SETTINGS).rgb)


# --- palette ----------------------------------------------------------------------------


def palette(levels: np.ndarray) -> np.ndarray:
    return np.stack([levels] * 3).astype(np.uint16)


@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("gray", palette(np.arange(256) * 257)),
        ("reversed", palette((255 - np.arange(256)) * 257)),
        ("scaled by 256", palette(np.arange(256) * 256)),  # as PIL writes it
        ("8-bit levels", palette(np.arange(256))),
    ],
)
def test_gray_palette_colorizes_the_gray_it_shows(tmp_path, model, model_file, name, table):
    index = gray(SHAPE)
    path = tmp_path / "palette.tif"
    tifffile.imwrite(path, index, photometric="palette", colormap=table, **LAYOUTS["tiled"])
    shown = index if name != "reversed" else 255 - index
    image = read_image(path)
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image[...], shown)
    roundtrip(tmp_path, path, shown, model, model_file, (".png",) if name == "gray" else ())


def test_sixteen_bit_gray_palette_keeps_its_levels(tmp_path, model):
    index = gray(SHAPE, "uint16")
    levels = (65535 - np.arange(65536)).astype(np.uint16)  # reversed, 16-bit levels
    path = tmp_path / "palette.tif"
    tifffile.imwrite(path, index, photometric="palette", colormap=palette(levels))
    image = read_image(path)
    assert image.dtype == np.uint16
    np.testing.assert_array_equal(image[...], levels[index])
    got = colorize(path, model, **SETTINGS).rgb
    np.testing.assert_array_equal(got, colorize(levels[index], model, **SETTINGS).rgb)


def test_colour_palette_is_refused_naming_the_file(tmp_path, model, model_file, capsys):
    table = palette(np.arange(256) * 257)
    table[0] = 65535 - table[0]  # red runs the other way
    path = tmp_path / "labels.tif"
    tifffile.imwrite(path, gray(SHAPE), photometric="palette", colormap=table)
    with pytest.raises(ValueError, match="palette-colour TIFF") as info:
        colorize(path, model)
    assert "from-rgb" in one_line_naming(info, path)
    out = tmp_path / "out.png"
    assert main(["colorize", str(path), str(out), "--model", model_file, *CLI]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "palette-colour" in err
    assert str(path) in err
    assert not out.exists()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("bits", [8, 16])
def test_colour_palette_with_from_rgb_reads_its_colours(tmp_path, model, model_file, layout,
                                                        bits):
    index = gray(SHAPE)
    table = palette(np.arange(256) * (257 if bits == 16 else 1))
    table[0] = table[0][::-1]  # red runs the other way
    table[2] = 100 * (257 if bits == 16 else 1)
    path = tmp_path / "labels.tif"
    tifffile.imwrite(path, index, photometric="palette", colormap=table, **LAYOUTS[layout])
    colours = np.moveaxis(table[:, index], 0, -1)  # what a viewer shows, in the table's bits
    rgb8 = np.round(colours / (257 if bits == 16 else 1)).astype(np.uint8)
    np.testing.assert_array_equal(read_rgb(path), rgb8)  # as a colour reference, as before
    seen, plain = open_image(path, from_rgb=True), open_image(rgb8, from_rgb=True)
    np.testing.assert_array_equal(seen[10:40, 60:100], plain[10:40, 60:100])  # by region
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(seen))[...], plain[...])  # dask
    want = colorize(rgb8, model, from_rgb=True, **SETTINGS).rgb
    np.testing.assert_array_equal(colorize(path, model, from_rgb=True, **SETTINGS).rgb, want)
    out = tmp_path / "out.png"
    assert main(["colorize", str(path), str(out), "--model", model_file, "--from-rgb",
                 *CLI]) == 0
    np.testing.assert_array_equal(iio.imread(out), want)


# --- DICOM with NumberOfFrames 1 ----------------------------------------------------------


def one_frame_file(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.NumberOfFrames = 1
    path = tmp_path / "one_frame.dcm"
    ds.save_as(path)
    hu = ds.pixel_array.astype(np.float32) * np.float32(ds.RescaleSlope) + np.float32(
        ds.RescaleIntercept)
    return path, hu


def test_dicom_with_one_frame_is_a_2d_image(tmp_path, model, model_file):
    path, hu = one_frame_file(tmp_path)
    image = read_image(path)
    assert image.shape == (128, 128)
    np.testing.assert_array_equal(image[...], hu)
    want = roundtrip(tmp_path, path, hu, model, model_file, (".png", ".tif"))  # API and CLI
    assert want.shape == (128, 128, 3)


def test_pydicom_one_frame_file_is_2d():
    path = get_testdata_file("JPEG2000_UNC.dcm")  # NumberOfFrames 1, uncompressed
    assert pydicom.dcmread(path, stop_before_pixels=True).NumberOfFrames == 1
    assert read_image(path).shape == (1024, 256)


def test_folders_and_multi_frame_files_stay_stacks(tmp_path):
    path, _ = one_frame_file(tmp_path)
    folder = tmp_path / "series"
    folder.mkdir()
    shutil.copy(path, folder / "a.dcm")
    assert read_image(folder).shape == (1, 128, 128)  # a folder is a stack, of one slice here
    multi = get_testdata_file("emri_small.dcm")
    assert read_image(multi).shape == (10, 64, 64)
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(multi, alone / "m.dcm")
    image = read_image(alone)  # a folder of one multi-frame file: its frames
    assert image.shape == (10, 64, 64)
    np.testing.assert_array_equal(image[...], read_image(multi)[...])
