"""The ``train`` command: tune a model to a lab's stain, train one, or rerun a recipe."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def run(args: argparse.Namespace) -> None:
    """Train, tune or regenerate a model (the ``train`` command).

    With ``--recipe``, regenerate a bundled model; with ``--base``, tune a model to the images;
    otherwise train one from scratch within ``--steps`` or ``--seconds``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``train`` arguments (see :func:`~napari_colorize.cli.build_parser`).

    Raises
    ------
    ValueError
        Options that do not go together, a missing budget or output, or bad images.

    Examples
    --------
    >>> from napari_colorize.cli import build_parser
    >>> run(build_parser().parse_args(["train", "--recipe", "he-histology"]))
    Traceback (most recent call last):
    ...
    ValueError: --recipe needs --out DIR
    >>> run(build_parser().parse_args(["train", "slide.png"]))
    Traceback (most recent call last):
    ...
    ValueError: give --steps or --seconds to bound training
    """
    images = [*args.images, *args.image_list]
    if args.recipe:
        from ..training.recipe_runs import run_recipe

        given = [flag for flag, value in (
            ("images", images), ("--base", args.base), ("--loss", args.loss),
            ("--masks", args.masks), ("--seconds", args.seconds is not None),
            ("--steps", args.steps is not None), ("--layers", args.layers),
            ("--name", args.name), ("--seed", args.seed != 0)) if value]
        if given:  # the recipe's own seeded settings make the bundled model: nothing changes it
            raise ValueError(f"--recipe regenerates a bundled model with its own fixed settings; "
                             f"it takes no {', '.join(given)}")
        if not args.out:
            raise ValueError("--recipe needs --out DIR")
        target = Path(args.out) / f"{args.recipe}.safetensors"
        if target.exists() and not args.overwrite:
            raise ValueError(f"output {target} already exists; pass --overwrite to replace it")
        from ..io.writable import check_writable

        check_writable(args.out)  # before the hours of training
        path = run_recipe(args.recipe, args.out, progress=not args.quiet, device=args.device)
        print(f"wrote {path}", file=sys.stderr)
        return
    if not images:
        raise ValueError("give colour training images (--images), or --recipe NAME")
    if args.base:
        _tune(args, images)
        return
    if args.masks or args.layers:
        raise ValueError("--masks and --layers are for tuning: give --base MODEL")
    if args.steps is None and args.seconds is None:
        raise ValueError("give --steps or --seconds to bound training")
    if not args.out:
        raise ValueError("training from scratch needs --out PATH.safetensors")
    from ..training.api import train

    out = _check_out(args.name or "custom", args.out, args.overwrite)
    settings = {"loss": args.loss} if args.loss else {}
    train(images, seconds=args.seconds, steps=args.steps, seed=args.seed, out=out,
          overwrite=args.overwrite, progress=not args.quiet, device=args.device, name=args.name,
          **settings)
    print(f"wrote {out} and {out.with_suffix('.json')}", file=sys.stderr)


def _check_out(name: str, out: str, overwrite: bool) -> Path:
    from ..training.tuning import model_out_path

    path = model_out_path(name, out, overwrite)
    if not path.parent.is_dir():
        raise ValueError(f"output folder {path.parent} does not exist")
    return path


def _tune(args: argparse.Namespace, images: list[str]) -> None:
    from ..training.api import tune

    masks = args.masks  # files, read and checked by tune (non-zero = use)
    if masks and len(masks) != len(images):
        raise ValueError(f"got {len(masks)} masks for {len(images)} images: give one per image")
    name = args.name or f"{Path(args.base).stem}-tuned"
    out = _check_out(name, args.out, args.overwrite) if args.out else None
    settings = {key: value for key in ("layers", "loss")
                if (value := getattr(args, key)) is not None}
    seconds = 120.0 if args.seconds is None and args.steps is None else args.seconds
    result = tune(images, base=args.base, masks=masks, name=name, out=out,
                  overwrite=args.overwrite, progress=not args.quiet, device=args.device,
                  seconds=seconds, steps=args.steps, seed=args.seed, **settings)
    scores = result.metrics["holdout_ciede2000_tissue"]
    if scores.get("tuned") is not None:
        parts = [f"{k} {scores[k]:.2f}" for k in ("base", "calibrated", "tuned")
                 if scores.get(k) is not None]
        print("held-out tissue CIEDE2000: " + " -> ".join(parts), file=sys.stderr)
    from ..models.registry import user_models_dir

    path = out or user_models_dir() / f"{name}.safetensors"
    print(f"wrote {path} and {path.with_suffix('.json')}", file=sys.stderr)
