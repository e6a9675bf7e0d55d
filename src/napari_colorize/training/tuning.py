"""Domain tuning: adapt a model to a lab's stain from a few colour reference images.

``iter_tune`` (a generator of :class:`TuneProgress`) first evaluates the base model on a held-out
strip of the references, calibrates the prior and head in closed form (seconds; see
:mod:`.calibration`), spends the rest of the time budget on gradient steps, and evaluates again.
It returns a :class:`TuneResult`; nothing is written until :func:`save_tuned`, so closing the
generator (Cancel) leaves no trace, and the base model is never modified.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..models.cards import Architecture, ModelCard
from ..models.network import ChromaNet
from ..models.registry import (
    WEIGHTS_DIR,
    load_model,
    resolve_device,
    save_model,
    user_models_dir,
)
from ..models.spec import ColorModel
from .calibration import calibrate
from .holdout import HOLDOUT_MAX, holdout_boxes, holdout_errors
from .images import as_rgb, check_training_images, image_hashes, image_label
from .loop import LOSSES, loss_terms, optimise
from .patches import Augment, MaskedPatchSampler, mean_chroma

#: Parameter groups that gradient steps may update.
LAYERS = {
    "all": None,
    "decoder": ("lat3", "dec3", "lat2", "dec2", "lat1", "dec1", "head"),
    "head": ("head",),
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class TuneConfig:
    """One tuning run: ``seconds`` bounds the whole run, ``steps`` the gradient steps."""

    seconds: float | None = 120.0
    steps: int | None = None
    calibrate: bool = True
    layers: str = "all"
    lr: float = 5e-4
    weight_decay: float = 0.0
    warmup: int = 10
    batch_size: int = 8
    patch: int = 128
    holdout: float = 0.2
    prior_count: float = 5.0
    ridge: float = 0.1
    seed: int = 0
    bf16: bool = False
    augment: Augment = field(default_factory=lambda: Augment(scale=(0.75, 1.33)))
    #: Error the gradient steps fit (``loop.LOSSES``); ``None``: the one the base was trained on.
    loss: str | None = None

    def __post_init__(self) -> None:
        if self.seconds is None and self.steps is None:
            raise ValueError("give seconds or steps (or both) to bound tuning")
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"seconds {self.seconds} must be > 0")
        if self.steps is not None and self.steps < 0:
            raise ValueError(f"steps {self.steps} must be >= 0")
        if self.layers not in LAYERS:
            raise ValueError(f"layers {self.layers!r} must be one of {sorted(LAYERS)}")
        if self.patch % ChromaNet.divisor or self.patch < 64:
            raise ValueError(f"patch {self.patch} must be a multiple of 32, at least 64")
        if not 0 <= self.holdout < 0.5:
            raise ValueError(f"holdout {self.holdout} must be in [0, 0.5)")
        if self.batch_size < 1:
            raise ValueError(f"batch_size {self.batch_size} must be >= 1")
        if self.loss is not None and self.loss not in LOSSES:
            raise ValueError(f"loss {self.loss!r} is not one of {', '.join(LOSSES)}")


@dataclass(frozen=True)
class TuneProgress:
    """Where a tuning run stands: ``phase`` is evaluate, calibrate or train."""

    phase: str
    step: int
    total: int | None
    loss: float | None
    elapsed: float
    fraction: float


@dataclass
class TuneResult:
    """The tuned model, its held-out metrics and a before/after preview of one held-out box."""

    model: ColorModel
    metrics: dict[str, Any]
    preview: dict[str, Any] | None = None


def check_references(
    images: Sequence[Any], masks: Sequence[Any] | None, labels: Sequence[str] | None = None
) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Load and check reference images and their optional boolean masks (one per image)."""
    images = list(images)
    if not images:
        raise ValueError("give at least one colour reference image to tune on")
    labels = list(labels) if labels is not None else [image_label(im, i)
                                                     for i, im in enumerate(images)]
    if masks is not None and len(masks) != len(images):
        raise ValueError(f"got {len(masks)} masks for {len(images)} images: give one per image")
    rgb = [as_rgb(im, label) for im, label in zip(images, labels, strict=True)]
    for im, label in zip(rgb, labels, strict=True):
        if min(im.shape[:2]) < 64:
            raise ValueError(f"reference image {label} is {im.shape[0]}x{im.shape[1]}: "
                             "tuning needs at least 64 pixels a side")
    rgb = check_training_images(rgb, 64, labels=labels)
    out_masks = []
    for i, (im, label) in enumerate(zip(rgb, labels, strict=True)):
        m = None if masks is None else masks[i]
        if m is None:
            out_masks.append(np.ones(im.shape[:2], bool))
            continue
        m = np.asarray(m)
        if m.shape != im.shape[:2]:
            raise ValueError(f"mask of {label} has shape {m.shape}, expected {im.shape[:2]}")
        if not m.any():
            raise ValueError(f"mask of {label} is empty: it selects no pixel")
        out_masks.append(m.astype(bool))
    return rgb, out_masks, labels


def check_model_name(name: str) -> None:
    """A tuned model's name must be a plain file name and not hide a bundled model."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"model name {name!r} must be letters, digits, '.', '_' or '-' "
                         "(at most 64, starting with a letter or digit)")
    if (WEIGHTS_DIR / f"{name}.json").exists():
        raise ValueError(f"model name {name!r} is a bundled model: choose another name")


def model_out_path(name: str, out: str | Path | None = None, overwrite: bool = False) -> Path:
    """Where a new model is saved (``out``, or the user's models folder); checked before any
    training so a bad path fails at once."""
    check_model_name(name)
    path = Path(out) if out is not None else user_models_dir() / f"{name}.safetensors"
    if path.suffix != ".safetensors":
        raise ValueError(f"output {path} must end in .safetensors")
    if path.exists() and not overwrite:
        raise ValueError(f"model {path} already exists; choose another name or overwrite")
    return path


def _trainable(net: ChromaNet, layers: str) -> list[torch.nn.Parameter]:
    prefixes = LAYERS[layers]
    params = []
    for pname, p in net.named_parameters():
        p.requires_grad_(prefixes is None or pname.split(".")[0] in prefixes)
        if p.requires_grad:
            params.append(p)
    return params


def iter_tune(
    images: Sequence[Any],
    config: TuneConfig | None = None,
    *,
    base: str | Path | ColorModel = "he-histology",
    masks: Sequence[Any] | None = None,
    labels: Sequence[str] | None = None,
    device: str = "auto",
    name: str = "tuned",
) -> Generator[TuneProgress, None, TuneResult]:
    """Tune ``base`` on colour reference images; yields progress, returns a :class:`TuneResult`.

    ``masks`` (boolean, one per image, same height and width, or ``None``) restrict calibration,
    patches and evaluation to regions. The last ``config.holdout`` of each region (a strip across
    its longer side, at most 512 x 1024 px) is never trained on: the metrics are measured there.
    """
    config = config or TuneConfig()
    start = time.perf_counter()
    check_model_name(name)
    rgb, masks, labels = check_references(images, masks, labels)
    base_model = base if isinstance(base, ColorModel) else load_model(base)
    if base_model.spec.kind != "chroma" or not isinstance(base_model.net, ChromaNet):
        raise ValueError(f"model {base_model.name!r} is not a chroma ChromaNet: cannot tune it")
    if config.loss is None:
        config = replace(config, loss=base_loss(base_model.card))
    dev = resolve_device(device)
    torch.manual_seed(config.seed)
    boxes = holdout_boxes(masks, config.holdout)
    train_masks = [m.copy() for m in masks]
    for m, box in zip(train_masks, boxes, strict=True):
        if box is not None:
            m[box] = False
    if not any(m.any() for m in train_masks):
        raise ValueError("the held-out strip covers every region: use a larger region or holdout=0")

    def event(phase, step=0, loss=None, fraction=0.0):
        return TuneProgress(phase, step, config.steps, loss, time.perf_counter() - start, fraction)

    yield event("evaluate")
    t_eval = time.perf_counter()
    before = holdout_errors(base_model, rgb, masks, boxes, lut=False, preview=True)
    t_eval = time.perf_counter() - t_eval
    net = copy.deepcopy(base_model.net).cpu().float()
    scores: dict[str, Any] = {"base": before["model"]}
    stats: dict[str, Any] = {}
    if config.calibrate:
        yield event("calibrate")
        stats = calibrate(net, rgb, train_masks, prior_count=config.prior_count,
                          ridge=config.ridge, seed=config.seed, loss=config.loss)
        calibrated = holdout_errors(_wrap(net, base_model, dev), rgb, masks, boxes)
        scores.update(lut=calibrated["lut"], calibrated=calibrated["model"])
    steps, smooth = 0, None
    # keep time for the final evaluation (about as long as the first) and saving
    deadline = None if config.seconds is None else start + config.seconds - 2.0 * t_eval
    if config.steps != 0 and (deadline is None or time.perf_counter() < deadline):
        steps, smooth = yield from _gradient_steps(net, rgb, train_masks, config, dev, deadline,
                                                   event)
    net.eval().cpu().to(memory_format=torch.contiguous_format)
    for p in net.parameters():
        p.requires_grad_(True)
    model = _wrap(net, base_model, dev)
    yield event("evaluate", steps, smooth, 1.0)
    after = holdout_errors(model, rgb, masks, boxes, lut=False, preview=True)
    scores["tuned"] = after["model"]
    metrics = {
        "holdout_ciede2000_tissue": scores,
        "holdout_pixels": after["pixels"],
        "holdout_boxes": [_box_json(b) for b in boxes],
        "calibration": stats,
        "steps": steps,
        "final_loss": None if smooth is None else round(smooth, 3),
        "seconds": round(time.perf_counter() - start, 1),
    }
    model.card = _card(name, base_model, config, rgb, masks, labels, metrics).to_dict()
    preview = None
    if after["preview"] is not None:
        index, box, tuned_rgb = after["preview"]
        preview = {"image": index, "box": box, "before": before["preview"][2], "after": tuned_rgb}
    return TuneResult(model, metrics, preview)


def _gradient_steps(net, rgb, masks, config, dev, deadline, event):
    net.to(dev).to(memory_format=torch.channels_last).train()
    sampler = MaskedPatchSampler(rgb, masks, config.patch, config.augment, seed=config.seed)

    def loss_step() -> tuple[torch.Tensor, torch.Tensor]:
        lightness, ab, weight = sampler.sample_masked(config.batch_size)
        lightness = lightness.to(dev).contiguous(memory_format=torch.channels_last)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=config.bf16):
            chroma_loss, nll = loss_terms(net, lightness, ab.to(dev), weight.to(dev),
                                         loss=config.loss)
        return chroma_loss, chroma_loss + 0.1 * nll

    step, smooth = 0, None
    for step, smooth, fraction, _ in optimise(
        _trainable(net, config.layers), loss_step, lr=config.lr,
        weight_decay=config.weight_decay, warmup=config.warmup, steps=config.steps,
        deadline=deadline, smoothing=0.1,
    ):
        yield event("train", step, smooth, fraction)
    return step, smooth


def base_loss(card: dict[str, Any]) -> str:
    """The error a model was trained (or last tuned) on; ``"l1"`` for cards that do not say."""
    tuned = card.get("tuning", {}).get("settings", {}).get("loss")
    return tuned or card.get("training", {}).get("config", {}).get("loss", "l1")


def _wrap(net: ChromaNet, base_model: ColorModel, dev: torch.device) -> ColorModel:
    spec = replace(base_model.spec)
    return ColorModel(net, spec, dict(base_model.card), device=dev)


def _box_json(box: tuple[slice, slice] | None) -> list[int] | None:
    return None if box is None else [box[0].start, box[0].stop, box[1].start, box[1].stop]


def _card(name, base_model, config, rgb, masks, labels, metrics) -> ModelCard:
    base_card = base_model.card
    settings = {k: v for k, v in vars(config).items() if k != "augment"}
    return ModelCard(
        name=name,
        version="1",
        base={"name": base_model.spec.name, "version": base_model.spec.version,
              "sha256": base_card.get("sha256")},
        description=f"{base_model.spec.name} v{base_model.spec.version} tuned on "
                    f"{len(rgb)} reference image(s): {', '.join(labels)}",
        baselines={"mean_ab": mean_chroma(rgb)},
        architecture=Architecture(widths=base_model.net.widths),
        divisor=base_model.spec.divisor,
        min_tile=base_model.spec.min_tile,
        kind="chroma",
        tuning={
            "settings": settings,
            "augment": vars(config.augment),
            "image_sha256": image_hashes(rgb),
            "mask_sha256": [None if m.all() else image_hashes([np.packbits(m)])[0]
                            for m in masks],
            "holdout_max": list(HOLDOUT_MAX),
        },
        metrics=metrics,
        intended_use=base_card.get("intended_use", ""),
        limitations=[
            f"Tuned on {len(rgb)} reference image(s): colours follow their stain and may not "
            "hold for other labs, stains or scanners; the held-out metrics come from strips of "
            "the same images.",
            *(f"Base model: {text}" for text in base_card.get("limitations", [])),
        ],
    )


def save_tuned(result: TuneResult, out: str | Path | None = None, *,
               overwrite: bool = False) -> Path:
    """Write the tuned model (``out`` or the user's models folder) with its card; returns it."""
    path = model_out_path(result.model.card["name"], out, overwrite)
    save_model(result.model.net, result.model.card, path)
    return path
