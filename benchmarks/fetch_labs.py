"""Fetch every lab image (of the chosen roles) into the cache and print one JSON line per image.

Usage: python benchmarks/fetch_labs.py [--roles train eval-only eval-ihc] [--no-decode]

Each line: name, lab, role, package, archive, shape (as load_rgb gives it), seconds (fetch +
decode; the first image of an archive also pays its download), sha256_ok, and error (one line)
when it failed. A last line sums up per lab. Exit status 1 if any image failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from napari_colorize.models.registry import sha256_file
from napari_colorize.training.datasets import IMAGES, fetch, load_rgb
from napari_colorize.training.labs import ROLES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", nargs="+", default=["train", "eval-only", "eval-ihc"],
                        choices=ROLES)
    parser.add_argument("--no-decode", action="store_true", help="fetch and check only")
    args = parser.parse_args(argv)
    labs: dict[str, dict] = {}
    failed = 0
    for img in IMAGES.values():
        if img.role not in args.roles:
            continue
        row: dict = {"name": img.name, "lab": img.lab, "role": img.role,
                     "package": f"{img.package}=={img.version}", "archive": img.archive}
        start = time.perf_counter()
        try:
            path = fetch(img.name)
            row["sha256_ok"] = sha256_file(path) == img.sha256
            if img.role == "fluorescence" or args.no_decode:
                row["shape"] = None
            else:
                row["shape"] = list(load_rgb(img.name).shape)
        except Exception as exc:  # report every failure, keep going
            row["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            failed += 1
        row["seconds"] = round(time.perf_counter() - start, 2)
        print(json.dumps(row), flush=True)
        lab = labs.setdefault(img.lab, {"role": img.role, "images": 0, "pixels": 0, "failed": 0})
        lab["images"] += 1
        lab["failed"] += "error" in row
        if row.get("shape"):
            lab["pixels"] += row["shape"][0] * row["shape"][1]
    print(json.dumps({"summary": labs, "failed": failed}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
