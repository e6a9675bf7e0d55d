"""The tile engine: ``iter_colorize`` (a generator of progress events) and ``colorize``.

Planes are the last two axes; leading axes (Z, T, ...) are iterated. Each plane is cut into
blocks (at most ``block_size`` a side; resume and scale-out work block by block). A block's
pixels are mapped to CIE lightness with one window for the whole stack, the overlapping tiles
touching it run through the model in batches (shared across blocks and planes), and are blended
and converted back to sRGB with the input's lightness kept (or, for channel models, rendered as
an additive composite). Colour hints correct the chroma pointwise before the conversion.

A run has three steps: :func:`~.prepare.plan_run` (check everything, decide tiles and blocks;
nothing is written), :func:`~.prepare.open_output` (the :class:`Merger` finished blocks go to)
and the loop over blocks in :func:`iter_colorize`.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

from .blocks import BlockResult, BlockRunner
from .config import ColorizeConfig, settings_signature
from .events import Progress, drain
from .prepare import open_output, plan_run
from .result import ColorizeResult
from .validation import check_flag


def iter_colorize(
    image: Any,
    model: Any = None,
    *,
    out: Any = None,
    hints: Any = None,
    reference: Any = None,
    overwrite: bool = False,
    resume: bool = False,
    scheduler: Any = None,
    config: ColorizeConfig | None = None,
    **settings: Any,
) -> Generator[Progress, None, ColorizeResult]:
    """Colorize tile by tile, yielding :class:`Progress` with the plan, then after each batch.

    Closing the generator cancels the run at the next batch and discards partial output (kept,
    and resumable, when ``resume=True``). Drain it with :func:`drain`.

    Parameters
    ----------
    image, model, out, hints, reference, overwrite, resume, scheduler, config, **settings
        As for :func:`colorize`.

    Yields
    ------
    Progress
        First the plan (``done`` 0 or, on a resume, the tiles already written; ``tile``,
        ``computed_mp``), before any tile is computed; then after each batch of tiles.

    Returns
    -------
    ColorizeResult
        The generator's return value (``StopIteration.value``).

    Raises
    ------
    ValueError
        A bad input, setting or output (before anything is written), or bad pixels met
        part-way (partial output is discarded).
    TypeError
        A setting of the wrong type, or an unknown setting.

    Examples
    --------
    >>> import numpy as np
    >>> gen = iter_colorize(np.zeros((600, 600), np.uint8), device="cpu", tile_size=256)
    >>> result = drain(gen, lambda event: print(event.done, "of", event.total))
    0 of 9
    4 of 9
    8 of 9
    9 of 9
    >>> result.rgb.shape
    (600, 600, 3)
    """
    # settings are checked at the call, not at the first next(): a typo fails where it is made
    check_flag("overwrite", overwrite)
    check_flag("resume", resume)
    config = ColorizeConfig.from_options(config, **settings)
    run = _iterate(image, model, config, out, hints, reference, overwrite, resume, scheduler)
    # a path, or an array a reader opened from a file (as check_input names it)
    path = image if isinstance(image, (str, Path)) else getattr(image, "filename", None)
    return _naming_the_file(run, path) if isinstance(path, (str, Path)) else run


def _naming_the_file(run: Generator[Progress, None, ColorizeResult],
                     path: str | Path) -> Generator[Progress, None, ColorizeResult]:
    """Name the input file in messages about "image" (bad pixels met while it is read)."""
    try:
        return (yield from run)
    except ValueError as exc:
        text = str(exc)
        if text.startswith("image "):
            raise ValueError(f"{path}: {text[len('image '):]}") from None
        raise


def _iterate(image: Any, model: Any, config: ColorizeConfig, out: Any, hints: Any,
             reference: Any, overwrite: bool, resume: bool,
             scheduler: Any) -> Generator[Progress, None, ColorizeResult]:
    """Run what :func:`iter_colorize` was asked, once its settings are checked."""
    run = plan_run(image, model, config, out=out, hints=hints, reference=reference,
                   cluster=scheduler is not None)
    client = _connect(scheduler) if scheduler is not None else None  # fails before any write
    try:
        merger = open_output(out, run, overwrite=overwrite, resume=resume)
    except BaseException:
        if client is not None and isinstance(scheduler, str):
            client.close()
        raise
    try:
        if merger.complete:  # resuming a finished run: nothing left to do
            return run.result(merger.result())
        plan = run.plan
        planes = plan.planes
        finished = merger.completed()
        # blocks are made as the run reaches them: planning is not a pass over a huge plane
        jobs = ((p, b) for p in range(len(planes)) for b in plan.blocks
                if plan.key(p, b) not in finished)
        total = plan.blocks.n_tiles * len(planes)
        done = sum(plan.tiles_of_key(key) for key in finished)
        tile = plan.tile_shape
        computed = round(total * tile[0] * tile[1] / 1e6, 2)
        # the plan before any tile: a caller can show it, or cancel before the model runs
        yield Progress(done, total, 0, len(planes), run.message, tile, computed)
        if client is not None:
            from .distributed import run_distributed

            shipped = run.source if isinstance(run.source, (str, Path)) and not \
                config.from_rgb else run.image
            events = run_distributed(client, shipped, model, run.net, plan, jobs,
                                     str(config.device))
        else:
            events = BlockRunner(run.image, run.net, plan).run(jobs, merger.buffer)
        for event in events:
            if isinstance(event, BlockResult):
                merger.write(planes[event.plane], event.block.region, event.rgb, event.confidence,
                             event.channels)
                merger.mark_done(plan.key(event.plane, event.block))
                continue
            done += event.tiles
            yield Progress(done, total, event.plane, len(planes), run.message, tile, computed)
        return run.result(merger.finalize())
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


def _connect(scheduler: Any) -> Any:
    from .distributed import connect

    return connect(scheduler)


def colorize(
    image: Any,
    model: Any = None,
    *,
    out: Any = None,
    hints: Any = None,
    reference: Any = None,
    overwrite: bool = False,
    resume: bool = False,
    scheduler: Any = None,
    config: ColorizeConfig | None = None,
    **settings: Any,
) -> ColorizeResult:
    """Colorize a grayscale image or stack into sRGB uint8 shaped ``image.shape + (3,)``.

    Settings (``tile_size`` to ``from_rgb`` below) are the fields of :class:`ColorizeConfig`,
    which holds their defaults.

    Parameters
    ----------
    image : array-like or path
        numpy, dask or zarr array (planes are the last two axes), or a TIFF/OME-TIFF/SVS, zarr,
        PNG or JPEG file. A ``(3, H, W)`` array is a stack of three gray planes; colour input is
        channel-last ``(H, W, 3)`` (see ``from_rgb``); one sample per pixel, ``(..., H, W, 1)``,
        is gray ``(..., H, W)``.
    model : str, path or ColorModel, optional
        Model name (see :func:`list_models`), weights path, or loaded model; default H&E model.
    tile_size : int or "auto"
        Tile side in pixels; ``"auto"`` (the default) picks the side whose tiles compute the
        fewest pixels for this image and overlap (e.g. 4 tiles of 1056 for 2048 x 2048 at
        overlap 64), within a memory budget per device.
    overlap : int
        Overlap between neighbouring tiles, in pixels.
    batch_size : int or "auto"
        Tiles per model call; ``"auto"`` sizes batches from free GPU memory (4 on CPU).
    device : str
        ``"auto"`` (cuda > mps > cpu), ``"cpu"``, ``"cuda"``, ...
    precision : {"auto", "fp32", "bf16"}
        Arithmetic of the network: ``"bf16"`` runs it under bfloat16 autocast (faster on CPUs
        with AMX or AVX-512 BF16 and on GPUs, colours within a fraction of a CIEDE2000 unit);
        ``"auto"``: bfloat16 on CUDA and on CPUs with AMX or AVX-512 BF16, float32 elsewhere.
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
        Replace an existing ``out`` path. The old store is removed when the run starts, as
        the run writes (and a resume continues) in its place: a cancelled run leaves neither.
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
    palette : list or str, optional
        Colour per channel for such models (names, ``#rrggbb`` or RGB, or words such as
        ``"nuclear cyan, cytoplasmic magenta, diffuse gray"``); default the model's.
    stain : str, optional
        With a colour model: show the predicted stain amounts in a named stain's dyes, e.g.
        ``"H DAB"``, ``"Masson Trichrome"``, ``"QuPath H&E"`` (26 stains from Fiji,
        scikit-image and QuPath; see :mod:`~napari_colorize.core.stains`). Per pixel, after the
        reference and the hints; lightness is kept. Default: the model's own H&E.
    colors : str, optional
        With a colour model: the dyes' colours in words, ``"nuclei dark blue, cytoplasm
        pink"`` (CSS names or ``#rrggbb``).
    hints : (points, colours), dict or CSV path, optional
        Colour hints: points in data coordinates (``(N, image.ndim)``: plane indices, row,
        column) and the sRGB colour wanted there (0-1 or 0-255). Together the hints fit the
        lab's stain offset (by lightness, shrunk toward none: one pixel's colour is a noisy
        sample of its stain), which recolours every plane; then each hint recolours the
        structure it sits on nearby and, more weakly, wherever that structure appears in its
        plane. Points outside the image are ignored (counted in the progress message). The
        hints are stored in an OME-Zarr result's metadata.
    reference : path, array or list of them, optional
        Colour images from your lab (e.g. one stained section, or a colour snapshot of part of
        the slide): the output takes that lab's colours. A small chroma mapping (per lightness,
        from the model's colours to the reference's) is fitted once, in about a second per
        megapixel, and applied to every block; gradient tuning (:func:`train` with ``base``) is
        not needed. The result records the references (``result.reference`` and an OME-Zarr's
        metadata). A gray reference, or one with no tissue, is refused in one line. A
        :class:`~napari_colorize.core.reference.ReferenceMap` from
        :func:`~napari_colorize.core.reference.fit_reference` is used as is (no refit).
    from_rgb : bool
        Colorize an RGB(A) image (last axis 3 or 4; uint8, uint16 or float) by its CIE
        lightness L*: re-stains a colour slide in the model's colours, or compares the model
        with the true colour. Converted region by region (lazy); the result keeps the input's
        lightness. Without it, RGB input is refused.

    config : ColorizeConfig, optional
        Settings as one object (e.g. shared by several calls); keywords override its fields.

    Returns
    -------
    ColorizeResult
        ``.rgb``, ``.confidence`` and ``.channels`` (``None`` unless asked for), and what the
        run decided (model, intensity window, resolved settings, tiles). ``np.asarray(result)``
        is the RGB image.

    Raises
    ------
    ValueError
        A bad input, setting or output, in one line naming it; nothing is written.
    TypeError
        A setting of the wrong type, or an unknown setting.

    Examples
    --------
    >>> import numpy as np
    >>> gray = np.random.default_rng(0).integers(0, 255, (300, 400), np.uint8)
    >>> rgb = np.asarray(colorize(gray, device="cpu"))
    >>> rgb.shape, rgb.dtype
    ((300, 400, 3), dtype('uint8'))
    >>> result = colorize(gray, device="cpu", confidence=True, tile_size=256)
    >>> result.confidence.shape, result.config.tile_size, result.model
    ((300, 400), 256, 'he-histology')
    """
    return drain(iter_colorize(image, model, out=out, hints=hints, reference=reference,
                               overwrite=overwrite,
                               resume=resume, scheduler=scheduler, config=config, **settings))


colorize.__signature__ = settings_signature(colorize)  # type: ignore[attr-defined]
iter_colorize.__signature__ = settings_signature(iter_colorize)  # type: ignore[attr-defined]
