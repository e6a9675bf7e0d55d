"""CIE Lab <-> sRGB (D65) in torch, with chroma-reducing gamut mapping that keeps lightness.

The engine predicts chroma (a, b) and keeps the input's lightness L. Clipping RGB channels of an
out-of-gamut colour changes L, so instead chroma is scaled down towards the L axis until the colour
fits, using a precomputed table of the largest in-gamut chroma for each (L, hue).

The shared arithmetic (transfer curve, Lab companding, ``rgb_to_lab``) is in :mod:`.lab` and
re-exported here.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch

from .lab import (
    KAPPA,
    XN,
    XYZ_TO_RGB,
    ZN,
    gray_to_lightness,
    lab_f_inverse,
    lab_to_linear,
    linear_to_srgb,
    rgb_to_lab,
    srgb_to_linear,
)

__all__ = [
    "BAND_PIXELS", "fit_chroma", "gamut_limits", "gray_to_lightness", "lab_f_inverse",
    "lab_to_srgb", "lab_to_srgb_uint8", "linear_to_srgb", "max_chroma", "rgb_to_lab",
    "rgb_uint8_to_lab", "srgb_to_linear", "uint8_lightness_table", "writable",
]

# Gamut table resolution: L in [0, 100], hue in [0, 2pi).
_N_L, _N_H = 201, 360
_GAMUT_MARGIN = 0.985


@functools.cache
def uint8_lightness_table() -> np.ndarray:
    """Tabulate the lightness of each of the 256 uint8 gray levels (cached: do not write).

    Returns
    -------
    numpy.ndarray
        float32 lightness ``(256,)``, 0-100.

    Examples
    --------
    >>> table = uint8_lightness_table()
    >>> table.shape, table[[0, 128, 255]].round(2).tolist()
    ((256,), [0.0, 53.59, 100.0])
    """
    v = torch.arange(256, dtype=torch.float64) / 255
    return gray_to_lightness(v).float().numpy()


def writable(array: np.ndarray, dtype: Any = None) -> np.ndarray:
    """Make ``array`` contiguous and writable, copying only if needed.

    For ``torch.from_numpy``, which warns on read-only memory such as a file's memmap.

    Parameters
    ----------
    array : array-like
        Any array.
    dtype : numpy.dtype, optional
        Convert to this dtype.

    Returns
    -------
    numpy.ndarray
        ``array`` itself when it already is contiguous and writable (and of ``dtype``).

    Examples
    --------
    >>> import numpy as np
    >>> frozen = np.zeros(3)
    >>> frozen.flags.writeable = False
    >>> copy = writable(frozen)
    >>> copy is frozen, copy.flags.writeable
    (False, True)
    >>> ready = np.zeros(3)
    >>> writable(ready) is ready
    True
    """
    array = np.ascontiguousarray(array, dtype=dtype)
    return array if array.flags.writeable else array.copy()


def rgb_uint8_to_lab(rgb: np.ndarray) -> torch.Tensor:
    """Convert a uint8 sRGB image to CIE Lab.

    Parameters
    ----------
    rgb : numpy.ndarray
        uint8 sRGB, channels last ``(H, W, 3)``.

    Returns
    -------
    torch.Tensor
        float64 L, a, b ``(3, H, W)``.

    Examples
    --------
    >>> import numpy as np
    >>> rgb_uint8_to_lab(np.array([[[255, 0, 0]]], np.uint8))[:, 0, 0]
    tensor([53.2408, 80.0925, 67.2032], dtype=torch.float64)
    """
    t = torch.from_numpy(writable(rgb)).permute(2, 0, 1).double() / 255
    return rgb_to_lab(t)


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
        lin = lab_to_linear(lab)
        ok = ((lin >= -1e-9) & (lin <= 1 + 1e-9)).all(dim=0)
        lo = torch.where(ok, mid, lo)
        hi = torch.where(ok, hi, mid)
    # A hue cell's worst case keeps bilinear look-ups inside the gamut.
    table = torch.minimum(lo, torch.roll(lo, -1, dims=1))
    table = torch.minimum(table[:-1], table[1:])
    table = torch.cat([table, table[-1:]])
    return table.float()


def gamut_limits() -> torch.Tensor:
    """Return the chroma limits the conversion uses, flattened: (L, hue) cells, margin included.

    Cell ``i * 360 + j`` holds L from ``i / 2`` and hue from ``-pi + j`` degrees.

    Returns
    -------
    torch.Tensor
        float32 ``(201 * 360,)``.

    Examples
    --------
    >>> gamut_limits().shape
    torch.Size([72360])
    """
    return (_gamut_table() * _GAMUT_MARGIN).flatten()


def max_chroma(lightness: torch.Tensor, hue: torch.Tensor) -> torch.Tensor:
    """Look up the largest in-gamut chroma for each lightness and hue.

    Parameters
    ----------
    lightness : torch.Tensor
        L*, 0-100 (clipped).
    hue : torch.Tensor
        Hue angle in radians, as from ``atan2(b, a)``, shaped like ``lightness``.

    Returns
    -------
    torch.Tensor
        float32 chroma (from a table: a cell's smallest value, so it stays inside sRGB).

    Examples
    --------
    >>> max_chroma(torch.tensor([50.0, 100.0]), torch.tensor([0.0, 0.0]))
    tensor([78.8876,  0.0000])
    """
    table = _gamut_table().to(lightness.device).flatten()
    li = (lightness.clamp(0, 100) * ((_N_L - 1) / 100)).to(torch.int32)
    hi = ((hue + math.pi) * (_N_H / (2 * math.pi))).to(torch.int32).clamp_(0, _N_H - 1)
    return _lookup(table, li * _N_H + hi)


def _lookup(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` via index_select, several times faster on CPU than indexing."""
    return table.index_select(0, index.reshape(-1)).view(index.shape)


def fit_chroma(lab: torch.Tensor) -> torch.Tensor:
    """Scale (a, b) towards the L axis until each colour is inside sRGB; L is unchanged.

    Parameters
    ----------
    lab : torch.Tensor
        L, a, b ``(3, ...)``.

    Returns
    -------
    torch.Tensor
        L, a, b ``(3, ...)`` with the hue kept and the chroma at most ``max_chroma`` (less a
        small margin).

    Examples
    --------
    >>> fit_chroma(torch.tensor([[50.0], [120.0], [0.0]]))[:, 0]  # too red for sRGB
    tensor([50.0000, 77.7042,  0.0000])
    """
    lightness, a, b = lab[0], lab[1], lab[2]
    chroma = torch.sqrt(a * a + b * b)
    limit = max_chroma(lightness, torch.atan2(b, a)) * _GAMUT_MARGIN
    scale = torch.where(chroma > limit, limit / chroma.clamp_min(1e-6), torch.ones_like(chroma))
    return torch.stack([lightness, a * scale, b * scale])


def lab_to_srgb(lab: torch.Tensor) -> torch.Tensor:
    """Convert CIE Lab to sRGB, reducing chroma (not L) to fit the gamut.

    Parameters
    ----------
    lab : torch.Tensor
        L, a, b ``(3, ...)``.

    Returns
    -------
    torch.Tensor
        sRGB in [0, 1] ``(3, ...)``.

    Examples
    --------
    >>> lab_to_srgb(torch.tensor([[50.0], [0.0], [0.0]]))[:, 0]  # L* 50 is a mid gray
    tensor([0.4663, 0.4663, 0.4663])
    """
    return linear_to_srgb(lab_to_linear(fit_chroma(lab)))


@functools.cache
def _encode_table() -> torch.Tensor:
    """uint8 sRGB code of linear value ``(i + 0.5) / 65535`` at index ``i``.

    Sampling at bin centres lets callers truncate ``v * 65535`` instead of rounding it.
    """
    v = ((torch.arange(65536, dtype=torch.float64) + 0.5) / 65535).clamp_(0, 1)
    return (linear_to_srgb(v) * 255 + 0.5).to(torch.uint8)


#: Pixels converted per pass: small enough that the working buffers stay in cache, large enough
#: for torch's two-thread kernels (0.11 s for a 2048^2 plane on an idle 2-core CPU; bands of
#: torch's grain size, 2^15, run each pass on one thread: 0.17 s idle, but 0.18 s against
#: 0.35-0.45 s when another process wants the cores). Fresh full-plane temporaries cost more in
#: page faults than the arithmetic itself, so every pass writes into these reused buffers.
BAND_PIXELS = 1 << 17


def lab_to_srgb_uint8(
    lightness: torch.Tensor, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """Lab planes ``(H, W)`` -> sRGB uint8 ``(H, W, 3)``, reducing chroma (not L) into the gamut.

    The arithmetic of :func:`lab_to_srgb`, in bands of rows with in-place passes and the transfer
    curve read from a 16-bit table: this runs once per output pixel, so it must be cheap.

    Parameters
    ----------
    lightness, a, b : torch.Tensor
        float32 planes ``(H, W)``.
    out : torch.Tensor, optional
        uint8 ``(H, W, 3)`` to write into (e.g. a view of the result array).

    Returns
    -------
    torch.Tensor
        ``out``, or a new uint8 ``(H, W, 3)`` tensor on the planes' device.

    Examples
    --------
    >>> lightness, a, b = torch.tensor([[50.0, 100.0]]), torch.zeros(1, 2), torch.zeros(1, 2)
    >>> lab_to_srgb_uint8(lightness, a, b)
    tensor([[[119, 119, 119],
             [255, 255, 255]]], dtype=torch.uint8)
    """
    device = lightness.device
    if out is None:
        out = torch.empty((*lightness.shape, 3), dtype=torch.uint8, device=device)
    h, w = lightness.shape
    # bands keep the CPU's working set in cache; a GPU takes the block in one pass
    rows = max(1, BAND_PIXELS // max(w, 1)) if device.type == "cpu" else h
    work = _Workspace(rows * w, device)
    for r in range(0, h, rows):
        band = slice(r, min(r + rows, h))
        work.convert(lightness[band], a[band], b[band], out[band])
    return out


class _Workspace:
    """Reused float/int buffers for :func:`lab_to_srgb_uint8`."""

    def __init__(self, n: int, device: torch.device | str = "cpu") -> None:
        self.f = torch.empty((6, n), dtype=torch.float32, device=device)
        self.i = torch.empty((2, n), dtype=torch.int32, device=device)
        self.u8 = torch.empty(n, dtype=torch.uint8, device=device)
        self.gamut = gamut_limits().to(device)
        self.encode = _encode_table().to(device)
        self.matrix = (XYZ_TO_RGB * 65535).tolist()

    def convert(self, lightness, a, b, out) -> None:
        n = lightness.numel()
        shape = lightness.shape
        fy, t, scale, x, y, z = (buf[:n].view(shape) for buf in self.f)
        i0, i1 = (buf[:n].view(shape) for buf in self.i)
        # limit = largest in-gamut chroma at (L, hue); scale = min(1, limit / chroma)
        torch.mul(lightness, (_N_L - 1) / 100, out=t)
        i0.copy_(t).clamp_(0, _N_L - 1).mul_(_N_H)
        torch.atan2(b, a, out=t)
        t.add_(math.pi).mul_(_N_H / (2 * math.pi))
        i1.copy_(t).clamp_(0, _N_H - 1)
        i0.add_(i1)
        torch.index_select(self.gamut, 0, i0.view(-1), out=t.view(-1))
        torch.mul(a, a, out=scale)
        scale.addcmul_(b, b).clamp_min_(1e-12).rsqrt_().mul_(t).clamp_max_(1.0)
        torch.add(lightness, 16, out=fy).mul_(1 / 116)
        torch.mul(a, scale, out=t)
        _finv_into(torch.add(fy, t, alpha=1 / 500, out=t), x)
        torch.mul(b, scale, out=t)
        _finv_into(torch.sub(fy, t, alpha=1 / 200, out=t), z)
        _finv_into(fy, y)
        m = self.matrix
        for c in range(3):
            torch.mul(x, m[c][0] * XN, out=t)
            t.add_(y, alpha=m[c][1]).add_(z, alpha=m[c][2] * ZN).clamp_(0, 65535)
            i0.copy_(t)
            torch.index_select(self.encode, 0, i0.view(-1), out=self.u8[:n])
            out[..., c].copy_(self.u8[:n].view(shape))


def _finv_into(f: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Write :func:`lab_f_inverse` of ``f`` into ``out`` without branching (``f`` is overwritten).

    With c = 6/29 and s = 116/kappa: finv(f) = max(f, c)**3 + (min(f, c) - c) * s, because the
    linear branch is the tangent of the cube at c (the cube's slope there is 3c**2 = s).
    """
    c = 6 / 29
    torch.clamp(f, min=c, out=out).pow_(3)
    return out.add_(f.clamp_max_(c).sub_(c), alpha=116 / KAPPA)
