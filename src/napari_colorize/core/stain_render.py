"""Render predicted colour in the dyes of a named stain (Beer-Lambert), keeping lightness.

The colour model predicts what an H&E slide of the lab looks like. Colour deconvolution of that
prediction with the H&E dyes gives two amounts per pixel (optical densities): the nuclear
counterstain and the second stain; what the two dyes do not explain is kept as a residual.
Beer-Lambert renders the amounts with another stain's dyes (``10 ** -(amounts @ dyes +
residual)``), the result goes back to CIE Lab, and the input's lightness replaces the rendered
one. Everything is per pixel, so tiles, blocks, planes and resume stay exact; rendering with
the source's own dyes gives back the prediction unchanged.

This shows predicted amounts in another stain's colours. It does not know which cells another
stain would mark: "H DAB" shows the second stain's amount in DAB brown, not DAB positivity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..models.spec import ModelSpec
from .color import fit_chroma
from .colour_words import parse_assignments
from .lab import RGB_TO_XYZ, XYZ_TO_RGB, lab_to_xyz, linear_to_srgb, srgb_to_linear, xyz_to_lab
from .stains import Stain, find_stain

#: The dyes the colour models' predictions are deconvolved with.
SOURCE_STAIN = "H&E"
#: Structure words of ``colors=``, and which dye each names.
STRUCTURES = {
    "nuclei": 0, "nuclear": 0, "nucleus": 0, "haematoxylin": 0, "hematoxylin": 0,
    "counterstain": 0, "cytoplasm": 1, "cytoplasmic": 1, "stroma": 1, "eosin": 1,
    "second": 1, "stain": 1,
}
#: Darkest and lightest colour a dye may be given in words (its OD must be measurable).
_MIN_RGB, _MAX_OD_COLOUR = 1 / 255, 0.97
#: Pixels rendered per pass (bands keep the temporaries small).
BAND = 1 << 18


def dye_from_colour(rgb: tuple[float, float, float], what: str) -> tuple[float, float, float]:
    """Give the optical density (unit length) of a dye that looks like ``rgb`` on white.

    Examples
    --------
    >>> [round(v, 3) for v in dye_from_colour((0.0, 0.0, 0.545), "nuclei")]
    [0.705, 0.705, 0.077]
    """
    if min(rgb) > _MAX_OD_COLOUR:
        raise ValueError(f"colour {what} is too light to render a dye; pick a darker one")
    od = -np.log10(np.clip(rgb, _MIN_RGB, 1.0))
    od = od / np.linalg.norm(od)
    return (float(od[0]), float(od[1]), float(od[2]))


@dataclass(frozen=True)
class Restain:
    """Re-render chroma in a target stain's dyes, per pixel, in place (see the module).

    Parameters
    ----------
    source : numpy.ndarray
        ``(2, 3)`` dyes the prediction is deconvolved with.
    target : numpy.ndarray
        ``(2, 3)`` dyes it is rendered with.
    label : str
        What the run records (the stain's name and any colour words).

    Examples
    --------
    >>> restain = make_restain("H DAB", None)
    >>> L, ab = torch.full((4, 4), 60.0), torch.tensor([30.0, -10.0]).view(2, 1, 1).repeat(1, 4, 4)
    >>> restain.apply(L, ab)
    >>> [round(float(v), 1) for v in ab[:, 0, 0]]  # eosin pink -> DAB brown
    [4.0, 15.5]
    """

    source: np.ndarray
    target: np.ndarray
    label: str

    def apply(self, lightness: torch.Tensor, ab: torch.Tensor) -> None:
        """Replace the chroma ``ab`` ``(2, H, W)`` by its rendering in the target dyes."""
        unmix = np.linalg.pinv(self.source.T)  # (2, 3): amounts = unmix @ od
        change = (self.target - self.source).T  # (3, 2): od += change @ amounts
        flat_l, flat_ab = lightness.reshape(-1), ab.reshape(2, -1)
        for start in range(0, flat_l.numel(), BAND):
            part = slice(start, start + BAND)
            lab = fit_chroma(torch.cat([flat_l[part][None], flat_ab[:, part]]))
            od = -torch.log10(linear_to_srgb(_mix(XYZ_TO_RGB, lab_to_xyz(lab))).clamp_min(_MIN_RGB))
            amounts = _mix(unmix, od).clamp_min(0)
            od = od + _mix(change, amounts)  # the residual od - source.T @ amounts is kept
            rgb = torch.pow(10.0, -od).clamp(0, 1)
            flat_ab[:, part] = xyz_to_lab(_mix(RGB_TO_XYZ, srgb_to_linear(rgb)))[1:]


def _mix(matrix: Any, x: torch.Tensor) -> torch.Tensor:
    """Compute ``matrix @ x`` for a small matrix, element by element.

    Unlike a matrix product, a pixel's result does not depend on how many pixels are computed
    with it, so blocks of any size agree.
    """
    m = np.asarray(matrix, dtype=np.float64)
    return torch.stack([sum(float(m[i, k]) * x[k] for k in range(m.shape[1]))  # type: ignore[misc]
                        for i in range(m.shape[0])])


def model_restain(spec: ModelSpec, stain: str | None, colors: str | None) -> Restain | None:
    """Build a run's stain rendering; refuse ``stain``/``colors`` for channel models.

    Examples
    --------
    >>> model_restain(ModelSpec("he"), "H DAB", None).label
    'H DAB'
    >>> spec = ModelSpec("f", kind="fractions", channel_names=("a", "b"),
    ...                  palette=((0, 1, 1), (1, 0, 1)))
    >>> model_restain(spec, "H DAB", None)
    Traceback (most recent call last):
    ...
    ValueError: stain needs a colour (chroma) model such as he-histology; f predicts ...
    """
    if spec.kind != "chroma":
        for name, value in (("stain", stain), ("colors", colors)):
            if value is not None:
                raise ValueError(f"{name} needs a colour (chroma) model such as he-histology; "
                                 f"{spec.name} predicts channels: use palette= to colour them")
        return None
    return make_restain(stain, colors)


def make_restain(stain: str | None, colors: str | None) -> Restain | None:
    """Build the rendering of a run's ``stain`` and ``colors``, or None to keep the prediction.

    Parameters
    ----------
    stain : str, optional
        A stain name (see :func:`~napari_colorize.core.stains.find_stain`); None: H&E, the
        colour models' own.
    colors : str, optional
        Colour words for the two dyes, e.g. ``"nuclei dark blue, cytoplasm pink"``; they
        replace the stain's dyes they name.

    Returns
    -------
    Restain or None
        None when the rendering would give back the prediction (H&E, no colour words).

    Raises
    ------
    ValueError
        An unknown stain, structure word or colour (one line).

    Examples
    --------
    >>> make_restain("he", None) is None, make_restain(None, "nuclei navy").label
    (True, 'H&E; nuclei navy')
    """
    source = find_stain(SOURCE_STAIN)
    target: Stain = source if stain is None else find_stain(stain)
    if target is source and not colors:
        return None
    matrix = target.matrix()
    label = target.name
    if colors:
        roles = {word: str(dye) for word, dye in STRUCTURES.items()}
        for dye, rgb in parse_assignments(colors, roles).items():
            matrix[int(dye)] = dye_from_colour(rgb, f"for {target.dyes[int(dye)]}")
        label = f"{label}; {colors.strip()}"
    return Restain(source.matrix(), matrix, label)
