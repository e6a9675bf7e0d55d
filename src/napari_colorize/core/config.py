"""The settings of a run: one frozen, validated object holds every default.

:func:`~napari_colorize.colorize` takes these settings as keywords (or ``config=``), the CLI
builds its options from the fields, and the widget reads its defaults here. Checks that need the
model (its divisor and minimum tile, its channel names) run when the run is planned.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np

from .blending import BLENDING_MODES
from .stains import find_stain
from .validation import SettingTypeError, check_contrast_limits, check_flag, short_repr

#: Largest output region computed at once (pixels a side): bounds memory on huge planes. A GPU
#: gets larger blocks: fewer tiles computed twice on block edges, fewer host copies.
BLOCK_SIZE = 4096
GPU_BLOCK_SIZE = 8192
#: Largest block side accepted: a block's accumulators are held in memory at once.
MAX_BLOCK_SIZE = 16384
PRECISIONS = ("auto", "fp32", "bf16")


#: What each setting does, in a line (CLI help, widget tooltips).
HELP = {
    "tile_size": "tile side in pixels, a multiple of the model's divisor, or auto (the size "
                 "that computes the fewest pixels for the image)",
    "overlap": "overlap between neighbouring tiles in pixels, < tile_size/2",
    "batch_size": "tiles per model call, or 'auto' (what fits half the free GPU memory; 4 on "
                  "a CPU)",
    "block_size": "largest region computed at once, pixels a side (16-16384), or 'auto' (4096 "
                  "on a CPU, 8192 on CUDA); resume and clusters work block by block",
    "blending": "taper: weighted blend of overlaps; constant: each pixel from one tile",
    "confidence": "also compute a per-pixel confidence in [0, 1]",
    "channels": "with a channel model (fluorescence-composite): also return the channel maps",
    "palette": "with a channel model: one colour per channel (names or #rrggbb; in Python also "
               "RGB triples), or "
               "words such as 'nuclear cyan, cytoplasmic magenta, diffuse gray'",
    "stain": "with a colour model: render in a named stain's dyes, e.g. 'H DAB', 'Masson "
             "Trichrome', 'QuPath H&E' (default: the model's H&E)",
    "colors": "with a colour model: dye colours in words, e.g. 'nuclei dark blue, cytoplasm "
              "pink'",
    "contrast_limits": "intensity window (low, high); default identity for uint8, else the "
                       "0.5-99.5 percentiles of up to 8 planes spread over the stack (planes "
                       "over 4 MP: of 16 windows each)",
    "device": "auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps",
    "precision": "auto (bfloat16 on CUDA and on CPUs with AMX or AVX-512 BF16, float32 "
                 "elsewhere), fp32 or bf16",
    "from_rgb": "the input is colour (RGB): colorize its CIE lightness (re-stain it)",
    "domain_check": "score once per run whether the input looks like the model's training "
                    "images, and warn when it does not",
}


@dataclass(frozen=True)
class ColorizeConfig:
    """How a run computes: tiling, blending, outputs, intensity window, device and precision.

    Every field has the default that :func:`~napari_colorize.colorize`, the CLI and the widget
    use (``HELP`` says what each does in a line). Values are checked when the config is made;
    the messages name the value. Checks that need the model run when a run is planned.

    Parameters
    ----------
    tile_size : int or "auto"
        Tile side in pixels; ``"auto"``: the side whose tiles compute the fewest pixels for
        the image and overlap, within a memory budget per device (see
        :func:`~napari_colorize.core.tile_plan.auto_tile_size`).
    overlap : int
        Overlap between neighbouring tiles, in pixels.
    batch_size : int or "auto"
        Tiles per model call; ``"auto"``: what fits half the free GPU memory (4 on a CPU).
    block_size : int or "auto"
        Largest region computed at once, pixels a side (16 to ``MAX_BLOCK_SIZE``);
        ``"auto"``: ``BLOCK_SIZE`` on a CPU, ``GPU_BLOCK_SIZE`` on CUDA.
    blending : {"taper", "constant"}
        Weighted blend of overlaps, or each pixel from the one tile that owns it.
    confidence : bool
        Also compute a per-pixel confidence in [0, 1].
    channels : bool
        With a channel model: also return the channel maps.
    palette : sequence or str, optional
        With a channel model: one colour per channel (names, ``#rrggbb`` or RGB), or words
        such as ``"nuclear cyan, cytoplasmic magenta, diffuse gray"``.
    stain : str, optional
        With a colour model: render the predicted stain amounts in a named stain's dyes
        (:mod:`~napari_colorize.core.stains`), lightness kept; default: the model's H&E.
    colors : str, optional
        With a colour model: the dyes' colours in words (``"nuclei dark blue, cytoplasm
        pink"``); they replace the stain's dyes they name.
    contrast_limits : (float, float), optional
        Intensity window (low, high); default identity for uint8, else the 0.5-99.5
        percentiles of up to 8 planes spread over the stack (planes over 4 MP: of 16 windows
        of 512 px each).
    device : str or torch.device
        ``"auto"`` (cuda > mps > cpu), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
    precision : {"auto", "fp32", "bf16"}
        Arithmetic of the network; ``"auto"``: bfloat16 on CUDA and on CPUs with AMX or
        AVX-512 BF16 units, float32 elsewhere.
    from_rgb : bool
        The input is colour (RGB): colorize its CIE lightness.
    domain_check : bool
        Score whether the input looks like the model's training images (models with domain
        statistics) and warn (:class:`~napari_colorize.DomainWarning`) when it does not.

    Raises
    ------
    ValueError
        A size, blending mode, precision or window that is out of range.
    TypeError
        A flag that is not a bool, or contrast limits that are not two numbers.

    Examples
    --------
    >>> ColorizeConfig().tile_size
    'auto'
    >>> ColorizeConfig(overlap=32, confidence=True).overlap
    32
    >>> ColorizeConfig(blending="soft")
    Traceback (most recent call last):
    ...
    ValueError: blending 'soft' must be one of ('taper', 'constant')
    """

    tile_size: int | str = "auto"
    overlap: int = 64
    batch_size: int | str = 4
    block_size: int | str = "auto"
    blending: str = "taper"
    confidence: bool = False
    channels: bool = False
    palette: Any = None
    stain: str | None = None
    colors: str | None = None
    contrast_limits: tuple[float, float] | None = None
    device: Any = "auto"
    precision: str = "auto"
    from_rgb: bool = False
    domain_check: bool = True

    def __post_init__(self) -> None:
        """Check every value; store ``contrast_limits`` as a tuple of two floats."""
        _check_int("overlap", self.overlap, "pixels")
        if self.overlap < 0:
            raise ValueError(f"overlap {self.overlap} must be >= 0")
        for name, unit in (("tile_size", "pixels"), ("batch_size", "tiles")):
            if getattr(self, name) != "auto":
                _check_int(name, getattr(self, name), unit, auto=True)
                if getattr(self, name) < 1:  # the model's own minimum is checked when planned
                    raise ValueError(f"{name} {getattr(self, name)} is below 1" if
                                     name == "tile_size" else f"batch_size {self.batch_size} "
                                     "must be >= 1")
        # sizes against the model (minimum tile, divisor) are checked when a run is planned
        block = self.block_size
        typed = not isinstance(block, bool) and isinstance(block, (int, np.integer))
        if block != "auto" and not (typed and 16 <= int(block) <= MAX_BLOCK_SIZE):
            wrong = ValueError if typed else SettingTypeError
            raise wrong(f"block_size must be an integer from 16 to {MAX_BLOCK_SIZE} pixels "
                        f"or 'auto'; got {short_repr(block)}")
        for name in ("stain", "colors"):  # colour words are read against the model's dyes
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a string; got {short_repr(getattr(self, name))}")
            if getattr(self, name) is not None and not getattr(self, name).strip():
                object.__setattr__(self, name, None)  # "" is the default, as an empty flag
        if self.stain is not None:
            find_stain(self.stain)
        if isinstance(self.palette, (list, tuple, np.ndarray)):  # hashable, as a frozen config
            object.__setattr__(self, "palette", _frozen(self.palette))
        elif self.palette is not None and not isinstance(self.palette, str):  # sets: no order
            raise TypeError(f"palette must be colour words or a list of colours; got "
                            f"{type(self.palette).__name__}")
        for name in ("confidence", "channels", "from_rgb", "domain_check"):
            check_flag(name, getattr(self, name))
        if not isinstance(self.blending, str) or self.blending not in BLENDING_MODES:
            raise ValueError(f"blending {short_repr(self.blending)} must be one of "
                             f"{BLENDING_MODES}")
        if not isinstance(self.precision, str) or self.precision not in PRECISIONS:
            raise ValueError(f"precision {short_repr(self.precision)} must be one of "
                             f"{PRECISIONS}")
        if self.contrast_limits is not None:
            object.__setattr__(self, "contrast_limits",
                               check_contrast_limits(self.contrast_limits))

    @classmethod
    def from_options(cls, config: ColorizeConfig | None = None, /, **options: Any
                     ) -> ColorizeConfig:
        """Make a config from ``config`` (default: the defaults) with ``options`` replaced.

        Parameters
        ----------
        config : ColorizeConfig, optional
            The settings to start from (positional only).
        **options
            Settings to replace, by field name.

        Returns
        -------
        ColorizeConfig
            A new, checked config.

        Raises
        ------
        TypeError
            ``config`` is not a ColorizeConfig, or an option is not a setting (the message
            names the closest one).
        ValueError
            A replaced value is out of range.

        Examples
        --------
        >>> ColorizeConfig.from_options(tile_size=256).tile_size
        256
        >>> ColorizeConfig.from_options(tile=256)
        Traceback (most recent call last):
        ...
        TypeError: unknown setting 'tile'; did you mean tile_size?
        """
        if config is not None and not isinstance(config, ColorizeConfig):
            raise TypeError(f"config must be a ColorizeConfig; got {type(config).__name__}")
        check_setting_names(cls, options)
        return dataclasses.replace(config or cls(), **options)

    def metadata(self) -> dict[str, Any]:
        """Return the settings an output records (a resume must use the same).

        Returns
        -------
        dict
            ``tile_size``, ``overlap``, ``blending``, ``block_size``, ``confidence`` and
            ``channels`` (a resume must write the same side outputs for every block).

        Examples
        --------
        >>> ColorizeConfig(tile_size=512, block_size=1024).metadata()
        {'tile_size': 512, 'overlap': 64, 'blending': 'taper', 'block_size': 1024,
         'confidence': False, 'channels': False}
        """
        return {"tile_size": self.tile_size, "overlap": self.overlap, "blending": self.blending,
                "block_size": self.block_size, "confidence": self.confidence,
                "channels": self.channels}


def check_setting_names(cls: Any, options: Any) -> None:
    """Refuse a keyword that is not a field of the settings dataclass ``cls``, naming the closest.

    A field the keyword starts or extends (``lr_rate`` -> ``lr``, ``tile`` -> ``tile_size``)
    is named first, else the closest spelling.

    Examples
    --------
    >>> check_setting_names(ColorizeConfig, {"tile": 256})
    Traceback (most recent call last):
    ...
    TypeError: unknown setting 'tile'; did you mean tile_size?
    """
    names = [f.name for f in dataclasses.fields(cls)]
    for key in options:
        if key not in names:
            close = [n for n in names if key.startswith(n + "_") or n.startswith(key)]
            close = close or difflib.get_close_matches(key, names, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]}?" if close else f"; settings are {names}"
            raise TypeError(f"unknown setting {key!r}{hint}")


def _frozen(value: Any) -> Any:
    """Nested lists and arrays as nested tuples (a palette of RGB triples stays one)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def _check_int(name: str, value: Any, unit: str, auto: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        also = " or 'auto'" if auto else ""
        raise SettingTypeError(f"{name} must be an integer number of {unit}{also}; got "
                               f"{short_repr(value)}")


def settings_signature(func: Any) -> inspect.Signature:
    """Give ``func``'s signature with each setting of :class:`ColorizeConfig` as a keyword.

    For ``help()``, IDEs and magicgui: the settings' defaults stay in one place. The
    ``**settings`` parameter is replaced by one keyword-only parameter per field.

    Parameters
    ----------
    func : callable
        A function taking ``**settings``.

    Returns
    -------
    inspect.Signature
        The signature to set as ``func.__signature__``.

    Examples
    --------
    >>> def run(image, *, config=None, **settings):
    ...     pass
    >>> signature = settings_signature(run)
    >>> list(signature.parameters)[:4], signature.parameters["tile_size"].default
    (['image', 'config', 'tile_size', 'overlap'], 'auto')
    """
    sig = inspect.signature(func)
    params = [p for p in sig.parameters.values() if p.kind != p.VAR_KEYWORD]
    params += [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                 annotation=f.type) for f in dataclasses.fields(ColorizeConfig)]
    return sig.replace(parameters=params)
