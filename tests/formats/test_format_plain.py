"""PNG and JPEG written by imageio (Pillow), through API and CLI."""

import imageio.v3 as iio
import numpy as np
import pytest
from format_helpers import gray, roundtrip


@pytest.mark.parametrize(
    ("dtype", "outputs"), [("uint8", (".png", ".ome.zarr")), ("uint16", (".tif",))]
)
def test_png(tmp_path, model, model_file, dtype, outputs):
    img = gray((300, 200), dtype)
    path = tmp_path / "in.png"
    iio.imwrite(path, img)
    assert iio.imread(path).dtype == np.dtype(dtype)
    roundtrip(tmp_path, path, img, model, model_file, outputs)


def test_png_gray_alpha_uses_the_gray(tmp_path, model, model_file):
    img = gray((300, 200))
    path = tmp_path / "in.png"
    iio.imwrite(path, np.stack([img, np.full_like(img, 200)], axis=-1))
    roundtrip(tmp_path, path, img, model, model_file, (".png",))


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg"])
def test_jpeg(tmp_path, model, model_file, suffix):
    img = gray((300, 200))
    path = tmp_path / f"in{suffix}"
    iio.imwrite(path, img, quality=85)
    decoded = iio.imread(path)  # lossy: compare with colorizing what the file holds
    roundtrip(tmp_path, path, decoded, model, model_file, (".ome.zarr", ".png"))
