"""A domain check: how much a gray input looks like what the model was trained on.

The model sees only lightness, so the check does too. At most :data:`N_WINDOWS` windows of
:data:`WINDOW_SIDE` pixels spread over the input are mapped to lightness with the run's
intensity window. Each gives a vector of gray statistics (moments, percentiles, glass-white and
dark fractions, texture at two scales, a lightness histogram and a histogram of 8x8 blocks by
mean and contrast), the model trunk's features pooled over the window (all positions, dark
positions, pale positions), the spread of its head's outputs and the near-black fraction. The
check has three parts, the first two fitted by :mod:`napari_colorize.training.domain_fit`:

``novelty``
    A Gaussian of the windows of the training images: the mean Mahalanobis distance of the
    input's windows (anything far from the training images: photographs, fluorescence, CT).
``stain``
    A linear discriminant between the training images and the same images re-stained in
    silico as immunohistochemistry (haematoxylin and DAB, no eosin), whose gray differs from
    H&E's only subtly.
``black``
    The fraction of near-black pixels, fixed rather than fitted: transmitted light leaves
    almost none, while fluorescence, CT/MR and many photographs have dark backgrounds.

Each fitted part's mean over the windows is scaled by its spread on held-out labs, so that the
score (the largest part, at least 0) is at most ``threshold`` (1) for the training domain. The
statistics live in ``<model>.domain.json`` beside the model's card (:mod:`.domain_stats`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .domain_features import sample_lightness, window_features
from .domain_stats import DOMAIN_FORMAT as DOMAIN_FORMAT  # re-exported, as the names below
from .domain_stats import DomainModel as DomainModel
from .domain_stats import DomainPart as DomainPart
from .domain_stats import domain_path as domain_path
from .domain_stats import load_domain as load_domain
from .domain_stats import save_domain as save_domain
from .intensity import IntensityWindow
from .warn import user_level


class DomainWarning(UserWarning):
    """The input looks unlike the images the model was trained on: colours may be wrong."""


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
    >>> import numpy as np
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
    else:  # every part that is out explains it, the strongest first
        out = sorted((p for p in domain.parts if parts[p.name] > domain.threshold),
                     key=lambda p: -parts[p.name])
        label = "; ".join(p.label for p in out if p.label)
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
    >>> import numpy as np
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
        warnings.warn(score.message, DomainWarning, stacklevel=user_level())
    return score
