"""Blend windows for overlapping tiles: accumulate ``w * y`` and ``w``, divide at the end."""

from __future__ import annotations

import functools

import numpy as np

BLENDING_MODES = ("taper", "constant")


@functools.lru_cache(maxsize=16)
def taper_ramp(size: int, overlap: int) -> np.ndarray:
    """1-D window: raised-cosine ramps of ``overlap`` pixels at both ends, 1 in between.

    The ramp never reaches 0, so a pixel covered by a single tile (an image border) keeps a
    positive weight.
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
    """2-D taper window for a tile of ``shape``; float32, values in (0, 1]."""
    return np.outer(taper_ramp(shape[0], overlap), taper_ramp(shape[1], overlap))
