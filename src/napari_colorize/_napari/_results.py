"""Result layers of a widget run: the "(running)" stack layer, the result, confidence, channels.

Every layer made here carries ``metadata["napari_colorize"]`` (see :func:`._layers.widget_tag`):
a new run replaces only such layers, and the Tune section never offers them as references.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._job import Job
from ._layers import TAG, insert_index, made_by_widget, widget_tag


def image_layer(data: Any, name: str, transforms: dict[str, Any], kind: str, source: str,
                rgb: bool = True, **kwargs: Any) -> Any:
    """Make an Image layer tagged as the widget's, placed like its source.

    Parameters
    ----------
    data : array-like
        The layer's data.
    name : str
        The layer's name.
    transforms : dict
        Its placement (see :func:`._layers.transform_kwargs`).
    kind, source : str
        What it is and the name of its source layer (see :func:`._layers.widget_tag`).
    rgb : bool
        Whether the data is RGB.
    **kwargs
        More keywords for :class:`napari.layers.Image`.

    Returns
    -------
    napari.layers.Image
    """
    from napari.layers import Image

    return Image(data, name=name, rgb=rgb, **transforms, metadata=widget_tag(kind, source),
                 **kwargs)


def remove_own(layers: Any, name: str) -> None:
    """Remove a result layer made by the widget; a user's own layer of that name stays.

    Parameters
    ----------
    layers : napari.components.LayerList
        The viewer's layers.
    name : str
        The layer's name.
    """
    if name in layers and made_by_widget(layers[name]):
        layers.remove(name)


def show_running(viewer: Any, job: Job) -> None:
    """Add the layer a whole-stack run fills plane by plane, above its source.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The widget's viewer.
    job : Job
        The run; its ``out`` array becomes the layer's data.
    """
    job.running = image_layer(job.out, f"{job.result_name()} (running)", job.transforms,
                              "running", job.name)
    viewer.layers.insert(insert_index(viewer.layers, job.source), job.running)


def remove_running(viewer: Any, job: Job | None) -> None:
    """Drop the job's "(running)" layer, if the viewer still holds it.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The widget's viewer.
    job : Job or None
        The run.
    """
    layer = job.running if job is not None else None
    if layer is not None and layer in viewer.layers:
        viewer.layers.remove(layer)


def show_result(viewer: Any, job: Job, rgb: Any, conf: Any,
                reference: tuple[str, ...] = (), domain: Any = None) -> None:
    """Show the RGB result (and confidence) above the source, replacing the previous ones.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The widget's viewer.
    job : Job
        The run.
    rgb : array-like
        The colorized image.
    conf : array-like or None
        Its confidence in [0, 1], when asked for.
    reference : tuple of str
        The names of the colour reference layers the run used, recorded in the result
        layer's metadata (``metadata["napari_colorize"]["reference"]``).
    domain : DomainScore, optional
        The input's domain check, recorded as ``metadata["napari_colorize"]["domain"]``.
    """
    layers = viewer.layers
    remove_running(viewer, job)
    tag = widget_tag("colorized", job.name)
    if reference:
        tag[TAG]["reference"] = list(reference)
    if domain is not None:
        tag[TAG]["domain"] = domain.to_metadata()
    if conf is None and _update_in_place(layers, job, rgb, tag):
        return
    for kind in ("colorized", "confidence"):
        remove_own(layers, job.result_name(kind))
    index = insert_index(layers, job.source)
    result = image_layer(rgb, job.result_name(), job.transforms, "colorized", job.name)
    result.metadata = tag
    layers.insert(index, result)
    if conf is not None:
        layers.insert(index + 1, image_layer(
            conf, job.result_name("confidence"), job.transforms, "confidence", job.name,
            rgb=False, colormap="viridis", contrast_limits=(0.0, 1.0), opacity=0.7,
        ))


def _update_in_place(layers: Any, job: Job, rgb: Any, tag: dict) -> bool:
    """Give the last result layer of the same view the new colours (live re-runs).

    A new layer costs a few tenths of a second in napari; new data in the same layer is a
    refresh. Only when that layer is the widget's, RGB, of the same dimensions, and no
    confidence layer of the view is shown (it would be stale).
    """
    name = job.result_name()
    old = layers[name] if name in layers else None
    if (old is None or not made_by_widget(old) or not old.rgb or np.ndim(rgb) != old.data.ndim
            or job.result_name("confidence") in layers):
        return False
    for key, value in job.transforms.items():
        if not _same(getattr(old, key, None), value):  # each change is a refresh in napari
            setattr(old, key, value)
    old.data = rgb
    old.metadata = tag
    return True


def _same(current: Any, value: Any) -> bool:
    """Tell whether a layer's transform already has ``value`` (matrices, units, labels)."""
    a, b = (getattr(v, "affine_matrix", v) for v in (current, value))
    try:
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    except (TypeError, ValueError):
        return False


def show_channels(viewer: Any, job: Job, maps: Any, spec: Any) -> None:
    """Show one layer per predicted channel, coloured by the palette, blended additively.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The widget's viewer.
    job : Job
        The run.
    maps : array-like
        The channel maps, ``(K, *image.shape)``.
    spec : ModelSpec
        The channel model's spec (channel names and palette).
    """
    from napari.utils.colormaps import Colormap

    layers = viewer.layers
    index = insert_index(layers, job.source)
    for k, (name, colour) in enumerate(zip(spec.channel_names, spec.palette, strict=True)):
        title = job.result_name(name)
        remove_own(layers, title)
        cmap = Colormap([[0, 0, 0, 1], [*colour, 1]], name=f"napari-colorize {name}")
        layers.insert(index + 1 + k, image_layer(
            maps[k], title, job.transforms, "channel", job.name, rgb=False, colormap=cmap,
            contrast_limits=(0.0, 1.0), blending="additive", visible=False,
        ))


#: Kinds of the widget's layers named "<source> ..." (the Tune previews are named after a model).
NAMED_AFTER_SOURCE = frozenset({"colorized", "confidence", "channel", "running", "hints"})


class RenameFollower:
    """Make the widget's layers follow their source layer's renames.

    Their tag's ``"source"`` takes the new name, and names starting with the old one
    (``"<old> colorized"``, ``"<old> hints"``...) start with the new one: a re-run then
    replaces them instead of adding a second result. Other layers are left as they are.

    Parameters
    ----------
    layers : napari.components.LayerList
        The viewer's layers.
    """

    def __init__(self, layers: Any) -> None:
        self._layers = layers
        # napari's rename event gives the layer only: the old names are kept here
        self._names = {id(layer): layer.name for layer in layers}
        layers.events.inserted.connect(self._on_inserted)
        layers.events.removed.connect(self._on_removed)
        layers.events.renamed.connect(self._on_renamed)

    def _on_inserted(self, event: Any) -> None:
        self._names[id(event.value)] = event.value.name

    def _on_removed(self, event: Any) -> None:
        self._names.pop(id(event.value), None)

    def _on_renamed(self, event: Any) -> None:
        layers = list(self._layers)  # not layers[i]: a plugin's viewer proxy wraps that anew
        layer = layers[event.index]
        old, new = self._names.get(id(layer)), layer.name
        self._names[id(layer)] = new
        if old is None or old == new:
            return
        for other in layers:
            if other is layer or not made_by_widget(other):
                continue
            tag = other.metadata[TAG]
            if tag.get("source") != old:
                continue
            other.metadata = {**other.metadata, TAG: {**tag, "source": new}}
            if tag.get("kind") in NAMED_AFTER_SOURCE and other.name.startswith(f"{old} "):
                other.name = new + other.name[len(old):]
