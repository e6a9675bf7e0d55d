"""Train a FractionNet: grayscale fluorescence -> fractions of K structure classes.

Training pairs come from multichannel fluorescence images whose channels are assigned to classes
(:class:`ChannelSource`). The exact definitions, shared by training and evaluation:

* **Normalised channel** ``n_c = clip((x_c - p0.5_c) / (p99.8_c - p0.5_c), 0, 1)``, percentiles of
  channel ``c`` over the whole file (all time points).
* **Input** (what a user's grayscale image stands for) ``S = mean_c n_c``; it reaches the network
  exactly as the engine maps any image: one percentile window (0.5, 99.5) for the whole image ->
  gray ``v`` in [0, 1] -> CIE lightness via the sRGB curve.
* **Class amounts** for training: each channel is split into a smooth *floor*
  (``f_c = min(n_c, G_{size/4}(opening_size(G_1(n_c))) + 2 sigma_c)``: the locally darkest level
  at the scale ``size`` of the file's objects, plus twice the channel's pixel noise ``sigma_c``)
  and the *structured* rest ``n_c - f_c``. Structured
  signal goes to the channel's class; every channel's floor goes to the ``diffuse`` class. The
  amounts sum to ``C * S``, so the fractions ``amount_k / sum_k amount_k`` split the input exactly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ..core.color import gray_to_lightness
from ..core.intensity import compute_window
from ..models.cards import Architecture, ModelCard
from ..models.fraction_net import FractionNet
from ..models.registry import resolve_device
from ..models.spec import ColorModel
from .datasets import load_channels
from .loop import TrainProgress, optimise

CHANNEL_PERCENTILES = (0.5, 99.8)
WEIGHT_FLOOR = 0.05
LOG_B_MIN, LOG_B_MAX = math.log(1e-3), math.log(4.0)


@dataclass(frozen=True)
class ChannelSource:
    """A multichannel image (see ``datasets.IMAGES``) and the class of each of its channels.

    ``classes[c]`` is the class index of channel ``c`` (``None``: channel not used, e.g. a
    label image). ``floor_size`` is the opening size (pixels, native resolution) that separates
    objects from the diffuse floor; ``scale`` the range of resampling factors patches are drawn at.
    """

    image: str
    classes: tuple[int | None, ...]
    floor_size: int = 31
    scale: tuple[float, float] = (0.5, 1.5)
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.floor_size < 3:
            raise ValueError(f"floor_size {self.floor_size} must be >= 3")
        if not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"scale range {self.scale} must be positive and increasing")


@dataclass(frozen=True)
class FractionConfig:
    """Settings of one FractionNet training run."""

    steps: int = 3000
    batch_size: int = 16
    patch: int = 192
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    seed: int = 0
    widths: tuple[int, int, int, int] = (32, 64, 96, 128)
    channel_names: tuple[str, ...] = ("nuclear", "cytoplasmic", "diffuse")
    palette: tuple[tuple[float, float, float], ...] = ((0.0, 1.0, 1.0), (1.0, 0.0, 1.0),
                                                       (0.7, 0.7, 0.7))
    diffuse_class: int = 2
    gain: tuple[float, float] = (0.7, 1.4)
    gamma: tuple[float, float] = (0.6, 1.6)
    offset: float = 0.05
    noise: float = 0.02
    uncertainty_weight: float = 0.1
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps {self.steps} must be >= 1")
        if self.patch % FractionNet.divisor:
            raise ValueError(f"patch {self.patch} must be a multiple of {FractionNet.divisor}")
        if len(self.palette) != len(self.channel_names):
            raise ValueError(
                f"palette has {len(self.palette)} colours for {len(self.channel_names)} channels"
            )
        if not 0 <= self.diffuse_class < len(self.channel_names):
            raise ValueError(f"diffuse_class {self.diffuse_class} is not a channel index")


def normalise_channels(data: np.ndarray) -> np.ndarray:
    """``n_c`` of each channel of ``data`` (channel axis first), float32 in [0, 1]."""
    out = np.empty(data.shape, dtype=np.float32)
    for c in range(data.shape[0]):
        x = data[c].astype(np.float32)
        lo, hi = np.percentile(x, CHANNEL_PERCENTILES)
        out[c] = np.clip((x - lo) / max(float(hi - lo), 1e-6), 0, 1)
    return out


def input_signal(normalised: np.ndarray, classes: tuple[int | None, ...]) -> np.ndarray:
    """``S``: mean of the used normalised channels (channel axis first)."""
    used = [c for c, k in enumerate(classes) if k is not None]
    return normalised[used].mean(axis=0)


def noise_level(channel: np.ndarray) -> float:
    """Robust pixel-noise standard deviation of a 2-D channel (MAD of the 3x3 median residual)."""
    from scipy import ndimage

    residual = channel - ndimage.median_filter(channel, size=3, mode="reflect")
    return float(1.4826 * np.median(np.abs(residual - np.median(residual))))


def floor(channel: np.ndarray, size: int) -> np.ndarray:
    """The smooth diffuse floor of a normalised 2-D channel (never above the channel).

    The grey opening (window ``size``) of the lightly smoothed channel, smoothed with a Gaussian
    of sigma ``size / 4``, plus twice the pixel noise: noise on the floor stays diffuse.
    """
    from scipy import ndimage

    smoothed = ndimage.gaussian_filter(channel, sigma=1.0, mode="reflect")
    opened = ndimage.grey_opening(smoothed, size=(size, size), mode="reflect")
    base = ndimage.gaussian_filter(opened, sigma=size / 4, mode="reflect")
    return np.minimum(channel, base + 2 * noise_level(channel))


def class_amounts(
    normalised: np.ndarray, source: ChannelSource, n_classes: int, diffuse_class: int
) -> np.ndarray:
    """Amount of signal per class ``(K, H, W)`` of one 2-D multichannel image."""
    amounts = np.zeros((n_classes, *normalised.shape[1:]), dtype=np.float32)
    for c, k in enumerate(source.classes):
        if k is None:
            continue
        base = floor(normalised[c], source.floor_size)
        amounts[k] += normalised[c] - base
        amounts[diffuse_class] += base
    return amounts


def fractions_from_amounts(amounts: torch.Tensor, diffuse_class: int) -> torch.Tensor:
    """Fractions ``(..., K, H, W)`` from amounts; pixels with no signal are all diffuse."""
    total = amounts.sum(dim=-3, keepdim=True)
    frac = amounts / total.clamp_min(1e-6)
    empty = (total <= 1e-6).expand_as(frac)
    onehot = torch.zeros_like(frac)
    onehot[..., diffuse_class, :, :] = 1.0
    return torch.where(empty, onehot, frac)


def window_gray(signal: np.ndarray | torch.Tensor, window: Any) -> torch.Tensor:
    """The engine's mapping of a raw signal to gray in [0, 1] for an intensity window."""
    v = torch.as_tensor(np.asarray(signal, dtype=np.float32))
    return ((v - window.low) / (window.high - window.low)).clamp(0, 1)


class FractionSampler:
    """Random augmented ``(lightness, fractions, weight)`` patches from prepared images."""

    def __init__(
        self,
        sources: list[ChannelSource],
        config: FractionConfig,
        images: list[np.ndarray] | None = None,
    ) -> None:
        self.config = config
        self.sources = sources
        self.amounts, self.windows = [], []
        k = len(config.channel_names)
        for i, src in enumerate(sources):
            # ``images`` (channel axis first) replaces fetching ``src.image``, e.g. in tests
            data = images[i] if images is not None else load_channels(src.image)[0]
            if data.ndim != 3 or data.shape[0] != len(src.classes):
                raise ValueError(
                    f"image {src.image} has shape {data.shape}; expected "
                    f"({len(src.classes)}, H, W) for its {len(src.classes)} channel classes"
                )
            norm = normalise_channels(data)
            amounts = class_amounts(norm, src, k, config.diffuse_class)
            # the engine's window for this image, on the input signal S = sum(amounts) / C
            signal = amounts.sum(axis=0) / sum(c is not None for c in src.classes)
            self.windows.append(compute_window(signal))
            self.amounts.append(torch.from_numpy(amounts))
        w = np.array([s.weight for s in sources], dtype=np.float64)
        self.weights = w / w.sum()
        # the mean class mix of the targets, each image weighted as it is drawn
        mixes = [a.double().sum(dim=(1, 2)) / a.double().sum().clamp_min(1e-12)
                 for a in self.amounts]
        mix = sum(wi * m for wi, m in zip(self.weights, mixes, strict=True))
        self.mix = tuple(round(float(m), 6) for m in mix)
        self.rng = np.random.default_rng(config.seed)
        self.gen = torch.Generator().manual_seed(config.seed)

    def _crop(self, i: int) -> torch.Tensor:
        """Amounts ``(K, P, P)`` of a random window at a random scale (zero-padded if small)."""
        src, amounts, p = self.sources[i], self.amounts[i], self.config.patch
        s = float(np.exp(self.rng.uniform(*np.log(src.scale))))
        size = round(p / s)
        h, w = amounts.shape[1:]
        y = int(self.rng.integers(0, max(h - size, 0) + 1))
        x = int(self.rng.integers(0, max(w - size, 0) + 1))
        crop = amounts[:, y : y + size, x : x + size]
        crop = F.pad(crop, (0, max(size - crop.shape[2], 0), 0, max(size - crop.shape[1], 0)))
        if size != p:
            crop = F.interpolate(crop[None], size=(p, p), mode="bilinear", antialias=True,
                                 align_corners=False)[0]
        crop = torch.rot90(crop, int(self.rng.integers(0, 4)), dims=(1, 2))
        return crop.flip(2) if self.rng.integers(0, 2) else crop

    def sample(self, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Lightness ``(B, 1, P, P)``, target fractions ``(B, K, P, P)``, weights (B, 1, P, P)."""
        cfg = self.config
        idx = self.rng.choice(len(self.sources), size=batch, p=self.weights)
        amounts = torch.stack([self._crop(int(i)) for i in idx])
        n_used = torch.tensor([sum(c is not None for c in self.sources[i].classes) for i in idx])
        signal = amounts.sum(dim=1, keepdim=True) / n_used.view(-1, 1, 1, 1)
        v = torch.stack([window_gray(signal[j], self.windows[int(i)]) for j, i in enumerate(idx)])
        weight = v + WEIGHT_FLOOR
        # acquisition jitter: gain, offset, gamma and noise change the gray, not the fractions
        shape = (batch, 1, 1, 1)
        gain = torch.exp(torch.empty(shape).uniform_(*np.log(cfg.gain), generator=self.gen))
        gamma = torch.exp(torch.empty(shape).uniform_(*np.log(cfg.gamma), generator=self.gen))
        offset = torch.empty(shape).uniform_(-cfg.offset, cfg.offset, generator=self.gen)
        noise = cfg.noise * torch.randn(v.shape, generator=self.gen)
        v = ((v * gain + offset).clamp(0, 1) ** gamma + noise).clamp(0, 1)
        target = fractions_from_amounts(amounts, cfg.diffuse_class)
        return gray_to_lightness(v), target, weight


def fraction_loss(
    net: FractionNet, lightness: torch.Tensor, target: torch.Tensor, weight: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(intensity-weighted KL of target vs predicted fractions, Laplace likelihood of the error)."""
    logits, log_b = net.forward_raw(lightness)
    logp = torch.log_softmax(logits, dim=1)
    kl = (target * (torch.log(target.clamp_min(1e-6)) - logp)).sum(1, keepdim=True)
    err = (logp.exp() - target).abs().sum(1, keepdim=True).detach()
    # Where the error is ~0 (e.g. empty padding) the likelihood keeps pushing b to 0, until
    # exp(-log b) overflows and 0 * inf gives NaN: bound b to [1e-3, 4] (the error is <= 2).
    log_b = log_b.clamp(LOG_B_MIN, LOG_B_MAX)
    nll = err * torch.exp(-log_b) + log_b
    total = weight.sum()
    return (weight * kl).sum() / total, (weight * nll).sum() / total


def iter_train_fractions(
    sources: list[ChannelSource] | FractionSampler,
    config: FractionConfig,
    *,
    device: str = "cpu",
    name: str = "fluorescence-composite",
) -> Generator[TrainProgress, None, ColorModel]:
    """Train a FractionNet from scratch, yielding :class:`TrainProgress`; returns the model."""
    dev = resolve_device(device)
    torch.manual_seed(config.seed)
    sampler = sources if isinstance(sources, FractionSampler) else FractionSampler(sources, config)
    net = FractionNet(config.widths, channels=len(config.channel_names), prior=sampler.mix)
    net.to(dev).to(memory_format=torch.channels_last).train()

    def loss_step() -> tuple[torch.Tensor, torch.Tensor]:
        lightness, target, weight = sampler.sample(config.batch_size)
        lightness = lightness.to(dev).contiguous(memory_format=torch.channels_last)
        kl, nll = fraction_loss(net, lightness, target.to(dev), weight.to(dev))
        return kl, kl + config.uncertainty_weight * nll

    start = time.perf_counter()
    for step, smooth, _, seconds in optimise(
        list(net.parameters()), loss_step, lr=config.lr, weight_decay=config.weight_decay,
        warmup=config.warmup, steps=config.steps,
    ):
        yield TrainProgress(step, config.steps, smooth, seconds, step / config.steps)
    net.eval().to("cpu").to(memory_format=torch.contiguous_format)
    card = fraction_card(net, config, name, seconds=time.perf_counter() - start)
    return ColorModel(net, card.spec(), card.to_dict(), device=dev)


def fraction_card(
    net: FractionNet, config: FractionConfig, name: str, seconds: float = 0.0
) -> ModelCard:
    """The model card of a trained network: the network and its training run."""
    return ModelCard(
        name=name,
        version="1",
        kind="fractions",
        channel_names=tuple(config.channel_names),
        palette=tuple(config.palette),
        architecture=Architecture.of(net),
        training={"steps": config.steps, "seconds": round(seconds, 1),
                  "config": {k: v for k, v in vars(config).items() if k != "extra"}},
    )


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
