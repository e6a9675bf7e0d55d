"""The ``colorize`` command: read IN, colorize, write OUT (and confidence, channel maps)."""

from __future__ import annotations

import argparse
import errno
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..core.config import ColorizeConfig
from ..core.engine import iter_colorize
from ..core.events import drain
from ..core.validation import check_input
from ..io.locks import check_free
from ..io.paths import check_distinct, check_output, confidence_path, output_kind
from ..io.readers import open_image
from ..io.writers import remove, write_gray, write_rgb
from .options import settings


def run(args: argparse.Namespace) -> None:
    """Colorize ``args.input`` into ``args.output`` (the ``colorize`` command).

    Paths and settings are checked before anything is read, replaced or deleted. A TIFF/PNG
    result and its confidence land together or not at all.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``colorize`` arguments (see :func:`~napari_colorize.cli.build_parser`).

    Raises
    ------
    ValueError
        Bad paths, settings or input, in one line (the CLI prints it and exits with 2).
    KeyboardInterrupt
        Ctrl-C or SIGTERM; with an OME-Zarr OUT the message says how to resume.

    Examples
    --------
    >>> import tempfile
    >>> import tifffile
    >>> from napari_colorize.cli import build_parser
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     tifffile.imwrite(f"{tmp}/gray.tif", np.full((64, 64), 128, np.uint8))
    ...     args = build_parser().parse_args(["colorize", f"{tmp}/gray.tif", f"{tmp}/rgb.png",
    ...                                       "--device", "cpu", "--quiet"])
    ...     run(args)
    ...     sorted(p.name for p in Path(tmp).iterdir())
    ['gray.tif', 'rgb.png']
    """
    config = ColorizeConfig.from_options(**settings(args))  # bad settings: before any file
    kind = output_kind(args.output)
    if config.channels and kind != "zarr":
        raise ValueError(f"--channels writes the channel maps beside an .ome.zarr OUT "
                         f"(OUT.channels.ome.zarr); got {args.output}")
    if args.resume and kind != "zarr":
        raise ValueError(
            f"--resume needs an .ome.zarr OUT (it records finished blocks); got {args.output}"
        )
    check_paths(args, kind)  # before anything is read, replaced or deleted
    resuming = args.resume and Path(args.output).exists()
    if resuming:
        check_free(args.output)
    out = Path(args.output) if resuming else check_output(args.output, args.overwrite)
    if args.confidence and not (args.resume and is_beside(args.confidence, out)):
        # a resume only reuses its own store
        check_output(args.confidence, args.overwrite, "--confidence")
    image = open_image(args.input, from_rgb=bool(args.from_rgb))
    check_input(image, args.input)
    pngs = [p for p in (args.output, args.confidence) if p and output_kind(p) == "png"]
    if pngs and len(image.shape) != 2:
        raise ValueError(f"PNG holds one 2-D image; {args.input} is a stack: use .tif or .ome.zarr")
    if args.scheduler:  # a lost cluster is told in one line below, not by dask's reconnect log
        import distributed  # noqa: F401  (its import sets its loggers' levels: set ours after)

        logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
    gen = iter_colorize(image, args.model, out=out if kind == "zarr" else None,
                        overwrite=args.overwrite, resume=args.resume, scheduler=args.scheduler,
                        hints=args.hints, reference=args.reference, config=config)

    def show(event: Any) -> None:  # hints outside the image are a HintWarning, shown as one line
        bar.total = event.total
        bar.n = event.done
        bar.set_postfix(plane=f"{event.plane + 1}/{event.n_planes}")
        bar.refresh()

    with tqdm(disable=args.quiet, unit="tile", desc="colorize") as bar:
        try:
            result = drain(gen, show)
        except KeyboardInterrupt as exc:
            if kind == "zarr" and Path(out).exists():  # not yet made while the run was planned
                message = f"partial result kept in {out}; continue with --resume"
                raise type(exc)(message) from None
            raise
        except OSError as exc:
            raise _full(exc, out, kind) from None
    rgb, conf = result.rgb, result.confidence
    try:
        if conf is not None:
            write_confidence(args.confidence, conf, kind, out, args.overwrite)
        if kind != "zarr":
            try:
                write_rgb(out, rgb, overwrite=args.overwrite, source=args.input)
            except BaseException:
                if conf is not None:  # a TIFF/PNG pair lands together or not at all
                    remove(args.confidence)
                raise
    except OSError as exc:
        raise _full(exc, out, kind) from None
    extra = [str(p) for p in (args.confidence, result.channels is not None and
                              confidence_path(out, "channels")) if p]
    print(f"wrote {out}" + "".join(f" and {p}" for p in extra), file=sys.stderr)


def _full(exc: OSError, out: Path, kind: str) -> OSError:
    """Say which output a full disk (or quota) or a lost cluster stopped, and what is kept."""
    if isinstance(exc, ConnectionError) and kind == "zarr":  # a lost dask cluster
        return ConnectionError(f"{exc}; partial result kept in {out}: continue with --resume")
    if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return exc
    kept = (f"partial result kept in {out}: free space and continue with --resume"
            if kind == "zarr" else "nothing written")
    return OSError(exc.errno, f"cannot write {out}: {exc.strerror}; {kept}")


def check_paths(args: argparse.Namespace, kind: str) -> None:
    """Check that IN, OUT and --confidence are distinct paths, none inside another.

    A zarr result's confidence store beside OUT (written first) and its channel maps store
    count too.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``colorize`` arguments.
    kind : str
        OUT's format (``"zarr"``, ``"tiff"``, ``"png"``).

    Raises
    ------
    ValueError
        Two paths are the same, or one is inside another.

    Examples
    --------
    >>> import argparse
    >>> args = argparse.Namespace(input="a.tif", output="a.tif", confidence=None,
    ...                           channels=False)
    >>> check_paths(args, "tiff")
    Traceback (most recent call last):
    ...
    ValueError: output a.tif is the input a.tif; choose a separate output path
    """
    outputs = [("output", args.output)]
    if args.channels and kind == "zarr":
        outputs.append(("channel maps output", confidence_path(args.output, "channels")))
    if args.confidence:
        output_kind(args.confidence, "--confidence")
        if kind == "zarr":
            outputs.append(("confidence output", confidence_path(args.output)))
        if not (kind == "zarr" and is_beside(args.confidence, Path(args.output))):
            outputs.append(("--confidence", args.confidence))
    inputs = [("input", args.input)]
    inputs += [("--reference", path) for path in getattr(args, "reference", None) or ()]
    check_distinct(inputs, outputs)


def is_beside(target: str, out: Path) -> bool:
    """Tell whether ``target`` is where a zarr run writes its confidence (beside ``out``).

    Parameters
    ----------
    target : str
        The ``--confidence`` path.
    out : path
        The run's OUT.

    Returns
    -------
    bool
        True if OUT is zarr and ``target`` is its confidence store.

    Examples
    --------
    >>> is_beside("out.confidence.ome.zarr", Path("out.ome.zarr"))
    True
    >>> is_beside("elsewhere.tif", Path("out.ome.zarr"))
    False
    """
    return output_kind(out) == "zarr" and (
        Path(target).resolve() == confidence_path(out).resolve())


def write_confidence(target: str, conf: Any, kind: str, out: Path, overwrite: bool) -> None:
    """Write the confidence map to ``target``; a zarr result already wrote it beside ``out``.

    Writes are atomic: on failure a zarr run keeps both its result and the confidence beside it.

    Parameters
    ----------
    target : str
        The ``--confidence`` path (TIFF, PNG or zarr).
    conf : array-like
        The confidence map (a zarr array for a zarr run).
    kind : str
        OUT's format.
    out : path
        The run's OUT.
    overwrite : bool
        Replace ``target`` if it exists.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_confidence(f"{tmp}/conf.tif", np.ones((4, 4), np.float32), "tiff",
    ...                      Path(tmp) / "rgb.tif", overwrite=False)
    ...     sorted(p.name for p in Path(tmp).iterdir())
    ['conf.tif']
    """
    if kind != "zarr":
        write_gray(target, np.asarray(conf), overwrite=overwrite)
        return
    beside = confidence_path(out)
    if is_beside(target, out):
        return
    if output_kind(target) == "zarr":
        remove(target)
        beside.replace(target)
    else:
        write_gray(target, np.asarray(conf[...]), overwrite=overwrite)
        remove(beside)
