"""Engine throughput vs the model's raw forward on the same tiles; prints one JSON line.

    python benchmarks/bench_engine.py [--size 2048] [--model he-histology] [--repeat 3]
        [--tile auto] [--precision auto]
    python benchmarks/bench_engine.py --compare monai [--planes 64] [--roi 512]

``--compare monai`` runs the same model over a 2048x2048 image in memory and over a
``planes`` x 2048 x 2048 uint8 zarr stack written to a zarr array, three ways: (a) whole-frame
forward (the model on each full plane), (b) MONAI ``sliding_window_inference`` (gaussian
blending, ``--roi`` tiles as a user would pass them, the same overlap in pixels and batch) and
(c) this engine with its default settings (``tile_size="auto"``). Each way runs in its own
process, so its peak RSS is its own; all three produce the same kind of output (sRGB uint8 with
the input's lightness). MONAI is needed only here: ``pip install --no-deps "monai>=1.4,<1.6"``.

engine_mps: end-to-end ``colorize`` of a uint8 image in memory with the default settings
(domain check, lightness mapping, tiling, batching, blending, Lab -> sRGB);
engine_no_domain_mps: the same with ``domain_check=False``. raw_model_mps: the same model (same
precision) called on the same tiles (the engine's plan), already stacked as tensors, with no
tiling or I/O. Best of ``--repeat`` runs for each, measured in one
process so the ratio is fair on a noisy machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from typing import Any

import numpy as np
import torch

from napari_colorize import colorize, load_model
from napari_colorize.core.intensity import IntensityWindow, to_lightness
from napari_colorize.core.tile_plan import auto_tile_size
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


def _lightness_and_convert():
    from napari_colorize.core.color import lab_to_srgb_uint8

    def convert(lightness: torch.Tensor, ab: torch.Tensor) -> np.ndarray:
        return lab_to_srgb_uint8(lightness, ab[0], ab[1]).numpy()

    return convert


def run_method(method: str, source: str, args: argparse.Namespace) -> dict:
    """One way of colorizing ``source`` (``"memory"`` or a zarr path); returns timings."""
    import zarr

    model = load_model(args.model, device=args.device)
    model.precision = args.precision
    convert = _lightness_and_convert()
    window = IntensityWindow(0, 255)
    if source == "memory":
        planes_in = test_image(args.size)[None]
        out = np.zeros((*planes_in.shape, 3), np.uint8)
    else:
        planes_in = zarr.open_array(source, mode="r")
        out = zarr.create_array(source + f".{method}.out.zarr", shape=(*planes_in.shape, 3),
                                chunks=(1, 512, 512, 3), dtype=np.uint8, overwrite=True)
    kw = {"tile_size": args.tile, "overlap": args.overlap, "batch_size": args.batch}

    def chroma(x: torch.Tensor) -> torch.Tensor:
        return model(x, confidence=False)

    def run(planes_in: Any, out: Any) -> None:
        if method == "engine":
            colorize(planes_in, model, out=out, **kw)
            return
        if method == "monai":
            from monai.inferers import sliding_window_inference
        for i in range(planes_in.shape[0]):
            lightness = to_lightness(np.asarray(planes_in[i]), window)
            x = lightness[None, None]
            with torch.inference_mode():
                if method == "whole":
                    ab = chroma(x)[0]
                else:
                    ab = sliding_window_inference(
                        x, roi_size=(args.roi, args.roi), sw_batch_size=args.batch,
                        predictor=chroma, overlap=args.overlap / args.roi, mode="gaussian",
                    )[0]
            out[i] = convert(lightness, ab)

    first = np.asarray(planes_in[:1])
    run(first, np.zeros((*first.shape, 3), np.uint8))  # warm-up: oneDNN picks kernels
    start = time.perf_counter()
    run(planes_in, out)
    seconds = time.perf_counter() - start
    mp = planes_in.shape[0] * planes_in.shape[1] * planes_in.shape[2] / 1e6
    return {"method": method, "input": source, "mp": round(mp, 1), "seconds": round(seconds, 2),
            "mps": round(mp / seconds, 2), "peak_rss_mb": round(peak_rss_mb(), 1)}


def compare(args: argparse.Namespace) -> None:
    """Each method in its own process on the image and on the zarr stack; one JSON line."""
    import subprocess
    import sys
    import tempfile

    import zarr

    with tempfile.TemporaryDirectory() as tmp:
        stack = f"{tmp}/stack.zarr"
        z = zarr.create_array(stack, shape=(args.planes, args.size, args.size),
                              chunks=(1, 512, 512), dtype=np.uint8)
        base = test_image(args.size)
        for i in range(args.planes):
            z[i] = np.roll(base, 37 * i, axis=1)
        results = []
        for source in ("memory", stack):
            for method in ("whole", "monai", "engine"):
                cmd = [sys.executable, __file__, "--method", method, "--source", source,
                       "--size", str(args.size), "--tile", str(args.tile),
                       "--roi", str(args.roi), "--overlap", str(args.overlap),
                       "--batch", str(args.batch), "--device", args.device,
                       "--precision", args.precision]
                if args.model:
                    cmd += ["--model", args.model]
                line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                result = json.loads(line.strip().splitlines()[-1])
                result["input"] = "image" if source == "memory" else "zarr_stack"
                results.append(result)
    by = {(r["input"], r["method"]): r for r in results}
    ratios = {
        f"{inp}_engine_over_monai_mps": round(
            by[(inp, "engine")]["mps"] / by[(inp, "monai")]["mps"], 3)
        for inp in ("image", "zarr_stack")
    }
    print(json.dumps({
        "benchmark": "engine_vs_monai", "size": args.size, "planes": args.planes,
        "tile_size": args.tile, "monai_roi": args.roi, "overlap": args.overlap,
        "batch_size": args.batch, "precision": args.precision,
        "results": results, **ratios, "device": args.device, "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--model", default=None)
    parser.add_argument("--tile", type=lambda t: t if t == "auto" else int(t), default="auto")
    parser.add_argument("--roi", type=int, default=512, help="MONAI's tile (roi_size)")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compare", choices=("monai",), help="compare with MONAI (see above)")
    parser.add_argument("--planes", type=int, default=64, help="planes of the zarr stack")
    parser.add_argument("--method", choices=("whole", "monai", "engine"), help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.method:
        print(json.dumps(run_method(args.method, args.source, args)))
        return
    if args.compare:
        compare(args)
        return

    image = test_image(args.size)
    model = load_model(args.model, device=args.device)
    model.precision = args.precision
    kw = {"tile_size": args.tile, "overlap": args.overlap, "batch_size": args.batch}
    mp = image.size / 1e6
    tile = args.tile if args.tile != "auto" else auto_tile_size(
        image.shape, args.overlap, model.spec, model.device.type)

    lightness = to_lightness(image, IntensityWindow(0, 255))
    tiles = plan_tiles(image.shape, tile, args.overlap)
    batches = [
        torch.stack([lightness[t.read] for t in tiles[i : i + args.batch]])[:, None]
        for i in range(0, len(tiles), args.batch)
    ]

    def raw() -> None:
        for x in batches:
            model(x, confidence=False)  # the call the engine makes without a confidence map

    def engine() -> None:
        colorize(image, model, **kw)

    def engine_no_domain() -> None:
        colorize(image, model, domain_check=False, **kw)

    timings: dict[str, list[float]] = {"raw": [], "engine": [], "engine_no_domain": []}
    raw()  # warm-up: oneDNN picks kernels on the first call
    engine()
    for _ in range(args.repeat):
        for name, fn in (("raw", raw), ("engine", engine), ("engine_no_domain", engine_no_domain)):
            start = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - start)
    raw_mps = mp / min(timings["raw"])
    engine_mps = mp / min(timings["engine"])
    bare_mps = mp / min(timings["engine_no_domain"])
    print(json.dumps({
        "benchmark": "engine",
        "image": [args.size, args.size],
        "model": model.spec.name,
        "tiles": len(tiles),
        **kw,
        "tile": tile,
        "precision": args.precision,
        "computed_mp": round(len(tiles) * tile * tile / 1e6, 2),
        "engine_mps": round(engine_mps, 2),
        "engine_no_domain_mps": round(bare_mps, 2),
        "raw_model_mps": round(raw_mps, 2),
        "engine_over_raw": round(engine_mps / raw_mps, 3),
        "engine_no_domain_over_raw": round(bare_mps / raw_mps, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "device": args.device,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
