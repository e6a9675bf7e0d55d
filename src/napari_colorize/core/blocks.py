"""Compute blocks, the unit a run is computed, written, resumed and distributed in.

:class:`BlockRunner` computes the blocks of a :class:`~napari_colorize.core.plan.RunPlan` (read
one block ahead in a thread, tiles batched across blocks and planes, blended, rendered) for a
local run and for dask workers alike, so a block's bytes do not depend on who computes it.
"""

from __future__ import annotations

import functools
import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..models.spec import ColorModel
from .blender import BlockBlender, axis_inverse_weight
from .color import lab_to_srgb_uint8, uint8_lightness_table, writable
from .heap import keep_freed_memory
from .intensity import to_lightness
from .plan import RunPlan
from .planes import pad_to, plane_name, read_plane
from .render import intensity_from_lightness, render_composite
from .tiling import AxisPlan, Block
from .windows import relative


@dataclass(frozen=True)
class TilesDone:
    """An event of :meth:`BlockRunner.run`: a batch of tiles went through the model.

    Parameters
    ----------
    plane : int
        Flat number of the plane of the batch's last tile.
    tiles : int
        Tiles in the batch.

    Examples
    --------
    >>> TilesDone(plane=0, tiles=4)
    TilesDone(plane=0, tiles=4)
    """

    plane: int
    tiles: int


@dataclass
class BlockResult:
    """An event of :meth:`BlockRunner.run`: one finished block.

    Parameters
    ----------
    plane : int
        Flat plane number.
    block : Block
        The block.
    rgb : numpy.ndarray
        sRGB uint8 ``(h, w, 3)``.
    confidence : numpy.ndarray or None
        float32 ``(h, w)``, if asked for.
    channels : numpy.ndarray or None
        float32 channel maps ``(K, h, w)``, if asked for.

    Examples
    --------
    See :class:`BlockRunner`.
    """

    plane: int
    block: Block
    rgb: np.ndarray
    confidence: np.ndarray | None
    channels: np.ndarray | None = None


class BlockRunner:
    """Compute the blocks of a run, for a local run and for dask workers alike.

    Reads a block's input one block ahead in a thread, runs its tiles through the model in
    batches that may span blocks and planes, blends and renders them.

    Parameters
    ----------
    image : array-like
        The opened input.
    net : ColorModel
        The model, on its device.
    plan : RunPlan
        The run's plan.

    Examples
    --------
    A stand-in model that predicts one colour (a*, b* = 5, 20) everywhere:

    >>> from napari_colorize.core.config import ColorizeConfig
    >>> from napari_colorize.core.intensity import IntensityWindow
    >>> from napari_colorize.core.plan import make_plan
    >>> from napari_colorize.models.spec import ColorModel, ModelSpec
    >>> class Sepia(torch.nn.Module):
    ...     def forward(self, lightness):
    ...         ones = torch.ones_like(lightness)
    ...         return torch.cat([5 * ones, 20 * ones, ones], dim=1)  # a, b, confidence
    >>> net = ColorModel(Sepia(), ModelSpec("sepia"))
    >>> gray = np.full((100, 150), 128, np.uint8)
    >>> config = ColorizeConfig(tile_size=64, overlap=16, block_size=128)
    >>> plan = make_plan(gray.shape, net.spec, IntensityWindow(0, 255), config)
    >>> events = list(BlockRunner(gray, net, plan).run((0, b) for b in plan.blocks))
    >>> [type(event).__name__ for event in events]
    ['TilesDone', 'BlockResult', 'BlockResult', 'TilesDone']
    >>> events[1].block.region, events[1].rgb.shape
    ((slice(0, 100, None), slice(0, 128, None)), (100, 128, 3))
    >>> events[1].rgb[0, 0]  # the input's lightness, the model's chroma
    array([149, 124,  94], dtype=uint8)
    """

    def __init__(self, image: Any, net: ColorModel, plan: RunPlan) -> None:
        self.image = image
        # a colour reference changes the model's head: every tile carries the lab's colours
        self.net = plan.reference.adapt(net) if plan.reference is not None else net
        self.plan = plan
        self.batch_size = plan.batch_size
        self.planes = plan.planes
        # On CUDA, blocks stay on the device from lightness to uint8 sRGB; elsewhere the CPU.
        self.device = net.device if net.device.type == "cuda" else torch.device("cpu")
        if self.device.type == "cpu":  # every batch reuses the last one's pages
            keep_freed_memory()

    def read(self, plane_no: int, block: Block) -> tuple[torch.Tensor, tuple[slice, slice]]:
        """Read the lightness of the window all of ``block``'s tiles read.

        Parameters
        ----------
        plane_no : int
            Flat plane number.
        block : Block
            A block of the plan.

        Returns
        -------
        lightness : torch.Tensor
            float32 ``(h, w)``, padded past the image's edge, on the runner's device.
        box : tuple of slice
            The window, in the padded plane.
        """
        box = self.plan.window_of(block)
        h, w = self.plan.shape[-2:]
        index: tuple[Any, ...] = (
            *self.planes[plane_no],
            slice(box[0].start, min(box[0].stop, h)), slice(box[1].start, min(box[1].stop, w)),
        )
        raw = read_plane(self.image, index)
        size = (box[0].stop - box[0].start, box[1].stop - box[1].start)
        if self.device.type == "cuda" and self.plan.window.is_uint8_identity(raw.dtype):
            # copy the 1-byte pixels and look lightness up on the GPU: 4x less to transfer
            codes = torch.from_numpy(writable(raw)).pin_memory()
            codes = codes.to(self.device, non_blocking=True)
            return pad_to(self._table()[codes.long()], size), box
        lightness = pad_to(to_lightness(raw, self.plan.window, plane_name(self.planes[plane_no])),
                           size)
        if self.device.type == "cuda":  # blending and conversion run on the GPU too
            lightness = lightness.pin_memory().to(self.device, non_blocking=True)
        return lightness, box

    def _table(self) -> torch.Tensor:
        if not hasattr(self, "_lut"):
            self._lut = torch.from_numpy(uint8_lightness_table()).to(self.device)
        return self._lut

    def inverse(self, block: Block) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Give the inverse taper weight sums of ``block``'s rows and columns.

        Parameters
        ----------
        block : Block
            A block of the plan.

        Returns
        -------
        tuple of torch.Tensor or None
            See :func:`axis_inverse_weight`; ``None`` with constant blending.
        """
        if self.plan.config.blending != "taper":
            return None
        # Keyed by the tiles' windows relative to the block, so the blocks of a huge plane share
        # a few geometries (interior, edges, corners) instead of one weight map per block.
        grid, overlap, device = self.plan.blocks, self.plan.config.overlap, str(self.device)

        def axis(span: slice, plan: AxisPlan, tiles: range) -> torch.Tensor:
            windows = tuple((a - span.start, b - span.start)
                            for a, b, *_ in (plan[i] for i in tiles))
            return _cached_inverse(span.stop - span.start, windows, overlap, device)

        return (axis(block.rows, grid.rows, block.tile_rows),
                axis(block.cols, grid.cols, block.tile_cols))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the model on a batch; on a GPU out of memory, halve the batch and go on.

        Parameters
        ----------
        x : torch.Tensor
            Lightness tiles ``(B, 1, h, w)``.

        Returns
        -------
        torch.Tensor
            The model's output channels (and the confidence, if asked for) ``(B, C, h, w)``.

        Raises
        ------
        torch.OutOfMemoryError
            A single tile does not fit.
        """
        try:
            return self.net(x, confidence=self.plan.config.confidence)[:, : self.plan.channels]
        except torch.OutOfMemoryError:
            if len(x) == 1:
                raise
            torch.cuda.empty_cache()
            self.batch_size = max(1, len(x) // 2)
            return torch.cat([self.forward(part) for part in x.split(self.batch_size)])

    def run(self, jobs: Iterable[tuple[int, Block]], buffer: Any = None) -> Iterator[Any]:
        """Compute blocks: yield :class:`TilesDone` per batch and :class:`BlockResult` per block.

        Parameters
        ----------
        jobs : iterable of (int, Block)
            ``(plane, block)`` pairs; a generator is consumed as blocks start.
        buffer : callable, optional
            ``buffer(index, region)`` gives a block's slot in the output to convert straight
            into (:meth:`Merger.buffer <napari_colorize.core.merge.Merger.buffer>`), or ``None``.

        Yields
        ------
        TilesDone or BlockResult
            The events, in order.
        """
        channels = self.plan.channels
        with ThreadPoolExecutor(1, thread_name_prefix="napari-colorize-read") as pool:
            read_jobs, tile_jobs = itertools.tee(jobs)
            reads = _prefetch(pool, self.read, read_jobs, depth=2)
            open_blocks: dict[int, list] = {}
            queue = ((j, job, tile) for j, job in enumerate(tile_jobs)
                     for tile in self.plan.block_tiles(job[1]))
            while True:
                batch = [item for _, item in zip(range(self.batch_size), queue, strict=False)]
                if not batch:
                    return
                for j, (_, block), _ in batch:
                    if j not in open_blocks:
                        lightness, box = next(reads)
                        blender = BlockBlender(block.region, channels, self.plan.config.overlap,
                                               self.inverse(block), self.device)
                        open_blocks[j] = [lightness, box, blender, 0]
                x = torch.stack([
                    open_blocks[j][0][relative(tile.read, open_blocks[j][1])]
                    for j, _, tile in batch
                ])[:, None]
                pred = self.forward(x).to(self.device)
                for (j, job, tile), y in zip(batch, pred, strict=True):
                    state = open_blocks[j]
                    state[2].add(tile, y)
                    state[3] += 1
                    if state[3] == job[1].n_tiles:
                        del open_blocks[j]
                        yield self.finish(*job, state[0], state[1], state[2], buffer)
                yield TilesDone(batch[-1][1][0], len(batch))

    def finish(self, plane_no: int, block: Block, lightness: torch.Tensor,
               box: tuple[slice, slice], blender: BlockBlender, buffer: Any) -> BlockResult:
        """Blend, correct by the hints and render one block whose tiles are all added.

        Parameters
        ----------
        plane_no : int
            Flat plane number.
        block : Block
            The block.
        lightness : torch.Tensor
            The lightness of ``box`` (from :meth:`read`).
        box : tuple of slice
            The window all of the block's tiles read.
        blender : BlockBlender
            The block's blended tiles.
        buffer : callable or None
            See :meth:`run`.

        Returns
        -------
        BlockResult
            The finished block.
        """
        pred = blender.result()
        target = buffer(self.planes[plane_no], block.region) if buffer is not None else None
        out = torch.from_numpy(target) if target is not None and self.device.type == "cpu" else None
        lightness = lightness[relative(block.region, box)]
        k = self.plan.outputs
        conf = pred[k].clamp(0, 1).cpu().numpy() if self.plan.config.confidence else None
        if self.plan.kind == "chroma":
            if self.plan.reference is not None:  # the lab's colours first, then local hints
                self.plan.reference.apply(lightness, pred[:2])
            if plane_no in self.plan.hints:
                origin = (block.rows.start, block.cols.start)
                self.plan.hints[plane_no].apply(lightness, pred[:2], origin)
            if self.plan.restain is not None:  # pointwise: tiles and blocks stay exact
                self.plan.restain.apply(lightness, pred[:2])
            rgb = lab_to_srgb_uint8(lightness, pred[0], pred[1], out=out)
            if rgb.device.type != "cpu":
                rgb = _to_host(rgb, target)
            return BlockResult(plane_no, block, rgb.numpy(), conf)
        maps = pred[:k].mul_(intensity_from_lightness(lightness)).cpu()
        composite = render_composite(maps, self.plan.palette)
        if target is not None:
            target[...] = composite
        kept = maps.numpy() if self.plan.config.channels else None
        return BlockResult(plane_no, block, composite, conf, kept)


def _to_host(rgb: torch.Tensor, target: np.ndarray | None) -> torch.Tensor:
    """Copy a GPU block to the host.

    Straight into a contiguous ``target``, else through pinned memory (a GPU copy into strided
    pageable memory is several times slower).
    """
    if target is not None and target.flags.c_contiguous:
        return torch.from_numpy(target).copy_(rgb)
    host = torch.empty(rgb.shape, dtype=torch.uint8, pin_memory=True).copy_(rgb)
    if target is not None:
        target[...] = host.numpy()
        return torch.from_numpy(target)
    return host


@functools.lru_cache(maxsize=16)  # per axis: first, interior and last blocks (vectors only)
def _cached_inverse(length: int, windows: tuple, overlap: int, device: str) -> torch.Tensor:
    """Compute :func:`axis_inverse_weight` of one axis of a block geometry, kept across runs.

    The geometry is the tile windows relative to the block.
    """
    return axis_inverse_weight(length, windows, overlap).to(device)


def _prefetch(pool: ThreadPoolExecutor, read, jobs, depth: int) -> Iterator[Any]:
    """``read(*job)`` for each job in order, up to ``depth`` jobs ahead in ``pool``."""
    pending: deque = deque()
    todo = iter(jobs)
    for job in itertools.islice(todo, depth):
        pending.append(pool.submit(read, *job))
    while pending:
        result = pending.popleft().result()
        for job in itertools.islice(todo, 1):
            pending.append(pool.submit(read, *job))
        yield result
