"""Fit a model's domain statistics (:mod:`napari_colorize.core.domain`) from its training labs.

Each training image gives samples: the whole image and a few 512-pixel crops, each scored as the
engine scores an input (up to nine 192-pixel windows). Two parts are fitted on the windows, with
every lab weighted equally:

* ``novelty``: a Gaussian (mean, covariance shrunk toward its diagonal, each std floored) of the
  gray statistics and the model's uncertainty (mean and spread of its log-variance output);
* ``stain``: a logistic regression between the training images and the same crops re-stained
  in silico as immunohistochemistry (:func:`stain_swap`: haematoxylin lighter, eosin removed,
  DAB on nuclei, cytoplasm or membranes of random blobs), on all window features, each
  standardised by its std floored at :data:`STAIN_FLOOR`.

A third part, ``black``, is fixed rather than fitted: the windows' mean fraction of near-black
pixels, scoring 1 at :data:`BLACK_LIMIT`. Transmitted light leaves almost no pixel of a slide
black, while dark backgrounds are what most fluorescence, CT/MR and many photographs have.

Each fitted part is then calibrated on held-out labs: leave one lab out, fit on the others,
score the lab's samples. A part's ``median`` is the held-out samples' median value and its
``spread`` a common multiple of their 90th-percentile excess, chosen so that ``pass_rate`` of the
held-out samples score at most 1.

Regenerate the bundled statistics (about 1 minute on one CPU thread; all images are in the
dataset cache after ``python benchmarks/fetch_labs.py``)::

    OMP_NUM_THREADS=1 python -m napari_colorize.training.domain_fit
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.domain_features import GRAY_FEATURES, feature_names, sample_lightness, window_features
from ..core.domain_stats import DomainModel, DomainPart, domain_path, save_domain
from ..core.intensity import compute_window
from .labs import he_images, he_labs

CROP, N_CROPS, N_STAIN_CROPS = 512, 6, 4
#: Covariance shrinkage toward the diagonal, and a floor on every feature's std: features
#: nearly constant on the training labs (fractions near 0) would otherwise make any held-out
#: lab look novel. L2 penalty of the stain discriminant (on standardised features).
SHRINK, FLOOR, L2 = 0.1, 0.03, 0.01
#: Floor on every feature's std in the stain discriminant.
STAIN_FLOOR = 0.01
PASS_RATE = 0.95
#: Mean fraction of near-black pixels (``black`` feature) that scores 1.
BLACK_LIMIT = 0.05
LABELS = {"novelty": "unlike the training images",
          "stain": "its gray looks like a stain other than H&E (e.g. IHC/DAB)",
          "black": "much of it is near black, as in fluorescence or CT/MR, not in a "
                   "brightfield slide"}


@dataclass(frozen=True)
class Sample:
    """The window features of one sample (an image or a crop of it).

    Parameters
    ----------
    lab : str
        Its lab (held out together).
    kind : str
        ``"train"`` (the domain) or ``"stain"`` (re-stained in silico).
    name : str
        Its image and crop.
    features : numpy.ndarray
        ``(B, D)`` window features.

    Examples
    --------
    >>> Sample("lab", "train", "a/full", np.zeros((9, 4))).features.shape
    (9, 4)
    """

    lab: str
    kind: str
    name: str
    features: np.ndarray


def stain_swap(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Re-stain an H&E image as immunohistochemistry (haematoxylin + DAB), in silico.

    Parameters
    ----------
    rgb : numpy.ndarray
        ``(H, W, 3)`` uint8 H&E.
    rng : numpy.random.Generator
        Chooses the counterstain's strength and where DAB goes (nuclear, cytoplasmic,
        membranous in random blobs, or none) and how dark.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` uint8.

    Examples
    --------
    >>> rgb = np.full((32, 32, 3), (200, 120, 180), np.uint8)
    >>> stain_swap(rgb, np.random.default_rng(0)).shape
    (32, 32, 3)
    """
    from scipy import ndimage as ndi
    from skimage.color import hed2rgb, rgb2hed

    hed = rgb2hed(rgb)
    h, e = hed[..., 0], hed[..., 1]
    mode = rng.choice(["nuclear", "cytoplasm", "membrane", "none"], p=[0.3, 0.3, 0.25, 0.15])
    dab = np.zeros_like(h)
    if mode != "none":
        sigma = rng.uniform(3, 40)  # blob size of the positive cells (pixels)
        small = tuple(max(4, int(s / sigma * 2)) for s in h.shape)
        noise = ndi.zoom(rng.standard_normal(small), (h.shape[0] / small[0],
                                                      h.shape[1] / small[1]), order=1)
        noise = noise[: h.shape[0], : h.shape[1]]
        blobs = noise > np.quantile(noise, 1 - rng.uniform(0.05, 0.8))
        if mode == "membrane":
            smooth = ndi.gaussian_filter(e, 1.5)
            source = np.hypot(ndi.sobel(smooth, 0), ndi.sobel(smooth, 1))
        else:
            source = h if mode == "nuclear" else e
        source = np.clip(source / (np.percentile(source, 99) + 1e-6), 0, 1.5)
        dab = source * blobs * rng.uniform(0.08, 0.25)
    stains = np.stack([h * rng.uniform(0.4, 1.0), e * rng.uniform(0.0, 0.15), dab], -1)
    return (np.clip(hed2rgb(stains), 0, 1) * 255 + 0.5).astype(np.uint8)


def crops(image: np.ndarray, rng: np.random.Generator, n: int = N_CROPS,
          side: int = CROP) -> list[tuple[str, np.ndarray]]:
    """Take the image itself and up to ``n`` random ``side`` crops (none if it is that small).

    Examples
    --------
    >>> [name for name, _ in crops(np.zeros((600, 500)), np.random.default_rng(0), n=2)]
    ['full', 'crop0', 'crop1']
    """
    h, w = image.shape[:2]
    out = [("full", image)]
    if h > side or w > side:
        for k in range(n):
            r, c = (int(rng.integers(0, max(1, m - side + 1))) for m in (h, w))
            out.append((f"crop{k}", image[r: r + side, c: c + side]))
    return out


def gray_of(image: np.ndarray) -> np.ndarray:
    """Make a colour image's gray of the same CIE lightness (uint8); gray stays as it is."""
    from .evaluation import gray_with_lightness

    return gray_with_lightness(image) if image.ndim == 3 else image


def image_features(image: np.ndarray, net: Any) -> np.ndarray:
    """Window features of a gray image, as :func:`~..core.domain.domain_score` takes them.

    Examples
    --------
    >>> from napari_colorize.models.network import ChromaNet
    >>> image_features(np.zeros((300, 300), np.uint8), ChromaNet((8, 8, 8, 8))).shape
    (9, 65)
    """
    return window_features(sample_lightness(image, compute_window(image)), net)


def extract(net: Any, images: Mapping[str, Sequence[np.ndarray]], *, seed: int = 0,
            stain: bool = True) -> list[Sample]:
    """Describe the training images (and, for colour ones, their re-stained crops).

    Parameters
    ----------
    net : ColorModel
        The model.
    images : mapping
        Lab name to its images: ``(H, W, 3)`` uint8 colour (gray by lightness) or gray.
    seed : int
        Seeds the crops and the re-staining.
    stain : bool
        Also make :func:`stain_swap` samples of colour images.

    Returns
    -------
    list of Sample
    """
    rng = np.random.default_rng(seed)
    out = []
    for lab, group in images.items():
        for i, image in enumerate(group):
            gray = gray_of(image)
            for name, crop in crops(gray, rng):
                out.append(Sample(lab, "train", f"{i}/{name}", image_features(crop, net)))
            if stain and image.ndim == 3:
                for name, crop in crops(image, rng, N_STAIN_CROPS)[1:] or [("full", image)]:
                    swapped = gray_of(stain_swap(np.ascontiguousarray(crop), rng))
                    out.append(Sample(lab, "stain", f"{i}/{name}", image_features(swapped, net)))
    return out


def _weights(groups: Sequence[str]) -> np.ndarray:
    """Weights giving each group the same total, summing to 1."""
    _, inverse, counts = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    return w / w.sum()


def _stack(samples: Sequence[Sample], by: str = "lab") -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([s.features for s in samples])
    groups = [f"{s.kind}:{getattr(s, by)}" for s in samples for _ in range(len(s.features))]
    return x, _weights(groups)


def fit_gaussian(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and precision (covariance shrunk toward its diagonal) of rows of ``x``."""
    mean = w @ x
    z = x - mean
    cov = (w[:, None] * z).T @ z
    diag = np.diag(np.diag(cov))
    cov = (1 - SHRINK) * cov + SHRINK * diag + FLOOR**2 * np.eye(len(cov))
    return mean, np.linalg.inv(cov)


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray,
                 l2: float = L2) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted L2 logistic regression (Newton): centre, per-feature weights and offset."""
    # each std floored, as for the Gaussian: a feature nearly constant on the training images
    # (a trunk channel that hardly fires) would get a weight large enough for a few pixels of
    # an edge or a strip to swing the whole score
    center, scale = w @ x, np.maximum(np.sqrt(w @ (x - w @ x) ** 2), STAIN_FLOOR)
    z = np.c_[(x - center) / scale, np.ones(len(x))]
    beta = np.zeros(z.shape[1])
    penalty = l2 * np.diag(np.r_[np.ones(z.shape[1] - 1), 0.0])
    for _ in range(30):
        p = 1 / (1 + np.exp(-np.clip(z @ beta, -30, 30)))
        step = np.linalg.solve((z * (w * p * (1 - p))[:, None]).T @ z + penalty,
                               z.T @ (w * (p - y)) + penalty @ beta)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return center, beta[:-1] / scale, float(beta[-1])


def fit_parts(samples: Sequence[Sample], names: Sequence[str]) -> list[DomainPart]:
    """Fit the uncalibrated parts (median 0, spread 1) on ``samples``."""
    # gray statistics and the model's uncertainty (its head's last output, e.g. log-variance)
    last = max(int(n[3:].split("_")[0]) for n in names if n.startswith("out"))
    uncertain = (f"out{last}_mean", f"out{last}_std")
    novelty = [i for i, n in enumerate(names) if n in GRAY_FEATURES or n in uncertain]
    train = [s for s in samples if s.kind == "train"]
    x, w = _stack(train)
    mean, precision = fit_gaussian(x[:, novelty], w)
    parts = [DomainPart("novelty", "gaussian", tuple(novelty), tuple(mean),
                        tuple(map(tuple, precision)), 0.0, 1.0, label=LABELS["novelty"])]
    stained = [s for s in samples if s.kind == "stain"]
    if stained:
        index = [i for i, n in enumerate(names) if n != "black"]
        x, w = _stack([*train, *stained])
        y = np.concatenate([np.full(len(s.features), float(s.kind == "stain"))
                            for s in [*train, *stained]])
        w = np.where(y > 0, w / w[y > 0].sum(), w / w[y == 0].sum()) / 2  # classes balanced
        center, coef, offset = fit_logistic(x[:, index], y, w)
        parts.append(DomainPart("stain", "linear", tuple(index), tuple(center), tuple(coef),
                                0.0, 1.0, offset, LABELS["stain"]))
    return parts


def black_part(names: Sequence[str], limit: float = BLACK_LIMIT) -> DomainPart:
    """Make the fixed ``black`` part: the windows' mean near-black fraction, 1 at ``limit``.

    Examples
    --------
    >>> part = black_part(["mean", "black"])
    >>> part.score(np.array([[0.5, 0.1], [0.5, 0.0]]))
    1.0
    """
    return DomainPart("black", "linear", (list(names).index("black"),), (0.0,), (1.0,), 0.0,
                      limit, label=LABELS["black"])


def fit_from_samples(samples: Sequence[Sample], names: Sequence[str], *, model: str,
                     description: str, pass_rate: float = PASS_RATE,
                     provenance: Mapping[str, Any] | None = None) -> DomainModel:
    """Fit and calibrate (leave one lab out) a :class:`DomainModel` on described samples."""
    labs = sorted({s.lab for s in samples if s.kind == "train"})
    if len(labs) < 3:
        raise ValueError(f"domain statistics need training images from >= 3 labs; got {labs}")
    held: list[list[float]] = []
    for lab in labs:
        parts = fit_parts([s for s in samples if s.lab != lab], names)
        held += [[p.values(s.features).mean() for p in parts]
                 for s in samples if s.lab == lab and s.kind == "train"]
    values = np.asarray(held)
    median = np.median(values, 0)
    excess = np.maximum(np.percentile(values, 90, 0) - median, 1e-9)
    k = float(np.quantile(((values - median) / excess).max(1), pass_rate))
    parts = [DomainPart(**{**p.__dict__, "median": float(median[i]),
                           "spread": float(max(k, 1e-3) * excess[i])})
             for i, p in enumerate(fit_parts(samples, names))]
    if "black" in names:
        parts.append(black_part(names))
    fit = {"labs": labs, "samples": sum(s.kind == "train" for s in samples),
           "stained_samples": sum(s.kind == "stain" for s in samples),
           "held_out_pass_rate": pass_rate, **(provenance or {})}
    return DomainModel(model, description, tuple(names), tuple(parts), fit=fit)


def fit_domain(net: Any, images: Mapping[str, Sequence[np.ndarray]], *, model: str = "",
               description: str = "H&E brightfield", seed: int = 0,
               pass_rate: float = PASS_RATE) -> DomainModel:
    """Fit a model's domain statistics on its training images, grouped by lab.

    Parameters
    ----------
    net : ColorModel
        The model.
    images : mapping
        Lab name to its training images (colour, gray by lightness, or gray); >= 3 labs.
    model, description : str
        The model's name and its domain in words, for messages.
    seed : int
        Seeds the crops and the re-staining.
    pass_rate : float
        Share of held-out labs' samples the threshold lets through.

    Returns
    -------
    DomainModel

    Examples
    --------
    >>> from napari_colorize.models.registry import load_model
    >>> rng = np.random.default_rng(0)
    >>> labs = {f"lab{i}": [rng.integers(100, 200, (256, 256, 3), np.uint8)] for i in range(3)}
    >>> domain = fit_domain(load_model("he-histology"), labs, model="demo")
    >>> [p.name for p in domain.parts], domain.fit["labs"]
    (['novelty', 'stain', 'black'], ['lab0', 'lab1', 'lab2'])
    """
    module = getattr(net, "net", net)
    names = feature_names(module.widths[0], module.head.out_channels // 16)
    start = time.perf_counter()
    samples = extract(net, images, seed=seed)
    return fit_from_samples(samples, names, model=model, description=description,
                            pass_rate=pass_rate,
                            provenance={"seed": seed,
                                        "seconds": round(time.perf_counter() - start, 1)})


def he_histology_domain(out: str | Path | None = None, *, seed: int = 0,
                        model: str | Path = "he-histology") -> Path:
    """Regenerate ``he-histology.domain.json`` from the ``train`` labs (seeded, CPU).

    Parameters
    ----------
    out : path, optional
        Where to write; default beside the bundled model's card.
    seed : int
        Seeds the crops and the re-staining.
    model : str or path
        The model (default the bundled one; the recipe passes the weights it just trained).

    Returns
    -------
    Path
        The file written.
    """
    from ..models.registry import find_card, load_model
    from .datasets import load_rgb

    torch.manual_seed(seed)
    net = load_model(model, device="cpu")
    images = {lab: [load_rgb(n) for n in names] for lab, names in he_labs("train").items()}
    domain = fit_domain(net, images, model="he-histology", seed=seed)
    domain = DomainModel(**{**domain.__dict__, "fit": {
        **domain.fit, "recipe": "napari_colorize.training.domain_fit.he_histology_domain",
        "weights_sha256": net.card.get("sha256"),
        "images": sorted(he_images("train"))}})
    return save_domain(domain, out or domain_path(find_card("he-histology")))


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m napari_colorize.training.domain_fit [--out PATH] [--seed N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="output file (default: bundled)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    path = he_histology_domain(args.out, seed=args.seed)
    print(f"wrote {path} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
