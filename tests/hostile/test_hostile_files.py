"""Hostile input files: missing, empty, truncated, corrupt, misnamed, inconsistent metadata.

Every case runs through the API (``colorize(path, out=...)``) and the CLI. Each must give one
line that names the file and the problem (API: ValueError/TypeError/OSError; CLI: exit status 2,
one line on stderr, no traceback), write nothing, leave the input byte-unchanged and not hang.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pydicom
import pytest
import tifffile
import torch
import zarr
from pydicom.data import get_testdata_file

from napari_colorize import colorize
from napari_colorize.cli import main
from napari_colorize.models.network import ChromaNet
from napari_colorize.models.registry import save_model

FAST = {"tile_size": 64, "overlap": 16}
CLI_FAST = ["--tile", "64", "--overlap", "16", "--quiet"]
CASES: dict = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def _gray(shape=(150, 130), dtype=np.uint8) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(1, 250, shape).astype(dtype)


def _truncate(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _tiff(path: Path, image=None, **kw) -> Path:
    tifffile.imwrite(path, _gray() if image is None else image, **kw)
    return path


def _zarr(path: Path, image=None, **kw) -> Path:
    image = _gray() if image is None else image
    chunks = (1,) * (image.ndim - 2) + (64, 64)[-image.ndim:]
    z = zarr.create_array(path, shape=image.shape, chunks=chunks, dtype=image.dtype, **kw)
    z[...] = image
    return path


def _edit_json(path: Path, edit) -> None:
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


def _ome_zarr(path: Path, edit=None) -> Path:
    group = zarr.open_group(path, mode="w")
    group.create_array("0", shape=(150, 130), chunks=(64, 64), dtype=np.uint8)[...] = _gray()
    ome = {"version": "0.5", "multiscales": [{
        "axes": [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
        "datasets": [{"path": "0", "coordinateTransformations": [
            {"type": "scale", "scale": [1.0, 1.0]}]}]}]}
    if edit:
        edit(ome)
    group.attrs["ome"] = ome
    return path


# --- missing, folders, not regular files -------------------------------------------------------
@case
def missing_tiff(d):
    return d / "nope.tif", r"nope\.tif: no such file"


@case
def missing_zarr(d):
    return d / "nope.ome.zarr", r"nope\.ome\.zarr: no such file"


@case
def folder_that_is_no_image(d):
    (d / "notes").mkdir()
    (d / "notes" / "a.txt").write_text("hello")
    return d / "notes", r"notes: it is a folder, but neither a zarr store"


@case
def empty_folder(d):
    (d / "empty").mkdir()
    return d / "empty", r"empty: it is a folder, but neither a zarr store"


@case
def fifo_named_tif(d):
    if not hasattr(os, "mkfifo"):
        pytest.skip("named pipes are POSIX")
    os.mkfifo(d / "pipe.tif")
    return d / "pipe.tif", r"pipe\.tif: not a regular file"


@case
def unknown_suffix(d):
    (d / "x.xyz").write_text("hi")
    return d / "x.xyz", r"x\.xyz: unknown file type '\.xyz'"


@case
def no_suffix_not_dicom(d):
    (d / "README").write_text("hi")
    return d / "README", r"README: unknown file type ''"


# --- empty, text and misnamed files ----------------------------------------------------------
def _empty(suffix, kind):
    def build(d):
        (d / f"empty{suffix}").write_bytes(b"")
        fragment = rf"empty{re.escape(suffix)}: not a {kind} (image|file) \(empty file\)"
        return d / f"empty{suffix}", fragment

    build.__name__ = f"zero_byte{suffix.replace('.', '_')}"
    return case(build)


def _text(suffix, kind):
    def build(d):
        (d / f"text{suffix}").write_text("this is not an image\n" * 20)
        return d / f"text{suffix}", rf"text{re.escape(suffix)}: not a {kind}"

    build.__name__ = f"text_named{suffix.replace('.', '_')}"
    return case(build)


for _suffix, _kind in ((".png", "PNG"), (".jpg", "JPEG"), (".tif", "TIFF"), (".bmp", "BMP")):
    _empty(_suffix, _kind)
    _text(_suffix, _kind)


@case
def zero_byte_dcm(d):
    (d / "e.dcm").write_bytes(b"")
    return d / "e.dcm", r"e\.dcm: not a DICOM file \(empty file\)"


@case
def text_named_dcm(d):
    (d / "t.dcm").write_text("not dicom at all\n" * 20)
    return d / "t.dcm", r"t\.dcm: not a DICOM file \(no 'DICM' header"


@case
def png_named_dcm(d):
    iio.imwrite(d / "p.dcm", _gray(), extension=".png")
    return d / "p.dcm", r"p\.dcm: not a DICOM file"


@case
def tiff_named_png(d):
    _tiff(d / "t.png")
    return d / "t.png", r"t\.png: not a PNG image"


# --- truncated files ---------------------------------------------------------------------------
@case
def truncated_png(d):
    iio.imwrite(d / "t.png", _gray())
    return _truncate(d / "t.png", 0.5), r"t\.png: OSError: image file is truncated"


@case
def truncated_jpeg(d):
    iio.imwrite(d / "t.jpg", _gray())
    return _truncate(d / "t.jpg", 0.5), r"t\.jpg: OSError: image file is truncated"


@case
def truncated_strip_tiff(d):
    return _truncate(_tiff(d / "t.tif"), 0.6), r"t\.tif: truncated TIFF"


@case
def truncated_zlib_tiled_tiff(d):
    path = _tiff(d / "t.tif", tile=(64, 64), compression="zlib")
    return _truncate(path, 0.7), r"t\.tif: truncated TIFF"


@case
def truncated_jpeg_tiled_tiff(d):  # libjpeg would decode the damaged tile without complaint
    path = _tiff(d / "t.tif", tile=(64, 64), compression="jpeg")
    return _truncate(path, 0.97), r"t\.tif: truncated TIFF"


@case
def truncated_bigtiff(d):
    path = _tiff(d / "t.tif", bigtiff=True, tile=(64, 64), compression="zstd")
    return _truncate(path, 0.8), r"t\.tif: truncated TIFF"


@case
def truncated_imagej_stack(d):
    path = _tiff(d / "t.tif", np.stack([_gray()] * 3), imagej=True)
    return _truncate(path, 0.8), r"t\.tif: (truncated|corrupt) TIFF"


@case
def tiff_header_only(d):
    return _truncate(_tiff(d / "t.tif"), 0.0005), r"t\.tif: corrupt TIFF: corrupted tag list"


# --- corrupt TIFF structure and data -----------------------------------------------------------
def _two_pages(d) -> tuple[Path, bytearray, list[int]]:
    path = d / "c.tif"
    tifffile.imwrite(path, np.stack([_gray()] * 2), tile=(64, 64), compression="zlib")
    with tifffile.TiffFile(path) as tif:
        offsets = [p.offset for p in tif.pages]
        ntags = len(tif.pages[0].tags)
    return path, bytearray(path.read_bytes()), [*offsets, ntags]


@case
def corrupt_ifd_tag_count(d):  # tifffile would silently drop the second plane
    path, data, (_, second, _) = _two_pages(d)
    data[second:second + 2] = b"\xff\xff"
    path.write_bytes(bytes(data))
    return path, r"c\.tif: corrupt TIFF: .*suspicious number of tags"


@case
def corrupt_next_ifd_pointer(d):
    path, data, (first, _, ntags) = _two_pages(d)
    at = first + 2 + 12 * ntags
    data[at:at + 4] = (10**9).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path, r"c\.tif: corrupt TIFF: .*invalid page offset"


@case
def corrupt_tag_entries(d):
    path, data, (first, _, _) = _two_pages(d)
    data[first + 2:first + 2 + 36] = b"\xab" * 36
    path.write_bytes(bytes(data))
    return path, r"c\.tif: corrupt TIFF"


@case
def corrupt_first_ifd_offset(d):
    path = _tiff(d / "c.tif")
    data = bytearray(path.read_bytes())
    data[4:8] = (10**9).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path, r"c\.tif: corrupt TIFF: .*invalid offset to first page"


@case
def corrupt_zlib_tile_data(d):  # found while the run reads it
    path = _tiff(d / "c.tif", tile=(64, 64), compression="zlib")
    with tifffile.TiffFile(path) as tif:
        offset = tif.pages[0].dataoffsets[4]
    data = bytearray(path.read_bytes())
    data[offset:offset + 40] = b"\x00" * 40
    path.write_bytes(bytes(data))
    return path, r"cannot read .*c\.tif: .*Error"


# --- colour and channels -----------------------------------------------------------------------
@case
def rgb_slide_tiff(d):
    rgb = np.stack([_gray(), _gray()[::-1], _gray()[:, ::-1]], axis=-1)
    path = _tiff(d / "slide.tif", rgb, photometric="rgb", tile=(64, 64), compression="jpeg")
    return path, r"slide\.tif looks RGB .*--from-rgb"


@case
def rgba_png(d):
    iio.imwrite(d / "a.png", np.stack([_gray()] * 4, axis=-1))
    return d / "a.png", r"a\.png looks RGBA .*--from-rgb"


@case
def planar_rgb_tiff(d):
    path = _tiff(d / "p.tif", np.stack([_gray()] * 3), photometric="rgb", planarconfig="separate")
    return path, r"p\.tif has 3 channels"


@case
def ome_tiff_channels(d):
    path = _tiff(d / "c.ome.tif", np.stack([_gray()] * 2), metadata={"axes": "CYX"})
    return path, r"c\.ome\.tif has 2 channels \(axis 0 of CYX\)"


# --- zarr stores with inconsistent metadata or data --------------------------------------------
@case
def zarr_json_without_chunk_grid(d):
    path = _zarr(d / "a.zarr")
    _edit_json(path / "zarr.json", lambda m: m.pop("chunk_grid"))
    return path, r"a\.zarr: not a readable zarr store \(.*chunk_grid"


@case
def zarr_json_not_json(d):
    path = _zarr(d / "a.zarr")
    (path / "zarr.json").write_text("{not json")
    return path, r"a\.zarr: not a readable zarr store"


@case
def zarr_json_a_list(d):
    path = _zarr(d / "a.zarr")
    (path / "zarr.json").write_text("[1, 2]")
    return path, r"a\.zarr: not a readable zarr store"


@case
def zarr_chunks_of_wrong_rank(d):
    path = _zarr(d / "a.zarr")
    _edit_json(path / "zarr.json",
               lambda m: m["chunk_grid"]["configuration"].update(chunk_shape=[64]))
    return path, r"a\.zarr: not a readable zarr store"


@case
def zarr_v2_shape_of_wrong_rank(d):
    path = _zarr(d / "a.zarr", zarr_format=2)
    _edit_json(path / ".zarray", lambda m: m.update(shape=[150]))
    return path, r"a\.zarr: "


@case
def zarr_v2_bad_dtype(d):
    path = _zarr(d / "a.zarr", zarr_format=2)
    _edit_json(path / ".zarray", lambda m: m.update(dtype="<q9"))
    return path, r"a\.zarr: not a readable zarr store"


@case
def zarr_corrupt_zstd_chunk(d):  # found while the run reads it
    path = _zarr(d / "a.zarr")
    chunk = path / "c" / "1" / "1"
    chunk.write_bytes(os.urandom(chunk.stat().st_size))
    return path, r"a\.zarr: .*Error"


@case
def zarr_corrupt_chunk_in_float_stack(d):  # found while the intensity window is sampled
    path = _zarr(d / "a.zarr", _gray((2, 150, 130), np.float32))
    chunk = next(p for p in sorted((path / "c").rglob("*")) if p.is_file())
    chunk.write_bytes(b"\x28\xb5\x2f\xfd" + os.urandom(50))
    return path, r"a\.zarr: .*Error"


@case
def zarr_short_uncompressed_chunk(d):
    path = _zarr(d / "a.zarr", compressors=None)
    chunk = path / "c" / "0" / "1"
    chunk.write_bytes(chunk.read_bytes()[:100])
    return path, r"a\.zarr: .*Error"


@case
def zarr_incomplete_copy(d):
    path = d / "a.zarr"
    zarr.create_array(path, shape=(150, 130), chunks=(64, 64), dtype=np.uint8)[:64] = 100
    return path, r"a\.zarr is missing 6 of 9 chunks \(an incomplete copy\?\)"


@case
def zarr_huge_declared_and_empty(d):
    path = d / "h.zarr"
    zarr.create_array(path, shape=(10**6, 10**6), chunks=(512, 512), dtype=np.uint8)
    return path, r"h\.zarr is missing 3818116 of 3818116 chunks"


@case
def zarr_one_dimensional(d):
    path = _zarr(d / "a.zarr", np.arange(100, dtype=np.uint8))
    return path, r"a\.zarr: image must have at least 2"


@case
def zarr_boolean(d):
    return _zarr(d / "a.zarr", _gray() > 100), r"a\.zarr: image is boolean"


@case
def zarr_a_file_not_a_folder(d):
    (d / "f.zarr").write_bytes(b"PK\x03\x04 not really")
    return d / "f.zarr", r"f\.zarr: not a readable zarr store"


@case
def zarr_group_without_arrays(d):
    zarr.open_group(d / "g.zarr", mode="w")
    return d / "g.zarr", r"g\.zarr: zarr group holds 0 arrays"


@case
def zarr_group_with_two_arrays(d):
    group = zarr.open_group(d / "g.zarr", mode="w")
    for name in "ab":
        group.create_array(name, shape=(64, 64), dtype=np.uint8)[...] = 1
    return d / "g.zarr", r"g\.zarr: zarr group holds 2 arrays and no OME multiscales"


# --- OME-Zarr with malformed NGFF metadata -----------------------------------------------------
def _ngff(name, edit, fragment):
    def build(d):
        return _ome_zarr(d / "i.ome.zarr", edit), r"i\.ome\.zarr: .*" + fragment

    build.__name__ = name
    return case(build)


_ngff("ome_attribute_a_list", lambda o: o.clear() or o.update(multiscales="x"),
      r"malformed OME-Zarr metadata: 'multiscales' must be a non-empty list")
_ngff("multiscales_a_dict", lambda o: o.update(multiscales={"datasets": []}),
      r"'multiscales' must be a non-empty list")
_ngff("multiscales_empty", lambda o: o.update(multiscales=[]),
      r"'multiscales' must be a non-empty list")
_ngff("multiscales_of_strings", lambda o: o.update(multiscales=["0"]),
      r"'multiscales' must be a non-empty list of objects")
_ngff("datasets_missing", lambda o: o["multiscales"][0].pop("datasets"),
      r"multiscales\[0\] has no 'datasets' entry with a 'path'")
_ngff("datasets_empty", lambda o: o["multiscales"][0].update(datasets=[]),
      r"multiscales\[0\] has no 'datasets' entry")
_ngff("dataset_path_a_number", lambda o: o["multiscales"][0]["datasets"][0].update(path=0),
      r"has no 'datasets' entry with a 'path'")
_ngff("dataset_path_absent", lambda o: o["multiscales"][0]["datasets"][0].update(path="9"),
      r"OME-Zarr multiscales names dataset '9', which the group does not hold")
_ngff("axes_not_a_list", lambda o: o["multiscales"][0].update(axes="yx"),
      r"'axes' must be a list of axes")
_ngff("axes_of_numbers", lambda o: o["multiscales"][0].update(axes=[1, 2]),
      r"'axes' must be a list of axes")
_ngff("axes_count_mismatch", lambda o: o["multiscales"][0]["axes"].insert(
      0, {"name": "z", "type": "space"}), r"OME-Zarr metadata lists 3 axes but dataset '0' has 2")


@case
def ome_attribute_not_an_object(d):
    path = _ome_zarr(d / "i.ome.zarr")
    zarr.open_group(path, mode="a").attrs["ome"] = ["not", "an", "object"]
    return path, r"i\.ome\.zarr: malformed OME-Zarr metadata: 'ome' is a list"


@case
def ngff_03_string_axes_with_channels(d):  # NGFF 0.3 names axes by letter
    group = zarr.open_group(d / "i.ome.zarr", mode="w", zarr_format=2)
    group.create_array("0", shape=(2, 150, 130), dtype=np.uint8)[...] = _gray((2, 150, 130))
    group.attrs["multiscales"] = [{"version": "0.3", "axes": ["c", "y", "x"],
                                   "datasets": [{"path": "0"}]}]
    return d / "i.ome.zarr", r"i\.ome\.zarr has 2 channels \(axis 0 of CYX\)"


# --- DICOM -------------------------------------------------------------------------------------
def _dicom_series(d, edit=None, n=3) -> Path:
    folder = d / "series"
    folder.mkdir()
    base = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for k in range(n):
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [0.0, 0.0, float(k)]
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        if edit:
            edit(k, ds, base)
        ds.save_as(folder / f"s{k}.dcm")
    return folder


@case
def dicom_folder_with_two_series(d):
    def edit(k, ds, base):
        if k == 2:
            ds.SeriesInstanceUID = pydicom.uid.generate_uid()

    return _dicom_series(d, edit), r"series holds 2 DICOM series; put each series in its own"


@case
def dicom_folder_with_unequal_slices(d):
    def edit(k, ds, base):
        if k == 1:
            ds.Rows, ds.Columns = 64, 256  # same byte count, another shape

    return _dicom_series(d, edit), r"series: DICOM slices differ in size"


@case
def dicom_folder_without_images(d):
    (d / "plans").mkdir()
    shutil.copy(get_testdata_file("rtplan.dcm"), d / "plans" / "plan.dcm")
    return d / "plans", r"plans holds no DICOM images"


@case
def dicom_folder_with_a_broken_slice(d):
    folder = _dicom_series(d)
    (folder / "s1.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\xff" * 10)
    return folder, r"cannot read DICOM file .*s1\.dcm"


@case
def dicom_without_pixels(d):
    shutil.copy(get_testdata_file("rtplan.dcm"), d / "plan.dcm")
    return d / "plan.dcm", r"plan\.dcm is a DICOM file without an image \(RTPLAN\)"


@case
def dicom_truncated_pixels(d):
    shutil.copy(get_testdata_file("MR_truncated.dcm"), d / "mr.dcm")
    return d / "mr.dcm", r"cannot read DICOM pixels of .*mr\.dcm: "


@case
def dicom_truncated_file(d):
    shutil.copy(get_testdata_file("CT_small.dcm"), d / "ct.dcm")
    return _truncate(d / "ct.dcm", 0.5), r"ct\.dcm: "


@case
def dicom_undecodable_codec(d):
    shutil.copy(get_testdata_file("JPEG-lossy.dcm"), d / "j.dcm")
    return d / "j.dcm", r"cannot read DICOM pixels of .*j\.dcm: RuntimeError: Unable to decode"


@case
def dicom_palette_colour(d):
    shutil.copy(get_testdata_file("examples_palette.dcm"), d / "pal.dcm")
    return d / "pal.dcm", r"pal\.dcm: DICOM PALETTE COLOR images are not supported"


@case
def dicom_rgb_without_from_rgb(d):
    shutil.copy(get_testdata_file("SC_rgb_rle.dcm"), d / "rgb.dcm")
    return d / "rgb.dcm", r"rgb\.dcm looks RGB .*--from-rgb"


# --- the tests ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> str:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return str(save_model(ChromaNet((8, 8, 8, 8)), {"name": "tiny"}, path))


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every regular file under ``folder`` with its bytes (pipes are listed, never read)."""
    found = {}
    for p in sorted(folder.rglob("*")):
        found[str(p.relative_to(folder))] = p.read_bytes() if p.is_file() else b"<not a file>"
    return found


def build(name: str, tmp_path: Path) -> tuple[Path, str, dict]:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    path, fragment = CASES[name](inputs)
    return path, fragment, snapshot(inputs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_api_refuses_in_one_line(tmp_path, model_file, name):
    path, fragment, before = build(name, tmp_path)
    out = tmp_path / "out.ome.zarr"
    with pytest.raises((ValueError, TypeError, OSError)) as info:
        colorize(path, model_file, out=out, **FAST)
    message = str(info.value)
    assert "\n" not in message
    assert re.search(fragment, message), message
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs"]
    assert snapshot(tmp_path / "inputs") == before


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_exits_2_with_one_line(tmp_path, model_file, name, capsys):
    path, fragment, before = build(name, tmp_path)
    out = tmp_path / "out.ome.zarr"
    code = main(["colorize", str(path), str(out), "--model", model_file, *CLI_FAST])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("napari-colorize: error: "), err
    assert err.count("\n") == 1, err
    assert re.search(fragment, err), err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs"]
    assert snapshot(tmp_path / "inputs") == before


def test_there_are_many_cases():
    assert len(CASES) >= 60
