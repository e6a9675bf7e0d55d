"""Make the files a run wrote durable (fsync), on every platform.

Only the files named are flushed, never the whole machine's file systems. Folders are flushed
too where the platform allows it (POSIX); Windows cannot open a folder for flushing and commits
directory entries with the file itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

#: Whether folders can be opened and flushed (POSIX); Windows cannot.
CAN_SYNC_DIRS = os.name != "nt"


def fsync_file(path: str | Path) -> bool:
    """Flush one file's data to disk; ``False`` if it is not there (e.g. a chunk left out
    because it holds only the fill value)."""
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


def fsync_all(files: Iterable[str | Path]) -> None:
    """Flush ``files`` (missing ones skipped), then the folders holding them."""
    folders = set()
    for path in files:
        if fsync_file(path):
            folders.add(os.path.dirname(os.path.abspath(path)))
    for folder in sorted(folders):
        fsync_dir(folder)


def fsync_tree(root: str | Path) -> None:
    """Flush every file under ``root`` and its folders (small trees: metadata, coarse levels)."""
    files = []
    for folder, _, names in os.walk(root):
        files += [os.path.join(folder, name) for name in names]
        fsync_dir(folder)
    fsync_all(files)


def write_durably(path: str | Path, data: bytes = b"") -> None:
    """Create or replace ``path`` with ``data`` and flush it and its folder."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    fsync_dir(os.path.dirname(os.path.abspath(path)))
