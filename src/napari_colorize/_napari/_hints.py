"""The Hints section of the dock widget: colour hints as a napari Points layer.

Hints live in a Points layer named ``"<image> hints"`` placed exactly over the image, so its data
coordinates are the image's. Each point's face colour is the wanted colour: the picker's colour,
or, with a reference RGB layer chosen, the reference's colour under the new point. With "Live"
on, adding, moving or recolouring a hint re-colorizes the visible region (debounced), through the
widget's normal run path. Logic stays in the library (:mod:`napari_colorize.core.hints`,
:mod:`napari_colorize.core.hint_field`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, Label, PushButton

from ._layers import transform_kwargs, user_rgb_layers, widget_tag

PICKER = "colour picker"
DEBOUNCE_MS = 150


def hints_name(source: str) -> str:
    """Name the hints layer of an image layer.

    Parameters
    ----------
    source : str
        The image layer's name.

    Returns
    -------
    str

    Examples
    --------
    >>> hints_name("cells")
    'cells hints'
    """
    return f"{source} hints"


def hints_for(viewer: Any, layer: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Read the hints of an image layer from its hints layer.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer holding both layers.
    layer : napari.layers.Image
        The image layer.

    Returns
    -------
    tuple of numpy.ndarray or None
        (points in the image's data coordinates, RGB colours in [0, 1]); ``None`` without a
        hints layer or hints.

    Raises
    ------
    ValueError
        The hints layer's points have another number of coordinates than the image's axes.
    """
    name = hints_name(layer.name)
    if name not in viewer.layers:
        return None
    points = viewer.layers[name]
    if len(points.data) == 0:
        return None
    data = np.asarray(points.data, dtype=float)
    if data.shape[-1] != layer.ndim:  # a Points layer made by hand for another image
        axes = "(plane, row, column)" if layer.ndim == 3 else "(row, column)" \
            if layer.ndim == 2 else f"({layer.ndim} axes)"
        raise ValueError(f"'{name}' has {data.shape[-1]}-D points but '{layer.name}' is "
                         f"{layer.ndim}-D: hints need {layer.ndim} coordinates each {axes}")
    return data, np.asarray(points.face_color)[:, :3]


def hints_in_cut(points: np.ndarray, offset: tuple[float, ...], cut_shape: tuple[int, ...],
                 shape: tuple[int, ...]) -> tuple[np.ndarray, str]:
    """Find the hints inside a run's cut of an image, and say where the others lie.

    Parameters
    ----------
    points : numpy.ndarray
        ``(N, ndim)`` hints in the image's data coordinates (rounded to pixels here, as the
        engine rounds them).
    offset : tuple of float
        Where the cut starts in the image (whole pixels).
    cut_shape, shape : tuple of int
        The cut's and the image's shapes, without a colour axis.

    Returns
    -------
    keep : numpy.ndarray
        ``(N,)`` bool: the hints inside the cut.
    note : str
        How many of the others lie on other planes, outside the visible region, or outside
        the image; ``""`` when the cut holds every hint.

    Examples
    --------
    >>> points = np.array([[0, 5, 5], [2, 5, 5], [0, 15, 5], [7, 5, 5]])
    >>> keep, note = hints_in_cut(points, (0, 0, 0), (1, 10, 20), (3, 20, 20))
    >>> keep.tolist()
    [True, False, False, False]
    >>> for part in note.split("; "):
    ...     print(part)
    1 hint on another plane
    1 hint outside the visible region
    1 hint outside the image ignored
    """
    idx = np.round(np.asarray(points, dtype=float)).astype(int)
    start = np.round(np.asarray(offset, dtype=float)).astype(int)
    stop = start + np.asarray(cut_shape, dtype=int)
    inside = ((idx >= 0) & (idx < np.asarray(shape))).all(axis=1)
    keep = inside & ((idx >= start) & (idx < stop)).all(axis=1)
    lead = len(shape) - 2
    on_planes = ((idx[:, :lead] >= start[:lead]) & (idx[:, :lead] < stop[:lead])).all(axis=1)
    counts = ((int(np.sum(inside & ~on_planes)), "hint on another plane", "hints on other planes"),
              (int(np.sum(inside & on_planes & ~keep)), "hint outside the visible region",
               "hints outside the visible region"),
              (int(np.sum(~inside)), "hint outside the image ignored",
               "hints outside the image ignored"))
    note = "; ".join(f"{n} {one if n == 1 else many}" for n, one, many in counts if n)
    return keep, note


def reference_colour(reference: Any, world_point: np.ndarray) -> np.ndarray | None:
    """Read the colour of an RGB layer at a world position.

    Parameters
    ----------
    reference : napari.layers.Image
        An RGB layer (uint8 or float).
    world_point : numpy.ndarray
        The position in world coordinates.

    Returns
    -------
    numpy.ndarray or None
        RGB in [0, 1]; ``None`` outside the layer.
    """
    from ._layers import level0

    data = level0(reference.data)
    pos = np.round(np.asarray(reference.world_to_data(world_point))).astype(int)
    pos = pos[-(data.ndim - 1):]
    if (pos < 0).any() or (pos >= np.array(data.shape[:-1])).any():
        return None
    value = np.asarray(data[tuple(pos)], dtype=float)[:3]
    return value / 255 if data.dtype == np.uint8 or value.max() > 1 else value


class HintsSection(Container):
    """The Hints section: add hints and pick their colour; re-colorize live.

    A hint's colour comes from the picker, or from a reference RGB layer under the new point.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The widget's viewer.
    source : callable
        Returns the image layer picked in the widget.
    rerun : callable
        Re-colorizes the visible region (called debounced after hint edits when Live is on).
    """

    def __init__(self, viewer: Any, source: Callable[[], Any], rerun: Callable[[], Any]) -> None:
        super().__init__(label="Hints")
        self._viewer = viewer
        self._source = source  # the image layer picked in the widget
        self._rerun = rerun  # re-colorize the visible region
        self.colour = np.array([51, 76, 204]) / 255  # in whole 8-bit steps, as the button shows
        self._title = Label(value="Colour hints")
        self._colour_button = PushButton(text=self._colour_text())
        self._reference = ComboBox(label="Colour from", choices=self._references)
        self._add_button = PushButton(text="Add hints")
        self._live = CheckBox(text="Live: re-colorize the visible region", value=True)
        self._status = Label(value="")
        self.extend([self._title, self._colour_button, self._reference, self._add_button,
                     self._live, self._status])
        self._colour_button.changed.connect(self._pick_colour)
        self._add_button.changed.connect(self.add_hints_layer)
        self._timer = None
        self._watched: Any = None
        #: Whether the picked model takes hints (a channel model does not).
        self.supported = True

    # -- choices -------------------------------------------------------------------------------
    def _references(self, _widget: Any = None) -> list[Any]:
        # true colour the user brought, never a result (hints taken from the model's own guess)
        return [(PICKER, None), *user_rgb_layers(self._viewer.layers)]

    def _colour_text(self) -> str:
        return "Hint colour: " + self._hex()

    def _pick_colour(self, _value: Any = None) -> None:
        from qtpy.QtGui import QColor
        from qtpy.QtWidgets import QColorDialog

        start = QColor(*(round(v * 255) for v in self.colour))
        picked = QColorDialog.getColor(start, self.native, "Hint colour")
        if picked.isValid():
            self.set_colour((picked.red() / 255, picked.green() / 255, picked.blue() / 255))

    def set_colour(self, rgb: Any) -> None:
        """Set the colour of new hints; also the current colour of the hints layer.

        Parameters
        ----------
        rgb : array-like
            RGB in [0, 1].
        """
        self.colour = np.round(np.clip(np.asarray(rgb, dtype=float)[:3], 0, 1) * 255) / 255
        self._colour_button.text = self._colour_text()
        layer = self._watched
        if layer is not None and layer in self._viewer.layers:
            layer.current_face_color = self._hex()

    def _hex(self) -> str:
        return "#" + "".join(f"{round(v * 255):02x}" for v in self.colour)

    # -- hints layer ------------------------------------------------------------------------
    def add_hints_layer(self, _value: Any = None) -> Any:
        """Create (or select) the hints layer of the picked image, in add mode.

        Returns
        -------
        napari.layers.Points or None
            The hints layer; ``None`` (and a notification) when no image is picked.
        """
        from napari.utils.notifications import show_error

        image = self._source()
        if image is None:
            show_error("Pick a grayscale image layer before adding hints.")
            return None
        name = hints_name(image.name)
        layers = self._viewer.layers
        if name in layers:
            points = layers[name]
        else:
            kwargs = {k: v for k, v in transform_kwargs(image).items() if k != "units"}
            points = self._viewer.add_points(
                np.zeros((0, image.ndim)), name=name, ndim=image.ndim, size=12,
                face_color=self._hex(), border_color="white", border_width=0.15, **kwargs,
                metadata=widget_tag("hints", image.name),  # its name follows the image's
            )
        points.current_face_color = self._hex()
        layers.selection.active = points
        points.mode = "add"
        self._watch(points)
        return points

    def _watch(self, points: Any) -> None:
        """Follow one hints layer at a time: the previous one stops triggering runs."""
        if self._watched is points:
            return
        if self._watched is not None:
            self._watched.events.data.disconnect(self._on_data)
            self._watched.events.current_face_color.disconnect(self._on_face_colour)
        self._watched = points
        points.events.data.connect(self._on_data)
        points.events.current_face_color.connect(self._on_face_colour)

    def _on_face_colour(self, event: Any) -> None:
        if len(event.source.data):  # recolours the selected hints; nothing to redo without any
            self._schedule()

    def _on_data(self, event: Any) -> None:
        points = event.source
        action = str(getattr(event, "action", "")).lower()  # "added", "changed", ...
        if action == "added":
            self._colour_new(points, getattr(event, "data_indices", ()) or ())
        self.show_count()
        if action in ("added", "removed", "changed"):
            self._schedule()

    def _colour_new(self, points: Any, indices: Any) -> None:
        """Give new hints the reference's colour under them, else the picker's.

        Set here rather than left to napari: its current colour follows the selection, so it
        still holds a reference colour after "Colour from" is set back to the picker.
        """
        reference = self._reference.value
        face = np.array(points.face_color)
        for i in indices:
            colour = None
            if reference is not None:
                colour = reference_colour(reference, np.asarray(points.data_to_world(
                    points.data[i])))
            face[i, :3] = self.colour if colour is None else colour
        if not np.array_equal(face, points.face_color):
            points.face_color = face

    def set_supported(self, supported: bool, model: str = "") -> None:
        """Enable the section for a model that takes colour hints; else disable it and say why.

        Parameters
        ----------
        supported : bool
            Whether the picked model takes hints.
        model : str
            The model's name, for the explanation.
        """
        changed, self.supported = supported != self.supported, supported
        for control in (self._colour_button, self._reference, self._add_button, self._live):
            control.enabled = supported
        if supported and changed:  # else keep the last run's note on ignored hints
            self._status.value = ""
            if self._watched is not None:
                self.show_count()
        elif not supported:
            self._status.value = f"{model or 'this model'} takes no colour hints"

    def show_count(self, ignored: str = "") -> None:
        """Show how many hints the watched layer holds.

        Parameters
        ----------
        ignored : str
            The run's note about hints it ignored, shown after the count.
        """
        if not self.supported:
            return
        n = 0 if self._watched is None else len(self._watched.data)
        suffix = f"; {ignored}" if ignored else ""
        self._status.value = f"{n} hint{'s' if n != 1 else ''}{suffix}"

    def _schedule(self) -> None:
        if not (self._live.value and self.supported):  # edits cannot change the next result
            return
        from qtpy.QtCore import QTimer

        if self._timer is None:
            self._timer = QTimer()
            self._timer.setSingleShot(True)
            self._timer.timeout.connect(self._rerun)
        self._timer.start(DEBOUNCE_MS)
