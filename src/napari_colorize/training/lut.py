"""The per-lightness chroma table (``ChromaNet.lut``).

It is fitted from colour images, blended with a base model's table, and looked up for the
lookup-table baseline. A table holds the mean (a, b) of tissue pixels for each integer lightness
(``LUT_BINS`` bins). Bins no pixel falls in take the value of the nearest filled bin, and a light
3-bin smoothing follows: training from scratch (:func:`fit_lut`) and calibration to references
(:func:`blend_lut`) fill and smooth the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional as F

from ..core.color import rgb_uint8_to_lab
from ..models.network import LUT_BINS
from .patches import tissue_mask

#: Pixels per image used for calibration's statistics (subsampled above this).
LUT_PIXELS = 4_000_000


def lut_statistics(
    images: Sequence[np.ndarray],
    masks: Sequence[np.ndarray] | None = None,
    *,
    max_pixels: int | None = LUT_PIXELS,
    by_image: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of (a, b) and pixel count of the tissue pixels in each lightness bin.

    Parameters
    ----------
    images : sequence of ndarray
        uint8 RGB images ``(H, W, 3)``.
    masks : sequence of ndarray, optional
        One boolean ``(H, W)`` mask per image: only its pixels count.
    max_pixels : int, optional
        Images larger than this are subsampled on a regular grid (each pixel then counts for
        the ones it stands for); ``None`` uses every pixel.
    by_image : bool
        Scale each image's sums and counts to one unit of tissue, so every image weighs the
        same whatever its size.

    Returns
    -------
    sums : torch.Tensor
        ``(2, LUT_BINS)`` float64 sums of a and b.
    counts : torch.Tensor
        ``(LUT_BINS,)`` float64 pixel counts.

    Examples
    --------
    >>> purple = np.full((4, 4, 3), (90, 50, 150), np.uint8)
    >>> sums, counts = lut_statistics([purple])
    >>> int(counts.sum()), int(counts.argmax())
    (16, 31)
    """
    sums = torch.zeros(2, LUT_BINS, dtype=torch.float64)
    counts = torch.zeros(LUT_BINS, dtype=torch.float64)
    for i, image in enumerate(images):
        step = 1
        if max_pixels is not None:
            step = max(1, int(math.sqrt(image.shape[0] * image.shape[1] / max_pixels)))
        lab = rgb_uint8_to_lab(image[::step, ::step]).reshape(3, -1)
        keep = tissue_mask(lab)
        if masks is not None:
            region = np.ascontiguousarray(masks[i][::step, ::step])
            keep = keep & torch.from_numpy(region).reshape(-1)
        lab = lab[:, keep]
        idx = (lab[0].clamp(0, 100) + 0.5).long()
        weight = 1.0 / max(int(keep.sum()), 1) if by_image else step * step
        counts += torch.bincount(idx, minlength=LUT_BINS).double() * weight
        for c in (0, 1):
            sums[c] += torch.bincount(idx, weights=lab[c + 1], minlength=LUT_BINS) * weight
    return sums, counts


def bin_means(sums: torch.Tensor, counts: torch.Tensor) -> torch.Tensor | None:
    """Mean per bin; empty bins take the mean of the nearest filled bin.

    Parameters
    ----------
    sums : torch.Tensor
        ``(C, LUT_BINS)`` sums.
    counts : torch.Tensor
        ``(LUT_BINS,)`` counts.

    Returns
    -------
    torch.Tensor or None
        ``(C, LUT_BINS)`` float64 means, or ``None`` when every bin is empty.

    Examples
    --------
    >>> counts = torch.zeros(LUT_BINS, dtype=torch.float64)
    >>> counts[10], counts[20] = 1, 2
    >>> sums = torch.zeros(1, LUT_BINS, dtype=torch.float64)
    >>> sums[0, 10], sums[0, 20] = 5, 8
    >>> bin_means(sums, counts)[0, [0, 14, 16, 100]].tolist()
    [5.0, 5.0, 4.0, 4.0]
    """
    filled = torch.nonzero(counts > 0).squeeze(1)
    if filled.numel() == 0:
        return None
    means = torch.zeros(sums.shape[0], LUT_BINS, dtype=torch.float64)
    means[:, filled] = sums[:, filled] / counts[filled]
    nearest = filled[(torch.arange(LUT_BINS)[:, None] - filled[None]).abs().argmin(dim=1)]
    return means[:, nearest]


def smooth_bins(values: torch.Tensor) -> torch.Tensor:
    """Smooth each row over its bins with the kernel (1/4, 1/2, 1/4), edges replicated.

    Parameters
    ----------
    values : torch.Tensor
        ``(C, N)`` floating point values.

    Returns
    -------
    torch.Tensor
        ``(C, N)``, same dtype.

    Examples
    --------
    >>> smooth_bins(torch.tensor([[0.0, 4.0, 0.0, 0.0]])).tolist()
    [[1.0, 2.0, 1.0, 0.0]]
    """
    kernel = torch.tensor([[[0.25, 0.5, 0.25]]], dtype=values.dtype)
    return F.conv1d(F.pad(values[:, None], (1, 1), mode="replicate"), kernel)[:, 0]


def fit_lut(images: Sequence[np.ndarray], *, by_image: bool = False) -> torch.Tensor:
    """Fit the table of colour images: mean (a, b) of tissue per lightness, filled, smoothed.

    Parameters
    ----------
    images : sequence of ndarray
        uint8 RGB images ``(H, W, 3)``; every pixel is used.
    by_image : bool
        Weigh each image's tissue equally, whatever its size; by default every tissue pixel
        counts once, so the largest images set the table.

    Returns
    -------
    torch.Tensor
        ``(2, LUT_BINS)`` float32; zeros when no image shows tissue.

    Examples
    --------
    >>> purple = np.full((4, 4, 3), (90, 50, 150), np.uint8)
    >>> [round(v) for v in fit_lut([purple])[:, 50].tolist()]
    [40, -48]
    >>> green = np.full((1, 1, 3), (40, 80, 60), np.uint8)  # one pixel, the same lightness
    >>> [round(v) for v in fit_lut([purple, green])[:, 31].tolist()]  # 16 pixels against 1
    [36, -45]
    >>> [round(v) for v in fit_lut([purple, green], by_image=True)[:, 31].tolist()]
    [10, -20]
    """
    means = bin_means(*lut_statistics(images, max_pixels=None, by_image=by_image))
    if means is None:
        return torch.zeros(2, LUT_BINS)
    return smooth_bins(means).float()


def blend_lut(
    sums: torch.Tensor, counts: torch.Tensor, base_lut: torch.Tensor, prior_count: float
) -> torch.Tensor:
    """Blend the references' mean (a, b) per lightness with ``base_lut`` where data is thin.

    Each bin is ``(n * ref + k * base) / (n + k)`` with ``n`` the references' tissue pixels in
    the bin and ``k = prior_count``: bins the references fill keep their colour, empty bins keep
    the base model's.

    Parameters
    ----------
    sums, counts : torch.Tensor
        The references' statistics (see :func:`lut_statistics`).
    base_lut : torch.Tensor
        ``(2, LUT_BINS)`` the base model's table.
    prior_count : float
        Pixels' worth of weight the base table has in each bin (0: any pixel overrides it).

    Returns
    -------
    torch.Tensor
        ``(2, LUT_BINS)`` float32.

    Examples
    --------
    >>> counts = torch.full((LUT_BINS,), 5.0, dtype=torch.float64)
    >>> sums = torch.full((2, LUT_BINS), 50.0, dtype=torch.float64)
    >>> blend_lut(sums, counts, torch.zeros(2, LUT_BINS), prior_count=5.0)[:, 50].tolist()
    [5.0, 5.0]
    """
    base = base_lut.detach().to(torch.float64).cpu()
    means = bin_means(sums, counts)
    if means is None:
        return base.float()
    ref = smooth_bins(means)
    n = smooth_bins(counts[None])[0]
    weight = n / (n + prior_count) if prior_count > 0 else (n > 0).double()
    return (weight * ref + (1 - weight) * base).float()


#: Tissue pixels' worth of weight the common table keeps in each bin of an image's own table:
#: bins an image barely fills get no offset of their own.
OFFSET_PRIOR_COUNT = 2000.0


def stain_offsets(images: Sequence[np.ndarray], lut: torch.Tensor) -> torch.Tensor:
    """Each image's stain offset: its own per-lightness table less ``lut``, per bin.

    An image's table is blended toward ``lut`` where it has few tissue pixels
    (:data:`OFFSET_PRIOR_COUNT`), so thin bins get no offset.

    Parameters
    ----------
    images : sequence of ndarray
        uint8 RGB images.
    lut : torch.Tensor
        ``(2, LUT_BINS)`` the common table (e.g. a network's prior).

    Returns
    -------
    torch.Tensor
        float32 ``(len(images), 2, LUT_BINS)``.

    Examples
    --------
    >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)  # L* 77, a* 28: one bin, smoothed
    >>> offsets = stain_offsets([pink], torch.zeros(2, LUT_BINS))
    >>> offsets.shape, round(float(offsets[0, 0, 77])), float(offsets[0, 0, 20])
    (torch.Size([1, 2, 101]), 10, 0.0)
    """
    base = lut.detach().float().cpu()
    return torch.stack([blend_lut(*lut_statistics([im]), base, OFFSET_PRIOR_COUNT) - base
                        for im in images])


def lut_prior(lut: torch.Tensor, lightness: np.ndarray) -> np.ndarray:
    """Look up (a, b) of a table for each pixel's rounded lightness (the lookup-table baseline).

    Parameters
    ----------
    lut : torch.Tensor
        ``(2, LUT_BINS)`` table.
    lightness : ndarray
        CIE lightness, any shape.

    Returns
    -------
    ndarray
        ``(2, *lightness.shape)``.

    Examples
    --------
    >>> lut = torch.stack([torch.arange(101.0), -torch.arange(101.0)])
    >>> lut_prior(lut, np.array([10.4, 99.9])).tolist()
    [[10.0, 100.0], [-10.0, -100.0]]
    """
    table = lut.detach().cpu().numpy()
    return table[:, np.clip(np.round(lightness), 0, table.shape[1] - 1).astype(int)]
