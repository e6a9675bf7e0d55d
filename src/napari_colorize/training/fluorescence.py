"""Train a FractionNet: grayscale fluorescence -> fractions of K structure classes.

Patches of multichannel images are drawn at random scales and turns; their class amounts (see
:mod:`.fraction_targets` for the exact input and targets) give the target fractions, and the
input gray is jittered as acquisitions differ (gain, offset, gamma, noise), which leaves the
fractions as they are.
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
from ..models.devices import resolve_device
from ..models.fraction_net import FractionNet
from ..models.spec import ColorModel
from .datasets import load_channels
from .fraction_targets import (
    ChannelSource,
    class_amounts,
    fractions_from_amounts,
    normalise_channels,
    window_gray,
)
from .optimiser import TrainProgress, optimise

#: Loss weight of a pixel: its gray plus this, so dark pixels count a little.
WEIGHT_FLOOR = 0.05
#: Bounds of the predicted log error scale in the loss (the error is at most 2).
LOG_B_MIN, LOG_B_MAX = math.log(1e-3), math.log(4.0)


@dataclass(frozen=True)
class FractionConfig:
    """Settings of one FractionNet training run.

    Parameters
    ----------
    steps, batch_size, patch : int
        Gradient steps, patches per step and their side (a multiple of 32).
    lr, weight_decay : float
        AdamW settings (learning rate at its peak).
    warmup : int
        Steps of linear learning-rate warm-up.
    seed : int
        Seeds initialisation and sampling.
    widths : tuple of 4 int
        The network's widths.
    channel_names : tuple of str
        The classes.
    palette : tuple of (r, g, b)
        One colour in [0, 1] per class.
    diffuse_class : int
        The class the channels' floors go to.
    gain, gamma : tuple of float
        Ranges of the acquisition jitter of the input gray.
    offset, noise : float
        Range of the gray's offset, standard deviation of its noise.
    uncertainty_weight : float
        Weight of the confidence's likelihood loss beside the KL loss.
    extra : dict
        Free notes (not written to the card's training config).

    Raises
    ------
    ValueError
        Naming the setting and its value.

    Examples
    --------
    >>> FractionConfig().channel_names
    ('nuclear', 'cytoplasmic', 'diffuse')
    >>> FractionConfig(diffuse_class=3)
    Traceback (most recent call last):
    ...
    ValueError: diffuse_class 3 is not a channel index
    """

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
        """Check the settings."""
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


class FractionSampler:
    """Random augmented ``(lightness, fractions, weight)`` patches from multichannel images.

    Each image's class amounts and its intensity window are computed once; :attr:`mix` is the
    mean class mix of the targets (each image weighted as it is drawn), the prior of the model.

    Parameters
    ----------
    sources : list of ChannelSource
        The images and the class of each channel.
    config : FractionConfig
        Patch size, classes, jitter and seed.
    images : list of ndarray, optional
        The images' data (channel axis first) instead of fetching ``source.image``.

    Raises
    ------
    ValueError
        An image's channels do not match its source's classes.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> cells = rng.normal(300, 30, (2, 64, 64))
    >>> cells[0, 20:30, 20:30] += 3000  # a nucleus (channel 0)
    >>> cells[1, 10:40, 10:40] += 1000  # its cytoplasm (channel 1)
    >>> config = FractionConfig(steps=2, batch_size=2, patch=64, widths=(8, 8, 8, 8))
    >>> sampler = FractionSampler([ChannelSource("cells", (0, 1))], config, images=[cells])
    >>> round(sum(sampler.mix), 3)
    1.0
    """

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
        """Draw a batch of training patches.

        Parameters
        ----------
        batch : int
            Number of patches.

        Returns
        -------
        lightness : torch.Tensor
            ``(B, 1, P, P)`` input.
        target : torch.Tensor
            ``(B, K, P, P)`` fractions.
        weight : torch.Tensor
            ``(B, 1, P, P)`` loss weights (the gray, plus :data:`WEIGHT_FLOOR`).

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> cells = rng.normal(300, 30, (2, 64, 64))
        >>> cells[0, 20:30, 20:30] += 3000  # a nucleus (channel 0)
        >>> cells[1, 10:40, 10:40] += 1000  # its cytoplasm (channel 1)
        >>> config = FractionConfig(steps=2, batch_size=2, patch=64, widths=(8, 8, 8, 8))
        >>> sampler = FractionSampler([ChannelSource("cells", (0, 1))], config, images=[cells])
        >>> [t.shape[1] for t in sampler.sample(2)]
        [1, 3, 1]
        """
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
    """Compute the KL loss of the fractions and the Laplace likelihood of their error.

    Parameters
    ----------
    net : FractionNet
        The network being trained.
    lightness : torch.Tensor
        ``(B, 1, H, W)`` input.
    target : torch.Tensor
        ``(B, K, H, W)`` true fractions.
    weight : torch.Tensor
        ``(B, 1, H, W)`` pixel weights.

    Returns
    -------
    kl, nll : torch.Tensor
        Weighted means (scalars).

    Examples
    --------
    >>> net = FractionNet((8, 8, 8, 8), channels=2)
    >>> target = torch.full((1, 2, 32, 32), 0.5)
    >>> kl, nll = fraction_loss(net, torch.zeros(1, 1, 32, 32), target, torch.ones(1, 1, 32, 32))
    >>> float(kl.detach())  # uniform predictions of uniform targets
    0.0
    """
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
    """Train a FractionNet from scratch, yielding :class:`~.optimiser.TrainProgress` each step.

    Parameters
    ----------
    sources : list of ChannelSource, or FractionSampler
        The images (fetched), or a prepared sampler.
    config : FractionConfig
        The run's settings.
    device : str
        Where to train.
    name : str
        Name of the new model.

    Yields
    ------
    TrainProgress
        After each step.

    Returns
    -------
    ColorModel
        A fractions model on the CPU, with its card (a dict).

    Examples
    --------
    >>> from napari_colorize.core.events import drain
    >>> rng = np.random.default_rng(0)
    >>> cells = rng.normal(300, 30, (2, 64, 64))
    >>> cells[0, 20:30, 20:30] += 3000  # a nucleus (channel 0)
    >>> cells[1, 10:40, 10:40] += 1000  # its cytoplasm (channel 1)
    >>> config = FractionConfig(steps=2, batch_size=2, patch=64, widths=(8, 8, 8, 8))
    >>> sampler = FractionSampler([ChannelSource("cells", (0, 1))], config, images=[cells])
    >>> model = drain(iter_train_fractions(sampler, config, name="cells"))
    >>> model.spec.kind, model.spec.channels
    ('fractions', 3)
    """
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
    """Write the model card of a trained network: the network and its training run.

    Parameters
    ----------
    net : FractionNet
        The trained network.
    config : FractionConfig
        Its settings.
    name : str
        The model's name.
    seconds : float
        How long training took.

    Returns
    -------
    ModelCard

    Examples
    --------
    >>> card = fraction_card(FractionNet((8, 8, 8, 8), 3), FractionConfig(), "mine")
    >>> card.kind, card.architecture.channels
    ('fractions', 3)
    """
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
