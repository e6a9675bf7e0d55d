"""Honest evaluation: CIEDE2000 on tissue against simple baselines, colourfulness, confidence.

Every prediction, the model's and the baselines', goes through the same path a user sees: the
colour image is reduced to a uint8 gray with the same lightness, colorized, rendered to uint8 sRGB,
and compared with the true colour in CIE Lab.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.color import lab_to_srgb_uint8, rgb_uint8_to_lab, writable
from ..core.render import intensity_from_lightness
from .lut import lut_prior
from .patches import tissue_mask
from .recipes import region_images

TILE = 64


def rgb_to_lab_np(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB ``(H, W, 3)`` -> Lab float64 ``(3, H, W)``."""
    return rgb_uint8_to_lab(rgb).numpy()


def gray_with_lightness(rgb: np.ndarray) -> np.ndarray:
    """The uint8 gray image whose CIE lightness equals that of the colour image ``rgb``."""
    lightness = torch.from_numpy(rgb_to_lab_np(rgb)[0])
    return (intensity_from_lightness(lightness) * 255 + 0.5).to(torch.uint8).numpy()


def render(lightness: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Lab planes -> uint8 sRGB ``(H, W, 3)`` as the engine renders them."""
    t = [torch.from_numpy(writable(p, np.float32)) for p in (lightness, a, b)]
    return lab_to_srgb_uint8(*t).numpy()


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """Per-pixel CIEDE2000 between Lab images ``(3, H, W)``."""
    from skimage.color import deltaE_ciede2000

    return deltaE_ciede2000(np.moveaxis(lab1, 0, -1), np.moveaxis(lab2, 0, -1))


def colourfulness(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Hasler & Suesstrunk (2003) colourfulness of uint8 RGB, over ``mask`` pixels."""
    px = rgb.reshape(-1, 3).astype(np.float64) if mask is None else rgb[mask].astype(np.float64)
    rg = px[:, 0] - px[:, 1]
    yb = 0.5 * (px[:, 0] + px[:, 1]) - px[:, 2]
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


def tile_spearman(uncertainty: np.ndarray, error: np.ndarray, mask: np.ndarray) -> float | None:
    """Spearman correlation of per-tile mean uncertainty and error (tiles >= half tissue)."""
    from scipy.stats import spearmanr

    h, w = error.shape
    u_means, e_means = [], []
    for y in range(0, h - TILE + 1, TILE):
        for x in range(0, w - TILE + 1, TILE):
            m = mask[y : y + TILE, x : x + TILE]
            if m.mean() < 0.5:
                continue
            u_means.append(uncertainty[y : y + TILE, x : x + TILE][m].mean())
            e_means.append(error[y : y + TILE, x : x + TILE][m].mean())
    if len(u_means) < 5:
        return None
    return float(spearmanr(u_means, e_means).statistic)


def _scores(de: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    return {"tissue": round(float(de[mask].mean()), 3), "all": round(float(de.mean()), 3)}


def random_hints(rgb: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` hints at random tissue pixels (fixed seed) carrying their true colours."""
    mask = tissue_mask(rgb_to_lab_np(rgb))
    ys, xs = np.nonzero(mask)
    pick = np.random.default_rng(seed).choice(len(ys), size=min(n, len(ys)), replace=False)
    return np.stack([ys[pick], xs[pick]], axis=1), rgb[ys[pick], xs[pick]]


def evaluate_image(
    model: Any, rgb: np.ndarray, *, label: str = "image", hints: int = 0, **colorize_kw: Any
) -> dict:
    """Metrics for one colour image (see :func:`evaluate`)."""
    from ..core.engine import colorize

    truth = rgb_to_lab_np(rgb)
    mask = tissue_mask(truth)
    if not mask.any():
        raise ValueError(f"{label} shows no tissue (no pixel with L < 88 or chroma > 8)")
    gray = gray_with_lightness(rgb)
    result = colorize(gray, model, confidence=True, **colorize_kw)
    pred_rgb, conf = result.rgb, result.confidence
    lightness = rgb_to_lab_np(np.repeat(gray[..., None], 3, axis=-1))[0]
    prior = lut_prior(model.net.lut, lightness)
    mean_ab = model.card.get("baselines", {}).get("mean_ab") or [0.0, 0.0]
    zeros = np.zeros_like(lightness)
    predictions = {
        "model": pred_rgb,
        "gray": render(lightness, zeros, zeros),
        "mean_chroma": render(lightness, zeros + mean_ab[0], zeros + mean_ab[1]),
        "lut": render(lightness, prior[0], prior[1]),
    }
    errors = {k: ciede2000(rgb_to_lab_np(v), truth) for k, v in predictions.items()}
    result = {"image": label, "shape": list(rgb.shape[:2]),
              "tissue_fraction": round(float(mask.mean()), 3)}
    result["ciede2000"] = {k: _scores(v, mask) for k, v in errors.items()}
    base = result["ciede2000"]["lut"]["tissue"]
    model_error = result["ciede2000"]["model"]["tissue"]
    result["model_vs_lut"] = round(model_error / base, 3) if base else None
    result["colourfulness"] = {
        "truth": round(colourfulness(rgb, mask), 2),
        "model": round(colourfulness(pred_rgb, mask), 2),
    }
    result["confidence_spearman"] = tile_spearman(1 - conf, errors["model"], mask)
    result["mean_confidence"] = round(float(conf[mask].mean()), 3)
    if hints:
        points, colours = random_hints(rgb, hints)
        hinted = colorize(gray, model, hints=(points, colours), **colorize_kw).rgb
        with_hints = _scores(ciede2000(rgb_to_lab_np(hinted), truth), mask)
        without = result["ciede2000"]["model"]["tissue"]
        result["hints"] = {
            "n": len(points), "seed": 0, "tissue_without": without,
            "tissue_with": with_hints["tissue"],
            "ratio": round(with_hints["tissue"] / without, 3) if without else None,
        }
    return result


def evaluate(
    model: Any = None, images: Any = (), *, hints: int = 0, **colorize_kw: Any
) -> list[dict]:
    """Evaluate a model on colour images (arrays or paths): one dict of metrics per image.

    Mean CIEDE2000 on tissue (true L < 88 or chroma > 8) and on all pixels for the model and three
    baselines: gray (a = b = 0), the global mean chroma of the model's training data, and the
    per-lightness lookup table fitted on that data. Also colourfulness and the Spearman
    correlation between per-64x64-tile mean (1 - confidence) and per-tile CIEDE2000. With
    ``hints=N``, also the model's tissue CIEDE2000 with ``N`` hints at random tissue pixels
    (seed 0) carrying their true colours.

    Examples
    --------
    >>> evaluate("he-histology", ["truth.png"])  # doctest: +SKIP
    """
    from ..models.registry import resolve_model

    net = resolve_model(model, "auto")
    if net.spec.kind != "chroma":
        raise ValueError(f"evaluate scores colour (chroma) models against true colour; "
                         f"{net.spec.name} predicts {net.spec.kind}")
    if isinstance(hints, bool) or not isinstance(hints, (int, np.integer)):
        raise TypeError(f"hints must be a whole number of hints; got {hints!r}")
    if hints < 0:
        raise ValueError(f"hints {hints} must be >= 0")
    if isinstance(images, (str, Path, np.ndarray)):
        images = [images]
    results = []
    for i, image in enumerate(images):
        label = str(image) if isinstance(image, (str, Path)) else f"image {i}"
        results.append(evaluate_image(net, truth_rgb(image, label), label=label, hints=hints,
                                      **colorize_kw))
    return results


def truth_rgb(image: Any, label: str) -> np.ndarray:
    """A true-colour image (array or path) as uint8 RGB; NaN or infinite colours are refused
    (cast to uint8 they would become arbitrary colours)."""
    from ..core.validation import check_finite
    from ..io.readers import as_rgb_uint8, read_image, read_rgb

    if isinstance(image, (str, Path)):
        lazy = read_image(image)
        if np.dtype(lazy.dtype).kind != "f":
            return read_rgb(image)
        try:
            image = np.asarray(lazy[...])
        except Exception as exc:
            raise ValueError(f"cannot read {label}: {type(exc).__name__}: {exc}") from None
    image = np.asarray(image)
    if image.dtype.kind not in "uif":
        raise ValueError(f"{label} has dtype {image.dtype}; expected RGB numbers")
    check_finite(image, label)
    return as_rgb_uint8(image, label)


def evaluate_regions(model: Any, regions: Any) -> dict[str, dict]:
    """Evaluate on recipe regions; keyed by image name."""
    out = {}
    for region, rgb in zip(regions, region_images(tuple(regions)), strict=True):
        out[region.image] = evaluate_image(model, rgb, label=region.image)
    return out
