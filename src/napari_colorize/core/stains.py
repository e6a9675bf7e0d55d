"""Named stains: published stain vectors, looked up by the names microscopists use.

Each stain is two dyes, the nuclear counterstain (haematoxylin-like) first and the second stain
after it, as optical densities per unit amount (R, G, B; unit length). Vectors come from
Fiji's Colour Deconvolution 2 (Landini et al. 2021, after Ruifrok & Johnston 2001), from
scikit-image's ``skimage.color`` matrices (read from the installed scikit-image) and from
QuPath's defaults, whose eosin differs. Three-dye stains keep their first two dyes in that order.
Names match whatever the case, spaces and punctuation: "H&E", "h e", "H-DAB", "hdab".
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass

import numpy as np

RUIFROK = ("Ruifrok AC, Johnston DA. Quantification of histochemical staining by color "
           "deconvolution. Anal Quant Cytol Histol 23(4):291-299, 2001")
LANDINI = ("Landini G, Martinelli G, Piccinini F. Colour deconvolution: stain unmixing in "
           "histological imaging. Bioinformatics 37(10):1485-1487, 2021. "
           "doi:10.1093/bioinformatics/btaa847")
QUPATH = ("Bankhead P et al. QuPath: open source software for digital pathology image "
          "analysis. Sci Rep 7:16878, 2017. doi:10.1038/s41598-017-17204-5")
FIJI = "Fiji Colour Deconvolution 2"
SKIMAGE = "scikit-image (skimage.color)"

# Fiji's table (Colour Deconvolution 2), dyes in our order: nuclear counterstain, second stain.
_HAEM = (0.650, 0.704, 0.286)
_GL_HAEM = (0.644211, 0.716556, 0.266844)
_GL_EOS = (0.092789, 0.954111, 0.283111)
_DAB = (0.268, 0.570, 0.776)
_FIJI = {
    "H&E": (("haematoxylin", _GL_HAEM), ("eosin", _GL_EOS)),
    "H&E 2": (("haematoxylin", (0.49015734, 0.76897085, 0.41040173)),
              ("eosin", (0.04615336, 0.8420684, 0.5373925))),
    "H DAB": (("haematoxylin", _HAEM), ("DAB", _DAB)),
    "H&E DAB": (("haematoxylin", _HAEM), ("eosin", (0.072, 0.990, 0.105))),
    "H AEC": (("haematoxylin", _HAEM), ("AEC", (0.2743, 0.6796, 0.6803))),
    "H PAS": (("haematoxylin", _GL_HAEM), ("PAS", (0.175411, 0.972178, 0.154589))),
    "Alcian blue & H": (("haematoxylin", (0.552556, 0.7544, 0.353744)),
                        ("alcian blue", (0.874622, 0.457711, 0.158256))),
    "Giemsa": (("methylene blue", (0.834750233, 0.513556283, 0.196330403)), ("eosin", _GL_EOS)),
    "Feulgen Light Green": (("Feulgen", (0.46420921, 0.83008335, 0.30827187)),
                            ("light green", (0.94705542, 0.25373821, 0.19650764))),
    "FastRed FastBlue DAB": (("fast red", (0.21393921, 0.85112669, 0.47794022)),
                             ("fast blue", (0.74890292, 0.60624161, 0.26731082))),
    "Methyl Green DAB": (("methyl green", (0.98003, 0.144316, 0.133146)), ("DAB", _DAB)),
    "Masson Trichrome": (("methyl blue", (0.7995107, 0.5913521, 0.10528667)),
                         ("ponceau fuchsin", (0.09997159, 0.73738605, 0.6680326))),
    "Azan-Mallory": (("azocarmine", (0.09289875, 0.8662008, 0.49098468)),
                     ("aniline blue", (0.853033, 0.508733, 0.112656))),
}
# scikit-image's matrices: (key, name, dyes in skimage's row order, which row is nuclear).
_SKIMAGE = (
    ("hed", "haematoxylin, eosin", ("haematoxylin", "eosin"), 0),
    ("hdx", "haematoxylin, DAB", ("haematoxylin", "DAB"), 0),
    ("fgx", "Feulgen, light green", ("Feulgen", "light green"), 0),
    ("bex", "Giemsa: methyl blue, eosin", ("methyl blue", "eosin"), 0),
    ("rbd", "fast red, fast blue, DAB", ("fast red", "fast blue"), 0),
    ("gdx", "methyl green, DAB", ("methyl green", "DAB"), 0),
    ("hax", "haematoxylin, AEC", ("haematoxylin", "AEC"), 0),
    ("bro", "aniline blue, azocarmine, orange G", ("aniline blue", "azocarmine"), 1),
    ("bpx", "methyl blue, ponceau fuchsin", ("methyl blue", "ponceau fuchsin"), 0),
    ("ahx", "alcian blue, haematoxylin", ("alcian blue", "haematoxylin"), 1),
    ("hpx", "haematoxylin, PAS", ("haematoxylin", "PAS"), 0),
)
_QUPATH = {
    "QuPath H&E": (("haematoxylin", (0.651, 0.701, 0.290)), ("eosin", (0.216, 0.801, 0.558))),
    "QuPath H-DAB": (("haematoxylin", (0.651, 0.701, 0.290)), ("DAB", (0.269, 0.568, 0.778))),
}


@dataclass(frozen=True)
class Stain:
    """Two dyes of a named stain: the nuclear counterstain, then the second stain.

    Parameters
    ----------
    name : str
        The stain's name, as its source spells it.
    dyes : tuple of 2 str
        The dyes' names, counterstain first.
    vectors : tuple of 2 (r, g, b)
        Optical density of each dye per unit amount, unit length.
    source : str
        Where the vectors come from.
    reference : str
        The publication to cite.

    Examples
    --------
    >>> stain = find_stain("h-dab")
    >>> stain.name, stain.dyes, stain.matrix().shape
    ('H DAB', ('haematoxylin', 'DAB'), (2, 3))
    """

    name: str
    dyes: tuple[str, str]
    vectors: tuple[tuple[float, float, float], tuple[float, float, float]]
    source: str
    reference: str

    def matrix(self) -> np.ndarray:
        """Return the dyes' optical densities as a ``(2, 3)`` float64 array (unit rows).

        Returns
        -------
        numpy.ndarray
        """
        m = np.asarray(self.vectors, dtype=np.float64)
        return m / np.linalg.norm(m, axis=1, keepdims=True)


def _entry(name: str, dyes: tuple, source: str, reference: str) -> Stain:
    (d1, v1), (d2, v2) = dyes
    return Stain(name, (d1, d2), (tuple(v1), tuple(v2)), source, reference)


@functools.cache
def stain_table() -> dict[str, Stain]:
    """Every named stain, by name (Fiji's, then scikit-image's, then QuPath's).

    Returns
    -------
    dict of str to Stain

    Examples
    --------
    >>> table = stain_table()
    >>> len(table), table["skimage hed"].source
    (26, 'scikit-image (skimage.color) rgb_from_hed: haematoxylin, eosin')
    """
    from skimage.color import colorconv

    table = {name: _entry(name, dyes, FIJI, f"{LANDINI}; {RUIFROK}")
             for name, dyes in _FIJI.items()}
    for key, what, dyes, nuclear in _SKIMAGE:
        rows = getattr(colorconv, f"rgb_from_{key}")[:2]
        order = (nuclear, 1 - nuclear)
        pairs = tuple((dyes[i], tuple(float(v) for v in rows[i])) for i in order)
        table[f"skimage {key}"] = _entry(f"skimage {key}", pairs,
                                         f"{SKIMAGE} rgb_from_{key}: {what}", RUIFROK)
    for name, qupath_dyes in _QUPATH.items():
        table[name] = _entry(name, qupath_dyes, "QuPath default stain vectors", QUPATH)
    return table


def _key(name: str) -> str:
    """Fold a name for matching: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", name.lower().replace("rgb_from_", "skimage "))


@functools.cache
def _by_key() -> dict[str, Stain]:
    keys: dict[str, Stain] = {}
    for name, stain in stain_table().items():
        keys.setdefault(_key(name), stain)
        if name.startswith("skimage "):
            keys.setdefault(_key(name.split()[1]), stain)  # "hed", "rgb_from_hed"
    return keys


def find_stain(name: str) -> Stain:
    """Look up a stain by name, whatever its case, spaces and punctuation.

    Parameters
    ----------
    name : str
        E.g. ``"H&E"``, ``"H DAB"``, ``"masson trichrome"``, ``"QuPath H&E"``, ``"hed"``.

    Returns
    -------
    Stain

    Raises
    ------
    ValueError
        An unknown name, listing the closest names.

    Examples
    --------
    >>> find_stain("Masson trichrome").dyes
    ('methyl blue', 'ponceau fuchsin')
    >>> find_stain("h & dab").name
    'H DAB'
    >>> find_stain("trichrome")
    Traceback (most recent call last):
    ...
    ValueError: unknown stain 'trichrome'; close matches: Masson Trichrome
    """
    if not isinstance(name, str):
        raise TypeError(f"stain must be a stain name such as 'H&E'; got {type(name).__name__}")
    stain = _by_key().get(_key(name))
    if stain is not None:
        return stain
    names = list(stain_table())
    folded = {_key(n): n for n in names}
    close = [folded[k] for k in difflib.get_close_matches(_key(name), list(folded), n=4,
                                                          cutoff=0.5)]
    hint = f"close matches: {', '.join(close)}" if close else f"known: {', '.join(names)}"
    raise ValueError(f"unknown stain {name!r}; {hint}")
