"""Keep freed memory for reuse: glibc ``malloc`` tuned for a training loop.

Every training step allocates the same large arrays again (im2col matrices of up to tens of
MB, activations, gradients) and frees them at the end of the step. With glibc's defaults a
large block is returned to the operating system when freed (``munmap``, or trimming the top
of the heap), so the next step gets fresh pages, and the kernel zeroes each 4 KiB page on its
first touch: on this project's machine that page-fault work was 40 % of a ResNet-lite step,
and it serializes threads on the process's memory map lock. Raising the mmap threshold to
glibc's maximum (32 MiB) and the trim threshold far above it makes ``free`` keep the pages, so
the next step reuses them (as PyTorch's caching allocators and ``jemalloc``-style allocators
do). The cost: the process keeps its peak heap until it exits.

Uses ``mallopt`` (glibc, ``malloc.h``: ``M_TRIM_THRESHOLD = -1``, ``M_TOP_PAD = -2``,
``M_MMAP_THRESHOLD = -3``); a no-op on other C libraries (macOS, musl, Windows).
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
MMAP_THRESHOLD = 32 * 1024 * 1024       # glibc's ceiling for this setting on 64-bit systems
TRIM_THRESHOLD = 1024 * 1024 * 1024     # give memory back only above 1 GiB free at the top
TOP_PAD = 64 * 1024 * 1024              # grow the heap in 64 MiB steps

_done = False


def keep_freed_memory() -> bool:
    """Tune glibc ``malloc`` once per process (see the module docstring).

    Returns True if glibc took every setting, False where there is no glibc ``mallopt``.
    Never raises.
    """
    global _done
    if _done:
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = all(mallopt(option, value) == 1 for option, value in (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        (M_TOP_PAD, TOP_PAD)))
    _done = ok
    return ok
