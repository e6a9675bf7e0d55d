"""The tile engine: ``iter_colorize`` (a generator of progress events) and ``colorize``.

Planes are the last two axes; leading axes (Z, T, ...) are iterated. Each plane is cut into
blocks (at most ``block_size`` a side; resume and scale-out work block by block). A block's
pixels are mapped to CIE lightness with one window for the whole stack, the overlapping tiles
touching it run through the model in batches (shared across blocks and planes), and are blended
and converted back to sRGB with the input's lightness kept (or, for channel models, rendered as
an additive composite). Colour hints correct the chroma pointwise before the conversion.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..models.spec import ColorModel, ModelSpec
from .blending import BLENDING_MODES
from .blocks import (
    BlockResult,
    BlockRunner,
    RunPlan,
    auto_batch_size,
    make_plan,
    pad_to,
    plane_name,
    read_plane,
)
from .events import Progress, drain
from .intensity import compute_window, to_lightness
from .merge import ArrayMerger, Merger, OutArrayMerger
from .outputs import check_targets, input_fingerprint
from .render import parse_palette
from .validation import check_image, check_store, check_tiling, zarr_name

#: Largest output region computed at once (pixels a side): bounds memory on huge planes. A GPU
#: gets larger blocks: fewer tiles computed twice on block edges, fewer host copies.
BLOCK_SIZE = 4096
GPU_BLOCK_SIZE = 8192
#: Largest block side accepted: a block's accumulators are held in memory at once.
MAX_BLOCK_SIZE = 16384


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
        if isinstance(self.block_size, bool) or not isinstance(self.block_size, int) or not (
            16 <= self.block_size <= MAX_BLOCK_SIZE
        ):
            raise ValueError(f"block_size must be an integer from 16 to {MAX_BLOCK_SIZE} pixels or "
                             f"'auto'; got {self.block_size!r}")
        for name in ("confidence", "channels"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False; got {getattr(self, name)!r}")
        if not isinstance(self.blending, str) or self.blending not in BLENDING_MODES:
            raise ValueError(f"blending {self.blending!r} must be one of {BLENDING_MODES}")


def open_image(image: Any, *, from_rgb: bool = False) -> Any:
    """Accept a path (read lazily) or any array-like with ``shape``/``dtype`` and slicing; with
    ``from_rgb`` an RGB(A) image's lightness (see :func:`napari_colorize.io.readers.open_image`)."""
    from ..io.readers import open_image as _open_image

    return _open_image(image, from_rgb=from_rgb)


def resolve_model(model: Any, device: str | torch.device | None) -> ColorModel:
    """A ready :class:`ColorModel` from a name, path, ``None`` (default) or a model object."""
    from ..models.registry import load_model, resolve_device

    if model is None or isinstance(model, (str, Path)):
        return load_model(model, device=str(resolve_device(device)))
    if not (isinstance(getattr(model, "spec", None), ModelSpec) and callable(model)):
        raise TypeError(
            f"model must be a model name (see list_models()), a path to a model card or "
            f"weights, or a loaded model; got {type(model).__name__}"
        )
    if device is not None and str(device) != "auto" and hasattr(model, "to"):
        model.to(resolve_device(device))
    return model


def _make_merger(out: Any, plan: RunPlan, meta: dict, overwrite: bool, resume: bool):
    shape = plan.shape
    n_maps = plan.outputs if plan.config.channels else 0
    if out is None:
        return ArrayMerger(shape, plan.config.confidence, n_maps)
    if isinstance(out, (str, Path)):
        from ..io.ngff import OmeZarrMerger

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
    from_rgb: bool = False,
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
    image = open_image(image, from_rgb=from_rgb)
    check_input(image)
    # With a cluster the workers pick their own device; here the model only plans the run
    # (a model object is left where it is).
    net = resolve_model(model, device if scheduler is None else None)
    spec = net.spec
    # outputs distinct from the input, writable, fitting in memory: before the model runs
    check_targets(source, image, out, confidence=bool(confidence),
                  n_maps=spec.channels if channels and spec.kind != "chroma" else 0)
    auto = batch_size == "auto"
    check_tiling(tile_size, overlap, 1 if auto else batch_size, spec.min_tile, spec.divisor)
    batch_size = auto_batch_size(net, tile_size) if auto else batch_size  # runs the model
    if block_size == "auto":
        block_size = GPU_BLOCK_SIZE if net.device.type == "cuda" else BLOCK_SIZE
    config = ColorizeConfig(tile_size, overlap, batch_size, blending, confidence, block_size,
                            channels)
    colours = check_outputs(spec, channels, palette)
    window = compute_window(image, contrast_limits)
    plan = make_plan(image, spec, window, config, colours)
    meta = {
        "model": spec.name, "model_version": spec.version,
        "settings": {"tile_size": tile_size, "overlap": overlap, "blending": blending,
                     "block_size": block_size, "confidence": confidence},
        "window": [window.low, window.high],
    }
    if isinstance(out, (str, Path)):  # a resume must read the same image
        meta["input"] = {"sha256": input_fingerprint(image)}
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
    try:
        if merger.complete:  # resuming a finished run: nothing left to do
            return _legacy(merger.result())
        planes = plan.planes
        finished = merger.completed()
        # blocks are made as the run reaches them: planning is not a pass over a huge plane
        jobs = ((p, b) for p in range(len(planes)) for b in plan.blocks
                if plan.key(p, b) not in finished)
        total = plan.blocks.n_tiles * len(planes)
        done = sum(plan.tiles_of_key(key) for key in finished)
        if client is not None:
            from .distributed import run_distributed

            shipped = source if isinstance(source, (str, Path)) and not from_rgb else image
            events = run_distributed(client, shipped, model, net, plan, jobs, device)
        else:
            events = BlockRunner(image, net, plan).run(jobs, merger.buffer)
        for event in events:
            if isinstance(event, BlockResult):
                merger.write(planes[event.plane], event.block.region, event.rgb, event.confidence,
                             event.channels)
                merger.mark_done(plan.key(event.plane, event.block))
                continue
            done += event.tiles
            yield Progress(done, total, event.plane, len(planes), message)
        return _legacy(merger.finalize())
    except (GeneratorExit, ValueError):  # cancelled, or bad input found part-way
        if not resume:
            merger.discard()
        raise
    except BaseException:
        # Interrupts and system errors (Ctrl-C, a full disk) keep a zarr output resumable.
        if not merger.keeps_partial:
            merger.discard()
        raise
    finally:
        merger.close()  # a kept output no longer held: another run may resume it
        if client is not None and isinstance(scheduler, str):
            client.close()  # a client this run opened from an address


def _legacy(outputs):
    extra = [x for x in (outputs.channels, outputs.confidence) if x is not None]
    return (outputs.rgb, *extra) if extra else outputs.rgb


def _with_hints(image: Any, net: ColorModel, plan: RunPlan, hints: Any) -> tuple:
    """The plan with each plane's :class:`HintField`; also the count of ignored hints."""
    from .hints import hint_fields, parse_hints, split_by_plane

    if plan.kind != "chroma":
        raise ValueError(f"hints need a colour (chroma) model; {net.spec.name} predicts channels")
    parsed = parse_hints(hints, len(plan.shape))
    by_plane, ignored = split_by_plane(parsed, plan.shape)
    planes = plan.planes
    tile = plan.tile_shape

    def predict(plane_no: int, row: int, col: int, size: tuple[int, int]):
        # a window centred on the hint, inside the (padded) plane: independent of the tiling
        r0 = min(max(0, row - size[0] // 2), plan.padded[0] - size[0])
        c0 = min(max(0, col - size[1] // 2), plan.padded[1] - size[1])
        h, w = plan.shape[-2:]
        raw = read_plane(image, planes[plane_no] + (slice(r0, min(r0 + size[0], h)),
                                                      slice(c0, min(c0 + size[1], w))))
        lightness = pad_to(to_lightness(raw, plan.window, plane_name(planes[plane_no])), size)
        ab = net(lightness[None, None], confidence=False)[0, :2].cpu()
        return lightness, ab, (row - r0, col - c0)

    fields = hint_fields(by_plane, predict, tile)
    return replace(plan, hints=fields), ignored, parsed


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
    from_rgb: bool = False,
) -> Any:
    """Colorize a grayscale image or stack; returns RGB uint8 shaped ``image.shape + (3,)``.

    Parameters
    ----------
    image : array-like or path
        numpy, dask or zarr array (planes are the last two axes), or a TIFF/OME-TIFF/SVS, zarr,
        PNG or JPEG file. A ``(3, H, W)`` array is a stack of three gray planes; colour input is
        channel-last ``(H, W, 3)`` (see ``from_rgb``).
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
    from_rgb : bool
        Colorize an RGB(A) image (last axis 3 or 4; uint8, uint16 or float) by its CIE
        lightness L*: re-stains a colour slide in the model's colours, or compares the model
        with the true colour. Converted region by region (lazy); the result keeps the input's
        lightness. Without it, RGB input is refused.

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
        channels=channels, palette=palette, hints=hints, from_rgb=from_rgb,
    ))
