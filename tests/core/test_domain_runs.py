"""The domain check in a run: a warning, the result's score, the OME-Zarr's metadata, the CLI."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import skimage.data
import zarr

from napari_colorize import ColorizeConfig, DomainWarning, colorize
from napari_colorize.cli import main
from napari_colorize.training.evaluation import gray_with_lightness

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"
pytestmark = pytest.mark.slow  # the bundled model and its domain statistics


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return gray_with_lightness(skimage.data.astronaut())


@pytest.fixture(scope="module")
def tissue() -> np.ndarray:
    return iio.imread(SAMPLES / "stardist_histo_gray.png")


def test_out_of_domain_input_warns_and_still_runs(photo):
    with pytest.warns(DomainWarning, match=r"^input looks unlike the H&E brightfield") as caught:
        result = colorize(photo, "he-histology", device="cpu")
    assert len([w for w in caught if w.category is DomainWarning]) == 1
    assert caught[0].filename == __file__  # points at the caller's line, not the engine
    assert result.rgb.shape == (*photo.shape, 3)
    assert not result.domain.in_domain
    assert result.domain.score > result.domain.threshold
    assert "\n" not in result.domain.message


def test_he_tissue_passes_silently(tissue):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DomainWarning)
        result = colorize(tissue, "he-histology", device="cpu")
    assert result.domain.in_domain
    assert result.domain.to_metadata()["in_domain"] is True


def test_check_can_be_switched_off(photo):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DomainWarning)
        result = colorize(photo, "he-histology", config=ColorizeConfig(domain_check=False),
                          device="cpu")
    assert result.domain is None


def test_models_without_statistics_are_not_checked():
    gray = np.full((128, 128), 90, np.uint16)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DomainWarning)
        result = colorize(gray, "fluorescence-composite", device="cpu")
    assert result.domain is None


def test_ome_zarr_records_the_score_and_resume_ignores_it(photo, tmp_path):
    out = tmp_path / "o.ome.zarr"
    with pytest.warns(DomainWarning):
        colorize(photo, "he-histology", out=out, device="cpu", block_size=256, tile_size=256)
    attrs = zarr.open_group(out, mode="r").attrs["napari_colorize"]
    assert attrs["domain"]["in_domain"] is False
    assert attrs["domain"]["score"] > 1
    json.dumps(attrs["domain"])
    # an interrupted run that recorded another score (e.g. another device's rounding) resumes
    group = zarr.open_group(out, mode="r+")
    group.attrs["napari_colorize"] = {**attrs, "complete": False,
                                      "domain": {**attrs["domain"], "score": 123.0}}
    with pytest.warns(DomainWarning):
        result = colorize(photo, "he-histology", out=out, resume=True, device="cpu",
                          block_size=256, tile_size=256)
    assert result.domain.score < 123


def test_cli_prints_one_warning_line(photo, tmp_path, capsys):
    src = tmp_path / "photo.png"
    iio.imwrite(src, photo)
    assert main(["colorize", str(src), str(tmp_path / "o.png"), "--device", "cpu",
                 "--quiet"]) == 0
    err = capsys.readouterr().err.splitlines()
    warned = [line for line in err if line.startswith("napari-colorize: warning")]
    assert len(warned) == 1
    assert warned[0].startswith("napari-colorize: warning: input looks unlike the H&E")
    assert main(["colorize", str(src), str(tmp_path / "p.png"), "--device", "cpu", "--quiet",
                 "--no-domain-check"]) == 0
    assert "napari-colorize: warning" not in capsys.readouterr().err


def test_a_slide_is_scored_block_by_block_too(tmp_path):
    # H&E on the left, a photograph on the right, in 512-px blocks
    he = iio.imread(SAMPLES / "cmu1_region_gray.png")[:512, :512]
    slide = np.concatenate([he, skimage.data.camera()], axis=1)
    out = tmp_path / "slide.ome.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DomainWarning)
        result = colorize(slide, "he-histology", out=out, device="cpu", block_size=512)
    blocks = result.domain.blocks
    assert [(b["rows"], b["cols"]) for b in blocks] == [([0, 512], [0, 512]),
                                                        ([0, 512], [512, 1024])]
    assert blocks[0]["score"] <= 1 < blocks[1]["score"]
    stored = zarr.open_group(out, mode="r").attrs["napari_colorize"]["domain"]["blocks"]
    assert stored == [dict(b) for b in blocks]
    # one block: no block list
    assert colorize(he, "he-histology", device="cpu").domain.blocks == ()
