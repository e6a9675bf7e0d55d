"""The tile engine: ``iter_colorize`` (a generator of progress events) and ``colorize``.

Planes are the last two axes; leading axes (Z, T, ...) are iterated. Each plane is mapped to CIE
lightness with one window for the whole stack, cut into overlapping tiles, run through the model
in batches (tiles of consecutive planes share batches), blended, and converted back to sRGB with
the input's lightness kept.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ..models.spec import ColorModel
from .blending import BLENDING_MODES
from .color import lab_to_srgb_uint8
from .events import Progress, drain
from .intensity import IntensityWindow, compute_window, to_lightness
from .merge import ArrayMerger, Merger, OutArrayMerger, PlaneBlender, inverse_weight
from .tiling import TileSpec, plan_tiles
from .validation import check_image, check_tiling


@dataclass(frozen=True)
class ColorizeConfig:
    """Tiling settings of one run."""

    tile_size: int = 512
    overlap: int = 64
    batch_size: int = 4
    blending: str = "taper"
    confidence: bool = False

    def __post_init__(self) -> None:
        if self.blending not in BLENDING_MODES:
            raise ValueError(f"blending {self.blending!r} must be one of {BLENDING_MODES}")


def open_image(image: Any) -> Any:
    """Accept a path (read lazily) or any array-like with ``shape``/``dtype`` and slicing."""
    if isinstance(image, (str, Path)):
        from ..io.readers import read_image

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


def _make_merger(out: Any, shape: tuple[int, ...], confidence: bool, meta: dict, overwrite: bool):
    if out is None:
        return ArrayMerger(shape, confidence)
    if isinstance(out, (str, Path)):
        from ..io.writers import OmeZarrMerger, output_kind

        if output_kind(out) != "zarr":
            raise ValueError(f"out={out} must be a .zarr/.ome.zarr path; write TIFF/PNG with the CLI")
        return OmeZarrMerger(out, shape, confidence=confidence, metadata=meta, overwrite=overwrite)
    return OutArrayMerger(out, shape, confidence)


def iter_colorize(
    image: Any,
    model: Any = None,
    *,
    tile_size: int = 512,
    overlap: int = 64,
    batch_size: int = 4,
    device: str = "auto",
    out: Any = None,
    contrast_limits: tuple[float, float] | None = None,
    confidence: bool = False,
    blending: str = "taper",
    overwrite: bool = False,
) -> Generator[Progress, None, Any]:
    """Colorize tile by tile, yielding :class:`Progress` after each batch; returns the result.

    Takes the arguments of :func:`colorize`. Closing the generator cancels the run at the next
    batch and discards partial output.

    Examples
    --------
    >>> gen = iter_colorize(np.zeros((512, 512), np.uint8))  # doctest: +SKIP
    >>> for event in gen:
    ...     print(event.done, event.total)
    """
    config = ColorizeConfig(tile_size, overlap, batch_size, blending, confidence)
    image = open_image(image)
    check_image(image)
    net = resolve_model(model, device)
    spec = net.spec
    check_tiling(tile_size, overlap, batch_size, spec.min_tile, spec.divisor)
    window = compute_window(image, contrast_limits)
    shape = tuple(int(s) for s in image.shape)
    plane_shape = shape[-2:]
    tile = _tile_shape(plane_shape, tile_size, spec.divisor, spec.min_tile)
    padded = (max(plane_shape[0], tile[0]), max(plane_shape[1], tile[1]))
    tiles = plan_tiles(padded, tile, overlap)
    planes = list(np.ndindex(*shape[:-2]))
    total = len(tiles) * len(planes)
    meta = {
        "model": spec.name, "model_version": spec.version,
        "settings": {"tile_size": tile_size, "overlap": overlap, "blending": blending},
        "window": [window.low, window.high],
    }
    merger: Merger = _make_merger(out, shape[:-2] + plane_shape, confidence, meta, overwrite)
    try:
        done = 0
        for plane_no, n_tiles in _run(image, planes, tiles, net, window, config, padded, merger):
            done += n_tiles
            yield Progress(done, total, plane_no, len(planes))
        return merger.finalize()
    except BaseException:
        merger.discard()
        raise


def _run(
    image: Any,
    planes: list[tuple[int, ...]],
    tiles: list[TileSpec],
    net: ColorModel,
    window: IntensityWindow,
    config: ColorizeConfig,
    padded: tuple[int, int],
    merger: Merger,
) -> Iterator[tuple[int, int]]:
    """Run all tiles of all planes in batches; yields ``(plane, tiles_done_in_batch)``."""
    channels = 3 if config.confidence else 2
    inv = inverse_weight(padded, tiles, config.overlap) if config.blending == "taper" else None
    open_planes: dict[int, tuple[torch.Tensor, PlaneBlender, int]] = {}
    jobs = ((p, t) for p in range(len(planes)) for t in range(len(tiles)))
    while True:
        batch = [job for _, job in zip(range(config.batch_size), jobs, strict=False)]
        if not batch:
            return
        for p, _ in batch:
            if p not in open_planes:
                raw = _read_plane(image, planes[p])
                lightness = _pad_to(to_lightness(raw, window), padded)
                blender = PlaneBlender(padded, channels, config.overlap, inv)
                open_planes[p] = (lightness, blender, 0)
        x = torch.stack([open_planes[p][0][tiles[t].read] for p, t in batch])[:, None]
        pred = net(x, confidence=config.confidence)[:, :channels].cpu()
        for (p, t), y in zip(batch, pred, strict=True):
            lightness, blender, count = open_planes[p]
            blender.add(tiles[t], y)
            open_planes[p] = (lightness, blender, count + 1)
            if count + 1 == len(tiles):
                _finish_plane(planes[p], open_planes.pop(p), image.shape[-2:], merger, channels)
        yield batch[-1][0], len(batch)


def _finish_plane(index, state, plane_shape, merger: Merger, channels: int) -> None:
    lightness, blender, _ = state
    h, w = plane_shape
    pred = blender.result()[:, :h, :w]
    buffer = merger.buffer(index) if hasattr(merger, "buffer") else None
    out = torch.from_numpy(buffer) if buffer is not None else None
    rgb = lab_to_srgb_uint8(lightness[:h, :w], pred[0], pred[1], out=out).numpy()
    conf = pred[2].clamp(0, 1).numpy() if channels == 3 else None
    merger.write(index, rgb, conf)


def colorize(
    image: Any,
    model: Any = None,
    *,
    tile_size: int = 512,
    overlap: int = 64,
    batch_size: int = 4,
    device: str = "auto",
    out: Any = None,
    contrast_limits: tuple[float, float] | None = None,
    confidence: bool = False,
    blending: str = "taper",
    overwrite: bool = False,
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
    batch_size : int
        Tiles per model call.
    device : str
        ``"auto"`` (cuda > mps > cpu), ``"cpu"``, ``"cuda"``, ...
    out : path or array, optional
        Write into an OME-Zarr at this path (returns the zarr array, channel-first per NGFF) or
        into a zarr or numpy array shaped ``image.shape + (3,)``, uint8, plane by plane.
    contrast_limits : (low, high), optional
        Intensity window; default identity for uint8, else a percentile window of the stack.
    confidence : bool
        Also return a float32 confidence map in [0, 1] shaped like ``image``.
    blending : {"taper", "constant"}
        Weighted blending of overlaps, or each pixel from the one tile that owns it.
    overwrite : bool
        Replace an existing ``out`` path.

    Returns
    -------
    rgb or (rgb, confidence)

    Examples
    --------
    >>> rgb = colorize(gray)  # doctest: +SKIP
    >>> rgb, conf = colorize("slide.svs", confidence=True)  # doctest: +SKIP
    """
    return drain(iter_colorize(
        image, model, tile_size=tile_size, overlap=overlap, batch_size=batch_size, device=device,
        out=out, contrast_limits=contrast_limits, confidence=confidence, blending=blending,
        overwrite=overwrite,
    ))
