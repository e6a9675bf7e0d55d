"""Read napari-colorize OME-Zarr outputs back as an RGB layer (and confidence, when present)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..io.readers import read_metadata


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


def read_colorized(path: str | list[str]) -> list[tuple]:
    """Layer data for an OME-Zarr result: RGB channel-last, scale and translate from NGFF."""
    import dask.array as da
    import zarr

    if isinstance(path, (list, tuple)):
        path = path[0]
    path = Path(str(path).rstrip("/"))
    root = zarr.open_group(path, mode="r")
    levels, names, scale, translate = _multiscale(root)
    c = names.index("c")
    rgb = [da.moveaxis(level, c, -1) for level in levels]
    spatial = _drop(names, c)
    meta = {
        "name": path.name.split(".")[0],
        "rgb": True,
        "scale": _drop(scale, c),
        "translate": _drop(translate, c),
        "axis_labels": spatial,
        "metadata": {"napari_colorize": read_metadata(path)},
    }
    layers = [(rgb if len(rgb) > 1 else rgb[0], meta, "image")]
    if "confidence" in root:
        conf, _, conf_scale, conf_translate = _multiscale(root["confidence"])
        layers.append((
            conf if len(conf) > 1 else conf[0],
            {"name": f"{meta['name']} confidence", "colormap": "viridis",
             "contrast_limits": (0.0, 1.0), "scale": conf_scale, "translate": conf_translate,
             "visible": False},
            "image",
        ))
    return layers
