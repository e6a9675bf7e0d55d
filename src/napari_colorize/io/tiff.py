"""TIFF, OME-TIFF, SVS and other tifffile formats: series 0, level 0, opened lazily.

Uncompressed contiguous data is memory-mapped; compressed, tiled or pyramidal data is read
through tifffile's zarr store, one chunk at a time. Damaged files are refused at open with one
line: tifffile's logged warnings about a broken page chain or mismatched metadata (which would
silently drop planes) become the error, and data past the end of the file is reported as
truncation before any pixel is decoded.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def read_tiff(path: Path) -> Any:
    """Open series 0, level 0 of a TIFF lazily.

    Parameters
    ----------
    path : Path
        A TIFF-like file (TIFF, OME-TIFF, SVS, NDPI...).

    Returns
    -------
    numpy.memmap or zarr.Array
        A memory map for uncompressed contiguous data, else a zarr array over tifffile's store.

    Raises
    ------
    ValueError
        One line: not a TIFF, corrupt (a damaged page chain, mismatched metadata), or
        truncated.

    Examples
    --------
    >>> import tempfile, tifffile, numpy as np
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     tifffile.imwrite(Path(tmp) / "z.tif", np.zeros((64, 64), np.uint8), tile=(32, 32),
    ...                      compression="zlib")
    ...     type(read_tiff(Path(tmp) / "z.tif")).__name__
    'Array'
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
                if series.is_pyramidal or len(series.levels) > 1 or series.dataoffset is None:
                    return zarr.open(series.aszarr(level=0), mode="r")
            return tifffile.memmap(path, mode="r", series=0, level=0)
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
