"""The bundled H&E model on real tissue: tiling is seamless and lightness is kept."""

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from skimage.color import rgb2lab

from napari_colorize import colorize, load_model
from napari_colorize.training.evaluation import ciede2000, rgb_to_lab_np

SAMPLES = Path(__file__).parents[2] / "sample_data"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model():
    return load_model("he-histology", device="cpu")


@pytest.fixture(scope="module")
def cmu_gray():
    return iio.imread(SAMPLES / "cmu1_region_gray.png")


def test_tiled_matches_whole_image(model, cmu_gray):
    assert cmu_gray.shape == (1000, 1000)
    tiled = colorize(cmu_gray, model, tile_size=256).rgb
    whole = colorize(cmu_gray, model, tile_size=1024, overlap=0).rgb
    de = ciede2000(rgb_to_lab_np(tiled), rgb_to_lab_np(whole))
    assert de.mean() <= 1.0
    assert np.percentile(de, 99.9) <= 5.0
    # no seams: error on the tile borders is no larger than elsewhere
    step = 256 - 64
    borders = np.zeros(de.shape, bool)
    for k in range(1, 6):
        borders[max(0, k * step - 2) : k * step + 2] = True
        borders[:, max(0, k * step - 2) : k * step + 2] = True
    assert de[borders].mean() <= 1.5 * de[~borders].mean() + 0.2


@pytest.mark.parametrize("name", ["cmu1_region_gray.png", "stardist_histo_gray.png"])
def test_lightness_contract_on_tissue(model, name):
    gray = iio.imread(SAMPLES / name)
    rgb = colorize(gray, model).rgb
    d = np.abs(rgb2lab(rgb)[..., 0] - rgb2lab(np.repeat(gray[..., None], 3, -1))[..., 0])
    assert d.mean() <= 0.5
    assert np.percentile(d, 99.9) <= 1.5


def test_model_beats_gray_and_colours_tissue(model):
    truth = iio.imread(SAMPLES / "stardist_histo_rgb.jpg")
    gray = iio.imread(SAMPLES / "stardist_histo_gray.png")
    result = colorize(gray, model, confidence=True)
    rgb, conf = result.rgb, result.confidence
    de = ciede2000(rgb_to_lab_np(rgb), rgb_to_lab_np(truth))
    gray_de = ciede2000(rgb_to_lab_np(np.repeat(gray[..., None], 3, -1)), rgb_to_lab_np(truth))
    assert de.mean() < 0.3 * gray_de.mean()
    assert conf.dtype == np.float32
    assert 0 <= conf.min()
    assert conf.max() <= 1


@pytest.mark.parametrize("spread", [0.0, 1.0])
def test_confidence_of_tiles_matches_whole_image(cmu_gray, spread):
    """The confidence's local colour spread (52 px) stays inside the tiles' overlap."""
    model = load_model("he-histology", device="cpu")
    assert model.net.colour_spread == 1.0  # the recipe's, kept by the bundled card
    model.net.colour_spread = spread
    tiled = colorize(cmu_gray, model, tile_size=256, confidence=True).confidence
    whole = colorize(cmu_gray, model, tile_size=1024, overlap=0, confidence=True).confidence
    diff = np.abs(tiled - whole)
    assert diff.mean() <= 0.005
    assert np.percentile(diff, 99.9) <= 0.1


def test_confidence_adds_the_local_colour_spread_to_the_networks_error():
    """sigma^2 = network's sigma^2 + local variance of (0.4 L*, a*, b*); confidence exp(-s/8)."""
    import torch

    from napari_colorize.models.network import ChromaNet

    net = ChromaNet((8, 8, 8, 8))  # an untrained head: the network's sigma is 4 everywhere
    flat = torch.full((1, 1, 128, 128), 50.0)
    stripes = flat.clone()
    stripes[..., ::2] = 70.0  # spread 10 L*
    with torch.no_grad():
        plain, textured = net(flat)[0, 2, 64, 64], net(stripes)[0, 2, 64, 64]
        net.lut[0] = torch.arange(101.0) / 2  # a* follows L*: the stripes' a* spread is 5
        coloured = net(stripes)[0, 2, 64, 64]
    assert float(plain) == pytest.approx(np.exp(-4 / 8), abs=1e-6)
    assert float(textured) == pytest.approx(np.exp(-np.hypot(4, 0.4 * 10) / 8), abs=1e-6)
    assert float(coloured) == pytest.approx(np.exp(-np.sqrt(16 + 16 + 25) / 8), abs=1e-6)
    net.colour_spread = 0.0  # the network's predicted error alone
    with torch.no_grad():
        assert float(net(stripes)[0, 2, 64, 64]) == pytest.approx(np.exp(-4 / 8), abs=1e-6)
