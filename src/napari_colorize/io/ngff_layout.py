"""The NGFF layout napari-colorize writes: axes in NGFF order, a 2x pyramid, omero channels.

Builds the ``ome`` attributes of a result and edits them (a rename, a napari layer's scale and
translation); each result is checked against NGFF 0.5 (:func:`.ngff_meta.validate_ome`) before
it is stored. Reading them back is :mod:`.ngff_meta`'s job.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .ngff_meta import Axis, Channel
from .ngff_schema import NGFF_VERSION, validate_ome

__all__ = ["build_ome", "channel_position", "image_axes", "with_name", "with_transform"]


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
    axes = [Axis("t", "time"), Axis("z", "space")][2 - n_leading:]
    if channels:
        axes.insert(channel_position(n_leading), Axis("c", "channel"))
    return (*axes, Axis("y", "space"), Axis("x", "space"))


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
        datasets.append(
            {"path": str(level), "coordinateTransformations": [{"type": "scale", "scale": scale}]}
        )
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
