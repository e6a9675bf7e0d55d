"""Transparency: colours composited over white, so a transparent region reads as glass."""

from __future__ import annotations

from typing import Any


def over_white(colour: Any, opacity: Any, white: float, alpha: str = "straight") -> Any:
    """Composite colours over white where they are transparent.

    Parameters
    ----------
    colour : array-like
        Colours (or grays) in a scale where ``white`` is full intensity.
    opacity : array-like
        Alpha in [0, 1], broadcasting against ``colour``.
    white : float
        Full intensity in ``colour``'s scale (1, 255, a dtype's maximum).
    alpha : {"straight", "premultiplied"}
        Whether ``colour`` is still to be multiplied by ``opacity`` (straight), or already is
        (premultiplied: a TIFF's associated alpha).

    Returns
    -------
    array-like
        Float colours in the same scale.

    Examples
    --------
    >>> import numpy as np
    >>> over_white(np.array([200.0, 40.0]), np.array([0.5]), 255.0).tolist()
    [227.5, 147.5]
    >>> over_white(np.array([100.0, 20.0]), np.array([0.5]), 255.0, "premultiplied").tolist()
    [227.5, 147.5]
    """
    covered = colour if alpha == "premultiplied" else colour * opacity
    return covered + white * (1 - opacity)
