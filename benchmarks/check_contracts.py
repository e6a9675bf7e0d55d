"""Tiled-vs-whole agreement and the lightness contract on real tissue; prints one JSON line.

    python benchmarks/check_contracts.py [--model he-histology]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from skimage.color import rgb2lab

from napari_colorize import colorize, load_model
from napari_colorize.training.evaluation import ciede2000, rgb_to_lab_np

SAMPLES = Path(__file__).parents[1] / "sample_data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    model = load_model(args.model, device="cpu")
    result: dict = {"check": "contracts", "model": model.spec.name}

    gray = iio.imread(SAMPLES / "cmu1_region_gray.png")
    whole = colorize(gray, model, tile_size=1024, overlap=0).rgb
    for tile in (256, 512):
        tiled = colorize(gray, model, tile_size=tile).rgb
        de = ciede2000(rgb_to_lab_np(tiled), rgb_to_lab_np(whole))
        result[f"tiled{tile}_vs_whole_ciede2000"] = {
            "mean": round(float(de.mean()), 3), "p99.9": round(float(np.percentile(de, 99.9)), 3),
            "max": round(float(de.max()), 3),
        }
    for name in ("cmu1_region_gray.png", "stardist_histo_gray.png"):
        g = iio.imread(SAMPLES / name)
        rgb = colorize(g, model).rgb
        d = np.abs(rgb2lab(rgb)[..., 0] - rgb2lab(np.repeat(g[..., None], 3, -1))[..., 0])
        result[f"dL_{name}"] = {"mean": round(float(d.mean()), 3),
                                "p99.9": round(float(np.percentile(d, 99.9)), 3),
                                "max": round(float(d.max()), 3)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
