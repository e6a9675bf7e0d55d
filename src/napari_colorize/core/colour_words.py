"""Colours in words: CSS names ("dark blue"), ``#rrggbb``, and "structure colour" lists.

A list says which structure takes which colour: "nuclei dark blue, cytoplasm pink".
"""

from __future__ import annotations

import difflib
import re

#: Plain names the palettes have always taken (napari's colours), before CSS names.
BASIC = {
    "red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0),
    "cyan": (0.0, 1.0, 1.0), "magenta": (1.0, 0.0, 1.0), "yellow": (1.0, 1.0, 0.0),
    "white": (1.0, 1.0, 1.0), "gray": (0.5, 0.5, 0.5), "orange": (1.0, 0.5, 0.0),
    "purple": (0.5, 0.0, 1.0),
}


def _css() -> dict[str, tuple[float, float, float]]:
    from PIL import ImageColor

    return {name: tuple(v / 255 for v in ImageColor.getrgb(name)[:3])  # type: ignore[misc]
            for name in ImageColor.colormap}


def parse_colour(word: str) -> tuple[float, float, float]:
    """Read one colour: a basic or CSS name (spaces ignored) or ``#rrggbb``.

    Parameters
    ----------
    word : str
        E.g. ``"cyan"``, ``"dark blue"``, ``"DarkSlateBlue"``, ``"#ff8800"``.

    Returns
    -------
    tuple of float
        sRGB in [0, 1].

    Raises
    ------
    ValueError
        A word that names no colour, with the closest names.

    Examples
    --------
    >>> parse_colour("dark blue"), parse_colour("#ff0000")
    ((0.0, 0.0, 0.5450980392156862), (1.0, 0.0, 0.0))
    >>> parse_colour("pinkish")
    Traceback (most recent call last):
    ...
    ValueError: unknown colour 'pinkish'; close: pink
    """
    key = re.sub(r"[\s_-]", "", str(word).lower())
    if re.fullmatch(r"#[0-9a-f]{6}", key):
        return tuple(int(key[i : i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]
    if key in BASIC:
        return BASIC[key]
    css = _css()
    if key in css:
        return css[key]
    close = difflib.get_close_matches(key, list(dict.fromkeys([*BASIC, *css])), n=3, cutoff=0.6)
    hint = f"; close: {', '.join(close)}" if close else "; use a CSS colour name or #rrggbb"
    raise ValueError(f"unknown colour {word!r}{hint}")


def parse_assignments(text: str, roles: dict[str, str]) -> dict[str, tuple[float, float, float]]:
    """Read "structure colour" pairs: ``"nuclei dark blue, cytoplasm pink"``.

    Parameters
    ----------
    text : str
        Comma-separated items, each a structure word then a colour (see :func:`parse_colour`).
    roles : dict
        Structure words (lower case) to the role they name, e.g. ``{"nuclei": "nuclear"}``.

    Returns
    -------
    dict
        Role to sRGB colour.

    Raises
    ------
    ValueError
        An item without a known structure word, an unknown colour, or a role given twice.

    Examples
    --------
    >>> parse_assignments("Nuclei dark blue, cytoplasm #ffc0cb", {"nuclei": "n", "cytoplasm": "c"})
    {'n': (0.0, 0.0, 0.5450980392156862), 'c': (1.0, 0.7529411764705882, 0.796078431372549)}
    """
    out: dict[str, tuple[float, float, float]] = {}
    for item in (part.strip() for part in str(text).split(",")):
        if not item:
            continue
        word, _, colour = item.partition(" ")
        role = roles.get(word.lower())
        if role is None:
            raise ValueError(f"{item!r} does not start with a structure word; use "
                             f"{', '.join(sorted(roles))}, then a colour")
        if role in out:
            raise ValueError(f"{word.lower()!r} is given two colours in {text!r}")
        if not colour.strip():
            raise ValueError(f"{item!r} names no colour after {word!r}")
        out[role] = parse_colour(colour)
    if not out:
        raise ValueError(f"{text!r} assigns no colours")
    return out
