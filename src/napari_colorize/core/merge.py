"""The outputs finished blocks go to: memory or a caller's array (OME-Zarr is in ``io``).

Every output is a :class:`Merger`: ``write(index, region, rgb, confidence, maps)`` per finished
block of plane ``index``, ``finalize()`` returning the :class:`Outputs`, ``discard()`` undoing
everything written (cancel or error). Blending tiles into a block is in :mod:`.blender`
(re-exported here).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, NamedTuple

import numpy as np

from .blender import BlockBlender, axis_inverse_weight
from .outputs import check_memory, check_out_array

__all__ = [
    "ArrayMerger", "BlockBlender", "Merger", "OutArrayMerger", "Outputs", "Region",
    "axis_inverse_weight",
]


Region = tuple[slice, slice]


class Outputs(NamedTuple):
    """What a merger holds after a run: the sRGB result and the side outputs asked for.

    Parameters
    ----------
    rgb : array-like
        sRGB uint8 ``(*shape, 3)`` (numpy, zarr, ...).
    confidence : array-like or None
        float32 confidence ``shape``, if asked for.
    channels : array-like or None
        float32 channel maps ``(K, *shape)``, if asked for.

    Examples
    --------
    >>> rgb, confidence, channels = Outputs(np.zeros((2, 2, 3), np.uint8))
    >>> rgb.shape, confidence, channels
    ((2, 2, 3), None, None)
    """

    rgb: Any
    confidence: Any = None
    channels: Any = None


class Merger(ABC):
    """Where finished blocks go.

    The engine calls :meth:`write` for each finished block (then :meth:`mark_done` with the
    block's key), :meth:`finalize` at the end, :meth:`discard` on cancel or error and
    :meth:`close` always. The defaults suit an output that keeps no record between runs.

    Examples
    --------
    A merger needs only :meth:`write`, :meth:`result` and :meth:`discard`:

    >>> class Count(Merger):
    ...     def __init__(self):
    ...         self.blocks = 0
    ...     def write(self, index, region, rgb, confidence, maps=None):
    ...         self.blocks += 1
    ...     def result(self):
    ...         return Outputs(self.blocks)
    ...     def discard(self):
    ...         self.blocks = 0
    >>> merger = Count()
    >>> merger.write((), (slice(0, 2), slice(0, 2)), np.zeros((2, 2, 3), np.uint8), None)
    >>> merger.finalize().rgb, merger.complete, merger.completed()
    (1, False, set())
    """

    #: Whether an interrupted run (Ctrl-C, a full disk) keeps what it wrote, for a resume.
    keeps_partial: bool = False

    @property
    def complete(self) -> bool:
        """Whether the output was already finished (a resumed run that had completed)."""
        return False

    def completed(self) -> set[str]:
        """List the blocks already written (by an interrupted run of the same job).

        Returns
        -------
        set of str
            Their keys (``RunPlan.key``); empty by default.
        """
        return set()

    def buffer(self, index: tuple[int, ...], region: Region) -> np.ndarray | None:
        """Give the block's slot in the output, for converting straight into it.

        Parameters
        ----------
        index : tuple of int
            The plane's indices into the leading axes.
        region : tuple of slice
            The block's ``(rows, cols)``.

        Returns
        -------
        numpy.ndarray or None
            A writable uint8 view ``(h, w, 3)``, or ``None`` (the default): use :meth:`write`.
        """
        return None

    @abstractmethod
    def write(self, index: tuple[int, ...], region: Region, rgb: np.ndarray,
              confidence: np.ndarray | None, maps: np.ndarray | None = None) -> None:
        """Store one finished block.

        Parameters
        ----------
        index : tuple of int
            The plane's indices into the leading axes.
        region : tuple of slice
            The block's ``(rows, cols)``.
        rgb : numpy.ndarray
            uint8 ``(h, w, 3)`` (possibly a view of :meth:`buffer`'s slot).
        confidence : numpy.ndarray or None
            float32 ``(h, w)``.
        maps : numpy.ndarray or None
            float32 channel maps ``(K, h, w)``.
        """

    def mark_done(self, key: str) -> None:  # noqa: B027 - optional hook
        """Record that the block named ``key`` is written (does nothing by default).

        Parameters
        ----------
        key : str
            The block's key (``RunPlan.key``).
        """

    @abstractmethod
    def result(self) -> Outputs:
        """Return the outputs as they stand.

        Returns
        -------
        Outputs
            The result and side outputs.
        """

    def finalize(self) -> Outputs:
        """Finish the output and return it.

        Returns
        -------
        Outputs
            :meth:`result`, by default.
        """
        return self.result()

    @abstractmethod
    def discard(self) -> None:
        """Undo everything written so far."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the output holds (locks, files); called after finalize or discard."""


class _Extras:
    """The in-memory side outputs of a run: confidence and channel maps, either may be absent.

    Confidence is ``(*shape)``, channel maps ``(K, *shape)``.
    """

    def __init__(self, shape: tuple[int, ...], confidence: bool, n_maps: int) -> None:
        self.conf = np.zeros(shape, dtype=np.float32) if confidence else None
        self.maps = np.zeros((n_maps, *shape), dtype=np.float32) if n_maps else None

    def write(self, where: tuple, confidence: np.ndarray | None, maps: np.ndarray | None) -> None:
        if self.conf is not None and confidence is not None:
            self.conf[where] = confidence
        if self.maps is not None and maps is not None:
            self.maps[(slice(None), *where)] = maps

    def result(self, main: Any) -> Outputs:
        return Outputs(main, self.conf, self.maps)


class ArrayMerger(Merger):
    """Collect the planes in in-memory numpy arrays shaped ``leading + (H, W, 3)``.

    Parameters
    ----------
    shape : tuple of int
        The image's shape.
    confidence : bool
        Also hold a float32 confidence map shaped ``shape``.
    n_maps : int
        Also hold this many float32 channel maps, ``(n_maps, *shape)``.

    Raises
    ------
    ValueError
        The result would not fit in the available memory.

    Examples
    --------
    >>> merger = ArrayMerger((2, 4, 4), confidence=True)
    >>> merger.write((1,), (slice(0, 2), slice(0, 4)), np.full((2, 4, 3), 7, np.uint8),
    ...              np.ones((2, 4), np.float32))
    >>> outputs = merger.finalize()
    >>> outputs.rgb[1, :, :, 0]
    array([[7, 7, 7, 7],
           [7, 7, 7, 7],
           [0, 0, 0, 0],
           [0, 0, 0, 0]], dtype=uint8)
    >>> outputs.confidence.shape, outputs.channels
    ((2, 4, 4), None)
    """

    def __init__(self, shape: tuple[int, ...], confidence: bool, n_maps: int = 0) -> None:
        check_memory(shape, confidence=confidence, n_maps=n_maps)
        self.rgb: np.ndarray | None = np.zeros((*shape, 3), dtype=np.uint8)
        self.extras = _Extras(shape, confidence, n_maps)

    def _held(self) -> np.ndarray:
        if self.rgb is None:
            raise RuntimeError("this merger's result was discarded")
        return self.rgb

    def buffer(self, index: tuple[int, ...], region: Region) -> np.ndarray:
        """Give the block's slot in the result, for converting straight into it (no copy).

        Parameters
        ----------
        index : tuple of int
            The plane's indices into the leading axes.
        region : tuple of slice
            The block's ``(rows, cols)``.

        Returns
        -------
        numpy.ndarray
            A writable uint8 view ``(h, w, 3)``.
        """
        where: tuple[Any, ...] = (*index, *region)
        return self._held()[where]

    def write(self, index: tuple[int, ...], region: Region, rgb: np.ndarray,
              confidence: np.ndarray | None, maps: np.ndarray | None = None) -> None:
        """Copy a block into the arrays (the RGB is not copied if it is the buffer's slot).

        Parameters
        ----------
        index, region, rgb, confidence, maps
            As for :meth:`Merger.write`.
        """
        where: tuple[Any, ...] = (*index, *region)
        held = self._held()
        if not np.shares_memory(rgb, held):
            held[where] = rgb
        self.extras.write(where, confidence, maps)

    def result(self) -> Outputs:
        """Return the arrays.

        Returns
        -------
        Outputs
            The RGB array (``None`` after :meth:`discard`) and the side outputs.
        """
        return self.extras.result(self.rgb)

    def discard(self) -> None:
        """Drop the arrays."""
        self.rgb = None
        self.extras = _Extras((), False, 0)


class OutArrayMerger(Merger):
    """Write the planes into a caller's uint8 array (zarr, numpy, ...): ``leading + (H, W, 3)``.

    Blocks land as they finish, so a viewer showing the array sees the run progress.
    ``discard`` resets the blocks written to the array's fill value (0 for numpy), so a
    cancelled run leaves no partial result in it. Side outputs are held in memory.

    Parameters
    ----------
    array : array-like
        Writable, uint8, shaped ``shape + (3,)``.
    shape : tuple of int
        The image's shape.
    confidence : bool
        Also hold a float32 confidence map in memory.
    n_maps : int
        Also hold this many float32 channel maps in memory.

    Raises
    ------
    TypeError
        ``array`` is not an array.
    ValueError
        ``array`` has the wrong shape or dtype or is read-only, or the side outputs would not
        fit in memory.

    Examples
    --------
    >>> out = np.zeros((4, 4, 3), np.uint8)
    >>> merger = OutArrayMerger(out, (4, 4), confidence=False)
    >>> merger.write((), (slice(0, 2), slice(0, 2)), np.full((2, 2, 3), 9, np.uint8), None)
    >>> out[:, :, 0]
    array([[9, 9, 0, 0],
           [9, 9, 0, 0],
           [0, 0, 0, 0],
           [0, 0, 0, 0]], dtype=uint8)
    >>> merger.discard()  # cancelled: the written block is reset
    >>> int(out.max())
    0
    """

    def __init__(self, array: Any, shape: tuple[int, ...], confidence: bool,
                 n_maps: int = 0) -> None:
        check_out_array(array, shape)  # writable, uint8, image.shape + (3,)
        check_memory(shape, rgb=False, confidence=confidence, n_maps=n_maps)
        self.array = array
        self.written: list[tuple[Any, ...]] = []  # plane indices, then a block's slices
        self.extras = _Extras(shape, confidence, n_maps)

    def buffer(self, index: tuple[int, ...], region: Region) -> np.ndarray | None:
        """Give the block's slot in a numpy output, for converting straight into it.

        Parameters
        ----------
        index : tuple of int
            The plane's indices into the leading axes.
        region : tuple of slice
            The block's ``(rows, cols)``.

        Returns
        -------
        numpy.ndarray or None
            A writable view ``(h, w, 3)``; ``None`` for other arrays (zarr), which are written
            in :meth:`write`.
        """
        if not isinstance(self.array, np.ndarray):
            return None
        where: tuple[Any, ...] = (*index, *region)
        self.written.append(where)
        return self.array[where]

    def write(self, index: tuple[int, ...], region: Region, rgb: np.ndarray,
              confidence: np.ndarray | None, maps: np.ndarray | None = None) -> None:
        """Write a block into the array (unless it already is the buffer's slot).

        Parameters
        ----------
        index, region, rgb, confidence, maps
            As for :meth:`Merger.write`.
        """
        where: tuple[Any, ...] = (*index, *region)
        if not (isinstance(self.array, np.ndarray) and np.shares_memory(rgb, self.array)):
            self.array[where] = rgb
            self.written.append(where)
        self.extras.write(where, confidence, maps)

    def result(self) -> Outputs:
        """Return the caller's array and the in-memory side outputs.

        Returns
        -------
        Outputs
            The caller's array, confidence and channel maps.
        """
        return self.extras.result(self.array)

    def discard(self) -> None:
        """Reset every block written to the array's fill value."""
        fill = getattr(self.array, "fill_value", 0) or 0
        for index in self.written:
            self.array[index] = fill
        self.written.clear()
