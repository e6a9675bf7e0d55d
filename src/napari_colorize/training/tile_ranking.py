"""Does a confidence map rank where the colour is wrong? Per-tile means and their Spearman rank.

Pixels are too noisy to rank one by one; users read a confidence map by regions. Both maps are
averaged over the tissue of each :data:`TILE`-pixel tile, and the tiles are ranked.
"""

from __future__ import annotations

import numpy as np

#: Side of the tiles compared (pixels).
TILE = 64


def tile_means(uncertainty: np.ndarray, error: np.ndarray,
               mask: np.ndarray) -> tuple[list[float], list[float]]:
    """Average uncertainty and error over the tissue of each :data:`TILE`-pixel tile.

    Parameters
    ----------
    uncertainty, error : ndarray
        ``(H, W)`` maps.
    mask : ndarray
        ``(H, W)`` boolean tissue; tiles less than half tissue are left out.

    Returns
    -------
    uncertainty, error : list of float
        One value per tile kept, in the same order.

    Examples
    --------
    >>> error = np.repeat(np.arange(2.0), 64)[None].repeat(64, 0)
    >>> tile_means(error / 10, error, np.ones_like(error, bool))
    ([0.0, 0.1], [0.0, 1.0])
    """
    h, w = error.shape
    u_means, e_means = [], []
    for y in range(0, h - TILE + 1, TILE):
        for x in range(0, w - TILE + 1, TILE):
            m = mask[y : y + TILE, x : x + TILE]
            if m.mean() < 0.5:
                continue
            u_means.append(float(uncertainty[y : y + TILE, x : x + TILE][m].mean()))
            e_means.append(float(error[y : y + TILE, x : x + TILE][m].mean()))
    return u_means, e_means


def tile_spearman(uncertainty: np.ndarray, error: np.ndarray, mask: np.ndarray) -> float | None:
    """Correlate per-tile mean uncertainty and error (Spearman; tiles at least half tissue).

    Parameters
    ----------
    uncertainty, error : ndarray
        ``(H, W)`` maps.
    mask : ndarray
        ``(H, W)`` boolean tissue.

    Returns
    -------
    float or None
        ``None`` with fewer than 5 tiles of :data:`TILE` pixels.

    Examples
    --------
    >>> error = np.repeat(np.arange(6.0), 64)[None].repeat(64, 0)
    >>> tile_spearman(error / 10, error, np.ones_like(error, bool))
    1.0
    """
    from scipy.stats import spearmanr

    u_means, e_means = tile_means(uncertainty, error, mask)
    if len(u_means) < 5:
        return None
    return float(spearmanr(u_means, e_means).statistic)
