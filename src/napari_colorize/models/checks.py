"""Model cards checked before anything is built or read.

Checked are types, bounds, the weights file's place and kind, and the tensors its safetensors
header declares against the architecture's. A card is untrusted input (a user's folder, a
download): an absurd width would allocate hundreds of GB, a weights path could name a device or
a file outside the model's folder. Every check here reads the card, the weights file's metadata
and the safetensors header only; the network used to compare shapes lives on torch's ``meta``
device, so nothing is allocated.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..core.validation import short_repr
from .cards import CARD_VERSION, ModelCard
from .network import DEFAULT_COLOUR_SPREAD
from .trunk import DEFAULT_WIDTHS

#: Largest network width, card file, model tile and number of channels accepted.
MAX_WIDTH = 1024
MAX_CARD_BYTES = 16 << 20
MAX_TILE = 8192
MAX_CHANNELS = 64
#: Largest weight of the local colour spread in a colour model's confidence.
MAX_COLOUR_SPREAD = 10.0
#: Room for the safetensors header (names, shapes, metadata) beside the tensors' bytes.
HEADER_SLACK = 1 << 20

ARCHITECTURE_KEYS = {
    "ChromaNet": {"class", "widths", "colour_spread"},
    "FractionNet": {"class", "widths", "channels", "prior"},
}


class CardError(ValueError):
    """A model card that cannot be used; the message names the card and the key.

    Examples
    --------
    >>> issubclass(CardError, ValueError)
    True
    """


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_card(card: Any, where: Path) -> ModelCard:
    """Check parsed JSON and return its :class:`ModelCard`, if this release can use the card.

    Parameters
    ----------
    card : Any
        Parsed JSON.
    where : Path
        The card file: named in messages; its stem is the name of a card without one.

    Returns
    -------
    ModelCard

    Raises
    ------
    CardError
        Naming the card and the key at fault.

    Examples
    --------
    >>> check_card({"divisor": 32, "min_tile": 64}, Path("lab.json")).name
    'lab'
    >>> try:
    ...     check_card({"divisor": 48}, Path("lab.json"))
    ... except CardError as exc:
    ...     print(exc)
    model card lab.json: divisor must be a multiple of 32 (the network's), at most 8192; got 48
    """

    def fail(message: str) -> CardError:
        return CardError(f"model card {where}: {message}")

    if not isinstance(card, dict):
        kinds = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
        raise fail(f"must be a JSON object; got a JSON {kinds.get(type(card), 'null')}")
    version = card.get("card_version", 1)
    if not _integer(version) or version < 1:
        raise fail(f"card_version must be a positive integer; got {version!r}")
    if version > CARD_VERSION:
        raise fail(f"card_version {version} is newer than this napari-colorize reads "
                   f"({CARD_VERSION}); upgrade napari-colorize")
    for key in ("name", "weights", "sha256"):
        if key in card and not isinstance(card[key], str):
            raise fail(f"{key} must be a string; got {card[key]!r}")
    if "version" in card and not isinstance(card["version"], (str, int)):
        raise fail(f"version must be a string; got {card['version']!r}")
    kind = card.get("kind", "chroma")
    if kind not in ("chroma", "fractions"):
        raise fail(f"kind {kind!r} must be 'chroma' or 'fractions'")
    arch = _check_architecture(card.get("architecture", {}), card, fail)
    divisor = card.get("divisor", 32)
    if not _integer(divisor) or not 32 <= divisor <= MAX_TILE or divisor % 32:
        raise fail(f"divisor must be a multiple of 32 (the network's), at most {MAX_TILE}; got "
                   f"{divisor!r}")
    min_tile = card.get("min_tile", 64)
    if not _integer(min_tile) or not divisor <= min_tile <= MAX_TILE or min_tile % divisor:
        raise fail(f"min_tile must be a multiple of divisor {divisor}, at most {MAX_TILE}; got "
                   f"{min_tile!r}")
    names = card.get("channel_names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise fail(f"channel_names must be a list of strings; got {names!r}")
    palette = card.get("palette", [])
    if not isinstance(palette, list) or not all(
        isinstance(c, list) and len(c) == 3 and all(_number(v) and 0 <= v <= 1 for v in c)
        for c in palette
    ):
        raise fail("palette must be a list of [r, g, b] colours in [0, 1]")
    if kind == "fractions" and (len(names) < 2 or len(palette) != len(names)):
        raise fail(f"a fractions model needs >= 2 channel_names and one palette colour each; got "
                   f"{len(names)} names and {len(palette)} colours")
    if arch["class"] == "FractionNet" and names and arch["channels"] != len(names):
        raise fail(f"architecture.channels {arch['channels']} differs from the {len(names)} "
                   "channel_names")
    if (arch["class"] == "FractionNet") != (kind == "fractions"):
        raise fail(f"kind {kind!r} does not match architecture {arch['class']}")
    weights = card.get("weights")
    if weights is not None:
        bad = not weights or weights in (".", "..") or any(c in weights for c in "/\\\0:")
        if bad or Path(weights).name != weights:
            raise fail(f"weights {weights!r} must be a file name beside the card (no folders)")
    return ModelCard.from_dict(dict(card, architecture=arch), name=where.stem)


def _check_architecture(arch: Any, card: dict, fail: Any) -> dict[str, Any]:
    """Check an architecture object; return it with defaults (class, widths, channels, prior)."""
    if not isinstance(arch, dict):
        raise fail(f"architecture must be an object; got {arch!r}")
    cls = arch.get("class", "ChromaNet")
    if cls not in ARCHITECTURE_KEYS:
        raise fail(f"unknown architecture class {cls!r}; known: {sorted(ARCHITECTURE_KEYS)}")
    unknown = sorted(set(arch) - ARCHITECTURE_KEYS[cls])
    if unknown:
        raise fail(f"unknown architecture keys {unknown} for {cls}")
    widths = arch.get("widths", list(DEFAULT_WIDTHS))
    if not (isinstance(widths, list) and len(widths) == 4
            and all(_integer(w) and 1 <= w <= MAX_WIDTH for w in widths)):
        raise fail(f"architecture.widths must be 4 integers in [1, {MAX_WIDTH}]; got "
                   f"{short_repr(widths)}")
    out = {"class": cls, "widths": widths}
    if cls == "FractionNet":
        channels = arch.get("channels", len(card.get("channel_names", ()) or ()))
        if not _integer(channels) or not 2 <= channels <= MAX_CHANNELS:
            raise fail(f"architecture.channels must be an integer in [2, {MAX_CHANNELS}]; got "
                       f"{channels!r}")
        prior = arch.get("prior")
        if prior is not None and not (
            isinstance(prior, list) and len(prior) == channels
            and all(_number(p) and p >= 0 for p in prior) and abs(sum(prior) - 1) <= 1e-3
        ):
            raise fail(f"architecture.prior must be {channels} fractions summing to 1; got "
                       f"{short_repr(prior)}")
        out.update(channels=channels, prior=prior)
    else:
        spread = arch.get("colour_spread", DEFAULT_COLOUR_SPREAD)
        if not (_number(spread) and 0 <= spread <= MAX_COLOUR_SPREAD):
            raise fail(f"architecture.colour_spread must be a number in [0, {MAX_COLOUR_SPREAD}]; "
                       f"got {short_repr(spread)}")
        out.update(colour_spread=spread)
    return out




def read_card_text(path: Path) -> str:
    """Read a card file; a card that is not a small regular text file is refused.

    Parameters
    ----------
    path : Path
        The card (``.json``).

    Returns
    -------
    str

    Raises
    ------
    CardError
        The file is missing, not a regular file, over :data:`MAX_CARD_BYTES` or not UTF-8.

    Examples
    --------
    >>> from napari_colorize.models.registry import WEIGHTS_DIR
    >>> read_card_text(WEIGHTS_DIR / "he-histology.json").startswith("{")
    True
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        raise CardError(f"cannot read model card {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise CardError(f"model card {path} is not a regular file")
    if info.st_size > MAX_CARD_BYTES:
        raise CardError(f"model card {path} is {info.st_size} bytes; a card is at most "
                        f"{MAX_CARD_BYTES} bytes")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CardError(f"cannot read model card {path}: {type(exc).__name__}") from None


def weights_path(card: ModelCard, card_path: Path) -> Path:
    """Find a card's weights: a regular file in the card's folder (after resolving links).

    Parameters
    ----------
    card : ModelCard
        The card; without ``weights`` the file is the card's name with ``.safetensors``.
    card_path : Path
        Where the card was read from.

    Returns
    -------
    Path

    Raises
    ------
    CardError
        The file is missing, links outside the card's folder or is not a regular file.

    Examples
    --------
    >>> from napari_colorize.models.registry import WEIGHTS_DIR
    >>> weights_path(ModelCard("he-histology"), WEIGHTS_DIR / "he-histology.json").name
    'he-histology.safetensors'
    """
    weights = card_path.parent / (card.weights or card_path.stem + ".safetensors")
    try:
        info = os.stat(weights)
    except OSError:
        raise CardError(f"weights file {weights} not found") from None
    folder = os.path.realpath(card_path.parent)
    if os.path.dirname(os.path.realpath(weights)) != folder:
        raise CardError(f"weights file {weights} links outside the model's folder {folder}")
    if not stat.S_ISREG(info.st_mode):
        raise CardError(f"weights file {weights} is not a regular file")
    return weights


def expected_tensors(build: Callable[[], torch.nn.Module]) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the state dict of ``build()``'s network, built on the meta device.

    Parameters
    ----------
    build : callable
        Returns a network; called under ``torch.device("meta")``, so nothing is allocated.

    Returns
    -------
    dict of str to tuple of int

    Examples
    --------
    >>> from napari_colorize.models.network import ChromaNet
    >>> expected_tensors(lambda: ChromaNet((8, 8, 8, 8)))["head.weight"]
    (48, 8, 1, 1)
    """
    with torch.device("meta"):
        net = build()
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def check_header(weights: Path, expected: dict[str, tuple[int, ...]]) -> str | None:
    """Say what is wrong with the tensors a safetensors header declares (names, shapes, size).

    Only the header is read.

    Parameters
    ----------
    weights : Path
        The weights file.
    expected : dict of str to tuple of int
        Names and shapes the architecture needs (see :func:`expected_tensors`).

    Returns
    -------
    str or None
        One line naming the problems, or ``None`` when the header fits.

    Examples
    --------
    >>> from napari_colorize.models.network import ChromaNet
    >>> from napari_colorize.models.registry import WEIGHTS_DIR
    >>> weights = WEIGHTS_DIR / "he-histology.safetensors"
    >>> check_header(weights, expected_tensors(ChromaNet)) is None
    True
    >>> check_header(weights, expected_tensors(lambda: ChromaNet((32, 64, 96, 64))))[:41]
    'misshapen tensors: enc4.0.0.bias is [128]'
    """
    from safetensors import safe_open

    budget = sum(math.prod(s) for s in expected.values()) * 8 + HEADER_SLACK
    size = weights.stat().st_size
    if size > budget:
        return f"the file is {size} bytes, far more than the {len(expected)} tensors need"
    try:
        with safe_open(str(weights), framework="pt") as f:
            found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as exc:  # a text file, a pickle, a truncated header
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"not a safetensors file ({first})"
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    shapes = [f"{k} is {list(found[k])}, expected {list(expected[k])}"
              for k in sorted(set(found) & set(expected)) if found[k] != expected[k]]
    problems = []
    if missing:
        problems.append(f"missing tensors {_names(missing)}")
    if extra:
        problems.append(f"unexpected tensors {_names(extra)}")
    if shapes:
        problems.append("misshapen tensors: " + "; ".join(shapes[:3])
                        + (f" (and {len(shapes) - 3} more)" if len(shapes) > 3 else ""))
    return ", ".join(problems) or None


def _names(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" (and {len(names) - 5} more)" if len(names) > 5 else "")
