"""The Tune section of the dock widget: tune a model to the stain of colour RGB layers.

A thin client of :func:`napari_colorize.training.tuning.iter_tune`: it plans the reference boxes
(and optional Shapes regions) in the GUI thread, reads them and runs the generator in a worker,
and on success saves the model to the user's models folder, shows a before/after preview of the
held-out strip and hands the new name to the model picker. Cancel saves nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from magicgui.widgets import (
    ComboBox,
    Container,
    Label,
    LineEdit,
    ProgressBar,
    PushButton,
    Select,
    SpinBox,
)
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info

from ..models.registry import DEFAULT_MODEL, list_models
from ._controls import RunControls
from ._failure import Failure
from ._layers import level0, offset_transform, user_rgb_layers, widget_tag
from ._results import remove_own

WHOLE = "whole images"
#: Largest area of one reference read from a layer (draw regions on bigger slides).
MAX_PIXELS = 64_000_000


@dataclass
class TuneJob:
    """What one tuning run uses, fixed when Run is pressed.

    Attributes
    ----------
    layers : list of napari.layers.Image
        The reference layers.
    sources : list of tuple
        Each reference's array and box; the worker reads them (up to :data:`MAX_PIXELS` each,
        possibly lazy arrays), never the GUI thread.
    masks : list of numpy.ndarray or None
        The Shapes regions inside each box, when regions were picked.
    base, name : str
        The model tuned and the name the tuned model is saved as.
    settings : dict
        Fields of :class:`~napari_colorize.training.tuning.TuneConfig`.
    """

    layers: list[Any]
    sources: list[tuple[Any, tuple[slice, slice]]]
    masks: list[np.ndarray] | None
    base: str
    name: str
    settings: dict[str, Any]
    origins: list[tuple[int, int]] = field(default_factory=list)  # of each crop in its layer
    labels: list[str] = field(default_factory=list)  # layer names, for the model card
    gen: Any = None
    cancelled: bool = False
    done: bool = False
    losses: list[float] = field(default_factory=list)


def shapes_region(
    shapes: Any, image_layer: Any, shape: tuple[int, int]
) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """Find the bounding box of shapes on an image layer, and their mask inside it.

    Shapes map to the image through world coordinates. Only the box is read later, so regions
    on a large slide do not load the whole slide.

    Parameters
    ----------
    shapes : napari.layers.Shapes
        The regions.
    image_layer : napari.layers.Image
        The reference layer.
    shape : tuple of int
        The reference's (rows, columns).

    Returns
    -------
    tuple or None
        ``((row slice, column slice), mask)`` in the image's pixels; ``None`` when no shape
        lies on the image.
    """
    from napari.layers import Shapes

    converted = []
    for vertices in shapes.data:
        world = [shapes.data_to_world(v) for v in np.asarray(vertices)]
        converted.append(np.array([image_layer.world_to_data(w)[-2:] for w in world]))
    if not converted:
        return None
    points = np.concatenate(converted)
    lo = np.clip(np.floor(points.min(axis=0)).astype(int), 0, shape)
    hi = np.clip(np.ceil(points.max(axis=0)).astype(int) + 1, 0, shape)
    if np.any(hi <= lo):
        return None
    local = Shapes([v - lo for v in converted], shape_type=list(shapes.shape_type))
    mask = np.asarray(local.to_masks(mask_shape=tuple(hi - lo))).any(axis=0)
    if not mask.any():
        return None
    return (slice(int(lo[0]), int(hi[0])), slice(int(lo[1]), int(hi[1]))), mask


def shapes_mask(shapes: Any, image_layer: Any, shape: tuple[int, int]) -> np.ndarray:
    """Make the boolean mask of shapes over the whole of an image layer's pixels.

    Parameters
    ----------
    shapes : napari.layers.Shapes
        The regions.
    image_layer : napari.layers.Image
        The reference layer.
    shape : tuple of int
        The reference's (rows, columns).

    Returns
    -------
    numpy.ndarray
        Boolean, shaped ``shape``.
    """
    full = np.zeros(shape, bool)
    region = shapes_region(shapes, image_layer, shape)
    if region is not None:
        full[region[0]] = region[1]
    return full


def read_reference(data: Any, box: tuple[slice, slice]) -> np.ndarray:
    """Read the RGB pixels of a box of a reference layer's array into memory.

    Parameters
    ----------
    data : array-like
        The layer's (possibly lazy) ``(rows, columns, 3 or 4)`` array.
    box : tuple of slice
        Rows and columns to read.

    Returns
    -------
    numpy.ndarray
        ``(rows, columns, 3)``.
    """
    return np.asarray(data[box])[..., :3]


def run_tune(job: TuneJob):
    """Read the references and drive ``iter_tune`` (the worker's body).

    Parameters
    ----------
    job : TuneJob
        What to tune on and how.

    Yields
    ------
    TuneProgress
        The tuning's progress events.

    Returns
    -------
    TuneResult or Failure
        The tuned model, or a :class:`Failure` shown as one notification.
    """
    from ..training.tuning import TuneConfig, iter_tune

    try:
        config = TuneConfig(**job.settings)
        images = [read_reference(data, box) for data, box in job.sources]
        job.gen = iter_tune(images, config, base=job.base, masks=job.masks, labels=job.labels,
                            name=job.name)
        return (yield from job.gen)
    except ValueError as exc:
        return Failure(str(exc).split("\n")[0])
    except MemoryError:
        return Failure("Out of memory: tune on smaller layers or regions.")
    except Exception as exc:
        return Failure.unexpected(exc)


class TuneSection(RunControls, Container):
    """The Tune section: tune a model on RGB reference layers (and Shapes regions) in a budget.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The widget's viewer.
    on_saved : callable, optional
        Called with the new model's name once it is saved (the widget selects it).
    """

    def __init__(self, viewer: Any, on_saved: Callable[[str], None] | None = None) -> None:
        super().__init__(label=False)
        self._viewer = viewer
        self._on_saved = on_saved
        self._job: TuneJob | None = None
        self._worker: Any = None
        self._settings: dict[str, Any] = {}  # extra TuneConfig fields (tests: a few steps)
        self._title = Label(value="<b>Tune to your stain</b>")
        self._refs = Select(label="References", choices=self._rgb_layers)
        self._regions = ComboBox(label="Regions", choices=self._shapes_layers)
        self._base = ComboBox(label="Base model", choices=lambda _w=None: list_models())
        self._base.value = DEFAULT_MODEL if DEFAULT_MODEL in list_models() else None
        self._seconds = SpinBox(label="Seconds", value=120, min=5, max=3600, step=5)
        self._name = LineEdit(label="Save as", value="my-lab")
        self._run_button = PushButton(text="Tune")
        self._cancel_button = PushButton(text="Cancel tuning", enabled=False)
        self._progress = ProgressBar(label="Tuning", value=0, min=0, max=100, visible=False)
        self._status = Label(value="")
        self.extend([self._title, self._refs, self._regions, self._base, self._seconds,
                     self._name, self._run_button, self._cancel_button, self._progress,
                     self._status])
        self._run_button.changed.connect(self._on_run)
        self._cancel_button.changed.connect(self._on_cancel)

    # -- choices -----------------------------------------------------------------------------
    def _rgb_layers(self, _widget: Any = None) -> list[tuple[str, Any]]:
        # a model must not be tuned on its own output
        return user_rgb_layers(self._viewer.layers)

    def _shapes_layers(self, _widget: Any = None) -> list[tuple[str, Any]]:
        from napari.layers import Shapes

        shapes = [(lay.name, lay) for lay in self._viewer.layers if isinstance(lay, Shapes)]
        return [(WHOLE, None), *shapes]

    # -- run ---------------------------------------------------------------------------------
    def _plan(self) -> TuneJob:
        layers = list(self._refs.value or [])
        if not layers:
            raise ValueError("Pick one or more RGB reference layers to tune on.")
        name = self._name.value.strip()
        from ..training.tuning import check_model_name

        check_model_name(name)
        if name in list_models():
            raise ValueError(f"A model named {name!r} exists already: choose another name.")
        sources, masks, origins = [], [], []
        shapes = self._regions.value
        for layer in layers:
            data = level0(layer.data)
            if len(data.shape) != 3:
                raise ValueError(f"Layer {layer.name!r} is not a single 2-D RGB image.")
            box = (slice(None), slice(None))
            if shapes is not None:
                region = shapes_region(shapes, layer, tuple(data.shape[:2]))
                if region is None:
                    raise ValueError(f"No shape of {shapes.name!r} lies on {layer.name!r}.")
                box, mask = region
                masks.append(mask)
            size = _box_pixels(box, data.shape)
            if size > MAX_PIXELS:
                raise ValueError(
                    f"{layer.name!r} is {data.shape[0]} x {data.shape[1]} px "
                    f"({size / 1e6:.1f} MP): draw Shapes regions to tune on parts of it "
                    f"(at most {MAX_PIXELS / 1e6:.0f} MP each)."
                )
            sources.append((data, box))
            origins.append((box[0].start or 0, box[1].start or 0))
        settings = {"seconds": float(self._seconds.value), **self._settings}
        return TuneJob(layers, sources, masks if shapes is not None else None,
                       self._base.value or DEFAULT_MODEL, name, settings, origins,
                       [layer.name for layer in layers])

    def _on_run(self, _value: Any = None) -> Any:
        """Start tuning; returns the worker (``None`` if nothing started)."""
        if self._worker is not None or self._closing:
            return None
        try:
            job = self._plan()
        except ValueError as exc:
            show_error(str(exc))
            return None
        worker = create_worker(run_tune, job, _start_thread=False)
        return self._start(worker, job, "evaluating the base model...")

    def _describe(self, job: TuneJob) -> str:
        return f"Tuning {job.name!r}"

    def _on_progress(self, event: Any) -> None:
        self._progress.value = round(100 * min(event.fraction, 1.0))
        if event.phase == "train":
            self._status.value = f"step {event.step}, loss {event.loss:.2f}, {event.elapsed:.0f} s"
        else:
            self._status.value = f"{event.phase}... ({event.elapsed:.0f} s)"

    def _on_done(self, result: Any) -> None:
        job = self._job
        if job is None or job.cancelled:
            return
        if isinstance(result, Failure):
            show_error(result.message)
            return
        from ..training.tuning import save_tuned

        try:
            path = save_tuned(result)
        except (ValueError, OSError) as exc:
            show_error(f"Could not save the tuned model: {str(exc).splitlines()[0]}")
            return
        job.done = True
        self._show_preview(job, result)
        scores = result.metrics["holdout_ciede2000_tissue"]
        self._summary = _summary(job.name, scores)
        self._name.value = _next_name(job.name)
        self._base.reset_choices()
        if self._on_saved is not None:
            self._on_saved(job.name)
        show_info(f"{self._summary} Saved to {path}.")

    def _on_finished(self) -> None:
        job = self._job
        if job is not None and not job.done and job.gen is not None:
            job.gen.close()  # superqt does not close the generator; nothing was saved
        self._stopped()
        done = job is not None and job.done
        cancelled = job is not None and job.cancelled
        self._status.value = (getattr(self, "_summary", "") if done else
                              self._end_text() if cancelled else "")

    def _show_preview(self, job: TuneJob, result: Any) -> None:
        """Before (hidden) and after layers over the held-out strip of the reference layer."""
        from napari.layers import Image

        preview = result.preview
        if preview is None:
            return
        source = job.layers[preview["image"]]
        box = preview["box"]
        oy, ox = job.origins[preview["image"]]
        transforms = offset_transform(source, (oy + box[0].start, ox + box[1].start))
        for kind, visible in (("before", False), ("after", True)):
            name = f"{job.name}: held-out {kind}"
            remove_own(self._viewer.layers, name)  # a user's layer of that name stays
            self._viewer.layers.append(Image(
                preview[kind], name=name, rgb=True, visible=visible, **transforms,
                metadata=widget_tag(f"held-out {kind}", source.name),
            ))


def _summary(name: str, scores: dict[str, Any]) -> str:
    before, after = scores.get("base"), scores.get("tuned")
    if before is None or after is None:
        return f"Tuned {name!r} (no held-out tissue to measure)."
    change = 100 * (after / before - 1) if before else 0.0
    return (f"Tuned {name!r}: held-out tissue CIEDE2000 {before:.1f} -> {after:.1f} "
            f"({change:+.0f} %).")


def _next_name(name: str) -> str:
    """``my-lab`` -> ``my-lab-2`` -> ``my-lab-3``: a fresh default after a save."""
    stem, _, number = name.rpartition("-")
    return f"{stem}-{int(number) + 1}" if stem and number.isdigit() else f"{name}-2"


def _box_pixels(box: tuple[slice, slice], shape: tuple[int, ...]) -> int:
    rows = range(*box[0].indices(shape[0]))
    cols = range(*box[1].indices(shape[1]))
    return len(rows) * len(cols)
