"""Train or fine-tune a ChromaNet from colour RGB images.

:func:`iter_train` is the training generator; the chroma losses are shared with tuning. The mean
chroma is fitted with an L1 loss (robust to stain speckle); a per-pixel Laplace scale is fitted by
likelihood against the detached error, which is what the confidence map reports.
"""

from __future__ import annotations

import copy
import math
import numbers
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..models.cards import Architecture, ModelCard
from ..models.devices import resolve_device
from ..models.network import ChromaNet
from ..models.registry import load_model
from ..models.spec import ColorModel
from ..models.trunk import DEFAULT_WIDTHS
from .ciede2000 import ciede2000
from .images import check_training_images, image_hashes
from .lut import fit_lut, stain_offsets
from .optimiser import TrainProgress, optimise
from .patches import BACKGROUND_WEIGHT, Augment, PatchSampler, mean_chroma, tissue_mask

#: Per-pixel chroma error the training fits: summed |a|, |b| differences, or CIEDE2000 (the
#: metric the evaluation reports; like the eye, it forgives a given a, b error in saturated colour).
LOSSES = ("l1", "ciede2000")


def check_budget(steps: Any, seconds: Any) -> None:
    """Check the types of a run's budget: whole steps, a number of seconds (or ``None``).

    ``True`` would count as one step and ``1.5`` steps cannot be run; ``"10"`` seconds is
    refused here in one line rather than deep in a comparison.

    Parameters
    ----------
    steps, seconds : optional
        The budget as given.

    Raises
    ------
    ValueError
        Naming the value.

    Examples
    --------
    >>> check_budget(10, None)
    >>> check_budget(1.5, None)
    Traceback (most recent call last):
    ...
    ValueError: steps 1.5 must be a whole number of steps
    >>> check_budget(None, "10")
    Traceback (most recent call last):
    ...
    ValueError: seconds '10' must be a number of seconds
    """
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, numbers.Integral)):
        raise ValueError(f"steps {steps!r} must be a whole number of steps")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, numbers.Real)):
        raise ValueError(f"seconds {seconds!r} must be a number of seconds")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run. At least one of ``steps`` and ``seconds`` bounds it.

    Parameters
    ----------
    steps : int, optional
        Gradient steps.
    seconds : float, optional
        Time budget of the gradient steps; training stops at whichever bound comes first.
    batch_size, patch : int
        Patches per step and their side (a multiple of 32).
    lr, weight_decay : float
        AdamW settings (learning rate at its peak).
    warmup : int
        Steps of linear learning-rate warm-up (cosine decay follows).
    seed : int
        Seeds initialisation, patch sampling and augmentation.
    widths : tuple of 4 int
        The network's widths.
    augment : Augment
        Augmentation ranges.
    balance : bool
        Draw each image equally often, whatever its size.
    prior_by_image : bool
        Fit the prior table with each image's tissue weighed equally (``fit_lut(by_image=True)``)
        instead of every pixel once, so the largest images do not set it.
    remove_stain_offset : bool
        Train on each image's colour less its own stain offset (its per-lightness table minus
        the prior), so the network learns the colour that varies within a slide and leaves a
        lab's overall stain to the prior (and to a reference). From scratch only.
    min_tissue : float
        Least share of tissue a patch should show (up to 8 draws to find one).
    uncertainty_weight : float
        Weight of the confidence's likelihood loss beside the chroma loss.
    loss : {"l1", "ciede2000"}
        Per-pixel chroma error the training fits.
    lab_shift : tuple of float
        Stain jitter (scale, shift) of the colours the confidence is fitted against.
    confidence_loss : {"l1", "ciede2000"}, optional
        Error the confidence is fitted to; ``None``: the same as ``loss``.
    bf16 : bool
        Run the forward pass under bfloat16 autocast (weights, optimiser and loss stay
        float32): about 1.4x the steps per second on CPUs with bfloat16 units (AMX).

    Raises
    ------
    ValueError
        Naming the setting and its value.

    Examples
    --------
    >>> TrainConfig(seconds=60).patch
    256
    >>> TrainConfig(steps=10, patch=100)
    Traceback (most recent call last):
    ...
    ValueError: patch 100 must be a multiple of 32
    """

    steps: int | None = None
    seconds: float | None = None
    batch_size: int = 16
    patch: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    seed: int = 0
    widths: tuple[int, int, int, int] = DEFAULT_WIDTHS
    augment: Augment = field(default_factory=Augment)
    balance: bool = False
    prior_by_image: bool = False
    remove_stain_offset: bool = False
    min_tissue: float = 0.0
    uncertainty_weight: float = 0.1
    loss: str = "l1"
    #: Stain jitter (scale, shift) of the colours the confidence is fitted against: a model that
    #: will meet other labs should expect their stains to differ, most where staining is strong.
    lab_shift: tuple[float, float] = (0.0, 0.0)
    #: Error the confidence is fitted to (one of :data:`LOSSES`); ``None``: the same as ``loss``.
    confidence_loss: str | None = None
    bf16: bool = False

    def __post_init__(self) -> None:
        """Check the settings."""
        for name in ("loss", "confidence_loss"):
            value = getattr(self, name)
            if value not in LOSSES and not (name == "confidence_loss" and value is None):
                raise ValueError(f"{name} {value!r} is not one of {', '.join(LOSSES)}")
        if self.steps is None and self.seconds is None:
            raise ValueError("give steps or seconds (or both) to bound training")
        check_budget(self.steps, self.seconds)
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps {self.steps} must be >= 1")
        if self.seconds is not None and not (math.isfinite(self.seconds) and self.seconds > 0):
            raise ValueError(f"seconds {self.seconds} must be a finite number > 0")
        if self.patch % ChromaNet.divisor:
            raise ValueError(f"patch {self.patch} must be a multiple of {ChromaNet.divisor}")


def chroma_error(
    lightness: torch.Tensor, pred: torch.Tensor, ab: torch.Tensor, loss: str = "l1"
) -> torch.Tensor:
    """Per-pixel error of predicted vs true chroma.

    Parameters
    ----------
    lightness : torch.Tensor
        ``(B, 1, H, W)`` CIE lightness.
    pred, ab : torch.Tensor
        ``(B, 2, H, W)`` predicted and true a, b.
    loss : {"l1", "ciede2000"}
        Summed absolute a, b differences, or CIEDE2000.

    Returns
    -------
    torch.Tensor
        ``(B, 1, H, W)``.

    Examples
    --------
    >>> lightness, ab = torch.full((1, 1, 1, 1), 50.0), torch.zeros(1, 2, 1, 1)
    >>> float(chroma_error(lightness, ab + 3.0, ab))
    6.0
    """
    if loss == "ciede2000":
        return ciede2000(torch.cat([lightness, pred], 1), torch.cat([lightness, ab], 1))[:, None]
    return (pred - ab).abs().sum(1, keepdim=True)


def loss_terms(
    net: ChromaNet,
    lightness: torch.Tensor,
    ab: torch.Tensor,
    mask: torch.Tensor | None = None,
    loss: str = "l1",
    ab_other: torch.Tensor | None = None,
    confidence_loss: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Compute the chroma loss and the Laplace-scale likelihood loss, weighted towards tissue.

    Parameters
    ----------
    net : ChromaNet
        The network being trained.
    lightness : torch.Tensor
        ``(B, 1, H, W)`` input.
    ab : torch.Tensor
        ``(B, 2, H, W)`` true chroma.
    mask : torch.Tensor, optional
        ``(B, 1, H, W)`` in [0, 1]: multiplies the weights (pixels outside a region of interest
        count less or not at all).
    loss : {"l1", "ciede2000"}
        The chroma error (see :data:`LOSSES`).
    ab_other : torch.Tensor, optional
        Chroma the confidence is measured against (e.g. the patch as another lab stained it).
    confidence_loss : {"l1", "ciede2000"}, optional
        The error the Laplace scale is fitted to; ``None``: ``loss``.

    Returns
    -------
    chroma_loss, nll : torch.Tensor
        Weighted means (scalars).

    Examples
    --------
    >>> net = ChromaNet((8, 8, 8, 8))
    >>> lightness, ab = torch.full((1, 1, 32, 32), 50.0), torch.full((1, 2, 32, 32), 2.0)
    >>> chroma_loss, nll = loss_terms(net, lightness, ab)
    >>> float(chroma_loss.detach())
    4.0
    """
    pred, logvar = net.forward_raw(lightness)
    pred, logvar = pred.float(), logvar.float()
    err = chroma_error(lightness.float(), pred, ab, loss)
    kind = confidence_loss or loss
    spread = err
    if ab_other is not None or kind != loss:
        target = ab if ab_other is None else ab_other
        spread = chroma_error(lightness.float(), pred.detach(), target, kind)
    lab = torch.cat([lightness, ab], dim=1).movedim(1, 0)
    weight = torch.where(tissue_mask(lab).unsqueeze(1), 1.0, BACKGROUND_WEIGHT)
    if mask is not None:
        weight = weight * mask
    total = weight.sum().clamp_min(1e-6)
    chroma_loss = (weight * err).sum() / total
    log_b = 0.5 * logvar
    nll = spread.detach() * torch.exp(-log_b) + 2 * log_b
    return chroma_loss, (weight * nll).sum() / total


def iter_train(
    images: Iterable[Any],
    config: TrainConfig,
    *,
    base: str | Path | ColorModel | None = None,
    device: str = "auto",
    name: str = "custom",
) -> Generator[TrainProgress, None, ColorModel]:
    """Train, yielding :class:`TrainProgress` each step; returns the trained model.

    Closing the generator stops training; the base model is never modified.

    Parameters
    ----------
    images : iterable of array or path
        Colour images (see :func:`~.images.check_training_images`).
    config : TrainConfig
        The run's settings.
    base : str, path or ColorModel, optional
        Model to start from (its network and prior); ``None``: a new network whose prior is
        fitted on ``images``.
    device : str
        Where to train (``"auto"``: the best device here).
    name : str
        Name of the new model.

    Yields
    ------
    TrainProgress
        After each step.

    Returns
    -------
    ColorModel
        On the CPU, with its card (a dict).

    Examples
    --------
    >>> import numpy as np
    >>> from napari_colorize.core.events import drain
    >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)
    >>> pink[::8] = (90, 50, 150)
    >>> config = TrainConfig(steps=2, patch=64, batch_size=1, widths=(8, 8, 8, 8))
    >>> model = drain(iter_train([pink], config, device="cpu"))
    >>> model.card["training"]["steps"], model.spec.kind
    (2, 'chroma')
    """
    rgb = check_training_images(images, config.patch)
    dev = resolve_device(device)
    torch.manual_seed(config.seed)
    if base is None:
        net = ChromaNet(config.widths)
        net.lut.copy_(fit_lut(rgb, by_image=config.prior_by_image))
        base_card: dict[str, Any] = {"baselines": {"mean_ab": mean_chroma(rgb)}}
    else:
        base_model = base if isinstance(base, ColorModel) else load_model(base)
        net = copy.deepcopy(base_model.net)
        base_card = base_model.card
    net.to(dev).to(memory_format=torch.channels_last).train()
    offsets = None
    if config.remove_stain_offset and base is None:
        offsets = stain_offsets(rgb, net.lut)
    sampler = PatchSampler(rgb, config.patch, config.augment, seed=config.seed,
                           balance=config.balance, min_tissue=config.min_tissue,
                           offsets=offsets)
    def loss_step() -> tuple[torch.Tensor, torch.Tensor]:
        lightness, ab, ab_other = sampler.sample_with_other_lab(
            config.batch_size, *config.lab_shift
        )
        lightness = lightness.to(dev).contiguous(memory_format=torch.channels_last)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=config.bf16):
            chroma_loss, nll = loss_terms(net, lightness, ab.to(dev), loss=config.loss,
                                          ab_other=None if ab_other is ab else ab_other.to(dev),
                                          confidence_loss=config.confidence_loss)
        return chroma_loss, chroma_loss + config.uncertainty_weight * nll

    start = time.perf_counter()
    steps = optimise([p for p in net.parameters() if p.requires_grad], loss_step, lr=config.lr,
                     weight_decay=config.weight_decay, warmup=config.warmup,
                     steps=config.steps, seconds=config.seconds)
    step = 0
    for step, smooth, fraction, seconds in steps:
        yield TrainProgress(step, config.steps, smooth, seconds, fraction)
    net.eval().to("cpu").to(memory_format=torch.contiguous_format)
    card = ModelCard(
        name=name,
        version="1",
        base=base_card.get("name"),
        baselines=base_card.get("baselines", {}),
        architecture=Architecture.of(net),
        training={
            "steps": step,
            "seconds": round(time.perf_counter() - start, 1),
            "config": {k: v for k, v in vars(config).items() if k != "augment"},
            "augment": vars(config.augment),
            "image_sha256": image_hashes(rgb),
        },
    )
    return ColorModel(net, card.spec(), card.to_dict(), device=dev)
