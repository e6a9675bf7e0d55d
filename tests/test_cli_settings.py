"""The colorize command's settings: built from ColorizeConfig, equal to the API's."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import zarr

from napari_colorize import ColorizeConfig, colorize
from napari_colorize.cli import main
from napari_colorize.io.paths import confidence_path
from napari_colorize.io.readers import read_image
from napari_colorize.models.registry import save_model


@pytest.fixture
def model_path(tmp_path, tiny_model):
    return str(save_model(tiny_model.net, {"name": "tiny"}, tmp_path / "tiny.safetensors"))


@pytest.fixture
def gray_png(tmp_path, gray_image):
    path = tmp_path / "gray.png"
    iio.imwrite(path, gray_image)
    return path


def run(gray_png, out, *options):
    return main(["colorize", str(gray_png), str(out), "--quiet", *options])


def read_rgb(path):
    got = np.asarray(read_image(path)[...])
    return np.moveaxis(got, 0, -1) if str(path).endswith(".zarr") else got


@pytest.mark.parametrize(
    ("options", "settings"),
    [
        (["--tile-size", "128", "--overlap", "16"], {"tile_size": 128, "overlap": 16}),
        (["--tile", "128", "--overlap", "0"], {"tile_size": 128, "overlap": 0}),
        (["--tile", "128", "--overlap", "32", "--block-size", "160"],
         {"tile_size": 128, "overlap": 32, "block_size": 160}),
        (["--tile", "128", "--overlap", "32", "--batch", "auto"],
         {"tile_size": 128, "overlap": 32, "batch_size": "auto"}),
        (["--tile", "128", "--overlap", "32", "--batch-size", "3", "--blending", "constant"],
         {"tile_size": 128, "overlap": 32, "batch_size": 3, "blending": "constant"}),
        (["--tile", "128", "--overlap", "32", "--precision", "fp32"],
         {"tile_size": 128, "overlap": 32, "precision": "fp32"}),
    ],
)
def test_options_give_the_api_result(tmp_path, gray_png, gray_image, model_path, options,
                                     settings):
    out = tmp_path / "out.tif"
    assert run(gray_png, out, "--model", model_path, *options) == 0
    ref = colorize(gray_image, model_path, **settings).rgb
    np.testing.assert_array_equal(read_rgb(out), ref)


def test_bf16_precision_runs_close_to_fp32(tmp_path, gray_png, model_path):
    fp32, bf16 = tmp_path / "a.tif", tmp_path / "b.tif"
    assert run(gray_png, fp32, "--model", model_path, "--tile", "128", "--overlap", "32") == 0
    assert run(gray_png, bf16, "--model", model_path, "--tile", "128", "--overlap", "32",
               "--precision", "bf16") == 0
    diff = np.abs(read_rgb(fp32).astype(int) - read_rgb(bf16))
    assert diff.mean() < 1.0


def test_channels_and_palette_of_a_channel_model(tmp_path, gray_png, gray_image):
    out = tmp_path / "out.ome.zarr"
    assert run(gray_png, out, "--model", "fluorescence-composite", "--channels",
               "--palette", "cyan,magenta,#808080", "--tile", "128", "--overlap", "32") == 0
    ref = colorize(gray_image, "fluorescence-composite", channels=True,
                   palette=["cyan", "magenta", "#808080"], tile_size=128, overlap=32)
    np.testing.assert_array_equal(read_rgb(out), ref.rgb)
    maps = zarr.open_group(confidence_path(out, "channels"), mode="r")["0"]
    np.testing.assert_allclose(np.asarray(maps[...]), ref.channels, atol=1e-6)
    default = tmp_path / "default.tif"
    assert run(gray_png, default, "--model", "fluorescence-composite", "--tile", "128",
               "--overlap", "32") == 0
    assert not np.array_equal(read_rgb(default), ref.rgb)  # the palette changed the colours


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--channels"], "--channels writes the channel maps beside an .ome.zarr OUT"),
        (["--palette", "red,green"], "palette needs a model that predicts channels"),
        (["--block-size", "8"], "block_size must be an integer from 16 to 16384"),
        (["--model", "fluorescence-composite", "--palette", "red,nocolour,blue"], "nocolour"),
    ],
)
def test_bad_settings_exit_2_with_one_line(tmp_path, gray_png, capsys, options, message):
    out = tmp_path / "out.tif"
    assert run(gray_png, out, *options) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize("option", [["--precision", "half"], ["--batch", "many"]])
def test_malformed_option_values_exit_2(tmp_path, gray_png, capsys, option):
    with pytest.raises(SystemExit) as info:
        run(gray_png, tmp_path / "out.tif", *option)
    assert info.value.code == 2
    assert option[1] in capsys.readouterr().err


def test_help_shows_the_config_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["colorize", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    defaults = ColorizeConfig()
    assert f"(default {defaults.tile_size})" in text
    for flag in ("--channels", "--palette", "--block-size", "--batch-size", "--precision"):
        assert flag in text
