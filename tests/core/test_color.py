import numpy as np
import pytest
import torch
from skimage.color import lab2rgb, rgb2lab

from napari_colorize.core.color import (
    lab_to_srgb,
    lab_to_srgb_uint8,
    rgb_to_lab,
    uint8_lightness_table,
)


def test_rgb_to_lab_matches_scikit_image():
    rgb = np.random.default_rng(0).random((3, 40, 40))
    ours = rgb_to_lab(torch.from_numpy(rgb)).numpy()
    ref = np.moveaxis(rgb2lab(np.moveaxis(rgb, 0, -1)), -1, 0)
    np.testing.assert_allclose(ours, ref, atol=1e-2)  # matrices differ in the 4th digit


def test_uint8_gray_lightness_table():
    gray = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    ref = rgb2lab(gray[None].astype(np.float64) / 255)[0, :, 0]
    np.testing.assert_allclose(uint8_lightness_table(), ref, atol=1e-3)


def test_in_gamut_colours_round_trip():
    # Well inside the gamut: colours near its surface lose a little chroma by design.
    rgb = np.random.default_rng(1).random((3, 30, 30)) * 0.7 + 0.15
    back = lab_to_srgb(rgb_to_lab(torch.from_numpy(rgb))).numpy()
    np.testing.assert_allclose(back, rgb, atol=2e-3)


def test_fused_uint8_matches_reference_path():
    rng = np.random.default_rng(2)
    lab = torch.from_numpy(
        np.stack([rng.uniform(0, 100, (50, 50)), rng.normal(0, 40, (50, 50)),
                  rng.normal(0, 40, (50, 50))])
    ).float()
    fused = lab_to_srgb_uint8(lab[0], lab[1], lab[2]).numpy().astype(int)
    ref = np.round(np.moveaxis(lab_to_srgb(lab.double()).numpy(), 0, -1) * 255)
    assert np.abs(fused - ref).max() <= 1
    inside = rng.random((3, 20, 20)) * 0.7 + 0.15
    lab = rgb_to_lab(torch.from_numpy(inside)).float()
    fused = lab_to_srgb_uint8(lab[0], lab[1], lab[2]).numpy().astype(int)
    sk = np.round(lab2rgb(np.moveaxis(lab.double().numpy(), 0, -1)) * 255)
    assert np.abs(fused - sk).max() <= 1


@pytest.mark.parametrize("chroma", [60.0, 120.0, 200.0])
def test_out_of_gamut_keeps_lightness(chroma):
    rng = np.random.default_rng(3)
    lightness = torch.from_numpy(rng.uniform(2, 98, (64, 64))).float()
    hue = torch.from_numpy(rng.uniform(-np.pi, np.pi, (64, 64))).float()
    a, b = chroma * torch.cos(hue), chroma * torch.sin(hue)
    rgb = lab_to_srgb_uint8(lightness, a, b).numpy()
    got = rgb2lab(rgb.astype(np.float64) / 255)[..., 0]
    # uint8 quantisation alone moves L by up to ~0.4 for saturated colours.
    assert np.abs(got - lightness.numpy()).max() < 0.8
    assert np.abs(got - lightness.numpy()).mean() < 0.25
