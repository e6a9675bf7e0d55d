"""Map raw pixel values to CIE lightness with one window for the whole stack, never per tile.

uint8 is taken as sRGB gray (value v is gray v/255). Other dtypes get a percentile window computed
once from a sample of the whole stack, or the user's ``contrast_limits``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .color import gray_to_lightness, uint8_lightness_table
from .validation import check_finite

PERCENTILES = (0.5, 99.5)
SAMPLE_PLANES = 8
SAMPLE_PIXELS = 2_000_000


@dataclass(frozen=True)
class IntensityWindow:
    """Raw values ``low``..``high`` map to sRGB gray 0..1 (clipped)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError(f"contrast limits ({self.low}, {self.high}) must be finite")
        if self.high <= self.low:
            raise ValueError(f"contrast limits ({self.low}, {self.high}) must increase")

    def is_uint8_identity(self, dtype: np.dtype) -> bool:
        """True when the window is the plain uint8 mapping (fast table look-up)."""
        return dtype == np.uint8 and self.low == 0 and self.high == 255


def sample_planes(image: Any, n: int = SAMPLE_PLANES) -> list[tuple[int, ...]]:
    """Indices (into the leading axes) of up to ``n`` planes spread evenly over the stack."""
    leading = tuple(image.shape[:-2])
    total = math.prod(leading)
    picks = sorted({round(i * (total - 1) / max(n - 1, 1)) for i in range(min(n, total))})
    return [tuple(int(v) for v in np.unravel_index(p, leading)) if leading else () for p in picks]


def compute_window(
    image: Any, contrast_limits: tuple[float, float] | None = None
) -> IntensityWindow:
    """The stack's intensity window (see module docstring)."""
    if contrast_limits is not None:
        low, high = contrast_limits
        return IntensityWindow(float(low), float(high))
    if np.dtype(image.dtype) == np.uint8:
        return IntensityWindow(0.0, 255.0)
    values = []
    planes = sample_planes(image)
    per_plane = max(1, SAMPLE_PIXELS // len(planes))
    for idx in planes:
        h, w = image.shape[-2:]
        step = max(1, int(math.sqrt(h * w / per_plane)))
        plane = np.asarray(image[(*idx, slice(None, None, step), slice(None, None, step))])
        check_finite(plane)
        values.append(plane.ravel())
    sample = np.concatenate(values).astype(np.float64)
    low, high = np.percentile(sample, PERCENTILES)
    if high <= low:  # a constant image: any window that keeps its value inside works
        low, high = float(sample.min()) - 0.5, float(sample.max()) + 0.5
    return IntensityWindow(float(low), float(high))


def to_lightness(plane: np.ndarray, window: IntensityWindow) -> torch.Tensor:
    """CIE lightness (float32 tensor, 0-100) of a raw 2-D ``plane``."""
    if window.is_uint8_identity(plane.dtype):
        return torch.from_numpy(uint8_lightness_table()[np.asarray(plane)])
    check_finite(plane)
    v = torch.from_numpy(np.ascontiguousarray(plane, dtype=np.float32))
    v = ((v - window.low) / (window.high - window.low)).clamp_(0, 1)
    return gray_to_lightness(v)
