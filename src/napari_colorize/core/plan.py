"""Plan a run: which tiles and blocks cover the image, from the settings and the model.

A :class:`RunPlan` is a few integers whatever the image's size; tiles and blocks are made on
demand. It is pure data (no model, no image), so it pickles to dask workers.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from ..models.spec import ModelSpec
from .config import ColorizeConfig
from .intensity import IntensityWindow
from .render import parse_palette
from .tiling import AxisPlan, Block, BlockGrid, TileSpec, make_tile, plan_blocks
from .validation import check_tiling


def _tile_shape(
    plane: tuple[int, int], tile_size: int, divisor: int, min_tile: int
) -> tuple[int, int]:
    """Per-axis tile size: ``tile_size``, or the plane rounded up to the divisor if smaller."""

    def side(n: int) -> int:
        return tile_size if n >= tile_size else max(min_tile, math.ceil(n / divisor) * divisor)

    return (side(plane[0]), side(plane[1]))


@dataclass(frozen=True)
class RunPlan:
    """Everything a process needs to compute any block of a run (picklable for dask workers).

    Tiles and blocks are made on demand from the per-axis plans (``blocks.rows``,
    ``blocks.cols``), so a plan is a few integers whatever the image's size.
    """

    shape: tuple[int, ...]
    blocks: BlockGrid
    padded: tuple[int, int]
    window: IntensityWindow
    config: ColorizeConfig
    kind: str = "chroma"
    outputs: int = 2
    palette: tuple = ()
    hints: dict = field(default_factory=dict)  # plane number -> HintField

    @property
    def planes(self) -> list[tuple[int, ...]]:
        return list(np.ndindex(*self.shape[:-2]))

    @property
    def n_planes(self) -> int:
        return math.prod(self.shape[:-2])

    @property
    def batch_size(self) -> int:
        """Tiles per model call (the config is resolved: never "auto")."""
        return cast(int, self.config.batch_size)

    @property
    def block_size(self) -> int:
        """Largest block side in pixels (the config is resolved: never "auto")."""
        return cast(int, self.config.block_size)

    @property
    def channels(self) -> int:
        """Model channels blended per block: the outputs, and the confidence if asked for."""
        return self.outputs + int(self.config.confidence)

    @property
    def tile_shape(self) -> tuple[int, int]:
        """Rows and columns every tile reads."""
        return (self.blocks.rows.size, self.blocks.cols.size)

    def tile(self, row: int, col: int) -> TileSpec:
        """The tile in row ``row``, column ``col`` of the tile grid."""
        return make_tile(self.blocks.rows[row], self.blocks.cols[col])

    def block_tiles(self, block: Block) -> list[TileSpec]:
        """The tiles touching ``block``, in plan order."""
        rows = [self.blocks.rows[r] for r in block.tile_rows]
        cols = [self.blocks.cols[c] for c in block.tile_cols]
        return [make_tile(r, c) for r, c in itertools.product(rows, cols)]

    def window_of(self, block: Block) -> tuple[slice, slice]:
        """The window all of ``block``'s tiles read (their bounding box)."""
        rows, cols = self.blocks.rows, self.blocks.cols
        return (slice(rows[block.tile_rows[0]][0], rows[block.tile_rows[-1]][1]),
                slice(cols[block.tile_cols[0]][0], cols[block.tile_cols[-1]][1]))

    def key(self, plane_no: int, block: Block) -> str:
        """Name of one block of one plane (resume markers)."""
        return f"{plane_no}-{block.key}"

    def tiles_of_key(self, key: str) -> int:
        """Tiles of the block a :meth:`key` names (0 for a name this plan does not make)."""
        try:
            plane_no, row, col = (int(v) for v in key.split("-"))
        except ValueError:
            return 0
        block = self.blocks.at(row, col) if 0 <= plane_no < self.n_planes else None
        return block.n_tiles if block is not None else 0


def make_plan(
    shape: tuple[int, ...], spec: ModelSpec, window: IntensityWindow, config: ColorizeConfig,
    palette: Any = None,
) -> RunPlan:
    """The tiles and blocks of a run on an image of ``shape`` (planes are the last two axes).

    ``config`` has its ``batch_size`` and ``block_size`` resolved to integers.

    Examples
    --------
    >>> from napari_colorize.core.intensity import IntensityWindow
    >>> config = ColorizeConfig(block_size=4096)
    >>> plan = make_plan((2048, 2048), ModelSpec("m"), IntensityWindow(0, 255), config)
    >>> plan.blocks.n_tiles, plan.tile_shape
    (25, (512, 512))
    >>> small = make_plan((2048, 2048), ModelSpec("m"), IntensityWindow(0, 255),
    ...                   ColorizeConfig(block_size=1024))
    >>> len(small.blocks), small.blocks.n_tiles  # tiles on block edges are computed twice
    (4, 36)
    """
    check_tiling(config.tile_size, config.overlap, config.batch_size, spec.min_tile,
                 spec.divisor)
    shape = tuple(int(s) for s in shape)
    plane = (shape[-2], shape[-1])
    tile = _tile_shape(plane, config.tile_size, spec.divisor, spec.min_tile)
    padded = (max(plane[0], tile[0]), max(plane[1], tile[1]))
    rows = AxisPlan(padded[0], tile[0], config.overlap)
    cols = AxisPlan(padded[1], tile[1], config.overlap)
    # ``config`` comes from resolve_config: its block_size is an int, never "auto"
    blocks = plan_blocks(plane, rows, cols, cast(int, config.block_size),
                         constant=config.blending == "constant")
    return RunPlan(shape, blocks, padded, window, config, spec.kind, spec.channels,
                   tuple(map(tuple, palette)) if palette is not None else ())




def model_palette(spec: ModelSpec, channels: bool, palette: Any) -> np.ndarray | None:
    """The palette of a channel (fractions) model, ``None`` for a colour (chroma) model;
    refuses options the model cannot honour."""
    if spec.kind == "chroma":
        for name, value in (("channels=True", channels), ("palette", palette)):
            if value not in (False, None):
                raise ValueError(
                    f"{name} needs a model that predicts channels (e.g. fluorescence-composite); "
                    f"{spec.name} predicts colour (chroma)"
                )
        return None
    return parse_palette(spec.palette if palette is None else palette, spec.channel_names)
