"""How well can a confidence rank the tiles of each image? Prints one JSON line per image.

    python benchmarks/confidence_study.py [--model he-histology] [--lab-ensemble SECONDS]
    python benchmarks/confidence_study.py --unseen [--colour-spread W]

``--unseen``: every lab image of ``napari_colorize.training.labs`` (``train`` and ``eval-only``
rows) that the recipe neither trained, validated nor held out on, central crop of at most 1024
px: the same tile Spearman per lab and pooled over all labs' tiles, then one summary line.
``--colour-spread W`` overrides the card's weight of the local colour spread in the confidence
(0: the network's predicted error alone).

For the recipe's validation and held-out images: the per-64-px-tile Spearman of the model's
(1 - confidence) against its CIEDE2000 (as `evaluate` reports it), the same with the tile grid
moved by 16-48 px, and two reference points:

- ``lightness_ceiling``: a per-lightness error table fitted on the image's *own* errors. It
  bounds every confidence that depends on gray level alone (such as a lookup table's spread).
- ``lab_ensemble`` (with ``--lab-ensemble``): the disagreement of two copies of the model, each
  tuned for SECONDS on one training lab's slide only: where the two labs would colour a pixel
  differently, a third lab might too.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from napari_colorize import colorize, load_model
from napari_colorize.training.api import tune
from napari_colorize.training.evaluation import ciede2000, gray_with_lightness, rgb_to_lab_np
from napari_colorize.training.patches import tissue_mask
from napari_colorize.training.recipes import HE_HISTOLOGY, region_images
from napari_colorize.training.tile_ranking import tile_means, tile_spearman

OFFSETS = (0, 16, 32, 48)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def grid_range(uncertainty: np.ndarray, error: np.ndarray, mask: np.ndarray) -> list:
    """[min, max] Spearman over tile grids moved by OFFSETS in y and x."""
    values = [tile_spearman(uncertainty[y:, x:], error[y:, x:], mask[y:, x:])
              for y in OFFSETS for x in OFFSETS]
    values = [v for v in values if v is not None]
    return [_round(min(values)), _round(max(values))] if values else [None, None]


def lightness_table(lightness: np.ndarray, error: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean error of each integer lightness over the tissue, looked up per pixel."""
    index = np.clip(np.round(lightness), 0, 100).astype(int)
    sums = np.bincount(index[mask], error[mask], minlength=101)
    counts = np.bincount(index[mask], minlength=101)
    return (sums / np.maximum(counts, 1))[index]


def lab_models(base, seconds: float) -> list:
    """The base model tuned on each training slide alone (seeded, not saved)."""
    return [tune([image], base=base, save=False, progress=False, seconds=seconds).model
            for image in region_images(HE_HISTOLOGY.train)]


def unseen_labs(model) -> None:
    """Confidence Spearman of ``model`` on the labs of images the recipe never used."""
    from scipy.stats import spearmanr

    from napari_colorize.core.reference import centre_crop
    from napari_colorize.training.datasets import load_rgb
    from napari_colorize.training.labs import lab_images

    used = {r.image for r in HE_HISTOLOGY.train + HE_HISTOLOGY.validation + HE_HISTOLOGY.holdout}
    labs = {**lab_images("train"), **lab_images("eval-only")}
    pooled: list[tuple[float, float]] = []
    per_lab = {}
    for lab, names in labs.items():
        pairs: list[tuple[float, float]] = []
        for name in names:
            if name in used:
                continue
            rgb = centre_crop(load_rgb(name), 1024)
            truth = rgb_to_lab_np(rgb)
            mask = tissue_mask(truth)
            result = colorize(rgb, model, from_rgb=True, confidence=True)
            error = ciede2000(rgb_to_lab_np(result.rgb), truth)
            pairs += list(zip(*tile_means(1 - result.confidence, error, mask), strict=True))
        if len(pairs) >= 10:
            per_lab[lab] = _round(float(spearmanr(*zip(*pairs, strict=True)).statistic))
            print(json.dumps({"lab": lab, "tiles": len(pairs),
                              "confidence_spearman": per_lab[lab]}), flush=True)
            pooled += pairs
    print(json.dumps({
        "model": model.name, "colour_spread": model.net.colour_spread,
        "labs": len(per_lab), "tiles": len(pooled),
        "confidence_spearman_pooled": _round(float(spearmanr(*zip(*pooled, strict=True))
                                                    .statistic)),
        "confidence_spearman_lab_mean": _round(float(np.mean(list(per_lab.values())))),
        "confidence_spearman_lab_worst": min(per_lab.values()),
    }), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--lab-ensemble", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--unseen", action="store_true", help="labs the recipe never used")
    parser.add_argument("--colour-spread", type=float, default=None, metavar="W")
    args = parser.parse_args()
    model = load_model(args.model, device="cpu")
    if args.colour_spread is not None:
        model.net.colour_spread = args.colour_spread
    if args.unseen:
        unseen_labs(model)
        return
    labs = lab_models(model, args.lab_ensemble) if args.lab_ensemble > 0 else []
    regions = HE_HISTOLOGY.validation + HE_HISTOLOGY.holdout
    for region, rgb in zip(regions, region_images(regions), strict=True):
        truth = rgb_to_lab_np(rgb)
        mask = tissue_mask(truth)
        gray = gray_with_lightness(rgb)
        result = colorize(gray, model, confidence=True)
        predicted, confidence = result.rgb, result.confidence
        lab = rgb_to_lab_np(predicted)
        error = ciede2000(lab, truth)
        result = {
            "image": region.image, "role": "validation" if region in HE_HISTOLOGY.validation
            else "holdout", "tissue_ciede2000": round(float(error[mask].mean()), 3),
            "confidence_spearman": _round(tile_spearman(1 - confidence, error, mask)),
            "confidence_spearman_grids": grid_range(1 - confidence, error, mask),
            "lightness_ceiling": _round(
                tile_spearman(lightness_table(lab[0], error, mask), error, mask)),
        }
        if labs:
            a, b = (rgb_to_lab_np(colorize(gray, m).rgb) for m in labs)
            result["lab_ensemble"] = _round(tile_spearman(ciede2000(a, b), error, mask))
            result["lab_ensemble_seconds"] = args.lab_ensemble
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
