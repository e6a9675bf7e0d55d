"""TIFF, OME-TIFF, SVS and other tifffile formats: the main series, level 0, opened lazily.

The main series is the one with the most level-0 pixels (the first of equals): an SVS's
baseline, a Leica SCN's tissue rather than its macro image, the full image of a TIFF whose
first page is a reduced-resolution thumbnail; series 0 of an OME-TIFF of equal images.

Uncompressed contiguous data is memory-mapped; compressed, tiled or pyramidal data is read
through tifffile's zarr store, one chunk at a time. Damaged files are refused at open with one
line: tifffile's logged warnings about a broken page chain or mismatched metadata (which would
silently drop planes) become the error, and data past the end of the file is reported as
truncation before any pixel is decoded.

Pixels are read as the gray the file displays (:class:`DisplayArray`, converting only the region
asked for; see :mod:`.tiff_display`): MINISWHITE integers (0 shows white) are inverted within
their bits per sample, the indices of a gray palette TIFF are looked up in its colour table,
2-7 bit gray is scaled to 8 bits as a viewer shows it, and gray with an alpha sample is
composited over white (a transparent pixel is glass). Float MINISWHITE data (whose black level
is undefined) and colour palettes are refused, unless colours are asked for (a palette then
reads as the RGB of its table); 1-bit bilevel images are left as stored (booleans are refused
as masks later).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .arrays import LazyArray, full_index
from .tiff_display import Alpha, display, gray_alpha

#: tifffile warnings that mean pixels would be lost or misplaced (others are metadata quirks).
DAMAGE = re.compile(
    r"corrupt|invalid page offset|invalid offset to first page|suspicious|failed to reshape|"
    r"is missing|incompletely written|expected \d+ frames|failed to read \d+ bytes|"
    r"cannot handle discontiguous|does not match",
    re.IGNORECASE,
)
MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


class _Quiet(logging.Filter):
    """A filter installed once on tifffile's logger, per thread.

    It drops the records of threads inside :func:`quiet_tifffile` (collecting them there) and
    lets every other thread's through.
    """

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        sinks = getattr(self.local, "sinks", None)
        if not sinks:
            return True
        message = " ".join(record.getMessage().split())
        for sink in sinks:
            sink.append(message)
        return False


_QUIET = _Quiet()
_INSTALL = threading.Lock()


@contextlib.contextmanager
def quiet_tifffile() -> Iterator[list[str]]:
    """Collect tifffile's logged warnings instead of printing them, in this thread only.

    The logger itself is never reconfigured, so concurrent readers cannot silence it.

    Yields
    ------
    list of str
        The messages logged inside the block, each on one line.

    Examples
    --------
    >>> import logging
    >>> with quiet_tifffile() as messages:
    ...     logging.getLogger("tifffile").warning("odd  tag")
    >>> messages
    ['odd tag']
    """
    logger = logging.getLogger("tifffile")
    with _INSTALL:
        if _QUIET not in logger.filters:
            logger.addFilter(_QUIET)
    messages: list[str] = []
    sinks = getattr(_QUIET.local, "sinks", None)
    if sinks is None:
        sinks = _QUIET.local.sinks = []
    sinks.append(messages)
    try:
        yield messages
    finally:
        del sinks[next(i for i, m in enumerate(sinks) if m is messages)]  # by identity


def _damage(messages: list[str]) -> str | None:
    for message in messages:
        if DAMAGE.search(message):
            return message.replace("<tifffile.", "<")
    return None


def _check_header(path: Path) -> None:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not head:
        raise ValueError("not a TIFF file (empty file)")
    if head not in MAGIC:
        raise ValueError(f"not a TIFF file (it starts with {head!r})")


def _check_extent(series: Any, size: int) -> None:
    """Refuse data that lies past the end of the file (a truncated copy)."""
    if series.dataoffset is not None:
        end = int(series.dataoffset) + int(series.nbytes)
    else:
        pages = [p for p in (series.pages[0], series.pages[-1]) if p is not None]
        ends = [
            int(o) + int(c)
            for p in pages
            for o, c in zip(p.dataoffsets, p.databytecounts, strict=False)
            if c
        ]
        end = max(ends, default=0)
    if end > size:
        raise ValueError(
            f"truncated TIFF: its data runs to byte {end} but the file has {size} bytes "
            "(an incomplete copy?)"
        )


def main_series(tif: Any) -> int:
    """Choose the series a reader takes: the one with the most level-0 pixels.

    Pixels are counted over every axis but samples and channels; the first of equals wins, so
    an OME-TIFF of equal images gives series 0, while a Leica SCN's or a thumbnail-first
    TIFF's small first image gives way to the tissue.

    Parameters
    ----------
    tif : tifffile.TiffFile
        The open file.

    Returns
    -------
    int
        The index into ``tif.series`` (0 when there are none).

    Examples
    --------
    >>> import tempfile, tifffile, numpy as np
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with tifffile.TiffWriter(Path(tmp) / "t.tif") as writer:
    ...         writer.write(np.zeros((4, 5), np.uint8), subfiletype=1)  # a thumbnail first
    ...         writer.write(np.zeros((40, 50), np.uint8))
    ...     with tifffile.TiffFile(Path(tmp) / "t.tif") as tif:
    ...         main_series(tif), tif.series[main_series(tif)].shape
    (1, (40, 50))
    """
    best, most = 0, -1
    for i, series in enumerate(tif.series):
        pixels = math.prod(int(n) for n, a in zip(series.shape, series.axes, strict=False)
                           if a not in "SC")
        if pixels > most:
            best, most = i, pixels
    return best


class DisplayArray(LazyArray):
    """A TIFF series seen as what it displays, converted region by region.

    Made by :func:`read_tiff` for MINISWHITE, palette, 2-7 bit gray and gray + alpha images.

    Parameters
    ----------
    source : array-like
        The stored values: a memory map, or a zarr array over tifffile's store.
    filename : str
        The file (pickling re-opens it).
    invert : int, optional
        MINISWHITE: value ``v`` shows as ``invert - v`` (the largest value for unsigned
        integers, -1 for signed ones: the sum of the range's ends).
    lut : numpy.ndarray, optional
        Palette: index ``i`` shows as ``lut[i]`` (larger indices take the last entry): a gray
        level, or an RGB colour (``lut`` of shape ``(N, 3)``, adding a last axis of 3).
    alpha : Alpha, optional
        Gray + alpha: the samples axis is read away, the gray composited over white.

    Examples
    --------
    >>> DisplayArray(np.array([[0, 5, 255]], np.uint8), "w.tif", invert=255)[0].tolist()
    [255, 250, 0]
    >>> DisplayArray(np.array([[0, 1]], np.uint8), "p.tif", lut=np.array([9, 3], np.uint8))[...]
    array([[9, 3]], dtype=uint8)
    >>> la = np.array([[[200, 255], [200, 0]]], np.uint8)  # opaque, then transparent
    >>> DisplayArray(la, "la.tif", alpha=Alpha(2, "straight", 255.0, 255.0))[...]
    array([[200, 255]], dtype=uint8)
    """

    #: ``source`` is the array read (see :func:`napari_colorize.core.input_store.base_array`).
    wraps_source = True

    def __init__(self, source: Any, filename: str, *, invert: int | None = None,
                 lut: np.ndarray | None = None, alpha: Alpha | None = None) -> None:
        self.source = source
        self.filename = filename
        self.invert = invert
        self.lut = lut
        self.alpha = alpha
        self.colour = lut is not None and lut.ndim == 2
        shape = [int(s) for s in source.shape]
        chunks = getattr(source, "chunks", None)
        chunks = list(chunks) if isinstance(chunks, tuple) and len(chunks) == len(shape) else None
        if alpha is not None:
            del shape[alpha.axis]
            if chunks:
                del chunks[alpha.axis]
        if self.colour:
            shape.append(3)
            if chunks:
                chunks.append(3)
        self.shape = tuple(shape)
        self.dtype = np.dtype(source.dtype if lut is None else lut.dtype)
        if chunks:
            self.chunks = tuple(int(c) for c in chunks)  # samplers read whole chunks

    def __getitem__(self, index: Any) -> np.ndarray:
        """Read the region's stored values and return what they show."""
        index = full_index(index, self.ndim)
        stored = index[:-1] if self.colour else index  # a palette's colours are made here
        if self.alpha is None:
            shown = self._show(np.asarray(self.source[stored]))
        else:
            at = self.alpha.axis
            data = np.asarray(self.source[(*stored[:at], slice(None), *stored[at:])])
            at -= sum(isinstance(i, (int, np.integer)) for i in stored[:at])  # axes indexed away
            shown = self.alpha.composite(self._show(np.take(data, 0, at)), np.take(data, 1, at),
                                         self.dtype)
        return np.asarray(shown[..., index[-1]]) if self.colour else shown

    def _show(self, data: np.ndarray) -> np.ndarray:
        """Look stored gray values (or palette indices) up as they show."""
        if self.lut is not None:
            return np.asarray(np.take(self.lut, data, axis=0, mode="clip"))
        if self.invert is None:
            return data
        invert = self.dtype.type(self.invert)
        if self.dtype.kind == "u" and invert < np.iinfo(self.dtype).max:
            data = np.minimum(data, invert)  # fewer bits than the dtype: no wrap-around
        return np.asarray(np.subtract(invert, data, dtype=self.dtype))

    def __reduce__(self) -> tuple:
        """Pickle as the file name."""
        # dask workers re-open the file
        return functools.partial(read_tiff, colour=self.colour), (Path(self.filename),)

    def __repr__(self) -> str:
        """Name the file, shape and dtype."""
        return f"DisplayArray({self.filename!r}, shape={self.shape}, dtype={self.dtype})"


def read_tiff(path: Path, *, raw: bool = False, colour: bool = False) -> Any:
    """Open the main series (see :func:`main_series`), level 0, of a TIFF lazily.

    Parameters
    ----------
    path : Path
        A TIFF-like file (TIFF, OME-TIFF, SVS, NDPI, SCN...).
    raw : bool
        Give the stored values (e.g. of a mask or label image), even where the file displays
        them otherwise (MINISWHITE, palette, gray + alpha).
    colour : bool
        Read a palette TIFF as the RGB colours of its table (``(..., 3)``), for ``from_rgb``
        inputs and colour references, instead of refusing colour palettes.

    Returns
    -------
    numpy.memmap, zarr.Array or DisplayArray
        A memory map for uncompressed contiguous data, else a zarr array over tifffile's store;
        wrapped in a :class:`DisplayArray` (unless ``raw``) when the file displays other values
        than it stores (MINISWHITE, palette, 2-7 bit gray, gray + alpha).

    Raises
    ------
    ValueError
        One line: not a TIFF, corrupt (a damaged page chain, mismatched metadata), truncated,
        or without pixels; (unless ``raw``) a palette-colour (unless ``colour``) or float
        MINISWHITE TIFF.

    Examples
    --------
    >>> import tempfile, tifffile, numpy as np
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     tifffile.imwrite(Path(tmp) / "z.tif", np.zeros((64, 64), np.uint8), tile=(32, 32),
    ...                      compression="zlib")
    ...     type(read_tiff(Path(tmp) / "z.tif")).__name__
    'Array'
    >>> with tempfile.TemporaryDirectory() as tmp:  # 0 shows white
    ...     tifffile.imwrite(Path(tmp) / "w.tif", np.array([[0, 255]], np.uint8),
    ...                      photometric="miniswhite")
    ...     read_tiff(Path(tmp) / "w.tif")[...], read_tiff(Path(tmp) / "w.tif", raw=True)[...]
    (array([[255,   0]], dtype=uint8), memmap([[  0, 255]], dtype=uint8))
    """
    import tifffile
    import zarr

    _check_header(path)
    with quiet_tifffile() as messages:
        try:
            with tifffile.TiffFile(path) as tif:
                index = main_series(tif)
                series = tif.series[index] if tif.series else None
                damage = _damage(messages)
                if damage:
                    raise ValueError(f"corrupt TIFF: {damage}")
                if series is None:
                    raise ValueError("no image series (a corrupt TIFF?)")
                page = series.keyframe
                if not series.size:  # else its data offset reads as past the end: "truncated"
                    raise ValueError(f"the TIFF has no pixels (its image is {page.imagelength} "
                                     f"rows by {page.imagewidth} columns)")
                _check_extent(series, tif.filehandle.size)
                shown = None if raw else display(page, path, series.axes, colour=colour)
                stored: Any = None
                packed = int(page.bitspersample) not in (8, 16, 32, 64)  # e.g. 4-bit
                if (series.is_pyramidal or len(series.levels) > 1 or series.dataoffset is None
                        or packed):  # a memory map would show the packed bytes
                    stored = zarr.open(series.aszarr(level=0), mode="r")
            if stored is None:
                stored = tifffile.memmap(path, mode="r", series=index, level=0)
            return stored if shown is None else DisplayArray(stored, str(path), **shown)
        except ValueError as exc:
            if not isinstance(exc, tifffile.TiffFileError):
                raise
            damage = _damage(messages) or " ".join(str(exc).split())
            raise ValueError(f"corrupt TIFF: {damage}") from None
        except Exception:
            damage = _damage(messages) or (
                messages[0].replace("<tifffile.", "<") if messages else "")
            if damage:
                raise ValueError(f"corrupt TIFF: {damage}") from None
            raise


def tiff_channels(path: Path) -> tuple[int, int, str] | None:
    """Find a channel axis with more than one channel in the main series.

    Interleaved RGB samples (the last axis) do not count: they are refused as RGB later;
    planar samples do count, unless they are gray and its alpha (composited when read).

    Returns
    -------
    tuple of (int, int, str) or None
        ``(axis, size, axes)`` (tifffile's axes letters), else None.

    Examples
    --------
    >>> import tempfile, tifffile, numpy as np
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     tifffile.imwrite(Path(tmp) / "c.ome.tif", np.zeros((2, 8, 8), np.uint8),
    ...                      metadata={"axes": "CYX"})
    ...     tiff_channels(Path(tmp) / "c.ome.tif")
    (0, 2, 'CYX')
    """
    import tifffile

    with quiet_tifffile(), tifffile.TiffFile(path) as tif:
        series = tif.series[main_series(tif)]
        axes, shape = series.axes, series.shape
        alpha = gray_alpha(series.keyframe) is not None
    last = len(axes) - 1
    for i, a in enumerate(axes):
        if (a == "C" or (a == "S" and i < last and not alpha)) and shape[i] > 1:
            return i, int(shape[i]), axes
    return None
