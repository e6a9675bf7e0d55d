"""Patches for tuning on a lab's own images, centred on the pixels a mask marks.

The mask travels with each patch and weighs the loss, so only what the user marked teaches.
"""

from __future__ import annotations

import numpy as np
import torch

from .patches import Augment, PatchSampler, split_lab


class MaskedPatchSampler(PatchSampler):
    """Patches centred on mask pixels; the mask travels with the patch as a loss weight.

    Parameters
    ----------
    images : list of ndarray
        uint8 RGB images.
    masks : list of ndarray
        One boolean ``(H, W)`` mask per image, none empty.
    patch : int
        Side of the patches.
    augment : Augment
        Augmentation ranges.
    seed : int
        Seeds the draws.

    Examples
    --------
    >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)
    >>> mask = np.zeros((64, 64), bool)
    >>> mask[:8, :8] = True
    >>> _, _, weight = MaskedPatchSampler([pink], [mask], 32, Augment.none()).sample_masked(1)
    >>> float(weight[0, 0, 0, 0]), float(weight[0, 0, -1, -1])
    (1.0, 0.0)
    """

    def __init__(
        self,
        images: list[np.ndarray],
        masks: list[np.ndarray],
        patch: int,
        augment: Augment,
        seed: int = 0,
    ) -> None:
        stacked = [np.concatenate([im, (m[..., None] * np.uint8(255))], axis=-1)
                   for im, m in zip(images, masks, strict=True)]
        super().__init__(stacked, patch, augment, seed=seed)
        self._coords = [np.flatnonzero(m[::4, ::4]).astype(np.int64) for m in masks]
        self._widths = [(m.shape[1] + 3) // 4 for m in masks]
        counts = np.array([len(c) for c in self._coords], dtype=np.float64)
        self.weights = counts / counts.sum()

    def _window(self, image: np.ndarray, size: int) -> np.ndarray:
        coords = self._coords[self._current]
        k = int(coords[int(self.rng.integers(0, len(coords)))])
        cy, cx = 4 * (k // self._widths[self._current]), 4 * (k % self._widths[self._current])
        y = int(np.clip(cy - size // 2, 0, image.shape[0] - size))
        x = int(np.clip(cx - size // 2, 0, image.shape[1] - size))
        return image[y : y + size, x : x + size]

    def sample_masked(self, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw patches with their mask.

        Parameters
        ----------
        batch : int
            Number of patches.

        Returns
        -------
        lightness, ab : torch.Tensor
            As :meth:`PatchSampler.sample`.
        mask : torch.Tensor
            ``(B, 1, P, P)`` in [0, 1].

        Examples
        --------
        >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)
        >>> mask = np.ones((64, 64), bool)
        >>> sampler = MaskedPatchSampler([pink], [mask], 32, Augment.none())
        >>> [t.shape[1] for t in sampler.sample_masked(2)]
        [1, 2, 1]
        """
        both = self._draw(batch)
        lightness, ab = split_lab(self._jitter(both[:, :3]))
        return lightness, ab, both[:, 3:].contiguous()
