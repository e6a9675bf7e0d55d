"""A colour reference from the image's own lab: half an image colours the other half.

    python benchmarks/bench_reference.py [--images tia-target stardist-histo ...] [--model M]

For each image (names of ``napari_colorize.training.datasets``; default every fetched ``train``
H&E image), the left half in true colour is the reference and the right half, in gray, is
colorized. Tissue CIEDE2000 on the right half (tissue: true L* < 88 or chroma > 8) for:
gray, the training lookup table (per-lightness mean chroma of all the other images), the
reference's own lookup table (fitted on the left half: the bar to beat), the model, and the
model with ``reference=`` the left half. One JSON line per image, then a summary line with the
ratios the product promises: model+reference <= 0.9 x the reference's own table on every image
and <= 0.6 x the training table on average. Also the fit's seconds per reference megapixel.

The bundled model was trained on these images, so this measures the mapping, not a new lab;
the held-out figures come from the leave-one-lab-out cross-validation.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from napari_colorize import colorize
from napari_colorize.core.config import ColorizeConfig
from napari_colorize.core.reference import centre_crop, fit_reference
from napari_colorize.core.tile_plan import resolve_config
from napari_colorize.models.registry import load_model
from napari_colorize.training.evaluation import ciede2000, render, rgb_to_lab_np
from napari_colorize.training.lut import fit_lut, lut_prior
from napari_colorize.training.patches import tissue_mask

MAX_SIDE = 2048  # central crop of large images: keeps a run of every image in minutes


def tissue_error(pred_rgb: np.ndarray, truth_lab: np.ndarray, mask: np.ndarray) -> float:
    return float(ciede2000(rgb_to_lab_np(pred_rgb), truth_lab)[mask].mean())


def lut_rgb(lut: torch.Tensor, truth_lab: np.ndarray) -> np.ndarray:
    ab = lut_prior(lut, truth_lab[0])
    return render(truth_lab[0], ab[0], ab[1])


def score(name: str, rgb: np.ndarray, others: list[np.ndarray], net, config) -> dict:
    half = rgb.shape[1] // 2
    left, right = rgb[:, :half], np.ascontiguousarray(rgb[:, half:])
    truth = rgb_to_lab_np(right)  # (3, H, W)
    mask = np.asarray(tissue_mask(truth))
    gray = render(truth[0], np.zeros_like(truth[0]), np.zeros_like(truth[0]))
    start = time.perf_counter()
    fit_reference(left, net, config)
    fit_seconds = time.perf_counter() - start
    model = colorize(right, net, from_rgb=True, config=config).rgb
    adapted = colorize(right, net, from_rgb=True, reference=left, config=config).rgb
    row = {
        "image": name, "shape": list(rgb.shape[:2]), "tissue_pixels": int(mask.sum()),
        "gray": tissue_error(gray, truth, mask),
        "training_lut": tissue_error(lut_rgb(fit_lut(others), truth), truth, mask),
        "reference_lut": tissue_error(lut_rgb(fit_lut([left]), truth), truth, mask),
        "model": tissue_error(model, truth, mask),
        "model_reference": tissue_error(adapted, truth, mask),
        "fit_seconds_per_mp": fit_seconds / (left.shape[0] * left.shape[1] / 1e6),
    }
    row["reference_over_reference_lut"] = row["model_reference"] / row["reference_lut"]
    row["reference_over_training_lut"] = row["model_reference"] / row["training_lut"]
    row["model_over_training_lut"] = row["model"] / row["training_lut"]
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}


def main() -> None:
    from napari_colorize.training.datasets import load_rgb

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", nargs="+", default=None)
    parser.add_argument("--model", default="he-histology")
    args = parser.parse_args()
    names = args.images or default_images()
    images = {name: centre_crop(load_rgb(name), MAX_SIDE) for name in names}
    net = load_model(args.model, device="cpu")
    config = resolve_config(ColorizeConfig(device="cpu"), net)
    rows = []
    for name, rgb in images.items():
        others = [img for other, img in images.items() if other != name]
        rows.append(score(name, rgb, others, net, config))
        print(json.dumps(rows[-1]), flush=True)
    ratio_ref = [r["reference_over_reference_lut"] for r in rows]
    ratio_train = [r["reference_over_training_lut"] for r in rows]
    print(json.dumps({
        "summary": True, "images": len(rows),
        "worst_reference_over_reference_lut": max(ratio_ref),
        "mean_reference_over_training_lut": round(float(np.mean(ratio_train)), 3),
        "mean_model_over_training_lut": round(float(np.mean(
            [r["model_over_training_lut"] for r in rows])), 3),
        "max_fit_seconds_per_mp": max(r["fit_seconds_per_mp"] for r in rows),
        "targets": {"worst_reference_over_reference_lut": 0.9,
                    "mean_reference_over_training_lut": 0.6},
    }))


def default_images() -> list[str]:
    from napari_colorize.training import datasets

    labs = getattr(datasets, "lab_images", None)
    if labs is None:
        return ["cmu-small-region", "tia-target", "stardist-histo"]
    return [name for names in labs("train").values() for name in names]


if __name__ == "__main__":
    main()
