"""Colour hints: tissue CIEDE2000 with and without 5 hints, and the live re-colorize time.

    python benchmarks/bench_hints.py [--seeds 5] [--hints 5]

Hints sit at random tissue pixels (fixed seeds) and carry those pixels' true colours, as a user
would pick them from a reference. Images: the validation image (stardist histo.jpg) and the right
half of scikit-image's IHC image (DAB + haematoxylin, a stain the model never saw). ``live_s`` is
the time to colorize a 1024 x 1024 region with 5 hints (what the widget does after a hint
moves), best of 3, after a warm-up. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from skimage import data

from napari_colorize import colorize, load_model
from napari_colorize.training.evaluation import (
    ciede2000,
    gray_with_lightness,
    random_hints,
    rgb_to_lab_np,
)
from napari_colorize.training.patches import tissue_mask

SAMPLES = Path(__file__).parents[1] / "sample_data"


def score(model, rgb: np.ndarray, n: int, seeds: int) -> dict:
    gray = gray_with_lightness(rgb)
    truth = rgb_to_lab_np(rgb)
    mask = tissue_mask(truth)
    base = float(ciede2000(rgb_to_lab_np(colorize(gray, model).rgb), truth)[mask].mean())
    ratios = []
    for seed in range(seeds):
        hinted = colorize(gray, model, hints=random_hints(rgb, n, seed)).rgb
        ratios.append(float(ciede2000(rgb_to_lab_np(hinted), truth)[mask].mean()) / base)
    return {"without": round(base, 3), "ratio_by_seed": [round(r, 3) for r in ratios],
            "ratio_mean": round(float(np.mean(ratios)), 3), "ratio_worst": round(max(ratios), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--hints", type=int, default=5)
    args = parser.parse_args()
    model = load_model(None, device="cpu")
    ihc = data.immunohistochemistry()
    images = {
        "stardist_validation": iio.imread(SAMPLES / "stardist_histo_rgb.jpg")[..., :3],
        "ihc_right_half": ihc[:, ihc.shape[1] // 2 :],
    }
    out = {"benchmark": "hints", "n_hints": args.hints}
    for name, rgb in images.items():
        out[name] = score(model, rgb, args.hints, args.seeds)
    gray = np.tile(iio.imread(SAMPLES / "cmu1_region_gray.png"), (2, 2))[:1024, :1024]
    hints = (np.array([[100, 100], [300, 700], [500, 200], [800, 900], [1000, 50]]),
             np.array([[200, 120, 180]] * 5))
    colorize(gray, model, hints=hints)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        colorize(gray, model, hints=hints)
        times.append(time.perf_counter() - start)
    out["live_s"] = round(min(times), 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
