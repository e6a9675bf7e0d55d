"""The networks as consumers of an exported model run them: gray in, an image out.

A bioimage.io consumer (deepImageJ, QuPath, ilastik, bioimageio.core) hands the network a gray
image scaled to [0, 1] and expects a picture back, not internal channels. These wrappers do what
the engine does around the network for one tile: gray -> CIE lightness, the network, then for
chroma models Lab -> sRGB with chroma (never lightness) reduced into the gamut, for fractions
models the named channel fractions. Both also return the confidence.

The code is written to trace into TorchScript (no data-dependent Python branches) and to run
as plain source beside the networks: the package's ``architecture.py`` is this module's source
after the networks' (see :mod:`.source`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..core.lab import KAPPA, XN, XYZ_TO_RGB, ZN, gray_to_lightness, linear_to_srgb
from ..models.fraction_net import FractionNet
from ..models.network import DEFAULT_COLOUR_SPREAD, ChromaNet

#: Gamut table shape (lightness steps of 0.5, hue steps of 1 degree), as
#: :func:`napari_colorize.core.color.gamut_limits` gives it.
GAMUT_SHAPE = (201, 360)


def lab_to_srgb_in_gamut(
    lightness: torch.Tensor, a: torch.Tensor, b: torch.Tensor, gamut: torch.Tensor
) -> torch.Tensor:
    """Lab -> sRGB in [0, 1], scaling chroma towards the L axis until the colour fits.

    The arithmetic of :func:`napari_colorize.core.color.lab_to_srgb`, without branches.

    Parameters
    ----------
    lightness, a, b : torch.Tensor
        ``(B, H, W)`` CIE L*, a*, b*.
    gamut : torch.Tensor
        Flattened ``(201 * 360,)`` table of the largest in-gamut chroma per (L, hue) cell,
        margin included.

    Returns
    -------
    torch.Tensor
        ``(B, 3, H, W)`` sRGB.

    Examples
    --------
    >>> from napari_colorize.core.color import gamut_limits
    >>> gamut = gamut_limits()
    >>> L, a, b = torch.full((1, 1, 2), 50.0), torch.tensor([[[0.0, 120.0]]]), torch.zeros(1, 1, 2)
    >>> lab_to_srgb_in_gamut(L, a, b, gamut)[0, :, 0, :].T  # mid gray; a red beyond sRGB
    tensor([[0.4663, 0.4663, 0.4663],
            [0.9001, 0.0474, 0.4784]])
    """
    n_l, n_h = GAMUT_SHAPE
    li = (lightness.clamp(0, 100) * ((n_l - 1) / 100)).to(torch.int64)
    hue = torch.atan2(b, a)
    hi = ((hue + math.pi) * (n_h / (2 * math.pi))).to(torch.int64).clamp(0, n_h - 1)
    limit = gamut.index_select(0, (li * n_h + hi).flatten()).view(lightness.shape)
    chroma = torch.sqrt(a * a + b * b).clamp_min(1e-6)
    scale = (limit / chroma).clamp_max(1.0)
    fy = (lightness + 16) / 116
    xyz = torch.stack([_finv(fy + a * scale / 500) * XN, _finv(fy),
                       _finv(fy - b * scale / 200) * ZN], dim=1)
    matrix = XYZ_TO_RGB.to(lightness.dtype).to(lightness.device)
    return linear_to_srgb(torch.einsum("ij,bjhw->bihw", matrix, xyz))


def _finv(f: torch.Tensor) -> torch.Tensor:
    """CIE Lab's inverse companding, branch-free: the cube above 6/29, its tangent below."""
    c = 6 / 29
    return f.clamp_min(c) ** 3 + (f.clamp_max(c) - c) * (116 / KAPPA)


class GrayToRGB(nn.Module):
    """Gray ``(B, 1, H, W)`` in [0, 1] -> sRGB ``(B, 3, H, W)`` and confidence ``(B, 1, H, W)``.

    The output keeps the input's CIE lightness (the gray's sRGB value is its lightness).

    Parameters
    ----------
    widths : tuple of 4 int
        The :class:`ChromaNet`'s widths.
    colour_spread : float
        The :class:`ChromaNet`'s weight of the local colour spread in the confidence.

    Examples
    --------
    >>> with torch.no_grad():
    ...     rgb, confidence = GrayToRGB((8, 8, 8, 8))(torch.full((1, 1, 64, 64), 0.5))
    >>> rgb.shape, confidence.shape, round(float(rgb[0, 0, 0, 0]), 4)
    (torch.Size([1, 3, 64, 64]), torch.Size([1, 1, 64, 64]), 0.5)
    """

    gamut: torch.Tensor

    def __init__(self, widths: tuple[int, int, int, int] = (32, 64, 96, 128),
                 colour_spread: float = DEFAULT_COLOUR_SPREAD) -> None:
        super().__init__()
        self.net = ChromaNet(widths, colour_spread)
        self.register_buffer("gamut", torch.zeros(GAMUT_SHAPE[0] * GAMUT_SHAPE[1]))

    def forward(self, gray: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Colour and confidence of a gray batch (sides multiples of 32)."""
        lightness = gray_to_lightness(gray.clamp(0, 1))
        out = self.net(lightness, True)
        rgb = lab_to_srgb_in_gamut(lightness[:, 0], out[:, 0], out[:, 1], self.gamut)
        return rgb, out[:, 2:3]


class GrayToFractions(nn.Module):
    """Gray ``(B, 1, H, W)`` in [0, 1] -> fractions ``(B, K, H, W)`` and confidence.

    Parameters
    ----------
    widths : tuple of 4 int
        The :class:`FractionNet`'s widths.
    channels : int
        Number of structure classes ``K``.
    prior : list of float, optional
        The mean class mix uncertain fractions fall back on.

    Examples
    --------
    >>> with torch.no_grad():
    ...     fractions, confidence = GrayToFractions((8, 8, 8, 8), 3)(torch.rand(1, 1, 64, 64))
    >>> fractions.shape, round(float(fractions.sum(1).mean()), 4)
    (torch.Size([1, 3, 64, 64]), 1.0)
    """

    def __init__(self, widths: tuple[int, int, int, int] = (32, 64, 96, 128), channels: int = 3,
                 prior: list[float] | None = None) -> None:
        super().__init__()
        self.net = FractionNet(widths, channels, None if prior is None else tuple(prior))

    def forward(self, gray: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Fractions and confidence of a gray batch (sides multiples of 32)."""
        out = self.net(gray_to_lightness(gray.clamp(0, 1)), True)
        return out[:, :-1], out[:, -1:]
