"""Models on the eval-only H&E labs (never trained or selected on): colour, hints, reference.

    python benchmarks/eval_only_labs.py [NAME=MODEL ...]   # default v=he-histology

For each image of the ``eval-only`` labs (central crop of at most 1024 px a side), tissue
CIEDE2000 of the LUT fitted on all ``train`` H&E images (every pixel once, and each image
weighed equally), and per model: plain, with 5 hints at random tissue pixels (mean of 5 seeds),
and on the right half with the left half as ``reference=`` (beside the LUT fitted on that left
half). One JSON line per image, then the means.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from crossval_labs import errors, lut_image, tissue

from napari_colorize import colorize
from napari_colorize.core.reference import centre_crop
from napari_colorize.models.registry import load_model
from napari_colorize.training.datasets import load_rgb
from napari_colorize.training.evaluation import random_hints, rgb_to_lab_np
from napari_colorize.training.labs import he_images
from napari_colorize.training.lut import fit_lut


def main() -> None:
    specs = sys.argv[1:] or ["v=he-histology"]
    models = {k: load_model(v) for k, v in (a.split("=", 1) for a in specs)}
    train = [load_rgb(n) for n in he_images("train")]
    lut, lut_by_image = fit_lut(train), fit_lut(train, by_image=True)
    del train
    rows = {}
    for name in he_images("eval-only"):
        rgb = centre_crop(load_rgb(name), 1024)
        truth = rgb_to_lab_np(rgb)
        mask = tissue(truth)
        half = rgb.shape[1] // 2
        left, right = rgb[:, :half], np.ascontiguousarray(rgb[:, half:])
        right_truth, right_mask = truth[:, :, half:], mask[:, half:]
        row = {"lut": errors(lut_image(lut, truth), truth, mask),
               "lut_by_image": errors(lut_image(lut_by_image, truth), truth, mask),
               "right_reference_lut": errors(lut_image(fit_lut([left]), right_truth),
                                             right_truth, right_mask)}
        for key, net in models.items():
            row[key] = errors(colorize(rgb, net, from_rgb=True).rgb, truth, mask)
            row[f"{key}_hints5"] = float(np.mean([
                errors(colorize(rgb, net, from_rgb=True, hints=random_hints(rgb, 5, seed=s)).rgb,
                       truth, mask) for s in range(5)]))
            row[f"{key}_right"] = errors(colorize(right, net, from_rgb=True).rgb, right_truth,
                                         right_mask)
            row[f"{key}_right_reference"] = errors(
                colorize(right, net, from_rgb=True, reference=left).rgb, right_truth, right_mask)
        rows[name] = {k: round(v, 3) for k, v in row.items()}
        print(json.dumps({"image": name, **rows[name]}), flush=True)
    keys = next(iter(rows.values())).keys()
    print(json.dumps({"mean": {k: round(float(np.mean([r[k] for r in rows.values()])), 3)
                               for k in keys}}))


if __name__ == "__main__":
    main()
