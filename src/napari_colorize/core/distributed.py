"""Spread a run's blocks over a dask.distributed cluster.

Workers compute blocks with the same :class:`~napari_colorize.core.blocks.BlockRunner` as a local
run and send the finished sRGB blocks back; this process writes them, so the output needs no
shared file system and has one writer. Each worker loads the model and opens the image once.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import socket
from collections.abc import Iterable, Iterator
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..io.readers import open_image
from ..models.resolve import resolve_model
from .blocks import BlockResult, BlockRunner, TilesDone
from .tiling import Block

#: Seconds to wait for a scheduler before giving up.
CONNECT_TIMEOUT = 10
#: Tiles per task: enough to fill a few batches, small enough to balance the workers.
TILES_PER_TASK = 16

#: Models and images a worker keeps open between tasks (least recently used dropped first).
CACHE_SIZE = 4


class SchedulerLost(ConnectionError):
    """The dask cluster went away during a run; an OME-Zarr output stays resumable."""


def connect(scheduler: Any) -> Any:
    """Connect to a dask scheduler, or take a Client as it is; fails within 10 s.

    Parameters
    ----------
    scheduler : distributed.Client or str
        A Client, or a scheduler address such as ``"tcp://host:8786"``.

    Returns
    -------
    distributed.Client
        ``scheduler`` itself, or a new Client (the caller closes it).

    Raises
    ------
    ValueError
        dask.distributed is not installed, ``scheduler`` is neither a Client nor an address,
        or the scheduler did not answer within ``CONNECT_TIMEOUT`` seconds.

    Examples
    --------
    >>> from distributed import Client
    >>> with Client(processes=False, dashboard_address=":0") as client:
    ...     connect(client) is client
    True
    >>> connect(8786)
    Traceback (most recent call last):
    ...
    ValueError: scheduler must be a dask.distributed Client or an address such as ...; got int
    """
    try:
        from distributed import Client
    except ModuleNotFoundError as exc:
        if exc.name != "distributed":
            raise
        raise ValueError('a scheduler needs dask.distributed: pip install '
                         '"napari-colorize[distributed]"') from None

    if isinstance(scheduler, Client):
        return scheduler
    if not isinstance(scheduler, str):
        raise ValueError(
            f"scheduler must be a dask.distributed Client or an address such as "
            f"'tcp://host:8786'; got {type(scheduler).__name__}"
        )
    if ":" not in scheduler:  # e.g. "processes": dask would say "missing port number"
        raise ValueError(f"scheduler {scheduler!r} is not an address such as 'tcp://host:8786' "
                         "(start one with dask-scheduler, or pass a Client in Python)")
    _probe(scheduler)
    try:
        return Client(scheduler, timeout=f"{CONNECT_TIMEOUT}s")
    except (OSError, TimeoutError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ValueError(
            f"dask scheduler {scheduler} did not answer within {CONNECT_TIMEOUT} s: {first}"
        ) from None


def _probe(address: str) -> None:
    """Check that a ``tcp://`` address speaks first, as a dask scheduler does on a new connection.

    dask's own timeout covers the TCP connect, not the handshake: a port that accepts and then
    waits (a dashboard's, a web server's) would hang the Client, or feed it an HTTP reply as a
    frame length. Other schemes (tls, ucx, inproc) are left to dask.
    """
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number: dask names it
        return
    if parts.scheme != "tcp" or not host or port is None:
        return
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT) as sock:
            sock.settimeout(CONNECT_TIMEOUT)
            spoke = sock.recv(1)
    except TimeoutError:
        spoke = b""
    except OSError as exc:
        raise ValueError(f"dask scheduler {address} did not answer within {CONNECT_TIMEOUT} s: "
                         f"{exc.strerror or exc}") from None
    if not spoke:
        raise ValueError(f"{address} did not answer as a dask scheduler within {CONNECT_TIMEOUT}"
                         " s (is it a dask scheduler's port, not a dashboard's?)")


@functools.lru_cache(maxsize=CACHE_SIZE)
def _load_model(name: str | None, device: str, precision: str) -> Any:
    return resolve_model(name, device, precision)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _open_path(path: str, size: int, mtime_ns: int) -> Any:
    # keyed on size and mtime: a rewritten input is opened again, never served from the old map
    return open_image(path)


def worker_model(model: Any, device: str, precision: str) -> Any:
    """Get the model on this worker's ``device``.

    A name is loaded once per worker (kept in a small cache); a shipped model is used on the
    right device (see :func:`~napari_colorize.models.resolve.resolve_model`).

    Parameters
    ----------
    model : str, path, ColorModel or None
        A model name or weights path (``None``: the default model), or a model.
    device : str
        ``"auto"`` (the worker's best device), ``"cpu"``, ``"cuda"``, ...
    precision : {"auto", "fp32", "bf16"}
        The network's arithmetic.

    Returns
    -------
    ColorModel
        The model on ``device``.

    Examples
    --------
    >>> net = worker_model("he-histology", "cpu", "auto")
    >>> net.spec.name, net.device.type
    ('he-histology', 'cpu')
    >>> worker_model("he-histology", "cpu", "auto") is net  # loaded once per worker
    True
    """
    if isinstance(model, (str, Path, type(None))):
        return _load_model(None if model is None else str(model), device, precision)
    return resolve_model(model, device, precision)


def worker_image(source: Any) -> Any:
    """Open ``source`` on this worker (a path is opened once while it is unchanged).

    Parameters
    ----------
    source : path or array-like
        A path shipped to the worker, or an array (used as it is).

    Returns
    -------
    array-like
        The opened image.

    Raises
    ------
    ValueError
        The worker cannot read the path.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((8, 8), np.uint8)
    >>> worker_image(image) is image
    True
    >>> worker_image("/no/such/image.tif")
    Traceback (most recent call last):
    ...
    ValueError: worker cannot read /no/such/image.tif: No such file or directory
    """
    if not isinstance(source, (str, Path)):
        return source
    try:
        stat = os.stat(source)
    except OSError as exc:
        raise ValueError(f"worker cannot read {source}: {exc.strerror or exc}") from None
    return _open_path(str(source), stat.st_size, stat.st_mtime_ns)


def compute_blocks(source: Any, model: Any, device: str, plan: Any, jobs: list) -> list:
    """Compute blocks on a worker (the task :func:`run_distributed` submits).

    Parameters
    ----------
    source : path or array-like
        The input (see :func:`worker_image`).
    model : str, path, ColorModel or None
        The model (see :func:`worker_model`).
    device : str
        Where the worker runs the model.
    plan : RunPlan
        The run's plan.
    jobs : list of (int, Block)
        ``(plane, block)`` pairs.

    Returns
    -------
    list of BlockResult
        One per job, in order.

    Examples
    --------
    See :func:`run_distributed`; it also runs in this process:

    >>> import numpy as np
    >>> from napari_colorize.core.config import ColorizeConfig
    >>> from napari_colorize.core.intensity import IntensityWindow
    >>> from napari_colorize.core.plan import make_plan
    >>> from napari_colorize.models.spec import ModelSpec
    >>> gray = np.full((64, 64), 128, np.uint8)
    >>> plan = make_plan(gray.shape, ModelSpec("he-histology"), IntensityWindow(0, 255),
    ...                  ColorizeConfig(tile_size=64, overlap=16, block_size=64))
    >>> results = compute_blocks(gray, "he-histology", "cpu", plan, [(0, plan.blocks[0])])
    >>> [(r.block.key, r.rgb.shape) for r in results]
    [('0-0', (64, 64, 3))]
    """
    import dask

    net = worker_model(model, device, plan.config.precision)
    image = worker_image(source)
    with dask.config.set(scheduler="sync"):  # a dask input is computed inside this task
        runner = BlockRunner(image, net, plan)
        return [event for event in runner.run(jobs) if isinstance(event, BlockResult)]


def _tasks(jobs: Iterable[tuple[int, Block]], tiles_per_task: int) -> Iterator[list]:
    task, count = [], 0
    for job in jobs:
        task.append(job)
        count += job[1].n_tiles
        if count >= tiles_per_task:
            yield task
            task, count = [], 0
    if task:
        yield task


def run_distributed(
    client: Any, source: Any, model: Any, net: Any, plan: Any,
    jobs: Iterable[tuple[int, Block]], device: str = "auto",
) -> Iterator[Any]:
    """Compute blocks on a dask cluster, yielding the engine's events as tasks finish.

    Each worker runs on ``device`` as it resolves there ("auto": its own GPU, else its CPU).
    At most two tasks per worker thread are in flight, so finished blocks never pile up here.
    Tasks still pending when the generator is closed are cancelled.

    Parameters
    ----------
    client : distributed.Client
        The cluster.
    source : path or array-like
        The input: a path is opened by each worker, an array is scattered to them.
    model : str, path, ColorModel or None
        What the caller passed: a name or path is loaded by each worker; otherwise ``net`` is
        scattered to them.
    net : ColorModel
        The model loaded here.
    plan : RunPlan
        The run's plan.
    jobs : iterable of (int, Block)
        ``(plane, block)`` pairs, in order.
    device : str
        Where the workers run the model.

    Yields
    ------
    BlockResult or TilesDone
        Each finished block, then the tiles it took.

    Examples
    --------
    >>> import numpy as np
    >>> from distributed import Client
    >>> from napari_colorize.core.config import ColorizeConfig
    >>> from napari_colorize.core.intensity import IntensityWindow
    >>> from napari_colorize.core.plan import make_plan
    >>> from napari_colorize.models.registry import load_model
    >>> net = load_model("he-histology", device="cpu")
    >>> gray = np.full((64, 128), 128, np.uint8)
    >>> plan = make_plan(gray.shape, net.spec, IntensityWindow(0, 255),
    ...                  ColorizeConfig(tile_size=64, overlap=16, block_size=64))
    >>> jobs = ((0, block) for block in plan.blocks)
    >>> with Client(processes=False, dashboard_address=":0") as client:
    ...     events = list(run_distributed(client, gray, "he-histology", net, plan, jobs, "cpu"))
    >>> [type(event).__name__ for event in events]
    ['BlockResult', 'TilesDone', 'BlockResult', 'TilesDone']
    """
    from distributed import as_completed

    device = str(device)
    # hash=False: each run scatters its own copy; a key named by content would let this run
    # pick up the copy an earlier run is releasing ("lost dependencies")
    try:
        shipped_model = model if isinstance(model, (str, Path, type(None))) else client.scatter(
            net, broadcast=True, hash=False)
        shipped_image = source if isinstance(source, (str, Path)) else client.scatter(
            source, broadcast=True, hash=False)
        tasks = _tasks(jobs, TILES_PER_TASK)
        window = max(2, 2 * sum(client.nthreads().values()))
        futures = [
            client.submit(compute_blocks, shipped_image, shipped_model, device, plan, task,
                          pure=False)
            for task in itertools.islice(tasks, window)
        ]
    except Exception as exc:
        if client.status == "running":
            raise
        # gone between planning and the first block (dask then fails on a missing connection)
        raise SchedulerLost(f"lost the dask cluster during the run (client {client.status}: "
                            f"{type(exc).__name__})") from None
    pending = as_completed(futures)
    try:
        for future in pending:
            try:
                results = future.result()
            except (CancelledError, OSError) as exc:  # the scheduler or its workers went away
                text = " ".join(str(exc).split()).split(". ")[0][:160]
                raise SchedulerLost(f"lost the dask cluster during the run ({text})") from None
            future.release()
            for task in itertools.islice(tasks, 1):
                pending.add(client.submit(compute_blocks, shipped_image, shipped_model, device,
                                          plan, task, pure=False))
            for result in results:
                yield result
                yield TilesDone(result.plane, result.block.n_tiles)
    finally:
        with contextlib.suppress(Exception):  # a lost cluster cannot cancel anything
            client.cancel([f for f in pending.futures if not f.done()])
