"""Regenerate a bundled model from its recipe: train from scratch, evaluate, save weights + card.

``napari-colorize train --recipe NAME`` runs :func:`run_recipe`. Each recipe is seeded and runs on
the CPU; the card records the data, the settings, the metrics and the machine.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Generator
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from ..core.domain_stats import domain_path
from ..core.events import drain
from ..models.cards import ModelCard
from ..models.registry import save_model
from ..models.spec import ColorModel
from .datasets import load_channels
from .domain_fit import he_histology_domain
from .evaluation import evaluate_regions
from .fluorescence import FractionConfig, iter_train_fractions
from .fraction_metrics import evaluate_fractions
from .fraction_targets import INPUT_DEFINITION, TARGET_DEFINITION, ChannelSource
from .loop import TrainConfig, iter_train
from .patches import Augment
from .progress import progress_bar, show_step
from .recipes import RECIPES, Recipe, data_card, region_images


def run_recipe(
    name: str,
    out: str | Path,
    *,
    progress: bool = True,
    device: str = "cpu",
    evaluate_model: bool = True,
    on_step: Callable[[Any], None] | None = None,
) -> Path:
    """Train the bundled model ``name`` from scratch, evaluate it and save weights + card.

    Parameters
    ----------
    name : str
        A recipe in :data:`~.recipes.RECIPES`.
    out : path
        Folder to write ``NAME.safetensors`` and ``NAME.json`` to.
    progress : bool
        Show a progress bar.
    device : str
        Where to train.
    evaluate_model : bool
        Evaluate the model and record the metrics in its card.
    on_step : callable, optional
        Called with each :class:`~.optimiser.TrainProgress`.

    Returns
    -------
    Path
        The card.

    Raises
    ------
    ValueError
        For an unknown recipe.

    Examples
    --------
    >>> run_recipe("he-histology", "models/")  # doctest: +SKIP
    """
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; available: {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    if recipe.settings.get("kind") == "fractions":
        return run_fraction_recipe(recipe, out, progress=progress, device=device,
                                   evaluate_model=evaluate_model, on_step=on_step)
    config = TrainConfig(**recipe.settings)
    gen = iter_train(region_images(recipe.train), config, device=device, name=recipe.name)
    metrics = (lambda model: recipe_metrics(model, recipe)) if evaluate_model else None
    card = train_and_save(recipe, gen, config.steps, out, progress=progress, on_step=on_step,
                          metrics=metrics)
    if recipe.name == "he-histology":  # the domain check describes this model's features
        he_histology_domain(domain_path(card), model=card.with_suffix(".safetensors"))
    return card


def run_fraction_recipe(
    recipe: Recipe,
    out: str | Path,
    *,
    progress: bool = True,
    device: str = "cpu",
    evaluate_model: bool = True,
    on_step: Callable[[Any], None] | None = None,
) -> Path:
    """Train the fractions model of ``recipe`` from scratch, evaluate it, save weights + card.

    Parameters
    ----------
    recipe : Recipe
        A recipe whose settings have ``kind="fractions"`` and ``sources``.
    out : path
        Folder to write the model to.
    progress : bool
        Show a progress bar.
    device : str
        Where to train.
    evaluate_model : bool
        Evaluate the model on the validation time series and record the metrics.
    on_step : callable, optional
        Called with each :class:`~.optimiser.TrainProgress`.

    Returns
    -------
    Path
        The card.

    Examples
    --------
    >>> from napari_colorize.training.recipes import FLUORESCENCE_COMPOSITE
    >>> run_fraction_recipe(FLUORESCENCE_COMPOSITE, "models/")  # doctest: +SKIP
    """
    settings = dict(recipe.settings)
    sources = [ChannelSource(**s) for s in settings.pop("sources")]
    settings.pop("kind")
    config = FractionConfig(**settings)
    mapping = []
    for src in sources:
        names = load_channels(src.image)[1]
        mapping.append({
            "image": src.image,
            "channels": {n: (config.channel_names[k] if k is not None else None)
                         for n, k in zip(names, src.classes, strict=False)},
            "floor_size": src.floor_size, "scale": list(src.scale),
        })
    gen = iter_train_fractions(sources, config, device=device, name=recipe.name)
    metrics = (lambda model: {"validation": evaluate_fractions(model)}) if evaluate_model else None
    return train_and_save(
        recipe, gen, config.steps, out, progress=progress, on_step=on_step, metrics=metrics,
        extra={"input": INPUT_DEFINITION, "targets": TARGET_DEFINITION,
               "channel_mapping": mapping},
    )


def train_and_save(
    recipe: Recipe,
    gen: Generator[Any, None, ColorModel],
    steps: int | None,
    out: str | Path,
    *,
    progress: bool,
    on_step: Callable[[Any], None] | None,
    metrics: Callable[[ColorModel], dict] | None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Drain a recipe's training generator under a progress bar and save weights + card.

    The card gets the recipe's description, data and exact settings (and ``extra``). It is saved
    once right after training, so a failing evaluation loses nothing, and again with
    ``metrics(model)``.

    Parameters
    ----------
    recipe : Recipe
        The recipe the model comes from.
    gen : generator
        Yields training progress, returns the model.
    steps : int, optional
        Total of the progress bar.
    out : path
        Folder to write ``RECIPE.safetensors`` and its card to.
    progress : bool
        Show a progress bar.
    on_step : callable, optional
        Called with each event.
    metrics : callable, optional
        Scores of the trained model for its card.
    extra : dict, optional
        More card keys.

    Returns
    -------
    Path
        The card.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)
    >>> settings = {"steps": 1, "patch": 64, "batch_size": 1, "widths": (8, 8, 8, 8)}
    >>> recipe = Recipe(name="pink", train=(), holdout=(), validation=(), settings=settings)
    >>> gen = iter_train([pink], TrainConfig(**settings), device="cpu", name="pink")
    >>> path = train_and_save(recipe, gen, 1, tempfile.mkdtemp(), progress=False, on_step=None,
    ...                       metrics=None)
    >>> path.name
    'pink.json'
    """

    def step(event: Any) -> None:
        show_step(bar, event)
        if on_step is not None:
            on_step(event)

    with progress_bar(seconds=None, steps=steps, desc=recipe.name, disable=not progress) as bar:
        model = drain(gen, step)
    card = ModelCard.from_dict(model.card)
    card = replace(
        card,
        version=recipe.version,
        description=recipe.description,
        intended_use=recipe.intended_use,
        limitations=list(recipe.limitations),
        extra={**card.extra, **(extra or {})},
        data=data_card(recipe),
        recipe={
            "command": f"napari-colorize train --recipe {recipe.name} --out DIR",
            "settings": {k: (vars(v) if isinstance(v, Augment) else v)
                         for k, v in recipe.settings.items()},
            "torch": torch.__version__,
            "machine": f"{platform.machine()} CPU, {torch.get_num_threads()} threads",
        },
    )
    target = Path(out) / f"{recipe.name}.safetensors"
    card_path = save_model(model.net, card, target)
    if metrics is not None:
        card = replace(card, metrics=metrics(model))
        card_path = save_model(model.net, card, target)
    return card_path


def recipe_metrics(model: ColorModel, recipe: Recipe) -> dict[str, Any]:
    """Evaluate ``model`` on the recipe's validation and held-out regions.

    Parameters
    ----------
    model : ColorModel
        A chroma model.
    recipe : Recipe
        Names the regions (images are fetched once and cached).

    Returns
    -------
    dict
        ``{"validation": ..., "holdout": ...}``, each keyed by image name.

    Examples
    --------
    >>> from napari_colorize.training.recipes import HE_HISTOLOGY
    >>> recipe_metrics(load_model("he-histology"), HE_HISTOLOGY)  # doctest: +SKIP
    """
    return {
        "validation": evaluate_regions(model, recipe.validation),
        "holdout": evaluate_regions(model, recipe.holdout),
    }
