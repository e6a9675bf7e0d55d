"""FractionNet: how a grayscale fluorescence signal splits into K structure classes.

The :class:`~napari_colorize.models.trunk.Trunk` (folded full-resolution input, context down to
1/32) with a head that predicts, for each 4x4 sub-pixel, K class logits and a log-scale of the
fraction error. Fractions are a softmax over the classes (they sum to 1 at every pixel); the
confidence is ``exp(-b / FRACTION_SCALE)`` of the predicted Laplace scale ``b`` of the summed
absolute fraction error.

Out of its training domain a network's fractions are too sure of themselves. With a ``prior``
(the mean class mix of the training targets), the returned fractions are the confidence-weighted
blend ``c * f + (1 - c) * prior``: where the model expects to be wrong, it falls back on the
average mix. Training fits the raw fractions (:meth:`FractionNet.forward_raw`).
"""

from __future__ import annotations

import math

import torch

from .trunk import DEFAULT_WIDTHS, Trunk, unfold4, zero_head

#: Predicted error scale (sum over classes of |fraction error|) at which confidence is 1/e.
FRACTION_SCALE = 0.25


class FractionNet(Trunk):
    """Lightness ``(B, 1, H, W)`` in [0, 100] -> ``(B, K + 1, H, W)``: K fractions, confidence.

    ``H`` and ``W`` must be multiples of :attr:`divisor`. The head starts at zero: uniform
    fractions and a middling error scale.

    Parameters
    ----------
    widths : tuple of 4 int
        Channels of the trunk at 1/4, 1/8, 1/16 and 1/32 resolution.
    channels : int
        Number of classes ``K`` (at least 2).
    prior : tuple of float, optional
        Mean class mix (``K`` fractions summing to 1) that uncertain fractions fall back on.
        Not a weight: it lives in the model card's architecture.

    Raises
    ------
    ValueError
        If ``channels`` < 2, or ``prior`` is not ``K`` non-negative fractions summing to 1.

    Examples
    --------
    >>> net = FractionNet((8, 8, 8, 8), channels=3)
    >>> out = net(torch.full((1, 1, 64, 64), 50.0)).detach()
    >>> out.shape, round(float(out[0, 0, 0, 0]), 4)
    (torch.Size([1, 4, 64, 64]), 0.3333)
    """

    class_prior: torch.Tensor | None

    def __init__(
        self,
        widths: tuple[int, int, int, int] = DEFAULT_WIDTHS,
        channels: int = 3,
        prior: tuple[float, ...] | None = None,
    ) -> None:
        if channels < 2:
            raise ValueError(f"FractionNet needs >= 2 channels, got {channels}")
        super().__init__(widths)
        self.channels = int(channels)
        p = None if prior is None else torch.tensor(prior, dtype=torch.float32)
        if p is not None and (
            p.shape != (self.channels,) or bool((p < 0).any()) or abs(float(p.sum()) - 1) > 1e-3
        ):
            raise ValueError(f"prior {list(prior or ())} is not {self.channels} fractions "
                             "summing to 1")
        # not a weight: it lives in the model card's architecture, the weights stay as trained
        prior_buffer = None if p is None else p.view(1, -1, 1, 1)
        self.register_buffer("class_prior", prior_buffer, persistent=False)
        self.head = zero_head(self.widths[0], (self.channels + 1) * 16)

    def forward_raw(self, lightness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits and log error scale, as training fits them (no prior blend).

        Parameters
        ----------
        lightness : torch.Tensor
            ``(B, 1, H, W)`` in [0, 100].

        Returns
        -------
        logits : torch.Tensor
            ``(B, K, H, W)`` class logits.
        log_b : torch.Tensor
            ``(B, 1, H, W)`` log of the predicted Laplace scale of the fraction error.

        Examples
        --------
        >>> logits, log_b = FractionNet((8, 8, 8, 8), 2).forward_raw(torch.zeros(1, 1, 32, 32))
        >>> logits.shape, log_b.shape
        (torch.Size([1, 2, 32, 32]), torch.Size([1, 1, 32, 32]))
        """
        out = unfold4(self.head(self.features(lightness)), self.channels + 1)
        log_b = out[:, self.channels :] + math.log(FRACTION_SCALE)
        return out[:, : self.channels], log_b

    def forward(self, lightness: torch.Tensor, confidence: bool = True) -> torch.Tensor:
        """K fractions and (if ``confidence``) the confidence.

        Parameters
        ----------
        lightness : torch.Tensor
            ``(B, 1, H, W)`` in [0, 100]; ``H``, ``W`` multiples of :attr:`divisor`.
        confidence : bool
            Also return the confidence. Without a prior and without ``confidence`` the error
            scale is not computed at all.

        Returns
        -------
        torch.Tensor
            ``(B, K + 1, H, W)`` (fractions, confidence), or ``(B, K, H, W)``.

        Examples
        --------
        >>> net = FractionNet((8, 8, 8, 8), 2, prior=(0.25, 0.75))
        >>> fractions = net(torch.zeros(1, 1, 32, 32), confidence=False)
        >>> [round(v, 3) for v in fractions[0, :, 0, 0].tolist()]  # prior-weighted: c = 1/e
        [0.342, 0.658]
        """
        # float32 from the head on: under bfloat16 autocast the fractions still sum to 1
        head = self.head(self.features(lightness)).float()
        if not confidence and self.class_prior is None:
            return torch.softmax(unfold4(head, self.channels), dim=1)
        out = unfold4(head, self.channels + 1)
        fractions = torch.softmax(out[:, : self.channels], dim=1)
        log_b = out[:, self.channels :] + math.log(FRACTION_SCALE)
        conf = torch.exp(-torch.exp(log_b.clamp(-10, 10)) / FRACTION_SCALE)
        if self.class_prior is not None:
            fractions = torch.lerp(self.class_prior.to(fractions.dtype), fractions, conf)
        return torch.cat([fractions, conf], dim=1) if confidence else fractions
