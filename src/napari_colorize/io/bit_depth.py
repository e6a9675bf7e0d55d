"""Which value shows as full intensity in an integer colour image: its bit depth."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Float colours whose maximum is at most this are in [0, 1] (and clipped): resampling and
#: stain normalisation overshoot 1 by a few per cent, while a colour image in [0, 255] whose
#: brightest value is under 1.5 would be black.
FLOAT_UNIT_MAX = 1.5
#: Bit depths a uint16 colour image without a declared depth is taken to use (by its maximum).
GUESSED_BITS = (8, 10, 12, 14)


def integer_scale(dtype: Any, max_value: float, bits: int | None = None) -> float:
    """Find the value that shows as full intensity in an integer colour image.

    The rule: a declared bit depth ``bits`` wins (``2**bits - 1``). Otherwise values up to 255
    are 8-bit; uint16 values up to 1023, 4095 or 16383 are 10-, 12- or 14-bit (camera data in
    16-bit samples); larger uint16 values, and other integers over 255, span their dtype.

    Parameters
    ----------
    dtype : numpy dtype
        The samples' integer type.
    max_value : float
        The largest sample of the image (or of a sample of it).
    bits : int, optional
        The bit depth the file declares.

    Returns
    -------
    float

    Examples
    --------
    >>> integer_scale(np.uint16, 4000), integer_scale(np.uint16, 40000), integer_scale(np.uint8, 9)
    (4095.0, 65535.0, 255.0)
    >>> integer_scale(np.uint16, 4000, bits=16)
    65535.0
    """
    if bits is not None:
        return float(2**bits - 1)
    dtype = np.dtype(dtype)
    guesses = GUESSED_BITS if dtype == np.uint16 else GUESSED_BITS[:1]
    for guess in guesses:
        if max_value <= 2**guess - 1:
            return float(2**guess - 1)
    return float(np.iinfo(dtype).max)


def unit_scale(dtype: Any, max_value: float, bits: int | None = None) -> float:
    """Find the value that shows as full intensity in a colour image of any real dtype.

    Floats: 1 when ``max_value`` is at most :data:`FLOAT_UNIT_MAX`, else 255. Integers:
    :func:`integer_scale`.

    Examples
    --------
    >>> unit_scale(np.float32, 1.02), unit_scale(np.float64, 200.0), unit_scale(np.uint16, 4000)
    (1.0, 255.0, 4095.0)
    """
    if np.dtype(dtype).kind == "f":
        return 1.0 if max_value <= FLOAT_UNIT_MAX else 255.0
    return integer_scale(dtype, max_value, bits)
