"""zarr v2/v3 arrays, OME-Zarr 0.4 and 0.5 (written by ome-zarr-py), and dask arrays."""

import dask.array as da
import numpy as np
import pytest
import zarr
from format_helpers import SETTINGS, fingerprint, gray, roundtrip
from ome_zarr.format import FormatV04, FormatV05
from ome_zarr.writer import write_image, write_multiscale

from napari_colorize import colorize
from napari_colorize.cli import main


@pytest.mark.parametrize(
    ("zarr_format", "separator", "dtype"),
    [(2, ".", "uint8"), (2, "/", "uint16"), (3, "/", "float32"), (3, ".", "int16")],
)
def test_zarr_arrays(tmp_path, model, model_file, zarr_format, separator, dtype):
    img = gray((300, 200), dtype)
    encoding = {"name": "v2" if zarr_format == 2 else "default", "separator": separator}
    path = tmp_path / "in.zarr"
    z = zarr.create_array(path, shape=img.shape, chunks=(64, 50), dtype=img.dtype,
                          zarr_format=zarr_format, chunk_key_encoding=encoding)
    z[...] = img
    roundtrip(tmp_path, path, img, model, model_file, (".ome.zarr",))


def test_sharded_zarr_stack(tmp_path, model, model_file):
    img = gray((3, 150, 110), "uint16")
    path = tmp_path / "in.zarr"
    z = zarr.create_array(path, shape=img.shape, chunks=(1, 32, 32), shards=(1, 64, 64),
                          dtype=img.dtype)
    z[...] = img
    roundtrip(tmp_path, path, img, model, model_file, (".ome.zarr", ".tif"))


@pytest.mark.parametrize(("version", "levels"), [("0.4", 1), ("0.4", 3), ("0.5", 1), ("0.5", 2)])
def test_ome_zarr(tmp_path, model, model_file, version, levels):
    img = gray((300, 200), "uint16")
    path = tmp_path / "in.ome.zarr"
    group = zarr.open_group(path, mode="w", zarr_format=2 if version == "0.4" else 3)
    fmt = FormatV04() if version == "0.4" else FormatV05()
    pyramid = [img[:: 2**i, :: 2**i] for i in range(levels)]
    write_multiscale(pyramid, group, fmt=fmt, axes="yx")
    ome = dict(group.attrs).get("ome", dict(group.attrs))
    assert len(ome["multiscales"][0]["datasets"]) == levels
    roundtrip(tmp_path, path, img, model, model_file, (".ome.zarr", ".png"))


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_bioformats2raw_root_reads_its_first_image(tmp_path, model, model_file, version):
    img = gray((2, 130, 140))
    path = tmp_path / "b2r.ome.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=2 if version == "0.4" else 3)
    if version == "0.4":
        root.attrs["bioformats2raw.layout"] = 3
    else:
        root.attrs["ome"] = {"version": "0.5", "bioformats2raw.layout": 3}
    fmt = FormatV04() if version == "0.4" else FormatV05()
    transforms = [[{"type": "scale", "scale": [1.0, 1.0, 2.0, 0.3, 0.3]}]]
    write_multiscale([img[None, None]], root.create_group("0"), fmt=fmt, axes="tczyx",
                     coordinate_transformations=transforms)
    root.create_group("OME").attrs["series"] = ["0"]
    np.testing.assert_array_equal(colorize(path, model, **SETTINGS).rgb,
                                  colorize(img[None, None], model, **SETTINGS).rgb)
    out = tmp_path / "out.ome.zarr"
    assert main(["colorize", str(path), str(out), "--model", model_file, "--quiet"]) == 0
    back = zarr.open_group(out, mode="r")
    scale = back.attrs["ome"]["multiscales"][0]["datasets"][0]["coordinateTransformations"]
    assert scale[0]["scale"][-3:] == [2.0, 0.3, 0.3]  # the image's own calibration


def test_bioformats2raw_root_with_two_channels_is_refused(tmp_path, model):
    path = tmp_path / "two.ome.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=2)
    root.attrs["bioformats2raw.layout"] = 3
    two = np.stack([gray((64, 48)), gray((64, 48), seed=1)])[None, :, None]  # t, c, z, y, x
    write_multiscale([two], root.create_group("0"), fmt=FormatV04(), axes="tczyx")
    with pytest.raises(ValueError, match=r"has 2 channels"):  # as the image "0" itself is
        colorize(path, model, **SETTINGS)


def test_bioformats2raw_root_of_a_colour_image(tmp_path, model):
    from napari_colorize.io.colour_files import read_rgb

    rgb = np.stack([gray((96, 80)), gray((96, 80), seed=1), gray((96, 80), seed=2)])  # c, y, x
    path = tmp_path / "colour.ome.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=2)
    root.attrs["bioformats2raw.layout"] = 3
    write_multiscale([rgb], root.create_group("0"), fmt=FormatV04(), axes="cyx")
    np.testing.assert_array_equal(read_rgb(path), np.moveaxis(rgb, 0, -1))
    np.testing.assert_array_equal(colorize(path, model, from_rgb=True, **SETTINGS).rgb,
                                  colorize(np.moveaxis(rgb, 0, -1), model, from_rgb=True,
                                           **SETTINGS).rgb)


def test_ome_zarr_stack_written_by_write_image(tmp_path, model, model_file):
    img = gray((2, 130, 140))
    path = tmp_path / "in.ome.zarr"
    write_image(img, zarr.open_group(path, mode="w"), fmt=FormatV05(), axes="zyx",
                scale_factors=(2,))
    roundtrip(tmp_path, path, img, model, model_file, (".ome.zarr",))


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_dask_arrays_with_odd_chunks(model, dtype):
    img = gray((2, 301, 203), dtype)
    lazy = da.from_array(img, chunks=(1, 77, 61))
    np.testing.assert_array_equal(colorize(lazy, model, **SETTINGS),
                                  colorize(img, model, **SETTINGS))


def test_dask_array_into_ome_zarr(tmp_path, model):
    img = gray((301, 203))
    lazy = da.from_array(img, chunks=(77, 61))
    out = tmp_path / "o.ome.zarr"
    result = colorize(lazy, model, out=out, **SETTINGS).rgb
    want = colorize(img, model, **SETTINGS).rgb
    np.testing.assert_array_equal(np.moveaxis(np.asarray(result[...]), 0, -1), want)


def test_input_store_untouched_by_a_run(tmp_path, model):
    img = gray((300, 200))
    path = tmp_path / "in.zarr"
    zarr.create_array(path, shape=img.shape, chunks=(100, 100), dtype=img.dtype)[...] = img
    before = fingerprint(path)
    colorize(path, model, out=tmp_path / "o.ome.zarr", **SETTINGS)
    assert fingerprint(path) == before


def test_ngff_03_string_axes(tmp_path, model, model_file):
    img = gray((2, 150, 120))
    path = tmp_path / "in.ome.zarr"
    group = zarr.open_group(path, mode="w", zarr_format=2)
    group.create_array("0", shape=img.shape, chunks=(1, 64, 64), dtype=img.dtype)[...] = img
    group.attrs["multiscales"] = [{"version": "0.3", "axes": ["z", "y", "x"],
                                   "datasets": [{"path": "0"}]}]
    roundtrip(tmp_path, path, img, model, model_file, (".ome.zarr",))
