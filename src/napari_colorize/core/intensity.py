"""Map raw pixel values to CIE lightness with one window for the whole stack, never per tile.

uint8 is taken as sRGB gray (value v is gray v/255). Other dtypes get a percentile window computed
once from a sample of the whole stack, or the user's ``contrast_limits``. The sample's cost is
bounded whatever the image's size: planes up to 4 MP are read whole, larger ones through a fixed
number of chunk-aligned windows spread over the plane (a strided read of a chunked store would
touch every chunk). Every sampled plane is sampled the same way and the percentiles are those of
the empirical distribution, so a plane gets the same window alone, in a stack of copies, and
(up to 4 MP) however its store is chunked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .color import gray_to_lightness, uint8_lightness_table
from .validation import check_contrast_limits, check_finite

PERCENTILES = (0.5, 99.5)
SAMPLE_PLANES = 8
#: Windows read from each large sampled plane, and their largest side (pixels).
SAMPLE_WINDOWS = 16
SAMPLE_WINDOW_SIDE = 512
#: Planes of at most this many pixels are read whole: windows would read about as much.
WHOLE_PLANE = SAMPLE_WINDOWS * SAMPLE_WINDOW_SIDE**2
#: Windows whose bounds and width float32 holds exactly enough for the fast float32 mapping.
_F32_SAFE = 1e37
_F32_TINY = 1e-30
#: The float32 mapping errs by at most 1/4096 of the window (2**-24 relative) while the values'
#: magnitude stays within this many window widths.
_F32_REACH = 4096.0


@dataclass(frozen=True)
class IntensityWindow:
    """An intensity window: raw values ``low``..``high`` map to sRGB gray 0..1 (clipped).

    Parameters
    ----------
    low, high : float
        The raw values mapped to black and to white.

    Raises
    ------
    ValueError
        The bounds are not finite or do not increase.

    Examples
    --------
    >>> window = IntensityWindow(0, 4095)
    >>> window.float32_safe, window.is_uint8_identity(np.dtype(np.uint16))
    (True, False)
    >>> IntensityWindow(10, 10)
    Traceback (most recent call last):
    ...
    ValueError: contrast_limits (10.0, 10.0) must increase (low < high)
    """

    low: float
    high: float

    def __post_init__(self) -> None:
        """Check the bounds."""
        check_contrast_limits((self.low, self.high))

    def is_uint8_identity(self, dtype: np.dtype) -> bool:
        """Tell whether pixels of ``dtype`` take the plain uint8 mapping (a table look-up).

        Parameters
        ----------
        dtype : numpy.dtype
            The dtype of the pixels.

        Returns
        -------
        bool
            True for uint8 pixels and the window 0..255.
        """
        return dtype == np.uint8 and self.low == 0 and self.high == 255

    @property
    def float32_safe(self) -> bool:
        """Whether mapping in float32 is exact enough: no overflow, no lost gray levels.

        Casting a value to float32 moves it by up to ``|value| * 2**-24``; far from zero (an
        offset of 1e9 on a window 255 wide) that is several gray levels, so such windows
        map in float64.
        """
        reach = max(abs(self.low), abs(self.high))
        if reach >= _F32_SAFE:
            return False
        width = float(self.high - self.low)
        if not (_F32_TINY < width and np.float32(self.high) > np.float32(self.low)):
            return False
        return reach <= _F32_REACH * width


def sample_planes(image: Any, n: int = SAMPLE_PLANES) -> list[tuple[int, ...]]:
    """Pick up to ``n`` planes spread evenly over a stack.

    Parameters
    ----------
    image : array-like
        The stack; planes are its last two axes.
    n : int
        Most planes picked.

    Returns
    -------
    list of tuple of int
        Indices into the leading axes (``[()]`` for a 2-D image), first and last plane
        included.

    Examples
    --------
    >>> sample_planes(np.zeros((3, 5, 8, 8)), 4)
    [(0, 0), (1, 0), (1, 4), (2, 4)]
    >>> sample_planes(np.zeros((8, 8)))
    [()]
    """
    leading = tuple(image.shape[:-2])
    total = math.prod(leading)
    m = min(n, total)  # a stack of fewer than n planes: every plane
    picks = sorted({round(i * (total - 1) / max(m - 1, 1)) for i in range(m)})
    return [tuple(int(v) for v in np.unravel_index(p, leading)) if leading else () for p in picks]


def _chunk_plane(image: Any) -> tuple[int, int] | None:
    """Return the chunk shape of the image's last two axes (zarr, dask, h5py), if it has one."""
    for attr in ("chunksize", "chunks"):
        chunks = getattr(image, attr, None)
        if isinstance(chunks, tuple) and len(chunks) == len(image.shape):
            last = chunks[-2:]
            if all(isinstance(c, (int, np.integer)) and c > 0 for c in last):
                return (int(last[0]), int(last[1]))
    return None


def sample_windows(
    shape: tuple[int, int], chunks: tuple[int, int] | None, n: int = SAMPLE_WINDOWS
) -> list[tuple[slice, slice]]:
    """Place up to ``n`` sample windows on an even grid over a plane of ``shape``.

    Windows are at most :data:`SAMPLE_WINDOW_SIDE` a side: a fixed amount to read. Along an
    axis whose chunks (``chunks``) are at least that long a window stays inside one chunk;
    along a thinner one (the one-row strips of a compressed strip TIFF) it spans as many whole
    chunks as fit, so the sample is not a few rows.

    Parameters
    ----------
    shape : tuple of int
        Rows and columns of the plane.
    chunks : tuple of int or None
        The chunk shape of the plane's axes, if the array has one.
    n : int
        Most windows; a square grid of ``isqrt(n)`` a side is used.

    Returns
    -------
    list of tuple of slice
        ``(rows, cols)`` windows, row-major.

    Examples
    --------
    >>> windows = sample_windows((2048, 1024), None, n=4)
    >>> [(w[0].start, w[1].start) for w in windows], windows[0][0].stop
    ([(0, 0), (0, 512), (1536, 0), (1536, 512)], 512)
    """
    grid = max(1, math.isqrt(n))
    windows = []
    per_axis = []
    for length, chunk in zip(shape, chunks or (SAMPLE_WINDOW_SIDE,) * 2, strict=True):
        span = max(1, SAMPLE_WINDOW_SIDE // chunk) * chunk  # whole chunks, or one chunk's part
        side = min(span, SAMPLE_WINDOW_SIDE, length)
        spots = sorted({round(i * (length - side) / max(grid - 1, 1)) for i in range(grid)})
        # start on the chunk boundary at or before the spot; windows that would overlap the
        # one before are left out (a pixel counted twice would skew the percentiles)
        starts: list[int] = []
        for spot in spots:
            start = min((spot // chunk) * chunk, length - side)
            if not starts or start >= starts[-1] + side:
                starts.append(start)
        per_axis.append([(start, side) for start in starts])
    for r0, h in per_axis[0]:
        for c0, w in per_axis[1]:
            windows.append((slice(r0, r0 + h), slice(c0, c0 + w)))
    return windows


def compute_window(
    image: Any, contrast_limits: tuple[float, float] | None = None
) -> IntensityWindow:
    """Compute the intensity window of a whole stack, once, from a bounded sample.

    Parameters
    ----------
    image : array-like
        The stack; planes are its last two axes.
    contrast_limits : (float, float), optional
        The user's window; used as given (after checking).

    Returns
    -------
    IntensityWindow
        ``contrast_limits``; else 0..255 for uint8; else the 0.5 and 99.5 percentiles (values
        of the sample, not interpolated) of a sample of up to 8 planes.

    Raises
    ------
    ValueError
        Bad ``contrast_limits``, or NaN or infinite values in the sample.

    Examples
    --------
    >>> compute_window(np.zeros((4, 4), np.uint8))
    IntensityWindow(low=0.0, high=255.0)
    >>> compute_window(np.arange(1000, dtype=np.uint16).reshape(10, 100))
    IntensityWindow(low=4.0, high=994.0)
    """
    if contrast_limits is not None:
        low, high = check_contrast_limits(contrast_limits)
        return IntensityWindow(low, high)
    if np.dtype(image.dtype) == np.uint8:
        return IntensityWindow(0.0, 255.0)
    values = []
    h, w = (int(s) for s in image.shape[-2:])
    if h * w <= WHOLE_PLANE:
        windows = [(slice(None), slice(None))]
    else:
        windows = sample_windows((h, w), _chunk_plane(image))
    # every sampled plane is read the same way, whatever the stack's depth
    for idx in sample_planes(image):
        for window in windows:
            part = image[(*idx, *window)]
            if isinstance(part, np.ma.MaskedArray):  # masked pixels do not set the window
                part = part.compressed()
            part = np.asarray(part)
            check_finite(part, f"image plane {idx}" if idx else "image")
            values.append(part.ravel())
    sample = np.concatenate(values)
    if not sample.size:
        raise ValueError("image: every sampled pixel is masked; nothing to set the intensity "
                         "window from (pass contrast_limits)")
    return window_of_sample(sample)


def window_of_sample(sample: np.ndarray) -> IntensityWindow:
    """Find the percentile window of a float64 ``sample``.

    Parameters
    ----------
    sample : numpy.ndarray
        Pixel values of any real dtype (finite).

    Returns
    -------
    IntensityWindow
        The ``PERCENTILES`` of the sample; for a constant sample, a window holding its value.

    Examples
    --------
    >>> window_of_sample(np.linspace(0, 1000, 1001))
    IntensityWindow(low=5.0, high=995.0)
    >>> window_of_sample(np.tile(np.linspace(0, 1000, 1001), 3))  # copies: the same window
    IntensityWindow(low=5.0, high=995.0)
    >>> window_of_sample(np.full(10, 7.0))
    IntensityWindow(low=6.5, high=7.5)
    """
    # values of the sample itself (no interpolation): copies of a sample leave them unchanged
    low, high = (float(v) for v in np.percentile(sample, PERCENTILES, method="inverted_cdf"))
    if high <= low:  # a constant image: any window that keeps its value inside works
        v_min, v_max = float(sample.min()), float(sample.max())
        pad = max(0.5, max(abs(v_min), abs(v_max)) * 2.0**-20)
        top = float(np.finfo(np.float64).max)
        low, high = max(v_min - pad, -top), min(v_max + pad, top)
    return IntensityWindow(low, high)


def to_lightness(plane: np.ndarray, window: IntensityWindow, where: str = "image") -> torch.Tensor:
    """Map a raw 2-D ``plane`` to CIE lightness through ``window``.

    The mapping runs in float32 when that is exact enough, else in float64 (values or windows
    beyond float32's range, or narrower than its resolution), so lightness is always finite.
    The input is never written, and read-only arrays are fine.

    Parameters
    ----------
    plane : numpy.ndarray
        Raw pixels of any real dtype.
    window : IntensityWindow
        The stack's window.
    where : str
        How errors name the plane.

    Returns
    -------
    torch.Tensor
        float32 lightness, 0-100, shaped like ``plane``.

    Raises
    ------
    ValueError
        The plane holds NaN or infinite values.

    Examples
    --------
    >>> to_lightness(np.array([[0, 128, 255]], np.uint8), IntensityWindow(0, 255))
    tensor([[  0.0000,  53.5850, 100.0000]])
    >>> to_lightness(np.array([[-5.0, 50.0, 500.0]]), IntensityWindow(0, 100))  # clipped
    tensor([[  0.0000,  53.3890, 100.0000]])
    """
    plane = np.asarray(plane)
    if window.is_uint8_identity(plane.dtype):
        return torch.from_numpy(uint8_lightness_table()[plane])
    check_finite(plane, where)
    if window.float32_safe:
        with np.errstate(over="ignore"):
            v = np.subtract(plane, np.float32(window.low), dtype=np.float32)  # a new array
        # float64 values beyond float32's range overflowed: map those planes in float64
        if plane.dtype.itemsize <= 4 or plane.dtype.kind != "f" or np.isfinite(v).all():
            gray = torch.from_numpy(v).div_(float(window.high - window.low)).clamp_(0, 1)
            return gray_to_lightness(gray)
    low, high = float(window.low), float(window.high)
    v = np.clip(plane, low, high, dtype=np.float64)  # finite, inside the window
    half = high * 0.5 - low * 0.5  # halves: no overflow for windows spanning float64's range
    if half > 0:
        gray = np.clip((v * 0.5 - low * 0.5) / half, 0, 1)
    else:  # a window narrower than float64 resolves once halved: a threshold
        gray = (v >= high).astype(np.float64)
    return gray_to_lightness(torch.from_numpy(gray.astype(np.float32)))
