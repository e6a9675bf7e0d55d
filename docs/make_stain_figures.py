"""Figure of every named stain: the gray input, then its rendering in each stain's dyes.

    python docs/make_stain_figures.py [--out docs/images/stains.jpg]

The input is the stardist H&E validation image in sample_data/ (gray; never trained on),
colorized once by ``he-histology`` and rendered in each stain of the table. One panel a stain,
labelled with its name and dyes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image, ImageDraw

from napari_colorize import colorize
from napari_colorize.core.stains import stain_table

ROOT = Path(__file__).parents[1]
COLUMNS = 4
LABEL = 30


def panel(rgb: np.ndarray, title: str, subtitle: str) -> Image.Image:
    image = Image.new("RGB", (rgb.shape[1], rgb.shape[0] + LABEL), "white")
    image.paste(Image.fromarray(rgb), (0, LABEL))
    draw = ImageDraw.Draw(image)
    draw.text((4, 2), title, fill="black")
    draw.text((4, 15), subtitle, fill=(90, 90, 90))
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs/images/stains.jpg"))
    args = parser.parse_args()
    gray = iio.imread(ROOT / "sample_data/stardist_histo_gray.png")[:224, :300]
    panels = [panel(np.repeat(gray[..., None], 3, -1), "gray input", "stardist H&E, validation")]
    panels.append(panel(colorize(gray, device="cpu").rgb, "he-histology", "the model's own H&E"))
    for name, stain in stain_table().items():
        rgb = colorize(gray, device="cpu", stain=name).rgb
        panels.append(panel(rgb, name, " + ".join(stain.dyes)))
    w, h = panels[0].size
    rows = -(-len(panels) // COLUMNS)
    sheet = Image.new("RGB", (COLUMNS * w, rows * h), "white")
    for i, p in enumerate(panels):
        sheet.paste(p, ((i % COLUMNS) * w, (i // COLUMNS) * h))
    sheet.save(args.out, quality=85)
    print(f"wrote {args.out} ({len(panels) - 2} stains)")


if __name__ == "__main__":
    main()
