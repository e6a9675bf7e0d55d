"""Keep freed memory in the process for the next batch, instead of handing it back to the system.

A CPU run allocates the same few large buffers for every batch (the network's activations, the
tiles' chroma, the blended block). glibc's malloc returns such blocks to the kernel when they are
freed (past its mmap and trim thresholds), so each batch touches fresh pages and pays a page
fault for every 4 KiB of them. In a virtual machine that costs more than the arithmetic: on a
2-core cloud VM, ``colorize`` of a 2048^2 image took 0.20-0.26 s with glibc's defaults and
0.13-0.15 s with freed memory kept (``docs/performance.md``), for a peak RSS 2-7 % higher; a
training step took 0.19 s instead of 0.21-0.22 s.

:func:`keep_freed_memory` sets glibc's thresholds once per process, as PyTorch's CUDA caching
allocator does on the GPU: memory freed by one run stays mapped for the next, so the process's
resident size stays near its peak between runs. The engine calls it when a run starts on the
CPU, and the optimiser loop when it trains on the CPU. It is a no-op on other C libraries, when the
user tuned malloc already (``MALLOC_*_`` variables or ``GLIBC_TUNABLES``), and when
``NAPARI_COLORIZE_KEEP_MEMORY=0``.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform

#: mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
#: Blocks up to this size come from the heap (glibc's largest mmap threshold on 64-bit).
MMAP_THRESHOLD = 32 << 20
#: Free memory at the heap's top kept before trimming.
TRIM_THRESHOLD = 1 << 30
#: Extra heap asked of the kernel each time the heap grows (untouched pages cost nothing).
TOP_PAD = 256 << 20
#: Set to 0 to leave malloc as it is.
ENV_VAR = "NAPARI_COLORIZE_KEEP_MEMORY"


@functools.cache
def keep_freed_memory() -> bool:
    """Make glibc keep freed blocks for reuse (once per process); tell whether it did.

    Returns
    -------
    bool
        ``True`` if the thresholds were set now or by an earlier call; ``False`` on a C library
        other than glibc, when malloc was tuned by the user's environment, or when
        ``NAPARI_COLORIZE_KEEP_MEMORY`` is ``0``.

    Examples
    --------
    >>> isinstance(keep_freed_memory(), bool)
    True
    """
    if os.environ.get(ENV_VAR, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if any(name.startswith("MALLOC_") for name in os.environ) or "malloc" in os.environ.get(
            "GLIBC_TUNABLES", ""):
        return False  # the user's own malloc settings win
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return all(mallopt(param, value) == 1 for param, value in (
        (_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        (_M_TOP_PAD, TOP_PAD)))
