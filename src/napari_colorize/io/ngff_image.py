"""One multiscale OME-Zarr image (NGFF 0.5, zarr v3) written block by block, resumable.

The image is marked incomplete until finalized. Pyramid levels whose chunks line up with the
blocks are written with each block, the coarser ones at the end. Its metadata is built and
read back through :mod:`.ngff_layout` and :mod:`.ngff_meta`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from zarr.codecs import ZstdCodec

from .colorize_attrs import changed_keys
from .durability import fsync_all, fsync_tree
from .locks import OutputLock
from .ngff_layout import Layout, build_ome, plan_layout, with_name
from .ngff_meta import (
    ATTRS_KEY,
    RGB_CHANNELS,
    Axis,
    Channel,
    ColorizeAttrs,
    read_image_metadata,
    result_block,
)
from .paths import check_output, remove
from .pyramid import choose_chunk, count_block_levels, count_levels, downsample
from .readers import DONE_FOLDER

__all__ = ["NgffImage", "rename_image"]


#: zstd level 1: as small as zarr's default zstd for these images (9.57 against 9.50 MB for a
#: 2048^2 RGB plane) and about 1.4x faster to write, which a stream of planes waits for.
COMPRESSOR = ZstdCodec(level=1)


class NgffImage:
    """One multiscale OME-Zarr image written block by block, marked incomplete until finalized.

    ``channels=3`` stores RGB channel-first (c before z, as NGFF orders axes); ``channels=0``
    stores one value per pixel (e.g. confidence). Pyramid levels whose chunks line up with the
    blocks are written with each block; the coarser ones are built from them at the end.

    Parameters
    ----------
    path : Path
        The store to create (or reopen, with ``resume``).
    shape : tuple of int
        ``(..., H, W)`` of the result, channels not included.
    channels : int
        Channels per pixel (3 for RGB), or 0.
    dtype : dtype
        Pixel type (uint8 RGB: a 0-255 display window; others 0-1).
    metadata : dict
        The run's ``napari_colorize`` block (see :mod:`.colorize_attrs`).
    overwrite : bool
        Replace a finished store at ``path``.
    chunk : int
        Chunk edge wanted (see :func:`~.pyramid.choose_chunk`).
    block_size : int
        Edge of the blocks :meth:`write` gets.
    resume : bool
        Reopen an unfinished store made with the same metadata and shape.
    omero : sequence of Channel, optional
        Channel labels and colours (default red, green, blue).
    layout : Layout, optional
        How the leading axes are stored (default :func:`~.ngff_layout.plan_layout` of the
        shape, unnamed).

    Raises
    ------
    ValueError
        One line: a taken or locked path, leading axes NGFF cannot hold, metadata that does
        not check, or (``resume``) a store made by another tool, from another input, with
        other settings or shape.
    """

    def __init__(self, path: Path, shape: tuple[int, ...], *, channels: int, dtype: Any,
                 metadata: dict[str, Any], overwrite: bool, chunk: int, block_size: int,
                 resume: bool = False, omero: Sequence[Channel] | None = None,
                 layout: Layout | None = None) -> None:
        import zarr

        self.path = Path(path)
        self.leading, self.plane = tuple(shape[:-2]), tuple(shape[-2:])
        try:
            self.layout = layout or plan_layout(self.leading)
        except ValueError as exc:
            raise ValueError(f"{self.path}: {exc}") from None
        self.channels = channels
        self.block_size = block_size
        chunk = choose_chunk(chunk, block_size, self.plane)
        n_levels = count_levels(self.plane)
        self.n_block_levels = count_block_levels(self.plane, block_size, chunk, n_levels)
        self.unsynced: set[str] = set()  # chunk files written since the last sync()
        self.synced_metadata = False
        self.reopened = resume and self.path.exists()
        self.lock = OutputLock(self.path)
        if self.reopened:
            self.root = _reopen(self.path, self._shape(channels), metadata)
            self.levels = [self.root[str(i)] for i in range(n_levels)]
            if not self.complete:
                self.lock.acquire()
            return
        # all metadata is built (and checked) before anything is touched
        axes = self.layout.axes(channels=bool(channels))
        top = 255 if np.dtype(dtype) == np.uint8 else 1
        ome = self.layout.place(build_ome(axes, n_levels, self.path.name,
                                          channels=(omero or RGB_CHANNELS) if channels else (),
                                          top=top), self.path)
        block = result_block(metadata, complete=False, where=self.path)
        check_output(self.path, overwrite)
        remove(self.path)
        try:  # the new store is ours alone from its first file: the lock, then the metadata
            self.path.mkdir()
        except FileExistsError:
            raise ValueError(f"output {self.path} is being written by another run") from None
        self.lock.acquire()
        root = zarr.open_group(self.path, mode="a", zarr_format=3)  # "w" would drop the lock
        self.levels = self._create(root, axes, n_levels, dtype, chunk)
        root.attrs["ome"] = ome
        root.attrs[ATTRS_KEY] = block
        self.root = root

    def _create(self, group: Any, axes: tuple[Axis, ...], n_levels: int, dtype: Any,
                chunk: int) -> list:
        arrays = []
        h, w = self.plane
        for level in range(n_levels):
            shape = [*self.layout.select(self.leading), h, w]
            chunks = [1] * len(self.layout.keep) + [min(chunk, h), min(chunk, w)]
            if self.channels:
                pos = self.layout.channel_position
                shape.insert(pos, self.channels)
                chunks.insert(pos, self.channels)
            arrays.append(group.create_array(
                str(level), shape=tuple(shape), chunks=tuple(chunks), dtype=dtype,
                dimension_names=[a.name for a in axes], compressors=COMPRESSOR,
            ))
            h, w = (h + 1) // 2, (w + 1) // 2
        return arrays

    def _shape(self, channels: int) -> tuple[int, ...]:
        """Level 0's shape as stored: the kept leading axes, the channels, the plane."""
        shape = [*self.layout.select(self.leading), *self.plane]
        if channels:
            shape.insert(self.layout.channel_position, channels)
        return tuple(shape)

    def _index(self, index: tuple[int, ...], region: tuple[slice, ...]) -> tuple:
        index = self.layout.select(index)
        if not self.channels:
            return (*index, *region)
        pos = self.layout.channel_position
        return (*index[:pos], slice(None), *index[pos:], *region)

    def write(self, index: tuple[int, ...], region: tuple[slice, ...], data: np.ndarray,
              channel_first: bool = False) -> None:
        """Store one block and the pyramid levels that line up with it.

        Parameters
        ----------
        index : tuple of int
            The plane (leading axes).
        region : (slice, slice)
            Rows and columns of the block in level 0.
        data : ndarray
            ``(h, w, C)``, or ``(C, h, w)`` if ``channel_first``, or ``(h, w)`` without
            channels.
        channel_first : bool
            Whether ``data`` has its channels first.
        """
        if self.channels and not channel_first:
            data = np.moveaxis(data, -1, 0)
        region = tuple(slice(*r.indices(n)[:2]) for r, n in zip(region, self.plane, strict=True))
        for level in range(self.n_block_levels):
            self.levels[level][self._index(index, region)] = data
            self.unsynced.update(self._chunk_files(level, self._index(index, region)))
            if level + 1 < self.n_block_levels:
                data = downsample(data)
                region = tuple(slice(s.start // 2, (s.stop + 1) // 2) for s in region)

    def _chunk_files(self, level: int, selection: tuple) -> list[str]:
        """Paths of the chunk files of ``level`` that ``selection`` (ints and slices) touches."""
        array = self.levels[level]
        ranges: list[Sequence[int]] = []
        for s, c, n in zip(selection, array.chunks, array.shape, strict=True):
            if isinstance(s, slice):
                start, stop = s.indices(n)[:2]
                ranges.append(range(start // c, (max(stop, start + 1) - 1) // c + 1))
            else:
                ranges.append((int(s) // c,))
        folder = self.path / array.path
        encode = array.metadata.encode_chunk_key
        return [str(folder / encode(coords)) for coords in itertools.product(*ranges)]

    def take_unsynced(self) -> list[str]:
        """Hand over the files to flush before the blocks written so far are recorded.

        Returns
        -------
        list of str
            The chunk files written since the last call, and the first time the image's
            metadata files.
        """
        files = sorted(self.unsynced)
        self.unsynced.clear()
        if not self.synced_metadata:
            files += [str(self.path / "zarr.json")]
            files += [str(self.path / level.path / "zarr.json") for level in self.levels]
            self.synced_metadata = True
        return files

    def finalize(self) -> Any:
        """Build the remaining pyramid levels and mark the image complete.

        Returns
        -------
        zarr.Array
            Level 0.
        """
        step = self.block_size  # block by block: memory stays flat however large the plane
        for level in range(max(1, self.n_block_levels), len(self.levels)):
            h, w = self.levels[level].shape[-2:]
            for index in np.ndindex(*self.leading):
                for y, x in itertools.product(range(0, h, step), range(0, w, step)):
                    rows, cols = slice(y, min(y + step, h)), slice(x, min(x + step, w))
                    # the 2x source window; an odd last row/column is replicated as for a plane
                    source = (slice(2 * rows.start, 2 * rows.stop),
                              slice(2 * cols.start, 2 * cols.stop))
                    data = np.asarray(self.levels[level - 1][self._index(index, source)])
                    self.levels[level][self._index(index, (rows, cols))] = downsample(data)
            fsync_tree(self.path / self.levels[level].path)
        fsync_all(self.take_unsynced(), [self.path.parent])
        remove(self.path / DONE_FOLDER)
        self.root.attrs[ATTRS_KEY] = result_block(self.root.attrs[ATTRS_KEY], complete=True,
                                                  where=self.path)
        fsync_all([self.path / "zarr.json"])
        return self.levels[0]

    @property
    def complete(self) -> bool:
        """Whether the image was finalized (by this or an earlier run)."""
        return ColorizeAttrs.from_dict(self.root.attrs.get(ATTRS_KEY), self.path).complete

    def discard(self) -> None:
        """Remove everything written."""
        self.lock.release()
        remove(self.path)


def rename_image(src: Path, dst: Path) -> None:
    """Move a finished OME-Zarr image to ``dst`` (replacing it), renaming its multiscale.

    Parameters
    ----------
    src : Path
        The finished image (written beside ``dst``).
    dst : Path
        Its final place; what is there is removed.

    Raises
    ------
    ValueError
        If ``src``'s NGFF metadata does not check.
    """
    import zarr

    root = zarr.open_group(src, mode="r+")
    root.attrs["ome"] = with_name(root.attrs["ome"], dst.name, src)
    remove(dst)
    src.replace(dst)


def _reopen(path: Path, shape: tuple[int, ...], metadata: dict) -> Any:
    """Open the group of an unfinished run to resume; refuse one made with other settings."""
    import zarr

    try:
        root = zarr.open_group(path, mode="r+")
    except Exception as exc:
        text = " ".join(str(exc).split())
        raise ValueError(f"cannot resume {path}: it is not an OME-Zarr written by "
                         f"napari-colorize ({type(exc).__name__}: {text})") from None
    if not root.attrs.get(ATTRS_KEY) or not isinstance(root.attrs.get(ATTRS_KEY), dict):
        raise ValueError(
            f"cannot resume {path}: it was not written by napari-colorize; choose another output "
            "or overwrite it"
        )
    try:
        meta = read_image_metadata(path)
    except ValueError as exc:  # the message starts with the path
        raise ValueError(f"cannot resume {exc}") from None
    stored = dict(meta.attrs.raw) if meta.attrs else {}
    wanted = result_block(metadata, complete=False, where=path)
    for key in ("complete", "domain"):  # the domain score describes the input, not the output
        stored.pop(key, None)
        wanted.pop(key, None)
    if "input" in stored and stored.get("input") != wanted.get("input"):
        raise ValueError(
            f"cannot resume {path}: it was written from a different input; colorize the same "
            "image, or overwrite it"
        )
    for key in ("input", "weights_sha256"):  # written before these were recorded
        if key not in stored:
            wanted.pop(key, None)
    settings = stored.get("settings")
    if isinstance(settings, dict):  # written before these were recorded
        wanted["settings"] = {k: v for k, v in wanted.get("settings", {}).items()
                              if k in settings or k not in ("precision", "channels")}
    if stored != wanted:
        changed = ", ".join(f"{key} ({_at(stored, key)}, now {_at(wanted, key)})"
                            for key in changed_keys(stored, wanted))
        raise ValueError(
            f"cannot resume {path}: it was written with other {changed}; use the same image and "
            "settings, or overwrite it"
        )
    level0 = root[meta.multiscale.paths[0]]
    if not isinstance(level0, zarr.Array):
        raise ValueError(f"cannot resume {path}: its level 0 is a group, not an array")
    if tuple(level0.shape) != shape:
        raise ValueError(f"cannot resume {path}: it holds shape {level0.shape}, not {shape}")
    return root


def _at(block: dict, dotted: str) -> str:
    """Show the value at a dotted key of a metadata block, shortened (hints can be long)."""
    value: Any = block
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    text = "none" if value is None else json.dumps(value)
    if len(text) <= 40:
        return text
    closing = '"' if text.endswith('"') else ""  # a shortened string keeps its closing quote
    return text[:37 - len(closing)] + "..." + closing
