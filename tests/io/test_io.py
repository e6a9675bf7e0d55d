import json

import numpy as np
import pytest
import tifffile
import zarr

from napari_colorize.io.colour_files import read_rgb
from napari_colorize.io.ngff import OmeZarrMerger
from napari_colorize.io.readers import read_image, read_metadata
from napari_colorize.io.writers import write_gray, write_rgb


def test_read_tiff_png_zarr(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (3, 40, 50), np.uint8)
    tifffile.imwrite(tmp_path / "s.tif", img, photometric="minisblack")
    np.testing.assert_array_equal(np.asarray(read_image(tmp_path / "s.tif")), img)
    import imageio.v3 as iio

    iio.imwrite(tmp_path / "p.png", img[0])
    np.testing.assert_array_equal(read_image(tmp_path / "p.png"), img[0])
    z = zarr.create_array(tmp_path / "a.zarr", shape=img.shape, dtype=img.dtype)
    z[...] = img
    np.testing.assert_array_equal(read_image(tmp_path / "a.zarr")[...], img)


def test_tiled_pyramidal_tiff_reads_level0_lazily(tmp_path):
    img = np.random.default_rng(1).integers(0, 255, (600, 700), np.uint8)
    with tifffile.TiffWriter(tmp_path / "pyr.tif") as tif:
        tif.write(img, tile=(256, 256), subifds=1, compression="zlib")
        tif.write(img[::2, ::2], tile=(256, 256), subfiletype=1, compression="zlib")
    arr = read_image(tmp_path / "pyr.tif")
    assert isinstance(arr, zarr.Array)
    np.testing.assert_array_equal(arr[...], img)


def test_unknown_suffix(tmp_path):
    (tmp_path / "x.xyz").write_text("hi")
    with pytest.raises(ValueError, match=r"unknown file type '\.xyz'"):
        read_image(tmp_path / "x.xyz")


def test_read_rgb_refuses_gray(tmp_path):
    import imageio.v3 as iio

    iio.imwrite(tmp_path / "g.png", np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="is not an RGB image"):
        read_rgb(tmp_path / "g.png")


@pytest.mark.parametrize("leading", [(), (4,), (2, 3)])
def test_ome_zarr_layout_and_metadata(tmp_path, leading):
    shape = (*leading, 1100, 600)
    path = tmp_path / "r.ome.zarr"
    merger = OmeZarrMerger(path, shape, confidence=True, metadata={"model": "m"}, block_size=512)
    rng = np.random.default_rng(2)
    planes = {}
    for index in np.ndindex(*leading):
        planes[index] = rng.integers(0, 255, (1100, 600, 3), np.uint8)
        for r0 in range(0, 1100, 512):  # written block by block
            for c0 in range(0, 600, 512):
                region = (slice(r0, min(r0 + 512, 1100)), slice(c0, min(c0 + 512, 600)))
                merger.write(index, region, planes[index][region],
                             np.full((1100, 600), 0.5, np.float32)[region])
    assert read_metadata(path)["complete"] is False  # marked incomplete until the end
    rgb, conf, _ = merger.finalize()  # Outputs(rgb, confidence, channels)
    meta = json.loads((path / "zarr.json").read_text())["attributes"]
    ms = meta["ome"]["multiscales"][0]
    assert meta["ome"]["version"] == "0.5"
    names = {0: ["c", "y", "x"], 1: ["c", "z", "y", "x"], 2: ["t", "c", "z", "y", "x"]}
    assert [a["name"] for a in ms["axes"]] == names[len(leading)]
    assert len(ms["datasets"]) == 3  # 1100 -> 550 -> 275 px: halve until <= 512
    assert ms["datasets"][1]["coordinateTransformations"][0]["scale"][-1] == 2.0
    assert [c["color"] for c in meta["ome"]["omero"]["channels"]] == ["FF0000", "00FF00", "0000FF"]
    assert read_metadata(path) == {"complete": True, "model": "m"}
    conf_path = tmp_path / "r.confidence.ome.zarr"  # a separate NGFF image beside the result
    assert read_metadata(conf_path) == {"complete": True, "model": "m", "kind": "confidence"}
    assert [p.name for p in sorted(tmp_path.iterdir())] == ["r.confidence.ome.zarr", "r.ome.zarr"]
    c_axis = 1 if len(leading) == 2 else 0
    for index, plane in planes.items():
        got = np.moveaxis(np.asarray(rgb[...]), c_axis, -1)[index]
        np.testing.assert_array_equal(got, plane)
    level1 = zarr.open_group(path)["1"]
    assert level1.shape[-2:] == (550, 300)
    assert conf.shape == shape
    # coarse levels built at the end equal the downsampled whole planes
    from napari_colorize.io.pyramid import downsample

    for index, plane in planes.items():
        want = np.moveaxis(plane, -1, 0)
        for level in (1, 2):
            want = downsample(want)
            got = zarr.open_group(path)[str(level)]
            got = np.asarray(got[...])
            got = np.moveaxis(got, c_axis, 0)[(slice(None), *index)] if index else got
            np.testing.assert_array_equal(got, want)


def test_writers_by_suffix_and_refuse_existing(tmp_path):
    rgb = np.random.default_rng(3).integers(0, 255, (300, 200, 3), np.uint8)
    for name in ("a.tif", "a.ome.tif", "a.png", "a.ome.zarr"):
        write_rgb(tmp_path / name, rgb)
        with pytest.raises(ValueError, match="already exists"):
            write_rgb(tmp_path / name, rgb)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "a.tif"), rgb)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), rgb)
    with pytest.raises(ValueError, match=r"must end in one of"):
        write_rgb(tmp_path / "a.bmpx", rgb)
    with pytest.raises(ValueError, match="PNG holds one 2-D image"):
        write_rgb(tmp_path / "s.png", np.stack([rgb, rgb]))
    assert not (tmp_path / "s.png").exists()
    assert not (tmp_path / "s.png.part").exists()
    conf = np.random.default_rng(4).random((30, 20)).astype(np.float32)
    write_gray(tmp_path / "c.tif", conf)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "c.tif"), conf)


def test_ome_zarr_py_reads_our_pyramid(tmp_path):
    """Another NGFF reader sees the multiscale RGB image, its axes and channel names."""
    reader = pytest.importorskip("ome_zarr.reader")
    from ome_zarr.io import parse_url

    rgb = np.random.default_rng(0).integers(0, 255, (2, 1100, 600, 3), np.uint8)
    from napari_colorize.io.writers import write_rgb

    write_rgb(tmp_path / "r.ome.zarr", rgb)
    node = next(iter(reader.Reader(parse_url(tmp_path / "r.ome.zarr"))()))
    assert [tuple(level.shape) for level in node.data] == [(3, 2, 1100, 600), (3, 2, 550, 300),
                                                           (3, 2, 275, 150)]
    assert [a["name"] for a in node.metadata["axes"]] == ["c", "z", "y", "x"]
    assert node.metadata["channel_names"] == ["red", "green", "blue"]
    np.testing.assert_array_equal(np.moveaxis(np.asarray(node.data[0]), 0, -1), rgb)


def test_zarr_written_block_by_block_from_a_lazy_array(tmp_path, monkeypatch):
    import dask.array as da

    from napari_colorize.io import writers

    rgb = np.random.default_rng(0).integers(0, 256, (2, 600, 520, 3), dtype=np.uint8)
    write_rgb(tmp_path / "whole.ome.zarr", rgb)  # one block per plane
    monkeypatch.setattr(writers, "WRITE_BLOCK", 256)
    loads = []

    def load(block):
        loads.append(block.shape)
        return block

    lazy = da.from_array(rgb, chunks=(1, 100, 100, 3)).map_blocks(load, dtype=np.uint8)
    write_rgb(tmp_path / "blocks.ome.zarr", lazy)
    assert max(s[1] * s[2] for s in loads) <= 100 * 100  # never more than a chunk at once
    whole, blocks = (zarr.open_group(tmp_path / f"{n}.ome.zarr") for n in ("whole", "blocks"))
    np.testing.assert_array_equal(np.moveaxis(np.asarray(blocks["0"]), 0, -1), rgb)  # c first
    np.testing.assert_array_equal(np.asarray(blocks["1"]), np.asarray(whole["1"]))


def test_zarr_saved_onto_its_own_lazy_source(tmp_path):
    import dask.array as da

    rgb = np.random.default_rng(1).integers(0, 256, (80, 90, 3), dtype=np.uint8)
    path = tmp_path / "r.ome.zarr"
    write_rgb(path, rgb)
    lazy = da.moveaxis(da.from_zarr(zarr.open_group(path)["0"]), 0, -1)  # reads the target
    write_rgb(path, lazy, overwrite=True)
    group = zarr.open_group(path)
    np.testing.assert_array_equal(np.moveaxis(np.asarray(group["0"]), 0, -1), rgb)
    assert group.attrs["ome"]["multiscales"][0]["name"] == "r.ome.zarr"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.ome.zarr"]


def test_coarse_levels_are_built_block_by_block_as_from_whole_planes(tmp_path, monkeypatch):
    from napari_colorize.io import ngff_image
    from napari_colorize.io.pyramid import downsample

    sides = []

    def recording(data):
        sides.append(max(data.shape[-2:]))
        return downsample(data)

    monkeypatch.setattr(ngff_image, "downsample", recording)
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (2, 2101, 1501, 3), dtype=np.uint8)
    out = tmp_path / "p.ome.zarr"
    merger = OmeZarrMerger(out, rgb.shape[:-1], confidence=False, block_size=128)
    for index in np.ndindex(2):
        for y in range(0, 2101, 128):
            for x in range(0, 1501, 128):
                region = (slice(y, min(y + 128, 2101)), slice(x, min(x + 128, 1501)))
                merger.write(index, region, rgb[(*index, *region)], None)
    merger.finalize()
    assert max(sides) <= 2 * 128  # never a whole plane in memory
    root = zarr.open_group(out, mode="r")
    assert len(root) == 4
    assert merger.rgb.n_block_levels == 1  # levels 1-3 are built at the end
    for level in range(1, 4):
        np.testing.assert_array_equal(root[str(level)][...], downsample(root[str(level - 1)][...]))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.bool_])
def test_integer_downsample_is_the_rounded_float_mean(dtype):
    """The integer path gives the float path's bytes, ties rounded half to even."""
    from napari_colorize.io.pyramid import downsample

    rng = np.random.default_rng(3)
    top = 2 if dtype is np.bool_ else np.iinfo(dtype).max + 1
    plane = rng.integers(0, top, (3, 64, 96)).astype(dtype)
    plane[0, :2, :2] = [[0, 1], [0, 1]] if dtype is not np.bool_ else plane[0, :2, :2]  # 0.5
    plane[0, :2, 2:4] = [[1, 2], [1, 2]] if dtype is not np.bool_ else plane[0, :2, 2:4]  # 1.5
    if dtype is np.uint16:
        plane[1, :2, :2] = 65535  # the sum of four needs 18 bits
    floats = plane.astype(np.float32)
    mean = (floats[..., ::2, ::2] + floats[..., 1::2, ::2] + floats[..., ::2, 1::2]
            + floats[..., 1::2, 1::2]) / 4
    got = downsample(plane)
    assert got.dtype == plane.dtype
    np.testing.assert_array_equal(got, np.round(mean).astype(dtype))
    if dtype is np.uint8:
        assert got[0, 0, :2].tolist() == [0, 2]


@pytest.mark.parametrize(
    ("name", "kind", "beside"),
    [
        ("O.ZARR", "zarr", "O.confidence.ZARR"),
        ("O.OME.ZARR", "zarr", "O.confidence.OME.ZARR"),
        ("o.Ome.Zarr", "zarr", "o.confidence.Ome.Zarr"),
        ("O.OME.TIFF", "tiff", None),
        ("O.PNG", "png", None),
    ],
)
def test_output_suffixes_in_any_case(tmp_path, name, kind, beside):
    from napari_colorize.io.paths import check_output, confidence_path, output_kind

    assert output_kind(tmp_path / name) == kind
    assert check_output(tmp_path / name) == tmp_path / name
    if beside:
        assert confidence_path(tmp_path / name) == tmp_path / beside
    else:
        with pytest.raises(ValueError, match=r"is not a \.zarr path"):
            confidence_path(tmp_path / name)


def test_output_errors_name_the_option(tmp_path):
    from napari_colorize.io.paths import check_output, output_kind

    with pytest.raises(ValueError, match=r"^--confidence c.jpg must end in one of \.ome\.zarr"):
        output_kind("c.jpg", "--confidence")
    (tmp_path / "c.tif").write_bytes(b"keep")
    with pytest.raises(ValueError, match=r"^--confidence .*c\.tif already exists"):
        check_output(tmp_path / "c.tif", label="--confidence")
    with pytest.raises(ValueError, match=r"^output c\.jpg must end in"):
        output_kind("c.jpg")
