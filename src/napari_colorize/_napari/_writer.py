"""Save an RGB image layer as OME-Zarr (NGFF 0.5, with the layer's scale) or TIFF."""

from __future__ import annotations

import warnings
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
        If the layer is not RGB, the output cannot be written, or it would replace a grayscale
        image (such as the layer's source).

    Warns
    -----
    UserWarning
        The layer is rotated, sheared or has an affine transform, which the file cannot store.
    """
    if not meta.get("rgb", False):
        raise ValueError(
            f"napari-colorize saves RGB layers only; {meta.get('name', 'this layer')!r} "
            "is grayscale"
        )
    _keep_gray_source(path)
    lost = _unstorable_transforms(meta)
    if lost:  # NGFF and TIFF hold scale and translation only
        warnings.warn(f"{meta.get('name', 'the layer')!r} has {' and '.join(lost)} that "
                      f"{path} cannot store; saved with its scale and translate only",
                      stacklevel=2)
    rgb = _rgb_uint8(data)
    layout = None
    if output_kind(path) == "zarr":  # the layer's scale and translate become NGFF transforms
        ndim = rgb.ndim - 1
        scale = [float(s) for s in meta.get("scale", [1.0] * ndim)]
        translate = [float(t) for t in meta.get("translate", [0.0] * ndim)]
        layout = plan_layout(rgb.shape[:-3]).placed(scale, translate, (None,) * ndim)
    return [str(write_rgb(path, rgb, overwrite=True, layout=layout))]


def _keep_gray_source(path: str) -> None:
    """Refuse to replace anything but a colour image: saving a result over its source loses data.

    A file replaced must hold channel-last RGB(A) (a TIFF or PNG result) or be a store this
    package wrote; a 3-channel fluorescence image (CYX) is data, not colour.
    """
    from pathlib import Path

    from ..io.colorize_attrs import read_colorize_block
    from ..io.readers import read_image

    if not Path(path).exists() or read_colorize_block(path):
        return
    try:
        shape = tuple(read_image(path, raw=True).shape)
    except Exception:  # not an image: write_rgb decides what may be replaced
        return
    if not (len(shape) >= 3 and shape[-1] in (3, 4)):
        raise ValueError(f"{path} holds an image that is not a colour result {shape} (the "
                         "source?); save the colour result under another name")


def _unstorable_transforms(meta: dict) -> list[str]:
    """Name the layer's transforms other than scale and translate that are not the identity."""
    lost = []
    for name in ("rotate", "shear", "affine"):
        value = meta.get(name)
        if value is None:
            continue
        value = np.asarray(value, dtype=float)
        # a matrix is the identity when it does nothing; a vector (shear's terms) when zero
        square = value.ndim == 2 and value.shape[0] == value.shape[1]
        if not np.allclose(value, np.eye(len(value)) if square else 0):
            lost.append(name)
    return lost
