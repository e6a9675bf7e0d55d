"""tile_size="auto": the fewest computed pixels for the overlap, with every guarantee kept."""

from __future__ import annotations

import numpy as np
import pytest

from napari_colorize import colorize, iter_colorize
from napari_colorize.cli import build_parser
from napari_colorize.core.events import Progress
from napari_colorize.core.tile_plan import (
    MAX_TILE_PIXELS,
    TILE_COST,
    auto_tile_size,
    plan_cost,
)
from napari_colorize.models.spec import ModelSpec

SPEC = ModelSpec("m", divisor=32, min_tile=64)


def test_a_2048_plane_takes_four_tiles_of_1056():
    tile = auto_tile_size((2048, 2048), 64, SPEC)
    assert tile == 1056
    assert plan_cost((2048, 2048), tile, 64, SPEC, 4096) == (4 * 1056 * 1056, 4)
    assert plan_cost((2048, 2048), 512, 64, SPEC, 4096)[0] == 25 * 512 * 512


@pytest.mark.parametrize("plane", [(2048, 2048), (5000, 3000), (700, 9000), (300, 300),
                                   (20000, 20000), (1, 5000)])
@pytest.mark.parametrize("overlap", [0, 32, 64, 128])
def test_auto_is_the_cheapest_plan_within_the_budget(plane, overlap):
    tile = auto_tile_size(plane, overlap, SPEC)
    assert tile % 32 == 0
    assert tile > 2 * overlap
    assert tile >= 64
    assert tile * tile <= MAX_TILE_PIXELS["cpu"] or tile == max(64, (2 * overlap // 32 + 1) * 32)

    def cost(t):
        pixels, n = plan_cost(plane, t, overlap, SPEC, 4096)
        return pixels + n * TILE_COST

    candidates = [t for t in range(64, 1153, 32) if t > 2 * overlap]
    assert cost(tile) == min(cost(t) for t in candidates)
    if 512 in candidates:
        assert plan_cost(plane, tile, overlap, SPEC, 4096)[0] <= \
            plan_cost(plane, 512, overlap, SPEC, 4096)[0]


def test_a_gpu_takes_larger_tiles():
    assert auto_tile_size((4096, 4096), 64, SPEC, "cuda") > auto_tile_size((4096, 4096), 64, SPEC)


def test_progress_reports_the_plan(tiny_model):
    image = np.random.default_rng(0).integers(0, 255, (1500, 1300), np.uint8)
    gen = iter_colorize(image, tiny_model, domain_check=False)
    events = []
    try:
        while True:
            events.append(next(gen))
    except StopIteration:
        pass
    progress = [e for e in events if isinstance(e, Progress)]
    side = auto_tile_size((1500, 1300), 64, tiny_model.spec)
    assert progress[-1].tile == (side, side) == (800, 800)  # 2 x 2 tiles
    assert progress[-1].total == 4
    assert progress[-1].computed_mp == pytest.approx(4 * 800 * 800 / 1e6, abs=0.01)


def test_auto_tiles_keep_blocks_and_outputs_identical(tiny_model, tmp_path):
    image = np.random.default_rng(1).integers(0, 255, (1500, 1300), np.uint8)
    whole = colorize(image, tiny_model).rgb
    blocks = colorize(image, tiny_model, block_size=512).rgb
    np.testing.assert_array_equal(whole, blocks)
    stored = colorize(image, tiny_model, out=tmp_path / "o.ome.zarr").rgb
    np.testing.assert_array_equal(np.moveaxis(np.asarray(stored), 0, -1), whole)
    fixed = colorize(image, tiny_model, tile_size=704).rgb
    assert not np.array_equal(fixed, whole)  # the planner did pick another size


def test_cli_takes_auto_and_sizes():
    parser = build_parser()
    assert parser.parse_args(["colorize", "a.tif", "b.tif", "--tile-size", "auto"]).tile_size \
        == "auto"
    assert parser.parse_args(["colorize", "a.tif", "b.tif", "--tile-size", "256"]).tile_size \
        == 256
