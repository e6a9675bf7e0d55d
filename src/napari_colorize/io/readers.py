"""Lazy image readers: TIFF/OME-TIFF/SVS (main series, level 0), zarr/OME-Zarr, PNG/JPEG, DICOM.

Large files are opened lazily (a memory map or a zarr view of the TIFF, the zarr array itself, a
DICOM stack read frame by frame) so the engine reads only the blocks it needs; small formats are
decoded to numpy. A file that cannot be read gives one ``ValueError`` line naming it.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .arrays import FileArray, LightnessArray, OneSampleArray, one_line
from .colorize_attrs import read_colorize_block
from .colour_layout import ColourArray, ColourLayout, colour_layout
from .kinds import DICOM_SUFFIXES, PLAIN_SUFFIXES, TIFF_SUFFIXES, is_zarr_path
from .ngff_meta import parse_multiscale
from .ngff_roots import first_image
from .plain import read_plain

#: Folder inside an unfinished OME-Zarr result naming its finished blocks (removed when complete).
DONE_FOLDER = ".napari_colorize_done"


def incomplete_message(path: str | Path) -> str | None:
    """Warn in one line if ``path`` is an unfinished napari-colorize result, else None.

    Examples
    --------
    >>> import tempfile
    >>> from napari_colorize.io.ngff import OmeZarrMerger
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     merger = OmeZarrMerger(Path(tmp) / "r.ome.zarr", (40, 30), confidence=False)
    ...     merger.close()  # interrupted before the end
    ...     incomplete_message(Path(tmp) / "r.ome.zarr").split("(")[1].split(")")[0]
    'an interrupted run; 0 blocks written'
    """
    path = Path(path)
    meta = read_metadata(path)
    if meta.get("complete") is not False:
        return None
    done = path / DONE_FOLDER
    count = len(list(done.iterdir())) if done.is_dir() else 0
    # a side output (confidence, channels) has no record of its own: the RGB store keeps it
    blocks = "" if meta.get("kind") else f"; {count} blocks written"
    return (
        f"{path} is incomplete (an interrupted run{blocks}): finish it with "
        "`napari-colorize colorize IN OUT --resume` or colorize(..., resume=True)"
    )


def read_zarr(path: Path, warn: bool = True) -> Any:
    """Open a zarr array, or an OME-Zarr image's first dataset (a group's only array).

    ``warn``: warn when the store is an unfinished napari-colorize run.
    """
    import zarr

    path = first_image(path)
    message = incomplete_message(path) if warn else None
    if message:
        warnings.warn(message, stacklevel=3)
    try:
        node = zarr.open(path, mode="r")
    except Exception as exc:
        raise ValueError(f"not a readable zarr store ({one_line(exc)})") from None
    if isinstance(node, zarr.Array):
        return node
    ms = parse_multiscale(dict(node.attrs), path)
    if ms:
        name = ms.paths[0]
        try:
            arr = node[name]
        except KeyError:
            raise ValueError(
                f"OME-Zarr multiscales names dataset {name!r}, which the group does not hold"
            ) from None
        if not isinstance(arr, zarr.Array):
            raise ValueError(f"OME-Zarr dataset {name!r} is a group, not an array")
        if ms.axes and len(ms.axes) != arr.ndim:
            raise ValueError(
                f"OME-Zarr metadata lists {len(ms.axes)} axes but dataset {name!r} has "
                f"{arr.ndim} dimensions"
            )
        return arr
    arrays = list(node.array_keys())
    if len(arrays) == 1:
        return node[arrays[0]]
    raise ValueError(f"zarr group holds {len(arrays)} arrays and no OME multiscales metadata")


def read_image(path: str | Path, *, raw: bool = False, colour: bool = False) -> Any:
    """Open an image file lazily.

    TIFF-like files give their main series (the most pixels: not an SCN's macro image nor a
    thumbnail stored first) at full resolution (level 0), as the gray they display
    (MINISWHITE inverted, gray palettes looked up, gray + alpha over white; see :mod:`.tiff`);
    an OME-Zarr group gives its first multiscale dataset; a folder of DICOM slices gives one
    stack ordered by position.

    Parameters
    ----------
    path : str or Path
        TIFF/OME-TIFF/SVS..., zarr or OME-Zarr (NGFF 0.3-0.5), PNG/JPEG/BMP, DICOM file or
        folder.
    raw : bool
        A TIFF's stored values instead (masks, label images).
    colour : bool
        A palette TIFF as the RGB colours of its table (``from_rgb`` inputs, colour
        references), where a colour palette is otherwise refused.

    Returns
    -------
    array-like
        A numpy array or memmap, a zarr array, or (DICOM) an array-like reading frames on
        demand.

    Raises
    ------
    ValueError
        One line naming the file when it is missing, unreadable, truncated, of an unknown
        type, or its OME-Zarr metadata is malformed.

    Examples
    --------
    >>> import tempfile, tifffile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     tifffile.imwrite(Path(tmp) / "s.tif", np.zeros((2, 30, 40), np.uint16))
    ...     arr = read_image(Path(tmp) / "s.tif")
    ...     arr.shape, arr.dtype
    ((2, 30, 40), dtype('uint16'))
    >>> read_image("missing.tif")
    Traceback (most recent call last):
    ...
    ValueError: cannot read missing.tif: no such file
    """
    from .dicom import has_preamble, is_dicom_folder, read_dicom
    from .tiff import read_tiff

    path = Path(path)
    if not path.exists():
        raise ValueError(f"cannot read {path}: no such file")
    if not (path.is_file() or path.is_dir()):  # a pipe or device would block or never end
        raise ValueError(f"cannot read {path}: not a regular file")
    suffix = path.suffix.lower()
    try:
        if is_zarr_path(path):
            arr = read_zarr(path)
        elif path.is_dir():
            if not is_dicom_folder(path):
                raise ValueError(
                    "it is a folder, but neither a zarr store (no zarr.json, .zarray or .zgroup) "
                    "nor a folder of DICOM slices"
                )
            arr = read_dicom(path)
        elif suffix in TIFF_SUFFIXES:
            arr = read_tiff(path, raw=raw, colour=colour)
        elif suffix in PLAIN_SUFFIXES:
            arr = read_plain(path, suffix)
        elif suffix in DICOM_SUFFIXES or has_preamble(path):
            arr = read_dicom(path)
        else:
            raise ValueError(
                f"unknown file type {suffix!r} (expected one of "
                f"{', '.join(TIFF_SUFFIXES + PLAIN_SUFFIXES + DICOM_SUFFIXES)}, .zarr, or a "
                "folder of DICOM slices)"
            )
    except ValueError as exc:
        text = " ".join(str(exc).split())
        named = text.startswith((str(path), "cannot read "))
        raise ValueError(text if named else f"cannot read {path}: {text}") from None
    except MemoryError:
        raise
    except Exception as exc:  # decoders raise many types for damaged files
        raise ValueError(f"cannot read {path}: {one_line(exc)}") from None
    return arr


def open_image(image: Any, *, from_rgb: bool = False) -> Any:
    """Open what the engine colorizes: a path (lazily) or any array-like.

    Parameters
    ----------
    image : str, Path or array-like
        A file (see :func:`read_image`), or anything with ``shape``, ``dtype`` and slicing
        (else it is made a numpy array).
    from_rgb : bool
        See an RGB(A) image (last axis 3 or 4) as the uint8 gray of the same CIE lightness,
        converted region by region (:class:`~.arrays.LightnessArray`). A file's planar or
        channel-first colours, CMYK inks and a palette TIFF's colours are read as RGB
        (:mod:`.colour_layout`).

    Returns
    -------
    array-like

    Raises
    ------
    ValueError
        If a file cannot be read, has several channels, or looks RGB without ``from_rgb``.
    TypeError
        If ``from_rgb`` is not a bool.

    Examples
    --------
    >>> open_image([[0, 1], [2, 3]]).shape
    (2, 2)
    >>> open_image(np.zeros((30, 40, 3), np.uint8), from_rgb=True).shape  # RGB as lightness
    (30, 40)
    >>> open_image(np.zeros((30, 40, 1), np.uint8)).shape  # one sample per pixel is gray
    (30, 40)
    """
    if not isinstance(from_rgb, (bool, np.bool_)):
        raise TypeError(f"from_rgb must be True or False; got {from_rgb!r}")
    if isinstance(image, LightnessArray):
        return image
    label = "image"
    bits, alpha = None, "straight"
    if isinstance(image, (str, Path)):
        label = str(image)
        arr = read_image(image, colour=from_rgb)  # a palette's colours, to read as lightness
        found = channel_axis(image)
        # how colours are stored, a second look at the metadata: read only when it matters
        layout = colour_layout(image) if from_rgb or found else ColourLayout()
        if found and not (from_rgb and layout.axis is not None):
            axis, n, axes = found
            pick = "[" + ", ".join([":"] * axis + ["0"]) + "]"
            raise ValueError(
                f"{image} has {n} channels (axis {axis} of {axes}); colorize needs one grayscale "
                f"channel: pick one, in Python e.g. colorize(read_image(path){pick}), or their "
                f"sum (read_image(path)[...].sum(axis={axis})), or from a shell save one channel "
                "to its own file first (Fiji: Image > Color > Split Channels)"
                + ("; if they are colours, pass from_rgb=True (CLI --from-rgb)"
                   if layout.axis is not None else "")
            )
        shape = tuple(int(n) for n in arr.shape)
        if not from_rgb and len(shape) >= 3 and shape[-1] in (3, 4):
            kind = ("CMYK" if colour_layout(image).cmyk else "RGB" if shape[-1] == 3
                    else "RGBA")
            raise ValueError(
                f"{image} looks {kind} (shape {shape}); "
                "napari-colorize expects grayscale: pass from_rgb=True (CLI --from-rgb) to "
                "colorize its lightness, or pick one channel"
            )
        from .dicom import DicomArray

        # zarr views (of zarr stores and of compressed TIFFs) name the file in read errors
        if not isinstance(arr, (np.ndarray, DicomArray)):
            arr = FileArray(arr, label, open_image)
        if from_rgb and (layout.axis is not None or layout.cmyk):
            arr = ColourArray(arr, layout)  # planar, channel-first or CMYK: as RGB(A)
        bits, alpha = layout.bits, layout.alpha
        image = arr
    elif not hasattr(image, "shape") or not hasattr(image, "dtype"):
        if image is None or isinstance(image, (bytes, bytearray, dict, set)):
            raise TypeError(f"image must be an array or a file path; got {type(image).__name__}")
        try:
            image = np.asarray(image)
        except ValueError as exc:  # a ragged list: numpy's message does not name the image
            raise ValueError(f"image is not a regular array: {exc}") from None
    if isinstance(getattr(image, "_meta", None), np.ma.MaskedArray):  # blocks hide their masks
        raise ValueError("image is a dask masked array, whose masks the sampled intensity window "
                         "cannot see; pass image.compute() (a numpy masked array) or "
                         "dask.array.ma.filled(image, value)")
    shape = tuple(image.shape)
    if not from_rgb and len(shape) >= 3 and shape[-1] == 1 and shape[-2] > 1:
        image = OneSampleArray(image)  # (..., H, W, 1): one gray sample per pixel
    if from_rgb:
        return LightnessArray(image, label, path=None if label == "image" else label,
                              reopen=open_lightness, bits=bits, alpha=alpha)
    return image


def read_metadata(path: str | Path) -> dict:
    """Read the ``napari_colorize`` block of an OME-Zarr written by this package, as stored.

    Parameters
    ----------
    path : str or Path
        The store.

    Returns
    -------
    dict
        ``{}`` when ``path`` is not such a store or its metadata cannot be parsed (see
        :func:`~.colorize_attrs.read_colorize_block`; :func:`~.ngff_meta.read_image_metadata`
        gives the checked, typed form).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from napari_colorize.io.writers import write_rgb
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = write_rgb(Path(tmp) / "r.ome.zarr", np.zeros((40, 30, 3), np.uint8))
    ...     read_metadata(out)
    {'complete': True}
    """
    return read_colorize_block(path)


def channel_axis(path: str | Path) -> tuple[int, int, str] | None:
    """Find a channel axis with more than one channel in a TIFF's or OME-Zarr's metadata.

    Interleaved RGB samples (the last axis) do not count: they are refused as RGB later;
    planar RGB samples do count. OME-Zarr axes are read by
    :func:`~.ngff_meta.parse_multiscale` (NGFF 0.3-0.5).

    Parameters
    ----------
    path : str or Path
        A TIFF-like file or a zarr store; other files have no channel axis here.

    Returns
    -------
    tuple of (int, int, str) or None
        ``(axis, size, axes)``, e.g. ``(0, 2, "CYX")``; None without one, or when the
        metadata cannot be read (:func:`read_image` reports that).

    Examples
    --------
    >>> import tempfile, tifffile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     tifffile.imwrite(Path(tmp) / "c.ome.tif", np.zeros((2, 8, 8), np.uint8),
    ...                      metadata={"axes": "CYX"})
    ...     channel_axis(Path(tmp) / "c.ome.tif")
    (0, 2, 'CYX')
    """
    path = Path(path)
    try:
        if is_zarr_path(path):
            import zarr

            path = first_image(path)
            ms = parse_multiscale(dict(zarr.open(path, mode="r").attrs), path)
            axes = ms.axes if ms else ()
            names = [axis.is_channel for axis in axes]
            shape = read_zarr(path, warn=False).shape  # read_image warns once
            letters = "".join(axis.name[:1].upper() or "?" for axis in axes)
        elif path.suffix.lower() in TIFF_SUFFIXES:
            from .tiff import tiff_channels

            return tiff_channels(path)
        else:
            return None
    except Exception:  # unreadable metadata: read_image reports the file itself
        return None
    for i, is_channel in enumerate(names):
        if is_channel and i < len(shape) and shape[i] > 1:
            return i, int(shape[i]), letters
    return None


def open_lightness(path: str) -> Any:
    """Open the colour image at ``path`` as its lightness: ``open_image(path, from_rgb=True)``."""
    return open_image(path, from_rgb=True)
