"""Read napari-colorize OME-Zarr outputs back as an RGB layer (and confidence, when present)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..io.ngff import confidence_path
from ..io.readers import incomplete_message, read_metadata


def get_reader(path: str | list[str]) -> Any:
    """Return a reader for an OME-Zarr written by napari-colorize, else ``None``."""
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    path = Path(str(path).rstrip("/"))
    if not path.is_dir() or not read_metadata(path):
        return None
    return read_colorized


def _multiscale(group: Any) -> tuple[list[Any], list[str], list[float], list[float]]:
    """Levels, axis names, and level-0 scale/translate of an NGFF multiscale group."""
    import dask.array as da

    ome = dict(group.attrs).get("ome", dict(group.attrs))
    ms = ome["multiscales"][0]
    names = [a["name"] for a in ms["axes"]]
    levels = [da.from_zarr(group[d["path"]]) for d in ms["datasets"]]
    scale, translate = [1.0] * len(names), [0.0] * len(names)
    for t in ms["datasets"][0].get("coordinateTransformations", []):
        if t["type"] == "scale":
            scale = [float(v) for v in t["scale"]]
        elif t["type"] == "translation":
            translate = [float(v) for v in t["translation"]]
    return levels, names, scale, translate


def _drop(values: list, index: int) -> list:
    return [v for i, v in enumerate(values) if i != index]


def _confidence_layer(path: Path, name: str) -> tuple:
    import zarr

    levels, _, scale, translate = _multiscale(zarr.open_group(path, mode="r"))
    return (
        levels if len(levels) > 1 else levels[0],
        {"name": name, "colormap": "viridis", "contrast_limits": (0.0, 1.0), "scale": scale,
         "translate": translate, "metadata": {"napari_colorize": read_metadata(path)}},
        "image",
    )


def _channel_layers(path: Path, name: str) -> tuple:
    """The channel maps of a channel model (``NAME.channels.ome.zarr``): one additive layer per
    channel, coloured as stored in its omero metadata."""
    import zarr
    from napari.utils.colormaps import Colormap

    group = zarr.open_group(path, mode="r")
    levels, names, scale, translate = _multiscale(group)
    c = names.index("c")
    channels = dict(group.attrs)["ome"]["omero"]["channels"]
    colours = [[int(ch["color"][i:i + 2], 16) / 255 for i in (0, 2, 4)] for ch in channels]
    return (
        levels if len(levels) > 1 else levels[0],
        {"name": [f"{name} {ch['label']}" for ch in channels], "channel_axis": c,
         "colormap": [Colormap([[0, 0, 0, 1], [*rgb, 1]], name=f"napari-colorize {ch['label']}")
                      for ch, rgb in zip(channels, colours, strict=True)],
         "contrast_limits": [(0.0, 1.0)] * len(channels), "blending": "additive",
         "scale": _drop(scale, c), "translate": _drop(translate, c),
         "metadata": {"napari_colorize": read_metadata(path)}},
        "image",
    )


def read_colorized(path: str | list[str]) -> list[tuple]:
    """Layer data for an OME-Zarr result: RGB channel-last with scale and translate from NGFF,
    plus its confidence image when one was written beside it."""
    import dask.array as da
    import zarr

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
    root = zarr.open_group(path, mode="r")
    levels, names, scale, translate = _multiscale(root)
    c = names.index("c")
    rgb = [da.moveaxis(level, c, -1) for level in levels]
    meta = {
        "name": name,
        "rgb": True,
        "scale": _drop(scale, c),
        "translate": _drop(translate, c),
        "axis_labels": _drop(names, c),
        "metadata": {"napari_colorize": read_metadata(path)},
    }
    layers = [(rgb if len(rgb) > 1 else rgb[0], meta, "image")]
    conf = confidence_path(path) if path.name.endswith(".zarr") else None
    if conf is not None and conf.is_dir():
        layer = _confidence_layer(conf, f"{name} confidence")
        layer[1]["visible"] = False
        layers.append(layer)
    return layers
