"""The widget's domain warning: a notification and the status line, the score on the layer."""

from __future__ import annotations

import pytest
import skimage.data

from napari_colorize._napari._layers import TAG
from napari_colorize.training.evaluation import gray_with_lightness


@pytest.mark.slow
def test_out_of_domain_run_warns_in_a_notification_and_the_status(viewer_widget, notices,
                                                                   run_and_wait):
    viewer, widget = viewer_widget
    widget._device_combo.value = "cpu"
    widget._model_combo.value = "he-histology"
    photo = gray_with_lightness(skimage.data.astronaut())  # 512 px: scores 1.37 (flagged)
    widget._layer_combo.value = viewer.add_image(photo, name="photo")
    notices.clear()
    run_and_wait(widget)
    out = viewer.layers["photo colorized"]
    assert out.metadata[TAG]["domain"]["in_domain"] is False
    warned = [n for n in notices if n.startswith("input looks unlike the H&E")]
    assert len(warned) == 1
    assert widget._status.value == warned[0]
    # a run on a model without domain statistics clears it
    widget._model_combo.value = "tiny"
    run_and_wait(widget)
    assert widget._status.value.startswith("Colorized 'photo' in ")  # the warning is gone
    assert "domain" not in viewer.layers["photo colorized"].metadata[TAG]


@pytest.mark.slow
def test_live_reruns_keep_the_layers_domain_check(qtbot, viewer_widget, notices):
    from napari_colorize._napari._job import VISIBLE

    viewer, widget = viewer_widget
    widget._device_combo.value = "cpu"
    widget._model_combo.value = "he-histology"
    photo = gray_with_lightness(skimage.data.astronaut())
    widget._layer_combo.value = viewer.add_image(photo, name="photo")
    widget._scope_combo.value = VISIBLE
    qtbot.wait(200)

    def rerun():
        worker = widget.rerun_visible()
        assert worker is not None
        config = widget._job.config
        qtbot.waitUntil(lambda: widget._worker is None, timeout=60_000)
        return config

    assert rerun().domain_check  # first run on this layer: checked, and warned
    note = widget._status.value
    assert note.startswith("input looks unlike the H&E")
    assert not rerun().domain_check  # a live re-run (a hint moved) keeps that check
    assert widget._status.value == note
    layer = viewer.layers["photo colorized (region)"]
    assert layer.metadata[TAG]["domain"]["in_domain"] is False  # and its score
    widget._model_combo.value = "tiny"  # another model checks again (it has no statistics)
    assert rerun().domain_check
    assert widget._status.value.startswith("Colorized 'photo' in ")  # the warning is gone


def test_a_live_rerun_without_the_check_reuses_the_reference_fit():
    from dataclasses import replace

    from napari_colorize._napari._widget import _fit_settings
    from napari_colorize.core.config import ColorizeConfig

    config = ColorizeConfig(overlap=32)
    assert _fit_settings(replace(config, domain_check=False)) == _fit_settings(config)
    assert _fit_settings(replace(config, overlap=64)) != _fit_settings(config)
