"""Read planes of the input: a window at a time, named in errors, padded to a tile.

Readers of every kind (numpy, memmap, zarr, dask, the package's lazy readers) are read the same
way, and their failures become one-line ``ValueError`` messages.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn import functional as F


def read_plane(image: Any, index: tuple[Any, ...]) -> np.ndarray:
    """Read ``image[index]`` into memory; a reader's failure becomes a one-line ``ValueError``.

    Parameters
    ----------
    image : array-like
        The input (numpy, dask, zarr, the package's readers).
    index : tuple
        Plane indices, then the window's slices.

    Returns
    -------
    numpy.ndarray
        The pixels.

    Raises
    ------
    ValueError
        The read failed (a truncated file, a broken store); the message names the index.

    Examples
    --------
    >>> read_plane(np.arange(12).reshape(3, 4), (slice(0, 2), slice(1, 3)))
    array([[1, 2],
           [5, 6]])
    """
    try:
        return np.asarray(image[index])
    except Exception as exc:  # truncated files and broken stores surface here
        raise ValueError(f"cannot read plane {index}: {type(exc).__name__}: {exc}") from None


def plane_name(index: tuple[int, ...]) -> str:
    """Name plane ``index`` of the image in error messages.

    Parameters
    ----------
    index : tuple of int
        The plane's indices into the leading axes.

    Returns
    -------
    str
        ``"image plane (i, ...)"``, or ``"image"`` for a 2-D image.

    Examples
    --------
    >>> plane_name(()), plane_name((1, 2))
    ('image', 'image plane (1, 2)')
    """
    return f"image plane {index}" if index else "image"


def pad_to(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Pad a ``(H, W)`` plane at the bottom and right to at least ``shape``.

    Parameters
    ----------
    x : torch.Tensor
        The plane.
    shape : tuple of int
        The smallest rows and columns wanted.

    Returns
    -------
    torch.Tensor
        ``x`` itself if it is large enough; else padded by reflection where the plane is
        larger than the padding, by repeating its edge otherwise.

    Examples
    --------
    >>> pad_to(torch.arange(6.0).reshape(2, 3), (3, 4))
    tensor([[0., 1., 2., 1.],
            [3., 4., 5., 4.],
            [0., 1., 2., 1.]])
    """
    ph, pw = max(0, shape[0] - x.shape[0]), max(0, shape[1] - x.shape[1])
    if not (ph or pw):
        return x
    mode = "reflect" if ph < x.shape[0] and pw < x.shape[1] else "replicate"
    return F.pad(x[None, None], (0, pw, 0, ph), mode=mode)[0, 0]
