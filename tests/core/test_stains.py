"""Named stains and the Beer-Lambert rendering: names, table, exactness, lightness, errors."""

import numpy as np
import pytest
import torch
from skimage.color import colorconv, rgb2lab

from napari_colorize import colorize
from napari_colorize.cli import main
from napari_colorize.core.stain_render import Restain, make_restain
from napari_colorize.core.stains import find_stain, stain_table


def test_table_records_vectors_sources_and_publications():
    table = stain_table()
    assert {"H&E", "H DAB", "Masson Trichrome", "Azan-Mallory", "QuPath H&E",
            "skimage hed"} <= set(table)
    for stain in table.values():
        m = stain.matrix()
        assert m.shape == (2, 3)
        np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0)
        assert (m >= 0).all()
        assert stain.source
        assert stain.reference
    # scikit-image's rows are read from the installed scikit-image, not copied
    np.testing.assert_allclose(table["skimage hdx"].vectors, colorconv.rgb_from_hdx[:2])
    # QuPath's eosin differs from Fiji's
    assert not np.allclose(table["QuPath H&E"].matrix()[1], table["H&E"].matrix()[1], atol=0.05)


@pytest.mark.parametrize(("name", "expected"), [
    ("H&E", "H&E"), ("h e", "H&E"), ("HE", "H&E"), ("H-DAB", "H DAB"), ("h_dab", "H DAB"),
    ("masson trichrome", "Masson Trichrome"), ("rgb_from_hed", "skimage hed"),
    ("HED", "skimage hed"), ("qupath h-dab", "QuPath H-DAB"), ("azan mallory", "Azan-Mallory"),
])
def test_names_fold_case_spaces_and_punctuation(name, expected):
    assert find_stain(name).name == expected


def test_unknown_stain_lists_close_matches_in_one_line():
    with pytest.raises(ValueError, match="unknown stain 'H&E DAPI'; close matches: H&E DAB"):
        find_stain("H&E DAPI")
    with pytest.raises(TypeError, match="stain must be a stain name"):
        find_stain(3)


def test_empty_stain_and_colours_are_the_defaults():
    from napari_colorize.core.config import ColorizeConfig

    config = ColorizeConfig(stain="", colors=" ")
    assert (config.stain, config.colors) == (None, None)


def _lab(n=4096, seed=0):
    rng = np.random.default_rng(seed)
    lightness = torch.from_numpy(rng.uniform(20, 95, n).astype(np.float32))
    ab = torch.from_numpy(rng.normal(0, 20, (2, n)).astype(np.float32))
    return lightness, ab


def test_own_dyes_give_the_prediction_back():
    assert make_restain("H&E", None) is None  # the default: nothing to compute
    source = find_stain("H&E").matrix()
    lightness, ab = _lab()
    before = ab.clone()
    Restain(source, source, "same").apply(lightness, ab)
    # the residual is kept, so only the trip through sRGB and its gamut changes anything
    from napari_colorize.core.color import fit_chroma

    fitted = fit_chroma(torch.cat([lightness[None], before]))[1:]
    assert float((ab - fitted).abs().max()) < 0.05


def test_rendering_is_pointwise():
    """A pixel's colour does not depend on its neighbours (to float rounding; the engine's
    tests below check that tiles and blocks give the same bytes)."""
    restain = make_restain("Masson Trichrome", "nuclei black")
    lightness, ab = _lab(n=3 * (1 << 18) + 77)  # several bands and a ragged tail
    whole = ab.clone()
    restain.apply(lightness, whole)
    parts = ab.clone()
    for part in (slice(0, 1000), slice(1000, 1003), slice(1003, ab.shape[1])):
        piece = parts[:, part].clone()
        restain.apply(lightness[part], piece)
        parts[:, part] = piece
    torch.testing.assert_close(whole, parts, atol=1e-3, rtol=0)


def test_h_dab_turns_eosin_brown():
    lightness = torch.full((1,), 70.0)
    ab = torch.tensor([[35.0], [-8.0]])  # eosin pink
    make_restain("H DAB", None).apply(lightness, ab)
    hue = np.degrees(np.arctan2(float(ab[1, 0]), float(ab[0, 0])))
    assert 45 < hue < 90  # brown-yellow, where pink was at about -13 degrees


def test_colour_words_set_the_dyes():
    lightness = torch.full((1,), 50.0)
    ab = torch.tensor([[10.0], [-30.0]])  # haematoxylin purple-blue
    make_restain(None, "nuclei dark green").apply(lightness, ab)
    assert float(ab[0, 0]) < -5  # green: negative a*
    with pytest.raises(ValueError, match="unknown colour 'greeen'; close: green, seagreen"):
        make_restain(None, "nuclei greeen")
    with pytest.raises(ValueError, match="'cells red' does not start with a structure word"):
        make_restain(None, "cells red")
    with pytest.raises(ValueError, match="too light to render a dye"):
        make_restain(None, "nuclei white")


def test_tiles_blocks_and_lightness_with_a_stain(pointwise_model, tiny_model, gray_image,
                                                 tmp_path):
    whole = colorize(gray_image, pointwise_model, tile_size=512, overlap=0,
                     blending="constant", stain="H DAB").rgb
    tiled = colorize(gray_image, pointwise_model, tile_size=128, overlap=32,
                     blending="constant", block_size=160, stain="H DAB").rgb
    np.testing.assert_array_equal(tiled, whole)
    stack = np.stack([gray_image, gray_image[::-1]])  # planes: the same as one at a time
    planes = colorize(stack, pointwise_model, tile_size=128, overlap=32, blending="constant",
                      stain="H DAB").rgb
    np.testing.assert_array_equal(planes[0], whole)
    plain = colorize(gray_image, tiny_model, device="cpu").rgb
    stained = colorize(gray_image, tiny_model, device="cpu", stain="Giemsa",
                       colors="cytoplasm orchid")
    assert not np.array_equal(stained.rgb, plain)
    gray_l = rgb2lab(np.repeat(gray_image[..., None], 3, -1))[..., 0]
    d = np.abs(rgb2lab(stained.rgb)[..., 0] - gray_l)
    assert d.mean() <= 0.5
    assert np.percentile(d, 99.9) <= 1.5
    # an OME-Zarr records it; its blocks equal the in-memory result
    out = tmp_path / "s.ome.zarr"
    colorize(gray_image, tiny_model, device="cpu", stain="Giemsa", colors="cytoplasm orchid",
             out=out, block_size=128)
    import zarr

    group = zarr.open_group(out, mode="r")
    np.testing.assert_array_equal(np.moveaxis(np.asarray(group["0"]), 0, -1), stained.rgb)
    assert group.attrs["napari_colorize"]["stain"] == "Giemsa; cytoplasm orchid"


def test_channel_models_refuse_a_stain_in_one_line(tmp_path, gray_image, capsys):
    with pytest.raises(ValueError, match=r"stain needs a colour .chroma. model") as info:
        colorize(gray_image, "fluorescence-composite", stain="H DAB", device="cpu")
    assert "\n" not in str(info.value)
    with pytest.raises(TypeError, match="stain must be a string"):
        colorize(gray_image, "he-histology", stain=["H DAB"], device="cpu")
    import imageio.v3 as iio

    iio.imwrite(tmp_path / "g.png", gray_image)
    assert main(["colorize", str(tmp_path / "g.png"), str(tmp_path / "o.png"), "--stain",
                 "H&E DAPI", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown stain 'H&E DAPI'; close matches" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "o.png").exists()


def test_palette_words_name_each_channel():
    from napari_colorize.core.render import parse_palette

    names = ("nuclear", "cytoplasmic", "diffuse")
    palette = parse_palette("nuclear cyan, cytoplasmic magenta, diffuse gray", names)
    np.testing.assert_allclose(palette, [[0, 1, 1], [1, 0, 1], [0.5, 0.5, 0.5]])
    in_order = parse_palette("dark orange, #00ff00, DarkSlateBlue", names)
    np.testing.assert_allclose(in_order[0], [1.0, 140 / 255, 0.0])
    with pytest.raises(ValueError, match="palette gives no colour for diffuse"):
        parse_palette("nuclear cyan, cytoplasmic magenta", names)
    with pytest.raises(ValueError, match="unknown colour 'cyann'; close: cyan"):
        parse_palette("nuclear cyann, cytoplasmic magenta, diffuse gray", names)
    with pytest.raises(ValueError, match="'nuclear' is given two colours"):
        parse_palette("nuclear cyan, nuclear red, diffuse gray", names)
    with pytest.raises(ValueError, match="unknown colour 'nonsense'"):
        parse_palette("nonsense", names)
