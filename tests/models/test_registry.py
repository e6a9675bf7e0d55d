import json

import numpy as np
import pytest
import torch

from napari_colorize import list_models, load_model
from napari_colorize.models.registry import resolve_device, save_model


def test_save_load_round_trip(tmp_path, tiny_model):
    card = save_model(tiny_model.net, {"name": "mine"}, tmp_path / "mine.safetensors")
    loaded = load_model(card)
    x = torch.rand(1, 1, 64, 64) * 100
    torch.testing.assert_close(loaded(x), tiny_model(x))
    assert loaded.spec.name == "mine"
    assert load_model(tmp_path / "mine.safetensors").spec.name == "mine"


def test_tampered_weights_are_refused(tmp_path, tiny_model):
    card = save_model(tiny_model.net, {"name": "mine"}, tmp_path / "mine.safetensors")
    weights = tmp_path / "mine.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    expected = json.loads(card.read_text())["sha256"]
    with pytest.raises(ValueError, match=f"mine.safetensors has sha256 .*expected {expected}"):
        load_model(card)


def test_pickle_file_is_never_loaded(tmp_path, tiny_model):
    weights = tmp_path / "evil.safetensors"
    torch.save(tiny_model.net.state_dict(), weights)  # a pickle, not safetensors
    from napari_colorize.models.registry import sha256_file

    card = {"name": "evil", "weights": weights.name, "sha256": sha256_file(weights),
            "architecture": {"class": "ChromaNet", "widths": [8, 8, 8, 8]}}
    (tmp_path / "evil.json").write_text(json.dumps(card))
    expected = f"does not fit its card \\(expected sha256 {card['sha256']}"
    with pytest.raises(ValueError, match=expected) as info:
        load_model(tmp_path / "evil.json")
    assert "\n" not in str(info.value)


def test_weights_of_another_architecture_are_refused_in_one_line(tmp_path, tiny_model):
    card = save_model(tiny_model.net, {"name": "w"}, tmp_path / "w.safetensors")
    meta = json.loads(card.read_text())
    meta["architecture"]["widths"] = [16, 16, 16, 16]
    card.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"w\.safetensors does not fit its card") as info:
        load_model(card)
    assert "\n" not in str(info.value)


def test_user_models_are_listed(tmp_path, monkeypatch, tiny_model):
    monkeypatch.setenv("NAPARI_COLORIZE_MODELS", str(tmp_path))
    save_model(tiny_model.net, {"name": "lab-a"}, tmp_path / "lab-a.safetensors")
    assert "lab-a" in list_models()
    assert load_model("lab-a").spec.name == "lab-a"


def test_device_checks(monkeypatch):
    # "auto" is the best device available: CUDA when there is one, else the CPU (without MPS)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")
    monkeypatch.undo()
    with pytest.raises(ValueError, match="not available"):
        resolve_device("cuda:7" if torch.cuda.is_available() else "cuda")
    with pytest.raises(ValueError, match="'gpu' is not a device name; available"):
        resolve_device("gpu")


def test_network_output_contract(tiny_model):
    x = torch.rand(2, 1, 64, 96) * 100
    out = tiny_model(x)
    assert out.shape == (2, 3, 64, 96)
    assert float(out[:, 2].min()) >= 0
    assert float(out[:, 2].max()) <= 1
    assert float(out[:, 2].std()) > 0  # confidence varies with the input
    lut = tiny_model.net.lut
    lut.copy_(torch.arange(101.0).expand(2, 101))  # prior a = b = L: output follows it
    shifted = tiny_model(x)
    torch.testing.assert_close(shifted[:, :2] - out[:, :2], tiny_model.net.prior(x))


@pytest.mark.slow
def test_bundled_model_card_is_complete():
    model = load_model("he-histology")
    card = model.card
    for key in ("name", "version", "data", "recipe", "sha256", "metrics", "intended_use",
                "limitations"):
        assert key in card, key
    assert "napari-colorize train --recipe he-histology" in card["recipe"]["command"]
    assert any("IHC" in text for text in card["limitations"])
    assert np.isfinite(model.net.lut.numpy()).all()


def test_saved_models_are_readable_by_others(tmp_path):
    import os

    from napari_colorize.models.network import ChromaNet

    umask = os.umask(0o022)
    try:
        card = save_model(ChromaNet((8, 8, 8, 8)), {"name": "shared"}, tmp_path)
    finally:
        os.umask(umask)
    for path in (card, card.with_suffix(".safetensors")):  # safetensors itself writes 0o600
        assert os.stat(path).st_mode & 0o777 == 0o644, path
