"""Tuning masks: read from files or taken as arrays, and checked before any work.

A mask must be boolean (or 0/1 numbers) and mark a region that tuning can use: at least
:data:`MIN_SIDE` pixels a side and holding some tissue. Otherwise the held-out metrics have no
pixels and the calibration fits glass.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..core.color import rgb_uint8_to_lab
from .patches import tissue_mask

#: Smallest side of the box around a mask's region (the smallest reference image's side).
MIN_SIDE = 64
#: Least share of a mask's region that must be tissue (as for a whole training image).
MIN_TISSUE = 0.01


def mask_label(mask: Any, image: str) -> str:
    """How errors name a mask (after the word "mask"): its path, and the image it belongs to.

    Examples
    --------
    >>> mask_label("roi.png", "a.png"), mask_label(np.ones((2, 2), bool), "#1")
    ('roi.png (of a.png)', 'of #1')
    """
    return f"{mask} (of {image})" if isinstance(mask, (str, Path)) else f"of {image}"


def read_mask(mask: Any, label: str) -> np.ndarray:
    """Read a mask as a boolean ``(H, W)`` array.

    A file's stored values are read (not its display colours), and any non-zero value marks a
    pixel; the maximum over the channels of a colour file. An array must be boolean or hold
    only 0 and 1, or 0 and its integer type's maximum (a binary image read from a file, e.g.
    0/255): other values (a 0.5, NaN) would be guessed at.

    Parameters
    ----------
    mask : array or path
        The mask.
    label : str
        How errors name it.

    Returns
    -------
    ndarray
        Boolean.

    Raises
    ------
    ValueError
        An unreadable file, NaN or infinite values, or an array that is not boolean or 0/1.

    Examples
    --------
    >>> read_mask(np.array([[0, 1]]), "#0").tolist()
    [[False, True]]
    >>> read_mask(np.array([[0, 255]], np.uint8), "#0").tolist()
    [[False, True]]
    >>> read_mask(np.full((2, 2), np.nan), "#0")
    Traceback (most recent call last):
    ...
    ValueError: mask #0 must be boolean or hold only 0 and 1 (or 0 and its type's maximum); got ...
    """
    if isinstance(mask, (str, Path)):
        from ..io.readers import read_image

        array = np.asarray(read_image(mask, raw=True)[...])  # stored labels, not display
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ValueError(f"mask {label} holds NaN or infinite values")
        return (array.max(axis=-1) if array.ndim == 3 else array) > 0
    array = np.asarray(mask)
    if array.dtype == bool:
        return array
    if array.dtype.kind not in "uif":
        raise ValueError(f"mask {label} must be boolean; got dtype {array.dtype}")
    # a binary image as read from a mask file (0/255, 0/65535) marks its non-zero pixels too
    top = np.iinfo(array.dtype).max if array.dtype.kind in "ui" else 1
    fits = (array == 0) | (array == 1) | (array == top)
    if not fits.all():
        shown = ", ".join(str(v) for v in np.unique(array[~fits])[:3])
        raise ValueError(f"mask {label} must be boolean or hold only 0 and 1 (or 0 and its "
                         f"type's maximum); got {array.dtype} values {shown}")
    return array.astype(bool)


def check_region(mask: np.ndarray, rgb: np.ndarray, label: str) -> None:
    """Check that a mask's region is large enough to tune on and holds tissue.

    Parameters
    ----------
    mask : ndarray
        Boolean ``(H, W)``, shaped like the image.
    rgb : ndarray
        The uint8 RGB image.
    label : str
        How errors name the mask (and its image).

    Raises
    ------
    ValueError
        An empty region, one under :data:`MIN_SIDE` pixels a side, or one with (nearly) no
        tissue.

    Examples
    --------
    >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)
    >>> check_region(np.ones((64, 64), bool), pink, "#0")
    >>> small = np.zeros((64, 64), bool)
    >>> small[:20, :20] = True
    >>> check_region(small, pink, "#0")
    Traceback (most recent call last):
    ...
    ValueError: mask #0 marks a region of 20x20 pixels: tuning needs at least 64 pixels a side
    """
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if rows.size == 0:
        raise ValueError(f"mask {label} is empty: it selects no pixel")
    height, width = int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)
    if min(height, width) < MIN_SIDE:
        raise ValueError(f"mask {label} marks a region of {height}x{width} pixels: tuning needs "
                         f"at least {MIN_SIDE} pixels a side")
    # about 250,000 pixels on a regular grid are enough to tell tissue from glass
    step = max(1, int(math.sqrt(height * width / 250_000)))
    box = (slice(rows[0], rows[-1] + 1, step), slice(cols[0], cols[-1] + 1, step))
    inside = mask[box]
    tissue = tissue_mask(rgb_uint8_to_lab(np.ascontiguousarray(rgb[box])).numpy()) & inside
    if tissue.sum() < MIN_TISSUE * inside.sum():
        raise ValueError(f"mask {label} marks no tissue (less than {MIN_TISSUE:.0%} of its "
                         "pixels): mark a region of the stained section")
