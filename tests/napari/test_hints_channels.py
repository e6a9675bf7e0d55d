"""Widget: colour hints as a Points layer (live re-colorize) and one layer per channel."""

from __future__ import annotations

import numpy as np

from napari_colorize._napari._hints import hints_name


def _result(viewer, name="img colorized"):
    return np.asarray(viewer.layers[name].data)


def test_hint_layer_steers_the_colour(qtbot, viewer_widget, gray, run_and_wait):
    viewer, widget = viewer_widget
    layer = viewer.add_image(gray, name="img", scale=(2.0, 2.0))
    widget._layer_combo.value = layer
    widget._hints._live.value = False
    run_and_wait(widget)
    before = _result(viewer).copy()
    points = widget._hints.add_hints_layer()
    assert points.name == hints_name("img")
    np.testing.assert_allclose(points.scale, layer.scale)  # overlays the image exactly
    assert points.mode == "add"
    widget._hints.set_colour((0.1, 0.2, 0.9))
    points.add([[100, 120]])
    run_and_wait(widget)
    after = _result(viewer)
    assert np.abs(after[100, 120].astype(int) - before[100, 120]).sum() > 10
    blue_shift = (after[..., 2].astype(int) - after[..., 0]) - (before[..., 2].astype(int)
                                                                - before[..., 0])
    assert blue_shift[95:105, 115:125].mean() > 5


def test_live_hint_recolorizes_the_visible_region(qtbot, viewer_widget, gray):
    viewer, widget = viewer_widget
    layer = viewer.add_image(gray, name="img")
    widget._layer_combo.value = layer
    points = widget._hints.add_hints_layer()
    points.add([[30, 40]])
    qtbot.waitUntil(lambda: widget._worker is not None, timeout=5_000)  # debounced re-run
    qtbot.waitUntil(lambda: widget._worker is None, timeout=60_000)
    assert "img colorized (region)" in viewer.layers  # a preview, beside any full result
    assert "1 hint" in widget._hints._status.value


def test_hint_colour_from_a_reference_layer(qtbot, viewer_widget, gray):
    viewer, widget = viewer_widget
    layer = viewer.add_image(gray, name="img")
    reference = np.zeros((*gray.shape, 3), np.uint8)
    reference[..., 1] = 200  # green everywhere
    viewer.add_image(reference, name="truth", rgb=True)
    widget._layer_combo.value = layer
    widget._hints._live.value = False
    widget._hints._reference.reset_choices()
    widget._hints._reference.value = viewer.layers["truth"]
    points = widget._hints.add_hints_layer()
    points.add([[10, 10]])
    np.testing.assert_allclose(points.face_color[0, :3], [0, 200 / 255, 0], atol=1e-6)
    widget._hints._reference.value = None  # back to the picker: its colour, not the last one
    points.add([[20, 20]])
    button = widget._hints._colour_button.text.rsplit("#", 1)[1]
    assert "".join(f"{round(v * 255):02x}" for v in points.face_color[1, :3]) == button


def test_hint_colours_never_come_from_results(qtbot, viewer_widget, gray, run_and_wait):
    viewer, widget = viewer_widget
    widget._layer_combo.value = viewer.add_image(gray, name="img")
    truth = viewer.add_image(np.zeros((*gray.shape, 3), np.uint8), name="truth", rgb=True)
    widget._hints._live.value = False
    run_and_wait(widget)
    assert "img colorized" in viewer.layers
    widget._hints._reference.reset_choices()
    assert [c for c in widget._hints._reference.choices if c is not None] == [truth]


def test_hint_on_another_plane_is_counted_until_a_run_uses_it(qtbot, viewer_widget, gray,
                                                               run_and_wait):
    viewer, widget = viewer_widget
    layer = viewer.add_image(np.stack([gray, gray]), name="img")
    widget._layer_combo.value = layer
    widget._hints._live.value = False
    points = widget._hints.add_hints_layer()
    points.add([[1, 30, 30]])
    viewer.dims.set_point(0, 0)
    widget._scope_combo.value = "current plane"
    run_and_wait(widget)
    assert widget._hints._status.value == "1 hint; 1 hint on another plane"
    widget._scope_combo.value = "whole stack"
    run_and_wait(widget)  # used the hint: the note goes
    assert widget._hints._status.value == "1 hint"
    points.add([[1, 300, 30]])
    run_and_wait(widget)
    assert widget._hints._status.value == "2 hints; 1 hint outside the image ignored"


def test_one_layer_per_channel(qtbot, viewer_widget, fraction_model_dir, gray, run_and_wait):
    viewer, widget = viewer_widget
    widget._model_combo.reset_choices()
    widget._model_combo.value = "tiny-fractions"
    widget._layer_combo.value = viewer.add_image(gray, name="img")
    widget._channels_check.value = True
    widget._hints._live.value = False
    widget._hints.add_hints_layer().add([[30, 40]])  # a colour hint left from a colour model
    run_and_wait(widget)  # is not an error for a channel model
    for name, colour in (("nuclei", [0, 1, 1, 1]), ("other", [1, 0, 1, 1])):
        channel = viewer.layers[f"img {name}"]
        assert channel.blending == "additive"
        np.testing.assert_allclose(channel.colormap.colors[-1], colour)
        assert channel.data.shape == gray.shape
    assert viewer.layers["img colorized"].rgb


def test_a_replaced_hints_layer_no_longer_triggers_runs(qtbot, viewer_widget, gray):
    viewer, widget = viewer_widget
    first = viewer.add_image(gray, name="a")
    second = viewer.add_image(gray, name="b")
    widget._hints._live.value = False
    widget._layer_combo.value = first
    old = widget._hints.add_hints_layer()
    widget._layer_combo.value = second
    new = widget._hints.add_hints_layer()
    scheduled = []
    widget._hints._schedule = lambda: scheduled.append(1)
    old.add([[10, 10]])  # the image no longer picked: no run
    assert scheduled == []
    new.add([[20, 20]])
    assert scheduled  # the picked image's hints still do
    assert widget._hints._status.value.startswith("1 hint")
