"""PNG, JPEG and BMP: small formats, decoded whole; stitched mosaics past Pillow's limit too."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
        read as glass, and so is PNG transparency; a palette of grays looked up) or
        ``(H, W, 3|4)`` colour (CMYK and YCCK JPEGs converted to RGB as Pillow does), as
        viewers show it (EXIF orientation applied).

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
    converted to RGB with Pillow's ``convert("RGB")``. A palette reads as its colours, or as
    uint8 gray when its used entries are all gray. A 16-bit gray + alpha PNG, which Pillow
    reads as 8-bit RGBA, is decoded by imagecodecs as it is stored. PNG transparency
    (``tRNS``: one gray or RGB value, or alpha per palette entry) is composited over white,
    like an alpha channel. The EXIF orientation is applied, as for the rest.
    """
    from PIL import Image

    with Image.open(path) as im:
        args = im.tile[0][3] if im.tile else None  # a PNG's: how it stores its samples
        rawmode = args if isinstance(args, str) else None
        if im.mode == "CMYK":
            arr = np.asarray(im.convert("RGB"))
        elif im.mode == "P":
            arr = _palette(im)
        elif rawmode == "LA;16B":
            import imagecodecs

            arr = np.asarray(imagecodecs.png_decode(path.read_bytes()))
        elif "transparency" in im.info and (im.mode in ("L", "I;16", "I;16B", "I")
                                            or rawmode == "RGB"):  # 8-bit RGB: exact values
            arr = _keyed(np.asarray(im), im.info["transparency"], rawmode)
        else:
            return None
        orientation = im.getexif().get(0x0112, 1)
    return _oriented(arr, orientation)


def _palette(im: Any) -> np.ndarray:
    """Look a palette image's indices up: gray when its used entries are gray, else RGB."""
    indices = np.asarray(im)
    table = np.asarray(im.getpalette("RGB") or [], np.uint8).reshape(-1, 3)
    used = np.unique(indices)
    if used.size and used[-1] >= len(table):  # indices past the table: black, as Pillow shows
        table = np.concatenate([table, np.zeros((used[-1] + 1 - len(table), 3), np.uint8)])
    alpha = np.full(len(table), 255, np.uint8)
    key = im.info.get("transparency")
    if isinstance(key, bytes):  # alpha of the first entries
        alpha[: len(key)] = np.frombuffer(key, np.uint8)[: len(alpha)]
    elif isinstance(key, int) and 0 <= key < len(alpha):
        alpha[key] = 0
    if alpha.min() < 255:  # over white, entry by entry
        table = np.rint(over_white(table.astype(np.float64), alpha[:, None] / 255, 255.0))
        table = table.astype(np.uint8)
    colours = table[used]
    if np.all(colours[:, :1] == colours):
        return table[:, 0][indices]
    return table[indices]


def _keyed(arr: np.ndarray, key: object, rawmode: str | None) -> np.ndarray:
    """Composite the pixels equal to a PNG's transparent gray or RGB value over white."""
    if arr.dtype.kind == "i":  # Pillow's 32-bit "I" mode for 16-bit gray
        arr = arr.astype(np.uint16)
    bits = {"L;2": 2, "L;4": 4}.get(rawmode or "")
    if bits and isinstance(key, int):  # Pillow scales low-bit gray to 8 bits, not the key
        key = round(key * 255 / (2**bits - 1))
    value = np.asarray(key, arr.dtype)
    clear = np.all(arr == value, axis=-1) if arr.ndim == 3 else arr == value
    out = arr.copy()
    out[clear] = np.iinfo(arr.dtype).max  # white, in 8 or 16 bits
    return out


def _oriented(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Turn pixels as their EXIF orientation says viewers show them (Pillow's exif_transpose).

    Examples
    --------
    >>> _oriented(np.array([[1, 2], [3, 4]]), 6).tolist()  # rotate 90 degrees clockwise
    [[3, 1], [4, 2]]
    """
    turned = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }.get(orientation)
    return arr if turned is None else np.ascontiguousarray(turned(arr))
