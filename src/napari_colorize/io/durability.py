"""Make the files a run wrote durable (fsync), on every platform.

Only the files named are flushed, never the whole machine's file systems. Folders are flushed
too where the platform allows it (POSIX); Windows cannot open a folder for flushing and commits
directory entries with the file itself.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

#: Whether folders can be opened and flushed (POSIX); Windows cannot.
CAN_SYNC_DIRS = os.name != "nt"


def fsync_file(path: str | Path) -> bool:
    """Flush one file's data to disk.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    bool
        ``False`` if it is not there (e.g. a chunk left out because it holds only the fill
        value).

    Examples
    --------
    >>> fsync_file("no-such-chunk")
    False
    """
    # Windows flushes with _commit, which needs a handle open for writing.
    flags = os.O_RDWR if os.name == "nt" else os.O_RDONLY
    try:
        fd = os.open(path, flags | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return False
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def fsync_dir(path: str | Path) -> None:
    """Flush a folder's entries (new and renamed files in it), where the platform allows."""
    if not CAN_SYNC_DIRS:
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse to flush folders; the files are flushed
        pass
    finally:
        os.close(fd)


def fsync_all(files: Iterable[str | Path], roots: Iterable[str | Path] = ()) -> None:
    """Flush ``files``, then the folders holding them, and their parents up to ``roots``.

    Parameters
    ----------
    files : iterable of str or Path
        The files; missing ones are skipped.
    roots : iterable of str or Path
        Each file's parent folders are flushed up to and including whichever of these holds
        it (new chunk folders nest); none: only the folders holding the files.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     os.makedirs(os.path.join(tmp, "0", "c"))
    ...     chunk = os.path.join(tmp, "0", "c", "0")
    ...     write_durably(chunk, b"pixels")
    ...     fsync_all([chunk], roots=[tmp])
    """
    tops = {os.path.abspath(r) for r in roots}
    folders: set[str] = set()
    for path in files:
        if not fsync_file(path):
            continue
        folder = os.path.dirname(os.path.abspath(path))
        while folder not in folders:
            folders.add(folder)
            parent = os.path.dirname(folder)
            if folder in tops or parent == folder or not any(
                    parent == t or parent.startswith(t + os.sep) for t in tops):
                break
            folder = parent
    for folder in sorted(folders, key=len, reverse=True):  # deepest first
        fsync_dir(folder)


def fsync_tree(root: str | Path) -> None:
    """Flush every file under ``root`` and its folders (small trees: metadata, coarse levels)."""
    for folder, _, names in os.walk(root, topdown=False):  # a folder after its contents
        for name in names:
            fsync_file(os.path.join(folder, name))
        fsync_dir(folder)


def write_durably(path: str | Path, data: bytes = b"") -> None:
    """Create or replace ``path`` with ``data`` and flush it and its folder.

    Parameters
    ----------
    path : str or Path
        The file.
    data : bytes
        Its content (empty: a marker file).
    """
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    fsync_dir(os.path.dirname(os.path.abspath(path)))


class BlockRecorder:
    """Records finished blocks (an empty file each in ``done_dir``) once their files are durable.

    Flushing runs in one background thread, in order, so the next block is computed meanwhile;
    a record is never written before its block's files are flushed. At most ``max_pending``
    blocks wait; a flush error (a full disk) is raised by the next :meth:`record` or by
    :meth:`wait`. Blocks not yet recorded when a run dies are simply computed again on resume.

    Parameters
    ----------
    done_dir : str or Path
        The folder of records (made with the first one).
    max_pending : int
        Blocks handed over but not yet recorded before :meth:`record` waits.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     recorder = BlockRecorder(os.path.join(tmp, "done"))
    ...     recorder.record([], "0_0")
    ...     recorder.close()
    ...     os.listdir(os.path.join(tmp, "done"))
    ['0_0']
    """

    def __init__(self, done_dir: str | Path, max_pending: int = 2) -> None:
        self.done_dir = Path(done_dir)
        self.max_pending = max_pending
        self._pool: Any = None
        self._pending: deque = deque()

    def record(self, files: list[str], key: str, roots: Iterable[str | Path] = ()) -> None:
        """Flush ``files`` (and their folders up to ``roots``), then record block ``key``.

        Runs in the background; see :func:`fsync_all` for ``files`` and ``roots``.

        Raises
        ------
        OSError
            A flush or record error of an earlier block (e.g. a full disk).
        """
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="napari-colorize-flush")
        self._pending.append(self._pool.submit(self._record, files, key, list(roots)))
        while self._pending and (self._pending[0].done()
                                 or len(self._pending) > self.max_pending):
            self._pending.popleft().result()

    def _record(self, files: list[str], key: str, roots: list) -> None:
        fsync_all(files, roots)
        if not self.done_dir.is_dir():
            self.done_dir.mkdir(exist_ok=True)
            fsync_dir(self.done_dir.parent)
        write_durably(self.done_dir / key)

    def wait(self) -> None:
        """Return once every block handed over is recorded.

        Raises
        ------
        OSError
            The first flush or record error.
        """
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        """Record what is pending (an interrupted run keeps those blocks), stop the thread."""
        try:
            self.wait()
        except Exception:  # not recorded: those blocks are computed again on resume
            self._pending.clear()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
