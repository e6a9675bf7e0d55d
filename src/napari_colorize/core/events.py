"""Small progress events yielded by the engine's generators (never arrays)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from types import GeneratorType
from typing import Any, TypeVar, cast

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """Where a run stands: a small event yielded by :func:`~napari_colorize.iter_colorize`.

    Parameters
    ----------
    done, total : int
        Tiles computed so far and tiles of the whole run.
    plane, n_planes : int
        The plane being computed (an index into the flattened leading axes) and the number of
        planes.
    message : str
        A short status line (e.g. how many colour hints were ignored); empty if none.
    tile : tuple of int
        The plan's tile (rows, columns), e.g. as ``tile_size="auto"`` chose it.
    computed_mp : float
        Megapixels the model computes over the whole run (tiles overlap, so more than the
        image has).

    Examples
    --------
    >>> event = Progress(3, 12, plane=1, n_planes=2)
    >>> event.fraction
    0.25
    >>> Progress(0, 0).fraction  # nothing to do is done
    1.0
    """

    done: int
    total: int
    plane: int = 0
    n_planes: int = 1
    message: str = ""
    tile: tuple[int, int] = (0, 0)
    computed_mp: float = 0.0

    @property
    def fraction(self) -> float:
        """Share of the work done, in [0, 1]."""
        return self.done / self.total if self.total else 1.0


def drain(gen: Generator[Any, None, T], on_event: Callable[[Any], None] | None = None) -> T:
    """Run a generator to the end, passing each event to ``on_event``; return its value.

    If ``on_event`` raises (e.g. KeyboardInterrupt), the exception is raised inside the generator
    too, so the engine reacts to it as if it had happened there (an interrupt keeps a resumable
    output; other errors discard partial output).

    Parameters
    ----------
    gen : generator
        A generator that yields events and returns a value, such as
        :func:`~napari_colorize.iter_colorize`.
    on_event : callable, optional
        Called with each event as it is yielded.

    Returns
    -------
    object
        What the generator returns.

    Raises
    ------
    BaseException
        Whatever the generator or ``on_event`` raises, after raising it in the generator too.

    Examples
    --------
    >>> def count(n):
    ...     for i in range(n):
    ...         yield i
    ...     return "done"
    >>> drain(count(3), print)
    0
    1
    2
    'done'
    """
    try:
        while True:
            event = next(gen)
            if on_event is not None:
                on_event(event)
    except StopIteration as stop:
        return stop.value
    except BaseException as exc:
        # Raised by on_event, or between two events (a signal's KeyboardInterrupt): raise it in
        # the suspended generator, never leave it to be closed later (which would discard).
        if getattr(gen, "gi_frame", None) is not None and not cast(GeneratorType, gen).gi_running:
            try:
                gen.throw(exc)
            except BaseException:
                pass
        raise
