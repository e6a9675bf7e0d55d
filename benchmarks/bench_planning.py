"""Time tile and block planning on huge declared planes (nothing is read); prints JSON.

Planning is per axis and on demand: ``make_plan`` costs the same for any plane size, and
enumerating blocks or their tiles is linear in what a run computes.

    python benchmarks/bench_planning.py
"""

from __future__ import annotations

import json
import pickle
import time

import numpy as np

from napari_colorize.core.config import ColorizeConfig
from napari_colorize.core.intensity import IntensityWindow
from napari_colorize.core.plan import make_plan
from napari_colorize.models.spec import ModelSpec


class Declared:
    """Only a shape and a dtype: planning never reads pixels."""

    dtype = np.dtype(np.uint8)

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape


def seconds(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def measure(side: int) -> dict:
    """Planning figures for a ``side`` x ``side`` uint8 plane, tiles 512, overlap 64."""
    config = ColorizeConfig(tile_size=512, overlap=64, block_size=4096)
    image = Declared((side, side))
    t_plan, plan = seconds(lambda: make_plan(image.shape, ModelSpec("x"), IntensityWindow(0, 255),
                                             config))
    t_count, n_tiles = seconds(lambda: plan.blocks.n_tiles)
    row = {"side": side, "blocks": len(plan.blocks), "tiles_run": n_tiles,
           "make_plan_s": round(t_plan, 6), "count_tiles_s": round(t_count, 4),
           "plan_pickle_bytes": len(pickle.dumps(plan))}
    if side <= 150_000:  # building every TileSpec a run uses: linear in the tiles run
        t_all, built = seconds(lambda: sum(len(plan.block_tiles(b)) for b in plan.blocks))
        row.update(build_all_tiles_s=round(t_all, 3), tiles_built=built)
    return row


def main() -> None:
    print(json.dumps([measure(side) for side in (150_000, 1_000_000)], indent=1))


if __name__ == "__main__":
    main()
