"""A planned run: the opened input, the model, the plan, and what its output records.

:func:`~napari_colorize.core.prepare.plan_run` makes a :class:`Run`; the colour hints are
added to its plan here (:func:`add_hints`), from the model's own prediction at each hint.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..models.spec import ColorModel, ModelSpec
from .config import ColorizeConfig
from .domain import DomainScore
from .intensity import IntensityWindow, to_lightness
from .merge import Outputs
from .outputs import input_fingerprint
from .plan import RunPlan
from .planes import pad_to, plane_name, read_plane
from .reference import HINT_NOISE_NEAR, ReferenceMap, hint_offset, soft_threshold
from .result import ColorizeResult


@dataclass(frozen=True)
class Run:
    """A planned run: the opened image, the model, the plan and what the output records.

    Made by :func:`~napari_colorize.core.prepare.plan_run`.

    Parameters
    ----------
    source : path or array-like
        What the caller passed (a path is shipped to cluster workers as is).
    image : array-like
        The opened input.
    net : ColorModel
        The model.
    plan : RunPlan
        The tiles and blocks, with the resolved settings.
    metadata : dict
        What an OME-Zarr output records (model, settings, window, input digest, hints).
    hints_ignored : int
        Colour hints outside the image.
    message : str
        A status line for the progress events.
    domain : DomainScore or None
        The input's domain check (None: not checked).

    Examples
    --------
    >>> from napari_colorize.core.prepare import plan_run
    >>> run = plan_run(np.zeros((64, 64), np.uint8), None, ColorizeConfig(device="cpu"))
    >>> run.net.spec.name, run.plan.blocks.n_tiles, run.metadata["window"]
    ('he-histology', 1, [0.0, 255.0])
    >>> run.result(Outputs(np.zeros((64, 64, 3), np.uint8)))
    ColorizeResult(rgb=<ndarray (64, 64, 3) uint8>, model='he-histology', tiles=1, blocks=1)
    """

    source: Any  # what the caller passed (a path is shipped to cluster workers as is)
    image: Any
    net: ColorModel
    plan: RunPlan
    metadata: dict
    hints_ignored: int = 0
    message: str = ""
    domain: DomainScore | None = None

    def result(self, outputs: Outputs) -> ColorizeResult:
        """Make the run's :class:`ColorizeResult` from its finished outputs.

        Parameters
        ----------
        outputs : Outputs
            What the run's merger returned.

        Returns
        -------
        ColorizeResult
            The outputs, and what the run decided (model, window, resolved settings, counts).
        """
        plan = self.plan
        return ColorizeResult(
            outputs.rgb, outputs.confidence, outputs.channels, model=self.net.spec.name,
            model_version=self.net.spec.version, window=(plan.window.low, plan.window.high),
            # the precision that ran ("auto" resolves to the CPU's or GPU's)
            config=replace(plan.config, precision=getattr(self.net, "arithmetic",
                                                          plan.config.precision)),
            tiles=plan.blocks.n_tiles * plan.n_planes,
            blocks=len(plan.blocks) * plan.n_planes, hints_ignored=self.hints_ignored,
            reference=plan.reference.sources if plan.reference is not None else (),
            domain=self.domain,
        )


def run_metadata(spec: ModelSpec, config: ColorizeConfig, window: IntensityWindow, image: Any,
                 out: Any, colours: np.ndarray | None) -> dict[str, Any]:
    """Describe a run for its output (an OME-Zarr records it; a resume must match it).

    Parameters
    ----------
    spec : ModelSpec
        The model's contract.
    config : ColorizeConfig
        The resolved settings.
    window : IntensityWindow
        The stack's intensity window.
    image : array-like
        The opened input; with ``out`` a path its fingerprint is recorded.
    out : path, array-like or None
        Where the result goes.
    colours : numpy.ndarray or None
        A fractions model's palette.

    Returns
    -------
    dict
        ``model``, ``model_version``, ``settings``, ``window``; ``input`` (a digest) with a
        path ``out``; ``channels`` (names, palette) with a fractions model.

    Examples
    --------
    >>> meta = run_metadata(ModelSpec("m"), ColorizeConfig(block_size=4096),
    ...                     IntensityWindow(0.0, 255.0), np.zeros((8, 8), np.uint8), None, None)
    >>> meta["model"], meta["window"], meta["settings"]["block_size"], "input" in meta
    ('m', [0.0, 255.0], 4096, False)
    """
    meta: dict[str, Any] = {
        "model": spec.name, "model_version": spec.version, "settings": config.metadata(),
        "window": [window.low, window.high],
    }
    if isinstance(out, (str, Path)):  # a resume must read the same image
        meta["input"] = {"sha256": input_fingerprint(image)}
    if colours is not None:
        meta["channels"] = {"names": list(spec.channel_names),
                            "palette": [[round(float(v), 4) for v in c] for c in colours]}
    return meta


def weights_digest(model: Any) -> str | None:
    """Hash a model's network weights: the same weights from a file, a package or memory agree.

    Examples
    --------
    >>> from napari_colorize.models.network import ChromaNet
    >>> net = ColorModel(ChromaNet((8, 8, 8, 8)), ModelSpec("tiny"))
    >>> len(weights_digest(net))
    64
    """
    import hashlib

    import torch

    module = getattr(model, "net", None)
    if not isinstance(module, torch.nn.Module):
        return None
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def add_hints(image: Any, net: ColorModel, plan: RunPlan, hints: Any) -> tuple[RunPlan, int, Any]:
    """Add each plane's colour hints to the plan, from the model's prediction at each hint.

    The prediction is made on a tile-sized window centred on the hint (inside the padded
    plane), so it does not depend on the run's tiling.

    Parameters
    ----------
    image : array-like
        The opened input.
    net : ColorModel
        A colour (chroma) model.
    plan : RunPlan
        The run's plan.
    hints : optional
        Colour hints in any form :func:`~napari_colorize.core.hints.parse_hints` reads.

    Returns
    -------
    plan : RunPlan
        ``plan`` with a :class:`~napari_colorize.core.hint_field.HintField` per hinted plane.
    ignored : int
        Hints outside the image.
    parsed : Hints
        The checked hints.

    Raises
    ------
    ValueError
        A channel (fractions) model, or bad hints.

    Examples
    --------
    >>> from napari_colorize.core.plan import make_plan
    >>> from napari_colorize.models.registry import load_model
    >>> net = load_model("he-histology", device="cpu")
    >>> gray = np.full((64, 64), 128, np.uint8)
    >>> plan = make_plan(gray.shape, net.spec, IntensityWindow(0, 255),
    ...                  ColorizeConfig(tile_size=64, overlap=16, block_size=64))
    >>> hints = ([[10, 10], [99, 0]], [(0, 0, 255)] * 2)  # the second is outside
    >>> hinted, ignored, parsed = add_hints(gray, net, plan, hints)
    >>> sorted(hinted.hints), ignored, len(parsed)
    ([0], 1, 2)
    """
    from .hint_field import hint_fields
    from .hints import parse_hints, split_by_plane

    if plan.kind != "chroma":
        raise ValueError(f"hints need a colour (chroma) model; {net.spec.name} predicts channels")
    parsed = parse_hints(hints, len(plan.shape))
    by_plane, ignored = split_by_plane(parsed, plan.shape)
    planes = plan.planes
    tile = plan.tile_shape
    if plan.reference is not None:  # hints correct the colours the run shows
        net = plan.reference.adapt(net)

    def predict(plane_no: int, row: int, col: int, size: tuple[int, int]) -> tuple:
        # a window centred on the hint, inside the (padded) plane: independent of the tiling
        r0 = min(max(0, row - size[0] // 2), plan.padded[0] - size[0])
        c0 = min(max(0, col - size[1] // 2), plan.padded[1] - size[1])
        h, w = plan.shape[-2:]
        index: tuple[Any, ...] = (*planes[plane_no], slice(r0, min(r0 + size[0], h)),
                                  slice(c0, min(c0 + size[1], w)))
        raw = read_plane(image, index)
        lightness = pad_to(to_lightness(raw, plan.window, plane_name(planes[plane_no])), size)
        with torch.inference_mode():  # the model's output is an inference tensor
            ab = net(lightness[None, None], confidence=False)[0, :2].cpu()
            if plan.reference is not None:
                plan.reference.apply(lightness, ab)
        return lightness, ab, (row - r0, col - c0)

    fields = hint_fields(by_plane, predict, tile)
    if not fields:
        return replace(plan, hints=fields), ignored, parsed
    # The lab-wide part of the hints (a stain's offset, by lightness) joins the mapping; the
    # local fields then correct what is left, relative to the mapped colours.
    features = np.concatenate([f.features for f in fields.values()])
    offset = hint_offset(features, soft_threshold(np.concatenate([f.delta for f in
                                                                  fields.values()])))
    mapping = (plan.reference or ReferenceMap.identity()).plus_offset(offset)
    moved = {}
    for plane, field in fields.items():
        shift = offset[np.clip(np.round(field.features[:, 0]), 0, 100).astype(int)]
        shift = shift.astype(np.float32)
        residual = field.delta - shift
        # the hint's own pixel gets what it asks for; what spreads over its structure is
        # shortened by a pixel's typical deviation from its structure (noise is no request)
        moved[plane] = replace(field, features=field.features + np.pad(shift, ((0, 0), (1, 0))),
                               delta=soft_threshold(residual, HINT_NOISE_NEAR).astype(np.float32),
                               spread=soft_threshold(residual).astype(np.float32))
    return replace(plan, hints=moved, reference=mapping), ignored, parsed
