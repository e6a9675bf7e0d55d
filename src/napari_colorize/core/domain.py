"""A domain check: how much a gray input looks like what the model was trained on.

The model sees only lightness, so the check does too. At most :data:`N_WINDOWS` windows of
:data:`WINDOW_SIDE` pixels spread over the input are mapped to lightness with the run's
intensity window. Each gives a vector of gray statistics (moments, percentiles, glass-white and
dark fractions, texture at two scales, a lightness histogram and a histogram of 8x8 blocks by
mean and contrast), the model trunk's features pooled over the window (all positions, dark
positions, pale positions) and the spread of its head's outputs. The check has two parts, each
fitted by :mod:`napari_colorize.training.domain_fit`:

``novelty``
    A Gaussian of the windows of the training images: the mean Mahalanobis distance of the
    input's windows (anything far from the training images: photographs, fluorescence, CT).
``stain``
    A linear discriminant between the training images and the same images re-stained in
    silico as immunohistochemistry (haematoxylin and DAB, no eosin), whose gray differs from
    H&E's only subtly.

Each part's mean over the windows is scaled by its spread on held-out labs, so that the score
(the larger part, at least 0) is at most ``threshold`` (1) for the training domain. The
statistics live in ``<model>.domain.json`` beside the model's card.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from .intensity import IntensityWindow, sample_planes, to_lightness

#: Side of the windows scored (pixels); smaller planes are scored whole.
WINDOW_SIDE = 192
#: Most windows scored per image (a square grid over the plane, dealt out over a stack's planes).
N_WINDOWS = 9
#: Format version of the ``.domain.json`` file.
DOMAIN_FORMAT = 1
#: Gray statistics, in feature order (lightness / 100; textures per pixel).
GRAY_FEATURES = (
    "mean", "std", "white", "dark", "p05", "p50", "p95", "texture_fine", "texture_coarse",
)
#: Lightness bins (L*) of the histogram, and of 8x8 blocks by mean and by std (L* units).
L_BINS = (30.0, 45.0, 60.0, 70.0, 80.0, 88.0, 94.0)
BLOCK_MEAN_BINS = (50.0, 65.0, 80.0, 90.0)
BLOCK_STD_BINS = (2.0, 6.0)
#: Positions (4x4 blocks) counted as dark (L* below) and as pale (L* between) for pooling.
DARK_L, PALE_L = 45.0, (75.0, 92.0)
_WHITE, _DARK = 88.0, 30.0
_MIN_SIDE = 64


class DomainWarning(UserWarning):
    """The input looks unlike the images the model was trained on: colours may be wrong."""


def _spots(length: int, side: int, grid: int) -> list[int]:
    """Start positions of ``grid`` windows of ``side`` spread evenly along ``length``."""
    if length <= side:
        return [0]
    return sorted({round(i * (length - side) / max(grid - 1, 1)) for i in range(grid)})


def sample_lightness(image: Any, window: IntensityWindow, *, side: int = WINDOW_SIDE,
                     n: int = N_WINDOWS, region: tuple[slice, slice] | None = None,
                     divisor: int = 32) -> torch.Tensor:
    """Read up to ``n`` windows spread over an image and map them to lightness.

    Windows lie on an even grid over the plane (``isqrt(n)`` a side), dealt out in turn to up
    to ``n`` planes of a stack, so a stack costs what one plane costs. A plane smaller than
    ``side`` gives windows of its size (a multiple of ``divisor``); under 64 pixels it is
    reflected up to 64.

    Parameters
    ----------
    image : array-like
        The input; planes are its last two axes (numpy, zarr, dask, ...).
    window : IntensityWindow
        The run's intensity window.
    side : int
        Window side in pixels (a multiple of ``divisor``).
    n : int
        Most windows.
    region : tuple of slice, optional
        Rows and columns of the planes to sample (a block of a slide); default all.
    divisor : int
        The model's divisor.

    Returns
    -------
    torch.Tensor
        float32 lightness ``(B, 1, S, T)``, ``B <= n``.

    Raises
    ------
    ValueError
        An empty ``region``.

    Examples
    --------
    >>> sample_lightness(np.zeros((1000, 700), np.uint8), IntensityWindow(0, 255)).shape
    torch.Size([9, 1, 192, 192])
    >>> sample_lightness(np.zeros((3, 40, 100), np.uint16), IntensityWindow(0, 9), n=4).shape
    torch.Size([4, 1, 64, 96])
    """
    h, w = (int(s) for s in image.shape[-2:])
    rows, cols = region if region is not None else (slice(None), slice(None))
    r0, r1, _ = rows.indices(h)
    c0, c1, _ = cols.indices(w)
    if r1 <= r0 or c1 <= c0:
        raise ValueError(f"region {region} of a {h}x{w} plane is empty")
    fit = [side if m >= side else max(divisor, m // divisor * divisor) for m in (r1 - r0, c1 - c0)]
    grid = max(1, math.isqrt(n))
    spots = [(r, c) for r in _spots(r1 - r0, fit[0], grid) for c in _spots(c1 - c0, fit[1], grid)]
    planes = sample_planes(image, n)
    picks = [(planes[i % len(planes)], spots[i % len(spots)])
             for i in range(min(n, max(len(spots), len(planes))))]
    out = []
    for idx, (r, c) in picks:
        part = (*idx, slice(r0 + r, r0 + r + fit[0]), slice(c0 + c, c0 + c + fit[1]))
        out.append(to_lightness(np.asarray(image[part]), window,
                                f"image plane {idx}" if idx else "image"))
    batch = torch.stack(out)[:, None]
    ph, pw = max(0, _MIN_SIDE - batch.shape[-2]), max(0, _MIN_SIDE - batch.shape[-1])
    if ph or pw:  # tiny planes: reflect (replicate when too small to reflect) up to 64
        mode = "reflect" if min(batch.shape[-2:]) > max(ph, pw) else "replicate"
        batch = F.pad(batch, (0, pw, 0, ph), mode=mode)
    return batch


def gray_statistics(lightness: torch.Tensor) -> torch.Tensor:
    """Compute the gray statistics and histograms of a batch of lightness windows.

    Parameters
    ----------
    lightness : torch.Tensor
        ``(B, 1, H, W)`` CIE lightness, 0-100; ``H`` and ``W`` multiples of 8.

    Returns
    -------
    torch.Tensor
        float32 ``(B, 32)``: :data:`GRAY_FEATURES`, then the square roots of the fractions of
        pixels in the lightness bins :data:`L_BINS` (8) and of 8x8 blocks in the bins of
        block mean by block std (5 x 3).

    Examples
    --------
    >>> stats = gray_statistics(torch.full((2, 1, 64, 64), 95.0))
    >>> stats.shape, [round(v, 3) for v in stats[0, :4].tolist()]
    (torch.Size([2, 32]), [0.95, 0.0, 1.0, 0.0])
    """
    img = lightness.float()
    b = img.shape[0]
    ones = torch.arange(b, device=img.device)[:, None]

    def counts(index: torch.Tensor, bins: int) -> torch.Tensor:
        flat = (index.flatten(1) + bins * ones).flatten()
        return torch.bincount(flat, minlength=b * bins).view(b, bins).float()

    def texture(v: torch.Tensor) -> torch.Tensor:
        dx = (v[..., :, 1:] - v[..., :, :-1]).abs().mean((1, 2, 3))
        return dx + (v[..., 1:, :] - v[..., :-1, :]).abs().mean((1, 2, 3))

    # a histogram of half-L* bins gives the fractions, percentiles and lightness bins at once
    # (torch.quantile sorts: several times slower)
    fine = counts((img * 2).long().clamp(0, 199), 200)
    total = fine.sum(1, keepdim=True)
    cdf = fine.cumsum(1) / total
    q = (torch.stack([(cdf < p).sum(1) for p in (0.05, 0.5, 0.95)], 1).float() + 0.5) / 200
    edges = [0, *(int(v * 2) for v in L_BINS), 200]
    level = torch.stack([fine[:, a:e].sum(1) for a, e in pairwise(edges)], 1)
    mean = F.avg_pool2d(img, 8)
    std = (F.avg_pool2d(img * img, 8) - mean * mean).clamp(min=0).sqrt()
    by_mean = torch.bucketize(mean, torch.tensor(BLOCK_MEAN_BINS, device=img.device))
    by_std = torch.bucketize(std, torch.tensor(BLOCK_STD_BINS, device=img.device))
    blocks = counts(by_mean * (len(BLOCK_STD_BINS) + 1) + by_std,
                    (len(BLOCK_MEAN_BINS) + 1) * (len(BLOCK_STD_BINS) + 1))
    x = img.flatten(1) / 100
    stats = torch.stack([x.mean(1), x.std(1), fine[:, 2 * int(_WHITE):].sum(1) / total[:, 0],
                         fine[:, : 2 * int(_DARK)].sum(1) / total[:, 0], *q.T,
                         texture(img / 100), texture(F.avg_pool2d(img / 100, 4))], 1)
    return torch.cat([stats, (level / total).sqrt(),
                      (blocks / blocks.sum(1, keepdim=True)).sqrt()], 1)


def feature_names(channels: int, outputs: int) -> tuple[str, ...]:
    """Name the features :func:`window_features` computes for a model.

    Parameters
    ----------
    channels : int
        Channels of the trunk's features (``widths[0]``).
    outputs : int
        Outputs of the model's head (per sub-pixel).

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> names = feature_names(32, 3)
    >>> len(names), names[9], names[32], names[-1]
    (136, 'hist_l0', 'trunk0', 'out2_std')
    """
    hist = [f"hist_l{i}" for i in range(len(L_BINS) + 1)]
    hist += [f"hist_b{i}" for i in range((len(BLOCK_MEAN_BINS) + 1) * (len(BLOCK_STD_BINS) + 1))]
    trunk = [f"{name}{i}" for name in ("trunk", "trunk_dark", "trunk_pale")
             for i in range(channels)]
    outs = [f"out{i}_{s}" for i in range(outputs) for s in ("mean", "std")]
    return (*GRAY_FEATURES, *hist, *trunk, "dark_positions", "pale_positions", *outs)


def window_features(lightness: torch.Tensor, net: Any) -> np.ndarray:
    """Describe each lightness window by its gray statistics and what the model makes of it.

    Parameters
    ----------
    lightness : torch.Tensor
        ``(B, 1, H, W)`` lightness, ``H`` and ``W`` multiples of the model's divisor.
    net : ColorModel or torch.nn.Module
        The model (a :class:`~napari_colorize.models.trunk.Trunk` with a 1x1 ``head``); it runs
        in float32 on its device.

    Returns
    -------
    numpy.ndarray
        float64 ``(B, D)`` named by :func:`feature_names`: :func:`gray_statistics`; ``log1p``
        of the trunk's features averaged over all, dark and pale positions; the fractions of
        dark and pale positions; the mean and std of each head output over the window.

    Examples
    --------
    >>> from napari_colorize.models.network import ChromaNet
    >>> window_features(torch.full((3, 1, 64, 64), 60.0), ChromaNet((8, 8, 8, 8))).shape
    (3, 64)
    """
    module = getattr(net, "net", net)
    device = next(module.parameters()).device
    lightness = lightness.to(device, torch.float32)
    with torch.inference_mode():
        feats = module.features(lightness)
        head = module.head(feats).float()
    b, c, h, w = feats.shape
    # positions last: free for the channels-last tensors the engine's models make
    feats = feats.float().permute(0, 2, 3, 1).reshape(b, h * w, c)
    outs = head.permute(0, 2, 3, 1).reshape(b, h * w, -1, 16)  # channel = output * 16 + sub
    level = F.avg_pool2d(lightness, 4).flatten(1)
    masks = [torch.ones_like(level), (level < DARK_L).float(),
             ((level > PALE_L[0]) & (level < PALE_L[1])).float()]
    pooled = [torch.log1p(torch.einsum("bpc,bp->bc", feats, m) / m.sum(1, keepdim=True).clamp(
        min=1)) for m in masks]
    spread = torch.stack([outs.mean((1, 3)), outs.std((1, 3))], 2).flatten(1)
    fractions = torch.stack([masks[1].mean(1), masks[2].mean(1)], 1)
    out = torch.cat([gray_statistics(lightness), *pooled, fractions, spread], 1)
    return out.double().cpu().numpy()


@dataclass(frozen=True)
class DomainPart:
    """One part of a :class:`DomainModel`: a Gaussian distance or a linear discriminant.

    A window's value is ``sqrt(z @ weights @ z / len(z))`` (``"gaussian"``, ``weights`` a
    precision matrix) or ``z @ weights + offset`` (``"linear"``), with ``z`` the window's
    features ``index`` minus ``center``. The image's value is the mean over its windows, and
    its score ``(value - median) / spread``.

    Parameters
    ----------
    name : str
        ``"novelty"`` or ``"stain"`` (free text; messages use ``label``).
    kind : {"gaussian", "linear"}
        How a window's value is computed.
    index : tuple of int
        The features used.
    center : tuple of float
        Subtracted from the features.
    weights : tuple
        A ``len(index)`` square matrix (gaussian) or vector (linear).
    median, spread : float
        The value of a typical training image, and the change of value that scores 1.
    offset : float
        Added to a linear value.
    label : str
        What a high score means, for messages.

    Raises
    ------
    ValueError
        Sizes that do not match, or a spread that is not positive.

    Examples
    --------
    >>> part = DomainPart("stain", "linear", (0, 1), (0.0, 0.0), (1.0, -1.0), 0.0, 2.0)
    >>> part.values(np.array([[3.0, 1.0], [1.0, 1.0]]))
    array([2., 0.])
    """

    name: str
    kind: str
    index: tuple[int, ...]
    center: tuple[float, ...]
    weights: tuple[Any, ...]
    median: float
    spread: float
    offset: float = 0.0
    label: str = ""

    def __post_init__(self) -> None:
        """Check kinds and sizes."""
        n = len(self.index)
        shape = np.shape(np.asarray(self.weights, dtype=float))
        want = (n, n) if self.kind == "gaussian" else (n,)
        if self.kind not in ("gaussian", "linear") or len(self.center) != n or shape != want:
            raise ValueError(f"domain part {self.name!r}: kind {self.kind!r}, {n} features, "
                             f"center of {len(self.center)}, weights {shape} (expected {want})")
        if not self.spread > 0:
            raise ValueError(f"domain part {self.name!r}: spread {self.spread} must be > 0")

    def values(self, features: np.ndarray) -> np.ndarray:
        """Compute the value of each window (rows of ``features``).

        Parameters
        ----------
        features : numpy.ndarray
            ``(B, D)`` window features.

        Returns
        -------
        numpy.ndarray
            ``(B,)`` float64.
        """
        z = features[:, list(self.index)] - np.asarray(self.center)
        w = np.asarray(self.weights, dtype=np.float64)
        if self.kind == "linear":
            return z @ w + self.offset
        return np.sqrt(np.clip(np.einsum("ij,jk,ik->i", z, w, z), 0, None) / len(self.index))

    def score(self, features: np.ndarray) -> float:
        """Score an image from its windows' ``features``: its mean value, scaled."""
        return float((self.values(features).mean() - self.median) / self.spread)


@dataclass(frozen=True)
class DomainModel:
    """What a model's training images look like in gray, and how far an input may stray.

    Parameters
    ----------
    model : str
        The model the statistics belong to.
    description : str
        The training domain in words ("H&E brightfield"), for messages.
    feature_names : tuple of str
        The window features (:func:`feature_names`), to check that they fit the model.
    parts : tuple of DomainPart
        The scored parts; the score is the largest part's score (at least 0).
    threshold : float
        Scores above it are out of domain.
    window_side, n_windows : int
        The windows scored.
    fit : dict
        How the statistics were fitted (provenance, held-out pass rate); not compared.

    Examples
    --------
    >>> part = DomainPart("novelty", "gaussian", (0,), (0.5,), ((100.0,),), 1.0, 1.0)
    >>> domain = DomainModel("m", "tests", ("mean",), (part,))
    >>> DomainModel.from_dict(domain.to_dict()) == domain
    True
    """

    model: str
    description: str
    feature_names: tuple[str, ...]
    parts: tuple[DomainPart, ...]
    threshold: float = 1.0
    window_side: int = WINDOW_SIDE
    n_windows: int = N_WINDOWS
    fit: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        """Check the parts' features and the threshold."""
        top = max((max(p.index, default=-1) for p in self.parts), default=-1)
        if not self.parts or top >= len(self.feature_names):
            raise ValueError(f"domain statistics of {self.model!r}: {len(self.parts)} parts "
                             f"using feature {top} of {len(self.feature_names)}")
        if not (self.threshold > 0 and self.window_side >= _MIN_SIDE and self.n_windows >= 1):
            raise ValueError(f"domain statistics of {self.model!r}: threshold "
                             f"{self.threshold}, window_side {self.window_side} and n_windows "
                             f"{self.n_windows} must be positive (window_side >= 64)")

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (``format`` first)."""
        parts = [{**p.__dict__, "index": list(p.index), "center": list(p.center),
                  "weights": np.asarray(p.weights).tolist()} for p in self.parts]
        return {"format": DOMAIN_FORMAT, "model": self.model, "description": self.description,
                "threshold": self.threshold, "window_side": self.window_side,
                "n_windows": self.n_windows, "feature_names": list(self.feature_names),
                "parts": parts, "fit": dict(self.fit)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DomainModel:
        """Build from :meth:`to_dict`'s form; ``ValueError`` for another format or bad values."""
        if data.get("format") != DOMAIN_FORMAT:
            raise ValueError(f"domain statistics format {data.get('format')!r} is not "
                             f"{DOMAIN_FORMAT}")
        parts = tuple(DomainPart(**{**p, "index": tuple(p["index"]), "center": tuple(p["center"]),
                                    "weights": _tuples(p["weights"])}) for p in data["parts"])
        return cls(str(data["model"]), str(data["description"]), tuple(data["feature_names"]),
                   parts, float(data["threshold"]), int(data["window_side"]),
                   int(data["n_windows"]), dict(data.get("fit", {})))

    def scores(self, features: np.ndarray) -> dict[str, float]:
        """Score an image's windows: each part's score, by name."""
        return {p.name: p.score(features) for p in self.parts}


def _tuples(value: Any) -> Any:
    """Nested lists as nested tuples (hashable, comparable)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else float(value)


@dataclass(frozen=True)
class DomainScore:
    """How much an input looks like the model's training domain.

    Attributes
    ----------
    score : float
        The larger part's score, at least 0; typical training images score about 0.
    threshold : float
        Scores above it are out of domain.
    in_domain : bool
        ``score <= threshold``.
    message : str
        One line for users (a warning's text when out of domain).
    parts : dict
        Each part's score, by name.
    windows : int
        Windows scored.

    Examples
    --------
    >>> s = DomainScore(3.2, 1.0, False, "looks unlike", {"novelty": 3.2}, 9)
    >>> s.to_metadata()["score"], s.in_domain
    (3.2, False)
    """

    score: float
    threshold: float
    in_domain: bool
    message: str
    parts: Mapping[str, float] = field(default_factory=dict)
    windows: int = 0

    def to_metadata(self) -> dict[str, Any]:
        """Describe the score for a result's or an output's metadata (JSON-ready)."""
        return {"score": round(self.score, 3), "threshold": self.threshold,
                "in_domain": self.in_domain, "parts": {k: round(v, 3) for k, v in
                                                       self.parts.items()},
                "windows": self.windows}


def domain_path(card: str | Path) -> Path:
    """Name the domain statistics file beside a model card: ``<name>.domain.json``.

    Examples
    --------
    >>> domain_path("/models/he-histology.json").name
    'he-histology.domain.json'
    """
    path = Path(card)
    return path.with_name(path.name.removesuffix(".json").removesuffix(".safetensors")
                          + ".domain.json")


_CACHE: dict[tuple[str, int], DomainModel] = {}


def load_domain(model: str | Path) -> DomainModel | None:
    """Load the domain statistics of a model (a name, or its card or weights path).

    Parameters
    ----------
    model : str or Path
        As :func:`~napari_colorize.models.registry.find_card` takes it.

    Returns
    -------
    DomainModel or None
        None when the model has no ``.domain.json`` beside its card.

    Raises
    ------
    ValueError
        An unknown model, or a statistics file that cannot be read (one line naming it).

    Examples
    --------
    >>> load_domain("he-histology").description
    'H&E brightfield'
    >>> load_domain("fluorescence-composite") is None
    True
    """
    from ..models.registry import find_card

    path = domain_path(find_card(model))
    if not path.is_file():
        return None
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _CACHE:
        try:
            _CACHE[key] = DomainModel.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"cannot read domain statistics {path}: {exc}") from None
    return _CACHE[key]


def save_domain(domain: DomainModel, path: str | Path) -> Path:
    """Write domain statistics as JSON (to a temporary name first, then renamed).

    Examples
    --------
    >>> import tempfile
    >>> part = DomainPart("novelty", "gaussian", (0,), (0.5,), ((100.0,),), 1.0, 1.0)
    >>> out = Path(tempfile.mkdtemp()) / "m.domain.json"
    >>> save_domain(DomainModel("m", "tests", ("mean",), (part,)), out).name
    'm.domain.json'
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(domain.to_dict(), indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def domain_score(image: Any, net: Any, window: IntensityWindow,
                 domain: DomainModel | None = None, *,
                 region: tuple[slice, slice] | None = None) -> DomainScore:
    """Score how much a gray input looks like the model's training images.

    Parameters
    ----------
    image : array-like
        The input (planes are the last two axes), any real dtype.
    net : ColorModel
        The model (its trunk describes the windows).
    window : IntensityWindow
        The run's intensity window (:func:`~.intensity.compute_window`).
    domain : DomainModel, optional
        The statistics; default: :func:`load_domain` of the model's card name.
    region : tuple of slice, optional
        Rows and columns of the planes to score (a block of a slide); default all.

    Returns
    -------
    DomainScore

    Raises
    ------
    ValueError
        The model has no domain statistics, or they do not fit it.

    Examples
    --------
    >>> from napari_colorize.models.registry import load_model
    >>> net = load_model("he-histology")
    >>> noise = np.random.default_rng(0).integers(0, 256, (512, 512), np.uint8)
    >>> result = domain_score(noise, net, IntensityWindow(0, 255))
    >>> result.in_domain, result.message[:45]
    (False, 'input looks unlike the H&E brightfield this m')
    """
    if domain is None:
        from ..models.registry import find_card

        name = getattr(net, "card", {}).get("name") or getattr(getattr(net, "spec", None),
                                                               "name", "")
        try:  # a model built in memory has no card to sit beside
            domain = load_domain(find_card(name)) if name else None
        except ValueError as exc:
            if "unknown model" not in str(exc):
                raise
        if domain is None:
            raise ValueError(f"model {name or net!r} has no domain statistics (.domain.json)")
    divisor = int(getattr(getattr(net, "spec", None), "divisor", 32))
    lightness = sample_lightness(image, window, side=domain.window_side, n=domain.n_windows,
                                 region=region, divisor=divisor)
    features = window_features(lightness, net)
    if features.shape[1] != len(domain.feature_names):
        raise ValueError(f"domain statistics of {domain.model!r} describe "
                         f"{len(domain.feature_names)} features; model "
                         f"{getattr(net, 'card', {}).get('name', '')!r} gives {features.shape[1]}")
    parts = domain.scores(features)
    score = max(0.0, *parts.values())
    inside = score <= domain.threshold
    if inside:
        message = (f"input looks like the {domain.description} this model was trained on "
                   f"(domain score {score:.2f} <= {domain.threshold:.2f})")
    else:  # the first part (in order: the broadest) that is out explains it
        label = next(p.label for p in domain.parts if parts[p.name] > domain.threshold)
        message = (f"input looks unlike the {domain.description} this model was trained on "
                   f"(domain score {score:.2f} > {domain.threshold:.2f}"
                   f"{'; ' + label if label else ''}): colours may be wrong")
    return DomainScore(score, domain.threshold, inside, message, parts, len(features))
