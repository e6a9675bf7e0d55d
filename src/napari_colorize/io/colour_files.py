"""Colour images read whole, as uint8 RGB: references, true colours, RGB layers.

Palette TIFFs are read through their colour table (as ``from_rgb`` inputs are, by
:func:`~.readers.read_image` with ``colour=True``), planar and channel-first colours moved last,
CMYK converted to RGB (see :mod:`.colour_layout`); a stack of colour images is refused by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .alpha import over_white
from .bit_depth import unit_scale
from .colour_layout import ColourArray, colour_layout
from .readers import read_image

__all__ = ["as_rgb_uint8", "read_rgb"]


def as_rgb_uint8(arr: Any, label: str = "image", *, bits: int | None = None,
                 alpha: str = "straight") -> np.ndarray:
    """Convert RGB(A) data to uint8 RGB ``(..., 3)``, over white where it is transparent.

    Floats are taken as [0, 1] when their maximum is at most
    :data:`~.bit_depth.FLOAT_UNIT_MAX` (1.5; overshoot above 1 is clipped), else as [0, 255].
    Integers are scaled by :func:`~.bit_depth.integer_scale`: a declared bit depth wins; else
    values up to 255 are 8-bit, uint16 values up to 1023/4095/16383 are 10/12/14-bit, larger
    ones span the dtype.

    Parameters
    ----------
    arr : array-like
        ``(..., 3)`` or ``(..., 4)``: floats or integers.
    label : str
        How the error names the data.
    bits : int, optional
        Significant bits per integer sample, when the file declares them.
    alpha : {"straight", "premultiplied", "none"}
        What a fourth sample is (see :class:`~.colour_layout.ColourLayout`).

    Returns
    -------
    ndarray

    Raises
    ------
    ValueError
        If the last axis is not 3 or 4, or floats hold NaN or infinite values.

    Examples
    --------
    >>> as_rgb_uint8(np.array([[[0.0, 0.5, 1.0000001, 1.0]]])).tolist()
    [[[0, 128, 255]]]
    >>> as_rgb_uint8(np.array([[[0, 2048, 4095]]], np.uint16)).tolist()  # 12-bit
    [[[0, 128, 255]]]
    >>> as_rgb_uint8(np.array([[[200, 100, 150, 255], [0, 0, 0, 0]]], np.uint8)).tolist()
    [[[200, 100, 150], [255, 255, 255]]]
    >>> as_rgb_uint8(np.array([[[0.5, np.nan, 1.0]]]), "ref.tif")
    Traceback (most recent call last):
    ...
    ValueError: ref.tif contains 1 NaN or infinite values; replace them first, ...
    """
    arr = np.asarray(arr)
    if arr.ndim < 3 or arr.shape[-1] not in (3, 4):
        raise ValueError(f"{label} is not an RGB image (shape {arr.shape})")
    rgb = _as_255(arr[..., :3], label, bits)
    if arr.shape[-1] == 4 and alpha != "none":
        # transparent pixels (a region exported from a slide) show the page: white, glass,
        # so a fit or a score leaves them out instead of reading their RGB as dark tissue
        opacity = _as_255(arr[..., 3:], label, bits).astype(np.float32) / 255
        if opacity.size and opacity.min() < 1:
            rgb = over_white(rgb, opacity, 255.0, alpha)
    if rgb.dtype == np.uint8:
        return rgb
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def _as_255(arr: np.ndarray, label: str, bits: int | None) -> np.ndarray:
    """Scale samples to 0-255 (uint8 as it is, else float) by the rules of as_rgb_uint8."""
    if arr.dtype == np.uint8 and bits in (None, 8):
        return arr
    if arr.dtype.kind == "f":
        from ..core.validation import check_finite

        check_finite(arr, label)
    if arr.dtype.kind not in "uif" or not arr.size:
        return arr
    scale = unit_scale(arr.dtype, float(arr.max()), bits)
    return arr if scale == 255 else arr / scale * 255


def read_rgb(path: str | Path) -> np.ndarray:
    """Read a colour image fully as uint8 RGB ``(H, W, 3)`` (transparent pixels as white).

    The file's metadata says how colours are stored (:func:`~.colour_layout.colour_layout`):
    planar or channel-first colours are moved last, CMYK inks converted to RGB, a declared
    bit depth used for scaling; leading axes of size 1 are dropped.

    Raises
    ------
    ValueError
        One line naming the file when it cannot be read, is not a 2-D RGB image, or holds
        NaN or infinite values.

    Examples
    --------
    >>> import tempfile
    >>> from napari_colorize.io.writers import write_rgb
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = write_rgb(Path(tmp) / "c.png", np.full((4, 5, 3), 200, np.uint8))
    ...     read_rgb(out).shape
    (4, 5, 3)
    """
    arr = read_image(path, colour=True)  # a palette TIFF's colours
    layout = colour_layout(path)
    try:
        arr = np.asarray(arr[...])
    except Exception as exc:
        raise ValueError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None
    if layout.axis is not None or layout.cmyk:
        arr = ColourArray(arr, layout)[...]
    while arr.ndim > 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 4 and arr.shape[-1] in (3, 4):
        raise ValueError(f"{path} is a stack of {arr.shape[0]} colour images (shape {arr.shape}); "
                         "one 2-D colour image is needed: save one plane")
    if arr.ndim != 3:
        raise ValueError(f"{path} is not an RGB image (shape {arr.shape})")
    return as_rgb_uint8(arr, str(path), bits=layout.bits, alpha=layout.alpha)

