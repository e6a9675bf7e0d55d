"""Command-line options for the settings of a run, built from :class:`ColorizeConfig`.

The options' defaults and help come from the config (nothing is repeated here), so the CLI, the
API and the widget share them. Light: importing it does not import torch.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from ..core.blending import BLENDING_MODES
from ..core.config import HELP, PRECISIONS, ColorizeConfig

_DEFAULTS = ColorizeConfig()
#: The flags of each setting (the short older names stay as aliases).
_OPTIONS = {
    "tile_size": ("--tile-size", "--tile"), "overlap": ("--overlap",),
    "batch_size": ("--batch-size", "--batch"), "block_size": ("--block-size",),
    "blending": ("--blending",), "device": ("--device",), "precision": ("--precision",),
    "contrast_limits": ("--contrast-limits",), "palette": ("--palette",),
    "stain": ("--stain",), "colors": ("--colors",),
    "channels": ("--channels",), "from_rgb": ("--from-rgb",),
    "domain_check": ("--no-domain-check",),
}


def add_settings(parser: argparse.ArgumentParser) -> None:
    """Add an option per :class:`ColorizeConfig` setting; defaults and help come from it.

    Every option defaults to ``None`` (not given), so the config supplies the default.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The ``colorize`` parser; the options go in a "settings" group.

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> add_settings(parser)
    >>> args = parser.parse_args(["--tile-size", "256", "--batch-size", "auto"])
    >>> args.tile_size, args.batch_size, args.overlap
    (256, 'auto', None)
    """
    group = parser.add_argument_group("settings (defaults as in colorize())")
    for name, flags in _OPTIONS.items():
        default = getattr(_DEFAULTS, name)
        text = HELP[name] if default is None or default is False else \
            f"{HELP[name]} (default {default})"
        kw: dict[str, Any] = {"dest": name, "default": None, "help": text}
        if name == "overlap":
            kw.update(type=_int, metavar="PX")
        elif name == "tile_size":
            kw.update(type=_int_or_auto, metavar="PX|auto")
        elif name in ("batch_size", "block_size"):
            kw.update(type=_int_or_auto, metavar="N|auto")
        elif name == "blending":
            kw.update(choices=BLENDING_MODES)
        elif name == "precision":
            kw.update(choices=PRECISIONS)
        elif name == "contrast_limits":
            kw.update(type=float, nargs=2, metavar=("LOW", "HIGH"))
        elif name == "palette":
            kw.update(type=_colour_list, metavar="C1,C2,...",
                      help=text + "; comma-separated, e.g. cyan,magenta,#808080")
        elif name == "stain":
            kw.update(metavar="NAME")
        elif name == "colors":
            kw.update(metavar="WORDS")
        elif name == "channels":
            kw.update(action="store_true", help=text + ", beside an .ome.zarr OUT as "
                                                       "OUT.channels.ome.zarr")
        elif name == "from_rgb":
            kw.update(action="store_true")
        elif name == "domain_check":
            kw.update(action="store_false", help="do not " + HELP[name])
        group.add_argument(*flags, **kw)


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """Collect the settings given on the command line (the rest keep the config's defaults).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments with the options of :func:`add_settings` and ``confidence``.

    Returns
    -------
    dict
        Setting name -> value, for :meth:`ColorizeConfig.from_options`.

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> _ = parser.add_argument("--confidence")
    >>> add_settings(parser)
    >>> settings(parser.parse_args(["--tile-size", "256", "--contrast-limits", "0", "4095"]))
    {'tile_size': 256, 'contrast_limits': (0.0, 4095.0), 'confidence': False}
    """
    names = {f.name for f in dataclasses.fields(ColorizeConfig)}
    given = {name: getattr(args, name) for name in _OPTIONS if name in names}
    given = {k: v for k, v in given.items() if v is not None}
    if "contrast_limits" in given:
        given["contrast_limits"] = tuple(given["contrast_limits"])
    given["confidence"] = bool(args.confidence)
    return given


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _int_or_auto(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number or 'auto'") from None


def _colour_list(text: str) -> list[str]:
    colours = [part.strip() for part in text.split(",") if part.strip()]
    if not colours:
        raise argparse.ArgumentTypeError(f"{text!r} names no colours")
    return colours
