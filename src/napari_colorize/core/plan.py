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
from .tile_plan import plane_grid
from .tiling import Block, BlockGrid
from .validation import check_tiling
from .windows import TileSpec, make_tile


@dataclass(frozen=True)
class RunPlan:
    """Everything a process needs to compute any block of a run (picklable for dask workers).

    Tiles and blocks are made on demand from the per-axis plans (``blocks.rows``,
    ``blocks.cols``), so a plan is a few integers whatever the image's size. Make one with
    :func:`make_plan`.

    Parameters
    ----------
    shape : tuple of int
        The image's shape; planes are the last two axes.
    blocks : BlockGrid
        The blocks of a plane, with the tile plans of its axes.
    padded : tuple of int
        The plane's size padded to at least one tile.
    window : IntensityWindow
        The stack's intensity window.
    config : ColorizeConfig
        The run's settings, resolved: ``batch_size`` and ``block_size`` are integers.
    kind : {"chroma", "fractions"}
        What the model predicts.
    outputs : int
        Model output channels (without the confidence).
    palette : tuple
        One RGB colour per channel of a fractions model.
    hints : dict
        Plane number -> :class:`~napari_colorize.core.hint_field.HintField`.

    Examples
    --------
    >>> from napari_colorize.core.intensity import IntensityWindow
    >>> config = ColorizeConfig(tile_size=256, block_size=512)
    >>> plan = make_plan((3, 600, 700), ModelSpec("m"), IntensityWindow(0, 255), config)
    >>> plan.n_planes, plan.planes[-1], plan.tile_shape, plan.batch_size, plan.block_size
    (3, (2,), (256, 256), 4, 512)
    >>> block = plan.blocks[1]
    >>> plan.key(2, block), plan.tiles_of_key("2-0-512"), len(plan.block_tiles(block))
    ('2-0-512', 6, 6)
    >>> plan.window_of(block)
    (slice(0, 600, None), slice(384, 700, None))
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
    reference: Any = None  # a ReferenceMap: the lab's chroma mapping, or None
    restain: Any = None  # a Restain: the named stain's rendering, or None

    @property
    def planes(self) -> list[tuple[int, ...]]:
        """Indices of every plane into the leading axes, in C order (``[()]`` for 2-D)."""
        return list(np.ndindex(*self.shape[:-2]))

    @property
    def n_planes(self) -> int:
        """Number of planes."""
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
        """Make the tile in row ``row``, column ``col`` of the tile grid.

        Parameters
        ----------
        row, col : int
            Indices into the row and column tile plans.

        Returns
        -------
        TileSpec
            The tile.
        """
        return make_tile(self.blocks.rows[row], self.blocks.cols[col])

    def block_tiles(self, block: Block) -> list[TileSpec]:
        """Make the tiles touching ``block``, in plan order.

        Parameters
        ----------
        block : Block
            A block of this plan.

        Returns
        -------
        list of TileSpec
            Its tiles, row-major.
        """
        rows = [self.blocks.rows[r] for r in block.tile_rows]
        cols = [self.blocks.cols[c] for c in block.tile_cols]
        return [make_tile(r, c) for r, c in itertools.product(rows, cols)]

    def window_of(self, block: Block) -> tuple[slice, slice]:
        """Find the window all of ``block``'s tiles read (their bounding box).

        Parameters
        ----------
        block : Block
            A block of this plan.

        Returns
        -------
        tuple of slice
            ``(rows, cols)`` in the padded plane.
        """
        rows, cols = self.blocks.rows, self.blocks.cols
        return (slice(rows[block.tile_rows[0]][0], rows[block.tile_rows[-1]][1]),
                slice(cols[block.tile_cols[0]][0], cols[block.tile_cols[-1]][1]))

    def key(self, plane_no: int, block: Block) -> str:
        """Name one block of one plane (resume markers).

        Parameters
        ----------
        plane_no : int
            Flat plane number.
        block : Block
            A block of this plan.

        Returns
        -------
        str
            ``"plane-row-col"``.
        """
        return f"{plane_no}-{block.key}"

    def tiles_of_key(self, key: str) -> int:
        """Count the tiles of the block a :meth:`key` names.

        Parameters
        ----------
        key : str
            A resume marker.

        Returns
        -------
        int
            The block's tiles; 0 for a name this plan does not make.
        """
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
    """Plan the tiles and blocks of a run on an image of ``shape``.

    Parameters
    ----------
    shape : tuple of int
        The image's shape; planes are the last two axes.
    spec : ModelSpec
        The model's contract (divisor, minimum tile, kind, channels).
    window : IntensityWindow
        The stack's intensity window.
    config : ColorizeConfig
        The run's settings, with ``batch_size`` and ``block_size`` resolved to integers
        (see :func:`~napari_colorize.core.tile_plan.resolve_config`).
    palette : array-like, optional
        One RGB colour per channel of a fractions model (see :func:`model_palette`).

    Returns
    -------
    RunPlan
        The plan.

    Raises
    ------
    ValueError
        Tile settings the model cannot use.

    Examples
    --------
    >>> from napari_colorize.core.intensity import IntensityWindow
    >>> config = ColorizeConfig(tile_size=512, block_size=4096)
    >>> plan = make_plan((2048, 2048), ModelSpec("m"), IntensityWindow(0, 255), config)
    >>> plan.blocks.n_tiles, plan.tile_shape
    (25, (512, 512))
    >>> small = make_plan((2048, 2048), ModelSpec("m"), IntensityWindow(0, 255),
    ...                   ColorizeConfig(tile_size=512, block_size=1024))
    >>> len(small.blocks), small.blocks.n_tiles  # tiles on block edges are computed twice
    (4, 36)
    """
    # ``config`` comes from resolve_config: tile_size is an int, never "auto"
    tile_size = cast(int, config.tile_size)
    check_tiling(tile_size, config.overlap, config.batch_size, spec.min_tile, spec.divisor)
    shape = tuple(int(s) for s in shape)
    plane = (shape[-2], shape[-1])
    # ``config`` comes from resolve_config: its block_size is an int, never "auto"
    _, padded, blocks = plane_grid(plane, tile_size, config.overlap, spec,
                                   cast(int, config.block_size),
                                   constant=config.blending == "constant")
    return RunPlan(shape, blocks, padded, window, config, spec.kind, spec.channels,
                   tuple(map(tuple, palette)) if palette is not None else ())




def model_palette(spec: ModelSpec, channels: bool, palette: Any) -> np.ndarray | None:
    """Choose the palette of a channel (fractions) model; refuse options a model cannot honour.

    Parameters
    ----------
    spec : ModelSpec
        The model's contract.
    channels : bool
        Whether channel maps were asked for.
    palette : sequence or None
        The user's palette; default the model's.

    Returns
    -------
    numpy.ndarray or None
        float32 ``(K, 3)`` for a fractions model; ``None`` for a colour (chroma) model.

    Raises
    ------
    ValueError
        ``channels`` or a palette with a chroma model, or a bad palette.

    Examples
    --------
    >>> model_palette(ModelSpec("m"), False, None) is None
    True
    >>> model_palette(ModelSpec("m"), True, None)
    Traceback (most recent call last):
    ...
    ValueError: channels=True needs a model that predicts channels ...
    >>> spec = ModelSpec("f", kind="fractions", channel_names=("nuclei", "membrane"),
    ...                  palette=((0, 1, 1), (1, 0, 1)))
    >>> model_palette(spec, True, ["red", "#00ff00"])
    array([[1., 0., 0.],
           [0., 1., 0.]], dtype=float32)
    """
    if spec.kind == "chroma":
        for name, value in (("channels=True", channels), ("palette", palette)):
            if value not in (False, None):
                raise ValueError(
                    f"{name} needs a model that predicts channels (e.g. fluorescence-composite); "
                    f"{spec.name} predicts colour (chroma)"
                )
        return None
    return parse_palette(spec.palette if palette is None else palette, spec.channel_names)
