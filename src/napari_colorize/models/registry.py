"""Bundled and user models: list, load (safetensors + JSON card, sha256-checked), save.

Devices are named and checked in :mod:`.devices` (re-exported here).

Weights are only ever read with safetensors, which holds plain tensors: nothing is unpickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import torch

from ..io.writable import default_mode
from .cards import CARD_VERSION, Architecture, ModelCard
from .checks import check_card, check_header, expected_tensors
from .devices import available_devices as available_devices  # re-exported
from .devices import resolve_device
from .package import is_package, unpacked
from .pairs import card_data, card_problem, pair_weights
from .spec import ColorModel, ModelSpec
from .trunk import Trunk

DEFAULT_MODEL = "he-histology"
WEIGHTS_DIR = Path(__file__).parent / "weights"


def user_models_dir() -> Path:
    """Return the folder of the user's own (tuned) models.

    Returns
    -------
    Path
        ``NAPARI_COLORIZE_MODELS`` if set, else a folder in the user's data directory.

    Examples
    --------
    >>> import os
    >>> os.environ["NAPARI_COLORIZE_MODELS"] = "/tmp/my-models"
    >>> user_models_dir()
    PosixPath('/tmp/my-models')
    >>> del os.environ["NAPARI_COLORIZE_MODELS"]
    """
    env = os.environ.get("NAPARI_COLORIZE_MODELS")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("napari-colorize")) / "models"


def _cards(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    # a model's domain statistics (``<model>.domain.json``) sit beside its card: not a model
    return {p.name[: -len(".json")]: p for p in sorted(folder.glob("*.json"))
            if not p.name.endswith(".domain.json")}


def list_models() -> list[str]:
    """List the bundled models, then the user's models that can be loaded.

    A user's card that cannot be used (not JSON, bad values, no weights beside it) is left out
    with a warning naming it, so every listed name loads (up to the weights' sha256, checked on
    loading).

    Returns
    -------
    list of str
        Model names (a user's model named like a bundled one is hidden by it).

    Examples
    --------
    >>> list_models()[:2]
    ['fluorescence-composite', 'he-histology']
    """
    names = list(_cards(WEIGHTS_DIR))
    for name, path in _cards(user_models_dir()).items():
        if name in names:
            continue
        problem = card_problem(path)
        if problem is None:
            names.append(name)
        else:
            warnings.warn(f"model {name!r} left out of the list: {problem}", stacklevel=2)
    return names


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file's bytes.

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    str

    Examples
    --------
    >>> card = json.loads((WEIGHTS_DIR / "he-histology.json").read_text())
    >>> sha256_file(WEIGHTS_DIR / "he-histology.safetensors") == card["sha256"]
    True
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_card(name_or_path: str | Path) -> Path:
    """Find the card of a model name or file, as :func:`load_model` does.

    Parameters
    ----------
    name_or_path : str or Path
        A bundled or user model name (bundled names win), or a ``.json``/``.safetensors`` path.

    Returns
    -------
    Path
        The ``.json`` card.

    Raises
    ------
    ValueError
        An unknown name, or a weights file without its card beside it.

    Examples
    --------
    >>> find_card("he-histology").name
    'he-histology.json'
    """
    text = str(name_or_path)
    path = Path(text)
    suffix = path.suffix.lower()  # MODEL.SAFETENSORS names the same model
    if suffix in (".json", ".safetensors") or path.exists():
        card = path.with_suffix(".json") if suffix != ".json" else path
        if not card.exists() and suffix == ".safetensors" and not path.exists():
            raise ValueError(f"weights file {path} not found")
        if not card.exists():
            raise ValueError(f"model card {card} not found (expected beside the weights)")
        return card
    for folder in (WEIGHTS_DIR, user_models_dir()):
        cards = _cards(folder)
        if text in cards:
            return cards[text]
    raise ValueError(f"unknown model {text!r}; available: {', '.join(list_models()) or 'none'}")


def read_spec(name_or_path: str | Path | None = None) -> ModelSpec:
    """Read the :class:`ModelSpec` a model's card declares, without loading its weights.

    Parameters
    ----------
    name_or_path : str, Path or None
        A model name or file (see :func:`find_card`); ``None``: the default model.

    Returns
    -------
    ModelSpec

    Raises
    ------
    ValueError
        An unknown model, or a card that cannot be used (one line naming it).

    Examples
    --------
    >>> sorted(read_spec("fluorescence-composite").supports)
    ['channels', 'palette']
    """
    if name_or_path is not None and is_package(name_or_path):
        with unpacked(name_or_path) as card_path, _named(name_or_path):
            return read_spec(card_path)
    path = find_card(name_or_path or DEFAULT_MODEL)
    return check_card(card_data(path), path).spec()


@contextlib.contextmanager
def _named(package: str | Path) -> Iterator[None]:
    """Name the package, not its temporary unpacked files, in an error about its contents."""
    try:
        yield
    except ValueError as exc:
        text = re.sub(r"\S*napari-colorize-package-[^/\s]*/", "", str(exc))
        raise ValueError(f"model package {Path(package).name}: {text}") from None


def build_network(card: ModelCard | dict[str, Any]) -> torch.nn.Module:
    """Build an untrained network of the architecture a card names.

    Parameters
    ----------
    card : ModelCard or dict
        The card (a dict: its parsed JSON).

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    ValueError
        For an architecture this release does not know.

    Examples
    --------
    >>> card = {"architecture": {"class": "FractionNet", "widths": [8, 8, 8, 8], "channels": 4}}
    >>> build_network(card).channels
    4
    """
    if isinstance(card, ModelCard):
        return card.architecture.build()
    return Architecture.from_dict(card.get("architecture", {}), card.get("channel_names")).build()


def load_model(name_or_path: str | Path | None = None, device: str = "cpu") -> ColorModel:
    """Load a bundled or user model by name, from its card or weights, or from a package.

    A package is a bioimage.io ``.zip`` that :func:`~napari_colorize.export_bioimageio` wrote.
    The card is checked before anything is built (types, bounds, a weights file beside it:
    ``X.safetensors`` for the card ``X.json``, see :func:`pair_weights`); the tensors the
    weights' header declares must be the architecture's, and the weights' sha256 must match
    the card's.

    Parameters
    ----------
    name_or_path : str or path, optional
        A model name (see :func:`list_models`), a card or weights file, or an exported
        package; ``None``: the default model (``he-histology``).
    device : str
        Where the model runs (``"auto"``: the best device here).

    Returns
    -------
    ColorModel
        The network in eval mode with its spec and card (the card's JSON, as a dict).

    Raises
    ------
    TypeError
        ``name_or_path`` is neither a name nor a path.
    ValueError
        An unknown model, or a card or weights file that cannot be used (one line naming it).

    Examples
    --------
    >>> model = load_model("he-histology")
    >>> model.spec.kind, model.card["architecture"]["class"]
    ('chroma', 'ChromaNet')
    """
    from safetensors.torch import load_file

    if name_or_path is not None and not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"model must be a model name or a path to a model card or weights; got "
                        f"{type(name_or_path).__name__} {name_or_path!r}")
    if name_or_path is not None and is_package(name_or_path):
        with unpacked(name_or_path) as unpacked_card, _named(name_or_path):
            return load_model(unpacked_card, device)  # the package's own hashes were checked
    card_path = find_card(name_or_path or DEFAULT_MODEL)
    data = card_data(card_path)
    card = check_card(data, card_path)
    named = Path(name_or_path) if name_or_path is not None else None
    weights = pair_weights(card, card_path,
                           named if named and named.suffix.lower() == ".safetensors" else None)
    expected = card.sha256
    if expected is None:
        raise ValueError(f"model card {card_path} has no sha256 of its weights")
    # the prior is not a weight: the header check builds the network without it
    shapes = replace(card.architecture, prior=None).build
    problem = check_header(weights, expected_tensors(shapes))
    if problem is None:
        digest = sha256_file(weights)
        if digest != expected:
            raise ValueError(
                f"weights file {weights} has sha256 {digest[:16]}..., expected {expected}"
            )
        net = card.architecture.build()
        try:
            net.load_state_dict(load_file(weights))
        except Exception as exc:
            problem = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if problem is not None:
        raise ValueError(
            f"weights file {weights} does not fit its card (expected sha256 {expected}, "
            f"architecture {data.get('architecture')}): {problem}"
        )
    return ColorModel(net, card.spec(), data, device=resolve_device(device))


def save_model(net: torch.nn.Module, card: ModelCard | dict[str, Any], out: str | Path) -> Path:
    """Write a network's weights (``.safetensors``) and its card (``.json``) beside them.

    Both are written to temporary names first, so a failure leaves no half-written model. The
    card gets the weights' file name and sha256, the card format, and (if it has none) the
    architecture ``ChromaNet`` with the network's widths.

    Parameters
    ----------
    net : torch.nn.Module
        The network (its ``state_dict`` is saved).
    card : ModelCard or dict
        Its card.
    out : str or path
        The weights file, or a folder (then ``NAME.safetensors`` in it).

    Returns
    -------
    Path
        The card file.

    Examples
    --------
    >>> import tempfile
    >>> from napari_colorize.models.network import ChromaNet
    >>> path = save_model(ChromaNet((8, 8, 8, 8)), {"name": "mine"}, tempfile.mkdtemp())
    >>> path.name, load_model(path).name
    ('mine.json', 'mine')
    """
    from safetensors.torch import save_file

    card = card.to_dict() if isinstance(card, ModelCard) else card
    out = Path(out)
    if out.suffix.lower() != ".safetensors":
        out = out.with_suffix(".safetensors") if out.suffix else out / f"{card['name']}.safetensors"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(state, tmp)
    default_mode(tmp)  # safetensors writes 0o600: others sharing the models folder must read it
    card = dict(card, weights=out.name, sha256=sha256_file(tmp))
    card.setdefault("card_version", CARD_VERSION)
    card.setdefault("architecture", Architecture.of(cast(Trunk, net)).to_dict())
    card_path = out.with_suffix(".json")
    card_tmp = card_path.with_name(card_path.name + ".part")
    card_tmp.write_text(json.dumps(card, indent=2) + "\n")
    tmp.replace(out)
    card_tmp.replace(card_path)
    return card_path
