"""The NGFF 0.5 schema check of OME-Zarr metadata, with the pydantic models of ome-zarr-models.

``ome-zarr-models`` (and pydantic) is imported on first use: reading inputs never needs it.
Its errors become one line naming the store, the place in the metadata and the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["NGFF_VERSION", "validate_ome"]

#: The NGFF version napari-colorize writes (OME-Zarr on zarr v3).
NGFF_VERSION = "0.5"


def validate_ome(ome: Any, where: str | Path) -> None:
    """Check ``ome`` attributes against NGFF 0.5 (with ``ome-zarr-models``), omero included.

    Parameters
    ----------
    ome : object
        The value of a group's ``ome`` attribute.
    where : str or Path
        The store, named in the error.

    Raises
    ------
    ValueError
        One line naming ``where`` and the first problem found.

    Examples
    --------
    >>> validate_ome({"version": "0.5", "multiscales": []}, "x.ome.zarr")
    Traceback (most recent call last):
    ...
    ValueError: x.ome.zarr: invalid OME-Zarr 0.5 metadata: multiscales: List should have at \
least 1 item after validation, not 0
    """
    from ome_zarr_models.common.omero import Omero
    from ome_zarr_models.v05.image import ImageAttrs
    from pydantic import ValidationError

    checks: list[tuple[Any, Any, str]] = [(ImageAttrs, ome, "")]
    if isinstance(ome, Mapping) and "omero" in ome:
        checks.append((Omero, ome["omero"], "omero."))
    for model, value, prefix in checks:
        try:
            model.model_validate(value)
        except ValidationError as exc:
            problem = _first_error(exc)
        except (IndexError, KeyError, TypeError) as exc:  # a validator tripped by odd shapes
            problem = _vector_problem(value) or " ".join(f"{type(exc).__name__}: {exc}".split())
        else:
            continue
        raise ValueError(f"{where}: invalid OME-Zarr {NGFF_VERSION} metadata: {prefix}{problem}")


def _vector_problem(ome: Any) -> str | None:
    """Name a scale or translation whose length is not the number of axes, else None.

    ome-zarr-models compares the levels' scales before it checks their lengths, and trips
    over such a vector with an ``IndexError``; this names the problem instead.
    """
    try:
        ms = ome["multiscales"][0]
        n = len(ms["axes"])
        for i, dataset in enumerate(ms["datasets"]):
            for t in dataset["coordinateTransformations"]:
                vector = t.get(t.get("type"))
                if isinstance(vector, list) and len(vector) != n:
                    return (f"multiscales.0.datasets.{i}: its {t['type']} has {len(vector)} "
                            f"values for {n} axes")
    except (KeyError, IndexError, TypeError, AttributeError):
        pass
    return None


def _first_error(exc: Any) -> str:
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"]) or "ome"
    msg = str(first["msg"]).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return " ".join(f"{loc}: {msg}{more}".split())
