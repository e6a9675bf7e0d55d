"""Pyramid geometry shared by the OME-Zarr and OME-TIFF writers: how many levels, 2x means,
and chunk sizes that keep each block's chunks its own."""

from __future__ import annotations

import numpy as np

#: Levels are halved while the plane's longer side exceeds twice this (pixels).
MIN_LEVEL_SIZE = 256


def _levels(plane_shape: tuple[int, int]) -> int:
    n, (h, w) = 1, plane_shape
    while max(h, w) > MIN_LEVEL_SIZE * 2 and n < 8:
        h, w, n = (h + 1) // 2, (w + 1) // 2, n + 1
    return n


def _downsample(plane: np.ndarray) -> np.ndarray:
    """2x mean of a ``(..., H, W)`` array, edge rows/cols replicated for odd sizes."""
    h, w = plane.shape[-2:]
    pad = [(0, 0)] * (plane.ndim - 2) + [(0, h % 2), (0, w % 2)]
    p = np.pad(plane.astype(np.float32), pad, mode="edge")
    out = (p[..., ::2, ::2] + p[..., 1::2, ::2] + p[..., ::2, 1::2] + p[..., 1::2, 1::2]) / 4
    return out if plane.dtype.kind == "f" else np.round(out).astype(plane.dtype)


def _chunk_for(chunk: int, block_size: int, plane: tuple[int, int]) -> int:
    """A chunk size such that no chunk is shared by two blocks (so a block is written whole)."""
    if max(plane) <= block_size or block_size % chunk == 0:
        return chunk  # one block per plane, or blocks made of whole chunks
    divisors = [d for d in range(64, chunk + 1) if block_size % d == 0]
    return max(divisors) if divisors else block_size


def _block_levels(plane: tuple[int, int], block_size: int, chunk: int, n_levels: int) -> int:
    """How many pyramid levels are written with each block (the rest are built at the end)."""
    if max(plane) <= block_size:
        return n_levels  # one block per plane: every level lines up
    n = 1
    while n < n_levels and block_size % (chunk * 2**n) == 0:
        n += 1
    return n
