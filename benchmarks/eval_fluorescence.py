"""Validation of a fractions model on the scratch-assay time series; prints one JSON object.

    python benchmarks/eval_fluorescence.py [--model fluorescence-composite] [--frames N]
                                           [--speed 2048]

Per validation channel: Pearson of the rendered maps ``I * fraction`` and MSE of fractions,
model vs. the average-mix baseline; frame-to-frame change; confidence vs. error; the model's
classes inside the file's nuclei/cytoplasm labels. ``--speed N`` adds the raw forward rate on an
N x N input and, where the engine supports fraction models, end-to-end ``colorize``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from napari_colorize import load_model
from napari_colorize.training.fraction_metrics import evaluate_fractions


def speed(model, size: int, repeat: int = 3) -> dict:
    """Best-of-``repeat`` megapixels per second: raw forward (512-px tiles) and ``colorize``."""
    x = torch.rand(4, 1, 512, 512) * 100
    tiles = (size // 512) ** 2
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(tiles // 4):
            model(x, confidence=False)
        best = min(best, time.perf_counter() - t)
    out = {"size": size, "raw_forward_mps": round(size * size / best / 1e6, 2)}
    rng = np.random.default_rng(0)
    image = (rng.random((size, size)) * 4000 + 400).astype(np.uint16)
    try:
        from napari_colorize import colorize

        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            colorize(image, model=model)
            best = min(best, time.perf_counter() - t)
        out["colorize_mps"] = round(size * size / best / 1e6, 2)
    except Exception as exc:  # the engine may not render fraction models yet
        out["colorize_error"] = f"{type(exc).__name__}: {exc}"[:200]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fluorescence-composite")
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--speed", type=int, default=0, help="also time an N x N input")
    args = parser.parse_args()
    model = load_model(args.model, device="cpu")
    t = time.perf_counter()
    result = evaluate_fractions(model, frames=args.frames)
    result["seconds"] = round(time.perf_counter() - t, 1)
    if args.speed:
        result["speed"] = speed(model, args.speed)
    result["machine"] = f"{platform.machine()} CPU, {torch.get_num_threads()} threads"
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
