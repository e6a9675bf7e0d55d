"""Train or fine-tune a ChromaNet from colour RGB images: ``iter_train`` (generator) and ``train``.

The mean chroma is fitted with an L1 loss (robust to stain speckle); a per-pixel Laplace scale is
fitted by likelihood against the detached error, which is what the confidence map reports.
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
import warnings
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.color import rgb_uint8_to_lab
from ..core.events import drain
from ..io.readers import as_rgb_uint8, read_rgb
from ..models.cards import Architecture, ModelCard
from ..models.network import ChromaNet
from ..models.registry import load_model, resolve_device, save_model
from ..models.spec import ColorModel
from .ciede2000 import ciede2000
from .lut import fit_lut
from .patches import BACKGROUND_WEIGHT, Augment, PatchSampler, mean_chroma, tissue_mask

#: Per-pixel chroma error the training fits: summed |a|, |b| differences, or CIEDE2000 (the
#: metric the evaluation reports; like the eye, it forgives a given a, b error in saturated colour).
LOSSES = ("l1", "ciede2000")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run. At least one of ``steps`` and ``seconds`` bounds it."""

    steps: int | None = None
    seconds: float | None = None
    batch_size: int = 16
    patch: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    seed: int = 0
    widths: tuple[int, int, int, int] = (32, 64, 96, 128)
    augment: Augment = field(default_factory=Augment)
    balance: bool = False
    min_tissue: float = 0.0
    uncertainty_weight: float = 0.1
    loss: str = "l1"
    #: Stain jitter (scale, shift) of the colours the confidence is fitted against: a model that
    #: will meet other labs should expect their stains to differ, most where staining is strong.
    lab_shift: tuple[float, float] = (0.0, 0.0)
    #: Error the confidence is fitted to (one of :data:`LOSSES`); ``None``: the same as ``loss``.
    confidence_loss: str | None = None

    def __post_init__(self) -> None:
        for name in ("loss", "confidence_loss"):
            value = getattr(self, name)
            if value not in LOSSES and not (name == "confidence_loss" and value is None):
                raise ValueError(f"{name} {value!r} is not one of {', '.join(LOSSES)}")
        if self.steps is None and self.seconds is None:
            raise ValueError("give steps or seconds (or both) to bound training")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps {self.steps} must be >= 1")
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"seconds {self.seconds} must be > 0")
        if self.patch % ChromaNet.divisor:
            raise ValueError(f"patch {self.patch} must be a multiple of {ChromaNet.divisor}")


@dataclass(frozen=True)
class TrainProgress:
    """One training step done."""

    step: int
    total: int | None
    loss: float
    elapsed: float
    fraction: float


def _as_rgb(image: Any, label: str) -> np.ndarray:
    if isinstance(image, (str, Path)):
        return read_rgb(image)
    arr = np.asarray(image)
    if arr.ndim != 3:
        raise ValueError(f"training image {label} is not RGB (shape {arr.shape})")
    return as_rgb_uint8(arr, f"training image {label}")


def image_label(image: Any, index: int) -> str:
    """How errors name a training image: its path, or ``#index`` for an array."""
    return str(image) if isinstance(image, (str, Path)) else f"#{index}"


def check_training_images(
    images: Iterable[Any], patch: int, *, labels: list[str] | None = None
) -> list[np.ndarray]:
    """Load and check training images: colour, some tissue, at least ``patch`` pixels a side.

    ``labels`` name the images in error messages (default: the path, or ``#index``).
    """
    checked, small = [], 0
    for i, image in enumerate(images):
        label = labels[i] if labels is not None else image_label(image, i)
        rgb = _as_rgb(image, label)
        step = max(1, int(math.sqrt(rgb.shape[0] * rgb.shape[1] / 250_000)))
        lab = rgb_uint8_to_lab(rgb[::step, ::step])
        chroma = torch.sqrt(lab[1] ** 2 + lab[2] ** 2)
        if float(torch.quantile(chroma.flatten().float(), 0.99)) < 2.0:
            raise ValueError(f"training image {label} has no colour (it is grayscale)")
        if float(tissue_mask(lab).double().mean()) < 0.01:
            raise ValueError(f"training image {label} shows no tissue (less than 1% of pixels)")
        if min(rgb.shape[:2]) < patch:
            small += 1
            continue
        checked.append(rgb)
    if small:
        warnings.warn(
            f"skipped {small} of {small + len(checked)} training images smaller than the "
            f"{patch}-px patch",
            stacklevel=3,
        )
    if not checked:
        raise ValueError(f"no training image is at least {patch} pixels on each side")
    return checked


def image_hashes(images: list[np.ndarray]) -> list[str]:
    """sha256 of each image's pixels (for the model card)."""
    return [hashlib.sha256(np.ascontiguousarray(im).tobytes()).hexdigest() for im in images]


def lr_factor(fraction: float, step: int, warmup: int) -> float:
    """Learning-rate multiplier: linear warm-up over ``warmup`` steps, then cosine to 0."""
    warm = min(1.0, (step + 1) / warmup) if warmup else 1.0
    return warm * 0.5 * (1 + math.cos(math.pi * min(fraction, 1.0)))


def optimise(
    params: list[torch.nn.Parameter],
    loss_step: Callable[[], tuple[torch.Tensor, torch.Tensor]],
    *,
    lr: float,
    weight_decay: float,
    warmup: int,
    steps: int | None = None,
    seconds: float | None = None,
    deadline: float | None = None,
    smoothing: float = 0.02,
) -> Generator[tuple[int, float, float, float], None, tuple[int, float | None]]:
    """AdamW (warm-up, then cosine decay, gradients clipped to norm 1) until ``steps`` are done
    or the time budget (``seconds`` from now, or a ``deadline``) is spent.

    ``loss_step()`` draws a batch and returns (the loss to report, the loss to minimise). Yields
    ``(step, smoothed loss, fraction of the budget used, seconds)`` after each step; returns
    ``(steps done, smoothed loss)``. Every training loop of the package runs through here.
    """
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    start = time.perf_counter()
    end = deadline if deadline is not None else (start + seconds if seconds else None)
    step, smooth = 0, None
    while True:
        now = time.perf_counter()
        fraction = max(
            step / steps if steps else 0.0,
            (now - start) / (end - start) if end is not None and end > start else 0.0,
        )
        if fraction >= 1.0 or (end is not None and now >= end):
            return step, smooth
        for group in opt.param_groups:
            group["lr"] = lr * lr_factor(fraction, step, warmup)
        reported, total = loss_step()
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        value = float(reported.detach())
        smooth = value if smooth is None else (1 - smoothing) * smooth + smoothing * value
        yield step, smooth, fraction, time.perf_counter() - start


def chroma_error(
    lightness: torch.Tensor, pred: torch.Tensor, ab: torch.Tensor, loss: str = "l1"
) -> torch.Tensor:
    """Per-pixel error ``(B, 1, H, W)`` of predicted vs true chroma ``(B, 2, H, W)``."""
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
    """(chroma loss, Laplace-scale likelihood loss) weighted towards tissue pixels.

    ``mask`` ``(B, 1, H, W)`` in [0, 1], optional, multiplies the weights (pixels outside a
    region of interest count less or not at all). ``loss`` is one of :data:`LOSSES`; the
    Laplace scale (the confidence) is fitted to the same error (or to ``confidence_loss``),
    measured against ``ab_other`` (e.g. the patch as another lab stained it) when given.
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
    """Train, yielding :class:`TrainProgress` each step; returns the trained :class:`ColorModel`.

    Closing the generator stops training; the base model is never modified.
    """
    rgb = check_training_images(images, config.patch)
    dev = resolve_device(device)
    torch.manual_seed(config.seed)
    if base is None:
        net = ChromaNet(config.widths)
        net.lut.copy_(fit_lut(rgb))
        base_card: dict[str, Any] = {"baselines": {"mean_ab": mean_chroma(rgb)}}
    else:
        base_model = base if isinstance(base, ColorModel) else load_model(base)
        net = copy.deepcopy(base_model.net)
        base_card = base_model.card
    net.to(dev).to(memory_format=torch.channels_last).train()
    sampler = PatchSampler(rgb, config.patch, config.augment, seed=config.seed,
                           balance=config.balance, min_tissue=config.min_tissue)
    def loss_step() -> tuple[torch.Tensor, torch.Tensor]:
        lightness, ab, ab_other = sampler.sample_with_other_lab(
            config.batch_size, *config.lab_shift
        )
        lightness = lightness.to(dev).contiguous(memory_format=torch.channels_last)
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
        architecture=Architecture(widths=net.widths),
        training={
            "steps": step,
            "seconds": round(time.perf_counter() - start, 1),
            "config": {k: v for k, v in vars(config).items() if k != "augment"},
            "augment": vars(config.augment),
            "image_sha256": image_hashes(rgb),
        },
    )
    return ColorModel(net, card.spec(), card.to_dict(), device=dev)


def show_step(bar: Any, event: TrainProgress) -> None:
    """Advance a tqdm bar by one training step."""
    bar.update(1)
    bar.set_postfix(loss=f"{event.loss:.2f}")


def train(
    images: Iterable[Any],
    *,
    base: str | Path | ColorModel | None = None,
    seconds: float | None = None,
    steps: int | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    progress: bool = True,
    device: str = "auto",
    name: str | None = None,
    masks: Iterable[Any] | None = None,
    save: bool = True,
    overwrite: bool = False,
    **settings: Any,
) -> ColorModel:
    """Train a model from scratch (``base=None``) or tune one to your stain (``base=NAME``).

    Parameters
    ----------
    images : iterable of array or path
        Colour RGB images; their lightness is the input and their chroma the target.
    base : str, path or ColorModel, optional
        Model to tune (e.g. ``"he-histology"``). ``None`` trains a new one from scratch.
    seconds, steps : optional
        Budget. From scratch: time and/or steps (whichever ends first). Tuning: ``seconds``
        bounds the whole run (evaluation, calibration, gradient steps; default 120),
        ``steps`` the gradient steps (0: calibration only).
    seed : int
        Seeds sampling, augmentation and initialisation.
    out : path, optional
        Where to save ``.safetensors`` + ``.json`` card. Nothing is saved if training is stopped.
    progress : bool
        Show a tqdm progress bar with the current loss.
    name : str, optional
        Name of the new model (default ``"custom"``, or ``"<base>-tuned"`` when tuning):
        letters, digits, ``.``, ``_`` or ``-``, and not the name of a bundled model.
    masks : iterable of bool arrays, optional
        Tuning only: one mask (or ``None``) per image, same height and width; only those
        regions are used, for calibration, patches and the held-out metrics.
    save, overwrite : bool
        An existing model file is only replaced with ``overwrite`` (checked before training).
        Tuning without ``out`` saves the model as ``name`` in the user's models folder
        (``napari_colorize.models.registry.user_models_dir()``), where :func:`list_models` finds
        it at once; ``save=False`` saves nothing.
    **settings
        Other :class:`TrainConfig` fields (``batch_size``, ``patch``, ``lr``, ...), or when tuning
        :class:`~napari_colorize.training.tuning.TuneConfig` fields (``layers``, ``holdout``...).

    Examples
    --------
    >>> model = train(["a.tif"], base="he-histology", seconds=60, name="lab")  # doctest: +SKIP
    >>> load_model("lab").card["metrics"]["holdout_ciede2000_tissue"]  # doctest: +SKIP
    """
    if base is not None:
        from .tuning import tune

        base_name = base.name if isinstance(base, ColorModel) else Path(str(base)).stem
        if seconds is None and steps is None:
            seconds = 120.0
        result = tune(list(images), base=base, masks=None if masks is None else list(masks),
                      name=name or f"{base_name}-tuned", out=out, save=save or out is not None,
                      overwrite=overwrite, progress=progress, device=device, seconds=seconds,
                      steps=steps, seed=seed, **settings)
        return result.model
    if masks is not None:
        raise ValueError("masks restrict tuning regions: give a base model to tune")
    from tqdm.auto import tqdm

    name = name or "custom"
    config = TrainConfig(steps=steps, seconds=seconds, seed=seed, **settings)
    if out is not None:
        from .tuning import model_out_path

        out = model_out_path(name, out, overwrite)
    gen = iter_train(images, config, base=None, device=device, name=name)
    with tqdm(total=steps, disable=not progress, desc=name, unit="step") as bar:
        model = drain(gen, lambda event: show_step(bar, event))
    if out is not None:
        save_model(model.net, model.card, out)
    return model
