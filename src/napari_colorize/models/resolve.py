"""What a caller passes as ``model``, made ready for a run.

A name, a path, ``None`` or a loaded model becomes a :class:`~.spec.ColorModel` on the run's
device and precision; a model object the caller holds is copied, never changed.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from .devices import resolve_device
from .registry import load_model
from .spec import ColorModel, ModelSpec


def resolve_model(
    model: Any, device: str | torch.device | None = None, precision: str | None = None
) -> ColorModel:
    """Return a ready :class:`ColorModel` for a name, a path, ``None`` or a model.

    A model object the caller passed is never changed: when ``device`` or ``precision`` differ
    from its own, the run gets a copy. ``device`` ``None`` or ``"auto"`` leaves a model object
    where it is; ``precision`` ``None`` keeps its precision.

    Parameters
    ----------
    model : str, path, ColorModel or None
        Model name (see :func:`list_models`), card or weights path, a loaded model, or ``None``
        (the default model).
    device : str or torch.device, optional
        Where the model runs (``"auto"``: the best device here).
    precision : {"auto", "fp32", "bf16"}, optional
        Arithmetic of the network's forward pass.

    Returns
    -------
    ColorModel

    Raises
    ------
    TypeError
        ``model`` is none of the above.

    Examples
    --------
    >>> net = resolve_model("he-histology", "cpu")
    >>> resolve_model(net, "cpu") is net
    True
    >>> resolve_model(net, "cpu", precision="bf16") is net  # a copy: the caller's is unchanged
    False
    """
    if model is None or isinstance(model, (str, Path)):
        loaded = load_model(model, device=str(resolve_device(device)))
        if precision is not None:
            loaded.precision = precision
        return loaded
    if not (isinstance(getattr(model, "spec", None), ModelSpec) and callable(model)):
        raise TypeError(
            f"model must be a model name (see list_models()), a path to a model card or "
            f"weights, or a loaded model; got {type(model).__name__}"
        )
    moved = device is not None and str(device) != "auto" and hasattr(model, "to")
    target = resolve_device(device) if moved else getattr(model, "device", None)
    moved = moved and target != getattr(model, "device", None)
    precise = precision is not None and precision != getattr(model, "precision", precision)
    if not (moved or precise):
        return model
    if isinstance(model, ColorModel):
        net = copy.deepcopy(model.net) if moved else model.net
        return replace(model, net=net, device=target or model.device,
                                   precision=precision or model.precision)
    copied = copy.deepcopy(model)
    if precise:
        copied.precision = precision
    return copied.to(target) if moved else copied
