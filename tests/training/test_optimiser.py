"""The optimiser loop skips a batch whose loss or gradient is not finite, instead of NaN weights."""

import numpy as np
import pytest
import torch

from napari_colorize.core.events import drain
from napari_colorize.training.optimiser import MAX_SKIPPED_START, optimise


def _quadratic(w, bad_steps):
    calls = {"n": 0}

    def loss_step():
        calls["n"] += 1
        loss = (w**2).sum()
        if calls["n"] in bad_steps:
            loss = loss * float("nan")
        return loss, loss

    return loss_step


def test_a_nan_batch_is_skipped_and_reported():
    w = torch.nn.Parameter(torch.tensor([3.0]))
    with pytest.warns(RuntimeWarning, match="skipped 2 of 10 training steps"):
        steps, loss = drain(optimise([w], _quadratic(w, {3, 7}), lr=0.1, weight_decay=0.0,
                                     warmup=0, steps=10))
    assert steps == 10
    assert torch.isfinite(w).all()
    assert float(w) < 3.0
    assert loss is not None
    assert np.isfinite(loss)  # the reported average never takes the NaN


def test_an_infinite_gradient_is_skipped():
    w = torch.nn.Parameter(torch.tensor([0.0]))

    def loss_step():  # sqrt at 0: finite loss, infinite gradient
        loss = torch.sqrt(w.abs()).sum()
        return loss, loss

    with pytest.warns(RuntimeWarning, match="skipped 3 of 3"):
        drain(optimise([w], loss_step, lr=0.1, weight_decay=0.0, warmup=0, steps=3))
    assert float(w) == 0.0


def test_training_that_never_gets_a_finite_loss_stops():
    w = torch.nn.Parameter(torch.tensor([3.0]))
    bad = set(range(1, 1000))
    with pytest.raises(FloatingPointError, match=f"not finite in the first {MAX_SKIPPED_START}"):
        drain(optimise([w], _quadratic(w, bad), lr=0.1, weight_decay=0.0, warmup=0, steps=100))
