"""The Colorize dock widget: pick a gray layer, run the tile engine in a worker, show results."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, Label, ProgressBar, PushButton, SpinBox
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info

from ..models.registry import DEFAULT_MODEL, available_devices, list_models, load_model
from ._controls import RunControls
from ._hints import HintsSection, hints_for
from ._job import SCOPES, VISIBLE, Failure, Job, plan_job, run_job
from ._layers import format_progress, insert_index
from ._tune import TuneSection

if TYPE_CHECKING:
    import napari.viewer

LOAD_FILE = "Load model file..."
TILE_SIZES = ("auto", "256", "384", "512", "768", "1024")
AUTO_TILE = 512
#: Metadata key marking layers this widget made (only those are replaced by a new run).
RESULT_TAG = "napari_colorize_result"


class ColorizeWidget(RunControls, Container):
    """Colorize a grayscale image layer; results appear as ``"<name> colorized"`` above it."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self._viewer = viewer
        self._model_files: dict[str, str] = {}  # label -> path of models loaded from files
        self._models: dict[tuple[str, str], Any] = {}  # loaded models by (choice, device)
        self._job: Job | None = None
        self._worker: Any = None
        self._layer_combo = ComboBox(label="Image", choices=self._gray_layers)
        self._model_combo = ComboBox(label="Model", choices=self._model_choices)
        self._model_combo.value = DEFAULT_MODEL if DEFAULT_MODEL in list_models() else None
        self._scope_combo = ComboBox(label="Scope", choices=SCOPES, value=SCOPES[0])
        self._tile_combo = ComboBox(label="Tile size", choices=TILE_SIZES, value="auto")
        self._overlap_spin = SpinBox(label="Overlap", value=64, min=0, max=480, step=16)
        self._device_combo = ComboBox(label="Device", choices=available_devices())
        self._confidence_check = CheckBox(text="Confidence layer", value=False)
        self._channels_check = CheckBox(text="One layer per channel (channel models)",
                                        value=False)
        self._run_button = PushButton(text="Run")
        self._cancel_button = PushButton(text="Cancel", enabled=False)
        self._progress = ProgressBar(label="Progress", value=0, min=0, max=1, visible=False)
        self._status = Label(value="")
        self.extend([
            self._layer_combo, self._model_combo, self._scope_combo, self._tile_combo,
            self._overlap_spin, self._device_combo, self._confidence_check,
            self._channels_check, self._run_button, self._cancel_button, self._progress,
            self._status,
        ])
        self._hints = HintsSection(viewer, source=lambda: self._layer_combo.value,
                                   rerun=self.rerun_visible)
        self.append(self._hints)
        self._rerun_pending = False
        self._tune = TuneSection(viewer, on_saved=self.select_model)
        self.append(self._tune)
        self._model_combo.changed.connect(self._on_model_choice)
        self._run_button.changed.connect(self._on_run)
        self._cancel_button.changed.connect(self._on_cancel)
        events = viewer.layers.events
        for event in (events.inserted, events.removed, events.reordered):
            event.connect(self.reset_choices)

    # -- choices -----------------------------------------------------------------------------
    def _gray_layers(self, _widget: Any = None) -> list[tuple[str, Any]]:
        from napari.layers import Image

        return [(lay.name, lay) for lay in self._viewer.layers
                if isinstance(lay, Image) and not lay.rgb]

    def _model_choices(self, _widget: Any = None) -> list[str]:
        return [*list_models(), *self._model_files, LOAD_FILE]

    def _on_model_choice(self, value: str) -> None:
        if value != LOAD_FILE:
            return
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(
            self.native, "Load colorization model", "", "Models (*.safetensors *.json)"
        )
        self._model_combo.value = DEFAULT_MODEL if DEFAULT_MODEL in list_models() else None
        if path:
            self.add_model_file(path)

    def select_model(self, name: str) -> None:
        """Offer the models found now (e.g. one just tuned) and select ``name``."""
        self._model_combo.reset_choices()
        self._model_combo.value = name

    def add_model_file(self, path: str | Path) -> bool:
        """Load a model file, offer it in the model picker and select it; notify on failure."""
        device = self._device_combo.value
        try:
            model = load_model(path, device=device)
        except (ValueError, OSError) as exc:
            show_error(f"Cannot load model file {Path(path).name}: {str(exc).splitlines()[0]}")
            return False
        label = f"{model.spec.name} ({Path(path).name})"
        self._model_files[label] = str(path)
        self._models[(label, device)] = model
        self._model_combo.reset_choices()
        self._model_combo.value = label
        return True

    # -- run ---------------------------------------------------------------------------------
    def _engine_kwargs(self) -> dict[str, Any]:
        tile = self._tile_combo.value
        return {
            "tile_size": AUTO_TILE if tile == "auto" else int(tile),
            "overlap": int(self._overlap_spin.value),
            "device": self._device_combo.value,
            "confidence": bool(self._confidence_check.value),
            "channels": bool(self._channels_check.value),
        }

    def rerun_visible(self) -> Any:
        """Re-colorize the visible region (live hints); after the current run if one is going."""
        if self._worker is not None:
            self._rerun_pending = True
            return None
        return self._on_run(scope=VISIBLE)

    def _on_run(self, _value: Any = None, scope: str | None = None) -> Any:
        """Start a run for the selected layer; returns the worker (``None`` if nothing started)."""
        if self._worker is not None:
            return None
        layer = self._layer_combo.value
        try:
            job = plan_job(self._viewer, layer, scope or self._scope_combo.value,
                           self._engine_kwargs())
        except ValueError as exc:
            show_error(str(exc))
            return None
        hints = hints_for(self._viewer, layer) if layer is not None else None
        if hints is not None:
            points, colours = hints
            job.engine_kwargs["hints"] = (points - np.asarray(job.offset, float), colours)
        choice = self._model_combo.value or DEFAULT_MODEL
        model = self._models.get((choice, job.engine_kwargs["device"]))
        model = model or self._model_files.get(choice, choice)
        if job.out is not None:  # whole stack: planes show up here as they finish
            self._viewer.layers.insert(
                insert_index(self._viewer.layers, job.source),
                _image_layer(job.out, f"{job.result_name()} (running)", job.transforms),
            )
        worker = create_worker(run_job, job, model, _start_thread=False)
        worker.aborted.connect(self._on_aborted)
        self._key = (choice, job.engine_kwargs["device"])
        return self._start(worker, job, "starting...")

    def _on_progress(self, event: Any) -> None:
        job = self._job
        if job is None:
            return
        self._progress.max, self._progress.value = event.total, event.done
        if event.message:
            self._hints.show_count(event.message)
        elapsed = time.perf_counter() - job.started
        self._status.value = format_progress(event.done, event.total, event.plane,
                                             event.n_planes, elapsed)
        running = self._running_layer()
        if running is not None and event.plane != getattr(self, "_last_plane", None):
            self._last_plane = event.plane
            running.refresh()

    def _on_done(self, result: Any) -> None:
        job = self._job
        if job is None or job.cancelled:
            return
        if isinstance(result, Failure):
            self._remove_running()
            show_error(result.message)
            return
        model, result = result
        job.shown = True
        self._models[self._key] = model
        parts = list(result) if isinstance(result, tuple) else [result]
        rgb = parts.pop(0)
        conf = parts.pop() if job.engine_kwargs["confidence"] else None
        maps = parts.pop() if parts else None
        self._show_result(job, rgb, conf)
        if maps is not None:
            self._show_channels(job, maps, model.spec)
        seconds = time.perf_counter() - job.started
        show_info(f"Colorized {job.name!r} in {seconds:.1f} s.")

    def _on_aborted(self) -> None:
        self._discard()

    def _on_finished(self) -> None:
        # A cancel that lands after the generator's last batch gets neither `aborted` nor
        # `returned`: clean up here whenever no result was shown.
        if self._job is not None and not self._job.shown:
            self._discard()
        cancelled = self._job is not None and self._job.cancelled
        self._stopped()
        self._last_plane = None
        self._status.value = ""
        if cancelled:
            self._rerun_pending = False  # Cancel also drops a queued live-hint re-run
        if self._rerun_pending:
            self._rerun_pending = False
            self.rerun_visible()

    def _discard(self) -> None:
        job = self._job
        if job is not None and job.gen is not None:
            job.gen.close()  # superqt does not close the generator: discard partial output here
        self._remove_running()

    # -- layers ------------------------------------------------------------------------------
    def _running_layer(self) -> Any:
        job = self._job
        name = f"{job.result_name()} (running)" if job is not None else None
        return next((lay for lay in self._viewer.layers if lay.name == name), None)

    def _remove_running(self) -> None:
        layer = self._running_layer()
        if layer is not None:
            self._viewer.layers.remove(layer)

    def _show_result(self, job: Job, rgb: Any, conf: Any) -> None:
        layers = self._viewer.layers
        self._remove_running()
        for kind in ("colorized", "confidence"):
            _remove_own(layers, job.result_name(kind))
        index = insert_index(layers, job.source)
        layers.insert(index, _image_layer(rgb, job.result_name(), job.transforms))
        if conf is not None:
            layers.insert(index + 1, _image_layer(
                conf, job.result_name("confidence"), job.transforms,
                rgb=False, colormap="viridis", contrast_limits=(0.0, 1.0), opacity=0.7,
                visible=True,
            ))


    def _show_channels(self, job: Job, maps: Any, spec: Any) -> None:
        """One layer per predicted channel, coloured by the palette, blended additively."""
        from napari.utils.colormaps import Colormap

        layers = self._viewer.layers
        index = insert_index(layers, job.source)
        for k, (name, colour) in enumerate(zip(spec.channel_names, spec.palette, strict=True)):
            title = job.result_name(name)
            _remove_own(layers, title)
            cmap = Colormap([[0, 0, 0, 1], [*colour, 1]], name=f"napari-colorize {name}")
            layers.insert(index + 1 + k, _image_layer(
                maps[k], title, job.transforms, rgb=False, colormap=cmap,
                contrast_limits=(0.0, 1.0), blending="additive", visible=False,
            ))


def _image_layer(data: Any, name: str, transforms: dict[str, Any], rgb: bool = True,
                 **kwargs: Any) -> Any:
    from napari.layers import Image

    return Image(data, name=name, rgb=rgb, **transforms, metadata={RESULT_TAG: True}, **kwargs)


def _remove_own(layers: Any, name: str) -> None:
    """Remove the result layer ``name`` made by this widget; a user's own layer stays."""
    if name in layers and layers[name].metadata.get(RESULT_TAG):
        layers.remove(name)
