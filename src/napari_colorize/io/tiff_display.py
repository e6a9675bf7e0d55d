"""What a TIFF page's stored values show: MINISWHITE, palettes, 2-7 bit gray, gray + alpha.

:func:`display` says how :class:`~.tiff.DisplayArray` converts a page's values to what a
viewer shows; :func:`palette_colours` gives a palette's colour table (shared by ``from_rgb``
inputs and colour references); :func:`gray_alpha` tells a gray page with an alpha sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .alpha import over_white


@dataclass(frozen=True)
class Alpha:
    """A gray + alpha page's alpha sample, composited over white when read.

    Parameters
    ----------
    axis : int
        The samples axis (gray, alpha) of the stored array.
    kind : {"straight", "premultiplied"}
        Unassociated alpha (the gray is still to be multiplied by it) or associated alpha.
    white : float
        Full intensity of the gray as shown.
    opaque : float
        The alpha value of an opaque pixel.
    """

    axis: int
    kind: str
    white: float
    opaque: float

    def composite(self, gray: np.ndarray, alpha: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """Composite shown gray over white by its alpha (as a gray + alpha PNG is), in ``dtype``.

        Examples
        --------
        >>> how = Alpha(0, "straight", 255.0, 255.0)
        >>> how.composite(np.array([100, 100]), np.array([255, 0]), np.dtype(np.uint8)).tolist()
        [100, 255]
        """
        opacity = np.clip(alpha.astype(np.float64) / self.opaque, 0, 1)
        mixed = over_white(gray.astype(np.float64), opacity, self.white, self.kind)
        if dtype.kind == "f":
            return np.asarray(mixed, dtype)
        info = np.iinfo(dtype)
        return np.clip(np.rint(mixed), info.min, info.max).astype(dtype)


def gray_alpha(page: Any) -> str | None:
    """Tell whether a page is gray with one alpha sample (TIFF ExtraSamples 1 or 2).

    Returns
    -------
    str or None
        ``"premultiplied"`` (associated alpha), ``"straight"`` (unassociated alpha), or None
        for anything else (an unspecified extra sample is not alpha).
    """
    import tifffile

    gray = page.photometric in (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.MINISWHITE)
    extra = tuple(int(e) for e in (page.extrasamples or ()))
    if not gray or int(page.samplesperpixel) != 2 or extra not in ((1,), (2,)):
        return None
    if page.dtype is None or np.dtype(page.dtype).kind not in "uif":
        return None
    return "premultiplied" if extra == (1,) else "straight"


def _table(page: Any, path: Path) -> np.ndarray:
    """Read a palette page's colour table, checked: uint16 ``(3, 2**bits)``."""
    table = page.colormap
    bits = int(page.bitspersample)
    if page.dtype is None or page.dtype.char not in "BH" or int(page.samplesperpixel) != 1:
        raise ValueError(
            f"{path}: unsupported palette TIFF ({page.samplesperpixel} samples of {page.dtype} "
            "per pixel; expected one 8- or 16-bit index)"
        )
    if table is None or table.ndim != 2 or table.shape[0] != 3 or table.shape[1] < 2**bits:
        found = "none" if table is None else f"shape {table.shape}"
        raise ValueError(
            f"{path}: corrupt palette TIFF (its colour table is {found}; expected (3, {2**bits}))"
        )
    return np.asarray(table[:, : 2**bits], np.uint16)


def palette_colours(page: Any, path: Path) -> np.ndarray:
    """Read a palette page's colour table as RGB entries ``(N, 3)``.

    uint8 when every value fits in 8 bits (as tifffile reads such tables), else the 16-bit
    values; an index ``i`` shows as colour ``table[i]``.

    Raises
    ------
    ValueError
        Naming ``path``: the page is not one 8- or 16-bit index per pixel, or its table is
        missing or short.
    """
    rgb = np.ascontiguousarray(_table(page, path).T)
    return rgb.astype(np.uint8) if rgb.max() <= 255 else rgb


def _gray_levels(page: Any, path: Path) -> np.ndarray:
    """Read the gray levels of a palette page's colour table (uint8 when they are 8-bit).

    Like tifffile, a table whose values all fit in 8 bits is taken as 8-bit, and 16-bit
    values that are 8-bit levels scaled (``v * 257`` or ``v * 256``) as those levels, so a
    gray palette colorizes like the plain uint8 gray image it shows; other tables stay uint16.
    """
    table = _table(page, path)
    if not (np.array_equal(table[0], table[1]) and np.array_equal(table[0], table[2])):
        raise ValueError(
            f"{path} is a palette-colour TIFF; pass from_rgb=True (CLI --from-rgb) to colorize "
            "the lightness of its colours, or convert it to gray"
        )
    gray = table[0]
    if gray.max() <= 255:
        return gray.astype(np.uint8)
    high, low = gray >> 8, gray & 0xFF
    if np.all((low == 0) | (low == high)):
        return high.astype(np.uint8)
    return gray


def display(page: Any, path: Path, axes: str, *, colour: bool = False) -> dict[str, Any] | None:
    """Say how a page's stored values show, as :class:`~.tiff.DisplayArray` arguments.

    Parameters
    ----------
    page : tifffile.TiffPage
        The series' key frame.
    path : Path
        The file, named in errors.
    axes : str
        The series' axes letters (where the samples axis ``S`` of gray + alpha is).
    colour : bool
        Show any palette as the RGB colours of its table (``from_rgb`` inputs, colour
        references) instead of as gray.

    Returns
    -------
    dict or None
        ``invert``, ``lut`` and ``alpha`` as needed; None when stored values show as is.

    Raises
    ------
    ValueError
        Naming ``path``: a colour palette (unless ``colour``), a float MINISWHITE image, or a
        palette that cannot be read.
    """
    import tifffile

    photometric = page.photometric
    if photometric == tifffile.PHOTOMETRIC.PALETTE:
        return {"lut": palette_colours(page, path) if colour else _gray_levels(page, path)}
    shown = _gray(page, path)
    kind = gray_alpha(page)
    if kind is None:
        return shown
    dtype = np.dtype(page.dtype)
    if dtype.kind == "f":
        full = 1.0  # floats: 0-1, as a PNG's gray + alpha in [0, 1]
    elif dtype.kind == "i":
        full = float(np.iinfo(dtype).max)
    else:
        full = float(2 ** min(int(page.bitspersample), dtype.itemsize * 8) - 1)
    white = 255.0 if shown and "lut" in shown else full  # 2-7 bit levels show in 8 bits
    return {**(shown or {}), "alpha": Alpha(axes.index("S"), kind, white, full)}


def _gray(page: Any, path: Path) -> dict[str, Any] | None:
    """How a gray sample shows: inverted (MINISWHITE), scaled (2-7 bits), or as is (None)."""
    import tifffile

    photometric = page.photometric
    dtype = np.dtype(page.dtype)
    bits = int(page.bitspersample)
    one = int(page.samplesperpixel) == 1 or gray_alpha(page) is not None  # one gray sample
    white = photometric == tifffile.PHOTOMETRIC.MINISWHITE
    gray = white or photometric == tifffile.PHOTOMETRIC.MINISBLACK
    if gray and dtype == np.uint8 and 1 < bits < 8 and one:
        # 2-7 bit gray (read into uint8): value v of 2**bits - 1 shows as that share of white
        levels = np.rint(np.arange(2**bits) * 255 / (2**bits - 1)).astype(np.uint8)
        return {"lut": levels[::-1].copy() if white else levels}
    if not white or not one:
        return None  # gray with other extra samples is refused later, like MINISBLACK's
    if dtype.kind == "b":
        return None  # bilevel: refused later as a mask, whichever value shows white
    if dtype.kind == "f":
        raise ValueError(
            f"{path} is a float MINISWHITE TIFF (0 shows white; floats have no defined black "
            "level); invert it and save it as MINISBLACK"
        )
    if dtype.kind == "i":
        return {"invert": -1}  # the sum of the range's ends, whatever the bits per sample
    bits = min(bits, dtype.itemsize * 8)
    return {"invert": 2**bits - 1}
