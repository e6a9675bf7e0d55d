"""Colour hints as users give them: points with the colour wanted there, read and checked.

Hints come as ``(points, colours)``, a dict, or a CSV file (one column per image axis, then r,
g, b). :func:`parse_hints` checks them (one colour per point, finite numbers, colours in 0-1 or
0-255) and :func:`split_by_plane` groups them by plane, leaving out points outside the image.
How a plane's hints then change the colour is :mod:`.hint_field`.

The hint colour's own lightness is not used: output lightness always comes from the image. A
hint colour outside the sRGB gamut is reduced into it like any prediction; a gray hint asks for
no colour.
"""

from __future__ import annotations

import csv
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


class HintWarning(UserWarning):
    """Some colour hints fall outside the image (or its planes) and were left out."""


@dataclass(frozen=True)
class Hints:
    """Colour hints: points in data coordinates and the sRGB colour wanted at each.

    Made by :func:`parse_hints`, which checks and normalises what the user gives.

    Parameters
    ----------
    points : numpy.ndarray
        float64 ``(N, ndim)``: leading indices, row, column.
    colours : numpy.ndarray
        float64 sRGB ``(N, 3)`` in [0, 1].

    Examples
    --------
    >>> hints = parse_hints(([[10, 20]], [(0, 0, 255)]), ndim=2)
    >>> len(hints), hints.colours
    (1, array([[0., 0., 1.]]))
    """

    points: np.ndarray
    colours: np.ndarray

    def __len__(self) -> int:
        """Count the hints."""
        return len(self.points)

    def to_metadata(self) -> dict:
        """Describe the hints for a result's metadata (JSON: rounded lists).

        Returns
        -------
        dict
            ``points`` (rounded to 3 decimals) and ``colors`` (sRGB 0-1, 4 decimals).

        Examples
        --------
        >>> parse_hints(([[10, 20]], [(0, 0, 255)]), ndim=2).to_metadata()
        {'points': [[10.0, 20.0]], 'colors': [[0.0, 0.0, 1.0]]}
        """
        return {"points": self.points.round(3).tolist(), "colors": self.colours.round(4).tolist()}


#: How far from a whole number a hint's plane index may be (napari's float coordinates).
PLANE_TOLERANCE = 1e-3
#: Most hints one run takes: each costs a model call and a pass over every pixel of its plane.
MAX_HINTS = 1000
#: Largest hints CSV read (bytes); far more than MAX_HINTS rows need.
MAX_CSV_BYTES = 1 << 20


def parse_hints(hints: Any, ndim: int) -> Hints:
    """Read and check colour hints given in any of the accepted forms.

    Parameters
    ----------
    hints : tuple, dict, Hints, str or path
        ``(points, colours)``; a dict with ``points`` and ``colors`` (or ``colours``); a
        :class:`Hints`; or a CSV path (columns: one per image axis, then r, g, b). Points are
        ``(N, ndim)`` (a single point may be flat); colours are sRGB in 0-1 or 0-255, RGB or
        RGBA (alpha is dropped).
    ndim : int
        The image's number of axes.

    Returns
    -------
    Hints
        float64 points ``(N, ndim)`` and colours ``(N, 3)`` in [0, 1].

    Raises
    ------
    ValueError
        An unknown form, points with the wrong number of coordinates, more than ``MAX_HINTS``
        points, not one colour per point, non-finite numbers, colours outside 0-255, or an
        unreadable CSV file.

    Examples
    --------
    >>> parse_hints({"points": [[1, 2, 3]], "colors": [[0.5, 0.5, 0.5, 1.0]]}, ndim=3)
    Hints(points=array([[1., 2., 3.]]), colours=array([[0.5, 0.5, 0.5]]))
    >>> parse_hints(([[1, 2]], [(255, 0, 0)]), ndim=3)
    Traceback (most recent call last):
    ...
    ValueError: hint points need 3 coordinates each (one per image axis); got points shaped (1, 2)
    """
    points: Any
    colours: Any
    if isinstance(hints, Hints):
        points, colours = hints.points, hints.colours
    elif isinstance(hints, (str, Path)):
        points, colours = read_hints_csv(hints, ndim)
        try:
            return parse_hints((points, colours), ndim)
        except ValueError as exc:  # name the file
            raise ValueError(f"hints {hints}: {exc}") from None
    elif isinstance(hints, dict):
        unknown = sorted(map(str, set(hints) - {"points", "colors", "colours"}))
        if unknown or "points" not in hints:
            raise ValueError(
                f"hints dict needs keys 'points' and 'colors'; got {sorted(map(str, hints))}"
            )
        points = hints["points"]
        colours = hints.get("colors", hints.get("colours", []))
    else:
        try:
            points, colours = hints
        except (TypeError, ValueError):
            raise ValueError(
                f"hints must be (points, colours), a dict or a CSV path; got {type(hints).__name__}"
            ) from None
    try:
        points = np.asarray(points, dtype=np.float64)
        colours = np.asarray(colours, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("hint points and colours must be numbers") from None
    if points.size == 0:
        points = np.zeros((0, ndim))
    elif points.ndim == 1 and points.size == ndim:
        points = points[None]  # a single point
    if points.ndim != 2 or points.shape[1] != ndim:
        raise ValueError(
            f"hint points need {ndim} coordinates each (one per image axis); got "
            f"points shaped {points.shape}"
        )
    if len(points) > MAX_HINTS:
        raise ValueError(f"hints: {len(points)} points; at most {MAX_HINTS} are supported")
    if colours.ndim == 0:
        raise ValueError(f"hints need one RGB colour per point; got the single number {colours}")
    colours = colours.reshape(-1, colours.shape[-1]) if colours.size else np.zeros((0, 3))
    if colours.shape[-1] == 4:  # RGBA face colours from napari: alpha is not a colour
        colours = colours[:, :3]
    if len(points) != len(colours) or colours.shape[-1] != 3:
        raise ValueError(
            f"hints need one RGB colour per point; got {len(points)} points and colours shaped "
            f"{colours.shape}"
        )
    if not np.isfinite(points).all() or not np.isfinite(colours).all():
        raise ValueError("hint points and colours must be finite numbers")
    planes = points[:, :-2]
    between = np.abs(planes - np.round(planes)) > PLANE_TOLERANCE
    if between.any():  # rounding would pick a plane the user did not
        row = int(np.nonzero(between.any(axis=1))[0][0])
        raise ValueError(
            f"hint {row} lies between planes (plane coordinates {planes[row].tolist()}); "
            "give whole plane indices"
        )
    if colours.size and (colours.min() < 0 or colours.max() > 255):
        raise ValueError(
            f"hint colours must be in 0-1 or 0-255; got values from "
            f"{colours.min():g} to {colours.max():g}"
        )
    if colours.size and colours.max() > 1:
        # 0-255 colours are whole numbers; a fraction beside them is a 0-1 colour in the mix
        fractional = (colours != np.round(colours)).any(axis=1) & (colours.max(axis=1) <= 1)
        if fractional.any():
            i = int(np.argmax(fractional))
            raise ValueError(
                f"hint colours mix 0-1 and 0-255: colour {i} is "
                f"{tuple(float(c) for c in colours[i])} beside values up to "
                f"{colours.max():g}; give every colour in one scale"
            )
        colours = colours / 255
    return Hints(points, colours)


def read_hints_csv(path: str | Path, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Read a hints CSV file: rows of ``axis_0, ..., axis_{ndim-1}, r, g, b``.

    Cells may be separated by commas, semicolons or tabs (the one that splits the first row
    into most cells) and quoted, as spreadsheet programs write them; a UTF-8 byte-order mark is
    allowed. A first row with no number in it is a header and skipped. The file is at most
    ``MAX_CSV_BYTES`` long.

    Parameters
    ----------
    path : str or path
        The CSV file.
    ndim : int
        The image's number of axes (coordinates per row).

    Returns
    -------
    points, colours : numpy.ndarray
        float64 ``(N, ndim)`` and ``(N, 3)``, as written (colours not yet scaled).

    Raises
    ------
    ValueError
        The file cannot be read, is not a text file or too large, holds no rows, or a row
        (the first one too, unless all its cells are words) has the wrong number of columns
        or a value that is not a number.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "hints.csv"
    ...     _ = path.write_text("row,col,r,g,b\n20,21,40,60,200\n")
    ...     read_hints_csv(path, ndim=2)
    (array([[20., 21.]]), array([[ 40.,  60., 200.]]))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "excel.csv"
    ...     _ = path.write_text('"20";"21";"40";"60";"200"\n', encoding="utf-8-sig")
    ...     read_hints_csv(path, ndim=2)[0]
    array([[20., 21.]])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "typo.csv"
    ...     _ = path.write_text("2O,21,40,60,200\n")
    ...     read_hints_csv(path, ndim=2)
    Traceback (most recent call last):
    ...
    ValueError: hints .../typo.csv line 1: '2O' is not a number
    """
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"hints {path} is not a file (expected a CSV path)")
        if info.st_size > MAX_CSV_BYTES:
            raise ValueError(
                f"hints {path} is {info.st_size} bytes; a hints CSV holds at most {MAX_HINTS} rows"
            )
        # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark, glued to the first cell
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValueError(
            f"cannot read hints {path}: {exc.strerror or exc} (hints take a CSV path, "
            "(points, colours) or a dict)"
        ) from None
    except UnicodeDecodeError:
        raise ValueError(f"hints {path} is not a text CSV file") from None
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    try:
        rows = [[v.strip() for v in row] for row in _csv_rows([line for _, line in numbered])]
    except csv.Error as exc:
        raise ValueError(f"hints {path} is not a readable CSV file: {exc}") from None
    numbers = [n for n, _ in numbered]  # errors give the file's line, as an editor shows it
    # only a row of words is a header: a number beside a typo ("1O") is a bad first hint
    if rows and not any(_is_number(v) for v in rows[0]):
        rows, numbers = rows[1:], numbers[1:]
    if not rows:
        raise ValueError(
            f"hints {path} holds no hint rows (columns: {ndim} coordinates, then r, g, b)"
        )
    for number, row in zip(numbers, rows, strict=False):
        if len(row) != ndim + 3:
            raise ValueError(
                f"hints {path} line {number} has {len(row)} columns; expected {ndim + 3} "
                f"({ndim} coordinates, then r, g, b)"
            )
        bad = next((v for v in row if not _is_number(v)), None)
        if bad is not None:
            raise ValueError(f"hints {path} line {number}: {bad[:20]!r} is not a number")
    table = np.array([[float(v) for v in row] for row in rows], dtype=np.float64)
    return table[:, :ndim], table[:, ndim:]


#: Cell separators of a hints CSV: comma, and the semicolon and tab of European spreadsheets.
CSV_DELIMITERS = (",", ";", "\t")


def _csv_rows(lines: list[str]) -> list[list[str]]:
    """Split CSV lines at the separator that cuts the first line into most cells."""
    if not lines:
        return []

    def cells(delimiter: str) -> int:
        try:
            return len(next(csv.reader(lines[:1], delimiter=delimiter, skipinitialspace=True)))
        except csv.Error:  # e.g. a field over csv's size limit: not this separator
            return 0

    # max keeps the first of equals: a comma unless another separator splits more
    delimiter = max(CSV_DELIMITERS, key=cells)
    return list(csv.reader(lines, delimiter=delimiter, skipinitialspace=True))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def split_by_plane(hints: Hints, shape: tuple[int, ...]) -> tuple[dict, int]:
    """Group hints by plane, at whole pixels, leaving out those outside the image.

    Parameters
    ----------
    hints : Hints
        Checked hints.
    shape : tuple of int
        The image's shape.

    Returns
    -------
    by_plane : dict
        Flat plane index (into the leading axes) -> list of ``(row, col, colour)``.
    ignored : int
        Hints outside the image.

    Examples
    --------
    >>> hints = parse_hints(([[1, 5, 6], [0, 2, 2], [3, 0, 0]], [(1, 0, 0)] * 3), ndim=3)
    >>> by_plane, ignored = split_by_plane(hints, (2, 8, 8))
    >>> sorted(by_plane), by_plane[1][0][:2], ignored
    ([0, 1], (5, 6), 1)
    """
    leading = shape[:-2]
    by_plane: dict[int, list] = {}
    ignored = 0
    for point, colour in zip(hints.points, hints.colours, strict=True):
        idx = np.round(point).astype(int)
        if (idx < 0).any() or (idx >= np.array(shape)).any():
            ignored += 1
            continue
        plane = int(np.ravel_multi_index(tuple(idx[:-2]), leading)) if leading else 0
        by_plane.setdefault(plane, []).append((int(idx[-2]), int(idx[-1]), colour))
    return by_plane, ignored
