"""What train, tune and the train command accept, and what they refuse before any work."""

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from napari_colorize import train
from napari_colorize.cli import main
from napari_colorize.models.registry import save_model
from napari_colorize.training import loop, tuning
from napari_colorize.training.api import tune
from napari_colorize.training.evaluation import evaluate_image

QUICK = {"steps": 0, "seconds": None, "patch": 64, "batch_size": 1, "save": False,
         "progress": False, "device": "cpu"}
# a folder no one may write in, not even root (os.access says yes to root there)
READ_ONLY = Path("/proc")
needs_read_only = pytest.mark.skipif(not (READ_ONLY / "self").is_dir(), reason="needs /proc")


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if any training or tuning starts."""

    def refuse(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(tuning, "holdout_errors", refuse)  # tuning's first work
    monkeypatch.setattr(loop, "optimise", refuse)


@pytest.fixture
def ref_png(tmp_path, colour_image) -> Path:
    path = tmp_path / "ref.png"
    iio.imwrite(path, colour_image)
    return path


# --- one image alone is a list of one -------------------------------------------------------


@pytest.mark.parametrize("kind", ["str", "path", "array"])
def test_tune_takes_one_image_alone(kind, ref_png, colour_image, tiny_model):
    image = {"str": str(ref_png), "path": ref_png, "array": colour_image}[kind]
    result = tune(image, base=tiny_model, **QUICK)
    assert result.model.card["tuning"]["image_sha256"] == tune(
        [image], base=tiny_model, **QUICK).model.card["tuning"]["image_sha256"]


def test_train_takes_one_image_and_one_mask_alone(tmp_path, ref_png, colour_image, tiny_model):
    mask = np.zeros(colour_image.shape[:2], bool)
    mask[:, :200] = True
    mask_png = tmp_path / "mask.png"
    iio.imwrite(mask_png, mask.astype(np.uint8) * 255)
    settings = {k: v for k, v in QUICK.items() if k not in ("seconds",)}
    from_array = train(colour_image, base=tiny_model, masks=mask, **settings)
    from_file = train(ref_png, base=tiny_model, masks=mask_png, **settings)
    assert from_array.card["tuning"]["mask_sha256"] == from_file.card["tuning"]["mask_sha256"]
    assert from_array.card["tuning"]["mask_sha256"][0] is not None
    scratch = train(colour_image, steps=1, patch=64, batch_size=1, widths=(8, 8, 8, 8),
                    progress=False, device="cpu")
    assert scratch.card["training"]["steps"] == 1


# --- masks ----------------------------------------------------------------------------------


def test_masks_that_are_not_boolean_are_refused(colour_image, tiny_model, no_training):
    shape = colour_image.shape[:2]
    for mask, value in [(np.full(shape, np.nan), "nan"), (np.full(shape, 0.5), "0.5"),
                        (np.full(shape, 128, np.uint8), "128")]:
        with pytest.raises(ValueError, match=f"mask of #0 must be boolean .*values {value}$"):
            tune([colour_image], base=tiny_model, masks=[mask], **QUICK)
    # 0/1 numbers, and a binary image as read from a file (0/255), are a boolean mask
    for marked in (np.ones(shape, np.float32), np.full(shape, 255, np.uint8)):
        with pytest.raises(AssertionError, match="training started"):
            tune([colour_image], base=tiny_model, masks=[marked], **QUICK)


def test_a_tiny_mask_is_refused_naming_it(tmp_path, colour_image, tiny_model, no_training):
    mask = np.zeros(colour_image.shape[:2], bool)
    mask[:20, :20] = True
    with pytest.raises(ValueError, match="mask of #0 marks a region of 20x20 pixels: tuning "
                                         "needs at least 64 pixels a side"):
        tune([colour_image], base=tiny_model, masks=[mask], **QUICK)
    path = tmp_path / "tiny.png"
    iio.imwrite(path, mask.astype(np.uint8))
    with pytest.raises(ValueError, match=r"mask .*tiny\.png \(of #0\) marks a region of 20x20"):
        tune([colour_image], base=tiny_model, masks=[path], **QUICK)


def test_a_mask_on_glass_is_refused(colour_image, tiny_model, no_training):
    image = colour_image.copy()
    image[:, 200:] = 245  # glass on the right
    mask = np.zeros(image.shape[:2], bool)
    mask[:, 220:] = True
    with pytest.raises(ValueError, match="mask of #0 marks no tissue"):
        tune([image], base=tiny_model, masks=[mask], **QUICK)


def test_held_out_strip_without_tissue_warns(colour_image, tiny_model):
    image = colour_image.copy()
    image[-80:] = 245  # the held-out strip (last 20 % of rows) is glass
    with pytest.warns(UserWarning, match="held-out strips .* show no tissue"):
        result = tune([image], base=tiny_model, **QUICK)
    assert result.metrics["holdout_ciede2000_tissue"]["tuned"] is None


def test_cli_tiny_mask_is_refused_in_one_line(tmp_path, ref_png, colour_image, tiny_model,
                                              models_dir, capsys):
    save_model(tiny_model.net, {"name": "tiny"}, models_dir / "tiny.safetensors")
    mask = np.zeros(colour_image.shape[:2], np.uint8)
    mask[:20, :20] = 1
    mask_png = tmp_path / "mask_tiny.png"
    iio.imwrite(mask_png, mask)
    out = tmp_path / "lab.safetensors"
    assert main(["train", "--base", "tiny", "--images", str(ref_png), "--masks", str(mask_png),
                 "--steps", "0", "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("napari-colorize: error: mask ")
    assert err.count("\n") == 1
    assert "mask_tiny.png" in err
    assert "20x20" in err
    assert not out.exists()
    assert not out.with_suffix(".json").exists()


# --- budgets --------------------------------------------------------------------------------


@pytest.mark.parametrize(("budget", "match"), [
    ({"steps": 1.5}, "steps 1.5 must be a whole number"),
    ({"steps": True}, "steps True must be a whole number"),
    ({"seconds": "10"}, "seconds '10' must be a number of seconds"),
])
@pytest.mark.parametrize("base", [None, "tiny"])
def test_budgets_of_the_wrong_type_are_refused(budget, match, base, colour_image, tiny_model,
                                               no_training):
    settings = {"patch": 64, "progress": False, "device": "cpu", "save": False, **budget}
    with pytest.raises(ValueError, match=match):
        train([colour_image], base=tiny_model if base else None, **settings)


# --- unwritable outputs ---------------------------------------------------------------------


@needs_read_only
def test_an_unwritable_output_is_refused_before_training(colour_image, tiny_model, no_training):
    out = READ_ONLY / "lab.safetensors"
    with pytest.raises(ValueError, match=f"output folder {READ_ONLY} is not writable"):
        train([colour_image], base=tiny_model, steps=0, out=out, progress=False)
    with pytest.raises(ValueError, match=f"output folder {READ_ONLY} is not writable"):
        train([colour_image], steps=1, out=out, progress=False)
    with pytest.raises(ValueError, match=r"output folder /proc/new/models is not writable "
                                         r"\(cannot create a file in /proc\)"):
        tune([colour_image], base=tiny_model, steps=0, out="/proc/new/models/lab.safetensors",
             progress=False)


@needs_read_only
@pytest.mark.parametrize("base", [[], ["--base", "tiny"]])
def test_cli_unwritable_output_is_one_line(base, ref_png, tiny_model, models_dir, no_training,
                                           capsys):
    save_model(tiny_model.net, {"name": "tiny"}, models_dir / "tiny.safetensors")
    assert main(["train", *base, "--images", str(ref_png), "--steps", "1", "--quiet",
                 "--out", str(READ_ONLY / "x.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err == f"napari-colorize: error: output folder {READ_ONLY} is not writable\n"


# --- evaluate -------------------------------------------------------------------------------


def test_evaluate_rounds_the_confidence_ranking(colour_image, tiny_model):
    result = evaluate_image(tiny_model, colour_image)
    spearman = result["confidence_spearman"]
    assert spearman is not None
    assert spearman == round(spearman, 3)
