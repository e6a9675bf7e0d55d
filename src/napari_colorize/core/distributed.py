"""Spread a run's blocks over a dask.distributed cluster.

Workers compute blocks with the same :class:`~napari_colorize.core.blocks.BlockRunner` as a local
run and send the finished sRGB blocks back; this process writes them, so the output needs no
shared file system and has one writer. Each worker loads the model and opens the image once.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..io.readers import open_image
from ..models.registry import resolve_model
from .blocks import BlockResult, BlockRunner, TilesDone
from .tiling import Block

#: Seconds to wait for a scheduler before giving up.
CONNECT_TIMEOUT = 10
#: Tiles per task: enough to fill a few batches, small enough to balance the workers.
TILES_PER_TASK = 16

#: Models and images a worker keeps open between tasks (least recently used dropped first).
CACHE_SIZE = 4

def connect(scheduler: Any) -> Any:
    """A ``distributed.Client`` from a Client or a scheduler address; fails within 10 s."""
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
    try:
        return Client(scheduler, timeout=f"{CONNECT_TIMEOUT}s")
    except (OSError, TimeoutError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ValueError(
            f"dask scheduler {scheduler} did not answer within {CONNECT_TIMEOUT} s: {first}"
        ) from None


@functools.lru_cache(maxsize=CACHE_SIZE)
def _load_model(name: str | None, device: str, precision: str) -> Any:
    return resolve_model(name, device, precision)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _open_path(path: str, size: int, mtime_ns: int) -> Any:
    # keyed on size and mtime: a rewritten input is opened again, never served from the old map
    return open_image(path)


def worker_model(model: Any, device: str, precision: str) -> Any:
    """The model on this worker's ``device`` ("auto": its best one); a name is loaded once per
    worker, a shipped model is used on the right device (see :func:`resolve_model`)."""
    if isinstance(model, (str, Path, type(None))):
        return _load_model(None if model is None else str(model), device, precision)
    return resolve_model(model, device, precision)


def worker_image(source: Any) -> Any:
    """``source`` opened on this worker (a path is opened once while it is unchanged)."""
    if not isinstance(source, (str, Path)):
        return source
    try:
        stat = os.stat(source)
    except OSError as exc:
        raise ValueError(f"worker cannot read {source}: {exc.strerror or exc}") from None
    return _open_path(str(source), stat.st_size, stat.st_mtime_ns)


def compute_blocks(source: Any, model: Any, device: str, plan: Any, jobs: list) -> list:
    """Run on a worker: the :class:`BlockResult` of each ``(plane, block)`` job."""
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
    """Yield the engine's events (:class:`TilesDone`, :class:`BlockResult`) as tasks finish.

    Each worker runs on ``device`` as it resolves there ("auto": its own GPU, else its CPU).
    At most two tasks per worker thread are in flight, so finished blocks never pile up here.
    """
    from distributed import as_completed

    device = str(device)
    shipped_model = model if isinstance(model, (str, Path, type(None))) else client.scatter(
        net, broadcast=True)
    shipped_image = source if isinstance(source, (str, Path)) else client.scatter(
        source, broadcast=True)
    tasks = _tasks(jobs, TILES_PER_TASK)
    window = max(2, 2 * sum(client.nthreads().values()))
    futures = [
        client.submit(compute_blocks, shipped_image, shipped_model, device, plan, task, pure=False)
        for task in itertools.islice(tasks, window)
    ]
    pending = as_completed(futures)
    try:
        for future in pending:
            results = future.result()
            future.release()
            for task in itertools.islice(tasks, 1):
                pending.add(client.submit(compute_blocks, shipped_image, shipped_model, device,
                                          plan, task, pure=False))
            for result in results:
                yield result
                yield TilesDone(result.plane, result.block.n_tiles)
    finally:
        client.cancel([f for f in pending.futures if not f.done()])
