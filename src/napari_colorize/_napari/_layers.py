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
    """Layer metadata marking a layer the widget made: ``{TAG: {...}}``."""
    return {TAG: {"made_by": WIDGET, "kind": kind, "source": source}}


def made_here(layer: Any) -> bool:
    """Whether the plugin made ``layer`` (a result, a preview, a result read from disk)."""
    return isinstance(getattr(layer, "metadata", {}).get(TAG), dict)


def made_by_widget(layer: Any) -> bool:
    """Whether the dock widget made ``layer`` in this session (so a new run may replace it)."""
    return made_here(layer) and layer.metadata[TAG].get("made_by") == WIDGET


def result_name(source: str, kind: str = "colorized", part: str = "") -> str:
    """Name of a result layer, e.g. ``"<source> colorized"``, ``"<source> confidence"`` or, for
    a part of the source, ``"<source> colorized (region)"``."""
    return f"{source} {kind}" + (f" ({part})" if part else "")


def level0(data: Any) -> Any:
    """Full-resolution array of a layer's data (the first level of a multiscale pyramid: a
    list, tuple or napari's ``MultiScaleData``; arrays are not sequences)."""
    return data[0] if isinstance(data, Sequence) else data


def source_problem(layer: Any, from_rgb: bool = False) -> str | None:
    """One sentence on why ``layer`` cannot be colorized, or ``None`` when it can.

    An RGB layer is colorized only ``from_rgb`` (its lightness), which the message names.
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
    """Whether a float plane holds no finite value at all."""
    return plane.dtype.kind == "f" and not np.isfinite(plane).any()


def transform_kwargs(layer: Any) -> dict[str, Any]:
    """Keyword arguments that give a new layer the same placement in the world as ``layer``."""
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
    """Transforms for a crop of ``layer`` that starts at ``offset`` (data coordinates).

    The crop keeps scale, rotate, shear and affine; its translate is where the crop origin lands
    after the layer's own scale/rotate/shear/translate, so the crop overlays its source exactly.
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
    """Index directly above ``source`` in a layer list (the end when the source is gone)."""
    return layers.index(source) + 1 if source in layers else len(layers)


def crop_box(
    corners: np.ndarray, shape: tuple[int, int], factor: tuple[float, float] = (1.0, 1.0)
) -> tuple[slice, slice] | None:
    """Slices of a plane ``shape`` covering displayed ``corners`` ((2, 2): min and max rows/cols).

    ``factor`` maps the corners' resolution level to full resolution: a pixel of that level
    covers ``factor`` full-resolution pixels. Rounded outwards and clipped; ``None`` when
    nothing of the plane is visible.
    """
    corners = np.asarray(corners, dtype=float)
    factor = np.asarray(factor, dtype=float)
    lo = np.clip((np.floor(corners[0]) * factor).astype(int), 0, shape)
    hi = np.clip(((np.ceil(corners[1]) + 1) * factor).astype(int), 0, shape)
    if np.any(hi <= lo):
        return None
    return slice(int(lo[0]), int(hi[0])), slice(int(lo[1]), int(hi[1]))


def format_progress(done: int, total: int, plane: int, n_planes: int, elapsed: float) -> str:
    """A status line such as ``"plane 2/9, tile 34/81, about 12 s left"``."""
    text = f"tile {done}/{total}"
    if n_planes > 1:
        text = f"plane {min(plane + 1, n_planes)}/{n_planes}, " + text
    if 0 < done < total and elapsed > 0:
        left = elapsed / done * (total - done)
        text += f", about {left:.0f} s left" if left < 120 else f", about {left / 60:.0f} min left"
    return text
