"""The optimiser loop every training of the package runs through, and its progress events.

AdamW with a linear warm-up and a cosine decay of the learning rate, gradients clipped to norm 1,
until a number of steps or a time budget is spent, whichever comes first.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Generator
from dataclasses import dataclass

import torch

from ..core.heap import keep_freed_memory

#: Steps that must all fail (non-finite loss or gradient) before training gives up.
MAX_SKIPPED_START = 20


@dataclass(frozen=True)
class TrainProgress:
    """One training step done.

    Parameters
    ----------
    step : int
        Steps done.
    total : int, optional
        Steps planned (``None``: bounded by time only).
    loss : float
        Smoothed loss.
    elapsed : float
        Seconds since the first step started.
    fraction : float
        Share of the budget (steps or time) used, in [0, 1].

    Examples
    --------
    >>> TrainProgress(step=3, total=10, loss=4.2, elapsed=1.5, fraction=0.3).step
    3
    """

    step: int
    total: int | None
    loss: float
    elapsed: float
    fraction: float


def lr_factor(fraction: float, step: int, warmup: int) -> float:
    """Learning-rate multiplier: linear warm-up over ``warmup`` steps, then cosine to 0.

    Parameters
    ----------
    fraction : float
        Share of the budget used.
    step : int
        Steps done.
    warmup : int
        Warm-up steps (0: none).

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> lr_factor(0.0, 0, warmup=10), lr_factor(0.5, 50, warmup=10), lr_factor(1.0, 99, 10)
    (0.1, 0.5, 0.0)
    """
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
    """Run AdamW until ``steps`` are done or the time budget is spent.

    Warm-up, then cosine decay; gradients are clipped to norm 1. Every training loop of the
    package runs through here.

    Parameters
    ----------
    params : list of Parameter
        What the steps update.
    loss_step : callable
        Draws a batch; returns (the loss to report, the loss to minimise).
    lr, weight_decay : float
        AdamW settings (learning rate at its peak).
    warmup : int
        Steps of linear warm-up.
    steps : int, optional
        Steps to run.
    seconds : float, optional
        Time budget from now.
    deadline : float, optional
        ``time.perf_counter()`` value to stop at (instead of ``seconds``).
    smoothing : float
        Weight of each new loss in the reported moving average.

    Yields
    ------
    tuple
        ``(step, smoothed loss, fraction of the budget used, seconds)`` after each step.

    Returns
    -------
    tuple
        ``(steps done, smoothed loss or None)``.

    Examples
    --------
    >>> from napari_colorize.core.events import drain
    >>> w = torch.nn.Parameter(torch.tensor([3.0]))
    >>> def loss_step():
    ...     loss = (w**2).sum()
    ...     return loss, loss
    >>> steps, loss = drain(optimise([w], loss_step, lr=0.1, weight_decay=0.0, warmup=0, steps=5))
    >>> steps, float(w.detach()) < 3.0
    (5, True)
    """
    if any(p.device.type == "cpu" for p in params):
        keep_freed_memory()  # each step reuses the last one's pages: about 12 % faster
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    start = time.perf_counter()
    end = deadline if deadline is not None else (start + seconds if seconds else None)
    step, skipped, smooth = 0, 0, None
    while True:
        now = time.perf_counter()
        fraction = max(
            step / steps if steps else 0.0,
            (now - start) / (end - start) if end is not None and end > start else 0.0,
        )
        if fraction >= 1.0 or (end is not None and now >= end):
            if skipped:
                warnings.warn(f"skipped {skipped} of {step} training steps whose loss or "
                              "gradient was not finite", RuntimeWarning, stacklevel=2)
            return step, smooth
        for group in opt.param_groups:
            group["lr"] = lr * lr_factor(fraction, step, warmup)
        reported, total = loss_step()
        opt.zero_grad(set_to_none=True)
        total.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        step += 1
        # one non-finite batch would make every weight NaN for good: skip it, as AMP does
        if torch.isfinite(norm) and torch.isfinite(reported):
            opt.step()
            value = float(reported.detach())
            smooth = value if smooth is None else (1 - smoothing) * smooth + smoothing * value
        else:
            skipped += 1
            if skipped == step and step >= MAX_SKIPPED_START:
                raise FloatingPointError(f"the loss or its gradient is not finite in the first "
                                         f"{step} steps: check the images and settings")
        yield step, smooth, fraction, time.perf_counter() - start
