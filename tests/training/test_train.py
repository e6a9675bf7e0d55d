import io
import json
import re
import sys
import time

import numpy as np
import pytest
import torch

from napari_colorize import load_model, train
from napari_colorize.core.events import drain
from napari_colorize.models.network import ChromaNet
from napari_colorize.training.ciede2000 import ciede2000
from napari_colorize.training.loop import TrainConfig, iter_train, loss_terms
from napari_colorize.training.lut import fit_lut, stain_offsets
from napari_colorize.training.patches import Augment, PatchSampler, stain_jitter


def test_train_few_steps_learns_and_saves(tmp_path, colour_image):
    model = train([colour_image], steps=30, patch=128, batch_size=4, warmup=5, progress=False,
                  out=tmp_path / "m.safetensors", name="synthetic", device="cpu")
    card = json.loads((tmp_path / "m.json").read_text())
    assert card["name"] == "synthetic"
    assert card["training"]["steps"] == 30
    assert card["training"]["image_sha256"]
    loaded = load_model(tmp_path / "m.safetensors")
    x = torch.rand(1, 1, 64, 64) * 100
    torch.testing.assert_close(loaded(x), model(x))
    # the fitted prior separates the purple blobs (L ~ 32, b ~ -42) from the pink (L ~ 75, b ~ -5)
    lut = loaded.net.lut
    assert float(lut[1, 32]) < float(lut[1, 75]) - 20


def test_training_is_seeded(colour_image):
    def run(seed):
        gen = iter_train([colour_image], TrainConfig(steps=3, patch=64, batch_size=2, seed=seed))
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                return stop.value.net.state_dict()

    a, b, c = run(0), run(0), run(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_prior_by_image_weighs_each_image_equally(colour_image):
    """A small image of another stain moves the by-image prior, not the pixel-pooled one."""
    small = np.ascontiguousarray(colour_image[:128, :128, ::-1])  # same lightness layout, other hue
    images = [colour_image, small]
    pooled, by_image = fit_lut(images), fit_lut(images, by_image=True)
    assert not torch.allclose(pooled, by_image)
    for flag, expected in ((False, pooled), (True, by_image)):
        config = TrainConfig(steps=1, patch=64, batch_size=1, widths=(8, 8, 8, 8),
                             prior_by_image=flag)
        model = drain(iter_train(images, config, device="cpu"))
        torch.testing.assert_close(model.net.lut, expected)
        assert model.card["training"]["config"]["prior_by_image"] is flag


def test_stain_offset_is_removed_from_each_images_patches():
    """Two slides of one tissue, one stained redder: with the offsets removed both train alike."""
    rng = np.random.default_rng(0)
    base = np.clip(rng.normal((190, 120, 175), 12, (320, 320, 3)), 0, 255).astype(np.uint8)
    redder = np.clip(base.astype(int) + np.array([16, -8, 0]), 0, 255).astype(np.uint8)
    images = [base, redder]
    lut = fit_lut(images, by_image=True)
    offsets = stain_offsets(images, lut)
    assert offsets[1, 0].max() > 2 > -2 > offsets[0, 0].min()  # a*: one redder, one less

    def mean_a(offsets):
        sampler = PatchSampler(images, 64, Augment.none(), seed=3, offsets=offsets)
        per_image = {0: [], 1: []}
        for _ in range(12):
            _, ab = sampler.sample(4)
            for i, patch in zip(sampler._drawn, ab, strict=True):
                per_image[i].append(float(patch[0].mean()))
        return [np.mean(per_image[i]) for i in (0, 1)]

    kept, removed = mean_a(None), mean_a(offsets)
    assert kept[1] - kept[0] > 5  # the red slide's patches are redder
    assert abs(removed[1] - removed[0]) < 0.3 * (kept[1] - kept[0])  # far less once removed
    config = TrainConfig(steps=1, patch=64, batch_size=2, widths=(8, 8, 8, 8),
                         prior_by_image=True, remove_stain_offset=True)
    model = drain(iter_train(images, config, device="cpu"))
    assert model.card["training"]["config"]["remove_stain_offset"] is True


def test_stopping_training_keeps_base(colour_image, tiny_model):
    before = {k: v.clone() for k, v in tiny_model.net.state_dict().items()}
    gen = iter_train([colour_image], TrainConfig(steps=50, patch=64, batch_size=2),
                     base=tiny_model)
    next(gen)
    next(gen)
    gen.close()
    assert all(torch.equal(before[k], v) for k, v in tiny_model.net.state_dict().items())


def test_interrupted_train_saves_nothing(tmp_path, colour_image, monkeypatch):
    import napari_colorize.training.api as api

    def interrupt(bar, event):
        if event.step == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(api, "show_step", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train([colour_image], steps=20, patch=64, batch_size=2, out=tmp_path / "m.safetensors",
              progress=False)
    assert not list(tmp_path.iterdir())


def test_fine_tune_starts_from_base(colour_image, tiny_model):
    gen = iter_train([colour_image], TrainConfig(steps=2, patch=64, batch_size=2), base=tiny_model)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            tuned = stop.value
            break
    assert tuned.net.widths == tiny_model.net.widths
    torch.testing.assert_close(tuned.net.lut, tiny_model.net.lut)


def test_grayscale_training_image_is_refused(tmp_path, colour_image):
    import imageio.v3 as iio

    gray = np.repeat(colour_image.mean(-1, keepdims=True).astype(np.uint8), 3, -1)
    iio.imwrite(tmp_path / "gray.png", gray)
    with pytest.raises(ValueError, match=r"gray.png has no colour \(it is grayscale\)"):
        train([colour_image, tmp_path / "gray.png"], steps=1, progress=False)


def test_image_without_tissue_is_refused(colour_image):
    blank = np.zeros((300, 300, 3), np.uint8)
    blank[:] = (250, 244, 248)  # tinted glass: some colour, but light and pale everywhere
    with pytest.raises(ValueError, match="#1 shows no tissue"):
        train([colour_image, blank], steps=1, progress=False)


def test_small_images_are_skipped_with_a_count(colour_image):
    small = colour_image[:100, :100]
    with pytest.warns(UserWarning, match="skipped 2 of 3 training images smaller than the 256-px"):
        train([colour_image[:, :], small, small], steps=1, progress=False, batch_size=1)
    with pytest.warns(UserWarning, match="skipped 1 of 1"), pytest.raises(
        ValueError, match="no training image is at least 256 pixels"
    ):
        train([small], steps=1, progress=False)


def test_taken_or_misnamed_output_is_refused_before_training(tmp_path, colour_image,
                                                            monkeypatch):
    from napari_colorize.training import api

    monkeypatch.setattr(api, "iter_train", lambda *a, **k: pytest.fail("trained anyway"))
    taken = tmp_path / "m.safetensors"
    taken.write_bytes(b"x")
    with pytest.raises(ValueError, match="already exists"):
        train([colour_image], steps=1, progress=False, out=taken)
    with pytest.raises(ValueError, match=r"must end in \.safetensors"):
        train([colour_image], steps=1, progress=False, out=tmp_path / "m.pt")
    assert taken.read_bytes() == b"x"


def test_budget_is_required():
    with pytest.raises(ValueError, match="give steps or seconds"):
        TrainConfig()


def test_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="loss 'l2' is not one of l1, ciede2000"):
        TrainConfig(steps=1, loss="l2")
    with pytest.raises(ValueError, match="confidence_loss 'l2' is not one of l1, ciede2000"):
        TrainConfig(steps=1, confidence_loss="l2")


def test_torch_ciede2000_matches_scikit_image_and_has_finite_gradients():
    from skimage.color import deltaE_ciede2000

    rng = np.random.default_rng(0)
    n = 5000
    lab1 = np.stack([rng.uniform(0, 100, n), rng.uniform(-80, 80, n), rng.uniform(-80, 80, n)], -1)
    lab2 = lab1 + rng.normal(0, 10, lab1.shape)
    lab2[:50, 1:] = 0  # gray against colour, where hue is undefined
    lab1[50:100, 1:] = 0
    lab2[100:150] = lab1[100:150]  # identical colours
    expected = deltaE_ciede2000(lab1, lab2)
    t1 = torch.tensor(lab1, dtype=torch.float32)
    t2 = torch.tensor(lab2, dtype=torch.float32, requires_grad=True)
    got = ciede2000(t1, t2, dim=-1)
    np.testing.assert_allclose(got.detach().numpy()[100:], expected[100:], atol=2e-3)
    np.testing.assert_allclose(got.detach().numpy()[:100], expected[:100], atol=0.05)
    got.sum().backward()
    assert torch.isfinite(t2.grad).all()


def test_other_lab_colours_fit_only_the_confidence(colour_image):
    sampler = PatchSampler([colour_image], 64, Augment(), seed=0)
    lightness, ab, same = sampler.sample_with_other_lab(2)
    assert same is ab
    lightness, ab, other = sampler.sample_with_other_lab(2, 0.25, 0.08)
    assert other.shape == ab.shape
    assert float((other - ab).abs().mean()) > 0.5
    net = ChromaNet((8, 8, 8, 8))
    torch.nn.init.normal_(net.head.weight, std=0.1)
    chroma, nll = loss_terms(net, lightness, ab, loss="ciede2000")
    chroma_other, nll_other = loss_terms(net, lightness, ab, loss="ciede2000", ab_other=other)
    torch.testing.assert_close(chroma_other, chroma)
    assert not torch.allclose(nll_other, nll)
    # the confidence may also fit another error than the chroma does
    chroma_l1, nll_l1 = loss_terms(net, lightness, ab, loss="ciede2000", confidence_loss="l1")
    torch.testing.assert_close(chroma_l1, chroma)
    assert not torch.allclose(nll_l1, nll)


def test_training_on_ciede2000_learns(colour_image):
    model = train([colour_image], steps=30, patch=128, batch_size=4, warmup=5, progress=False,
                  device="cpu", loss="ciede2000")
    assert model.card["training"]["config"]["loss"] == "ciede2000"
    assert float(model.net.head.weight.detach().abs().sum()) > 0


def test_patches_and_prior(colour_image):
    sampler = PatchSampler([colour_image], 64, Augment(), seed=0)
    lightness, ab = sampler.sample(3)
    assert lightness.shape == (3, 1, 64, 64)
    assert ab.shape == (3, 2, 64, 64)
    assert 0 <= float(lightness.min())
    assert float(lightness.max()) <= 100
    lut = fit_lut([colour_image])
    assert lut.shape == (2, 101)
    assert torch.isfinite(lut).all()
    rgb = torch.rand(2, 3, 8, 8)
    gen = torch.Generator().manual_seed(0)
    torch.testing.assert_close(stain_jitter(rgb, gen, 0.0, 0.0), rgb)
    jittered = stain_jitter(rgb.clamp(0.2, 0.9), gen, 0.1, 0.05)
    assert 0 < float((jittered - rgb.clamp(0.2, 0.9)).abs().mean()) < 0.2


def test_recipe_card_records_settings_and_metrics(tmp_path, colour_image):
    from napari_colorize.training.recipe_runs import train_and_save
    from napari_colorize.training.recipes import Recipe

    settings = {"steps": 2, "patch": 128, "batch_size": 2, "augment": Augment.none()}
    recipe = Recipe(name="tiny-recipe", train=(), holdout=(), validation=(), settings=settings,
                    version="3", description="d", intended_use="u", limitations=("l",))
    gen = iter_train([colour_image], TrainConfig(**settings), device="cpu", name=recipe.name)
    path = train_and_save(recipe, gen, 2, tmp_path, progress=False, on_step=None,
                          metrics=lambda model: {"validation": {"score": 1.0}},
                          extra={"input": "I"})
    card = json.loads(path.read_text())
    assert (card["version"], card["input"], card["limitations"]) == ("3", "I", ["l"])
    assert card["recipe"]["settings"]["augment"]["flips"] is False
    assert card["recipe"]["command"] == "napari-colorize train --recipe tiny-recipe --out DIR"
    assert card["metrics"] == {"validation": {"score": 1.0}}
    assert load_model(tmp_path / "tiny-recipe.safetensors").card["sha256"] == card["sha256"]


def _bar_lines(text: str) -> list[str]:
    return [line for line in re.split(r"[\r\n]+", text) if line.strip()]


def test_time_budgeted_progress_counts_seconds_and_writes_few_lines_to_a_log(
    colour_image, monkeypatch
):
    log = io.StringIO()  # stderr redirected to a file: not a terminal
    monkeypatch.setattr(sys, "stderr", log)
    start = time.perf_counter()
    train([colour_image], seconds=600, steps=12, patch=64, batch_size=2, device="cpu",
          name="timed")
    elapsed = time.perf_counter() - start
    lines = _bar_lines(log.getvalue())
    assert lines[0].startswith("timed:")
    assert "/600 s" in lines[-1]  # the total is the time budget
    assert "step=12," in lines[-1]
    # first and last draw, and at most one redraw per 10 s: not a line per step
    assert len(lines) <= 2 + elapsed // 10
