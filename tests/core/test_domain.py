"""Domain check: H&E passes, other images are flagged, the statistics file round-trips."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import skimage.data
import tifffile
import torch

from napari_colorize.core.domain import (
    DomainModel,
    DomainPart,
    DomainWarning,
    domain_path,
    domain_score,
    load_domain,
    save_domain,
)
from napari_colorize.core.domain_features import (
    feature_names,
    gray_statistics,
    sample_lightness,
    window_features,
)
from napari_colorize.core.intensity import IntensityWindow, compute_window
from napari_colorize.models.registry import load_model
from napari_colorize.training.evaluation import gray_with_lightness

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"


@pytest.fixture(scope="module")
def he_model():
    return load_model("he-histology", device="cpu")


def score(image, model):
    return domain_score(image, model, compute_window(image))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cmu1_region_gray.png", "stardist_histo_gray.png"])
def test_he_sample_passes(he_model, name):
    result = score(iio.imread(SAMPLES / name), he_model)
    assert result.in_domain, result.message
    assert result.score <= result.threshold == 1.0
    assert result.message.startswith("input looks like the H&E brightfield")


@pytest.mark.slow
def test_he_focus_stack_passes(he_model):
    # a 3-D stack: windows are dealt out over its planes, all slightly defocused H&E
    result = score(tifffile.imread(SAMPLES / "cmu1_focus_stack_gray.tif"), he_model)
    assert result.in_domain, result.message
    assert result.windows == 9


@pytest.mark.slow
@pytest.mark.parametrize("name", ["astronaut", "coffee", "camera"])
def test_photographs_flagged(he_model, name):
    image = getattr(skimage.data, name)()
    gray = gray_with_lightness(image) if image.ndim == 3 else image
    result = score(gray, he_model)
    assert not result.in_domain
    assert result.score > 1.0
    assert "unlike the training images" in result.message
    assert result.message.endswith("colours may be wrong")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ndev_neuron_gray.tif", "ndev_scratch_assay_gray.tif"])
def test_fluorescence_flagged(he_model, name):
    image = tifffile.imread(SAMPLES / name)  # uint16, through the engine's percentile window
    assert image.dtype == np.uint16
    result = score(image, he_model)
    assert not result.in_domain, result.message
    assert result.to_metadata()["in_domain"] is False


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cmu1_region_gray.png", "stardist_histo_gray.png"])
def test_he_as_float_passes(he_model, name):
    # rgb2gray-style floats in [0, 1] get a percentile window that stretches the darkest
    # nuclei toward black: still far from a dark background
    image = iio.imread(SAMPLES / name).astype(np.float64) / 255
    result = score(image, he_model)
    assert result.in_domain, result.message
    assert result.parts["black"] < 0.7


@pytest.mark.slow
@pytest.mark.parametrize("width", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("value", [0, 40])
def test_he_with_a_thin_border_passes(he_model, width, value):
    # a scanner's or a padding's edge of a few pixels: the stain part once gave it 100+ (a
    # trunk channel that hardly fires on H&E had a weight of 10^4)
    he = iio.imread(SAMPLES / "cmu1_region_gray.png").copy()
    he[:width], he[-width:], he[:, :width], he[:, -width:] = value, value, value, value
    result = score(he, he_model)
    assert result.in_domain, result.message
    assert abs(result.parts["stain"]) < 1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm"])
def test_ct_and_mr_flagged(he_model, name):
    pydicom = pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    image = pydicom.dcmread(get_testdata_file(name)).pixel_array  # int16, small
    result = score(image, he_model)
    assert not result.in_domain, result.message
    assert result.parts["black"] > 1.0


@pytest.mark.slow
def test_dark_background_named(he_model):
    # H&E with a quarter of near-black background: the novelty alone lets it pass, the
    # near-black fraction does not, and the message says why
    he = iio.imread(SAMPLES / "cmu1_region_gray.png")[:512, :512].copy()
    he[:256, :256] = 2
    result = score(he, he_model)
    assert not result.in_domain
    assert "near black" in result.message
    assert result.parts["black"] == pytest.approx(0.25 / 0.05, rel=0.25)


@pytest.mark.slow
def test_noise_and_tiny_images_flagged(he_model):
    noise = np.random.default_rng(0).integers(0, 256, (512, 512), np.uint8)
    assert not score(noise, he_model).in_domain
    tiny = np.random.default_rng(1).integers(0, 4096, (20, 30)).astype(np.uint16)
    assert not score(tiny, he_model).in_domain  # reflected up to the model's minimum


@pytest.mark.slow
def test_region_scores_a_block(he_model):
    # H&E on the left, a photograph on the right: each half scores as itself
    he = iio.imread(SAMPLES / "cmu1_region_gray.png")[:512, :512]
    slide = np.concatenate([he, skimage.data.camera()], axis=1)
    window = IntensityWindow(0, 255)
    left = domain_score(slide, he_model, window, region=(slice(None), slice(0, 512)))
    right = domain_score(slide, he_model, window, region=(slice(None), slice(512, None)))
    assert left.in_domain
    assert not right.in_domain
    with pytest.raises(ValueError, match="empty"):
        domain_score(slide, he_model, window, region=(slice(5, 5), slice(None)))


def test_bundled_statistics_fit_the_model(he_model):
    domain = load_domain("he-histology")
    assert domain is not None
    assert domain.model == "he-histology"
    assert domain.feature_names == feature_names(32, 3)
    assert [p.name for p in domain.parts] == ["novelty", "stain", "black"]
    assert set(domain.fit["labs"]) >= {"openslide-cmu", "tiatoolbox-target"}


def test_json_round_trips(tmp_path):
    domain = load_domain("he-histology")
    assert domain is not None
    card = tmp_path / "copy.json"
    card.write_text("{}")  # load_domain only needs the card to exist
    path = save_domain(domain, domain_path(card))
    assert path.name == "copy.domain.json"
    again = load_domain(card)
    assert again == domain
    assert again is not domain
    assert json.loads(path.read_text())["format"] == 1


def test_missing_statistics_give_none(tmp_path):
    assert load_domain("fluorescence-composite") is None
    card = tmp_path / "mine.json"
    card.write_text("{}")
    assert load_domain(card) is None
    assert load_domain(tmp_path / "mine.safetensors") is None


def test_unreadable_statistics_name_the_file(tmp_path):
    card = tmp_path / "bad.json"
    card.write_text("{}")
    domain_path(card).write_text(json.dumps({"format": 99}))
    with pytest.raises(ValueError, match=r"bad\.domain\.json.*format 99"):
        load_domain(card)


def test_statistics_of_another_model_refused(tiny_model):
    domain = load_domain("he-histology")
    image = np.full((128, 128), 120, np.uint8)
    with pytest.raises(ValueError, match="describe 137 features"):
        domain_score(image, tiny_model, IntensityWindow(0, 255), domain)
    with pytest.raises(ValueError, match="no domain statistics"):
        domain_score(image, tiny_model, IntensityWindow(0, 255))


def test_parts_check_their_sizes():
    with pytest.raises(ValueError, match="weights"):
        DomainPart("novelty", "gaussian", (0, 1), (0.0, 0.0), (1.0, 1.0), 0.0, 1.0)
    with pytest.raises(ValueError, match="spread"):
        DomainPart("stain", "linear", (0,), (0.0,), (1.0,), 0.0, 0.0)
    part = DomainPart("stain", "linear", (3,), (0.0,), (1.0,), 0.0, 1.0)
    with pytest.raises(ValueError, match="feature 3 of 1"):
        DomainModel("m", "tests", ("mean",), (part,))


def test_score_is_the_largest_part(tiny_model):
    names = feature_names(8, 3)
    image = np.random.default_rng(0).integers(0, 256, (256, 256), np.uint8)
    window = IntensityWindow(0, 255)
    feats = window_features(sample_lightness(image, window), tiny_model)
    mean = feats[:, 0].mean()  # lightness mean / 100 of the windows
    novelty = DomainPart("novelty", "gaussian", (0,), (float(mean),), ((1.0,),), 0.0, 1.0,
                         label="novel")
    stain = DomainPart("stain", "linear", (0,), (0.0,), (10.0,), 0.0, 1.0, label="stained")
    domain = DomainModel("tiny", "tests", names, (novelty, stain))
    result = domain_score(image, tiny_model, window, domain)
    assert result.parts["stain"] == pytest.approx(10 * mean)
    assert result.score == pytest.approx(10 * mean)
    assert not result.in_domain
    assert result.message.endswith("; stained): colours may be wrong")
    assert "novel" not in result.message


def test_gray_statistics_of_known_images():
    half = torch.cat([torch.full((1, 1, 64, 32), 20.0), torch.full((1, 1, 64, 32), 95.0)], -1)
    stats = gray_statistics(half)[0]
    assert stats[0].item() == pytest.approx(0.575)  # mean
    assert stats[2].item() == pytest.approx(0.5)  # white (L > 88)
    assert stats[3].item() == pytest.approx(0.5)  # dark (L < 30)
    assert stats[4].item() == pytest.approx(0.2025, abs=0.01)  # p05
    assert stats[6].item() == pytest.approx(0.9525, abs=0.01)  # p95
    hist = stats[9:17] ** 2
    assert hist.sum().item() == pytest.approx(1.0)
    assert hist[0].item() == pytest.approx(0.5)
    assert hist[-1].item() == pytest.approx(0.5)


def test_windows_spread_over_planes_and_axes():
    stack = np.stack([np.full((300, 500), v, np.uint8) for v in (0, 255)])
    batch = sample_lightness(stack, IntensityWindow(0, 255), side=192, n=4)
    assert batch.shape == (4, 1, 192, 192)
    # windows alternate between the two planes
    assert [round(float(b.mean())) for b in batch] == [0, 100, 0, 100]


def test_domain_warning_is_a_user_warning():
    assert issubclass(DomainWarning, UserWarning)
    with pytest.warns(DomainWarning, match="colours"):
        warnings.warn("colours may be wrong", DomainWarning, stacklevel=1)
