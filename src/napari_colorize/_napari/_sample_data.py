"""File > Open Sample: grayscale inputs and their true-colour originals, as separate entries.

The images live in the repository's ``sample_data/`` folder (an editable install finds them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.readers import read_image

SAMPLE_DIR = Path(__file__).resolve().parents[3] / "sample_data"


def _read(name: str) -> np.ndarray:
    path = SAMPLE_DIR / name
    if not path.exists():
        raise FileNotFoundError(
            f"sample file {path} not found; the samples ship with the source tree "
            "(install with pip install -e .)"
        )
    return np.asarray(read_image(path)[...])


def _gray(name: str, title: str) -> list[tuple]:
    return [(_read(name), {"name": title, "colormap": "gray"}, "image")]


def _rgb(name: str, title: str) -> list[tuple]:
    return [(_read(name)[..., :3], {"name": title, "rgb": True}, "image")]


def cmu1_gray() -> list[tuple]:
    """H&E region of CMU-1-Small-Region (CC0), converted to gray."""
    return _gray("cmu1_region_gray.png", "CMU-1 region (gray)")


def cmu1_truth() -> list[tuple]:
    """The same H&E region in its true colours."""
    return _rgb("cmu1_region_rgb.jpg", "CMU-1 region (true colour)")


def histo_gray() -> list[tuple]:
    """stardist's histo.jpg (TCIA) converted to gray."""
    return _gray("stardist_histo_gray.png", "histo (gray)")


def histo_truth() -> list[tuple]:
    """stardist's histo.jpg in its true colours."""
    return _rgb("stardist_histo_rgb.jpg", "histo (true colour)")


def focus_stack() -> list[tuple]:
    """A 9-plane grayscale focus stack of an H&E region, for the whole-stack path."""
    return _gray("cmu1_focus_stack_gray.tif", "CMU-1 focus stack (gray)")
