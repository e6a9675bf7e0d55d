"""TIFF as scanners and microscopes write it: every layout and codec, through API and CLI."""

import numpy as np
import pytest
import tifffile
from format_helpers import gray, roundtrip

from napari_colorize import colorize
from napari_colorize.cli import main

SHAPE = (300, 200)


@pytest.mark.parametrize(
    ("layout", "compression", "outputs"),
    [
        ("strip", None, (".ome.zarr", ".tif", ".png")),
        ("strip", "zlib", (".ome.zarr",)),
        ("strip", "lzw", (".tif",)),
        ("strip", "zstd", (".ome.zarr",)),
        ("tiled", None, (".ome.zarr",)),
        ("tiled", "zlib", (".ome.zarr", ".ome.tif")),
        ("tiled", "deflate", (".png",)),
        ("tiled", "lzw", (".ome.zarr",)),
        ("tiled", "zstd", (".tif",)),
    ],
)
def test_lossless_codecs_and_layouts(tmp_path, model, model_file, layout, compression, outputs):
    img = gray(SHAPE)
    path = tmp_path / "in.tif"
    layout_kw = {"tile": (64, 64)} if layout == "tiled" else {"rowsperstrip": 37}
    tifffile.imwrite(path, img, compression=compression, **layout_kw)
    roundtrip(tmp_path, path, img, model, model_file, outputs)


@pytest.mark.parametrize("layout", ["strip", "tiled"])
def test_jpeg_compressed(tmp_path, model, model_file, layout):
    img = gray(SHAPE)
    path = tmp_path / "in.tif"
    layout_kw = {"tile": (64, 64)} if layout == "tiled" else {"rowsperstrip": 16}
    tifffile.imwrite(path, img, compression="jpeg", compressionargs={"level": 90}, **layout_kw)
    decoded = tifffile.imread(path)  # lossy: compare with colorizing what the file holds
    assert not np.array_equal(decoded, img)
    roundtrip(tmp_path, path, decoded, model, model_file, (".ome.zarr",))


def test_bigtiff(tmp_path, model, model_file):
    img = gray(SHAPE)
    path = tmp_path / "in.btf"
    tifffile.imwrite(path, img, bigtiff=True, tile=(64, 64), compression="zlib")
    with tifffile.TiffFile(path) as tif:
        assert tif.is_bigtiff
    roundtrip(tmp_path, path, img, model, model_file, (".ome.zarr", ".tif"))


def test_pyramidal_ome_tiff_uses_level0(tmp_path, model, model_file):
    img = gray((600, 520))
    path = tmp_path / "in.ome.tif"
    with tifffile.TiffWriter(path, ome=True) as tif:
        opts = {"tile": (256, 256), "compression": "zlib", "photometric": "minisblack"}
        tif.write(img, subifds=2, **opts)
        tif.write(img[::2, ::2], subfiletype=1, **opts)
        tif.write(img[::4, ::4], subfiletype=1, **opts)
    with tifffile.TiffFile(path) as tif:
        assert len(tif.series[0].levels) == 3
    roundtrip(tmp_path, path, img, model, model_file, (".ome.zarr",))


def test_multi_series_uses_series0(tmp_path, model, model_file):
    first, second = gray(SHAPE), gray((120, 90), seed=5)
    path = tmp_path / "in.tif"
    with tifffile.TiffWriter(path) as tif:
        tif.write(first, compression="zlib", metadata={"axes": "YX"})
        tif.write(second, metadata={"axes": "YX"})
    with tifffile.TiffFile(path) as tif:
        assert len(tif.series) == 2
    roundtrip(tmp_path, path, first, model, model_file, (".ome.zarr",))


@pytest.mark.parametrize(("axes", "shape"), [("ZYX", (3, 150, 110)), ("TZYX", (2, 2, 150, 110))])
def test_imagej_hyperstacks(tmp_path, model, model_file, axes, shape):
    img = gray(shape, "uint16")
    path = tmp_path / "in.tif"
    tifffile.imwrite(path, img, imagej=True, metadata={"axes": axes})
    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej
        assert tif.series[0].axes == axes
    roundtrip(tmp_path, path, img, model, model_file, (".ome.zarr", ".tif"))


def test_imagej_channels_refused_with_how_to_pick_one(tmp_path, model, model_file, capsys):
    path = tmp_path / "in.tif"
    tifffile.imwrite(path, gray((2, 3, 60, 70), "uint16"), imagej=True,
                     metadata={"axes": "ZCYX"})
    with pytest.raises(ValueError, match=r"has 3 channels \(axis 1 of ZCYX\).*\[:, 0\]") as info:
        colorize(path, model)
    assert "\n" not in str(info.value)
    out = tmp_path / "out.ome.zarr"
    assert main(["colorize", str(path), str(out), "--model", model_file, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "3 channels" in err
    assert "Split Channels" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("dtype", "outputs"),
    [("uint8", (".png",)), ("uint16", (".ome.zarr",)), ("int16", (".tif",)),
     ("float32", (".ome.zarr",))],
)
@pytest.mark.parametrize("compression", [None, "zlib"])
def test_dtypes(tmp_path, model, model_file, dtype, outputs, compression):
    img = gray(SHAPE, dtype)
    if dtype == "int16":
        assert img.min() < 0
    path = tmp_path / "in.tif"
    tifffile.imwrite(path, img, compression=compression)
    roundtrip(tmp_path, path, img, model, model_file, outputs)


def test_contrast_limits_override_the_window(tmp_path, model, model_file):
    img = gray(SHAPE, "uint16")
    path = tmp_path / "in.tif"
    tifffile.imwrite(path, img, tile=(64, 64), compression="zlib")
    want = roundtrip(tmp_path, path, img, model, model_file, (".ome.zarr",),
                     cli_args=("--contrast-limits", "1000", "30000"),
                     contrast_limits=(1000, 30000))
    assert not np.array_equal(want, colorize(img, model, tile_size=128, overlap=32))


def test_quiet_tifffile_is_thread_safe(caplog):
    """Two threads (the widget, the read-ahead) in the context at once: each collects its own
    warnings, and tifffile's logger is left as it was, so warnings outside still propagate."""
    import logging
    import threading

    from napari_colorize.io.tiff import quiet_tifffile

    logger = logging.getLogger("tifffile")
    before = (logger.propagate, list(logger.handlers))
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    got = {}

    def first():
        with quiet_tifffile() as messages:
            a_in.set()
            b_in.wait(10)
            logger.warning("from A")
        got["A"] = messages
        a_out.set()

    def second():
        a_in.wait(10)
        with quiet_tifffile() as messages:
            b_in.set()
            a_out.wait(10)  # A leaves first, B last: the order that used to silence the logger
            logger.warning("from B")
        got["B"] = messages

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    with caplog.at_level(logging.WARNING, logger="tifffile"):
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert got == {"A": ["from A"], "B": ["from B"]}
        assert (logger.propagate, list(logger.handlers)) == before
        assert not [r for r in caplog.records if r.name == "tifffile"]
        logger.warning("outside")
        assert [r.getMessage() for r in caplog.records if r.name == "tifffile"] == ["outside"]


def test_tiff_without_pixels_says_so(tmp_path, capsys):
    """Zero rows: not a truncated copy (its data offset lies at the end of the file)."""
    from napari_colorize.io.readers import read_image

    path = tmp_path / "empty.tif"
    with pytest.warns(UserWarning, match="zero-size"):
        tifffile.imwrite(path, np.zeros((0, 10), np.uint16))
    with pytest.raises(ValueError, match=r"empty\.tif: the TIFF has no pixels") as info:
        read_image(path)
    assert "truncated" not in str(info.value)
    out = tmp_path / "o.png"
    assert main(["colorize", str(path), str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "has no pixels" in err
    assert not out.exists()
