"""Save an RGB image layer as OME-Zarr (NGFF 0.5, with the layer's scale) or TIFF."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..io.colour_files import as_rgb_uint8
from ..io.ngff_layout import plan_layout
from ..io.writers import output_kind, write_rgb
from ._layers import level0


def _rgb_uint8(data: Any) -> Any:
    """Level 0 as uint8 RGB; uint8 data (e.g. a lazy OME-Zarr result) stays lazy."""
    level = level0(data)
    if getattr(level, "dtype", None) == np.uint8 and level.ndim >= 3 and level.shape[-1] in (3, 4):
        return level[..., :3]
    return as_rgb_uint8(level, "layer")


def write_rgb_layer(path: str, data: Any, meta: dict) -> list[str]:
    """Save an RGB image layer to ``.ome.zarr``/``.zarr`` or ``.tif`` (npe2 single-layer writer).

    Parameters
    ----------
    path : str
        The output; an OME-Zarr gets the layer's scale and translate as NGFF transforms.
    data : array-like or list
        The layer's data (level 0 of a pyramid is saved).
    meta : dict
        The layer's attributes (``rgb``, ``scale``, ``translate``, ``name``).

    Returns
    -------
    list of str
        The path written.

    Raises
    ------
    ValueError
        If the layer is not RGB, or the output cannot be written.
    """
    if not meta.get("rgb", False):
        raise ValueError(
            f"napari-colorize saves RGB layers only; {meta.get('name', 'this layer')!r} "
            "is grayscale"
        )
    rgb = _rgb_uint8(data)
    layout = None
    if output_kind(path) == "zarr":  # the layer's scale and translate become NGFF transforms
        ndim = rgb.ndim - 1
        scale = [float(s) for s in meta.get("scale", [1.0] * ndim)]
        translate = [float(t) for t in meta.get("translate", [0.0] * ndim)]
        layout = plan_layout(rgb.shape[:-3]).placed(scale, translate, (None,) * ndim)
    return [str(write_rgb(path, rgb, overwrite=True, layout=layout))]
