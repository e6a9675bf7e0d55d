"""Pure helpers for result layers: names, transforms, placement. No Qt needed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

TRANSFORM_KEYS = ("scale", "translate", "rotate", "shear", "affine", "units", "axis_labels")
#: Metadata key of every layer this plugin makes (results, previews, OME-Zarr results it reads).
TAG = "napari_colorize"
#: ``metadata[TAG]["made_by"]`` of layers the dock widget made in this session.
WIDGET = "widget"
FROM_RGB = "From RGB"


def widget_tag(kind: str, source: str) -> dict[str, Any]:
    """Make the metadata that marks a layer the widget made.

    Parameters
    ----------
    kind : str
        What the layer is: ``"colorized"``, ``"confidence"``, ``"channel"``, ``"running"``...
    source : str
        Name of the layer it was made from.

    Returns
    -------
    dict
        ``{TAG: {"made_by": WIDGET, "kind": kind, "source": source}}``.
    """
    return {TAG: {"made_by": WIDGET, "kind": kind, "source": source}}


def made_here(layer: Any) -> bool:
    """Tell whether the plugin made a layer (a result, a preview, a result read from disk).

    Parameters
    ----------
    layer : napari.layers.Layer
        Any layer.

    Returns
    -------
    bool
    """
    return isinstance(getattr(layer, "metadata", {}).get(TAG), dict)


def made_by_widget(layer: Any) -> bool:
    """Tell whether the dock widget made a layer in this session (so a new run may replace it).

    Parameters
    ----------
    layer : napari.layers.Layer
        Any layer.

    Returns
    -------
    bool
    """
    return made_here(layer) and layer.metadata[TAG].get("made_by") == WIDGET


def user_rgb_layers(layers: Any) -> list[tuple[str, Any]]:
    """List the colour (RGB) image layers the user brought, as ``(name, layer)`` choices.

    Layers the plugin made (results, previews) are left out: their colours are a model's
    guess, never true colour to learn from or copy.

    Parameters
    ----------
    layers : iterable of napari.layers.Layer
        The viewer's layers.

    Returns
    -------
    list of tuple
        ``(layer name, layer)`` in the viewer's order.

    Examples
    --------
    >>> from napari.layers import Image
    >>> colour = Image(np.zeros((8, 8, 3), np.uint8), rgb=True, name="slide")
    >>> gray = Image(np.zeros((8, 8), np.uint8), name="gray")
    >>> result = Image(np.zeros((8, 8, 3), np.uint8), rgb=True, name="gray colorized",
    ...                metadata=widget_tag("colorized", "gray"))
    >>> [name for name, _ in user_rgb_layers([colour, gray, result])]
    ['slide']
    """
    from napari.layers import Image

    return [(lay.name, lay) for lay in layers
            if isinstance(lay, Image) and lay.rgb and not made_here(lay)]


def result_name(source: str, kind: str = "colorized", part: str = "") -> str:
    """Name a result layer.

    Parameters
    ----------
    source : str
        Name of the source layer.
    kind : str
        What the result is (``"colorized"``, ``"confidence"``, a channel name).
    part : str
        The part of the source it covers (``"plane"``, ``"region"``), or ``""`` for all of it.

    Returns
    -------
    str

    Examples
    --------
    >>> result_name("cells"), result_name("cells", "confidence", "region")
    ('cells colorized', 'cells confidence (region)')
    """
    return f"{source} {kind}" + (f" ({part})" if part else "")


def level0(data: Any) -> Any:
    """Return the full-resolution array of a layer's data.

    Parameters
    ----------
    data : array-like or sequence of array-like
        A layer's data: an array, or a multiscale pyramid (a list, tuple or napari's
        ``MultiScaleData``; arrays are not sequences).

    Returns
    -------
    array-like
        The array, or the pyramid's first level.
    """
    return data[0] if isinstance(data, Sequence) else data


def source_problem(layer: Any, from_rgb: bool = False) -> str | None:
    """Say in one sentence why a layer cannot be colorized.

    An RGB layer is colorized only ``from_rgb`` (its lightness), which the message names.

    Parameters
    ----------
    layer : napari.layers.Image
        The picked layer.
    from_rgb : bool
        Whether the user asked to colorize an RGB layer's lightness.

    Returns
    -------
    str or None
        The sentence, or ``None`` when the layer can be colorized.
    """
    rgb = bool(getattr(layer, "rgb", False))
    if rgb and not from_rgb:
        return (f"Layer {layer.name!r} is RGB: tick {FROM_RGB!r} to colorize its lightness, "
                "or pick a grayscale image layer.")
    data = level0(layer.data)
    shape = tuple(int(s) for s in data.shape)[:-1] if rgb else tuple(int(s) for s in data.shape)
    if len(shape) < 2:
        return f"Layer {layer.name!r} is {len(shape)}-D; colorizing needs at least 2-D images."
    if 0 in shape:
        return f"Layer {layer.name!r} is empty (shape {shape})."
    return None


def all_nan(plane: np.ndarray) -> bool:
    """Tell whether a float plane holds no finite value at all.

    Parameters
    ----------
    plane : numpy.ndarray
        Pixel values.

    Returns
    -------
    bool
    """
    return plane.dtype.kind == "f" and not np.isfinite(plane).any()


def transform_kwargs(layer: Any) -> dict[str, Any]:
    """Return the keywords that give a new layer the same placement in the world as a layer.

    Parameters
    ----------
    layer : napari.layers.Layer
        The layer to copy scale, translate, rotate, shear, affine, units and axis labels from.

    Returns
    -------
    dict
        Keyword arguments for a layer's constructor.
    """
    kwargs = {}
    for key in TRANSFORM_KEYS:
        value = getattr(layer, key, None)
        if value is None:
            continue
        if key == "affine":
            value = np.asarray(value.affine_matrix)
        elif key in ("units", "axis_labels"):
            value = tuple(str(v) for v in value)
        else:
            value = np.asarray(value)
        kwargs[key] = value
    return kwargs


def offset_transform(layer: Any, offset: tuple[float, ...]) -> dict[str, Any]:
    """Return the transforms of a crop of a layer, so that the crop overlays it exactly.

    The crop keeps scale, rotate, shear and affine; its translate is where the crop origin lands
    after the layer's own scale/rotate/shear/translate.

    Parameters
    ----------
    layer : napari.layers.Layer
        The cropped layer.
    offset : tuple of float
        Where the crop starts, in the layer's data coordinates.

    Returns
    -------
    dict
        Keyword arguments for the crop layer's constructor.
    """
    from napari.utils.transforms import Affine

    kwargs = transform_kwargs(layer)
    to_physical = Affine(
        scale=kwargs["scale"], translate=kwargs["translate"], rotate=kwargs["rotate"],
        shear=kwargs["shear"],
    )
    kwargs["translate"] = np.asarray(to_physical(np.asarray(offset, dtype=float)))
    return kwargs


def insert_index(layers: Any, source: Any) -> int:
    """Return the index directly above a layer in a layer list.

    Parameters
    ----------
    layers : napari.components.LayerList
        The viewer's layers.
    source : napari.layers.Layer
        The layer a result belongs to.

    Returns
    -------
    int
        Above ``source``; the end of the list when the source is gone.
    """
    return layers.index(source) + 1 if source in layers else len(layers)


def crop_box(
    corners: np.ndarray, shape: tuple[int, int], factor: tuple[float, float] = (1.0, 1.0)
) -> tuple[slice, slice] | None:
    """Return the slices of a plane that cover the displayed corners.

    Parameters
    ----------
    corners : numpy.ndarray
        ``(2, 2)``: the minimum and maximum displayed (row, column).
    shape : tuple of int
        The plane's full-resolution shape.
    factor : tuple of float
        Maps the corners' resolution level to full resolution: a pixel of that level covers
        ``factor`` full-resolution pixels.

    Returns
    -------
    tuple of slice or None
        Rounded outwards and clipped to the plane; ``None`` when nothing of it is visible.

    Examples
    --------
    >>> crop_box(np.array([[10.2, -5], [20.7, 30]]), (100, 100))
    (slice(10, 22, None), slice(0, 31, None))
    """
    corners = np.asarray(corners, dtype=float)
    factor = np.asarray(factor, dtype=float)
    lo = np.clip((np.floor(corners[0]) * factor).astype(int), 0, shape)
    hi = np.clip(((np.ceil(corners[1]) + 1) * factor).astype(int), 0, shape)
    if np.any(hi <= lo):
        return None
    return slice(int(lo[0]), int(hi[0])), slice(int(lo[1]), int(hi[1]))


def format_progress(done: int, total: int, plane: int, n_planes: int, elapsed: float) -> str:
    """Write the status line of a run.

    Parameters
    ----------
    done, total : int
        Tiles done and tiles in the run.
    plane, n_planes : int
        The plane being colorized (from 0) and the number of planes.
    elapsed : float
        Seconds since the run started.

    Returns
    -------
    str

    Examples
    --------
    >>> format_progress(34, 81, 1, 9, 8.5)
    'plane 2/9, tile 34/81, about 12 s left'
    """
    text = f"tile {done}/{total}"
    if n_planes > 1:
        text = f"plane {min(plane + 1, n_planes)}/{n_planes}, " + text
    if 0 < done < total and elapsed > 0:
        left = elapsed / done * (total - done)
        text += f", about {left:.0f} s left" if left < 120 else f", about {left / 60:.0f} min left"
    return text
