"""Read napari-colorize OME-Zarr outputs back as an RGB layer (and confidence, when present).

The metadata is read and checked by :func:`napari_colorize.io.ngff_meta.read_image_metadata`:
a damaged result gives one line naming the store and the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..io.ngff import confidence_path
from ..io.ngff_meta import ImageMetadata, read_image_metadata
from ..io.readers import incomplete_message, read_metadata


def get_reader(path: str | list[str]) -> Any:
    """Return a reader for an OME-Zarr written by napari-colorize, else ``None``.

    Parameters
    ----------
    path : str or list of str
        What napari asks about (one path, or a list of one).
    """
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    path = Path(str(path).rstrip("/"))
    if not path.is_dir() or not read_metadata(path):
        return None
    return read_colorized


def _levels(path: Path, meta: ImageMetadata) -> list[Any]:
    """Open the pyramid levels as dask arrays, finest first."""
    import dask.array as da
    import zarr

    group = zarr.open_group(path, mode="r")
    return [da.from_zarr(group[p]) for p in meta.multiscale.paths]


def _data(levels: list[Any]) -> Any:
    """Layer data: the pyramid, or its one level."""
    return levels if len(levels) > 1 else levels[0]


def _channel_axis(path: Path, meta: ImageMetadata) -> int:
    c = meta.multiscale.channel_axis
    if c is None:
        raise ValueError(f"{path}: OME-Zarr metadata lists no channel axis "
                         f"(axes {', '.join(meta.multiscale.names)})")
    return c


def _block(meta: ImageMetadata) -> dict:
    """Our ``napari_colorize`` block as stored, for the layer's metadata."""
    return dict(meta.attrs.raw) if meta.attrs else {}


def _drop(values: list, index: int) -> list:
    return [v for i, v in enumerate(values) if i != index]


def _confidence_layer(path: Path, name: str) -> tuple:
    meta = read_image_metadata(path)
    ms = meta.multiscale
    return (
        _data(_levels(path, meta)),
        {"name": name, "colormap": "viridis", "contrast_limits": (0.0, 1.0), "scale": ms.scale,
         "translate": ms.translation, "metadata": {"napari_colorize": _block(meta)}},
        "image",
    )


def _channel_layers(path: Path, name: str) -> tuple:
    """Make the layers of a channel model's maps (``NAME.channels.ome.zarr``).

    One additive layer per channel, coloured as stored in its omero metadata.
    """
    from napari.utils.colormaps import Colormap

    meta = read_image_metadata(path)
    ms, channels = meta.multiscale, meta.channels
    c = _channel_axis(path, meta)
    return (
        _data(_levels(path, meta)),
        {"name": [f"{name} {ch.label}" for ch in channels], "channel_axis": c,
         "colormap": [Colormap([[0, 0, 0, 1], [*ch.rgb, 1]], name=f"napari-colorize {ch.label}")
                      for ch in channels],
         "contrast_limits": [(0.0, 1.0)] * len(channels), "blending": "additive",
         "scale": _drop(ms.scale, c), "translate": _drop(ms.translation, c),
         "metadata": {"napari_colorize": _block(meta)}},
        "image",
    )


def read_colorized(path: str | list[str]) -> list[tuple]:
    """Make the layer data of an OME-Zarr result.

    The RGB image channel-last, with scale and translate from NGFF, plus its confidence image
    when one was written beside it (hidden). A confidence or channel-maps store opens alone.

    Parameters
    ----------
    path : str or list of str
        The store (npe2 passes one path, or a list of one).

    Returns
    -------
    list of tuple
        ``(data, kwargs, "image")`` per layer.

    Raises
    ------
    ValueError
        One line naming the store when its metadata does not check.
    """
    import dask.array as da

    if isinstance(path, (list, tuple)):
        path = path[0]
    path = Path(str(path).rstrip("/"))
    name = path.name.split(".")[0]
    kind = read_metadata(path).get("kind")
    if kind == "confidence":
        return [_confidence_layer(path, f"{name} confidence")]
    if kind == "channels":
        return [_channel_layers(path, name)]
    message = incomplete_message(path)
    if message:
        from napari.utils.notifications import show_warning

        show_warning(message)
        name += " (incomplete)"
    found = read_image_metadata(path)
    ms = found.multiscale
    c = _channel_axis(path, found)
    rgb = [da.moveaxis(level, c, -1) for level in _levels(path, found)]
    meta = {
        "name": name,
        "rgb": True,
        "scale": _drop(ms.scale, c),
        "translate": _drop(ms.translation, c),
        "axis_labels": _drop(ms.names, c),
        "metadata": {"napari_colorize": _block(found)},
    }
    layers = [(_data(rgb), meta, "image")]
    conf = confidence_path(path) if path.name.lower().endswith(".zarr") else None
    if conf is not None and conf.is_dir():
        layer = _confidence_layer(conf, f"{name} confidence")
        layer[1]["visible"] = False
        layers.append(layer)
    return layers
