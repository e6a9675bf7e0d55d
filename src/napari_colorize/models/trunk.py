"""The U-Net trunk shared by every network: lightness in, features at 1/4 resolution out.

Colour and structure are low-frequency, so the networks spend their compute on context rather
than full-resolution output: the full-resolution lightness is folded into channels
(pixel-unshuffle by 4, so no detail is thrown away) and a small U-Net runs from 1/4 to 1/32
resolution. A head (:class:`~napari_colorize.models.network.ChromaNet`,
:class:`~napari_colorize.models.fraction_net.FractionNet`) maps the features to 4x4 sub-pixel
outputs that :func:`unfold4` unfolds back to full resolution (pixel-shuffle).

The trunk's layers are attributes of the network itself (``enc1`` ... ``dec1``), not of a
sub-module, so the parameter names in the bundled weights stay as they were trained.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: Default widths of the four resolution levels (1/4, 1/8, 1/16, 1/32).
DEFAULT_WIDTHS = (32, 64, 96, 128)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.ReLU(inplace=True))


class Trunk(nn.Module):
    """Lightness ``(B, 1, H, W)`` in [0, 100] -> features ``(B, widths[0], H / 4, W / 4)``.

    ``H`` and ``W`` must be multiples of :attr:`divisor`. Networks subclass it and add a head.

    Parameters
    ----------
    widths : tuple of 4 int
        Channels at 1/4, 1/8, 1/16 and 1/32 resolution.

    Examples
    --------
    >>> trunk = Trunk((8, 8, 8, 8))
    >>> trunk.features(torch.full((1, 1, 64, 96), 50.0)).shape
    torch.Size([1, 8, 16, 24])
    """

    #: Height and width of the input must be multiples of this.
    divisor = 32
    widths: tuple[int, int, int, int]

    def __init__(self, widths: tuple[int, int, int, int] = DEFAULT_WIDTHS) -> None:
        super().__init__()
        c1, c2, c3, c4 = widths
        self.widths = (c1, c2, c3, c4)
        self.enc1 = nn.Sequential(_conv(16, c1), _conv(c1, c1))
        self.enc2 = nn.Sequential(_conv(c1, c2, 2), _conv(c2, c2))
        self.enc3 = nn.Sequential(_conv(c2, c3, 2), _conv(c3, c3))
        self.enc4 = nn.Sequential(_conv(c3, c4, 2), _conv(c4, c4), _conv(c4, c4))
        self.lat3 = nn.Conv2d(c4, c3, 1)
        self.dec3 = _conv(c3, c3)
        self.lat2 = nn.Conv2d(c3, c2, 1)
        self.dec2 = _conv(c2, c2)
        self.lat1 = nn.Conv2d(c2, c1, 1)
        self.dec1 = _conv(c1, c1)

    def features(self, lightness: torch.Tensor) -> torch.Tensor:
        """Features at 1/4 resolution of a lightness batch.

        Parameters
        ----------
        lightness : torch.Tensor
            ``(B, 1, H, W)`` CIE lightness in [0, 100]; ``H``, ``W`` multiples of 32.

        Returns
        -------
        torch.Tensor
            ``(B, widths[0], H / 4, W / 4)``.

        Examples
        --------
        >>> Trunk((8, 8, 8, 8)).features(torch.zeros(2, 1, 32, 32)).shape
        torch.Size([2, 8, 8, 8])
        """
        e1 = self.enc1(fold4(lightness))
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e4 = self.enc4(e3)
        d3 = self.dec3(e3 + F.interpolate(self.lat3(e4), scale_factor=2.0, mode="nearest"))
        d2 = self.dec2(e2 + F.interpolate(self.lat2(d3), scale_factor=2.0, mode="nearest"))
        return self.dec1(e1 + F.interpolate(self.lat1(d2), scale_factor=2.0, mode="nearest"))


def zero_head(cin: int, cout: int) -> nn.Conv2d:
    """Build a 1x1 convolution whose weights and bias start at zero.

    A head that starts at zero returns what the network adds its output to (a prior, uniform
    fractions), so training starts from a sensible model.

    Parameters
    ----------
    cin, cout : int
        Input and output channels.

    Returns
    -------
    torch.nn.Conv2d

    Examples
    --------
    >>> float(zero_head(8, 48).weight.detach().abs().sum())
    0.0
    """
    conv = nn.Conv2d(cin, cout, 1)
    for param in conv.parameters():  # weight, then bias
        nn.init.zeros_(param)
    return conv


def fold4(lightness: torch.Tensor) -> torch.Tensor:
    """``pixel_unshuffle(lightness * 0.02 - 1, 4)``, built channels-last in one pass.

    The same values as the two full-resolution temporaries and the unshuffle it replaces
    (which took a third of the time outside the convolutions), laid out as the first
    convolution reads them.

    Parameters
    ----------
    lightness : torch.Tensor
        ``(B, 1, H, W)`` in [0, 100]; ``H``, ``W`` multiples of 4.

    Returns
    -------
    torch.Tensor
        ``(B, 16, H / 4, W / 4)`` in channels-last memory, about [-1, 1].

    Examples
    --------
    >>> x = torch.rand(2, 1, 8, 12) * 100
    >>> torch.equal(fold4(x), F.pixel_unshuffle(x * 0.02 - 1.0, 4))
    True
    """
    if lightness.requires_grad or torch.jit.is_tracing():  # out= has no gradient or trace
        return F.pixel_unshuffle(lightness * 0.02 - 1.0, 4)
    b, _, h, w = lightness.shape
    out = torch.empty((b, h // 4, w // 4, 4, 4), dtype=lightness.dtype, device=lightness.device)
    blocks = lightness.reshape(b, h // 4, 4, w // 4, 4).permute(0, 1, 3, 2, 4)
    torch.mul(blocks, 0.02, out=out).sub_(1.0)
    return out.view(b, h // 4, w // 4, 16).permute(0, 3, 1, 2)


def unfold4(x: torch.Tensor, channels: int) -> torch.Tensor:
    """``pixel_shuffle(x, 4)[:, :channels]``, several times faster on channels-last tensors.

    Parameters
    ----------
    x : torch.Tensor
        ``(B, 16 * C, H, W)``: ``C`` outputs of 4x4 sub-pixels (channel = output * 16 + sub-pixel).
    channels : int
        How many of the ``C`` outputs to unfold (the first ``channels``).

    Returns
    -------
    torch.Tensor
        ``(B, channels, 4 * H, 4 * W)``.

    Examples
    --------
    >>> x = torch.arange(2 * 48 * 3 * 5.0).reshape(2, 48, 3, 5)
    >>> torch.equal(unfold4(x, 2), F.pixel_shuffle(x, 4)[:, :2])
    True
    """
    n, c, h, w = x.shape
    v = x.permute(0, 2, 3, 1).reshape(n, h, w, c // 16, 4, 4)[:, :, :, :channels]
    return v.permute(0, 3, 1, 4, 2, 5).reshape(n, channels, h * 4, w * 4)
