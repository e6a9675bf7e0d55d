"""The Stain and Colors fields: a named stain re-renders the run; a bad name is one notification."""

import numpy as np


def test_stain_field_renders_in_the_named_stain(viewer_widget, gray, run_and_wait):
    viewer, widget = viewer_widget
    widget._layer_combo.value = viewer.add_image(gray, name="g")
    run_and_wait(widget)
    plain = np.asarray(viewer.layers["g colorized"].data).copy()
    assert widget._stain_edit.enabled
    widget._stain_edit.value = "masson trichrome"
    widget._colors_edit.value = "nuclei black"
    run_and_wait(widget)
    stained = np.asarray(viewer.layers["g colorized"].data)
    assert not np.array_equal(stained, plain)
    completer = widget._stain_edit.native.completer()
    completer.setCompletionPrefix("dab")
    assert completer.completionCount() >= 4  # H DAB, H&E DAB, Methyl Green DAB, ...


def test_unknown_stain_is_one_notification_and_no_run(viewer_widget, gray, notes):
    viewer, widget = viewer_widget
    widget._layer_combo.value = viewer.add_image(gray, name="g")
    widget._stain_edit.value = "H&E DAPI"
    assert widget._on_run() is None
    assert notes == ["unknown stain 'H&E DAPI'; close matches: H&E DAB, H DAB, H&E"]
    assert "g colorized" not in viewer.layers


def test_channel_models_disable_the_stain_fields(viewer_widget, fraction_model_dir):
    _, widget = viewer_widget
    widget._model_combo.reset_choices()
    widget._model_combo.value = "tiny-fractions"
    assert not widget._stain_edit.enabled
    assert not widget._colors_edit.enabled
