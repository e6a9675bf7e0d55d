"""The Tune section of the dock widget, in a shown viewer (real canvas under Xvfb), tiny budgets."""

from __future__ import annotations

import hashlib
import json
import threading

import numpy as np
import pytest

from napari_colorize import list_models
from napari_colorize._napari import _tune
from napari_colorize._napari._layers import level0
from napari_colorize._napari._tune import shapes_mask

FAST = {"steps": 2, "patch": 64, "batch_size": 2}


@pytest.fixture
def stain() -> np.ndarray:
    """Pink texture with purple blobs, 256 x 288."""
    rng = np.random.default_rng(3)
    img = np.empty((256, 288, 3), np.float64)
    img[:] = (235, 170, 200)
    yy, xx = np.mgrid[0:256, 0:288]
    for _ in range(30):
        cy, cx, r = rng.integers(0, 256), rng.integers(0, 288), rng.integers(5, 14)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = (90, 50, 150)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture
def tune_notes(monkeypatch):
    messages: list[str] = []
    monkeypatch.setattr(_tune, "show_error", messages.append)
    monkeypatch.setattr(_tune, "show_info", messages.append)
    return messages


def _tune_section(widget, layers, name="lab-x", **settings):
    section = widget._tune
    section.reset_choices()
    section._refs.value = layers
    section._base.value = "tiny"
    section._name.value = name
    section._settings = {**FAST, **settings}
    return section


def _act_once_training(widget, stain, name, action):
    """Start a 60 s tuning run on ``stain`` and call ``action`` at its first training event;
    returns the section, the worker and the list of events acted on."""
    ref = widget._viewer.add_image(stain, name="ref", rgb=True)
    section = _tune_section(widget, [ref], name=name, steps=None)
    section._seconds.value = 60
    worker = section._on_run()
    started = []

    def on_event(event):
        if event.phase == "train" and not started:
            started.append(event)
            action()

    worker.yielded.connect(on_event)
    return section, worker, started


def _wait(qtbot, section, worker, timeout=60_000):
    with qtbot.waitSignal(worker.finished, timeout=timeout):
        pass
    qtbot.waitUntil(lambda: section._worker is None, timeout=timeout)


def test_tune_saves_model_picker_refreshes_and_preview(qtbot, viewer_widget, stain,
                                                       tiny_model_dir, tune_notes):
    viewer, widget = viewer_widget
    ref = viewer.add_image(stain, name="ref", rgb=True, scale=(0.5, 0.5), translate=(3, 7))
    section = _tune_section(widget, [ref])
    worker = section._on_run()
    assert worker is not None
    losses = []
    worker.yielded.connect(lambda e: losses.append(e.loss) if e.phase == "train" else None)
    _wait(qtbot, section, worker)
    assert (tiny_model_dir / "lab-x.json").exists()
    assert "lab-x" in list_models()
    assert widget._model_combo.value == "lab-x"  # the picker offers and selects it at once
    assert "lab-x" in widget._model_combo.choices
    assert len(losses) == 2
    assert all(np.isfinite(losses))
    card = json.loads((tiny_model_dir / "lab-x.json").read_text())
    assert card["base"]["name"] == "tiny"
    assert card["description"].endswith("ref")
    # before/after preview over the held-out strip (last 20 % of columns), placed on its source
    after = viewer.layers["lab-x: held-out after"]
    before = viewer.layers["lab-x: held-out before"]
    assert after.rgb
    assert after.data.shape == before.data.shape == (256, 58, 3)
    assert not before.visible
    np.testing.assert_allclose(after.translate, (3, 7 + 230 * 0.5))
    np.testing.assert_allclose(after.scale, ref.scale)
    assert "held-out tissue CIEDE2000" in section._status.value
    assert any("Saved to" in note for note in tune_notes)
    assert section._name.value == "lab-x-2"  # a fresh name for the next run


def test_shapes_restrict_the_regions(qtbot, viewer_widget, stain, tiny_model_dir, tune_notes):
    viewer, widget = viewer_widget
    ref = viewer.add_image(stain, name="ref", rgb=True, scale=(2.0, 2.0))
    shapes = viewer.add_shapes([np.array([[0, 200], [0, 500], [400, 500], [400, 200]])],
                               shape_type="rectangle", name="roi")
    mask = shapes_mask(shapes, ref, stain.shape[:2])
    assert mask[:200, 100:250].all()  # world rows 0-400, cols 200-500 -> data /2 (scale 2)
    assert not mask[:, :99].any()
    assert not mask[:, 251:].any()
    assert not mask[201:].any()
    section = _tune_section(widget, [ref], name="lab-roi")
    section._regions.value = shapes
    worker = section._on_run()
    _wait(qtbot, section, worker)
    card = json.loads((tiny_model_dir / "lab-roi.json").read_text())
    # only the regions' bounding box is read (rows 0-200, cols 100-250 of the layer)
    crop = np.ascontiguousarray(stain[0:201, 100:251])
    assert card["tuning"]["image_sha256"] == [hashlib.sha256(crop.tobytes()).hexdigest()]
    r0, r1, _, _ = card["metrics"]["holdout_boxes"][0]
    assert (r0, r1) == (161, 201)  # 20 % of the region's longer side, its 201 rows
    after = viewer.layers["lab-roi: held-out after"]
    assert after.data.shape == (40, 151, 3)
    np.testing.assert_allclose(after.translate, (161 * 2.0, 100 * 2.0))  # over the region


def test_large_layers_need_regions(qtbot, viewer_widget, stain, tiny_model_dir, tune_notes,
                                   monkeypatch):
    viewer, widget = viewer_widget
    monkeypatch.setattr(_tune, "MAX_PIXELS", 10_000)
    ref = viewer.add_image(stain, name="slide", rgb=True)
    section = _tune_section(widget, [ref], name="lab-big")
    assert section._on_run() is None
    assert tune_notes[-1].startswith("'slide' is 256 x 288 px (0.1 MP): draw Shapes regions")
    viewer.add_shapes([np.array([[10, 10], [10, 90], [90, 90], [90, 10]])],
                      shape_type="rectangle", name="small roi")
    section.reset_choices()
    section._regions.value = viewer.layers["small roi"]
    worker = section._on_run()
    assert worker is not None
    data, box = section._job.sources[0]
    assert data[box].shape == (81, 81, 3)
    _wait(qtbot, section, worker)
    assert (tiny_model_dir / "lab-big.json").exists()


def test_cancel_saves_nothing(qtbot, viewer_widget, stain, tiny_model_dir, tune_notes):
    viewer, widget = viewer_widget
    section, worker, started = _act_once_training(widget, stain, "lab-cancel",
                                                  lambda: section._on_cancel())
    _wait(qtbot, section, worker)
    assert started
    assert not (tiny_model_dir / "lab-cancel.json").exists()
    assert "lab-cancel" not in list_models()
    assert "lab-cancel: held-out after" not in viewer.layers
    assert section._run_button.enabled
    assert widget._model_combo.value == "tiny"


def test_bad_input_is_one_notification(qtbot, viewer_widget, stain, tiny_model_dir, tune_notes):
    viewer, widget = viewer_widget
    section = _tune_section(widget, [])
    assert section._on_run() is None
    assert tune_notes[-1] == "Pick one or more RGB reference layers to tune on."
    gray = np.repeat(stain.mean(-1, keepdims=True).astype(np.uint8), 3, -1)
    layer = viewer.add_image(gray, name="gray rgb", rgb=True)
    section = _tune_section(widget, [layer], name="lab-gray")
    worker = section._on_run()
    _wait(qtbot, section, worker)
    assert tune_notes[-1] == "training image gray rgb has no colour (it is grayscale)"
    assert not (tiny_model_dir / "lab-gray.json").exists()
    section = _tune_section(widget, [layer], name="tiny")
    assert section._on_run() is None
    assert "exists already" in tune_notes[-1]
    assert section._regions.value is None  # whole images, offered first and by that name
    assert section._regions.choices[0] is None
    assert section._regions.native.itemText(0) == "whole images"


def test_references_are_colour_images_the_user_brought(qtbot, viewer_widget, stain, gray,
                                                       tiny_model_dir, run_and_wait):
    viewer, widget = viewer_widget
    mine = viewer.add_image(stain, name="slide", rgb=True)
    # a user's own layer whose name looks like a result is still a reference
    named = viewer.add_image(stain[::-1], name="slide colorized (region)", rgb=True)
    widget._layer_combo.value = viewer.add_image(gray, name="g")
    widget._confidence_check.value = True
    run_and_wait(widget)
    assert viewer.layers["g colorized"].metadata["napari_colorize"]["made_by"] == "widget"
    section = _tune_section(widget, [mine], name="lab-refs")
    worker = section._on_run()
    _wait(qtbot, section, worker)
    assert "lab-refs: held-out after" in viewer.layers
    viewer.add_image(stain, name="from disk", rgb=True,  # as the reader opens a saved result
                     metadata={"napari_colorize": {"kind": "colorized"}})
    section.reset_choices()
    assert section._refs.choices == (mine, named)  # no result, preview or saved result


class _Recording(np.ndarray):
    """An array that records which thread reads it through indexing."""

    threads: list

    def __getitem__(self, key):
        self.threads.append(threading.current_thread())
        return np.asarray(super().__getitem__(key))


def test_references_are_read_in_the_worker(qtbot, viewer_widget, stain, tiny_model_dir,
                                           tune_notes):
    viewer, widget = viewer_widget
    data = stain.view(_Recording)
    data.threads = []
    ref = viewer.add_image(data, name="ref", rgb=True)
    assert level0(ref.data) is data
    section = _tune_section(widget, [ref], name="lab-thread")
    data.threads.clear()  # napari read it to draw it
    worker = section._on_run()
    assert worker is not None
    assert threading.main_thread() not in data.threads  # Run returned without reading it
    _wait(qtbot, section, worker)
    assert (tiny_model_dir / "lab-thread.json").exists()
    assert any(t is not threading.main_thread() for t in data.threads)  # the worker read it


def test_closing_the_viewer_while_tuning_saves_nothing(qtbot, viewer_widget, stain,
                                                       tiny_model_dir, notices, capfd):
    viewer, widget = viewer_widget
    section, worker, started = _act_once_training(widget, stain, "lab-closed", viewer.close)
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        pass
    qtbot.wait(100)
    assert started
    assert not (tiny_model_dir / "lab-closed.json").exists()
    assert section._worker is None
    assert section._job is None
    assert notices == ["Tuning 'lab-closed' stopped: the viewer was closed."]
    assert "Traceback" not in capfd.readouterr().err
