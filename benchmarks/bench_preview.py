"""The widget's "visible region" run, end to end: press Run -> the colour layer is updated.

    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/bench_preview.py [--view 1024]

A 4096 x 4096 gray tissue image (the CMU-1 sample tiled out) in a shown napari viewer, zoomed so
that about ``--view`` x ``--view`` image pixels are on the canvas; the Colorize widget with the
default model and settings. The first run loads the model; the next ``--repeat`` runs are
timed from the call that starts the run until the widget is idle again (worker finished, layer
updated, events processed). Prints one JSON line (best and median seconds, the region's size).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--view", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--run-button", action="store_true",
                        help="press Run (progress bar, notification) instead of the live re-run "
                             "a moved hint starts")
    args = parser.parse_args()

    import napari
    from bench_engine import test_image  # the same tissue image as the engine benchmark
    from qtpy.QtCore import QEventLoop, QTimer
    from qtpy.QtWidgets import QApplication

    from napari_colorize._napari._job import VISIBLE
    from napari_colorize._napari._widget import ColorizeWidget

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1400, 1000)
    widget = ColorizeWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Colorize")
    layer = viewer.add_image(test_image(args.size), name="slide")
    app = QApplication.instance()

    def settle(seconds: float = 0.3) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.005)

    settle()
    canvas = viewer.window._qt_viewer.canvas.size
    viewer.scene.camera.center = (args.size / 2, args.size / 2)
    viewer.scene.camera.zoom = (canvas[0] * canvas[1]) ** 0.5 / args.view  # about view^2 pixels
    settle()
    widget._layer_combo.value = layer
    widget._scope_combo.value = VISIBLE

    def run() -> float:
        # wait in a Qt event loop, as napari does: a busy wait would take CPU from the run
        loop = QEventLoop()
        poll = QTimer()
        poll.timeout.connect(lambda: widget._worker is None and loop.quit())
        start = time.perf_counter()
        worker = widget._on_run() if args.run_button else widget.rerun_visible()
        assert worker is not None
        poll.start(2)
        loop.exec_()
        poll.stop()
        return time.perf_counter() - start

    first = run()
    times = [run() for _ in range(args.repeat)]
    out = viewer.layers["slide colorized (region)"]
    print(json.dumps({
        "benchmark": "preview", "path": "Run button" if args.run_button else "live re-run",
        "view_px": list(out.data.shape[:2]), "first_s": round(first, 3),
        "best_s": round(min(times), 3), "median_s": round(statistics.median(times), 3),
        "runs_s": [round(t, 3) for t in times],
    }))
    viewer.close()


if __name__ == "__main__":
    main()
