"""The regression behind a colour reference: the model's own features, then lightness.

A lab's colours differ from the model's in two ways. Structures (nuclei, stroma, glass) take
the lab's own hues, which the model's features can tell apart but lightness alone cannot; and
the stain's density shifts chroma with lightness. The fit therefore has two linear stages,
each shrunk toward "no change" by a number of pixels' worth of evidence:

1. ``ab_true - ab_model ~ D @ z + sum_k h_k(L) (o_k + P_k @ ab_model)``, where ``z`` are the
   model's last features (one vector per 4x4 pixels, standardised) and ``h_k`` hat functions
   over lightness. Only ``D`` is kept: it becomes a change of the network's head
   (:meth:`~napari_colorize.models.network.ChromaNet.add_to_chroma`), so every tile carries it
   and tiling stays as exact as the model's.
2. With ``ab_1 = ab_model + D @ z``, ``ab_true - ab_1 ~ sum_k h_k(L) (o_k + P_k @ ab_1)`` gives
   the per-lightness table ``ab' = M(L) @ ab_1 + b(L)`` that blocks apply after blending.

The baseline to beat is the reference's own per-lightness table; the features are what beat it.
Networks without such features (e.g. test networks) get stage 2 only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

#: Centres of the hat functions over lightness (L* units): linear interpolation between them.
CENTRES = np.arange(0.0, 101.0, 5.0)
#: Pixels' worth of "no change" for each standardised feature weight and each table entry.
FEATURE_PRIOR = 300.0
TABLE_PRIOR = 300.0
#: The table's matrix part acts on chroma divided by this (a typical spread of the chroma), so
#: one prior weighs a matrix entry and an offset alike.
CHROMA_SCALE = 5.0
#: Pixels sampled per reference: tissue, and glass (so the background takes the lab's tint too).
SAMPLE_TISSUE = 80_000
SAMPLE_GLASS = 20_000


@dataclass
class Samples:
    """Pixels of the references: lightness ``(n,)``, features ``(C, n)`` or None, chroma."""

    lightness: np.ndarray
    features: np.ndarray | None
    ab_model: np.ndarray  # (2, n)
    ab_true: np.ndarray  # (2, n)

    @staticmethod
    def join(parts: list[Samples]) -> Samples:
        """Concatenate the samples of several references."""
        feats = [p.features for p in parts if p.features is not None]
        return Samples(
            np.concatenate([p.lightness for p in parts]),
            np.concatenate(feats, axis=1) if len(feats) == len(parts) else None,
            np.concatenate([p.ab_model for p in parts], axis=1),
            np.concatenate([p.ab_true for p in parts], axis=1),
        )


@torch.inference_mode()
def sample_reference(model: Any, lightness: torch.Tensor, ab_true: torch.Tensor,
                     tissue: torch.Tensor, seed: int = 0) -> Samples:
    """Run the network once on a reference's lightness and sample pixels for the fit.

    Parameters
    ----------
    model : ColorModel
        The run's model; its network's features are computed in float32.
    lightness : torch.Tensor
        ``(h, w)`` lightness as the run computes it from the reference's gray.
    ab_true : torch.Tensor
        ``(2, h, w)`` the reference's true chroma.
    tissue : torch.Tensor
        ``(h, w)`` bool: tissue pixels (the rest is glass).
    seed : int
        Seed of the pixel sample (the fit is deterministic).

    Returns
    -------
    Samples

    Examples
    --------
    >>> from napari_colorize.models.network import ChromaNet
    >>> from napari_colorize.models.spec import ColorModel, ModelSpec
    >>> model = ColorModel(ChromaNet((8, 8, 8, 8)), ModelSpec("tiny"))
    >>> L = torch.full((40, 50), 60.0)
    >>> s = sample_reference(model, L, torch.zeros(2, 40, 50), L < 70)
    >>> s.features.shape, s.ab_model.shape
    ((8, 2000), (2, 2000))
    """
    h, w = lightness.shape
    div = model.spec.divisor
    pad = (0, -w % div, 0, -h % div)
    x = F.pad(lightness[None, None].float(), pad, mode="replicate").to(model.device)
    features = None
    if hasattr(model.net, "chroma_and_features"):
        ab, feats = model.net.chroma_and_features(x)
        features = feats[0].cpu().repeat_interleave(4, 1).repeat_interleave(4, 2)[:, :h, :w]
    else:
        ab = model(x, confidence=False)
    ab = ab[0, :2, :h, :w].cpu()
    rng = np.random.default_rng(seed)
    flat = tissue.flatten().numpy()
    picks = [
        rng.choice(where, min(len(where), size), replace=False)
        for where, size in ((np.flatnonzero(flat), SAMPLE_TISSUE),
                            (np.flatnonzero(~flat), SAMPLE_GLASS))
    ]
    idx = torch.from_numpy(np.sort(np.concatenate(picks)))

    def take(t: torch.Tensor) -> np.ndarray:
        return t.reshape(t.shape[0], -1).index_select(1, idx).double().numpy()

    return Samples(take(lightness[None])[0], None if features is None else take(features),
                   take(ab), take(ab_true))


def hats(lightness: np.ndarray) -> np.ndarray:
    """Hat functions of lightness ``(n,)`` -> ``(n, len(CENTRES))`` (rows sum to 1 in 0..100).

    Examples
    --------
    >>> hats(np.array([0.0, 2.5]))[:, :2].tolist()
    [[1.0, 0.0], [0.5, 0.5]]
    """
    step = CENTRES[1] - CENTRES[0]
    return np.clip(1 - np.abs(np.clip(lightness, 0, 100)[:, None] - CENTRES) / step, 0, None)


def _table_design(lightness: np.ndarray, ab: np.ndarray) -> np.ndarray:
    h = hats(lightness)
    return np.concatenate([h, h * (ab[0] / CHROMA_SCALE)[:, None],
                           h * (ab[1] / CHROMA_SCALE)[:, None]], axis=1)


def _ridge(x: np.ndarray, y: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """``argmin_W |x W - y|^2 + sum_j prior_j |W_j|^2`` for ``x`` (n, p), ``y`` (n, 2)."""
    return np.linalg.solve(x.T @ x + np.diag(prior), x.T @ y)


def fit_feature_weights(s: Samples) -> np.ndarray:
    """Stage 1: the lab's chroma change as a linear function of the raw features.

    Returns
    -------
    numpy.ndarray
        ``(2, C + 1)`` float32: weights of the features, then a bias (see
        :meth:`~napari_colorize.models.network.ChromaNet.add_to_chroma`).

    Examples
    --------
    A feature that tells two structures of the same lightness apart; the reference shifts
    one of them by 10 in a*. With the table (stage 2), the structures get 0 and 9.3 (the
    prior shrinks the change a little):

    >>> rng = np.random.default_rng(0)
    >>> f = rng.integers(0, 2, (1, 4000)).astype(float)
    >>> truth = np.stack([10.0 * f[0], np.zeros(4000)])
    >>> s = Samples(np.full(4000, 50.0), f, np.zeros((2, 4000)), truth)
    >>> head, table = fit_mapping(s)
    >>> [round(float(head[0, 0] * v + head[0, 1] + table[50, 4]), 1) for v in (0.0, 1.0)]
    [0.0, 9.3]
    """
    assert s.features is not None
    mean = s.features.mean(axis=1, keepdims=True)
    scale = s.features.std(axis=1, keepdims=True) + 1e-3
    z = ((s.features - mean) / scale).T
    x = np.concatenate([z, _table_design(s.lightness, s.ab_model)], axis=1)
    prior = np.full(x.shape[1], TABLE_PRIOR)
    prior[: z.shape[1]] = FEATURE_PRIOR
    d = _ridge(x, (s.ab_true - s.ab_model).T, prior)[: z.shape[1]].T  # (2, C) on z
    raw = d / scale[:, 0]
    return np.concatenate([raw, -(raw @ mean)], axis=1).astype(np.float32)


def fit_lightness_table(lightness: np.ndarray, ab: np.ndarray, ab_true: np.ndarray) -> np.ndarray:
    """Stage 2: ``ab' = M(L) @ ab + b(L)`` at L* = 0..100, as a ``(101, 6)`` float32 table.

    Columns ``m00, m01, m10, m11, b0, b1``; lightness without samples keeps the identity.

    Examples
    --------
    An offset of (4, -2) seen at L* 20-80 (the prior shrinks it by a tenth); glass-light L*
    without samples keeps the identity:

    >>> L = np.linspace(20, 80, 30000)
    >>> ab = np.zeros((2, 30000))
    >>> table = fit_lightness_table(L, ab, ab + [[4.0], [-2.0]])
    >>> [round(float(v), 1) for v in table[50]], [round(float(v), 1) for v in table[95]]
    ([1.0, 0.0, 0.0, 1.0, 3.6, -1.8], [1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    """
    x = _table_design(lightness, ab)
    w = _ridge(x, (ab_true - ab).T, np.full(x.shape[1], TABLE_PRIOR))  # (3K, 2)
    k = len(CENTRES)
    offset, from_a, from_b = w[:k], w[k:2 * k] / CHROMA_SCALE, w[2 * k:] / CHROMA_SCALE
    grid = hats(np.arange(101.0))  # (101, K): the table at integer lightness
    table = np.empty((101, 6), np.float32)
    table[:, 0] = 1 + grid @ from_a[:, 0]  # a' from a
    table[:, 1] = grid @ from_b[:, 0]  # a' from b
    table[:, 2] = grid @ from_a[:, 1]  # b' from a
    table[:, 3] = 1 + grid @ from_b[:, 1]  # b' from b
    table[:, 4:] = grid @ offset
    return table


def fit_mapping(s: Samples) -> tuple[np.ndarray | None, np.ndarray]:
    """Fit both stages; return the feature weights (None without features) and the table."""
    ab = s.ab_model
    weights = None
    if s.features is not None:
        weights = fit_feature_weights(s)
        ab = ab + weights[:, :-1].astype(np.float64) @ s.features + weights[:, -1:]
    return weights, fit_lightness_table(s.lightness, ab, s.ab_true)
