"""ChromaNet: predicts CIE chroma (a, b) and its uncertainty from lightness, at 1/4 resolution.

Colour in stained tissue is low-frequency, so the network spends its compute on context rather
than full-resolution chroma: the full-resolution lightness is folded into channels
(pixel-unshuffle by 4, so no detail is thrown away), a small U-Net runs from 1/4 to 1/32
resolution, and the head unfolds 4x4 sub-pixel chroma back to full resolution (pixel-shuffle).
A per-lightness lookup table (fitted on the training data) is the prior the network corrects.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

#: Lightness bins of the prior table (L in [0, 100]).
LUT_BINS = 101
#: Scale of the uncertainty -> confidence map: sigma (CIE units) at which confidence is 1/e.
SIGMA_SCALE = 8.0


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.ReLU(inplace=True))


class ChromaNet(nn.Module):
    """Lightness ``(B, 1, H, W)`` in [0, 100] -> ``(B, 3, H, W)``: a, b and confidence in [0, 1].

    ``H`` and ``W`` must be multiples of :attr:`divisor`.
    """

    divisor = 32

    def __init__(self, widths: tuple[int, int, int, int] = (32, 64, 96, 128)) -> None:
        super().__init__()
        self.widths = tuple(widths)
        c1, c2, c3, c4 = widths
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
        self.head = nn.Conv2d(c1, 3 * 16, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        # Prior: mean (a, b) for each lightness bin; replaced by the fitted table in training.
        self.register_buffer("lut", torch.zeros(2, LUT_BINS))

    def prior(self, lightness: torch.Tensor) -> torch.Tensor:
        """(a, b) of the lookup-table prior for lightness ``(B, 1, H, W)``."""
        b, _, h, w = lightness.shape
        idx = (lightness.clamp(0, 100) + 0.5).long().flatten()
        # index_select is the fastest gather on CPU here (embedding is 20x slower).
        return self.lut.index_select(1, idx).view(2, b, h, w).permute(1, 0, 2, 3)

    def forward_raw(self, lightness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Chroma ``(B, 2, H, W)`` and log-variance ``(B, 1, H, W)`` (for training)."""
        return self._outputs(lightness, self.head(self._features(lightness)), 3)

    def _features(self, lightness: torch.Tensor) -> torch.Tensor:
        x = F.pixel_unshuffle(lightness * 0.02 - 1.0, 4)
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e4 = self.enc4(e3)
        d3 = self.dec3(e3 + F.interpolate(self.lat3(e4), scale_factor=2.0, mode="nearest"))
        d2 = self.dec2(e2 + F.interpolate(self.lat2(d3), scale_factor=2.0, mode="nearest"))
        return self.dec1(e1 + F.interpolate(self.lat1(d2), scale_factor=2.0, mode="nearest"))

    def _outputs(self, lightness: torch.Tensor, head: torch.Tensor, channels: int):
        out = _unfold4(head, channels)
        ab = torch.add(self.prior(lightness), out[:, :2], alpha=16.0)
        if channels == 2:
            return ab, None
        logvar = out[:, 2:3] + 2.0 * math.log(SIGMA_SCALE / 2)
        return ab, logvar

    def forward(self, lightness: torch.Tensor, confidence: bool = True) -> torch.Tensor:
        """a, b and (if ``confidence``) the confidence map; without it, only the chroma is built."""
        if not confidence:
            return self._outputs(lightness, self.head(self._features(lightness)), 2)[0]
        ab, logvar = self.forward_raw(lightness)
        sigma = torch.exp(0.5 * logvar.clamp(-10, 10))
        return torch.cat([ab, torch.exp(-sigma / SIGMA_SCALE)], dim=1)


def _unfold4(x: torch.Tensor, channels: int) -> torch.Tensor:
    """``pixel_shuffle(x, 4)[:, :channels]``, several times faster on channels-last tensors."""
    n, c, h, w = x.shape
    v = x.permute(0, 2, 3, 1).reshape(n, h, w, c // 16, 4, 4)[:, :, :, :channels]
    return v.permute(0, 3, 1, 4, 2, 5).reshape(n, channels, h * 4, w * 4)
