"""Blend tiles into blocks, and the outputs finished blocks go to (memory or an array).

Every output is a :class:`Merger`: ``write(index, region, rgb, confidence, maps)`` per finished
block of plane ``index``, ``finalize()`` returning the :class:`Outputs`, ``discard()`` undoing
everything written (cancel or error).
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from typing import Any, NamedTuple

import numpy as np
import torch

from .blending import taper_ramp, taper_window
from .outputs import check_memory, check_out_array
from .tiling import TileSpec, intersect, relative


class BlockBlender:
    """Accumulates model outputs ``(C, h, w)`` of the tiles touching one block of a plane.

    Taper blending sums ``w * y`` with a raised-cosine window and multiplies by the inverse of the
    summed windows; constant blending writes each tile's own crop, so every pixel comes from
    exactly one tile. Tiles are added in plan order, so every pixel's sum is formed in the same
    order whichever block (or process) computes it.
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
        """Add one tile's prediction (the model output for the tile's read window)."""
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
        """The blended block ``(C, h, w)``."""
        if self.inverse_weight is None:
            return self.acc
        rows, cols = self.inverse_weight
        return self.acc.mul_(rows[:, None]).mul_(cols)


def axis_inverse_weight(
    length: int, windows: tuple[tuple[int, int], ...], overlap: int
) -> torch.Tensor:
    """``1 / sum of taper ramps`` along one axis of a block of ``length`` pixels, for the tile
    ``windows`` (start, stop relative to the block) touching it.

    The taper window is the outer product of two ramps and a block's tiles are the product of
    its tile rows and columns, so the 2-D weight sum is the outer product of the two per-axis
    sums: a block needs two vectors, never a block-sized weight map.
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


Region = tuple[slice, slice]


class Outputs(NamedTuple):
    """What a merger holds after a run: the sRGB result and the side outputs asked for."""

    rgb: Any
    confidence: Any = None
    channels: Any = None


class Merger(ABC):
    """Where finished blocks go.

    The engine calls :meth:`write` for each finished block (then :meth:`mark_done` with the
    block's key), :meth:`finalize` at the end, :meth:`discard` on cancel or error and
    :meth:`close` always. The defaults suit an output that keeps no record between runs.
    """

    #: Whether an interrupted run (Ctrl-C, a full disk) keeps what it wrote, for a resume.
    keeps_partial: bool = False

    @property
    def complete(self) -> bool:
        """Whether the output was already finished (a resumed run that had completed)."""
        return False

    def completed(self) -> set[str]:
        """Keys of the blocks already written (by an interrupted run of the same job)."""
        return set()

    def buffer(self, index: tuple[int, ...], region: Region) -> np.ndarray | None:
        """The block's slot in the output, to convert straight into; ``None``: use :meth:`write`."""
        return None

    @abstractmethod
    def write(self, index: tuple[int, ...], region: Region, rgb: np.ndarray,
              confidence: np.ndarray | None, maps: np.ndarray | None = None) -> None:
        """Store one block of plane ``index``: ``rgb`` (h, w, 3) uint8, ``confidence`` (h, w)
        float32 or None, channel ``maps`` (K, h, w) float32 or None."""

    def mark_done(self, key: str) -> None:  # noqa: B027 - optional hook
        """Record that the block named ``key`` is written."""

    @abstractmethod
    def result(self) -> Outputs:
        """The outputs as they stand."""

    def finalize(self) -> Outputs:
        """Finish the output and return it."""
        return self.result()

    @abstractmethod
    def discard(self) -> None:
        """Undo everything written so far."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the output holds (locks, files); called after finalize or discard."""


class _Extras:
    """The in-memory side outputs of a run: confidence ``(*shape)`` and channel maps
    ``(K, *shape)``, either of which may be absent."""

    def __init__(self, shape: tuple[int, ...], confidence: bool, n_maps: int) -> None:
        self.conf = np.zeros(shape, dtype=np.float32) if confidence else None
        self.maps = np.zeros((n_maps, *shape), dtype=np.float32) if n_maps else None

    def write(self, where: tuple, confidence: np.ndarray | None, maps: np.ndarray | None) -> None:
        if self.conf is not None and confidence is not None:
            self.conf[where] = confidence
        if self.maps is not None and maps is not None:
            self.maps[(slice(None), *where)] = maps

    def result(self, main: Any) -> Outputs:
        return Outputs(main, self.conf, self.maps)


class ArrayMerger(Merger):
    """Planes into in-memory numpy arrays shaped ``leading + (H, W, 3)`` (and side outputs)."""

    def __init__(self, shape: tuple[int, ...], confidence: bool, n_maps: int = 0) -> None:
        check_memory(shape, confidence=confidence, n_maps=n_maps)
        self.rgb: np.ndarray | None = np.zeros((*shape, 3), dtype=np.uint8)
        self.extras = _Extras(shape, confidence, n_maps)

    def _held(self) -> np.ndarray:
        if self.rgb is None:
            raise RuntimeError("this merger's result was discarded")
        return self.rgb

    def buffer(self, index: tuple[int, ...], region: Region) -> np.ndarray:
        """The block's slot in the result, for converting straight into it (saves a copy)."""
        where: tuple[Any, ...] = (*index, *region)
        return self._held()[where]

    def write(self, index: tuple[int, ...], region: Region, rgb: np.ndarray,
              confidence: np.ndarray | None, maps: np.ndarray | None = None) -> None:
        where: tuple[Any, ...] = (*index, *region)
        held = self._held()
        if not np.shares_memory(rgb, held):
            held[where] = rgb
        self.extras.write(where, confidence, maps)

    def result(self) -> Outputs:
        return self.extras.result(self.rgb)

    def discard(self) -> None:
        self.rgb = None
        self.extras = _Extras((), False, 0)


class OutArrayMerger(Merger):
    """Planes into a caller's array (zarr, numpy, ...) shaped ``leading + (H, W, 3)``, uint8.

    Blocks land as they finish, so a viewer showing the array sees the run progress.
    ``discard`` resets the blocks written to the array's fill value (0 for numpy), so a
    cancelled run leaves no partial result in it.
    """

    def __init__(self, array: Any, shape: tuple[int, ...], confidence: bool,
                 n_maps: int = 0) -> None:
        check_out_array(array, shape)  # writable, uint8, image.shape + (3,)
        check_memory(shape, rgb=False, confidence=confidence, n_maps=n_maps)
        self.array = array
        self.written: list[tuple[Any, ...]] = []  # plane indices, then a block's slices
        self.extras = _Extras(shape, confidence, n_maps)

    def buffer(self, index: tuple[int, ...], region: Region) -> np.ndarray | None:
        """The block's slot in a numpy output, for converting straight into it; ``None`` for
        other arrays (zarr), which are written in :meth:`write`."""
        if not isinstance(self.array, np.ndarray):
            return None
        where: tuple[Any, ...] = (*index, *region)
        self.written.append(where)
        return self.array[where]

    def write(self, index: tuple[int, ...], region: Region, rgb: np.ndarray,
              confidence: np.ndarray | None, maps: np.ndarray | None = None) -> None:
        where: tuple[Any, ...] = (*index, *region)
        if not (isinstance(self.array, np.ndarray) and np.shares_memory(rgb, self.array)):
            self.array[where] = rgb
            self.written.append(where)
        self.extras.write(where, confidence, maps)

    def result(self) -> Outputs:
        return self.extras.result(self.array)

    def discard(self) -> None:
        fill = getattr(self.array, "fill_value", 0) or 0
        for index in self.written:
            self.array[index] = fill
        self.written.clear()
