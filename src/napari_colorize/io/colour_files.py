"""Colour images read whole, as uint8 RGB: references, true colours, RGB layers.

Palette TIFFs are read through their colour table; a stack of colour images is refused by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .readers import TIFF_SUFFIXES, read_image

__all__ = ["as_rgb_uint8", "read_rgb"]


def as_rgb_uint8(arr: Any, label: str = "image") -> np.ndarray:
    """Convert RGB(A) data to uint8 RGB ``(..., 3)``, dropping alpha.

    Parameters
    ----------
    arr : array-like
        ``(..., 3)`` or ``(..., 4)``: floats in [0, 1] or [0, 255], or integers (scaled by their
        range when they exceed 255).
    label : str
        How the error names the data.

    Returns
    -------
    ndarray

    Raises
    ------
    ValueError
        If the last axis is not 3 or 4.

    Examples
    --------
    >>> as_rgb_uint8(np.array([[[0.0, 0.5, 1.0, 1.0]]])).tolist()
    [[[0, 128, 255]]]
    """
    arr = np.asarray(arr)
    if arr.ndim < 3 or arr.shape[-1] not in (3, 4):
        raise ValueError(f"{label} is not an RGB image (shape {arr.shape})")
    arr = arr[..., :3]
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "f":
        if arr.size and np.nanmax(arr) <= 1.0:
            arr = arr * 255
    elif arr.dtype.kind in "ui" and arr.size and arr.max() > 255:
        arr = arr / np.iinfo(arr.dtype).max * 255
    return np.clip(np.round(arr), 0, 255).astype(np.uint8)


def read_rgb(path: str | Path) -> np.ndarray:
    """Read a colour image fully as uint8 RGB ``(H, W, 3)`` (alpha dropped).

    Raises
    ------
    ValueError
        One line naming the file when it cannot be read or is not a 2-D RGB image.

    Examples
    --------
    >>> import tempfile
    >>> from napari_colorize.io.writers import write_rgb
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = write_rgb(Path(tmp) / "c.png", np.full((4, 5, 3), 200, np.uint8))
    ...     read_rgb(out).shape
    (4, 5, 3)
    """
    tiff = Path(path).suffix.lower() in TIFF_SUFFIXES
    arr = read_image(path, raw=tiff)  # a palette TIFF's indices, mapped to colours below
    try:
        arr = np.asarray(arr[...])
    except Exception as exc:
        raise ValueError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None
    if tiff and arr.ndim == 2:
        arr = _palette_rgb(Path(path), arr)
    if arr.ndim == 4 and arr.shape[-1] in (3, 4):
        raise ValueError(f"{path} is a stack of {arr.shape[0]} colour images (shape {arr.shape}); "
                         "one 2-D colour image is needed: save one plane")
    if arr.ndim != 3:
        raise ValueError(f"{path} is not an RGB image (shape {arr.shape})")
    return as_rgb_uint8(arr, str(path))


def _palette_rgb(path: Path, indices: np.ndarray) -> np.ndarray:
    """Map a palette TIFF's indices through its colour table (uint16 RGB); others as they are."""
    import tifffile

    from .tiff import quiet_tifffile

    with quiet_tifffile(), tifffile.TiffFile(path) as tif:
        page = tif.series[0].keyframe
        table = page.colormap if page.photometric == tifffile.PHOTOMETRIC.PALETTE else None
    if table is None or indices.dtype.kind != "u":
        return indices
    table = np.asarray(table, np.uint16)
    return np.moveaxis(table[:, np.clip(indices, 0, table.shape[1] - 1)], 0, -1)
