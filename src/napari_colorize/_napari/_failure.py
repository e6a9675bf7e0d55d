"""What a worker of the dock widget returns when it fails: one sentence for a notification."""

from __future__ import annotations

import logging
from dataclasses import dataclass

#: Advice in the library's messages written for Python users, and what the widget says instead.
#: A message the library words differently passes unchanged.
PYTHON_ADVICE = (
    ("replace them first, e.g. np.nan_to_num(image)",
     "replace them with numbers first"),
    ("or convert with image.astype(np.uint8) * 255",
     "or convert the mask to an 8-bit image (0 and 255) first"),
)


def plain_message(message: str) -> str:
    """Reword the library's advice in Python for someone using the widget.

    Parameters
    ----------
    message : str
        An error message of the library.

    Returns
    -------
    str

    Examples
    --------
    >>> print(plain_message("image is boolean (a mask?); colorize a grayscale image, or "
    ...                     "convert with image.astype(np.uint8) * 255"))
    image is boolean (a mask?); colorize a grayscale image, or convert the mask to an 8-bit
    image (0 and 255) first
    """
    for python, plain in PYTHON_ADVICE:
        message = message.replace(python, plain)
    return message


@dataclass(frozen=True)
class Failure:
    """A user-facing error from a worker, shown as one notification sentence.

    Workers return it instead of raising, so that a user error (bad input, out of memory)
    becomes one notification rather than a traceback dialog.

    Parameters
    ----------
    message : str
        The sentence to show.

    Examples
    --------
    >>> Failure.unexpected(KeyError("x")).message
    "Colorize failed: KeyError: 'x'"
    """

    message: str

    @classmethod
    def unexpected(cls, exc: BaseException) -> Failure:
        """Make the failure for an error no check foresaw; its traceback goes to the log.

        Parameters
        ----------
        exc : BaseException
            The error caught in the worker.

        Returns
        -------
        Failure
            Naming the error's type and the first line of its message.
        """
        logging.getLogger(__name__).exception("colorize run failed", exc_info=exc)
        first = (str(exc).splitlines() or [""])[0]
        return cls(f"Colorize failed: {type(exc).__name__}: {first}")
