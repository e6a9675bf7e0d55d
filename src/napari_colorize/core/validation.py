"""Checks on user input; each failure is one line that names the problem and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .input_store import check_store, zarr_name


def check_image(image: Any) -> None:
    """Check that ``image`` is a non-empty, real-valued grayscale array of at least 2-D.

    Only the shape and dtype are looked at; no pixel is read.

    Parameters
    ----------
    image : array-like
        Anything with ``shape`` and ``dtype`` (numpy, dask, zarr, the package's readers).

    Raises
    ------
    ValueError
        The image is 1-D, empty, boolean, complex, not numeric, or looks like gray+alpha, RGB
        or RGBA (last axis 2, 3 or 4); the message says what to pass instead.

    Examples
    --------
    >>> check_image(np.zeros((4, 5), np.uint16))
    >>> check_image(np.zeros((4, 5), bool))
    Traceback (most recent call last):
    ...
    ValueError: image is boolean (a mask?); colorize a grayscale image, or convert with ...
    """
    shape = tuple(int(s) for s in image.shape)
    dtype = np.dtype(image.dtype)
    if len(shape) < 2:
        raise ValueError(
            f"image must have at least 2 dimensions (rows, columns); got shape {shape}"
        )
    if 0 in shape:
        raise ValueError(f"image is empty (shape {shape})")
    if dtype == np.bool_:
        raise ValueError(
            "image is boolean (a mask?); colorize a grayscale image, or convert with "
            "image.astype(np.uint8) * 255"
        )
    if dtype.kind == "c":
        raise ValueError(f"image is complex ({dtype}); pass a real image such as np.abs(image)")
    if dtype.kind not in "uif":
        raise ValueError(f"image dtype {dtype} is not numeric; expected integer or float pixels")
    if len(shape) >= 3 and shape[-1] == 2:
        raise ValueError(
            f"image looks gray+alpha (shape {shape}, last axis 2); pass the gray channel, "
            "e.g. image[..., 0]"
        )
    if len(shape) >= 3 and shape[-1] in (3, 4):
        kind = "RGB" if shape[-1] == 3 else "RGBA"
        raise ValueError(
            f"image looks {kind} (shape {shape}, last axis {shape[-1]}); napari-colorize expects "
            "grayscale: pass from_rgb=True (CLI --from-rgb) to colorize its lightness, or pick "
            "one channel"
        )


def check_input(image: Any, source: Any = None) -> None:
    """Check an opened input with :func:`check_image` and :func:`check_store`.

    Parameters
    ----------
    image : array-like
        The opened input.
    source : path or array-like, optional
        What the caller passed: a path names the file in the message.

    Raises
    ------
    ValueError
        As :func:`check_image` (prefixed with the file or the zarr array's name) and
        :func:`check_store`.

    Examples
    --------
    >>> check_input(np.zeros((2, 8, 8), np.float32))
    >>> check_input(np.zeros((0, 8)))
    Traceback (most recent call last):
    ...
    ValueError: image is empty (shape (0, 8))
    """
    try:
        check_image(image)
    except ValueError as exc:
        name = str(source) if isinstance(source, (str, Path)) else (
            getattr(image, "filename", None) or zarr_name(image))
        raise ValueError(f"{name}: {exc}" if name else str(exc)) from None
    check_store(image)


def check_finite(plane: np.ndarray, where: str = "image") -> None:
    """Check that a float ``plane`` holds no NaN or infinite values.

    Parameters
    ----------
    plane : numpy.ndarray
        Pixels read from the image; integer planes pass without a look.
    where : str
        How the message names the plane.

    Raises
    ------
    ValueError
        The plane holds NaN or infinite values (the message counts them).

    Examples
    --------
    >>> check_finite(np.array([0.0, 1.0]))
    >>> check_finite(np.array([0.0, np.nan, np.inf]), "image plane (3,)")
    Traceback (most recent call last):
    ...
    ValueError: image plane (3,) contains 2 NaN or infinite values; replace them first, ...
    """
    if plane.dtype.kind == "f" and not np.isfinite(plane).all():
        bad = int(np.count_nonzero(~np.isfinite(plane)))
        raise ValueError(
            f"{where} contains {bad} NaN or infinite values; replace them first, e.g. "
            "np.nan_to_num(image)"
        )


#: Largest tile side, and most pixels in one model call (batch_size x tile area): a typo such
#: as tile_size=10**9 is refused before anything is allocated.
MAX_TILE_SIZE = 8192
MAX_BATCH_PIXELS = 1 << 28


def check_tiling(
    tile_size: int, overlap: int, batch_size: Any, min_tile: int, divisor: int
) -> None:
    """Check tile settings against a model's minimum tile and divisor.

    Parameters
    ----------
    tile_size, overlap : int
        Tile side and overlap in pixels.
    batch_size : int
        Tiles per model call; anything but an integer (such as ``"auto"``, which must be
        resolved first) is refused.
    min_tile, divisor : int
        The model's smallest tile and the number its tile sides must be a multiple of.

    Raises
    ------
    ValueError
        A value that is not an integer, a tile below the minimum, above ``MAX_TILE_SIZE`` or
        not a multiple of the divisor, an overlap outside ``[0, tile_size/2)``, a batch below 1
        or more than ``MAX_BATCH_PIXELS`` pixels per model call.

    Examples
    --------
    >>> check_tiling(512, 64, 4, min_tile=64, divisor=32)
    >>> check_tiling(512, 256, 4, min_tile=64, divisor=32)
    Traceback (most recent call last):
    ...
    ValueError: overlap 256 must be < tile_size/2 = 256
    >>> check_tiling(500, 64, 4, min_tile=64, divisor=32)
    Traceback (most recent call last):
    ...
    ValueError: tile_size 500 must be a multiple of 32 for this model
    """
    for name, value, unit in (("tile_size", tile_size, "pixels"), ("overlap", overlap, "pixels"),
                              ("batch_size", batch_size, "tiles")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer number of {unit}; got {value!r}")
    if tile_size < min_tile:
        raise ValueError(f"tile_size {tile_size} is below the model's minimum of {min_tile}")
    if tile_size > MAX_TILE_SIZE:
        raise ValueError(f"tile_size {tile_size} exceeds the maximum of {MAX_TILE_SIZE} pixels")
    if tile_size % divisor:
        raise ValueError(f"tile_size {tile_size} must be a multiple of {divisor} for this model")
    if overlap < 0:
        raise ValueError(f"overlap {overlap} must be >= 0")
    if overlap >= tile_size / 2:
        raise ValueError(f"overlap {overlap} must be < tile_size/2 = {tile_size // 2}")
    if batch_size < 1:
        raise ValueError(f"batch_size {batch_size} must be >= 1")
    if int(batch_size) * int(tile_size) ** 2 > MAX_BATCH_PIXELS:
        raise ValueError(
            f"batch_size {batch_size} x tile_size {tile_size}^2 is more than {MAX_BATCH_PIXELS} "
            f"pixels per model call; use batch_size <= {MAX_BATCH_PIXELS // int(tile_size) ** 2}"
        )


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def check_contrast_limits(limits: Any) -> tuple[float, float]:
    """Check an intensity window: two finite, increasing numbers.

    Parameters
    ----------
    limits : sequence of two numbers
        ``(low, high)``: a tuple, list or array.

    Returns
    -------
    tuple of float
        ``(low, high)``.

    Raises
    ------
    TypeError
        ``limits`` is not two real numbers (a string, a dict, three values, a bool...).
    ValueError
        The numbers are not finite, or do not increase.

    Examples
    --------
    >>> check_contrast_limits(np.array([10, 200]))
    (10.0, 200.0)
    >>> check_contrast_limits((5, 5))
    Traceback (most recent call last):
    ...
    ValueError: contrast_limits (5.0, 5.0) must increase (low < high)
    """
    if isinstance(limits, (str, bytes, dict, set)) or not hasattr(limits, "__len__"):
        raise TypeError(
            f"contrast_limits must be two numbers (low, high); got {type(limits).__name__} "
            f"{short_repr(limits)}"
        )
    values = list(np.asarray(limits, dtype=object).ravel()) if hasattr(limits, "shape") else list(
        limits
    )
    if len(values) != 2 or not all(_is_real(v) for v in values):
        raise TypeError(
            f"contrast_limits must be two numbers (low, high); got {short_repr(limits)}"
        )
    low, high = float(values[0]), float(values[1])
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"contrast_limits ({low}, {high}) must be finite numbers")
    if high <= low:
        raise ValueError(
            f"contrast_limits ({low}, {high}) must increase (low < high)"
        )
    return low, high


class SettingTypeError(TypeError, ValueError):
    """A setting of the wrong type (``tile_size="512"``).

    A :class:`TypeError`, as Python's own; also a :class:`ValueError`, which such settings
    raised before, so either ``except`` still catches it.
    """


def check_flag(name: str, value: Any) -> None:
    """Refuse a yes/no setting that is not a bool (``"no"`` and ``1`` are truthy look-alikes).

    Examples
    --------
    >>> check_flag("overwrite", "no")
    Traceback (most recent call last):
    ...
    TypeError: overwrite must be True or False; got 'no'
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {short_repr(value)}")


def short_repr(value: Any, limit: int = 60) -> str:
    """Shorten ``repr(value)`` to one line of at most ``limit`` characters (for messages).

    Parameters
    ----------
    value : object
        Anything.
    limit : int
        Longest result, in characters.

    Returns
    -------
    str
        The repr with runs of whitespace made one space, cut with ``...``.

    Examples
    --------
    >>> short_repr("auto")
    "'auto'"
    >>> short_repr(list(range(100)), limit=20)
    '[0, 1, 2, 3, 4, 5...'
    """
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
