import json
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from napari_colorize.cli import main
from napari_colorize.models.registry import save_model


@pytest.fixture
def model_path(tmp_path, tiny_model):
    return str(save_model(tiny_model.net, {"name": "tiny"}, tmp_path / "tiny.safetensors"))


@pytest.fixture
def gray_png(tmp_path, gray_image):
    path = tmp_path / "gray.png"
    iio.imwrite(path, gray_image)
    return path


@pytest.mark.parametrize("suffix", [".png", ".tif", ".ome.zarr"])
def test_colorize_writes_each_format(tmp_path, gray_png, model_path, suffix):
    out = tmp_path / f"out{suffix}"
    conf = tmp_path / "conf.tif"
    code = main(["colorize", str(gray_png), str(out), "--model", model_path, "--tile", "128",
                 "--overlap", "32", "--confidence", str(conf), "--quiet"])
    assert code == 0
    from napari_colorize import colorize
    from napari_colorize.io.readers import read_image

    result = colorize(iio.imread(gray_png), model_path, tile_size=128, overlap=32,
                      confidence=True)
    ref, ref_conf = result.rgb, result.confidence
    got = np.asarray(read_image(out)[...])
    if suffix == ".ome.zarr":
        got = np.moveaxis(got, 0, -1)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_allclose(tifffile.imread(conf), ref_conf)


def test_existing_output_needs_overwrite(tmp_path, gray_png, model_path, capsys):
    out = tmp_path / "o.png"
    out.write_bytes(b"keep")
    assert main(["colorize", str(gray_png), str(out), "--model", model_path, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "already exists; pass --overwrite to replace it" in err  # the shell's words
    assert err.count("\n") == 1
    assert out.read_bytes() == b"keep"
    assert main(["colorize", str(gray_png), str(out), "--model", model_path, "--quiet",
                 "--tile", "128", "--overlap", "32", "--overwrite"]) == 0
    assert iio.imread(out).shape == (511, 237, 3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tile", "32"], "below the model's minimum"),
        (["--tile-size", "512", "--overlap", "300"], "overlap 300 must be < tile_size/2 = 256"),
        (["--model", "nope"], "unknown model 'nope'"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path, gray_png, model_path, capsys, args, message):
    argv = ["colorize", str(gray_png), str(tmp_path / "o.tif"), "--quiet"]
    if "--model" not in args:
        argv += ["--model", model_path]
    assert main(argv + args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert "\n" not in err
    assert not list(tmp_path.glob("o.tif*"))


def test_rgb_input_is_refused(tmp_path, model_path, capsys):
    iio.imwrite(tmp_path / "rgb.png", np.zeros((80, 80, 3), np.uint8))
    assert main(["colorize", str(tmp_path / "rgb.png"), str(tmp_path / "o.png"),
                 "--model", model_path]) == 2
    assert "looks RGB" in capsys.readouterr().err


@pytest.mark.parametrize("out_suffix", [".png", ".ome.zarr"])
@pytest.mark.parametrize("conf_name", ["conf.zarr", "conf.ome.zarr"])
def test_a_zarr_confidence_is_ome_zarr_whatever_out_is(tmp_path, gray_png, model_path,
                                                       out_suffix, conf_name):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    out, conf = tmp_path / f"out{out_suffix}", tmp_path / conf_name
    assert main(["colorize", str(gray_png), str(out), "--model", model_path, "--tile", "128",
                 "--overlap", "32", "--confidence", str(conf), "--quiet"]) == 0
    nodes = list(Reader(parse_url(str(conf)))())
    assert nodes[0].data[0].shape == (511, 237)
    from napari_colorize import colorize

    want = colorize(iio.imread(gray_png), model_path, tile_size=128, overlap=32,
                    confidence=True).confidence
    np.testing.assert_array_equal(np.asarray(nodes[0].data[0]), want)


def test_zarr_result_with_confidence_elsewhere(tmp_path, gray_png, model_path):
    out, conf = tmp_path / "r.ome.zarr", tmp_path / "conf.tif"
    assert main(["colorize", str(gray_png), str(out), "--model", model_path, "--tile", "128",
                 "--overlap", "32", "--confidence", str(conf), "--quiet"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf.tif", "gray.png", "r.ome.zarr",
                                                          "tiny.json", "tiny.safetensors"]
    assert tifffile.imread(conf).shape == (511, 237)


def test_failed_confidence_copy_keeps_the_finished_zarr(tmp_path, gray_png, model_path,
                                                        monkeypatch, capsys):
    from napari_colorize.commands import colorize as command

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    out, conf = tmp_path / "r.ome.zarr", tmp_path / "conf.tif"
    args = ["colorize", str(gray_png), str(out), "--model", model_path, "--tile", "128",
            "--overlap", "32", "--confidence", str(conf), "--quiet"]
    monkeypatch.setattr(command, "write_gray", full_disk)
    assert main(args) == 1
    assert "No space left" in capsys.readouterr().err
    from napari_colorize.io.readers import read_metadata

    assert read_metadata(out)["complete"] is True  # the result survives; its confidence too
    assert (tmp_path / "r.confidence.ome.zarr").exists()
    assert not conf.exists()
    monkeypatch.undo()
    conf.write_bytes(b"mine")  # a resume never replaces a file it did not write
    assert main([*args, "--resume"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert conf.read_bytes() == b"mine"


def test_png_refuses_stacks(tmp_path, model_path, capsys):
    tifffile.imwrite(tmp_path / "s.tif", np.zeros((2, 64, 64), np.uint8),
                     photometric="minisblack")
    assert main(["colorize", str(tmp_path / "s.tif"), str(tmp_path / "o.png"), "--model",
                 model_path, "--tile", "64", "--overlap", "0", "--quiet"]) == 2
    assert "PNG holds one 2-D image" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_models_and_help(capsys):
    assert main(["models"]) == 0
    assert "he-histology" in capsys.readouterr().out.split()
    with pytest.raises(SystemExit):
        main(["colorize", "--help"])
    text = capsys.readouterr().out
    for option in ("--tile", "--overlap", "--batch", "--device", "--confidence", "--overwrite"):
        assert option in text


def test_train_cli_and_evaluate(tmp_path, colour_image, capsys):
    iio.imwrite(tmp_path / "c.png", colour_image)
    out = tmp_path / "lab.safetensors"
    assert main(["train", str(tmp_path / "c.png"), "--steps", "3", "--out", str(out),
                 "--quiet", "--name", "lab"]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["name"] == "lab"
    assert main(["train", str(tmp_path / "c.png"), "--steps", "3", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "c.png"), "--steps", "1", "--out", str(out), "--quiet",
                 "--overwrite"]) == 0
    perceptual = tmp_path / "perceptual.safetensors"
    assert main(["train", str(tmp_path / "c.png"), "--steps", "2", "--out", str(perceptual),
                 "--quiet", "--loss", "ciede2000"]) == 0
    card = json.loads(perceptual.with_suffix(".json").read_text())
    assert card["training"]["config"]["loss"] == "ciede2000"
    assert main(["train", "--recipe", "he-histology", "--out", str(tmp_path), "--loss", "l1"]) == 2
    assert "--loss" in capsys.readouterr().err
    assert main(["train", "--recipe", "he-histology", "--out", str(tmp_path), "--steps", "2",
                 "--seed", "3"]) == 2  # the recipe's own budget and seed make the model
    assert "it takes no --steps, --seed" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "c.png"), "--steps", "3", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(out), str(tmp_path / "c.png")]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[0])
    assert set(result["ciede2000"]) == {"model", "gray", "mean_chroma", "lut"}
    assert result["ciede2000"]["gray"]["tissue"] > result["ciede2000"]["lut"]["tissue"]
    with pytest.raises(SystemExit):
        main(["evaluate", "--hints", "-3", str(tmp_path / "c.png")])
    assert "'-3' is not a whole number >= 0" in capsys.readouterr().err
    assert main(["evaluate", "--model", "fluorescence-composite", str(tmp_path / "c.png")]) == 2
    assert "fluorescence-composite predicts fractions" in capsys.readouterr().err


def test_console_script_runs():
    done = subprocess.run([sys.executable, "-m", "napari_colorize.cli", "--help"],
                          capture_output=True, text=True, check=True)
    assert "colorize" in done.stdout


def test_cli_resume_and_hints(tmp_path, gray_image, model_path, monkeypatch, capsys):
    from napari_colorize.io import ngff

    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, np.stack([gray_image] * 3), photometric="minisblack")
    hints = tmp_path / "hints.csv"
    hints.write_text("z,row,col,r,g,b\n1,30,40,60,60,200\n")
    args = ["colorize", str(stack), str(tmp_path / "out.ome.zarr"), "--model", model_path,
            "--tile", "64", "--overlap", "16", "--hints", str(hints), "--quiet"]
    original, calls = ngff.NgffImage.write, []

    def interrupted(self, *a, **kw):  # Ctrl-C after the first plane is written
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return original(self, *a, **kw)

    monkeypatch.setattr(ngff.NgffImage, "write", interrupted)
    assert main([*args, "--blending", "constant"]) == 130
    assert "continue with --resume" in capsys.readouterr().err
    monkeypatch.undo()
    assert main([*args, "--blending", "constant"]) == 2  # exists, incomplete: refused
    assert "--resume" in capsys.readouterr().err
    assert main([*args, "--blending", "constant", "--resume"]) == 0
    from napari_colorize.io.readers import read_metadata

    meta = read_metadata(tmp_path / "out.ome.zarr")
    assert meta["complete"] is True
    assert meta["hints"]["points"] == [[1.0, 30.0, 40.0]]
    import zarr

    def level0(name):
        return np.asarray(zarr.open_group(tmp_path / name, mode="r")["0"])

    assert not np.array_equal(level0("out.ome.zarr")[:, 0], level0("out.ome.zarr")[:, 1])


def test_warnings_are_one_line(tmp_path, model_path, capsys):
    import warnings

    from napari_colorize.io.ngff import OmeZarrMerger

    merger = OmeZarrMerger(tmp_path / "r.ome.zarr", (64, 64), confidence=True)
    merger.write((), (slice(0, 64), slice(0, 64)), np.full((64, 64, 3), 90, np.uint8),
                 np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64))
    merger.close()
    unfinished = tmp_path / "r.confidence.ome.zarr"  # an interrupted gray result, read as input
    shown = warnings.showwarning
    assert main(["colorize", str(unfinished), str(tmp_path / "o.ome.zarr"), "--model",
                 model_path, "--quiet"]) == 0
    err = capsys.readouterr().err
    assert f"napari-colorize: warning: {unfinished} is incomplete" in err
    assert "warnings.warn" not in err
    assert err.count("\n") == 2, err  # the warning, then "wrote ..."
    assert warnings.showwarning is shown  # the caller's display is restored


@pytest.fixture
def small_tif(tmp_path):
    path = tmp_path / "in.tif"
    tifffile.imwrite(path, (np.arange(64 * 64) % 251).astype(np.uint8).reshape(64, 64))
    return path


def colorize_small(src, out, model_path, *options):
    return main(["colorize", str(src), str(out), "--model", model_path, "--tile", "64",
                 "--overlap", "16", "--quiet", *options])


@pytest.mark.parametrize(
    ("name", "confidence", "written"),
    [
        ("O.ZARR", None, ["O.ZARR"]),
        ("O.OME.ZARR", "C.TIF", ["C.TIF", "O.OME.ZARR"]),
        ("O.Ome.Zarr", "O.confidence.Ome.Zarr", ["O.Ome.Zarr", "O.confidence.Ome.Zarr"]),
        ("O.OME.ZARR", "C.ZARR", ["C.ZARR", "O.OME.ZARR"]),
        ("O.TIF", "C.PNG", ["C.PNG", "O.TIF"]),
    ],
)
def test_upper_case_output_suffixes(tmp_path, small_tif, model_path, capsys, name, confidence,
                                    written):
    options = ["--confidence", str(tmp_path / confidence)] if confidence else []
    assert colorize_small(small_tif, tmp_path / name, model_path, *options) == 0, \
        capsys.readouterr().err
    made = sorted(p.name for p in tmp_path.iterdir() if p.name.upper().startswith(("O.", "C.")))
    assert made == written
    from napari_colorize.io.readers import read_image

    assert read_image(tmp_path / name).shape in ((64, 64, 3), (3, 64, 64))


def test_confidence_with_an_unknown_suffix_is_named(tmp_path, small_tif, model_path, capsys):
    assert colorize_small(small_tif, tmp_path / "o.tif", model_path, "--confidence",
                          str(tmp_path / "c.jpg")) == 2
    err = capsys.readouterr().err
    assert err == (f"napari-colorize: error: --confidence {tmp_path / 'c.jpg'} must end in one "
                   "of .ome.zarr, .zarr, .ome.tif, .ome.tiff, .tif, .tiff, .png\n")
    assert not list(tmp_path.glob("o.tif*"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["in.tif", "o.tif", "--precision", "fp16"],
         "napari-colorize colorize: error: argument --precision: invalid choice: 'fp16'"),
        (["in.tif", "o.tif", "--tile-size", "abc"],
         "napari-colorize colorize: error: argument --tile-size/--tile: 'abc' is not a whole "
         "number or 'auto'; see --help"),
        (["in.tif", "o.tif", "--overlap", "1.5"],
         "napari-colorize colorize: error: argument --overlap: '1.5' is not a whole number; "
         "see --help"),
        ([], "napari-colorize colorize: error: the following arguments are required: IN, OUT; "
             "see --help"),
        (["in.tif"], "napari-colorize colorize: error: the following arguments are required: "
                     "OUT; see --help"),
        (["in.tif", "o.tif", "--no-such-option"],
         "napari-colorize: error: unrecognized arguments: --no-such-option; see --help"),
    ],
)
def test_argument_errors_are_one_line(capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main(["colorize", *args])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith(message)
    assert captured.err.endswith("; see --help\n")
    assert "usage:" not in captured.err


def test_argument_errors_of_other_commands_are_one_line(capsys):
    for argv in ([], ["nope"], ["train", "--layers", "most"], ["export"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert err.startswith("napari-colorize"), err
    with pytest.raises(SystemExit) as info:  # help is still the whole help
        main(["colorize", "--help"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: napari-colorize colorize")


@pytest.mark.parametrize("quiet", [True, False])
def test_hints_outside_the_image_are_told(tmp_path, small_tif, model_path, capsys, quiet):
    hints = tmp_path / "hints.csv"
    hints.write_text("y,x,r,g,b\n10,10,200,0,0\n500,5,0,0,200\n-3,2,0,200,0\n")
    argv = ["colorize", str(small_tif), str(tmp_path / "o.ome.zarr"), "--model", model_path,
            "--tile", "64", "--overlap", "16", "--hints", str(hints)]
    assert main(argv + (["--quiet"] if quiet else [])) == 0
    err = capsys.readouterr().err.replace("\r", "\n").splitlines()  # the bar redraws with \r
    warned = [line for line in err if "warning" in line]
    assert warned == ["napari-colorize: warning: 2 of 3 hints outside the image ignored"]
    assert main([*argv, "--quiet", "--resume"]) == 0  # a finished run: the count still shows
    assert "warning: 2 of 3 hints outside the image ignored" in capsys.readouterr().err
    hints.write_text("y,x,r,g,b\n10,10,200,0,0\n")
    assert main([*argv, "--quiet", "--overwrite"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_ctrl_c_before_the_output_exists_claims_no_partial_result(tmp_path, monkeypatch,
                                                                  capsys):
    # e.g. while a colour reference is fitted: the OME-Zarr output is not made yet
    from napari_colorize.core import prepare

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    gray = tmp_path / "gray.png"
    iio.imwrite(gray, np.full((64, 64), 120, np.uint8))
    ref = tmp_path / "ref.png"
    iio.imwrite(ref, np.full((64, 64, 3), (200, 120, 180), np.uint8))
    monkeypatch.setattr(prepare, "fit_reference", interrupt)
    out = tmp_path / "o.ome.zarr"
    code = main(["colorize", str(gray), str(out), "--reference", str(ref), "--quiet",
                 "--no-domain-check"])
    assert code == 130
    assert not out.exists()
    err = capsys.readouterr().err
    assert "partial result" not in err
    assert "interrupted; nothing written" in err


def test_contrast_limits_take_negative_exponents():
    from napari_colorize.cli import build_parser

    args = build_parser().parse_args(["colorize", "in.tif", "out.png",
                                      "--contrast-limits", "-1e3", "4e2"])
    assert tuple(args.contrast_limits) == (-1000.0, 400.0)


def test_bad_pixels_found_in_a_file_name_the_file(tmp_path, capsys):
    import tifffile

    image = np.full((64, 64), 0.5, np.float32)
    image[3, 3] = np.nan
    path = tmp_path / "nan.tif"
    tifffile.imwrite(path, image)
    assert main(["colorize", str(path), str(tmp_path / "o.png"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"napari-colorize: error: {path}: contains 1 NaN"), err
    assert not (tmp_path / "o.png").exists()


def test_a_warning_made_an_error_is_one_line(tmp_path, small_tif, model_path, capsys):
    import warnings

    from napari_colorize import HintWarning

    hints = tmp_path / "hints.csv"
    hints.write_text("y,x,r,g,b\n5000,5000,200,0,0\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", HintWarning)  # as PYTHONWARNINGS=error does
        code = main(["colorize", str(small_tif), str(tmp_path / "o.png"), "--model", model_path,
                     "--hints", str(hints), "--quiet"])
    assert code == 2
    assert capsys.readouterr().err == "napari-colorize: error: 1 of 1 hints outside the image " \
                                      "ignored\n"
