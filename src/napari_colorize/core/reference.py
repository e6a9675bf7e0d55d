"""Colour from the user's own lab: a chroma mapping fitted on colour reference images.

A lab's stain differs from the training labs' by a smooth shift of colour that depends mostly on
the stain's density, i.e. on lightness. Given one or more colour images from the user's lab, the
model colorizes their lightness and a small mapping is fitted from its chroma to the true chroma:
per lightness bin, ``ab_true ~ M(L) @ ab_model + b(L)`` (a 2x2 matrix and an offset), by least
squares shrunk toward one mapping for all bins, which is itself shrunk toward identity. With
``M = 0`` the mapping is the reference's own per-lightness table (the baseline to beat), with
``M = I`` a per-lightness offset of the model; the fit chooses between them per bin.

The mapping is fitted once per run, before any block, and applied pointwise to each block's
chroma, so tiles, blocks, resume and clusters stay exact.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..io.arrays import LightnessArray
from ..io.paths import check_distinct
from ..io.readers import as_rgb_uint8, read_rgb
from ..models.spec import ColorModel
from .blocks import BlockResult, BlockRunner
from .config import ColorizeConfig
from .domain import domain_score, model_domain
from .intensity import IntensityWindow, compute_window
from .lab import rgb_to_lab
from .plan import make_plan

#: Lightness bins of the fit (5 L* wide); the table is interpolated between bin centres.
BIN_WIDTH = 5.0
#: Shrinkage toward the shared mapping, and of the shared mapping toward identity, in pixels:
#: a bin with fewer tissue pixels than this leans on the shared fit.
SHRINK_PIXELS = 300.0
#: A typical spread of the model's chroma: how much a change of the matrix moves the colours.
CHROMA_SCALE = 5.0
#: Hints fit a lab-wide offset too: a kernel over lightness (L* units), shrunk toward none by
#: this many hints' worth of "no change" (one pixel's colour is a noisy sample of its stain).
#: Chosen on three labs the model fits (at most +1.8 % error with 5 random hints) and a shifted
#: stain (-23 %); see benchmarks/bench_lab_hints.py.
HINT_SIGMA_L = 15.0
HINT_PRIOR = 6.0
#: A hint's own (local) correction is soft-thresholded by this much chroma: the colour of one
#: pixel differs from its structure's by about this (texture, noise), which is not a request.
HINT_NOISE = 8.0
#: Near the hint (its own structure, close by) a smaller share of the request counts as noise.
HINT_NOISE_NEAR = 3.0
#: The tissue of a reference (as in the evaluation): true L* < 88 or chroma > 8.
TISSUE_L, TISSUE_CHROMA = 88.0, 8.0
#: A reference needs this many tissue pixels, and this much median tissue chroma.
MIN_TISSUE_PIXELS = 2000
MIN_CHROMA = 4.0
#: Largest reference region the model runs on (pixels a side, centred): bounds the fit's time.
MAX_SIDE = 2048


@dataclass(frozen=True)
class ReferenceMap:
    """A chroma mapping per integer lightness: ``ab' = M(L) @ ab + b(L)``.

    Parameters
    ----------
    table : numpy.ndarray
        ``(101, 6)`` float32: ``m00, m01, m10, m11, b0, b1`` at L* = 0..100.
    sources : tuple of str
        The reference images (file names, or ``"array 0"``...).
    pixels : int
        Tissue pixels the mapping was fitted on.
    digest : str
        sha256 of the table (a resumed run must use the same mapping).

    Examples
    --------
    >>> ref = ReferenceMap.identity()
    >>> ab = torch.tensor([[[10.0]], [[-5.0]]])
    >>> ref.apply(torch.tensor([[50.0]]), ab)
    >>> ab.flatten().tolist()
    [10.0, -5.0]
    """

    table: np.ndarray
    sources: tuple[str, ...] = ()
    pixels: int = 0
    digest: str = ""

    @classmethod
    def identity(cls) -> ReferenceMap:
        """Return the mapping that changes nothing."""
        table = np.zeros((101, 6), np.float32)
        table[:, 0] = table[:, 3] = 1.0
        return cls(table)

    def apply(self, lightness: torch.Tensor, ab: torch.Tensor) -> None:
        """Map the chroma ``ab`` ``(2, h, w)`` in place, by each pixel's lightness ``(h, w)``."""
        table = torch.from_numpy(self.table).to(ab.device)
        idx = (lightness.clamp(0, 100) + 0.5).long().flatten()
        p = table.index_select(0, idx).T.reshape(6, *lightness.shape)
        a = p[0] * ab[0] + p[1] * ab[1] + p[4]
        b = p[2] * ab[0] + p[3] * ab[1] + p[5]
        ab[0], ab[1] = a, b

    def plus_offset(self, offset: np.ndarray) -> ReferenceMap:
        """Return this mapping followed by adding ``offset`` ``(101, 2)`` (per integer L*)."""
        table = self.table.copy()
        table[:, 4:] += offset.astype(np.float32)
        return ReferenceMap(table, self.sources, self.pixels,
                            hashlib.sha256(table.tobytes()).hexdigest())

    def to_metadata(self) -> dict[str, Any]:
        """Describe the mapping for an output's metadata."""
        return {"sources": list(self.sources), "pixels": self.pixels, "sha256": self.digest}


def as_references(reference: Any) -> list[tuple[str, np.ndarray]]:
    """Read the reference images: a path or an ``(H, W, 3|4)`` colour array, or a list of them.

    Returns ``(name, uint8 RGB)`` pairs; a file that is not colour gets a one-line error naming
    it.

    Examples
    --------
    >>> [(name, rgb.shape) for name, rgb in as_references(np.zeros((4, 5, 3), np.uint8))]
    [('array 0', (4, 5, 3))]
    """
    items = list(reference) if isinstance(reference, (list, tuple)) else [reference]
    if not items:
        raise ValueError("reference is empty: give one or more colour images")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, (str, Path)):
            out.append((Path(item).name, read_rgb(item)))
            continue
        name = f"array {i}"
        arr = np.asarray(item)
        if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
            raise ValueError(f"reference {name} must be a colour image (H, W, 3 or 4); got "
                             f"shape {arr.shape}")
        out.append((name, as_rgb_uint8(arr, name)))
    return out


def check_reference_paths(reference: Any, out: Any) -> None:
    """Refuse an output path that is, holds or sits inside a reference file (before writing).

    Examples
    --------
    >>> check_reference_paths(["lab.png"], "lab.png")
    Traceback (most recent call last):
    ...
    ValueError: output lab.png is the reference lab.png; choose a separate output path
    """
    if not isinstance(out, (str, Path)) or isinstance(reference, ReferenceMap):
        return
    items = list(reference) if isinstance(reference, (list, tuple)) else [reference]
    paths = [("reference", item) for item in items if isinstance(item, (str, Path))]
    if paths:
        check_distinct(paths, [("output", out)])


def fit_reference(reference: Any, net: ColorModel, config: ColorizeConfig) -> ReferenceMap:
    """Fit the chroma mapping from the model's colours to those of the reference images.

    Parameters
    ----------
    reference : path, array-like, or a list of them
        Colour images (RGB) from the lab whose colours the output should take.
    net : ColorModel
        A colour (chroma) model: the one the run uses.
    config : ColorizeConfig
        The run's settings (resolved); the model runs on the references with its tiling.

    Returns
    -------
    ReferenceMap

    Raises
    ------
    ValueError
        A reference that cannot be read, is gray, has too little tissue, or (with
        ``config.domain_check`` and a model with domain statistics) looks unlike the model's
        training images (one line naming it), or a channel model.

    Examples
    --------
    >>> from napari_colorize.models.registry import load_model
    >>> from napari_colorize.core.engine import resolve_config
    >>> net = load_model("he-histology", device="cpu")
    >>> rng = np.random.default_rng(0)
    >>> pink = np.clip(rng.normal((220, 150, 190), 20, (256, 256, 3)), 0, 255).astype(np.uint8)
    >>> config = ColorizeConfig(device="cpu", domain_check=False)  # noise is no H&E section
    >>> fit = fit_reference(pink, net, resolve_config(config, net))
    >>> fit.sources, fit.pixels > 10000
    (('array 0',), True)
    """
    if net.spec.kind != "chroma":
        raise ValueError(f"reference needs a colour (chroma) model; {net.spec.name} predicts "
                         "channels")
    domain = model_domain(net) if config.domain_check else None
    samples, names = [], []
    for name, rgb in as_references(reference):
        names.append(name)
        rgb = centre_crop(rgb)
        truth = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float() / 255)
        tissue = (truth[0] < TISSUE_L) | (truth[1:].square().sum(0).sqrt() > TISSUE_CHROMA)
        count = int(tissue.sum())
        if count < MIN_TISSUE_PIXELS:
            raise ValueError(f"reference {name} has no tissue to learn from ({count} pixels "
                             f"darker than L* {TISSUE_L:g} or coloured)")
        chroma = truth[1:, tissue].square().sum(0).sqrt()
        if float(chroma.median()) < MIN_CHROMA:
            raise ValueError(f"reference {name} is gray (median tissue chroma "
                             f"{float(chroma.median()):.1f}): give a colour image of the stain")
        gray = LightnessArray(rgb)  # the run's input for this reference: read and windowed once
        window = compute_window(gray)
        if domain is not None:
            _check_domain(name, gray, window, net, domain)
        pred = _predict(gray, window, net, config)
        samples.append((truth[0][tissue], pred[:, tissue], truth[1:, tissue]))
    lightness = torch.cat([s[0] for s in samples])
    ab_model = torch.cat([s[1] for s in samples], dim=1)
    ab_true = torch.cat([s[2] for s in samples], dim=1)
    table = _fit_table(lightness.numpy().astype(np.float64),
                       ab_model.numpy().astype(np.float64), ab_true.numpy().astype(np.float64))
    return ReferenceMap(table, tuple(names), int(lightness.numel()),
                        hashlib.sha256(table.tobytes()).hexdigest())


def centre_crop(rgb: np.ndarray) -> np.ndarray:
    """Cut the central ``MAX_SIDE`` square (at most) of a reference: what the fit uses.

    Examples
    --------
    >>> centre_crop(np.zeros((3000, 100, 3), np.uint8)).shape
    (2048, 100, 3)
    """
    h, w = rgb.shape[:2]
    r0, c0 = max(0, (h - MAX_SIDE) // 2), max(0, (w - MAX_SIDE) // 2)
    return np.ascontiguousarray(rgb[r0:r0 + MAX_SIDE, c0:c0 + MAX_SIDE])


def _check_domain(name: str, gray: LightnessArray, window: IntensityWindow, net: ColorModel,
                  domain: Any) -> None:
    """Refuse a reference whose gray looks unlike the model's training images."""
    check = domain_score(gray, net, window, domain)
    if not check.in_domain:
        raise ValueError(f"reference {name} looks unlike the {domain.description} this model "
                         f"was trained on (domain score {check.score:.2f} > "
                         f"{check.threshold:.2f}): give a colour image of the same kind of "
                         "tissue and stain")


def _predict(gray: LightnessArray, window: IntensityWindow, net: ColorModel,
             config: ColorizeConfig) -> torch.Tensor:
    """Predict the chroma ``(2, H, W)`` of a reference's lightness, as a run computes it."""
    plan = make_plan(gray.shape, net.spec, window, config)
    jobs = [(0, block) for block in plan.blocks]
    out = np.zeros((*gray.shape, 3), np.uint8)
    for event in BlockRunner(gray, net, plan).run(jobs):
        if isinstance(event, BlockResult):
            out[event.block.region] = event.rgb
    return rgb_to_lab(torch.from_numpy(out).permute(2, 0, 1).float() / 255)[1:]


def _fit_table(lightness: np.ndarray, ab_model: np.ndarray, ab_true: np.ndarray) -> np.ndarray:
    """Per-bin ridge regressions shrunk toward a shared fit, itself shrunk toward identity.

    Bins lighter than all the tissue (glass) keep the identity, so no tint is added there.
    """
    x = np.concatenate([ab_model, np.ones((1, ab_model.shape[1]))])  # (3, n): a, b, 1
    identity = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])  # (3, 2): rows M.T, then b
    shared = _ridge(x, ab_true, identity, SHRINK_PIXELS)
    edges = np.arange(0.0, 100.0 + BIN_WIDTH, BIN_WIDTH)
    centres = (edges[:-1] + edges[1:]) / 2
    bins = np.clip(np.digitize(lightness, edges) - 1, 0, len(centres) - 1)
    top = float(lightness.max())
    params = np.empty((len(centres), 3, 2))
    for k, centre in enumerate(centres):
        prior = shared if centre <= top + BIN_WIDTH else identity
        inside = bins == k
        params[k] = _ridge(x[:, inside], ab_true[:, inside], prior, SHRINK_PIXELS)
    grid = np.arange(101.0)
    table = np.empty((101, 6), np.float32)
    for j, (row, col) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (2, 1))):
        table[:, j] = np.interp(grid, centres, params[:, row, col])
    return table


def _ridge(x: np.ndarray, y: np.ndarray, prior: np.ndarray, weight: float) -> np.ndarray:
    """``argmin_W |W.T x - y|^2 + weight |D (W - prior)|^2`` for ``x`` (3, n), ``y`` (2, n).

    ``D`` weighs a change of the matrix by a typical chroma, so ``weight`` counts as pixels of
    evidence for the matrix and the offset alike.
    """
    d2 = np.diag([CHROMA_SCALE**2, CHROMA_SCALE**2, 1.0])
    return np.linalg.solve(x @ x.T + weight * d2, x @ y.T + weight * d2 @ prior)


def hint_offset(features: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Fit the lab-wide chroma offset per lightness that a few colour hints ask for.

    A lab's stain differs everywhere, not only at the hints; each hint's correction is spread
    over similar lightness (a Gaussian kernel, :data:`HINT_SIGMA_L`) and shrunk toward no change
    (:data:`HINT_PRIOR` hints' worth), so one odd pixel moves little.

    Parameters
    ----------
    features : numpy.ndarray
        ``(N, 3)``: lightness and predicted a, b at each hint.
    delta : numpy.ndarray
        ``(N, 2)``: wanted minus predicted chroma.

    Returns
    -------
    numpy.ndarray
        ``(101, 2)`` offset at L* = 0..100.

    Examples
    --------
    >>> off = hint_offset(np.array([[50.0, 0, 0]] * 6), np.array([[9.0, -9.0]] * 6))
    >>> off[50].round(1).tolist(), off[0].round(1).tolist()
    ([4.5, -4.5], [0.0, -0.0])
    """
    grid = np.arange(101.0)[:, None]
    weight = np.exp(-0.5 * ((grid - features[None, :, 0]) / HINT_SIGMA_L) ** 2)  # (101, N)
    return (weight @ delta) / (weight.sum(1, keepdims=True) + HINT_PRIOR)


def soft_threshold(delta: np.ndarray, amount: float | None = None) -> np.ndarray:
    """Shorten each chroma correction ``(N, 2)`` by ``amount`` (to zero when shorter).

    Examples
    --------
    >>> soft_threshold(np.array([[6.0, 8.0], [1.0, 1.0]]), 5.0).round(2).tolist()
    [[3.0, 4.0], [0.0, 0.0]]
    """
    amount = HINT_NOISE if amount is None else amount
    length = np.hypot(delta[:, 0], delta[:, 1])[:, None]
    return delta * np.clip(1 - amount / np.maximum(length, 1e-9), 0, None)
