"""DICOM (pydicom's and pydicom-data's test files): single-frame, multi-frame, slice folders."""

import copy
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from format_helpers import CLI, SETTINGS, fingerprint, roundtrip
from pydicom.data import get_testdata_file

from napari_colorize import colorize
from napari_colorize.cli import main
from napari_colorize.io import dicom
from napari_colorize.io.readers import read_image


def dicom_file(name: str) -> Path:
    path = get_testdata_file(name)
    assert path is not None, f"{name} not found (install pydicom-data)"
    return Path(path)


def rescaled(ds) -> np.ndarray:
    slope, intercept = float(ds.get("RescaleSlope", 1)), float(ds.get("RescaleIntercept", 0))
    return (ds.pixel_array.astype(np.float32) * np.float32(slope) + np.float32(intercept))


def test_ct_single_frame_with_rescale(tmp_path, model, model_file):
    path = dicom_file("CT_small.dcm")
    ds = pydicom.dcmread(path)
    assert float(ds.RescaleIntercept) == -1024
    hu = rescaled(ds)
    image = read_image(path)
    assert image.shape == (128, 128)
    assert image.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(image), hu)
    roundtrip(tmp_path, path, hu, model, model_file, (".ome.zarr", ".png"))


def test_mr_single_frame_keeps_its_dtype(tmp_path, model, model_file):
    path = dicom_file("MR_small.dcm")
    pixels = pydicom.dcmread(path).pixel_array
    assert read_image(path).dtype == pixels.dtype == np.int16
    roundtrip(tmp_path, path, pixels, model, model_file, (".tif",))


def test_multi_frame_mr(tmp_path, model, model_file):
    path = dicom_file("emri_small.dcm")
    pixels = pydicom.dcmread(path).pixel_array
    assert pixels.shape == (10, 64, 64)
    roundtrip(tmp_path, path, pixels, model, model_file, (".ome.zarr", ".tif"))


def test_enhanced_multi_frame_rescale_from_functional_groups(model):
    path = dicom_file("eCT_Supplemental.dcm")
    ds = pydicom.dcmread(path)
    assert "RescaleSlope" not in ds  # only in the shared functional groups
    image = read_image(path)
    assert image.shape == (2, 512, 512)
    np.testing.assert_array_equal(np.asarray(image), ds.pixel_array.astype(np.float32) - 1024)


def test_large_cr_monochrome1_is_inverted(tmp_path, model, model_file):
    path = dicom_file("RG1_UNCR.dcm")
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    image = read_image(path)
    assert image.shape == (1955, 1841)
    bright = (2 ** int(ds.BitsStored) - 1) - ds.pixel_array  # bright on screen stays bright
    np.testing.assert_array_equal(np.asarray(image[500:700, 300:420]), bright[500:700, 300:420])
    before = fingerprint(path)
    settings = {"tile_size": 512, "overlap": 32}
    want = colorize(bright, model, **settings).rgb
    np.testing.assert_array_equal(colorize(path, model, **settings), want)
    out = tmp_path / "cr.png"
    assert main(["colorize", str(path), str(out), "--model", model_file, "--tile", "512",
                 "--overlap", "32", "--quiet"]) == 0
    import imageio.v3 as iio

    np.testing.assert_array_equal(iio.imread(out), want)
    assert fingerprint(path) == before


def _series(folder: Path, n: int = 5, *, positions: bool = True, suffix: str = ".dcm") -> list:
    """Slices of one series written in shuffled file order; returns the planes in true order."""
    folder.mkdir()
    base = pydicom.dcmread(dicom_file("CT_small.dcm"))
    iop = [0.0, 0.8, 0.6, 1.0, 0.0, 0.0]  # oblique: the normal is not the z axis
    normal = np.cross(iop[:3], iop[3:])
    planes = []
    order = [3, 0, 4, 1, 2][:n]
    for k in range(n):  # slice k lies k mm along the normal
        ds = copy.deepcopy(base)
        pixels = np.roll(base.pixel_array, 9 * k, axis=1).astype(base.pixel_array.dtype)
        ds.PixelData = pixels.tobytes()
        ds.InstanceNumber = n - k if positions else k + 1  # disagrees with the position
        ds.ImageOrientationPatient = iop
        if positions:
            ds.ImagePositionPatient = list(np.array([10.0, -5.0, 3.0]) + k * normal)
        else:
            del ds.ImagePositionPatient
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.save_as(folder / f"IM{order[k]:04d}{suffix}")
        planes.append(pixels.astype(np.float32) * float(base.RescaleSlope)
                      + float(base.RescaleIntercept))
    return planes


def test_folder_of_slices_ordered_by_position(tmp_path, model, model_file):
    planes = _series(tmp_path / "series")
    stack = np.stack(planes)
    image = read_image(tmp_path / "series")
    assert image.shape == (5, 128, 128)
    np.testing.assert_array_equal(np.asarray(image), stack)
    roundtrip(tmp_path, tmp_path / "series", stack, model, model_file, (".ome.zarr",))


def test_folder_without_positions_uses_instance_number(tmp_path):
    planes = _series(tmp_path / "series", positions=False)
    np.testing.assert_array_equal(np.asarray(read_image(tmp_path / "series")), np.stack(planes))


def test_folder_of_files_without_suffix(tmp_path, model, model_file):
    planes = _series(tmp_path / "series", n=3, suffix="")
    (tmp_path / "series" / "notes.txt").write_text("not DICOM")
    stack = np.stack(planes)
    np.testing.assert_array_equal(np.asarray(read_image(tmp_path / "series")), stack)
    want = colorize(stack, model, **SETTINGS).rgb
    out = tmp_path / "o.tif"
    assert main(["colorize", str(tmp_path / "series"), str(out), "--model", model_file,
                 *CLI]) == 0
    import tifffile

    np.testing.assert_array_equal(tifffile.imread(out), want)


def test_folder_is_read_slice_by_slice(tmp_path, monkeypatch):
    _series(tmp_path / "series")
    decoded = []
    original = dicom._pixels
    monkeypatch.setattr(dicom, "_pixels", lambda frame: decoded.append(frame) or original(frame))
    image = read_image(tmp_path / "series")
    assert len(decoded) == 1  # the first slice, for the dtype and shape
    image[3, 10:20, 5:9]
    assert len(decoded) == 2
    assert image[1:3].shape == (2, 128, 128)
    assert len(decoded) == 4


def test_contrast_limits_override_the_window(model):
    path = dicom_file("CT_small.dcm")
    hu = rescaled(pydicom.dcmread(path))
    limits = (-200.0, 300.0)
    got = colorize(path, model, contrast_limits=limits, **SETTINGS).rgb
    np.testing.assert_array_equal(got, colorize(hu, model, contrast_limits=limits, **SETTINGS))
    assert not np.array_equal(got, colorize(hu, model, **SETTINGS))


def test_missing_pydicom_says_what_to_install(tmp_path, monkeypatch, model_file, capsys):
    monkeypatch.setitem(sys.modules, "pydicom", None)
    path = dicom_file("CT_small.dcm")
    with pytest.raises(ValueError, match=r"pip install 'napari-colorize\[dicom\]'"):
        colorize(path, model_file)
    assert main(["colorize", str(path), str(tmp_path / "o.png"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "napari-colorize[dicom]" in err


@pytest.mark.parametrize("kind", ["single", "multi", "folder"])
def test_dicom_array_pickles_by_reopening(tmp_path, kind):
    """dask.distributed (``--scheduler``) ships the array with pickle: it re-opens the path."""
    import pickle

    if kind == "folder":
        _series(tmp_path / "series")
        path = tmp_path / "series"
    else:
        path = dicom_file("CT_small.dcm" if kind == "single" else "emri_small.dcm")
    image = dicom.read_dicom(path)
    image[..., :4, :4]  # a decoded frame is cached (and the lock held state must not travel)
    copy_ = pickle.loads(pickle.dumps(image))
    assert copy_.shape == image.shape
    assert copy_.dtype == image.dtype
    np.testing.assert_array_equal(copy_[...], image[...])


def test_pydicom_2_is_refused_with_what_to_install(monkeypatch):
    """pydicom 2.x decodes a whole multi-frame file for every frame: 3 or newer is required."""
    monkeypatch.setattr(pydicom, "__version__", "2.4.4")
    with pytest.raises(ValueError, match=r"pydicom 3 or newer.*2\.4\.4.*napari-colorize\[dicom\]"):
        read_image(dicom_file("CT_small.dcm"))


def _cli_error(path: Path, out: Path, capsys) -> str:
    """Run the CLI on ``path``; it must fail with one ``napari-colorize: error:`` line."""
    assert main(["colorize", str(path), str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("napari-colorize: error: ")
    assert not out.exists()
    return err


def test_deflated_file_is_read(tmp_path, model, model_file):
    """pydicom cannot decode a deflated file from its path: the whole dataset is read instead."""
    path = dicom_file("image_dfl.dcm")
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.DeflatedExplicitVRLittleEndian
    pixels = ds.pixel_array
    image = read_image(path)
    assert (image.shape, image.dtype) == ((512, 512), np.uint8)
    np.testing.assert_array_equal(image[...], pixels)
    roundtrip(tmp_path, path, pixels, model, model_file, (".png",))


@pytest.mark.filterwarnings("ignore:Expected explicit VR")  # pydicom.dcmread below
def test_rgb_jpeg_from_rgb(tmp_path, model, model_file):
    """This JPEG file's header says explicit VR but is implicit: read from the dataset."""
    path = dicom_file("SC_rgb_jpeg.dcm")
    pixels = pydicom.dcmread(path).pixel_array
    assert pixels.shape == (256, 256, 3)
    want = colorize(pixels, model, from_rgb=True, **SETTINGS).rgb
    np.testing.assert_array_equal(colorize(path, model, from_rgb=True, **SETTINGS).rgb, want)
    out = tmp_path / "o.png"
    assert main(["colorize", str(path), str(out), "--model", model_file, "--from-rgb",
                 *CLI]) == 0
    import imageio.v3 as iio

    np.testing.assert_array_equal(iio.imread(out), want)


def test_multi_frame_fallback_reads_the_dataset_once(tmp_path, monkeypatch):
    """Frames of a file pydicom cannot decode from its path come from one kept dataset."""
    path = dicom_file("emri_small.dcm")
    reads = []
    monkeypatch.setattr(dicom, "_pixels", lambda frame: reads.append(frame) or 1 / 0)
    original = pydicom.dcmread
    full = []
    monkeypatch.setattr(pydicom, "dcmread", lambda *a, **k: full.append(k) or original(*a, **k))
    image = read_image(path)
    np.testing.assert_array_equal(image[...], original(path).pixel_array)
    assert len(reads) == 1  # after the first failure the path is not tried again
    assert sum(not k.get("stop_before_pixels") for k in full) == 1


def test_one_bit_image_is_refused(tmp_path, capsys):
    """BitsAllocated 1 holds 0/1 values: a mask, refused like boolean TIFF or PNG."""
    path = dicom_file("liver.dcm")
    assert pydicom.dcmread(path, stop_before_pixels=True).BitsAllocated == 1
    with pytest.raises(ValueError, match=r"liver\.dcm is a 1-bit \(binary\) DICOM image"):
        read_image(path)
    folder = tmp_path / "masks"
    folder.mkdir()
    (folder / "a.dcm").write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match=r"a\.dcm is a 1-bit \(binary\) DICOM image"):
        read_image(folder)
    err = _cli_error(path, tmp_path / "o.png", capsys)
    assert "liver.dcm is a 1-bit (binary) DICOM image, a mask" in err


def test_folder_with_a_copied_slice_is_refused(tmp_path, capsys):
    _series(tmp_path / "series", n=3)
    copy_ = tmp_path / "series" / "IM0009.dcm"
    copy_.write_bytes((tmp_path / "series" / "IM0003.dcm").read_bytes())
    uid = pydicom.dcmread(copy_, stop_before_pixels=True).SOPInstanceUID
    with pytest.raises(ValueError, match=rf"IM0003\.dcm and .*IM0009\.dcm are the same slice "
                                          rf"\(SOPInstanceUID {uid}\)"):
        read_image(tmp_path / "series")
    err = _cli_error(tmp_path / "series", tmp_path / "o.png", capsys)
    assert "IM0009.dcm are the same slice" in err


def test_folder_with_two_slices_at_one_position_is_refused(tmp_path, capsys):
    _series(tmp_path / "series", n=3)
    ds = pydicom.dcmread(tmp_path / "series" / "IM0003.dcm")  # the first slice
    ds.SOPInstanceUID = pydicom.uid.generate_uid()  # another acquisition (echo, time...)
    ds.InstanceNumber = 9
    ds.save_as(tmp_path / "series" / "IM0009.dcm")
    with pytest.raises(ValueError, match=r"IM0003\.dcm and .*IM0009\.dcm are two slices at the "
                                         r"same position"):
        read_image(tmp_path / "series")
    err = _cli_error(tmp_path / "series", tmp_path / "o.png", capsys)
    assert "two slices at the same position" in err


def test_truncated_pixel_data_is_refused(tmp_path, capsys):
    path = dicom_file("MR_truncated.dcm")
    with pytest.raises(ValueError, match=r"MR_truncated\.dcm: .*8130 bytes of pixel data, "
                                         r"fewer than the 8192 its header declares"):
        read_image(path)
    err = _cli_error(path, tmp_path / "o.png", capsys)
    assert "MR_truncated.dcm" in err
    assert "fewer than the 8192 its header declares" in err


def test_pixel_spacing_goes_to_the_result(tmp_path, model_file):
    import zarr

    _series(tmp_path / "series", n=3)  # slices 1 mm apart along their normal
    out = tmp_path / "o.ome.zarr"
    assert main(["colorize", str(tmp_path / "series"), str(out), "--model", model_file,
                 "--quiet", "--no-domain-check"]) == 0
    ms = zarr.open_group(out, mode="r").attrs["ome"]["multiscales"][0]
    scale = ms["datasets"][0]["coordinateTransformations"][0]["scale"]
    np.testing.assert_allclose(scale[-3:], [1.0, 0.661468, 0.661468])
    assert [a.get("unit") for a in ms["axes"][-3:]] == ["millimeter"] * 3
