"""Figure for a model card: gray input / prediction / truth / confidence / error.

    python docs/make_model_figure.py [--model he-histology] \
        [--out docs/images/he-histology-validation.png]

Uses the validation image in sample_data/ (never trained on).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image, ImageDraw

from napari_colorize import colorize, load_model
from napari_colorize.training.evaluation import ciede2000, rgb_to_lab_np

ROOT = Path(__file__).parents[1]
# viridis at 5 stops; enough for a legible confidence map without matplotlib
VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]])


def colormap(values: np.ndarray, vmax: float = 1.0) -> np.ndarray:
    """Map ``values`` in [0, vmax] to viridis uint8 RGB."""
    t = np.clip(values / vmax, 0, 1) * (len(VIRIDIS) - 1)
    i = np.minimum(t.astype(int), len(VIRIDIS) - 2)
    f = (t - i)[..., None]
    return (VIRIDIS[i] * (1 - f) + VIRIDIS[i + 1] * f).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="he-histology")
    parser.add_argument("--out", default=str(ROOT / "docs/images/he-histology-validation.png"))
    args = parser.parse_args()
    gray = iio.imread(ROOT / "sample_data/stardist_histo_gray.png")
    truth = iio.imread(ROOT / "sample_data/stardist_histo_rgb.jpg")
    model = load_model(args.model, device="cpu")
    result = colorize(gray, model, confidence=True)
    rgb, conf = result.rgb, result.confidence
    error = ciede2000(rgb_to_lab_np(rgb), rgb_to_lab_np(truth))
    panels = [
        ("gray input", np.repeat(gray[..., None], 3, -1)),
        (f"{model.spec.name}", rgb),
        ("true colour", truth),
        ("confidence (0-1)", colormap(conf)),
        (f"CIEDE2000 (0-10), mean {error.mean():.2f}", colormap(error, 10.0)),
    ]
    h, w = gray.shape
    pad, label = 8, 22
    canvas = Image.new("RGB", (len(panels) * (w + pad) + pad, h + label + 2 * pad), "white")
    draw = ImageDraw.Draw(canvas)
    for k, (title, img) in enumerate(panels):
        x = pad + k * (w + pad)
        canvas.paste(Image.fromarray(img), (x, label + pad))
        draw.text((x, pad), title, fill="black")
    canvas.save(args.out, optimize=True)
    print(args.out)


if __name__ == "__main__":
    main()
