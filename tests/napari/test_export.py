"""The model row's Export... button: a package the widget itself loads back and runs alike."""

import numpy as np


def export_and_wait(qtbot, widget, path):
    worker = widget._export_button.export_to(path)
    assert worker is not None
    assert not widget._export_button.enabled  # one export at a time
    # the button comes back when the worker has finished (a failing export may finish before
    # a signal spy could be connected here, so wait on the state its handler sets)
    qtbot.waitUntil(lambda: widget._export_button.enabled, timeout=60_000)


def test_export_then_load_the_package_and_run(qtbot, viewer_widget, gray, run_and_wait,
                                              tmp_path, monkeypatch):
    from napari_colorize._napari import _export

    infos: list[str] = []
    monkeypatch.setattr(_export, "show_info", infos.append)
    viewer, widget = viewer_widget
    export_and_wait(qtbot, widget, tmp_path / "tiny")  # the .zip suffix is added
    package = tmp_path / "tiny.zip"
    assert package.is_file()
    assert widget._status.value == "exported tiny.zip"
    assert infos == [f"Exported the model as a bioimage.io package: {package}"]

    widget._layer_combo.value = viewer.add_image(gray, name="g")
    run_and_wait(widget)
    before = np.asarray(viewer.layers["g colorized"].data).copy()
    assert widget.add_model_file(package)
    assert widget._model_combo.value == "tiny (tiny.zip)"
    run_and_wait(widget)
    assert np.array_equal(np.asarray(viewer.layers["g colorized"].data), before)


def test_export_failure_is_one_notification(qtbot, viewer_widget, tmp_path, monkeypatch):
    from napari_colorize._napari import _export

    errors: list[str] = []
    monkeypatch.setattr(_export, "show_error", errors.append)
    _, widget = viewer_widget
    export_and_wait(qtbot, widget, tmp_path / "missing" / "tiny.zip")
    assert errors == [f"Cannot export tiny: output folder {tmp_path / 'missing'} does not exist"]
    assert widget._status.value == errors[0]
    assert not (tmp_path / "missing").exists()
