"""CIE Lab (D65) and the sRGB transfer curve in torch: the arithmetic every conversion shares.

:mod:`.color` builds on it (gamut mapping, the fast uint8 conversion) and re-exports it.
"""

from __future__ import annotations

import torch

#: D65 white point (X, Z; Y = 1).
XN, ZN = 0.95047, 1.08883
#: CIE constants of the companding function: epsilon (6/29)**3 and kappa (29/3)**3.
EPS = 216 / 24389
KAPPA = 24389 / 27
#: Linear sRGB from XYZ (D65), and its inverse.
XYZ_TO_RGB = torch.tensor(
    [
        [3.2404542, -1.5371385, -0.4985314],
        [-0.9692660, 1.8760108, 0.0415560],
        [0.0556434, -0.2040259, 1.0572252],
    ],
    dtype=torch.float64,
)
RGB_TO_XYZ = torch.linalg.inv(XYZ_TO_RGB)


def srgb_to_linear(v: torch.Tensor) -> torch.Tensor:
    """Undo the sRGB transfer curve.

    Parameters
    ----------
    v : torch.Tensor
        sRGB values in [0, 1].

    Returns
    -------
    torch.Tensor
        Linear values, shaped like ``v``.

    Examples
    --------
    >>> srgb_to_linear(torch.tensor([0.0, 0.5, 1.0]))
    tensor([0.0000, 0.2140, 1.0000])
    """
    return torch.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(v: torch.Tensor) -> torch.Tensor:
    """Apply the sRGB transfer curve.

    Parameters
    ----------
    v : torch.Tensor
        Linear values; clipped to [0, 1].

    Returns
    -------
    torch.Tensor
        sRGB values in [0, 1], shaped like ``v``.

    Examples
    --------
    >>> linear_to_srgb(torch.tensor([-1.0, 0.214, 1.0]))
    tensor([0.0000, 0.5000, 1.0000])
    """
    v = v.clamp(0.0, 1.0)
    return torch.where(v <= 0.0031308, v * 12.92, 1.055 * v.clamp_min(1e-12) ** (1 / 2.4) - 0.055)


def lab_f(t: torch.Tensor) -> torch.Tensor:
    """Apply CIE Lab's companding function to relative X, Y or Z.

    Parameters
    ----------
    t : torch.Tensor
        Relative X / Xn, Y or Z / Zn.

    Returns
    -------
    torch.Tensor
        The cube root above ``EPS``, its linear continuation below; shaped like ``t``.

    Examples
    --------
    >>> lab_f(torch.tensor([0.0, 1.0]))
    tensor([0.1379, 1.0000])
    """
    return torch.where(t > EPS, t.clamp_min(1e-12) ** (1 / 3), (KAPPA * t + 16) / 116)


def lab_f_inverse(f: torch.Tensor) -> torch.Tensor:
    """Invert CIE Lab's companding function, e.g. ``(L + 16) / 116`` -> relative luminance Y.

    Parameters
    ----------
    f : torch.Tensor
        Companded values (``(L + 16) / 116``, or its sums with ``a / 500`` and ``-b / 200``).

    Returns
    -------
    torch.Tensor
        Relative X, Y or Z, shaped like ``f``.

    Examples
    --------
    >>> float(lab_f_inverse(torch.tensor([(50 + 16) / 116]))[0])  # L* 50 is Y 0.184
    0.18418...
    """
    # f > 6/29 is the same test as f**3 > EPS, without cubing twice.
    cube = f * f
    cube.mul_(f)
    if f.numel() and float(f.min()) > 6 / 29:  # the usual case: no pixel darker than L = 8
        return cube
    return torch.where(f > 6 / 29, cube, f * (116 / KAPPA) - 16 / KAPPA)


def gray_to_lightness(v: torch.Tensor) -> torch.Tensor:
    """Compute the CIE lightness of sRGB grays (for a gray, Y equals the linear value).

    Parameters
    ----------
    v : torch.Tensor
        sRGB gray values in [0, 1].

    Returns
    -------
    torch.Tensor
        Lightness L*, 0-100, shaped like ``v``.

    Examples
    --------
    >>> gray_to_lightness(torch.tensor([0.0, 0.5, 1.0]))
    tensor([  0.0000,  53.3890, 100.0000])
    """
    return 116 * lab_f(srgb_to_linear(v)) - 16


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """Convert sRGB (D65) to CIE Lab.

    Parameters
    ----------
    rgb : torch.Tensor
        sRGB in [0, 1] (clipped), channels first ``(3, ...)``.

    Returns
    -------
    torch.Tensor
        L, a, b ``(3, ...)``, in ``rgb``'s dtype.

    Examples
    --------
    >>> red = torch.tensor([[1.0], [0.0], [0.0]])
    >>> rgb_to_lab(red)[:, 0]
    tensor([53.2408, 80.0925, 67.2032])
    """
    lin = srgb_to_linear(rgb.clamp(0, 1))
    m = RGB_TO_XYZ.to(rgb.dtype)
    return xyz_to_lab(torch.einsum("ij,j...->i...", m, lin))


def xyz_to_lab(xyz: torch.Tensor) -> torch.Tensor:
    """Convert CIE XYZ (D65, Y of white 1) to CIE Lab.

    Parameters
    ----------
    xyz : torch.Tensor
        X, Y, Z ``(3, ...)``.

    Returns
    -------
    torch.Tensor
        L, a, b ``(3, ...)``.

    Examples
    --------
    >>> xyz_to_lab(torch.tensor([[XN], [1.0], [ZN]]))[:, 0]  # the white point
    tensor([100.,   0.,   0.])
    """
    fx, fy, fz = lab_f(xyz[0] / XN), lab_f(xyz[1]), lab_f(xyz[2] / ZN)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)])


def lab_to_xyz(lab: torch.Tensor) -> torch.Tensor:
    """Convert CIE Lab to CIE XYZ (D65, Y of white 1).

    Parameters
    ----------
    lab : torch.Tensor
        L, a, b ``(3, ...)``.

    Returns
    -------
    torch.Tensor
        X, Y, Z ``(3, ...)``.

    Examples
    --------
    >>> lab_to_xyz(torch.tensor([[100.0], [0.0], [0.0]]))[:, 0]
    tensor([0.9505, 1.0000, 1.0888])
    """
    fy = (lab[0] + 16) / 116
    fx = fy + lab[1] / 500
    fz = fy - lab[2] / 200
    return torch.stack([lab_f_inverse(fx) * XN, lab_f_inverse(fy), lab_f_inverse(fz) * ZN])


def lab_to_linear(lab: torch.Tensor) -> torch.Tensor:
    """Convert CIE Lab to linear sRGB, without clipping (out-of-gamut values leave [0, 1]).

    Parameters
    ----------
    lab : torch.Tensor
        L, a, b ``(3, ...)``.

    Returns
    -------
    torch.Tensor
        Linear R, G, B ``(3, ...)``.

    Examples
    --------
    >>> lab_to_linear(torch.tensor([[100.0], [0.0], [0.0]], dtype=torch.float64))[:, 0]
    tensor([1.0000, 1.0000, 1.0000], dtype=torch.float64)
    """
    m = XYZ_TO_RGB.to(lab.dtype)
    return torch.einsum("ij,j...->i...", m, lab_to_xyz(lab))
