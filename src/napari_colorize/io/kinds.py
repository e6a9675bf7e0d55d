"""What kind of file a path names, by its suffix (and, for zarr, its metadata)."""

from __future__ import annotations

from pathlib import Path

from .paths import is_zarr_store

TIFF_SUFFIXES = (".tif", ".tiff", ".svs", ".ndpi", ".scn", ".btf")
PLAIN_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
DICOM_SUFFIXES = (".dcm",)


def is_zarr_path(path: Path) -> bool:
    """Tell whether ``path`` names a zarr store (by suffix, or a folder holding zarr metadata).

    Examples
    --------
    >>> is_zarr_path(Path("in.zarr")), is_zarr_path(Path("in.tif"))
    (True, False)
    """
    return path.suffix.lower() == ".zarr" or is_zarr_store(path)
