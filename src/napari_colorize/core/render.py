"""Render channel fractions as an additive pseudo-colour composite, the way napari overlays
channels (each channel's intensity times its colour, summed in display values, clipped).

A fractions model predicts how each pixel's signal splits into structures. Channel ``k`` of the
result is ``I * fraction_k``, where ``I`` is the input intensity after the stack's window, in
[0, 1]; the composite is ``clip(sum_k channel_k * colour_k)``. Changing the palette re-renders
the channels without running the model again (:func:`render_composite`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .color import lab_f_inverse, linear_to_srgb

#: Colour names a palette may use (RGB in [0, 1]).
NAMED_COLOURS = {
    "red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0),
    "cyan": (0.0, 1.0, 1.0), "magenta": (1.0, 0.0, 1.0), "yellow": (1.0, 1.0, 0.0),
    "white": (1.0, 1.0, 1.0), "gray": (0.5, 0.5, 0.5), "orange": (1.0, 0.5, 0.0),
    "purple": (0.5, 0.0, 1.0),
}


def parse_palette(palette: Any, names: tuple[str, ...]) -> np.ndarray:
    """``(K, 3)`` float32 colours from names or RGB triples (0-1 or 0-255), one per channel."""
    colours = [palette] if isinstance(palette, str) else list(palette)
    if len(colours) != len(names):
        raise ValueError(
            f"palette has {len(colours)} colours but the model predicts {len(names)} channels "
            f"({', '.join(names)})"
        )
    out: list[Any] = []  # RGB triples: tuples, lists or arrays
    for colour in colours:
        if isinstance(colour, str):
            key = colour.lower()
            if key.startswith("#") and len(key) == 7:
                out.append([int(key[i : i + 2], 16) / 255 for i in (1, 3, 5)])
                continue
            if key not in NAMED_COLOURS:
                raise ValueError(
                    f"unknown colour {colour!r}; use an RGB triple, #rrggbb or one of "
                    f"{', '.join(NAMED_COLOURS)}"
                )
            out.append(NAMED_COLOURS[key])
            continue
        rgb = np.asarray(colour, dtype=np.float64).ravel()
        if rgb.shape != (3,) or not np.isfinite(rgb).all() or rgb.min() < 0:
            raise ValueError(f"palette colour {colour!r} must be three values >= 0")
        out.append(rgb / 255 if rgb.max() > 1 else rgb)
    return np.asarray(out, dtype=np.float32)


def intensity_from_lightness(lightness: torch.Tensor) -> torch.Tensor:
    """The windowed gray ``v`` in [0, 1] whose CIE lightness is ``lightness`` (inverse of the
    engine's intensity mapping)."""
    return linear_to_srgb(lab_f_inverse((lightness + 16) / 116))


def render_composite(
    channels: Any, palette: Any, names: tuple[str, ...] | None = None
) -> np.ndarray:
    """Additive composite of channel maps ``(K, ...)`` in [0, 1]: sRGB uint8 ``(..., 3)``.

    Examples
    --------
    >>> rgb, chans = colorize(img, "fluorescence-composite", channels=True)  # doctest: +SKIP
    >>> recoloured = render_composite(chans, ["yellow", "blue", "red"])  # doctest: +SKIP
    """
    maps = torch.as_tensor(np.asarray(channels), dtype=torch.float32)
    colours = torch.from_numpy(parse_palette(palette, names or tuple(map(str, range(len(maps))))))
    rgb = torch.tensordot(maps.movedim(0, -1), colours, dims=1)
    return (rgb.clamp_(0, 1).mul_(255).add_(0.5)).to(torch.uint8).numpy()
