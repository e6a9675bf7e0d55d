"""The sizes a run plans: ``tile_size="auto"``, the batch and the block (:func:`resolve_config`).

``tile_size="auto"`` is the tile side that computes the fewest pixels for the overlap.

Tiles overlap, and the last tile of an axis is shifted inward, so a fixed tile computes more
pixels than the plane has: 25 tiles of 512^2 for a 2048^2 plane at overlap 64 are 6.6 MP for
4.2 MP. The planner tries every tile side the model accepts (a multiple of its divisor, from its
minimum to a per-device memory budget) and keeps the one whose plan computes the fewest pixels,
counting each tile once per block it touches (as the engine runs them) plus a fixed cost per
model call. Everything downstream is the ordinary plan for that tile size, so every guarantee
of a fixed tile size holds (tiled equals whole, blocks, resume, planes). The choice depends on
the plane, the overlap, the model and the device type, not on ``block_size``: a run cut into
smaller blocks computes the same tiles, so its output is byte-identical.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import cast

import torch

from ..models.spec import ColorModel, ModelSpec
from .config import BLOCK_SIZE, GPU_BLOCK_SIZE, ColorizeConfig
from .tiling import AxisPlan, BlockGrid, plan_blocks
from .validation import check_tiling

#: Largest tile "auto" picks, in pixels per tile, by device type: a CPU batch of 4 such tiles
#: of the default network needs about 0.7 GB; a GPU's memory takes larger tiles.
MAX_TILE_PIXELS = {"cpu": 1152 * 1152, "cuda": 2048 * 2048}
#: What one more tile costs beyond its pixels (a model call's fixed work, edges), in pixels.
TILE_COST = 128 * 128
#: The tile side used when the plane is not known yet (e.g. to size a GPU batch).
DEFAULT_TILE = 512


def plan_cost(plane: tuple[int, int], tile: int, overlap: int, spec: ModelSpec,
              block_size: int, constant: bool = False) -> tuple[int, int]:
    """Pixels a plan computes for one plane, and its tiles (each counted per block it touches).

    Examples
    --------
    >>> spec = ModelSpec("m")
    >>> plan_cost((2048, 2048), 512, 64, spec, 4096)
    (6553600, 25)
    >>> plan_cost((2048, 2048), 1056, 64, spec, 4096)
    (4460544, 4)
    """
    shape, _, blocks = plane_grid(plane, tile, overlap, spec, block_size, constant)
    n = blocks.n_tiles
    return n * shape[0] * shape[1], n


def plane_grid(plane: tuple[int, int], tile_size: int, overlap: int, spec: ModelSpec,
               block_size: int, constant: bool = False
               ) -> tuple[tuple[int, int], tuple[int, int], BlockGrid]:
    """Lay out one plane: its tile shape, the padded plane the tiles cover, and the blocks.

    Examples
    --------
    >>> shape, padded, blocks = plane_grid((100, 3000), 512, 64, ModelSpec("m"), 4096)
    >>> shape, padded, len(blocks), blocks.n_tiles
    ((128, 512), (128, 3000), 1, 7)
    """
    shape = tile_shape(plane, tile_size, spec)
    padded = (max(plane[0], shape[0]), max(plane[1], shape[1]))
    rows, cols = AxisPlan(padded[0], shape[0], overlap), AxisPlan(padded[1], shape[1], overlap)
    return shape, padded, plan_blocks(plane, rows, cols, block_size, constant)


def tile_shape(plane: tuple[int, int], tile_size: int, spec: ModelSpec) -> tuple[int, int]:
    """Per-axis tile size: ``tile_size``, or the plane rounded up to the divisor if smaller.

    Examples
    --------
    >>> tile_shape((100, 3000), 512, ModelSpec("m"))
    (128, 512)
    """

    def side(n: int) -> int:
        if n >= tile_size:
            return tile_size
        return max(spec.min_tile, math.ceil(n / spec.divisor) * spec.divisor)

    return (side(plane[0]), side(plane[1]))


def auto_tile_size(plane: tuple[int, int] | None, overlap: int, spec: ModelSpec,
                   device_type: str = "cpu", constant: bool = False) -> int:
    """Pick the tile side that computes the fewest pixels (plus :data:`TILE_COST` per tile).

    Parameters
    ----------
    plane : tuple of int or None
        Rows and columns of a plane; ``None``: :data:`DEFAULT_TILE`.
    overlap : int
        Pixels shared by neighbouring tiles.
    spec : ModelSpec
        The model's divisor and minimum tile.
    device_type : str
        ``"cpu"``, ``"cuda"``, ...: sets the memory budget (:data:`MAX_TILE_PIXELS`) and the
        block size the cost counts (the device's default; tiles on block edges are computed
        once per block).
    constant : bool
        Constant blending (blocks need fewer edge tiles).

    Returns
    -------
    int
        A multiple of the divisor, at least the minimum tile and above twice the overlap.

    Examples
    --------
    >>> spec = ModelSpec("m")  # divisor 32
    >>> auto_tile_size((2048, 2048), 64, spec)  # 4 tiles, 4.5 MP instead of 6.6
    1056
    >>> auto_tile_size((1024, 1024), 64, spec)  # the plane in one tile
    1024
    >>> auto_tile_size((3000, 200), 64, spec)
    1056
    """
    div = spec.divisor
    smallest = max(spec.min_tile, (2 * overlap // div + 1) * div)
    if plane is None:
        return max(smallest, DEFAULT_TILE)
    budget = MAX_TILE_PIXELS.get(device_type, MAX_TILE_PIXELS["cpu"])
    block_size = GPU_BLOCK_SIZE if device_type == "cuda" else BLOCK_SIZE
    largest = max(smallest, math.isqrt(budget) // div * div)
    # beyond the plane's rounded-up size a larger tile changes nothing
    largest = min(largest, max(smallest, math.ceil(max(plane) / div) * div))
    best: tuple[int, int] | None = None
    for tile in range(smallest, largest + 1, div):
        pixels, n = plan_cost(plane, tile, overlap, spec, block_size, constant)
        cost = pixels + n * TILE_COST
        if best is None or cost < best[0]:
            best = (cost, tile)
    assert best is not None
    return best[1]


def resolve_config(config: ColorizeConfig, net: ColorModel,
                   plane: tuple[int, int] | None = None) -> ColorizeConfig:
    """Resolve ``tile_size``, ``batch_size`` and ``block_size`` "auto" to numbers for ``net``.

    The result is the config a :class:`RunPlan` holds: the sizes are integers.

    Parameters
    ----------
    config : ColorizeConfig
        The settings.
    net : ColorModel
        The model, on its device (on CUDA, an "auto" batch runs it once to measure memory).
    plane : tuple of int, optional
        Rows and columns of the image's planes, for ``tile_size="auto"`` (without it:
        :data:`~napari_colorize.core.tile_plan.DEFAULT_TILE`).

    Returns
    -------
    ColorizeConfig
        ``config`` with integer ``tile_size``, ``batch_size`` and ``block_size``.

    Raises
    ------
    ValueError
        Tile settings the model cannot use.

    Examples
    --------
    >>> from napari_colorize.models.registry import load_model
    >>> net = load_model("he-histology", device="cpu")
    >>> resolved = resolve_config(ColorizeConfig(batch_size="auto"), net, (2048, 2048))
    >>> resolved.tile_size, resolved.batch_size, resolved.block_size
    (1056, 4, 4096)
    """
    spec = net.spec
    block = config.block_size
    if block == "auto":
        block = GPU_BLOCK_SIZE if net.device.type == "cuda" else BLOCK_SIZE
    tile = config.tile_size
    if tile == "auto":
        tile = auto_tile_size(plane, config.overlap, spec, net.device.type,
                              constant=config.blending == "constant")
    auto = config.batch_size == "auto"
    check_tiling(cast(int, tile), config.overlap, 1 if auto else config.batch_size,
                 spec.min_tile, spec.divisor)
    batch = auto_batch_size(net, int(tile)) if auto else config.batch_size  # runs it
    return replace(config, tile_size=tile, batch_size=batch, block_size=block)


def auto_batch_size(net: ColorModel, tile_size: int) -> int:
    """Choose the tiles per model call: 4 on CPU; on CUDA, what fits half the free memory.

    On CUDA the model runs once on a tile to measure its memory.

    Parameters
    ----------
    net : ColorModel
        The model, on its device.
    tile_size : int
        Tile side in pixels.

    Returns
    -------
    int
        1 to 64 on CUDA; 4 elsewhere.

    Examples
    --------
    >>> from napari_colorize.models.network import ChromaNet
    >>> from napari_colorize.models.spec import ColorModel, ModelSpec
    >>> auto_batch_size(ColorModel(ChromaNet((8, 8, 8, 8)), ModelSpec("tiny")), 512)
    4
    """
    if net.device.type != "cuda":
        return 4
    torch.cuda.synchronize(net.device)
    free, _ = torch.cuda.mem_get_info(net.device)
    torch.cuda.reset_peak_memory_stats(net.device)
    base = torch.cuda.memory_allocated(net.device)
    net(torch.zeros(1, 1, tile_size, tile_size))
    per_tile = max(1, torch.cuda.max_memory_allocated(net.device) - base)
    return int(max(1, min(64, free // 2 // per_tile)))
