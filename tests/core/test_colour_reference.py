"""Colour references: a lab's colours from a few colour images, fitted once per run."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
import zarr

from napari_colorize import colorize
from napari_colorize.cli import main
from napari_colorize.core.config import ColorizeConfig
from napari_colorize.core.reference import ReferenceMap, fit_reference
from napari_colorize.core.tile_plan import resolve_config
from napari_colorize.io.readers import read_metadata
from napari_colorize.training.evaluation import ciede2000, render, rgb_to_lab_np, shift_chroma
from napari_colorize.training.lut import fit_lut, lut_prior

SAMPLE = Path(__file__).parents[2] / "sample_data" / "cmu1_region_rgb.jpg"


@pytest.fixture(scope="module")
def lab_slide() -> np.ndarray:
    rgb = iio.imread(SAMPLE)[:768, :1024]
    return shift_chroma(rgb, 10.0, -8.0)


def tissue_error(pred: np.ndarray, truth: np.ndarray) -> float:
    truth_lab = rgb_to_lab_np(truth)
    return float(ciede2000(rgb_to_lab_np(pred), truth_lab)[truth_lab[0] < 88].mean())


@pytest.mark.slow
def test_a_reference_brings_the_labs_colours(lab_slide):
    left, right = lab_slide[:, :512], np.ascontiguousarray(lab_slide[:, 512:])
    plain = colorize(right, from_rgb=True, device="cpu")
    adapted = colorize(right, from_rgb=True, reference=left, device="cpu")
    assert adapted.reference == ("array 0",)
    before, after = tissue_error(plain.rgb, right), tissue_error(adapted.rgb, right)
    assert after < 0.9 * before, (before, after)
    # and closer than the reference's own per-lightness table
    truth = rgb_to_lab_np(right)
    table = render(truth[0], *lut_prior(fit_lut([left]), truth[0]))
    table_error = tissue_error(table, right)
    assert after < table_error, (after, table_error)
    # lightness is the input's, with or without a reference
    np.testing.assert_allclose(rgb_to_lab_np(adapted.rgb)[0], rgb_to_lab_np(plain.rgb)[0],
                               atol=0.6)


def test_tiled_equals_whole_with_a_reference(pointwise_model, colour_image, gray_image):
    kw = {"reference": colour_image, "blending": "constant", "overlap": 32}
    tiled = colorize(gray_image, pointwise_model, tile_size=128, block_size=160, **kw).rgb
    whole = colorize(gray_image, pointwise_model, tile_size=512, **kw).rgb
    np.testing.assert_array_equal(tiled, whole)
    plain = colorize(gray_image, pointwise_model, tile_size=512, blending="constant").rgb
    assert not np.array_equal(whole, plain)  # the mapping did change the colours


def test_the_output_records_its_reference(pointwise_model, colour_image, gray_image, tmp_path):
    ref = tmp_path / "lab.png"
    iio.imwrite(ref, colour_image)
    out = tmp_path / "r.ome.zarr"
    result = colorize(gray_image, pointwise_model, out=out, reference=[ref, colour_image],
                      tile_size=128, overlap=32)
    assert result.reference == ("lab.png", "array 1")
    meta = read_metadata(out)["reference"]
    assert meta["sources"] == ["lab.png", "array 1"]
    assert meta["pixels"] > 0
    assert len(meta["sha256"]) == 64
    again = colorize(gray_image, pointwise_model, out=out, reference=[ref, colour_image],
                     tile_size=128, overlap=32, resume=True)
    np.testing.assert_array_equal(np.asarray(again.rgb), np.asarray(zarr.open_group(out)["0"]))


def test_identity_changes_nothing():
    import torch

    ab = torch.randn(2, 5, 7) * 20
    mapped = ab.clone()
    ReferenceMap.identity().apply(torch.rand(5, 7) * 100, mapped)
    assert torch.equal(mapped, ab)


def test_fit_learns_a_known_shift(tiny_model, colour_image):
    config = resolve_config(ColorizeConfig(device="cpu", tile_size=128, overlap=32), tiny_model)
    base = fit_reference(colour_image, tiny_model, config)
    moved = fit_reference(shift_chroma(colour_image, 12.0, 0.0), tiny_model, config)
    # at the tissue's lightness, the offset moved by about the shift
    lightness = rgb_to_lab_np(colour_image)[0]
    typical = int(np.median(lightness[lightness < 88]))
    assert 6 < moved.table[typical, 4] - base.table[typical, 4] < 18


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda img: np.repeat(img[..., :1], 3, axis=-1), "is gray"),
        (lambda img: np.full_like(img, 250), "has no tissue"),
        (lambda img: img[..., 0], "must be a colour image"),
        (lambda img: [], "reference is empty"),
    ],
)
def test_bad_references_are_refused_in_one_line(pointwise_model, gray_image, colour_image,
                                                make, match):
    with pytest.raises(ValueError, match=match) as info:
        colorize(gray_image, pointwise_model, reference=make(colour_image), tile_size=128,
                 overlap=32)
    assert "\n" not in str(info.value)


def test_a_channel_model_takes_no_reference(colour_image):
    with pytest.raises(ValueError, match="reference needs a colour"):
        colorize(np.zeros((64, 64), np.uint8), "fluorescence-composite", reference=colour_image)


def test_a_missing_reference_file_is_named(pointwise_model, gray_image, tmp_path):
    with pytest.raises(ValueError, match=r"nope\.png"):
        colorize(gray_image, pointwise_model, reference=tmp_path / "nope.png")


def test_an_output_over_the_reference_is_refused(pointwise_model, gray_image, colour_image,
                                                 tmp_path):
    ref = tmp_path / "lab.ome.zarr"
    colorize(gray_image, pointwise_model, out=ref, tile_size=128, overlap=32)
    with pytest.raises(ValueError, match="is the reference"):
        colorize(gray_image, pointwise_model, out=ref, overwrite=True, reference=ref)
    assert (ref / "zarr.json").exists()


def test_cli_reference_is_repeatable(tmp_path, gray_image, colour_image, capsys):
    gray, a, b = tmp_path / "g.png", tmp_path / "a.png", tmp_path / "b.png"
    iio.imwrite(gray, gray_image)
    iio.imwrite(a, colour_image)
    iio.imwrite(b, colour_image[::-1])
    out = tmp_path / "o.tif"
    assert main(["colorize", str(gray), str(out), "--reference", str(a), "--reference", str(b),
                 "--quiet"]) == 0
    ref = colorize(gray_image, reference=[a, b]).rgb
    np.testing.assert_array_equal(iio.imread(out), ref)
    capsys.readouterr()
    assert main(["colorize", str(gray), str(tmp_path / "p.tif"), "--reference", str(gray),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"error: reference \S*g.png is not an RGB image", err)  # also the input
    assert err.count("\n") == 1


def test_a_fitted_map_is_reused_as_is(pointwise_model, colour_image, gray_image):
    config = resolve_config(ColorizeConfig(tile_size=128, overlap=32), pointwise_model)
    fitted = fit_reference(colour_image, pointwise_model, config)
    again = colorize(gray_image, pointwise_model, reference=fitted, tile_size=128, overlap=32)
    fresh = colorize(gray_image, pointwise_model, reference=colour_image, tile_size=128,
                     overlap=32)
    np.testing.assert_array_equal(again.rgb, fresh.rgb)
    assert again.reference == ("array 0",)


@pytest.mark.slow
def test_a_reference_unlike_the_models_domain_is_named(tmp_path, lab_slide):
    import skimage.data

    photo = tmp_path / "astronaut.png"
    iio.imwrite(photo, skimage.data.astronaut())
    gray = rgb_to_lab_np(lab_slide)[0]
    gray = (gray * 2.55).astype(np.uint8)
    with pytest.raises(ValueError, match=r"^reference .*astronaut\.png looks unlike the H&E "
                                         r"brightfield") as info:
        colorize(gray, "he-histology", reference=photo, device="cpu")
    assert "\n" not in str(info.value)
    # the same H&E slide as a reference passes, and the check can be switched off
    colorize(gray, "he-histology", reference=lab_slide, device="cpu")
    colorize(gray, "he-histology", reference=photo, device="cpu", domain_check=False)


def two_structures(seed: int) -> np.ndarray:
    """Fine (magenta) and coarse (cyan) checkerboards of L* 50 and 70: lightness alone cannot
    tell their colours apart, the network's features can."""
    from napari_colorize.training.evaluation import render

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:256, 0:256]
    textured = ((y // 32 + x // 32 + seed) % 2).astype(bool)
    fine, coarse = (y + x) % 2, (y // 8 + x // 8) % 2
    lightness = 50 + 20 * np.where(textured, fine, coarse) + rng.normal(0, 0.5, y.shape)
    a = np.where(textured, -20.0, 30.0)
    b = np.where(textured, -15.0, -10.0)
    return render(lightness, a, b)


def test_the_models_features_carry_a_structures_colour(tiny_model):
    reference, target = two_structures(0), two_structures(1)
    config = resolve_config(ColorizeConfig(tile_size=128, overlap=32), tiny_model)
    fitted = fit_reference(reference, tiny_model, config)
    assert fitted.head is not None
    assert fitted.head.shape == (2, 9)
    kw = {"from_rgb": True, "tile_size": 128, "overlap": 32}
    with_features = colorize(target, tiny_model, reference=fitted, **kw).rgb
    lightness_only = colorize(target, tiny_model, reference=replace(fitted, head=None), **kw).rgb
    truth = rgb_to_lab_np(target)
    errors = [float(ciede2000(rgb_to_lab_np(pred), truth).mean())
              for pred in (with_features, lightness_only)]
    assert errors[0] < 0.75 * errors[1], errors


def test_the_head_change_is_kept_by_resume_and_blocks(tiny_model, colour_image, gray_image,
                                                      tmp_path):
    config = resolve_config(ColorizeConfig(tile_size=128, overlap=32), tiny_model)
    fitted = fit_reference(colour_image, tiny_model, config)
    kw = {"reference": fitted, "tile_size": 128, "overlap": 32}
    whole = colorize(gray_image, tiny_model, **kw).rgb
    blocks = colorize(gray_image, tiny_model, block_size=256, **kw).rgb
    np.testing.assert_array_equal(whole, blocks)
    out = tmp_path / "r.ome.zarr"
    stored = np.asarray(colorize(gray_image, tiny_model, out=out, **kw).rgb)  # (c, y, x)
    np.testing.assert_array_equal(np.moveaxis(stored, 0, -1), whole)
    assert read_metadata(out)["reference"]["sha256"] == fitted.digest
    # the fitted map changed a copy of the network, not the caller's model
    assert not torch.equal(fitted.adapt(tiny_model).net.head.weight, tiny_model.net.head.weight)
    plain = colorize(gray_image, tiny_model, tile_size=128, overlap=32).rgb
    assert not np.array_equal(plain, whole)


def test_a_mapping_fitted_for_another_model_is_refused(tiny_model, colour_image, gray_image):
    config = resolve_config(ColorizeConfig(tile_size=128, overlap=32), tiny_model)
    fitted = fit_reference(colour_image, tiny_model, config)
    with pytest.raises(ValueError, match="fitted for another model; fit it again for "
                                         "he-histology") as info:
        colorize(gray_image, "he-histology", reference=fitted, domain_check=False)
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_a_reference_and_hints_together(lab_slide, tmp_path, capsys):
    # the hints correct the colours the reference gives; through the API and the CLI
    left, right = lab_slide[:, :512], np.ascontiguousarray(lab_slide[:, 512:])
    gray = np.round(rgb_to_lab_np(right)[0] * 2.55).astype(np.uint8)
    points = [[100, 100], [300, 200], [500, 400]]
    colours = [tuple(int(v) for v in right[r, c]) for r, c in points]
    adapted = colorize(gray, reference=left, device="cpu")
    both = colorize(gray, reference=left, hints=(points, colours), device="cpu")
    assert both.reference == ("array 0",)
    assert not np.array_equal(both.rgb, adapted.rgb)
    for (r, c), colour in zip(points, colours, strict=True):
        near = np.abs(both.rgb[r, c].astype(int) - colour).sum()
        assert near <= np.abs(adapted.rgb[r, c].astype(int) - colour).sum() + 3
    ref, hints = tmp_path / "left.png", tmp_path / "hints.csv"
    iio.imwrite(ref, left)
    iio.imwrite(tmp_path / "gray.png", gray)
    hints.write_text("row,col,r,g,b\n" + "".join(f"{r},{c},{','.join(map(str, colour))}\n"
                                                 for (r, c), colour in zip(points, colours,
                                                                           strict=True)))
    out = tmp_path / "both.png"
    assert main(["colorize", str(tmp_path / "gray.png"), str(out), "--reference", str(ref),
                 "--hints", str(hints), "--quiet", "--device", "cpu"]) == 0
    np.testing.assert_array_equal(iio.imread(out), both.rgb)
