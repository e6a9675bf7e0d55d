"""Colour images to train, tune or evaluate on: read, checked (colour, tissue, size), named."""

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
from ..core.validation import check_finite
from ..io.colour_files import as_rgb_uint8, read_rgb
from ..io.readers import read_image
from .masks import check_region, mask_label, read_mask
from .patches import tissue_mask


def image_list(images: Any, what: str = "images", ndim: int = 3) -> list[Any]:
    """Make a list of images from one image (a path or an array) or an iterable of them.

    Parameters
    ----------
    images : path, array or iterable of them
        One image, or several. An array with at most ``ndim`` dimensions is one image (a colour
        image ``(H, W, 3)``); a larger one is a stack, one image per first index.
    what : str
        How errors name the argument.
    ndim : int
        Dimensions of one image (2 for masks).

    Returns
    -------
    list

    Raises
    ------
    ValueError
        ``images`` is neither an image nor an iterable.

    Examples
    --------
    >>> image_list("ref.png"), len(image_list(np.zeros((8, 8, 3)))), image_list(["a", "b"])
    (['ref.png'], 1, ['a', 'b'])
    >>> image_list(3)
    Traceback (most recent call last):
    ...
    ValueError: images must be a path, an array or a list of them; got int
    """
    if isinstance(images, (str, Path)):
        return [images]
    if isinstance(images, np.ndarray) and images.ndim <= ndim:
        return [images]
    try:
        return list(images)
    except TypeError:
        raise ValueError(f"{what} must be a path, an array or a list of them; got "
                         f"{type(images).__name__}") from None


def as_rgb(image: Any, label: str) -> np.ndarray:
    """Read a training image (array or path) as uint8 RGB.

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
    for i, image in enumerate(image_list(images)):
        label = labels[i] if labels is not None else image_label(image, i)
        rgb = as_rgb(image, label)
        lab = sample_lab(rgb)
        if is_gray(lab):
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


def check_references(
    images: Sequence[Any], masks: Sequence[Any] | None, labels: Sequence[str] | None = None
) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Load and check reference images for tuning, and their optional boolean masks.

    Parameters
    ----------
    images : array, path or sequence of them
        Colour references, each at least 64 pixels a side (one image alone is a list of one).
    masks : array, path or sequence of them, optional
        One mask (or ``None``: the whole image) per image, shaped like it: a boolean (or 0/1)
        array, or a file whose non-zero pixels are the region (see :func:`~.masks.read_mask`).
        Its region must span 64 pixels a side and hold tissue (see
        :func:`~.masks.check_region`).
    labels : sequence of str, optional
        Names of the images in error messages (default: the path, or ``#index``).

    Returns
    -------
    rgb : list of ndarray
        uint8 RGB images.
    masks : list of ndarray
        Boolean masks, one per image.
    labels : list of str
        The images' names.

    Raises
    ------
    ValueError
        No image, a grayscale or too small image, or a mask that is not boolean, does not fit,
        or marks too small a region or no tissue.

    Examples
    --------
    >>> pink = np.full((64, 64, 3), (235, 170, 200), np.uint8)
    >>> rgb, masks, labels = check_references([pink], None)
    >>> bool(masks[0].all()), labels
    (True, ['#0'])
    >>> check_references([pink], [np.zeros((64, 64), bool)])
    Traceback (most recent call last):
    ...
    ValueError: mask of #0 is empty: it selects no pixel
    """
    images = image_list(images)
    if not images:
        raise ValueError("give at least one colour reference image to tune on")
    labels = list(labels) if labels is not None else [image_label(im, i)
                                                     for i, im in enumerate(images)]
    masks = None if masks is None else image_list(masks, "masks", ndim=2)
    if masks is not None and len(masks) != len(images):
        raise ValueError(f"got {len(masks)} masks for {len(images)} images: give one per image")
    rgb = [as_rgb(im, label) for im, label in zip(images, labels, strict=True)]
    for im, label in zip(rgb, labels, strict=True):
        if min(im.shape[:2]) < 64:
            raise ValueError(f"reference image {label} is {im.shape[0]}x{im.shape[1]}: "
                             "tuning needs at least 64 pixels a side")
    rgb = check_training_images(rgb, 64, labels=labels)
    out_masks = []
    for i, (im, label) in enumerate(zip(rgb, labels, strict=True)):
        m = None if masks is None else masks[i]
        if m is None:
            out_masks.append(np.ones(im.shape[:2], bool))
            continue
        name = mask_label(m, label)
        m = read_mask(m, name)
        if m.shape != im.shape[:2]:
            raise ValueError(f"mask {name} has shape {m.shape}, expected {im.shape[:2]}")
        check_region(m, im, name)
        out_masks.append(m)
    return rgb, out_masks, labels


def sample_lab(rgb: np.ndarray) -> torch.Tensor:
    """CIE Lab of about 250,000 pixels of a uint8 RGB image, on a regular grid."""
    step = max(1, int(math.sqrt(rgb.shape[0] * rgb.shape[1] / 250_000)))
    return rgb_uint8_to_lab(rgb[::step, ::step])


def is_gray(lab: torch.Tensor) -> bool:
    """Tell whether an image's colour is gray: 99 % of its pixels under 2 chroma units.

    Examples
    --------
    >>> is_gray(sample_lab(np.full((8, 8, 3), 128, np.uint8)))
    True
    """
    chroma = torch.sqrt(lab[1] ** 2 + lab[2] ** 2)
    return float(torch.quantile(chroma.flatten().float(), 0.99)) < 2.0


def truth_rgb(image: Any, label: str) -> np.ndarray:
    """Read a true-colour image (array or path) as uint8 RGB.

    NaN or infinite colours are refused: cast to uint8 they would become arbitrary colours.

    Parameters
    ----------
    image : array or path
        The image.
    label : str
        How errors name it.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` uint8.

    Raises
    ------
    ValueError
        An unreadable image, not numbers, or NaN or infinite values.

    Examples
    --------
    >>> truth_rgb(np.full((2, 2, 3), 1.0), "truth")[0, 0].tolist()
    [255, 255, 255]
    """
    if isinstance(image, (str, Path)):
        lazy = read_image(image, raw=True)  # a palette TIFF: read_rgb maps its colours
        if np.dtype(lazy.dtype).kind != "f":
            return read_rgb(image)
        try:
            image = np.asarray(lazy[...])
        except Exception as exc:
            raise ValueError(f"cannot read {label}: {type(exc).__name__}: {exc}") from None
    image = np.asarray(image)
    if image.dtype.kind not in "uif":
        raise ValueError(f"{label} has dtype {image.dtype}; expected RGB numbers")
    check_finite(image, label)
    rgb = as_rgb_uint8(image, label)
    if rgb.ndim != 3:  # a stack of colour images: each is its own truth
        raise ValueError(f"{label} must be one colour image (H, W, 3); got shape {rgb.shape}: "
                         "pass the planes of a stack as separate images")
    return rgb
