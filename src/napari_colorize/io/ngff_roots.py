"""Where the image of a zarr path lies: a bioformats2raw root holds its images in "0", "1"...

Every reader of a zarr input (pixels, channels, colours, axes) looks through
:func:`first_image`, so a root reads as its first image in all of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["bioformats2raw_root", "first_image"]


def bioformats2raw_root(node: Any) -> bool:
    """Tell whether a zarr group is a bioformats2raw root (images in "0", "1"...; NGFF 0.4/0.5).

    Examples
    --------
    >>> import zarr
    >>> root = zarr.open_group(zarr.storage.MemoryStore(), mode="w")
    >>> root.attrs["bioformats2raw.layout"] = 3
    >>> _ = root.create_group("0")
    >>> bioformats2raw_root(root)
    True
    """
    attrs = dict(getattr(node, "attrs", {}))
    found = attrs.get("ome")
    ome: dict[str, Any] = found if isinstance(found, dict) else {}
    layout = "bioformats2raw.layout" in attrs or "bioformats2raw.layout" in ome
    has_first = hasattr(node, "__contains__") and "0" in node
    return layout and has_first and "multiscales" not in attrs and "multiscales" not in ome


def first_image(path: str | Path) -> Path:
    """Give the image group a zarr path names: a bioformats2raw root's first image, else itself.

    Every reader of a zarr input (pixels, channels, colours, axes) looks through this, so a
    root reads as the image ``0`` in all of them.

    Examples
    --------
    >>> first_image("no-such.zarr")
    PosixPath('no-such.zarr')
    """
    import zarr

    path = Path(path)
    try:
        node = zarr.open(path, mode="r")
    except Exception:  # not zarr, or unreadable: the reader says so
        return path
    return path / "0" if bioformats2raw_root(node) else path
