"""Live re-runs of the visible region: the same layer updates, quietly, and follows the view."""

import numpy as np


def test_live_reruns_update_one_layer_quietly_and_follow_the_view(qtbot, viewer_widget,
                                                                  notices):
    from napari_colorize._napari._job import VISIBLE

    viewer, widget = viewer_widget
    y, x = np.mgrid[0:1024, 0:1024]
    gray = (128 + 100 * np.sin(y / 13.0) * np.cos(x / 9.0)).astype(np.uint8)
    widget._layer_combo.value = viewer.add_image(gray, name="g")
    widget._scope_combo.value = VISIBLE
    viewer.scene.camera.zoom = 4.0  # a part of the image on the canvas

    def rerun():
        assert widget.rerun_visible() is not None
        qtbot.waitUntil(lambda: widget._worker is None, timeout=60_000)
        return viewer.layers["g colorized (region)"]

    first = rerun()
    start = np.asarray(first.translate).copy()
    assert not widget._progress.visible  # a short run never shows the bar
    viewer.scene.camera.center = (0, 300, 700)  # the user pans, then moves a hint
    second = rerun()
    assert second is first  # updated in place, not a new layer
    assert not np.array_equal(np.asarray(second.translate), start)  # placed at the new view
    assert second.data.shape[:2] != gray.shape  # a region, not the whole image
    assert not [n for n in notices if n.startswith("Colorized")]  # no toast per re-run
    assert widget._status.value.startswith("Colorized 'g' in ")  # the status line says it
    widget._on_run()  # Run on the visible region: the status line too, no toast
    qtbot.waitUntil(lambda: widget._worker is None, timeout=60_000)
    assert widget._status.value.startswith("Colorized 'g' in ")
    assert not [n for n in notices if n.startswith("Colorized")]
