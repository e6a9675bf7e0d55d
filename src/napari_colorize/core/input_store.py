"""A zarr input seen through the package's readers: its name, and whether it is complete."""

from __future__ import annotations

from typing import Any


def check_store(image: Any) -> None:
    """Refuse a zarr input that looks like an incomplete copy.

    Its missing chunks would read as fill values and be colorized silently. Bounded work
    whatever the declared shape: only directory stores are inspected (tifffile's TIFF store,
    remote, zip and memory stores list no faithful keys); the store is complete if its last
    chunk (or shard) in C order exists; otherwise it is refused only when none of a few present
    chunks near the end takes the fill value. Absent chunks of a complete-looking store
    are fill values (zarr does not write chunks equal to the fill value). See
    :mod:`napari_colorize.io.stores`.

    Parameters
    ----------
    image : array-like
        The input; anything but a zarr array in a directory store passes unread.

    Raises
    ------
    ValueError
        Chunks are missing (the message counts them), or a chunk cannot be read.

    Examples
    --------
    >>> import tempfile, zarr
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     z = zarr.create_array(f"{tmp}/copy.zarr", shape=(20, 20), chunks=(10, 10),
    ...                           dtype="uint8")
    ...     z[:10, :10] = 1  # a copy that stopped after its first chunk
    ...     check_store(z)
    Traceback (most recent call last):
    ...
    ValueError: zarr array .../copy.zarr is missing 3 of 4 chunks (an incomplete copy?); ...
    """
    from ..io.stores import missing_chunks

    image = base_array(image)
    try:
        found = missing_chunks(image)
    except Exception as exc:  # a corrupt chunk met while sampling
        text = " ".join(str(exc).split())
        raise ValueError(
            f"{zarr_name(image)}: cannot read a chunk: {type(exc).__name__}: {text}"
        ) from None
    if found is None:
        return
    missing, total = found
    if missing == total:
        raise ValueError(
            f"{zarr_name(image)} is missing {missing} of {total} chunks (every pixel would be "
            "the fill value; an incomplete copy?); re-copy it"
        )
    raise ValueError(
        f"{zarr_name(image)} is missing {missing} of {total} chunks "
        "(an incomplete copy?); re-copy it, or fill it explicitly"
    )


def zarr_name(image: Any) -> str:
    """Name a zarr array for messages.

    Parameters
    ----------
    image : array-like
        Any array (the package's lazy readers are looked through).

    Returns
    -------
    str
        ``"zarr array <store>/<path>"`` for a zarr array, else ``""``.

    Examples
    --------
    >>> import numpy as np
    >>> zarr_name(np.zeros((2, 2)))
    ''
    >>> import zarr
    >>> zarr_name(zarr.zeros((2, 2)))
    'zarr array memory://...'
    """
    image = base_array(image)
    store = getattr(image, "store", None)
    if store is None or not hasattr(image, "nchunks"):
        return ""
    where = str(store).removeprefix("file://")
    path = getattr(image, "path", "")
    return f"zarr array {where}/{path}".rstrip("/")


def base_array(image: Any) -> Any:
    """Unwrap the package's lazy readers down to the array they read.

    Parameters
    ----------
    image : array-like
        An array, or a reader of :mod:`napari_colorize.io.arrays` wrapping one (``.source``).

    Returns
    -------
    array-like
        The innermost ``.source``, or ``image`` itself.

    Examples
    --------
    >>> import numpy as np
    >>> array = np.zeros((2, 2))
    >>> base_array(array) is array
    True
    """
    # the readers say so with a class attribute: core does not import io's classes (io's
    # readers import core's checks)
    while getattr(type(image), "wraps_source", False):
        image = image.source
    return image
