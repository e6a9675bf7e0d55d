"""The widget's settings: the library's defaults and checks, and the options the picked model
takes (channel layers for channel models, colour hints for colour models)."""

from __future__ import annotations

import numpy as np

from napari_colorize import ColorizeConfig
from napari_colorize.core.config import HELP, PRECISIONS
from napari_colorize.models.registry import resolve_device


def _hints_enabled(widget) -> bool:
    hints = widget._hints
    controls = (hints._colour_button, hints._reference, hints._add_button, hints._live)
    states = {control.enabled for control in controls}
    assert len(states) == 1  # the section's controls go together
    return states.pop()


def _run(qtbot, widget):
    """Press Run, wait for the result; returns the run's job (what was sent to the engine)."""
    worker = widget._on_run()
    job = widget._job
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        pass
    qtbot.waitUntil(lambda: widget._worker is None)
    return job


def test_controls_start_at_the_library_defaults(viewer_widget):
    _, widget = viewer_widget
    assert widget._config(frozenset({"channels"})) == ColorizeConfig()
    assert widget._device_combo.value == ColorizeConfig().device
    assert widget._tile_combo.tooltip == HELP["tile_size"]
    assert widget._precision_combo.tooltip == HELP["precision"]
    assert tuple(widget._precision_combo.choices) == PRECISIONS


def test_picking_a_model_offers_its_options_without_loading_it(viewer_widget):
    _, widget = viewer_widget
    widget._model_combo.value = "fluorescence-composite"
    assert widget._channels_check.enabled
    assert not _hints_enabled(widget)
    assert "fluorescence-composite takes no colour hints" in widget._hints._status.value
    widget._model_combo.value = "he-histology"
    assert not widget._channels_check.enabled
    assert _hints_enabled(widget)
    assert widget._hints._status.value == ""
    assert widget._models == {}  # read from the cards: no weights loaded


def test_a_model_file_offers_its_options(viewer_widget, fraction_model_dir):
    _, widget = viewer_widget
    assert not widget._channels_check.enabled  # 'tiny' is a colour model
    assert widget.add_model_file(fraction_model_dir / "tiny-fractions.safetensors")
    assert widget._channels_check.enabled
    assert not _hints_enabled(widget)


def test_a_run_sends_only_the_options_the_model_takes(qtbot, viewer_widget, fraction_model_dir,
                                                      gray, notes):
    viewer, widget = viewer_widget
    widget._layer_combo.value = viewer.add_image(gray, name="img")
    widget._hints._live.value = False
    widget._hints.add_hints_layer().add([[30, 40]])
    widget._channels_check.value = True

    widget._model_combo.reset_choices()
    widget._model_combo.value = "tiny-fractions"
    job = _run(qtbot, widget)
    assert job.config.channels
    assert job.hints is None  # the engine refuses hints for a channel model
    assert "img nuclei" in viewer.layers

    widget._model_combo.value = "tiny"
    job = _run(qtbot, widget)
    assert not job.config.channels  # and channels for a colour model
    assert job.hints is not None
    assert "1 hint" in widget._hints._status.value
    assert notes == []


def test_precision_goes_to_the_engine(qtbot, viewer_widget, gray):
    viewer, widget = viewer_widget
    widget._layer_combo.value = viewer.add_image(gray, name="img")
    widget._precision_combo.value = "bf16"
    results = []
    done = widget._on_done
    widget._on_done = lambda result: (results.append(result), done(result))
    worker = widget._on_run()
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        pass
    _model, result = results[0]
    assert result.config.precision == "bf16"
    np.testing.assert_array_equal(viewer.layers["img colorized"].data, np.asarray(result))
    # device "auto" keeps the loaded model under the device it resolved to
    assert ("tiny", str(resolve_device("auto"))) in widget._models


def test_a_setting_the_library_refuses_starts_no_run(viewer_widget, gray, notes):
    viewer, widget = viewer_widget
    widget._layer_combo.value = viewer.add_image(gray, name="img")
    widget._precision_combo.choices = (*PRECISIONS, "fp16")  # e.g. an option the engine lacks
    widget._precision_combo.value = "fp16"
    assert widget._on_run() is None
    assert notes == [f"precision 'fp16' must be one of {PRECISIONS}"]
    assert widget._run_button.enabled
