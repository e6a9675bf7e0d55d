"""What an input's axes are (time, channel, z) and where its pixels lie, where its file says so.

An OME-Zarr or OME-TIFF result keeps the input's time and z axes as such, leaves out a gray
input's single channel (:func:`~.ngff_layout.plan_layout`; without names it falls back to the
axes' order), and keeps the input's pixel size, offset and units, so it overlays the input.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .ngff_layout import Layout, plan_layout
from .ngff_meta import Axis, parse_multiscale
from .ngff_roots import first_image
from .paths import source_path

__all__ = ["OME_UNITS", "InputAxes", "input_layout", "read_axes"]

#: OME-TIFF's length units as NGFF names them, and back.
_UNITS = {"µm": "micrometer", "um": "micrometer", "nm": "nanometer", "mm": "millimeter",
          "cm": "centimeter", "m": "meter", "Å": "angstrom", "pm": "picometer"}
OME_UNITS = {ngff: ome for ome, ngff in reversed(_UNITS.items())}
_UNITS["μm"] = "micrometer"  # the Greek mu some writers use for the micro sign
#: Each NGFF length unit as a power of ten metres (stage positions are converted to the pixel
#: size's unit; powers keep 1.5 mm exactly 1500 µm).
_METRES = {"meter": 0, "centimeter": -2, "millimeter": -3, "micrometer": -6, "nanometer": -9,
           "angstrom": -10, "picometer": -12}
#: tifffile's axis letters for the axes a result can keep.
_TIFF_LETTERS = {"T": "t", "C": "c", "Z": "z"}


@dataclass(frozen=True)
class InputAxes:
    """An input's axes as its file describes them: names, level 0's placement and units.

    Parameters
    ----------
    names : tuple of str
        ``"t"``, ``"c"``, ``"z"``, ``"y"``, ``"x"`` or ``"?"``, one per axis.
    scale, translation : tuple of float
        Pixel size and offset per axis (1 and 0 where not given).
    units : tuple of str or None
        NGFF unit names per axis, where given.
    """

    names: tuple[str, ...]
    scale: tuple[float, ...]
    translation: tuple[float, ...]
    units: tuple[str | None, ...]

    def without(self, axis: int) -> InputAxes:
        """Copy without one axis (a colour axis read into one lightness)."""
        def drop(values: tuple) -> tuple:
            return values[:axis] + values[axis + 1:]

        return InputAxes(drop(self.names), drop(self.scale), drop(self.translation),
                         drop(self.units))


def read_axes(source: Any, ndim: int) -> InputAxes | None:
    """Describe an input's axes from its OME-Zarr or TIFF metadata.

    Parameters
    ----------
    source : path or array-like
        What the caller passed (a path, or an array reading from a file).
    ndim : int
        The opened input's number of axes; a description that does not cover them (ending in
        y, x) is not used.

    Returns
    -------
    InputAxes or None
        None where the file does not tell (or the input is in memory).

    Examples
    --------
    >>> import tempfile, zarr, numpy as np
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = zarr.open_group(f"{tmp}/i.ome.zarr", mode="w")
    ...     _ = root.create_array("0", shape=(1, 1, 4, 8, 8), dtype="uint8")
    ...     kinds = ["time", "channel", "space", "space", "space"]
    ...     root.attrs["multiscales"] = [{"version": "0.4", "axes": [
    ...         {"name": n, "type": t} for n, t in zip("tczyx", kinds)],
    ...         "datasets": [{"path": "0", "coordinateTransformations": [
    ...             {"type": "scale", "scale": [1.0, 1.0, 2.0, 0.5, 0.5]}]}]}]
    ...     axes = read_axes(f"{tmp}/i.ome.zarr", 5)
    >>> axes.names, axes.scale
    (('t', 'c', 'z', 'y', 'x'), (1.0, 1.0, 2.0, 0.5, 0.5))
    >>> read_axes(np.zeros((3, 8, 8)), 3) is None
    True
    """
    path = source_path(source)
    if path is None or ndim < 2:
        return None
    try:
        axes = _describe(path)
    except Exception:  # unreadable metadata: the reader reports it, the layout falls back
        return None
    if axes is not None and len(axes.names) == ndim + 1 and axes.names.count("c") == 1:
        axes = axes.without(axes.names.index("c"))  # colour samples read as their lightness
    if axes is None or len(axes.names) != ndim or axes.names[-2:] != ("y", "x"):
        return None
    return axes


def input_layout(source: Any, shape: Sequence[int], where: str | Path) -> Layout:
    """Plan how an OME result of an input shaped ``shape`` (gray) stores and places its axes.

    Parameters
    ----------
    source : path or array-like
        The input as the caller passed it.
    shape : sequence of int
        The gray input's shape ``(..., H, W)``.
    where : str or Path
        The output, named in the error.

    Returns
    -------
    Layout

    Raises
    ------
    ValueError
        One line naming ``where`` if the leading axes do not fit (see
        :func:`~.ngff_layout.plan_layout`).
    """
    axes = read_axes(source, len(shape))
    try:
        layout = plan_layout(tuple(shape[:-2]), axes.names[:-2] if axes else None)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    usable = axes is not None and all(math.isfinite(v) and v > 0 for v in axes.scale) and all(
        math.isfinite(v) for v in axes.translation)  # a malformed placement is not copied
    return layout.placed(axes.scale, axes.translation, axes.units) if axes and usable else layout

def _describe(path: Path) -> InputAxes | None:
    from .kinds import TIFF_SUFFIXES, is_zarr_path

    if is_zarr_path(path) or is_zarr_path(path.parent):
        return _zarr_axes(first_image(path))
    if path.suffix.lower() in TIFF_SUFFIXES:
        return _tiff_axes(path)
    from .dicom import has_preamble, is_dicom_folder

    if (path.is_dir() and is_dicom_folder(path)) or path.suffix.lower() == ".dcm" or (
            path.is_file() and has_preamble(path)):
        return _dicom_axes(path)
    return None  # plain images: the layout's defaults (a stack's planes are z)


def _dicom_axes(path: Path) -> InputAxes | None:
    """Pixel spacing (mm) of a DICOM file or folder, and the step between its planes.

    A folder's step is that between two slices' positions (evenly spaced: checked when read);
    a multi-frame file's is its SpacingBetweenSlices or SliceThickness (top level or in the
    enhanced functional groups, see :func:`~.dicom_series.frame_step`).
    """
    import pydicom

    from .dicom import read_dicom
    from .dicom_series import frame_step, pixel_spacing, position

    image = read_dicom(path)
    frames = image.frames
    first = pydicom.dcmread(frames[0].path, stop_before_pixels=True)
    spacing = pixel_spacing(first)
    if spacing is None:
        return None
    mm = "millimeter"
    if not image.stack:  # one plane (also a whole-slide image's tiles assembled)
        return InputAxes(("y", "x"), spacing, (0.0, 0.0), (mm, mm))
    step, unit = 1.0, None
    if len(frames) > 1 and frames[1].path != frames[0].path:  # a folder of slices
        second = pydicom.dcmread(frames[1].path, stop_before_pixels=True)
        here, there = position(first), position(second)
        if here is not None and there is not None and abs(there - here) > 0:
            step, unit = abs(there - here), mm
    elif (found := frame_step(first)) is not None:  # frames of one file
        step, unit = found, mm
    return InputAxes(("z", "y", "x"), (step, *spacing), (0.0, 0.0, 0.0), (unit, mm, mm))


def _zarr_axes(path: Path) -> InputAxes | None:
    import zarr

    for where in (path, path.parent):  # the image group, or the group above one of its levels
        try:
            node = zarr.open(where, mode="r")
        except Exception:
            continue
        attrs: dict[str, Any] = dict(node.attrs)
        ms = parse_multiscale(attrs, where)
        if ms and ms.axes:
            n = len(ms.axes)
            level = 0  # the group itself reads its first dataset
            if where != path:  # one level opened by its path: its own transforms
                name = path.relative_to(where).as_posix()
                if name not in ms.paths:
                    return None  # an array the multiscale does not list: placement unknown
                level = ms.paths.index(name)
            own_scale = (ms.scales[level] if ms.scales else None) or (1.0,) * n
            own_shift = (ms.translations[level] if ms.translations else None) or (0.0,) * n
            scale, shift = _whole_transform(attrs, n)  # NGFF: applied after each dataset's
            return InputAxes(tuple(_ngff_name(axis) for axis in ms.axes),
                             tuple(s * d for s, d in zip(scale, own_scale[:n], strict=True)),
                             tuple(s * d + t for s, d, t in
                                   zip(scale, own_shift[:n], shift, strict=True)),
                             _units(attrs, n))
    return None


def _multiscale(attrs: Any) -> Any:
    return attrs.get("ome", attrs)["multiscales"][0]


def _whole_transform(attrs: Any, n: int) -> tuple[list[float], list[float]]:
    """Read the multiscale's own scale and translation (all its datasets'), where well formed."""
    scale, shift = [1.0] * n, [0.0] * n
    try:
        transforms = _multiscale(attrs).get("coordinateTransformations") or []
    except (KeyError, IndexError, TypeError, AttributeError):
        return scale, shift
    for t in transforms if isinstance(transforms, list) else ():
        kind = t.get("type") if isinstance(t, dict) else None
        vector = t.get(kind) if kind in ("scale", "translation") else None
        if isinstance(vector, list) and len(vector) == n and all(
                isinstance(v, (int, float)) for v in vector):
            if kind == "scale":
                scale = [float(v) for v in vector]
            else:
                shift = [float(v) for v in vector]
    return scale, shift


def _units(attrs: Any, n: int) -> tuple[str | None, ...]:
    """Each axis's ``unit`` in NGFF ``multiscales`` attributes (0.5 nests them in ``ome``)."""
    try:
        axes = _multiscale(attrs)["axes"]
        units = tuple(a.get("unit") if isinstance(a, dict) and isinstance(a.get("unit"), str)
                      else None for a in axes)
    except (KeyError, IndexError, TypeError, AttributeError):
        return (None,) * n
    return units if len(units) == n else (None,) * n


def _ngff_name(axis: Axis) -> str:
    name = axis.name.lower()
    if axis.is_channel:
        return "c"
    if axis.type == "time" or name == "t":
        return "t"
    if name in ("y", "x", "z"):
        return name
    return "z" if axis.type == "space" else "?"


def _tiff_axes(path: Path) -> InputAxes | None:
    import tifffile

    from .tiff import main_series, quiet_tifffile

    with quiet_tifffile(), tifffile.TiffFile(path) as tif:
        index = main_series(tif)
        series = tif.series[index]
        axes = series.axes
        ome = _image_xml(tif.ome_metadata, index) if tif.is_ome and tif.ome_metadata else None
        other = None if ome else _imagej_or_svs_sizes(tif, series.keyframe)
    # samples: colours read as their lightness, gray + alpha composited (others are refused)
    axes = axes.replace("S", "")
    if axes[-2:] != "YX":
        return None
    names = (*(_TIFF_LETTERS.get(a, "?") for a in axes[:-2]), "y", "x")
    scale: list[float] = [1.0] * len(axes)
    units: list[str | None] = [None] * len(axes)
    shift: list[float] = [0.0] * len(axes)
    for i, letter in enumerate(axes):
        size, unit = _physical_size(ome, letter) if ome and letter in "ZYX" else (None, None)
        if size:
            scale[i], units[i] = size, unit
        if ome and letter in "ZYX":  # the first plane's stage position, in the size's unit
            shift[i] = _position(ome, letter, units[i])
        if other and other[0].get(letter):  # ImageJ's or an SVS's calibration
            scale[i], units[i] = other[0][letter], other[1]
    return InputAxes(names, tuple(scale), tuple(shift), tuple(units))


def _imagej_or_svs_sizes(tif: Any, page: Any) -> tuple[dict[str, float], str | None] | None:
    """Pixel sizes an ImageJ TIFF (resolution tags, ``spacing``) or an SVS (``MPP``) declares.

    ``page`` is the main series' key frame, whose resolution tags are read.
    """
    if tif.is_svs:
        found = re.search(r"\bMPP\s*=\s*([0-9.eE+-]+)", tif.pages[0].description or "")
        if found and float(found.group(1)) > 0:
            size = float(found.group(1))
            return {"Y": size, "X": size}, "micrometer"
        return None
    meta = tif.imagej_metadata if tif.is_imagej else None
    unit = _UNITS.get(str((meta or {}).get("unit", "")).replace("\\u00B5", "µ").replace(
        "micron", "µm"))
    if not meta or unit is None:  # pixels per unit without a unit say nothing of size
        return None
    sizes = {}
    tags = page.tags
    for letter, tag in (("Y", "YResolution"), ("X", "XResolution")):
        value = tags.get(tag)
        if value is not None and value.value[0] > 0:  # a rational: pixels per unit
            sizes[letter] = value.value[1] / value.value[0]
    if float(meta.get("spacing", 0) or 0) > 0:
        sizes["Z"] = float(meta["spacing"])
    return sizes, unit


def _image_xml(ome: str, index: int) -> str:
    """Cut out the OME-XML of the ``index``-th Image (tifffile's series ``index``), else all."""
    starts = [m.start() for m in re.finditer(r"<(?:\w+:)?Image\b", ome)]
    if index >= len(starts):
        return ome
    return ome[starts[index]:starts[index + 1] if index + 1 < len(starts) else len(ome)]


def _position(ome: str, letter: str, unit: str | None) -> float:
    """``Position{letter}`` of an OME-XML's first plane in ``unit`` (0 where not given).

    A position in another length unit (``Position{letter}Unit``) is converted; one without a
    unit (OME's "reference frame"), in an unknown unit or for an axis without a unit is taken
    as it is.

    Examples
    --------
    >>> _position('<Plane PositionX="1.5" PositionXUnit="mm"/>', "X", "micrometer")
    1500.0
    >>> _position('<Plane PositionX="7"/>', "X", "micrometer"), _position("", "Y", None)
    (7.0, 0.0)
    """
    plane = re.search(r"<(?:\w+:)?Plane\b[^>]*>", ome)
    found = re.search(rf'\bPosition{letter}="([0-9.eE+-]+)"', plane.group(0)) if plane else None
    if plane is None or found is None:
        return 0.0
    value = float(found.group(1))
    given = re.search(rf'\bPosition{letter}Unit="([^"]+)"', plane.group(0))
    source = _UNITS.get(given.group(1)) if given else None
    if source in _METRES and unit in _METRES:
        return value * 10.0 ** (_METRES[source] - _METRES[unit])
    return value


def _physical_size(ome: str, letter: str) -> tuple[float | None, str | None]:
    """``PhysicalSize{letter}`` of an OME-XML's first image, and its unit (NGFF name)."""
    size = re.search(rf'PhysicalSize{letter}="([0-9.eE+-]+)"', ome)
    if not size:
        return None, None
    unit = re.search(rf'PhysicalSize{letter}Unit="([^"]+)"', ome)
    return float(size.group(1)), _UNITS.get(unit.group(1) if unit else "µm")
