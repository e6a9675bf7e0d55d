"""``napari-colorize``: colorize, list models, train and evaluate from a shell.

Never imports napari or Qt. Errors in the input are printed as one line and exit with status 2;
nothing is written.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from typing import Any, NoReturn

from .commands.options import add_settings

DESCRIPTION = "Pseudo-colour for large grayscale microscopy and medical images, tile by tile."


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like the command's other errors.

    argparse prints its whole usage block before an error; a mistyped value then hides in it.
    ``--help`` still prints the full help.

    Examples
    --------
    >>> import contextlib, io
    >>> parser = Parser(prog="tool")
    >>> _ = parser.add_argument("--precision", choices=("fp32", "bf16"))
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     try:
    ...         parser.parse_args(["--precision", "fp16"])
    ...     except SystemExit as exc:
    ...         print(exc.code)
    2
    >>> print(err.getvalue(), end="")
    tool: error: argument --precision: invalid choice: 'fp16' (choose from ...); see --help
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # argparse takes "-1e3" for an option (its pattern knows no exponent); contrast
        # limits of CT data are written that way
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE; see --help`` on one line and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}; see --help\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the parser of the ``napari-colorize`` command and its sub-commands.

    Returns
    -------
    argparse.ArgumentParser
        ``colorize``, ``models``, ``train``, ``evaluate`` and ``export``; the settings of
        ``colorize`` are options built from :class:`~napari_colorize.core.config.ColorizeConfig`.

    Examples
    --------
    >>> args = build_parser().parse_args(["colorize", "in.tif", "out.ome.zarr", "--tile", "256"])
    >>> args.command, args.input, args.tile_size, args.batch_size
    ('colorize', 'in.tif', 256, None)
    """
    parser = Parser(prog="napari-colorize", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=Parser)  # sub-commands' errors: one line too
    for build in (_colorize_parser, _models_parser, _train_parser, _evaluate_parser,
                  _export_parser):
        build(sub)
    return parser


def _colorize_parser(sub: Any) -> None:
    """``colorize IN OUT``: the run's settings come from ColorizeConfig."""
    c = sub.add_parser("colorize", help="colorize a grayscale image or stack",
                       description="Colorize IN and write the RGB result to OUT.")
    c.add_argument("input", metavar="IN",
                   help="TIFF/OME-TIFF/SVS/SCN (main series, level 0), .zarr, PNG, JPEG, DICOM "
                        "file or folder of DICOM slices")
    c.add_argument("output", metavar="OUT",
                   help="result; the suffix picks the format: .ome.zarr/.zarr (OME-NGFF, zarr v3, "
                        "multiscale), .tif/.ome.tif, or .png (2-D only)")
    c.add_argument("--model", default=None,
                   help="model name (see 'napari-colorize models') or .safetensors path; "
                        "default: he-histology")
    c.add_argument("--confidence", metavar="PATH",
                   help="also write the per-pixel confidence to PATH: .tif/.zarr (float32, 0-1) "
                        "or .png (2-D, 0-255)")
    c.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    c.add_argument("--resume", action="store_true",
                   help="continue an interrupted run into the same .ome.zarr OUT (same input and "
                        "settings); the result is identical to an uninterrupted run")
    c.add_argument("--hints", metavar="CSV",
                   help="colour hints: rows of coordinates (one per image axis) then r, g, b "
                        "(0-255), separated by commas, semicolons or tabs; a header row is "
                        "allowed")
    c.add_argument("--reference", metavar="PATH", action="append",
                   help="a colour image from your lab (e.g. a stained section, or a colour "
                        "snapshot of part of the slide): the output takes its colours; repeat "
                        "for several")
    c.add_argument("--scheduler", metavar="ADDRESS",
                   help="spread the work over a dask.distributed cluster, e.g. tcp://host:8786")
    add_settings(c)
    c.add_argument("--quiet", action="store_true", help="no progress bar (warnings still show)")


def _models_parser(sub: Any) -> None:
    """``models``: list bundled and user models."""
    sub.add_parser("models", help="list available models",
                   description="List bundled and user models.")


def _train_parser(sub: Any) -> None:
    """``train``: tune, train from scratch, or regenerate a bundled model."""
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


def _evaluate_parser(sub: Any) -> None:
    """``evaluate IMAGE...``: CIEDE2000 of a model and baselines, JSON per image."""
    e = sub.add_parser("evaluate", help="score a model on colour images (JSON per image)",
                       description="CIEDE2000 of the model and of gray, mean-chroma and "
                                   "per-lightness baselines, on tissue and all pixels.")
    e.add_argument("images", nargs="+", metavar="IMAGE", help="colour RGB images with true colour")
    e.add_argument("--model", default=None, help="model name or path (default he-histology)")
    e.add_argument("--hints", type=_count, default=0, metavar="N",
                   help="also score with N hints at random tissue pixels (seed 0) given their "
                        "true colours")


def _export_parser(sub: Any) -> None:
    """``export MODEL OUT.zip``: a bioimage.io model package."""
    x = sub.add_parser("export", help="export a model as a bioimage.io package (.zip)",
                       description="Write MODEL as a bioimage.io model package (format 0.5: "
                                   "TorchScript and state-dict weights, test tensors, cover, "
                                   "documentation) for Fiji/deepImageJ, QuPath, ilastik and "
                                   "bioimageio.core.")
    x.add_argument("model", metavar="MODEL",
                   help="a model name (see 'napari-colorize models') or a tuned .safetensors")
    x.add_argument("output", metavar="OUT", help="the package to write (.zip)")
    x.add_argument("--example", metavar="IMAGE",
                   help="2-D gray image for the test tensors and the cover (default: a real "
                        "crop shipped with the package)")
    x.add_argument("--halo", type=int, default=None, metavar="PIXELS",
                   help="context a tiled consumer crops per tile side (default: 32 for colour "
                        "models, 64 for channel models)")
    x.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")


def _count(text: str) -> int:
    """Read a whole number >= 0 (an argparse type)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return value


def _one_line(exc: BaseException) -> str:
    """Return the first non-empty line of an error's message, in the shell's words.

    ``pass overwrite=True (--overwrite)`` reads ``pass --overwrite`` on the command line.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    line = lines[0] if lines else type(exc).__name__
    return re.sub(r"\b\w+=\w+ \((?:CLI )?(--[\w-]+)\)", r"\1", line)


def main(argv: list[str] | None = None) -> int:
    """Run the ``napari-colorize`` command (its entry point).

    Errors in the input are printed on stderr as one line; nothing is written. Warnings are
    printed as one line each.

    Parameters
    ----------
    argv : list of str, optional
        The arguments; default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status: 0 done, 1 a system error (disk, memory), 2 bad input, 130
        interrupted (Ctrl-C), 143 terminated (SIGTERM).

    Raises
    ------
    SystemExit
        Arguments argparse refuses (status 2, one line on stderr), or ``--help``.

    Examples
    --------
    >>> main(["models"])
    fluorescence-composite
    ...
    0
    >>> main(["colorize", "no-such-image.tif", "out.ome.zarr"])  # error on stderr
    2
    """
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():  # restores the caller's warning display afterwards
        warnings.showwarning = _show_warning
        return _run(args)


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: Any = None) -> None:
    """Warnings as one line each, like errors (no source file, no code line).

    Written through tqdm, so a line shown while the progress bar runs is not glued to it.
    """
    from tqdm import tqdm

    tqdm.write(f"napari-colorize: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    previous = _on_sigterm()
    try:
        if args.command == "colorize":
            from .commands import colorize

            colorize.run(args)
        elif args.command == "models":
            from .models.registry import list_models

            for name in list_models():
                print(name)
        elif args.command == "train":
            from .commands import train

            train.run(args)
        elif args.command == "evaluate":
            from .training.evaluation import evaluate

            for result in evaluate(args.model, args.images, hints=args.hints):
                print(json.dumps(result))
        elif args.command == "export":
            from .export.package import export_bioimageio

            options = {} if args.halo is None else {"halo": args.halo}
            path = export_bioimageio(args.model, args.output, example=args.example,
                                     overwrite=args.overwrite, **options)
            print(f"wrote {path}", file=sys.stderr)
    except (ValueError, TypeError, Warning) as exc:  # bad input (or a warning made an error,
        # PYTHONWARNINGS=error): one line, nothing written
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
    """SIGTERM (a scheduler's or ``kill``'s stop) during a command, handled like Ctrl-C.

    An OME-Zarr output is left resumable and marked incomplete, and its lock released;
    :func:`main` returns 143.

    Examples
    --------
    >>> isinstance(Terminated("terminated"), KeyboardInterrupt)
    True
    """


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
