"""One widget run: what to colorize (cut from the layer in the GUI thread) and the worker body."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..core.config import ColorizeConfig
from ._failure import Failure, plain_message
from ._hints import hints_in_cut
from ._layers import (
    all_nan,
    crop_box,
    level0,
    offset_transform,
    result_name,
    source_problem,
    transform_kwargs,
)
from ._reference import name_references, read_references

PLANE, STACK, VISIBLE = "current plane", "whole stack", "visible region"
SCOPES = (PLANE, STACK, VISIBLE)


@dataclass
class Job:
    """Everything a run needs, fixed when Run is pressed (later layer switches do not matter).

    Attributes
    ----------
    source : napari.layers.Image
        The layer colorized.
    name : str
        Its name (when Run was pressed, or since renamed).
    data : array-like
        What the engine colorizes: the layer's data or a cut of it.
    transforms : dict
        Placement of the result layers.
    scope : str
        One of :data:`SCOPES`.
    config : ColorizeConfig
        The run's settings.
    out : numpy.ndarray or None
        The array a whole-stack run fills plane by plane (shown as it fills).
    offset : tuple of float
        Where ``data`` starts in the layer's data coordinates.
    gen : generator or None
        The engine's generator, closed on Cancel.
    started : float
        ``time.perf_counter()`` at Run.
    cancelled, shown : bool
        Whether the run was cancelled; whether its result is shown.
    """

    source: Any
    name: str
    data: Any
    transforms: dict[str, Any]
    scope: str
    config: ColorizeConfig
    #: Colour hints (points in the cut's data coordinates, colours), for models that take them.
    hints: Any = None
    #: Where the hints left out of the cut lie, for the Hints status ("" if none); ``None``
    #: when the run did not read hints.
    hints_note: str | None = None
    #: Colour references: the layers' full-resolution arrays (read in the worker), and names.
    reference: list[Any] | None = None
    reference_names: tuple[str, ...] = ()
    #: The mapping fitted on ``reference`` by an earlier run with the same layers, model and
    #: settings (live re-runs reuse it), or the one this run fitted.
    fitted: Any = None
    out: np.ndarray | None = None
    offset: tuple[float, ...] = ()
    #: What part of the source the result covers: "" (all of it), "plane" or "region"; results
    #: of different parts are separate layers, so a preview never replaces a whole-stack run.
    part: str = ""
    gen: Any = None
    started: float = field(default_factory=time.perf_counter)
    cancelled: bool = False
    shown: bool = False
    #: The "(running)" layer a whole-stack run fills plane by plane (removed unless finished).
    running: Any = None
    #: Whether the user was told once that changing the picks does not change this run.
    noted: bool = False
    #: A live re-run of the visible region (a hint moved): the layer updating is the feedback,
    #: so it shows no progress and no notification.
    live: bool = False

    def take_hints(self, points: np.ndarray, colours: np.ndarray) -> None:
        """Keep the hints that lie in the cut, in its coordinates; note where the others lie.

        Parameters
        ----------
        points : numpy.ndarray
            ``(N, ndim)`` hints in the source layer's data coordinates.
        colours : numpy.ndarray
            ``(N, 3)`` their RGB colours in [0, 1].
        """
        n = len(self.offset)
        keep, self.hints_note = hints_in_cut(points, self.offset, np.shape(self.data)[:n],
                                             tuple(level0(self.source.data).shape[:n]))
        if keep.any():  # the engine would count the others as outside the image
            self.hints = (points[keep] - np.asarray(self.offset, float), colours[keep])

    def result_name(self, kind: str = "colorized") -> str:
        """Name this run's result layer of a kind.

        Parameters
        ----------
        kind : str
            ``"colorized"``, ``"confidence"`` or a channel name.

        Returns
        -------
        str
        """
        return result_name(self.name, kind, self.part)


def _current_index(viewer: Any, layer: Any, n_leading: int) -> tuple[int, ...]:
    """Return the data index of the leading (non-plane) axes at the viewer's position."""
    point = layer.world_to_data(viewer.dims.point)
    shape = level0(layer.data).shape
    index = tuple(int(np.round(point[i])) for i in range(n_leading))
    if any(not 0 <= i < n for i, n in zip(index, shape, strict=False)):
        # napari draws none of the layer here: colorizing its nearest plane would show nothing
        raise ValueError(f"Layer {layer.name!r} has no plane at the viewer's position; move the "
                         "slider onto one of its planes, or use Whole stack.")
    return index


def _check_plane_view(viewer: Any, scope: str) -> None:
    """Refuse a view whose displayed axes are not the image's last two (planes are cut there)."""
    ndim = viewer.dims.ndim
    if viewer.dims.ndisplay != 2 or list(viewer.dims.displayed) != [ndim - 2, ndim - 1]:
        raise ValueError(f"{scope.capitalize()} works in the 2-D view of the image's last two "
                         "axes; use Whole stack, or reset the view's axis order.")


def _view_corners(viewer: Any, layer: Any) -> np.ndarray | None:
    """Return the canvas's (row, column) extent in the layer's full-resolution data, or None.

    Read from the camera and the canvas size rather than ``layer.corner_pixels``: napari grows a
    multiscale layer's corners to whole chunks and keeps them while the view zooms in.
    """
    size = np.asarray(getattr(viewer.canvas, "size", (0, 0)), float)
    zoom = float(viewer.camera.zoom)
    if size.shape != (2,) or not np.all(size > 0) or not zoom > 0:
        return None  # no canvas drawn yet
    half = size / zoom / 2
    center = np.asarray(viewer.camera.center, float)[-2:]
    point = np.asarray(viewer.dims.point, float)
    corners = []
    for dy in (-1, 1):  # all four: a rotated layer's box is not given by two of them
        for dx in (-1, 1):
            world = point.copy()
            world[-2:] = center + half * (dy, dx)
            corners.append(np.asarray(layer.world_to_data(world), float)[-2:])
    data = np.array(corners)
    return np.stack([data.min(0), data.max(0)])


def _visible_box(viewer: Any, layer: Any, plane_shape: tuple[int, int]) -> tuple[slice, slice]:
    corners, factor = _view_corners(viewer, layer), (1.0, 1.0)
    if corners is None:
        corners = np.asarray(layer.corner_pixels)[:, -2:]
        if layer.multiscale:
            factor = tuple(layer.downsample_factors[layer.data_level][-2:])
    box = crop_box(corners, plane_shape, factor)
    if box is None:
        raise ValueError(f"No part of layer {layer.name!r} is visible on the canvas.")
    return box


def plan_job(viewer: Any, layer: Any, scope: str, config: ColorizeConfig) -> Job:
    """Cut the data for ``scope`` from ``layer``.

    An RGB layer needs ``config.from_rgb`` (the engine then colorizes its lightness); its colour
    axis stays last in every cut.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        Where the current plane and the visible region are read.
    layer : napari.layers.Image or None
        The picked image layer.
    scope : str
        One of :data:`SCOPES`.
    config : ColorizeConfig
        The widget's settings.

    Returns
    -------
    Job
        With ``config`` adapted to the layer: ``from_rgb`` only for an RGB layer, the layer's
        contrast limits for a gray layer that is not uint8.

    Raises
    ------
    ValueError
        One sentence naming the problem, when the layer or the view cannot be used.
    """
    if layer is None:
        raise ValueError("Pick a grayscale image layer to colorize.")
    problem = source_problem(layer, config.from_rgb)
    if problem:
        raise ValueError(problem)
    rgb = bool(layer.rgb)
    data = level0(layer.data)
    n_leading = data.ndim - 2 - rgb
    config = replace(config, from_rgb=rgb)  # a gray layer's run does not depend on the tick
    if not rgb and data.dtype != np.uint8:
        # What the user sees as gray is what gets colorized.
        config = replace(config, contrast_limits=tuple(float(c) for c in layer.contrast_limits))
    offset: tuple[float, ...] = (0,) * (data.ndim - rgb)
    if scope == STACK or (scope == PLANE and n_leading == 0):
        view, transforms = data, transform_kwargs(layer)
    else:
        _check_plane_view(viewer, scope)
        index = _current_index(viewer, layer, n_leading)
        box = (slice(None), slice(None))
        if scope == VISIBLE:
            box = _visible_box(viewer, layer, data.shape[n_leading:n_leading + 2])
        # Keep the leading axes (length 1), so the result shows at this plane only.
        view = data[tuple(slice(i, i + 1) for i in index) + box + (slice(None),) * rgb]
        offset = (*index, box[0].start or 0, box[1].start or 0)
        transforms = offset_transform(layer, offset)
    sample = np.asarray(view[(0,) * n_leading]) if isinstance(view, np.ndarray) else None
    if sample is not None and all_nan(sample):
        first = f"Plane {(0,) * n_leading} of layer" if np.prod(view.shape[:n_leading]) > 1 else (
            "Layer")  # a stack's first plane: the others may be fine
        raise ValueError(f"{first} {layer.name!r} has no finite values to colorize.")
    spatial = view.shape[:-1] if rgb else view.shape
    out = np.zeros((*spatial, 3), np.uint8) if scope == STACK and n_leading else None
    part = "" if view is data else ("region" if scope == VISIBLE else "plane")
    return Job(layer, layer.name, view, transforms, scope, config, out=out, offset=offset,
               part=part)


def run_job(job: Job, model: Any):
    """Worker body: load the model if need be and drive ``iter_colorize``.

    The job holds only options the model takes (the widget leaves out the others).

    Parameters
    ----------
    job : Job
        What to colorize and how.
    model : ColorModel or str
        A loaded model, or a model name or file to load on ``job.config.device``.

    Yields
    ------
    Progress
        After each batch of tiles.

    Returns
    -------
    tuple of (ColorModel, ColorizeResult) or Failure
        The model (to keep for the next run) and the result; a :class:`Failure` for a user
        error (bad input, out of memory), shown as one notification, not a traceback dialog.
    """
    from ..core.domain import DomainWarning
    from ..core.engine import iter_colorize
    from ..core.hints import HintWarning
    from ..core.tile_plan import resolve_config

    try:
        if not hasattr(model, "spec"):
            from ..models.devices import resolve_device
            from ..models.registry import load_model

            model = load_model(model, device=str(resolve_device(job.config.device)))
        reference = job.fitted
        if job.reference and reference is None:  # fitted once, reused by live re-runs
            from ..core.reference import fit_reference

            reference = job.fitted = fit_reference(read_references(job.reference), model,
                                                   resolve_config(job.config, model))
        job.gen = iter_colorize(job.data, model, out=job.out, hints=job.hints,
                                reference=reference, config=job.config)
        # the widget shows the domain score and hints itself; they are warned while the run is
        # planned (the first step), and warning filters are process-wide: only that step
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DomainWarning)
            warnings.simplefilter("ignore", HintWarning)
            try:
                first = next(job.gen)
            except StopIteration as done:  # nothing left to compute (a finished output)
                first, result = None, done.value
        if first is not None:
            yield first
            result = yield from job.gen
    except ValueError as exc:
        message = plain_message(str(exc).split("\n")[0])
        return Failure(name_references(message, job.reference_names))
    except (MemoryError, RuntimeError) as exc:
        if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
            return Failure("Out of memory: try a smaller tile size, or the CPU device.")
        return Failure.unexpected(exc)
    except Exception as exc:
        return Failure.unexpected(exc)
    return model, result
