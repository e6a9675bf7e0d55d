"""Spread a run's blocks over a dask.distributed cluster.

Workers compute blocks with the same :class:`~napari_colorize.core.blocks.BlockRunner` as a local
run and send the finished sRGB blocks back; this process writes them, so the output needs no
shared file system and has one writer. Each worker loads the model and opens the image once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Seconds to wait for a scheduler before giving up.
CONNECT_TIMEOUT = 10
#: Tiles per task: enough to fill a few batches, small enough to balance the workers.
TILES_PER_TASK = 16

_models: dict[tuple, Any] = {}
_images: dict[str, Any] = {}


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


def _worker_model(model: Any, device: str) -> Any:
    """The model on this worker's ``device`` ("auto": its best one), loaded once per worker."""
    from ..models.registry import resolve_device
    from .engine import resolve_model

    if not isinstance(model, (str, Path, type(None))):
        return model.to(resolve_device(device))  # a ColorModel shipped by the client
    key = (str(model), device)
    if key not in _models:
        _models[key] = resolve_model(model, device)
    return _models[key]


def _worker_image(source: Any) -> Any:
    from .engine import open_image

    if not isinstance(source, (str, Path)):
        return source
    if str(source) not in _images:
        _images[str(source)] = open_image(source)
    return _images[str(source)]


def compute_blocks(source: Any, model: Any, device: str, plan: Any, jobs: list) -> list:
    """Run on a worker: the :class:`BlockResult` of each ``(plane, block)`` job."""
    import dask

    from .blocks import BlockResult, BlockRunner

    net = _worker_model(model, device)
    image = _worker_image(source)
    with dask.config.set(scheduler="sync"):  # a dask input is computed inside this task
        runner = BlockRunner(image, net, plan)
        return [event for event in runner.run(jobs) if isinstance(event, BlockResult)]


def _tasks(jobs: list, tiles_per_task: int) -> Iterator[list]:
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
    client: Any, source: Any, model: Any, net: Any, plan: Any, jobs: list, device: str = "auto"
) -> Iterator[Any]:
    """Yield the engine's events (:class:`TilesDone`, :class:`BlockResult`) as tasks finish.

    Each worker runs on ``device`` as it resolves there ("auto": its own GPU, else its CPU).
    At most two tasks per worker thread are in flight, so finished blocks never pile up here.
    """
    from distributed import as_completed

    from .blocks import TilesDone

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
