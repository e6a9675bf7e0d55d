"""Render channel fractions as an additive pseudo-colour composite, as napari overlays channels.

Each channel's intensity times its colour, summed in display values, clipped. A fractions model
predicts how each pixel's signal splits into structures. Channel ``k`` of the result is
``I * fraction_k``, where ``I`` is the input intensity after the stack's window, in [0, 1]; the
composite is ``clip(sum_k channel_k * colour_k)``. Changing the palette re-renders the channels
without running the model again (:func:`render_composite`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .color import lab_f_inverse, linear_to_srgb
from .colour_words import parse_assignments, parse_colour


def parse_palette(palette: Any, names: tuple[str, ...]) -> np.ndarray:
    """Read a palette: one colour per channel, as names, ``#rrggbb``, RGB triples or words.

    Parameters
    ----------
    palette : str or sequence
        Colours in channel order: basic or CSS names, ``"#rrggbb"`` strings or RGB triples
        (0-1, or 0-255 when any value is above 1); a string holds one colour or several
        separated by commas. Or words that name each channel's colour:
        ``"nuclear cyan, cytoplasmic magenta, diffuse gray"``.
    names : tuple of str
        The model's channel names; the palette needs one colour per name.

    Returns
    -------
    numpy.ndarray
        float32 colours ``(K, 3)`` in [0, 1] (triples above 1 are divided by 255).

    Raises
    ------
    ValueError
        The palette has the wrong number of colours, an unknown name or a bad triple.

    Examples
    --------
    >>> parse_palette(["red", "#00ff00", (0, 0, 255)], ("a", "b", "c"))
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]], dtype=float32)
    >>> parse_palette("cytoplasmic dark orange, nuclear cyan", ("nuclear", "cytoplasmic"))
    array([[0.       , 1.       , 1.       ],
           [1.       , 0.5490196, 0.       ]], dtype=float32)
    >>> parse_palette(["red"], ("nuclear", "cytoplasmic"))
    Traceback (most recent call last):
    ...
    ValueError: palette has 1 colours but the model predicts 2 channels (nuclear, cytoplasmic)
    """
    if isinstance(palette, str):
        palette = [part.strip() for part in palette.split(",") if part.strip()]
    colours = list(palette)
    words = {name.lower(): name for name in names}
    if colours and all(isinstance(c, str) and c.split()[0].lower() in words for c in colours):
        given = parse_assignments(", ".join(colours), words)  # "nuclear cyan, ..."
        missing = [n for n in names if n not in given]
        if missing:
            raise ValueError(f"palette gives no colour for {', '.join(missing)}")
        colours = [given[n] for n in names]
    # each colour is checked first: "nonsense" is an unknown colour, not a count mismatch
    out: list[Any] = []  # RGB triples: tuples, lists or arrays
    for colour in colours:
        if isinstance(colour, str):
            out.append(parse_colour(colour))
            continue
        rgb = np.asarray(colour, dtype=np.float64).ravel()
        if rgb.shape != (3,) or not np.isfinite(rgb).all() or rgb.min() < 0:
            raise ValueError(f"palette colour {colour!r} must be three values >= 0")
        out.append(rgb / 255 if rgb.max() > 1 else rgb)
    if len(out) != len(names):
        raise ValueError(
            f"palette has {len(out)} colours but the model predicts {len(names)} channels "
            f"({', '.join(names)})"
        )
    return np.asarray(out, dtype=np.float32)


def intensity_from_lightness(lightness: torch.Tensor) -> torch.Tensor:
    """Find the windowed gray ``v`` in [0, 1] whose CIE lightness is ``lightness``.

    The inverse of the engine's intensity mapping (gray to lightness).

    Parameters
    ----------
    lightness : torch.Tensor
        CIE lightness L*, 0-100.

    Returns
    -------
    torch.Tensor
        The sRGB gray values, shaped like ``lightness``.

    Examples
    --------
    >>> from napari_colorize.core.color import gray_to_lightness
    >>> gray = torch.tensor([0.0, 0.25, 1.0])
    >>> intensity_from_lightness(gray_to_lightness(gray))
    tensor([0.0000, 0.2500, 1.0000])
    """
    return linear_to_srgb(lab_f_inverse((lightness + 16) / 116))


def render_composite(
    channels: Any, palette: Any, names: tuple[str, ...] | None = None
) -> np.ndarray:
    """Render channel maps as an additive composite: ``clip(sum_k map_k * colour_k)``.

    Parameters
    ----------
    channels : array-like
        Channel maps ``(K, ...)`` in [0, 1], such as ``ColorizeResult.channels``.
    palette : str or sequence
        One colour per channel (see :func:`parse_palette`).
    names : tuple of str, optional
        Channel names for error messages; default ``"0"``, ``"1"``, ...

    Returns
    -------
    numpy.ndarray
        sRGB uint8 shaped ``(..., 3)``.

    Raises
    ------
    ValueError
        The palette does not give one valid colour per channel.

    Examples
    --------
    Two channels, red and cyan: where both are on, the colours add up to white.

    >>> maps = np.array([[[1.0, 1.0, 0.0]], [[0.0, 1.0, 0.5]]])  # (2 channels, 1, 3)
    >>> render_composite(maps, ["red", "cyan"])
    array([[[255,   0,   0],
            [255, 255, 255],
            [  0, 128, 128]]], dtype=uint8)

    Re-colour the channels of a run without running the model again:

    >>> from napari_colorize import colorize
    >>> gray = np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)
    >>> result = colorize(gray, "fluorescence-composite", channels=True, device="cpu")
    >>> recoloured = render_composite(result.channels, ["yellow", "blue", "red"])
    >>> result.channels.shape, recoloured.shape, recoloured.dtype
    ((3, 64, 64), (64, 64, 3), dtype('uint8'))
    """
    maps = torch.as_tensor(np.asarray(channels), dtype=torch.float32)
    colours = torch.from_numpy(parse_palette(palette, names or tuple(map(str, range(len(maps))))))
    rgb = torch.tensordot(maps.movedim(0, -1), colours, dims=1)
    return (rgb.clamp_(0, 1).mul_(255).add_(0.5)).to(torch.uint8).numpy()
