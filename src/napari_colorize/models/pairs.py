"""A model on disk: its JSON card and the safetensors weights beside it.

A pair is ``X.json`` and ``X.safetensors`` in one folder; a copied pair keeps working under
its new name (see :func:`pair_weights`).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from .cards import ModelCard
from .checks import check_card, read_card_text, weights_path


def card_data(path: Path) -> Any:
    """Parse the card at ``path`` (one-line ``ValueError`` when it is not JSON)."""
    try:
        return json.loads(read_card_text(path))
    except json.JSONDecodeError as exc:
        raise ValueError(f"cannot read model card {path}: {exc}") from None


def card_problem(card_path: Path) -> str | None:
    """Say why a card and its weights cannot be loaded, without reading the weights.

    Parameters
    ----------
    card_path : Path
        A ``.json`` card.

    Returns
    -------
    str or None
        One line naming the file at fault; ``None`` when the card is usable and its weights
        file is there.

    Examples
    --------
    >>> card_problem(Path(__file__).parent / "weights" / "he-histology.json") is None
    True
    >>> import tempfile
    >>> broken = Path(tempfile.mkdtemp()) / "lab.json"
    >>> _ = broken.write_text("{not json")
    >>> card_problem(broken).startswith(f"cannot read model card {broken}")
    True
    """
    try:
        card = check_card(card_data(card_path), card_path)
        pair_weights(card, card_path)
    except ValueError as exc:
        return str(exc)
    return None


def pair_weights(card: ModelCard, card_path: Path, named: Path | None = None) -> Path:
    """Find the weights of a card: ``X.safetensors`` beside the card ``X.json``.

    A copied pair (``cp lab.* lab_v1.*``) keeps the original file name in its card's
    ``weights``: the weights beside the card under its own name are the pair's, and the
    card's sha256 still refuses them if they differ. The file the card names is still checked
    (there, a regular file in the card's folder), as a card naming a missing file, a link or a
    device is not to be trusted; it is read only when the card has no ``X.safetensors``.

    Parameters
    ----------
    card : ModelCard
        The checked card.
    card_path : Path
        Where it was read from.
    named : Path, optional
        The weights file the user named (``X.safetensors``): used, or refused if missing.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        A weights file is missing, links outside the card's folder or is not a regular file.

    Examples
    --------
    >>> pair_weights(ModelCard("he-histology", weights="he-histology.safetensors"),
    ...              Path(__file__).parent / "weights" / "he-histology.json").name
    'he-histology.safetensors'
    """
    own = named or card_path.with_suffix(".safetensors")
    used = None
    if named is not None or os.path.lexists(own):
        used = weights_path(replace(card, weights=own.name), card_path)
    listed = weights_path(card, card_path)
    return used or listed
