"""Windows of a 2-D plane: what a tile reads and owns, and the arithmetic of windows.

A window is a ``(rows, cols)`` pair of slices with explicit starts and stops. The tile plans
of :mod:`.tiling` make the :class:`TileSpec` objects (re-exported there).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TileSpec:
    """One tile of a 2-D plane.

    Parameters
    ----------
    read : tuple of slice
        The window (rows, cols, in plane pixels) fed to the model.
    crop : tuple of slice
        The part of ``read`` that this tile alone owns when tiles are not blended: the crops of
        a plan cover every pixel once.

    Examples
    --------
    >>> from napari_colorize.core.tiling import plan_tiles
    >>> tile = plan_tiles((300, 200), tile_size=256, overlap=32)[0]
    >>> tile.read
    (slice(0, 256, None), slice(0, 200, None))
    >>> tile.crop
    (slice(0, 150, None), slice(0, 200, None))
    """

    read: tuple[slice, slice]
    crop: tuple[slice, slice]


def make_tile(rows: tuple[int, ...], cols: tuple[int, ...]) -> TileSpec:
    """Make the :class:`TileSpec` of one row entry and one column entry of two axis plans.

    Parameters
    ----------
    rows, cols : tuple of int
        ``(start, stop, own_start, own_stop)``: entries of two
        :class:`~napari_colorize.core.tiling.AxisPlan`.

    Returns
    -------
    TileSpec
        ``read`` from the starts and stops, ``crop`` from the owned bounds.

    Examples
    --------
    >>> tile = make_tile((0, 4, 0, 3), (2, 6, 3, 6))
    >>> tile.read, tile.crop
    ((slice(0, 4, None), slice(2, 6, None)), (slice(0, 3, None), slice(3, 6, None)))
    """
    return TileSpec(
        read=(slice(rows[0], rows[1]), slice(cols[0], cols[1])),
        crop=(slice(rows[2], rows[3]), slice(cols[2], cols[3])),
    )


def intersect(a: tuple[slice, slice], b: tuple[slice, slice]) -> tuple[slice, slice]:
    """Intersect two windows.

    Parameters
    ----------
    a, b : tuple of slice
        ``(rows, cols)`` windows with explicit starts and stops.

    Returns
    -------
    tuple of slice
        Their overlap; an empty slice on an axis where they do not meet.

    Examples
    --------
    >>> intersect((slice(0, 10), slice(5, 8)), (slice(4, 20), slice(0, 6)))
    (slice(4, 10, None), slice(5, 6, None))
    >>> intersect((slice(0, 4), slice(0, 4)), (slice(6, 9), slice(0, 4)))[0]
    slice(6, 6, None)
    """

    def overlap(x: slice, y: slice) -> slice:
        start = max(x.start, y.start)
        return slice(start, max(start, min(x.stop, y.stop)))

    return (overlap(a[0], b[0]), overlap(a[1], b[1]))


def relative(window: tuple[slice, slice], origin: tuple[slice, slice]) -> tuple[slice, slice]:
    """Express ``window`` in coordinates relative to ``origin``'s start.

    Parameters
    ----------
    window, origin : tuple of slice
        ``(rows, cols)`` windows in the same coordinates.

    Returns
    -------
    tuple of slice
        ``window`` shifted by ``origin``'s starts.

    Examples
    --------
    >>> relative((slice(5, 10), slice(7, 9)), (slice(4, 20), slice(2, 6)))
    (slice(1, 6, None), slice(5, 7, None))
    """
    return (slice(window[0].start - origin[0].start, window[0].stop - origin[0].start),
            slice(window[1].start - origin[1].start, window[1].stop - origin[1].start))
