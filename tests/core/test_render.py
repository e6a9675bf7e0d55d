"""Models that predict channel fractions: composite, channel maps, palettes, bad input."""

import numpy as np
import pytest
import tifffile
import torch
import zarr

from napari_colorize import colorize
from napari_colorize.core.render import parse_palette, render_composite
from napari_colorize.io.readers import read_metadata
from napari_colorize.models.spec import ColorModel, ModelSpec

NAMES = ("nuclei", "membranes", "background")
PALETTE = ((0.0, 1.0, 1.0), (1.0, 0.0, 1.0), (1.0, 1.0, 0.0))


class PointwiseFractions(torch.nn.Module):
    """Three fractions and a confidence as functions of each pixel's lightness."""

    def forward(self, lightness: torch.Tensor, confidence: bool = True) -> torch.Tensor:
        logits = torch.cat([lightness / 25, 2 - lightness / 50, torch.ones_like(lightness)], 1)
        fractions = logits.softmax(1)
        if not confidence:
            return fractions
        return torch.cat([fractions, lightness / 100], 1)


@pytest.fixture
def fractions_model() -> ColorModel:
    spec = ModelSpec("fractions", kind="fractions", channel_names=NAMES, palette=PALETTE)
    return ColorModel(PointwiseFractions(), spec)


def test_composite_is_the_additive_render_of_the_channels(fractions_model, gray_image):
    result = colorize(gray_image, fractions_model, tile_size=64, overlap=16,
                               channels=True, confidence=True)
    rgb, maps, conf = result.rgb, result.channels, result.confidence
    assert maps.shape == (3, *gray_image.shape)
    assert conf.shape == gray_image.shape
    np.testing.assert_allclose(maps.sum(0), gray_image / 255, atol=2e-3)  # I * sum(fractions)
    assert np.abs(render_composite(maps, PALETTE).astype(int) - rgb).max() <= 1


def test_palette_rerenders_without_the_model(fractions_model, gray_image):
    result = colorize(gray_image, fractions_model, tile_size=64, overlap=16, channels=True)
    _, maps = result.rgb, result.channels
    other = ["yellow", "#0000ff", (255, 0, 0)]
    direct = colorize(gray_image, fractions_model, tile_size=64, overlap=16, palette=other).rgb
    assert np.abs(render_composite(maps, other).astype(int) - direct).max() <= 1


def test_uint16_time_series_is_consistent_frame_to_frame(fractions_model, gray_image):
    frame = gray_image.astype(np.uint16) * 200
    rgb = colorize(np.stack([frame] * 3), fractions_model, tile_size=64, overlap=16).rgb
    np.testing.assert_array_equal(rgb[0], rgb[2])


def test_channels_written_beside_an_ome_zarr(fractions_model, gray_image, tmp_path):
    out = tmp_path / "f.ome.zarr"
    colorize(gray_image, fractions_model, tile_size=64, overlap=16, channels=True, out=out)
    group = zarr.open_group(tmp_path / "f.channels.ome.zarr", mode="r")
    assert group["0"].shape == (3, *gray_image.shape)
    labels = [c["label"] for c in group.attrs["ome"]["omero"]["channels"]]
    assert labels == list(NAMES)


def test_wrong_palette_length_names_both_numbers(fractions_model, gray_image):
    with pytest.raises(ValueError, match="palette has 2 colours but the model predicts 3"):
        colorize(gray_image, fractions_model, palette=["red", "green"])


def test_unknown_colour_name(fractions_model, gray_image):
    with pytest.raises(ValueError, match="unknown colour 'mauve'"):
        colorize(gray_image, fractions_model, palette=["red", "green", "mauve"])


def test_channels_need_a_channel_model(pointwise_model, gray_image):
    with pytest.raises(ValueError, match="channels=True needs a model that predicts channels"):
        colorize(gray_image, pointwise_model, channels=True)


def test_multichannel_file_suggests_one_channel_or_the_sum(fractions_model, tmp_path):
    path = tmp_path / "two.ome.tif"
    tifffile.imwrite(path, np.zeros((2, 64, 64), np.uint16), metadata={"axes": "CYX"})
    with pytest.raises(ValueError, match=r"has 2 channels \(axis 0 of CYX\).*sum\(axis=0\)"):
        colorize(path, fractions_model)
    planar = tmp_path / "planar_rgb.tif"  # RGB stored as three planes, not three gray images
    tifffile.imwrite(planar, np.zeros((3, 64, 64), np.uint8), photometric="rgb",
                     planarconfig="separate")
    with pytest.raises(ValueError, match=r"has 3 channels \(axis 0 of "):
        colorize(planar, fractions_model)


def test_multichannel_ome_zarr_0_4_is_refused(fractions_model, tmp_path):
    import zarr

    group = zarr.open_group(tmp_path / "v04.ome.zarr", mode="w", zarr_format=2)
    group.create_array("0", shape=(2, 64, 64), dtype="uint8")
    group.attrs["multiscales"] = [{
        "version": "0.4", "datasets": [{"path": "0"}],
        "axes": [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"},
                 {"name": "x", "type": "space"}],
    }]
    with pytest.raises(ValueError, match=r"has 2 channels \(axis 0 of CYX\)"):
        colorize(tmp_path / "v04.ome.zarr", fractions_model)


def test_parse_palette_scales_0_255():
    np.testing.assert_allclose(parse_palette([(255, 0, 0), "cyan"], ("a", "b")),
                               [[1, 0, 0], [0, 1, 1]])


@pytest.mark.parametrize(("first", "then"), [(False, True), (True, False)],
                         ids=["channels added", "channels dropped"])
def test_resume_refuses_other_channel_maps(gray_image, fractions_model, tmp_path, monkeypatch,
                                           first, then):
    from napari_colorize.io import ngff

    out, settings = tmp_path / "out.ome.zarr", {"tile_size": 64, "overlap": 16, "block_size": 96}
    original, calls = ngff.NgffImage.write, []

    def write(self, *args, **kw):  # interrupted after three block writes
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return original(self, *args, **kw)

    monkeypatch.setattr(ngff.NgffImage, "write", write)
    with pytest.raises(KeyboardInterrupt):
        colorize(gray_image, fractions_model, out=out, channels=first, **settings)
    monkeypatch.undo()
    if first:  # the side store's blocks are counted in the RGB store, not claimed as 0
        from napari_colorize.io.readers import incomplete_message

        side = incomplete_message(tmp_path / "out.channels.ome.zarr")
        assert side is not None
        assert "blocks written" not in side
        assert "blocks written" in incomplete_message(out)
    # added: the finished blocks would stay empty in a map marked complete; dropped: the
    # half-written map would be left behind
    with pytest.raises(ValueError, match=f"other settings.channels \\({str(first).lower()}, "
                                         f"now {str(then).lower()}\\)"):
        colorize(gray_image, fractions_model, out=out, resume=True, channels=then, **settings)
    colorize(gray_image, fractions_model, out=out, resume=True, channels=first, **settings)
    assert read_metadata(out)["complete"] is True
