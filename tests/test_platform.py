"""Every platform: no Unix-only call in the package, durable OME-Zarr blocks without os.sync,
and paths with spaces and non-ASCII characters through the API and the CLI."""

from __future__ import annotations

import os
import re
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
import zarr

import napari_colorize
from napari_colorize import colorize
from napari_colorize.cli import main
from napari_colorize.models.registry import save_model

SRC = Path(napari_colorize.__file__).parent

#: Calls and modules that do not exist (or do nothing useful) on Windows.
UNIX_ONLY = [
    r"\bos\.sync\b", r"\bos\.fork\b", r"\bos\.forkpty\b", r"\bos\.getuid\b", r"\bos\.geteuid\b",
    r"\bos\.getgid\b", r"\bos\.setsid\b", r"\bos\.killpg\b", r"\bos\.mkfifo\b",
    r"\bos\.getloadavg\b", r"\bos\.statvfs\b", r"^\s*import (fcntl|resource|pwd|grp|termios)\b",
    r"^\s*from (fcntl|resource|pwd|grp|termios) import", r"\bsignal\.SIG(KILL|HUP|USR1|USR2|"
    r"ALRM|CHLD|PIPE|QUIT|STOP|CONT)\b", r"\bsignal\.(alarm|pause|setitimer|siginterrupt)\b",
]


def test_no_unix_only_calls_in_the_package():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            found += [f"{path.relative_to(SRC)}:{number}: {line.strip()}"
                      for pattern in UNIX_ONLY if re.search(pattern, code)]
    assert not found, "Unix-only calls:\n" + "\n".join(found)


def test_the_check_catches_a_unix_only_call(tmp_path):
    line = "    os.sync()  # flush"
    assert any(re.search(p, line.split("#", 1)[0]) for p in UNIX_ONLY)
    assert any(re.search(p, "import fcntl") for p in UNIX_ONLY)
    assert not any(re.search(p, "os.fsync(fd)") for p in UNIX_ONLY)


# --- durable blocks without os.sync ----------------------------------------------------------

def test_blocks_are_flushed_before_they_are_recorded(gray_image, tiny_model, tmp_path,
                                                     monkeypatch):
    """Each block's record is written only after every chunk file the block wrote (RGB and
    confidence) was flushed, with no os.sync (absent on Windows) and no folder flush (as on
    Windows)."""
    from napari_colorize.io import durability, ngff

    monkeypatch.delattr(os, "sync", raising=False)
    monkeypatch.setattr(durability, "CAN_SYNC_DIRS", False)
    synced: set[str] = set()
    block_files: dict[str, set[str]] = {}
    recorded: list[str] = []
    real_fsync, real_write = durability.fsync_file, durability.write_durably
    real_mark = ngff.OmeZarrMerger.mark_done

    def fsync_file(path):
        synced.add(os.path.abspath(path))
        return real_fsync(path)

    def mark_done(self, key):
        block_files[key] = {os.path.abspath(p) for im in self._images() for p in im.unsynced}
        return real_mark(self, key)

    def write_durably(path, data=b""):
        key = Path(path).name
        missing = block_files[key] - synced
        assert not missing, f"block {key} recorded before {sorted(missing)[:2]} was flushed"
        recorded.append(key)
        return real_write(path, data)

    monkeypatch.setattr(durability, "fsync_file", fsync_file)
    monkeypatch.setattr(durability, "write_durably", write_durably)
    monkeypatch.setattr(ngff.OmeZarrMerger, "mark_done", mark_done)
    out = tmp_path / "out.ome.zarr"
    stack = np.stack([gray_image[:200, :200]] * 2)
    colorize(stack, tiny_model, out=out, confidence=True, tile_size=64, overlap=16,
             block_size=96)
    assert sorted(recorded) == sorted(block_files)  # every block recorded, once
    assert len(recorded) >= 4
    for key, written in block_files.items():
        assert any("confidence" in p for p in written), key
        assert any("confidence" not in p for p in written), key
    level0 = {os.path.abspath(p) for p in (out / "0").rglob("*") if p.is_file()
              and p.name != "zarr.json"}
    assert level0
    assert level0 <= synced


def test_chunk_files_of_a_block_are_the_ones_it_wrote(tmp_path):
    from napari_colorize.io.ngff import NgffImage

    image = NgffImage(tmp_path / "x.ome.zarr", (2, 300, 260), channels=3, dtype=np.uint8,
                      metadata={}, overwrite=False, chunk=64, block_size=128)
    before = {p for p in (tmp_path / "x.ome.zarr").rglob("*") if p.is_file()}
    data = np.full((128, 128, 3), 9, np.uint8)
    image.write((1,), (slice(128, 256), slice(0, 128)), data)
    written = {str(p) for p in (tmp_path / "x.ome.zarr").rglob("*") if p.is_file()} - {
        str(p) for p in before}
    assert written == image.unsynced  # exactly the chunk files this block created
    assert sorted(written) == image.take_unsynced()[: len(written)]
    assert not image.unsynced


# --- paths with spaces and non-ASCII characters -----------------------------------------------

@pytest.fixture
def odd(tmp_path, tiny_model) -> Path:
    folder = tmp_path / "dossier é 日本" / "sous dossier ü"
    folder.mkdir(parents=True)
    save_model(tiny_model.net, {"name": "tiny"}, folder / "modèle ø.safetensors")
    return folder


def test_api_with_spaces_and_non_ascii(odd, gray_image):
    src = odd / "in put é.tif"
    tifffile.imwrite(src, gray_image)
    model = odd / "modèle ø.safetensors"
    ref = colorize(gray_image, model, tile_size=128, overlap=32).rgb
    np.testing.assert_array_equal(colorize(src, model, tile_size=128, overlap=32), ref)
    out = odd / "rés ultat 日.ome.zarr"
    colorize(str(src), str(model), out=out, confidence=True, tile_size=128, overlap=32)
    got = np.moveaxis(np.asarray(zarr.open_group(out, mode="r")["0"]), 0, -1)
    np.testing.assert_array_equal(got, ref)
    assert (odd / "rés ultat 日.confidence.ome.zarr").is_dir()


@pytest.mark.parametrize("suffix", [".ome.zarr", ".ome.tif", ".tif", ".png"])
def test_cli_with_spaces_and_non_ascii(odd, gray_image, suffix):
    src = odd / "in put ü.png"
    iio.imwrite(src, gray_image)
    out = odd / f"out put 日本{suffix}"
    conf = odd / "confiance é.tif"
    assert main(["colorize", str(src), str(out), "--model", str(odd / "modèle ø.safetensors"),
                 "--tile", "128", "--overlap", "32", "--confidence", str(conf), "--quiet"]) == 0
    from napari_colorize.io.readers import read_image

    got = np.asarray(read_image(out)[...])
    if suffix == ".ome.zarr":
        got = np.moveaxis(got, 0, -1)
    ref = colorize(gray_image, odd / "modèle ø.safetensors", tile_size=128, overlap=32).rgb
    np.testing.assert_array_equal(got, ref)
    assert tifffile.imread(conf).shape == gray_image.shape
    assert sorted(p.name for p in odd.iterdir() if not p.name.startswith("modèle")) == sorted(
        [src.name, out.name, conf.name])


def test_paths_on_different_drives_are_distinct(monkeypatch):
    import ntpath

    from napari_colorize.io import paths

    monkeypatch.setattr(paths.os, "path", ntpath)  # as on Windows
    monkeypatch.setattr(paths, "_resolved", lambda p: ntpath.normcase(str(p)))
    assert not paths._inside("C:\\out\\a.ome.zarr", "D:\\in\\b.tif")
    assert paths._inside("D:\\in\\b.ome.zarr\\0", "D:\\in\\b.ome.zarr")
