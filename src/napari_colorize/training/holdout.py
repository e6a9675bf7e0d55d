"""Held-out strips of reference images, and tissue CIEDE2000 on them (for tuning metrics)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.engine import colorize
from .evaluation import ciede2000, gray_with_lightness, render, rgb_to_lab_np
from .lut import lut_prior
from .patches import tissue_mask

#: Largest held-out box, (thickness across the strip, length along it), in pixels.
HOLDOUT_MAX = (512, 1024)


def holdout_boxes(
    masks: list[np.ndarray], fraction: float
) -> list[tuple[slice, slice] | None]:
    """Place a held-out strip at the far end of each mask's bounding box, across its longer side.

    The strip is ``fraction`` of that side thick (at most 512 px) and at most 1024 px long.

    Parameters
    ----------
    masks : list of ndarray
        Boolean ``(H, W)`` regions.
    fraction : float
        Thickness of the strip, as a share of the longer side.

    Returns
    -------
    list
        ``(rows, cols)`` slices per mask; ``None`` when ``fraction`` is 0 or the region is too
        small to split (a strip under 8 px).

    Examples
    --------
    >>> holdout_boxes([np.ones((100, 50), bool)], 0.2)
    [(slice(80, 100, None), slice(0, 50, None))]
    """
    boxes: list[tuple[slice, slice] | None] = []
    for mask in masks:
        rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        if fraction <= 0 or rows.size == 0:
            boxes.append(None)
            continue
        r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        thick_max, long_max = HOLDOUT_MAX
        if r1 - r0 >= c1 - c0:
            t = min(thick_max, round(fraction * (r1 - r0)))
            box = (slice(r1 - t, r1), slice(c0, min(c1, c0 + long_max)))
        else:
            t = min(thick_max, round(fraction * (c1 - c0)))
            box = (slice(r0, min(r1, r0 + long_max)), slice(c1 - t, c1))
        boxes.append(box if t >= 8 else None)
    return boxes


def holdout_errors(
    model: Any,
    images: list[np.ndarray],
    masks: list[np.ndarray],
    boxes: list[tuple[slice, slice] | None],
    *,
    lut: bool = True,
    preview: bool = False,
) -> dict[str, Any]:
    """Score a model by its mean tissue CIEDE2000 over all held-out pixels (tissue in the mask).

    Predictions go through the user's path (uint8 gray of the true lightness, colorized,
    rendered to uint8 sRGB).

    Parameters
    ----------
    model : ColorModel
        A chroma model.
    images : list of ndarray
        uint8 RGB true colour.
    masks : list of ndarray
        One boolean region per image.
    boxes : list
        Held-out boxes (see :func:`holdout_boxes`).
    lut : bool
        Also score the model's own prior (its lookup table) alone.
    preview : bool
        Keep ``(image index, box, colorized RGB)`` of the first held-out box.

    Returns
    -------
    dict
        ``model`` and ``lut`` mean CIEDE2000 (``None`` without pixels), ``pixels`` counted,
        ``preview``.

    Examples
    --------
    >>> from napari_colorize.models.network import ChromaNet
    >>> from napari_colorize.models.spec import ColorModel, ModelSpec
    >>> model = ColorModel(ChromaNet((8, 8, 8, 8)), ModelSpec("gray"))
    >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)
    >>> masks = [np.ones((64, 64), bool)]
    >>> scores = holdout_errors(model, [pink], masks, holdout_boxes(masks, 0.2))
    >>> scores["pixels"], scores["model"] == scores["lut"]  # an untrained net is its prior
    (832, True)
    """
    sums = {"model": 0.0, "lut": 0.0}
    count = 0
    kept = None
    for i, (rgb, mask, box) in enumerate(zip(images, masks, boxes, strict=True)):
        if box is None:
            continue
        crop = np.ascontiguousarray(rgb[box])
        truth = rgb_to_lab_np(crop)
        keep = tissue_mask(truth) & mask[box]
        gray = gray_with_lightness(crop)
        # a crop scored for the metrics: its domain was not asked about (small crops mislead it)
        pred = colorize(gray, model, tile_size=512, overlap=64, domain_check=False).rgb
        if preview and kept is None:
            kept = (i, box, pred)
        if not keep.any():
            continue
        count += int(keep.sum())
        sums["model"] += float(ciede2000(rgb_to_lab_np(pred), truth)[keep].sum())
        if lut:
            lightness = rgb_to_lab_np(np.repeat(gray[..., None], 3, axis=-1))[0]
            prior = lut_prior(model.net.lut, lightness)
            lut_rgb = render(lightness, prior[0], prior[1])
            sums["lut"] += float(ciede2000(rgb_to_lab_np(lut_rgb), truth)[keep].sum())
    result: dict[str, Any] = {"pixels": count, "preview": kept}
    result["model"] = round(sums["model"] / count, 3) if count else None
    result["lut"] = round(sums["lut"] / count, 3) if count and lut else None
    return result
