"""Blend the model outputs of overlapping tiles into one block of a plane.

Taper blending sums ``w * y`` with a raised-cosine window (:mod:`.blending`) and multiplies by
the inverse of the summed windows, which a block needs only per axis; constant blending writes
each tile's own crop.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from .blending import taper_ramp, taper_window
from .windows import TileSpec, intersect, relative


class BlockBlender:
    """Accumulate the model outputs ``(C, h, w)`` of the tiles touching one block of a plane.

    Taper blending sums ``w * y`` with a raised-cosine window and multiplies by the inverse of the
    summed windows; constant blending writes each tile's own crop, so every pixel comes from
    exactly one tile. Tiles are added in plan order, so every pixel's sum is formed in the same
    order whichever block (or process) computes it.

    Parameters
    ----------
    region : tuple of slice
        The block's ``(rows, cols)`` in the plane.
    channels : int
        Model output channels.
    overlap : int
        The plan's overlap (the taper window's ramps).
    inverse_weight : tuple of torch.Tensor or None
        ``None`` for constant blending; else the inverse weight sums of the block's rows and
        columns (:func:`axis_inverse_weight`), which depend only on the tile plan.
    device : torch.device or str
        Where the block is accumulated.

    Examples
    --------
    Two tiles of 6 columns cover a block of 8: a constant prediction blends to itself.

    >>> from napari_colorize.core.tiling import plan_tiles
    >>> tiles = plan_tiles((1, 8), (1, 6), overlap=2)
    >>> inverse = (torch.ones(1), axis_inverse_weight(8, ((0, 6), (2, 8)), 2))
    >>> blender = BlockBlender((slice(0, 1), slice(0, 8)), 1, 2, inverse)
    >>> for tile in tiles:
    ...     blender.add(tile, torch.full((1, 1, 6), 5.0))
    >>> blender.result()
    tensor([[[5., 5., 5., 5., 5., 5., 5., 5.]]])

    Constant blending takes each pixel from the tile that owns it:

    >>> blender = BlockBlender((slice(0, 1), slice(0, 8)), 1, 2, None)
    >>> for i, tile in enumerate(tiles):
    ...     blender.add(tile, torch.full((1, 1, 6), float(i)))
    >>> blender.result()
    tensor([[[0., 0., 0., 0., 1., 1., 1., 1.]]])
    """

    def __init__(
        self, region: tuple[slice, slice], channels: int, overlap: int,
        inverse_weight: tuple[torch.Tensor, torch.Tensor] | None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.region = region
        self.overlap = overlap
        shape = tuple(s.stop - s.start for s in region)
        self.acc = torch.zeros((channels, *shape), dtype=torch.float32, device=device)
        # None: "constant" blending. Else the inverse weight sum per axis (rows, cols): it
        # depends only on the tile plan, so the engine computes it once per block geometry
        # (see :func:`axis_inverse_weight`).
        self.inverse_weight = inverse_weight

    def add(self, tile: TileSpec, pred: torch.Tensor) -> None:
        """Add one tile's prediction.

        Parameters
        ----------
        tile : TileSpec
            The tile.
        pred : torch.Tensor
            The model output ``(C, *tile_shape)`` for the tile's read window.
        """
        source = tile.crop if self.inverse_weight is None else tile.read
        part = intersect(source, self.region)
        dst = (slice(None), *relative(part, self.region))
        src = (slice(None), *relative(part, tile.read))
        if self.inverse_weight is None:
            self.acc[dst] = pred[src]
            return
        win = _window(tuple(pred.shape[-2:]), self.overlap, pred.device)
        self.acc[dst].addcmul_(pred[src], win[src[1:]])

    def result(self) -> torch.Tensor:
        """Finish the block (in place: call once, after every tile is added).

        Returns
        -------
        torch.Tensor
            The blended block ``(C, h, w)``.
        """
        if self.inverse_weight is None:
            return self.acc
        rows, cols = self.inverse_weight
        return self.acc.mul_(rows[:, None]).mul_(cols)


def axis_inverse_weight(
    length: int, windows: tuple[tuple[int, int], ...], overlap: int
) -> torch.Tensor:
    """Compute ``1 / sum of taper ramps`` along one axis of a block.

    The taper window is the outer product of two ramps and a block's tiles are the product of
    its tile rows and columns, so the 2-D weight sum is the outer product of the two per-axis
    sums: a block needs two vectors, never a block-sized weight map.

    Parameters
    ----------
    length : int
        The block's pixels along the axis.
    windows : tuple of (int, int)
        ``(start, stop)`` of each tile touching the block, relative to the block's start
        (they may reach beyond it).
    overlap : int
        The plan's overlap.

    Returns
    -------
    torch.Tensor
        float32 ``(length,)``.

    Examples
    --------
    >>> axis_inverse_weight(8, ((0, 6), (2, 8)), 2)
    tensor([6.8284, 1.1716, 0.8723, 0.5395, 0.5395, 0.8723, 1.1716, 6.8284])
    """
    weight = np.zeros(length, dtype=np.float32)
    for start, stop in windows:
        lo, hi = max(start, 0), min(stop, length)
        weight[lo:hi] += taper_ramp(stop - start, overlap)[lo - start : hi - start]
    return torch.from_numpy(np.reciprocal(weight))


@functools.lru_cache(maxsize=8)
def _window(shape: tuple[int, int], overlap: int, device: Any = None) -> torch.Tensor:
    # every tile of a plan has the same shape: build its window once, not once per tile
    return torch.from_numpy(taper_window(shape, overlap)).to(device or "cpu")
