"""One writer per OME-Zarr output: a lock file inside the store, stale once its writer is gone.

The lock records the writer's pid, host name and process start time. On the same host a lock is
live while that process runs (the start time tells a reused pid apart); a lock from another host
cannot be checked from here and is taken as live, with the file named so the user can remove it.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

#: The lock file inside an output store while a run writes it.
LOCK_NAME = ".napari_colorize.lock"


def _me() -> dict:
    import psutil

    return {"pid": os.getpid(), "host": socket.gethostname(),
            "started": psutil.Process().create_time()}


def _bytes(lock: Path) -> bytes | None:
    try:
        return lock.read_bytes()
    except OSError:
        return None


def _read(lock: Path) -> dict | None:
    try:
        info = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None  # unreadable or half-written: its writer died before finishing it
    return info if isinstance(info, dict) else None


def _alive(info: dict) -> bool:
    """Whether the process that wrote a lock still runs (other hosts: assumed so)."""
    import psutil

    if info.get("host") != socket.gethostname():
        return True
    pid = info.get("pid")
    if not isinstance(pid, int) or not psutil.pid_exists(pid):
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        started = info.get("started")
        return not isinstance(started, (int, float)) or abs(proc.create_time() - started) < 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # someone else's process with that pid: cannot tell
        return True


def check_free(store: str | Path) -> None:
    """Refuse a store that a live run holds (stale locks are ignored).

    Parameters
    ----------
    store : str or Path
        The output store (a folder; the lock file is inside it).

    Raises
    ------
    ValueError
        If a running process holds the lock: its pid, host and start time, and the lock file
        to delete if that run is gone.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as store:
    ...     check_free(store)  # no lock: free
    """
    lock = Path(store) / LOCK_NAME
    if not lock.is_file():
        return
    info = _read(lock)
    if info is None or not _alive(info):
        return
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.get("started") or 0))
    raise ValueError(
        f"output {store} is being written by another run (process {info.get('pid')} on "
        f"{info.get('host')}, started {when}); wait for it to finish or stop it (if that run "
        f"is gone, delete {lock})"
    )


class OutputLock:
    """The lock of one output store, taken by :meth:`acquire` (a stale lock is taken over).

    Parameters
    ----------
    store : str or Path
        The output store; it must exist before :meth:`acquire`.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as store:
    ...     lock = OutputLock(store)
    ...     lock.acquire()
    ...     try:
    ...         check_free(store)
    ...     except ValueError as exc:
    ...         print("refused:", "being written by another run" in str(exc))
    ...     lock.release()
    ...     check_free(store)
    refused: True
    """

    def __init__(self, store: str | Path) -> None:
        self.path = Path(store) / LOCK_NAME
        self.held = False

    def acquire(self) -> None:
        """Take the lock, published whole in one step.

        Raises
        ------
        ValueError
            If another live run holds it, or takes it first.
        """
        check_free(self.path.parent)  # a live run's lock is refused; a stale one is taken over
        stale = _bytes(self.path)
        if stale is not None and _bytes(self.path) == stale:  # not replaced meanwhile
            self.path.unlink(missing_ok=True)
        # Published whole (written aside, then linked in one step): another run never reads a
        # half-written lock, and of two runs linking at once only one succeeds.
        tmp = self.path.with_name(f"{LOCK_NAME}.{os.getpid()}.{threading.get_ident()}")
        try:
            with open(tmp, "wb") as f:
                f.write(json.dumps(_me()).encode())
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, self.path)
            except FileExistsError:  # another run took it between the check and now
                check_free(self.path.parent)
                raise ValueError(
                    f"output {self.path.parent} is being written by another run") from None
            except OSError:  # no hard links on this filesystem: an exclusive rename instead
                if self.path.exists():
                    raise ValueError(
                        f"output {self.path.parent} is being written by another run") from None
                os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        self.held = True

    def release(self) -> None:
        """Remove the lock if this object holds it (again and again is fine)."""
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
