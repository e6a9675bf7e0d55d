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
from torch.nn import functional as F

from ..models.spec import ColorModel
from .blender import BlockBlender, axis_inverse_weight
from .color import lab_to_srgb_uint8, uint8_lightness_table, writable
from .intensity import to_lightness
from .plan import RunPlan
from .render import intensity_from_lightness, render_composite
from .tiling import AxisPlan, Block, relative


def read_plane(image: Any, index: tuple[Any, ...]) -> np.ndarray:
    try:
        return np.asarray(image[index])
    except Exception as exc:  # truncated files and broken stores surface here
        raise ValueError(f"cannot read plane {index}: {type(exc).__name__}: {exc}") from None


def plane_name(index: tuple[int, ...]) -> str:
    """How errors name plane ``index`` of the image (``"image"`` for a 2-D image)."""
    return f"image plane {index}" if index else "image"


def pad_to(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Pad a ``(H, W)`` plane at the bottom/right to at least ``shape`` (reflect where possible)."""
    ph, pw = max(0, shape[0] - x.shape[0]), max(0, shape[1] - x.shape[1])
    if not (ph or pw):
        return x
    mode = "reflect" if ph < x.shape[0] and pw < x.shape[1] else "replicate"
    return F.pad(x[None, None], (0, pw, 0, ph), mode=mode)[0, 0]


@dataclass(frozen=True)
class TilesDone:
    """A batch of tiles went through the model."""

    plane: int
    tiles: int


@dataclass
class BlockResult:
    """One finished block: sRGB and (optionally) confidence of ``block`` of plane ``plane``."""

    plane: int
    block: Block
    rgb: np.ndarray
    confidence: np.ndarray | None
    channels: np.ndarray | None = None


class BlockRunner:
    """Computes blocks of a run: reads their input (one block ahead, in a thread), runs their
    tiles through the model in batches that may span blocks and planes, blends and renders."""

    def __init__(self, image: Any, net: ColorModel, plan: RunPlan) -> None:
        self.image = image
        self.net = net
        self.plan = plan
        self.batch_size = plan.batch_size
        self.planes = plan.planes
        # On CUDA, blocks stay on the device from lightness to uint8 sRGB; elsewhere the CPU.
        self.device = net.device if net.device.type == "cuda" else torch.device("cpu")

    def read(self, plane_no: int, block: Block) -> tuple[torch.Tensor, tuple[slice, slice]]:
        """Lightness of the window all of ``block``'s tiles read, and that window."""
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
        """The model on a batch; on a GPU out of memory, halve the batch and go on."""
        try:
            return self.net(x, confidence=self.plan.config.confidence)[:, : self.plan.channels]
        except torch.OutOfMemoryError:
            if len(x) == 1:
                raise
            torch.cuda.empty_cache()
            self.batch_size = max(1, len(x) // 2)
            return torch.cat([self.forward(part) for part in x.split(self.batch_size)])

    def run(self, jobs: Iterable[tuple[int, Block]], buffer: Any = None) -> Iterator[Any]:
        """Yield :class:`TilesDone` after each batch and :class:`BlockResult` per block.

        ``jobs`` (``(plane, block)`` pairs) may be a generator: it is consumed as blocks start.
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

    def finish(self, plane_no, block, lightness, box, blender, buffer) -> BlockResult:
        pred = blender.result()
        target = buffer(self.planes[plane_no], block.region) if buffer is not None else None
        out = torch.from_numpy(target) if target is not None and self.device.type == "cpu" else None
        lightness = lightness[relative(block.region, box)]
        k = self.plan.outputs
        conf = pred[k].clamp(0, 1).cpu().numpy() if self.plan.config.confidence else None
        if self.plan.kind == "chroma":
            if plane_no in self.plan.hints:
                origin = (block.rows.start, block.cols.start)
                self.plan.hints[plane_no].apply(lightness, pred[:2], origin)
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
    """Copy a GPU block to the host: straight into a contiguous ``target``, else through pinned
    memory (a GPU copy into strided pageable memory is several times slower)."""
    if target is not None and target.flags.c_contiguous:
        return torch.from_numpy(target).copy_(rgb)
    host = torch.empty(rgb.shape, dtype=torch.uint8, pin_memory=True).copy_(rgb)
    if target is not None:
        target[...] = host.numpy()
        return torch.from_numpy(target)
    return host


@functools.lru_cache(maxsize=16)  # per axis: first, interior and last blocks (vectors only)
def _cached_inverse(length: int, windows: tuple, overlap: int, device: str) -> torch.Tensor:
    """:func:`axis_inverse_weight` of one axis of a block geometry (tile windows relative to
    the block), kept across blocks and runs."""
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


def auto_batch_size(net: ColorModel, tile_size: int) -> int:
    """Tiles per model call: 4 on CPU; on CUDA, what fits half the free memory (1-64)."""
    if net.device.type != "cuda":
        return 4
    torch.cuda.synchronize(net.device)
    free, _ = torch.cuda.mem_get_info(net.device)
    torch.cuda.reset_peak_memory_stats(net.device)
    base = torch.cuda.memory_allocated(net.device)
    net(torch.zeros(1, 1, tile_size, tile_size))
    per_tile = max(1, torch.cuda.max_memory_allocated(net.device) - base)
    return int(max(1, min(64, free // 2 // per_tile)))
