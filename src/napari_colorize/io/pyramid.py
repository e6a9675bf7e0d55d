"""Pyramid geometry shared by the OME-Zarr and OME-TIFF writers.

How many levels, 2x means, and chunk sizes that keep each block's chunks its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: Levels are halved while the plane's longer side exceeds twice this (pixels).
MIN_LEVEL_SIZE = 256


def count_levels(plane_shape: Sequence[int]) -> int:
    """How many pyramid levels a plane gets: halved while its longer side exceeds 512 px.

    Parameters
    ----------
    plane_shape : (int, int)
        Height and width of level 0.

    Returns
    -------
    int
        At least 1, at most 8.

    Examples
    --------
    >>> count_levels((1100, 600)), count_levels((512, 512))
    (3, 1)
    """
    n, (h, w) = 1, plane_shape
    while max(h, w) > MIN_LEVEL_SIZE * 2 and n < 8:
        h, w, n = (h + 1) // 2, (w + 1) // 2, n + 1
    return n


def downsample(plane: np.ndarray) -> np.ndarray:
    """2x mean of a ``(..., H, W)`` array, edge rows/cols replicated for odd sizes.

    Parameters
    ----------
    plane : ndarray
        Integer data is rounded back to its dtype; float data stays float32.

    Returns
    -------
    ndarray
        Shape ``(..., ceil(H / 2), ceil(W / 2))``.

    Examples
    --------
    >>> downsample(np.array([[0, 2, 4], [2, 4, 6]], np.uint8))
    array([[2, 5]], dtype=uint8)
    """
    h, w = plane.shape[-2:]
    if plane.dtype.kind in "ub" and plane.dtype.itemsize <= 2 and h % 2 == 0 and w % 2 == 0:
        return _mean4_unsigned(plane)
    pad = [(0, 0)] * (plane.ndim - 2) + [(0, h % 2), (0, w % 2)]
    p = np.pad(plane.astype(np.float32), pad, mode="edge")
    out = (p[..., ::2, ::2] + p[..., 1::2, ::2] + p[..., ::2, 1::2] + p[..., 1::2, 1::2]) / 4
    return out if plane.dtype.kind == "f" else np.round(out).astype(plane.dtype)


def _mean4_unsigned(plane: np.ndarray) -> np.ndarray:
    """:func:`downsample` of even-sized 8/16-bit unsigned data in integers (the same bytes).

    The float path copies the plane twice (float32, then padded) before adding; adding row
    pairs, then column pairs, in integers and rounding half to even, as ``np.round`` does,
    takes a third of the time for the RGB pyramid of every written block.
    """
    h, w = plane.shape[-2:]
    wide = np.uint16 if plane.dtype.itemsize == 1 else np.uint32  # 4 x max fits
    rows = plane.reshape(*plane.shape[:-2], h // 2, 2, w)
    total: Any = rows[..., 0, :].astype(wide)  # numpy's stubs lose the dtype of a union
    total += rows[..., 1, :]
    pairs = total.reshape(*total.shape[:-1], w // 2, 2)
    total = pairs[..., 0] + pairs[..., 1]
    rest = total & 3
    total >>= 2
    total += (rest > 2) | ((rest == 2) & (total & 1).astype(bool))
    return total.astype(plane.dtype)


def choose_chunk(chunk: int, block_size: int, plane: Sequence[int]) -> int:
    """Pick a chunk size such that no two blocks share a chunk (a block is written whole).

    Parameters
    ----------
    chunk : int
        The chunk edge wanted (pixels).
    block_size : int
        The edge of the blocks the image is written in.
    plane : (int, int)
        Height and width of level 0.

    Returns
    -------
    int
        ``chunk`` when blocks are made of whole chunks (or one block covers the plane), else
        the largest divisor of ``block_size`` from 64 to ``chunk``, else ``block_size``.

    Examples
    --------
    >>> choose_chunk(512, 4096, (10000, 10000)), choose_chunk(512, 1000, (10000, 10000))
    (512, 500)
    """
    if max(plane) <= block_size or block_size % chunk == 0:
        return chunk  # one block per plane, or blocks made of whole chunks
    divisors = [d for d in range(64, chunk + 1) if block_size % d == 0]
    return max(divisors) if divisors else block_size


def count_block_levels(plane: Sequence[int], block_size: int, chunk: int, n_levels: int) -> int:
    """How many pyramid levels are written with each block (the rest are built at the end).

    A level is written with the block when the block covers whole chunks of it.

    Parameters
    ----------
    plane : (int, int)
        Height and width of level 0.
    block_size : int
        The edge of the blocks the image is written in.
    chunk : int
        The chunk edge (see :func:`choose_chunk`).
    n_levels : int
        The image's pyramid levels.

    Returns
    -------
    int
        From 1 to ``n_levels``.

    Examples
    --------
    >>> count_block_levels((10000, 10000), 4096, 512, 5)
    4
    """
    if max(plane) <= block_size:
        return n_levels  # one block per plane: every level lines up
    n = 1
    while n < n_levels and block_size % (chunk * 2**n) == 0:
        n += 1
    return n
