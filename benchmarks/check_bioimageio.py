"""Exported bioimage.io packages, checked as their consumers check them; one JSON line a model.

    python benchmarks/check_bioimageio.py [--tune-seconds 10] [--out DIR]

Exports both bundled models and a model tuned for ``--tune-seconds`` on the stardist H&E
sample, then for each package: bioimageio.spec validation, bioimageio.core's model test (both
weight formats reproduce the test tensors), the TorchScript module against ``colorize`` on the
test input (float32, whole image; CIEDE2000), bioimageio.core's own tiled prediction with
256-pixel blocks and the declared halo against its whole-image prediction (CIEDE2000 on the
1000 x 1000 CMU-1 sample cut to 992 x 992; for the fluorescence model, the 623 x 502 neuron
sample cut to 608 x 480, rendered in its palette), and the round trip export -> load_model ->
colorize against the original model (exact). Needs the ``[bioimageio]`` extra.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
import zipfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tifffile
import torch

SAMPLES = Path(__file__).parents[1] / "sample_data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune-seconds", type=float, default=10.0)
    parser.add_argument("--out", default=None, help="keep the packages here")
    args = parser.parse_args()

    from bioimageio.spec import __version__ as spec_version

    from napari_colorize import export_bioimageio, train

    out = Path(args.out or tempfile.mkdtemp(prefix="bioimageio-"))
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    train([iio.imread(SAMPLES / "stardist_histo_rgb.jpg")], base="he-histology",
          seconds=args.tune_seconds, out=out / "tuned-lab.safetensors", name="tuned-lab",
          progress=False, device="cpu", overwrite=True)
    tune_s = time.perf_counter() - t
    models = {"he-histology": "he-histology",
              "fluorescence-composite": "fluorescence-composite",
              "tuned-lab": str(out / "tuned-lab.safetensors")}
    for label, model in models.items():
        t = time.perf_counter()
        package = export_bioimageio(model, out / f"{label}.zip", overwrite=True)
        report = {"model": label, "package": str(package),
                  "size_mb": round(package.stat().st_size / 1e6, 2),
                  "export_s": round(time.perf_counter() - t, 2),
                  "bioimageio_spec": spec_version}
        if label == "tuned-lab":
            report["tuned_s"] = round(tune_s, 1)
        report.update(_consumers(package))
        report.update(_fidelity(package, model))
        report.update(_tiled(package))
        report.update(_round_trip(package, model))
        print(json.dumps(report), flush=True)


def _consumers(package: Path) -> dict:
    from bioimageio.core import test_model
    from bioimageio.spec import load_description

    descr = load_description(package, perform_io_checks=True)
    summary = test_model(package)
    return {"spec_validation": str(descr.validation_summary.status),
            "core_test": str(summary.status),
            "core_failed": [d.name for d in summary.details if d.status == "failed"]}


def _member(package: Path, name: str) -> bytes:
    with zipfile.ZipFile(package) as zf:
        return zf.read(name)


def _fidelity(package: Path, model: str) -> dict:
    """The TorchScript module on the test input against colorize (float32, no tiling)."""
    from napari_colorize import colorize, load_model
    from napari_colorize.export.package import _preprocess
    from napari_colorize.training.evaluation import ciede2000, rgb_to_lab_np

    raw = np.load(io.BytesIO(_member(package, "test_input.npy")))
    module = torch.jit.load(io.BytesIO(_member(package, "weights.torchscript.pt")))
    gray = _preprocess(raw)
    with torch.no_grad():
        first, _ = module(torch.from_numpy(gray))
    net = load_model(model)
    result = colorize(raw[0, 0], net, precision="fp32", device="cpu")
    exported = _rgb(first[0].numpy(), gray[0, 0], net.spec)
    de = ciede2000(rgb_to_lab_np(exported), rgb_to_lab_np(result.rgb))
    return {"torchscript_vs_colorize_ciede2000_mean": round(float(de.mean()), 4),
            "torchscript_vs_colorize_ciede2000_p999": round(float(np.percentile(de, 99.9)), 3)}


def _rgb(first: np.ndarray, gray: np.ndarray, spec) -> np.ndarray:
    """uint8 RGB of a package's first output (fractions rendered as colorize renders them)."""
    from napari_colorize.core.render import render_composite

    if spec.kind == "chroma":
        return (np.moveaxis(first, 0, -1) * 255 + 0.5).astype(np.uint8)
    return render_composite(first * gray[None], spec.palette)


def _tiled(package: Path) -> dict:
    """bioimageio.core's blockwise prediction (256-pixel blocks, the halo) against whole."""
    from bioimageio.core import load_description, predict

    from napari_colorize import load_model
    from napari_colorize.export.package import _preprocess
    from napari_colorize.training.evaluation import ciede2000, rgb_to_lab_np

    descr = load_description(package)
    spec = load_model(package).spec
    if spec.kind == "chroma":
        image = iio.imread(SAMPLES / "cmu1_region_gray.png")[:992, :992]
    else:
        image = tifffile.imread(SAMPLES / "ndev_neuron_gray.tif")[:608, :480].astype(np.float32)
    x = image[None, None]
    first = descr.outputs[0].id
    t = time.perf_counter()
    whole = predict(model=descr, inputs={"gray": x})
    whole_s = time.perf_counter() - t
    t = time.perf_counter()
    block = {"batch": 1, "channel": 1, "y": 256, "x": 256}
    tiled = predict(model=descr, inputs={"gray": x}, input_block_shape={"gray": block})
    tiled_s = time.perf_counter() - t
    gray = _preprocess(x)[0, 0]
    a = _rgb(whole.members[first].data.values[0], gray, spec)
    b = _rgb(tiled.members[first].data.values[0], gray, spec)
    de = ciede2000(rgb_to_lab_np(a), rgb_to_lab_np(b))
    # the engine's own tiling error on the same image: 256-pixel tiles, default overlap
    from napari_colorize import colorize

    net = load_model(package)
    engine = ciede2000(rgb_to_lab_np(colorize(image, net, tile_size=256, device="cpu").rgb),
                       rgb_to_lab_np(colorize(image, net, tile_size=1024, overlap=0,
                                              device="cpu").rgb))
    return {"tiled_256_shape": list(image.shape),
            "halo": descr.outputs[0].axes[2].halo,
            "tiled_256_vs_whole_ciede2000_mean": round(float(de.mean()), 4),
            "tiled_256_vs_whole_ciede2000_p999": round(float(np.percentile(de, 99.9)), 3),
            "engine_256_vs_whole_ciede2000_mean": round(float(engine.mean()), 4),
            "engine_256_vs_whole_ciede2000_p999": round(float(np.percentile(engine, 99.9)), 3),
            "core_whole_s": round(whole_s, 2), "core_tiled_256_s": round(tiled_s, 2)}


def _round_trip(package: Path, model: str) -> dict:
    from napari_colorize import colorize, load_model
    from napari_colorize.export.examples import example_image

    back = load_model(package)
    gray = example_image(back.spec.kind)
    same = np.array_equal(colorize(gray, model, device="cpu").rgb,
                          colorize(gray, back, device="cpu").rgb)
    return {"round_trip_identical": bool(same)}


if __name__ == "__main__":
    main()
