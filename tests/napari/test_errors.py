"""Bad input becomes one notification sentence; Run stays available."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Image

from napari_colorize import ColorizeConfig
from napari_colorize._napari._job import plan_job


def test_rgb_layers_need_from_rgb_and_results_are_not_offered(viewer_widget, gray, run_and_wait):
    viewer, widget = viewer_widget
    viewer.add_image(np.zeros((40, 40, 3), np.uint8), rgb=True, name="colour")
    viewer.add_image(gray, name="gray")
    widget._layer_combo.value = viewer.layers["gray"]
    run_and_wait(widget)
    assert viewer.layers["gray colorized"].rgb  # an RGB layer the widget made: not a source
    assert [name for name, _ in widget._source_layers()] == ["colour", "gray"]
    with pytest.raises(ValueError, match="tick 'From RGB' to colorize its lightness"):
        plan_job(viewer, viewer.layers["colour"], "current plane", ColorizeConfig())


def test_all_nan_layer_notifies(viewer_widget, notes):
    viewer, widget = viewer_widget
    with np.errstate(invalid="ignore"):
        layer = Image(np.full((64, 64), np.nan, np.float32), name="nan", contrast_limits=(0, 1))
    viewer.layers.append(layer)
    widget._layer_combo.value = layer
    assert widget._on_run() is None
    assert notes == ["Layer 'nan' has no finite values to colorize."]
    assert widget._run_button.enabled


def test_a_stack_whose_first_plane_is_nan_names_that_plane(viewer_widget):
    viewer, _ = viewer_widget
    with np.errstate(invalid="ignore"):
        stack = np.stack([np.full((64, 64), np.nan, np.float32), np.ones((64, 64), np.float32)])
    layer = viewer.add_image(stack, name="fs", contrast_limits=(0, 1))
    with pytest.raises(ValueError, match=r"Plane \(0,\) of layer 'fs' has no finite values"):
        plan_job(viewer, layer, "whole stack", ColorizeConfig())


def test_current_plane_outside_the_layer_is_refused(viewer_widget, gray):
    viewer, _ = viewer_widget
    layer = viewer.add_image(np.stack([gray] * 5), name="st", scale=(2, 1, 1), translate=(10, 0, 0))
    viewer.add_image(np.zeros((4, 10, 10), np.uint8), scale=(3, 1, 1))  # the slider reaches z=0
    viewer.dims.set_current_step(0, 0)  # napari draws nothing of "st" at world z=0
    with pytest.raises(ValueError, match="has no plane at the viewer's position"):
        plan_job(viewer, layer, "current plane", ColorizeConfig())
    viewer.dims.set_point(0, 14)  # its plane 2
    assert plan_job(viewer, layer, "current plane", ColorizeConfig()) is not None


def test_engine_error_notifies_in_one_sentence(qtbot, viewer_widget, notes, gray, run_and_wait):
    viewer, widget = viewer_widget
    widget._layer_combo.value = viewer.add_image(gray, name="g")
    widget._tile_combo.value = 256
    widget._overlap_spin.value = 160  # too large for the tile: the engine refuses
    before = len(viewer.layers)
    run_and_wait(widget)
    assert len(notes) == 1
    assert "overlap 160" in notes[0]
    assert "\n" not in notes[0]
    assert len(viewer.layers) == before
    assert widget._run_button.enabled


def test_no_layer_notifies(viewer_widget, notes):
    _, widget = viewer_widget
    assert widget._on_run() is None
    assert notes == ["Pick a grayscale image layer to colorize."]


def test_bad_model_file_notifies_naming_the_file(viewer_widget, notes, tmp_path):
    _, widget = viewer_widget
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a model")
    assert not widget.add_model_file(bad)
    assert len(notes) == 1
    assert "broken.safetensors" in notes[0]
    assert widget._model_combo.value == "tiny"


def test_model_file_is_offered_and_used(qtbot, viewer_widget, tiny_model_dir, gray, run_and_wait):
    viewer, widget = viewer_widget
    assert widget.add_model_file(tiny_model_dir / "tiny.safetensors")
    assert widget._model_combo.value == "tiny (tiny.safetensors)"
    assert widget._model_combo.choices[-1] == "Load model file..."  # loaded models before it
    widget._layer_combo.value = viewer.add_image(gray, name="g")
    run_and_wait(widget)
    assert "g colorized" in viewer.layers


def test_cancelling_the_model_file_dialog_keeps_the_model(viewer_widget, monkeypatch):
    from qtpy.QtWidgets import QFileDialog

    _, widget = viewer_widget
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))
    assert widget._model_combo.value == "tiny"
    widget._model_combo.value = "Load model file..."
    assert widget._model_combo.value == "tiny"


def test_an_error_before_the_run_replaces_the_status(viewer_widget, gray, notes, run_and_wait):
    viewer, widget = viewer_widget
    widget._layer_combo.value = viewer.add_image(gray, name="g")
    run_and_wait(widget)
    assert widget._status.value.startswith("Colorized 'g'")
    widget._layer_combo.value = viewer.add_image(np.zeros((40, 40, 3), np.uint8), rgb=True,
                                                 name="colour")
    widget._from_rgb_check.value = False
    assert widget._on_run() is None
    assert widget._status.value == notes[-1]
    assert "'colour' is RGB" in notes[-1]


@pytest.mark.parametrize(("data", "words"), [
    (np.eye(64, dtype=bool), "convert the mask to an 8-bit image"),
    (np.where(np.eye(64) > 0, np.nan, 0.5).astype(np.float32), "replace them with numbers"),
])
def test_errors_speak_no_python(viewer_widget, notes, run_and_wait, data, words):
    viewer, widget = viewer_widget
    widget._layer_combo.value = viewer.add_image(data, name="odd", contrast_limits=(0, 1))
    run_and_wait(widget)
    assert len(notes) == 1
    assert words in notes[0]
    assert "np." not in notes[0]
    assert widget._status.value == notes[0]


def test_no_plugin_output_is_offered_as_a_source(viewer_widget, gray, tmp_path):
    from napari_colorize.io.ngff import OmeZarrMerger, confidence_path

    viewer, widget = viewer_widget
    path = tmp_path / "r.ome.zarr"
    merger = OmeZarrMerger(path, (64, 80), confidence=True, metadata={"model": "m"})
    conf = np.random.default_rng(0).random((64, 80)).astype(np.float32)
    merger.write((), (slice(None), slice(None)), np.zeros((64, 80, 3), np.uint8), conf, None)
    merger.finalize()
    viewer.add_image(gray, name="g")
    viewer.open(str(confidence_path(path)), plugin="napari-colorize")
    assert "r confidence" in viewer.layers  # gray, but a result read back from disk
    widget._layer_combo.reset_choices()
    assert [name for name, _ in widget._source_layers()] == ["g"]
