"""The Python API as scripts call it: values far from zero, flags, results, evaluate, train."""

from __future__ import annotations

import pickle
import re
import warnings

import numpy as np
import pytest

from napari_colorize import ColorizeConfig, colorize, evaluate, iter_colorize, train
from napari_colorize.core.validation import SettingTypeError

FAST = {"tile_size": 64, "overlap": 16}


@pytest.mark.parametrize(
    ("dtype", "offset"),
    [(np.float64, 1e9), (np.float64, 1e8), (np.int64, 10**9), (np.uint32, 2**28)],
)
def test_values_far_from_zero_keep_their_gray_levels(tiny_model, gray_image, dtype, offset):
    # cast to float32 first, 1e9 + v moves by up to 64: gray levels were lost
    plain = colorize(gray_image, tiny_model, contrast_limits=(0, 255), **FAST).rgb
    far = gray_image.astype(dtype) + dtype(offset)
    shifted = colorize(far, tiny_model, contrast_limits=(float(offset), float(offset) + 255),
                       **FAST).rgb
    assert np.abs(plain.astype(int) - shifted).max() <= 1


@pytest.mark.parametrize(("name", "value"), [("overwrite", "no"), ("resume", 1)])
def test_run_flags_must_be_bools(tiny_model, gray_image, tmp_path, name, value):
    with pytest.raises(TypeError, match=f"{name} must be True or False"):
        colorize(gray_image, tiny_model, out=tmp_path / "o.ome.zarr", **{name: value}, **FAST)
    assert not (tmp_path / "o.ome.zarr").exists()


def test_iter_colorize_checks_settings_at_the_call(gray_image):
    with pytest.raises(ValueError, match="tile_size"):
        iter_colorize(gray_image, tile_size=-5)  # not at the first next()


def test_wrong_setting_types_are_type_errors_and_value_errors(gray_image):
    for settings in ({"tile_size": "512"}, {"block_size": "1024"}, {"overlap": None}):
        with pytest.raises(TypeError) as info:
            ColorizeConfig(**settings)
        assert isinstance(info.value, (SettingTypeError, ValueError))
    with pytest.raises(ValueError, match="unknown stain 'foo'"):
        ColorizeConfig(stain="foo")
    config = ColorizeConfig(palette=["red", [0, 1, 0], np.array([0, 0, 1.0])])
    assert hash(config) == hash(pickle.loads(pickle.dumps(config)))


def test_the_result_reads_as_its_rgb_image(tiny_model, gray_image):
    result = colorize(gray_image, tiny_model, **FAST)
    assert result.shape == result.rgb.shape == (*gray_image.shape, 3)
    assert (result.dtype, result.ndim, len(result)) == (np.uint8, 3, gray_image.shape[0])
    np.testing.assert_array_equal(result[5, 7], result.rgb[5, 7])
    assert result.config.precision in ("fp32", "bf16")  # what ran, not "auto"
    assert result == result  # compared as an object, not by its arrays
    assert result != colorize(gray_image, tiny_model, **FAST)
    assert {result: 1}[result] == 1


def test_what_is_not_an_image_is_named(tiny_model):
    for image in (None, b"abc"):
        with pytest.raises(TypeError, match="image must be an array or a file path"):
            colorize(image, tiny_model)
    with pytest.raises(ValueError, match="image is not a regular array"):
        colorize([[1, 2], [3]], tiny_model)


def test_api_outputs_other_than_zarr_get_one_message(tiny_model, gray_image, tmp_path):
    for name in ("x.png", "x.jpg", "x"):
        with pytest.raises(ValueError, match=r"must be a \.zarr/\.ome\.zarr path"):
            colorize(gray_image, tiny_model, out=tmp_path / name, **FAST)
    assert not list(tmp_path.iterdir())


def test_masked_pixels_do_not_set_the_window(tiny_model, gray_image):
    data = gray_image.astype(np.float64)
    data[:40] = 1e6  # a fill value under the mask
    masked = np.ma.masked_array(data, mask=data > 1e5)
    result = colorize(masked, tiny_model, **FAST)
    plain = colorize(gray_image[40:].astype(np.float64), tiny_model, **FAST)
    assert result.window == plain.window
    data[:40] = np.nan  # NaN under the mask is no data, not a bad pixel
    assert colorize(np.ma.masked_invalid(data), tiny_model, **FAST).window == plain.window
    with pytest.raises(ValueError, match="every sampled pixel is masked"):
        colorize(np.ma.masked_all((64, 64)), tiny_model)


def test_a_read_only_reference_does_not_warn(colour_image):
    colour_image.flags.writeable = False
    gray = colour_image.mean(axis=-1).astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = colorize(gray, reference=colour_image, domain_check=False, **FAST)
    assert result.reference == ("array 0",)


def test_evaluate_refuses_what_it_sets_itself(tiny_model, colour_image, tmp_path):
    for settings in ({"out": tmp_path / "x.ome.zarr"}, {"confidence": False}):
        with pytest.raises(TypeError, match="evaluate\\(\\) sets"):
            evaluate(tiny_model, [colour_image], **settings)
    assert not list(tmp_path.iterdir())


def test_evaluate_names_bad_truths(tiny_model, colour_image):
    with pytest.raises(ValueError, match=r"image 0 must be one colour image \(H, W, 3\)"):
        evaluate(tiny_model, [np.stack([colour_image, colour_image])])
    with pytest.raises(ValueError, match="at least one colour image"):
        evaluate(tiny_model, [])
    with pytest.raises(ValueError, match="image 0 shows no tissue"):
        evaluate(tiny_model, [np.full((64, 64, 3), 250, np.uint8)])


def test_train_refuses_an_empty_name_and_names_a_misspelt_setting(colour_image):
    with pytest.raises(ValueError, match="model name ''"):
        train([colour_image], base="he-histology", name="", steps=1, save=False)
    with pytest.raises(TypeError, match="unknown setting 'lr_rate'; did you mean lr"):
        train([colour_image], base="he-histology", lr_rate=0.1, steps=1, save=False)


def test_resume_refuses_another_model_of_the_same_name(tmp_path, gray_image):
    import torch

    from napari_colorize.models.network import ChromaNet
    from napari_colorize.models.registry import save_model

    paths = []
    for seed in (0, 1):  # two tunings of one base: same card name, same version
        torch.manual_seed(seed)
        net = ChromaNet((8, 8, 8, 8))
        for p in net.head.parameters():
            torch.nn.init.normal_(p, std=0.05)
        paths.append(save_model(net, {"name": "lab-tuned", "version": "1"}, tmp_path / f"m{seed}"))
    out = tmp_path / "o.ome.zarr"
    stack = np.stack([gray_image] * 3)
    gen = iter_colorize(stack, paths[0], out=out, resume=True, **FAST)
    next(gen)
    gen.close()  # interrupted, kept for a resume
    with pytest.raises(ValueError, match=r"written with other weights_sha256 \(\"[0-9a-f]{8}"):
        colorize(stack, paths[1], out=out, resume=True, **FAST)
    with pytest.raises(ValueError, match=r"other settings.overlap \(16, now 8\)"):
        colorize(stack, paths[0], out=out, resume=True, tile_size=64, overlap=8)
    colorize(stack, paths[0], out=out, resume=True, **FAST)  # the same model finishes it


def test_resume_takes_the_same_weights_however_they_are_held(tmp_path, gray_image, tiny_model):
    from napari_colorize.models.registry import load_model, save_model

    card = {"name": "tiny", "version": tiny_model.spec.version}
    path = save_model(tiny_model.net, card, tmp_path / "m")
    out = tmp_path / "o.ome.zarr"
    stack = np.stack([gray_image] * 3)
    gen = iter_colorize(stack, tiny_model, out=out, resume=True, **FAST)  # in memory, no card
    next(gen)
    gen.close()
    colorize(stack, load_model(path), out=out, resume=True, **FAST)  # the same weights, saved


def test_masked_arrays_with_limits_beyond_their_dtype(tiny_model):
    data = (np.arange(64 * 64) % 100).reshape(64, 64)
    mask = np.eye(64, dtype=bool)
    for dtype, limits in ((np.uint16, (-100, 4000)), (np.uint8, (300, 400)),
                          (np.int8, (-1000, 127)), (np.float16, (1e6, 2e6))):
        masked = np.ma.masked_array(data.astype(dtype), mask=mask)
        result = colorize(masked, tiny_model, contrast_limits=limits, **FAST)
        assert (result.rgb[mask] == 0).all(), dtype  # masked: the window's low end, black


def test_dask_masked_arrays_are_refused(tiny_model):
    da = pytest.importorskip("dask.array")
    masked = da.ma.masked_array(da.zeros((64, 64), chunks=32), mask=da.zeros((64, 64), bool,
                                                                             chunks=32))
    with pytest.raises(ValueError, match="dask masked array"):
        colorize(masked, tiny_model)


@pytest.mark.parametrize("palette", [5, {"red", "blue"}, {"a": "red"}])
def test_palettes_must_be_words_or_a_list(palette):
    with pytest.raises(TypeError, match="palette must be colour words or a list"):
        ColorizeConfig(palette=palette)


def test_bad_pixels_in_a_file_name_the_file(tmp_path, tiny_model):
    import tifffile

    image = np.full((64, 64), 0.5, np.float32)
    image[3, 3] = np.nan
    path = tmp_path / "nan.tif"
    tifffile.imwrite(path, image)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: contains 1 NaN"):
        colorize(str(path), tiny_model)
