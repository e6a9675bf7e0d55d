"""Output paths: the format a suffix picks, refusing taken or clashing paths, cleaning up.

Every output of a run (the result and its side stores) must resolve to a path distinct from the
input and from each other, none inside another, before anything is deleted: see
:func:`check_distinct` and :func:`source_path`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .colorize_attrs import read_colorize_block
from .writable import check_writable

OUTPUT_SUFFIXES = (".ome.zarr", ".zarr", ".ome.tif", ".ome.tiff", ".tif", ".tiff", ".png")
#: Files that make a folder a zarr store (v3, v2 array, v2 group).
ZARR_MARKERS = ("zarr.json", ".zarray", ".zgroup")


def output_kind(path: str | Path, label: str = "output") -> str:
    """Tell the output format from a path's suffix, in any case (``.ZARR`` too).

    Parameters
    ----------
    path : str or Path
        The output.
    label : str
        What the error calls the path (e.g. ``"--confidence"``).

    Returns
    -------
    str
        ``"zarr"``, ``"tiff"`` or ``"png"``.

    Raises
    ------
    ValueError
        For any other suffix.

    Examples
    --------
    >>> output_kind("out.ome.zarr"), output_kind("out.OME.TIF"), output_kind("OUT.ZARR")
    ('zarr', 'tiff', 'zarr')
    >>> output_kind("c.jpg", "--confidence")
    Traceback (most recent call last):
    ...
    ValueError: --confidence c.jpg must end in one of .ome.zarr, .zarr, ..., .png
    """
    name = str(path).lower().rstrip("/\\")
    if name.endswith(".zarr"):
        return "zarr"
    if name.endswith((".tif", ".tiff")):
        return "tiff"
    if name.endswith(".png"):
        return "png"
    raise ValueError(f"{label} {path} must end in one of {', '.join(OUTPUT_SUFFIXES)}")


def is_zarr_store(path: str | Path) -> bool:
    """Tell whether ``path`` is a folder holding zarr metadata (an array, group or OME-Zarr).

    Examples
    --------
    >>> is_zarr_store("no-such.zarr")
    False
    """
    path = Path(path)
    return path.is_dir() and any((path / name).is_file() for name in ZARR_MARKERS)


def check_output(path: str | Path, overwrite: bool = False, label: str = "output") -> Path:
    """Check an output path before anything is written.

    Its suffix must be known, the path free (or ``overwrite``), its parent a writable folder.
    ``overwrite`` replaces a file with a file and a zarr store with a zarr store only: never a
    folder tree with a file, nor an arbitrary folder or a file with a zarr store.

    Parameters
    ----------
    path : str or Path
        The output.
    overwrite : bool
        Whether an existing output may be replaced.
    label : str
        What errors call the path (e.g. ``"--confidence"``).

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        One line saying why the path cannot be written (taken, incomplete and resumable,
        locked by a running process, a folder that is no zarr store, a missing parent...).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = check_output(Path(tmp) / "r.ome.zarr")
    ...     out.name
    'r.ome.zarr'
    """
    path = Path(path)
    kind = output_kind(path, label)
    if kind == "zarr" and path.is_dir():
        from .locks import check_free

        check_free(path)  # a run writing it now: say so, whatever else is asked
    if path.exists() and not overwrite:
        if read_colorize_block(path).get("complete") is False:
            raise ValueError(
                f"{label} {path} exists and is incomplete (an interrupted run); pass resume=True "
                "(--resume) to continue it, or overwrite=True (--overwrite) to start again"
            )
        raise ValueError(
            f"{label} {path} already exists; pass overwrite=True (--overwrite) to replace it"
        )
    if path.exists():
        _check_replaceable(path, kind, label)
    parent = path.parent
    if not parent.exists():
        raise ValueError(f"output folder {parent} does not exist")
    if not parent.is_dir():
        raise ValueError(f"output folder {parent} is not a folder")
    try:  # tried, not os.access: root passes that on /proc or read-only mounts
        check_writable(parent)
    except ValueError as exc:
        raise ValueError(str(exc) if label == "output" else f"{label}: {exc}") from None
    return path


def _check_replaceable(path: Path, kind: str, label: str) -> None:
    """Refuse to overwrite what an output of ``kind`` must never replace."""
    if kind != "zarr" and path.is_dir():
        raise ValueError(
            f"{label} {path} is a folder; a {kind.upper()} result never replaces a folder: "
            "choose another name"
        )
    if kind == "zarr" and not path.is_dir():
        raise ValueError(
            f"{label} {path} is a file, not a zarr store; refusing to replace it: choose another "
            "name"
        )
    if kind == "zarr" and not is_zarr_store(path) and any(path.iterdir()):
        raise ValueError(
            f"{label} {path} is a folder but not a zarr store; refusing to delete it: choose "
            "another name"
        )


def temp_path(path: Path) -> Path:
    """Where an output is written before it is renamed into place: ``path`` + ``.part``.

    Examples
    --------
    >>> temp_path(Path("out.tif")).name
    'out.tif.part'
    """
    return path.with_name(path.name + ".part")


def remove(path: str | Path) -> None:
    """Delete a file or a folder (a zarr store); nothing if it is not there.

    A symlink is removed, never what it points to.

    Examples
    --------
    >>> remove("no-such-output.ome.zarr")
    """
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def replace_file(tmp: Path, path: Path) -> None:
    """Move a finished ``tmp`` onto ``path`` atomically (a zarr store there is removed first).

    Parameters
    ----------
    tmp : Path
        The finished output (see :func:`temp_path`).
    path : Path
        Its final name; what is there is replaced.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = Path(tmp) / "r.png"
    ...     _ = temp_path(out).write_bytes(b"png")
    ...     replace_file(temp_path(out), out)
    ...     sorted(p.name for p in Path(tmp).iterdir())
    ['r.png']
    """
    if path.is_dir() and not path.is_symlink():
        remove(path)  # a zarr store replaced by a zarr store (checked by check_output)
    os.replace(tmp, path)  # atomic for files, on every platform


# --- where an input lives, and outputs that clash with it ----------------------------------


def source_path(image: Any) -> Path | None:
    """Find the file or store an array reads from, when it can be told.

    Parameters
    ----------
    image : object
        A path, a zarr array on a local store (gives its store root and array path), a
        tifffile-backed zarr array, a numpy memmap (or a view of one), or a dask array over
        one of these.

    Returns
    -------
    Path or None
        ``None`` for in-memory data.

    Examples
    --------
    >>> source_path("in.tif").name, source_path([0, 1, 2])
    ('in.tif', None)
    """
    if isinstance(image, (str, Path)):
        return Path(image)
    found = _zarr_source(image)
    if found is not None:
        return found
    base = image
    for _ in range(32):  # a memmap, or a view of one (np.asarray keeps it as .base)
        name = getattr(base, "filename", None)
        if isinstance(name, (str, Path)) and hasattr(base, "shape"):
            return Path(name)
        base = getattr(base, "base", None)
        if base is None:
            break
    return _dask_source(image)


def _zarr_source(image: Any) -> Path | None:
    store = getattr(image, "store", None)
    if store is None or not hasattr(image, "nchunks"):
        return None
    root = getattr(store, "root", None)
    if isinstance(root, (str, Path)):
        path = getattr(image, "path", "") or ""
        return Path(root) / path if path else Path(root)
    protocol = getattr(getattr(store, "fs", None), "protocol", ())
    protocol = (protocol,) if isinstance(protocol, str) else tuple(protocol or ())
    if {"file", "local"} & set(protocol):  # an fsspec store on the local disk (dask's choice)
        where = Path(str(getattr(store, "path", "")))
        path = getattr(image, "path", "") or ""
        return where / path if path else where
    for data in getattr(store, "_data", None) or []:  # tifffile's ZarrTiffStore
        parent = getattr(data, "parent", None)
        handle = getattr(parent, "filehandle", None)
        path = getattr(handle, "path", None)
        if isinstance(path, (str, Path)) and path:
            return Path(path)
    return None


def _dask_source(image: Any) -> Path | None:
    graph = getattr(image, "dask", None)
    layers = getattr(graph, "layers", None)
    if not isinstance(layers, dict):
        return None
    for layer in layers.values():
        # the array a dask graph wraps sits in a one-entry layer; never walk every chunk
        if not hasattr(layer, "__len__") or len(layer) > 4:
            continue
        try:
            values = list(layer.values())
        except Exception:  # a layer that cannot list itself names no file
            continue
        for value in values:
            if value is not image and hasattr(value, "shape") and not hasattr(value, "dask"):
                found = source_path(value)
                if found is not None:
                    return found
    return None


def _resolved(path: str | Path) -> str:
    """Spell ``path`` absolute, symlink-free and case-normalised."""
    text = os.path.normcase(str(Path(os.path.expanduser(str(path))).resolve()))
    return text.rstrip("/\\") or text


def _same(a: str | Path, b: str | Path) -> bool:
    try:
        if os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b):
            return True
    except OSError:
        pass
    return _resolved(a) == _resolved(b)


def _inside(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` lies inside the folder ``b``."""
    ra, rb = _resolved(a), _resolved(b)
    try:
        return ra != rb and os.path.commonpath([ra, rb]) == rb
    except ValueError:  # Windows paths on different drives share no folder
        return False


def check_distinct(inputs: Iterable[tuple[str, Any]], outputs: Iterable[tuple[str, Any]]) -> None:
    """Refuse outputs that are an input, another output, or inside one of them (or contain one).

    Runs before anything is deleted, so ``overwrite`` can never replace what a run reads.

    Parameters
    ----------
    inputs, outputs : iterable of (str, path or None)
        ``(label, path)`` pairs; ``None`` paths are skipped.

    Raises
    ------
    ValueError
        Naming both paths and how they clash.

    Examples
    --------
    >>> check_distinct([("input", "a.tif")], [("output", "a.tif")])
    Traceback (most recent call last):
    ...
    ValueError: output a.tif is the input a.tif; choose a separate output path
    """
    ins = [(label, p) for label, p in inputs if p is not None]
    outs = [(label, p) for label, p in outputs if p is not None]
    pairs = [(o, i) for o in outs for i in ins]
    # the later output is the one named first: "--confidence X is the output Y"
    pairs += [(outs[k], outs[j]) for j in range(len(outs)) for k in range(j + 1, len(outs))]
    for (la, a), (lb, b) in pairs:
        if _same(a, b):
            relation = "is"
        elif _inside(a, b):
            relation = "is inside"
        elif _inside(b, a):
            relation = "contains"
        else:
            continue
        raise ValueError(
            f"{la} {a} {relation} the {lb} {b}; choose a separate {la.split()[-1]} path"
        )


def confidence_path(path: str | Path, kind: str = "confidence") -> Path:
    """Name the side output of an OME-Zarr result: ``x.ome.zarr`` -> ``x.confidence.ome.zarr``.

    A separate image (not a sub-group) keeps the result a plain NGFF image for other readers.

    Parameters
    ----------
    path : str or Path
        The result (``.ome.zarr`` or ``.zarr``).
    kind : str
        ``"confidence"`` or ``"channels"``.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        If ``path`` is not a ``.zarr`` path.

    Examples
    --------
    >>> confidence_path("x.ome.zarr").name, confidence_path("x.zarr", "channels").name
    ('x.confidence.ome.zarr', 'x.channels.zarr')
    >>> confidence_path("X.OME.ZARR").name  # any case, as output_kind takes it; kept as written
    'X.confidence.OME.ZARR'
    """
    path = Path(path)
    name = path.name
    for suffix in (".ome.zarr", ".zarr"):
        if name.lower().endswith(suffix):
            cut = len(name) - len(suffix)
            return path.with_name(name[:cut] + f".{kind}" + name[cut:])
    raise ValueError(f"{path} is not a .zarr path")
