"""A model's spec from its card alone (no weights): what the widget offers for a picked model.

Reading a card is a small JSON read, fast enough for the GUI thread; the weights load in the
run's worker.
"""

from __future__ import annotations

from pathlib import Path

from ..models import registry
from ..models.spec import ModelSpec


def read_spec(name_or_path: str | Path | None) -> ModelSpec | None:
    """Read the :class:`~..models.spec.ModelSpec` a model's card declares, without its weights.

    Parameters
    ----------
    name_or_path : str, Path or None
        A model name or file (see :func:`napari_colorize.models.registry.find_card`).

    Returns
    -------
    ModelSpec or None
        ``None`` when no model is picked, or its card is missing or unusable: loading the model
        reports why.

    Examples
    --------
    >>> sorted(read_spec("he-histology").supports)
    ['hints']
    >>> read_spec("no-such-model") is None
    True
    """
    if not name_or_path:
        return None
    try:
        return registry.read_spec(name_or_path)
    except ValueError:  # CardError and JSONDecodeError are ValueErrors
        return None
