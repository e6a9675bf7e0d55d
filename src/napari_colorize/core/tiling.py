"""Tile plans: which window of a plane each model call reads, pure and Qt-free.

Tiles are planned per axis in 1-D (:class:`AxisPlan`, computed on demand, so planning costs the
same for a 1 MP image and a 10^12-pixel declared shape) and combined as a product. Edge tiles
are shifted inward so every tile is full-size; a plane smaller than a tile is padded by the
engine. Blocks (:class:`BlockGrid`) carry the range of tile indices touching them on each axis,
found by bisection, and their :class:`TileSpec` objects are built only when a block is run.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar, overload

from .windows import TileSpec, intersect, make_tile, relative

__all__ = [
    "AxisPlan", "Block", "BlockGrid", "TileSpec", "intersect", "make_tile", "plan_axis",
    "plan_blocks", "plan_tiles", "relative",
]

T = TypeVar("T")


class _Lazy(Sequence[T]):
    """A sequence whose entries are computed on demand by ``_item(i, len)``."""

    @overload
    def __getitem__(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: slice) -> list[T]: ...

    def __getitem__(self, i: int | slice) -> T | list[T]:
        n = len(self)
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(n))]
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"index {i} out of range for {n} {type(self).__name__} entries")
        return self._item(i, n)

    def _item(self, i: int, n: int) -> T:
        raise NotImplementedError


@dataclass(frozen=True)
class AxisPlan(_Lazy[tuple[int, int, int, int]]):
    """The tiles of one axis: entry ``i`` is ``(start, stop, own_start, own_stop)``.

    Tiles of size ``tile`` advance by ``tile - overlap``; the last one is shifted inward to end
    at ``length``. Ownership boundaries lie half-way through each overlap. Entries are computed
    on demand; starts and ownership bounds increase with ``i``.

    Parameters
    ----------
    length : int
        Pixels along the axis.
    tile : int
        Tile length; an axis no longer than a tile has one tile of the axis' length.
    overlap : int
        Pixels shared by neighbouring tiles, in ``[0, tile)``.

    Raises
    ------
    ValueError
        A length or tile below 1, or an overlap outside ``[0, tile)``.

    Examples
    --------
    >>> plan = AxisPlan(1000, 256, 32)
    >>> len(plan), plan[0], plan[-1]
    (5, (0, 256, 0, 240), (744, 1000, 836, 1000))
    >>> plan.touching(300, 500)  # tiles 1 (224-480) and 2 (448-704)
    range(1, 3)
    """

    length: int
    tile: int
    overlap: int

    def __post_init__(self) -> None:
        """Check the length, tile and overlap."""
        if self.length < 1 or self.tile < 1:
            raise ValueError(f"axis length {self.length} and tile {self.tile} must be >= 1")
        if self.length > self.tile and not 0 <= self.overlap < self.tile:
            raise ValueError(f"overlap {self.overlap} must be in [0, tile {self.tile})")

    @property
    def size(self) -> int:
        """Tile length along this axis (the axis length if it is shorter than a tile)."""
        return min(self.tile, self.length)

    def __len__(self) -> int:
        """Count the tiles of the axis."""
        if self.length <= self.tile:
            return 1
        return math.ceil((self.length - self.tile) / (self.tile - self.overlap)) + 1

    def start(self, i: int) -> int:
        """Return where tile ``i`` starts (the last tile is shifted inward to fit).

        Parameters
        ----------
        i : int
            Tile index, from 0 to ``len(self) - 1``.

        Returns
        -------
        int
            The first pixel of the tile.
        """
        if self.length <= self.tile:
            return 0
        return min(i * (self.tile - self.overlap), self.length - self.tile)

    def _item(self, i: int, n: int) -> tuple[int, int, int, int]:
        start, size = self.start(i), self.size
        own_start = 0 if i == 0 else (self.start(i - 1) + size + start) // 2
        own_stop = self.length if i == n - 1 else (start + size + self.start(i + 1)) // 2
        return (start, start + size, own_start, own_stop)

    def touching(self, start: int, stop: int, constant: bool = False) -> range:
        """Find the tiles whose window overlaps ``[start, stop)``, by bisection.

        Parameters
        ----------
        start, stop : int
            A range of pixels along the axis.
        constant : bool
            Look at the tiles' owned part (``crop``, constant blending), not their ``read``.

        Returns
        -------
        range
            Indices of the tiles, in order (empty if none).
        """
        if constant:  # own_start < stop and own_stop > start
            first = bisect.bisect_right(self, start, key=lambda e: e[3])
            last = bisect.bisect_left(self, stop, key=lambda e: e[2])
        else:  # tile_start < stop and tile_start + size > start
            first = bisect.bisect_right(self, start - self.size, key=lambda e: e[0])
            last = bisect.bisect_left(self, stop, key=lambda e: e[0])
        return range(first, max(first, last))


def plan_axis(length: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Plan one axis: ``(start, stop, own_start, own_stop)`` per tile (see :class:`AxisPlan`).

    Parameters
    ----------
    length, tile, overlap : int
        Pixels along the axis, tile length and overlap.

    Returns
    -------
    list of tuple of int
        Every entry of ``AxisPlan(length, tile, overlap)``.

    Examples
    --------
    >>> plan_axis(10, 4, 1)
    [(0, 4, 0, 3), (3, 7, 3, 6), (6, 10, 6, 10)]
    """
    return list(AxisPlan(length, tile, overlap))


def plan_tiles(
    shape: tuple[int, int], tile_size: int | tuple[int, int], overlap: int
) -> list[TileSpec]:
    """Plan the tiles covering a plane of ``shape`` (rows, cols), in row-major order.

    Parameters
    ----------
    shape : tuple of int
        Rows and columns of the plane.
    tile_size : int or tuple of int
        Tile side, or rows and columns (they may differ per axis, for a plane narrower than a
        tile on one axis).
    overlap : int
        Pixels shared by neighbouring tiles.

    Returns
    -------
    list of TileSpec
        Every tile, row-major; their crops cover every pixel exactly once.

    Raises
    ------
    ValueError
        An empty plane, or an overlap outside ``[0, tile_size)``.

    Examples
    --------
    >>> tiles = plan_tiles((511, 237), tile_size=256, overlap=32)
    >>> len(tiles)
    3
    """
    th, tw = (tile_size, tile_size) if isinstance(tile_size, int) else tile_size
    rows = AxisPlan(shape[0], th, overlap)
    cols = AxisPlan(shape[1], tw, overlap)
    return [make_tile(r, c) for r, c in itertools.product(rows, cols)]


@dataclass(frozen=True)
class Block:
    """A region of a plane computed and written as one unit, with the tiles that contribute to it.

    ``tile_rows`` and ``tile_cols`` are the indices (into the plan's row and column axis plans)
    of the tiles touching the block; its tiles are their product, in plan (row-major) order.
    Runs are resumed and distributed block by block. A block's result depends only on its tiles,
    so it is the same whichever process computes it, and in whichever batch.

    Parameters
    ----------
    rows, cols : slice
        The block's pixels in the plane.
    tile_rows, tile_cols : range
        Indices of the tiles touching it, into the plan's row and column :class:`AxisPlan`.

    Examples
    --------
    >>> block = Block(slice(0, 512), slice(512, 600), range(0, 3), range(2, 3))
    >>> block.key, block.n_tiles, list(block.tiles)
    ('0-512', 3, [(0, 2), (1, 2), (2, 2)])
    """

    rows: slice
    cols: slice
    tile_rows: range
    tile_cols: range

    @property
    def region(self) -> tuple[slice, slice]:
        """The block's ``(rows, cols)`` window in the plane."""
        return (self.rows, self.cols)

    @property
    def key(self) -> str:
        """The block's name in a plane: ``"row-col"`` of its first pixel (resume markers)."""
        return f"{self.rows.start}-{self.cols.start}"

    @property
    def n_tiles(self) -> int:
        """Number of tiles touching the block."""
        return len(self.tile_rows) * len(self.tile_cols)

    @property
    def tiles(self) -> Iterator[tuple[int, int]]:
        """``(row, col)`` tile indices, in plan order."""
        return itertools.product(self.tile_rows, self.tile_cols)


@dataclass(frozen=True)
class BlockGrid(_Lazy[Block]):
    """The blocks of a plane, row-major, made on demand from the axis plans.

    A few integers, whatever the plane's size. Use :func:`plan_blocks` to make one.

    Parameters
    ----------
    plane : tuple of int
        Rows and columns of the plane.
    block_size : int
        Largest block side; blocks on the last row and column may be smaller.
    rows, cols : AxisPlan
        The tile plans of the two axes.
    constant : bool
        Constant blending: a block's tiles are those whose ``crop`` touches it.

    Examples
    --------
    >>> grid = BlockGrid((1000, 600), 512, AxisPlan(1000, 256, 32), AxisPlan(600, 256, 32))
    >>> len(grid), grid.grid, grid.n_tiles
    (4, (2, 2), 24)
    >>> grid[1].region
    (slice(0, 512, None), slice(512, 600, None))
    >>> grid.at(0, 512) == grid[1], grid.at(1, 0)
    (True, None)
    """

    plane: tuple[int, int]
    block_size: int
    rows: AxisPlan
    cols: AxisPlan
    constant: bool = False

    @property
    def grid(self) -> tuple[int, int]:
        """Blocks per axis."""
        return (-(-self.plane[0] // self.block_size), -(-self.plane[1] // self.block_size))

    def __len__(self) -> int:
        """Count the blocks of the plane."""
        return self.grid[0] * self.grid[1]

    def _axis(self, axis: int, i: int) -> tuple[slice, range]:
        plan = self.rows if axis == 0 else self.cols
        start = i * self.block_size
        stop = min(start + self.block_size, self.plane[axis])
        return slice(start, stop), plan.touching(start, stop, self.constant)

    def _item(self, i: int, n: int) -> Block:
        r, c = divmod(i, self.grid[1])
        (rows, tile_rows), (cols, tile_cols) = self._axis(0, r), self._axis(1, c)
        return Block(rows, cols, tile_rows, tile_cols)

    def __iter__(self) -> Iterator[Block]:
        """Yield the blocks row by row (each column's tile range computed once)."""
        cols = [self._axis(1, c) for c in range(self.grid[1])]
        for r in range(self.grid[0]):
            rows, tile_rows = self._axis(0, r)
            for col, tile_cols in cols:
                yield Block(rows, col, tile_rows, tile_cols)

    def at(self, row: int, col: int) -> Block | None:
        """Find the block starting at pixel ``(row, col)``.

        Parameters
        ----------
        row, col : int
            A pixel of the plane.

        Returns
        -------
        Block or None
            The block starting there, or ``None`` if no block starts there.
        """
        if row % self.block_size or col % self.block_size:
            return None
        r, c = row // self.block_size, col // self.block_size
        if not (0 <= r < self.grid[0] and 0 <= c < self.grid[1]):
            return None
        return self[r * self.grid[1] + c]

    @property
    def n_tiles(self) -> int:
        """Tiles run for one plane: each block's tiles, counted once per block they touch."""
        per_axis = [sum(len(self._axis(a, i)[1]) for i in range(self.grid[a])) for a in (0, 1)]
        return per_axis[0] * per_axis[1]


def plan_blocks(
    plane: tuple[int, int], rows: AxisPlan, cols: AxisPlan, block_size: int,
    constant: bool = False,
) -> BlockGrid:
    """Cut a plane of ``plane`` (rows, cols) into blocks of at most ``block_size`` a side.

    Each block lists the tiles whose window (``crop`` with constant blending) touches it, in plan
    order. Tiles straddling a block edge are computed once per block they touch.

    Parameters
    ----------
    plane : tuple of int
        Rows and columns of the plane.
    rows, cols : AxisPlan
        The tile plans of the two axes.
    block_size : int
        Largest block side in pixels.
    constant : bool
        Constant blending: blocks need only the tiles whose ``crop`` touches them.

    Returns
    -------
    BlockGrid
        The blocks, made on demand.

    Examples
    --------
    >>> rows, cols = AxisPlan(2048, 512, 64), AxisPlan(2048, 512, 64)
    >>> len(plan_blocks((2048, 2048), rows, cols, 4096)), len(rows) * len(cols)
    (1, 25)
    >>> grid = plan_blocks((2048, 2048), rows, cols, 1024)
    >>> len(grid), grid.n_tiles  # tiles on block edges are computed twice
    (4, 36)
    """
    return BlockGrid((plane[0], plane[1]), block_size, rows, cols, constant)
