"""Output paths: the format a suffix picks, refusing taken paths, removing partial outputs."""

from __future__ import annotations

import shutil
from pathlib import Path

OUTPUT_SUFFIXES = (".ome.zarr", ".zarr", ".ome.tif", ".ome.tiff", ".tif", ".tiff", ".png")


def output_kind(path: str | Path) -> str:
    """``"zarr"``, ``"tiff"`` or ``"png"`` from the output path's suffix."""
    name = str(path).lower().rstrip("/")
    if name.endswith(".zarr"):
        return "zarr"
    if name.endswith((".tif", ".tiff")):
        return "tiff"
    if name.endswith(".png"):
        return "png"
    raise ValueError(f"output {path} must end in one of {', '.join(OUTPUT_SUFFIXES)}")


def check_output(path: str | Path, overwrite: bool = False) -> Path:
    """Check an output path first: known suffix, free (or ``overwrite``), parent exists."""
    path = Path(path)
    output_kind(path)
    if path.exists() and not overwrite:
        from .readers import read_metadata

        if read_metadata(path).get("complete") is False:
            raise ValueError(
                f"output {path} exists and is incomplete (an interrupted run); pass resume=True "
                "(--resume) to continue it, or overwrite=True (--overwrite) to start again"
            )
        raise ValueError(
            f"output {path} already exists; pass overwrite=True (--overwrite) to replace it"
        )
    if not path.parent.exists():
        raise ValueError(f"output folder {path.parent} does not exist")
    return path


def _temp(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def remove(path: str | Path) -> None:
    """Delete a file or a folder (a zarr store); nothing if it is not there."""
    path = Path(path)
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _replace(tmp: Path, path: Path) -> None:
    remove(path)
    tmp.replace(path)
