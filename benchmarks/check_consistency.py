"""Colour consistency along Z/T: mean CIEDE2000 between consecutive planes; one JSON line.

    python benchmarks/check_consistency.py

- ``static``: the CMU-1 gray region repeated 5 times. Same window, same model state, no per-plane
  normalisation: consecutive planes must be identical (0).
- ``focus_series``: the 9-plane simulated focus series of CMU-1 (``sample_data``). The planes
  differ (defocus), so the colour may differ; reported with the same difference of the input
  lightness for scale.
- ``time_series``: the real scratch-assay time series (uint16 fluorescence, ``sample_data``)
  through ``fluorescence-composite``, with one percentile window for the whole series.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tifffile

from napari_colorize import colorize, list_models
from napari_colorize.training.evaluation import ciede2000, rgb_to_lab_np

SAMPLES = Path(__file__).parents[1] / "sample_data"


def consecutive(rgb: np.ndarray) -> dict:
    """Mean and 99th percentile of CIEDE2000 between planes i and i + 1, over all pixels."""
    labs = [rgb_to_lab_np(plane) for plane in rgb]
    des = [ciede2000(a, b) for a, b in itertools.pairwise(labs)]
    return {
        "mean": round(float(np.mean([d.mean() for d in des])), 3),
        "p99": round(float(np.mean([np.percentile(d, 99) for d in des])), 3),
        "chroma_only_mean": round(float(np.mean([
            np.hypot(a[1] - b[1], a[2] - b[2]).mean() for a, b in itertools.pairwise(labs)
        ])), 3),
    }


def main() -> None:
    out: dict = {"check": "consistency"}
    gray = iio.imread(SAMPLES / "cmu1_region_gray.png")[:512, :512]
    out["static"] = consecutive(colorize(np.stack([gray] * 5)).rgb)
    focus = tifffile.imread(SAMPLES / "cmu1_focus_stack_gray.tif")
    out["focus_series"] = consecutive(colorize(focus).rgb)
    gray_rgb = np.repeat(focus[..., None], 3, axis=-1)
    out["focus_series_input_gray"] = consecutive(gray_rgb)
    if "fluorescence-composite" in list_models():
        series = tifffile.imread(SAMPLES / "ndev_scratch_assay_gray.tif")
        out["time_series"] = consecutive(colorize(series, "fluorescence-composite").rgb)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
