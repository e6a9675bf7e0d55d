"""Read back a bioimage.io package that napari-colorize exported (``load_model("model.zip")``).

The package carries the model's own card and safetensors weights as attachments, named in its
description's ``config``. Their sha256 in the description are checked against the bytes, then
the card's sha256 against the weights, as for any model file.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: The description file of a package, and the ``config`` key napari-colorize writes.
PACKAGE_RDF = "rdf.yaml"
CONFIG_KEY = "napari_colorize"
#: Largest member read from a package (the bundled models' weights are a few MB).
MAX_MEMBER_BYTES = 1 << 30


def is_package(path: str | Path) -> bool:
    """Tell whether ``path`` names a package (a ``.zip``), without opening it.

    Examples
    --------
    >>> is_package("model.zip"), is_package("model.safetensors")
    (True, False)
    """
    return Path(path).suffix.lower() == ".zip"


@contextlib.contextmanager
def unpacked(path: str | Path) -> Iterator[Path]:
    """Extract a package's napari-colorize card and weights into a temporary folder.

    Parameters
    ----------
    path : str or Path
        A ``.zip`` that :func:`~napari_colorize.export.package.export_bioimageio` wrote.

    Yields
    ------
    Path
        The card, with its weights beside it (both removed on exit).

    Raises
    ------
    ValueError
        Not a readable zip, not a bioimage.io package, one that napari-colorize did not export,
        or files whose sha256 differ from the description's (one line naming the file).
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"model package {path} is a folder, not a .zip file")
    if not path.is_file():
        raise ValueError(f"model package {path} not found")
    try:
        with zipfile.ZipFile(path) as zf:
            rdf = _description(zf, path)
            config = (rdf.get("config") or {}).get(CONFIG_KEY)
            if not isinstance(config, dict) or not {"card", "weights"} <= set(config):
                raise ValueError(
                    f"{path.name} is a bioimage.io model that napari-colorize did not export; "
                    "load_model reads packages made by export_bioimageio (run other "
                    "bioimage.io models with bioimageio.core, deepImageJ or QuPath)")
            hashes = {str(a.get("source")): a.get("sha256") for a in rdf.get("attachments") or []
                      if isinstance(a, dict)}
            blobs = {key: _member(zf, path, str(config[key]), hashes)
                     for key in ("card", "weights")}
    except zipfile.BadZipFile:
        raise ValueError(f"model package {path} is not a readable zip file") from None
    with tempfile.TemporaryDirectory(prefix="napari-colorize-package-") as tmp:
        names = {key: Path(str(config[key])).name for key in blobs}
        for key, data in blobs.items():
            (Path(tmp) / names[key]).write_bytes(data)
        yield Path(tmp) / names["card"]


def _description(zf: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    import yaml

    if PACKAGE_RDF not in zf.namelist():
        raise ValueError(f"{path.name} has no {PACKAGE_RDF}: not a bioimage.io model package")
    if zf.getinfo(PACKAGE_RDF).file_size > MAX_MEMBER_BYTES:
        raise ValueError(f"{PACKAGE_RDF} in {path.name} is too large to be a model description")
    try:
        rdf = yaml.safe_load(zf.read(PACKAGE_RDF))
    except yaml.YAMLError as exc:
        raise ValueError(f"cannot read {PACKAGE_RDF} in {path.name}: "
                         f"{str(exc).splitlines()[0]}") from None
    if not isinstance(rdf, dict) or rdf.get("type") != "model":
        raise ValueError(f"{path.name} does not describe a bioimage.io model")
    return rdf


def _member(zf: zipfile.ZipFile, path: Path, name: str, hashes: dict[str, Any]) -> bytes:
    if name not in zf.namelist() or name not in hashes:
        raise ValueError(f"{path.name} lacks {name}, which its description names")
    if zf.getinfo(name).file_size > MAX_MEMBER_BYTES:
        raise ValueError(f"{name} in {path.name} is larger than {MAX_MEMBER_BYTES >> 20} MB: "
                         "not a napari-colorize model")
    data = zf.read(name)
    digest = hashlib.sha256(data).hexdigest()
    if digest != hashes[name]:
        raise ValueError(f"{name} in {path.name} has sha256 {digest[:16]}..., expected "
                         f"{hashes[name]}")
    return data
