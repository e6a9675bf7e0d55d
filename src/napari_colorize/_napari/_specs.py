"""A model's spec from its card alone (no weights): what the widget offers for a picked model.

Reading a card is a small JSON read, fast enough for the GUI thread; the weights load in the
run's worker.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..models.checks import check_card, read_card_text
from ..models.registry import WEIGHTS_DIR, user_models_dir
from ..models.spec import ModelSpec


def card_path(name_or_path: str | Path) -> Path | None:
    """Find the card of a model name or file, as :func:`~..models.registry.load_model` does.

    Parameters
    ----------
    name_or_path : str or Path
        A bundled or user model name, or a ``.json``/``.safetensors`` path.

    Returns
    -------
    Path or None
        The ``.json`` card; ``None`` when there is none.
    """
    path = Path(name_or_path)
    if path.suffix in (".json", ".safetensors"):
        card = path.with_suffix(".json")
        return card if card.is_file() else None
    for folder in (WEIGHTS_DIR, user_models_dir()):  # bundled names win, as in load_model
        card = folder / f"{name_or_path}.json"
        if card.is_file():
            return card
    return None


def read_spec(name_or_path: str | Path | None) -> ModelSpec | None:
    """Read the :class:`~..models.spec.ModelSpec` a model's card declares, without its weights.

    Parameters
    ----------
    name_or_path : str, Path or None
        A model name or file (see :func:`card_path`).

    Returns
    -------
    ModelSpec or None
        ``None`` when the card is missing or unusable: loading the model reports why.

    Examples
    --------
    >>> sorted(read_spec("he-histology").supports)
    ['hints']
    >>> read_spec("no-such-model") is None
    True
    """
    card = card_path(name_or_path) if name_or_path else None
    if card is None:
        return None
    try:
        return check_card(json.loads(read_card_text(card)), card).spec()
    except ValueError:  # CardError and JSONDecodeError are ValueErrors
        return None
