"""Memory of a long-running ``cnn serve``: glibc's defaults back, freed memory returned, and a
bound on the requests computed at once.

Training tunes glibc ``malloc`` to keep every freed block (:mod:`cnn.parallel.allocator`: a
32 MiB mmap threshold and a 1 GiB trim threshold), because each step allocates the same
arrays again. A server is the opposite case: requests of different sizes (a 280 x 280 canvas,
a 12-megapixel photo) on many threads, each thread with its own glibc arena, and what a burst
allocated stayed with the process: 8 clients uploading 1,000 photos took the server from 164
to 1,046 MiB, and it stayed there (``benchmarks/serve_load.py``). So the server

- sets glibc back to small thresholds (128 KiB: large arrays are mapped and unmapped, the heap
  top is trimmed) and at most two arenas per core (:func:`release_memory_settings`);
- returns freed memory to the system after each request (``malloc_trim``, :func:`trim`);
- computes at most :data:`MAX_AT_ONCE` requests at once (:data:`SLOTS`); the others wait their
  turn, so the memory of a burst is that of a few requests, not of every request in flight.

All of it is a no-op where there is no glibc (macOS, musl, Windows).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -2, -3, -8
SMALL_THRESHOLD = 128 * 1024  # glibc's default mmap and trim thresholds
MAX_AT_ONCE = max(2, os.cpu_count() or 1)  # requests computed at once
SLOTS = threading.BoundedSemaphore(MAX_AT_ONCE)

_libc = None


def _glibc():
    global _libc
    if _libc is None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
            _libc = libc
        except (OSError, AttributeError):
            _libc = False
    return _libc


def release_memory_settings() -> bool:
    """Undo the training setting of glibc ``malloc`` in this process (see the module docstring).

    Call it after the first layer call has set up cnn's threads (which applies the training
    setting once per process): :func:`cnn.parallel.threads.get_num_threads` does that.

    Returns:
        True if glibc took every setting; False where there is no glibc. Never raises.
    """
    libc = _glibc()
    if not libc:
        return False
    arenas = 2 * (os.cpu_count() or 1)
    return all(libc.mallopt(option, value) == 1 for option, value in (
        (M_MMAP_THRESHOLD, SMALL_THRESHOLD), (M_TRIM_THRESHOLD, SMALL_THRESHOLD),
        (M_TOP_PAD, 0), (M_ARENA_MAX, arenas)))


def trim() -> None:
    """Return the freed memory of every arena to the system (``malloc_trim(0)``)."""
    libc = _glibc()
    if libc:
        libc.malloc_trim(0)
