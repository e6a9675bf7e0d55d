"""ChromaNet: predicts CIE chroma (a, b) and its uncertainty from lightness, at 1/4 resolution.

The :class:`~napari_colorize.models.trunk.Trunk` computes features at 1/4 resolution; a 1x1 head
predicts, for each 4x4 sub-pixel, the chroma correction and a log-variance, unfolded back to full
resolution. A per-lightness lookup table (fitted on the training data) is the prior the network
corrects.

The confidence combines two spreads of the colour error. The head's log-variance is what
training measured: ambiguity within the training labs. On a lab the model has never seen, most
of the error is that lab's stain, and it is largest where the colour changes: textured tissue
(nuclei, edges, dense cells) and borders between structures of different hue. For models trained
by the recipe on many labs (leave-one-lab-out folds), 64-px tiles are ranked by their error
(Spearman, pooled) at 0.07 by the head's variance, 0.39 by the local spread of lightness, 0.41
by that of the predicted chroma and 0.415 by both. So the confidence's sigma adds, in
quadrature, the head's sigma and ``colour_spread`` times the local spread of the predicted
colour (:func:`local_variance` of L* x :data:`LIGHTNESS_WEIGHT`, a*, b*). The bundled
``he-histology`` keeps its recipe's 1.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from .trunk import DEFAULT_WIDTHS, Trunk, unfold4, zero_head

#: Lightness bins of the prior table (L in [0, 100]).
LUT_BINS = 101
#: Scale of the uncertainty -> confidence map: sigma (CIE units) at which confidence is 1/e.
SIGMA_SCALE = 8.0
#: Weight of lightness against chroma in the local colour spread: its part of a new lab's error.
LIGHTNESS_WEIGHT = 0.4
#: Half-side, in 4x4 blocks, of the window :func:`local_variance` measures (13 blocks: 52 px).
SPREAD_RADIUS = 6
#: Weight of the local colour spread in the confidence where a card does not say: what ranks
#: best for models the recipe trains on many labs.
DEFAULT_COLOUR_SPREAD = 1.0


def local_variance(x: torch.Tensor) -> torch.Tensor:
    """Measure the variance of ``x`` around each pixel, over about 52 x 52 px, summed over channels.

    Measured from the moments of 4x4 blocks, averaged over 13 x 13 blocks (edges replicated): a
    radius of 26 px stays well inside a tile's overlap.

    Parameters
    ----------
    x : torch.Tensor
        ``(B, C, H, W)``; ``H``, ``W`` multiples of 4.

    Returns
    -------
    torch.Tensor
        float32 ``(B, 1, H, W)``, in squared units of ``x``.

    Examples
    --------
    >>> flat = torch.full((1, 1, 64, 64), 50.0)
    >>> float(local_variance(flat).max())
    0.0
    >>> stripes = flat.clone()
    >>> stripes[..., ::2] = 70.0
    >>> round(float(local_variance(stripes).mean()), 3)
    100.0
    """
    x = x.float()
    r, k = SPREAD_RADIUS, 2 * SPREAD_RADIUS + 1
    moments = torch.cat([F.avg_pool2d(x, 4), F.avg_pool2d(x * x, 4)], 1)
    moments = F.pad(moments, (r, r, r, r), mode="replicate")
    # the box in two passes (rows, then columns): 26 instead of 169 additions per position
    moments = F.avg_pool2d(F.avg_pool2d(moments, (k, 1), stride=1), (1, k), stride=1)
    c = x.shape[1]
    mean, square = moments[:, :c], moments[:, c:]
    variance = (square - mean * mean).clamp_min_(0).sum(1, keepdim=True)
    return F.interpolate(variance, scale_factor=4.0, mode="nearest")


def lut_index(lightness: torch.Tensor) -> torch.Tensor:
    """Each pixel's bin of the prior table: its lightness rounded (half up), as int32.

    int32 indices make ``index_select`` 2.5x faster than int64 (18 against 45 ms for 4 tiles of
    1056^2), with the same values.
    """
    return (lightness.clamp(0, 100) + 0.5).to(torch.int32)


class ChromaNet(Trunk):
    """Lightness ``(B, 1, H, W)`` in [0, 100] -> ``(B, 3, H, W)``: a, b and confidence in [0, 1].

    ``H`` and ``W`` must be multiples of :attr:`divisor`. The head starts at zero, so an
    untrained network returns its prior (the lookup table ``lut``, zero until fitted).

    Parameters
    ----------
    widths : tuple of 4 int
        Channels of the trunk at 1/4, 1/8, 1/16 and 1/32 resolution.
    colour_spread : float
        Weight of the local spread of the predicted colour in the confidence's sigma; 0 leaves
        the network's predicted error alone. Each model's card records the one measured best
        for it on labs it never saw.

    Examples
    --------
    >>> net = ChromaNet((8, 8, 8, 8))
    >>> out = net(torch.full((1, 1, 64, 64), 50.0)).detach()
    >>> out.shape, float(out[:, :2].abs().max())
    (torch.Size([1, 3, 64, 64]), 0.0)
    """

    lut: torch.Tensor

    def __init__(self, widths: tuple[int, int, int, int] = DEFAULT_WIDTHS,
                 colour_spread: float = DEFAULT_COLOUR_SPREAD) -> None:
        super().__init__(widths)
        self.colour_spread = float(colour_spread)
        self.head = zero_head(self.widths[0], 3 * 16)
        # Prior: mean (a, b) for each lightness bin; replaced by the fitted table in training.
        self.register_buffer("lut", torch.zeros(2, LUT_BINS))

    def prior(self, lightness: torch.Tensor) -> torch.Tensor:
        """Look up the table's prior for a lightness batch.

        Parameters
        ----------
        lightness : torch.Tensor
            ``(B, 1, H, W)`` in [0, 100].

        Returns
        -------
        torch.Tensor
            ``(B, 2, H, W)``: a, b of the table at each pixel's (rounded) lightness.

        Examples
        --------
        >>> net = ChromaNet((8, 8, 8, 8))
        >>> net.lut[0] = torch.arange(101.0)
        >>> net.prior(torch.tensor([[[[20.2, 79.8]]]]))[0, 0]
        tensor([[20., 80.]])
        """
        b, _, h, w = lightness.shape
        # index_select is the fastest gather on CPU here (embedding is 20x slower)
        idx = lut_index(lightness).flatten()
        return self.lut.index_select(1, idx).view(2, b, h, w).permute(1, 0, 2, 3)

    def forward_raw(self, lightness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Chroma and log-variance, as training fits them.

        Parameters
        ----------
        lightness : torch.Tensor
            ``(B, 1, H, W)`` in [0, 100].

        Returns
        -------
        ab : torch.Tensor
            ``(B, 2, H, W)`` chroma.
        logvar : torch.Tensor
            ``(B, 1, H, W)`` log-variance of the chroma error.

        Examples
        --------
        >>> ab, logvar = ChromaNet((8, 8, 8, 8)).forward_raw(torch.zeros(1, 1, 32, 32))
        >>> ab.shape, logvar.shape
        (torch.Size([1, 2, 32, 32]), torch.Size([1, 1, 32, 32]))
        """
        out = unfold4(self.head(self.features(lightness)), 3)
        return self._chroma(lightness, out), out[:, 2:3] + 2.0 * math.log(SIGMA_SCALE / 2)

    def chroma_and_features(self, lightness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Chroma and the features the head maps to it (what a reference fit regresses on).

        Parameters
        ----------
        lightness : torch.Tensor
            ``(B, 1, H, W)`` in [0, 100].

        Returns
        -------
        ab : torch.Tensor
            ``(B, 2, H, W)`` chroma, as :meth:`forward` gives it.
        features : torch.Tensor
            ``(B, widths[0], H / 4, W / 4)``.

        Examples
        --------
        >>> ab, f = ChromaNet((8, 8, 8, 8)).chroma_and_features(torch.zeros(1, 1, 32, 32))
        >>> ab.shape, f.shape
        (torch.Size([1, 2, 32, 32]), torch.Size([1, 8, 8, 8]))
        """
        features = self.features(lightness)
        return self._chroma(lightness, unfold4(self.head(features), 2)), features

    def add_to_chroma(self, weights: torch.Tensor) -> None:
        """Add a linear function of the features to the chroma, in place: ``ab += W @ [f, 1]``.

        The head maps each feature vector to 4x4 sub-pixels of ``ab / 16``; adding
        ``W / 16`` to every sub-pixel's row adds ``W @ [f, 1]`` to the chroma of all 16.

        Parameters
        ----------
        weights : torch.Tensor
            ``(2, widths[0] + 1)``: per output (a, b) the weights of the features, then a bias.

        Examples
        --------
        >>> net = ChromaNet((8, 8, 8, 8))
        >>> net.add_to_chroma(torch.cat([torch.zeros(2, 8), torch.tensor([[3.0], [-2.0]])], 1))
        >>> net(torch.full((1, 1, 32, 32), 50.0), confidence=False)[0, :, 0, 0].tolist()
        [3.0, -2.0]
        """
        c = self.widths[0]
        with torch.no_grad():  # head rows: output * 16 + sub-pixel (see unfold4)
            rows = weights[:, None].expand(2, 16, c + 1).reshape(32, c + 1) / 16
            self.head.weight[:32, :, 0, 0] += rows[:, :c]
            bias = self.head.bias
            assert bias is not None  # zero_head builds the head with a bias
            bias[:32] += rows[:, c]

    def _chroma(self, lightness: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``prior(lightness) + 16 * out[:, :2]``: the table gathered straight into the result.

        Bitwise what the expression gives; without its strided prior and mixed-layout sum it
        takes about 40 instead of 70 ms for 4 tiles of 1056^2 on 2 CPU cores. Gradients and
        traces (whose loops would keep the example's batch) take the expression itself.
        """
        if out.requires_grad or torch.jit.is_tracing():  # no gradient through out=; a trace
            return torch.add(self.prior(lightness), out[:, :2], alpha=16.0)
        b, _, h, w = lightness.shape
        dtype = torch.promote_types(self.lut.dtype, out.dtype)
        ab = torch.empty((b, 2, h, w), dtype=dtype, device=lightness.device)
        idx = lut_index(lightness).view(b, -1)
        lut = self.lut.to(dtype)
        for i in range(b):
            for c in range(2):
                torch.index_select(lut[c], 0, idx[i], out=ab[i, c].view(-1))
        return ab.add_(out[:, :2], alpha=16.0)

    def forward(self, lightness: torch.Tensor, confidence: bool = True) -> torch.Tensor:
        """Chroma and (if ``confidence``) the confidence map.

        Parameters
        ----------
        lightness : torch.Tensor
            ``(B, 1, H, W)`` in [0, 100]; ``H``, ``W`` multiples of :attr:`divisor`.
        confidence : bool
            Also compute the confidence; without it only the chroma is built.

        Returns
        -------
        torch.Tensor
            ``(B, 3, H, W)`` (a, b, confidence in [0, 1]), or ``(B, 2, H, W)``.

        Examples
        --------
        >>> ChromaNet((8, 8, 8, 8))(torch.zeros(1, 1, 32, 32), confidence=False).shape
        torch.Size([1, 2, 32, 32])
        """
        if not confidence:
            return self.chroma_and_features(lightness)[0]
        ab, logvar = self.forward_raw(lightness)
        variance = torch.exp(logvar.float().clamp(-10, 10))
        if self.colour_spread > 0:
            colour = torch.cat([lightness.float() * LIGHTNESS_WEIGHT, ab.float()], 1)
            variance = variance + self.colour_spread**2 * local_variance(colour)
        sigma = torch.sqrt(variance)
        return torch.cat([ab, torch.exp(-sigma / SIGMA_SCALE)], dim=1)
