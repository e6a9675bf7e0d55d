"""Progress bars of training and tuning runs.

A run bounded by time shows seconds out of its budget (with the step and loss beside it); a run
bounded by steps shows steps. In a log (stderr not a terminal) the bar is redrawn at most every
:data:`LOG_INTERVAL` seconds, so a long run writes a few lines, not one per step.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

if TYPE_CHECKING:
    from .optimiser import TrainProgress
    from .tune_config import TuneProgress

#: Seconds between redraws of a bar when stderr is not a terminal.
LOG_INTERVAL = 10.0
#: A time bar counts seconds: whole seconds out of the budget.
TIME_FORMAT = "{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]"


def progress_bar(
    *, seconds: float | None, steps: int | None, desc: str | None = None, disable: bool = False
) -> tqdm:
    """Make a tqdm bar on stderr whose total is the time budget, or else the number of steps.

    Parameters
    ----------
    seconds : float, optional
        Time budget: the bar counts seconds (unit ``"s"``).
    steps : int, optional
        Used when there is no time budget: the bar counts steps (``None``: no total).
    desc : str, optional
        Label in front of the bar.
    disable : bool
        Show nothing.

    Returns
    -------
    tqdm

    Examples
    --------
    >>> bar = progress_bar(seconds=60.0, steps=100)
    >>> bar.total, bar.unit
    (60.0, 's')
    >>> bar.close()
    """
    terminal = bool(getattr(sys.stderr, "isatty", lambda: False)())
    common: dict[str, Any] = {"desc": desc, "disable": disable, "file": sys.stderr,
                              "mininterval": 0.1 if terminal else LOG_INTERVAL}
    if seconds is not None:
        return tqdm(total=float(seconds), unit="s", bar_format=TIME_FORMAT, **common)
    return tqdm(total=steps, unit="step", **common)


def advance(bar: Any, elapsed: float, step: int, loss: float | None) -> None:
    """Bring a bar to ``elapsed`` seconds (time bars) or one step further (step bars).

    The step and loss go to the postfix; the bar redraws only as often as its interval allows.

    Parameters
    ----------
    bar : tqdm
        A bar from :func:`progress_bar`.
    elapsed : float
        Seconds of the budget used.
    step : int
        Steps done.
    loss : float, optional
        Current (smoothed) loss.

    Examples
    --------
    >>> bar = progress_bar(seconds=60.0, steps=None)
    >>> advance(bar, 12.5, step=40, loss=3.14159)
    >>> bar.n, bar.postfix
    (12.5, 'step=40, loss=3.14')
    >>> bar.close()
    """
    if bar.disable:  # a disabled bar has no unit
        return
    postfix = {"step": step} if loss is None else {"step": step, "loss": f"{loss:.2f}"}
    bar.set_postfix(postfix, refresh=False)
    if bar.unit == "s":
        bar.update(min(max(elapsed, bar.n), bar.total) - bar.n)
    else:
        bar.update(1)


def show_step(bar: Any, event: TrainProgress) -> None:
    """Show a training step on a bar from :func:`progress_bar`.

    Parameters
    ----------
    bar : tqdm
        The bar.
    event : TrainProgress
        The step done.

    Examples
    --------
    >>> from napari_colorize.training.optimiser import TrainProgress
    >>> bar = progress_bar(seconds=None, steps=10)
    >>> show_step(bar, TrainProgress(step=1, total=10, loss=2.0, elapsed=0.5, fraction=0.1))
    >>> bar.n
    1
    >>> bar.close()
    """
    advance(bar, event.elapsed, event.step, event.loss)


def show_event(bar: Any, event: TuneProgress) -> None:
    """Show a tuning event on a bar: the phase as its label, gradient steps and loss as postfix.

    A time bar follows the elapsed time through every phase; a step bar counts gradient steps.

    Parameters
    ----------
    bar : tqdm
        A bar from :func:`progress_bar`.
    event : TuneProgress
        The event.

    Examples
    --------
    >>> from napari_colorize.training.tune_config import TuneProgress
    >>> bar = progress_bar(seconds=120.0, steps=None)
    >>> show_event(bar, TuneProgress("calibrate", 0, None, None, elapsed=3.0, fraction=0.0))
    >>> bar.desc, bar.n
    ('calibrate: ', 3.0)
    >>> bar.close()
    """
    if bar.disable:
        return
    bar.set_description("tune" if event.phase == "train" else event.phase, refresh=False)
    if event.phase == "train" or bar.unit == "s":
        advance(bar, event.elapsed, event.step, event.loss)
