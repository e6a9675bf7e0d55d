"""OME-Zarr results (NGFF 0.5, zarr v3, multiscale), written block by block and resumable.

Results are written in place and marked incomplete until finalized; each finished block is
recorded, so an interrupted run can be resumed. Pyramid levels whose chunks line up with the
blocks are written with each block, the coarser ones at the end.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.merge import Merger, Outputs
from .durability import BlockRecorder, fsync_all, fsync_tree
from .locks import OutputLock, check_free
from .ngff_layout import build_ome, channel_position, image_axes, with_name
from .ngff_meta import (
    ATTRS_KEY,
    NGFF_VERSION,
    RGB_CHANNELS,
    Axis,
    Channel,
    ColorizeAttrs,
    read_image_metadata,
    result_block,
)
from .paths import check_output, confidence_path, remove
from .pyramid import choose_chunk, count_block_levels, count_levels, downsample
from .readers import DONE_FOLDER

__all__ = ["NGFF_VERSION", "NgffImage", "OmeZarrMerger", "channel_position", "confidence_path",
           "rename_image"]


class NgffImage:
    """One multiscale OME-Zarr image written block by block, marked incomplete until finalized.

    ``channels=3`` stores RGB channel-first (c before z, as NGFF orders axes); ``channels=0``
    stores one value per pixel (e.g. confidence). Pyramid levels whose chunks line up with the
    blocks are written with each block; the coarser ones are built from them at the end.
    """

    def __init__(self, path: Path, shape: tuple[int, ...], *, channels: int, dtype: Any,
                 metadata: dict[str, Any], overwrite: bool, chunk: int, block_size: int,
                 resume: bool = False, omero: Sequence[Channel] | None = None) -> None:
        import zarr

        self.path = Path(path)
        self.leading, self.plane = tuple(shape[:-2]), tuple(shape[-2:])
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
            self.root = _reopen(self.path, shape, channels, metadata)
            self.levels = [self.root[str(i)] for i in range(n_levels)]
            if not self.complete:
                self.lock.acquire()
            return
        # all metadata is built (and checked) before anything is touched
        axes = image_axes(len(self.leading), channels=bool(channels))
        top = 255 if np.dtype(dtype) == np.uint8 else 1
        ome = build_ome(axes, n_levels, self.path.name,
                        channels=(omero or RGB_CHANNELS) if channels else (), top=top)
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
            shape = [*self.leading, h, w]
            chunks = [1] * len(self.leading) + [min(chunk, h), min(chunk, w)]
            if self.channels:
                pos = channel_position(len(self.leading))
                shape.insert(pos, self.channels)
                chunks.insert(pos, self.channels)
            arrays.append(group.create_array(
                str(level), shape=tuple(shape), chunks=tuple(chunks), dtype=dtype,
                dimension_names=[a.name for a in axes],
            ))
            h, w = (h + 1) // 2, (w + 1) // 2
        return arrays

    def _index(self, index: tuple[int, ...], region: tuple[slice, slice]) -> tuple:
        if not self.channels:
            return (*index, *region)
        pos = channel_position(len(index))
        return (*index[:pos], slice(None), *index[pos:], *region)

    def write(self, index: tuple[int, ...], region: tuple[slice, slice], data: np.ndarray,
              channel_first: bool = False) -> None:
        """Store one block (``(h, w, C)``, or ``(C, h, w)`` if ``channel_first``, or ``(h, w)``
        without channels) and the pyramid levels that line up with it."""
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
        ranges = []
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
        """The files to flush before the blocks written so far are recorded: their chunk
        files, and the first time the image's metadata and folders."""
        files = sorted(self.unsynced)
        self.unsynced.clear()
        if not self.synced_metadata:
            files += [str(self.path / "zarr.json")]
            files += [str(self.path / level.path / "zarr.json") for level in self.levels]
            self.synced_metadata = True
        return files

    def finalize(self) -> Any:
        """Build the remaining pyramid levels, mark complete, return the level-0 array."""
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
    """Move a finished OME-Zarr image to ``dst`` (replacing it), renaming its multiscale."""
    import zarr

    root = zarr.open_group(src, mode="r+")
    root.attrs["ome"] = with_name(root.attrs["ome"], dst.name, src)
    remove(dst)
    src.replace(dst)


def _differ(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted names of the entries that differ between two nested dicts."""
    names = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            names += _differ(x, y, f"{prefix}{key}.")
        elif x != y:
            names.append(prefix + key)
    return names


def _reopen(path: Path, shape: tuple[int, ...], channels: int, metadata: dict) -> Any:
    """The group of an unfinished run to resume; refuses one made with other settings."""
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
    stored.pop("complete", None)
    wanted = result_block(metadata, complete=False, where=path)
    wanted.pop("complete")
    if "input" in stored and stored.get("input") != wanted.get("input"):
        raise ValueError(
            f"cannot resume {path}: it was written from a different input; colorize the same "
            "image, or overwrite it"
        )
    if "input" not in stored:  # written before inputs were recorded: compare the rest
        wanted.pop("input", None)
    if stored != wanted:
        raise ValueError(
            f"cannot resume {path}: it was written with other {', '.join(_differ(stored, wanted))}"
            "; use the same image and settings, or overwrite it"
        )
    level0 = root[meta.multiscale.paths[0]]
    expected = list(shape)
    if channels:
        expected.insert(channel_position(len(shape) - 2), channels)
    if list(level0.shape) != expected:
        raise ValueError(f"cannot resume {path}: it holds shape {level0.shape}, not {expected}")
    return root


class OmeZarrMerger(Merger):
    """Finished blocks into a multiscale OME-Zarr RGB image, and optionally its confidence
    (a float32 image beside it, see :func:`confidence_path`).

    Each finished block is recorded (after its data is flushed to disk), so an interrupted run
    can be resumed; the images are marked complete only at the end.
    """

    keeps_partial = True

    def __init__(
        self,
        path: str | Path,
        shape: tuple[int, ...],
        *,
        confidence: bool,
        metadata: dict[str, Any] | None = None,
        overwrite: bool = False,
        chunk: int = 512,
        confidence_to: str | Path | None = None,
        resume: bool = False,
        block_size: int = 4096,
        channels: dict | None = None,
    ) -> None:
        meta = dict(metadata or {})
        kw = {"overwrite": overwrite, "chunk": chunk, "block_size": block_size, "resume": resume}
        target = Path(confidence_to) if confidence_to else confidence_path(path)
        maps_path = confidence_path(path, "channels")
        check_free(path)  # another run writing it: refused before anything is touched
        if not resume:  # refuse taken paths before anything is written
            for side, wanted in ((target, confidence), (maps_path, channels)):
                if wanted:
                    check_output(side, overwrite)
        self.rgb = NgffImage(Path(path), shape, channels=3, dtype=np.uint8, metadata=meta, **kw)
        self.conf = self.maps = None
        try:
            self._open_sides(target, maps_path, shape, meta, confidence, channels, kw)
        except BaseException:
            for image in self._images():
                image.lock.release()
            for image in self._images():
                if not image.reopened:  # a store refused: leave nothing new behind
                    image.discard()
            raise
        self.done_dir = self.rgb.path / DONE_FOLDER
        self.recorder = BlockRecorder(self.done_dir)

    def _open_sides(self, target: Path, maps_path: Path, shape: tuple[int, ...], meta: dict,
                    confidence: bool, channels: dict | None, kw: dict) -> None:
        if confidence:
            self.conf = NgffImage(target, shape, channels=0, dtype=np.float32,
                                  metadata={**meta, "kind": "confidence"}, **kw)
        if channels:
            omero = [Channel.from_rgb(n, c)
                     for n, c in zip(channels["names"], channels["palette"], strict=True)]
            self.maps = NgffImage(maps_path, shape, channels=len(omero), dtype=np.float32,
                                  metadata={**meta, "kind": "channels"}, omero=omero, **kw)

    def completed(self) -> set[str]:
        """Keys of the blocks already written (by an interrupted run of the same job)."""
        if not self.done_dir.is_dir():
            return set()
        return {p.name for p in self.done_dir.iterdir()}

    def write(self, index: tuple[int, ...], region: tuple[slice, slice], rgb: np.ndarray,
              confidence: np.ndarray | None, maps: np.ndarray | None = None) -> None:
        if self.conf is not None and confidence is not None:
            self.conf.write(index, region, confidence)
        if self.maps is not None and maps is not None:
            self.maps.write(index, region, maps, channel_first=True)
        self.rgb.write(index, region, rgb)

    def mark_done(self, key: str) -> None:
        """Record a written block; the chunk files it wrote are flushed first (in the
        background, see :class:`BlockRecorder`), so the record never runs ahead of the data,
        even across a power loss."""
        images = self._images()
        self.recorder.record([f for image in images for f in image.take_unsynced()], key,
                             roots=[image.path.parent for image in images])

    @property
    def complete(self) -> bool:
        """Whether every image was already finalized (a resumed run that had finished)."""
        return all(image.complete for image in self._images())

    def finalize(self) -> Outputs:
        self.recorder.wait()
        for side in (self.maps, self.conf):
            if side is not None:
                side.finalize()
        self.rgb.finalize()
        self.close()
        return self.result()

    def close(self) -> None:
        """Record the blocks written so far and let other runs write the output (an
        unfinished one stays resumable)."""
        try:
            if hasattr(self, "recorder"):
                self.recorder.close()
        finally:
            for image in self._images():
                image.lock.release()

    def result(self) -> Outputs:
        """Level 0 of the RGB image, of the confidence and of the channel maps when written."""
        return Outputs(self.rgb.levels[0], *(None if side is None else side.levels[0]
                                             for side in (self.conf, self.maps)))

    def _images(self) -> list[NgffImage]:
        return [image for image in (self.rgb, self.conf, self.maps) if image is not None]

    def discard(self) -> None:
        self.close()
        for image in self._images():
            image.discard()
