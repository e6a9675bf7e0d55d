"""Engine throughput vs the model's raw forward on the same tiles; prints one JSON line.

    python benchmarks/bench_engine.py [--size 2048] [--model he-histology] [--repeat 3]

engine_mps: end-to-end ``colorize`` of a uint8 image in memory (lightness mapping, tiling,
batching, blending, Lab -> sRGB). raw_model_mps: the same model called on the same tiles, already
stacked as tensors, with no tiling or I/O. Best of ``--repeat`` runs for each, measured in one
process so the ratio is fair on a noisy machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time

import numpy as np
import torch

from napari_colorize import colorize, load_model
from napari_colorize.core.intensity import IntensityWindow, to_lightness
from napari_colorize.core.tiling import plan_tiles


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_image(size: int) -> np.ndarray:
    """A tissue-like uint8 image: the CMU-1 sample, tiled out to ``size``."""
    from pathlib import Path

    import imageio.v3 as iio

    sample = Path(__file__).parents[1] / "sample_data" / "cmu1_region_gray.png"
    base = iio.imread(sample)
    reps = (-(-size // base.shape[0]), -(-size // base.shape[1]))
    return np.ascontiguousarray(np.tile(base, reps)[:size, :size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--model", default=None)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    image = test_image(args.size)
    model = load_model(args.model, device=args.device)
    kw = {"tile_size": args.tile, "overlap": args.overlap, "batch_size": args.batch}
    mp = image.size / 1e6

    lightness = to_lightness(image, IntensityWindow(0, 255))
    tiles = plan_tiles(image.shape, args.tile, args.overlap)
    batches = [
        torch.stack([lightness[t.read] for t in tiles[i : i + args.batch]])[:, None]
        for i in range(0, len(tiles), args.batch)
    ]

    def raw() -> None:
        for x in batches:
            model(x, confidence=False)  # the call the engine makes without a confidence map

    def engine() -> None:
        colorize(image, model, **kw)

    timings: dict[str, list[float]] = {"raw": [], "engine": []}
    raw()  # warm-up: oneDNN picks kernels on the first call
    engine()
    for _ in range(args.repeat):
        for name, fn in (("raw", raw), ("engine", engine)):
            start = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - start)
    raw_mps = mp / min(timings["raw"])
    engine_mps = mp / min(timings["engine"])
    print(json.dumps({
        "benchmark": "engine",
        "image": [args.size, args.size],
        "model": model.spec.name,
        "tiles": len(tiles),
        **kw,
        "engine_mps": round(engine_mps, 2),
        "raw_model_mps": round(raw_mps, 2),
        "engine_over_raw": round(engine_mps / raw_mps, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "device": args.device,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
