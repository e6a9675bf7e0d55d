"""Does a slide's gray tell its lab's colours? Leave-one-lab-out, without training; prints JSON.

    python benchmarks/context_study.py [--features gray|all] [--alphas 1 10 100 1000]

A model that sees one tile cannot tell which lab stained it; a model given a summary of the
whole image could, if that summary carries the lab's colours. This measures that ceiling
before any network is built. For each ``train`` image (central crop of at most 1024 px):

- its context: the domain check's gray statistics (32 numbers: moments, percentiles, textures,
  lightness and 8x8-block histograms) averaged over its windows; with ``--features all``, also
  the bundled model's trunk features pooled over all, dark and pale positions and its head's
  spread (136 numbers);
- its stain offset: the mean tissue chroma (a*, b*) minus the training folds' per-lightness
  table (LUT), in 5 lightness bands.

Per fold of ``crossval_labs.py`` (whole labs held out), a ridge regression from context to
offset is fitted on the other folds' images and applied to the held-out ones: the LUT plus the
predicted offset, scored by tissue CIEDE2000 against the LUT alone and against the image's own
offset (an oracle: what a perfect lab guess would give; a reference image gets close to it).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from crossval_labs import CROP, FOLDS5, tissue  # the same folds, crops and tissue

from napari_colorize.core.domain_features import (
    gray_statistics,
    sample_lightness,
    window_features,
)
from napari_colorize.core.intensity import IntensityWindow
from napari_colorize.core.reference import centre_crop
from napari_colorize.models.registry import load_model
from napari_colorize.training.datasets import load_rgb
from napari_colorize.training.evaluation import ciede2000, render, rgb_to_lab_np
from napari_colorize.training.labs import lab_images
from napari_colorize.training.lut import fit_lut, lut_prior

#: Lightness bands of the stain offset.
BANDS = (0.0, 40.0, 55.0, 70.0, 85.0, 101.0)
#: Fewest tissue pixels for a band's offset to count.
MIN_PIXELS = 200


def context(lab: np.ndarray, net=None) -> np.ndarray:
    """The domain check's window features, averaged: what a whole image says.

    Its gray statistics alone, or (with ``net``) all of them: with the network's pooled trunk
    features and head outputs too.
    """
    gray = np.clip(np.round(lab[0] * 2.55), 0, 255).astype(np.uint8)  # L* as 8-bit gray
    windows = sample_lightness(gray, IntensityWindow(0, 255))
    if net is None:
        return gray_statistics(windows).mean(0).double().numpy()
    return window_features(windows, net).mean(0)


def band_of(lightness: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(BANDS, lightness, side="right") - 1, 0, len(BANDS) - 2)


def offset(lab: np.ndarray, lut: torch.Tensor, mask: np.ndarray) -> np.ndarray:
    """Mean (true - LUT) chroma of tissue per band: ``(bands, 2)``, NaN where too few pixels."""
    residual = lab[1:] - lut_prior(lut, lab[0])
    bands = band_of(lab[0])
    out = np.full((len(BANDS) - 1, 2), np.nan)
    for k in range(len(BANDS) - 1):
        sel = mask & (bands == k)
        if sel.sum() >= MIN_PIXELS:
            out[k] = residual[:, sel].mean(1)
    return out


def score(lab: np.ndarray, lut: torch.Tensor, mask: np.ndarray, shift: np.ndarray) -> float:
    ab = lut_prior(lut, lab[0]) + np.nan_to_num(shift)[band_of(lab[0])].transpose(2, 0, 1)
    return float(ciede2000(rgb_to_lab_np(render(lab[0], ab[0], ab[1])), lab)[mask].mean())


def ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, ...]:
    """Ridge from standardised ``x`` to ``y`` (one column per target, NaN rows skipped)."""
    mean, std = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / std
    coefs = []
    for j in range(y.shape[1]):
        ok = ~np.isnan(y[:, j])
        zj, yj = z[ok], y[ok, j]
        bias = yj.mean() if len(yj) else 0.0
        w = np.linalg.solve(zj.T @ zj + alpha * np.eye(z.shape[1]), zj.T @ (yj - bias))
        coefs.append((w, bias))
    return mean, std, coefs


def predict(model: tuple, x: np.ndarray) -> np.ndarray:
    mean, std, coefs = model
    z = (x - mean) / std
    return np.array([z @ w + bias for w, bias in coefs])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alphas", type=float, nargs="+", default=[1.0, 10.0, 100.0, 1000.0])
    parser.add_argument("--features", choices=("gray", "all"), default="gray",
                        help="the gray statistics alone, or with the bundled model's features")
    args = parser.parse_args()
    net = load_model("he-histology") if args.features == "all" else None
    labs = lab_images("train")
    folds = [[lab for lab in group if lab in labs] for group in FOLDS5]
    images = {name: rgb_to_lab_np(centre_crop(load_rgb(name), CROP))
              for names in labs.values() for name in names}
    contexts = {name: context(lab, net) for name, lab in images.items()}
    rows = []
    for number, held in enumerate(folds):
        train_names = [n for lab, names in labs.items() if lab not in held for n in names]
        test_names = [n for lab in held for n in labs[lab]]
        lut = fit_lut([load_rgb(n) for n in train_names])
        x = np.array([contexts[n] for n in train_names])
        y = np.array([offset(images[n], lut, tissue(images[n])).ravel() for n in train_names])
        models = {a: ridge(x, y, a) for a in args.alphas}
        per_image = {}
        for name in test_names:
            lab = images[name]
            mask = tissue(lab)
            if mask.sum() < 2000:
                continue
            own = offset(lab, lut, mask)
            row = {"lut": score(lab, lut, mask, np.zeros_like(own)),
                   "oracle": score(lab, lut, mask, own),
                   "mean_offset": score(lab, lut, mask, np.nanmean(y, 0).reshape(own.shape))}
            for a, model in models.items():
                shift = predict(model, contexts[name][None])[:, 0].reshape(own.shape)
                row[f"ridge_{a:g}"] = score(lab, lut, mask, shift)
            per_image[name] = {k: round(v, 3) for k, v in row.items()}
        keys = next(iter(per_image.values())).keys()
        fold = {k: float(np.mean([r[k] for r in per_image.values()])) for k in keys}
        ratios = {f"{k}_over_lut": round(fold[k] / fold["lut"], 3) for k in keys if k != "lut"}
        rows.append({"fold": number, "held_out": held, "images": per_image,
                     **{k: round(v, 3) for k, v in fold.items()}, **ratios})
        print(json.dumps(rows[-1]), flush=True)
    keys = [k for k in rows[0] if k.endswith("_over_lut")]
    print(json.dumps({"summary": {k: {"mean": round(float(np.mean([r[k] for r in rows])), 3),
                                      "worst": round(float(np.max([r[k] for r in rows])), 3)}
                                  for k in keys}}))


if __name__ == "__main__":
    main()
