"""The geometry of DICOM slices: position along the slice normal, order, spacing, and checks.

Spacing is read where classic files keep it (top-level ``PixelSpacing``,
``SpacingBetweenSlices``, ``SliceThickness``) and where enhanced multi-frame files do (the
``PixelMeasuresSequence`` of their shared, else first per-frame, functional groups).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np


def position(ds: Any) -> float | None:
    """Position of a slice along its normal in mm, or None without position and orientation.

    ``ImagePositionPatient`` projected on the normal of ``ImageOrientationPatient``: slices of
    an oblique series sort correctly, whatever axis the normal is closest to.
    """
    ipp, iop = ds.get("ImagePositionPatient"), ds.get("ImageOrientationPatient")
    if ipp is None or iop is None or len(ipp) != 3 or len(iop) != 6:
        return None
    normal = np.cross(np.asarray(iop[:3], float), np.asarray(iop[3:], float))
    return float(np.dot(normal, np.asarray(ipp, float)))


def _number(value: Any) -> float | None:
    """Read a positive decimal string or number as a float; None for anything else."""
    try:
        found = float(value)
    except (TypeError, ValueError):
        return None
    return found if found > 0 and np.isfinite(found) else None


def _pixel_measures(ds: Any) -> list[Any]:
    """Find an enhanced file's PixelMeasuresSequence items: shared, then the first frame's."""
    found = []
    for name in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        groups = ds.get(name)
        measures = groups[0].get("PixelMeasuresSequence") if groups else None
        if measures:
            found.append(measures[0])
    return found


def pixel_spacing(ds: Any) -> tuple[float, float] | None:
    """Row and column spacing of a file's pixels in mm, or None where it does not say.

    Top-level ``PixelSpacing``, else that of the functional groups' pixel measures.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> from pydicom.sequence import Sequence
    >>> measures, shared, ds = Dataset(), Dataset(), Dataset()
    >>> measures.PixelSpacing = [0.25, 0.5]
    >>> shared.PixelMeasuresSequence = Sequence([measures])
    >>> ds.SharedFunctionalGroupsSequence = Sequence([shared])
    >>> pixel_spacing(ds), pixel_spacing(Dataset())
    ((0.25, 0.5), None)
    """
    for item in (ds, *_pixel_measures(ds)):
        values = item.get("PixelSpacing")
        spacing = [_number(v) for v in values] if values is not None else []
        if len(spacing) == 2 and spacing[0] is not None and spacing[1] is not None:
            return spacing[0], spacing[1]
    return None


def frame_step(ds: Any) -> float | None:
    """Distance between the frames of a multi-frame file in mm, or None where it does not say.

    ``SpacingBetweenSlices``, else ``SliceThickness`` (contiguous slices), each from the
    functional groups' pixel measures, else from the top level.
    """
    places = (*_pixel_measures(ds), ds)
    for tag in ("SpacingBetweenSlices", "SliceThickness"):
        for item in places:
            found = _number(item.get(tag))
            if found is not None:
                return found
    return None


def order_slices(headers: list[tuple[Path, Any]]) -> list[tuple[Path, Any]]:
    """Sort ``(path, dataset)`` pairs by position, else by ``InstanceNumber``, else keep them.

    Headers arrive in file name order, which is the last resort.
    """
    positions = [position(ds) for _, ds in headers]
    if all(p is not None for p in positions):
        numbers = [int(ds.get("InstanceNumber", 0) or 0) for _, ds in headers]
        keys: list[tuple] = list(zip(positions, numbers, range(len(headers)), strict=True))
    elif all(ds.get("InstanceNumber") is not None for _, ds in headers):
        keys = [(int(ds.InstanceNumber), i) for i, (_, ds) in enumerate(headers)]
    else:
        keys = [(i,) for i in range(len(headers))]  # file name order
    return [h for _, h in sorted(zip(keys, headers, strict=True), key=lambda kv: kv[0])]


def check_one_per_position(headers: list[tuple[Path, Any]]) -> None:
    """Refuse a copied file (same SOPInstanceUID) or two slices at one position.

    Stacking either would add a plane that is not there (a copy), or interleave two
    acquisitions (echoes, phases or times share a series and positions).

    Parameters
    ----------
    headers : list of (Path, Dataset)
        The slices of one series, in file name order.

    Raises
    ------
    ValueError
        Naming the two files.
    """
    seen: dict[str, Path] = {}
    for path, ds in headers:
        uid = str(ds.get("SOPInstanceUID", "") or "")
        if uid in seen:
            raise ValueError(
                f"{seen[uid]} and {path} are the same slice (SOPInstanceUID {uid}); "
                "remove the copy"
            )
        if uid:
            seen[uid] = path
    placed = [(pos, path) for path, ds in headers if (pos := position(ds)) is not None]
    if len(placed) < len(headers):
        return  # ordered by InstanceNumber or name: nothing to compare
    for (pos, a), (next_pos, b) in itertools.pairwise(sorted(placed)):
        if abs(next_pos - pos) < 1e-3:  # mm; DS strings of one position parse equal
            raise ValueError(
                f"{a} and {b} are two slices at the same position ({pos:g} mm along the "
                "slice normal; several echoes or times?); a stack needs one slice per position"
            )


def check_even_spacing(headers: list[tuple[Path, Any]]) -> None:
    """Refuse slices that are not evenly spaced along their normal (a missing slice).

    Stacking them would place every slice after a gap at the wrong depth. A step may differ
    from the median step by 1 % of it plus 1 micrometre (positions are rounded decimal text).

    Parameters
    ----------
    headers : list of (Path, Dataset)
        The slices of one series; without positions for all, nothing is checked.

    Raises
    ------
    ValueError
        Naming the two files around the largest gap.
    """
    placed = sorted(((pos, path) for path, ds in headers if (pos := position(ds)) is not None),
                    key=lambda placed: placed[0])
    if len(placed) < 3 or len(placed) < len(headers):
        return
    steps = np.diff([pos for pos, _ in placed])
    median = float(np.median(steps))
    off = np.abs(steps - median)
    worst = max(range(len(steps)), key=lambda i: (off[i], steps[i]))  # ties: the wider gap
    if off[worst] > 1e-2 * median + 1e-3:
        raise ValueError(
            f"{placed[worst][1]} and {placed[worst + 1][1]} are {steps[worst]:g} mm apart along "
            f"the slice normal, the other slices {median:g} mm (a missing slice?); a stack "
            "needs evenly spaced slices"
        )
