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
import warnings
from collections.abc import Generator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.color import rgb_uint8_to_lab
from ..io.writable import check_writable
from ..models.cards import Architecture, ModelCard
from ..models.devices import resolve_device
from ..models.network import ChromaNet
from ..models.registry import WEIGHTS_DIR, load_model, save_model, user_models_dir
from ..models.spec import ColorModel
from .calibration import calibrate
from .holdout import HOLDOUT_MAX, holdout_boxes, holdout_errors
from .images import check_references, image_hashes
from .loop import loss_terms
from .masked_patches import MaskedPatchSampler
from .optimiser import optimise
from .patches import mean_chroma, tissue_mask
from .tune_config import LAYERS, TuneConfig, TuneProgress, TuneResult

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_model_name(name: str) -> None:
    """Check that a new model's name is a plain file name and hides no bundled model.

    Parameters
    ----------
    name : str
        The name.

    Raises
    ------
    ValueError
        Naming what is wrong.

    Examples
    --------
    >>> check_model_name("lab-a")
    >>> check_model_name("he-histology")
    Traceback (most recent call last):
    ...
    ValueError: model name 'he-histology' is a bundled model: choose another name
    """
    if not isinstance(name, str):
        raise TypeError(f"model name must be a string; got {type(name).__name__}")
    if not _NAME.fullmatch(name):
        raise ValueError(f"model name {name!r} must be letters, digits, '.', '_' or '-' "
                         "(at most 64, starting with a letter or digit)")
    if (WEIGHTS_DIR / f"{name}.json").exists():
        raise ValueError(f"model name {name!r} is a bundled model: choose another name")


def model_out_path(name: str, out: str | Path | None = None, overwrite: bool = False) -> Path:
    """Decide where a new model is saved, checked before any training so a bad path fails at once.

    Parameters
    ----------
    name : str
        The model's name (see :func:`check_model_name`).
    out : str or path, optional
        A ``.safetensors`` path; default: ``NAME.safetensors`` in the user's models folder.
    overwrite : bool
        Allow replacing an existing file.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        A bad name, a path not ending in ``.safetensors``, a folder where the weights or the
        card (``.json`` beside them) would go, an existing file (without ``overwrite``), or a
        folder where no file can be written.

    Examples
    --------
    >>> model_out_path("lab-a", "models/lab-a.safetensors")
    PosixPath('models/lab-a.safetensors')
    """
    check_model_name(name)
    path = Path(out) if out is not None else user_models_dir() / f"{name}.safetensors"
    if path.suffix.lower() != ".safetensors":
        raise ValueError(f"output {path} must end in .safetensors")
    for target in (path, path.with_suffix(".json")):  # the weights and their card
        if target.is_dir():
            raise ValueError(f"output {target} is a folder; choose another name")
        if target.exists() and not overwrite:
            raise ValueError(f"model {target} already exists; choose another name or overwrite")
    check_writable(path.parent)
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
    """Tune ``base`` on colour reference images, yielding progress; nothing is saved.

    The last ``config.holdout`` of each region (a strip across its longer side, at most
    512 x 1024 px) is never trained on: the metrics are measured there. Closing the generator
    stops the run; the base model is never modified.

    Parameters
    ----------
    images : sequence of array or path
        Colour references.
    config : TuneConfig, optional
        The run's settings (default: :class:`TuneConfig`'s).
    base : str, path or ColorModel
        The chroma model to tune.
    masks : array, path or sequence of them, optional
        One region (or ``None``) per image: calibration, patches and evaluation stay inside
        (see :func:`~.images.check_references`).
    labels : sequence of str, optional
        Names of the images in the card and in errors.
    device : str
        Where the gradient steps run.
    name : str
        Name of the tuned model (see :func:`check_model_name`).

    Yields
    ------
    TuneProgress
        At each phase and after each gradient step.

    Returns
    -------
    TuneResult

    Raises
    ------
    ValueError
        For unusable references, masks or name, a base that is not a chroma ChromaNet, or a
        held-out strip that covers every region.

    Examples
    --------
    >>> from napari_colorize.core.events import drain
    >>> from napari_colorize.models.spec import ModelSpec
    >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)
    >>> pink[::8] = (90, 50, 150)
    >>> base = ColorModel(ChromaNet((8, 8, 8, 8)), ModelSpec("tiny"))
    >>> result = drain(iter_tune([pink], TuneConfig(seconds=None, steps=1, patch=64, batch_size=1),
    ...                          base=base, device="cpu"))
    >>> result.metrics["steps"], result.model.card["base"]["name"]
    (1, 'tiny')
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
    if config.holdout > 0 and not _holdout_tissue(rgb, masks, boxes):
        # a warning, not an error: the tuning itself is sound, only its card lacks scores
        warnings.warn(f"the held-out strips (holdout {config.holdout}) show no tissue: the "
                      "card will have no held-out scores", stacklevel=2)

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


def _holdout_tissue(rgb, masks, boxes) -> bool:
    """Tell whether any held-out box shows tissue inside its mask (else no metric can be had)."""
    for im, m, box in zip(rgb, masks, boxes, strict=True):
        if box is not None:
            lab = rgb_uint8_to_lab(np.ascontiguousarray(im[box])).numpy()
            if (tissue_mask(lab) & m[box]).any():
                return True
    return False


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
    """Read the error a model was trained (or last tuned) on from its card.

    Parameters
    ----------
    card : dict
        A model card.

    Returns
    -------
    str
        One of :data:`~.loop.LOSSES`; ``"l1"`` for cards that do not say.

    Examples
    --------
    >>> base_loss({"training": {"config": {"loss": "ciede2000"}}}), base_loss({})
    ('ciede2000', 'l1')
    """
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
        architecture=Architecture.of(base_model.net),
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
    """Save a tuned model with its card.

    Parameters
    ----------
    result : TuneResult
        What :func:`iter_tune` returned.
    out : str or path, optional
        Where (see :func:`model_out_path`).
    overwrite : bool
        Allow replacing an existing file.

    Returns
    -------
    Path
        The weights file.

    Examples
    --------
    >>> import tempfile
    >>> from napari_colorize.core.events import drain
    >>> from napari_colorize.models.spec import ModelSpec
    >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)
    >>> pink[::8] = (90, 50, 150)
    >>> base = ColorModel(ChromaNet((8, 8, 8, 8)), ModelSpec("tiny"))
    >>> result = drain(iter_tune([pink], TuneConfig(seconds=None, steps=0), base=base))
    >>> save_tuned(result, Path(tempfile.mkdtemp()) / "lab.safetensors").name
    'lab.safetensors'
    """
    path = model_out_path(result.model.card["name"], out, overwrite)
    save_model(result.model.net, result.model.card, path)
    return path
