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
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .domain_features import MIN_SIDE, N_WINDOWS, WINDOW_SIDE, sample_lightness, window_features
from .intensity import IntensityWindow

#: Format version of the ``.domain.json`` file.
DOMAIN_FORMAT = 1


class DomainWarning(UserWarning):
    """The input looks unlike the images the model was trained on: colours may be wrong."""


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
        if not (self.threshold > 0 and self.window_side >= MIN_SIDE and self.n_windows >= 1):
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
    blocks : tuple of dict
        For an input computed in several blocks (a slide): each block's ``rows``, ``cols``
        and ``score``, in the plan's order.

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
    blocks: tuple[Mapping[str, Any], ...] = ()

    def to_metadata(self) -> dict[str, Any]:
        """Describe the score for a result's or an output's metadata (JSON-ready)."""
        return {"score": round(self.score, 3), "threshold": self.threshold,
                "in_domain": self.in_domain, "parts": {k: round(v, 3) for k, v in
                                                       self.parts.items()},
                "windows": self.windows,
                **({"blocks": [dict(b) for b in self.blocks]} if self.blocks else {})}


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


def model_name(net: Any) -> str:
    """Give the name on a model's card (its spec's name for a model without one)."""
    card = getattr(net, "card", None) or {}
    return str(card.get("name") or getattr(getattr(net, "spec", None), "name", ""))


def model_domain(net: Any) -> DomainModel | None:
    """Load the domain statistics beside a model's card, if it has any.

    Parameters
    ----------
    net : ColorModel
        A loaded model.

    Returns
    -------
    DomainModel or None
        None for a model without statistics (a channel model, a tuned or in-memory one).

    Examples
    --------
    >>> from napari_colorize.models.registry import load_model
    >>> model_domain(load_model("he-histology")).model
    'he-histology'
    """
    from ..models.registry import find_card

    name = model_name(net)
    try:
        domain = load_domain(find_card(name)) if name else None
    except ValueError as exc:  # a model built in memory has no card to sit beside
        if "unknown model" not in str(exc):
            raise
        return None
    # statistics describe one set of weights' features: a retrained model of the same name
    # (e.g. the recipe's output before it is installed) is not judged by them
    weights = domain.fit.get("weights_sha256") if domain is not None else None
    card = getattr(net, "card", None) or {}
    return None if weights and card.get("sha256") not in (None, weights) else domain


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
        domain = model_domain(net)
        if domain is None:
            raise ValueError(f"model {model_name(net) or net!r} has no domain statistics "
                             "(.domain.json)")
    divisor = int(getattr(getattr(net, "spec", None), "divisor", 32))
    lightness = sample_lightness(image, window, side=domain.window_side, n=domain.n_windows,
                                 region=region, divisor=divisor)
    features = window_features(lightness, net)
    if features.shape[1] != len(domain.feature_names):
        raise ValueError(f"domain statistics of {domain.model!r} describe "
                         f"{len(domain.feature_names)} features; model "
                         f"{model_name(net)!r} gives {features.shape[1]}")
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


def check_domain(image: Any, net: Any, window: IntensityWindow,
                 blocks: Any = ()) -> DomainScore | None:
    """Score the input against the model's training domain; warn when it is out.

    An input computed in several blocks (a slide) is also scored block by block (the same
    windows per block), so a region unlike the rest (pen, another stain) shows in the metadata.

    Parameters
    ----------
    image : array-like
        The opened input.
    net : ColorModel
        The model.
    window : IntensityWindow
        The run's intensity window.
    blocks : sequence of Block
        The plan's blocks; with more than one, each is scored too.

    Returns
    -------
    DomainScore or None
        None for a model without domain statistics.

    Warns
    -----
    DomainWarning
        The input looks unlike the model's training images (the run goes on).

    Examples
    --------
    >>> import warnings
    >>> from napari_colorize.models.registry import load_model
    >>> noise = np.random.default_rng(0).integers(0, 256, (256, 256), np.uint8)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     score = check_domain(noise, load_model("he-histology"), IntensityWindow(0, 255))
    >>> score.in_domain, caught[0].category.__name__
    (False, 'DomainWarning')
    """
    domain = model_domain(net)
    if domain is None:
        return None
    score = domain_score(image, net, window, domain)
    if len(blocks) > 1:
        parts = []
        for block in blocks:
            rows, cols = block.region
            part = domain_score(image, net, window, domain, region=block.region)
            parts.append({"rows": [rows.start, rows.stop], "cols": [cols.start, cols.stop],
                          "score": round(part.score, 3)})
        score = replace(score, blocks=tuple(parts))
    if not score.in_domain:
        warnings.warn(score.message, DomainWarning, stacklevel=_outside_level())
    return score


def _outside_level() -> int:
    """Give the ``stacklevel`` of the first caller outside this package (the user's line)."""
    package = str(Path(__file__).resolve().parents[1])
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level
