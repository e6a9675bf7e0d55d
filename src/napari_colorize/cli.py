"""``napari-colorize``: colorize, list models, train and evaluate from a shell.

Never imports napari or Qt. Errors in the input are printed as one line and exit with status 2;
nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

DESCRIPTION = "Pseudo-colour for large grayscale microscopy and medical images, tile by tile."


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="napari-colorize", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("colorize", help="colorize a grayscale image or stack",
                       description="Colorize IN and write the RGB result to OUT.")
    c.add_argument("input", metavar="IN",
                   help="TIFF/OME-TIFF/SVS (series 0, level 0), .zarr, PNG, JPEG, DICOM file or "
                        "folder of DICOM slices")
    c.add_argument("output", metavar="OUT",
                   help="result; the suffix picks the format: .ome.zarr/.zarr (OME-NGFF, zarr v3, "
                        "multiscale), .tif/.ome.tif, or .png (2-D only)")
    c.add_argument("--model", default=None,
                   help="model name (see 'napari-colorize models') or .safetensors path; "
                        "default: he-histology")
    c.add_argument("--tile", type=int, default=512, help="tile side in pixels (default 512)")
    c.add_argument("--overlap", type=int, default=64,
                   help="overlap between neighbouring tiles in pixels, < tile/2 (default 64)")
    c.add_argument("--batch", type=int, default=4, help="tiles per model call (default 4)")
    c.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    c.add_argument("--contrast-limits", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   help="intensity window for non-uint8 input (default: 0.5-99.5 percentiles "
                        "of the whole stack)")
    c.add_argument("--confidence", metavar="PATH",
                   help="also write the per-pixel confidence to PATH: .tif/.zarr (float32, 0-1) "
                        "or .png (2-D, 0-255)")
    c.add_argument("--blending", choices=("taper", "constant"), default="taper",
                   help="taper: weighted blend of overlaps (default); constant: no blending")
    c.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    c.add_argument("--resume", action="store_true",
                   help="continue an interrupted run into the same .ome.zarr OUT (same input and "
                        "settings); the result is identical to an uninterrupted run")
    c.add_argument("--hints", metavar="CSV",
                   help="colour hints: rows of coordinates (one per image axis) then r, g, b "
                        "(0-255); a header row is allowed")
    c.add_argument("--scheduler", metavar="ADDRESS",
                   help="spread the work over a dask.distributed cluster, e.g. tcp://host:8786")
    c.add_argument("--from-rgb", action="store_true",
                   help="IN is a colour (RGB) image: colorize its CIE lightness (re-stain it)")
    c.add_argument("--quiet", action="store_true", help="no progress bar")

    sub.add_parser("models", help="list available models",
                   description="List bundled and user models.")

    t = sub.add_parser("train", help="train, or tune a model to your stain, on colour images",
                       description="Tune a model to your lab's stain from colour RGB reference "
                                   "images (--base), train one from scratch, or regenerate a "
                                   "bundled one (--recipe). Lightness is the input, chroma the "
                                   "target.")
    t.add_argument("images", nargs="*", metavar="IMAGE", help="colour RGB training images")
    t.add_argument("--images", dest="image_list", nargs="+", metavar="IMAGE", default=[],
                   help="colour RGB training images (same as the positional IMAGEs)")
    t.add_argument("--masks", nargs="+", metavar="MASK",
                   help="with --base: one mask image per training image (non-zero = use); "
                        "tuning, patches and metrics stay inside")
    t.add_argument("--recipe", help="regenerate a bundled model from scratch: he-histology or "
                                    "fluorescence-composite")
    t.add_argument("--base", help="model to tune (e.g. he-histology; default: train from scratch)")
    t.add_argument("--seconds", type=float,
                   help="time budget (with --base: the whole tuning run, default 120)")
    t.add_argument("--steps", type=int,
                   help="step budget (with --base: gradient steps; 0 = calibration only)")
    t.add_argument("--layers", choices=("all", "decoder", "head"),
                   help="with --base: what gradient steps update (default all)")
    t.add_argument("--loss", choices=("l1", "ciede2000"),
                   help="error the chroma is fitted to (default: l1 from scratch; with --base, "
                        "the one the base model was trained on)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--name", default=None,
                   help="name of the new model (default custom, or BASE-tuned with --base)")
    t.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    t.add_argument("--out",
                   help="output .safetensors path (a folder with --recipe); the card goes beside "
                        "it. With --base it defaults to NAME in your models folder, where "
                        "'napari-colorize models' and the napari widget find it")
    t.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    e = sub.add_parser("evaluate", help="score a model on colour images (JSON per image)",
                       description="CIEDE2000 of the model and of gray, mean-chroma and "
                                   "per-lightness baselines, on tissue and all pixels.")
    e.add_argument("images", nargs="+", metavar="IMAGE", help="colour RGB images with true colour")
    e.add_argument("--model", default=None, help="model name or path (default he-histology)")
    e.add_argument("--hints", type=_count, default=0, metavar="N",
                   help="also score with N hints at random tissue pixels (seed 0) given their "
                        "true colours")
    return parser


def _colorize(args: argparse.Namespace) -> None:
    from tqdm.auto import tqdm

    from .core.engine import iter_colorize
    from .core.events import drain
    from .core.validation import check_input
    from .io.readers import open_image
    from .io.writers import check_output, output_kind, remove, write_rgb

    kind = output_kind(args.output)
    if args.resume and kind != "zarr":
        raise ValueError(
            f"--resume needs an .ome.zarr OUT (it records finished blocks); got {args.output}"
        )
    _check_distinct(args, kind)  # before anything is read, replaced or deleted
    resuming = args.resume and Path(args.output).exists()
    if resuming:
        from .io.locks import check_free

        check_free(args.output)
    out = Path(args.output) if resuming else check_output(args.output, args.overwrite)
    if args.confidence and not (args.resume and _is_beside(args.confidence, out)):
        check_output(args.confidence, args.overwrite)  # a resume only reuses its own store
    image = open_image(args.input, from_rgb=args.from_rgb)
    check_input(image)
    pngs = [p for p in (args.output, args.confidence) if p and output_kind(p) == "png"]
    if pngs and len(image.shape) != 2:
        raise ValueError(f"PNG holds one 2-D image; {args.input} is a stack: use .tif or .ome.zarr")
    gen = iter_colorize(
        image, args.model, tile_size=args.tile, overlap=args.overlap, batch_size=args.batch,
        device=args.device, out=out if kind == "zarr" else None,
        contrast_limits=tuple(args.contrast_limits) if args.contrast_limits else None,
        confidence=bool(args.confidence), blending=args.blending, overwrite=args.overwrite,
        resume=args.resume, scheduler=args.scheduler, hints=args.hints, from_rgb=args.from_rgb,
    )

    def show(event: Any) -> None:
        bar.total = event.total
        bar.n = event.done
        bar.set_postfix(plane=f"{event.plane + 1}/{event.n_planes}")
        bar.refresh()

    with tqdm(disable=args.quiet, unit="tile", desc="colorize") as bar:
        try:
            result = drain(gen, show)
        except KeyboardInterrupt as exc:
            if kind == "zarr":
                message = f"partial result kept in {out}; continue with --resume"
                raise type(exc)(message) from None
            raise
    rgb, conf = result.rgb, result.confidence
    if conf is not None:
        _write_confidence(args.confidence, conf, kind, out, args.overwrite)
    if kind != "zarr":
        try:
            write_rgb(out, rgb, overwrite=args.overwrite)
        except BaseException:
            if conf is not None:  # a TIFF/PNG pair lands together or not at all
                remove(args.confidence)
            raise
    print(f"wrote {out}" + (f" and {args.confidence}" if args.confidence else ""), file=sys.stderr)


def _check_distinct(args: argparse.Namespace, kind: str) -> None:
    """IN, OUT and --confidence (and a zarr result's confidence store beside OUT, written
    first) must be distinct paths, none inside another."""
    from .io.paths import check_distinct, confidence_path, output_kind

    outputs = [("output", args.output)]
    if args.confidence:
        output_kind(args.confidence)
        if kind == "zarr":
            outputs.append(("confidence output", confidence_path(args.output)))
        if not (kind == "zarr" and _is_beside(args.confidence, Path(args.output))):
            outputs.append(("--confidence", args.confidence))
    check_distinct([("input", args.input)], outputs)


def _is_beside(target: str, out: Path) -> bool:
    """Whether ``target`` is where a zarr run writes its confidence (beside ``out``)."""
    from .io.paths import confidence_path, output_kind

    return output_kind(out) == "zarr" and (
        Path(target).resolve() == confidence_path(out).resolve())


def _write_confidence(target: str, conf: Any, kind: str, out: Path, overwrite: bool) -> None:
    """Write the confidence map to ``target``; a zarr result already wrote it beside ``out``.

    Writes are atomic: on failure a zarr run keeps both its result and the confidence beside it.
    """
    import numpy as np

    from .io.paths import confidence_path
    from .io.writers import output_kind, remove, write_gray

    if kind != "zarr":
        write_gray(target, np.asarray(conf), overwrite=overwrite)
        return
    beside = confidence_path(out)
    if _is_beside(target, out):
        return
    if output_kind(target) == "zarr":
        remove(target)
        beside.replace(target)
    else:
        write_gray(target, np.asarray(conf[...]), overwrite=overwrite)
        remove(beside)



def _count(text: str) -> int:
    """argparse type: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return value


def _train(args: argparse.Namespace) -> None:
    images = [*args.images, *args.image_list]
    if args.recipe:
        from .training.recipes import run_recipe

        if images or args.base or args.loss:
            raise ValueError("--recipe regenerates a bundled model: give no images, --base "
                             "or --loss")
        if not args.out:
            raise ValueError("--recipe needs --out DIR")
        target = Path(args.out) / f"{args.recipe}.safetensors"
        if target.exists() and not args.overwrite:
            raise ValueError(f"output {target} already exists; pass --overwrite to replace it")
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
    from .training.loop import train

    out = _check_out(args.name or "custom", args.out, args.overwrite)
    settings = {"loss": args.loss} if args.loss else {}
    train(images, seconds=args.seconds, steps=args.steps, seed=args.seed, out=out,
          overwrite=args.overwrite, progress=not args.quiet, device=args.device, name=args.name,
          **settings)
    print(f"wrote {out} and {out.with_suffix('.json')}", file=sys.stderr)


def _check_out(name: str, out: str, overwrite: bool) -> Path:
    from .training.tuning import model_out_path

    path = model_out_path(name, out, overwrite)
    if not path.parent.is_dir():
        raise ValueError(f"output folder {path.parent} does not exist")
    return path


def _tune(args: argparse.Namespace, images: list[str]) -> None:
    import numpy as np

    from .training.tuning import tune

    masks = None
    if args.masks:
        if len(args.masks) != len(images):
            raise ValueError(f"got {len(args.masks)} masks for {len(images)} images: "
                             "give one per image")
        from .io.readers import read_image

        masks = []
        for path in args.masks:
            mask = np.asarray(read_image(path)[...])
            masks.append((mask.max(axis=-1) if mask.ndim == 3 else mask) > 0)
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
    from .models.registry import user_models_dir

    path = out or user_models_dir() / f"{name}.safetensors"
    print(f"wrote {path} and {path.with_suffix('.json')}", file=sys.stderr)


def _one_line(exc: BaseException) -> str:
    """The first non-empty line of an error's message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``napari-colorize`` command."""
    args = _parser().parse_args(argv)
    with warnings.catch_warnings():  # restores the caller's warning display afterwards
        warnings.showwarning = _show_warning
        return _run(args)


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: Any = None) -> None:
    """Warnings as one line each, like errors (no source file, no code line)."""
    print(f"napari-colorize: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    previous = _on_sigterm()
    try:
        if args.command == "colorize":
            _colorize(args)
        elif args.command == "models":
            from .models.registry import list_models

            for name in list_models():
                print(name)
        elif args.command == "train":
            _train(args)
        elif args.command == "evaluate":
            from .training.evaluation import evaluate

            for result in evaluate(args.model, args.images, hints=args.hints):
                print(json.dumps(result))
    except (ValueError, TypeError) as exc:  # bad input: one line, nothing written
        print(f"napari-colorize: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError, MemoryError) as exc:
        print(f"napari-colorize: error: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"napari-colorize: interrupted; {str(exc) or 'nothing written'}", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        _restore_sigterm(previous)
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's or ``kill``'s stop) during a command: handled like Ctrl-C, so an
    OME-Zarr output is left resumable and marked incomplete, and its lock released."""


def _on_sigterm() -> Any:
    """Turn SIGTERM into :class:`Terminated` while a command runs (main thread only)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def terminate(signum: int, frame: Any) -> None:
        raise Terminated("terminated")

    return signal.signal(signal.SIGTERM, terminate)


def _restore_sigterm(previous: Any) -> None:
    if previous is not None:
        import signal

        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
