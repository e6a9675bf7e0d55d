"""DICOM: a single-frame file, a multi-frame file, or a folder of slices read as one stack.

A file holding one frame is a 2-D image (``NumberOfFrames`` absent or 1); a file of several
frames and a folder are stacks, except a whole-slide image whose frames are the tiles of one
plane (TILED_FULL): that plane, assembled region by region (:mod:`.dicom_tiles`).

Needs the optional extra ``pip install napari-colorize[dicom]`` (pydicom, imported lazily).
Pixels are read on demand, one frame at a time (a folder of slices is never loaded at once);
a file pydicom cannot decode frame by frame from its path (deflated, or a header that misstates
its encoding) is read whole once and its frames taken from that dataset.
Each frame gets its modality rescale (``RescaleSlope``/``RescaleIntercept``, also from enhanced
multi-frame functional groups), giving float32 values (e.g. Hounsfield units) unless the rescale
is the identity. MONOCHROME1 frames (bright = low values, common in radiographs) are inverted
within their stored range, so what a viewer shows bright stays bright. The intensity window is
then chosen like for any other input (a percentile window, or ``contrast_limits``); the file's
own VOI window is not used. A folder is ordered by position along the slice normal
(``ImagePositionPatient`` projected on the normal of ``ImageOrientationPatient``), else by
``InstanceNumber``, else by file name; it must hold one series of equally sized slices, one
per position (a copied file or two acquisitions at one position are refused), evenly spaced
(a missing slice is refused). 1-bit images (masks) are refused, like boolean TIFF or PNG.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .arrays import LazyArray, full_index, one_line
from .dicom_series import check_even_spacing, check_one_per_position, order_slices
from .dicom_tiles import TileGrid, read_tiles, tile_grid

INSTALL = "reading DICOM needs pydicom: pip install 'napari-colorize[dicom]'"


def _pydicom() -> Any:
    try:
        import pydicom
    except ImportError:
        raise ValueError(INSTALL) from None
    major = str(getattr(pydicom, "__version__", "0")).split(".")[0]
    if not major.isdigit() or int(major) < 3:  # 2.x decodes every frame of a file at once
        raise ValueError(
            f"reading DICOM needs pydicom 3 or newer (found {pydicom.__version__}): "
            "pip install 'napari-colorize[dicom]'"
        )
    return pydicom


def has_preamble(path: Path) -> bool:
    """Tell whether ``path`` is a file with the DICOM preamble (``DICM`` at byte 128).

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> has_preamble(Path(get_testdata_file("CT_small.dcm"))), has_preamble(Path("nope.dcm"))
    (True, False)
    """
    try:
        with open(path, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def is_dicom_folder(path: Path) -> bool:
    """Tell whether the folder ``path`` holds ``.dcm`` files or files with the DICOM preamble."""
    return path.is_dir() and any(_candidates(path, limit=1))


def _candidates(folder: Path, limit: int | None = None) -> list[Path]:
    found = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_file():
            continue
        if p.suffix.lower() == ".dcm" or (p.suffix.lower() in ("", ".ima") and has_preamble(p)):
            found.append(p)
            if limit and len(found) >= limit:
                break
    return found


@dataclass(frozen=True)
class _Frame:
    path: Path
    index: int | None  # frame of a multi-frame file, None for a single-frame file
    slope: float
    intercept: float
    invert: tuple[float, float] | None  # stored range to invert within (MONOCHROME1)


def _rescale(ds: Any, frame: int | None) -> tuple[float, float]:
    """Modality rescale of a frame: top-level tags, else per-frame, else shared groups."""
    if "RescaleSlope" in ds or "RescaleIntercept" in ds:
        return float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
    groups = []
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and frame is not None and frame < len(per_frame):
        groups.append(per_frame[frame])
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        groups.append(shared[0])
    for group in groups:
        seq = group.get("PixelValueTransformationSequence")
        if seq:
            item = seq[0]
            return float(item.get("RescaleSlope", 1) or 1), float(item.get("RescaleIntercept", 0))
    return 1.0, 0.0


def _invert_range(ds: Any) -> tuple[float, float] | None:
    if str(ds.get("PhotometricInterpretation", "")).upper() != "MONOCHROME1":
        return None
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)))
    if int(ds.get("PixelRepresentation", 0)):
        return float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    return 0.0, float(2**bits - 1)


def _frames(ds: Any, path: Path) -> list[_Frame]:
    n = int(ds.get("NumberOfFrames", 1) or 1)
    invert = _invert_range(ds)
    if n == 1 and "NumberOfFrames" not in ds:
        return [_Frame(path, None, *_rescale(ds, None), invert)]
    return [_Frame(path, i, *_rescale(ds, i), invert) for i in range(n)]


#: Photometric interpretations read: gray, and colour (refused as RGB unless ``from_rgb``).
PHOTOMETRIC = ("MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT",
               "YBR_RCT", "YBR_PARTIAL_420")


def _read_header(pydicom: Any, path: Path) -> Any:
    if path.stat().st_size == 0:
        raise ValueError(f"cannot read {path}: not a DICOM file (empty file)")
    try:
        with warnings.catch_warnings():  # damaged files warn before they fail: one line
            warnings.simplefilter("ignore")
            return pydicom.dcmread(path, stop_before_pixels=True)
    except pydicom.errors.InvalidDicomError:
        raise ValueError(
            f"cannot read {path}: not a DICOM file (no 'DICM' header or file meta information)"
        ) from None
    except Exception as exc:
        raise ValueError(f"cannot read DICOM file {path}: {one_line(exc)}") from None


def _check_image(ds: Any, path: Path) -> None:
    kind = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if kind not in PHOTOMETRIC:
        raise ValueError(
            f"{path}: DICOM {kind} images are not supported (gray MONOCHROME1/2 or RGB only)"
        )
    if int(ds.get("BitsAllocated", 8) or 8) == 1:  # 0/1 values would read as black uint8
        raise ValueError(
            f"{path} is a 1-bit (binary) DICOM image, a mask rather than a grayscale image"
        )


def _folder_headers(pydicom: Any, folder: Path) -> list[tuple[Path, Any]]:
    """Read the image headers of a folder's files, checked to form one stack (or one file)."""
    headers = []
    for path in _candidates(folder):
        ds = _read_header(pydicom, path)
        if "Rows" in ds and "Columns" in ds:  # skip DICOMDIR, reports, structure sets
            _check_image(ds, path)
            headers.append((path, ds))
    if not headers:
        raise ValueError(f"{folder} holds no DICOM images")
    series = {str(ds.get("SeriesInstanceUID", "")) for _, ds in headers}
    if len(series) > 1:
        raise ValueError(
            f"{folder} holds {len(series)} DICOM series; put each series in its own folder"
        )
    if len(headers) > 1 and any(int(ds.get("NumberOfFrames", 1) or 1) > 1 for _, ds in headers):
        raise ValueError(f"{folder} holds multi-frame DICOM files; open each file on its own")
    sizes = {(int(ds.Rows), int(ds.Columns), int(ds.get("SamplesPerPixel", 1)))
             for _, ds in headers}
    if len(sizes) > 1:
        raise ValueError(
            f"{folder}: DICOM slices differ in size ({', '.join(map(str, sorted(sizes)))}); "
            "a stack needs equally sized slices"
        )
    check_one_per_position(headers)
    check_even_spacing(headers)
    return headers


def _folder_frames(headers: list[tuple[Path, Any]]) -> list[_Frame]:
    """List one frame per slice file, in stack order."""
    frames = []
    for path, ds in order_slices(headers):
        frame = _frames(ds, path)[0]
        frames.append(_Frame(path, None, frame.slope, frame.intercept, frame.invert))
    return frames


class DicomArray(LazyArray):
    """A lazily read DICOM image or stack, decoded one frame at a time.

    The shape is ``(rows, cols)`` for a file holding one frame, else ``(frames, rows, cols)``
    (the total pixel matrix for the tiles of a whole-slide image), with a trailing samples axis
    for colour (RGB) data. Made by :func:`read_dicom`.

    Parameters
    ----------
    frames : list
        The frames, in stack order, with their rescale and inversion.
    stack : bool
        Whether the array has a frames axis.
    label : str
        The file or folder read (named in errors, re-opened when pickled).
    tiles : TileGrid, optional
        The frames are the tiles of one plane (a whole-slide image): the array is that plane.

    Raises
    ------
    ValueError
        If the first frame cannot be decoded.
    """

    def __init__(self, frames: list[_Frame], stack: bool, label: str,
                 tiles: TileGrid | None = None) -> None:
        self.frames = frames
        self.label = label
        self.filename = label  # the path given to read_dicom: pickling re-opens it
        self._lock = threading.Lock()
        self._cached: tuple[int, np.ndarray] | None = None
        self._whole_lock = threading.Lock()
        self._whole: tuple[Path, Any] | None = None  # a file read whole: its path and dataset
        first = self._decode(0)
        identity = all(f.slope == 1 and f.intercept == 0 for f in frames)
        self.dtype = first.dtype if identity else np.dtype(np.float32)
        self.tiles = tiles
        self.stack = stack and tiles is None  # whether the first axis is the frames
        if tiles is None:
            self.shape = ((len(frames),) if self.stack else ()) + tuple(first.shape)
        else:
            self.shape = (tiles.height, tiles.width, *first.shape[2:])
            self.chunks = (tiles.rows, tiles.columns, *first.shape[2:])  # a tile: one decode

    def _decode(self, n: int) -> np.ndarray:
        with self._lock:
            if self._cached is not None and self._cached[0] == n:
                return self._cached[1]
        frame = self.frames[n]
        try:
            data = self._read(frame)
        except Exception as exc:
            raise ValueError(f"cannot read DICOM pixels of {frame.path}: {one_line(exc)}") from None
        if frame.invert is not None:
            low, high = frame.invert
            data = (low + high - data.astype(np.float64)).astype(data.dtype)
        if frame.slope != 1 or frame.intercept != 0:
            data = (data.astype(np.float32) * np.float32(frame.slope)
                    + np.float32(frame.intercept))
        with self._lock:
            self._cached = (n, data)
        return data

    def _read(self, frame: _Frame) -> np.ndarray:
        """Decode one frame from the path; failing that, from the file's whole dataset.

        Decoding from the path parses the file with the encoding its header names, so a
        deflated file, or a header naming the wrong encoding, needs the full reader. The last
        dataset so read is kept: the next frames are likely from the same file.
        """
        with self._whole_lock:
            if self._whole is not None and self._whole[0] == frame.path:
                return _dataset_pixels(self._whole[1], frame)
        try:
            return _pixels(frame)
        except Exception:  # the full reader copes, or says why (e.g. truncated pixel data)
            pass
        with self._whole_lock:
            ds = _read_whole(frame.path)
            self._whole = (frame.path, ds)
            return _dataset_pixels(ds, frame)

    def __getitem__(self, index: Any) -> np.ndarray:
        """Decode the frames ``index`` selects (one at a time) and return the region."""
        index = full_index(index, self.ndim)
        if self.tiles is not None:
            return read_tiles(self.tiles, self._decode, index, self.shape, self.dtype)
        if not self.stack:
            return np.asarray(self._decode(0)[index]).astype(self.dtype, copy=False)
        picks = np.arange(len(self.frames))[index[0]]
        rest = index[1:]
        if picks.ndim == 0:
            return np.asarray(self._decode(int(picks))[rest]).astype(self.dtype, copy=False)
        planes = [np.asarray(self._decode(int(n))[rest]) for n in picks]
        if not planes:
            probe = np.empty(self.shape[1:], self.dtype)[rest]
            return np.empty((0, *probe.shape), self.dtype)
        return np.stack(planes).astype(self.dtype, copy=False)

    def __reduce__(self) -> tuple:
        """Pickle as the file or folder name."""
        return read_dicom, (self.label,)  # dask workers re-open the file or folder

    def __repr__(self) -> str:
        """Name the file or folder, shape and dtype."""
        return f"DicomArray({self.label!r}, shape={self.shape}, dtype={self.dtype})"


def _pixels(frame: _Frame) -> np.ndarray:
    _pydicom()
    from pydicom.pixels import pixel_array  # decodes the one frame asked for

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pixel_array(frame.path, index=frame.index)


def _read_whole(path: Path) -> Any:
    pydicom = _pydicom()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path)


def _dataset_pixels(ds: Any, frame: _Frame) -> np.ndarray:
    from pydicom.pixels import pixel_array
    from pydicom.pixels.utils import get_expected_length

    syntax = getattr(ds, "file_meta", {}).get("TransferSyntaxUID")
    if "PixelData" in ds and syntax is not None and not syntax.is_encapsulated:
        have, want = len(ds.PixelData), get_expected_length(ds)
        if have < want:  # pydicom's own message is long and guesses at causes
            raise ValueError(
                f"{have} bytes of pixel data, fewer than the {want} its header declares "
                "(a truncated or damaged file)"
            )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pixel_array(ds, index=frame.index)


def read_dicom(path: str | Path) -> DicomArray:
    """Open a DICOM file (single- or multi-frame) or a folder of slices lazily.

    Parameters
    ----------
    path : str or Path
        A DICOM file, or a folder holding one series of equally sized slices.

    Returns
    -------
    DicomArray
        Modality-rescaled values (float32 unless the rescale is the identity); a whole-slide
        image's tiles as one plane.

    Raises
    ------
    ValueError
        One line naming the file when pydicom 3 is missing, the file is not DICOM or holds no
        image, its photometric interpretation is not supported, it is a 1-bit image (a mask),
        its pixel data is shorter than its header declares, it is a whole-slide image of
        tiles not TILED_FULL or of several focal planes or optical paths, or a folder mixes
        series or sizes, holds a copy of a slice or two slices at one position, or misses a
        slice (uneven spacing).

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> ct = read_dicom(get_testdata_file("CT_small.dcm"))
    >>> ct.shape, ct.dtype, float(ct[0, 0])
    ((128, 128), dtype('float32'), -849.0)
    """
    pydicom = _pydicom()
    path = Path(path)
    if path.is_dir():
        headers = _folder_headers(pydicom, path)
        if len(headers) == 1:  # one file: all its frames (a multi-frame file is allowed)
            return _file_array(*headers[0], str(path), folder=True)
        return DicomArray(_folder_frames(headers), True, str(path))
    ds = _read_header(pydicom, path)
    if "Rows" not in ds or "Columns" not in ds:
        raise ValueError(f"{path} is a DICOM file without an image ({ds.get('Modality', '?')})")
    _check_image(ds, path)
    return _file_array(path, ds, str(path), folder=False)


def _file_array(path: Path, ds: Any, label: str, *, folder: bool) -> DicomArray:
    """One file's frames: a plane, a stack (always in a folder), or the tiles of a plane."""
    frames = _frames(ds, path)
    tiles = tile_grid(ds, path)
    return DicomArray(frames, folder or len(frames) > 1, label, tiles)  # NumberOfFrames 1: 2-D
