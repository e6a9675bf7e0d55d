"""The first two steps of a run: open, check and plan it (nothing written), then open its output.

:func:`plan_run` reads the input's shape, loads the model, checks the outputs, decides the tiles
and blocks, scores the domain and fits a reference and hints, all before any pixel is written;
:func:`open_output` opens where finished blocks go. :mod:`.engine` runs the blocks.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..io.readers import open_image
from ..models.resolve import resolve_model
from .config import ColorizeConfig
from .domain import check_domain
from .hints import HintWarning
from .intensity import compute_window
from .merge import ArrayMerger, Merger, OutArrayMerger
from .outputs import check_targets
from .plan import make_plan, model_palette
from .reference import ReferenceMap, check_reference_paths, fit_reference
from .run import Run, add_hints, run_metadata, weights_digest
from .stain_render import model_restain
from .tile_plan import resolve_config
from .validation import check_input
from .warn import user_level

__all__ = ["open_output", "plan_run"]


def plan_run(image: Any, model: Any, config: ColorizeConfig, *, out: Any = None,
             hints: Any = None, reference: Any = None, cluster: bool = False) -> Run:
    """Open and check the input, load the model and plan the run; nothing is written.

    Parameters
    ----------
    image : array-like or path
        The input (see :func:`colorize`).
    model : str, path, ColorModel or None
        The model (see :func:`colorize`).
    config : ColorizeConfig
        The settings.
    out : path or array-like, optional
        Where the result will go; checked here, before the model runs.
    hints : optional
        Colour hints (see :func:`colorize`).
    reference : optional
        Colour reference images (see :func:`colorize`).
    cluster : bool
        The blocks run on a dask cluster, whose workers pick their own device; here the model
        only plans the run.

    Returns
    -------
    Run
        The opened input, the model, the plan and the output's metadata.

    Raises
    ------
    ValueError
        A bad input, setting, output or hint, in one line naming it.
    TypeError
        An output that is neither a path nor an array.

    Examples
    --------
    >>> import numpy as np
    >>> config = ColorizeConfig(device="cpu", tile_size=256, block_size=512)
    >>> run = plan_run(np.zeros((2, 600, 700), np.uint16), None, config)
    >>> run.plan.n_planes, len(run.plan.blocks), run.plan.config.batch_size
    (2, 4, 4)
    >>> plan_run(np.zeros((600, 700, 3), np.uint8), None, config)
    Traceback (most recent call last):
    ...
    ValueError: image looks RGB (shape (600, 700, 3), last axis 3); ...
    """
    if isinstance(image, torch.Tensor):  # read as the numpy array it holds (a copy off a GPU)
        image = image.detach().cpu()
        image = (image.float() if image.dtype == torch.bfloat16 else image).numpy()
    source = image
    image = open_image(image, from_rgb=config.from_rgb)
    check_input(image, source)
    net = resolve_model(model, None if cluster else config.device, config.precision)
    spec = net.spec
    # outputs distinct from the input, writable, fitting in memory: before the model runs
    check_targets(source, image, out, confidence=bool(config.confidence),
                  n_maps=spec.channels if config.channels and spec.kind != "chroma" else 0)
    config = resolve_config(config, net, image.shape[-2:])
    colours = model_palette(spec, config.channels, config.palette)
    restain = model_restain(spec, config.stain, config.colors)
    window = compute_window(image, config.contrast_limits)
    if isinstance(image, np.ma.MaskedArray):  # masked pixels (no data) map to the window's low end
        image = _fill_masked(image, window.low)
    plan = replace(make_plan(image.shape, spec, window, config, colours), restain=restain)
    meta = run_metadata(spec, config, window, image, out, colours)
    weights = weights_digest(net)
    if weights:  # two models may share a name and version (every "<base>-tuned" is version 1)
        meta["weights_sha256"] = weights
    # bf16 and fp32 differ in the last code: a resume must not mix them
    meta["settings"]["precision"] = getattr(net, "arithmetic", "fp32")
    if restain is not None:
        meta["stain"] = restain.label
    domain = check_domain(image, net, window, plan.blocks) if config.domain_check else None
    if domain is not None:
        meta["domain"] = domain.to_metadata()
    ignored, message = 0, ""
    if reference is not None:  # fitted once, before any block: tiles and resume stay exact
        check_reference_paths(reference, out)
        fitted = reference if isinstance(reference, ReferenceMap) else fit_reference(
            reference, net, config)  # a fitted map is reused as is (e.g. live re-runs)
        plan = replace(plan, reference=fitted)
        meta["reference"] = plan.reference.to_metadata()
    if hints is not None:
        plan, ignored, parsed = add_hints(image, net, plan, hints)
        meta["hints"] = parsed.to_metadata()
        if plan.reference is not None:  # the hints' lab-wide offset joined the mapping
            meta["reference"] = plan.reference.to_metadata()
        if ignored:  # swapped (x, y) or a wrong plane number must not pass unnoticed
            message = f"{ignored} of {len(parsed)} hints outside the image ignored"
            warnings.warn(message, HintWarning, stacklevel=user_level())
    return Run(source, image, net, plan, meta, ignored, message, domain)


def open_output(out: Any, run: Run, *, overwrite: bool = False, resume: bool = False) -> Merger:
    """Open where the run's finished blocks go: memory, a caller's array or an OME-Zarr path.

    Parameters
    ----------
    out : path, array-like or None
        An OME-Zarr path, an array shaped ``image.shape + (3,)`` (uint8), or ``None``
        (numpy arrays in memory).
    run : Run
        The planned run.
    overwrite : bool
        Replace an existing ``out`` path.
    resume : bool
        Continue an interrupted run into the ``out`` path.

    Returns
    -------
    Merger
        The output.

    Raises
    ------
    ValueError
        ``resume`` without an OME-Zarr path, or a path that exists (without ``overwrite``),
        is locked or does not match the run.

    Examples
    --------
    >>> import numpy as np
    >>> gray = np.zeros((64, 64), np.uint8)
    >>> run = plan_run(gray, None, ColorizeConfig(device="cpu"))
    >>> type(open_output(None, run)).__name__
    'ArrayMerger'
    >>> type(open_output(np.zeros((64, 64, 3), np.uint8), run)).__name__
    'OutArrayMerger'
    """
    plan, config = run.plan, run.plan.config
    n_maps = plan.outputs if config.channels else 0
    if out is None:
        return ArrayMerger(plan.shape, config.confidence, n_maps)
    if isinstance(out, (str, Path)):
        from ..io.axis_names import input_layout
        from ..io.ngff import OmeZarrMerger

        # the input's time and z stay what they are, its c=1 goes, its pixel size is kept
        layout = input_layout(run.source, plan.shape, out)
        return OmeZarrMerger(out, plan.shape, confidence=config.confidence,
                             metadata=run.metadata, overwrite=overwrite, resume=resume,
                             block_size=plan.block_size,
                             channels=run.metadata.get("channels") if n_maps else None,
                             layout=layout)
    if resume:
        raise ValueError("resume=True needs out= an OME-Zarr path (it records finished blocks)")
    return OutArrayMerger(out, plan.shape, config.confidence, n_maps)


def _fill_masked(image: np.ma.MaskedArray, low: float) -> np.ndarray:
    """Fill masked pixels with ``low``; in float64 when the image's dtype cannot hold it."""
    info = np.iinfo(image.dtype) if image.dtype.kind in "iu" else np.finfo(image.dtype)
    if not float(info.min) <= low <= float(info.max):  # e.g. contrast limits below uint16's 0
        return np.ma.filled(image.astype(np.float64), low)
    return image.filled(image.dtype.type(low))
