"""Make the user-guide screenshots from a real napari viewer.

Rerun this script whenever the widget changes (controls, sections, messages), and look at every
image before committing them: the README and the guide show them as the current widget.

Run under an X server, e.g.::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshots.py

Opens the bundled samples, drives the Colorize widget like a user would and saves PNGs into
``docs/images/`` (palette PNGs, each well under 300 KB).
"""

from __future__ import annotations

import time
from pathlib import Path

import napari
import numpy as np
from PIL import Image
from qtpy.QtWidgets import QApplication

OUT = Path(__file__).parent / "images"
PLUGIN = "napari-colorize"


def wait(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def run(widget, timeout: float = 300) -> None:
    """Press Run and let the viewer draw until the worker is done."""
    widget._on_run()
    end = time.perf_counter() + timeout
    while widget._worker is not None and time.perf_counter() < end:
        QApplication.processEvents()
        time.sleep(0.02)
    wait(0.5)


def save(viewer, name: str, canvas_only: bool = False, width: int = 1000) -> None:
    shot = viewer.screenshot(canvas_only=canvas_only, flash=False)[..., :3]
    if canvas_only:  # trim the black canvas margin
        rows, cols = np.nonzero(shot.max(axis=-1) > 0)
        shot = shot[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    img = Image.fromarray(np.ascontiguousarray(shot))
    if img.width > width:
        img = img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)
    img = img.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    path = OUT / name
    img.save(path, optimize=True)
    print(f"{path} {path.stat().st_size // 1024} KB")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    viewer = napari.Viewer(title="napari-colorize")
    viewer.window.resize(1400, 860)
    viewer.window._qt_window.show()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Colorize")
    (gray,) = viewer.open_sample(PLUGIN, "cmu1_gray")
    wait(1)
    widget._layer_combo.value = gray

    # 1. The main picture: the widget and a colorized H&E region above its gray source.
    run(widget)
    save(viewer, "colorize.png")

    # 2. Gray, colorized and true colour side by side.
    viewer.open_sample(PLUGIN, "cmu1_truth")
    viewer.canvas.grid.shape = (1, 3)
    viewer.canvas.grid.enabled = True
    wait(0.5)
    viewer.reset_view()
    wait(1)
    save(viewer, "compare.png", canvas_only=True, width=900)  # gray | colorized | truth
    viewer.reset_view()
    viewer.canvas.grid.enabled = False
    viewer.layers.remove("CMU-1 region (true colour)")

    # 3. Preview: colorize only what is on screen.
    viewer.layers.remove(f"{gray.name} colorized")
    wait(0.5)
    viewer.scene.camera.center = (350, 600)
    viewer.scene.camera.zoom = 1.8  # screen pixels per image pixel
    wait(1)
    widget._scope_combo.value = "visible region"
    run(widget)
    viewer.scene.camera.zoom = 1.0  # zoom out a little so the preview's edges show
    wait(1)
    save(viewer, "preview.png")

    # 4. Confidence layer.
    viewer.reset_view()
    widget._scope_combo.value = "current plane"
    widget._confidence_check.value = True
    run(widget)
    save(viewer, "confidence.png")
    widget._confidence_check.value = False

    # 5. A z-stack: planes appear as they finish; the bar counts planes and tiles.
    viewer.layers.clear()
    (stack,) = viewer.open_sample(PLUGIN, "focus_stack")
    wait(1)
    widget._layer_combo.value = stack
    widget._scope_combo.value = "whole stack"
    widget._tile_combo.value = 256
    widget._on_run()
    while widget._worker is not None and widget._progress.value < widget._progress.max // 3:
        QApplication.processEvents()
        time.sleep(0.02)
    viewer.dims.set_current_step(0, 0)
    wait(0.5)
    save(viewer, "stack_running.png")
    widget._on_cancel()
    while widget._worker is not None:
        QApplication.processEvents()
        time.sleep(0.02)

    # 6. Colours of your lab: another lab's H&E takes the colours of a CMU-1 reference layer.
    viewer.layers.clear()
    (reference,) = viewer.open_sample(PLUGIN, "cmu1_truth")
    reference.visible = False
    (histo,) = viewer.open_sample(PLUGIN, "histo_gray")
    wait(1)
    widget._layer_combo.value = histo
    widget._scope_combo.value = "current plane"
    widget._tile_combo.value = 512
    widget._reference.reset_choices()
    widget._reference._layers.value = [reference]
    viewer.reset_view(layers=[histo])  # the hidden reference is larger
    run(widget)
    save(viewer, "reference.png")

    # 7. An input unlike the model's training images runs, with the warning kept in view.
    domain_warning(viewer, widget)
    viewer.close()


def domain_warning(viewer, widget) -> None:
    """Colorize a photograph with the H&E model: the status line keeps the domain warning."""
    from skimage.data import astronaut

    from napari_colorize.training.evaluation import gray_with_lightness

    viewer.layers.clear()
    photo = viewer.add_image(gray_with_lightness(astronaut()), name="astronaut (gray)")
    widget._layer_combo.value = photo
    widget._scope_combo.value = "current plane"
    viewer.reset_view()
    run(widget)
    save(viewer, "domain_warning.png")


if __name__ == "__main__":
    main()
