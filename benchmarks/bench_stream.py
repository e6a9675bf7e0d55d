"""Stream a generated uint8 zarr stack to a multiscale OME-Zarr; prints one JSON line.

    python benchmarks/bench_stream.py [--planes 480] [--size 2048] [--workdir /tmp]

The default stack is 480 x 2048 x 2048 = 2.01 Gpx (the CMU-1 sample tiled out, shifted per plane
so no two planes are alike). Reports end-to-end MP/s (reading, model, blending, conversion,
writing the pyramid) and the process's peak RSS, which must not grow with the stack.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from napari_colorize import iter_colorize, load_model


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_stack(path: Path, planes: int, size: int) -> None:
    import imageio.v3 as iio
    import zarr

    sample = iio.imread(Path(__file__).parents[1] / "sample_data" / "cmu1_region_gray.png")
    reps = (-(-size // sample.shape[0]), -(-size // sample.shape[1]))
    base = np.ascontiguousarray(np.tile(sample, reps)[:size, :size])
    z = zarr.create_array(path, shape=(planes, size, size), chunks=(1, 512, 512), dtype=np.uint8)
    for i in range(planes):
        z[i] = np.roll(base, (13 * i, 37 * i), axis=(0, 1))


def du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planes", type=int, default=480)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--model", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workdir", default=None, help="where the stack and result go (temp)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(dir=args.workdir))
    try:
        stack = tmp / "stack.zarr"
        start = time.perf_counter()
        make_stack(stack, args.planes, args.size)
        generate_s = time.perf_counter() - start
        rss_after_generate = peak_rss_mb()
        model = load_model(args.model, device=args.device)
        out = tmp / "result.ome.zarr"
        start = time.perf_counter()
        rss_trace = []
        for event in iter_colorize(str(stack), model, out=out):
            if event.done % 200 == 0:
                rss_trace.append(round(peak_rss_mb()))
        seconds = time.perf_counter() - start
        gpx = args.planes * args.size * args.size / 1e9
        print(json.dumps({
            "benchmark": "stream",
            "stack": [args.planes, args.size, args.size],
            "gpx": round(gpx, 3),
            "seconds": round(seconds, 1),
            "mps": round(gpx * 1e3 / seconds, 2),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "peak_rss_mb_before_run": round(rss_after_generate, 1),
            "peak_rss_trace_mb": rss_trace[:: max(1, len(rss_trace) // 10)],
            "input_mb": round(du_mb(stack), 1),
            "output_mb": round(du_mb(out), 1),
            "generate_seconds": round(generate_s, 1),
            "model": model.spec.name,
            "device": args.device,
            "threads": torch.get_num_threads(),
        }))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
