"""DICOM geometry: whole-slide tiles assembled into their plane, spacing from enhanced functional
groups, and folders with a missing slice refused."""

import copy
import pickle
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pydicom
import pytest
from format_helpers import CLI, SETTINGS, gray, roundtrip
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from napari_colorize import colorize
from napari_colorize.cli import main
from napari_colorize.io import dicom
from napari_colorize.io.axis_names import read_axes
from napari_colorize.io.readers import read_image

WSI = "1.2.840.10008.5.1.4.1.1.77.1.6"  # VL Whole Slide Microscopy Image Storage
SECONDARY = "1.2.840.10008.5.1.4.1.1.7"


def write_dicom(path: Path, frames: np.ndarray, *, sop: str = SECONDARY, rgb: bool = False,
                **tags) -> Path:
    """An uncompressed file of ``frames`` (n, rows, cols[, 3]) with ``tags``."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = sop, ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientName = "SM", "X"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.3", "1.2.3.4"
    ds.NumberOfFrames = len(frames)
    ds.Rows, ds.Columns = frames.shape[1:3]
    ds.SamplesPerPixel = 3 if rgb else 1
    ds.PhotometricInterpretation = "RGB" if rgb else "MONOCHROME2"
    if rgb:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = frames.dtype.itemsize * 8
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.PixelData = np.ascontiguousarray(frames).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def measures(**tags) -> Sequence:
    """A SharedFunctionalGroupsSequence holding one PixelMeasuresSequence item of ``tags``."""
    item, shared = Dataset(), Dataset()
    for key, value in tags.items():
        setattr(item, key, value)
    shared.PixelMeasuresSequence = Sequence([item])
    return Sequence([shared])


def tiles_of(plane: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """Cut a plane into row-major tiles, the last row and column padded (with 7s)."""
    h, w = plane.shape[:2]
    padded = np.full((-(-h // rows) * rows, -(-w // columns) * columns, *plane.shape[2:]), 7,
                     plane.dtype)
    padded[:h, :w] = plane
    return np.stack([padded[y:y + rows, x:x + columns]
                     for y in range(0, padded.shape[0], rows)
                     for x in range(0, padded.shape[1], columns)])


def write_wsi(path: Path, plane: np.ndarray, rows: int = 64, columns: int = 96, **tags) -> Path:
    wsi = {"TotalPixelMatrixRows": plane.shape[0], "TotalPixelMatrixColumns": plane.shape[1],
           "DimensionOrganizationType": "TILED_FULL", "TotalPixelMatrixFocalPlanes": 1,
           "NumberOfOpticalPaths": 1, "ImageType": ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"],
           "SharedFunctionalGroupsSequence": measures(PixelSpacing=[0.00025, 0.0005])}
    return write_dicom(path, tiles_of(plane, rows, columns), sop=WSI, rgb=plane.ndim == 3,
                       **{**wsi, **tags})


def test_whole_slide_tiles_are_one_plane(tmp_path, model, model_file):
    plane = gray((250, 300), "uint16")  # 4 x 4 tiles of 64 x 96, the last ones padded
    path = write_wsi(tmp_path / "wsi.dcm", plane)
    image = read_image(path)
    assert image.shape == (250, 300)
    np.testing.assert_array_equal(image[...], plane)
    np.testing.assert_array_equal(image[50:140, 80:200], plane[50:140, 80:200])  # across tiles
    np.testing.assert_array_equal(image[::7, 5::3], plane[::7, 5::3])
    np.testing.assert_array_equal(image[130], plane[130])
    assert read_axes(path, 2).scale == (0.00025, 0.0005)  # mm, from the functional groups
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(image))[60:70], plane[60:70])  # dask
    roundtrip(tmp_path, path, plane, model, model_file, (".ome.zarr", ".png"))


def test_whole_slide_colour_tiles_with_from_rgb(tmp_path, model, model_file):
    v = gray((200, 150))
    plane = np.stack([v, np.roll(v, 30, axis=1), 255 - v], axis=-1)
    path = write_wsi(tmp_path / "wsi.dcm", plane)
    np.testing.assert_array_equal(read_image(path)[...], plane)
    want = colorize(plane, model, from_rgb=True, **SETTINGS).rgb
    np.testing.assert_array_equal(colorize(path, model, from_rgb=True, **SETTINGS).rgb, want)
    out = tmp_path / "o.png"
    assert main(["colorize", str(path), str(out), "--model", model_file, "--from-rgb",
                 *CLI]) == 0
    np.testing.assert_array_equal(iio.imread(out), want)


def test_whole_slide_region_decodes_only_its_tiles(tmp_path, monkeypatch):
    plane = gray((250, 300), "uint16")
    path = write_wsi(tmp_path / "wsi.dcm", plane)
    decoded = []
    original = dicom._pixels
    monkeypatch.setattr(dicom, "_pixels", lambda frame: decoded.append(frame.index)
                        or original(frame))
    image = read_image(path)
    assert image.chunks == (64, 96)
    image[70:120, 100:180]  # inside tile row 1, tile column 1
    assert decoded == [0, 5]


@pytest.mark.parametrize(
    ("tags", "message"),
    [({"DimensionOrganizationType": "TILED_SPARSE"}, r"whose tiles are placed frame by "
      r"frame \(TILED_SPARSE"),
     ({"TotalPixelMatrixFocalPlanes": 2}, r"of 2 focal planes and 1 optical paths"),
     ({"NumberOfOpticalPaths": 3}, r"of 1 focal planes and 3 optical paths"),
     ({"TotalPixelMatrixRows": 400}, r"of 16 frames, but .* need 28")],
)
def test_whole_slide_images_not_read_are_refused(tmp_path, capsys, tags, message):
    path = write_wsi(tmp_path / "wsi.dcm", gray((250, 300)), **tags)
    with pytest.raises(ValueError, match=rf"wsi\.dcm is a DICOM whole-slide image {message}"):
        read_image(path)
    out = tmp_path / "o.png"
    assert main(["colorize", str(path), str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(path) in err
    assert not out.exists()


def test_enhanced_multi_frame_spacing_from_functional_groups(tmp_path, model_file):
    import zarr

    frames = gray((2, 64, 80), "uint16")
    path = write_dicom(tmp_path / "enhanced.dcm", frames, SharedFunctionalGroupsSequence=measures(
        PixelSpacing=[0.25, 0.5], SliceThickness=3.0, SpacingBetweenSlices=2.0))
    assert read_axes(path, 3).scale == (2.0, 0.25, 0.5)
    out = tmp_path / "o.ome.zarr"
    assert main(["colorize", str(path), str(out), "--model", model_file, "--quiet",
                 "--no-domain-check"]) == 0
    ms = zarr.open_group(out, mode="r").attrs["ome"]["multiscales"][0]
    assert ms["datasets"][0]["coordinateTransformations"][0]["scale"] == [1.0, 2.0, 0.25, 0.5]
    assert [a.get("unit") for a in ms["axes"][1:]] == ["millimeter"] * 3
    thick = write_dicom(tmp_path / "thick.dcm", frames, SliceThickness=1.5,  # top level
                        SharedFunctionalGroupsSequence=measures(PixelSpacing=[0.25, 0.5]))
    assert read_axes(thick, 3).scale == (1.5, 0.25, 0.5)


def test_enhanced_ct_spacing():
    path = get_testdata_file("eCT_Supplemental.dcm")  # spacing only in the shared groups
    assert "PixelSpacing" not in pydicom.dcmread(path, stop_before_pixels=True)
    axes = read_axes(path, 3)
    assert axes.scale == (10.0, 0.388672, 0.388672)
    assert axes.units == ("millimeter",) * 3


def slices(folder: Path, positions: list[float]) -> list[Path]:
    """CT slices at ``positions`` (mm along z), one file each."""
    folder.mkdir()
    base = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    paths = []
    for k, z in enumerate(positions):
        ds = copy.deepcopy(base)
        ds.ImagePositionPatient = [0.0, 0.0, z]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.InstanceNumber = k + 1
        ds.SOPInstanceUID = generate_uid()
        paths.append(folder / f"s{k}.dcm")
        ds.save_as(paths[-1])
    return paths


def test_folder_with_a_missing_slice_is_refused(tmp_path, capsys):
    paths = slices(tmp_path / "series", [0.0, 2.5, 5.0, 10.0])
    with pytest.raises(ValueError, match=rf"{paths[2]} and {paths[3]} are 5 mm apart .* 2\.5 mm "
                                         r"\(a missing slice\?\); .*evenly spaced"):
        read_image(tmp_path / "series")
    out = tmp_path / "o.ome.zarr"
    assert main(["colorize", str(tmp_path / "series"), str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "s2.dcm and" in err
    assert not out.exists()


def test_folder_spacing_within_rounding_is_even(tmp_path):
    slices(tmp_path / "series", [0.0, 2.5004, 5.0, 7.5, 9.9998])  # decimal text rounding
    assert read_image(tmp_path / "series").shape == (5, 128, 128)
