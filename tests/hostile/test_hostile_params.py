"""Hostile parameters: every option at 0, negative, non-integer, absurd; devices, contrast limits,
hints (arrays and CSV files), models of the wrong type, ``evaluate`` on non-finite colours.

Each case asserts the exception type and one line naming the parameter; absurd sizes are refused
before anything is allocated, and the CLI answers them with exit status 2 and one line.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_colorize import HintWarning, colorize, iter_colorize
from napari_colorize.cli import main
from napari_colorize.core.events import drain

FAST = {"tile_size": 64, "overlap": 16}
STATELESS_FIXTURES = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@pytest.fixture
def image() -> np.ndarray:
    return (np.arange(80 * 70) % 251).astype(np.uint16).reshape(80, 70)


def one_line(info) -> str:
    text = str(info.value)
    assert "\n" not in text
    return text


# --- numeric options --------------------------------------------------------------------------

BAD_NUMBERS = [
    ("tile_size", 0, ValueError, "tile_size 0 is below"),
    ("tile_size", -64, ValueError, "tile_size -64 is below"),
    ("tile_size", 64.5, ValueError, "tile_size must be an integer"),
    ("tile_size", "64", ValueError, "tile_size must be an integer"),
    ("tile_size", None, ValueError, "tile_size must be an integer"),
    ("tile_size", True, ValueError, "tile_size must be an integer"),
    ("tile_size", 10**9, ValueError, "tile_size 1000000000 exceeds the maximum of 8192"),
    ("tile_size", 8224, ValueError, "tile_size 8224 exceeds the maximum"),
    ("tile_size", 100, ValueError, "tile_size 100 must be a multiple of 32"),
    ("overlap", -1, ValueError, "overlap -1 must be >= 0"),
    ("overlap", 0.5, ValueError, "overlap must be an integer"),
    ("overlap", 32, ValueError, "overlap 32 must be < tile_size/2 = 32"),
    ("overlap", 10**9, ValueError, "overlap 1000000000 must be <"),
    ("overlap", None, ValueError, "overlap must be an integer"),
    ("batch_size", 0, ValueError, "batch_size 0 must be >= 1"),
    ("batch_size", -3, ValueError, "batch_size -3 must be >= 1"),
    ("batch_size", 2.5, ValueError, "batch_size must be an integer number of tiles"),
    ("batch_size", "many", ValueError, "batch_size must be an integer"),
    ("batch_size", None, ValueError, "batch_size must be an integer"),
    ("batch_size", 10**9, ValueError, "batch_size 1000000000 x tile_size 64\\^2 is more than"),
    ("block_size", 0, ValueError, "block_size must be an integer from 16 to 16384 .* got 0"),
    ("block_size", -16, ValueError, "block_size must be .* got -16"),
    ("block_size", 15, ValueError, "block_size must be .* got 15"),
    ("block_size", 100.5, ValueError, "block_size must be .* got 100.5"),
    ("block_size", 10**9, ValueError, "block_size must be .* got 1000000000"),
    ("block_size", "big", ValueError, "block_size must be .* got 'big'"),
    ("block_size", None, ValueError, "block_size must be .* got None"),
    ("blending", None, ValueError, "blending None must be one of"),
    ("blending", ["taper"], ValueError, r"blending \['taper'\] must be one of"),
    ("confidence", "yes", TypeError, "confidence must be True or False; got 'yes'"),
    ("channels", 1, TypeError, "channels must be True or False; got 1"),
]


@pytest.mark.parametrize(("name", "value", "exc", "match"), BAD_NUMBERS,
                         ids=[f"{n}={v!r}"[:40] for n, v, _, _ in BAD_NUMBERS])
def test_bad_numeric_options(pointwise_model, image, name, value, exc, match):
    with pytest.raises(exc, match=match) as info:
        colorize(image, pointwise_model, **{**FAST, name: value})
    assert name in one_line(info)


def test_absurd_sizes_are_refused_before_the_model_or_a_buffer(tiny_model, image, monkeypatch):
    from napari_colorize.core import prepare, tile_plan

    def no_allocation(*args, **kwargs):
        raise AssertionError("allocated output for a refused run")

    monkeypatch.setattr(prepare, "ArrayMerger", no_allocation)
    monkeypatch.setattr(tile_plan, "auto_batch_size", no_allocation)
    for kw in ({"tile_size": 10**9}, {"batch_size": 10**9}, {"block_size": 10**9},
               {"tile_size": 2**20, "batch_size": "auto"}):
        with pytest.raises(ValueError, match=r"tile_size|batch_size|block_size"):
            colorize(image, tiny_model, **{**FAST, **kw})


@settings(max_examples=25, deadline=None, suppress_health_check=STATELESS_FIXTURES)
@given(
    tile_size=st.one_of(st.integers(-10**12, 10**12), st.sampled_from([64, 96, 128, 8192])),
    overlap=st.one_of(st.integers(-10**6, 10**6), st.integers(0, 40)),
    batch_size=st.one_of(st.integers(-10**12, 10**12), st.integers(1, 8)),
)
def test_any_integer_settings_run_or_name_the_setting(pointwise_model, tile_size, overlap,
                                                      batch_size):
    image = (np.arange(50 * 40) % 251).astype(np.uint8).reshape(50, 40)
    try:
        out = colorize(image, pointwise_model, tile_size=tile_size, overlap=overlap,
                       batch_size=batch_size).rgb
    except ValueError as exc:
        text = str(exc)
        assert "\n" not in text
        assert re.search(r"\b(tile_size|overlap|batch_size)\b", text), text
    else:
        assert out.shape == (50, 40, 3)


# --- devices and models -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("device", "exc", "match"),
    [
        ("cuda:7", ValueError, "device 'cuda:7' is not available"),
        ("gpu", ValueError, "device 'gpu' is not a device name"),
        ("", ValueError, "device '' is not a device name"),
        ("cuda:-1", ValueError, "device 'cuda:-1'"),
        (42, TypeError, "device must be a name such as 'cpu'.* got int 42"),
        (["cpu"], TypeError, "device must be a name"),
        (1.5, TypeError, "device must be a name"),
    ],
)
def test_unknown_devices(image, tiny_model, device, exc, match):
    from napari_colorize.models.registry import resolve_device

    with pytest.raises(exc, match=match) as info:
        resolve_device(device)
    one_line(info)
    with pytest.raises(exc, match=match):
        colorize(image, tiny_model, device=device, **FAST)


def test_cuda_index_beyond_the_devices_here():
    from napari_colorize.models.registry import resolve_device

    wanted = f"cuda:{torch.cuda.device_count() + 3}"
    with pytest.raises(ValueError, match=f"device '{wanted}' is not available"):
        resolve_device(wanted)


@pytest.mark.parametrize("model", [42, 3.5, ["he-histology"], object(), {"name": "x"}, b"x"])
def test_models_of_the_wrong_type_name_model(image, model):
    with pytest.raises(TypeError, match=r"^model must be a model name") as info:
        colorize(image, model, **FAST)
    one_line(info)


def test_load_model_of_the_wrong_type_names_model():
    from napari_colorize import load_model

    with pytest.raises(TypeError, match=r"model must be a model name .* got int 42"):
        load_model(42)


def test_scheduler_of_the_wrong_type_names_it(image, pointwise_model):
    with pytest.raises(ValueError, match=r"scheduler must be a dask.distributed Client"):
        colorize(image, pointwise_model, scheduler=42, **FAST)


# --- contrast limits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "exc", "match"),
    [
        ((5, 1), ValueError, r"contrast_limits \(5.0, 1.0\) must increase"),
        ((5, 5), ValueError, r"contrast_limits \(5.0, 5.0\) must increase"),
        ((np.nan, 1), ValueError, "contrast_limits .* must be finite"),
        ((0, np.inf), ValueError, "contrast_limits .* must be finite"),
        ((-np.inf, 0), ValueError, "contrast_limits .* must be finite"),
        ("0,1", TypeError, "contrast_limits must be two numbers .* got str '0,1'"),
        ((0, 1, 2), TypeError, r"contrast_limits must be two numbers .* got \(0, 1, 2\)"),
        ({"low": 0, "high": 1}, TypeError, "contrast_limits must be two numbers .* got dict"),
        (5, TypeError, "contrast_limits must be two numbers .* got int 5"),
        ((0,), TypeError, "contrast_limits must be two numbers"),
        (("a", "b"), TypeError, "contrast_limits must be two numbers"),
        ((True, False), TypeError, "contrast_limits must be two numbers"),
        (np.array([[0, 1], [2, 3]]), TypeError, "contrast_limits must be two numbers"),
        ((None, 1), TypeError, "contrast_limits must be two numbers"),
    ],
)
def test_bad_contrast_limits(pointwise_model, image, limits, exc, match):
    with pytest.raises(exc, match=match) as info:
        colorize(image, pointwise_model, contrast_limits=limits, **FAST)
    one_line(info)


@pytest.mark.parametrize("limits", [(0, 4000), [0.0, 4000.0], np.array([0, 4000]),
                                    (np.uint16(0), np.float32(4000))])
def test_contrast_limits_of_any_sequence_type(pointwise_model, image, limits):
    np.testing.assert_array_equal(
        colorize(image, pointwise_model, contrast_limits=limits, **FAST),
        colorize(image, pointwise_model, contrast_limits=(0.0, 4000.0), **FAST),
    )


# --- hints ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hints", "match"),
    [
        ("not-a-file.csv", "cannot read hints not-a-file.csv: .*CSV path"),
        ("10,10,255,0,0", "cannot read hints 10,10,255,0,0"),
        (42, "hints must be \\(points, colours\\), a dict or a CSV path; got int"),
        (([[np.nan, 5]], [[1, 0, 0]]), "hint points and colours must be finite"),
        (([[5, 5]], [[np.nan, 0, 0]]), "hint points and colours must be finite"),
        (([[1, 2, 3]], [[1, 0, 0]]), "hint points need 2 coordinates each"),
        (([[1, 2]], [[1, 0]]), "hints need one RGB colour per point"),
        (([[1, 2]], [[1, 0, 0], [0, 1, 0]]), "hints need one RGB colour per point"),
        (([[1, 2]], 5), "hints need one RGB colour per point; got the single number"),
        ((["a"], [[1, 0, 0]]), "hint points and colours must be numbers"),
        (([[1, 2]], [[300, 0, 0]]), "hint colours must be in 0-1 or 0-255; got .* 0 to 300"),
        (([[1, 2]], [[-1, 0, 0]]), "hint colours must be in 0-1 or 0-255"),
        ({"pts": [[1, 2]]}, "hints dict needs keys 'points' and 'colors'"),
        ((np.zeros((1001, 2)), np.zeros((1001, 3))), "hints: 1001 points; at most 1000"),
    ],
)
def test_bad_hints(tiny_model, image, hints, match):
    with pytest.raises(ValueError, match=match) as info:
        colorize(image.astype(np.uint8), tiny_model, hints=hints, **FAST)
    one_line(info)


def test_hints_outside_the_image_are_counted_not_refused(tiny_model, image):
    gen = iter_colorize(image, tiny_model, hints=([[5, 5], [500, 5], [-1, 3]], [[1, 0, 0]] * 3),
                        **FAST)
    with pytest.warns(HintWarning, match="2 of 3 hints outside the image ignored") as caught:
        first = next(gen)
    assert caught[0].filename == __file__  # points at the caller's line
    assert first.message == "2 of 3 hints outside the image ignored"
    result = drain(gen)
    assert result.rgb.shape == (*image.shape, 3)
    assert result.hints_ignored == 2


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "holds no hint rows"),
        (b"\n\n  \n", "holds no hint rows"),
        (b"row,col,r,g,b\n", "holds no hint rows"),
        (b"row,col,r,g,b\n1,2,255,0,0\n3,4,0,255\n", "line 3 has 4 columns; expected 5"),
        (b"1,2,255,0,0,7\n", "line 1 has 6 columns; expected 5"),
        (b"1,2,255,0,0\n3,four,0,255,0\n", "line 2: 'four' is not a number"),
        (b"1,2,255,0,nan\n", "hint points and colours must be finite"),
        (b"1,2,999,0,0\n", "hint colours must be in 0-1 or 0-255"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "is not a text CSV file"),
        (bytes(range(256)), "is not a text CSV file"),
    ],
    ids=["empty", "blank", "header-only", "ragged", "too-wide", "word", "nan", "colour-999",
         "png-bytes", "binary"],
)
def test_bad_hint_csv_files_name_the_file(tiny_model, image, tmp_path, content, match):
    path = tmp_path / "hints.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as info:
        colorize(image, tiny_model, hints=path, **FAST)
    assert str(path) in one_line(info)


def test_hint_csv_that_is_a_folder(tiny_model, image, tmp_path):
    with pytest.raises(ValueError, match="is not a file \\(expected a CSV path\\)"):
        colorize(image, tiny_model, hints=tmp_path, **FAST)


def test_good_hint_csv_with_header_works(tiny_model, image, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("row, col, r, g, b\n10, 12, 255, 0, 0\n")
    with_hint = colorize(image, tiny_model, hints=path, **FAST).rgb
    assert not np.array_equal(with_hint, colorize(image, tiny_model, **FAST))


# --- evaluate ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_evaluate_refuses_non_finite_colours(tiny_model, colour_image, bad):
    from napari_colorize import evaluate

    truth = colour_image[:96, :96].astype(np.float32) / 255
    truth[5, 5, 1] = bad
    with pytest.raises(ValueError, match="image 0 contains 1 NaN or infinite values") as info:
        evaluate(tiny_model, [truth])
    one_line(info)


def test_evaluate_refuses_a_gray_truth_stored_as_rgb(tiny_model, colour_image, tmp_path):
    import imageio.v3 as iio

    from napari_colorize import evaluate

    gray = colour_image[:96, :96].mean(-1, keepdims=True).repeat(3, -1).astype(np.uint8)
    iio.imwrite(tmp_path / "gray3.png", gray)
    with pytest.raises(ValueError, match=r"gray3\.png has no colour") as info:
        evaluate(tiny_model, [tmp_path / "gray3.png"])
    one_line(info)


def test_evaluate_refuses_non_finite_colours_in_a_file(tiny_model, colour_image, tmp_path):
    import tifffile

    from napari_colorize import evaluate

    truth = colour_image[:96, :96].astype(np.float32) / 255
    truth[0, 0] = np.nan
    path = tmp_path / "truth.tif"
    tifffile.imwrite(path, truth, photometric="rgb")
    with pytest.raises(ValueError, match=r"truth.tif contains 3 NaN"):
        evaluate(tiny_model, [path])


@pytest.mark.parametrize(("hints", "exc"), [(-1, ValueError), (1.5, TypeError), ("3", TypeError)])
def test_evaluate_hint_counts(tiny_model, colour_image, hints, exc):
    from napari_colorize import evaluate

    with pytest.raises(exc, match="hints"):
        evaluate(tiny_model, [colour_image[:96, :96]], hints=hints)


def test_evaluate_float_colours_in_range_work(tiny_model, colour_image):
    from napari_colorize import evaluate

    crop = colour_image[:128, :128]
    as_float = evaluate(tiny_model, [crop.astype(np.float64) / 255], tile_size=64, overlap=16)
    as_uint8 = evaluate(tiny_model, [crop], tile_size=64, overlap=16)
    assert as_float[0]["ciede2000"] == as_uint8[0]["ciede2000"]


# --- the CLI: exit 2 and one line -------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--tile", "0"], "tile_size 0"),
        (["--tile", "1000000000"], "tile_size 1000000000 exceeds"),
        (["--batch", "1000000000"], "batch_size 1000000000"),
        (["--overlap", "-5"], "overlap -5"),
        (["--contrast-limits", "9", "1"], r"contrast_limits \(9.0, 1.0\) must increase"),
        (["--contrast-limits", "nan", "1"], "contrast_limits .* must be finite"),
        (["--device", "gpu"], "device 'gpu' is not a device name"),
        (["--hints", "missing.csv"], "cannot read hints missing.csv"),
    ],
)
def test_cli_bad_parameters_exit_2_in_one_line(tiny_model, tmp_path, capsys, monkeypatch,
                                               extra, match):
    import tifffile

    from napari_colorize.models.registry import save_model

    monkeypatch.chdir(tmp_path)
    card = save_model(tiny_model.net, {"name": "tiny"}, tmp_path / "tiny.safetensors")
    src = tmp_path / "in.tif"
    tifffile.imwrite(src, (np.arange(96 * 96) % 4000).astype(np.uint16).reshape(96, 96))
    before = src.read_bytes()
    code = main(["colorize", str(src), str(tmp_path / "out.ome.zarr"), "--model", str(card),
                 "--quiet", *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert re.search(match, err), err
    assert not (tmp_path / "out.ome.zarr").exists()
    assert src.read_bytes() == before
