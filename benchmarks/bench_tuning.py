"""Domain tuning on a stain the default model never saw; prints JSON.

scikit-image's IHC image (DAB + haematoxylin, 512 x 512): tune ``he-histology`` on the LEFT half,
score tissue CIEDE2000 (true L < 88 or chroma > 8) on the RIGHT half, through the same path a user
sees (uint8 gray of the true lightness -> colorize -> uint8 sRGB). Reported: the base model, the
per-lightness table fitted on the left half alone (LUT baseline), calibration only (no gradient
step), and calibration + gradient steps within the time budget (whole tuning call, wall time).

    flock /tmp/heavy.lock python benchmarks/bench_tuning.py [--seconds 120] [--variants all,decoder]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

VARIANTS = {
    "all": {},
    "decoder": {"layers": "decoder"},
    "head": {"layers": "head"},
    "all-lr1e-3": {"lr": 1e-3},
    "all-lr2e-4": {"lr": 2e-4},
    "all-bf16": {"bf16": True},
    "all-patch256": {"patch": 256, "batch_size": 4},
    "no-calibration": {"calibrate": False},
    "all-holdout0": {"holdout": 0.0},
}


def right_half_error(model, right: np.ndarray) -> float:
    from napari_colorize.training.evaluation import evaluate_image

    return evaluate_image(model, right, label="right half")["ciede2000"]["model"]["tissue"]


def lut_baseline(left: np.ndarray, right: np.ndarray) -> float:
    from napari_colorize.training.evaluation import (
        ciede2000,
        gray_with_lightness,
        render,
        rgb_to_lab_np,
    )
    from napari_colorize.training.lut import fit_lut
    from napari_colorize.training.patches import tissue_mask

    truth = rgb_to_lab_np(right)
    gray = gray_with_lightness(right)
    lightness = rgb_to_lab_np(np.repeat(gray[..., None], 3, axis=-1))[0]
    table = fit_lut([left]).numpy()
    prior = table[:, np.clip(np.round(lightness), 0, 100).astype(int)]
    de = ciede2000(rgb_to_lab_np(render(lightness, prior[0], prior[1])), truth)
    return round(float(de[tissue_mask(truth)].mean()), 3)


def run(left, right, base, seconds, device="cpu", **settings):
    from napari_colorize.core.events import drain
    from napari_colorize.training.tuning import TuneConfig, iter_tune

    load = os.getloadavg()[0]
    start = time.perf_counter()
    config = TuneConfig(seconds=seconds, **settings)
    result = drain(iter_tune([left], config, base=base, device=device))
    wall = time.perf_counter() - start
    return {
        "right_tissue_ciede2000": right_half_error(result.model, right),
        "wall_s": round(wall, 1),
        "steps": result.metrics["steps"],
        # the machine is shared: other jobs at the same time cut the number of steps a lot
        "load_avg_1min": [round(load, 2), round(os.getloadavg()[0], 2)],
        "holdout_left_strip": result.metrics["holdout_ciede2000_tissue"],
    }


def main() -> None:
    import skimage.data

    from napari_colorize import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--device", default="cpu", help="cpu (the target), cuda, ...")
    parser.add_argument("--variants", default="all",
                        help=f"comma-separated, from {', '.join(VARIANTS)}")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    ihc = skimage.data.immunohistochemistry()
    left, right = ihc[:, :256], ihc[:, 256:]
    base = load_model("he-histology")
    base_error = right_half_error(base, right)
    out = {
        "image": "skimage.data.immunohistochemistry(), 512x512; tune on cols 0-255, score 256-511",
        "torch_threads": torch.get_num_threads(),
        "budget_s": args.seconds,
        "base": base_error,
        "lut_left_half": lut_baseline(left, right),
    }
    out["device"] = args.device
    calib = run(left, right, base, args.seconds, args.device, steps=0)
    calib["reduction"] = round(1 - calib["right_tissue_ciede2000"] / base_error, 3)
    out["calibration_only"] = calib
    for name in args.variants.split(","):
        result = run(left, right, base, args.seconds, args.device, **VARIANTS[name])
        result["reduction"] = round(1 - result["right_tissue_ciede2000"] / base_error, 3)
        out[f"calibration+gradient[{name}]" if name != "no-calibration" else "gradient_only"] = \
            result
        print(json.dumps(out), flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
