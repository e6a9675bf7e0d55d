"""The statistics a domain check compares an input with, and their ``<model>.domain.json`` file.

A :class:`DomainModel` holds the parts of the check (:class:`DomainPart`: a Gaussian distance
and a linear discriminant over window features), each scaled by its spread on held-out labs, and
the threshold above which an input is out of domain. :mod:`napari_colorize.training.domain_fit`
fits them; :mod:`.domain` scores inputs with them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .domain_features import MIN_SIDE, N_WINDOWS, WINDOW_SIDE

#: Format version of the ``.domain.json`` file.
DOMAIN_FORMAT = 1


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
