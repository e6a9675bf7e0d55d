"""Seeded recipes that regenerate the bundled models from scratch on a CPU.

``napari-colorize train --recipe NAME --out DIR`` runs
:func:`napari_colorize.training.recipe_runs.run_recipe` (``he-histology``,
``fluorescence-composite``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .datasets import IMAGES, load_rgb
from .labs import he_images
from .patches import Augment


@dataclass(frozen=True)
class Region:
    """A named image and the rows/columns of it used (fractions of its height and width).

    Parameters
    ----------
    image : str
        A name in :data:`~.datasets.IMAGES`.
    rows, cols : tuple of float
        Start and stop, as fractions of the height and width.

    Examples
    --------
    >>> Region("stardist-histo", rows=(0.0, 0.8)).crop(np.zeros((10, 4, 3))).shape
    (8, 4, 3)
    """

    image: str
    rows: tuple[float, float] = (0.0, 1.0)
    cols: tuple[float, float] = (0.0, 1.0)

    def crop(self, rgb: np.ndarray) -> np.ndarray:
        """Crop the region out of an image.

        Parameters
        ----------
        rgb : ndarray
            ``(H, W, ...)``.

        Returns
        -------
        ndarray
            A view.

        Examples
        --------
        >>> Region("x", cols=(0.5, 1.0)).crop(np.arange(4)[None]).tolist()
        [[2, 3]]
        """
        h, w = rgb.shape[:2]
        return rgb[
            int(self.rows[0] * h) : int(self.rows[1] * h),
            int(self.cols[0] * w) : int(self.cols[1] * w),
        ]


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a bundled model.

    Parameters
    ----------
    name : str
        The model's name.
    train, holdout, validation : tuple of Region
        Images trained on, held out from training images, and never seen.
    settings : dict
        Training settings (``TrainConfig`` fields, or a fractions recipe's ``kind``, ``sources``
        and ``FractionConfig`` fields).
    version : str
        Bumped whenever the recipe changes what it produces.
    description, intended_use : str
        For the model card.
    limitations : tuple of str
        For the model card.

    Examples
    --------
    >>> RECIPES["he-histology"].settings["loss"]
    'ciede2000'
    """

    name: str
    train: tuple[Region, ...]
    holdout: tuple[Region, ...]
    validation: tuple[Region, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    #: Bumped whenever the recipe changes what it produces.
    version: str = "1"
    description: str = ""
    intended_use: str = ""
    limitations: tuple[str, ...] = ()


#: The last 20 % of these two images (bottom rows of CMU-1, right columns of the TIA image) is
#: never trained on: it checks the model against its lookup table on stains it has seen.
_SEEN_HOLDOUT = {"cmu-small-region": Region("cmu-small-region", rows=(0.8, 1.0)),
                 "tia-target": Region("tia-target", cols=(0.8, 1.0))}
_SEEN_TRAIN = {"cmu-small-region": Region("cmu-small-region", rows=(0.0, 0.8)),
               "tia-target": Region("tia-target", cols=(0.0, 0.8))}

HE_HISTOLOGY = Recipe(
    name="he-histology",
    # every H&E image of the ten train labs; the eval-only labs are never trained on
    train=tuple(_SEEN_TRAIN.get(n, Region(n)) for n in he_images("train")),
    holdout=tuple(_SEEN_HOLDOUT.values()),
    validation=tuple(Region(n) for n in he_images("eval-only")),
    version="3",
    settings={
        "steps": 5000,
        "batch_size": 16,
        "patch": 256,
        "lr": 2e-3,
        "weight_decay": 1e-4,
        "warmup": 100,
        "seed": 0,
        "widths": (32, 64, 96, 128),
        "augment": Augment(scale=(0.5, 1.5), flips=True, stain_scale=0.08, stain_shift=0.04),
        "loss": "ciede2000",
        # the prior weighs every image's tissue the same, so the largest slides do not set it;
        # the network learns colour within a slide, not each lab's stain (which does not carry
        # over to a new lab, and made tiles of one slide guess different labs)
        "prior_by_image": True,
        "remove_stain_offset": True,
    },
    description=(
        "Grayscale brightfield H&E histology -> H&E-like colour. Chroma predicted at 1/4 "
        "resolution by a small U-Net on top of a per-lightness lookup-table prior; the "
        "input's lightness is kept."
    ),
    intended_use=(
        "Visual pseudo-colour of grayscale-scanned or grayscale-converted H&E brightfield slides "
        "for inspection and figures. Not for diagnosis, stain quantification or as input to "
        "colour-based measurements."
    ),
    limitations=(
        "Trained on the H&E images of ten labs (TCGA lung, frozen and other sections, skin, "
        "carcinoma, tissue microarrays; several scanners). On a lab it never saw its colour is "
        "that of a per-lightness table of the training labs, each image weighed equally: give "
        "it a colour reference (or a few hints) from that lab.",
        "Other stains (IHC/DAB, special stains, fluorescence) are out of scope and come out "
        "H&E-coloured; the domain check flags most of them.",
        "Colour follows texture and lightness: structures whose stain differs but whose gray "
        "level and texture match (e.g. eosinophilic cytoplasm vs. collagen) may swap hues.",
        "Colour is predicted at 1/4 resolution: chroma edges are soft at the pixel level by "
        "design.",
    ),
)

FLUORESCENCE_COMPOSITE = Recipe(
    name="fluorescence-composite",
    train=(Region("ndev-neocortex"), Region("ndev-neuron")),
    holdout=(),
    validation=(Region("ndev-scratch-assay"),),
    version="2",
    settings={
        "kind": "fractions",
        # Channel -> class (0 nuclear, 1 cytoplasmic, 2 diffuse floor), floor opening size in
        # native pixels (about 3x a nucleus), and resampling range. CTIP2, BRN2 and ROR(beta) are
        # nuclear transcription factors; NCOA4 and ferritin are cytoplasmic, phalloidin marks
        # F-actin (cell cortex, neurites); DAPI is nuclear. The neuron is imaged at 0.124 um/px,
        # 5x finer than the validation (0.619 um/px): it is drawn at 0.15-0.5x.
        "sources": (
            {"image": "ndev-neocortex", "classes": (0, 0, 0), "floor_size": 31,
             "scale": (0.6, 1.6)},
            {"image": "ndev-neuron", "classes": (1, 1, 1, 0), "floor_size": 255,
             "scale": (0.15, 0.5)},
        ),
        "steps": 2000,
        "batch_size": 16,
        "patch": 128,
        "lr": 2e-3,
        "weight_decay": 1e-4,
        "warmup": 100,
        "seed": 0,
        "widths": (32, 64, 96, 128),
    },
    description=(
        "Grayscale fluorescence (one channel, or a sum of stains) -> how the signal splits into "
        "nuclear, cytoplasmic and diffuse structure, rendered as an additive pseudo-colour "
        "composite. Fractions predicted at 1/4 resolution by a small U-Net (FractionNet)."
    ),
    intended_use=(
        "Visual structure-class pseudo-colour of single-channel fluorescence images of cells "
        "and tissue sections (nuclear stains, cytoplasmic/actin stains, their sums), for "
        "inspection and figures. Not a measurement: never use the fractions as unmixed "
        "channel intensities or to quantify a marker."
    ),
    limitations=(
        "Trained on two images (a neocortex section with three nuclear transcription "
        "factors, one cultured neuron with DAPI, phalloidin, ferritin and NCOA4): the classes "
        "are shape and context classes learned from them, not stain identities.",
        "The cytoplasmic class comes from one cell: it is the weakest class.",
        "Transmitted-light or brightfield channels are out of scope (they are not fluorescence).",
        "Fractions are predicted at 1/4 resolution: class edges are soft at the pixel level.",
    ),
)

RECIPES: dict[str, Recipe] = {r.name: r for r in (HE_HISTOLOGY, FLUORESCENCE_COMPOSITE)}


def region_images(regions: tuple[Region, ...]) -> list[np.ndarray]:
    """Fetch (once, then cached) and crop the images of ``regions``.

    Parameters
    ----------
    regions : tuple of Region

    Returns
    -------
    list of ndarray
        uint8 RGB crops.

    Examples
    --------
    >>> region_images(HE_HISTOLOGY.validation)  # doctest: +SKIP
    """
    return [np.ascontiguousarray(r.crop(load_rgb(r.image))) for r in regions]


def data_card(recipe: Recipe) -> list[dict[str, Any]]:
    """List the data of a recipe for its model card: role, image, package, licence, region.

    Parameters
    ----------
    recipe : Recipe

    Returns
    -------
    list of dict

    Examples
    --------
    >>> [(e["role"], e["image"]) for e in data_card(HE_HISTOLOGY)][-1]
    ('validation', 'breakhis-100-020')
    """
    entries = []
    for role, regions in (("train", recipe.train), ("holdout", recipe.holdout),
                          ("validation", recipe.validation)):
        for r in regions:
            img = IMAGES[r.image]
            entries.append({
                "role": role, "image": r.image, "package": f"{img.package}=={img.version}",
                "file": img.member, "sha256": img.sha256, "rows": list(r.rows),
                "cols": list(r.cols), "licence": img.licence, "source": img.source,
            })
    return entries
