"""Fixtures for the napari tests: a tiny saved model (fast), a viewer with the widget."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_colorize.models.network import ChromaNet
from napari_colorize.models.registry import save_model


@pytest.fixture
def tiny_model_dir(tmp_path, monkeypatch):
    """A folder holding model 'tiny', registered as the user's models folder."""
    torch.manual_seed(0)
    net = ChromaNet((8, 8, 8, 8))
    for p in net.head.parameters():  # a non-zero head gives visibly coloured output
        torch.nn.init.normal_(p, std=0.5)
    folder = tmp_path / "models"
    save_model(net, {"name": "tiny"}, folder / "tiny.safetensors")
    monkeypatch.setenv("NAPARI_COLORIZE_MODELS", str(folder))
    return folder


@pytest.fixture
def gray() -> np.ndarray:
    y, x = np.mgrid[0:256, 0:256]
    return (128 + 100 * np.sin(y / 13.0) * np.cos(x / 9.0)).astype(np.uint8)


@pytest.fixture
def viewer_widget(make_napari_viewer, tiny_model_dir):
    """A shown viewer (real canvas under Xvfb) with the Colorize widget docked, model 'tiny'."""
    from napari_colorize._napari._widget import ColorizeWidget

    viewer = make_napari_viewer(show=True)
    widget = ColorizeWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Colorize")
    widget._model_combo.value = "tiny"
    return viewer, widget


@pytest.fixture
def notes(monkeypatch):
    """Messages passed to show_error/show_warning by the widget."""
    from napari_colorize._napari import _widget

    messages: list[str] = []
    monkeypatch.setattr(_widget, "show_error", messages.append)
    return messages


def run_and_wait(qtbot, widget, timeout=60_000):
    """Press Run and wait for the worker to finish; returns the worker."""
    worker = widget._on_run()
    assert worker is not None
    with qtbot.waitSignal(worker.finished, timeout=timeout):
        pass
    qtbot.waitUntil(lambda: widget._worker is None, timeout=timeout)
    return worker
