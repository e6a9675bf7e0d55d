"""DICOM whole-slide images: frames that are the tiles of one plane, read as that plane.

A VL Whole Slide Microscopy image stores its total pixel matrix (``TotalPixelMatrixRows`` x
``TotalPixelMatrixColumns``) as frames of ``Rows`` x ``Columns`` tiles. With
``DimensionOrganizationType`` TILED_FULL, one focal plane and one optical path, the frames are
the tiles in row-major order and the last row and column of tiles are padded past the matrix:
:func:`read_tiles` assembles any region from the tiles it touches (one decoded at a time) and
crops the padding. Other arrangements (TILED_SPARSE, tiles placed frame by frame; several focal
planes or optical paths) are refused by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TileGrid", "read_tiles", "tile_grid"]


@dataclass(frozen=True)
class TileGrid:
    """The tiles of a whole-slide image's one plane, frame ``n`` at row ``n // across``.

    Parameters
    ----------
    rows, columns : int
        Size of a tile (a frame).
    height, width : int
        Size of the total pixel matrix (the plane).
    """

    rows: int
    columns: int
    height: int
    width: int

    @property
    def across(self) -> int:
        """Tiles per row of tiles."""
        return math.ceil(self.width / self.columns)

    @property
    def count(self) -> int:
        """Number of tiles."""
        return self.across * math.ceil(self.height / self.rows)


def tile_grid(ds: Any, path: Path) -> TileGrid | None:
    """Read how a DICOM file's frames tile one plane; None when they are not tiles.

    Parameters
    ----------
    ds : pydicom.Dataset
        The file's header.
    path : Path
        The file, named in errors.

    Returns
    -------
    TileGrid or None
        None without a total pixel matrix, or when one frame is the whole matrix.

    Raises
    ------
    ValueError
        One line naming ``path`` for tiles that are not TILED_FULL, several focal planes or
        optical paths, or a frame count that does not fill the matrix.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset()
    >>> ds.Rows, ds.Columns, ds.NumberOfFrames = 128, 160, 4
    >>> ds.TotalPixelMatrixRows, ds.TotalPixelMatrixColumns = 250, 300
    >>> ds.DimensionOrganizationType = "TILED_FULL"
    >>> tile_grid(ds, Path("wsi.dcm"))
    TileGrid(rows=128, columns=160, height=250, width=300)
    """
    if "TotalPixelMatrixRows" not in ds and "TotalPixelMatrixColumns" not in ds:
        return None
    name = f"{path} is a DICOM whole-slide image"
    height = int(ds.get("TotalPixelMatrixRows", 0) or 0)
    width = int(ds.get("TotalPixelMatrixColumns", 0) or 0)
    rows, columns = int(ds.Rows), int(ds.Columns)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames == 1 and (height, width) == (rows, columns):
        return None  # one frame, the whole plane: a plain image
    if height <= 0 or width <= 0 or rows <= 0 or columns <= 0:
        raise ValueError(f"{name} without a size (TotalPixelMatrixRows {height}, "
                         f"TotalPixelMatrixColumns {width}, tiles {rows} x {columns})")
    organisation = str(ds.get("DimensionOrganizationType", "") or "").upper()
    if organisation != "TILED_FULL":
        raise ValueError(
            f"{name} whose tiles are placed frame by frame ({organisation or 'no'} "
            "DimensionOrganizationType; only TILED_FULL is read); convert it to a tiled TIFF "
            "or OME-Zarr"
        )
    planes = int(ds.get("TotalPixelMatrixFocalPlanes", 1) or 1)
    paths = int(ds.get("NumberOfOpticalPaths", 1) or 1)
    if planes > 1 or paths > 1:
        raise ValueError(
            f"{name} of {planes} focal planes and {paths} optical paths; only one of each is "
            "read: save one plane of one optical path to its own file"
        )
    grid = TileGrid(rows, columns, height, width)
    if frames != grid.count:
        raise ValueError(
            f"{name} of {frames} frames, but its {height} x {width} pixels in {rows} x {columns} "
            f"tiles (TILED_FULL) need {grid.count}; the file is damaged"
        )
    return grid


def read_tiles(grid: TileGrid, decode: Callable[[int], np.ndarray], index: tuple,
               shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Assemble the region of the plane that ``index`` selects from the tiles it touches.

    Parameters
    ----------
    grid : TileGrid
        The tiles.
    decode : callable
        ``decode(n)`` gives frame ``n`` (a tile, with its samples axis if any).
    index : tuple
        A full basic index of the plane (see :func:`~.arrays.full_index`).
    shape : tuple of int
        The plane's shape (``(height, width)``, then samples).
    dtype : numpy dtype
        The plane's dtype.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> tiles = [np.full((2, 3), n) for n in range(4)]  # a 2 x 2 grid padded past 3 x 5
    >>> grid = TileGrid(2, 3, 3, 5)
    >>> read_tiles(grid, tiles.__getitem__, (slice(None), slice(None)), (3, 5), np.dtype(int))
    array([[0, 0, 0, 1, 1],
           [0, 0, 0, 1, 1],
           [2, 2, 2, 3, 3]])
    """
    picks = [np.atleast_1d(np.arange(n)[i]) for n, i in zip(shape[:2], index[:2], strict=True)]
    out = np.empty((len(picks[0]), len(picks[1]), *shape[2:]), dtype)
    down, across = picks[0] // grid.rows, picks[1] // grid.columns
    for row in np.unique(down):
        r = np.flatnonzero(down == row)  # the picked rows inside this row of tiles
        for column in np.unique(across):
            c = np.flatnonzero(across == column)
            tile = decode(int(row) * grid.across + int(column))  # row-major tile order
            out[np.ix_(r, c)] = tile[np.ix_(picks[0][r] % grid.rows, picks[1][c] % grid.columns)]
    kept = tuple(0 if isinstance(i, (int, np.integer)) else slice(None) for i in index[:2])
    return np.asarray(out[(*kept, *index[2:])])
