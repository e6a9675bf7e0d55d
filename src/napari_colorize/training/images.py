"""Colour images to train or tune on: read, checked (colour, tissue, size), named, hashed."""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.color import rgb_uint8_to_lab
from ..io.readers import as_rgb_uint8, read_rgb
from .patches import tissue_mask


def as_rgb(image: Any, label: str) -> np.ndarray:
    """A training image (array or path) as uint8 RGB.

    Parameters
    ----------
    image : array or path
        ``(H, W, 3)`` or ``(H, W, 4)`` array, or a file to read.
    label : str
        How errors name the image.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` uint8.

    Raises
    ------
    ValueError
        If the image is not a colour image.

    Examples
    --------
    >>> as_rgb(np.full((2, 2, 3), 0.5), "#0").dtype
    dtype('uint8')
    >>> as_rgb(np.zeros((2, 2)), "#0")
    Traceback (most recent call last):
    ...
    ValueError: training image #0 is not RGB (shape (2, 2))
    """
    if isinstance(image, (str, Path)):
        return read_rgb(image)
    arr = np.asarray(image)
    if arr.ndim != 3:
        raise ValueError(f"training image {label} is not RGB (shape {arr.shape})")
    return as_rgb_uint8(arr, f"training image {label}")


def image_label(image: Any, index: int) -> str:
    """How errors name a training image: its path, or ``#index`` for an array.

    Parameters
    ----------
    image : array or path
        The image.
    index : int
        Its place in the list of images.

    Returns
    -------
    str

    Examples
    --------
    >>> image_label("slides/a.png", 0), image_label(np.zeros((2, 2, 3)), 3)
    ('slides/a.png', '#3')
    """
    return str(image) if isinstance(image, (str, Path)) else f"#{index}"


def check_training_images(
    images: Iterable[Any], patch: int, *, labels: Sequence[str] | None = None
) -> list[np.ndarray]:
    """Load and check training images: colour, some tissue, at least ``patch`` pixels a side.

    Images smaller than ``patch`` are skipped with one warning that counts them.

    Parameters
    ----------
    images : iterable of array or path
        Colour images.
    patch : int
        Side of the training patches.
    labels : sequence of str, optional
        Names of the images in error messages (default: the path, or ``#index``).

    Returns
    -------
    list of ndarray
        The images large enough, as uint8 RGB.

    Raises
    ------
    ValueError
        An image is grayscale or shows no tissue, or none is large enough.

    Examples
    --------
    >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)
    >>> [im.shape for im in check_training_images([pink], patch=64)]
    [(64, 64, 3)]
    >>> check_training_images([pink.mean(-1, keepdims=True).repeat(3, -1)], patch=64)
    Traceback (most recent call last):
    ...
    ValueError: training image #0 has no colour (it is grayscale)
    """
    checked, small = [], 0
    for i, image in enumerate(images):
        label = labels[i] if labels is not None else image_label(image, i)
        rgb = as_rgb(image, label)
        step = max(1, int(math.sqrt(rgb.shape[0] * rgb.shape[1] / 250_000)))
        lab = rgb_uint8_to_lab(rgb[::step, ::step])
        chroma = torch.sqrt(lab[1] ** 2 + lab[2] ** 2)
        if float(torch.quantile(chroma.flatten().float(), 0.99)) < 2.0:
            raise ValueError(f"training image {label} has no colour (it is grayscale)")
        if float(tissue_mask(lab).double().mean()) < 0.01:
            raise ValueError(f"training image {label} shows no tissue (less than 1% of pixels)")
        if min(rgb.shape[:2]) < patch:
            small += 1
            continue
        checked.append(rgb)
    if small:
        warnings.warn(
            f"skipped {small} of {small + len(checked)} training images smaller than the "
            f"{patch}-px patch",
            stacklevel=3,
        )
    if not checked:
        raise ValueError(f"no training image is at least {patch} pixels on each side")
    return checked


def image_hashes(images: Iterable[np.ndarray]) -> list[str]:
    """sha256 of each image's pixels (for the model card).

    Parameters
    ----------
    images : iterable of ndarray

    Returns
    -------
    list of str
        Hex digests.

    Examples
    --------
    >>> image_hashes([np.zeros(1, np.uint8)])[0][:16]
    '6e340b9cffb37a98'
    """
    return [hashlib.sha256(np.ascontiguousarray(im).tobytes()).hexdigest() for im in images]
