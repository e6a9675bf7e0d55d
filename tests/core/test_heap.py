"""Freed memory kept for the next batch (glibc's malloc thresholds), and its opt-outs."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from napari_colorize import colorize
from napari_colorize.core import blocks

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
PROBE = "from napari_colorize.core.heap import keep_freed_memory; print(keep_freed_memory())"


def _probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("MALLOC_") and k not in ("GLIBC_TUNABLES",
                                                          "NAPARI_COLORIZE_KEEP_MEMORY")}
    result = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env},
                            capture_output=True, text=True, check=True)
    return result.stdout.strip()


@pytest.mark.skipif(not GLIBC, reason="mallopt thresholds exist only in glibc")
def test_sets_the_thresholds_on_glibc():
    assert _probe() == "True"


@pytest.mark.parametrize("env", [
    {"NAPARI_COLORIZE_KEEP_MEMORY": "0"},
    {"NAPARI_COLORIZE_KEEP_MEMORY": "off"},
    {"MALLOC_TRIM_THRESHOLD_": "131072"},
    {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"},
])
def test_leaves_malloc_alone_when_told_or_tuned(env):
    assert _probe(**env) == "False"


def test_a_cpu_run_keeps_freed_memory(monkeypatch):
    calls = []
    monkeypatch.setattr(blocks, "keep_freed_memory", lambda: calls.append(1) or True)
    colorize(np.zeros((64, 64), np.uint8), device="cpu", domain_check=False)
    assert calls
