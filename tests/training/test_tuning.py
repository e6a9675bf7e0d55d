import io
import json
import re
import sys
import time

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from napari_colorize import list_models, load_model, train
from napari_colorize.cli import main
from napari_colorize.core.color import rgb_uint8_to_lab
from napari_colorize.core.events import drain
from napari_colorize.models.registry import save_model
from napari_colorize.training.calibration import calibrate
from napari_colorize.training.holdout import holdout_boxes
from napari_colorize.training.loop import loss_terms
from napari_colorize.training.lut import blend_lut, fit_lut, lut_statistics
from napari_colorize.training.masked_patches import MaskedPatchSampler
from napari_colorize.training.patches import Augment, tissue_mask
from napari_colorize.training.tuning import TuneConfig, base_loss, iter_tune

FAST = {"patch": 64, "batch_size": 2}


@pytest.fixture
def two_stains() -> np.ndarray:
    """Left: brown (DAB-like) blobs on pale blue; right: blue blobs on pale pink. Same gray."""
    rng = np.random.default_rng(2)
    img = np.empty((256, 320, 3), np.float64)
    img[:, :160] = (200, 210, 225)
    img[:, 160:] = (235, 200, 210)
    yy, xx = np.mgrid[0:256, 0:320]
    for _ in range(30):
        cy, cx, r = rng.integers(0, 256), rng.integers(0, 320), rng.integers(6, 14)
        blob = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        img[blob & (xx < 160)] = (140, 90, 50)
        img[blob & (xx >= 160)] = (70, 80, 150)
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _weights(model):
    return {k: v.detach().clone() for k, v in model.net.state_dict().items()}


def test_calibration_moves_prior_towards_references(colour_image, tiny_model):
    net = tiny_model.net
    net.lut.fill_(10.0)  # a base prior far from the references' colours
    reference = fit_lut([colour_image])
    _sums, counts = lut_statistics([colour_image], [np.ones(colour_image.shape[:2], bool)])
    filled = counts > 100
    before = float((net.lut - reference)[:, filled].abs().mean())
    stats = calibrate(net, [colour_image], [np.ones(colour_image.shape[:2], bool)])
    after = float((net.lut - reference)[:, filled].abs().mean())
    assert before > 10
    assert after < 1.0
    assert stats["tissue_pixels"] == int(counts.sum())
    assert stats["windows"] >= 1
    # bins the references never fill keep the base prior
    empty = torch.nonzero(counts == 0).squeeze(1)
    far = [int(i) for i in empty if counts[max(0, i - 2) : i + 3].sum() == 0]
    assert far
    assert torch.allclose(net.lut[:, far], torch.full((2, len(far)), 10.0))


def test_thin_bins_blend_with_the_base_prior():
    sums = torch.zeros(2, 101, dtype=torch.float64)
    counts = torch.zeros(101, dtype=torch.float64)
    counts[40:61] = 1000.0
    counts[70:75] = 5.0
    sums[:, 40:61] = 20.0 * 1000
    sums[:, 70:75] = 20.0 * 5
    base = torch.full((2, 101), -20.0)
    lut = blend_lut(sums, counts, base, prior_count=5.0)
    expected = (1000 * 20.0 - 5 * 20.0) / 1005  # n / (n + k) of the references, k / (n + k) base
    assert torch.allclose(lut[:, 50], torch.tensor([expected, expected]))  # well filled
    assert torch.allclose(lut[:, 72], torch.tensor([0.0, 0.0]), atol=0.1)  # 5 px vs 5: halfway
    assert torch.allclose(lut[:, 5], torch.tensor([-20.0, -20.0]))  # empty: base


def test_head_refit_lowers_the_fit_error(two_stains, tiny_model):
    masks = [np.ones(two_stains.shape[:2], bool)]
    net = tiny_model.net
    torch.nn.init.zeros_(net.head.weight)
    torch.nn.init.zeros_(net.head.bias)
    calibrate(net, [two_stains], masks, head=False)
    lut_only = calibrate(net, [two_stains], masks, ridge=1e6)["fit_l1"]  # head stays ~base
    refit = calibrate(net, [two_stains], masks, ridge=0.01)["fit_l1"]
    assert refit < lut_only


def test_confidence_offset_follows_the_models_loss(two_stains, tiny_model):
    import copy

    masks = [np.ones(two_stains.shape[:2], bool)]
    stats = {}
    for loss in ("l1", "ciede2000"):
        net = copy.deepcopy(tiny_model.net)
        stats[loss] = calibrate(net, [two_stains], masks, loss=loss)
    # same chroma fit; CIEDE2000 of a chroma error is smaller than |da| + |db|, so is its scale
    assert stats["l1"]["fit_l1"] == stats["ciede2000"]["fit_l1"]
    assert stats["ciede2000"]["log_scale_shift"] < stats["l1"]["log_scale_shift"]


def test_tune_two_steps_saves_a_listed_model_with_its_card(colour_image, tiny_model, models_dir):
    before = _weights(tiny_model)
    model = train([colour_image], base=tiny_model, steps=2, name="lab-a", progress=False,
                  **FAST)
    assert "lab-a" in list_models()
    card = json.loads((models_dir / "lab-a.json").read_text())
    assert card["base"]["name"] == "tiny"
    assert card["base"]["version"] == "0"
    assert card["tuning"]["image_sha256"] == [
        __import__("hashlib").sha256(colour_image.tobytes()).hexdigest()
    ]
    assert card["tuning"]["settings"]["steps"] == 2
    assert card["metrics"]["steps"] == 2
    scores = card["metrics"]["holdout_ciede2000_tissue"]
    assert set(scores) == {"base", "lut", "calibrated", "tuned"}
    assert scores["calibrated"] < scores["base"]  # tiny base has a zero prior: gray
    assert card["metrics"]["holdout_pixels"] > 0
    loaded = load_model("lab-a")
    x = torch.rand(1, 1, 64, 64) * 100
    torch.testing.assert_close(loaded(x), model(x))
    assert all(torch.equal(before[k], v) for k, v in tiny_model.net.state_dict().items())
    with pytest.raises(ValueError, match="already exists"):
        train([colour_image], base=tiny_model, steps=1, name="lab-a", progress=False, **FAST)


def test_model_out_path_checks_the_card_too(tmp_path):
    from napari_colorize.training.tuning import model_out_path

    (tmp_path / "lab.json").write_text("{}")  # someone else's file where the card would go
    with pytest.raises(ValueError, match=r"lab\.json already exists"):
        model_out_path("lab", tmp_path / "lab.safetensors")
    assert model_out_path("lab", tmp_path / "lab.safetensors", overwrite=True).name == (
        "lab.safetensors")
    (tmp_path / "dir.safetensors").mkdir()  # a folder is never replaced, even with overwrite
    with pytest.raises(ValueError, match="is a folder"):
        model_out_path("dir", tmp_path / "dir.safetensors", overwrite=True)


def test_holdout_strip_is_never_trained_on(colour_image, tiny_model, monkeypatch):
    import napari_colorize.training.tuning as tuning

    seen = []

    class Spy(MaskedPatchSampler):
        def __init__(self, images, masks, *args, **kwargs):
            seen.extend(masks)
            super().__init__(images, masks, *args, **kwargs)

    monkeypatch.setattr(tuning, "MaskedPatchSampler", Spy)
    result = drain(iter_tune([colour_image], TuneConfig(steps=1, **FAST), base=tiny_model))
    (box,) = result.metrics["holdout_boxes"]
    assert box == [256, 320, 0, 320]  # last 20 % of rows
    assert not seen[0][256:].any()
    assert seen[0][:256].all()
    assert result.preview["before"].shape == result.preview["after"].shape == (64, 320, 3)


def test_gradient_steps_fit_the_base_models_loss(colour_image, tiny_model, monkeypatch):
    import napari_colorize.training.tuning as tuning

    used = []

    def spy(*args, **kwargs):
        used.append(kwargs.get("loss"))
        return loss_terms(*args, **kwargs)

    monkeypatch.setattr(tuning, "loss_terms", spy)
    tiny_model.card = {"training": {"config": {"loss": "ciede2000"}}}
    result = drain(iter_tune([colour_image], TuneConfig(steps=1, **FAST), base=tiny_model))
    assert used == ["ciede2000"]
    assert result.model.card["tuning"]["settings"]["loss"] == "ciede2000"
    # a tuned model is tuned further on the loss it was tuned on; an explicit loss wins
    assert base_loss(result.model.card) == "ciede2000"
    used.clear()
    drain(iter_tune([colour_image], TuneConfig(steps=1, loss="l1", **FAST), base=tiny_model))
    assert used == ["l1"]


def test_masks_restrict_patches_and_calibration(two_stains):
    mask = np.zeros(two_stains.shape[:2], bool)
    mask[40:140, 200:300] = True  # inside the blue-on-pink half
    sampler = MaskedPatchSampler([two_stains], [mask], 64, Augment.none(), seed=0)
    _, ab, weight = sampler.sample_masked(16)
    assert all(float(w.sum()) > 0 for w in weight)  # every patch overlaps the region
    b_inside = ab[:, 1][weight[:, 0] > 0.5]
    assert float(b_inside.max()) < 15  # only blue and pink there: no brown (b ~ +35)
    sums, counts = lut_statistics([two_stains], [mask])
    lab = rgb_uint8_to_lab(two_stains)
    inside = tissue_mask(lab).numpy() & mask
    assert int(counts.sum()) == int(inside.sum())
    assert float(sums[1].sum()) == pytest.approx(float(lab[2].numpy()[inside].sum()), rel=1e-5)
    boxes = holdout_boxes([mask], 0.2)
    assert boxes == [(slice(120, 140), slice(200, 300))]  # last 20 % of the region


def test_tune_with_masks_records_them(two_stains, tiny_model):
    mask = np.zeros(two_stains.shape[:2], bool)
    mask[:, 160:] = True
    result = drain(iter_tune([two_stains], TuneConfig(steps=1, **FAST), base=tiny_model,
                             masks=[mask]))
    assert result.model.card["tuning"]["mask_sha256"][0] is not None
    assert result.metrics["holdout_boxes"] == [[205, 256, 160, 320]]  # inside the region
    with pytest.raises(ValueError, match=r"mask of #0 has shape \(10, 10\)"):
        drain(iter_tune([two_stains], TuneConfig(steps=1), base=tiny_model,
                        masks=[np.ones((10, 10), bool)]))
    with pytest.raises(ValueError, match="mask of #0 is empty"):
        drain(iter_tune([two_stains], TuneConfig(steps=1), base=tiny_model,
                        masks=[np.zeros_like(mask)]))


def test_cancel_saves_nothing_and_keeps_base(colour_image, tiny_model, models_dir, monkeypatch):
    before = _weights(tiny_model)
    gen = iter_tune([colour_image], TuneConfig(seconds=60, **FAST), base=tiny_model)
    phases = []
    for event in gen:
        phases.append(event.phase)
        if event.phase == "train" and event.step == 2:
            break
    gen.close()
    assert phases[:2] == ["evaluate", "calibrate"]
    assert not models_dir.exists()
    assert all(torch.equal(before[k], v) for k, v in tiny_model.net.state_dict().items())

    import napari_colorize.training.api as api

    def interrupt(bar, event):
        if event.phase == "train":
            raise KeyboardInterrupt

    monkeypatch.setattr(api, "show_event", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train([colour_image], base=tiny_model, seconds=60, name="lab-b", progress=False, **FAST)
    assert not models_dir.exists()
    assert "lab-b" not in list_models()
    assert all(torch.equal(before[k], v) for k, v in tiny_model.net.state_dict().items())


def test_grayscale_tuning_set_is_refused(colour_image, tiny_model, models_dir):
    gray = np.repeat(colour_image.mean(-1, keepdims=True).astype(np.uint8), 3, -1)
    with pytest.raises(ValueError, match=r"^training image #1 has no colour \(it is grayscale\)$"):
        train([colour_image, gray], base=tiny_model, steps=1, progress=False)
    assert not models_dir.exists()


def test_bad_names_are_refused_before_tuning(colour_image, tiny_model, models_dir):
    with pytest.raises(ValueError, match="'he-histology' is a bundled model"):
        train([colour_image], base=tiny_model, steps=1, name="he-histology", progress=False)
    with pytest.raises(ValueError, match="must be letters, digits"):
        train([colour_image], base=tiny_model, steps=1, name="../x", progress=False)


def test_tune_config_checks():
    with pytest.raises(ValueError, match="layers 'encoder' must be one of"):
        TuneConfig(layers="encoder")
    with pytest.raises(ValueError, match=r"holdout 0\.6 must be in"):
        TuneConfig(holdout=0.6)
    with pytest.raises(ValueError, match="give seconds or steps"):
        TuneConfig(seconds=None)


@pytest.mark.parametrize("layers", ["head", "decoder"])
def test_frozen_layers_stay_put(colour_image, tiny_model, layers):
    config = TuneConfig(steps=2, calibrate=False, layers=layers, lr=1e-2, **FAST)
    tuned = drain(iter_tune([colour_image], config, base=tiny_model)).model
    base, new = tiny_model.net.state_dict(), tuned.net.state_dict()
    assert torch.equal(base["enc1.0.0.weight"], new["enc1.0.0.weight"])
    assert not torch.equal(base["head.weight"], new["head.weight"])
    assert torch.equal(base["dec1.0.weight"], new["dec1.0.weight"]) == (layers == "head")


def test_cli_train_base(tmp_path, colour_image, tiny_model, models_dir, capsys):
    save_model(tiny_model.net, {"name": "tiny"}, models_dir / "tiny.safetensors")
    ref = tmp_path / "ref.png"
    iio.imwrite(ref, colour_image)
    out = tmp_path / "my-lab.safetensors"
    args = ["train", "--base", "tiny", "--images", str(ref), "--steps", "2", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["base"]["name"] == "tiny"
    assert card["name"] == "tiny-tuned"
    err = capsys.readouterr().err
    assert "held-out tissue CIEDE2000: base" in err
    assert f"wrote {out}" in err
    # no --out: saved in the user's models folder under --name, listed at once
    mask = tmp_path / "mask.png"
    iio.imwrite(mask, (np.arange(320)[None, :] < 200).repeat(320, 0).astype(np.uint8) * 255)
    assert main([*args, "--name", "lab-c", "--masks", str(mask)]) == 0
    assert (models_dir / "lab-c.json").exists()
    capsys.readouterr()
    assert main(["models"]) == 0
    assert "lab-c" in capsys.readouterr().out.split()
    # one-line errors
    gray = tmp_path / "gray.png"
    iio.imwrite(gray, np.repeat(colour_image.mean(-1, keepdims=True).astype(np.uint8), 3, -1))
    assert main(["train", "--base", "tiny", "--images", str(gray), "--steps", "1", "--quiet",
                 "--name", "lab-d"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "has no colour (it is grayscale)" in err
    assert not (models_dir / "lab-d.json").exists()
    assert main(["train", "--recipe", "he-histology", "--base", "tiny", "--out", "x"]) == 2
    assert "--recipe regenerates a bundled model" in capsys.readouterr().err


def test_tuning_progress_counts_seconds_of_the_budget_in_a_log(colour_image, tiny_model,
                                                               models_dir, monkeypatch):
    log = io.StringIO()  # not a terminal
    monkeypatch.setattr(sys, "stderr", log)
    start = time.perf_counter()
    train([colour_image], base=tiny_model, seconds=600, steps=6, name="lab-log", save=False,
          **FAST)
    elapsed = time.perf_counter() - start
    lines = [line for line in re.split(r"[\r\n]+", log.getvalue()) if line.strip()]
    assert "/600 s" in lines[-1]  # the total is the time budget
    assert "step=6," in lines[-1]
    assert len(lines) <= 2 + elapsed // 10  # at most one redraw per 10 s
