"""Fixtures for the napari tests: a tiny saved model (fast), a viewer with the widget, a model
that waits for the test (runs surely in flight), the notifications sent, a Run that waits.

Helpers are fixtures, never imported from this file: a conftest is not a module to import."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from napari_colorize.models.fraction_net import FractionNet
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
def fraction_model_dir(tiny_model_dir):
    """Also model 'tiny-fractions' (a channel model: nuclei, other) in the user's folder."""
    torch.manual_seed(0)
    net = FractionNet((8, 8, 8, 8), channels=2)
    card = {"name": "tiny-fractions", "kind": "fractions", "channel_names": ["nuclei", "other"],
            "palette": [[0, 1, 1], [1, 0, 1]],
            "architecture": {"class": "FractionNet", "widths": [8, 8, 8, 8], "channels": 2}}
    save_model(net, card, tiny_model_dir / "tiny-fractions.safetensors")
    return tiny_model_dir


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
    from napari_colorize._napari import _model_picker, _widget

    messages: list[str] = []
    for module in (_widget, _model_picker):
        monkeypatch.setattr(module, "show_error", messages.append)
    return messages


@pytest.fixture
def run_and_wait(qtbot):
    """``run_and_wait(widget, timeout=ms)``: press Run, wait for the worker to finish and for
    the widget to be idle again; returns the worker."""

    def run(widget, timeout=60_000):
        worker = widget._on_run()
        assert worker is not None
        with qtbot.waitSignal(worker.finished, timeout=timeout):
            pass
        qtbot.waitUntil(lambda: widget._worker is None, timeout=timeout)
        return worker

    return run


@pytest.fixture
def notices():
    """Every napari notification (show_info/show_warning/show_error) sent during the test."""
    from napari.utils.notifications import notification_manager

    messages: list[str] = []

    def record(event):
        messages.append(str(event.message))

    notification_manager.notification_ready.connect(record)
    yield messages
    notification_manager.notification_ready.disconnect(record)


class GatedNet(torch.nn.Module):
    """A pointwise colour net that waits at every batch until the test opens its gate."""

    widths = (0, 0, 0, 0)

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()  # a batch reached the model: the run is in flight
        self.gate = threading.Event()

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        self.entered.set()
        self.gate.wait(30)
        a = 0.4 * (lightness - 50)
        b = 30 * torch.sin(lightness / 9)
        return torch.cat([a, b, lightness / 100], dim=1)


@pytest.fixture
def gated(viewer_widget):
    """The widget's model 'tiny' on the CPU replaced by a :class:`GatedNet` (gate closed)."""
    from napari_colorize.models.spec import ColorModel, ModelSpec

    _, widget = viewer_widget
    net = GatedNet()
    widget._device_combo.value = "cpu"
    widget._models[("tiny", "cpu")] = ColorModel(net, ModelSpec("gated", divisor=32,
                                                                 min_tile=64))
    yield net
    net.gate.set()  # never leave a worker waiting
