"""Validation of a fractions model on the scratch-assay time series; prints one JSON object.

    python benchmarks/eval_fluorescence.py [--model fluorescence-composite] [--frames N]
                                           [--speed 2048]

Per validation channel: Pearson of the rendered maps ``I * fraction`` and MSE of fractions,
model vs. the average-mix baseline; frame-to-frame change; confidence vs. error; the model's
classes inside the file's nuclei/cytoplasm labels; the engine's tiled channel maps vs. the direct
forward the evaluation uses. ``--speed N`` adds the raw forward rate (512-px tiles, no
confidence) and end-to-end ``colorize`` (with and without channel maps) on an N x N uint16 image.
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
    from napari_colorize import colorize

    for key, kwargs in (("colorize_mps", {}), ("colorize_channels_mps", {"channels": True})):
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            colorize(image, model=model, **kwargs)
            best = min(best, time.perf_counter() - t)
        out[key] = round(size * size / best / 1e6, 2)
    return out


def engine_check(model) -> dict:
    """The engine's per-channel maps (tiled, 256-px tiles) vs ``I * fractions`` of the direct
    whole-frame forward used by the evaluation, on the uint16 validation sample."""
    from pathlib import Path

    import tifffile

    from napari_colorize import colorize
    from napari_colorize.core.intensity import compute_window, to_lightness
    from napari_colorize.training.fraction_metrics import predict_fractions
    from napari_colorize.training.fraction_targets import window_gray

    sample = Path(__file__).parents[1] / "sample_data" / "ndev_scratch_assay_gray.tif"
    stack = tifffile.imread(sample)
    result = colorize(stack, model=model, channels=True, tile_size=256, overlap=64)
    _, maps = result.rgb, result.channels
    window = compute_window(stack)
    diffs = []
    for t in range(stack.shape[0]):
        direct = predict_fractions(model, to_lightness(stack[t], window))[:-1]
        diffs.append(np.abs(maps[:, t] - direct * window_gray(stack[t], window).numpy()))
    d = np.concatenate([x.ravel() for x in diffs])
    return {"sample": sample.name, "max_abs_diff": round(float(d.max()), 4),
            "p99_9_abs_diff": round(float(np.percentile(d, 99.9)), 4),
            "mean_abs_diff": round(float(d.mean()), 5)}


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
    result["engine_vs_direct"] = engine_check(model)
    if args.speed:
        result["speed"] = speed(model, args.speed)
    result["machine"] = f"{platform.machine()} CPU, {torch.get_num_threads()} threads"
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
