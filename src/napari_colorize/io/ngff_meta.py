"""OME-NGFF metadata read and checked in one place: typed axes, levels, scales, channels.

Every reader of OME-Zarr metadata goes through here: the image readers (inputs from any
writer), the napari reader and writer, and a resume (our results). The metadata is parsed into
frozen, typed objects (:class:`Multiscale`, :class:`Channel`, and our ``napari_colorize`` block
as :class:`~.colorize_attrs.ColorizeAttrs`, re-exported here). What we write is built by
:mod:`.ngff_layout` (the ``ome`` attributes) and :func:`~.colorize_attrs.result_block`.

Two levels of checking:

* The ``ome`` metadata we write, and that of our results when read back (napari reader,
  resume, the napari writer), is validated against the NGFF 0.5 schema with the pydantic
  models of ``ome-zarr-models`` (:func:`~.ngff_schema.validate_ome`, re-exported here).
* OME-Zarr *inputs* from other writers are parsed leniently (NGFF 0.3 bare axis names, 0.4 on
  zarr v2, axes left out): a strict schema would refuse files that other tools open, and
  reading pixels needs only the dataset paths and the axes.

Every problem is a one-line ``ValueError`` that starts with the path and names the problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .arrays import one_line
from .colorize_attrs import ATTRS_KEY, ColorizeAttrs, read_colorize_block, result_block
from .ngff_schema import NGFF_VERSION, validate_ome

__all__ = [
    "ATTRS_KEY", "NGFF_VERSION", "RGB_CHANNELS", "Axis", "Channel", "ColorizeAttrs",
    "ImageMetadata", "Multiscale", "parse_multiscale", "parse_omero", "read_colorize_block",
    "read_image_metadata", "result_block", "validate_ome",
]

_HEX = re.compile(r"[0-9A-Fa-f]{6}")


@dataclass(frozen=True)
class Axis:
    """One NGFF axis.

    Parameters
    ----------
    name : str
        Axis name (``"t"``, ``"c"``, ``"z"``, ``"y"``, ``"x"`` for what we write).
    type : str
        ``"time"``, ``"channel"``, ``"space"``, or ``""`` where NGFF 0.3 lists bare names.
    """

    name: str
    type: str = ""

    @property
    def is_channel(self) -> bool:
        """Whether this is a channel axis (by type, or named ``c`` as in NGFF 0.3)."""
        return self.type == "channel" or self.name == "c"


@dataclass(frozen=True)
class Channel:
    """An omero channel: a label and a colour as ``RRGGBB`` hex.

    Parameters
    ----------
    label : str
        Channel name.
    color : str
        Six hex digits, e.g. ``"FF0000"``.

    Raises
    ------
    ValueError
        If ``color`` is not six hex digits.

    Examples
    --------
    >>> Channel.from_rgb("teal", (0, 0.5, 0.5))
    Channel(label='teal', color='008080')
    >>> Channel("red", "FF0000").rgb
    (1.0, 0.0, 0.0)
    """

    label: str
    color: str

    def __post_init__(self) -> None:
        """Check the colour."""
        if not isinstance(self.color, str) or not _HEX.fullmatch(self.color):
            raise ValueError(f"channel {self.label!r} colour {self.color!r} is not RRGGBB hex")

    @classmethod
    def from_rgb(cls, label: str, rgb: Sequence[float]) -> Channel:
        """Make a channel coloured by ``rgb`` floats in [0, 1]."""
        return cls(label, "".join(f"{round(v * 255):02X}" for v in rgb))

    @property
    def rgb(self) -> tuple[float, float, float]:
        """The colour as three floats in [0, 1]."""
        r, g, b = (int(self.color[i:i + 2], 16) / 255 for i in (0, 2, 4))
        return r, g, b


#: The omero channels of an RGB result.
RGB_CHANNELS = (Channel("red", "FF0000"), Channel("green", "00FF00"), Channel("blue", "0000FF"))


@dataclass(frozen=True)
class Multiscale:
    """The first entry of NGFF ``multiscales``: axes, and one dataset per pyramid level.

    Parameters
    ----------
    axes : tuple of Axis
        The axes, outermost first (empty when an input leaves them out).
    paths : tuple of str
        Path of each level's array in the group, finest first.
    scales, translations : tuple
        Per level, the scale and translation vectors (``None`` where not given).
    name : str or None
        The multiscale's name.

    Raises
    ------
    ValueError
        Without a dataset path, or with scales or translations not one per level.
    """

    axes: tuple[Axis, ...]
    paths: tuple[str, ...]
    scales: tuple[tuple[float, ...] | None, ...] = ()
    translations: tuple[tuple[float, ...] | None, ...] = ()
    name: str | None = None

    def __post_init__(self) -> None:
        """Check one path per level, and scales and translations to match."""
        if not self.paths:
            raise ValueError("a multiscale needs at least one dataset path")
        for kind, vectors in (("scales", self.scales), ("translations", self.translations)):
            if vectors and len(vectors) != len(self.paths):
                raise ValueError(f"{len(vectors)} {kind} for {len(self.paths)} levels")

    @property
    def names(self) -> list[str]:
        """Axis names."""
        return [a.name for a in self.axes]

    @property
    def channel_axis(self) -> int | None:
        """Index of the channel axis, else None."""
        return next((i for i, a in enumerate(self.axes) if a.is_channel), None)

    @property
    def scale(self) -> list[float]:
        """Level-0 scale (ones where not given)."""
        found = self.scales[0] if self.scales else None
        return list(found) if found else [1.0] * len(self.axes)

    @property
    def translation(self) -> list[float]:
        """Level-0 translation (zeros where not given)."""
        found = self.translations[0] if self.translations else None
        return list(found) if found else [0.0] * len(self.axes)


@dataclass(frozen=True)
class ImageMetadata:
    """The checked metadata of an NGFF 0.5 OME-Zarr (see :func:`read_image_metadata`).

    Parameters
    ----------
    multiscale : Multiscale
        Axes and levels.
    channels : tuple of Channel
        The omero channels (empty for a confidence image).
    attrs : ColorizeAttrs or None
        Our ``napari_colorize`` block (None in an image written by another tool).
    """

    multiscale: Multiscale
    channels: tuple[Channel, ...] = ()
    attrs: ColorizeAttrs | None = None


def _ome(attrs: Any, where: str | Path) -> Mapping[str, Any]:
    """NGFF 0.5 nests its metadata in ``ome``; 0.4 and 0.3 keep it in the group's attributes."""
    ome = attrs.get("ome", attrs) if isinstance(attrs, Mapping) else attrs
    if not isinstance(ome, Mapping):
        raise ValueError(f"{where}: malformed OME-Zarr metadata: 'ome' is a "
                         f"{type(ome).__name__}, not an object")
    return ome


def _vectors(datasets: list, kind: str) -> tuple[tuple[float, ...] | None, ...]:
    """Per dataset, its ``kind`` ("scale" or "translation") vector where well-formed."""
    found: list[tuple[float, ...] | None] = []
    for d in datasets:
        vector = None
        transforms = d.get("coordinateTransformations")
        for t in transforms if isinstance(transforms, list) else ():
            if isinstance(t, Mapping) and t.get("type") == kind:
                v = t.get(kind)
                if isinstance(v, list) and all(isinstance(x, (int, float)) for x in v):
                    vector = tuple(float(x) for x in v)
        found.append(vector)
    return tuple(found)


def parse_multiscale(attrs: Any, where: str | Path) -> Multiscale | None:
    """Parse the first NGFF ``multiscales`` entry of a group's attributes (NGFF 0.3-0.5).

    Lenient, for inputs from any writer: NGFF 0.3 bare axis names and left-out axes are taken,
    and transforms are not checked (a malformed one reads as ``None``). Only what reading the
    pixels needs must be well formed: the datasets' paths and the axes list.

    Parameters
    ----------
    attrs : mapping
        The group's attributes (``ome`` nested for 0.5, top level for 0.4 and 0.3).
    where : str or Path
        The store, named in errors.

    Returns
    -------
    Multiscale or None
        None when the group has no ``multiscales``.

    Raises
    ------
    ValueError
        One line naming ``where`` when ``multiscales``, its datasets or axes are malformed.

    Examples
    --------
    >>> ms = parse_multiscale({"multiscales": [{"version": "0.3", "axes": ["c", "y", "x"],
    ...                                         "datasets": [{"path": "0"}]}]}, "in.zarr")
    >>> ms.names, ms.channel_axis, ms.paths
    (['c', 'y', 'x'], 0, ('0',))
    >>> parse_multiscale({"ome": {"multiscales": []}}, "in.zarr")
    Traceback (most recent call last):
    ...
    ValueError: in.zarr: malformed OME-Zarr metadata: 'multiscales' must be a non-empty list \
of objects
    """
    found = _ome(attrs, where).get("multiscales")
    if found is None:
        return None
    bad = f"{where}: malformed OME-Zarr metadata:"
    if not isinstance(found, list) or not found or not isinstance(found[0], Mapping):
        raise ValueError(f"{bad} 'multiscales' must be a non-empty list of objects")
    first = found[0]
    datasets = first.get("datasets")
    if not (isinstance(datasets, list) and datasets
            and all(isinstance(d, Mapping) and isinstance(d.get("path"), str)
                    for d in datasets)):
        raise ValueError(f"{bad} multiscales[0] has no 'datasets' entry with a 'path'")
    axes = first.get("axes", [])
    if not isinstance(axes, list) or not all(isinstance(a, (str, Mapping)) for a in axes):
        raise ValueError(f"{bad} 'axes' must be a list of axes")
    typed = tuple(
        Axis(a, "channel" if a == "c" else "") if isinstance(a, str)
        else Axis(str(a.get("name", "")), str(a.get("type", "") or ""))
        for a in axes
    )
    name = first.get("name")
    return Multiscale(typed, tuple(d["path"] for d in datasets), _vectors(datasets, "scale"),
                      _vectors(datasets, "translation"),
                      name if isinstance(name, str) else None)


def parse_omero(ome: Any, where: str | Path) -> tuple[Channel, ...]:
    """Parse the omero channels (label and colour) of ``ome`` attributes.

    Parameters
    ----------
    ome : mapping
        A group's ``ome`` attribute (NGFF 0.5), or its attributes (0.4).
    where : str or Path
        The store, named in the error.

    Returns
    -------
    tuple of Channel
        Empty without omero channels; an unlabelled one is called ``"channel N"``.

    Raises
    ------
    ValueError
        One line naming ``where`` when a channel has no label or an invalid colour.
    """
    channels = ome.get("omero", {}).get("channels", []) if isinstance(ome, Mapping) else []
    try:
        return tuple(Channel(str(c.get("label", f"channel {i}")), c.get("color"))
                     for i, c in enumerate(channels))
    except (AttributeError, ValueError) as exc:
        raise ValueError(f"{where}: malformed omero metadata: {exc}") from None


def _json(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path.parent}: cannot read {path.name} ({one_line(exc)})") from None
    if not isinstance(found, dict):
        raise ValueError(f"{path.parent}: {path.name} is not a JSON object")
    return found


def read_image_metadata(path: str | Path) -> ImageMetadata:
    """Read and check the metadata of an NGFF 0.5 OME-Zarr (ours, or another tool's).

    The ``ome`` attributes are checked against NGFF 0.5, every dataset must be an array with
    one dimension per axis, and our block is type-checked.

    Parameters
    ----------
    path : str or Path
        The store (a folder holding ``zarr.json``).

    Returns
    -------
    ImageMetadata

    Raises
    ------
    ValueError
        One line naming the store and the problem.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from napari_colorize.io.writers import write_rgb
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = write_rgb(Path(tmp) / "r.ome.zarr", np.zeros((40, 30, 3), np.uint8))
    ...     meta = read_image_metadata(out)
    >>> meta.multiscale.names, meta.multiscale.paths, meta.multiscale.channel_axis
    (['c', 'y', 'x'], ('0',), 0)
    >>> [c.label for c in meta.channels], meta.attrs.complete
    (['red', 'green', 'blue'], True)
    """
    path = Path(path)
    attrs = _json(path / "zarr.json").get("attributes") or {}
    ome = attrs.get("ome") if isinstance(attrs, dict) else None
    if ome is None:
        raise ValueError(f"{path}: no OME-Zarr 'ome' metadata")
    validate_ome(ome, path)
    multiscale = parse_multiscale(attrs, path)
    assert multiscale is not None  # validate_ome requires multiscales
    for p in multiscale.paths:
        array = path / p / "zarr.json"
        if not array.is_file():
            raise ValueError(f"{path}: multiscales lists {len(multiscale.paths)} datasets but "
                             f"the group holds no array {p!r}")
        shape = _json(array).get("shape")
        if not isinstance(shape, list) or len(shape) != len(multiscale.axes):
            ndim = len(shape) if isinstance(shape, list) else "no"
            raise ValueError(f"{path}: multiscales lists {len(multiscale.axes)} axes but "
                             f"dataset {p!r} has {ndim} dimensions")
    block = attrs.get(ATTRS_KEY)
    return ImageMetadata(multiscale, parse_omero(ome, path),
                         None if block is None else ColorizeAttrs.from_dict(block, path))

