"""A model is a pair X.safetensors + X.json: copies work, broken pairs are not listed."""

import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from napari_colorize import list_models, load_model
from napari_colorize.cli import main
from napari_colorize.export import package
from napari_colorize.models.network import ChromaNet
from napari_colorize.models.registry import save_model


def _save(folder: Path, name: str, seed: int) -> Path:
    torch.manual_seed(seed)
    return save_model(ChromaNet((8, 8, 8, 8)), {"name": name}, folder / f"{name}.safetensors")


def _copy_pair(folder: Path, source: str, target: str) -> None:
    for suffix in (".safetensors", ".json"):
        shutil.copyfile(folder / f"{source}{suffix}", folder / f"{target}{suffix}")


def _state(model):
    return {k: v.clone() for k, v in model.net.state_dict().items()}


def test_a_copied_pair_loads_its_own_weights(tmp_path):
    _save(tmp_path, "lab", seed=0)
    first = _state(load_model(tmp_path / "lab.json"))
    _copy_pair(tmp_path, "lab", "lab_v1")
    _save(tmp_path, "lab", seed=1)  # the original is overwritten by a new model
    for named in ("lab_v1.safetensors", "lab_v1.json"):
        state = _state(load_model(tmp_path / named))
        assert all(torch.equal(state[k], first[k]) for k in first)


def test_errors_name_the_weights_file_used(tmp_path):
    _save(tmp_path, "lab", seed=0)
    _copy_pair(tmp_path, "lab", "lab_v1")
    _save(tmp_path, "other", seed=1)
    shutil.copyfile(tmp_path / "other.safetensors", tmp_path / "lab_v1.safetensors")
    with pytest.raises(ValueError, match=r"weights file \S*lab_v1\.safetensors has sha256"):
        load_model(tmp_path / "lab_v1.safetensors")
    (tmp_path / "lab_v1.safetensors").unlink()
    with pytest.raises(ValueError, match=r"weights file \S*lab_v1\.safetensors not found"):
        load_model(tmp_path / "lab_v1.safetensors")


def test_pairs_that_cannot_load_are_not_listed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NAPARI_COLORIZE_MODELS", str(tmp_path))
    _save(tmp_path, "good", seed=0)
    (tmp_path / "not-json.json").write_text("{not json")
    _save(tmp_path, "no-weights", seed=0)
    (tmp_path / "no-weights.safetensors").unlink()
    with pytest.warns(UserWarning, match="left out of the list") as record:
        names = list_models()
    assert "good" in names
    assert "not-json" not in names
    assert "no-weights" not in names
    messages = " ".join(str(w.message) for w in record)
    assert "'not-json' left out of the list: cannot read model card" in messages
    assert "no-weights.safetensors not found" in messages
    assert main(["models"]) == 0
    captured = capsys.readouterr()
    assert "good" in captured.out.split()
    assert "not-json" not in captured.out
    assert "napari-colorize: warning: model 'not-json' left out" in captured.err


def test_export_to_an_unwritable_folder_is_refused_before_the_work(monkeypatch, capsys):
    if not Path("/proc/self").is_dir():
        pytest.skip("needs /proc, which not even root may write in")

    def refuse(*args, **kwargs):
        raise AssertionError("export started")

    monkeypatch.setattr(package, "resolve_model", refuse)
    assert main(["export", "he-histology", "/proc/he.zip"]) == 2
    assert capsys.readouterr().err == "napari-colorize: error: output folder /proc is not " \
                                      "writable\n"


def test_export_names_an_example_too_small(tmp_path, capsys):
    small = tmp_path / "g20.png"
    iio.imwrite(small, np.full((20, 20), 128, np.uint8))
    out = tmp_path / "he.zip"
    assert main(["export", "he-histology", str(out), "--example", str(small)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"example image {small} is 20x20" in err
    assert not out.exists()



def test_a_missing_model_file_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"^weights file \S*nothing\.safetensors not found$"):
        load_model(tmp_path / "nothing.safetensors")  # not its card, which is missing too
