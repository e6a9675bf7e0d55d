"""A model's spec from its card alone (no weights): what the widget offers for a picked model.

Reading a card is a small JSON read, fast enough for the GUI thread; the weights load in the
run's worker.
"""

from __future__ import annotations

from pathlib import Path

from ..models import registry
from ..models.spec import ModelSpec

#: Every option the widget offers: all are offered while a model's card cannot be read
#: (loading the model then says why). "reference" is a run's colour references.
ALL_OPTIONS = frozenset({"hints", "channels", "palette", "reference", "stain"})


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


def widget_options(spec: ModelSpec | None) -> frozenset[str]:
    """Name the options the widget offers for a model: what its spec supports, and references.

    Colour references and named stains recolour a model's chroma, so only colour (chroma)
    models take them, as the engine checks.

    Parameters
    ----------
    spec : ModelSpec or None
        The picked model's spec; ``None`` when unknown.

    Returns
    -------
    frozenset of str
        Among ``"hints"``, ``"channels"``, ``"palette"``, ``"reference"`` and ``"stain"``; all
        of them for an unknown model.

    Examples
    --------
    >>> sorted(widget_options(ModelSpec("he")))
    ['hints', 'reference', 'stain']
    >>> channels = ModelSpec("f", kind="fractions", channel_names=("a", "b"),
    ...                      palette=((0, 1, 1), (1, 0, 1)))
    >>> sorted(widget_options(channels))
    ['channels', 'palette']
    """
    if spec is None:
        return ALL_OPTIONS
    return spec.supports | ({"reference", "stain"} if spec.kind == "chroma" else frozenset())
