"""Colour hints: local and global effect, independent of tiling, stored, bad input."""

import numpy as np
import pytest
import torch

from napari_colorize import HintWarning, colorize, iter_colorize
from napari_colorize.core.color import max_chroma, rgb_uint8_to_lab
from napari_colorize.core.hints import parse_hints, read_hints_csv
from napari_colorize.io.readers import read_metadata

BLUE = (40, 60, 200)


@pytest.fixture
def flat() -> np.ndarray:
    """Two gray levels in stripes: pixels of one level are 'the same structure'."""
    image = np.full((256, 256), 150, np.uint8)
    image[:, ::8] = 90
    return image


def chroma_at(rgb: np.ndarray, row: int, col: int) -> np.ndarray:
    return rgb_uint8_to_lab(rgb[row : row + 1, col : col + 1]).numpy()[1:, 0, 0]


def test_hint_moves_its_structure_towards_the_hint_colour(pointwise_model, flat):
    base = colorize(flat, pointwise_model, tile_size=64, overlap=16).rgb
    hinted = colorize(flat, pointwise_model, tile_size=64, overlap=16,
                      hints=([[20, 21]], [BLUE])).rgb
    want = chroma_at(np.array([[BLUE]], np.uint8), 0, 0)
    near_before, near_after = chroma_at(base, 20, 22), chroma_at(hinted, 20, 22)
    assert np.linalg.norm(near_after - want) < 0.3 * np.linalg.norm(near_before - want)
    # far away, in another tile, the same structure moves too (the hint is not cut by tiling)
    far_before, far_after = chroma_at(base, 230, 229), chroma_at(hinted, 230, 229)
    assert np.linalg.norm(far_after - want) < 0.8 * np.linalg.norm(far_before - want)
    # the other structure (the dark stripes) changes less than the hinted one
    other = np.linalg.norm(chroma_at(hinted, 20, 24) - chroma_at(base, 20, 24))
    assert other < 0.6 * np.linalg.norm(near_after - near_before)


def test_hints_do_not_depend_on_tiling(pointwise_model, flat):
    hints = ([[20, 21], [200, 100]], [BLUE, (200, 80, 120)])
    a = colorize(flat, pointwise_model, tile_size=64, overlap=16, blending="constant",
                 hints=hints).rgb
    b = colorize(flat, pointwise_model, tile_size=256, overlap=0, blending="constant", hints=hints,
                 block_size=96).rgb
    np.testing.assert_array_equal(a, b)


def test_no_hints_changes_nothing(pointwise_model, flat):
    np.testing.assert_array_equal(colorize(flat, pointwise_model, hints=([], [])),
                                  colorize(flat, pointwise_model))


def test_hints_outside_are_ignored_and_counted(pointwise_model, flat):
    gen = iter_colorize(flat, pointwise_model, hints=([[10, 10], [-5, 3], [10, 400]], [BLUE] * 3))
    with pytest.warns(HintWarning, match="2 of 3 hints"):
        assert "2 of 3 hints outside the image ignored" in next(gen).message
    gen.close()


def test_hints_on_missing_planes_are_warned(pointwise_model, flat):
    stack = np.stack([flat, flat])
    for plane in (5, -1):  # a plane the stack lacks: left out, and said so
        with pytest.warns(HintWarning, match="1 of 1 hints outside the image ignored"):
            result = colorize(stack, pointwise_model, hints=([[plane, 10, 10]], [BLUE]))
        assert result.hints_ignored == 1


def test_hints_on_planes_of_a_stack(pointwise_model, flat):
    """A hint's local correction stays in its plane; its lab-wide part (the stain's offset)
    recolours every plane of the stack alike."""
    stack = np.stack([flat, flat, flat])
    out = colorize(stack, pointwise_model, hints=([[1, 20, 21]], [BLUE])).rgb
    assert not np.array_equal(out[0], out[1])  # only plane 1 has the local correction
    np.testing.assert_array_equal(out[0], out[2])  # the lab-wide part is the same everywhere
    plain = colorize(flat, pointwise_model).rgb
    assert not np.array_equal(out[0], plain)
    lab = rgb_uint8_to_lab(out[0]).numpy()
    ref = rgb_uint8_to_lab(plain).numpy()
    assert np.abs(lab[0] - ref[0]).max() < 1  # lightness kept
    assert (lab[2] - ref[2]).mean() < -1  # moved toward the hint's blue (b* down)


def lab_at(rgb: np.ndarray, row: int, col: int) -> tuple[float, float, float]:
    """Lightness, chroma and hue (degrees) of one pixel."""
    lightness, a, b = rgb_uint8_to_lab(rgb[row : row + 1, col : col + 1]).numpy()[:, 0, 0]
    return float(lightness), float(np.hypot(a, b)), float(np.degrees(np.arctan2(b, a)))


def lightness_change(a: np.ndarray, b: np.ndarray) -> float:
    return float((rgb_uint8_to_lab(a)[0] - rgb_uint8_to_lab(b)[0]).abs().max())


def test_gray_and_out_of_gamut_hints_are_accepted(pointwise_model, flat):
    out = colorize(flat, pointwise_model, hints=([[20, 21], [40, 41]], [(128, 128, 128),
                                                                         (0, 255, 0)])).rgb
    assert out.shape == (*flat.shape, 3)
    base = colorize(flat, pointwise_model).rgb
    assert lightness_change(out, base) < 1  # hints change colour, never the image's lightness
    near, far = (20, 22), (230, 229)  # same structure as the hint: close by, across the plane
    _, base_chroma, _ = lab_at(base, *near)

    # a gray hint asks for no colour: strongly near it, more weakly far away, L kept
    gray = colorize(flat, pointwise_model, hints=([[20, 21]], [(128, 128, 128)])).rgb
    assert lightness_change(gray, base) < 1
    _, near_chroma, _ = lab_at(gray, *near)
    _, far_chroma, _ = lab_at(gray, *far)
    # most of the colour goes (a few chroma units of any request count as a pixel's noise)
    assert near_chroma < 0.45 * base_chroma
    assert near_chroma < far_chroma < base_chroma

    # pure green at this lightness is outside sRGB: reduced into the gamut like any prediction,
    # keeping the image's lightness (not the hint's L* 88) and the hint's hue
    green = colorize(flat, pointwise_model, hints=([[20, 21]], [(0, 255, 0)])).rgb
    assert lightness_change(green, base) < 1
    _, _, want_hue = lab_at(np.array([[[0, 255, 0]]], np.uint8), 0, 0)
    lightness, chroma, hue = lab_at(green, *near)
    limit = float(max_chroma(torch.tensor([lightness]), torch.tensor([np.radians(hue)]))[0])
    assert abs(hue - want_hue) < 5
    assert 0.95 * limit < chroma < limit + 0.5  # at the gamut's edge, not beyond it
    _, far_chroma, far_hue = lab_at(green, *far)
    assert abs(far_hue - want_hue) < 10  # far away the structure turns green too, less so
    assert base_chroma < far_chroma < chroma


def test_hints_are_stored_with_the_result(pointwise_model, flat, tmp_path):
    out = tmp_path / "h.ome.zarr"
    colorize(flat, pointwise_model, out=out, hints=([[20, 21]], [BLUE]))
    stored = read_metadata(out)["hints"]
    assert stored["points"] == [[20.0, 21.0]]
    assert np.allclose(stored["colors"], [np.array(BLUE) / 255], atol=1e-4)


def test_hints_from_csv(pointwise_model, flat, tmp_path):
    path = tmp_path / "hints.csv"
    path.write_text("row,col,r,g,b\n20,21,40,60,200\n")
    np.testing.assert_array_equal(colorize(flat, pointwise_model, hints=path),
                                  colorize(flat, pointwise_model, hints=([[20, 21]], [BLUE])))


def test_bad_hints(pointwise_model, flat, tmp_path):
    with pytest.raises(ValueError, match="one RGB colour per point"):
        colorize(flat, pointwise_model, hints=([[1, 2], [3, 4]], [BLUE]))
    stack = np.stack([flat] * 2)
    with pytest.raises(ValueError, match=r"3 coordinates each .* shaped \(3, 2\)"):
        colorize(stack, pointwise_model, hints=([[1, 2], [3, 4], [5, 6]], [BLUE] * 3))
    with pytest.raises(ValueError, match="must be numbers"):
        colorize(flat, pointwise_model, hints=([["a", "b"]], [BLUE]))
    path = tmp_path / "bad.csv"
    path.write_text("1,2,3\n")
    with pytest.raises(ValueError, match="has 3 columns; expected 5"):
        colorize(flat, pointwise_model, hints=path)


# --- CSV files as spreadsheet programs write them ----------------------------------------------


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        ("20,21,40,60,200\n30,31,0,0,255\n", "utf-8-sig"),  # Excel "CSV UTF-8": a BOM first
        ("row,col,r,g,b\n20,21,40,60,200\n30,31,0,0,255\n", "utf-8-sig"),
        ('"20","21","40","60","200"\r\n"30","31","0","0","255"\r\n', "utf-8"),
        ('"row", "col", "r", "g", "b"\n"20", "21", "40", "60", "200"\n30,31,0,0,255\n', "utf-8"),
        ("20;21;40;60;200\n30;31;0;0;255\n", "utf-8"),  # European Excel
        ("axis-0;axis-1;r;g;b\n20;21;40;60;200\n30;31;0;0;255\n", "utf-8-sig"),
        ("y\tx\tr\tg\tb\n20\t21\t40\t60\t200\n30\t31\t0\t0\t255\n", "utf-8"),
        ("20,\t21,\t40,\t60,\t200\n30,\t31,\t0,\t0,\t255\n", "utf-8"),  # tabs as spaces
    ],
    ids=["bom", "bom-header", "quoted", "quoted-header", "semicolon", "semicolon-header-bom",
         "tab", "comma-then-tab"],
)
def test_hint_csv_from_spreadsheets(tmp_path, content, encoding):
    path = tmp_path / "hints.csv"
    path.write_bytes(content.encode(encoding))
    points, colours = read_hints_csv(path, ndim=2)
    np.testing.assert_array_equal(points, [[20, 21], [30, 31]])
    np.testing.assert_array_equal(colours, [[40, 60, 200], [0, 0, 255]])
    assert len(parse_hints(path, ndim=2)) == 2


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("1O,10,200,0,0\n20,20,0,0,200\n", "line 1: '1O' is not a number"),
        ("\ufeff1O,10,200,0,0\n", "line 1: '1O' is not a number"),
        ("y,x,r,g,b\n1O,10,200,0,0\n", "line 2: '1O' is not a number"),
        ("10,x,200,0,0\n", "line 1: 'x' is not a number"),
        ("10;10;200;0\n", "line 1 has 4 columns; expected 5"),
        ("y\tx\tr\tg\tb\n10\t10\t200\t0\t0\t0\n", "line 2 has 6 columns; expected 5"),
        ("1,5;2,5;200;0;0\n", "line 1: '1,5' is not a number"),  # decimal commas are not read
        ("y;x;r;g;b\n", "holds no hint rows"),
    ],
    ids=["typo-first-row", "typo-after-bom", "typo-after-header", "word-in-first-row",
         "semicolon-short", "tab-long", "decimal-comma", "header-only"],
)
def test_bad_hint_csv_rows_are_one_line_naming_file_and_row(tmp_path, content, match):
    path = tmp_path / "hints.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=match) as info:
        read_hints_csv(path, ndim=2)
    assert str(info.value).startswith(f"hints {path} ")
    assert "\n" not in str(info.value)


def test_hint_colours_in_two_scales_are_refused():
    with pytest.raises(ValueError, match=r"mix 0-1 and 0-255: colour 1 is \(0.5, 0.5, 1.0\)"):
        parse_hints(([[1, 2], [3, 4]], [(255, 0, 0), (0.5, 0.5, 1.0)]), ndim=2)
    both = parse_hints(([[1, 2], [3, 4]], [(255, 0, 0), (0, 0, 1)]), ndim=2)  # whole: 0-255
    np.testing.assert_allclose(both.colours[1], (0, 0, 1 / 255))


def test_hints_between_planes_are_refused():
    with pytest.raises(ValueError, match=r"hint 1 lies between planes \(plane coordinates \[0.5"):
        parse_hints(([[0, 1, 2], [0.5, 3, 4]], [(255, 0, 0)] * 2), ndim=3)
    # napari's float coordinates of a clicked plane, and fractional rows and columns, are fine
    parse_hints(([[2.0000001, 1.5, 2.25]], [(255, 0, 0)]), ndim=3)
