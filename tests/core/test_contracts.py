"""The engine's contracts: one result type, one config, mergers, untouched caller models."""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest
import tifffile
import torch

from napari_colorize import ColorizeConfig, ColorizeResult, colorize, iter_colorize
from napari_colorize.core.distributed import worker_image, worker_model
from napari_colorize.core.events import drain
from napari_colorize.core.merge import ArrayMerger, Merger, OutArrayMerger, Outputs
from napari_colorize.io.ngff import OmeZarrMerger
from napari_colorize.models.resolve import resolve_model

FAST = {"tile_size": 128, "overlap": 32}


def test_result_holds_only_what_was_asked_for(pointwise_model, gray_image):
    plain = colorize(gray_image, pointwise_model, **FAST)
    assert isinstance(plain, ColorizeResult)
    assert plain.confidence is None
    assert plain.channels is None
    both = colorize(gray_image, pointwise_model, confidence=True, **FAST)
    np.testing.assert_array_equal(both.rgb, plain.rgb)
    assert both.confidence.shape == gray_image.shape
    assert both.confidence.dtype == np.float32


def test_plain_rgb_through_asarray(pointwise_model, gray_image):
    result = colorize(gray_image, pointwise_model, **FAST)
    rgb = np.asarray(result)
    assert rgb is result.rgb  # no copy for an in-memory result
    assert np.asarray(result, dtype=np.float32).dtype == np.float32
    assert "ColorizeResult(rgb=<ndarray (511, 237, 3) uint8>" in repr(result)


def test_result_records_what_the_run_decided(pointwise_model, gray_image):
    result = colorize(gray_image.astype(np.uint16) * 100, pointwise_model, block_size=256,
                      **FAST)
    assert result.model == "pointwise"
    assert result.config.block_size == 256
    assert result.config.batch_size == 4
    assert result.config.tile_size == 128
    low, high = result.window
    assert 0 <= low < high <= 25500
    # 511 x 237 in 128-px tiles at step 96: 5 x 3 tiles, in 2 x 1 blocks of 256
    assert result.blocks == 2
    assert result.tiles >= 15


def test_zarr_result_is_level_0(pointwise_model, gray_image, tmp_path):
    result = colorize(gray_image, pointwise_model, out=tmp_path / "r.ome.zarr", confidence=True,
                      **FAST)
    assert result.rgb.shape == (3, *gray_image.shape)  # channel-first, as NGFF stores it
    assert result.confidence.shape == gray_image.shape
    assert np.asarray(result).shape == (3, *gray_image.shape)


def test_config_is_the_source_of_defaults():
    config = ColorizeConfig()
    params = inspect.signature(colorize).parameters
    for name in ("tile_size", "overlap", "batch_size", "block_size", "blending", "precision"):
        assert params[name].default == getattr(config, name)
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert inspect.signature(iter_colorize).parameters["tile_size"].default == "auto"


def test_config_and_keywords_combine(pointwise_model, gray_image):
    config = ColorizeConfig(tile_size=128, overlap=32, confidence=True)
    a = colorize(gray_image, pointwise_model, config=config)
    b = colorize(gray_image, pointwise_model, config=config, confidence=False)
    assert a.confidence is not None
    assert b.confidence is None
    np.testing.assert_array_equal(a.rgb, b.rgb)
    assert a.config.tile_size == 128


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"tile": 256}, TypeError, "unknown setting 'tile'; did you mean tile_size"),
        ({"precision": "half"}, ValueError, "precision 'half' must be one of"),
        ({"batch_size": "many"}, ValueError, "batch_size must be an integer number of tiles"),
        ({"block_size": 8}, ValueError, "block_size must be an integer from 16"),
        ({"confidence": "yes"}, TypeError, "confidence must be True or False"),
        ({"contrast_limits": (5, 1)}, ValueError, "must increase"),
    ],
)
def test_bad_settings_refused_before_the_input_is_read(options, error, match, tmp_path):
    missing = tmp_path / "not-there.tif"  # never opened: settings are checked first
    with pytest.raises(error, match=match) as info:
        colorize(missing, **options)
    assert "\n" not in str(info.value)


def test_config_refuses_another_type():
    with pytest.raises(TypeError, match="config must be a ColorizeConfig; got dict"):
        colorize(np.zeros((64, 64), np.uint8), config={"tile_size": 64})


def test_caller_model_is_not_moved_or_changed(tiny_model, gray_image):
    before = {k: v.clone() for k, v in tiny_model.net.state_dict().items()}
    result = colorize(gray_image, tiny_model, device="cpu", precision="bf16", **FAST)
    assert tiny_model.precision == "auto"
    assert tiny_model.device == torch.device("cpu")
    after = tiny_model.net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert result.config.precision == "bf16"


def test_resolve_model_copies_only_when_needed(tiny_model):
    assert resolve_model(tiny_model, "cpu") is tiny_model
    assert resolve_model(tiny_model, "auto") is tiny_model
    bf16 = resolve_model(tiny_model, "cpu", "bf16")
    assert bf16 is not tiny_model
    assert bf16.precision == "bf16"
    assert tiny_model.precision == "auto"
    with pytest.raises(TypeError, match="model must be a model name"):
        resolve_model(object())


def test_bf16_stays_close_to_fp32(tiny_model, gray_image):
    fp32 = colorize(gray_image, tiny_model, precision="fp32", **FAST).rgb.astype(int)
    bf16 = colorize(gray_image, tiny_model, precision="bf16", **FAST).rgb.astype(int)
    assert np.abs(fp32 - bf16).mean() < 1.0
    assert np.abs(fp32 - bf16).max() <= 12


def test_mergers_share_one_base():
    with pytest.raises(TypeError, match="abstract"):
        Merger()  # type: ignore[abstract]
    memory = ArrayMerger((4, 4), confidence=False)
    assert not memory.keeps_partial
    assert not memory.complete
    assert memory.completed() == set()
    assert issubclass(OutArrayMerger, Merger)
    assert issubclass(OmeZarrMerger, Merger)
    assert OmeZarrMerger.keeps_partial  # an interrupted zarr run stays resumable
    assert isinstance(memory.finalize(), Outputs)


def test_a_minimal_merger_needs_only_write_result_discard():
    class Listing(Merger):
        def __init__(self):
            self.blocks = []

        def write(self, index, region, rgb, confidence, maps=None):
            self.blocks.append((index, region))

        def result(self):
            return Outputs(self.blocks)

        def discard(self):
            self.blocks.clear()

    merger = Listing()
    merger.write((), (slice(0, 1), slice(0, 1)), np.zeros((1, 1, 3), np.uint8), None)
    merger.mark_done("0-0-0")
    merger.close()
    assert merger.buffer((), (slice(0, 1), slice(0, 1))) is None
    assert merger.finalize().rgb == [((), (slice(0, 1), slice(0, 1)))]


def test_worker_image_reopens_a_rewritten_input(tmp_path):
    path = tmp_path / "in.tif"
    tifffile.imwrite(path, np.zeros((32, 32), np.uint8))
    first = worker_image(str(path))
    assert worker_image(str(path)) is first  # opened once while unchanged
    tifffile.imwrite(path, np.full((40, 40), 7, np.uint8))
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second = worker_image(str(path))
    assert second is not first
    assert second.shape == (40, 40)
    assert int(np.asarray(second[...]).max()) == 7


def test_worker_image_names_a_missing_path(tmp_path):
    with pytest.raises(ValueError, match="worker cannot read"):
        worker_image(str(tmp_path / "gone.tif"))


def test_worker_model_is_loaded_once_per_name():
    a = worker_model("he-histology", "cpu", "auto")
    assert worker_model("he-histology", "cpu", "auto") is a
    assert worker_model("he-histology", "cpu", "bf16") is not a


def test_iter_colorize_returns_the_result(pointwise_model, gray_image):
    result = drain(iter_colorize(gray_image, pointwise_model, **FAST))
    assert isinstance(result, ColorizeResult)
    assert result.rgb.shape == (*gray_image.shape, 3)


def test_an_out_array_over_the_input_is_refused(tiny_model, gray_image):
    # blocks written into the input would be read back by later blocks
    buf = np.zeros((*gray_image.shape, 3), np.uint8)
    buf[..., 0] = gray_image
    with pytest.raises(ValueError, match="out shares memory with the input"):
        colorize(buf[..., 0], tiny_model, out=buf, **FAST)
    np.testing.assert_array_equal(buf[..., 0], gray_image)  # nothing written
    # separate halves of one buffer are fine
    both = np.zeros((2, *gray_image.shape, 3), np.uint8)
    both[0, ..., 0] = gray_image
    colorize(both[0, ..., 0], tiny_model, out=both[1], **FAST)
    np.testing.assert_array_equal(both[1], colorize(gray_image, tiny_model, **FAST).rgb)


def test_a_torch_tensor_is_read_as_its_array(tiny_model, gray_image):
    tensor = torch.from_numpy(gray_image)
    np.testing.assert_array_equal(colorize(tensor, tiny_model, **FAST).rgb,
                                  colorize(gray_image, tiny_model, **FAST).rgb)
