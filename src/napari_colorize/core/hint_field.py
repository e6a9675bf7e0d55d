"""Colour hints carried to the structures they mark: a pointwise correction of the chroma.

Each hint says "this pixel should have chroma (a, b)". The model's own prediction at the hint
(from a tile centred on it, so it does not depend on the run's tiling) gives a correction
``delta = hint - prediction``. Every pixel then receives a weighted mean of the corrections, with
weights that measure how much the pixel looks like each hint's pixel: its lightness and the
model's predicted chroma there (the model's prediction already encodes "which structure this
is"), times a spatial term that is strong near the hint and falls to a floor far away. The floor
is what carries a hint everywhere its structure appears, where the user's stain differs
globally. The correction is a pointwise function of the pixel and the hints, so blocks and tiles
cannot cut it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

#: Feature scales: CIE lightness and chroma units at which similarity falls to 1/e.
SIGMA_L = 20.0
SIGMA_AB = 20.0
#: Spatial scale (pixels) of a hint's local effect, and the weight it keeps far away.
SIGMA_XY = 96.0
FAR_WEIGHT = 0.35
#: Weight of "no correction": pixels like no hint keep the model's colour.
PRIOR_WEIGHT = 0.3


@dataclass(frozen=True)
class HintField:
    """The hints of one plane, ready to apply: positions, features and corrections.

    Made by :func:`hint_fields`. Applying it is a pointwise function of a pixel's position,
    lightness and predicted chroma, so blocks and tiles cannot cut it.

    Parameters
    ----------
    rows, cols : numpy.ndarray
        float32 ``(N,)`` pixel positions of the hints in the plane.
    features : numpy.ndarray
        float32 ``(N, 3)``: lightness and the model's (a, b) at each hint.
    delta : numpy.ndarray
        float32 ``(N, 2)``: wanted minus predicted (a, b) at each hint.

    Examples
    --------
    One hint asking for +20 a*, -10 b* on a plain plane of lightness 50:

    >>> import torch
    >>> field = HintField(np.array([2.0], np.float32), np.array([2.0], np.float32),
    ...                   np.array([[50, 0, 0]], np.float32), np.array([[20, -10]], np.float32))
    >>> ab = torch.zeros(2, 1, 400)
    >>> field.apply(torch.full((1, 400), 50.0), ab, origin=(0, 0))
    >>> ab[:, 0, 2]  # at the hint: most of the correction (the prior keeps the rest)
    tensor([15.3841, -7.6921])
    >>> ab[:, 0, 399]  # far away, on the same structure: a weaker share
    tensor([10.7710, -5.3855])
    """

    rows: np.ndarray
    cols: np.ndarray
    features: np.ndarray  # (N, 3): L, a, b predicted at the hint
    delta: np.ndarray  # (N, 2): wanted minus predicted chroma
    #: (N, 2) the correction spread over the structure far from the hint (default ``delta``);
    #: near the hint the full ``delta`` applies.
    spread: np.ndarray | None = None

    def apply(self, lightness: torch.Tensor, ab: torch.Tensor, origin: tuple[int, int]) -> None:
        """Correct the chroma of one block in place.

        Each pixel receives the weighted mean of the hints' corrections (and of "no
        correction", weight ``PRIOR_WEIGHT``); a hint's weight is the similarity of the pixel's
        lightness and chroma to the hint's, times a spatial term that falls from 1 at the hint
        to ``FAR_WEIGHT`` far away. Near the hint its correction is ``delta``; the share that
        reaches the rest of the structure carries ``spread``.

        Parameters
        ----------
        lightness : torch.Tensor
            The block's lightness ``(h, w)``.
        ab : torch.Tensor
            The block's predicted chroma ``(2, h, w)``; corrected in place.
        origin : tuple of int
            The block's top-left pixel in the plane.
        """
        h, w = lightness.shape
        dev = lightness.device
        ys = torch.arange(origin[0], origin[0] + h, dtype=torch.float32, device=dev)[:, None]
        xs = torch.arange(origin[1], origin[1] + w, dtype=torch.float32, device=dev)[None, :]
        num = torch.zeros((2, h, w), device=dev)
        den = torch.full((h, w), PRIOR_WEIGHT, device=dev)
        spread = self.delta if self.spread is None else self.spread
        for i in range(len(self.delta)):
            lf, af, bf = (float(v) for v in self.features[i])
            d2 = ((lightness - lf) / SIGMA_L).square_()
            d2.add_(((ab[0] - af) / SIGMA_AB).square_()).add_(((ab[1] - bf) / SIGMA_AB).square_())
            similar = d2.mul_(-0.5).exp_()
            near = (ys - float(self.rows[i])).square() + (xs - float(self.cols[i])).square()
            near = near.mul_(-0.5 / SIGMA_XY**2).exp_().mul_(1 - FAR_WEIGHT).mul_(similar)
            far = similar.mul_(FAR_WEIGHT)
            den.add_(near).add_(far)
            for c in (0, 1):
                num[c].add_(near, alpha=float(self.delta[i, c]))
                num[c].add_(far, alpha=float(spread[i, c]))
        ab.add_(num.div_(den))


def hint_fields(
    by_plane: dict[int, list], predict: Any, tile: tuple[int, int]
) -> dict[int, HintField]:
    """Make the :class:`HintField` of each plane from the model's prediction at each hint.

    Parameters
    ----------
    by_plane : dict
        Plane -> ``(row, col, colour)`` entries, from :func:`split_by_plane`.
    predict : callable
        ``predict(plane, row, col, size)`` returns the lightness ``(h, w)`` and the model's
        chroma ``(2, h, w)`` of a ``size`` window around the pixel, and the pixel's position
        in that window.
    tile : tuple of int
        The window size to predict on.

    Returns
    -------
    dict
        Plane -> :class:`HintField`.

    Examples
    --------
    A model that predicts gray everywhere; one blue hint:

    >>> import torch
    >>> def predict(plane, row, col, size):
    ...     return torch.full(size, 50.0), torch.zeros(2, *size), (size[0] // 2, size[1] // 2)
    >>> fields = hint_fields({0: [(3, 4, np.array([0.0, 0.0, 1.0]))]}, predict, (8, 8))
    >>> fields[0].features, fields[0].delta.round(1)
    (array([[50.,  0.,  0.]], dtype=float32), array([[  79.2, -107.9]], dtype=float32))
    """
    from .color import rgb_to_lab

    fields = {}
    for plane, entries in by_plane.items():
        feats, deltas = [], []
        for row, col, colour in entries:
            lightness, ab, (r, c) = predict(plane, row, col, tile)
            feats.append([float(lightness[r, c]), float(ab[0, r, c]), float(ab[1, r, c])])
            want = rgb_to_lab(torch.tensor(colour, dtype=torch.float64)[:, None])[1:, 0]
            deltas.append([float(want[0]) - feats[-1][1], float(want[1]) - feats[-1][2]])
        fields[plane] = HintField(
            np.array([e[0] for e in entries], np.float32),
            np.array([e[1] for e in entries], np.float32),
            np.array(feats, np.float32),
            np.array(deltas, np.float32),
        )
    return fields
