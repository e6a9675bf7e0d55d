"""Named stains on real slides: IHC rendered as "H DAB", H&E as the H&E stains; JSON lines.

    python benchmarks/bench_stains.py [--crop 1024]

Gray images are made from the true colour (same CIE lightness); the model is the bundled
``he-histology``. Tissue CIEDE2000 against the truth for:

- the ``eval-ihc`` images (DeepLIIF's IHC samples, scikit-image's IHC image): the default H&E
  rendering, ``stain="H DAB"``, ``stain="QuPath H-DAB"``, and the per-lightness lookup table
  the model was fitted with on H&E (``lut``);
- the ``eval-only`` H&E images: the default, ``stain="H&E"`` (the same dyes: the prediction
  itself), ``"H&E 2"`` and ``"QuPath H&E"``.

Each image is cut to a centred ``--crop`` square. The last line sums up the ratios.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

IHC_STAINS = ("H DAB", "QuPath H-DAB")
HE_STAINS = ("H&E", "H&E 2", "QuPath H&E")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crop", type=int, default=1024)
    args = parser.parse_args()

    from napari_colorize import load_model
    from napari_colorize.core.reference import centre_crop
    from napari_colorize.training.datasets import load_rgb
    from napari_colorize.training.evaluation import evaluate_image
    from napari_colorize.training.labs import lab_images

    model = load_model("he-histology", device="cpu")
    groups = {"ihc": [(n, lambda n=n: load_rgb(n)) for names in lab_images("eval-ihc").values()
                      for n in names],
              "he": [(n, lambda n=n: load_rgb(n)) for names in lab_images("eval-only").values()
                     for n in names]}
    summary: dict[str, list[float]] = {}
    for group, images in groups.items():
        stains = IHC_STAINS if group == "ihc" else HE_STAINS
        for name, load in images:
            rgb = centre_crop(load(), args.crop)
            base = evaluate_image(model, rgb, label=name, domain_check=False)
            row = {"group": group, "image": name, "shape": list(rgb.shape[:2]),
                   "default": base["ciede2000"]["model"]["tissue"],
                   "lut": base["ciede2000"]["lut"]["tissue"]}
            for stain in stains:
                scored = evaluate_image(model, rgb, label=name, domain_check=False, stain=stain)
                row[stain] = scored["ciede2000"]["model"]["tissue"]
                ratio = row[stain] / row["default"]
                summary.setdefault(f"{group}: {stain} / default", []).append(ratio)
                if group == "ihc":
                    summary.setdefault(f"{group}: {stain} / lut", []).append(row[stain] /
                                                                             row["lut"])
            summary.setdefault(f"{group}: default / lut", []).append(row["default"] / row["lut"])
            print(json.dumps(row), flush=True)
    print(json.dumps({"summary": {k: {"mean": round(float(np.mean(v)), 3),
                                      "worst": round(float(np.max(v)), 3), "n": len(v)}
                                  for k, v in summary.items()}}))


if __name__ == "__main__":
    main()
