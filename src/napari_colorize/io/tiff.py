"""TIFF, OME-TIFF, SVS and other tifffile formats: series 0, level 0, opened lazily.

Uncompressed contiguous data is memory-mapped; compressed, tiled or pyramidal data is read
through tifffile's zarr store, one chunk at a time. Damaged files are refused at open with one
line: tifffile's logged warnings about a broken page chain or mismatched metadata (which would
silently drop planes) become the error, and data past the end of the file is reported as
truncation before any pixel is decoded.

Pixels are read as the gray the file displays (:class:`DisplayArray`, converting only the region
asked for): MINISWHITE integers (0 shows white) are inverted within their bits per sample, and
the indices of a gray palette TIFF are looked up in its colour table, and 2-7 bit gray is
scaled to 8 bits as a viewer shows it. Float MINISWHITE data
(whose black level is undefined) and colour palettes are refused; 1-bit bilevel images are left
as stored (booleans are refused as masks later).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .arrays import LazyArray, full_index

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


class DisplayArray(LazyArray):
    """A TIFF series seen as the gray it displays, converted region by region.

    Made by :func:`read_tiff` for MINISWHITE, gray palette and 2-7 bit gray images.

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
        Palette: index ``i`` shows as gray ``lut[i]`` (larger indices take the last entry).

    Examples
    --------
    >>> DisplayArray(np.array([[0, 5, 255]], np.uint8), "w.tif", invert=255)[0].tolist()
    [255, 250, 0]
    >>> DisplayArray(np.array([[0, 1]], np.uint8), "p.tif", lut=np.array([9, 3], np.uint8))[...]
    array([[9, 3]], dtype=uint8)
    """

    #: ``source`` is the array read (see :func:`napari_colorize.core.input_store.base_array`).
    wraps_source = True

    def __init__(self, source: Any, filename: str, *, invert: int | None = None,
                 lut: np.ndarray | None = None) -> None:
        self.source = source
        self.filename = filename
        self.invert = invert
        self.lut = lut
        self.shape = tuple(int(s) for s in source.shape)
        self.dtype = np.dtype(source.dtype if lut is None else lut.dtype)
        chunks = getattr(source, "chunks", None)
        if isinstance(chunks, tuple) and len(chunks) == len(self.shape):
            self.chunks = tuple(int(c) for c in chunks)  # samplers read whole chunks

    def __getitem__(self, index: Any) -> np.ndarray:
        """Read the region's stored values and return the gray they show."""
        data = np.asarray(self.source[full_index(index, self.ndim)])
        if self.lut is not None:
            return np.asarray(np.take(self.lut, data, mode="clip"))
        invert = self.dtype.type(self.invert)
        if self.dtype.kind == "u" and invert < np.iinfo(self.dtype).max:
            data = np.minimum(data, invert)  # fewer bits than the dtype: no wrap-around
        return np.asarray(np.subtract(invert, data, dtype=self.dtype))

    def __reduce__(self) -> tuple:
        """Pickle as the file name."""
        return read_tiff, (Path(self.filename),)  # dask workers re-open the file

    def __repr__(self) -> str:
        """Name the file, shape and dtype."""
        return f"DisplayArray({self.filename!r}, shape={self.shape}, dtype={self.dtype})"


def _gray_table(page: Any, path: Path) -> np.ndarray:
    """Read the gray levels of a palette page's colour table (uint8 when they are 8-bit).

    Like tifffile, a table whose values all fit in 8 bits is taken as 8-bit, and 16-bit
    values that are 8-bit levels scaled (``v * 257`` or ``v * 256``) as those levels, so a
    gray palette colorizes like the plain uint8 gray image it shows; other tables stay uint16.
    """
    table = page.colormap
    bits = int(page.bitspersample)
    if page.dtype is None or page.dtype.char not in "BH" or int(page.samplesperpixel) != 1:
        raise ValueError(
            f"{path}: unsupported palette TIFF ({page.samplesperpixel} samples of {page.dtype} "
            "per pixel; expected one 8- or 16-bit index)"
        )
    if table is None or table.ndim != 2 or table.shape[0] != 3 or table.shape[1] < 2**bits:
        found = "none" if table is None else f"shape {table.shape}"
        raise ValueError(
            f"{path}: corrupt palette TIFF (its colour table is {found}; expected (3, {2**bits}))"
        )
    table = np.asarray(table[:, : 2**bits], np.uint16)
    if not (np.array_equal(table[0], table[1]) and np.array_equal(table[0], table[2])):
        raise ValueError(
            f"{path} is a palette-colour TIFF; convert it to gray, or to RGB and pass "
            "from_rgb=True (CLI --from-rgb)"
        )
    gray = table[0]
    if gray.max() <= 255:
        return gray.astype(np.uint8)
    high, low = gray >> 8, gray & 0xFF
    if np.all((low == 0) | (low == high)):
        return high.astype(np.uint8)
    return gray


def _display(page: Any, path: Path) -> dict[str, Any] | None:
    """How :class:`DisplayArray` shows the page's pixels; None when stored values show as is."""
    import tifffile

    photometric = page.photometric
    if photometric == tifffile.PHOTOMETRIC.PALETTE:
        return {"lut": _gray_table(page, path)}
    dtype = np.dtype(page.dtype)
    bits = int(page.bitspersample)
    white = photometric == tifffile.PHOTOMETRIC.MINISWHITE
    gray = white or photometric == tifffile.PHOTOMETRIC.MINISBLACK
    if gray and dtype == np.uint8 and 1 < bits < 8 and int(page.samplesperpixel) == 1:
        # 2-7 bit gray (read into uint8): value v of 2**bits - 1 shows as that share of white
        levels = np.rint(np.arange(2**bits) * 255 / (2**bits - 1)).astype(np.uint8)
        return {"lut": levels[::-1].copy() if white else levels}
    if not white or int(page.samplesperpixel) != 1:
        return None  # gray with extra samples is refused later, like MINISBLACK's
    if dtype.kind == "b":
        return None  # bilevel: refused later as a mask, whichever value shows white
    if dtype.kind == "f":
        raise ValueError(
            f"{path} is a float MINISWHITE TIFF (0 shows white; floats have no defined black "
            "level); invert it and save it as MINISBLACK"
        )
    if dtype.kind == "i":
        return {"invert": -1}  # the sum of the range's ends, whatever the bits per sample
    bits = min(bits, dtype.itemsize * 8)
    return {"invert": 2**bits - 1}


def read_tiff(path: Path, *, raw: bool = False) -> Any:
    """Open series 0, level 0 of a TIFF lazily.

    Parameters
    ----------
    path : Path
        A TIFF-like file (TIFF, OME-TIFF, SVS, NDPI...).
    raw : bool
        Give the stored values (e.g. of a mask or label image), even where the file displays
        them otherwise (MINISWHITE, palette).

    Returns
    -------
    numpy.memmap, zarr.Array or DisplayArray
        A memory map for uncompressed contiguous data, else a zarr array over tifffile's store;
        wrapped in a :class:`DisplayArray` (unless ``raw``) when the file displays MINISWHITE
        or gray palette values.

    Raises
    ------
    ValueError
        One line: not a TIFF, corrupt (a damaged page chain, mismatched metadata), or
        truncated; (unless ``raw``) a palette-colour or float MINISWHITE TIFF.

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
                series = tif.series[0] if tif.series else None
                damage = _damage(messages)
                if damage:
                    raise ValueError(f"corrupt TIFF: {damage}")
                if series is None:
                    raise ValueError("no image series (a corrupt TIFF?)")
                _check_extent(series, tif.filehandle.size)
                display = None if raw else _display(series.keyframe, path)
                stored: Any = None
                packed = int(series.keyframe.bitspersample) not in (8, 16, 32, 64)  # e.g. 4-bit
                if (series.is_pyramidal or len(series.levels) > 1 or series.dataoffset is None
                        or packed):  # a memory map would show the packed bytes
                    stored = zarr.open(series.aszarr(level=0), mode="r")
            if stored is None:
                stored = tifffile.memmap(path, mode="r", series=0, level=0)
            return stored if display is None else DisplayArray(stored, str(path), **display)
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
    """Find a channel axis with more than one channel in series 0.

    Interleaved RGB samples (the last axis) do not count: they are refused as RGB later;
    planar samples do count.

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
        series = tif.series[0]
        axes, shape = series.axes, series.shape
    last = len(axes) - 1
    for i, a in enumerate(axes):
        if (a == "C" or (a == "S" and i < last)) and shape[i] > 1:
            return i, int(shape[i]), axes
    return None
