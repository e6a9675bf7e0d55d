"""Map raw pixel values to CIE lightness with one window for the whole stack, never per tile.

uint8 is taken as sRGB gray (value v is gray v/255). Other dtypes get a percentile window computed
once from a sample of the whole stack, or the user's ``contrast_limits``. The sample's cost is
bounded whatever the image's size: small planes are read whole, large ones through a fixed number
of chunk-aligned windows spread over the plane (a strided read of a chunked store would touch
every chunk).
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
SAMPLE_PIXELS = 2_000_000
#: Windows read from each large sampled plane, and their largest side (pixels).
SAMPLE_WINDOWS = 16
SAMPLE_WINDOW_SIDE = 512
#: Windows whose bounds and width float32 holds exactly enough for the fast float32 mapping.
_F32_SAFE = 1e37
_F32_TINY = 1e-30


@dataclass(frozen=True)
class IntensityWindow:
    """Raw values ``low``..``high`` map to sRGB gray 0..1 (clipped)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        check_contrast_limits((self.low, self.high))

    def is_uint8_identity(self, dtype: np.dtype) -> bool:
        """True when the window is the plain uint8 mapping (fast table look-up)."""
        return dtype == np.uint8 and self.low == 0 and self.high == 255

    @property
    def float32_safe(self) -> bool:
        """True when mapping in float32 cannot overflow or divide by zero."""
        if max(abs(self.low), abs(self.high)) >= _F32_SAFE:
            return False
        width = float(self.high - self.low)
        return _F32_TINY < width and bool(np.float32(self.high) > np.float32(self.low))


def sample_planes(image: Any, n: int = SAMPLE_PLANES) -> list[tuple[int, ...]]:
    """Indices (into the leading axes) of up to ``n`` planes spread evenly over the stack."""
    leading = tuple(image.shape[:-2])
    total = math.prod(leading)
    m = min(n, total)  # a stack of fewer than n planes: every plane
    picks = sorted({round(i * (total - 1) / max(m - 1, 1)) for i in range(m)})
    return [tuple(int(v) for v in np.unravel_index(p, leading)) if leading else () for p in picks]


def _chunk_plane(image: Any) -> tuple[int, int] | None:
    """The chunk shape of the image's last two axes (zarr, dask, h5py), if it has one."""
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
    """Up to ``n`` windows on an even grid over a plane of ``shape``, at most
    :data:`SAMPLE_WINDOW_SIDE` a side: a fixed amount to read. Along an axis whose chunks
    (``chunks``) are at least that long a window stays inside one chunk; along a thinner one
    (the one-row strips of a compressed strip TIFF) it spans as many whole chunks as fit, so
    the sample is not a few rows."""
    grid = max(1, math.isqrt(n))
    windows = []
    per_axis = []
    for length, chunk in zip(shape, chunks or (SAMPLE_WINDOW_SIDE,) * 2, strict=True):
        span = max(1, SAMPLE_WINDOW_SIDE // chunk) * chunk  # whole chunks, or one chunk's part
        side = min(span, SAMPLE_WINDOW_SIDE, length)
        spots = sorted({round(i * (length - side) / max(grid - 1, 1)) for i in range(grid)})
        # start on the chunk boundary at or before the spot
        per_axis.append([(min((s // chunk) * chunk, length - side), side) for s in spots])
    for r0, h in per_axis[0]:
        for c0, w in per_axis[1]:
            windows.append((slice(r0, r0 + h), slice(c0, c0 + w)))
    return windows


def compute_window(
    image: Any, contrast_limits: tuple[float, float] | None = None
) -> IntensityWindow:
    """The stack's intensity window (see module docstring)."""
    if contrast_limits is not None:
        low, high = check_contrast_limits(contrast_limits)
        return IntensityWindow(low, high)
    if np.dtype(image.dtype) == np.uint8:
        return IntensityWindow(0.0, 255.0)
    values = []
    planes = sample_planes(image)
    per_plane = max(1, SAMPLE_PIXELS // len(planes))
    h, w = (int(s) for s in image.shape[-2:])
    if int(math.sqrt(h * w / per_plane)) <= 1:
        windows = [(slice(None), slice(None))]  # small planes: read whole
    else:
        windows = sample_windows((h, w), _chunk_plane(image))
    for idx in planes:
        for window in windows:
            part = np.asarray(image[(*idx, *window)])
            check_finite(part, f"image plane {idx}" if idx else "image")
            values.append(part.ravel())
    return window_of_sample(np.concatenate(values).astype(np.float64))


def window_of_sample(sample: np.ndarray) -> IntensityWindow:
    """The percentile window of a float64 ``sample``; a window holding its value if constant."""
    big = np.finfo(np.float64).max / 4
    scale = 0.5 if float(np.abs(sample).max()) > big else 1.0  # no overflow interpolating
    low, high = (float(v) / scale for v in np.percentile(sample * scale, PERCENTILES))
    if high <= low:  # a constant image: any window that keeps its value inside works
        v_min, v_max = float(sample.min()), float(sample.max())
        pad = max(0.5, max(abs(v_min), abs(v_max)) * 2.0**-20)
        top = float(np.finfo(np.float64).max)
        low, high = max(v_min - pad, -top), min(v_max + pad, top)
    return IntensityWindow(low, high)


def to_lightness(plane: np.ndarray, window: IntensityWindow, where: str = "image") -> torch.Tensor:
    """CIE lightness (float32 tensor, 0-100) of a raw 2-D ``plane``.

    ``where`` names the plane in errors. The mapping runs in float32 when that is exact enough,
    else in float64 (values or windows beyond float32's range, or narrower than its resolution),
    so lightness is always finite. The input is never written, and read-only arrays are fine.
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
