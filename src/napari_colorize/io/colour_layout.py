"""How a colour file stores its colours: where the channel axis is, CMYK inks, bit depth.

Colour files do not all store ``(H, W, 3)`` RGB: a planar TIFF or an OME-TIFF/OME-Zarr keeps
the channels first (``(3, H, W)``, as napari-colorize writes OME-Zarr), a print TIFF stores CMYK
inks, and a camera stores 12 bits in 16-bit samples. :func:`colour_layout` reads this from the
file's metadata (never guessed from a bare array's shape: ``(3, H, W)`` may be three gray planes)
and :class:`ColourArray` presents the pixels as channel-last RGB(A), region by region.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .arrays import LazyArray, full_index
from .bit_depth import integer_scale

__all__ = ["ColourArray", "ColourLayout", "cmyk_to_rgb", "colour_layout", "integer_scale"]



@dataclass(frozen=True)
class ColourLayout:
    """What a colour file's metadata says about its samples.

    Parameters
    ----------
    axis : int, optional
        The channel axis when it is not last (planar RGB, ``c`` before ``y, x``).
    cmyk : bool
        The samples are C, M, Y, K inks (converted to RGB as Pillow does).
    bits : int, optional
        Significant bits per integer sample, when the file declares fewer than its dtype holds.
    alpha : {"straight", "premultiplied", "none"}
        What a fourth sample is: alpha over plain colours, alpha the colours are already
        multiplied by (TIFF associated alpha), or no alpha at all (TIFF unspecified extra
        sample).
    """

    axis: int | None = None
    cmyk: bool = False
    bits: int | None = None
    alpha: str = "straight"


def cmyk_to_rgb(cmyk: np.ndarray) -> np.ndarray:
    """Convert CMYK inks (last axis 4) to RGB as Pillow's ``convert("RGB")`` does.

    ``R = (1 - C) (1 - K)`` in the dtype's range, with Pillow's integer rounding for uint8.

    Examples
    --------
    >>> cmyk_to_rgb(np.array([[255, 0, 0, 0], [0, 0, 0, 128]], np.uint8)).tolist()
    [[0, 255, 255], [127, 127, 127]]
    """
    cmyk = np.asarray(cmyk)
    if cmyk.dtype == np.uint8:
        nk = 255 - cmyk[..., 3:].astype(np.int32)
        tmp = cmyk[..., :3].astype(np.int32) * nk + 128  # Pillow's MULDIV255
        return np.clip(nk - (((tmp >> 8) + tmp) >> 8), 0, 255).astype(np.uint8)
    full = float(np.iinfo(cmyk.dtype).max) if cmyk.dtype.kind in "ui" else 1.0
    ink = cmyk.astype(np.float64)
    rgb = (full - ink[..., :3]) * (full - ink[..., 3:]) / full
    return np.round(rgb).astype(cmyk.dtype) if cmyk.dtype.kind in "ui" else rgb.astype(cmyk.dtype)


def colour_layout(path: str | Path) -> ColourLayout:
    """Read how a TIFF or OME-Zarr stores its colours; other files are channel-last RGB(A).

    A channel axis is moved last when it holds 3 or 4 colours: a TIFF's planar samples (``S``)
    of an RGB or CMYK image, a TIFF channel axis ``C`` of 3 (4 when photometric RGB), an
    OME-Zarr axis ``c`` of 3 or 4. A TIFF declares its bit depth by BitsPerSample below 16 or
    by MaxSampleValue; 16 bits per sample is no declaration (cameras store 12 bits so).

    Parameters
    ----------
    path : str or Path
        The file; unreadable metadata gives the plain layout (the read reports the file).

    Returns
    -------
    ColourLayout

    Examples
    --------
    >>> import tempfile, tifffile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     tifffile.imwrite(Path(tmp) / "p.tif", np.zeros((3, 8, 8), np.uint16),
    ...                      photometric="rgb", planarconfig="separate")
    ...     colour_layout(Path(tmp) / "p.tif")
    ColourLayout(axis=0, cmyk=False, bits=None, alpha='straight')
    """
    from .kinds import TIFF_SUFFIXES, is_zarr_path

    path = Path(path)
    try:
        if is_zarr_path(path):
            return _zarr_layout(path)
        if path.suffix.lower() in TIFF_SUFFIXES:
            return _tiff_layout(path)
    except Exception:  # unreadable metadata: the read itself names the file and the problem
        pass
    return ColourLayout()


def _tiff_layout(path: Path) -> ColourLayout:
    import tifffile

    from .tiff import main_series, quiet_tifffile
    from .tiff_display import palette_colours

    with quiet_tifffile(), tifffile.TiffFile(path) as tif:
        series = tif.series[main_series(tif)]
        page = series.keyframe
        axes, shape = series.axes, tuple(series.shape)
        photometric = page.photometric
        depth = int(page.bitspersample)
        max_sample = page.tags.valueof(281)  # MaxSampleValue
        itemsize = np.dtype(page.dtype).itemsize if page.dtype is not None else 0
        extra = tuple(int(e) for e in (page.extrasamples or ()))
        palette = (palette_colours(page, path)
                   if photometric == tifffile.PHOTOMETRIC.PALETTE else None)
    alpha = {0: "none", 1: "premultiplied"}.get(extra[0], "straight") if extra else "straight"
    rgb = photometric == tifffile.PHOTOMETRIC.RGB
    cmyk = photometric == tifffile.PHOTOMETRIC.SEPARATED and int(page.samplesperpixel) == 4
    axis = None
    last = len(axes) - 1
    for i, (letter, size) in enumerate(zip(axes, shape, strict=True)):
        planar = letter == "S" and i < last and size in (3, 4) and (rgb or cmyk)
        channels = letter == "C" and (size == 3 or (size == 4 and rgb)) and axes[-2:] == "YX"
        if planar or channels:
            axis = i
            break
    bits = None
    if palette is not None:  # colours are read from the table: 8-bit, or 16-bit in full
        bits = None if palette.dtype == np.uint8 else 16
    elif 8 < depth < itemsize * 8 or 1 < depth < 8:  # 2-7 bits are read into uint8 too
        bits = depth
    elif max_sample is not None and np.dtype(page.dtype).kind == "u":
        top = int(np.max(max_sample))
        if 0 < top < 2 ** (itemsize * 8) - 1:
            bits = int(top).bit_length()
    return ColourLayout(axis=axis, cmyk=cmyk, bits=bits, alpha=alpha)


def _zarr_layout(path: Path) -> ColourLayout:
    import zarr

    from .ngff_meta import parse_multiscale
    from .ngff_roots import first_image

    path = first_image(path)
    group: Any = zarr.open(path, mode="r")
    ms = parse_multiscale(dict(group.attrs), path)
    if not ms or ms.channel_axis is None:
        return ColourLayout()
    axis = ms.channel_axis
    shape = group[ms.paths[0]].shape
    if axis == len(shape) - 1 or shape[axis] not in (3, 4):
        return ColourLayout()
    return ColourLayout(axis=axis)


class ColourArray(LazyArray):
    """Colour samples seen channel-last as RGB(A), converted region by region.

    Parameters
    ----------
    source : array-like
        The stored samples.
    layout : ColourLayout
        Where the channel axis is and whether it holds CMYK inks.

    Examples
    --------
    >>> planar = np.arange(12).reshape(3, 2, 2)
    >>> arr = ColourArray(planar, ColourLayout(axis=0))
    >>> arr.shape, arr[1, 0].tolist()
    ((2, 2, 3), [2, 6, 10])
    """

    wraps_source = True

    def __init__(self, source: Any, layout: ColourLayout) -> None:
        self.source = source
        self.layout = layout
        shape = [int(s) for s in source.shape]
        chunks = getattr(source, "chunks", None)
        chunks = list(chunks) if isinstance(chunks, tuple) and len(chunks) == len(shape) else None
        if layout.axis is not None:
            shape.append(shape.pop(layout.axis))
            if chunks:
                chunks.append(chunks.pop(layout.axis))
        if layout.cmyk:
            shape[-1] = 3
            chunks = None
        self.shape = tuple(shape)
        self.dtype = np.dtype(source.dtype)
        if chunks:
            self.chunks = tuple(int(c) for c in chunks)
        filename = getattr(source, "filename", None)
        if isinstance(filename, str):
            self.filename = filename

    def __getitem__(self, index: Any) -> np.ndarray:
        """Read the region's samples, channel-last (and CMYK inks as RGB)."""
        index = full_index(index, self.ndim)
        dropped = tuple(0 if isinstance(i, (int, np.integer)) else slice(None) for i in index)
        # ints become length-1 slices so axes keep their places until the end
        kept = [slice(int(i) % n, int(i) % n + 1) if isinstance(i, (int, np.integer)) else i
                for i, n in zip(index, self.shape, strict=True)]
        colours = slice(None) if self.layout.cmyk else kept[-1]
        stored = kept[:-1]
        stored.insert(len(stored) if self.layout.axis is None else self.layout.axis, colours)
        data = np.asarray(self.source[tuple(stored)])
        if self.layout.axis is not None:
            data = np.moveaxis(data, self.layout.axis, -1)
        if self.layout.cmyk:
            data = cmyk_to_rgb(data)[..., kept[-1]]
        return np.asarray(data[dropped])

    def __repr__(self) -> str:
        """Name the source and shape."""
        return f"ColourArray({getattr(self, 'filename', 'array')}, shape={self.shape})"
