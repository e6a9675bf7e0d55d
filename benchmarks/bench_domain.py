"""Domain check of he-histology: do gray H&E inputs pass and everything else get flagged?

Prints JSON:

* ``auroc``: H&E (held-out labs and eval-only labs) against each out-of-domain kind, and all
  of them together: IHC/DAB (``eval-ihc``), fluorescence (sample data and ndev channels),
  natural photographs and a fundus image (scikit-image), CT/MR/radiographs (pydicom test
  files), all as gray;
* ``pass_rate``: per H&E lab, the share of its samples (the image and up to six 512-pixel
  crops) scoring <= 1. Training labs are scored by statistics fitted without them (leave one
  lab out, with the calibration itself done on the remaining labs), eval-only labs by
  statistics fitted on all training labs;
* ``flag_rate`` per out-of-domain kind, the bundled statistics' AUROC, and ``timing``: scoring
  vs colorizing a 2048^2 image on this CPU;
* ``he_as_float``: the largest near-black share of an H&E sample given as floats in [0, 1],
  against the ``black`` part's limit.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_domain.py [--cache FILE]`` (about 4 minutes;
``--cache`` keeps the window features for reruns). No network: every image is in the cache.
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from napari_colorize import colorize
from napari_colorize.core.domain import domain_score, load_domain
from napari_colorize.core.domain_features import feature_names
from napari_colorize.core.intensity import compute_window
from napari_colorize.models.registry import load_model
from napari_colorize.training.datasets import load_channels, load_rgb
from napari_colorize.training.domain_fit import (
    Sample,
    crops,
    extract,
    fit_from_samples,
    gray_of,
    image_features,
)
from napari_colorize.training.labs import he_labs, lab_images

ROOT = Path(__file__).resolve().parents[1]
NATURAL = ("astronaut", "coffee", "chelsea", "camera", "rocket", "retina")
DICOM = ("CT_small.dcm", "MR_small.dcm", "693_UNCR.dcm", "MR2_UNCR.dcm", "emri_small.dcm",
         "RG1_UNCI.dcm", "RG3_UNCR.dcm", "examples_overlay.dcm", "JPEG2000.dcm")


def others() -> dict[str, list[tuple[str, np.ndarray]]]:
    """Out-of-domain gray images by kind."""
    import pydicom
    import skimage.data
    import tifffile
    from pydicom.data import get_testdata_file

    out: dict[str, list[tuple[str, np.ndarray]]] = {"ihc": [], "fluorescence": [],
                                                     "natural": [], "ct_mr": []}
    for names in lab_images("eval-ihc").values():
        out["ihc"] += [(n, gray_of(load_rgb(n))) for n in names]
    out["fluorescence"].append(("neuron_gray", tifffile.imread(ROOT / "sample_data" /
                                                               "ndev_neuron_gray.tif")))
    scratch = tifffile.imread(ROOT / "sample_data" / "ndev_scratch_assay_gray.tif")
    out["fluorescence"] += [(f"scratch_t{t}", plane) for t, plane in enumerate(scratch)]
    for name in ("ndev-neocortex", "ndev-neuron"):
        data, channels = load_channels(name)
        out["fluorescence"] += [(f"{name}:{c}", plane) for c, plane in zip(channels, data,
                                                                          strict=True)]
    for name in NATURAL:
        out["natural"].append((name, gray_of(getattr(skimage.data, name)()[..., :3]
                                             if name != "camera" else skimage.data.camera())))
    for name in DICOM:
        ds = pydicom.dcmread(get_testdata_file(name))
        a = ds.pixel_array.astype(np.float64)
        a = a[len(a) // 2] if a.ndim == 3 else a
        low, high = np.percentile(a, (0.5, 99.5))
        gray = (np.clip((a - low) / (high - low), 0, 1) * 255 + 0.5).astype(np.uint8)
        out["ct_mr"].append((name, 255 - gray if ds.PhotometricInterpretation == "MONOCHROME1"
                             else gray))
    return out


def describe(net, cache: Path | None) -> tuple[list[Sample], list[Sample], dict]:
    """Window features of the training labs, the eval-only labs and the other kinds."""
    if cache is not None and cache.exists():
        return pickle.loads(cache.read_bytes())
    train = {lab: [load_rgb(n) for n in names] for lab, names in he_labs("train").items()}
    samples = extract(net, train, seed=0)
    evals = extract(net, {lab: [load_rgb(n) for n in names]
                          for lab, names in lab_images("eval-only").items()}, seed=1,
                    stain=False)
    rng = np.random.default_rng(2)
    kinds = {kind: [Sample(kind, kind, f"{name}/{c}", image_features(crop, net))
                    for name, image in images for c, crop in crops(image, rng)]
             for kind, images in others().items()}
    data = (samples, evals, kinds)
    if cache is not None:
        cache.write_bytes(pickle.dumps(data))
    return data


def auroc(pos: list[float], neg: list[float]) -> float:
    """P(an out-of-domain sample scores above an H&E one), ties half."""
    p, n = np.asarray(pos)[None], np.asarray(neg)[:, None]
    return float((n > p).mean() + 0.5 * (n == p).mean())


def score(domain, features: np.ndarray) -> float:
    """The larger part's score, not clipped at 0 (the reported score is; ranks need no ties)."""
    return max(domain.scores(features).values())


def timing(net) -> dict[str, float]:
    """Seconds to colorize a 2048^2 H&E gray image and to score it (best of 3)."""
    gray = gray_of(load_rgb("dpfm-macenko-target")[:2048, :2048])
    window = compute_window(gray)
    colour, check = [], []
    for _ in range(3):
        t = time.perf_counter()
        colorize(gray, model=net, device="cpu")
        colour.append(time.perf_counter() - t)
        t = time.perf_counter()
        domain_score(gray, net, window)
        check.append(time.perf_counter() - t)
    return {"colorize_s": round(min(colour), 3), "domain_score_s": round(min(check), 3),
            "ratio": round(min(check) / min(colour), 4), "threads": torch.get_num_threads()}


def he_as_float() -> dict:
    """Near-black share of every H&E sample given as floats in [0, 1] (a percentile window).

    ``skimage.color.rgb2gray`` returns such floats; the percentile window then stretches the
    darkest nuclei toward black, the case where H&E comes nearest the ``black`` part's limit.
    """
    from napari_colorize.core.domain_features import BLACK_L
    from napari_colorize.core.intensity import to_lightness
    from napari_colorize.training.domain_fit import BLACK_LIMIT

    rng, shares = np.random.default_rng(0), []
    for role in ("train", "eval-only"):
        for names in (he_labs("train") if role == "train" else lab_images("eval-only")).values():
            for name in names:
                for crop_name, crop in crops(gray_of(load_rgb(name)), rng):
                    f = crop.astype(np.float32) / 255
                    lightness = np.asarray(to_lightness(f, compute_window(f)))
                    shares.append((float((lightness < BLACK_L).mean()), f"{name}/{crop_name}"))
    worst = max(shares)
    return {"samples": len(shares), "worst_black_share": round(worst[0], 4),
            "worst_sample": worst[1], "limit": BLACK_LIMIT}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    net = load_model("he-histology", device="cpu")
    names = feature_names(net.net.widths[0], net.net.head.out_channels // 16)
    start = time.perf_counter()
    samples, evals, kinds = describe(net, args.cache)
    described = time.perf_counter() - start
    fit = {"model": "he-histology", "description": "H&E brightfield"}
    pos, pass_rate, worst = [], {}, {}
    for lab in sorted({s.lab for s in samples}):
        domain = fit_from_samples([s for s in samples if s.lab != lab], names, **fit)
        scores = [score(domain, s.features) for s in samples if s.lab == lab and s.kind == "train"]
        pos += scores
        pass_rate[lab] = round(float(np.mean(np.asarray(scores) <= 1)), 3)
        worst[lab] = round(max(scores), 2)
    full = fit_from_samples(samples, names, **fit)
    for lab in sorted({s.lab for s in evals}):
        scores = [score(full, s.features) for s in evals if s.lab == lab]
        pos += scores
        pass_rate[f"{lab} (eval-only)"] = round(float(np.mean(np.asarray(scores) <= 1)), 3)
        worst[f"{lab} (eval-only)"] = round(max(scores), 2)
    result: dict = {"auroc": {}, "flag_rate": {}, "samples": {"he": len(pos)}}
    bundled = load_domain("he-histology")
    negatives, bundled_neg = [], []
    for kind, group in kinds.items():
        neg = [score(full, s.features) for s in group]
        negatives += neg
        result["auroc"][kind] = round(auroc(pos, neg), 3)
        result["flag_rate"][kind] = round(float(np.mean(np.asarray(neg) > 1)), 3)
        result["samples"][kind] = len(neg)
        if bundled is not None:
            bundled_neg += [score(bundled, s.features) for s in group]
    result["auroc"]["all"] = round(auroc(pos, negatives), 3)
    result["pass_rate"] = pass_rate
    result["he_pass_rate_all"] = round(float(np.mean(np.asarray(pos) <= 1)), 3)
    result["worst_he_score"] = worst
    if bundled is not None:
        bundled_pos = [score(bundled, s.features) for s in [*samples, *evals]
                       if s.kind == "train"]
        result["bundled"] = {"auroc_all_in_sample": round(auroc(bundled_pos, bundled_neg), 3),
                             "he_pass_rate_in_sample": round(float(
                                 np.mean(np.asarray(bundled_pos) <= 1)), 3)}
    result["he_as_float"] = he_as_float()
    result["describe_s"] = round(described, 1)
    result["timing_2048"] = timing(net)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
