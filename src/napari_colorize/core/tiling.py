"""Tile plans: which window of a plane each model call reads, pure and Qt-free.

Tiles are planned per axis in 1-D and combined with :func:`itertools.product`. Edge tiles are
shifted inward so every tile is full-size; a plane smaller than a tile is padded by the engine.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TileSpec:
    """One tile of a 2-D plane.

    ``read`` is the window (in plane pixels) fed to the model. ``crop`` is the part of it that
    this tile alone owns when tiles are not blended: the crops of a plan cover every pixel once.
    """

    read: tuple[slice, slice]
    crop: tuple[slice, slice]


def plan_axis(length: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Plan one axis: ``(start, stop, own_start, own_stop)`` per tile.

    Tiles of size ``tile`` advance by ``tile - overlap``; the last one is shifted inward to end at
    ``length``. Ownership boundaries lie half-way through each overlap.
    """
    if length <= tile:
        return [(0, length, 0, length)]
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap {overlap} must be in [0, tile {tile})")
    step = tile - overlap
    n = math.ceil((length - tile) / step) + 1
    starts = [min(i * step, length - tile) for i in range(n)]
    plan = []
    for i, start in enumerate(starts):
        own_start = 0 if i == 0 else (starts[i - 1] + tile + start) // 2
        own_stop = length if i == n - 1 else (start + tile + starts[i + 1]) // 2
        plan.append((start, start + tile, own_start, own_stop))
    return plan


def plan_tiles(
    shape: tuple[int, int], tile_size: int | tuple[int, int], overlap: int
) -> list[TileSpec]:
    """Tiles covering a plane of ``shape`` (rows, cols), in row-major order.

    ``tile_size`` may differ per axis (a plane narrower than a tile on one axis).

    Examples
    --------
    >>> tiles = plan_tiles((511, 237), tile_size=256, overlap=32)
    >>> len(tiles)
    3
    """
    th, tw = (tile_size, tile_size) if isinstance(tile_size, int) else tile_size
    rows = plan_axis(shape[0], th, overlap)
    cols = plan_axis(shape[1], tw, overlap)
    return [
        TileSpec(
            read=(slice(r[0], r[1]), slice(c[0], c[1])),
            crop=(slice(r[2], r[3]), slice(c[2], c[3])),
        )
        for r, c in itertools.product(rows, cols)
    ]


@dataclass(frozen=True)
class Block:
    """A region of a plane computed and written as one unit, with the tiles that contribute to it.

    Runs are resumed and distributed block by block. A block's result depends only on its tiles,
    so it is the same whichever process computes it, and in whichever batch.
    """

    rows: slice
    cols: slice
    tiles: tuple[int, ...]

    @property
    def region(self) -> tuple[slice, slice]:
        return (self.rows, self.cols)

    @property
    def key(self) -> str:
        return f"{self.rows.start}-{self.cols.start}"


def _overlaps(a: tuple[slice, slice], b: tuple[slice, slice]) -> bool:
    return all(x.start < y.stop and y.start < x.stop for x, y in zip(a, b, strict=True))


def plan_blocks(
    plane: tuple[int, int], tiles: list[TileSpec], block_size: int, constant: bool = False
) -> list[Block]:
    """Cut a plane of ``plane`` (rows, cols) into blocks of at most ``block_size`` a side.

    Each block lists the tiles whose window (``crop`` with constant blending) touches it, in plan
    order. Tiles straddling a block edge are computed once per block they touch.
    """
    blocks = []
    for r0 in range(0, plane[0], block_size):
        for c0 in range(0, plane[1], block_size):
            region = (slice(r0, min(r0 + block_size, plane[0])),
                      slice(c0, min(c0 + block_size, plane[1])))
            touching = tuple(
                i for i, t in enumerate(tiles) if _overlaps(t.crop if constant else t.read, region)
            )
            blocks.append(Block(*region, touching))
    return blocks


def bounding_box(windows: list[tuple[slice, slice]]) -> tuple[slice, slice]:
    """The smallest window holding all ``windows``."""
    return (
        slice(min(w[0].start for w in windows), max(w[0].stop for w in windows)),
        slice(min(w[1].start for w in windows), max(w[1].stop for w in windows)),
    )


def intersect(a: tuple[slice, slice], b: tuple[slice, slice]) -> tuple[slice, slice]:
    """Overlap of two windows (may be empty)."""
    return tuple(
        slice(max(x.start, y.start), max(max(x.start, y.start), min(x.stop, y.stop)))
        for x, y in zip(a, b, strict=True)
    )  # type: ignore[return-value]


def relative(window: tuple[slice, slice], origin: tuple[slice, slice]) -> tuple[slice, slice]:
    """``window`` in coordinates relative to ``origin``'s start."""
    return tuple(
        slice(w.start - o.start, w.stop - o.start) for w, o in zip(window, origin, strict=True)
    )  # type: ignore[return-value]
