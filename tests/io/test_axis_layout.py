"""OME-Zarr and OME-TIFF results keep the input's time and z axes and leave out its gray channel.

bioformats2raw and ome-zarr-py write (t, c, z, y, x) even for one plane; a result must take it.
"""

import numpy as np
import pytest
import tifffile
import zarr

from napari_colorize import colorize
from napari_colorize.cli import main
from napari_colorize.io.axis_names import read_axes
from napari_colorize.io.ngff_layout import plan_layout


def ome_zarr_input(path, image, axes):
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_image

    group = zarr.open_group(path, mode="w", zarr_format=2)
    write_image(image, group, fmt=FormatV04(), axes=axes, scale_factors=())
    return path


def axes_of(path):
    ms = zarr.open_group(path, mode="r").attrs["ome"]["multiscales"][0]
    return "".join(a["name"] for a in ms["axes"])


def gray(shape, seed=0):
    return np.random.default_rng(seed).integers(40, 220, shape, dtype=np.uint8)


@pytest.mark.parametrize(
    ("shape", "axes", "out_shape", "out_axes"),
    [
        ((1, 1, 1, 64, 64), "tczyx", (1, 3, 1, 64, 64), "tczyx"),  # bioformats2raw, one plane
        ((2, 1, 3, 64, 64), "tczyx", (2, 3, 3, 64, 64), "tczyx"),
        ((1, 3, 64, 64), "czyx", (3, 3, 64, 64), "czyx"),  # c=1 is not time
        ((3, 64, 64), "tyx", (3, 3, 64, 64), "tcyx"),  # time stays time
        ((3, 64, 64), "zyx", (3, 3, 64, 64), "czyx"),
    ],
)
def test_ome_zarr_result_keeps_the_input_axes(tmp_path, shape, axes, out_shape, out_axes):
    image = gray(shape)
    src = ome_zarr_input(tmp_path / "in.ome.zarr", image, axes)
    assert read_axes(src, len(shape)).names[:-2] == tuple(axes[:-2])
    result = colorize(src, out=tmp_path / "out.ome.zarr", device="cpu")
    level0 = zarr.open_group(tmp_path / "out.ome.zarr", mode="r")["0"]
    assert level0.shape == out_shape
    assert axes_of(tmp_path / "out.ome.zarr") == out_axes
    assert result.rgb.shape == out_shape
    # each stored plane is that plane of the input, colorized on its own
    planes = image.reshape(-1, 64, 64)
    layout = plan_layout(shape[:-2], tuple(axes[:-2]))
    for number, index in enumerate(np.ndindex(*shape[:-2])):
        stored = np.asarray(level0[(*layout.select(index)[:layout.channel_position], slice(None),
                                    *layout.select(index)[layout.channel_position:])])
        alone = colorize(planes[number], device="cpu").rgb
        np.testing.assert_array_equal(np.moveaxis(stored, 0, -1), alone)


def test_ome_zarr_result_reads_back_with_ome_zarr_py(tmp_path):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    src = ome_zarr_input(tmp_path / "in.ome.zarr", gray((2, 1, 1, 64, 64)), "tczyx")
    colorize(src, out=tmp_path / "out.ome.zarr", device="cpu")
    node = next(iter(Reader(parse_url(tmp_path / "out.ome.zarr"))()))
    assert [a["name"] for a in node.metadata["axes"]] == ["t", "c", "z", "y", "x"]
    assert node.data[0].shape == (2, 3, 1, 64, 64)


def test_three_leading_axes_of_several_planes_are_refused_before_writing(tmp_path):
    image = gray((2, 2, 2, 64, 64))
    out = tmp_path / "out.ome.zarr"
    with pytest.raises(ValueError, match=r"out\.ome\.zarr: .*3 axes of more than one plane"):
        colorize(image, out=out, device="cpu")
    assert not out.exists()


def test_cli_writes_a_one_plane_tczyx_input_to_every_format(tmp_path, capsys):
    src = ome_zarr_input(tmp_path / "in.ome.zarr", gray((1, 1, 1, 64, 64)), "tczyx")
    for name in ("o.ome.zarr", "o.ome.tif", "o.tif"):
        assert main(["colorize", str(src), str(tmp_path / name), "--quiet"]) in (0, None)
    with tifffile.TiffFile(tmp_path / "o.ome.tif") as tif:
        assert tif.series[0].shape[-3:] == (64, 64, 3)
    assert zarr.open_group(tmp_path / "o.ome.zarr", mode="r")["0"].shape == (1, 3, 1, 64, 64)


def scaled_input(path, image, axes, scale, translation, unit="micrometer"):
    """An NGFF 0.4 image with a pixel size, an offset and units on its space axes."""
    group = zarr.open_group(path, mode="w", zarr_format=2)
    group.create_array("0", data=image)
    kinds = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}
    group.attrs["multiscales"] = [{
        "version": "0.4",
        "axes": [{"name": a, "type": kinds[a], **({"unit": unit} if kinds[a] == "space" else {})}
                 for a in axes],
        "datasets": [{"path": "0", "coordinateTransformations": [
            {"type": "scale", "scale": scale},
            {"type": "translation", "translation": translation}]}],
    }]
    return path


def test_ome_zarr_result_overlays_the_input(tmp_path):
    src = scaled_input(tmp_path / "in.ome.zarr", gray((3, 1, 64, 64)), "tcyx",
                       [2.0, 1.0, 0.5, 0.25], [0.0, 0.0, 10.0, 20.0])
    colorize(src, out=tmp_path / "out.ome.zarr", device="cpu")
    ms = zarr.open_group(tmp_path / "out.ome.zarr", mode="r").attrs["ome"]["multiscales"][0]
    assert [(a["name"], a.get("unit")) for a in ms["axes"]] == [
        ("t", None), ("c", None), ("y", "micrometer"), ("x", "micrometer")]
    scale, shift = ms["datasets"][0]["coordinateTransformations"]
    assert scale["scale"] == [2.0, 1.0, 0.5, 0.25]  # t, the RGB channels, y, x
    assert shift["translation"] == [0.0, 0.0, 10.0, 20.0]


def test_multiscale_wide_transforms_are_kept(tmp_path):
    src = scaled_input(tmp_path / "in.ome.zarr", gray((64, 64)), "yx", [1.0, 1.0], [0.0, 0.0])
    group = zarr.open_group(src, mode="r+")
    multiscales = group.attrs["multiscales"]  # NGFF: applied after each dataset's own
    multiscales[0]["coordinateTransformations"] = [
        {"type": "scale", "scale": [0.5, 0.5]}, {"type": "translation", "translation": [10, 20]}]
    group.attrs["multiscales"] = multiscales
    colorize(src, out=tmp_path / "out.ome.zarr", device="cpu")
    ms = zarr.open_group(tmp_path / "out.ome.zarr", mode="r").attrs["ome"]["multiscales"][0]
    scale, shift = ms["datasets"][0]["coordinateTransformations"]
    assert scale["scale"] == [1.0, 0.5, 0.5]
    assert shift["translation"] == [0.0, 10.0, 20.0]


def test_ome_tiff_result_keeps_time_and_pixel_size(tmp_path):
    from napari_colorize.io.writers import write_rgb

    src = scaled_input(tmp_path / "in.ome.zarr", gray((3, 1, 40, 30)), "tcyx",
                       [1.0, 1.0, 0.5, 0.25], [0.0, 0.0, 10.0, 20.0])
    write_rgb(tmp_path / "r.ome.tif", np.zeros((3, 1, 40, 30, 3), np.uint8), source=src)
    with tifffile.TiffFile(tmp_path / "r.ome.tif") as tif:
        assert tif.series[0].axes == "TYXS"
        assert tif.series[0].shape == (3, 40, 30, 3)
        assert 'PhysicalSizeX="0.25"' in tif.ome_metadata
        assert 'PhysicalSizeY="0.5"' in tif.ome_metadata
        assert tif.ome_metadata.count('PositionX="20.0"') == 3  # each plane's offset


def test_ome_tiff_pixel_size_carries_through_the_cli(tmp_path):
    src = tmp_path / "in.ome.tif"
    tifffile.imwrite(src, gray((64, 64)), metadata={
        "axes": "YX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5,
        "Plane": {"PositionX": [7.0], "PositionY": [3.0]}})
    assert main(["colorize", str(src), str(tmp_path / "o.ome.tif"), "--quiet"]) in (0, None)
    assert main(["colorize", str(src), str(tmp_path / "o.ome.zarr"), "--quiet"]) in (0, None)
    with tifffile.TiffFile(tmp_path / "o.ome.tif") as tif:
        assert 'PhysicalSizeX="0.5"' in tif.ome_metadata
    ms = zarr.open_group(tmp_path / "o.ome.zarr", mode="r").attrs["ome"]["multiscales"][0]
    scale, shift = ms["datasets"][0]["coordinateTransformations"]
    assert scale["scale"] == [1.0, 0.5, 0.5]
    assert shift["translation"] == [0.0, 3.0, 7.0]


def test_imagej_and_svs_calibration_carry_through(tmp_path):
    stack = tmp_path / "hyper.tif"
    tifffile.imwrite(stack, gray((3, 64, 64)), imagej=True, resolution=(2.0, 4.0),
                     metadata={"axes": "ZYX", "spacing": 2.5, "unit": "um"})
    assert main(["colorize", str(stack), str(tmp_path / "o.ome.zarr"), "--quiet"]) == 0
    ms = zarr.open_group(tmp_path / "o.ome.zarr", mode="r").attrs["ome"]["multiscales"][0]
    assert ms["datasets"][0]["coordinateTransformations"][0]["scale"] == [1.0, 2.5, 0.25, 0.5]
    assert [a.get("unit") for a in ms["axes"][1:]] == ["micrometer"] * 3
    svs = tmp_path / "slide.svs"
    tifffile.imwrite(svs, gray((64, 64)), description="Aperio Image Library v12.0.15\n"
                     "64x64 [0,0 64x64] (256x256) JPEG/RGB Q=70|AppMag = 20|MPP = 0.4990")
    assert read_axes(svs, 2).scale == (0.499, 0.499)
    no_unit = tmp_path / "plain.tif"  # pixels per inch from a scanner say nothing of size
    tifffile.imwrite(no_unit, gray((64, 64)), resolution=(300, 300))
    assert read_axes(no_unit, 2).scale == (1.0, 1.0)


def test_a_colour_ome_zarr_input_keeps_its_placement(tmp_path):
    rgb = np.stack([gray((64, 48)), gray((64, 48), seed=1), gray((64, 48), seed=2)])
    src = tmp_path / "placed.ome.zarr"
    root = zarr.open_group(src, mode="w", zarr_format=3)
    root.create_array("0", shape=rgb.shape, dtype="u1")[:] = rgb
    space = {"type": "space", "unit": "micrometer"}
    root.attrs["ome"] = {"version": "0.5", "multiscales": [{
        "axes": [{"name": "c", "type": "channel"}, {"name": "y", **space},
                 {"name": "x", **space}],
        "datasets": [{"path": "0", "coordinateTransformations": [
            {"type": "scale", "scale": [1.0, 0.5, 0.25]},
            {"type": "translation", "translation": [0.0, 10.0, 20.0]}]}]}]}
    out = tmp_path / "o.ome.zarr"
    colorize(src, from_rgb=True, out=out, domain_check=False)  # its colours read as lightness
    ms = zarr.open_group(out, mode="r").attrs["ome"]["multiscales"][0]
    scale, shift = ms["datasets"][0]["coordinateTransformations"]
    assert (scale["scale"], shift["translation"]) == ([1.0, 0.5, 0.25], [0.0, 10.0, 20.0])
    assert [a.get("unit") for a in ms["axes"][1:]] == ["micrometer", "micrometer"]


def test_a_malformed_input_placement_is_not_copied(tmp_path):
    src = scaled_input(tmp_path / "in.ome.zarr", gray((64, 64)), "yx", [0.0, -1.0], [0.0, 0.0])
    colorize(src, out=tmp_path / "out.ome.zarr", device="cpu")  # not refused: pixels are fine
    ms = zarr.open_group(tmp_path / "out.ome.zarr", mode="r").attrs["ome"]["multiscales"][0]
    assert ms["datasets"][0]["coordinateTransformations"][0]["scale"] == [1.0, 1.0, 1.0]


def test_ome_tiff_stage_position_units_are_converted(tmp_path):
    src = tmp_path / "in.ome.tif"
    tifffile.imwrite(src, gray((2, 64, 64)), metadata={
        "axes": "ZYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.25, "PhysicalSizeZ": 2.0,
        "PhysicalSizeXUnit": "µm", "PhysicalSizeZUnit": "nm",
        "Plane": {"PositionX": [1.5, 1.5], "PositionXUnit": ["mm", "mm"],
                  "PositionY": [2.0, 2.0], "PositionYUnit": ["µm", "µm"],
                  "PositionZ": [0.01, 0.012], "PositionZUnit": ["µm", "µm"]}})
    axes = read_axes(src, 3)
    assert axes.units == ("nanometer", "micrometer", "micrometer")
    assert axes.translation == (10.0, 2.0, 1500.0)  # z in nm, y and x in µm
    assert main(["colorize", str(src), str(tmp_path / "o.ome.zarr"), "--quiet"]) == 0
    ms = zarr.open_group(tmp_path / "o.ome.zarr", mode="r").attrs["ome"]["multiscales"][0]
    assert ms["datasets"][0]["coordinateTransformations"][1]["translation"] == [
        0.0, 10.0, 2.0, 1500.0]


def pyramid_input(path):
    """An NGFF 0.5 pyramid whose level 1 has its own scale and half-pixel translation."""
    image = gray((128, 160))
    root = zarr.open_group(path, mode="w", zarr_format=3)
    for k in range(2):
        level = image[:: 2**k, :: 2**k]
        root.create_array(str(k), shape=level.shape, chunks=(64, 64), dtype="u1")[:] = level
    space = {"type": "space", "unit": "micrometer"}
    root.attrs["ome"] = {"version": "0.5", "multiscales": [{
        "axes": [{"name": "y", **space}, {"name": "x", **space}],
        "datasets": [
            {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [0.5, 0.5]}]},
            {"path": "1", "coordinateTransformations": [
                {"type": "scale", "scale": [1.0, 1.0]},
                {"type": "translation", "translation": [0.25, 0.25]}]}]}]}
    return path


def test_one_pyramid_level_keeps_its_own_placement(tmp_path):
    src = pyramid_input(tmp_path / "pyr.ome.zarr")
    assert read_axes(src, 2).scale == (0.5, 0.5)
    level = read_axes(src / "1", 2)
    assert (level.scale, level.translation) == ((1.0, 1.0), (0.25, 0.25))
    colorize(src / "1", out=tmp_path / "out.ome.zarr", device="cpu", domain_check=False)
    ms = zarr.open_group(tmp_path / "out.ome.zarr", mode="r").attrs["ome"]["multiscales"][0]
    scale, shift = ms["datasets"][0]["coordinateTransformations"]
    assert (scale["scale"], shift["translation"]) == ([1.0, 1.0, 1.0], [0.0, 0.25, 0.25])
