"""Lazy image readers: TIFF/OME-TIFF/SVS (level 0), zarr/OME-Zarr, PNG/JPEG.

Large files are opened lazily (a zarr view of the TIFF, or the zarr array itself) so the engine
reads only the blocks it needs; small formats are decoded to numpy.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

TIFF_SUFFIXES = (".tif", ".tiff", ".svs", ".ndpi", ".scn", ".btf")
PLAIN_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
#: Folder inside an unfinished OME-Zarr result naming its finished blocks (removed when complete).
DONE_FOLDER = ".napari_colorize_done"


def is_zarr_path(path: Path) -> bool:
    """Whether ``path`` names a zarr store (by suffix, or a folder holding zarr metadata)."""
    if path.suffix == ".zarr" or path.name.endswith(".ome.zarr"):
        return True
    return path.is_dir() and any((path / f).exists() for f in ("zarr.json", ".zarray", ".zgroup"))


def _read_tiff(path: Path) -> Any:
    import tifffile
    import zarr

    with tifffile.TiffFile(path) as tif:
        if not tif.series:
            raise ValueError("no image series")
        series = tif.series[0]
        if series.is_pyramidal or len(series.levels) > 1 or series.dataoffset is None:
            return zarr.open(series.aszarr(level=0), mode="r")
    return tifffile.memmap(path, mode="r")


def incomplete_message(path: str | Path) -> str | None:
    """A one-line warning if ``path`` is an unfinished napari-colorize result, else None."""
    path = Path(path)
    if read_metadata(path).get("complete") is not False:
        return None
    done = path / DONE_FOLDER
    blocks = len(list(done.iterdir())) if done.is_dir() else 0
    return (
        f"{path} is incomplete (an interrupted run; {blocks} blocks written): finish it with "
        "`napari-colorize colorize IN OUT --resume` or colorize(..., resume=True)"
    )


def _read_zarr(path: Path) -> Any:
    import zarr

    message = incomplete_message(path)
    if message:
        warnings.warn(message, stacklevel=3)
    node = zarr.open(path, mode="r")
    if isinstance(node, zarr.Array):
        return node
    attrs = dict(node.attrs)
    ome = attrs.get("ome", attrs)
    multiscales = ome.get("multiscales")
    if multiscales:
        return node[multiscales[0]["datasets"][0]["path"]]
    arrays = list(node.array_keys())
    if len(arrays) == 1:
        return node[arrays[0]]
    raise ValueError(f"zarr group holds {len(arrays)} arrays and no OME multiscales metadata")


def read_image(path: str | Path) -> Any:
    """Open an image file lazily; returns a numpy, numpy-memmap or zarr array.

    Raises ``ValueError`` naming the file when it is missing, unreadable or truncated.

    Examples
    --------
    >>> arr = read_image("slide.svs")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"cannot read {path}: no such file")
    suffix = path.suffix.lower()
    try:
        if is_zarr_path(path):
            arr = _read_zarr(path)
        elif suffix in TIFF_SUFFIXES:
            arr = _read_tiff(path)
        elif suffix in PLAIN_SUFFIXES:
            import imageio.v3 as iio

            arr = np.asarray(iio.imread(path))
            if arr.ndim == 3 and arr.shape[-1] == 2:  # gray + alpha: the alpha is not an image
                arr = arr[..., 0]
        else:
            raise ValueError(
                f"unknown file type {suffix!r} (expected one of "
                f"{', '.join(TIFF_SUFFIXES + PLAIN_SUFFIXES)}, .zarr)"
            )
    except Exception as exc:  # decoders raise many types for truncated files
        raise ValueError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None
    return arr


def as_rgb_uint8(arr: Any, label: str = "image") -> np.ndarray:
    """uint8 RGB ``(..., 3)`` from RGB(A) data: floats in [0, 1] or [0, 255], or wider integers
    (scaled by their range when they exceed 255). Alpha is dropped."""
    arr = np.asarray(arr)
    if arr.ndim < 3 or arr.shape[-1] not in (3, 4):
        raise ValueError(f"{label} is not an RGB image (shape {arr.shape})")
    arr = arr[..., :3]
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "f":
        if arr.size and np.nanmax(arr) <= 1.0:
            arr = arr * 255
    elif arr.dtype.kind in "ui" and arr.size and arr.max() > 255:
        arr = arr / np.iinfo(arr.dtype).max * 255
    return np.clip(np.round(arr), 0, 255).astype(np.uint8)


def read_rgb(path: str | Path) -> np.ndarray:
    """Read a colour image fully as uint8 RGB ``(H, W, 3)`` (alpha dropped)."""
    arr = read_image(path)
    try:
        arr = np.asarray(arr[...])
    except Exception as exc:
        raise ValueError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None
    if arr.ndim != 3:
        raise ValueError(f"{path} is not an RGB image (shape {arr.shape})")
    return as_rgb_uint8(arr, str(path))


def read_metadata(path: str | Path) -> dict:
    """The ``napari_colorize`` block of an OME-Zarr written by this package (or ``{}``)."""
    path = Path(path)
    meta = path / "zarr.json"
    if not meta.exists():
        return {}
    attrs = json.loads(meta.read_text()).get("attributes", {})
    return attrs.get("napari_colorize", {})


def channel_axis(path: str | Path) -> tuple[int, int] | None:
    """``(axis, size)`` of a channel axis with more than one channel in a TIFF's or OME-Zarr's
    (NGFF 0.4 or 0.5) metadata, else None. Interleaved RGB samples (the last axis) do not count:
    they are refused as RGB later; planar RGB samples do count."""
    path = Path(path)
    try:
        if is_zarr_path(path):
            import zarr

            attrs = dict(zarr.open(path, mode="r").attrs)
            axes = attrs.get("ome", attrs).get("multiscales", [{}])[0].get("axes", [])
            names = [a.get("type") == "channel" or a.get("name") == "c" for a in axes]
            shape = _read_zarr(path).shape
        elif path.suffix.lower() in TIFF_SUFFIXES:
            import tifffile

            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                last = len(series.axes) - 1
                names = [a == "C" or (a == "S" and i < last) for i, a in enumerate(series.axes)]
                shape = series.shape
        else:
            return None
    except (OSError, ValueError, KeyError, IndexError, TypeError, json.JSONDecodeError):
        return None
    for i, is_channel in enumerate(names):
        if is_channel and i < len(shape) and shape[i] > 1:
            return i, int(shape[i])
    return None
