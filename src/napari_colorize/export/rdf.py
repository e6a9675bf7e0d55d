"""The bioimage.io model description (``rdf.yaml``) of an exported napari-colorize model.

Format 0.5 of the bioimage.io model spec. A consumer feeds the raw gray image; the description's
preprocessing maps it to [0, 1] the way napari-colorize's intensity window does, the network
returns an image and a confidence, and the declared halo is the context a tiled consumer must
crop so tiles stitch without seams.
"""

from __future__ import annotations

from typing import Any

from ..core.intensity import PERCENTILES
from ..models.spec import ModelSpec

FORMAT_VERSION = "0.5.4"
#: Output context cropped by tiled consumers, per side (pixels), by model kind: the smallest
#: that keeps 256-pixel tiles within the engine's own tiling error against the whole image
#: (``benchmarks/check_bioimageio.py``; channel fractions need more context than chroma).
HALO = {"chroma": 32, "fractions": 64}
#: Tags of every package, then per model kind.
TAGS = ["napari-colorize", "colorization", "pseudo-colour", "2d", "pytorch"]
KIND_TAGS = {"chroma": ["brightfield", "histology", "h&e", "cie-lab"],
             "fractions": ["fluorescence", "channel-splitting"]}
CITATIONS = [
    {"text": "Ronneberger O, Fischer P, Brox T. U-Net: Convolutional networks for biomedical "
             "image segmentation. MICCAI 2015 (the trunk's architecture).",
     "doi": "10.1007/978-3-319-24574-4_28"},
    {"text": "Zhang R, Isola P, Efros AA. Colorful image colorization. ECCV 2016 (colour "
             "predicted as CIE chroma from lightness).",
     "doi": "10.1007/978-3-319-46487-9_40"},
    {"text": "Sharma G, Wu W, Dalal EN. The CIEDE2000 color-difference formula. Color Research "
             "& Application 30(1), 2005 (the training loss and the reported errors).",
     "doi": "10.1002/col.20070"},
]


def min_side(spec: ModelSpec, halo: int) -> int:
    """Smallest input side of a package: the model's, and more than twice the halo.

    Examples
    --------
    >>> min_side(ModelSpec("he"), 32)
    96
    """
    return max(spec.min_tile, (2 * halo // spec.divisor + 1) * spec.divisor)


def input_tensor(spec: ModelSpec, dtype: str, halo: int) -> dict[str, Any]:
    """Describe the input: a raw gray image ``(batch, channel, y, x)`` and its preprocessing.

    uint8 is sRGB gray (v / 255), as in napari-colorize. Other dtypes are scaled by the
    (0.5, 99.5) percentiles of the image: napari-colorize takes them once for the whole stack;
    a consumer computes them per sample it runs, so a consumer that runs tiles as samples
    normalises each tile (see the package's documentation).

    Parameters
    ----------
    spec : ModelSpec
        The model's contract (divisor and smallest tile).
    dtype : str
        The test input's dtype.
    halo : int
        The outputs' halo (the smallest input keeps some output after cropping it).

    Returns
    -------
    dict
        The ``inputs`` entry (without its test tensor).

    Examples
    --------
    >>> entry = input_tensor(ModelSpec("he"), "uint8", 32)
    >>> entry["axes"][2]
    {'type': 'space', 'id': 'y', 'size': {'min': 96, 'step': 32}}
    >>> [p["id"] for p in entry["preprocessing"]]
    ['ensure_dtype', 'scale_linear', 'ensure_dtype']
    """
    size = {"min": min_side(spec, halo), "step": spec.divisor}
    if dtype == "uint8":
        data: dict[str, Any] = {"type": "uint8", "range": [0, 255]}
        steps: list[dict[str, Any]] = [
            {"id": "scale_linear", "kwargs": {"gain": 1 / 255, "offset": 0.0}}]
        how = "uint8 sRGB gray, scaled by 1/255"
    else:
        data = {"type": "float32"}
        steps = [{"id": "scale_range",
                  "kwargs": {"axes": ["y", "x"], "min_percentile": PERCENTILES[0],
                             "max_percentile": PERCENTILES[1]}},
                 {"id": "clip", "kwargs": {"min": 0.0, "max": 1.0}}]
        how = (f"raw intensities, scaled by their {PERCENTILES[0]} and {PERCENTILES[1]} "
               f"percentiles and clipped to [0, 1]")
    return {
        "id": "gray",
        "description": f"Grayscale image ({how}); sides multiples of {spec.divisor}.",
        "axes": [{"type": "batch"},
                 {"type": "channel", "channel_names": ["gray"]},
                 {"type": "space", "id": "y", "size": size},
                 {"type": "space", "id": "x", "size": size}],
        "data": data,
        # bioimage.io casts back to ``data``'s type after the last step unless told otherwise
        "preprocessing": [{"id": "ensure_dtype", "kwargs": {"dtype": "float32"}}, *steps,
                          {"id": "ensure_dtype", "kwargs": {"dtype": "float32"}}],
    }


def output_tensors(spec: ModelSpec, halo: int) -> list[dict[str, Any]]:
    """Describe the outputs: sRGB or channel fractions, then the confidence.

    Parameters
    ----------
    spec : ModelSpec
        The model's contract (kind and channel names).
    halo : int
        Context cropped per side by a tiled consumer.

    Returns
    -------
    list of dict
        The ``outputs`` entries (without their test tensors).

    Examples
    --------
    >>> [o["id"] for o in output_tensors(ModelSpec("he"), 32)]
    ['rgb', 'confidence']
    """
    if spec.kind == "chroma":
        first = ("rgb", ["red", "green", "blue"],
                 "sRGB in [0, 1] with the input's CIE lightness kept")
    else:
        first = ("fractions", list(spec.channel_names),
                 "how the signal splits into structures (summing to 1 at each pixel); "
                 "multiply by the scaled input for channel images")
    second = ("confidence", ["confidence"], "per-pixel confidence in [0, 1]")
    return [{
        "id": tensor_id,
        "description": description,
        "axes": [{"type": "batch"},
                 {"type": "channel", "channel_names": names},
                 *({"type": "space", "id": axis, "halo": halo,
                    "size": {"tensor_id": "gray", "axis_id": axis}} for axis in ("y", "x"))],
        "data": {"type": "float32", "range": [0.0, 1.0]},
    } for tensor_id, names, description in (first, second)]


def tags(spec: ModelSpec) -> list[str]:
    """Tags of a package.

    Examples
    --------
    >>> tags(ModelSpec("he"))[-1]
    'cie-lab'
    """
    return [*TAGS, *KIND_TAGS[spec.kind]]
