"""The documentation (``README.md``) of an exported package, written from the model card."""

from __future__ import annotations

import json
from typing import Any

from ..models.spec import ModelSpec
from .rdf import min_side


def package_readme(card: dict[str, Any], spec: ModelSpec, halo: int) -> str:
    """Write a package's documentation: what the model does, its inputs, limits and data.

    Parameters
    ----------
    card : dict
        The model card.
    spec : ModelSpec
        The model's contract.
    halo : int
        The output halo the package declares.

    Returns
    -------
    str
        Markdown.

    Examples
    --------
    >>> text = package_readme({"name": "m", "description": "A model."}, ModelSpec("m"), 32)
    >>> text.splitlines()[0]
    '# m (napari-colorize model, version 0)'
    """
    name = card.get("name", spec.name)
    lines = [f"# {name} (napari-colorize model, version {card.get('version', spec.version)})",
             "", str(card.get("description", "")).strip(), ""]
    base = card.get("base")
    if base:
        label = (f"{base.get('name')} version {base.get('version')}" if isinstance(base, dict)
                 else str(base))
        lines += [f"Tuned from `{label}` on the user's own colour images.", ""]
    if card.get("intended_use"):
        lines += ["## Intended use", "", str(card["intended_use"]), ""]
    lines += _io_section(spec, halo)
    if card.get("limitations"):
        lines += ["## Limitations", "", *(f"- {item}" for item in card["limitations"]), ""]
    lines += _metrics_section(card)
    lines += _data_section(card)
    return "\n".join(lines).rstrip() + "\n"


def _io_section(spec: ModelSpec, halo: int) -> list[str]:
    out = ("`rgb`: sRGB in [0, 1] that keeps the input's CIE lightness (chroma, never "
           "lightness, is reduced to fit the gamut)" if spec.kind == "chroma" else
           f"`fractions`: how the signal splits into {', '.join(spec.channel_names)} (summing "
           "to 1 at each pixel; multiply by the scaled input for channel images)")
    return [
        "## Inputs and outputs", "",
        f"- Input `gray`: one grayscale channel, height and width multiples of {spec.divisor} "
        f"(at least {min_side(spec, halo)}). 8-bit images are sRGB gray (v / 255). Other bit "
        "depths are scaled by their 0.5 and 99.5 percentiles.",
        f"- Outputs: {out}; and `confidence` in [0, 1].",
        f"- Halo: {halo} pixels per side. A tiled consumer crops it from each tile so tiles "
        "stitch without seams.", "",
        "**Normalisation.** napari-colorize computes one intensity window for a whole stack. A "
        "consumer that normalises each tile or each plane by its own percentiles gives each "
        "tile a different window, and colours change from tile to tile. Use a fixed range "
        "where the consumer offers one. 8-bit input needs none.", "",
        "In napari-colorize: `load_model(\"this-package.zip\")`, or **Load model file...** in "
        "the Colorize widget.", "",
    ]


def _metrics_section(card: dict[str, Any]) -> list[str]:
    metrics = card.get("metrics") or {}
    rows = []
    for split in ("validation", "holdout"):
        for image, entry in (metrics.get(split) or {}).items():
            scores = entry.get("ciede2000") if isinstance(entry, dict) else None
            if not isinstance(scores, dict) or "model" not in scores:
                continue
            cells = [scores.get(k, {}).get("tissue") for k in ("model", "lut", "mean_chroma",
                                                                "gray")]
            rows.append(f"| {image} ({split}) | " + " | ".join(map(str, cells)) + " |")
    head = ["## Validation", ""]
    if rows:
        return [*head,
                "Gray images made from colour ones, colorized and compared with the true colour: "
                "tissue CIEDE2000 (lower is better) beside simple baselines (a per-lightness "
                "lookup table, the mean colour, gray).", "",
                "| image | model | lookup table | mean colour | gray |", "|---|---|---|---|---|",
                *rows, ""]
    if metrics:
        return [*head, "As measured when the model was made (from its card):", "", "```json",
                json.dumps(metrics, indent=1)[:4000], "```", ""]
    return [*head, "The card holds no validation figures. Measure the model on your own "
            "colour images with `napari-colorize evaluate`.", ""]


def _data_section(card: dict[str, Any]) -> list[str]:
    rows = [f"| {d.get('role', '')} | {d.get('image', '')} | {d.get('source', '')} | "
            f"{d.get('licence', '')} |" for d in card.get("data") or [] if isinstance(d, dict)]
    if not rows:
        return []
    return ["## Training data", "", "| role | image | source | licence |", "|---|---|---|---|",
            *rows, ""]
