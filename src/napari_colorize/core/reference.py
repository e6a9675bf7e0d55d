"""Colour from the user's own lab: a chroma mapping fitted on colour reference images.

Given one or more colour images from the user's lab, the model runs once on their lightness and
a mapping from its chroma to the true chroma is fitted in closed form (no gradient training):
a linear change of the network's head (the lab's hue of each structure the model's features
tell apart), then a per-lightness affine map of the chroma (the stain's density). See
:mod:`~napari_colorize.core.reference_fit` for the regression.

The mapping is fitted once per run, before any block: the head change is part of the model
every tile runs, and the table is applied pointwise to each block's chroma, so tiles, blocks,
resume and clusters stay exact.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..io.arrays import LightnessArray
from ..io.colour_files import as_rgb_uint8, read_rgb
from ..io.paths import check_distinct
from ..models.spec import ColorModel
from .color import writable
from .config import ColorizeConfig
from .domain import domain_score, model_domain
from .intensity import IntensityWindow, compute_window, to_lightness
from .lab import rgb_to_lab
from .reference_fit import Samples, fit_mapping, sample_reference

#: Hints fit a lab-wide offset too: a kernel over lightness (L* units), shrunk toward none by
#: this many hints' worth of "no change" (one pixel's colour is a noisy sample of its stain).
#: Chosen on three labs the model fits (at most +1.8 % error with 5 random hints) and a shifted
#: stain (-23 %); see benchmarks/bench_lab_hints.py.
HINT_SIGMA_L = 15.0
HINT_PRIOR = 6.0
#: A hint's own (local) correction is soft-thresholded by this much chroma: the colour of one
#: pixel differs from its structure's by about this (texture, noise), which is not a request.
#: 4 rather than 8: on the five leave-one-lab-out folds (5 hints, 5 seeds) hints/model went
#: from mean 0.826 to 0.783, and on labs the model fits from at worst 0.972 to 0.962.
HINT_NOISE = 4.0
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
    """A lab's chroma mapping: a change of the model's head, then ``ab' = M(L) @ ab + b(L)``.

    Parameters
    ----------
    table : numpy.ndarray
        ``(101, 6)`` float32: ``m00, m01, m10, m11, b0, b1`` at L* = 0..100.
    sources : tuple of str
        The reference images (file names, or ``"array 0"``...).
    pixels : int
        Tissue pixels of the references.
    digest : str
        sha256 of the table and the head change (a resumed run must use the same mapping).
    head : numpy.ndarray, optional
        ``(2, C + 1)`` float32 added to the chroma as a linear function of the model's features
        (:meth:`~napari_colorize.models.network.ChromaNet.add_to_chroma`); ``None``: no change.

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
    head: np.ndarray | None = None

    @classmethod
    def identity(cls) -> ReferenceMap:
        """Return the mapping that changes nothing."""
        table = np.zeros((101, 6), np.float32)
        table[:, 0] = table[:, 3] = 1.0
        return cls(table)

    @classmethod
    def fitted(cls, table: np.ndarray, head: np.ndarray | None, sources: tuple[str, ...] = (),
               pixels: int = 0) -> ReferenceMap:
        """Build a mapping and its digest."""
        digest = hashlib.sha256(table.tobytes())
        if head is not None:
            digest.update(head.tobytes())
        return cls(table, sources, pixels, digest.hexdigest(), head)

    def adapt(self, model: ColorModel) -> ColorModel:
        """Return ``model`` with the head change (a copy; ``model`` itself is not changed).

        Examples
        --------
        >>> from napari_colorize.models.network import ChromaNet
        >>> from napari_colorize.models.spec import ModelSpec
        >>> net = ColorModel(ChromaNet((8, 8, 8, 8)), ModelSpec("tiny"))
        >>> shift = np.zeros((2, 9), np.float32)
        >>> shift[0, 8] = 5.0
        >>> mapped = ReferenceMap.fitted(ReferenceMap.identity().table, shift).adapt(net)
        >>> x = torch.full((1, 1, 32, 32), 50.0)
        >>> float(mapped(x)[0, 0, 0, 0]), float(net(x)[0, 0, 0, 0])
        (5.0, 0.0)
        """
        if self.head is None:
            return model
        widths = getattr(model.net, "widths", None)
        if not hasattr(model.net, "add_to_chroma") or widths is None or \
                self.head.shape != (2, widths[0] + 1):
            raise ValueError(f"this reference mapping was fitted for another model; fit it "
                             f"again for {model.spec.name}")
        net: Any = copy.deepcopy(model.net)  # a ChromaNet: the fit found its features
        net.add_to_chroma(torch.from_numpy(self.head).to(model.device))
        return replace(model, net=net)

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
        return ReferenceMap.fitted(table, self.head, self.sources, self.pixels)

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
            try:
                out.append((Path(item).name, read_rgb(item)))
            except ValueError as exc:  # the same file may also be the input: say which it is
                raise ValueError(f"reference {exc}") from None
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
    >>> from napari_colorize.core.tile_plan import resolve_config
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
    samples, names, pixels = [], [], 0
    for i, (name, rgb) in enumerate(as_references(reference)):
        names.append(name)
        rgb = centre_crop(rgb)
        truth = rgb_to_lab(torch.from_numpy(writable(rgb)).permute(2, 0, 1).float() / 255)
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
        lightness = to_lightness(np.asarray(gray[:, :]), window, f"reference {name}")
        samples.append(sample_reference(net, lightness, truth[1:], tissue, seed=i))
        pixels += count
    head, table = fit_mapping(Samples.join(samples))
    return ReferenceMap.fitted(table, head, tuple(names), pixels)


def centre_crop(rgb: np.ndarray, side: int = MAX_SIDE) -> np.ndarray:
    """Cut the central ``side`` square (at most) of an image; by default what a reference fit uses.

    Examples
    --------
    >>> centre_crop(np.zeros((3000, 100, 3), np.uint8)).shape
    (2048, 100, 3)
    >>> centre_crop(np.zeros((3000, 100, 3), np.uint8), 64).shape
    (64, 64, 3)
    """
    h, w = rgb.shape[:2]
    r0, c0 = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return np.ascontiguousarray(rgb[r0:r0 + side, c0:c0 + side])


def _check_domain(name: str, gray: LightnessArray, window: IntensityWindow, net: ColorModel,
                  domain: Any) -> None:
    """Refuse a reference whose gray looks unlike the model's training images."""
    check = domain_score(gray, net, window, domain)
    if not check.in_domain:
        raise ValueError(f"reference {name} looks unlike the {domain.description} this model "
                         f"was trained on (domain score {check.score:.2f} > "
                         f"{check.threshold:.2f}): give a colour image of the same kind of "
                         "tissue and stain")


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
