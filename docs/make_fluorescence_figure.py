"""Figure for the fluorescence-composite model card.

    python docs/make_fluorescence_figure.py [--model fluorescence-composite]
                                            [--out docs/images/fluorescence-composite.png]

Rows: the validation scratch assay (frames 0 and 9, columns 96-415; never trained on) and the
training neuron.
Columns: gray input (as the engine windows it) | predicted composite | true composite |
confidence. Composites are ``clip(sum_k I * fraction_k * palette_k)``; the validation truth has
two channels (Hoechst -> the nuclear colour, oblique light -> the diffuse colour).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch
from PIL import Image, ImageDraw

from napari_colorize import load_model
from napari_colorize.core.intensity import compute_window, to_lightness
from napari_colorize.training.datasets import load_channels
from napari_colorize.training.fraction_metrics import predict_fractions
from napari_colorize.training.fraction_targets import (
    ChannelSource,
    class_amounts,
    fractions_from_amounts,
    normalise_channels,
    window_gray,
)
from napari_colorize.training.recipes import RECIPES

ROOT = Path(__file__).parents[1]
LABEL_H = 22
#: Columns of the validation frames shown (the left cell edge and the scratch), for a small file.
COLS = slice(96, 416)


def composite(gray: np.ndarray, fractions: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """uint8 RGB of ``clip(sum_k gray * fraction_k * palette_k)``."""
    rgb = np.einsum("khw,kc->hwc", fractions * gray[None], palette)
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def gray_rgb(values: np.ndarray) -> np.ndarray:
    """uint8 RGB of values in [0, 1]."""
    g = (np.clip(values, 0, 1) * 255 + 0.5).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=-1)


def panels(model, signal: np.ndarray, window, truth_rgb_fn) -> list[np.ndarray]:
    """Input, prediction, truth and confidence panels of one plane."""
    palette = np.asarray(model.spec.palette, dtype=np.float64)
    gray = window_gray(signal, window).numpy()
    out = predict_fractions(model, to_lightness(signal, window))
    return [gray_rgb(gray), composite(gray, out[:-1], palette), truth_rgb_fn(gray),
            gray_rgb(out[-1])]


def labelled(row: list[np.ndarray], titles: list[str], height: int) -> np.ndarray:
    """Panels scaled to ``height``, side by side, each with a title bar."""
    tiles = []
    for panel, title in zip(row, titles, strict=True):
        img = Image.fromarray(panel)
        img = img.resize((round(img.width * height / img.height), height), Image.BILINEAR)
        canvas = Image.new("RGB", (img.width, height + LABEL_H), "white")
        canvas.paste(img, (0, LABEL_H))
        ImageDraw.Draw(canvas).text((4, 5), title, fill="black")
        tiles.append(np.asarray(canvas))
        tiles.append(np.full((height + LABEL_H, 6, 3), 255, np.uint8))
    return np.concatenate(tiles[:-1], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fluorescence-composite")
    parser.add_argument("--out", default=str(ROOT / "docs/images/fluorescence-composite.png"))
    args = parser.parse_args()
    model = load_model(args.model, device="cpu")
    palette = np.asarray(model.spec.palette, dtype=np.float64)
    titles = ["input (gray)", "predicted composite", "true composite", "confidence"]
    rows = []

    data, _ = load_channels("ndev-scratch-assay")
    norm = normalise_channels(data[:2])
    signal = norm.mean(axis=0)
    window = compute_window(signal)
    truth = norm / np.maximum(norm.sum(axis=0), 1e-6)
    two = palette[[0, 2]]  # Hoechst -> nuclear colour, oblique -> diffuse colour
    for t in (0, signal.shape[0] - 1):
        row = panels(model, signal[t], window, lambda g, t=t: composite(g, truth[:, t], two))
        row = [panel[:, COLS] for panel in row]
        rows.append(labelled(row, [f"{s} - validation t={t}" if i == 0 else s
                                   for i, s in enumerate(titles)], 210))

    src = ChannelSource(**RECIPES["fluorescence-composite"].settings["sources"][1])
    data, _ = load_channels(src.image)
    norm = normalise_channels(data)
    amounts = class_amounts(norm, src, len(palette), diffuse_class=2)
    signal = amounts.sum(axis=0) / len(src.classes)
    target = fractions_from_amounts(torch.from_numpy(amounts), 2).numpy()
    row = panels(model, signal, compute_window(signal), lambda g: composite(g, target, palette))
    rows.append(labelled(row, [f"{s} - training neuron" if i == 0 else s
                               for i, s in enumerate(titles)], 260))

    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=255)
            for r in rows]
    iio.imwrite(args.out, np.concatenate(rows, axis=0))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
