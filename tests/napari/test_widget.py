"""The Colorize widget in a shown viewer (real canvas under Xvfb), with a tiny model."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import QTimer

from napari_colorize._napari._job import PLANE, STACK, VISIBLE


def test_run_adds_one_rgb_layer_above_source(qtbot, viewer_widget, gray, run_and_wait):
    viewer, widget = viewer_widget
    viewer.add_image(np.zeros((8, 8)), name="other")
    src = viewer.add_image(gray, name="cells", scale=(0.5, 0.25), translate=(10, -4))
    viewer.layers.move(viewer.layers.index(src), 0)  # results go above the source, not on top
    widget._layer_combo.value = src
    before = len(viewer.layers)
    run_and_wait(widget)
    assert len(viewer.layers) == before + 1
    out = viewer.layers["cells colorized"]
    assert viewer.layers.index(out) == viewer.layers.index(src) + 1
    assert out.rgb
    assert out.data.dtype == np.uint8
    assert out.data.shape == (*gray.shape, 3)
    np.testing.assert_allclose(out.scale, src.scale)
    np.testing.assert_allclose(out.translate, src.translate)
    np.testing.assert_array_equal(src.data, gray)  # the source is untouched

    run_and_wait(widget)  # a second run replaces the first result
    assert [lay.name for lay in viewer.layers].count("cells colorized") == 1
    assert len(viewer.layers) == before + 1


def test_whole_stack_and_current_plane(qtbot, viewer_widget, gray, run_and_wait):
    viewer, widget = viewer_widget
    stack = np.stack([gray[:128, :128], gray[64:192, :128], gray[128:, 128:]])
    src = viewer.add_image(stack, name="stack", scale=(2.0, 1.0, 1.0))
    widget._layer_combo.value = src
    widget._scope_combo.value = STACK
    run_and_wait(widget)
    out = viewer.layers["stack colorized"]
    assert out.data.shape == (*stack.shape, 3)
    assert all(out.data[z].any() for z in range(3))  # every plane was filled

    viewer.dims.set_current_step(0, 2)
    widget._scope_combo.value = PLANE
    run_and_wait(widget)
    out = viewer.layers["stack colorized (plane)"]
    assert out.data.shape == (1, 128, 128, 3)
    np.testing.assert_allclose(out.translate, (4.0, 0, 0))  # plane 2 at z scale 2
    assert viewer.layers["stack colorized"].data.shape == (*stack.shape, 3)  # kept

    viewer.dims.order = (1, 0, 2)  # y on the slider: a plane would not be the image's plane
    errors = []
    monkey = pytest.MonkeyPatch()
    monkey.setattr("napari_colorize._napari._widget.show_error", errors.append)
    assert widget._on_run() is None
    monkey.undo()
    assert "last two axes" in errors[0]


def test_multiscale_source_and_a_user_layer_of_the_result_name(viewer_widget, gray,
                                                                run_and_wait):
    viewer, widget = viewer_widget
    pyramid = [gray, gray[::2, ::2]]
    src = viewer.add_image(pyramid, name="pyr", multiscale=True)
    mine = viewer.add_image(np.zeros((4, 4)), name="pyr colorized")  # the user's own layer
    widget._layer_combo.value = src
    run_and_wait(widget)
    assert mine in viewer.layers  # never replaced
    ours = [lay for lay in viewer.layers if lay.name.startswith("pyr colorized") and lay.rgb]
    assert len(ours) == 1
    assert ours[0].data.shape == (*gray.shape, 3)


def test_visible_region_crops_to_canvas(qtbot, viewer_widget, run_and_wait):
    viewer, widget = viewer_widget
    image = (np.random.default_rng(0).random((600, 600)) * 255).astype(np.uint8)
    src = viewer.add_image(image, name="big", scale=(2.0, 2.0))
    viewer.scene.camera.center = (600, 600)
    viewer.scene.camera.zoom = viewer.scene.camera.zoom * 4
    qtbot.wait(300)  # let the canvas redraw so the layer knows its visible corners
    widget._layer_combo.value = src
    widget._scope_combo.value = VISIBLE
    run_and_wait(widget)
    out = viewer.layers["big colorized (region)"]
    h, w = out.data.shape[:2]
    assert 16 < h < 600
    assert 16 < w < 600
    corner = np.asarray(out.translate) / 2  # data offset of the crop in the source
    assert np.all(corner > 0)
    # the crop covers the view centre (pixel 300, 300 of the source)
    assert np.all(corner <= 300)
    assert np.all(corner + np.array([h, w]) >= 300)


def test_visible_region_of_a_zoomed_chunked_pyramid(qtbot, viewer_widget, run_and_wait):
    # napari widens a chunked multiscale layer's corner pixels to whole chunks and keeps them
    # while the view zooms in; the region follows the camera instead
    da = pytest.importorskip("dask.array")
    viewer, widget = viewer_widget
    base = (np.random.default_rng(0).random((2048, 2048)) * 255).astype(np.uint8)
    pyramid = [da.from_array(base[::f, ::f], chunks=512) for f in (1, 2, 4)]
    src = viewer.add_image(pyramid, multiscale=True, name="chunked", translate=(5, 7))
    qtbot.wait(200)
    viewer.camera.center = (0, 1000 + 5, 1200 + 7)
    viewer.camera.zoom = 8
    qtbot.wait(300)
    widget._layer_combo.value = src
    widget._scope_combo.value = VISIBLE
    run_and_wait(widget)
    out = viewer.layers["chunked colorized (region)"]
    h, w = out.data.shape[:2]
    view = np.asarray(viewer.canvas.size) / viewer.camera.zoom
    assert h <= view[0] + 4
    assert w <= view[1] + 4
    top, left = np.asarray(out.translate) - (5, 7)
    assert top <= 1000 <= top + h
    assert left <= 1200 <= left + w


def test_cancel_leaves_no_layer(qtbot, viewer_widget, gray):
    viewer, widget = viewer_widget
    stack = np.tile(gray, (6, 2, 2))  # 6 planes x 4 tiles: many batches to cancel between
    src = viewer.add_image(stack, name="stack")
    widget._layer_combo.value = src
    widget._scope_combo.value = STACK
    widget._tile_combo.value = 256
    widget._overlap_spin.value = 0
    names = [lay.name for lay in viewer.layers]
    worker = widget._on_run()
    with qtbot.waitSignal(worker.yielded, timeout=30_000):
        pass
    assert "stack colorized (running)" in viewer.layers  # planes were showing up
    assert widget.rerun_visible() is None  # e.g. a hint edited during the run: queued
    widget._on_cancel()
    qtbot.waitUntil(lambda: widget._worker is None, timeout=30_000)
    qtbot.wait(200)
    assert widget._worker is None  # Cancel also dropped the queued re-run
    assert [lay.name for lay in viewer.layers] == names
    assert widget._run_button.enabled
    assert widget._status.value == "Cancelled."


def test_event_loop_runs_during_a_run(qtbot, viewer_widget, gray, run_and_wait):
    viewer, widget = viewer_widget
    # long enough (32 planes) that a busy machine still gives the GUI thread several ticks
    widget._layer_combo.value = viewer.add_image(np.stack([gray] * 32), name="stack")
    widget._scope_combo.value = STACK
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(widget._worker is not None))
    timer.start(10)
    run_and_wait(widget)
    timer.stop()
    assert sum(ticks) >= 2  # the GUI thread kept processing events while the worker ran


def test_confidence_layer(qtbot, viewer_widget, gray, run_and_wait):
    viewer, widget = viewer_widget
    widget._layer_combo.value = viewer.add_image(gray, name="g")
    widget._confidence_check.value = True
    run_and_wait(widget)
    conf = viewer.layers["g confidence"]
    assert conf.data.dtype == np.float32
    assert conf.data.shape == gray.shape
    assert tuple(conf.contrast_limits) == (0.0, 1.0)
    assert 0 <= conf.data.min()
    assert conf.data.max() <= 1
    widget._layer_combo.reset_choices()
    assert [name for name, _ in widget._source_layers()] == ["g"]  # a gray output: no source


def test_results_follow_a_renamed_source(qtbot, make_napari_viewer, tiny_model_dir, gray,
                                         run_and_wait):
    viewer = make_napari_viewer(show=True)
    # as napari docks it: the widget sees the viewer through napari's public-only proxy
    _, widget = viewer.window.add_plugin_dock_widget("napari-colorize", "Colorize")
    widget._model_combo.value = "tiny"
    source = viewer.add_image(gray, name="a")
    widget._layer_combo.value = source
    widget._hints._live.value = False
    hints = widget._hints.add_hints_layer()
    mine = viewer.add_image(gray, name="a notes")  # the user's own: keeps its name
    run_and_wait(widget)
    source.name = "b"
    result = viewer.layers["b colorized"]
    assert result.metadata["napari_colorize"]["source"] == "b"
    assert hints.name == "b hints"
    assert mine.name == "a notes"
    run_and_wait(widget)  # replaces the result made before the rename
    names = [lay.name for lay in viewer.layers]
    assert names.count("b colorized") == 1
    assert not [name for name in names if name.startswith("a colorized")]


def test_switching_layers_keeps_the_started_run(qtbot, viewer_widget, gray):
    viewer, widget = viewer_widget
    first = viewer.add_image(np.stack([gray] * 4), name="first")
    second = viewer.add_image(gray, name="second")
    widget._layer_combo.value = first
    widget._scope_combo.value = STACK
    worker = widget._on_run()
    widget._layer_combo.value = second
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        pass
    qtbot.waitUntil(lambda: widget._worker is None)
    assert "first colorized" in viewer.layers
    assert "second colorized" not in viewer.layers


def test_float_layer_uses_its_contrast_limits(qtbot, viewer_widget, gray):
    viewer, widget = viewer_widget
    data = gray.astype(np.float32) * 10 + 1000
    src = viewer.add_image(data, name="f", contrast_limits=(1000, 3550))
    widget._layer_combo.value = src
    worker = widget._on_run()
    config = widget._job.config
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        pass
    assert config.contrast_limits == (1000.0, 3550.0)
