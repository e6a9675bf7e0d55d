"""GPU throughput: end-to-end colorize from memory vs the raw forward; prints one JSON line.

    python benchmarks/bench_gpu.py [--size 8192] [--tile 1024] [--batch 16]

A uint8 image in host memory (the CMU-1 sample tiled out to ``size`` x ``size``) is colorized
end to end (host -> GPU copy, lightness, tiles, model, blending, Lab -> sRGB, GPU -> host copy
into a numpy array). ``raw_model_mps`` is the model alone on the same tiles already on the GPU.
Both are timed with the device synchronized, best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_engine import test_image

from napari_colorize import colorize, load_model
from napari_colorize.core.intensity import IntensityWindow, to_lightness
from napari_colorize.core.tiling import plan_tiles


def timed(fn, repeat: int) -> float:
    fn()
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--block", default="auto", help="block_size (auto: 8192 on CUDA)")
    parser.add_argument("--profile", action="store_true", help="also print a host-side profile")
    args = parser.parse_args()
    block = args.block if args.block == "auto" else int(args.block)
    image = test_image(args.size)
    mp = image.size / 1e6
    out: dict = {"benchmark": "gpu", "device": torch.cuda.get_device_name(0),
                 "image": [args.size, args.size], "tile_size": args.tile, "overlap": args.overlap,
                 "batch_size": args.batch, "block_size": args.block, "torch": torch.__version__}
    for precision in ("auto", "fp32"):
        model = load_model(None, device="cuda")
        model.precision = precision
        lightness = to_lightness(image, IntensityWindow(0, 255)).cuda()
        tiles = plan_tiles(image.shape, args.tile, args.overlap)
        batches = [torch.stack([lightness[t.read] for t in tiles[i : i + args.batch]])[:, None]
                   for i in range(0, len(tiles), args.batch)]

        def raw(model=model, batches=batches) -> None:
            for x in batches:
                model(x, confidence=False)

        result = np.zeros((*image.shape, 3), np.uint8)

        def engine(model=model, result=result) -> None:
            colorize(image, model, tile_size=args.tile, overlap=args.overlap,
                     batch_size=args.batch, out=result, block_size=block)

        raw_s, engine_s = timed(raw, args.repeat), timed(engine, args.repeat)
        name = "bf16" if precision == "auto" else "fp32"
        out[name] = {"raw_model_mps": round(mp / raw_s, 1), "engine_mps": round(mp / engine_s, 1),
                     "engine_over_raw": round(raw_s / engine_s, 3)}
        out[name]["auto_batch"] = None
        if precision == "auto":
            from napari_colorize.core.tile_plan import auto_batch_size

            out[name]["auto_batch"] = auto_batch_size(model, args.tile)
        del batches, lightness
        torch.cuda.empty_cache()
    cpu_model = load_model(None, device="cpu")
    crop = image[:2048, :2048]
    bf16 = colorize(crop, load_model(None, device="cuda")).rgb
    ref = colorize(crop, cpu_model).rgb
    from napari_colorize.training.evaluation import ciede2000, rgb_to_lab_np

    de = ciede2000(rgb_to_lab_np(bf16), rgb_to_lab_np(ref))
    out["bf16_vs_cpu_fp32_ciede2000"] = {"mean": round(float(de.mean()), 3),
                                         "p99": round(float(np.percentile(de, 99)), 3)}
    out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    print(json.dumps(out))
    if args.profile:  # where an end-to-end run spends its time (host side)
        import cProfile
        import pstats

        model = load_model(None, device="cuda")
        result = np.zeros((*image.shape, 3), np.uint8)
        kw = {"tile_size": args.tile, "overlap": args.overlap, "batch_size": args.batch,
              "block_size": block}
        colorize(image, model, out=result, **kw)
        profile = cProfile.Profile()
        profile.runcall(colorize, image, model, out=result, **kw)
        pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
