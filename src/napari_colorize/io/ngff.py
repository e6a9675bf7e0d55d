"""OME-Zarr results (NGFF 0.5, zarr v3, multiscale), written block by block and resumable.

:class:`OmeZarrMerger` writes the RGB result and its side images (confidence, channel maps),
each an :class:`~.ngff_image.NgffImage`. Results are written in place and marked incomplete
until finalized; each finished block is recorded, so an interrupted run can be resumed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.merge import Merger, Outputs
from .durability import BlockRecorder
from .locks import check_free
from .ngff_image import NgffImage, rename_image
from .ngff_layout import Layout, channel_position
from .ngff_meta import NGFF_VERSION, Channel
from .paths import check_output, confidence_path
from .readers import DONE_FOLDER

__all__ = ["NGFF_VERSION", "NgffImage", "OmeZarrMerger", "channel_position", "confidence_path",
           "rename_image"]


class OmeZarrMerger(Merger):
    """Finished blocks into a multiscale OME-Zarr RGB image, and its optional side images.

    The confidence (float32) and channel maps are separate images beside the result (see
    :func:`confidence_path`). Each finished block is recorded (after its data is flushed to
    disk), so an interrupted run can be resumed; the images are marked complete at the end.

    Parameters
    ----------
    path : str or Path
        The ``.ome.zarr`` result.
    shape : tuple of int
        ``(..., H, W)`` of the gray input (at most 2 leading axes).
    confidence : bool
        Also write the confidence image.
    metadata : dict, optional
        The run's ``napari_colorize`` block (see :mod:`.colorize_attrs`).
    overwrite : bool
        Replace finished outputs.
    chunk : int
        Chunk edge (pixels).
    confidence_to : str or Path, optional
        Where the confidence goes (default beside ``path``).
    resume : bool
        Continue an interrupted run with the same metadata.
    block_size : int
        Edge of the blocks :meth:`write` gets.
    channels : dict, optional
        ``names`` and ``palette`` of a channel model: its maps are written too.
    layout : Layout, optional
        How the input's leading axes are stored (see :func:`~.ngff_layout.plan_layout`).

    Raises
    ------
    ValueError
        One line, before anything is written where it can be told: a taken or locked
        output, or a store that cannot be resumed.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     merger = OmeZarrMerger(Path(tmp) / "r.ome.zarr", (40, 30), confidence=True)
    ...     full = (slice(0, 40), slice(0, 30))
    ...     conf = np.ones((40, 30), np.float32)
    ...     merger.write((), full, np.zeros((40, 30, 3), np.uint8), conf)
    ...     merger.mark_done("0")
    ...     rgb, conf, maps = merger.finalize()
    ...     sorted(p.name for p in Path(tmp).iterdir())
    ['r.confidence.ome.zarr', 'r.ome.zarr']
    >>> rgb.shape, conf.shape, maps
    ((3, 40, 30), (40, 30), None)
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
        layout: Layout | None = None,
    ) -> None:
        meta = dict(metadata or {})
        kw: dict[str, Any] = {"overwrite": overwrite, "chunk": chunk, "block_size": block_size,
                              "resume": resume, "layout": layout}
        target = Path(confidence_to) if confidence_to else confidence_path(path)
        maps_path = confidence_path(path, "channels")
        check_free(path)  # another run writing it: refused before anything is touched
        if not resume:  # refuse taken paths before anything is written
            for side, wanted in ((target, confidence), (maps_path, channels)):
                if wanted:
                    check_output(side, overwrite)
        self.rgb = NgffImage(Path(path), shape, channels=3, dtype=np.uint8, metadata=meta, **kw)
        self.conf: NgffImage | None = None
        self.maps: NgffImage | None = None
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
        """Store a finished block in each image written.

        Parameters
        ----------
        index : tuple of int
            The plane (leading axes).
        region : (slice, slice)
            Rows and columns of the block.
        rgb : ndarray
            uint8 ``(h, w, 3)``.
        confidence : ndarray or None
            float32 ``(h, w)``, kept when the confidence is written.
        maps : ndarray or None
            float32 ``(C, h, w)``, kept when channel maps are written.
        """
        if self.conf is not None and confidence is not None:
            self.conf.write(index, region, confidence)
        if self.maps is not None and maps is not None:
            self.maps.write(index, region, maps, channel_first=True)
        self.rgb.write(index, region, rgb)

    def mark_done(self, key: str) -> None:
        """Record block ``key`` as written, after the chunk files it wrote are flushed.

        Flushing runs in the background (see :class:`~.durability.BlockRecorder`); the record
        never runs ahead of the data, even across a power loss.
        """
        images = self._images()
        self.recorder.record([f for image in images for f in image.take_unsynced()], key,
                             roots=[image.path.parent for image in images])

    @property
    def complete(self) -> bool:
        """Whether every image was already finalized (a resumed run that had finished)."""
        return all(image.complete for image in self._images())

    def finalize(self) -> Outputs:
        """Finish every image (coarse levels, marked complete) and release the outputs.

        Returns
        -------
        Outputs
            Level 0 of each image written (see :meth:`result`).
        """
        self.recorder.wait()
        for side in (self.maps, self.conf):
            if side is not None:
                side.finalize()
        self.rgb.finalize()
        self.close()
        return self.result()

    def close(self) -> None:
        """Record the blocks written so far and let other runs write the output.

        An unfinished output stays resumable.
        """
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
        """Release and remove every image written (a cancelled run)."""
        self.close()
        for image in self._images():
            image.discard()
