"""The Colorize dock widget: pick a gray layer, run the tile engine in a worker, show results."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from magicgui.widgets import CheckBox, ComboBox, Container, Label, ProgressBar, PushButton, SpinBox
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtWidgets import QSizePolicy

from ..core.config import HELP, PRECISIONS, ColorizeConfig
from ..core.stain_render import make_restain
from ..models.devices import available_devices, resolve_device
from ..models.registry import DEFAULT_MODEL, list_models
from ._controls import RunControls
from ._export import ExportButton
from ._failure import Failure
from ._hints import HintsSection, hints_for
from ._job import SCOPES, VISIBLE, Job, plan_job, run_job
from ._layers import FROM_RGB, format_progress, made_here
from ._model_picker import LOAD_FILE, ModelPicker
from ._reference import ReferenceSection, describe_references, reference_labels
from ._results import RenameFollower, remove_running, show_channels, show_result, show_running
from ._specs import widget_options
from ._stain import stain_fields, text_or_none
from ._tune import TuneSection

if TYPE_CHECKING:
    import napari.viewer

    from ..models.spec import ModelSpec

#: The settings a run starts from (the library's defaults).
DEFAULTS = ColorizeConfig()
#: Tile sides offered: multiples of the bundled models' divisor, and the default.
TILE_SIZES: tuple[int | str, ...] = ("auto", 256, 384, 512, 768, 1024)


class ColorizeWidget(ModelPicker, RunControls, Container):
    """The Colorize dock widget.

    Colorizes the picked grayscale image layer (or an RGB layer's lightness, with "From RGB")
    in a worker; results appear as ``"<name> colorized"`` above it. Settings start at
    :class:`~napari_colorize.ColorizeConfig`'s defaults; the controls of optional settings
    (channel layers, colour references and hints) are enabled for models that take them.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose layers are colorized.
    """

    #: Set while napari removes a layer: the "From RGB" box then changes after the event.
    _removing = False

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self._viewer = viewer
        self._model_files: dict[str, str] = {}  # label -> path of models loaded from files
        self._models: dict[tuple[str, str], Any] = {}  # loaded models by (choice, device)
        self._job: Job | None = None
        self._worker: Any = None
        self._layer_combo = ComboBox(label="Image", choices=self._source_layers)
        self._from_rgb_check = CheckBox(text=f"{FROM_RGB}: colorize the image's lightness",
                                        value=DEFAULTS.from_rgb, visible=False,
                                        tooltip=HELP["from_rgb"])
        self._model_combo = ComboBox(label="Model", choices=self._model_choices)
        self._model_combo.value = DEFAULT_MODEL if DEFAULT_MODEL in list_models() else None
        self._last_model = self._model_combo.value
        self._export_button = ExportButton(self._picked_model, self._show_status)
        model_row = Container(label="Model", layout="horizontal", labels=False,
                              widgets=[self._model_combo, self._export_button])
        model_row.margins = (0, 0, 0, 0)
        model_row.native.layout().setStretch(0, 1)  # the picker takes the room, not the button
        self._scope_combo = ComboBox(label="Scope", choices=SCOPES, value=SCOPES[0])
        self._tile_combo = ComboBox(label="Tile size", choices=TILE_SIZES,
                                    value=DEFAULTS.tile_size, tooltip=HELP["tile_size"])
        self._overlap_spin = SpinBox(label="Overlap", value=DEFAULTS.overlap, min=0, step=16,
                                     max=1024 // 2 - 16, tooltip=HELP["overlap"])
        devices = list(dict.fromkeys([DEFAULTS.device, *available_devices()]))
        self._device_combo = ComboBox(label="Device", choices=devices, value=DEFAULTS.device,
                                      tooltip=HELP["device"])
        self._precision_combo = ComboBox(label="Precision", choices=PRECISIONS,
                                         value=DEFAULTS.precision, tooltip=HELP["precision"])
        self._stain_edit, self._colors_edit = stain_fields()
        self._confidence_check = CheckBox(text="Confidence layer", value=DEFAULTS.confidence,
                                          tooltip=HELP["confidence"])
        self._channels_check = CheckBox(text="One layer per channel (channel models)",
                                        value=DEFAULTS.channels, tooltip=HELP["channels"])
        self._run_button = PushButton(text="Run")
        self._cancel_button = PushButton(text="Cancel", enabled=False)
        self._progress = ProgressBar(label="Progress", value=0, min=0, max=1, visible=False)
        self._status = Label(value="")
        self._status.native.setWordWrap(True)  # a long warning wraps instead of widening the dock
        # a wrapped label asks for the height its lines need at the dock's width (not one line)
        self._status.native.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.MinimumExpanding)
        self.extend([
            self._layer_combo, self._from_rgb_check, model_row, self._scope_combo,
            self._tile_combo, self._overlap_spin, self._device_combo, self._precision_combo,
            self._stain_edit, self._colors_edit, self._confidence_check, self._channels_check,
            self._run_button, self._cancel_button, self._progress, self._status,
        ])
        self._reference = ReferenceSection(viewer)  # first of the colour-adaptation tools
        self.append(self._reference)
        self._hints = HintsSection(viewer, source=lambda: self._layer_combo.value,
                                   rerun=self.rerun_visible)
        self.append(self._hints)
        self._rerun_pending = False
        self._note = ""  # the last run's domain warning, kept in the status line
        self._done = ""  # what the run that just finished did, for the status line
        self._checked: tuple | None = None  # (model key, layer id) of the last domain check
        self._domain: Any = None  # and its score, kept by live re-runs that skip the check
        self._fit: Any = None  # the last reference mapping, reused by live re-runs
        self._tune = TuneSection(viewer, on_saved=self.select_model)
        self.append(self._tune)
        self._model_combo.changed.connect(self._on_model_choice)
        self._layer_combo.changed.connect(self._on_layer_choice)
        self._run_button.changed.connect(self._on_run)
        self._cancel_button.changed.connect(self._on_cancel)
        events = viewer.layers.events
        for event in (events.inserted, events.reordered):
            event.connect(self.reset_choices)
        events.removed.connect(self._on_layer_removed)
        self._renames = RenameFollower(viewer.layers)  # results follow their source's name
        events.renamed.connect(self._on_layer_renamed)
        self._on_layer_choice(self._layer_combo.value)
        self._show_options(self._model_spec(self._model_combo.value))

    # -- choices -----------------------------------------------------------------------------
    def _source_layers(self, _widget: Any = None) -> list[tuple[str, Any]]:
        """Image layers the user brought: none the plugin made (results, confidence, channels)."""
        from napari.layers import Image

        return [(lay.name, lay) for lay in self._viewer.layers
                if isinstance(lay, Image) and not made_here(lay)]

    def _on_layer_choice(self, layer: Any) -> None:
        if not self._removing:  # (during a removal: see _on_layer_removed)
            self._show_from_rgb(bool(getattr(layer, "rgb", False)))
        job = self._job
        if job is not None and layer is not None and layer is not job.source:
            self._note_unchanged(job, f"{layer.name!r} is colorized at the next Run")

    def _show_from_rgb(self, rgb: bool) -> None:
        self._from_rgb_check.visible = rgb

    def _follow_pick(self) -> None:
        if self._closing:
            return
        try:
            self._show_from_rgb(bool(getattr(self._layer_combo.value, "rgb", False)))
        except RuntimeError:  # called after Qt deleted the widget (the viewer closed)
            pass

    def _on_layer_removed(self, event: Any) -> None:
        # Before the choices change, so a stopped run is not also told about a new pick.
        job = self._job
        if job is not None and event.value is job.source:
            self._stop("the layer was removed")
        self._removing = True
        try:
            self.reset_choices()
        finally:
            self._removing = False
        # A relayout inside napari's layer removal crashed vispy's draw (under Xvfb): the box
        # follows the new pick (or no layer left) once the event is over.
        from qtpy.QtCore import QTimer

        QTimer.singleShot(0, self._follow_pick)

    def _on_layer_renamed(self, event: Any) -> None:
        job = self._job
        if job is not None and list(self._viewer.layers)[event.index] is job.source:
            job.name = job.source.name  # its result replaces the renamed earlier one

    def _note_unchanged(self, job: Job, what: str) -> None:
        """Tell once per run that a changed pick does not change the run going on."""
        if job.cancelled or job.noted or self._closing:
            return
        job.noted = True
        show_info(f"{self._describe(job)} continues unchanged; {what}.")

    def _describe(self, job: Job) -> str:
        return f"Colorizing {job.name!r}"

    def _show_status(self, text: str) -> None:
        self._status.value = text

    def _show_options(self, spec: ModelSpec | None) -> None:
        """Enable the controls of the optional settings the model takes."""
        supports = widget_options(spec)
        self._channels_check.enabled = "channels" in supports
        for field in (self._stain_edit, self._colors_edit):
            field.enabled = "stain" in supports
        self._reference.set_supported("reference" in supports, spec.name if spec else "")
        self._hints.set_supported("hints" in supports, spec.name if spec else "")

    def _on_model_choice(self, value: str) -> None:
        job = self._job
        if job is not None and value not in (LOAD_FILE, None, self._key[0]):
            self._note_unchanged(job, f"model {value!r} is used at the next Run")
        if value != LOAD_FILE:
            self._last_model = value
            self._show_options(self._model_spec(value))
            return
        self._ask_model_file()

    # -- run ---------------------------------------------------------------------------------
    def _config(self, supports: frozenset[str]) -> ColorizeConfig:
        """Build the run's settings from the controls, checked as the library checks them.

        Options the model does not take are left out (the engine would refuse them); a stain
        or colour words that name nothing are refused here, before a worker starts.
        """
        config = ColorizeConfig(
            tile_size=self._tile_combo.value,
            overlap=int(self._overlap_spin.value),
            device=self._device_combo.value,
            precision=self._precision_combo.value,
            confidence=bool(self._confidence_check.value),
            channels=bool(self._channels_check.value) and "channels" in supports,
            stain=text_or_none(self._stain_edit) if "stain" in supports else None,
            colors=text_or_none(self._colors_edit) if "stain" in supports else None,
            from_rgb=bool(self._from_rgb_check.value),
        )
        make_restain(config.stain, config.colors)
        return config

    def rerun_visible(self) -> Any:
        """Re-colorize the visible region (live hints); after the current run if one is going.

        Returns
        -------
        worker or None
            The run started now; ``None`` when it waits for the current run or cannot start.
        """
        if self._worker is not None:
            self._rerun_pending = True
            return None
        return self._on_run(scope=VISIBLE, live=True)

    def _on_run(self, _value: Any = None, scope: str | None = None, live: bool = False) -> Any:
        """Start a run for the selected layer; returns the worker (``None`` if nothing started)."""
        if self._worker is not None or self._closing:
            return None
        layer = self._layer_combo.value
        choice = self._model_combo.value or DEFAULT_MODEL
        spec = self._model_spec(choice)
        supports = widget_options(spec)
        try:
            job = plan_job(self._viewer, layer, scope or self._scope_combo.value,
                           self._config(supports))
            references = self._reference.sources() if "reference" in supports else None
            hints = hints_for(self._viewer, layer) if "hints" in supports else None
        except (ValueError, TypeError) as exc:
            self._status.value = str(exc)  # not the last run's "Colorized ..." any more
            show_error(str(exc))
            return None
        if references is not None:
            job.reference, job.reference_names = references
        if hints is not None:
            job.take_hints(*hints)
        self._key = (choice, str(resolve_device(job.config.device)))
        # a live re-run of a layer this model has just checked keeps that check and its note
        checked = live and self._checked == (self._key, id(layer))
        if checked:
            job.config = replace(job.config, domain_check=False)
        job.fitted = self._reuse_fit(job)
        model = self._models.get(self._key) or self._model_files.get(choice, choice)
        if job.out is not None:  # whole stack: planes show up here as they finish
            show_running(self._viewer, job)
        job.live = live
        worker = create_worker(run_job, job, model, _start_thread=False)
        self._note = self._note if checked else ""
        return self._start(worker, job, "starting...")

    def _reuse_fit(self, job: Any) -> Any:
        """Give the last run's reference mapping if it used the same layers, model and settings."""
        if self._fit is None or not job.reference:
            return None
        key, config, arrays, fitted = self._fit
        same = (key == self._key and config == _fit_settings(job.config) and len(arrays) ==
                len(job.reference) and all(a is b for a, b in zip(arrays, job.reference,
                                                                  strict=True)))
        return fitted if same else None

    def _on_progress(self, event: Any) -> None:
        job = self._job
        if job is None:
            return
        if job.live:  # the region updating is the feedback; repaints would slow the run
            return
        self._progress.max, self._progress.value = event.total, event.done
        elapsed = time.perf_counter() - job.started
        self._status.value = format_progress(event.done, event.total, event.plane,
                                             event.n_planes, elapsed)
        running = job.running
        if running is not None and event.plane != getattr(self, "_last_plane", None):
            self._last_plane = event.plane
            running.refresh()

    def _on_done(self, result: Any) -> None:
        job = self._job
        if job is None or job.cancelled:
            return
        if isinstance(result, Failure):
            remove_running(self._viewer, job)
            self._done = result.message
            show_error(result.message)
            return
        model, result = result
        job.shown = True
        self._models[self._key] = model
        if self._model_combo.value == self._key[0]:
            self._show_options(model.spec)  # the card could not say (e.g. it was unreadable)
        references = reference_labels(result.reference, job.reference_names)
        domain = result.domain
        if domain is None and not job.config.domain_check:  # a live re-run kept the last check
            domain = self._domain
        show_result(self._viewer, job, result.rgb, result.confidence, references, domain)
        if job.hints_note is not None:  # this run's note replaces the last one
            self._hints.show_count(job.hints_note)
        if job.fitted is not None:
            self._fit = (self._key, _fit_settings(job.config), list(job.reference or ()),
                         job.fitted)
        if result.domain is not None:
            self._checked, self._domain = (self._key, id(job.source)), result.domain
            self._note = "" if result.domain.in_domain else result.domain.message
        if result.channels is not None:
            show_channels(self._viewer, job, result.channels, model.spec)
        seconds = time.perf_counter() - job.started
        colours = f" with the colours of {describe_references(references)}" if references else ""
        self._done = f"Colorized {job.name!r} in {seconds:.1f} s{colours}."
        if job.scope != VISIBLE:  # a preview reports in the status line: no toast per look
            show_info(self._done)
        if self._note and (not job.live or result.domain is not None):
            show_warning(self._note)  # last, so it is the one in view; the status line keeps it

    def _on_aborted(self) -> None:
        self._discard()

    def _on_finished(self) -> None:
        # A cancel that lands after the generator's last batch gets neither `aborted` nor
        # `returned`: clean up here whenever no result was shown.
        job = self._job
        failed = job is not None and not job.shown
        if failed:
            self._discard()
        cancelled = job is not None and job.cancelled
        self._stopped()
        self._last_plane = None
        if cancelled:
            self._status.value = self._end_text()
        else:  # a failure's message, else the domain warning kept, else what the run did
            self._status.value = self._done if failed else self._note or self._done
        self._done = ""
        if cancelled:
            self._rerun_pending = False  # Cancel also drops a queued live-hint re-run
        if self._rerun_pending:
            self._rerun_pending = False
            self.rerun_visible()

    def _discard(self) -> None:
        job = self._job
        if job is not None and job.gen is not None:
            job.gen.close()  # superqt does not close the generator: discard partial output here
        remove_running(self._viewer, job)

    def _on_closing(self) -> None:
        remove_running(self._viewer, self._job)


def _fit_settings(config: ColorizeConfig) -> str:
    """Describe the settings a reference fit depends on (live re-runs skip the domain check)."""
    return repr(replace(config, domain_check=True))
