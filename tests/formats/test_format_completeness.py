"""The incomplete-copy check: catches interrupted directory stores, never refuses valid images."""

import time

import numpy as np
import pytest
import tifffile
import zarr

from napari_colorize import colorize
from napari_colorize.core.input_store import check_store
from napari_colorize.io.readers import read_image

SETTINGS = {"tile_size": 64, "overlap": 16}


def _reopen(path):
    return zarr.open_array(path, mode="r")


@pytest.mark.parametrize(
    ("zarr_format", "separator"), [(2, "."), (2, "/"), (3, "/"), (3, ".")]
)
def test_interrupted_copy_refused_for_each_key_layout(tmp_path, zarr_format, separator):
    encoding = {"name": "v2" if zarr_format == 2 else "default", "separator": separator}
    z = zarr.create_array(tmp_path / "in.zarr", shape=(128, 128), chunks=(64, 64), dtype=np.uint8,
                          zarr_format=zarr_format, chunk_key_encoding=encoding)
    z[:64] = 100
    with pytest.raises(ValueError, match=r"in.zarr is missing 2 of 4 chunks"):
        check_store(_reopen(tmp_path / "in.zarr"))


def test_interrupted_sharded_copy_refused(tmp_path):
    z = zarr.create_array(tmp_path / "in.zarr", shape=(128, 128), chunks=(16, 16),
                          shards=(64, 64), dtype=np.uint8)
    z[:64] = 100
    with pytest.raises(ValueError, match=r"missing 2 of 4 chunks"):
        check_store(_reopen(tmp_path / "in.zarr"))


def test_zero_top_left_chunk_colorizes(tmp_path, gray_image, pointwise_model):
    img = np.clip(gray_image[:128, :128], 1, 255)
    img[:64, :64] = 0  # zarr 3 does not store this chunk
    z = zarr.create_array(tmp_path / "in.zarr", shape=img.shape, chunks=(64, 64), dtype=img.dtype)
    z[...] = img
    assert not (tmp_path / "in.zarr" / "c" / "0" / "0").exists()
    got = colorize(tmp_path / "in.zarr", pointwise_model, **SETTINGS).rgb
    np.testing.assert_array_equal(got, colorize(img, pointwise_model, **SETTINGS))


@pytest.mark.parametrize("shards", [None, (128, 128)])
def test_sparse_image_colorizes(tmp_path, gray_image, pointwise_model, shards):
    img = np.zeros((256, 256), np.uint8)  # zero background, content in one corner
    img[:100, :90] = gray_image[:100, :90]
    z = zarr.create_array(tmp_path / "in.zarr", shape=img.shape, chunks=(64, 64), shards=shards,
                          dtype=img.dtype)
    z[...] = img
    got = colorize(tmp_path / "in.zarr", pointwise_model, **SETTINGS).rgb
    np.testing.assert_array_equal(got, colorize(img, pointwise_model, **SETTINGS))


def test_sparse_float_nan_fill_colorizes(tmp_path, pointwise_model):
    img = np.full((128, 128), np.nan, np.float32)
    img[:70, :70] = np.linspace(0, 1, 70 * 70, dtype=np.float32).reshape(70, 70)
    z = zarr.create_array(tmp_path / "in.zarr", shape=img.shape, chunks=(64, 64),
                          dtype=img.dtype, fill_value=np.nan)
    z[...] = img
    check_store(_reopen(tmp_path / "in.zarr"))  # complete: NaNs are refused later, as NaNs


def test_store_with_no_chunks_refused(tmp_path):
    zarr.create_array(tmp_path / "in.zarr", shape=(128, 128), chunks=(64, 64), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"missing 4 of 4 chunks \(every pixel would be the fill"):
        check_store(_reopen(tmp_path / "in.zarr"))


def test_huge_declared_shape_is_checked_quickly(tmp_path):
    z = zarr.create_array(tmp_path / "h.zarr", shape=(10**6, 10**6), chunks=(512, 512),
                          dtype=np.uint8)
    z[:512, :512] = 7
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"missing 3818115 of 3818116 chunks"):
        check_store(_reopen(tmp_path / "h.zarr"))
    z[-1, -1] = 9
    check_store(_reopen(tmp_path / "h.zarr"))
    z[:512, :512] = 0  # chunk now equal to the fill value: deleted
    z[-512:, -512:] = 0
    z[:3, :3] = 5
    check_store(_reopen(tmp_path / "h.zarr"))  # sparse: takes the fill value around its content
    assert time.perf_counter() - start < 1.0


def test_tiff_store_is_never_refused(tmp_path, gray_image, pointwise_model):
    with tifffile.TiffWriter(tmp_path / "t.tif") as tif:
        tif.write(gray_image, tile=(64, 64), compression="zlib")
    image = read_image(tmp_path / "t.tif")
    assert isinstance(image, zarr.Array)  # tifffile's store lists no chunk keys
    check_store(image)
    got = colorize(tmp_path / "t.tif", pointwise_model, **SETTINGS).rgb
    np.testing.assert_array_equal(got, colorize(gray_image, pointwise_model, **SETTINGS))


def test_memory_store_is_not_inspected(pointwise_model):
    z = zarr.create_array(zarr.storage.MemoryStore(), shape=(128, 128), chunks=(64, 64),
                          dtype=np.uint8)
    z[:64] = 100
    check_store(z)


def test_corrupt_chunk_found_while_checking_is_one_line(tmp_path):
    z = zarr.create_array(tmp_path / "in.zarr", shape=(128, 128), chunks=(64, 64), dtype=np.uint8)
    z[:64] = 100
    (tmp_path / "in.zarr" / "c" / "0" / "1").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match=r"in.zarr: cannot read a chunk") as info:
        check_store(_reopen(tmp_path / "in.zarr"))
    assert "\n" not in str(info.value)
