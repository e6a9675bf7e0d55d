"""Is an output folder writable? Asked before long work, so it fails at once."""

from __future__ import annotations

import functools
import os
from pathlib import Path


def check_writable(folder: str | Path) -> None:
    """Check that files can be written in a folder, by creating and removing an empty one.

    Checked before long work (training, export), so an unwritable output fails at once. A
    folder that does not exist yet is checked where it would be created (its nearest existing
    parent).

    Parameters
    ----------
    folder : str or path
        The output folder.

    Raises
    ------
    ValueError
        The folder (or the parent it would be made in) is not a folder or not writable.

    Examples
    --------
    >>> import tempfile
    >>> check_writable(tempfile.mkdtemp())
    >>> check_writable("/proc/x")
    Traceback (most recent call last):
    ...
    ValueError: output folder /proc/x is not writable (cannot create a file in /proc)
    """
    import tempfile

    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"output folder {folder} cannot be made: {existing} is not a folder")
    where = "" if existing == folder else f" (cannot create a file in {existing})"
    if not os.access(existing, os.W_OK):
        raise ValueError(f"output folder {folder} is not writable{where}")
    # os.access says yes to root on read-only file systems (/sys, a read-only mount): try it
    try:
        with tempfile.NamedTemporaryFile(prefix=".napari-colorize-", suffix=".probe",
                                         dir=existing):
            pass
    except OSError:
        raise ValueError(f"output folder {folder} is not writable{where}") from None


def default_mode(path: str | Path) -> None:
    """Give a file the permissions a plain ``open()`` would: ``0o666`` less the umask.

    Temporary files (``mkstemp``, safetensors' writer) are made ``0o600``; a model or package
    in a shared folder must stay readable by the others who use it.

    Examples
    --------
    >>> import tempfile
    >>> fd, name = tempfile.mkstemp()
    >>> default_mode(name)
    >>> umask = os.umask(0); _ = os.umask(umask)
    >>> oct(os.stat(name).st_mode & 0o777) == oct(0o666 & ~umask)
    True
    """
    os.chmod(path, 0o666 & ~_umask())


@functools.cache
def _umask() -> int:
    # read once: os.umask can only be read by setting it, a race with other threads
    umask = os.umask(0)
    os.umask(umask)
    return umask
