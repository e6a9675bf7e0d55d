"""What a colorization model needs from the engine, and the model object the engine calls."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class ModelSpec:
    """A model's input contract.

    The model maps CIE lightness ``(B, 1, H, W)`` in [0, 100] to ``(B, C + 1, H, W)``: ``C``
    output channels and a confidence in [0, 1]. ``H`` and ``W`` must be multiples of ``divisor``
    and at least ``min_tile``.

    ``kind`` says what the channels are: ``"chroma"`` (C = 2: CIE a, b; the output keeps the
    input's lightness) or ``"fractions"`` (C = ``len(channel_names)``: how the signal splits
    into structures, summing to 1, rendered additively with ``palette``, one RGB per channel in
    [0, 1]).

    Parameters
    ----------
    name : str
        Model name.
    version : str
        Model version.
    divisor : int
        Tile sides must be multiples of this.
    min_tile : int
        Smallest tile side (a multiple of ``divisor``).
    kind : {"chroma", "fractions"}
        What the output channels are.
    channel_names : tuple of str
        Fractions models: the name of each channel.
    palette : tuple of (r, g, b)
        Fractions models: the colour of each channel.

    Raises
    ------
    ValueError
        Naming the setting and its value.

    Examples
    --------
    >>> ModelSpec("he").channels
    2
    >>> ModelSpec("he", divisor=32, min_tile=48)
    Traceback (most recent call last):
    ...
    ValueError: min_tile 48 must be a positive multiple of divisor 32
    """

    name: str
    version: str = "0"
    divisor: int = 32
    min_tile: int = 64
    kind: str = "chroma"
    channel_names: tuple[str, ...] = ()
    palette: tuple[tuple[float, float, float], ...] = ()

    @property
    def channels(self) -> int:
        """Number of output channels before the confidence.

        Returns
        -------
        int

        Examples
        --------
        >>> ModelSpec("f", kind="fractions", channel_names=("a", "b", "c"),
        ...           palette=((1, 0, 0), (0, 1, 0), (0, 0, 1))).channels
        3
        """
        return 2 if self.kind == "chroma" else len(self.channel_names)

    @property
    def supports(self) -> frozenset[str]:
        """Optional run settings this model honours.

        Returns
        -------
        frozenset of str
            ``hints`` for colour (chroma) models, ``channels`` and ``palette`` for channel
            (fractions) models.

        Examples
        --------
        >>> sorted(ModelSpec("he").supports)
        ['hints']
        """
        return frozenset({"hints"} if self.kind == "chroma" else {"channels", "palette"})

    def __post_init__(self) -> None:
        """Check the contract."""
        if self.divisor < 1:
            raise ValueError(f"divisor {self.divisor} must be >= 1")
        if self.min_tile < self.divisor or self.min_tile % self.divisor:
            raise ValueError(
                f"min_tile {self.min_tile} must be a positive multiple of divisor {self.divisor}"
            )
        if self.kind not in ("chroma", "fractions"):
            raise ValueError(f"model kind {self.kind!r} must be 'chroma' or 'fractions'")
        if self.kind == "fractions" and (
            len(self.channel_names) < 2 or len(self.palette) != len(self.channel_names)
        ):
            raise ValueError(
                f"a fractions model needs >= 2 channel names and one palette colour each; got "
                f"{len(self.channel_names)} names and {len(self.palette)} colours"
            )


@dataclass
class ColorModel:
    """A network with its spec and model card; call it on a batch of lightness tiles.

    Parameters
    ----------
    net : torch.nn.Module
        Maps lightness ``(B, 1, H, W)`` to ``(B, C + 1, H, W)``; put in eval mode.
    spec : ModelSpec
        Its input contract.
    card : dict
        Its model card (the JSON object).
    device : torch.device
        Where the network runs (it is moved there).
    precision : {"auto", "bf16", "fp32"}
        ``"auto"``: bfloat16 autocast on CUDA and on CPUs with bfloat16 units (see
        :func:`cpu_has_bf16`), float32 elsewhere.

    Examples
    --------
    >>> from napari_colorize.models.network import ChromaNet
    >>> model = ColorModel(ChromaNet((8, 8, 8, 8)), ModelSpec("tiny"))
    >>> model(torch.full((2, 1, 64, 64), 50.0)).shape
    torch.Size([2, 3, 64, 64])
    >>> model(torch.full((2, 1, 64, 64), 50.0), confidence=False).shape
    torch.Size([2, 2, 64, 64])
    """

    net: torch.nn.Module
    spec: ModelSpec
    card: dict[str, Any] = field(default_factory=dict)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    #: "auto" (bfloat16 autocast where the hardware has it, see :func:`uses_bf16`), "bf16"
    #: or "fp32".
    precision: str = "auto"

    def __post_init__(self) -> None:
        """Put the network in eval mode on ``device``."""
        self.net.eval()
        self.to(self.device)

    def to(self, device: str | torch.device) -> ColorModel:
        """Move the network to ``device`` (in place), channels-last on CUDA and CPU.

        Parameters
        ----------
        device : str or torch.device

        Returns
        -------
        ColorModel
            ``self``.

        Examples
        --------
        >>> from napari_colorize.models.network import ChromaNet
        >>> ColorModel(ChromaNet((8, 8, 8, 8)), ModelSpec("tiny")).to("cpu").device
        device(type='cpu')
        """
        self.device = torch.device(device)
        self.net.to(self.device)
        if self.device.type in ("cuda", "cpu"):
            # Module.to takes memory_format; torch's type stubs do not say so
            self.net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return self

    @torch.inference_mode()
    def __call__(self, lightness: torch.Tensor, confidence: bool = True) -> torch.Tensor:
        """Run the network on a batch of lightness tiles.

        On CUDA the batch is pinned and copied asynchronously. The network runs under bfloat16
        autocast with ``precision="bf16"`` (CPU or CUDA), and with ``"auto"`` on CUDA and on
        CPUs with bfloat16 units; outputs are always float32.

        Parameters
        ----------
        lightness : torch.Tensor
            ``(B, 1, H, W)`` CIE lightness in [0, 100].
        confidence : bool
            Also compute the confidence (a network that can skip it does when ``False``).

        Returns
        -------
        torch.Tensor
            ``(B, C + 1, H, W)`` outputs and confidence, or ``(B, C, H, W)``.
        """
        x = lightness
        if self.device.type == "cuda":
            x = x.pin_memory() if x.device.type == "cpu" else x
        x = x.to(self.device, non_blocking=True)
        if self.device.type in ("cuda", "cpu"):
            x = x.contiguous(memory_format=torch.channels_last)
        kwargs = {"confidence": False} if not confidence and _takes_confidence(self.net) else {}
        with self.autocast():
            return self.net(x, **kwargs).float()

    def autocast(self) -> torch.autocast:
        """Give the autocast context the network runs under (bfloat16 where ``precision`` says).

        Returns
        -------
        torch.autocast
            Enabled for ``precision="bf16"`` on CUDA or CPU, and for ``"auto"`` where
            :func:`uses_bf16`; otherwise a disabled context (float32).

        Examples
        --------
        >>> from napari_colorize.models.network import ChromaNet
        >>> model = ColorModel(ChromaNet((8, 8, 8, 8)), ModelSpec("tiny"), precision="fp32")
        >>> with model.autocast():
        ...     torch.is_autocast_enabled("cpu")
        False
        """
        kind = self.device.type
        return torch.autocast(kind if kind in ("cuda", "cpu") else "cpu", dtype=torch.bfloat16,
                              enabled=self.arithmetic == "bf16")

    @property
    def arithmetic(self) -> str:
        """The precision the network runs in on its device: ``"bf16"`` or ``"fp32"``.

        Examples
        --------
        >>> from napari_colorize.models.network import ChromaNet
        >>> ColorModel(ChromaNet((8, 8, 8, 8)), ModelSpec("tiny"), precision="fp32").arithmetic
        'fp32'
        """
        kind = self.device.type
        use_bf16 = kind in ("cuda", "cpu") and (
            self.precision == "bf16" or (self.precision == "auto" and uses_bf16(kind)))
        return "bf16" if use_bf16 else "fp32"

    @property
    def name(self) -> str:
        """Model name (``spec.name``).

        Returns
        -------
        str

        Examples
        --------
        >>> from napari_colorize.models.network import ChromaNet
        >>> ColorModel(ChromaNet((8, 8, 8, 8)), ModelSpec("tiny")).name
        'tiny'
        """
        return self.spec.name


@functools.cache
def cpu_has_bf16() -> bool:
    """Tell whether this CPU has bfloat16 matrix or vector units (AMX or AVX-512 BF16).

    There bfloat16 autocast runs the networks about twice as fast, with colours within a
    fraction of a CIEDE2000 unit of float32 (``tests/models/test_precision.py``); elsewhere
    oneDNN emulates bfloat16 and is slower than float32.

    Returns
    -------
    bool

    Examples
    --------
    >>> isinstance(cpu_has_bf16(), bool)
    True
    """
    try:
        caps = torch.cpu.get_capabilities()  # torch >= 2.8
    except AttributeError:
        caps = {}
    if caps:
        return bool(caps.get("amx_bf16") or caps.get("avx512_bf16"))
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(f.read().split())
    except OSError:
        return False
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def uses_bf16(device_type: str) -> bool:
    """Tell whether ``precision="auto"`` runs bfloat16 on a device of this type.

    Examples
    --------
    >>> uses_bf16("cuda"), uses_bf16("mps")
    (True, False)
    """
    if device_type == "cuda":
        return True
    return device_type == "cpu" and cpu_has_bf16()


@functools.cache
def _takes_confidence_type(cls: Any) -> bool:
    return "confidence" in inspect.signature(cls.forward).parameters


def _takes_confidence(net: torch.nn.Module) -> bool:
    cls: Any = type(net)  # hashable, though torch's stubs make Module's __hash__ look odd
    return _takes_confidence_type(cls)
