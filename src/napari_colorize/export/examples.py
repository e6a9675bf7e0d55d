"""Test inputs of exported packages: a real crop per model kind, shipped with the package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.validation import check_finite

EXAMPLES_DIR = Path(__file__).parent / "examples"
#: The bundled crop a package's test tensors come from, by model kind: a 256 x 256 crop of the
#: CMU-1 H&E region (uint8 gray), and of the ndev cultured-neuron image (uint16 gray); see
#: ``sample_data/README.md`` for both sources and their licences.
EXAMPLES = {"chroma": "he-tissue-256.png", "fractions": "fluorescence-neuron-256.tif"}
#: Largest test input side (the package's test tensors and its test stay small).
MAX_SIDE = 512


def example_image(kind: str, image: Any = None, divisor: int = 32, min_tile: int = 64
                  ) -> np.ndarray:
    """Return the 2-D test input of a package: the user's image, or the bundled crop.

    A larger image is centre-cropped to at most :data:`MAX_SIDE` a side, and both sides are cut
    to multiples of ``divisor`` (the network's contract; the package declares no padding).

    Parameters
    ----------
    kind : {"chroma", "fractions"}
        The model's kind (which bundled crop).
    image : array-like or path, optional
        A 2-D grayscale image to use instead.
    divisor, min_tile : int
        The model's divisor and smallest tile.

    Returns
    -------
    numpy.ndarray
        2-D, of the image's dtype.

    Raises
    ------
    ValueError
        The image is not 2-D, or is smaller than ``min_tile`` on a side.

    Examples
    --------
    >>> example_image("chroma").shape, example_image("fractions").dtype
    ((256, 256), dtype('uint16'))
    >>> example_image("chroma", np.zeros((100, 1000), np.uint8)).shape
    (96, 512)
    >>> example_image("chroma", np.zeros((20, 20), np.uint8))
    Traceback (most recent call last):
    ...
    ValueError: example image is 20x20, smaller than the model's smallest tile 64 on a side
    """
    label = f"example image {image}" if isinstance(image, (str, Path)) else "example image"
    if image is None or isinstance(image, (str, Path)):
        from ..io.readers import read_image

        image = read_image(EXAMPLES_DIR / EXAMPLES[kind] if image is None else image)
    array = np.asarray(image)
    if array.ndim != 2:
        raise ValueError(f"{label} must be 2-D grayscale, got shape {array.shape}")
    if array.dtype.kind not in "uif":
        raise ValueError(f"{label} must hold numbers; got dtype {array.dtype}")
    check_finite(array, label)
    if min(array.shape) < min_tile:
        raise ValueError(f"{label} is {array.shape[0]}x{array.shape[1]}, smaller than the "
                         f"model's smallest tile {min_tile} on a side")
    sides = [min(s, MAX_SIDE) // divisor * divisor for s in array.shape]
    top, left = ((s - c) // 2 for s, c in zip(array.shape, sides, strict=True))
    crop = array[top : top + sides[0], left : left + sides[1]]
    return crop.astype(np.dtype(crop.dtype.str))  # a copy, in a plain dtype (files: "<u2")
