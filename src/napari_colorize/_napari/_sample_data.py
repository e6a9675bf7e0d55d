"""File > Open Sample: grayscale inputs and their true-colour originals, as separate entries.

The images live in the repository's ``sample_data/`` folder; a wheel installs them as
``<prefix>/share/napari-colorize/sample_data``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from ..io.readers import read_image

SOURCE_DIR = Path(__file__).resolve().parents[3] / "sample_data"


@cache
def sample_dir() -> Path:
    """Find the sample images.

    Returns
    -------
    Path
        The source tree's ``sample_data/`` (editable install), else the installed copy.
    """
    if SOURCE_DIR.is_dir():
        return SOURCE_DIR
    from importlib.metadata import PackageNotFoundError, files

    try:
        for entry in files("napari-colorize") or ():
            if entry.parent.name == "sample_data" and entry.name == "README.md":
                return Path(str(entry.locate())).parent
    except PackageNotFoundError:
        pass
    return SOURCE_DIR


def _read(name: str) -> np.ndarray:
    path = sample_dir() / name
    if not path.exists():
        raise FileNotFoundError(
            f"sample file {path} not found; reinstall napari-colorize (the samples ship with it)"
        )
    return np.asarray(read_image(path)[...])


def _gray(name: str, title: str) -> list[tuple]:
    return [(_read(name), {"name": title, "colormap": "gray"}, "image")]


def _rgb(name: str, title: str) -> list[tuple]:
    return [(_read(name)[..., :3], {"name": title, "rgb": True}, "image")]


def cmu1_gray() -> list[tuple]:
    """Open an H&E region of CMU-1-Small-Region (CC0), converted to gray.

    Returns
    -------
    list of tuple
        One napari layer-data tuple.
    """
    return _gray("cmu1_region_gray.png", "CMU-1 region (gray)")


def cmu1_truth() -> list[tuple]:
    """Open the CMU-1 H&E region in its true colours.

    Returns
    -------
    list of tuple
        One napari layer-data tuple.
    """
    return _rgb("cmu1_region_rgb.jpg", "CMU-1 region (true colour)")


def histo_gray() -> list[tuple]:
    """Open StarDist's histo.jpg (TCIA) converted to gray.

    Returns
    -------
    list of tuple
        One napari layer-data tuple.
    """
    return _gray("stardist_histo_gray.png", "histo (gray)")


def histo_truth() -> list[tuple]:
    """Open StarDist's histo.jpg in its true colours.

    Returns
    -------
    list of tuple
        One napari layer-data tuple.
    """
    return _rgb("stardist_histo_rgb.jpg", "histo (true colour)")


def focus_stack() -> list[tuple]:
    """Open a 9-plane grayscale focus stack of an H&E region, for the whole-stack path.

    Returns
    -------
    list of tuple
        One napari layer-data tuple.
    """
    return _gray("cmu1_focus_stack_gray.tif", "CMU-1 focus stack (gray)")


def scratch_assay() -> list[tuple]:
    """Open five time points of a wound-healing assay in gray.

    Hoechst and oblique light, uint16 (ndev-sampledata, BSD-3-Clause): the validation series of
    the fluorescence model.

    Returns
    -------
    list of tuple
        One napari layer-data tuple.
    """
    return _gray("ndev_scratch_assay_gray.tif", "scratch assay (gray)")


def neuron() -> list[tuple]:
    """Open a cultured neuron, four fluorescence channels summed to gray.

    uint16 (ndev-sampledata, BSD-3-Clause).

    Returns
    -------
    list of tuple
        One napari layer-data tuple.
    """
    return _gray("ndev_neuron_gray.tif", "neuron (gray)")
