"""Training pairs from colour images: random patches with augmentation -> (L, ab).

Augmentation follows what colour varies with in real slides: scale (0.5-1.5x, scanner
magnification), flips and 90-degree turns, and stain jitter in haematoxylin-eosin-DAB optical
density space (per-stain scale and shift, after Tellez et al. 2018).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from ..core.color import rgb_to_lab, rgb_uint8_to_lab
from ..models.network import lut_index

# Ruifrok & Johnston stain vectors (rows: haematoxylin, eosin, DAB), as used by scikit-image.
_HED = torch.tensor(
    [[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]], dtype=torch.float32
)
_HED = _HED / _HED.norm(dim=1, keepdim=True)
_HED_INV = torch.linalg.inv(_HED)
#: Weight of background pixels (vs 1 for tissue) in the losses and fits.
BACKGROUND_WEIGHT = 0.25


def tissue_mask(lab: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """Find the tissue pixels of a true-colour Lab image: L < 88 or chroma > 8.

    Parameters
    ----------
    lab : torch.Tensor or ndarray
        ``(3, ...)`` CIE Lab.

    Returns
    -------
    torch.Tensor or ndarray
        Boolean, shaped like ``lab[0]``.

    Examples
    --------
    >>> tissue_mask(np.array([[95.0, 60.0, 95.0], [0.0, 0.0, 20.0], [0.0, 0.0, -5.0]])).tolist()
    [False, True, True]
    """
    lightness, a, b = lab[0], lab[1], lab[2]
    return (lightness < 88) | ((a * a + b * b) > 64)


@dataclass(frozen=True)
class Augment:
    """Augmentation ranges; ``Augment.none()`` for plain crops.

    Parameters
    ----------
    scale : tuple of float
        Range of resampling factors (scanner magnification).
    flips : bool
        Random flips and 90-degree turns.
    stain_scale, stain_shift : float
        Stain jitter in optical density (see :func:`stain_jitter`).

    Examples
    --------
    >>> Augment().scale, Augment.none().scale
    ((0.5, 1.5), (1.0, 1.0))
    """

    scale: tuple[float, float] = (0.5, 1.5)
    flips: bool = True
    stain_scale: float = 0.08
    stain_shift: float = 0.04

    @classmethod
    def none(cls) -> Augment:
        """Make the ranges of no augmentation.

        Returns
        -------
        Augment

        Examples
        --------
        >>> Augment.none().flips
        False
        """
        return cls(scale=(1.0, 1.0), flips=False, stain_scale=0.0, stain_shift=0.0)


def stain_jitter(
    rgb: torch.Tensor, gen: torch.Generator, scale: float, shift: float
) -> torch.Tensor:
    """Perturb each stain's optical density: ``c' = c * (1 + s) + t``.

    Parameters
    ----------
    rgb : torch.Tensor
        ``(B, 3, H, W)`` in [0, 1].
    gen : torch.Generator
        Draws ``s`` in ``[-scale, scale]`` and ``t`` in ``[-shift, shift]`` per image and stain.
    scale, shift : float
        Jitter ranges.

    Returns
    -------
    torch.Tensor
        ``(B, 3, H, W)`` in [0, 1].

    Examples
    --------
    >>> rgb = torch.full((1, 3, 2, 2), 0.5)
    >>> torch.equal(stain_jitter(rgb, torch.Generator().manual_seed(0), 0.0, 0.0), rgb)
    True
    """
    if scale == 0 and shift == 0:
        return rgb
    n = rgb.shape[0]
    od = -torch.log(rgb.clamp_min(1 / 255))
    conc = torch.einsum("bchw,cs->bshw", od, _HED_INV)
    s = 1 + scale * (2 * torch.rand(n, 3, 1, 1, generator=gen) - 1)
    t = shift * (2 * torch.rand(n, 3, 1, 1, generator=gen) - 1)
    conc = conc * s + t
    od = torch.einsum("bshw,sc->bchw", conc, _HED)
    return torch.exp(-od).clamp(0, 1)


def split_lab(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split RGB into CIE lightness and chroma.

    Parameters
    ----------
    rgb : torch.Tensor
        ``(B, 3, H, W)`` in [0, 1].

    Returns
    -------
    lightness : torch.Tensor
        ``(B, 1, H, W)``.
    ab : torch.Tensor
        ``(B, 2, H, W)``.

    Examples
    --------
    >>> lightness, ab = split_lab(torch.ones(1, 3, 2, 2))
    >>> round(float(lightness[0, 0, 0, 0]), 3), round(float(ab.abs().max()), 3)
    (100.0, 0.0)
    """
    lab = rgb_to_lab(rgb.movedim(1, 0)).movedim(0, 1)
    return lab[:, :1].contiguous(), lab[:, 1:].contiguous()


class PatchSampler:
    """Draw random augmented ``(L, ab)`` patches from a list of uint8 RGB images.

    Images are drawn in proportion to their area (or equally often with ``balance``); each
    patch is cropped at a random scale, turned and flipped, and stain-jittered.

    Parameters
    ----------
    images : list of ndarray
        uint8 RGB images, each at least ``patch`` pixels a side.
    patch : int
        Side of the patches.
    augment : Augment
        Augmentation ranges.
    seed : int
        Seeds the draws.
    balance : bool
        Draw each image equally often, whatever its size.
    min_tissue : float
        Least share of tissue (gray darker than glass) a patch should show; up to 8 draws.
    offsets : torch.Tensor, optional
        ``(len(images), 2, LUT_BINS)``: per image and lightness bin, (a, b) to subtract from
        its patches' chroma (each image's stain offset, see :func:`~.lut.stain_offsets`).

    Examples
    --------
    >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)
    >>> lightness, ab = PatchSampler([pink], 32, Augment.none()).sample(2)
    >>> lightness.shape, ab.shape
    (torch.Size([2, 1, 32, 32]), torch.Size([2, 2, 32, 32]))
    """

    def __init__(
        self,
        images: list[np.ndarray],
        patch: int,
        augment: Augment,
        seed: int = 0,
        balance: bool = False,
        min_tissue: float = 0.0,
        offsets: torch.Tensor | None = None,
    ) -> None:
        self.images = images
        self.offsets = offsets
        self._drawn: list[int] = []  # image index of each patch of the last batch
        self.patch = patch
        self.augment = augment
        self.min_tissue = min_tissue
        self.gen = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        # balance: each image (often each lab or scanner) is drawn equally often, whatever its size
        areas = np.array([im.shape[0] * im.shape[1] for im in images], dtype=np.float64)
        weights = np.ones_like(areas) if balance else areas
        self.weights = weights / weights.sum()
        self._current = 0  # index of the image being cropped (masked sampling centres on it)

    def _window(self, image: np.ndarray, size: int) -> np.ndarray:
        """Draw a random ``size`` window; up to 8 draws to find one with ``min_tissue`` tissue."""
        for _ in range(8):
            y = int(self.rng.integers(0, image.shape[0] - size + 1))
            x = int(self.rng.integers(0, image.shape[1] - size + 1))
            window = image[y : y + size, x : x + size]
            if self.min_tissue <= 0:
                return window
            # tissue in gray terms: darker than the glass (L < 88 is about sRGB gray 222)
            if (window[::4, ::4].min(axis=-1) < 222).mean() >= self.min_tissue:
                return window
        return window

    def _crop(self, image: np.ndarray) -> torch.Tensor:
        lo, hi = self.augment.scale
        s = float(self.rng.uniform(lo, hi))
        size = min(round(self.patch / s), image.shape[0], image.shape[1])
        crop = torch.from_numpy(np.ascontiguousarray(self._window(image, size)))
        crop = crop.permute(2, 0, 1)[None].float() / 255
        if size != self.patch:
            crop = F.interpolate(
                crop, size=(self.patch, self.patch), mode="bilinear", antialias=True,
                align_corners=False,
            )
        crop = crop[0]
        if self.augment.flips:
            k = int(self.rng.integers(0, 4))
            crop = torch.rot90(crop, k, dims=(1, 2))
            if self.rng.integers(0, 2):
                crop = crop.flip(2)
        return crop

    def _draw(self, batch: int) -> torch.Tensor:
        """Draw ``batch`` augmented crops ``(B, C, P, P)`` in [0, 1], images drawn by weight."""
        crops = []
        self._drawn = [int(i) for i in self.rng.choice(len(self.images), size=batch,
                                                        p=self.weights)]
        for i in self._drawn:
            self._current = i
            crops.append(self._crop(self.images[i]))
        return torch.stack(crops).clamp(0, 1)

    def sample(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw a batch of patches.

        Parameters
        ----------
        batch : int
            Number of patches.

        Returns
        -------
        lightness : torch.Tensor
            ``(B, 1, P, P)`` CIE lightness.
        ab : torch.Tensor
            ``(B, 2, P, P)`` CIE a, b.

        Examples
        --------
        >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)
        >>> lightness, ab = PatchSampler([pink], 32, Augment.none()).sample(1)
        >>> round(float(ab[0, 0].mean()))
        28
        """
        return self.sample_with_other_lab(batch)[:2]

    def sample_with_other_lab(
        self, batch: int, scale: float = 0.0, shift: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw patches and the chroma another lab's stain would give them.

        Parameters
        ----------
        batch : int
            Number of patches.
        scale, shift : float
            Further stain jitter of ``ab_other`` (see :func:`stain_jitter`).

        Returns
        -------
        lightness, ab : torch.Tensor
            As :meth:`sample`.
        ab_other : torch.Tensor
            The chroma of the same patches after the further jitter, as another lab might have
            stained the same tissue; without jitter it is ``ab`` itself.

        Examples
        --------
        >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)
        >>> sampler = PatchSampler([pink], 32, Augment.none())
        >>> _, ab, other = sampler.sample_with_other_lab(1)
        >>> other is ab
        True
        """
        rgb = self._jitter(self._draw(batch))
        lightness, ab = split_lab(rgb)
        ab = self._remove_offset(lightness, ab)
        if scale == 0 and shift == 0:
            return lightness, ab, ab
        other = split_lab(stain_jitter(rgb, self.gen, scale, shift))[1]
        return lightness, ab, self._remove_offset(lightness, other)

    def _remove_offset(self, lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """Subtract each patch's image offset at each pixel's lightness bin (see ``offsets``)."""
        if self.offsets is None:
            return ab
        b = lightness.shape[0]
        table = self.offsets[torch.tensor(self._drawn)]  # (B, 2, bins)
        bins = lut_index(lightness).long().view(b, 1, -1)  # the prior's bins
        return ab - torch.gather(table, 2, bins.expand(b, 2, -1)).view_as(ab)

    def _jitter(self, rgb: torch.Tensor) -> torch.Tensor:
        return stain_jitter(rgb, self.gen, self.augment.stain_scale, self.augment.stain_shift)


def mean_chroma(images: list[np.ndarray]) -> list[float]:
    """Average (a, b) over the tissue pixels of ``images`` (the global-mean baseline).

    Parameters
    ----------
    images : list of ndarray
        uint8 RGB images.

    Returns
    -------
    list of float
        ``[a, b]``; zeros when no pixel is tissue.

    Examples
    --------
    >>> [round(v) for v in mean_chroma([np.full((4, 4, 3), (90, 50, 150), np.uint8)])]
    [40, -48]
    """
    total, count = torch.zeros(2, dtype=torch.float64), 0
    for image in images:
        lab = rgb_uint8_to_lab(image).reshape(3, -1)
        lab = lab[:, tissue_mask(lab)]
        total += lab[1:].sum(dim=1)
        count += lab.shape[1]
    return (total / max(count, 1)).tolist()
