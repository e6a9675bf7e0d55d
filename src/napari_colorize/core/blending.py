"""Blend windows for overlapping tiles: accumulate ``w * y`` and ``w``, divide at the end."""

from __future__ import annotations

import functools

import numpy as np

BLENDING_MODES = ("taper", "constant")


@functools.lru_cache(maxsize=16)
def taper_ramp(size: int, overlap: int) -> np.ndarray:
    """Make a 1-D window: raised-cosine ramps of ``overlap`` pixels at both ends, 1 in between.

    The ramp never reaches 0, so a pixel covered by a single tile (an image border) keeps a
    positive weight. The result is cached: do not write into it.

    Parameters
    ----------
    size : int
        Length of the window (a tile's side) in pixels.
    overlap : int
        Length of each ramp in pixels; at most ``size // 2`` is used.

    Returns
    -------
    numpy.ndarray
        float32 weights of shape ``(size,)``, in (0, 1].

    Examples
    --------
    >>> taper_ramp(6, 2).round(3)
    array([0.146, 0.854, 1.   , 1.   , 0.854, 0.146], dtype=float32)
    >>> taper_ramp(4, 0)
    array([1., 1., 1., 1.], dtype=float32)
    """
    w = np.ones(size, dtype=np.float32)
    n = min(overlap, size // 2)
    if n > 0:
        x = (np.arange(n, dtype=np.float64) + 0.5) / n
        ramp = (0.5 - 0.5 * np.cos(np.pi * x)).astype(np.float32)
        w[:n] = ramp
        w[size - n :] = ramp[::-1]
    return w


def taper_window(shape: tuple[int, int], overlap: int) -> np.ndarray:
    """Make the 2-D taper window of a tile: the outer product of two :func:`taper_ramp`.

    Parameters
    ----------
    shape : tuple of int
        The tile's rows and columns.
    overlap : int
        Length of the ramps in pixels.

    Returns
    -------
    numpy.ndarray
        float32 weights shaped ``shape``, in (0, 1].

    Examples
    --------
    >>> window = taper_window((6, 8), 2)
    >>> window.shape, window.dtype, float(window.max())
    ((6, 8), dtype('float32'), 1.0)
    >>> bool(window[0, 0] < window[1, 1] < window[1, 2])
    True
    """
    return np.outer(taper_ramp(shape[0], overlap), taper_ramp(shape[1], overlap))
