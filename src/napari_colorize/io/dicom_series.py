"""The slices of a DICOM folder: their position along the slice normal, order, and checks."""

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
