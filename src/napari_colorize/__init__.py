"""napari-colorize: pseudo-colour for large grayscale microscopy and medical images.

Public API: :func:`colorize` and :func:`iter_colorize` (settings in :class:`ColorizeConfig`,
outputs in :class:`ColorizeResult`, out-of-domain inputs warned with :class:`DomainWarning`,
hints outside the image with :class:`HintWarning`),
:func:`train`, :func:`evaluate`, :func:`list_models`,
:func:`load_model`, :func:`render_composite`, :func:`export_bioimageio`. Heavy modules are imported
on first use, so ``import napari_colorize`` stays fast and never touches napari or Qt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "ColorizeConfig", "ColorizeResult", "DomainWarning", "HintWarning", "colorize", "evaluate",
    "export_bioimageio", "iter_colorize", "list_models", "load_model", "render_composite",
    "train",
]

_LAZY = {
    "ColorizeConfig": "napari_colorize.core.config",
    "ColorizeResult": "napari_colorize.core.result",
    "DomainWarning": "napari_colorize.core.domain",
    "HintWarning": "napari_colorize.core.hints",
    "colorize": "napari_colorize.core.engine",
    "iter_colorize": "napari_colorize.core.engine",
    "train": "napari_colorize.training.api",
    "evaluate": "napari_colorize.training.evaluation",
    "export_bioimageio": "napari_colorize.export.package",
    "list_models": "napari_colorize.models.registry",
    "load_model": "napari_colorize.models.registry",
    "render_composite": "napari_colorize.core.render",
}

if TYPE_CHECKING:
    from .core.config import ColorizeConfig
    from .core.domain import DomainWarning
    from .core.engine import colorize, iter_colorize
    from .core.hints import HintWarning
    from .core.render import render_composite
    from .core.result import ColorizeResult
    from .export.package import export_bioimageio
    from .models.registry import list_models, load_model
    from .training.api import train
    from .training.evaluation import evaluate


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'napari_colorize' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
