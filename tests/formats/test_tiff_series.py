"""Which series of a multi-image TIFF is read: the one with the most pixels, the first of equals.

A Leica SCN lists its small macro image first and some scanners store a reduced-resolution
thumbnail before the full image; both must colorize the tissue. An SVS (baseline first) and an
OME-TIFF of equal images keep series 0. Gray inputs, ``from_rgb`` inputs, colour references and
the pixel size all read the same series.
"""

import imageio.v3 as iio
import numpy as np
import tifffile
from format_helpers import CLI, SETTINGS, gray, roundtrip

from napari_colorize import colorize
from napari_colorize.cli import main
from napari_colorize.io.axis_names import read_axes
from napari_colorize.io.colour_files import read_rgb
from napari_colorize.io.colour_layout import colour_layout
from napari_colorize.io.readers import open_image, read_image

SCN = """<?xml version="1.0" encoding="utf-8"?>
<scn xmlns="http://www.leica-microsystems.com/scn/2010/10/01">
<collection name="slide" uuid="1" sizeX="76000000" sizeY="25000000">
<image name="macro" uuid="2"><view sizeX="76000000" sizeY="25000000" offsetX="0" offsetY="0"
spacingZ="0"/><pixels sizeX="160" sizeY="64"><dimension sizeX="160" sizeY="64" r="0" ifd="0"/>
</pixels></image>
<image name="tissue" uuid="3"><view sizeX="160000" sizeY="128000" offsetX="10000000"
offsetY="5000000" spacingZ="0"/><pixels sizeX="320" sizeY="256">
<dimension sizeX="320" sizeY="256" r="0" ifd="1"/><dimension sizeX="160" sizeY="128" r="1"
ifd="2"/></pixels></image>
</collection></scn>"""


def tissue() -> np.ndarray:
    """A 256 x 320 colour image, interleaved uint8."""
    v = gray((256, 320))
    return np.stack([v, np.roll(v, 50, axis=1), 255 - v], axis=-1)


def write_scn(path, colours):
    """A Leica SCN as SCN400 scanners write it: the macro image first, then the tissue."""
    macro = np.full((64, 160, 3), 230, np.uint8)
    opts = {"photometric": "rgb", "compression": "zlib", "metadata": None}
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        tif.write(macro, description=SCN, tile=(16, 16), **opts)
        tif.write(colours, tile=(64, 64), **opts)
        tif.write(colours[::2, ::2].copy(), tile=(64, 64), **opts)
    with tifffile.TiffFile(path) as tif:
        assert tif.is_scn
        assert [s.shape for s in tif.series] == [(64, 160, 3), (256, 320, 3)]


def test_leica_scn_reads_the_tissue_not_the_macro(tmp_path, model, model_file):
    colours = tissue()
    path = tmp_path / "slide.scn"
    write_scn(path, colours)
    assert read_image(path).shape == (256, 320, 3)
    assert open_image(path, from_rgb=True).shape == (256, 320)
    np.testing.assert_array_equal(read_rgb(path), colours)  # as a colour reference too
    want = colorize(colours, model, from_rgb=True, **SETTINGS).rgb
    np.testing.assert_array_equal(colorize(path, model, from_rgb=True, **SETTINGS).rgb, want)
    out = tmp_path / "o.png"
    assert main(["colorize", str(path), str(out), "--model", model_file, "--from-rgb",
                 *CLI]) == 0
    np.testing.assert_array_equal(iio.imread(out), want)


def test_thumbnail_stored_first_is_not_colorized(tmp_path, model, model_file):
    img = gray((256, 320))
    path = tmp_path / "thumb_first.tif"
    with tifffile.TiffWriter(path) as tif:
        tif.write(img[::8, ::8].copy(), subfiletype=1)  # a reduced-resolution image first
        tif.write(img)
    with tifffile.TiffFile(path) as tif:
        assert tif.series[0].shape == (32, 40)
    roundtrip(tmp_path, path, img, model, model_file, (".ome.zarr",))


def test_palette_and_layout_of_the_larger_series(tmp_path):
    """colour_layout and the palette lookup read the series the pixels come from."""
    index = gray((96, 128))
    table = np.zeros((3, 256), np.uint16)
    table[0], table[1], table[2] = np.arange(256), 255 - np.arange(256), 100
    path = tmp_path / "two.tif"
    with tifffile.TiffWriter(path) as tif:
        tif.write(np.zeros((8, 8, 3), np.uint16), photometric="rgb", bitspersample=12)
        tif.write(index, photometric="palette", colormap=table)
    assert colour_layout(path).bits is None  # the 8-bit table, not the first image's 12 bits
    np.testing.assert_array_equal(read_rgb(path), np.moveaxis(table[:, index], 0, -1))


def test_svs_keeps_its_baseline(tmp_path):
    baseline = gray((512, 384))
    path = tmp_path / "slide.svs"
    description = "Aperio Image Library v12.0.15\n384x512 [0,0 384x512] (256x256) |MPP = 0.5"
    with tifffile.TiffWriter(path) as tif:
        tif.write(baseline, tile=(256, 256), description=description)
        tif.write(baseline[::16, ::16].copy(), description="Aperio thumbnail")
        tif.write(baseline[::4, ::4].copy(), tile=(256, 256), description="Aperio level")
    with tifffile.TiffFile(path) as tif:
        assert tif.is_svs
    np.testing.assert_array_equal(read_image(path)[...], baseline)
    assert read_axes(path, 2).scale == (0.5, 0.5)


def ome_two_images(path, first, second):
    with tifffile.TiffWriter(path, ome=True) as tif:
        tif.write(first, metadata={"axes": "YX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5})
        tif.write(second, metadata={"axes": "YX", "PhysicalSizeX": 2.0, "PhysicalSizeY": 2.0})


def test_ome_tiff_of_equal_images_keeps_series_0(tmp_path):
    first, second = gray((96, 128)), gray((96, 128), seed=5)
    path = tmp_path / "two.ome.tif"
    ome_two_images(path, first, second)
    np.testing.assert_array_equal(read_image(path)[...], first)
    assert read_axes(path, 2).scale == (0.5, 0.5)


def test_ome_tiff_larger_second_image_and_its_pixel_size(tmp_path):
    small, large = gray((48, 64)), gray((96, 128), seed=5)
    path = tmp_path / "two.ome.tif"
    ome_two_images(path, small, large)
    np.testing.assert_array_equal(read_image(path)[...], large)
    assert read_axes(path, 2).scale == (2.0, 2.0)  # that image's own PhysicalSize
