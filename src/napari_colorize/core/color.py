"""CIE Lab <-> sRGB (D65) in torch, with chroma-reducing gamut mapping that keeps lightness.

The engine predicts chroma (a, b) and keeps the input's lightness L. Clipping RGB channels of an
out-of-gamut colour changes L, so instead chroma is scaled down towards the L axis until the colour
fits, using a precomputed table of the largest in-gamut chroma for each (L, hue).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

_XN, _ZN = 0.95047, 1.08883
_EPS = 216 / 24389
_KAPPA = 24389 / 27
_XYZ_TO_RGB = torch.tensor(
    [
        [3.2404542, -1.5371385, -0.4985314],
        [-0.9692660, 1.8760108, 0.0415560],
        [0.0556434, -0.2040259, 1.0572252],
    ],
    dtype=torch.float64,
)
_RGB_TO_XYZ = torch.linalg.inv(_XYZ_TO_RGB)

# Gamut table resolution: L in [0, 100], hue in [0, 2pi).
_N_L, _N_H = 201, 360
_GAMUT_MARGIN = 0.985


def srgb_to_linear(v: torch.Tensor) -> torch.Tensor:
    """Undo the sRGB transfer curve; ``v`` in [0, 1]."""
    return torch.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(v: torch.Tensor) -> torch.Tensor:
    """Apply the sRGB transfer curve; ``v`` in [0, 1]."""
    v = v.clamp(0.0, 1.0)
    return torch.where(v <= 0.0031308, v * 12.92, 1.055 * v.clamp_min(1e-12) ** (1 / 2.4) - 0.055)


def _f(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t > _EPS, t.clamp_min(1e-12) ** (1 / 3), (_KAPPA * t + 16) / 116)


def _finv(f: torch.Tensor) -> torch.Tensor:
    # f > 6/29 is the same test as f**3 > _EPS, without cubing twice.
    cube = f * f
    cube.mul_(f)
    if f.numel() and float(f.min()) > 6 / 29:  # the usual case: no pixel darker than L = 8
        return cube
    return torch.where(f > 6 / 29, cube, f * (116 / _KAPPA) - 16 / _KAPPA)


def gray_to_lightness(v: torch.Tensor) -> torch.Tensor:
    """CIE L of the sRGB gray ``v`` in [0, 1] (for gray, Y equals the linear value)."""
    return 116 * _f(srgb_to_linear(v)) - 16


@functools.cache
def uint8_lightness_table() -> np.ndarray:
    """L for each of the 256 uint8 gray levels, float32."""
    v = torch.arange(256, dtype=torch.float64) / 255
    return gray_to_lightness(v).float().numpy()


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1], channels first ``(3, ...)`` -> Lab ``(3, ...)``."""
    lin = srgb_to_linear(rgb.clamp(0, 1))
    m = _RGB_TO_XYZ.to(rgb.dtype)
    xyz = torch.einsum("ij,j...->i...", m, lin)
    fx, fy, fz = _f(xyz[0] / _XN), _f(xyz[1]), _f(xyz[2] / _ZN)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)])


def rgb_uint8_to_lab(rgb: np.ndarray) -> torch.Tensor:
    """uint8 RGB ``(H, W, 3)`` -> Lab float64 ``(3, H, W)``."""
    t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).double() / 255
    return rgb_to_lab(t)


def _lab_to_linear(lab: torch.Tensor) -> torch.Tensor:
    fy = (lab[0] + 16) / 116
    fx = fy + lab[1] / 500
    fz = fy - lab[2] / 200
    xyz = torch.stack([_finv(fx) * _XN, _finv(fy), _finv(fz) * _ZN])
    m = _XYZ_TO_RGB.to(lab.dtype)
    return torch.einsum("ij,j...->i...", m, xyz)


@functools.cache
def _gamut_table() -> torch.Tensor:
    """Largest in-gamut chroma for each (L, hue) on a regular grid, by bisection (float64)."""
    lightness = torch.linspace(0, 100, _N_L, dtype=torch.float64)[:, None].expand(_N_L, _N_H)
    hue = torch.arange(_N_H, dtype=torch.float64)[None, :].expand(_N_L, _N_H) * (2 * math.pi / _N_H)
    hue = hue - math.pi  # cell i starts at -pi + i * 2pi/N_H, matching atan2's range
    lo = torch.zeros(_N_L, _N_H, dtype=torch.float64)
    hi = torch.full((_N_L, _N_H), 200.0, dtype=torch.float64)
    for _ in range(40):
        mid = (lo + hi) / 2
        lab = torch.stack([lightness, mid * torch.cos(hue), mid * torch.sin(hue)])
        lin = _lab_to_linear(lab)
        ok = ((lin >= -1e-9) & (lin <= 1 + 1e-9)).all(dim=0)
        lo = torch.where(ok, mid, lo)
        hi = torch.where(ok, hi, mid)
    # A hue cell's worst case keeps bilinear look-ups inside the gamut.
    table = torch.minimum(lo, torch.roll(lo, -1, dims=1))
    table = torch.minimum(table[:-1], table[1:])
    table = torch.cat([table, table[-1:]])
    return table.float()


def max_chroma(lightness: torch.Tensor, hue: torch.Tensor) -> torch.Tensor:
    """Largest in-gamut chroma for each lightness (0-100) and hue (radians, as from atan2)."""
    table = _gamut_table().to(lightness.device).flatten()
    li = (lightness.clamp(0, 100) * ((_N_L - 1) / 100)).to(torch.int32)
    hi = ((hue + math.pi) * (_N_H / (2 * math.pi))).to(torch.int32).clamp_(0, _N_H - 1)
    return _lookup(table, li * _N_H + hi)


def _lookup(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` via index_select, several times faster on CPU than indexing."""
    return table.index_select(0, index.reshape(-1)).view(index.shape)


def fit_chroma(lab: torch.Tensor) -> torch.Tensor:
    """Scale (a, b) towards the L axis until each colour is inside sRGB; L is unchanged."""
    lightness, a, b = lab[0], lab[1], lab[2]
    chroma = torch.sqrt(a * a + b * b)
    limit = max_chroma(lightness, torch.atan2(b, a)) * _GAMUT_MARGIN
    scale = torch.where(chroma > limit, limit / chroma.clamp_min(1e-6), torch.ones_like(chroma))
    return torch.stack([lightness, a * scale, b * scale])


def lab_to_srgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab ``(3, ...)`` -> sRGB in [0, 1] ``(3, ...)``, reducing chroma (not L) to fit the gamut."""
    return linear_to_srgb(_lab_to_linear(fit_chroma(lab)))


@functools.cache
def _encode_table() -> torch.Tensor:
    """uint8 sRGB code of linear value ``(i + 0.5) / 65535`` at index ``i``.

    Sampling at bin centres lets callers truncate ``v * 65535`` instead of rounding it.
    """
    v = ((torch.arange(65536, dtype=torch.float64) + 0.5) / 65535).clamp_(0, 1)
    return (linear_to_srgb(v) * 255 + 0.5).to(torch.uint8)


def lab_to_srgb_uint8(
    lightness: torch.Tensor, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """Lab planes ``(H, W)`` -> sRGB uint8 ``(H, W, 3)``, reducing chroma (not L) into the gamut.

    The arithmetic of :func:`lab_to_srgb`, rearranged into few in-place passes with the transfer
    curve read from a 16-bit table: this runs once per output pixel, so it must be cheap.
    """
    table = _gamut_table().flatten() * _GAMUT_MARGIN
    li = (lightness * ((_N_L - 1) / 100)).to(torch.int32).clamp_(0, _N_L - 1)
    hue = torch.atan2(b, a).add_(math.pi).mul_(_N_H / (2 * math.pi))
    limit = _lookup(table, li.mul_(_N_H).add_(hue.to(torch.int32).clamp_(0, _N_H - 1)))
    # scale = min(1, limit / chroma): shrink towards the L axis only where out of gamut
    scale = torch.addcmul(a * a, b, b).clamp_min_(1e-12).rsqrt_().mul_(limit).clamp_max_(1.0)
    fy = (lightness + 16).mul_(1 / 116)
    x = _finv(torch.addcmul(fy, a, scale, value=1 / 500))
    z = _finv(torch.addcmul(fy, b, scale, value=-1 / 200))
    y = _finv(fy)
    if out is None:
        out = torch.empty((*lightness.shape, 3), dtype=torch.uint8)
    encode = _encode_table()
    m = (_XYZ_TO_RGB * 65535).tolist()
    for i in range(3):
        lin = x * (m[i][0] * _XN)
        lin.add_(y, alpha=m[i][1]).add_(z, alpha=m[i][2] * _ZN)
        out[..., i] = _lookup(encode, lin.clamp_(0, 65535).to(torch.int32))
    return out
