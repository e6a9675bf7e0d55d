"""Fast calibration of a ChromaNet to reference colour images, before any gradient step.

Two closed-form fits, seconds of work on a CPU:

1. the per-lightness prior (``net.lut``) is refitted on the references' tissue, blended bin by
   bin with the base model's table where the references have few pixels of that lightness;
2. the 1x1 head's chroma outputs are refitted by ridge regression on the base network's frozen
   features (shrunk towards the base weights), and the confidence head's offset is re-fitted so
   the Laplace scale matches the new error.

On a new stain most of the gain comes from (1): the prior is where a stain's hues live.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from ..core.color import rgb_uint8_to_lab
from ..models.network import SIGMA_SCALE, ChromaNet
from .ciede2000 import ciede2000
from .lut import blend_lut, lut_statistics
from .patches import BACKGROUND_WEIGHT, tissue_mask


def feature_windows(
    masks: list[np.ndarray], size: int = 512, max_windows: int = 12, seed: int = 0
) -> list[tuple[int, int, int, int, int]]:
    """Plan windows on a grid over each mask, each window touching its mask.

    Parameters
    ----------
    masks : list of ndarray
        One boolean ``(H, W)`` mask per image.
    size : int
        Largest window side (sides are multiples of 32, at most the image's).
    max_windows : int
        At most this many windows, picked at random (``seed``) when there are more.
    seed : int
        Seeds the pick.

    Returns
    -------
    list of tuple
        ``(image, y, x, h, w)``.

    Examples
    --------
    >>> mask = np.zeros((100, 1100), bool)
    >>> mask[:, 600:] = True
    >>> feature_windows([mask])
    [(0, 0, 512, 96, 512), (0, 0, 588, 96, 512), (0, 4, 512, 96, 512), (0, 4, 588, 96, 512)]
    """
    windows = []
    for i, mask in enumerate(masks):
        h = min(size, mask.shape[0] // ChromaNet.divisor * ChromaNet.divisor)
        w = min(size, mask.shape[1] // ChromaNet.divisor * ChromaNet.divisor)
        if h == 0 or w == 0:
            continue
        ys = sorted({*range(0, mask.shape[0] - h + 1, h), mask.shape[0] - h})
        xs = sorted({*range(0, mask.shape[1] - w + 1, w), mask.shape[1] - w})
        windows += [(i, y, x, h, w) for y in ys for x in xs if mask[y : y + h, x : x + w].any()]
    if len(windows) > max_windows:
        rng = np.random.default_rng(seed)
        keep = sorted(rng.choice(len(windows), size=max_windows, replace=False))
        windows = [windows[k] for k in keep]
    return windows


def _design(net: ChromaNet, rgb: np.ndarray, mask: np.ndarray):
    """Build the regression's rows of one window.

    Features ``X`` (N, C+1), chroma residual targets ``Y`` (N, 32), weights ``W`` (N,), and the
    lightness and prior chroma of each sub-pixel ``(N, 48)`` (for the error in Lab).
    """
    lab = rgb_uint8_to_lab(rgb).float()
    lightness = lab[None, :1].contiguous()
    with torch.no_grad():
        feats = net.features(lightness)[0]
        prior = net.prior(lightness)
        residual = (lab[None, 1:] - prior) / 16.0
    target = F.pixel_unshuffle(residual, 4)[0]  # channel = chroma * 16 + sub-pixel
    context = F.pixel_unshuffle(torch.cat([lightness, prior], 1), 4)[0]
    m = torch.from_numpy(np.ascontiguousarray(mask))
    weight = torch.where(tissue_mask(lab), 1.0, BACKGROUND_WEIGHT) * m
    weight = F.avg_pool2d(weight[None, None].float(), 4)[0, 0]
    x = feats.reshape(feats.shape[0], -1).T.double()
    x = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    return (x, target.reshape(target.shape[0], -1).T.double(), weight.reshape(-1).double(),
            context.reshape(context.shape[0], -1).T.double())


def _ciede2000_rows(
    context: torch.Tensor, fitted: torch.Tensor, target: torch.Tensor, rows: int = 1 << 15
) -> torch.Tensor:
    """Compute CIEDE2000 ``(N, 16)`` of fitted vs target residuals per sub-pixel, in chunks."""
    out = []
    for start in range(0, len(context), rows):
        part = slice(start, start + rows)
        lightness, prior = context[part, :16], context[part, 16:].view(-1, 2, 16)
        pred = prior + 16 * fitted[part].view(-1, 2, 16)
        true = prior + 16 * target[part].view(-1, 2, 16)
        out.append(ciede2000(torch.cat([lightness[:, None], pred], 1).float(),
                             torch.cat([lightness[:, None], true], 1).float()).double())
    return torch.cat(out)


def fit_head(
    net: ChromaNet,
    images: list[np.ndarray],
    masks: list[np.ndarray],
    *,
    ridge: float = 0.1,
    seed: int = 0,
    loss: str = "l1",
) -> dict[str, float]:
    """Refit the head's chroma and confidence offset in closed form (in place); returns stats.

    Chroma: weighted ridge regression of the residual ``(ab - prior) / 16`` on the frozen
    features, shrunk towards the base head (``ridge`` times the mean feature energy).
    Confidence: the log-scale offset that maximises the Laplace likelihood of the new error,
    measured as the model was trained (``loss``: ``"l1"`` on a, b or ``"ciede2000"``).

    Parameters
    ----------
    net : ChromaNet
        The network (its head changes).
    images : list of ndarray
        uint8 RGB references.
    masks : list of ndarray
        One boolean mask per image: the regions fitted.
    ridge : float
        Shrinkage towards the base head, relative to the mean feature energy.
    seed : int
        Seeds the pick of windows (see :func:`feature_windows`).
    loss : {"l1", "ciede2000"}
        The error the confidence is fitted to.

    Returns
    -------
    dict
        ``windows`` used, ``fit_l1`` (mean |a|+|b| error of the fit) and ``log_scale_shift``.

    Examples
    --------
    >>> from napari_colorize.models.network import ChromaNet
    >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)
    >>> stats = fit_head(ChromaNet((8, 8, 8, 8)), [pink], [np.ones((64, 64), bool)])
    >>> sorted(stats)
    ['fit_l1', 'log_scale_shift', 'windows']
    """
    net.eval()
    parts = []
    for i, y, x, h, w in feature_windows(masks, seed=seed):
        parts.append(_design(net, images[i][y : y + h, x : x + w], masks[i][y : y + h, x : x + w]))
    if not parts:
        return {"windows": 0}
    xs, ys, ws, context = (torch.cat(p) for p in zip(*parts, strict=True))
    total = float(ws.sum())
    if total <= 0:
        return {"windows": len(parts)}
    head = net.head
    chroma = slice(0, 32)
    weight, bias = head.weight.detach(), head.bias.detach()
    w_base = torch.cat([weight[chroma, :, 0, 0], bias[chroma, None]], 1).T.double()
    gram = xs.T @ (ws[:, None] * xs) / total
    lam = ridge * float(gram.diagonal().mean())
    eye = torch.eye(gram.shape[0], dtype=gram.dtype)
    solution = torch.linalg.solve(
        gram + lam * eye, xs.T @ (ws[:, None] * ys) / total + lam * w_base
    )
    # confidence: shift log b by c so that the Laplace likelihood of the new error is maximal
    fitted = xs @ solution
    err = ((ys - fitted).abs() * 16).view(len(xs), 2, 16).sum(1)
    mean_err = float((ws[:, None] * err).sum() / (16 * total))
    if loss == "ciede2000":
        err = _ciede2000_rows(context, fitted, ys)
    lv_weight = torch.cat([weight[32:, :, 0, 0], bias[32:, None]], 1).T.double()
    log_b = 0.5 * (xs @ lv_weight + 2.0 * math.log(SIGMA_SCALE / 2))
    shift = math.log(float((ws[:, None] * err * torch.exp(-log_b)).sum()) / (2 * 16 * total))
    with torch.no_grad():
        head.weight[chroma, :, 0, 0] = solution[:-1].T.to(head.weight.dtype)
        head.bias[chroma] = solution[-1].to(head.bias.dtype)
        head.bias[32:] += 2 * shift
    return {"windows": len(parts), "fit_l1": round(mean_err, 3), "log_scale_shift": round(shift, 3)}


def calibrate(
    net: ChromaNet,
    images: list[np.ndarray],
    masks: list[np.ndarray],
    *,
    prior_count: float = 5.0,
    ridge: float = 0.1,
    head: bool = True,
    seed: int = 0,
    loss: str = "l1",
) -> dict[str, float]:
    """Refit ``net``'s prior on the references, then its head (in place).

    Parameters
    ----------
    net : ChromaNet
        The network (its table and head change).
    images : list of ndarray
        uint8 RGB references.
    masks : list of ndarray
        One boolean mask per image: the regions fitted.
    prior_count : float
        Weight of the base table in each bin (see :func:`~.lut.blend_lut`).
    ridge : float
        Shrinkage of the head's fit (see :func:`fit_head`).
    head : bool
        Also refit the head.
    seed : int
        Seeds the pick of windows.
    loss : {"l1", "ciede2000"}
        The error the confidence is fitted to.

    Returns
    -------
    dict
        ``tissue_pixels``, ``lut_bins_filled`` and (with ``head``) :func:`fit_head`'s stats.

    Examples
    --------
    >>> from napari_colorize.models.network import ChromaNet
    >>> net = ChromaNet((8, 8, 8, 8))
    >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)
    >>> calibrate(net, [pink], [np.ones((64, 64), bool)], head=False)
    {'tissue_pixels': 4096, 'lut_bins_filled': 1}
    >>> round(float(net.lut[0].max())), float(net.lut[0, 0])  # pink's bins; empty bins: base
    (28, 0.0)
    """
    sums, counts = lut_statistics(images, masks)
    with torch.no_grad():
        net.lut.copy_(blend_lut(sums, counts, net.lut, prior_count).to(net.lut.device))
    stats = {"tissue_pixels": int(counts.sum()), "lut_bins_filled": int((counts > 0).sum())}
    if head:
        stats.update(fit_head(net, images, masks, ridge=ridge, seed=seed, loss=loss))
    return stats
