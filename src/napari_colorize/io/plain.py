"""PNG, JPEG and BMP: small formats, decoded whole; stitched mosaics past Pillow's limit too."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .alpha import over_white

__all__ = ["read_plain"]

_MAGIC = {".png": (b"\x89PNG\r\n\x1a\n",), ".jpg": (b"\xff\xd8\xff",),
          ".jpeg": (b"\xff\xd8\xff",), ".bmp": (b"BM",)}

_PIL_LIMIT = threading.Lock()


@contextlib.contextmanager
def _pixel_limit_lifted(path: Path, kind: str) -> Iterator[None]:
    """Decode a PNG/JPEG of any size that fits in memory.

    Pillow refuses images over about 179 MP as "decompression bombs"; stitched microscope
    mosaics are often larger. The size is read from the header and checked against available
    memory instead, then Pillow's limit is lifted for this decode only.
    """
    import psutil
    from PIL import Image

    with _PIL_LIMIT:
        limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            with Image.open(path) as im:  # reads the header only
                need = im.width * im.height * len(im.getbands()) * (2 if ";16" in im.mode else 1)
            available = psutil.virtual_memory().available
            if need > available:
                raise ValueError(
                    f"a {im.width} x {im.height} {kind} needs {need / 2**30:.1f} GB to decode and "
                    f"{available / 2**30:.1f} GB are free; convert it to a tiled TIFF or OME-Zarr "
                    "(read in blocks)"
                )
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = limit


def read_plain(path: Path, suffix: str) -> np.ndarray:
    """Decode a PNG, JPEG or BMP file whole (any size that fits in memory).

    Parameters
    ----------
    path : Path
        The file.
    suffix : str
        Its lower-case suffix (names the format in errors).

    Returns
    -------
    ndarray
        ``(H, W)`` gray (a gray + alpha image composited over white, so transparent pixels
        read as glass; a palette of grays looked up) or ``(H, W, 3|4)`` colour (CMYK and YCCK
        JPEGs converted to RGB as Pillow does).

    Raises
    ------
    ValueError
        If the file is empty, does not start like an image, or needs more memory than is
        free (checked from the header, before decoding).

    Examples
    --------
    >>> import tempfile
    >>> import imageio.v3 as iio
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     iio.imwrite(Path(tmp) / "g.png", np.zeros((3, 4), np.uint8))
    ...     read_plain(Path(tmp) / "g.png", ".png").shape
    (3, 4)
    """
    import imageio.v3 as iio

    kind = {".jpg": "JPEG", ".jpeg": "JPEG"}.get(suffix, suffix[1:].upper())
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head:
        raise ValueError(f"not a {kind} image (empty file)")
    if not any(head.startswith(m) for magics in _MAGIC.values() for m in magics):
        raise ValueError(f"not a {kind} image (it starts with {head[:4]!r})")
    with _pixel_limit_lifted(path, kind):
        arr = _decode_special(path)
        if arr is None:
            arr = np.asarray(iio.imread(path, plugin="pillow", rotate=True))  # EXIF orientation
    if arr.ndim == 3 and arr.shape[-1] == 2:  # gray + alpha: over white, as colours with alpha
        top = float(np.iinfo(arr.dtype).max) if arr.dtype.kind in "ui" else 1.0
        opacity = arr[..., 1].astype(np.float64) / top
        arr = np.rint(over_white(arr[..., 0], opacity, top)).astype(arr.dtype)
    return arr


def _decode_special(path: Path) -> np.ndarray | None:
    """Decode what Pillow's plain reading gets wrong for us; None for the rest.

    CMYK (and YCCK, which Pillow decodes to CMYK) would read as four "RGBA" channels: they are
    converted to RGB with Pillow's ``convert("RGB")``. A palette whose used entries are all gray
    would read as RGB: its indices are looked up as uint8 gray.
    """
    from PIL import Image

    with Image.open(path) as im:
        if im.mode == "CMYK":
            return np.asarray(im.convert("RGB"))
        if im.mode != "P":
            return None
        indices = np.asarray(im)
        palette = im.getpalette("RGB") or []
    table = np.asarray(palette, np.uint8).reshape(-1, 3)
    used = np.unique(indices)
    if not used.size or used[-1] >= len(table):
        return None
    colours = table[used]
    if not (np.all(colours[:, 0] == colours[:, 1]) and np.all(colours[:, 0] == colours[:, 2])):
        return None
    gray: np.ndarray = table[:, 0][indices]
    return gray
