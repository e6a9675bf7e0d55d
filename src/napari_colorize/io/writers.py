"""Write colorized results by suffix: OME-Zarr (see :mod:`.ngff`), TIFF and PNG.

TIFF and PNG are written under a temporary name beside the target and renamed at the end, so a
failed or cancelled run never leaves a half-written one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .axis_names import input_layout
from .ngff import NgffImage, OmeZarrMerger, rename_image
from .ngff_layout import Layout
from .paths import check_output, output_kind, remove, replace_file, temp_path
from .pyramid import count_levels, downsample

__all__ = ["check_output", "output_kind", "remove", "write_gray", "write_ome_tiff", "write_rgb"]

#: Block edge (pixels) in which OME-Zarr results are written from an array.
WRITE_BLOCK = 4096


def write_rgb(
    path: str | Path, rgb: np.ndarray, *, overwrite: bool = False, source: Any = None,
    layout: Layout | None = None, **zarr_kw: Any
) -> Path:
    """Write an RGB result ``(..., H, W, 3)`` uint8 to ``path`` by suffix (zarr, TIFF or PNG).

    OME-Zarr is written block by block, so a lazy (dask or zarr) ``rgb`` is never loaded whole.
    TIFF and PNG are written under a temporary name and renamed at the end.

    Parameters
    ----------
    path : str or Path
        ``.ome.zarr``/``.zarr`` (multiscale NGFF 0.5), ``.ome.tif`` (pyramidal, see
        :func:`write_ome_tiff`), ``.tif`` or ``.png`` (2-D only).
    rgb : array-like
        uint8 ``(..., H, W, 3)``; numpy, dask or zarr.
    overwrite : bool
        Replace an existing output of the same kind.
    source : path or array-like, optional
        The input the result was made from: OME-Zarr and OME-TIFF keep its time and z axes as
        such, leave out its single channel and keep its pixel size (see
        :func:`~.axis_names.input_layout`).
    layout : Layout, optional
        How OME-Zarr and OME-TIFF store and place the leading axes, instead of ``source``'s
        (e.g. a napari layer's scale and translate).
    **zarr_kw
        Passed to :class:`~.ngff.OmeZarrMerger` (e.g. ``chunk``, ``metadata``).

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        If the path is taken or unusable (see :func:`~.paths.check_output`), a PNG is asked
        for more than one plane, or OME-Zarr or OME-TIFF for more than two leading axes of
        more than one plane.

    Examples
    --------
    >>> import tempfile
    >>> import zarr
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = write_rgb(Path(tmp) / "r.ome.zarr", np.zeros((2, 40, 30, 3), np.uint8))
    ...     zarr.open_group(out, mode="r")["0"].shape  # channels first, as NGFF orders axes
    (3, 2, 40, 30)
    """
    path = check_output(path, overwrite)
    kind = output_kind(path)
    ome_tiff = kind == "tiff" and path.name.lower().endswith((".ome.tif", ".ome.tiff"))
    if layout is None and (kind == "zarr" or ome_tiff):
        layout = input_layout(source, rgb.shape[:-1], path)
    if kind == "zarr":
        # A taken path may be the lazy input itself (napari saving a layer onto its own file):
        # write beside it and swap at the end.
        target = path.with_name(path.name + ".part.zarr") if path.exists() else path
        block = min(WRITE_BLOCK, max(rgb.shape[-3:-1]))
        merger = OmeZarrMerger(target, rgb.shape[:-1], confidence=False, overwrite=True,
                               block_size=block, layout=layout, **zarr_kw)
        try:
            for index, region in _blocks(rgb.shape[:-1], block):
                merger.write(index, region, np.asarray(rgb[(*index, *region)]), None)
            merger.finalize()
            if target != path:
                rename_image(target, path)
        except BaseException:
            merger.discard()
            raise
        return path
    tmp = temp_path(path)
    try:
        if ome_tiff:
            write_ome_tiff(tmp, np.asarray(rgb), layout)
        elif kind == "tiff":
            import tifffile

            tifffile.imwrite(tmp, np.asarray(rgb), photometric="rgb", compression="zlib",
                             tile=(256, 256) if rgb.shape[-2] >= 256 else None)
        else:
            if rgb.ndim != 3:
                raise ValueError(f"PNG holds one 2-D image; the result has shape {rgb.shape}")
            import imageio.v3 as iio

            iio.imwrite(tmp, np.asarray(rgb), extension=".png")
        replace_file(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_ome_tiff(path: str | Path, rgb: np.ndarray, layout: Layout | None = None) -> None:
    """Write a pyramidal OME-TIFF of ``rgb`` ``(..., H, W, 3)``.

    Tiled 256 px, zlib, each 2x smaller level in SubIFDs down to about 256 px, as tifffile
    (``series[0].levels``), Fiji/Bio-Formats and QuPath read pyramids; BigTIFF past 2 GB.

    Parameters
    ----------
    path : str or Path
        The file, written directly (:func:`write_rgb` writes it under a temporary name).
    rgb : ndarray
        uint8 ``(..., H, W, 3)``.
    layout : Layout, optional
        Which leading axes to keep, as T or Z (default :func:`~.ngff_layout.plan_layout` of
        the unnamed leading axes).

    Raises
    ------
    ValueError
        If ``rgb`` has more than 2 axes of more than one plane before (y, x).

    Examples
    --------
    >>> import tempfile, tifffile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_ome_tiff(Path(tmp) / "r.ome.tif", np.zeros((600, 520, 3), np.uint8))
    ...     with tifffile.TiffFile(Path(tmp) / "r.ome.tif") as tif:
    ...         [level.shape for level in tif.series[0].levels]
    [(600, 520, 3), (300, 260, 3)]
    """
    import tifffile

    layout = layout or input_layout(None, rgb.shape[:-1], path)
    leading = rgb.shape[:-3]
    rgb = rgb[tuple(slice(None) if i in layout.keep else 0 for i in range(len(leading)))]
    axes = "".join(name.upper() for name in layout.names) + "YXS"
    n_levels = count_levels(rgb.shape[-3:-1])
    options: dict[str, Any] = {"photometric": "rgb", "compression": "zlib", "tile": (256, 256)}
    # BigTIFF past 2 GB: classic TIFF offsets stop at 4 GB and the levels add a third
    with tifffile.TiffWriter(path, bigtiff=rgb.nbytes > 2**31, ome=True) as tif:
        planes = int(np.prod(rgb.shape[:-3], dtype=np.int64))
        tif.write(rgb, subifds=n_levels - 1,
                  metadata={"axes": axes, **_physical(layout, planes)},
                  **options)
        level = rgb
        for _ in range(n_levels - 1):
            level = np.moveaxis(downsample(np.moveaxis(level, -1, -3)), -3, -1)
            tif.write(np.ascontiguousarray(level), subfiletype=1, **options)


def write_gray(path: str | Path, image: np.ndarray, *, overwrite: bool = False) -> Path:
    """Write a float or integer single-channel result (e.g. confidence) by suffix.

    TIFF and zarr keep the values (zarr as a multiscale OME-Zarr, as a zarr run writes its
    confidence); PNG stores floats in [0, 1] as uint8. Written under a temporary name and
    renamed at the end.

    Parameters
    ----------
    path : str or Path
        ``.tif``, ``.zarr`` or ``.png``.
    image : ndarray
        The values.
    overwrite : bool
        Replace an existing output of the same kind.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        If the path is taken or unusable (see :func:`~.paths.check_output`).

    Examples
    --------
    >>> import tempfile, tifffile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = write_gray(Path(tmp) / "c.tif", np.full((4, 5), 0.5, np.float32))
    ...     tifffile.imread(out).dtype
    dtype('float32')
    """
    path = check_output(path, overwrite)
    kind = output_kind(path)
    if kind == "zarr":  # as a zarr run writes its confidence: multiscale OME-Zarr
        return _write_ome_gray(path, np.asarray(image))
    tmp = temp_path(path)
    try:
        if kind == "tiff":
            import tifffile

            tifffile.imwrite(tmp, np.asarray(image), compression="zlib")
        else:
            import imageio.v3 as iio

            img = np.asarray(image)
            if img.dtype.kind == "f":
                img = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
            iio.imwrite(tmp, img, extension=".png")
        replace_file(tmp, path)
    except BaseException:
        remove(tmp)
        raise
    return path


def _blocks(shape: tuple[int, ...], block: int) -> Iterator[tuple[tuple[int, ...], tuple]]:
    """Each plane's (leading index, (rows, cols)) squares of ``block`` pixels, in write order."""
    h, w = shape[-2:]
    for index in np.ndindex(*shape[:-2]):
        for y in range(0, h, block):
            for x in range(0, w, block):
                yield index, (slice(y, min(y + block, h)), slice(x, min(x + block, w)))


def _write_ome_gray(path: Path, image: np.ndarray) -> Path:
    """Write a single-channel map as a multiscale OME-Zarr, as a zarr run writes its confidence."""
    target = path.with_name(path.name + ".part.zarr")
    block = min(WRITE_BLOCK, max(image.shape[-2:]))
    ngff = NgffImage(target, image.shape, channels=0, dtype=image.dtype,
                     metadata={"kind": "confidence"}, overwrite=True, chunk=512,
                     block_size=block)
    try:
        for index, region in _blocks(image.shape, block):
            ngff.write(index, region, image[(*index, *region)])
        ngff.finalize()
        ngff.lock.release()
        remove(path)  # check_output let an existing one through only with overwrite
        rename_image(target, path)
    except BaseException:
        ngff.discard()
        raise
    return path


def _physical(layout: Layout, planes: int) -> dict[str, Any]:
    """OME-XML placement of a layout: PhysicalSizeX/Y/Z, and each plane's PositionX/Y."""
    from .axis_names import OME_UNITS

    if layout.scale is None or layout.translate is None:
        return {}
    found: dict[str, Any] = {}
    plane: dict[str, list] = {}
    units = layout.units or (None,) * len(layout.scale)
    names = (*layout.names, "y", "x")
    for name, size, shift, unit in zip(names, layout.scale, layout.translate, units,
                                       strict=True):
        letter = name.upper()
        if name in ("z", "y", "x") and (size != 1.0 or unit):
            found[f"PhysicalSize{letter}"] = size
            if unit in OME_UNITS:
                found[f"PhysicalSize{letter}Unit"] = OME_UNITS[unit]
        if name in ("y", "x") and shift:
            plane[f"Position{letter}"] = [shift] * planes
            if unit in OME_UNITS:
                plane[f"Position{letter}Unit"] = [OME_UNITS[unit]] * planes
    if plane:
        found["Plane"] = plane
    return found
