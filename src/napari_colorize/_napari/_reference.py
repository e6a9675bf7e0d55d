"""The Reference section of the dock widget: colour references from the user's own RGB layers.

The library fits, once per run, a per-lightness chroma mapping from the model's colours to those
of one or more colour images from the user's lab (:func:`napari_colorize.core.reference.
fit_reference`) and applies it to every block. This section picks those images among the RGB
layers the user brought. The GUI thread keeps only references to the layers' full-resolution
arrays; the run's worker reads the part of each that the fit uses. The engine names array
references ``"array 0"``, ``"array 1"``...; the widget's messages name the layers instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from magicgui.widgets import Container, Label, Select

from ._layers import level0, user_rgb_layers

#: How the engine names the i-th array reference in its errors (``reference array 0 is gray``).
_ENGINE_NAME = re.compile(r"(?<=reference )array (\d+)\b")


def reference_sources(layers: Sequence[Any]) -> tuple[list[Any], tuple[str, ...]]:
    """Take the full-resolution arrays and names of reference layers, reading no pixels.

    Parameters
    ----------
    layers : sequence of napari.layers.Image
        The picked RGB layers.

    Returns
    -------
    arrays : list of array-like
        Each layer's data (level 0 of a multiscale layer), possibly lazy.
    names : tuple of str
        The layers' names, in the same order.

    Raises
    ------
    ValueError
        One sentence naming a layer that is not a single 2-D RGB image.

    Examples
    --------
    >>> from napari.layers import Image
    >>> slide = Image(np.zeros((40, 50, 3), np.uint8), rgb=True, name="lab slide")
    >>> arrays, names = reference_sources([slide])
    >>> arrays[0].shape, names
    ((40, 50, 3), ('lab slide',))
    """
    arrays, names = [], []
    for layer in layers:
        data = level0(layer.data)
        if len(data.shape) != 3 or not layer.rgb:
            raise ValueError(f"Reference layer {layer.name!r} is not a single 2-D RGB image: "
                             "pick 2-D colour layers as references.")
        arrays.append(data)
        names.append(layer.name)
    return arrays, tuple(names)


def read_references(arrays: Sequence[Any]) -> list[np.ndarray]:
    """Read into memory the part of each reference the fit uses (in the run's worker).

    The fit runs the model on the central square of at most
    :data:`napari_colorize.core.reference.MAX_SIDE` pixels a side of each reference; only that
    square is read, so a whole-slide layer is not loaded.

    Parameters
    ----------
    arrays : sequence of array-like
        ``(rows, columns, 3 or 4)`` arrays, possibly lazy (dask, zarr).

    Returns
    -------
    list of numpy.ndarray
        The central squares, as the engine would cut them.

    Examples
    --------
    >>> [a.shape for a in read_references([np.zeros((5000, 300, 3), np.uint8)])]
    [(2048, 300, 3)]
    """
    from ..core.reference import centre_crop

    return [centre_crop(data) for data in arrays]


def name_references(message: str, names: Sequence[str]) -> str:
    """Replace the engine's names of array references in a message by the layers' names.

    Parameters
    ----------
    message : str
        An error of the engine, e.g. ``"reference array 0 is gray ..."``.
    names : sequence of str
        The reference layers' names, in the order passed to the engine.

    Returns
    -------
    str

    Examples
    --------
    >>> name_references("reference array 1 is gray (median tissue chroma 0.0)", ["a", "b"])
    "reference 'b' is gray (median tissue chroma 0.0)"
    """
    def layer_name(match: re.Match[str]) -> str:
        i = int(match.group(1))
        return repr(names[i]) if i < len(names) else match.group(0)

    return _ENGINE_NAME.sub(layer_name, message)


def reference_labels(recorded: Sequence[str], names: Sequence[str]) -> tuple[str, ...]:
    """Name the references a result records by their layers' names.

    Parameters
    ----------
    recorded : sequence of str
        ``result.reference``: ``"array 0"``... for array references, file names for files.
    names : sequence of str
        The reference layers' names, in the order passed to the engine.

    Returns
    -------
    tuple of str
        The layer name of each array reference; other names as recorded.

    Examples
    --------
    >>> reference_labels(("array 0", "array 1"), ["lab slide", "lab slide 2"])
    ('lab slide', 'lab slide 2')
    >>> reference_labels(("lab.png",), [])
    ('lab.png',)
    """
    labels = []
    for source in recorded:
        match = re.fullmatch(r"array (\d+)", source)
        i = int(match.group(1)) if match else len(names)
        labels.append(names[i] if i < len(names) else source)
    return tuple(labels)


def describe_references(labels: Sequence[str]) -> str:
    """Join reference names for a message.

    Parameters
    ----------
    labels : sequence of str
        The references' names (see :func:`reference_labels`).

    Returns
    -------
    str
        ``"'a'"``, ``"'a' and 'b'"``, ``"'a', 'b' and 'c'"``; ``""`` without references.

    Examples
    --------
    >>> describe_references(["lab slide", "slide 2", "slide 3"])
    "'lab slide', 'slide 2' and 'slide 3'"
    """
    quoted = [repr(label) for label in labels]
    if len(quoted) < 2:
        return "".join(quoted)
    return f"{', '.join(quoted[:-1])} and {quoted[-1]}"


class ReferenceSection(Container):
    """The Reference section: colour references for colour models, picked among RGB layers.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The widget's viewer.
    """

    def __init__(self, viewer: Any) -> None:
        super().__init__(label=False)
        self._viewer = viewer
        self._title = Label(value="<b>Colours of your lab</b>")
        self._layers = Select(
            label="Reference", choices=self._rgb_layers,
            tooltip="Colour images of your lab's stain: the run takes on their colours "
                    "(a mapping fitted once per run, about 1 s per megapixel).",
        )
        self._status = Label(value="")
        self.extend([self._title, self._layers, self._status])
        #: Whether the picked model takes references (a channel model does not).
        self.supported = True

    def _rgb_layers(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return user_rgb_layers(self._viewer.layers)  # never a result: its colours are a guess

    def set_supported(self, supported: bool, model: str = "") -> None:
        """Enable the picker for a model that takes references; else disable it and say why.

        Parameters
        ----------
        supported : bool
            Whether the picked model is a colour (chroma) model.
        model : str
            The model's name, for the explanation.
        """
        self.supported = supported
        self._layers.enabled = supported
        why = "" if supported else f"{model or 'this model'} predicts channels, not colours"
        self._status.value = why
        self._status.tooltip = (f"References need a colour model; {why}." if why else None)

    def sources(self) -> tuple[list[Any], tuple[str, ...]] | None:
        """Take the picked references for a run (see :func:`reference_sources`).

        Returns
        -------
        tuple or None
            ``(arrays, names)``; ``None`` when none is picked or the model takes none.

        Raises
        ------
        ValueError
            One sentence naming a picked layer that cannot be a reference.
        """
        layers = list(self._layers.value or [])
        if not (self.supported and layers):
            return None
        return reference_sources(layers)
