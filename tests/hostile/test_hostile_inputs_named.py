"""Refused inputs name their file; one sample per pixel is gray; a full disk says what is kept."""

from __future__ import annotations

import errno

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
import zarr

from napari_colorize import colorize
from napari_colorize.cli import main
from napari_colorize.models.registry import save_model


@pytest.fixture
def model_path(tmp_path, tiny_model) -> str:
    return str(save_model(tiny_model.net, {"name": "tiny"}, tmp_path / "tiny.safetensors"))


def one_error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("mask.tif", np.zeros((64, 64), bool), "image is boolean"),
        ("mask.png", np.zeros((64, 64), bool), "image is boolean"),
        ("wave.tif", np.zeros((64, 64), np.complex64), "image is complex"),
        ("pair.tif", np.zeros((64, 64, 2), np.uint8), "looks gray+alpha"),
    ],
)
def test_refused_files_are_named(tmp_path, model_path, capsys, name, data, message):
    src = tmp_path / name
    if name.endswith(".png"):
        from PIL import Image

        Image.fromarray(data).save(src)  # a 1-bit PNG
    else:
        tifffile.imwrite(src, data)
    assert main(["colorize", str(src), str(tmp_path / "o.tif"), "--model", model_path]) == 2
    line = one_error_line(capsys)
    assert str(src) in line
    assert message in line
    assert not (tmp_path / "o.tif").exists()


def test_one_sample_per_pixel_is_gray(tmp_path, model_path):
    gray = np.random.default_rng(0).integers(30, 220, (96, 80), np.uint8)
    plain = colorize(gray, model_path, device="cpu").rgb
    np.testing.assert_array_equal(colorize(gray[..., None], model_path, device="cpu").rgb, plain)
    store = zarr.open_array(tmp_path / "hw1.zarr", mode="w", shape=(96, 80, 1), dtype="uint8",
                            chunks=(32, 32, 1))
    store[...] = gray[..., None]
    assert main(["colorize", str(tmp_path / "hw1.zarr"), str(tmp_path / "o.png"),
                 "--model", model_path, "--quiet"]) == 0
    np.testing.assert_array_equal(iio.imread(tmp_path / "o.png"), plain)


@pytest.mark.parametrize(("suffix", "kept"), [(".tif", "nothing written"),
                                              (".ome.zarr", "continue with --resume")])
def test_full_disk_names_the_output_and_what_is_kept(tmp_path, model_path, capsys, monkeypatch,
                                                     suffix, kept):
    from napari_colorize.io import ngff_image, writers

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    src = tmp_path / "in.tif"
    tifffile.imwrite(src, np.full((64, 64), 120, np.uint8))
    monkeypatch.setattr(writers, "write_ome_tiff", full)
    monkeypatch.setattr(ngff_image.NgffImage, "write", full)
    monkeypatch.setattr("tifffile.imwrite", full)
    out = tmp_path / f"o{suffix}"
    assert main(["colorize", str(src), str(out), "--model", model_path, "--quiet"]) == 1
    line = one_error_line(capsys)
    assert f"cannot write {out}" in line
    assert kept in line
    assert not (tmp_path / "o.tif").exists()


def test_colour_images_read_from_palette_tiffs_and_stacks_are_named(tmp_path):
    from napari_colorize.io.colour_files import read_rgb

    index = np.arange(64 * 64, dtype=np.uint8).reshape(64, 64) % 2
    table = np.zeros((3, 256), np.uint16)
    table[:, 1] = (65535, 32896, 0)  # index 1 is orange
    tifffile.imwrite(tmp_path / "pal.tif", index, photometric="palette", colormap=table)
    rgb = read_rgb(tmp_path / "pal.tif")  # a reference or a truth image: its colours
    assert rgb.shape == (64, 64, 3)
    assert rgb[0, 1].tolist() == [255, 128, 0]
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((3, 32, 32, 3), np.uint8),
                     photometric="rgb")
    with pytest.raises(ValueError, match=r"stack\.tif is a stack of 3 colour images"):
        read_rgb(tmp_path / "stack.tif")
