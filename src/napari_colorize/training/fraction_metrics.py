"""Evaluate a fractions model on a multichannel time series against the average-mix baseline.

The validation truth is the plain per-channel split of the input: for channels ``n_j`` (normalised
as in :mod:`.fluorescence`), the true fraction of channel ``j`` is ``n_j / sum_j n_j`` and the input
is ``S = mean_j n_j``, windowed once for the whole stack exactly as the engine does. The model's K
classes are summed into the validation channels by ``groups``.

A constant map has no Pearson correlation, so maps are compared as the composite renders them:
``I * fraction_j`` with ``I`` the windowed gray. The baseline renders ``I * mean_mix_j`` with the
intensity-weighted mean mix *of the validation truth itself* (an oracle constant, which flatters
the baseline). Fraction MSEs are reported for both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ..core.intensity import compute_window, to_lightness
from ..models.registry import load_model
from .datasets import load_channels
from .fraction_targets import normalise_channels, window_gray

#: Validation: Hoechst 33342 -> model class 0 (nuclear); oblique transmitted light -> classes
#: 1 + 2 (cytoplasmic + diffuse). Channels 2, 3 of the file are label images (not signal).
SCRATCH_ASSAY = {
    "image": "ndev-scratch-assay",
    "channels": (0, 1),
    "channel_names": ("H3342 (nuclear)", "oblique (other)"),
    "groups": ((0,), (1, 2)),
    "labels": {"nuclei": 2, "cyto": 3},
}


def predict_fractions(model: Any, lightness: torch.Tensor) -> np.ndarray:
    """Predict the fractions and confidence of one lightness plane (padded to the model's tile).

    Parameters
    ----------
    model : ColorModel
        A fractions model.
    lightness : torch.Tensor
        ``(H, W)`` CIE lightness.

    Returns
    -------
    ndarray
        ``(K + 1, H, W)``: fractions, then confidence.

    Examples
    --------
    >>> from napari_colorize.models.registry import load_model
    >>> out = predict_fractions(load_model("fluorescence-composite"), torch.full((20, 30), 50.0))
    >>> out.shape, round(float(out[:3].sum(0).mean()), 4)
    ((4, 20, 30), 1.0)
    """
    h, w = lightness.shape
    d = model.spec.divisor
    ph, pw = max(-h % d, model.spec.min_tile - h, 0), max(-w % d, model.spec.min_tile - w, 0)
    x = lightness[None, None]
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect" if ph < h and pw < w else "replicate")
    out = model(x, confidence=True)[0, :, :h, :w]
    return out.cpu().numpy()


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else None


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


def evaluate_fractions(
    model: Any, dataset: dict[str, Any] | None = None, *, frames: int | None = None
) -> dict[str, Any]:
    """Score a fractions model against the average-mix baseline on a multichannel time series.

    Per-channel Pearson and MSE of the maps and fractions, frame-to-frame change, confidence
    against error, and (with label images) the classes inside nuclei, cytoplasm and outside.

    Parameters
    ----------
    model : ColorModel or str
        A fractions model (or the name of one).
    dataset : dict, optional
        Validation definition like :data:`SCRATCH_ASSAY` (the default).
    frames : int, optional
        Use only the first ``frames`` time points.

    Returns
    -------
    dict
        ``model`` and ``baseline`` scores, ``temporal``, ``shift_4px_mean_abs_change``,
        ``confidence``, ``classes_in_labels`` and the dataset's description.

    Examples
    --------
    >>> metrics = evaluate_fractions("fluorescence-composite")  # doctest: +SKIP
    >>> metrics["model"]["pearson_map"], metrics["baseline"]["pearson_map"]  # doctest: +SKIP
    """
    if isinstance(model, str):
        model = load_model(model)
    ds = dataset or SCRATCH_ASSAY
    data, _ = load_channels(ds["image"])
    if data.ndim == 3:
        data = data[:, None]
    if frames is not None:
        data = data[:, :frames]
    norm = normalise_channels(data[list(ds["channels"])])
    signal = norm.mean(axis=0)  # (T, H, W)
    window = compute_window(signal)  # the engine's one window for the stack
    total = norm.sum(axis=0)
    truth = norm / np.maximum(total, 1e-6)  # (J, T, H, W)
    pred, conf = [], []
    for t in range(signal.shape[0]):
        out = predict_fractions(model, to_lightness(signal[t], window))
        pred.append(np.stack([out[list(g)].sum(axis=0) for g in ds["groups"]]))
        conf.append(out[-1])
    prediction = np.stack(pred, axis=1)  # (J, T, H, W)
    confidence = np.stack(conf)
    gray = window_gray(signal, window).numpy()
    mix = (truth * gray).sum(axis=(1, 2, 3)) / gray.sum()
    names = list(ds["channel_names"])
    result: dict[str, Any] = {
        "dataset": ds["image"],
        "frames": int(signal.shape[0]),
        "channels": names,
        "mean_mix": [_r(m) for m in mix],
        "model": _scores(prediction, truth, gray),
        "baseline": _scores(np.broadcast_to(mix[:, None, None, None], truth.shape), truth, gray),
        "temporal": _temporal(prediction, truth, gray),
        "shift_4px_mean_abs_change": _shift_check(model, signal[0], window),
        "confidence": _confidence(prediction, truth, confidence),
    }
    if ds.get("labels"):
        result["classes_in_labels"] = _label_check(model, data, ds, signal, window, truth)
    return result


def _scores(pred: np.ndarray, truth: np.ndarray, gray: np.ndarray) -> dict[str, Any]:
    per_frame = [
        [_r(_pearson(gray[t] * pred[j, t], gray[t] * truth[j, t])) for t in range(gray.shape[0])]
        for j in range(truth.shape[0])
    ]
    return {
        "pearson_map": [_r(_pearson(gray * pred[j], gray * truth[j])) for j in range(len(truth))],
        "pearson_map_per_frame": per_frame,
        "pearson_fraction": [_r(_pearson(pred[j], truth[j])) for j in range(len(truth))],
        "mse_fraction": [_r(np.mean((pred[j] - truth[j]) ** 2), 5) for j in range(len(truth))],
        "mse_fraction_weighted": [
            _r((gray * (pred[j] - truth[j]) ** 2).sum() / gray.sum(), 5) for j in range(len(truth))
        ],
    }


def _temporal(pred: np.ndarray, truth: np.ndarray, gray: np.ndarray) -> dict[str, Any]:
    """Compare the model's and the truth's changes between consecutive frames.

    Mean fraction per frame; mean |change| of fractions between consecutive frames, model vs
    truth, per pixel and over 4 x 4 blocks; and on pixels whose true fractions hardly change
    (|change| < 0.02).
    """
    if pred.shape[1] < 2:
        return {}
    dp = np.abs(np.diff(pred, axis=1))
    dt = np.abs(np.diff(truth, axis=1))
    steady = dt < 0.02
    # at the model's own resolution (4 x 4 block means), pixel noise of the truth averages out
    dp4 = np.abs(np.diff(_blocks(pred, 4), axis=1))
    dt4 = np.abs(np.diff(_blocks(truth, 4), axis=1))
    return {
        "mean_fraction_per_frame_model": [[_r(v, 3) for v in p.mean(axis=(1, 2))] for p in pred],
        "mean_fraction_per_frame_truth": [[_r(v, 3) for v in t.mean(axis=(1, 2))] for t in truth],
        "mean_abs_change_model": [_r(d.mean()) for d in dp],
        "mean_abs_change_truth": [_r(d.mean()) for d in dt],
        "mean_abs_change_4x4_model": [_r(d.mean()) for d in dp4],
        "mean_abs_change_4x4_truth": [_r(d.mean()) for d in dt4],
        "steady_pixel_share": [_r(s.mean()) for s in steady],
        "flicker_on_steady_pixels": [_r(dp[j][steady[j]].mean()) for j in range(len(dp))],
        "pearson_of_changes": [_r(_pearson(dp[j], dt[j])) for j in range(len(dp))],
    }


def _shift_check(model: Any, plane: np.ndarray, window: Any, shift: int = 4) -> float | None:
    """Measure how much predictions depend on the tile grid rather than the image.

    The mean |change| of the fractions when the input is shifted by ``shift`` pixels both ways
    (away from the wrapped borders).
    """
    a = predict_fractions(model, to_lightness(plane, window))[:-1]
    b = predict_fractions(model, to_lightness(np.roll(plane, (shift, shift), (0, 1)), window))[:-1]
    a = np.roll(a, (shift, shift), (1, 2))
    m = 4 * shift
    return _r(np.abs(a - b)[:, m:-m, m:-m].sum(axis=0).mean() / 2)


def _blocks(x: np.ndarray, b: int) -> np.ndarray:
    """Average ``b x b`` blocks over the last two axes (edges that fill no block are dropped)."""
    h, w = x.shape[-2] // b * b, x.shape[-1] // b * b
    x = x[..., :h, :w]
    return x.reshape(*x.shape[:-2], h // b, b, w // b, b).mean(axis=(-3, -1))


def _confidence(pred: np.ndarray, truth: np.ndarray, conf: np.ndarray) -> dict[str, Any]:
    err = np.abs(pred - truth).sum(axis=0)
    high = conf >= np.median(conf)
    return {
        "mean": _r(conf.mean()),
        "error_high_confidence_half": _r(err[high].mean()),
        "error_low_confidence_half": _r(err[~high].mean()),
        "pearson_confidence_vs_error": _r(_pearson(conf, err)),
    }


def _label_check(
    model: Any,
    data: np.ndarray,
    ds: dict[str, Any],
    signal: np.ndarray,
    window: Any,
    truth: np.ndarray,
) -> dict[str, Any]:
    """Average each class's predicted fraction inside nuclei, cytoplasm and outside cells.

    Regions come from the file's label images (cytoplasm without nuclei); the true channel
    fractions are given beside.
    """
    nuclei = data[ds["labels"]["nuclei"]] > 0
    cells = data[ds["labels"]["cyto"]] > 0
    regions = {"nuclei": nuclei, "cytoplasm": cells & ~nuclei, "outside": ~cells & ~nuclei}
    sums = {k: np.zeros(model.spec.channels) for k in regions}
    for t in range(signal.shape[0]):
        out = predict_fractions(model, to_lightness(signal[t], window))[:-1]
        for k, mask in regions.items():
            sums[k] += out[:, mask[t]].sum(axis=1)
    names = list(model.spec.channel_names)
    out: dict[str, Any] = {}
    for k, mask in regions.items():
        out[k] = {n: _r(v / max(mask.sum(), 1)) for n, v in zip(names, sums[k], strict=True)}
        out[k]["truth"] = {n: _r(t[mask].mean()) for n, t in zip(ds["channel_names"], truth,
                                                                 strict=True)}
        out[k]["pixel_share"] = _r(mask.mean())
    return out
