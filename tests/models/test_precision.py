"""bfloat16 autocast on CPUs with bfloat16 units: the default there, and it keeps the colours."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from napari_colorize import colorize, load_model
from napari_colorize.models.spec import cpu_has_bf16, uses_bf16
from napari_colorize.training.evaluation import ciede2000, rgb_to_lab_np

SAMPLE = Path(__file__).parents[2] / "sample_data" / "cmu1_region_rgb.jpg"


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no bfloat16 units (AMX or "
                    "AVX-512 BF16): bf16 is emulated there and 'auto' keeps float32")
def test_bf16_keeps_the_colours_of_fp32_on_tissue():
    rgb = iio.imread(SAMPLE)[:1024, :1024]
    model = load_model("he-histology", device="cpu")
    runs = {p: colorize(rgb, model, from_rgb=True, precision=p).rgb for p in ("fp32", "bf16")}
    error = ciede2000(rgb_to_lab_np(runs["bf16"]), rgb_to_lab_np(runs["fp32"]))
    assert error.mean() <= 0.1, error.mean()
    assert np.percentile(error, 99.9) <= 2.0, np.percentile(error, 99.9)
    assert not np.array_equal(runs["bf16"], runs["fp32"])  # bf16 did run
    auto = colorize(rgb, model, from_rgb=True, precision="auto").rgb
    np.testing.assert_array_equal(auto, runs["bf16"])  # "auto" picks bf16 on this CPU


def test_auto_precision_follows_the_hardware():
    assert uses_bf16("cuda")
    assert uses_bf16("cpu") == cpu_has_bf16()
    assert not uses_bf16("mps")
