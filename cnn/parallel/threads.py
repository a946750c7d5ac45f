"""Intra-op parallelism: a layer splits its batch into one contiguous slice per thread.

The convolutions (im2col, GEMM, the weight and input gradients) call :func:`parallel_map`
with a function of one batch slice (:func:`batch_slices`); the first slice runs on the calling
thread, the others on a small pool of worker threads. NumPy releases the GIL inside its GEMMs,
copies and elementwise loops, so the slices run at the same time on different cores. This is
the data-parallel half of what PyTorch's intra-op thread pool does (``torch.set_num_threads``),
with the batch as the only axis that is split.

Why not leave it to BLAS: OpenBLAS threads one GEMM at a time, and the GEMMs of a small CNN are
narrow (16-64 output columns), so its second thread costs more than it gains; and the im2col
copies and bias adds around them are single-threaded in NumPy. Splitting the batch puts both on
every core. While cnn runs more than one thread it limits BLAS to one thread per call
(``threadpoolctl``), process-wide, as ``torch.set_num_threads`` is process-wide;
:func:`set_num_threads` (1) gives BLAS its own setting back. Not only inside the split:
OpenBLAS's worker threads spin for a while after each call, so a two-thread GEMM of an unsplit
layer left them competing with cnn's worker for the two cores (a ResNet-lite step went from 58
to 93 ms when BLAS got its threads back outside the split; see BENCHMARKS.md).

Why only convolutions: handing a slice to a sleeping worker costs about 55 us on this
project's machine (a futex wake of an idle virtual CPU, then the GIL), and batch norm, ReLU and
pooling are a few memory-bound passes of about 1 ms or less, which gained nothing from a second
thread when measured; a convolution is split only when each slice's im2col matrix is large
enough (see ``cnn.nn.layers.Conv2D``).

Results do not depend on timing: slices are fixed by the batch size and the thread count, and
per-slice partial sums (weight gradients, batch statistics) are added in slice order.
"""

from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, TypeVar

import numpy  # also loads NumPy's BLAS before threadpoolctl looks for it

from cnn.errors import UserError
from cnn.parallel.allocator import keep_freed_memory

T = TypeVar("T")

_lock = threading.RLock()  # re-entered: get_num_threads -> set_num_threads
_local = threading.local()  # .worker is True inside a pool thread: no nested splitting
_num_threads: int | None = None
_pool: ThreadPoolExecutor | None = None
_blas_limit = None  # the threadpoolctl limiter while BLAS is held to one thread


# The environment of a worker process that is one of a pool, one per core: one thread for
# cnn's layers and for every BLAS / OpenMP library.
ONE_THREAD_ENV = {"CNN_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                  "MKL_NUM_THREADS": "1"}


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask on Linux, else ``os.cpu_count()``),
    at least 1."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_num_threads() -> int:
    """``CNN_NUM_THREADS`` if set, else the CPUs this process may run on.

    Raises:
        UserError: if ``CNN_NUM_THREADS`` is not a whole number >= 1 (the command line prints
            it as one line; ``cnn.cli`` checks it before any work starts). Reads the
            environment only; sets nothing up.
    """
    value = os.environ.get("CNN_NUM_THREADS", "").strip()
    if value:
        message = (f"CNN_NUM_THREADS must be a whole number >= 1, got {value!r}; set it to "
                   "e.g. 2 or unset it to use every CPU")
        try:
            n = int(value)
        except ValueError:
            raise UserError(message) from None
        if n < 1:
            raise UserError(message)
        return n
    return available_cpus()


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for cnn's layers (``1``: no worker threads, BLAS as configured).

    With ``n > 1`` BLAS is limited to one thread per call while cnn runs (see the module
    docstring). The first call also tunes glibc ``malloc`` to reuse freed memory
    (:func:`cnn.parallel.allocator.keep_freed_memory`), which every step's large arrays need, threads
    or not. Raises ``ValueError`` if ``n < 1``.
    """
    global _num_threads, _pool, _blas_limit
    if int(n) != n or n < 1:
        raise ValueError(f"the number of threads must be a whole number >= 1, got {n!r}")
    n = int(n)
    keep_freed_memory()
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True)
            _pool = None
        if _blas_limit is not None:
            _blas_limit.restore_original_limits()
            _blas_limit = None
        if n > 1:
            try:
                from threadpoolctl import threadpool_limits
            except ImportError:  # a checkout not reinstalled since threadpoolctl was added
                warnings.warn("threadpoolctl is not installed (pip install threadpoolctl): "
                              "BLAS keeps its own threads, which slows cnn's threads down")
            else:
                _blas_limit = threadpool_limits(limits=1, user_api="blas")
            _pool = ThreadPoolExecutor(max_workers=n - 1, thread_name_prefix="cnn",
                                       initializer=_mark_worker)
        _num_threads = n


def _with_errstate(state: dict, fn, item):
    with numpy.errstate(**state):
        return fn(item)


def _mark_worker() -> None:
    _local.worker = True


@contextmanager
def no_split():
    """Inside the block, this thread's layers do not split their batch (as in a worker
    thread): for work that is already one slice of a parallel map, such as one replica's part
    of a data-parallel step (:mod:`cnn.nn.data_parallel`)."""
    before = getattr(_local, "worker", False)
    _local.worker = True
    try:
        yield
    finally:
        _local.worker = before


def get_num_threads() -> int:
    """The number of threads cnn's layers use.

    On first use (the first layer call of the process) this sets the thread count from
    ``CNN_NUM_THREADS`` or the usable CPUs.
    """
    if _num_threads is None:
        with _lock:  # two threads making the first layer call at once set it up once
            if _num_threads is None:
                set_num_threads(default_num_threads())
    return _num_threads


def in_worker_thread() -> bool:
    """True inside one of the pool's threads (where a batch is never split again)."""
    return getattr(_local, "worker", False)


def batch_slices(n: int, min_per_slice: int = 1) -> list[slice]:
    """Split ``range(n)`` into at most :func:`get_num_threads` contiguous, near-equal slices,
    each of at least ``min_per_slice`` items (one slice when the batch is too small to pay for
    a thread), in order; ``[slice(0, n)]`` inside a worker thread."""
    parts = 1 if in_worker_thread() else get_num_threads()
    parts = max(1, min(parts, n // max(min_per_slice, 1)))
    bounds = [n * i // parts for i in range(parts + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(parts)]


def parallel_map(fn: Callable[[object], T], items: list) -> list[T]:
    """``[fn(item) for item in items]``, the items run at the same time (the first on the
    calling thread); ``items`` are batch slices or slice numbers, at most
    :func:`get_num_threads` of them. An exception in any item is raised here after all have
    finished."""
    items = list(items)
    if len(items) == 1:
        return [fn(items[0])]
    pool = _pool
    if pool is None:  # set_num_threads(1) ran since the slices were made
        return [fn(item) for item in items]
    # the worker items run under the caller's NumPy error state (e.g. np.errstate(over=
    # "ignore") around a training run), which is per thread
    state = numpy.geterr()
    futures = [pool.submit(_with_errstate, state, fn, item) for item in items[1:]]
    try:
        first = fn(items[0])
    finally:
        rest = [f.exception() for f in futures]  # wait for every slice before raising
    for f, error in zip(futures, rest):
        if error is not None:
            raise error
    return [first] + [f.result() for f in futures]
