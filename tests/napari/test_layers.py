"""Result-layer helpers, without Qt."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Image

from napari_colorize._napari._layers import (
    crop_box,
    format_progress,
    insert_index,
    made_by_widget,
    made_here,
    offset_transform,
    result_name,
    source_problem,
    transform_kwargs,
    widget_tag,
)


def test_result_name():
    assert result_name("nuclei") == "nuclei colorized"
    assert result_name("nuclei", "confidence") == "nuclei confidence"


def test_transform_kwargs_copies_placement():
    layer = Image(np.zeros((4, 8, 8)), scale=(2, 0.5, 0.25), translate=(1, 10, 20),
                  units=("um", "um", "um"), axis_labels=("z", "y", "x"))
    kw = transform_kwargs(layer)
    np.testing.assert_allclose(kw["scale"], (2, 0.5, 0.25))
    np.testing.assert_allclose(kw["translate"], (1, 10, 20))
    assert kw["axis_labels"] == ("z", "y", "x")
    copy = Image(np.zeros((4, 8, 8, 3), np.uint8), rgb=True, **kw)
    np.testing.assert_allclose(copy.scale, layer.scale)
    assert tuple(map(str, copy.units)) == tuple(map(str, layer.units))


def test_offset_transform_lands_crop_on_source():
    layer = Image(np.zeros((4, 100, 80)), scale=(3, 0.5, 2), translate=(5, 10, 20))
    kw = offset_transform(layer, (2, 30, 40))
    np.testing.assert_allclose(kw["translate"], (5 + 2 * 3, 10 + 30 * 0.5, 20 + 40 * 2))
    crop = Image(np.zeros((1, 5, 5)), **kw)
    np.testing.assert_allclose(crop.data_to_world((0, 0, 0)), layer.data_to_world((2, 30, 40)))


def test_offset_transform_with_rotation():
    layer = Image(np.zeros((100, 80)), scale=(2, 2), rotate=30, translate=(5, 7))
    crop = Image(np.zeros((5, 5)), **offset_transform(layer, (10, 20)))
    np.testing.assert_allclose(crop.data_to_world((3, 4)), layer.data_to_world((13, 24)))


@pytest.mark.parametrize(
    ("corners", "expected"),
    [
        ([[10.2, 20.7], [50.5, 60.0]], (slice(10, 52), slice(20, 61))),
        ([[-5, -5], [500, 500]], (slice(0, 100), slice(0, 120))),
    ],
)
def test_crop_box_rounds_out_and_clips(corners, expected):
    assert crop_box(np.array(corners), (100, 120)) == expected


def test_crop_box_scales_and_detects_nothing_visible():
    # pixel 10 of a 4x coarser level covers full-resolution pixels 40-43
    assert crop_box(np.array([[5, 5], [10, 10]]), (100, 100), (4, 4)) == (
        slice(20, 44), slice(20, 44))
    assert crop_box(np.array([[200, 200], [300, 300]]), (100, 100)) is None


def test_insert_index():
    assert insert_index(["a", "b", "c"], "b") == 2
    assert insert_index(["a", "b"], "gone") == 2


def test_source_problem_sentences():
    assert source_problem(Image(np.zeros((8, 8)), name="ok")) is None
    rgb = Image(np.zeros((40, 40, 3), np.uint8), rgb=True, name="he")
    assert "tick 'From RGB'" in source_problem(rgb)
    assert source_problem(rgb, from_rgb=True) is None
    flat = Image(np.zeros((1, 40, 3), np.uint8), rgb=True, name="flat")  # 2-D with colour
    assert source_problem(flat, from_rgb=True) is None

    class Fake:
        name, rgb = "line", False
        data = np.zeros(5)

    assert "1-D" in source_problem(Fake())
    Fake.data = np.zeros((0, 4))
    assert "empty" in source_problem(Fake())
    Fake.rgb, Fake.data = True, np.zeros((5, 3))  # one spatial axis and colour
    assert "1-D" in source_problem(Fake(), from_rgb=True)


def test_layers_the_plugin_made_are_tagged():
    ours = Image(np.zeros((8, 8, 3), np.uint8), rgb=True, metadata=widget_tag("colorized", "a"))
    assert made_here(ours)
    assert made_by_widget(ours)
    read = Image(np.zeros((8, 8, 3), np.uint8), metadata={"napari_colorize": {"kind": "x"}})
    assert made_here(read)  # a result read from disk: ours, but not this widget's to replace
    assert not made_by_widget(read)
    assert not made_here(Image(np.zeros((8, 8, 3), np.uint8), name="a colorized"))


def test_format_progress_counts_and_eta():
    assert format_progress(10, 40, 1, 4, 5.0) == "plane 2/4, tile 10/40, about 15 s left"
    assert format_progress(40, 40, 0, 1, 5.0) == "tile 40/40"
