"""The NGFF layout napari-colorize writes: axes in NGFF order, a 2x pyramid, omero channels.

Builds the ``ome`` attributes of a result and edits them (a rename, a napari layer's scale and
translation); each result is checked against NGFF 0.5 (:func:`.ngff_meta.validate_ome`) before
it is stored. Reading them back is :mod:`.ngff_meta`'s job.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .ngff_meta import Axis, Channel
from .ngff_schema import NGFF_VERSION, validate_ome

__all__ = ["Layout", "build_ome", "channel_position", "image_axes", "plan_layout", "with_name",
           "with_transform"]


def channel_position(n_leading: int) -> int:
    """Give the channel axis's index in NGFF order (t, c, z, y, x) for 0-2 leading axes.

    Examples
    --------
    >>> channel_position(0), channel_position(1), channel_position(2)
    (0, 0, 1)
    """
    return 1 if n_leading == 2 else 0


def image_axes(n_leading: int, *, channels: bool) -> tuple[Axis, ...]:
    """List the axes of a result with ``n_leading`` axes before (y, x): z, then t before it.

    Parameters
    ----------
    n_leading : int
        Axes before (y, x): 0, 1 (z) or 2 (t, z).
    channels : bool
        Whether the image has a channel axis (RGB, channel maps).

    Returns
    -------
    tuple of Axis

    Raises
    ------
    ValueError
        If ``n_leading`` is more than 2.

    Examples
    --------
    >>> [a.name for a in image_axes(1, channels=True)]
    ['c', 'z', 'y', 'x']
    """
    if n_leading > 2:
        raise ValueError(f"OME-Zarr holds at most 2 axes before (y, x); the image has {n_leading}")
    return Layout(tuple(range(n_leading)), ("t", "z")[2 - n_leading:]).axes(channels=channels)


@dataclass(frozen=True)
class Layout:
    """Which leading axes of a result an NGFF image stores, and as which axes.

    NGFF orders axes time, channel, space (t, c, z, y, x) and a result's channel axis is its
    colour, so at most a time and a z axis lead (y, x). Made by :func:`plan_layout`.

    Parameters
    ----------
    keep : tuple of int
        The leading axes stored, in order; the others have one plane and are left out.
    names : tuple of str
        ``"t"`` or ``"z"`` for each kept axis.
    scale, translate, units : tuple, optional
        Level 0's placement, one entry per stored axis but the channel (kept leading axes,
        then y, x), as the input gives it (see :meth:`place`); None: unit pixels at 0.

    Examples
    --------
    >>> layout = plan_layout((1, 1, 5), ("t", "c", "z"))
    >>> layout, layout.select((0, 0, 3)), [a.name for a in layout.axes(channels=True)]
    (Layout(keep=(0, 2), names=('t', 'z')), (0, 3), ['t', 'c', 'z', 'y', 'x'])
    """

    keep: tuple[int, ...] = ()
    names: tuple[str, ...] = ()
    #: Level 0's pixel size, offset and unit per stored axis but the channel (the input's).
    scale: tuple[float, ...] | None = field(default=None, repr=False)
    translate: tuple[float, ...] | None = field(default=None, repr=False)
    units: tuple[str | None, ...] | None = field(default=None, repr=False)

    @property
    def channel_position(self) -> int:
        """The channel axis's index: after the time axis, before z."""
        return sum(name == "t" for name in self.names)

    def axes(self, *, channels: bool) -> tuple[Axis, ...]:
        """List the stored axes, with a channel axis (RGB, channel maps) when ``channels``."""
        kinds = {"t": "time", "z": "space"}
        axes = [Axis(name, kinds[name]) for name in self.names]
        if channels:
            axes.insert(self.channel_position, Axis("c", "channel"))
        return (*axes, Axis("y", "space"), Axis("x", "space"))

    def select(self, index: Sequence[int]) -> tuple[int, ...]:
        """Map a plane's index over every leading axis to the stored axes."""
        return tuple(int(index[i]) for i in self.keep)

    def placed(self, scale: Sequence[float], translate: Sequence[float],
               units: Sequence[str | None]) -> Layout:
        """Copy with the input's placement: vectors over all its axes (leading, y, x)."""
        n = len(scale)
        picks = [*self.keep, n - 2, n - 1]
        return replace(self, scale=tuple(float(scale[i]) for i in picks),
                       translate=tuple(float(translate[i]) for i in picks),
                       units=tuple(units[i] for i in picks))

    def place(self, ome: Any, where: str | Path) -> dict[str, Any]:
        """Apply the placement to ``ome`` attributes built for this layout.

        Units NGFF does not know are left out (the scale stays).
        """
        if self.scale is None or self.translate is None:
            return dict(ome)
        placed = with_transform(ome, self.scale, self.translate, where)
        if not self.units or not any(self.units):
            return placed
        axes = [a for a in placed["multiscales"][0]["axes"] if a.get("type") != "channel"]
        for axis, unit in zip(axes, self.units, strict=True):
            if unit:
                axis["unit"] = unit
        try:
            validate_ome(placed, where)
        except ValueError:
            return with_transform(ome, self.scale, self.translate, where)
        return placed


def plan_layout(leading: Sequence[int], names: Sequence[str] | None = None,
                where: str | Path = "the image") -> Layout:
    """Choose how an NGFF image stores a result's leading axes (the sizes before y, x).

    A gray input's channel axis of one plane (``c`` in ``names``) is left out, since the
    result's channels are its colours; then, while more than two axes lead, single planes
    are left out. Axes named ``t`` and ``z`` (in that order) keep their names; otherwise one
    axis is z and two are t, z.

    Parameters
    ----------
    leading : sequence of int
        The sizes of the axes before (y, x).
    names : sequence of str, optional
        Their names as the input gives them (``"t"``, ``"c"``, ``"z"``, other); None: unknown.
    where : str or Path
        What the error names.

    Returns
    -------
    Layout

    Raises
    ------
    ValueError
        If more than two axes have more than one plane, or a channel axis has several.

    Examples
    --------
    >>> plan_layout((1, 1, 1), ("t", "c", "z"))  # bioformats2raw's (t, c, z, y, x), one plane
    Layout(keep=(0, 2), names=('t', 'z'))
    >>> plan_layout((1, 1, 1))  # unnamed: the first single plane is left out
    Layout(keep=(1, 2), names=('t', 'z'))
    >>> plan_layout((7,), ("t",)), plan_layout((7,))
    (Layout(keep=(0,), names=('t',)), Layout(keep=(0,), names=('z',)))
    >>> plan_layout((2, 3, 4))
    Traceback (most recent call last):
    ...
    ValueError: the image has 3 axes of more than one plane before (y, x), shape (2, 3, 4); ...
    """
    leading = tuple(int(n) for n in leading)
    known = names is not None and len(names) == len(leading)
    labels = [str(n).lower() for n in names] if known and names is not None else [""] * len(leading)
    for label, size in zip(labels, leading, strict=True):
        if label == "c" and size > 1:
            raise ValueError(f"{where} has {size} channels (axes {''.join(labels)}); "
                             "colorize one channel at a time")
    keep = [i for i, label in enumerate(labels) if not (label == "c" and leading[i] == 1)]
    while len(keep) > 2 and any(leading[i] == 1 for i in keep):
        keep.remove(next(i for i in keep if leading[i] == 1))
    if len(keep) > 2:
        raise ValueError(f"{where} has {len(keep)} axes of more than one plane before (y, x), "
                         f"shape {leading}; OME-Zarr and OME-TIFF hold at most 2 (t, z)")
    kept = [labels[i] for i in keep]
    if kept not in (["t"], ["z"], ["t", "z"]):
        kept = ["t", "z"][2 - len(keep):]
    return Layout(tuple(keep), tuple(kept))


def build_ome(axes: Sequence[Axis], n_levels: int, name: str, *,
              channels: Sequence[Channel] = (), top: int = 1) -> dict[str, Any]:
    """Build the ``ome`` attributes of a result: a 2x pyramid in (y, x), and omero channels.

    Parameters
    ----------
    axes : sequence of Axis
        The image axes (see :func:`image_axes`).
    n_levels : int
        Pyramid levels, stored as datasets ``"0"``, ``"1"``, ...
    name : str
        The multiscale's name (the store's file name).
    channels : sequence of Channel, optional
        The omero channels; none for a one-value-per-pixel image.
    top : int
        The channels' display window maximum (255 for uint8, 1 for float).

    Returns
    -------
    dict
        JSON-ready, validated against NGFF 0.5.

    Examples
    --------
    >>> from napari_colorize.io.ngff_meta import RGB_CHANNELS, parse_omero
    >>> ome = build_ome(image_axes(0, channels=True), 2, "r.ome.zarr", channels=RGB_CHANNELS)
    >>> ome["multiscales"][0]["datasets"][1]["coordinateTransformations"][0]["scale"]
    [1.0, 2.0, 2.0]
    >>> parse_omero(ome, "r.ome.zarr")[0]
    Channel(label='red', color='FF0000')
    """
    datasets = []
    for level in range(n_levels):
        scale = [float(2**level) if a.name in ("y", "x") else 1.0 for a in axes]
        transforms: list[dict[str, Any]] = [{"type": "scale", "scale": scale}]
        if level:  # a coarser pixel is the mean of a block: it sits at the block's centre
            shift = [(f - 1) / 2 for f in scale]
            transforms.append({"type": "translation", "translation": shift})
        datasets.append({"path": str(level), "coordinateTransformations": transforms})
    ome: dict[str, Any] = {
        "version": NGFF_VERSION,
        "multiscales": [{"name": name, "axes": [{"name": a.name, "type": a.type} for a in axes],
                         "datasets": datasets}],
    }
    if channels:
        ome["omero"] = {
            "channels": [
                {"label": c.label, "color": c.color, "active": True, "coefficient": 1,
                 "family": "linear", "inverted": False,
                 "window": {"min": 0, "max": top, "start": 0, "end": top}}
                for c in channels
            ],
            "rdefs": {"model": "color"},
        }
    validate_ome(ome, name)
    return ome


def with_name(ome: Any, name: str, where: str | Path) -> dict[str, Any]:
    """Copy our ``ome`` attributes with the multiscale renamed (a store moved).

    Parameters
    ----------
    ome : mapping
        A group's ``ome`` attribute, as read.
    name : str
        The new name (the store's file name).
    where : str or Path
        The store, named in the error.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        If ``ome`` (a group's ``ome`` attribute, as read) is not valid NGFF 0.5.

    Examples
    --------
    >>> ome = build_ome(image_axes(0, channels=False), 1, "a.ome.zarr")
    >>> with_name(ome, "b.ome.zarr", "b.ome.zarr")["multiscales"][0]["name"]
    'b.ome.zarr'
    """
    validate_ome(ome, where)
    renamed: dict[str, Any] = json.loads(json.dumps(ome))
    renamed["multiscales"][0]["name"] = name
    return renamed


def with_transform(ome: Any, scale: Sequence[float], translate: Sequence[float],
                   where: str | Path) -> dict[str, Any]:
    """Copy our ``ome`` attributes, placing level 0 at ``scale`` and ``translate``.

    ``scale`` and ``translate`` have one entry per axis except the channel axis (a napari
    layer's). Each coarser level's scale is 2x per level in (y, x), and its translation moves
    half a level-0 pixel further per doubling: a 2x2 block's centre.

    Parameters
    ----------
    ome : mapping
        A group's ``ome`` attribute, as read.
    scale, translate : sequence of float
        Level 0's pixel size and offset, one per non-channel axis.
    where : str or Path
        The store, named in errors.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        If ``ome`` is not valid NGFF 0.5, or the vectors do not fit its axes.

    Examples
    --------
    >>> ome = build_ome(image_axes(0, channels=False), 2, "r.ome.zarr")
    >>> ms = with_transform(ome, [0.5, 0.5], [0.0, 0.0], "r.ome.zarr")["multiscales"][0]
    >>> [t["type"] for t in ms["datasets"][1]["coordinateTransformations"]]
    ['scale', 'translation']
    """
    validate_ome(ome, where)
    placed: dict[str, Any] = json.loads(json.dumps(ome))
    ms = placed["multiscales"][0]
    names = [a["name"] for a in ms["axes"]]
    c = next((i for i, a in enumerate(ms["axes"]) if a.get("type") == "channel"), None)
    if c is not None:
        scale, translate = [*scale[:c], 1.0, *scale[c:]], [*translate[:c], 0.0, *translate[c:]]
    if len(scale) != len(names) or len(translate) != len(names):
        raise ValueError(f"{where}: a scale and translation for {len(names)} axes are needed; "
                         f"got {len(scale)} and {len(translate)}")
    for level, dataset in enumerate(ms["datasets"]):
        factor = [2.0**level if n in ("y", "x") else 1.0 for n in names]
        level_scale = [s * f for s, f in zip(scale, factor, strict=True)]
        shift = [t + s * (f - 1) / 2 for t, s, f in zip(translate, scale, factor, strict=True)]
        transforms: list[dict[str, Any]] = [{"type": "scale", "scale": level_scale}]
        if any(shift):
            transforms.append({"type": "translation", "translation": shift})
        dataset["coordinateTransformations"] = transforms
    validate_ome(placed, where)
    return placed
