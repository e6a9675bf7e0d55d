"""Warnings that point at the user's own line, not at this package's internals."""

from __future__ import annotations

import sys
from pathlib import Path

_PACKAGE = str(Path(__file__).resolve().parents[1])


def user_level() -> int:
    """Give the ``stacklevel`` of the first caller outside this package (the user's line).

    Examples
    --------
    >>> user_level() >= 1
    True
    """
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level
