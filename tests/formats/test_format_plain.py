"""PNG and JPEG written by imageio (Pillow), through API and CLI."""

import imageio.v3 as iio
import numpy as np
import pytest
from format_helpers import gray, roundtrip


@pytest.mark.parametrize(
    ("dtype", "outputs"), [("uint8", (".png", ".ome.zarr")), ("uint16", (".tif",))]
)
def test_png(tmp_path, model, model_file, dtype, outputs):
    img = gray((300, 200), dtype)
    path = tmp_path / "in.png"
    iio.imwrite(path, img)
    assert iio.imread(path).dtype == np.dtype(dtype)
    roundtrip(tmp_path, path, img, model, model_file, outputs)


def test_png_gray_alpha_is_over_white(tmp_path, model, model_file):
    img = gray((300, 200))
    alpha = np.full_like(img, 255)
    alpha[:100] = 0  # a transparent band: glass, not black tissue
    path = tmp_path / "in.png"
    iio.imwrite(path, np.stack([img, alpha], axis=-1))
    seen = img.copy()
    seen[:100] = 255
    roundtrip(tmp_path, path, seen, model, model_file, (".png",))


def test_rgba_from_rgb_is_over_white(tmp_path):
    from napari_colorize.io.readers import open_image

    rgb = np.stack([gray((64, 80))] * 3, axis=-1)
    alpha = np.full((64, 80, 1), 255, np.uint8)
    alpha[:20] = 0
    path = tmp_path / "rgba.png"
    iio.imwrite(path, np.concatenate([rgb, alpha], axis=-1))
    lightness = np.asarray(open_image(path, from_rgb=True)[...])
    np.testing.assert_array_equal(lightness[:20], 255)  # transparent: white
    np.testing.assert_array_equal(lightness[20:], open_image(rgb, from_rgb=True)[...][20:])


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg"])
def test_jpeg(tmp_path, model, model_file, suffix):
    img = gray((300, 200))
    path = tmp_path / f"in{suffix}"
    iio.imwrite(path, img, quality=85)
    decoded = iio.imread(path)  # lossy: compare with colorizing what the file holds
    roundtrip(tmp_path, path, decoded, model, model_file, (".ome.zarr", ".png"))


def test_large_png_is_not_a_decompression_bomb(tmp_path, monkeypatch):
    from PIL import Image

    from napari_colorize.io.readers import read_image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # as if 60 kpx were > 179 MP
    gray = np.arange(300 * 200, dtype=np.uint32).reshape(300, 200).astype(np.uint8)
    iio.imwrite(tmp_path / "mosaic.png", gray)
    np.testing.assert_array_equal(read_image(tmp_path / "mosaic.png"), gray)
    assert Image.MAX_IMAGE_PIXELS == 1000  # lifted for that decode only


def test_png_larger_than_memory_is_refused_from_its_header(tmp_path, monkeypatch):
    import psutil

    from napari_colorize.io.readers import read_image

    iio.imwrite(tmp_path / "big.png", np.zeros((300, 200), np.uint8))
    free = psutil.virtual_memory()._replace(available=1000)
    monkeypatch.setattr(psutil, "virtual_memory", lambda: free)
    with pytest.raises(ValueError, match=r"big.png: a 200 x 300 PNG needs .* GB to decode"):
        read_image(tmp_path / "big.png")


def test_jpeg_exif_orientation_is_applied(tmp_path, model):
    from PIL import Image

    from napari_colorize import colorize

    img = gray((60, 80))
    picture = Image.fromarray(img)
    exif = picture.getexif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display", as cameras and phones write
    path = tmp_path / "rotated.jpg"
    picture.save(path, exif=exif.tobytes(), quality=95)
    assert colorize(path, model).rgb.shape == (80, 60, 3)  # as every viewer shows it


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_of_palette_png_and_cmyk_jpeg(tmp_path, orientation):
    """Files Pillow's plain reading gets wrong (palettes, CMYK) turn as viewers show them too,
    as inputs and as colour references."""
    from PIL import Image, ImageOps

    from napari_colorize.io.colour_files import read_rgb
    from napari_colorize.io.readers import read_image

    img = gray((60, 80))
    rgb = np.stack([img, np.roll(img, 20, axis=1), 255 - img], axis=-1)
    exif = Image.Exif()
    exif[0x0112] = orientation
    files = {"p.png": (Image.fromarray(img, "L").convert("P"), "L", read_image),
             "c.png": (Image.fromarray(rgb).quantize(16), "RGB", read_rgb),
             "c.jpg": (Image.fromarray(rgb).convert("CMYK"), "RGB", read_rgb)}
    for name, (picture, mode, read) in files.items():
        path = tmp_path / name
        picture.save(path, exif=exif)
        with Image.open(path) as im:
            shown = np.asarray(ImageOps.exif_transpose(im).convert(mode))
        np.testing.assert_array_equal(read(path), shown, err_msg=name)
