"""Format matrix helpers: read -> colorize -> write -> read back, through the API and the CLI.

Each case writes a file the way users' tools do, then checks that the API on the path and the
CLI to each output give exactly what colorizing the same pixels from a numpy array gives, with
the input byte-unchanged.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tifffile
import zarr

from napari_colorize import colorize
from napari_colorize.cli import main

TILE, OVERLAP = 128, 32
SETTINGS = {"tile_size": TILE, "overlap": OVERLAP}
CLI = ["--tile", str(TILE), "--overlap", str(OVERLAP), "--quiet"]


def fingerprint(path: Path) -> str:
    """sha256 of a file, or of every file (names and bytes) under a folder."""
    digest = hashlib.sha256()
    files = sorted(p for p in Path(path).rglob("*") if p.is_file()) if Path(path).is_dir() else [
        Path(path)]
    for p in files:
        digest.update(str(p.relative_to(path) if p != Path(path) else p.name).encode())
        digest.update(p.read_bytes())
    return digest.hexdigest()


def read_result(path: Path) -> np.ndarray:
    """A written result as uint8 ``(..., H, W, 3)`` (level 0 of pyramids)."""
    name = path.name.lower()
    if name.endswith(".zarr"):
        group = zarr.open_group(path, mode="r")
        ms = group.attrs["ome"]["multiscales"][0]
        names = [a["name"] for a in ms["axes"]]
        data = np.asarray(group[ms["datasets"][0]["path"]][...])
        return np.moveaxis(data, names.index("c"), -1)
    if name.endswith((".tif", ".tiff")):
        return tifffile.imread(path)
    return iio.imread(path)


def roundtrip(
    tmp_path: Path,
    source: Path,
    pixels: np.ndarray,
    model,
    model_file: str,
    outputs: tuple[str, ...] = (".ome.zarr",),
    cli_args: tuple[str, ...] = (),
    **kwargs,
) -> np.ndarray:
    """Colorize ``source`` through the API and the CLI; each result must equal colorizing
    ``pixels`` (the same image as a numpy array). Returns that reference."""
    before = fingerprint(source)
    want = colorize(pixels, model, **SETTINGS, **kwargs).rgb
    assert want.shape == (*pixels.shape, 3)
    assert want.dtype == np.uint8
    got = colorize(source, model, **SETTINGS, **kwargs).rgb
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, want)
    out_dir = tmp_path / "outputs"
    out_dir.mkdir(exist_ok=True)
    for suffix in outputs:
        out = out_dir / f"result{suffix}"
        code = main(["colorize", str(source), str(out), "--model", model_file, *CLI, *cli_args])
        assert code == 0, suffix
        back = read_result(out)
        assert back.shape == want.shape, suffix
        assert back.dtype == np.uint8
        np.testing.assert_array_equal(back, want, err_msg=suffix)
    assert fingerprint(source) == before, "the input changed"
    return want


def gray(shape: tuple[int, ...], dtype: str = "uint8", seed: int = 0) -> np.ndarray:
    """A tissue-like test image of ``shape`` and ``dtype`` (int16 spans negatives)."""
    rng = np.random.default_rng(seed)
    *lead, h, w = shape
    y, x = np.mgrid[0:h, 0:w]
    planes = []
    for i in range(int(np.prod(lead, dtype=int)) if lead else 1):
        v = 0.5 + 0.35 * np.sin((y + 7 * i) / 13.0) * np.cos(x / 9.0) + rng.normal(0, 0.05, (h, w))
        planes.append(np.clip(v, 0, 1))
    v = np.stack(planes).reshape(shape)
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return np.round(v * 255).astype(dtype)
    if dtype == np.uint16:
        return np.round(v * 60000).astype(dtype)
    if dtype == np.int16:
        return np.round(v * 20000 - 9000).astype(dtype)
    return (v * 3.0 - 1.0).astype(dtype)
