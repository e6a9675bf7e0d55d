"""The ``napari_colorize`` block of an OME-Zarr result: how it was made, and whether it is done.

Stored beside the NGFF ``ome`` attributes (see :mod:`.ngff_meta`): ``complete`` (False until
the run finalizes it), and what the run was given: ``model``, ``model_version``, ``settings``,
``window``, ``input`` (``{"sha256": ...}``), ``channels`` (``names`` and ``palette``),
``hints``, ``reference``, ``domain`` (the input's domain check), and ``kind`` for side images
(``"confidence"`` or ``"channels"``). A resume compares the stored block with the new run's
(all but ``complete`` and ``domain``), so extra keys are kept as written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The group attribute holding the block.
ATTRS_KEY = "napari_colorize"
#: ``kind`` of each image a run writes (the RGB result stores none).
KINDS = ("rgb", "confidence", "channels")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check(block: Mapping[str, Any]) -> str | None:
    """Name the first problem with the known keys of ``block``, else None."""
    expect = {"complete": (bool, "true or false"), "model": (str, "a string"),
              "model_version": (str, "a string"), "settings": (Mapping, "an object"),
              "kind": (str, "a string"), "input": (Mapping, "an object"),
              "channels": (Mapping, "an object"), "hints": (Mapping, "an object")}
    for key, (kind, words) in expect.items():
        if key in block and not isinstance(block[key], kind):
            return f"{key!r} must be {words}; got {block[key]!r}"
    if block.get("kind", "rgb") not in KINDS:
        return f"'kind' must be one of {', '.join(KINDS[1:])}; got {block['kind']!r}"
    window = block.get("window")
    if window is not None and not (isinstance(window, list) and len(window) == 2
                                   and all(_number(v) for v in window)):
        return f"'window' must be [low, high] numbers; got {window!r}"
    if "input" in block and not isinstance(block["input"].get("sha256"), str):
        return f"'input' must hold a 'sha256' string; got {block['input']!r}"
    channels = block.get("channels") or {}
    names, palette = channels.get("names", []), channels.get("palette", [])
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)
            and isinstance(palette, list) and len(palette) == len(names)
            and all(isinstance(c, list) and len(c) == 3 and all(_number(v) for v in c)
                    for c in palette)):
        return f"'channels' must hold 'names' and an RGB 'palette' of one colour each; got " \
               f"{channels!r}"
    return None


@dataclass(frozen=True)
class ColorizeAttrs:
    """The ``napari_colorize`` block of a result, type-checked.

    Parameters
    ----------
    complete : bool
        Whether the run finished (an interrupted one can be resumed).
    kind : str
        ``"rgb"`` (the result), ``"confidence"`` or ``"channels"`` (side images).
    model, model_version : str or None
        The model that made it.
    window : tuple of float or None
        The intensity window ``(low, high)`` mapped to lightness.
    settings : mapping
        Tiling settings (``tile_size``, ``overlap``, ...).
    input_sha256 : str or None
        Fingerprint of the input, checked by a resume.
    channel_names : tuple of str
        Channel names of a channel model.
    palette : tuple of (float, float, float)
        One RGB colour in [0, 1] per channel.
    hints : mapping or None
        The colour hints given (``points``, ``colors``).
    raw : mapping
        The block as stored, extra keys included.

    Examples
    --------
    >>> attrs = ColorizeAttrs.from_dict({"complete": True, "model": "m", "window": [0, 255]},
    ...                                 "r.ome.zarr")
    >>> attrs.complete, attrs.kind, attrs.window
    (True, 'rgb', (0.0, 255.0))
    >>> ColorizeAttrs.from_dict({"window": [0]}, "r.ome.zarr")
    Traceback (most recent call last):
    ...
    ValueError: r.ome.zarr: malformed napari_colorize metadata: 'window' must be [low, high] \
numbers; got [0]
    """

    complete: bool = False
    kind: str = "rgb"
    model: str | None = None
    model_version: str | None = None
    window: tuple[float, float] | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    input_sha256: str | None = None
    channel_names: tuple[str, ...] = ()
    palette: tuple[tuple[float, float, float], ...] = ()
    hints: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, block: Any, where: str | Path) -> ColorizeAttrs:
        """Parse and check a stored block.

        Parameters
        ----------
        block : object
            The ``napari_colorize`` attribute's value.
        where : str or Path
            The store, named in the error.

        Returns
        -------
        ColorizeAttrs

        Raises
        ------
        ValueError
            One line naming ``where`` when the block is not an object or a known key has
            the wrong type.
        """
        bad = f"{where}: malformed {ATTRS_KEY} metadata:"
        if not isinstance(block, Mapping):
            raise ValueError(f"{bad} it is a {type(block).__name__}, not an object")
        problem = _check(block)
        if problem:
            raise ValueError(" ".join(f"{bad} {problem}".split()))
        window = block.get("window")
        channels = block.get("channels") or {}
        return cls(
            complete=bool(block.get("complete", False)), kind=block.get("kind", "rgb"),
            model=block.get("model"), model_version=block.get("model_version"),
            window=(float(window[0]), float(window[1])) if window else None,
            settings=dict(block.get("settings", {})),
            input_sha256=(block.get("input") or {}).get("sha256"),
            channel_names=tuple(channels.get("names", [])),
            palette=tuple((float(r), float(g), float(b))
                          for r, g, b in channels.get("palette", [])),
            hints=block.get("hints"), raw=dict(block),
        )


def changed_keys(stored: Mapping[str, Any], wanted: Mapping[str, Any],
                 prefix: str = "") -> list[str]:
    """List the dotted names of the entries that differ between two nested blocks.

    Parameters
    ----------
    stored, wanted : mapping
        The blocks to compare (JSON values).
    prefix : str
        Put before each name (the nesting so far).

    Returns
    -------
    list of str
        Sorted by key at each level.

    Examples
    --------
    >>> changed_keys({"model": "m", "settings": {"overlap": 16}},
    ...              {"model": "m", "settings": {"overlap": 32}})
    ['settings.overlap']
    """
    names = []
    for key in sorted(set(stored) | set(wanted)):
        x, y = stored.get(key), wanted.get(key)
        if isinstance(x, Mapping) and isinstance(y, Mapping):
            names += changed_keys(x, y, f"{prefix}{key}.")
        elif x != y:
            names.append(prefix + key)
    return names


def result_block(metadata: Mapping[str, Any], *, complete: bool,
                 where: str | Path = "metadata") -> dict[str, Any]:
    """Build the block to store for a run's ``metadata``: JSON values, ``complete`` first.

    Parameters
    ----------
    metadata : mapping
        What the run records (see the module docstring); a ``complete`` key is replaced.
    complete : bool
        Whether the image is finished.
    where : str or Path
        The store, named in the error.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        If a known key has the wrong type (see :meth:`ColorizeAttrs.from_dict`).

    Examples
    --------
    >>> result_block({"model": "m", "window": (0, 1)}, complete=False)
    {'complete': False, 'model': 'm', 'window': [0, 1]}
    """
    rest = {k: v for k, v in metadata.items() if k != "complete"}
    block = {"complete": complete, **json.loads(json.dumps(rest))}  # as zarr will store it
    ColorizeAttrs.from_dict(block, where)
    return block


def read_colorize_block(path: str | Path) -> dict[str, Any]:
    """Read the raw ``napari_colorize`` block of a store's ``zarr.json``, or ``{}``.

    Lenient on purpose: ``{}`` also when the store is missing, is not zarr v3, or the block
    cannot be parsed (such a store was not written by napari-colorize, or is not usable).

    Examples
    --------
    >>> read_colorize_block("no-such.ome.zarr")
    {}
    """
    meta = Path(path) / "zarr.json"
    try:
        attrs = json.loads(meta.read_text()).get("attributes", {}) if meta.is_file() else {}
        block = attrs.get(ATTRS_KEY, {})
    except (OSError, ValueError, AttributeError):
        return {}
    return block if isinstance(block, dict) else {}
