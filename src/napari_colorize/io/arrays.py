"""Small lazy array-likes the engine reads like any array (``shape``, ``dtype``, slicing).

:class:`FileArray` names its file in one-line errors when a chunk cannot be decoded.
:class:`LightnessArray` presents an RGB(A) image as the uint8 gray of the same CIE lightness,
converting only the region asked for, so tiling, blocks and resume stay lazy and exact.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .alpha import over_white


def one_line(exc: BaseException) -> str:
    """Describe an exception as ``"Type: message"`` on one line.

    Examples
    --------
    >>> one_line(OSError("disk   full "))
    'OSError: disk full'
    """
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def full_index(index: Any, ndim: int) -> tuple:
    """Spell ``index`` as a tuple of ``ndim`` entries (``...`` expanded, missing axes filled).

    Parameters
    ----------
    index : object
        A numpy basic index: an int, a slice, ``...`` or a tuple of them.
    ndim : int
        The array's number of dimensions.

    Returns
    -------
    tuple

    Examples
    --------
    >>> full_index((..., 0), 3)
    (slice(None, None, None), slice(None, None, None), 0)
    >>> full_index(2, 2)
    (2, slice(None, None, None))
    """
    if not isinstance(index, tuple):
        index = (index,)
    if any(i is Ellipsis for i in index):
        at = next(n for n, i in enumerate(index) if i is Ellipsis)
        fill = (slice(None),) * (ndim - len(index) + 1)
        index = index[:at] + fill + index[at + 1:]
    return index + (slice(None),) * (ndim - len(index))


class LazyArray:
    """What the engine needs of an array read on demand.

    That is ``shape``, ``dtype``, ``ndim``, ``len`` and ``np.asarray``: subclasses set
    ``shape`` and ``dtype`` and define ``__getitem__``.
    """

    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    def __len__(self) -> int:
        """Length of the first axis."""
        return self.shape[0]

    def __getitem__(self, index: Any) -> np.ndarray:
        """Read the region ``index`` selects."""
        raise NotImplementedError

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """Read everything (``np.asarray``)."""
        data = self[...]
        return data if dtype is None else data.astype(dtype, copy=False)


class FileArray(LazyArray):
    """A lazily read array from ``filename``; read errors become one-line ``ValueError``.

    Parameters
    ----------
    source : array-like
        What reads the pixels (a zarr array, a tifffile store view).
    filename : str
        The file, named in errors.
    reopen : callable, optional
        ``reopen(filename)`` opens the file again: pickles (to dask workers) as the file name
        instead of the pixels.

    Examples
    --------
    >>> arr = FileArray(np.arange(6).reshape(2, 3), "demo.tif")
    >>> arr.shape, arr[1, 1:].tolist()
    ((2, 3), [4, 5])
    """

    #: ``source`` is the array read (see :func:`napari_colorize.core.input_store.base_array`).
    wraps_source = True

    def __init__(self, source: Any, filename: str, reopen: Any = None) -> None:
        self.source = source
        self.filename = filename
        self.reopen = reopen  # ``reopen(filename)`` opens the file again (pickling)
        self.shape = tuple(int(s) for s in source.shape)
        self.dtype = np.dtype(source.dtype)
        chunks = getattr(source, "chunks", None)
        if isinstance(chunks, tuple) and len(chunks) == len(self.shape):
            self.chunks = tuple(int(c) for c in chunks)  # samplers read whole chunks

    def __getitem__(self, index: Any) -> np.ndarray:
        """Read a region; a damaged chunk gives one line naming the file."""
        try:
            return np.asarray(self.source[index])
        except MemoryError:
            raise
        except Exception as exc:  # decoders raise many types for damaged data
            raise ValueError(f"cannot read {self.filename}: {one_line(exc)}") from None

    def __repr__(self) -> str:
        """Name the file, shape and dtype."""
        return f"FileArray({self.filename!r}, shape={self.shape}, dtype={self.dtype})"

    def __reduce__(self) -> tuple:
        """Pickle as the file name when the reader says how to reopen it (dask workers)."""
        if self.reopen is not None:
            return self.reopen, (self.filename,)
        return FileArray, (self.source, self.filename)


class OneSampleArray(LazyArray):
    """An ``(..., H, W, 1)`` array read as ``(..., H, W)``: one sample per pixel is gray.

    Reads only the regions asked for, so a large zarr or TIFF stays lazy.

    Examples
    --------
    >>> arr = OneSampleArray(np.arange(6).reshape(2, 3, 1))
    >>> arr.shape, arr[1, 1:].tolist()
    ((2, 3), [4, 5])
    """

    wraps_source = True

    def __init__(self, source: Any) -> None:
        self.source = source
        self.shape = tuple(int(s) for s in source.shape[:-1])
        self.dtype = np.dtype(source.dtype)
        chunks = getattr(source, "chunks", None)
        if isinstance(chunks, tuple) and len(chunks) == len(self.shape) + 1:
            self.chunks = tuple(int(c) for c in chunks[:-1])

    def __getitem__(self, index: Any) -> np.ndarray:
        """Read a region of the planes."""
        return np.asarray(self.source[(*full_index(index, len(self.shape)), 0)])


def _lightness_levels() -> np.ndarray:
    """Boundaries between the CIE lightness of consecutive uint8 grays (255 values)."""
    from ..core.color import uint8_lightness_table

    table = uint8_lightness_table().astype(np.float64)
    return (table[1:] + table[:-1]) / 2


class LightnessArray(LazyArray):
    """An RGB(A) image (last axis 3 or 4) seen as uint8 gray with the same CIE lightness L*.

    Each value is the uint8 sRGB gray whose lightness is nearest the colour's (within 0.25 L*),
    so the engine's identity window for uint8 keeps the colour's lightness. Integer colours are
    scaled by :func:`~.bit_depth.integer_scale` (a declared bit depth, else by the maximum of
    a strided sample: 8-bit up to 255, uint16 10/12/14-bit up to 1023/4095/16383, else the full
    range); float colours are taken as 0-1 (or 0-255 when a sample of the image exceeds
    :data:`~.bit_depth.FLOAT_UNIT_MAX`, 1.5; overshoot above 1 is clipped). Colours with alpha
    are composited over white, so transparent pixels read as glass.

    Parameters
    ----------
    rgb : array-like
        ``(..., 3)`` or ``(..., 4)`` colours: unsigned integers or floats.
    label : str
        How errors name the image.
    path : str, optional
        The file it was read from.
    reopen : callable, optional
        ``reopen(path)`` opens the file's lightness again: pickles as the file name.
    bits : int, optional
        Significant bits per integer sample, when the file declares them.
    alpha : {"straight", "premultiplied", "none"}
        What a fourth sample is (see :class:`~.colour_layout.ColourLayout`).

    Raises
    ------
    ValueError
        If the last axis is not 3 or 4, or the colours are signed integers.

    Examples
    --------
    >>> LightnessArray(np.zeros((4, 5, 3), np.uint8)).shape
    (4, 5)
    """

    wraps_source = True

    def __init__(self, rgb: Any, label: str = "image", path: str | None = None,
                 reopen: Any = None, bits: int | None = None, alpha: str = "straight") -> None:
        from .bit_depth import unit_scale

        shape = tuple(int(s) for s in rgb.shape)
        dtype = np.dtype(rgb.dtype)
        if len(shape) < 3 or shape[-1] not in (3, 4):
            raise ValueError(
                f"from_rgb needs an RGB(A) {label} (last axis 3 or 4); got shape {shape}"
            )
        if dtype.kind not in "uf":
            raise ValueError(
                f"from_rgb needs unsigned integer or float colours; {label} is {dtype}"
            )
        scale = unit_scale(dtype, 255.0 if dtype == np.uint8 else _sample_max(rgb), bits)
        self.source = rgb
        self.label = label
        self.scale = scale
        self.bits = bits
        self.alpha = alpha
        self.shape = shape[:-1]
        self.dtype = np.dtype(np.uint8)
        chunks = getattr(rgb, "chunks", None)
        if isinstance(chunks, tuple) and len(chunks) == len(shape):
            self.chunks = tuple(int(c) for c in chunks[:-1])
        self.path = path
        self.reopen = reopen  # ``reopen(path)`` opens the file's lightness again (pickling)
        filename = path or getattr(rgb, "filename", None)
        if isinstance(filename, str):
            self.filename = filename  # where the pixels come from, for output checks

    def __getitem__(self, index: Any) -> np.ndarray:
        """Read the region's colours and convert them to lightness gray."""
        import torch

        from ..core.color import rgb_to_lab
        from ..core.validation import check_finite

        index = full_index(index, self.ndim)
        rgb = np.asarray(self.source[(*index, slice(None))])
        if rgb.dtype.kind == "f":
            check_finite(rgb, self.label)
        v = np.clip(np.asarray(rgb, np.float32) / self.scale, 0, 1)
        if v.shape[-1] == 4 and self.alpha != "none":  # over white: a transparent region is glass
            v = over_white(v[..., :3], v[..., 3:], 1.0, self.alpha)
        v = v[..., :3]
        v = torch.from_numpy(np.ascontiguousarray(v))
        lightness = rgb_to_lab(torch.movedim(v, -1, 0))[0].numpy()
        gray: np.ndarray = np.searchsorted(_lightness_levels(), lightness).astype(np.uint8)
        return gray

    def __repr__(self) -> str:
        """Name the image and its shape."""
        return f"LightnessArray({self.label}, shape={self.shape})"

    def __reduce__(self) -> tuple:
        """Pickle as the file name when there is one, else as the colours."""
        if self.path is not None and self.reopen is not None:
            return self.reopen, (self.path,)  # dask workers re-open the file
        return LightnessArray, (self.source, self.label, None, None, self.bits, self.alpha)


def _sample_max(rgb: Any, pixels: int = 1_000_000) -> float:
    """Largest finite value in a strided sample of a colour image (about ``pixels`` pixels)."""
    shape = rgb.shape
    plane = max(1, shape[-2] * shape[-3])
    step = max(1, int(math.sqrt(plane / pixels)))
    lead = (0,) * (len(shape) - 3)
    sample = np.asarray(rgb[(*lead, slice(None, None, step), slice(None, None, step))])
    finite = sample[np.isfinite(sample)]
    return float(finite.max()) if finite.size else 0.0
