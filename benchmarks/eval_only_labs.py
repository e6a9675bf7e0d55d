"""Models on the eval-only H&E labs (never trained or selected on): colour, hints, reference.

    python benchmarks/eval_only_labs.py [NAME=MODEL ...]   # default v=he-histology

For each image of the ``eval-only`` labs (central crop of at most 1024 px a side), tissue
CIEDE2000 of the LUT fitted on all ``train`` H&E images (every pixel once, and each image
weighed equally), and per model, as ``crossval_labs.py`` scores a held-out image: plain, with
5 hints at random tissue pixels (mean of 5 seeds), and on the right half with the left half as
``reference=`` (beside the LUT fitted on that left half). One JSON line per image, then the
means.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from crossval_labs import score_image

from napari_colorize.core.reference import centre_crop
from napari_colorize.models.registry import load_model
from napari_colorize.training.datasets import load_rgb
from napari_colorize.training.labs import he_images
from napari_colorize.training.lut import fit_lut

#: Per model, what ``score_image`` reports under these names.
PER_MODEL = {"model": "", "hints": "_hints5", "right_model": "_right",
             "right_reference": "_right_reference"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["v=he-histology"], metavar="NAME=MODEL",
                        help="models to score, by name or path (default v=he-histology)")
    specs = parser.parse_args().models
    models = {k: load_model(v) for k, v in (a.split("=", 1) for a in specs)}
    train = [load_rgb(n) for n in he_images("train")]
    lut, lut_by_image = fit_lut(train), fit_lut(train, by_image=True)
    del train
    rows = {}
    for name in he_images("eval-only"):
        rgb = centre_crop(load_rgb(name), 1024)
        row = {}
        for key, net in models.items():
            scored = score_image(rgb, net, lut, 5, lut_by_image)
            if scored is None:  # too little tissue to score
                break
            for field in ("lut", "lut_by_image", "right_reference_lut"):
                row[field] = scored[field]
            row.update({key + suffix: scored[field] for field, suffix in PER_MODEL.items()})
        if row:
            rows[name] = {k: round(v, 3) for k, v in row.items()}
            print(json.dumps({"image": name, **rows[name]}), flush=True)
    keys = next(iter(rows.values())).keys()
    print(json.dumps({"mean": {k: round(float(np.mean([r[k] for r in rows.values()])), 3)
                               for k in keys}}))


if __name__ == "__main__":
    main()
