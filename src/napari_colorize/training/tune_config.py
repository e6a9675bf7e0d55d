"""Settings, progress events and result of a tuning run (see :mod:`.tuning`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..models.network import ChromaNet
from ..models.spec import ColorModel
from .loop import LOSSES, check_budget
from .patches import Augment

#: Parameter groups that gradient steps may update.
LAYERS = {
    "all": None,
    "decoder": ("lat3", "dec3", "lat2", "dec2", "lat1", "dec1", "head"),
    "head": ("head",),
}

@dataclass(frozen=True)
class TuneConfig:
    """Settings of one tuning run: ``seconds`` bounds the whole run, ``steps`` the gradient steps.

    Parameters
    ----------
    seconds : float, optional
        Budget of the whole run (evaluation, calibration, gradient steps).
    steps : int, optional
        Gradient steps (0: calibration only).
    calibrate : bool
        Refit the prior and head in closed form first (see :mod:`.calibration`).
    layers : {"all", "decoder", "head"}
        Parameters the gradient steps update (see :data:`LAYERS`).
    lr, weight_decay : float
        AdamW settings (learning rate at its peak).
    warmup : int
        Steps of linear warm-up.
    batch_size, patch : int
        Patches per step and their side (a multiple of 32, at least 64).
    holdout : float
        Share of each region held out for the metrics, in [0, 0.5).
    prior_count, ridge : float
        Calibration settings (see :func:`~.calibration.calibrate`).
    seed : int
        Seeds sampling and the calibration's windows.
    bf16 : bool
        Gradient steps under bfloat16 autocast.
    augment : Augment
        Augmentation ranges.
    loss : {"l1", "ciede2000"}, optional
        Error the gradient steps fit; ``None``: the one the base was trained on.

    Raises
    ------
    ValueError
        Naming the setting and its value.

    Examples
    --------
    >>> TuneConfig().seconds, TuneConfig(steps=0, seconds=None).calibrate
    (120.0, True)
    >>> TuneConfig(layers="encoder")
    Traceback (most recent call last):
    ...
    ValueError: layers 'encoder' must be one of ['all', 'decoder', 'head']
    """

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
        """Check the settings."""
        if self.seconds is None and self.steps is None:
            raise ValueError("give seconds or steps (or both) to bound tuning")
        check_budget(self.steps, self.seconds)
        if self.seconds is not None and not (math.isfinite(self.seconds) and self.seconds > 0):
            raise ValueError(f"seconds {self.seconds} must be a finite number > 0")
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
    """Where a tuning run stands.

    Parameters
    ----------
    phase : {"evaluate", "calibrate", "train"}
        What it is doing.
    step : int
        Gradient steps done.
    total : int, optional
        Gradient steps planned.
    loss : float, optional
        Smoothed loss of the gradient steps.
    elapsed : float
        Seconds since the run started.
    fraction : float
        Share of the gradient steps' budget used.

    Examples
    --------
    >>> TuneProgress("train", 3, None, 2.5, elapsed=10.0, fraction=0.1).phase
    'train'
    """

    phase: str
    step: int
    total: int | None
    loss: float | None
    elapsed: float
    fraction: float


@dataclass
class TuneResult:
    """The tuned model, its held-out metrics and a before/after preview of one held-out box.

    Parameters
    ----------
    model : ColorModel
        The tuned model, with its card.
    metrics : dict
        Held-out tissue CIEDE2000 (``base``, ``lut``, ``calibrated``, ``tuned``), boxes,
        calibration statistics, steps, final loss and seconds.
    preview : dict, optional
        ``image`` index, ``box`` and the ``before`` and ``after`` RGB of the first held-out box.

    Examples
    --------
    >>> TuneResult(model=None, metrics={"steps": 0}).preview is None
    True
    """

    model: ColorModel
    metrics: dict[str, Any]
    preview: dict[str, Any] | None = None
