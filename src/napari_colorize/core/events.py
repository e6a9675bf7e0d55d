"""Small progress events yielded by the engine's generators (never arrays)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """Where a run stands.

    ``done``/``total`` count tiles over the whole run; ``plane``/``n_planes`` count planes
    (index into the flattened leading axes). ``message`` is a short status line.
    """

    done: int
    total: int
    plane: int = 0
    n_planes: int = 1
    message: str = ""

    @property
    def fraction(self) -> float:
        """Share of the work done, in [0, 1]."""
        return self.done / self.total if self.total else 1.0
