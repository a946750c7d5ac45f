"""Memory of a long-running ``cnn serve``: glibc's defaults back, freed memory returned, and a
bound on the requests computed at once.

Training tunes glibc ``malloc`` to keep every freed block (:mod:`cnn.parallel.allocator`: a
32 MiB mmap threshold and a 1 GiB trim threshold), because each step allocates the same
arrays again. A server is the opposite case: requests of different sizes (a 280 x 280 canvas,
a 12-megapixel photo) on many threads, each thread with its own glibc arena, and what a burst
allocated stayed with the process: 8 clients uploading 1,000 photos took the server from 190
to 968 MiB, and it stayed there (``benchmarks/serve_load.py``); with the settings below one
worker process peaks at about 300 MiB and is back at about 165 MiB once idle
(docs/bad-input.md). So the server

- sets glibc to moderate thresholds (arrays over 32 MiB are mapped and unmapped; free memory
  over 64 MiB at a heap's top is trimmed) and one arena, shared by the request threads
  (:func:`release_memory_settings`). Smaller thresholds (4 and 8 MiB, an arena per thread
  up to two per core) cost a phone photo's request a third of its time in page faults: each
  freed working plane was unmapped or trimmed, and the next request's planes faulted in
  again, 83 against 55 ms per photo (BENCHMARKS.md, issue 30, round 6); one arena keeps the
  peak of a burst lower than several (one heap's free space serves every thread);
- returns freed memory to the system once the server has been idle for
  :data:`TRIM_AFTER` seconds (``malloc_trim``, :func:`request_slot`): not after every request,
  where the trim and the next request's page faults cost a single client ~0.5-1 ms each;
- computes at most :data:`MAX_AT_ONCE` requests at once (:data:`SLOTS`); the others wait their
  turn, so the memory of a burst is that of a few requests, not of every request in flight.

All of it is a no-op where there is no glibc (macOS, musl, Windows).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import time
from contextlib import contextmanager

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -2, -3, -8
MMAP_THRESHOLD = 32 * 2**20  # arrays above it are mapped and unmapped
TRIM_THRESHOLD = 64 * 2**20  # free memory at the heap top above it is returned
ARENAS = 1  # glibc arenas: the request threads share one heap
MAX_AT_ONCE = max(2, os.cpu_count() or 1)  # requests computed at once
SLOTS = threading.BoundedSemaphore(MAX_AT_ONCE)
TRIM_AFTER = 1.0  # seconds idle before the freed memory goes back to the system

_libc = None


def _glibc():
    global _libc
    if _libc is None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            libc.malloc_trim.argtypes = [ctypes.c_size_t]
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
    return all(libc.mallopt(option, value) == 1 for option, value in (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        (M_TOP_PAD, 0), (M_ARENA_MAX, ARENAS)))


_busy = 0
_trim_at: float | None = None  # time.monotonic() at which to trim, None: nothing due
_state = threading.Condition()  # guards _busy and _trim_at; wakes the trimming thread
_trimmer: threading.Thread | None = None


def _trim_when_idle() -> None:
    """The trimming thread: ``malloc_trim(0)`` whenever a trim falls due (the server idle for
    :data:`TRIM_AFTER` seconds); waits without polling in between."""
    global _trim_at
    while True:
        with _state:
            while _trim_at is None or time.monotonic() < _trim_at:
                _state.wait(None if _trim_at is None else _trim_at - time.monotonic())
            _trim_at = None
        _glibc().malloc_trim(0)


@contextmanager
def request_slot():
    """Compute one request in one of :data:`SLOTS`; once no request has been in flight for
    :data:`TRIM_AFTER` seconds (the server idle), return the freed memory of every arena to
    the system (``malloc_trim(0)``, in a daemon thread). Under steady load, or one client's
    requests one after another, nothing is trimmed (that would only make the next request
    fault the pages in again); after a burst the memory goes back."""
    global _busy, _trim_at, _trimmer
    with SLOTS:
        with _state:
            _busy += 1
            _trim_at = None
        try:
            yield
        finally:
            with _state:
                _busy -= 1
                if _busy == 0 and _glibc():
                    _trim_at = time.monotonic() + TRIM_AFTER
                    if _trimmer is None:
                        _trimmer = threading.Thread(target=_trim_when_idle, daemon=True,
                                                    name="cnn-malloc-trim")
                        _trimmer.start()
                    _state.notify()
