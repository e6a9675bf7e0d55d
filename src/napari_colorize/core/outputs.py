"""Check a run's outputs before any work: where they go, whether they fit, what they came from.

* :func:`check_targets`: output paths distinct from the input and each other, ``out=`` arrays
  writable and of the right shape and dtype, in-memory results that fit in memory.
* :func:`input_fingerprint`: a bounded-cost digest of the input recorded in a resumable result,
  so a resume with another image of the same shape is refused.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

#: Fingerprint windows: a GRID x GRID grid of this many pixels a side, on up to FINGERPRINT_PLANES
#: planes spread over the stack.
FINGERPRINT_WINDOW = 64
FINGERPRINT_GRID = 6
FINGERPRINT_PLANES = 8


def check_out_array(out: Any, shape: tuple[int, ...]) -> None:
    """Check that ``out`` is a writable uint8 array shaped ``shape + (3,)``.

    Parameters
    ----------
    out : array-like
        The caller's output array (numpy, zarr, ...).
    shape : tuple of int
        The image's shape.

    Raises
    ------
    TypeError
        ``out`` is not an array.
    ValueError
        ``out`` has another shape or dtype, is a dask array, or is read-only.

    Examples
    --------
    >>> check_out_array(np.zeros((4, 5, 3), np.uint8), (4, 5))
    >>> check_out_array(np.zeros((4, 5), np.uint8), (4, 5))
    Traceback (most recent call last):
    ...
    ValueError: out has shape (4, 5); it must be image.shape + (3,) = (4, 5, 3)
    """
    expected = (*shape, 3)
    if not hasattr(out, "shape") or not hasattr(out, "dtype"):
        raise TypeError(
            f"out must be an OME-Zarr path or an array (numpy, zarr); got {type(out).__name__}"
        )
    if tuple(out.shape) != expected:
        raise ValueError(f"out has shape {tuple(out.shape)}; it must be image.shape + (3,) = "
                         f"{expected}")
    if np.dtype(out.dtype) != np.uint8:
        raise ValueError(f"out has dtype {np.dtype(out.dtype)}; it must be uint8")
    if hasattr(out, "dask"):
        raise ValueError("out is a dask array, which cannot be written into; pass a numpy or "
                         "zarr array, or an OME-Zarr path")
    if not _writable(out):
        raise ValueError(
            f"out ({type(out).__name__}) is read-only; pass a writable array (e.g. "
            "np.zeros(image.shape + (3,), np.uint8)) or an OME-Zarr path"
        )


def _writable(out: Any) -> bool:
    if isinstance(out, np.ndarray):  # a memmap opened with mode="r" too: writing would crash
        return bool(out.flags.writeable)
    if getattr(out, "read_only", False):  # zarr arrays opened with mode="r"
        return False
    store = getattr(out, "store", None)
    if getattr(store, "read_only", False):
        return False
    return hasattr(type(out), "__setitem__")


def result_bytes(shape: tuple[int, ...], *, rgb: bool, confidence: bool, n_maps: int) -> int:
    """Count the bytes of an in-memory result: uint8 RGB, float32 confidence and channel maps.

    Parameters
    ----------
    shape : tuple of int
        The image's shape.
    rgb, confidence : bool
        Whether the result holds the RGB image, and the confidence map.
    n_maps : int
        Number of channel maps held.

    Returns
    -------
    int
        Bytes.

    Examples
    --------
    >>> result_bytes((100, 200), rgb=True, confidence=True, n_maps=0)  # 3 + 4 bytes a pixel
    140000
    """
    per_pixel = 3 * int(rgb) + 4 * int(confidence) + 4 * n_maps
    return math.prod(int(s) for s in shape) * per_pixel


def check_memory(shape: tuple[int, ...], *, rgb: bool = True, confidence: bool = False,
                 n_maps: int = 0) -> None:
    """Check that an in-memory result fits in the available memory.

    Parameters
    ----------
    shape : tuple of int
        The image's shape.
    rgb, confidence : bool
        Whether the result holds the RGB image, and the confidence map.
    n_maps : int
        Number of channel maps held.

    Raises
    ------
    ValueError
        The result would need more than the available memory (the message suggests OME-Zarr).

    Examples
    --------
    >>> check_memory((512, 512), confidence=True)
    >>> check_memory((10**7, 10**7))
    Traceback (most recent call last):
    ...
    ValueError: the result (RGB of shape (10000000, 10000000)) needs 272.8 TB of memory but ...
    """
    need = result_bytes(shape, rgb=rgb, confidence=confidence, n_maps=n_maps)
    if not need:
        return
    import psutil

    free = psutil.virtual_memory().available
    if need > free:
        parts = ["RGB" if rgb else "", "confidence" if confidence else "",
                 f"{n_maps} channel maps" if n_maps else ""]
        what = " + ".join(p for p in parts if p)
        raise ValueError(
            f"the result ({what} of shape {tuple(int(s) for s in shape)}) needs "
            f"{_size(need)} of memory but {_size(free)} is available; write it to OME-Zarr "
            'instead (out="result.ome.zarr", or an .ome.zarr OUT on the command line)'
        )


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def check_targets(source: Any, image: Any, out: Any, *, confidence: bool, n_maps: int) -> None:
    """Check where a run's results go, before the model runs or anything is written.

    Parameters
    ----------
    source : path or array-like
        What the caller passed as the input.
    image : array-like
        The opened input.
    out : path, array-like or None
        An OME-Zarr path, an array to write into, or ``None`` (a result in memory).
    confidence : bool
        Whether a confidence map is computed (a store beside a path ``out``).
    n_maps : int
        Number of channel maps kept (a store beside a path ``out``), 0 for none.

    Raises
    ------
    ValueError
        A path that is not zarr or clashes with the input or another output, an array of the
        wrong shape or dtype or read-only, or a result that does not fit in memory.
    TypeError
        ``out`` is neither a path nor an array.

    Examples
    --------
    >>> gray = np.zeros((64, 64), np.uint8)
    >>> check_targets(gray, gray, None, confidence=True, n_maps=0)
    >>> check_targets(gray, gray, np.zeros((64, 64, 3), np.uint8), confidence=False, n_maps=0)
    >>> check_targets("in.tif", gray, "out.png", confidence=False, n_maps=0)
    Traceback (most recent call last):
    ...
    ValueError: out=out.png must be a .zarr/.ome.zarr path; write TIFF/PNG with the CLI
    """
    shape = tuple(int(s) for s in image.shape)
    if out is None:
        check_memory(shape, confidence=confidence, n_maps=n_maps)
        return
    if isinstance(out, (str, Path)):
        from ..io.paths import check_distinct, confidence_path, output_kind, source_path

        try:
            zarr_out = output_kind(out) == "zarr"
        except ValueError:  # not an output suffix at all: the same advice
            zarr_out = False
        if not zarr_out:
            raise ValueError(
                f"out={out} must be a .zarr/.ome.zarr path; write TIFF/PNG with the CLI"
            )
        outputs = [("output", out)]
        if confidence:
            outputs.append(("confidence output", confidence_path(out)))
        if n_maps:
            outputs.append(("channel maps output", confidence_path(out, "channels")))
        check_distinct([("input", source_path(source)), ("input", source_path(image))], outputs)
        return
    check_out_array(out, shape)
    if any(_overlap(given, out) for given in (source, image)):
        # later blocks would read input pixels that earlier blocks overwrote
        raise ValueError("out shares memory with the input; pass a separate array")
    check_memory(shape, rgb=False, confidence=confidence, n_maps=n_maps)


def _overlap(a: Any, b: Any) -> bool:
    """Tell whether two numpy arrays share memory (bounds first: the exact test is rarely run)."""
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
        return False
    return bool(np.may_share_memory(a, b) and np.shares_memory(a, b))


def input_fingerprint(image: Any) -> str:
    """Digest the input's shape, dtype and a fixed set of small windows (sha256).

    The windows are a grid of 64 px windows at the centres of a 6 x 6 partition of each plane,
    on up to 8 planes spread over the stack: cheap on any size, mostly inside the image rather
    than on its borders (where two slides' background looks alike), and the same for the same
    pixels whichever reader (numpy, memmap, zarr, dask) serves them.

    Parameters
    ----------
    image : array-like
        The opened input.

    Returns
    -------
    str
        The hex digest.

    Examples
    --------
    >>> image = np.arange(200 * 300, dtype=np.uint16).reshape(200, 300)
    >>> digest = input_fingerprint(image)
    >>> len(digest), digest == input_fingerprint(image.copy())
    (64, True)
    >>> digest == input_fingerprint(image[::-1])
    False
    """
    from .intensity import sample_planes

    shape = tuple(int(s) for s in image.shape)
    dtype = np.dtype(image.dtype).newbyteorder("<")
    digest = hashlib.sha256(json.dumps({"shape": shape, "dtype": dtype.str}).encode())
    h, w = shape[-2:]
    size = FINGERPRINT_WINDOW

    def starts(n: int) -> list[int]:
        # centred in each of GRID equal parts, aligned to the window size (fewer chunks read)
        last = max(0, n - size)
        picks = {int((i + 0.5) * n / FINGERPRINT_GRID) - size // 2 for i in range(FINGERPRINT_GRID)}
        return sorted({min(max(0, p) // size * size, last) for p in picks})

    for plane in sample_planes(image, FINGERPRINT_PLANES):
        for r in starts(h):
            for c in starts(w):
                window = np.asarray(image[(*plane, slice(r, r + size), slice(c, c + size))])
                digest.update(np.ascontiguousarray(window, dtype=dtype).tobytes())
    return digest.hexdigest()
