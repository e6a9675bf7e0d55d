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
from ..core.engine import colorize
from ..core.render import intensity_from_lightness
from ..models.resolve import resolve_model
from .images import is_gray, sample_lab, truth_rgb
from .lut import lut_prior
from .patches import tissue_mask
from .recipes import region_images
from .tile_ranking import tile_spearman


def rgb_to_lab_np(rgb: np.ndarray) -> np.ndarray:
    """Convert uint8 RGB to CIE Lab.

    Parameters
    ----------
    rgb : ndarray
        ``(H, W, 3)`` uint8.

    Returns
    -------
    ndarray
        ``(3, H, W)`` float64 L, a, b.

    Examples
    --------
    >>> rgb_to_lab_np(np.full((1, 1, 3), 255, np.uint8)).ravel().round(3).tolist()
    [100.0, 0.0, 0.0]
    """
    return rgb_uint8_to_lab(rgb).numpy()


def gray_with_lightness(rgb: np.ndarray) -> np.ndarray:
    """Make the uint8 gray image whose CIE lightness equals that of a colour image.

    Parameters
    ----------
    rgb : ndarray
        ``(H, W, 3)`` uint8.

    Returns
    -------
    ndarray
        ``(H, W)`` uint8.

    Examples
    --------
    >>> gray_with_lightness(np.full((1, 1, 3), (90, 50, 150), np.uint8)).tolist()
    [[73]]
    """
    lightness = torch.from_numpy(rgb_to_lab_np(rgb)[0])
    return (intensity_from_lightness(lightness) * 255 + 0.5).to(torch.uint8).numpy()


def render(lightness: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Render Lab planes to uint8 sRGB as the engine does.

    Parameters
    ----------
    lightness, a, b : ndarray
        ``(H, W)`` planes.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` uint8.

    Examples
    --------
    >>> flat = np.full((1, 1), 50.0)
    >>> render(flat, flat * 0, flat * 0).ravel().tolist()
    [119, 119, 119]
    """
    t = [torch.from_numpy(writable(p, np.float32)) for p in (lightness, a, b)]
    return lab_to_srgb_uint8(*t).numpy()


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """Compute the per-pixel CIEDE2000 between Lab images (scikit-image's).

    Parameters
    ----------
    lab1, lab2 : ndarray
        ``(3, H, W)`` CIE Lab.

    Returns
    -------
    ndarray
        ``(H, W)``.

    Examples
    --------
    >>> lab = np.zeros((3, 1, 1))
    >>> ciede2000(lab, lab).tolist()
    [[0.0]]
    """
    from skimage.color import deltaE_ciede2000

    return deltaE_ciede2000(np.moveaxis(lab1, 0, -1), np.moveaxis(lab2, 0, -1))


def colourfulness(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Measure the colourfulness of Hasler & Suesstrunk (2003) over ``mask`` pixels.

    Parameters
    ----------
    rgb : ndarray
        ``(H, W, 3)`` uint8.
    mask : ndarray, optional
        ``(H, W)`` boolean; all pixels by default.

    Returns
    -------
    float

    Examples
    --------
    >>> colourfulness(np.full((2, 2, 3), 128, np.uint8))
    0.0
    """
    px = rgb.reshape(-1, 3).astype(np.float64) if mask is None else rgb[mask].astype(np.float64)
    rg = px[:, 0] - px[:, 1]
    yb = 0.5 * (px[:, 0] + px[:, 1]) - px[:, 2]
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


def shift_chroma(rgb: np.ndarray, da: float, db: float) -> np.ndarray:
    """Move the tissue's chroma by ``(da, db)``, keeping lightness: another lab's stain.

    Examples
    --------
    >>> pink = np.full((4, 4, 3), (200, 120, 170), np.uint8)
    >>> moved = rgb_to_lab_np(shift_chroma(pink, 10.0, 0.0)) - rgb_to_lab_np(pink)
    >>> np.round(moved[:, 0, 0]).tolist()
    [0.0, 10.0, 0.0]
    """
    from skimage import color

    lab = color.rgb2lab(rgb)
    tissue = lab[..., 0] < 88
    lab[..., 1] += da * tissue
    lab[..., 2] += db * tissue
    return (np.clip(color.lab2rgb(lab), 0, 1) * 255 + 0.5).astype(np.uint8)


def _scores(de: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    return {"tissue": round(float(de[mask].mean()), 3), "all": round(float(de.mean()), 3)}


def random_hints(rgb: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Place ``n`` hints at random tissue pixels, carrying their true colours.

    Parameters
    ----------
    rgb : ndarray
        ``(H, W, 3)`` uint8 true colour.
    n : int
        Number of hints (fewer if fewer pixels are tissue).
    seed : int
        Seeds the pick.

    Returns
    -------
    points : ndarray
        ``(n, 2)`` row, column.
    colours : ndarray
        ``(n, 3)`` uint8 RGB.

    Examples
    --------
    >>> points, colours = random_hints(np.full((8, 8, 3), (90, 50, 150), np.uint8), 3)
    >>> points.shape, colours[0].tolist()
    ((3, 2), [90, 50, 150])
    """
    mask = tissue_mask(rgb_to_lab_np(rgb))
    ys, xs = np.nonzero(mask)
    pick = np.random.default_rng(seed).choice(len(ys), size=min(n, len(ys)), replace=False)
    return np.stack([ys[pick], xs[pick]], axis=1), rgb[ys[pick], xs[pick]]


#: colorize settings that evaluate chooses itself.
_SET_BY_EVALUATE = {"out", "confidence", "channels", "resume", "overwrite", "scheduler",
                    "from_rgb"}


def evaluate_image(
    model: Any, rgb: np.ndarray, *, label: str = "image", hints: int = 0, **colorize_kw: Any
) -> dict:
    """Score a model on one colour image (see :func:`evaluate`).

    Parameters
    ----------
    model : ColorModel
        A loaded chroma model.
    rgb : ndarray
        ``(H, W, 3)`` uint8 true colour.
    label : str
        Names the image in the result and in errors.
    hints : int
        Also score the model with this many hints.
    **colorize_kw
        More :func:`~napari_colorize.colorize` settings.

    Returns
    -------
    dict
        The image's metrics (see :func:`evaluate`).

    Raises
    ------
    ValueError
        The image shows no tissue, or no colour.

    Examples
    --------
    >>> from napari_colorize.models.network import ChromaNet
    >>> from napari_colorize.models.spec import ColorModel, ModelSpec
    >>> model = ColorModel(ChromaNet((8, 8, 8, 8)), ModelSpec("gray"))
    >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)
    >>> result = evaluate_image(model, pink)
    >>> result["ciede2000"]["model"] == result["ciede2000"]["gray"]  # an untrained net: gray
    True
    """
    truth = rgb_to_lab_np(rgb)
    mask = tissue_mask(truth)
    if not mask.any():
        raise ValueError(f"{label} shows no tissue (no pixel with L < 88 or chroma > 8)")
    if is_gray(sample_lab(rgb)):  # every score would be against gray
        raise ValueError(f"{label} has no colour (it is grayscale); evaluate needs the true "
                         "colour of the image")
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
    spearman = tile_spearman(1 - conf, errors["model"], mask)
    result["confidence_spearman"] = None if spearman is None else round(spearman, 3)
    result["mean_confidence"] = round(float(conf[mask].mean()), 3)
    if hints:
        points, colours = random_hints(rgb, hints)
        # the same input: its domain was checked (and warned about) once already
        hinted = colorize(gray, model, hints=(points, colours),
                          **{**colorize_kw, "domain_check": False}).rgb
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
    """Evaluate a colour model on colour images (arrays or paths): one dict of metrics each.

    Mean CIEDE2000 on tissue (true L < 88 or chroma > 8) and on all pixels for the model and three
    baselines: gray (a = b = 0), the global mean chroma of the model's training data, and the
    per-lightness lookup table fitted on that data. Also colourfulness and the Spearman
    correlation between per-64x64-tile mean (1 - confidence) and per-tile CIEDE2000. With
    ``hints=N``, also the model's tissue CIEDE2000 with ``N`` hints at random tissue pixels
    (seed 0) carrying their true colours.

    Parameters
    ----------
    model : str, path or ColorModel, optional
        A chroma model (default: the default model).
    images : array, path or sequence of them
        True-colour images.
    hints : int
        Also score the model with this many hints.
    **colorize_kw
        More :func:`~napari_colorize.colorize` settings (``tile_size``, ...).

    Returns
    -------
    list of dict
        Per image: ``ciede2000`` (model and baselines, on tissue and all pixels),
        ``model_vs_lut``, ``colourfulness``, ``confidence_spearman``, ``mean_confidence`` and
        (with ``hints``) ``hints``.

    Raises
    ------
    ValueError
        For a model that is not a chroma model, negative ``hints``, or unusable images.
    TypeError
        ``hints`` is not a whole number, or a setting is one evaluate chooses itself (``out``,
        ``confidence``, ...).

    Examples
    --------
    >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)
    >>> pink[::8] = (90, 50, 150)
    >>> (result,) = evaluate("he-histology", [pink], device="cpu")
    >>> sorted(result["ciede2000"])
    ['gray', 'lut', 'mean_chroma', 'model']
    """
    fixed = sorted(set(colorize_kw) & _SET_BY_EVALUATE)
    if fixed:  # evaluate keeps its colours in memory and always scores the confidence
        raise TypeError(f"evaluate() sets {', '.join(fixed)} itself; it takes colorize's other "
                        "settings")
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
    images = list(images)
    if not images:
        raise ValueError("evaluate needs at least one colour image; got none")
    results = []
    for i, image in enumerate(images):
        label = str(image) if isinstance(image, (str, Path)) else f"image {i}"
        results.append(evaluate_image(net, truth_rgb(image, label), label=label, hints=hints,
                                      **colorize_kw))
    return results


def evaluate_regions(model: Any, regions: Any) -> dict[str, dict]:
    """Evaluate a model on recipe regions (fetched once, then cached).

    Parameters
    ----------
    model : ColorModel
        A chroma model.
    regions : sequence of Region
        The regions.

    Returns
    -------
    dict
        :func:`evaluate_image`'s metrics, keyed by image name.

    Examples
    --------
    >>> from napari_colorize.training.recipes import HE_HISTOLOGY
    >>> evaluate_regions("he-histology", HE_HISTOLOGY.validation)  # doctest: +SKIP
    """
    out = {}
    for region, rgb in zip(regions, region_images(tuple(regions)), strict=True):
        out[region.image] = evaluate_image(model, rgb, label=region.image)
    return out
