"""``napari-colorize export`` end to end: the package it writes colorizes like the model."""

import imageio.v3 as iio
import numpy as np
import pytest

from napari_colorize.cli import main
from napari_colorize.models.registry import save_model


@pytest.fixture
def model_path(tmp_path, tiny_model):
    return str(save_model(tiny_model.net, {"name": "tiny"}, tmp_path / "tiny.safetensors"))


def test_export_then_colorize_with_the_package(tmp_path, model_path, gray_image, capsys):
    package = tmp_path / "tiny.zip"
    assert main(["export", model_path, str(package)]) == 0
    assert f"wrote {package}" in capsys.readouterr().err
    iio.imwrite(tmp_path / "gray.png", gray_image)
    outputs = []
    for model in (model_path, str(package)):
        out = tmp_path / f"out-{len(outputs)}.png"
        assert main(["colorize", str(tmp_path / "gray.png"), str(out), "--model", model,
                     "--quiet"]) == 0
        outputs.append(iio.imread(out))
    assert np.array_equal(*outputs)


@pytest.mark.parametrize(("args", "message"), [
    (["--halo", "0"], "halo 0 must be an int from 1 to 256 pixels"),
    (["--example", "missing.png"], "cannot read missing.png"),
])
def test_export_bad_options_exit_2_with_one_line(tmp_path, model_path, capsys, monkeypatch,
                                                 args, message):
    monkeypatch.chdir(tmp_path)
    assert main(["export", model_path, "out.zip", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "out.zip").exists()
