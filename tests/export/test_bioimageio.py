"""Exported bioimage.io packages: what consumers run matches colorize, tiles stitch, round trip."""

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
import yaml

from napari_colorize import colorize, export_bioimageio, load_model, train
from napari_colorize.core.render import render_composite
from napari_colorize.export.examples import example_image
from napari_colorize.export.package import _preprocess, _wrapper
from napari_colorize.export.source import architecture_source
from napari_colorize.training.evaluation import ciede2000, rgb_to_lab_np

SAMPLES = Path(__file__).parents[2] / "sample_data"
pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """A model tuned for 10 s on the stardist H&E sample, saved as a user would."""
    folder = tmp_path_factory.mktemp("tuned")
    rgb = iio.imread(SAMPLES / "stardist_histo_rgb.jpg")
    train([rgb], base="he-histology", seconds=10, out=folder / "mine.safetensors",
          progress=False, device="cpu", name="mine")
    return folder / "mine.safetensors"


@pytest.fixture(scope="module")
def packages(tmp_path_factory, tuned):
    folder = tmp_path_factory.mktemp("packages")
    models = {"he-histology": "he-histology", "fluorescence-composite": "fluorescence-composite",
              "mine": tuned}
    return {name: export_bioimageio(model, folder / f"{name}.zip")
            for name, model in models.items()}


def _member(package, name):
    with zipfile.ZipFile(package) as zf:
        return zf.read(name)


def _npy(package, name):
    import io

    return np.load(io.BytesIO(_member(package, name)))


def _torchscript(package):
    import io

    module = torch.jit.load(io.BytesIO(_member(package, "weights.torchscript.pt")))
    return lambda x: [t.detach() for t in module(x)]


def test_package_files_match_their_hashes(packages):
    for package in packages.values():
        rdf = yaml.safe_load(_member(package, "rdf.yaml"))
        entries = [rdf["documentation"], *rdf["covers"]]
        described = [rdf["weights"]["torchscript"], rdf["weights"]["pytorch_state_dict"],
                     rdf["weights"]["pytorch_state_dict"]["architecture"], *rdf["attachments"],
                     *(t["test_tensor"] for t in rdf["inputs"] + rdf["outputs"])]
        for entry in described:
            data = _member(package, entry["source"])
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["source"]
        names = set(zipfile.ZipFile(package).namelist())
        assert {e for e in entries} <= names
        modes = {info.external_attr >> 16 & 0o777 for info in zipfile.ZipFile(package).infolist()}
        assert modes == {0o644}  # unpacked files are readable by everyone, not 0o600
        halo = {"rgb": 32, "fractions": 64}[rdf["outputs"][0]["id"]]
        assert [axis["halo"] for axis in rdf["outputs"][0]["axes"][2:]] == [halo, halo]


def test_torchscript_reproduces_colorize_on_the_test_input(packages):
    """Whole image, no tiling: the exported module against the engine, float32 both."""
    package = packages["he-histology"]
    gray = _npy(package, "test_input.npy")[0, 0]
    rgb, confidence = _torchscript(package)(torch.from_numpy(_preprocess(gray[None, None])))
    exported = (rgb[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    result = colorize(gray, "he-histology", precision="fp32", confidence=True, device="cpu")
    de = ciede2000(rgb_to_lab_np(exported), rgb_to_lab_np(result.rgb))
    assert de.mean() <= 0.5
    assert np.abs(confidence[0, 0].numpy() - result.confidence).mean() < 0.01
    # the package's own test output is what the module returns
    np.testing.assert_allclose(rgb.numpy(), _npy(package, "test_output_rgb.npy"), atol=1e-4)


def test_exported_fractions_render_as_colorize(packages):
    package = packages["fluorescence-composite"]
    raw = _npy(package, "test_input.npy")
    gray = _preprocess(raw)
    fractions, _ = _torchscript(package)(torch.from_numpy(gray))
    model = load_model("fluorescence-composite")
    composite = render_composite(fractions[0].numpy() * gray[0], model.spec.palette)
    result = colorize(raw[0, 0], model, precision="fp32", device="cpu")
    de = ciede2000(rgb_to_lab_np(composite), rgb_to_lab_np(result.rgb))
    assert de.mean() <= 0.5


def test_traced_module_follows_other_sizes_and_batches(packages):
    """Tracing must not bake in the example's shape (sides 96..512, batch 2)."""
    model = load_model("he-histology")
    eager = _wrapper(model)
    traced = _torchscript(packages["he-histology"])
    x = torch.rand(2, 1, 96, 160)
    x[:, :, :8] = 0.02  # dark pixels take the linear branch of the Lab companding
    with torch.no_grad():
        for a, b in zip(eager(x), traced(x), strict=True):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def _tile_with_halo(module, x, halo, side=256):
    """Run ``module`` as a tiled consumer does: ``side`` tiles, each keeping its inner part
    (``halo`` cropped per side); tiles at the image's edge shift inward instead of padding."""
    inner = side - 2 * halo
    h, w = x.shape[-2:]

    def starts(length):  # (output start, tile start) pairs covering 0..length
        keep = [min(k, length - inner) for k in range(0, length, inner)]
        return [(k, min(max(k - halo, 0), length - side)) for k in keep]

    tiled = None
    for top, ty in starts(h):
        for left, tx in starts(w):
            out = module(x[:, :, ty : ty + side, tx : tx + side])[0]
            if tiled is None:
                tiled = torch.zeros(*out.shape[:2], h, w)
            tiled[:, :, top : top + inner, left : left + inner] = out[
                :, :, top - ty : top - ty + inner, left - tx : left - tx + inner]
    return tiled


@pytest.mark.parametrize("name", ["he-histology", "fluorescence-composite"])
def test_halo_stitches_256_pixel_tiles_like_the_whole_image(packages, name):
    """A consumer that crops the declared halo from 256-pixel tiles is within the engine's own
    tiling error (256-pixel tiles, default overlap) on the same image."""
    rdf = yaml.safe_load(_member(packages[name], "rdf.yaml"))
    halo = rdf["outputs"][0]["axes"][2]["halo"]
    module = _torchscript(packages[name])
    model = load_model(name)
    if name == "he-histology":
        raw = iio.imread(SAMPLES / "cmu1_region_gray.png")[:640, :640]
    else:
        raw = iio.imread(SAMPLES / "ndev_neuron_gray.tif")[:608, :480]
    gray = _preprocess(raw[None, None])
    x = torch.from_numpy(gray)
    with torch.no_grad():
        whole, tiled = module(x)[0], _tile_with_halo(module, x, halo)

    def lab(out):
        if model.spec.kind == "fractions":
            return rgb_to_lab_np(render_composite(out[0].numpy() * gray[0], model.spec.palette))
        return rgb_to_lab_np((out[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))

    de = ciede2000(lab(tiled), lab(whole))
    engine = ciede2000(rgb_to_lab_np(colorize(raw, model, tile_size=256, device="cpu").rgb),
                       rgb_to_lab_np(colorize(raw, model, tile_size=1024, overlap=0,
                                              device="cpu").rgb))
    assert de.mean() <= engine.mean() + 0.05
    assert np.percentile(de, 99.9) <= np.percentile(engine, 99.9) + 0.5


def test_round_trip_gives_the_same_colours(packages, tuned):
    """export -> load_model -> colorize equals the original model, bundled and tuned."""
    gray = example_image("chroma")
    originals = {"he-histology": "he-histology",
                 "fluorescence-composite": "fluorescence-composite", "mine": tuned}
    for name, package in packages.items():
        back = load_model(package)
        assert back.card == load_model(originals[name]).card
        a = colorize(gray, originals[name], device="cpu")
        b = colorize(gray, back, device="cpu")
        assert np.array_equal(a.rgb, b.rgb), name
    assert load_model(packages["mine"]).card["base"]["name"] == "he-histology"


def test_architecture_source_runs_without_the_package(tmp_path):
    (tmp_path / "architecture.py").write_text(architecture_source())
    code = ("import sys; sys.modules['napari_colorize'] = None\n"
            "import torch, architecture\n"
            "rgb, c = architecture.GrayToRGB((8, 8, 8, 8))(torch.rand(1, 1, 96, 96))\n"
            "f, c = architecture.GrayToFractions((8, 8, 8, 8), 3, [0.2, 0.3, 0.5])"
            "(torch.rand(1, 1, 64, 64))\n"
            "print(tuple(rgb.shape), tuple(f.shape))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1, 3, 96, 96) (1, 3, 64, 64)"


def test_standalone_networks_match_the_package(tmp_path, packages):
    """The state dict loads into the source's wrapper and gives the traced module's output."""
    namespace: dict = {}
    exec(compile(architecture_source(), "architecture.py", "exec"), namespace)
    rdf = yaml.safe_load(_member(packages["he-histology"], "rdf.yaml"))
    entry = rdf["weights"]["pytorch_state_dict"]
    net = namespace[entry["architecture"]["callable"]](**entry["architecture"]["kwargs"])
    import io

    net.load_state_dict(torch.load(io.BytesIO(_member(packages["he-histology"], "weights.pt")),
                                   weights_only=True))
    x = torch.rand(1, 1, 128, 96)
    with torch.no_grad():
        torch.testing.assert_close(net.eval()(x)[0],
                                   _torchscript(packages["he-histology"])(x)[0],
                                   atol=1e-4, rtol=1e-4)


def test_bioimageio_spec_and_core_accept_the_packages(packages):
    """What bioimage.io consumers check: the spec's validation and the model test."""
    pytest.importorskip("bioimageio.core", reason="the [bioimageio] extra is not installed")
    from bioimageio.core import test_model
    from bioimageio.spec import load_description

    for package in packages.values():
        descr = load_description(package, perform_io_checks=True)
        assert descr.validation_summary.status != "failed", descr.validation_summary
        summary = test_model(package)
        failed = [(d.name, [e.msg[:200] for e in d.errors]) for d in summary.details
                  if d.status == "failed"]
        assert summary.status == "passed", failed


# -- bad inputs: one line naming the problem, nothing written ---------------------------------
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"path": "model.tar"}, "must end in .zip"),
    ({"path": "missing-folder/model.zip"}, "output folder missing-folder does not exist"),
    ({"halo": 0}, "halo 0 must be an int from 1"),
    ({"halo": 2.5}, "halo 2.5 must be an int"),
    ({"example": np.zeros((4, 64, 64), np.uint8)}, "must be 2-D grayscale"),
    ({"example": np.zeros((40, 400), np.uint8)}, "smaller than"),
    ({"model": "no-such-model"}, "unknown model 'no-such-model'"),
])
def test_export_refuses_bad_input(tmp_path, monkeypatch, kwargs, message):
    monkeypatch.chdir(tmp_path)
    args = {"model": "he-histology", "path": "model.zip", **kwargs}
    with pytest.raises(ValueError, match=message) as info:
        export_bioimageio(args.pop("model"), args.pop("path"), **args)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_export_does_not_replace_without_overwrite(tmp_path):
    out = tmp_path / "model.zip"
    out.write_bytes(b"mine")
    with pytest.raises(ValueError, match=r"already exists; pass overwrite=True \(--overwrite\)"):
        export_bioimageio("he-histology", out)
    assert out.read_bytes() == b"mine"


def _zip(path, files):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _tampered(package, tmp_path, name, data):
    with zipfile.ZipFile(package) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    files[name] = data
    return _zip(tmp_path / "tampered.zip", files)


def test_load_model_refuses_other_and_broken_packages(tmp_path, packages):
    other = {"type": "model", "format_version": "0.5.4", "name": "a segmentation model"}
    cases = [
        (tmp_path / "junk.zip", "not a readable zip file"),
        (_zip(tmp_path / "empty.zip", {"README.md": "hi"}), "has no rdf.yaml"),
        (_zip(tmp_path / "other.zip", {"rdf.yaml": yaml.safe_dump(other)}),
         "a bioimage.io model that napari-colorize did not export"),
        (_zip(tmp_path / "bad.zip", {"rdf.yaml": "a: [unclosed"}), "cannot read rdf.yaml"),
        (_tampered(packages["he-histology"], tmp_path, "he-histology.safetensors", b"x" * 64),
         "he-histology.safetensors in tampered.zip has sha256"),
        (tmp_path / "absent.zip", "not found"),
        (tmp_path / "folder.zip", "is a folder, not a .zip file"),
    ]
    (tmp_path / "folder.zip").mkdir()
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    for path, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            load_model(path)
        assert "\n" not in str(info.value)


def test_read_spec_of_a_package(packages):
    from napari_colorize.models.registry import read_spec

    spec = read_spec(packages["fluorescence-composite"])
    assert spec.kind == "fractions"
    assert spec.channel_names == load_model("fluorescence-composite").spec.channel_names


def test_a_broken_card_inside_a_package_names_the_package(tmp_path, packages):
    broken = _tampered(packages["he-histology"], tmp_path, "he-histology.json", b"{not json")
    rdf = yaml.safe_load(_member(broken, "rdf.yaml"))
    for entry in rdf["attachments"]:  # re-sign it, as a careless editor would
        if entry["source"] == "he-histology.json":
            entry["sha256"] = hashlib.sha256(b"{not json").hexdigest()
    with zipfile.ZipFile(broken) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    files["rdf.yaml"] = yaml.safe_dump(rdf).encode()
    resigned = _zip(tmp_path / "resigned.zip", files)
    with pytest.raises(ValueError, match=r"^model package resigned.zip: cannot read model card "
                                         r"he-histology.json") as info:
        load_model(resigned)
    assert "napari-colorize-package-" not in str(info.value)


def test_export_refuses_an_example_with_nan(tmp_path):
    image = np.full((128, 128), 0.5, np.float32)
    image[3, 3] = np.nan
    with pytest.raises(ValueError, match="example image contains 1 NaN or infinite values"):
        export_bioimageio("he-histology", tmp_path / "x.zip", example=image)
    assert list(tmp_path.iterdir()) == []


def test_a_16_bit_example_gives_float_test_tensors(tmp_path):
    image = (np.random.default_rng(0).random((128, 160)) * 4000).astype(np.uint16)
    package = export_bioimageio("he-histology", tmp_path / "x.zip", example=image)
    rdf = yaml.safe_load(_member(package, "rdf.yaml"))
    assert rdf["inputs"][0]["data"]["type"] == "float32"
    assert _npy(package, "test_input.npy").dtype == np.float32
    assert [p["id"] for p in rdf["inputs"][0]["preprocessing"]][1] == "scale_range"
