"""The widget's "From RGB" option: an RGB layer's lightness is colorized; without it, refused."""

from __future__ import annotations

import numpy as np

from napari_colorize import ColorizeConfig, colorize
from napari_colorize._napari._job import PLANE, STACK


def test_checkbox_shows_for_rgb_layers_only(viewer_widget, colour_image, gray):
    viewer, widget = viewer_widget
    rgb = viewer.add_image(colour_image, name="slide", rgb=True)
    plain = viewer.add_image(gray, name="g")
    widget._layer_combo.value = plain
    assert not widget._from_rgb_check.visible
    widget._layer_combo.value = rgb
    assert widget._from_rgb_check.visible
    assert "From RGB" in widget._from_rgb_check.text


def test_checkbox_follows_the_pick_after_a_layer_is_removed(qtbot, viewer_widget, colour_image,
                                                            gray):
    viewer, widget = viewer_widget
    plain = viewer.add_image(gray, name="g")
    rgb = viewer.add_image(colour_image, name="slide", rgb=True)
    widget._layer_combo.value = plain
    viewer.layers.remove(plain)  # the pick moves to the RGB layer; the box shows after the event
    qtbot.waitUntil(lambda: widget._from_rgb_check.visible, timeout=2000)
    assert widget._layer_combo.value is rgb
    viewer.layers.remove(rgb)
    qtbot.waitUntil(lambda: not widget._from_rgb_check.visible, timeout=2000)


def test_rgb_layer_without_from_rgb_is_refused(viewer_widget, colour_image, notices):
    viewer, widget = viewer_widget
    widget._layer_combo.value = viewer.add_image(colour_image, name="slide", rgb=True)
    assert widget._on_run() is None
    assert notices == ["Layer 'slide' is RGB: tick 'From RGB' to colorize its lightness, "
                       "or pick a grayscale image layer."]
    assert widget._run_button.enabled
    assert "slide colorized" not in viewer.layers


def test_from_rgb_colorizes_the_lightness(qtbot, viewer_widget, colour_image, run_and_wait):
    viewer, widget = viewer_widget
    widget._device_combo.value = "cpu"
    src = viewer.add_image(colour_image, name="slide", rgb=True, scale=(0.5, 0.5))
    widget._layer_combo.value = src
    widget._from_rgb_check.value = True
    run_and_wait(widget)
    out = viewer.layers["slide colorized"]
    assert out.rgb
    assert out.data.shape == colour_image.shape
    np.testing.assert_allclose(out.scale, src.scale)
    model = widget._models[("tiny", "cpu")]
    # the widget's untouched settings are the library's defaults
    expected = colorize(colour_image, model, config=ColorizeConfig(from_rgb=True),
                        device="cpu").rgb
    np.testing.assert_array_equal(out.data, expected)
    assert not np.array_equal(out.data, colour_image)  # re-stained, not the input


def test_from_rgb_stack_and_plane(qtbot, viewer_widget, colour_image, run_and_wait):
    viewer, widget = viewer_widget
    stack = np.stack([colour_image[:256, :256], colour_image[64:, 64:]])
    src = viewer.add_image(stack, name="rgb stack", rgb=True)
    widget._layer_combo.value = src
    widget._from_rgb_check.value = True
    widget._scope_combo.value = STACK
    worker = widget._on_run()
    assert viewer.layers["rgb stack colorized (running)"].data.shape == stack.shape
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        pass
    qtbot.waitUntil(lambda: widget._worker is None, timeout=60_000)
    assert viewer.layers["rgb stack colorized"].data.shape == stack.shape
    assert "rgb stack colorized (running)" not in viewer.layers

    viewer.dims.set_current_step(0, 1)
    widget._scope_combo.value = PLANE
    run_and_wait(widget)
    plane = viewer.layers["rgb stack colorized (plane)"]
    assert plane.data.shape == (1, 256, 256, 3)
    np.testing.assert_array_equal(plane.data[0], viewer.layers["rgb stack colorized"].data[1])
