"""What a run returns: its outputs and what it decided."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import ColorizeConfig

if TYPE_CHECKING:
    from .domain import DomainScore


@dataclass(frozen=True, eq=False)  # compared and hashed as an object, not by its arrays
class ColorizeResult:
    """The outputs of :func:`~napari_colorize.colorize` and the settings the run used.

    ``np.asarray(result)`` is the RGB image, so ``rgb = np.asarray(colorize(gray))`` reads like
    the plain call it is; ``result.shape``, ``result.dtype`` and ``result[...]`` are ``rgb``'s
    too: channels last in memory, channel-first (NGFF) with ``out=`` a path.

    Attributes
    ----------
    rgb : numpy.ndarray or zarr.Array
        sRGB uint8 shaped ``image.shape + (3,)`` (with ``out=`` a path: the OME-Zarr's level-0
        array, channel-first per NGFF).
    confidence : numpy.ndarray or zarr.Array or None
        float32 in [0, 1] shaped like the image, when ``confidence=True``.
    channels : numpy.ndarray or zarr.Array or None
        float32 channel maps ``(K, *image.shape)``, when ``channels=True`` with a channel model.
    model, model_version : str
        The model that ran.
    window : tuple of float
        The intensity window mapped to lightness (low, high).
    config : ColorizeConfig
        The settings of the run, with ``batch_size`` and ``block_size`` resolved to numbers and
        ``precision`` to the arithmetic that ran (``"fp32"`` or ``"bf16"``).
    tiles, blocks : int
        Model tiles and output blocks of the whole run (all planes).
    hints_ignored : int
        Colour hints that fell outside the image.
    reference : tuple of str
        The colour reference images the run took its lab's colours from (empty: none).
    domain : DomainScore or None
        How much the input looks like the model's training images (``domain.in_domain``,
        ``domain.score``, ``domain.message``); None when not checked (``domain_check=False``,
        or a model without domain statistics).

    Examples
    --------
    >>> from napari_colorize import colorize
    >>> result = colorize(np.full((64, 64), 128, np.uint8), device="cpu")
    >>> result.rgb.shape, result.confidence is None, np.asarray(result).dtype
    ((64, 64, 3), True, dtype('uint8'))
    >>> result.shape, result[0, 0].shape, result.config.precision in ("fp32", "bf16")
    ((64, 64, 3), (3,), True)
    """

    rgb: Any
    confidence: Any = None
    channels: Any = None
    model: str = ""
    model_version: str = ""
    window: tuple[float, float] = (0.0, 0.0)
    config: ColorizeConfig = field(default_factory=ColorizeConfig)
    tiles: int = 0
    blocks: int = 0
    hints_ignored: int = 0
    reference: tuple[str, ...] = ()
    domain: DomainScore | None = None

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """Return the RGB image as a numpy array (``np.asarray(result)``).

        Parameters
        ----------
        dtype : numpy.dtype, optional
            Convert to this dtype (default: uint8 as stored).
        copy : bool, optional
            Accepted for numpy 2's protocol; a copy is made only when converting.

        Returns
        -------
        numpy.ndarray
            The sRGB image, read into memory if it is a zarr array.
        """
        rgb = np.asarray(self.rgb[...] if not isinstance(self.rgb, np.ndarray) else self.rgb)
        return rgb.astype(dtype, copy=False) if dtype is not None else rgb

    @property
    def shape(self) -> tuple[int, ...]:
        """The RGB image's shape."""
        return tuple(self.rgb.shape)

    @property
    def dtype(self) -> np.dtype:
        """The RGB image's dtype (uint8)."""
        return np.dtype(self.rgb.dtype)

    @property
    def ndim(self) -> int:
        """The RGB image's number of axes."""
        return len(self.rgb.shape)

    def __len__(self) -> int:
        """Return the length of the RGB image's first axis."""
        return int(self.rgb.shape[0])

    def __getitem__(self, key: Any) -> Any:
        """Index ``rgb`` (in memory ``result[0, 0]`` is a pixel; a zarr output reads that part)."""
        return self.rgb[key]

    def __repr__(self) -> str:
        """Describe the outputs by type, shape and dtype (never their pixels)."""
        parts = [f"rgb={_describe(self.rgb)}"]
        parts += [f"{name}={_describe(value)}" for name, value in
                  (("confidence", self.confidence), ("channels", self.channels))
                  if value is not None]
        return (f"ColorizeResult({', '.join(parts)}, model={self.model!r}, "
                f"tiles={self.tiles}, blocks={self.blocks})")


def _describe(array: Any) -> str:
    return f"<{type(array).__name__} {tuple(array.shape)} {array.dtype}>"
