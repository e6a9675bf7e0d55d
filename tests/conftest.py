"""Shared fixtures: a pointwise model (tiled output must equal untiled exactly) and a tiny net."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_colorize.models.network import ChromaNet
from napari_colorize.models.spec import ColorModel, ModelSpec


class PointwiseNet(torch.nn.Module):
    """a, b and confidence as fixed functions of each pixel's lightness alone."""

    widths = (0, 0, 0, 0)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        a = 0.4 * (lightness - 50)
        b = 30 * torch.sin(lightness / 9)
        conf = lightness / 100
        return torch.cat([a, b, conf], dim=1)


@pytest.fixture
def pointwise_model() -> ColorModel:
    return ColorModel(PointwiseNet(), ModelSpec("pointwise", divisor=32, min_tile=64))


@pytest.fixture
def tiny_model() -> ColorModel:
    torch.manual_seed(0)
    net = ChromaNet((8, 8, 8, 8))
    for p in net.head.parameters():  # non-zero head so the net's output depends on context
        torch.nn.init.normal_(p, std=0.05)
    return ColorModel(net, ModelSpec("tiny"))


@pytest.fixture
def gray_image() -> np.ndarray:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:511, 0:237]
    img = 128 + 100 * np.sin(y / 23.0) * np.cos(x / 17.0) + rng.normal(0, 10, (511, 237))
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture
def colour_image() -> np.ndarray:
    """Synthetic 'stained' image: pink background texture with purple blobs."""
    rng = np.random.default_rng(1)
    h = w = 320
    img = np.empty((h, w, 3), np.float64)
    img[:] = (235, 170, 200)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(40):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(5, 15)
        blob = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        img[blob] = (90, 50, 150)
    img += rng.normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    """The user's models folder, redirected to a fresh folder of the test's own."""
    folder = tmp_path / "user-models"
    monkeypatch.setenv("NAPARI_COLORIZE_MODELS", str(folder))
    return folder
