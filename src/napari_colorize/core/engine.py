"""The tile engine: ``iter_colorize`` (a generator of progress events) and ``colorize``.

Planes are the last two axes; leading axes (Z, T, ...) are iterated. Each plane is cut into
blocks (at most ``block_size`` a side; resume and scale-out work block by block). A block's
pixels are mapped to CIE lightness with one window for the whole stack, the overlapping tiles
touching it run through the model in batches (shared across blocks and planes), and are blended
and converted back to sRGB with the input's lightness kept (or, for channel models, rendered as
an additive composite). Colour hints correct the chroma pointwise before the conversion.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ..models.spec import ColorModel
from .blending import BLENDING_MODES
from .color import lab_to_srgb_uint8, uint8_lightness_table
from .events import Progress, drain
from .intensity import IntensityWindow, compute_window, to_lightness
from .merge import ArrayMerger, BlockBlender, Merger, OutArrayMerger, inverse_weight
from .render import intensity_from_lightness, parse_palette, render_composite
from .tiling import Block, TileSpec, bounding_box, plan_blocks, plan_tiles, relative
from .validation import check_image, check_store, check_tiling, zarr_name

#: Largest output region computed at once (pixels a side): bounds memory on huge planes. A GPU
#: gets larger blocks: fewer tiles computed twice on block edges, fewer host copies.
BLOCK_SIZE = 4096
GPU_BLOCK_SIZE = 8192


def connect(scheduler: Any) -> Any:
    from .distributed import connect as _connect

    return _connect(scheduler)


def check_outputs(spec: Any, channels: bool, palette: Any) -> np.ndarray | None:
    """The palette of a fractions model (``None`` for chroma models); refuses options the model
    cannot honour."""
    if spec.kind == "chroma":
        for name, value in (("channels=True", channels), ("palette", palette)):
            if value not in (False, None):
                raise ValueError(
                    f"{name} needs a model that predicts channels (e.g. fluorescence-composite); "
                    f"{spec.name} predicts colour (chroma)"
                )
        return None
    return parse_palette(spec.palette if palette is None else palette, spec.channel_names)


def check_input(image: Any) -> None:
    """:func:`check_image` and :func:`check_store`, naming a zarr array in the message."""
    try:
        check_image(image)
    except ValueError as exc:
        name = zarr_name(image)
        raise ValueError(f"{name}: {exc}" if name else str(exc)) from None
    check_store(image)


@dataclass(frozen=True)
class ColorizeConfig:
    """Tiling settings of one run."""

    tile_size: int = 512
    overlap: int = 64
    batch_size: int = 4
    blending: str = "taper"
    confidence: bool = False
    block_size: int = BLOCK_SIZE
    channels: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.block_size, bool) or not isinstance(self.block_size, int) or (
            self.block_size < 16
        ):
            raise ValueError(f"block_size must be an integer >= 16 pixels; got {self.block_size!r}")
        if self.blending not in BLENDING_MODES:
            raise ValueError(f"blending {self.blending!r} must be one of {BLENDING_MODES}")


def open_image(image: Any) -> Any:
    """Accept a path (read lazily) or any array-like with ``shape``/``dtype`` and slicing."""
    if isinstance(image, (str, Path)):
        from ..io.readers import channel_axis, read_image

        found = channel_axis(image)
        if found:
            axis, n = found
            raise ValueError(
                f"{image} has {n} channels (axis {axis}); colorize expects one grayscale "
                f"channel: pick one (e.g. image.take(0, axis={axis})) or sum them "
                f"(image.sum(axis={axis}))"
            )
        return read_image(image)
    if not hasattr(image, "shape") or not hasattr(image, "dtype"):
        image = np.asarray(image)
    return image


def resolve_model(model: Any, device: str | torch.device | None) -> ColorModel:
    """A ready :class:`ColorModel` from a name, path, ``None`` (default) or a model object."""
    from ..models.registry import load_model, resolve_device

    if model is None or isinstance(model, (str, Path)):
        return load_model(model, device=str(resolve_device(device)))
    if device is not None and str(device) != "auto" and hasattr(model, "to"):
        model.to(resolve_device(device))
    return model


def _read_plane(image: Any, index: tuple[int, ...]) -> np.ndarray:
    try:
        return np.asarray(image[index])
    except Exception as exc:  # truncated files and broken stores surface here
        raise ValueError(f"cannot read plane {index}: {type(exc).__name__}: {exc}") from None


def _pad_to(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Pad a ``(H, W)`` plane at the bottom/right to at least ``shape`` (reflect where possible)."""
    ph, pw = max(0, shape[0] - x.shape[0]), max(0, shape[1] - x.shape[1])
    if not (ph or pw):
        return x
    mode = "reflect" if ph < x.shape[0] and pw < x.shape[1] else "replicate"
    return F.pad(x[None, None], (0, pw, 0, ph), mode=mode)[0, 0]


def _tile_shape(plane: tuple[int, int], tile_size: int, divisor: int, min_tile: int) -> tuple:
    """Per-axis tile size: ``tile_size``, or the plane rounded up to the divisor if smaller."""
    return tuple(
        tile_size if n >= tile_size else max(min_tile, math.ceil(n / divisor) * divisor) for n in plane
    )


@dataclass(frozen=True)
class RunPlan:
    """Everything a process needs to compute any block of a run (picklable for dask workers)."""

    shape: tuple[int, ...]
    tiles: tuple[TileSpec, ...]
    blocks: tuple[Block, ...]
    padded: tuple[int, int]
    window: IntensityWindow
    config: ColorizeConfig
    kind: str = "chroma"
    outputs: int = 2
    palette: tuple = ()
    hints: dict = field(default_factory=dict)  # plane number -> HintField

    @property
    def planes(self) -> list[tuple[int, ...]]:
        return list(np.ndindex(*self.shape[:-2]))

    @property
    def channels(self) -> int:
        """Model channels blended per block: the outputs, and the confidence if asked for."""
        return self.outputs + int(self.config.confidence)

    def key(self, plane_no: int, block: Block) -> str:
        """Name of one block of one plane (resume markers)."""
        return f"{plane_no}-{block.key}"


def make_plan(
    image: Any, spec: Any, window: IntensityWindow, config: ColorizeConfig, palette: Any = None
) -> RunPlan:
    shape = tuple(int(s) for s in image.shape)
    plane = shape[-2:]
    tile = _tile_shape(plane, config.tile_size, spec.divisor, spec.min_tile)
    padded = (max(plane[0], tile[0]), max(plane[1], tile[1]))
    tiles = plan_tiles(padded, tile, config.overlap)
    blocks = plan_blocks(plane, tiles, config.block_size, constant=config.blending == "constant")
    return RunPlan(shape, tuple(tiles), tuple(blocks), padded, window, config, spec.kind,
                   spec.channels, tuple(map(tuple, palette)) if palette is not None else ())


def _make_merger(out: Any, plan: RunPlan, meta: dict, overwrite: bool, resume: bool):
    shape = plan.shape
    n_maps = plan.outputs if plan.config.channels else 0
    if out is None:
        return ArrayMerger(shape, plan.config.confidence, n_maps)
    if isinstance(out, (str, Path)):
        from ..io.writers import OmeZarrMerger, output_kind

        if output_kind(out) != "zarr":
            raise ValueError(f"out={out} must be a .zarr/.ome.zarr path; write TIFF/PNG with the CLI")
        return OmeZarrMerger(out, shape, confidence=plan.config.confidence, metadata=meta,
                             overwrite=overwrite, resume=resume,
                             block_size=plan.config.block_size,
                             channels=meta.get("channels") if n_maps else None)
    if resume:
        raise ValueError("resume=True needs out= an OME-Zarr path (it records finished blocks)")
    return OutArrayMerger(out, shape, plan.config.confidence, n_maps)


def iter_colorize(
    image: Any,
    model: Any = None,
    *,
    tile_size: int = 512,
    overlap: int = 64,
    batch_size: int | str = 4,
    device: str = "auto",
    out: Any = None,
    contrast_limits: tuple[float, float] | None = None,
    confidence: bool = False,
    blending: str = "taper",
    overwrite: bool = False,
    resume: bool = False,
    scheduler: Any = None,
    block_size: int | str = "auto",
    channels: bool = False,
    palette: Any = None,
    hints: Any = None,
) -> Generator[Progress, None, Any]:
    """Colorize tile by tile, yielding :class:`Progress` after each batch; returns the result.

    Takes the arguments of :func:`colorize`. Closing the generator cancels the run at the next
    batch and discards partial output (kept, and resumable, when ``resume=True``).

    Examples
    --------
    >>> gen = iter_colorize(np.zeros((512, 512), np.uint8))  # doctest: +SKIP
    >>> for event in gen:
    ...     print(event.done, event.total)
    """
    source = image
    image = open_image(image)
    check_input(image)
    net = resolve_model(model, device)
    spec = net.spec
    batch_size = auto_batch_size(net, tile_size) if batch_size == "auto" else batch_size
    if block_size == "auto":
        block_size = GPU_BLOCK_SIZE if net.device.type == "cuda" else BLOCK_SIZE
    config = ColorizeConfig(tile_size, overlap, batch_size, blending, confidence, block_size,
                            channels)
    check_tiling(tile_size, overlap, batch_size, spec.min_tile, spec.divisor)
    colours = check_outputs(spec, channels, palette)
    window = compute_window(image, contrast_limits)
    plan = make_plan(image, spec, window, config, colours)
    meta = {
        "model": spec.name, "model_version": spec.version,
        "settings": {"tile_size": tile_size, "overlap": overlap, "blending": blending,
                     "block_size": block_size},
        "window": [window.low, window.high],
    }
    if colours is not None:
        meta["channels"] = {"names": list(spec.channel_names),
                            "palette": [[round(float(v), 4) for v in c] for c in colours]}
    message = ""
    if hints is not None:
        plan, ignored, parsed = _with_hints(image, net, plan, hints)
        meta["hints"] = parsed.to_metadata()
        message = f"{ignored} of {len(parsed)} hints outside the image ignored" if ignored else ""
    client = connect(scheduler) if scheduler is not None else None  # fails before any write
    try:
        merger: Merger = _make_merger(out, plan, meta, overwrite, resume)
    except BaseException:
        if client is not None and isinstance(scheduler, str):
            client.close()
        raise
    planes = plan.planes
    finished = merger.completed() if hasattr(merger, "completed") else set()
    jobs = [(p, b) for p in range(len(planes)) for b in plan.blocks
            if plan.key(p, b) not in finished]
    total = sum(len(b.tiles) for b in plan.blocks) * len(planes)
    done = total - sum(len(b.tiles) for _, b in jobs)
    try:
        if client is not None:
            from .distributed import run_distributed

            shipped = source if isinstance(source, (str, Path)) else image
            events = run_distributed(client, shipped, model, net, plan, jobs)
        else:
            events = BlockRunner(image, net, plan).run(jobs, getattr(merger, "buffer", None))
        for event in events:
            if isinstance(event, BlockResult):
                merger.write(planes[event.plane], event.block.region, event.rgb, event.confidence,
                             event.channels)
                if hasattr(merger, "mark_done"):
                    merger.mark_done(plan.key(event.plane, event.block))
                continue
            done += event.tiles
            yield Progress(done, total, event.plane, len(planes), message)
        return merger.finalize()
    except (GeneratorExit, ValueError):  # cancelled, or bad input found part-way
        if not resume:
            merger.discard()
        raise
    except BaseException:
        # Interrupts and system errors (Ctrl-C, a full disk) keep a zarr output resumable.
        if not hasattr(merger, "mark_done"):
            merger.discard()
        raise
    finally:
        if client is not None and isinstance(scheduler, str):
            client.close()  # a client this run opened from an address


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
        self.batch_size = plan.config.batch_size
        self.planes = plan.planes
        self._inverse: dict[tuple, torch.Tensor] = {}
        # On CUDA, blocks stay on the device from lightness to uint8 sRGB; elsewhere the CPU.
        self.device = net.device if net.device.type == "cuda" else torch.device("cpu")

    def read(self, plane_no: int, block: Block) -> tuple[torch.Tensor, tuple[slice, slice]]:
        """Lightness of the window all of ``block``'s tiles read, and that window."""
        tiles = self.plan.tiles
        box = bounding_box([tiles[i].read for i in block.tiles])
        h, w = self.plan.shape[-2:]
        inside = (slice(box[0].start, min(box[0].stop, h)), slice(box[1].start, min(box[1].stop, w)))
        raw = _read_plane(self.image, self.planes[plane_no] + inside)
        size = (box[0].stop - box[0].start, box[1].stop - box[1].start)
        if self.device.type == "cuda" and self.plan.window.is_uint8_identity(raw.dtype):
            # copy the 1-byte pixels and look lightness up on the GPU: 4x less to transfer
            raw = torch.from_numpy(np.ascontiguousarray(raw)).pin_memory()
            raw = raw.to(self.device, non_blocking=True)
            return _pad_to(self._table()[raw.long()], size), box
        lightness = _pad_to(to_lightness(raw, self.plan.window), size)
        if self.device.type == "cuda":  # blending and conversion run on the GPU too
            lightness = lightness.pin_memory().to(self.device, non_blocking=True)
        return lightness, box

    def _table(self) -> torch.Tensor:
        if not hasattr(self, "_lut"):
            self._lut = torch.from_numpy(uint8_lightness_table()).to(self.device)
        return self._lut

    def inverse(self, block: Block) -> torch.Tensor | None:
        if self.plan.config.blending != "taper":
            return None
        key = (block.rows.start, block.rows.stop, block.cols.start, block.cols.stop)
        if key not in self._inverse:
            reads = tuple((t.read[0].start, t.read[0].stop, t.read[1].start, t.read[1].stop)
                          for t in (self.plan.tiles[i] for i in block.tiles))
            weight = _cached_inverse(key, reads, self.plan.config.overlap, str(self.device))
            self._inverse[key] = weight
        return self._inverse[key]

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

    def run(self, jobs: list[tuple[int, Block]], buffer: Any = None) -> Iterator[Any]:
        """Yield :class:`TilesDone` after each batch and :class:`BlockResult` per block."""
        channels, tiles = self.plan.channels, self.plan.tiles
        with ThreadPoolExecutor(1, thread_name_prefix="napari-colorize-read") as pool:
            reads = _prefetch(pool, self.read, jobs, depth=2)
            open_blocks: dict[int, list] = {}
            queue = ((j, t) for j in range(len(jobs)) for t in jobs[j][1].tiles)
            while True:
                batch = [job for _, job in zip(range(self.batch_size), queue, strict=False)]
                if not batch:
                    return
                for j, _ in batch:
                    if j not in open_blocks:
                        lightness, box = next(reads)
                        block = jobs[j][1]
                        blender = BlockBlender(block.region, channels, self.plan.config.overlap,
                                               self.inverse(block), self.device)
                        open_blocks[j] = [lightness, box, blender, 0]
                x = torch.stack([
                    open_blocks[j][0][relative(tiles[t].read, open_blocks[j][1])] for j, t in batch
                ])[:, None]
                pred = self.forward(x).to(self.device)
                for (j, t), y in zip(batch, pred, strict=True):
                    state = open_blocks[j]
                    state[2].add(tiles[t], y)
                    state[3] += 1
                    if state[3] == len(jobs[j][1].tiles):
                        del open_blocks[j]
                        yield self.finish(*jobs[j], state[0], state[1], state[2], buffer)
                yield TilesDone(jobs[batch[-1][0]][0], len(batch))

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
        rgb = render_composite(maps, self.plan.palette)
        if target is not None:
            target[...] = rgb
        maps = maps.numpy() if self.plan.config.channels else None
        return BlockResult(plane_no, block, rgb, conf, maps)


def _with_hints(image: Any, net: ColorModel, plan: RunPlan, hints: Any) -> tuple:
    """The plan with each plane's :class:`HintField`; also the count of ignored hints."""
    from .hints import hint_fields, parse_hints, split_by_plane

    if plan.kind != "chroma":
        raise ValueError(f"hints need a colour (chroma) model; {net.spec.name} predicts channels")
    parsed = parse_hints(hints, len(plan.shape))
    by_plane, ignored = split_by_plane(parsed, plan.shape)
    planes = plan.planes
    tile = tuple(s.stop - s.start for s in plan.tiles[0].read)

    def predict(plane_no: int, row: int, col: int, size: tuple[int, int]):
        # a window centred on the hint, inside the (padded) plane: independent of the tiling
        r0 = min(max(0, row - size[0] // 2), plan.padded[0] - size[0])
        c0 = min(max(0, col - size[1] // 2), plan.padded[1] - size[1])
        h, w = plan.shape[-2:]
        raw = _read_plane(image, planes[plane_no] + (slice(r0, min(r0 + size[0], h)),
                                                      slice(c0, min(c0 + size[1], w))))
        lightness = _pad_to(to_lightness(raw, plan.window), size)
        ab = net(lightness[None, None], confidence=False)[0, :2].cpu()
        return lightness, ab, (row - r0, col - c0)

    fields = hint_fields(by_plane, predict, tile)
    return replace(plan, hints=fields), ignored, parsed


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


@functools.lru_cache(maxsize=16)
def _cached_inverse(region: tuple, reads: tuple, overlap: int, device: str) -> torch.Tensor:
    """:func:`inverse_weight` of a block geometry, kept across runs (a preview or a stack of
    same-sized images reuses it)."""
    tiles = [TileSpec((slice(a, b), slice(c, d)), (slice(a, b), slice(c, d)))
             for a, b, c, d in reads]
    block = (slice(region[0], region[1]), slice(region[2], region[3]))
    return inverse_weight(block, tiles, overlap).to(device)


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


def colorize(
    image: Any,
    model: Any = None,
    *,
    tile_size: int = 512,
    overlap: int = 64,
    batch_size: int | str = 4,
    device: str = "auto",
    out: Any = None,
    contrast_limits: tuple[float, float] | None = None,
    confidence: bool = False,
    blending: str = "taper",
    overwrite: bool = False,
    resume: bool = False,
    scheduler: Any = None,
    block_size: int | str = "auto",
    channels: bool = False,
    palette: Any = None,
    hints: Any = None,
) -> Any:
    """Colorize a grayscale image or stack; returns RGB uint8 shaped ``image.shape + (3,)``.

    Parameters
    ----------
    image : array-like or path
        numpy, dask or zarr array (planes are the last two axes), or a TIFF/OME-TIFF/SVS, zarr,
        PNG or JPEG file.
    model : str, path or ColorModel, optional
        Model name (see :func:`list_models`), weights path, or loaded model; default H&E model.
    tile_size, overlap : int
        Tile side and overlap between neighbouring tiles, in pixels.
    batch_size : int or "auto"
        Tiles per model call; ``"auto"`` sizes batches from free GPU memory (4 on CPU).
    device : str
        ``"auto"`` (cuda > mps > cpu), ``"cpu"``, ``"cuda"``, ...
    out : path or array, optional
        Write into an OME-Zarr at this path (returns the zarr array, channel-first per NGFF) or
        into a zarr or numpy array shaped ``image.shape + (3,)``, uint8, block by block.
    contrast_limits : (low, high), optional
        Intensity window; default identity for uint8, else a percentile window of the stack.
    confidence : bool
        Also return a float32 confidence map in [0, 1] shaped like ``image``.
    blending : {"taper", "constant"}
        Weighted blending of overlaps, or each pixel from the one tile that owns it.
    overwrite : bool
        Replace an existing ``out`` path.
    resume : bool
        Continue an interrupted run into the same OME-Zarr ``out`` (same image and settings);
        finished blocks are kept, the rest computed. The result is byte-identical to an
        uninterrupted run. An interrupted ``resume=True`` run keeps its partial output.
    scheduler : dask.distributed.Client or str, optional
        Spread blocks over a dask cluster (a Client, or a scheduler address such as
        ``"tcp://host:8786"``). Each worker loads the model once; results are identical.
    block_size : int or "auto"
        Largest output region computed at once (pixels a side); planes up to this size are one
        block. Bounds memory on huge planes; resume and scale-out work block by block. ``"auto"``:
        4096 on the CPU, 8192 on CUDA.
    channels : bool
        With a model that predicts channels (``fluorescence-composite``): also return the
        per-channel maps, float32 ``(K, *image.shape)`` in [0, 1] (with ``out`` a path, written
        beside it as ``x.channels.ome.zarr``). Re-colour them with :func:`render_composite`.
    palette : list, optional
        Colour per channel for such models (names, ``#rrggbb`` or RGB); default the model's.
    hints : (points, colours), dict or CSV path, optional
        Colour hints: points in data coordinates (``(N, image.ndim)``: plane indices, row,
        column) and the sRGB colour wanted there (0-1 or 0-255). Each hint recolours the
        structure it sits on nearby and, more weakly, wherever that structure appears in its
        plane. Points outside the image are ignored (counted in the progress message). The
        hints are stored in an OME-Zarr result's metadata.

    Returns
    -------
    rgb, (rgb, confidence), (rgb, channels) or (rgb, channels, confidence)

    Examples
    --------
    >>> rgb = colorize(gray)  # doctest: +SKIP
    >>> rgb, conf = colorize("slide.svs", confidence=True)  # doctest: +SKIP
    """
    return drain(iter_colorize(
        image, model, tile_size=tile_size, overlap=overlap, batch_size=batch_size, device=device,
        out=out, contrast_limits=contrast_limits, confidence=confidence, blending=blending,
        overwrite=overwrite, resume=resume, scheduler=scheduler, block_size=block_size,
        channels=channels, palette=palette, hints=hints,
    ))
