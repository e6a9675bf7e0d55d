"""Colorize tiled, zlib-compressed, pyramidal gray OME-TIFFs with the CLI; prints JSON lines.

    python benchmarks/bench_tiff.py [--sizes 8192 16384] [--workdir /tmp] [--model NAME]

For each size, writes an OME-TIFF as a slide scanner would (256 px tiles, zlib, two SubIFD
pyramid levels; the CMU-1 gray sample mirrored out, written tile by tile so the writer never
holds the image), then runs ``napari-colorize colorize IN OUT.ome.zarr --quiet`` in a child
process with the bundled model. Reports end-to-end MP/s (the child's wall time: start-up,
reading, model, writing the output pyramid) and the child's peak RSS, which must not grow with
the image. A last line compares the sizes. Unix only (the child's peak RSS comes from wait4).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

TILE = 256
SAMPLE = Path(__file__).parents[1] / "sample_data" / "cmu1_region_gray.png"


def mirrored(n: int, length: int) -> np.ndarray:
    """Indices ``0..n-1`` folded into ``0..length-1`` by mirroring (no seams)."""
    i = np.arange(n) % (2 * length)
    return np.where(i < length, i, 2 * length - 1 - i)


def tiles(sample: np.ndarray, size: int, factor: int) -> Iterator[np.ndarray]:
    """The tiles of the mirrored-out sample at ``1/factor`` resolution, row by row."""
    rows = mirrored(size * factor, sample.shape[0])[::factor]
    cols = mirrored(size * factor, sample.shape[1])[::factor]
    for y in range(0, size, TILE):
        band = sample[rows[y:y + TILE]]
        for x in range(0, size, TILE):
            yield np.ascontiguousarray(band[:, cols[x:x + TILE]])


def write_slide(path: Path, size: int) -> float:
    """Write a ``size`` x ``size`` pyramidal OME-TIFF; returns the seconds it took."""
    import imageio.v3 as iio
    import tifffile

    sample = iio.imread(SAMPLE)
    start = time.perf_counter()
    opts = {"tile": (TILE, TILE), "compression": "zlib", "dtype": np.uint8,
            "photometric": "minisblack"}
    with tifffile.TiffWriter(path, bigtiff=True, ome=True) as tif:
        tif.write(tiles(sample, size, 1), shape=(size, size), subifds=2, **opts)
        for level in (1, 2):
            side = size >> level
            tif.write(tiles(sample, side, 2**level), shape=(side, side), subfiletype=1, **opts)
    return time.perf_counter() - start


def run_child(cmd: list[str]) -> tuple[int, float, float]:
    """Run ``cmd``; its exit status, wall seconds and peak RSS (MB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    return proc.returncode, seconds, usage.ru_maxrss / 1024  # kB on Linux


def bench(size: int, workdir: Path, model: str | None) -> dict:
    slide = workdir / f"slide_{size}.ome.tif"
    out = workdir / f"slide_{size}.ome.zarr"
    write_seconds = write_slide(slide, size)
    cmd = [sys.executable, "-m", "napari_colorize.cli", "colorize", str(slide), str(out),
           "--quiet", *(["--model", model] if model else [])]
    code, seconds, rss = run_child(cmd)
    if code:
        raise SystemExit(f"colorize failed with status {code} on {slide}")
    import zarr

    group = zarr.open_group(out, mode="r")
    levels = len(group.attrs["ome"]["multiscales"][0]["datasets"])
    result = {
        "size": size, "megapixels": round(size * size / 1e6, 1),
        "input_mb": round(slide.stat().st_size / 1e6, 1), "write_s": round(write_seconds, 1),
        "colorize_s": round(seconds, 1), "mps": round(size * size / 1e6 / seconds, 2),
        "peak_rss_mb": round(rss), "output_levels": levels,
        "output_shape": list(group["0"].shape),
    }
    shutil.rmtree(out)
    slide.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8192, 16384])
    parser.add_argument("--workdir", default=None, help="folder for the slides (default: temp)")
    parser.add_argument("--model", default=None, help="model name (default: he-histology)")
    args = parser.parse_args()
    if any(s % TILE for s in args.sizes):
        raise SystemExit(f"sizes must be multiples of {TILE}")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        results = []
        for size in args.sizes:
            results.append(bench(size, Path(tmp), args.model))
            print(json.dumps(results[-1]), flush=True)
    if len(results) > 1:
        small, big = results[0], results[-1]
        print(json.dumps({
            "pixels_ratio": round(big["megapixels"] / small["megapixels"], 2),
            "peak_rss_ratio": round(big["peak_rss_mb"] / small["peak_rss_mb"], 3),
            "torch_threads": int(os.environ.get("OMP_NUM_THREADS", "0")) or None,
        }))


if __name__ == "__main__":
    main()
