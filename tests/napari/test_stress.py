"""The widget while a run is in flight: the source deleted, the viewer closed, picks changed.

The model waits at every batch until the test opens its gate, so each change surely lands
mid-run. pytest-qt fails a test on an exception in a Qt slot; stderr and the log are checked too.
"""

from __future__ import annotations

import gc
import logging
import weakref

import numpy as np
import pytest

from napari_colorize._napari._job import STACK


@pytest.fixture
def quiet(capfd, caplog):
    """Asserts, at the end of the test, that nothing printed a traceback or logged an error."""
    yield
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert "Error" not in err
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def _start(viewer, widget, gated, data, name="stack", scope=STACK):
    widget._layer_combo.value = viewer.add_image(data, name=name)
    widget._scope_combo.value = scope
    widget._tile_combo.value = 256
    widget._overlap_spin.value = 0
    worker = widget._on_run()
    assert worker is not None
    assert gated.entered.wait(30)  # the first batch is in the model
    return worker


def _finish(qtbot, gated, worker):
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        gated.gate.set()
    qtbot.wait(100)  # queued slots after `finished`


def _names(viewer):
    return [layer.name for layer in viewer.layers]


def test_deleting_the_source_stops_the_run(qtbot, viewer_widget, gated, gray, notices, quiet):
    viewer, widget = viewer_widget
    worker = _start(viewer, widget, gated, np.stack([gray] * 4))
    assert "stack colorized (running)" in viewer.layers
    job = widget._job
    viewer.layers.remove("stack")
    _finish(qtbot, gated, worker)
    assert _names(viewer) == []  # no "(running)" layer, no partial result
    assert notices == ["Colorizing 'stack' stopped: the layer was removed."]
    assert job.gen.gi_frame is None  # the engine's generator was closed (output discarded)
    assert widget._worker is None
    assert widget._status.value == "Stopped: the layer was removed."
    assert widget._run_button.enabled
    assert not widget._cancel_button.enabled


def test_closing_the_viewer_stops_the_run(qtbot, viewer_widget, gated, gray, notices, quiet):
    viewer, widget = viewer_widget
    worker = _start(viewer, widget, gated, np.stack([gray] * 4))
    job = widget._job
    viewer.close()  # removes the layers first, then closes the window
    _finish(qtbot, gated, worker)
    assert len(viewer.layers) == 0
    assert notices == ["Colorizing 'stack' stopped: the viewer was closed."]
    assert job.gen is None or job.gen.gi_frame is None
    assert widget._worker is None


def test_closing_the_window_drops_the_running_layer(qtbot, viewer_widget, gated, gray,
                                                    notices, quiet):
    viewer, widget = viewer_widget
    worker = _start(viewer, widget, gated, np.stack([gray] * 4))
    job = widget._job
    viewer.window._qt_window.close()  # the window's close button: the layers stay
    assert "stack" in viewer.layers
    assert "stack colorized (running)" not in viewer.layers
    _finish(qtbot, gated, worker)
    assert _names(viewer) == ["stack"]
    assert notices == ["Colorizing 'stack' stopped: the viewer was closed."]
    assert job.gen is None or job.gen.gi_frame is None
    assert widget._worker is None
    # Qt deleted the window; make_napari_viewer's own close would touch it again
    del viewer.window._qt_window


def test_changing_model_and_layer_keeps_the_run(qtbot, viewer_widget, gated, gray, notices,
                                                quiet):
    viewer, widget = viewer_widget
    other = viewer.add_image(gray[::-1], name="other")
    worker = _start(viewer, widget, gated, np.stack([gray] * 2))
    assert len(widget._model_combo.choices) > 2  # another model to switch to
    new_model = next(c for c in widget._model_combo.choices if c not in ("tiny", None)
                     and not c.startswith("Load"))
    widget._model_combo.value = new_model
    widget._layer_combo.value = other
    assert widget._from_rgb_check.visible is False
    _finish(qtbot, gated, worker)
    result = viewer.layers["stack colorized"]  # the run went on with its own layer and model
    assert result.data.shape == (2, *gray.shape, 3)
    assert result.data.any()
    assert "other colorized" not in viewer.layers
    assert "stack colorized (running)" not in viewer.layers
    assert widget._model_combo.value == new_model  # the new picks stay for the next run
    assert widget._layer_combo.value is other
    changes = [n for n in notices if "continues unchanged" in n]
    assert changes == [f"Colorizing 'stack' continues unchanged; model {new_model!r} is used "
                       "at the next Run."]  # once per run, one line
    assert notices[-1].startswith("Colorized 'stack' in ")


def test_cancel_then_delete_notifies_nothing_more(qtbot, viewer_widget, gated, gray, notices,
                                                  quiet):
    viewer, widget = viewer_widget
    worker = _start(viewer, widget, gated, np.stack([gray] * 4))
    widget._on_cancel()
    viewer.layers.remove("stack")  # the run is stopping already: no second message
    _finish(qtbot, gated, worker)
    assert _names(viewer) == []
    assert notices == []
    assert widget._run_button.enabled


def test_a_viewer_closed_after_a_run_frees_its_widget(qtbot, make_napari_viewer, tiny_model_dir,
                                                      gray, run_and_wait):
    from napari_colorize._napari._widget import ColorizeWidget

    viewer = make_napari_viewer(show=True)
    widget = ColorizeWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Colorize")
    widget._model_combo.value = "tiny"
    widget._layer_combo.value = viewer.add_image(gray, name="g")
    run_and_wait(widget)
    assert "g colorized" in viewer.layers
    qtbot.wait(400)  # the progress bar's timer is over
    freed = weakref.ref(widget)
    viewer.close()
    del widget
    qtbot.wait(100)
    gc.collect()
    # napari's window keeps the worker it ran (its task list): it must not hold the widget
    assert freed() is None
