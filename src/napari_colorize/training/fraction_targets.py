"""What a fractions model learns: its input and its targets, from multichannel fluorescence.

Training pairs come from multichannel images whose channels are assigned to classes
(:class:`ChannelSource`). The exact definitions, shared by training and evaluation:

* **Normalised channel** ``n_c = clip((x_c - p0.5_c) / (p99.8_c - p0.5_c), 0, 1)``, percentiles
  of channel ``c`` over the whole file (all time points).
* **Input** (what a user's grayscale image stands for) ``S = mean_c n_c``; it reaches the network
  exactly as the engine maps any image: one percentile window (0.5, 99.5) for the whole image ->
  gray ``v`` in [0, 1] -> CIE lightness via the sRGB curve.
* **Class amounts** for training: each channel is split into a smooth *floor*
  (``f_c = min(n_c, G_{size/4}(opening_size(G_1(n_c))) + 2 sigma_c)``: the locally darkest level
  at the scale ``size`` of the file's objects, plus twice the channel's pixel noise ``sigma_c``)
  and the *structured* rest ``n_c - f_c``. Structured signal goes to the channel's class; every
  channel's floor goes to the ``diffuse`` class. The amounts sum to ``C * S``, so the fractions
  ``amount_k / sum_k amount_k`` split the input exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

#: Percentiles of each channel that :func:`normalise_channels` maps to 0 and 1.
CHANNEL_PERCENTILES = (0.5, 99.8)

INPUT_DEFINITION = (
    "S = mean over used channels c of clip((x_c - p0.5_c) / (p99.8_c - p0.5_c), 0, 1), "
    "percentiles per channel over the whole file; the engine maps S (or any raw image) to gray "
    "with one (0.5, 99.5) percentile window per stack, then to CIE lightness via the sRGB curve."
)
TARGET_DEFINITION = (
    "for training: each channel is split into a smooth *floor* (``f_c = min(n_c, "
    "G_{size/4}(opening_size(G_1(n_c))) + 2 sigma_c)``: the locally darkest level at the scale "
    "``size`` of the file's objects, plus twice the channel's pixel noise ``sigma_c``) and the "
    "*structured* rest ``n_c - f_c``. Structured signal goes to the channel's class; every "
    "channel's floor goes to the ``diffuse`` class. The amounts sum to ``C * S``, so the "
    "fractions ``amount_k / sum_k amount_k`` split the input exactly."
)


@dataclass(frozen=True)
class ChannelSource:
    """A multichannel image and the class of each of its channels.

    Parameters
    ----------
    image : str
        A name in :data:`~.datasets.IMAGES`.
    classes : tuple of int or None
        The class index of each channel (``None``: not used, e.g. a label image).
    floor_size : int
        Opening size (pixels, native resolution) that separates objects from the diffuse floor.
    scale : tuple of float
        Range of resampling factors patches are drawn at.
    weight : float
        How often the image is drawn, relative to the others.

    Raises
    ------
    ValueError
        Naming the setting and its value.

    Examples
    --------
    >>> ChannelSource("ndev-neuron", classes=(1, 1, 1, 0), floor_size=255).scale
    (0.5, 1.5)
    """

    image: str
    classes: tuple[int | None, ...]
    floor_size: int = 31
    scale: tuple[float, float] = (0.5, 1.5)
    weight: float = 1.0

    def __post_init__(self) -> None:
        """Check the settings."""
        if self.floor_size < 3:
            raise ValueError(f"floor_size {self.floor_size} must be >= 3")
        if not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"scale range {self.scale} must be positive and increasing")


def normalise_channels(data: np.ndarray) -> np.ndarray:
    """Normalise each channel to ``n_c`` in [0, 1] by its percentiles.

    Parameters
    ----------
    data : ndarray
        Channel axis first.

    Returns
    -------
    ndarray
        float32, same shape.

    Examples
    --------
    >>> n = normalise_channels(np.arange(1000.0).reshape(1, 1000))
    >>> float(n.min()), float(n.max())
    (0.0, 1.0)
    """
    out = np.empty(data.shape, dtype=np.float32)
    for c in range(data.shape[0]):
        x = data[c].astype(np.float32)
        lo, hi = np.percentile(x, CHANNEL_PERCENTILES)
        out[c] = np.clip((x - lo) / max(float(hi - lo), 1e-6), 0, 1)
    return out


def input_signal(normalised: np.ndarray, classes: tuple[int | None, ...]) -> np.ndarray:
    """Compute the input ``S``: the mean of the used normalised channels.

    Parameters
    ----------
    normalised : ndarray
        Channel axis first.
    classes : tuple of int or None
        Class of each channel (``None``: not used).

    Returns
    -------
    ndarray
        The channels' shape without the channel axis.

    Examples
    --------
    >>> input_signal(np.array([[0.2], [0.6], [9.0]]), (0, 1, None)).round(3).tolist()
    [0.4]
    """
    used = [c for c, k in enumerate(classes) if k is not None]
    return normalised[used].mean(axis=0)


def noise_level(channel: np.ndarray) -> float:
    """Estimate the pixel noise of a 2-D channel (robust: MAD of the 3x3 median residual).

    Parameters
    ----------
    channel : ndarray
        2-D.

    Returns
    -------
    float
        A standard deviation.

    Examples
    --------
    >>> noise = np.random.default_rng(0).normal(0.5, 0.01, (64, 64))
    >>> 0.005 < noise_level(noise) < 0.015
    True
    """
    from scipy import ndimage

    residual = channel - ndimage.median_filter(channel, size=3, mode="reflect")
    return float(1.4826 * np.median(np.abs(residual - np.median(residual))))


def floor(channel: np.ndarray, size: int) -> np.ndarray:
    """Find the smooth diffuse floor of a normalised 2-D channel (never above the channel).

    The grey opening (window ``size``) of the lightly smoothed channel, smoothed with a Gaussian
    of sigma ``size / 4``, plus twice the pixel noise: noise on the floor stays diffuse.

    Parameters
    ----------
    channel : ndarray
        2-D, normalised.
    size : int
        Opening window: larger than the objects.

    Returns
    -------
    ndarray
        Same shape.

    Examples
    --------
    >>> channel = np.full((32, 32), 0.1)
    >>> channel[14:18, 14:18] = 0.9  # a small bright object on a flat background
    >>> base = floor(channel, 9)
    >>> round(float(base[0, 0]), 3), round(float(base[15, 15]), 3)
    (0.1, 0.1)
    """
    from scipy import ndimage

    smoothed = ndimage.gaussian_filter(channel, sigma=1.0, mode="reflect")
    opened = ndimage.grey_opening(smoothed, size=(size, size), mode="reflect")
    base = ndimage.gaussian_filter(opened, sigma=size / 4, mode="reflect")
    return np.minimum(channel, base + 2 * noise_level(channel))


def class_amounts(
    normalised: np.ndarray, source: ChannelSource, n_classes: int, diffuse_class: int
) -> np.ndarray:
    """Split one 2-D multichannel image into the amount of signal per class.

    Parameters
    ----------
    normalised : ndarray
        ``(C, H, W)`` normalised channels.
    source : ChannelSource
        The class of each channel and the floor's size.
    n_classes : int
        Number of classes ``K``.
    diffuse_class : int
        The class every channel's floor goes to.

    Returns
    -------
    ndarray
        ``(K, H, W)`` float32; sums to ``C * S`` at each pixel.

    Examples
    --------
    >>> channel = np.full((1, 32, 32), 0.1)
    >>> channel[0, 14:18, 14:18] = 0.9
    >>> amounts = class_amounts(channel, ChannelSource("x", (0,), floor_size=9), 2, 1)
    >>> amounts[:, 15, 15].round(2).tolist(), amounts[:, 0, 0].round(2).tolist()
    ([0.8, 0.1], [0.0, 0.1])
    """
    amounts = np.zeros((n_classes, *normalised.shape[1:]), dtype=np.float32)
    for c, k in enumerate(source.classes):
        if k is None:
            continue
        base = floor(normalised[c], source.floor_size)
        amounts[k] += normalised[c] - base
        amounts[diffuse_class] += base
    return amounts


def fractions_from_amounts(amounts: torch.Tensor, diffuse_class: int) -> torch.Tensor:
    """Turn amounts into fractions; pixels with no signal are all diffuse.

    Parameters
    ----------
    amounts : torch.Tensor
        ``(..., K, H, W)``.
    diffuse_class : int
        The class of empty pixels.

    Returns
    -------
    torch.Tensor
        ``(..., K, H, W)``, summing to 1 over ``K``.

    Examples
    --------
    >>> fractions_from_amounts(torch.tensor([[[3.0, 0.0]], [[1.0, 0.0]]]), 1)[:, 0].tolist()
    [[0.75, 0.0], [0.25, 1.0]]
    """
    total = amounts.sum(dim=-3, keepdim=True)
    frac = amounts / total.clamp_min(1e-6)
    empty = (total <= 1e-6).expand_as(frac)
    onehot = torch.zeros_like(frac)
    onehot[..., diffuse_class, :, :] = 1.0
    return torch.where(empty, onehot, frac)


def window_gray(signal: np.ndarray | torch.Tensor, window: Any) -> torch.Tensor:
    """Map a raw signal to gray in [0, 1] through an intensity window, as the engine does.

    Parameters
    ----------
    signal : ndarray or torch.Tensor
        Raw values.
    window : IntensityWindow
        Has ``low`` and ``high``.

    Returns
    -------
    torch.Tensor
        float32 in [0, 1].

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> window_gray(np.array([0.0, 5.0, 20.0]), SimpleNamespace(low=0.0, high=10.0)).tolist()
    [0.0, 0.5, 1.0]
    """
    v = torch.as_tensor(np.asarray(signal, dtype=np.float32))
    return ((v - window.low) / (window.high - window.low)).clamp(0, 1)
