"""Whether a zarr input looks like an incomplete copy, in bounded work.

zarr does not store a chunk whose values all equal the array's fill value (zarr 3's default), so
an absent chunk is normally a region of fill value, not an error. A copy interrupted part-way
reads as fill value too, and would be colorized silently. :func:`missing_chunks` tells them apart
with a rule that costs a few key look-ups however large the declared shape:

1. Only stores that list their keys faithfully are inspected: a zarr ``LocalStore`` (a directory
   on disk). tifffile's ``ZarrTiffStore``, remote (fsspec), zip, memory and other stores are taken
   as complete.
2. If the last storage unit (chunk, or shard for sharded arrays) in C order exists, the store is
   complete: copies and writers go in C order, so an interrupted one lacks its end.
3. Otherwise up to :data:`SAMPLE` present units are read, preferring those just before the absent
   end. If any of them takes the fill value somewhere, the image does take the fill value, and
   whole units of it (not stored) are plausible: complete. If none does, an image that never
   takes the fill value where it was written cannot plausibly have whole units of it: the store
   is refused as incomplete (then, and only then, its chunk files are counted for the message).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

#: Present storage units read to look for the fill value.
SAMPLE = 8
#: Key look-ups walking back from the absent last unit before listing the folder.
PROBES = 64
#: Bytes read at most while sampling (one unit is always read).
SAMPLE_BYTES = 64 * 2**20


def array_folder(image: Any) -> Path | None:
    """Find the folder of a zarr array kept in a local directory store, else ``None``.

    Examples
    --------
    >>> array_folder([1, 2, 3]) is None
    True
    """
    try:
        from zarr.storage import LocalStore
    except ImportError:  # pragma: no cover - zarr is a dependency
        return None
    store = getattr(image, "store", None)
    if not isinstance(store, LocalStore):
        return None
    return Path(store.root) / getattr(image, "path", "")


def _unit(image: Any) -> tuple[int, ...]:
    """Shape of the array's storage unit: the shard if sharded, else the chunk."""
    shards = getattr(image, "shards", None)
    return tuple(int(s) for s in (shards or image.chunks))


def _key_format(image: Any) -> tuple[str, str]:
    """``(prefix, separator)`` of the array's chunk keys."""
    meta = image.metadata
    if meta.zarr_format == 2:
        return "", meta.dimension_separator or "."
    encoding = meta.chunk_key_encoding
    return ("c" + encoding.separator if encoding.name == "default" else ""), encoding.separator


def _listed_units(folder: Path, image: Any, grid: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    """Coordinates of the chunk files found under ``folder`` (lazily, in listing order)."""
    prefix, sep = _key_format(image)
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = Path(root).relative_to(folder).as_posix()
        for name in files:
            key = name if rel == "." else f"{rel}/{name}"
            if not key.startswith(prefix):
                continue
            parts = key[len(prefix):].split(sep)
            if len(parts) != len(grid) or not all(p.isdigit() for p in parts):
                continue
            coords = tuple(int(p) for p in parts)
            if all(c < g for c, g in zip(coords, grid, strict=True)):
                yield coords


def _near_end(
    folder: Path, image: Any, grid: tuple[int, ...], n: int
) -> list[tuple[int, ...]]:
    """Up to ``n`` present units: those just before the (absent) end in C order, then any listed."""
    encode = image.metadata.encode_chunk_key
    total = math.prod(grid)
    found: list[tuple[int, ...]] = []
    for flat in range(total - 2, max(-1, total - 2 - PROBES), -1):
        coords = tuple(int(c) for c in np.unravel_index(flat, grid))
        if (folder / encode(coords)).is_file():
            found.append(coords)
            if len(found) == n:
                return found
    for coords in _listed_units(folder, image, grid):
        if coords not in found:
            found.append(coords)
            if len(found) == n:
                break
    return found


def _takes_fill(image: Any, coords: tuple[int, ...], unit: tuple[int, ...]) -> bool:
    region = tuple(slice(c * u, (c + 1) * u) for c, u in zip(coords, unit, strict=True))
    data = np.asarray(image[region])
    fill = image.fill_value
    fill = 0 if fill is None else fill
    if data.dtype.kind == "f" and np.isnan(fill):
        return bool(np.isnan(data).any())
    return bool((data == fill).any())


def missing_chunks(image: Any) -> tuple[int, int] | None:
    """Count the storage units missing from a zarr ``image`` that looks like an incomplete copy.

    See the module docstring for the rule; it costs a few key look-ups and reads.

    Parameters
    ----------
    image : array-like
        Any array; only zarr arrays in a local directory store are inspected.

    Returns
    -------
    tuple of (int, int) or None
        ``(missing, total)``, or ``None`` when the store looks complete (or cannot be told).

    Examples
    --------
    >>> import tempfile, zarr
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     z = zarr.create_array(f"{tmp}/copy.zarr", shape=(20, 20), chunks=(10, 10),
    ...                           dtype="uint8")
    ...     z[:10, :10] = 1  # a copy that stopped after its first chunk
    ...     print(missing_chunks(z))
    ...     z[10:, 10:] = 1  # the end is there: zeros elsewhere are the fill value
    ...     print(missing_chunks(z))
    (3, 4)
    None
    """
    folder = array_folder(image)
    if folder is None or not hasattr(image, "metadata"):
        return None
    unit = _unit(image)
    grid = tuple(math.ceil(s / u) for s, u in zip(image.shape, unit, strict=True))
    total = math.prod(grid)
    if total == 0:
        return None
    last = tuple(g - 1 for g in grid)
    if (folder / image.metadata.encode_chunk_key(last)).is_file():
        return None
    unit_bytes = math.prod(unit) * np.dtype(image.dtype).itemsize
    n = max(1, min(SAMPLE, SAMPLE_BYTES // max(unit_bytes, 1)))
    if any(_takes_fill(image, coords, unit) for coords in _near_end(folder, image, grid, n)):
        return None
    present = sum(1 for _ in _listed_units(folder, image, grid))
    return total - present, total
