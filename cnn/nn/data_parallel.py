"""Data parallelism for a whole training step of a plain CNN: one worker process per extra thread.

For a network without dropout, a training step can be split by the batch: each of
``CNN_NUM_THREADS`` processes runs forward and backward over its own contiguous slice of the
batch through its own replica of the network, the replicas' weight gradients are added in
slice order, and the optimizer takes one step in this process, as
``torch.nn.parallel.DistributedDataParallel`` does across processes (Li et al., "PyTorch
Distributed: Experiences on Accelerating Data Parallel Training", VLDB 2020). The loss is the
mean over the batch, so each slice's gradient is scaled by its share of the batch. Batch norm
is synchronized, as PyTorch's ``SyncBatchNorm``: each process sends its per-channel sums (its
count, sum and sum of squares in one exchange for the mean and variance, then the two sums of
the backward pass) to this one, which adds them in slice order and sends the batch's sums back, so every slice is normalized with the
statistics of the whole batch. The gradient is that of one pass over the whole batch up to
float rounding, and does not depend on timing.

Why processes and not threads: each slice is a few hundred NumPy calls of tens of
microseconds, and a thread needs Python's global interpreter lock between them. On this
project's 2-core machine, a replica's forward and backward over 32 images took 1.2-1.9x as
long with a second replica doing the same in another thread as alone, and no longer (within
the machine's noise) with the second one in another process
(``benchmarks/data_parallel_experiment.py --contention``, BENCHMARKS.md). A convolution large enough
to split on its own still splits over threads (:mod:`cnn.parallel.threads`): that is the path of
inference, of networks with dropout and of batches under ``MIN_BATCH``.

How: the plumbing is :mod:`cnn.parallel.workers`, on the standard library; this module keeps
the numerics (the slices, the batch norm sums added in slice order, the gradients added in
slice order, the fallback). The worker processes are started on first use with
``subprocess.Popen`` (a fresh interpreter with this one's ``sys.path``, nothing inherited from
its threads) and stay until this process exits or calls :func:`shutdown`. Each has one
:class:`multiprocessing.connection.Connection` (a Unix socket pair) for small control messages
and, per network, one :class:`multiprocessing.shared_memory.SharedMemory` segment (see
:class:`Layout`) holding the weights, the input slice, the labels, the logits, the gradients
and room for batch norm's sums; its name is unlinked as soon as the worker has mapped it. Every
step this process copies the current weights in, sends ``G`` (slice size, scale, label
smoothing, train mode, NumPy's error modes), computes its own slice, waits for the reply (the
loss) and adds the worker's gradients; a batch norm exchange is ``P``/``R`` with the slice's
sums, then the batch's, in the shared memory. No array is ever pickled. A worker
ignores Ctrl-C (this process handles it) and exits when its socket closes, so it never
outlives this process; a worker interrupted mid-step is killed and the next step starts a new
one. If a worker dies, cannot start, or does not answer within ``CNN_WORKER_TIMEOUT`` seconds
(default 60, :data:`cnn.parallel.workers.REPLY_TIMEOUT`: stopped by SIGSTOP or a debugger,
swapped out; it is killed then), this process warns once and computes every step itself from
then on: slice by slice, with the same code and so the same numbers (batch norm networks: the
whole batch at once, with the running statistics of before the failed step).
"""

from __future__ import annotations

import atexit
import os
import threading
import warnings

import numpy as np

from cnn.nn.activation import Dropout
from cnn.nn.batchnorm import BATCH_SUM, BatchNorm
from cnn.nn.losses import softmax_cross_entropy
from cnn.nn.model import Sequential
from cnn.nn.module import Tape
from cnn.parallel.threads import ONE_THREAD_ENV, batch_slices, get_num_threads, no_split
from cnn.parallel.workers import (
    ArrayLayout,
    Worker,
    WorkerLost,
    attach_memory,
    reply_timeout,
    serve,
    unmap,
)

_Worker = Worker  # one worker process (tests patch its methods here)

MIN_SLICE = 8  # examples per process at least: batch 16 on two cores was 1.5x faster split
MIN_BATCH = 2 * MIN_SLICE  # smaller batches (a short last batch too) run in one piece
WORKER = "cnn.nn.data_parallel:worker_main"  # what a worker process runs


def supports(model: Sequential, batch_size: int) -> bool:
    """Whether a training step of ``model`` at ``batch_size`` runs data-parallel: more than
    one thread, a batch of at least ``MIN_BATCH``, a POSIX system (a worker's socket is passed
    to it as an inherited file descriptor), no dropout (its random masks would depend on the
    split) and no buffers but batch norm's (whose batch statistics are synchronized over the
    slices)."""
    return (get_num_threads() > 1 and batch_size >= MIN_BATCH and os.name == "posix"
            and not any(isinstance(m, Dropout) or (m.buffers and not isinstance(m, BatchNorm))
                        for m in model.modules()))


def slices_of(n: int) -> list[slice]:
    """The batch slices of a step over ``n`` examples, one per process (this one first)."""
    return batch_slices(n, MIN_SLICE)


def slice_step(net: Sequential, x: np.ndarray, y: np.ndarray, scale: float,
               label_smoothing: float, total=None) -> tuple[float, np.ndarray]:
    """Forward and backward of one batch slice through ``net``, filling its ``grads``.

    Args:
        net: the network or a replica; x: ``(n, H, W, C)`` float32/float64 inputs in [0, 1];
        y: ``(n,)`` int labels; scale: the slice's share of the batch (the loss gradient is
        multiplied by it); label_smoothing: as :func:`cnn.nn.losses.softmax_cross_entropy`.
        total: ``None`` for a slice computed alone, else the function that sums per-channel
            partial sums over every slice of the batch (:data:`cnn.nn.layers.BATCH_SUM`), so
            that batch norm normalizes with the whole batch's statistics (synchronized batch
            norm, as PyTorch's ``SyncBatchNorm``).
    Returns:
        the slice's mean loss (float) and its logits ``(n, classes)``. The convolutions do not
        split the slice again over threads. The same function runs in this process and in a
        worker, so both give the same numbers.
    """
    token = BATCH_SUM.set(total)
    try:
        with no_split():
            tape = Tape()
            logits = net.forward(x, tape)
            loss, dlogits = softmax_cross_entropy(logits, y, label_smoothing)
            net.backward(dlogits * scale, tape)
    finally:
        BATCH_SUM.reset(token)
    return float(loss), logits


# ------------------------------------------------------------------ the shared memory layout
class Layout:
    """Where each array of one network's steps lives in a worker's shared memory.

    Args:
        model: the network; its parameters' shapes and dtypes are laid out twice (weights in,
            gradients out) as ``param{i}`` and ``grad{i}`` in ``model.parameters()`` order.
        x_dtype: the input dtype; ``x`` is ``(capacity, H, W, C)``, ``y`` ``(capacity,)``
            int64, ``logits`` ``(capacity, classes)`` of ``result_type(x, weights)``, ``sums``
            float64 room for the largest of batch norm's per-channel partial sums (``2 C + 1``
            values; exact for float32 and float64 sums).
        capacity: the largest slice, in examples.
    ``arrays`` is the :class:`cnn.parallel.workers.ArrayLayout`; ``spec`` (sent to the worker)
    says what to build over it; ``key`` identifies what the layout fits.
    """

    def __init__(self, model: Sequential, x_dtype, capacity: int) -> None:
        self.key = layout_key(model, x_dtype)
        values = [m.params[k] for m, k in model.parameters()]
        self.spec = {"model": model.model_string, "input_shape": list(model.input_shape),
                     "cnn": os.path.abspath(__file__), "capacity": capacity}
        arrays = self.arrays = ArrayLayout()
        for i, value in enumerate(values):
            arrays.add(f"param{i}", value.shape, value.dtype)
            arrays.add(f"grad{i}", value.shape, value.dtype)
        arrays.add("x", (capacity, *model.input_shape), x_dtype)
        arrays.add("y", (capacity,), np.int64)
        arrays.add("logits", (capacity, model.num_classes), np.result_type(x_dtype, *values))
        channels = [m.channels for m in model.modules() if isinstance(m, BatchNorm)]
        arrays.add("sums", (2 * max(channels, default=0) + 1,), np.float64)


def layout_key(model: Sequential, x_dtype) -> tuple:
    """What a :class:`Layout` depends on besides its capacity: the network, the shapes and
    dtypes of its parameters (``astype`` or ``load_state_dict`` may change them) and the
    input dtype."""
    return (model.model_string, np.dtype(x_dtype).name,
            tuple((m.params[k].shape, m.params[k].dtype.name) for m, k in model.parameters()))


# ------------------------------------------------------------------ the worker process side
def worker_main(fd: int) -> None:
    """Entry point of a worker process: serve set-up (``S``) and step (``G``) requests on the
    socket ``fd`` (:func:`cnn.parallel.workers.serve`) until it closes. Not for direct use
    (see :class:`DataParallel`); never raises."""
    from cnn.parallel.threads import set_num_threads
    set_num_threads(1)  # one core per process (the environment holds BLAS to one thread)
    held = {}  # the shared memory, its views and the replica over them

    def handle(kind, payload, exchange):
        if kind == b"S":  # a network: build its replica over the new shared memory
            name, arrays, spec = payload
            old = held.pop("memory", None)
            held.clear()
            unmap(old)
            memory = held["memory"] = attach_memory(name)
            if spec["cnn"] != os.path.abspath(__file__):
                raise RuntimeError(f"the worker imported cnn from {__file__}, the training "
                                   f"process from {spec['cnn']}")
            views = held["views"] = ArrayLayout.views(arrays, memory.buf)
            net = held["net"] = Sequential(spec["model"], None, tuple(spec["input_shape"]),
                                           num_classes=None)
            for i, (module, key) in enumerate(net.parameters()):
                module.params[key] = views[f"param{i}"]
            return None
        if kind != b"G":
            raise ValueError(f"unknown message {kind!r}")
        n, scale, smoothing, training, err = payload  # one step over the slice in memory
        net, views = held["net"], held["views"]
        net.train(training)
        sums = views["sums"]

        def total(partial):  # batch norm's sums: ours out, the batch's back (in memory)
            k = len(partial)
            if k > len(sums):
                raise RuntimeError(f"{k} partial sums, room for {len(sums)}")
            sums[:k] = partial
            exchange(b"P", k, b"R")
            return sums[:k].astype(partial.dtype)
        with np.errstate(**err):
            loss, logits = slice_step(net, views["x"][:n], views["y"][:n], scale, smoothing,
                                      total)
        views["logits"][:n] = logits
        for i, (module, key) in enumerate(net.parameters()):
            views[f"grad{i}"][...] = module.grads[key]
        return loss
    serve(fd, handle)


# ------------------------------------------------------------------ the training process side
# Workers are shared by every DataParallel of this process; _lock serializes their steps (two
# trainings in two threads take turns).
_lock = threading.RLock()
_workers: list[_Worker] = []
_failed: str | None = None  # why workers are no longer used in this process, once one failed


def _get_workers(count: int) -> list[_Worker]:
    """``count`` live worker processes, started as needed (up to one per extra thread kept
    for later, the others stopped); none once a worker has failed in this process. Call with
    ``_lock`` held."""
    if _failed is not None:
        return []
    # a child forked from the training process must not talk to its parent's workers: it
    # forgets them (closing only its own copies of their sockets) and starts its own
    for worker in [w for w in _workers if w.owner != os.getpid()]:
        _workers.remove(worker)
        worker.close()
    _drop([w for w in _workers if w.busy])  # left mid-exchange (cannot happen; be safe)
    for worker in _workers[max(count, get_num_threads() - 1):]:  # fewer threads since
        _workers.remove(worker)
        worker.close()
    env = dict(os.environ, **ONE_THREAD_ENV)
    while len(_workers) < count:
        _workers.append(_Worker(WORKER, env))
    return _workers[:count]


def _drop(workers: list[_Worker]) -> None:
    """Kill ``workers`` (interrupted mid-exchange, or failed) and forget them."""
    for worker in workers:
        if worker in _workers:
            _workers.remove(worker)
        worker.kill()


def _fail(error: BaseException) -> None:
    """A worker failed: stop them all and compute every slice in this process from now on
    (the same numbers, one core), with one warning."""
    global _failed
    if _failed is None:
        _failed = f"{type(error).__name__}: {error}"
        warnings.warn(f"a data-parallel worker process failed ({_failed}); training goes on "
                      "in this process alone", RuntimeWarning, stacklevel=4)
    _drop(list(_workers))


def shutdown() -> None:
    """Stop every worker process (they also stop when this process exits); the next
    data-parallel step starts new ones, even after a worker failed."""
    global _failed
    with _lock:
        for worker in _workers:
            worker.close()
        _workers.clear()
        _failed = None


atexit.register(shutdown)


class DataParallel:
    """Computes a training step's gradients with one process per thread (this one and one
    worker per extra thread), each over a slice of the batch (see the module docstring).

    Args:
        model: the :class:`cnn.nn.model.Sequential` being trained (see :func:`supports`).
        batch_size: the batch expected; the worker processes are started (first use in this
            process: about 0.2 s) and given the network here, before the first step. Another
            batch size, input dtype or parameter dtype later sets them up again.
    Raises:
        UserError: if ``$CNN_WORKER_TIMEOUT`` is set and not a number of seconds > 0.
    """

    def __init__(self, model: Sequential, batch_size: int = 64) -> None:
        self.model = model
        self.layout: Layout | None = None
        self.local: Sequential | None = None  # replica for slices without a worker
        self.batch_norms = [m for m in model.modules() if isinstance(m, BatchNorm)]
        self.buffered = [m for m in model.modules() if m.buffers]
        reply_timeout()  # a bad CNN_WORKER_TIMEOUT stops here, before any worker starts
        with _lock:
            self._prepare(batch_size, np.dtype(np.float32))

    def _prepare(self, n: int, x_dtype) -> list[_Worker]:
        """Workers holding this network with room for the slices of a batch of ``n``."""
        slices = slices_of(n)
        capacity = max(sl.stop - sl.start for sl in slices)
        layout = self.layout
        if (layout is None or layout.key != layout_key(self.model, x_dtype)
                or layout.spec["capacity"] < capacity):
            layout = self.layout = Layout(self.model, x_dtype, capacity)
        workers = []
        try:
            workers = _get_workers(len(slices) - 1)
            for worker in workers:
                if worker.key != (layout.key, layout.spec["capacity"]):
                    worker.share(layout.arrays, layout.spec)
                    worker.key = (layout.key, layout.spec["capacity"])
        except (WorkerLost, OSError) as error:  # died, or could not be started
            _fail(error)
            return []
        except BaseException:  # Ctrl-C, or a worker's error, during the set-up
            _drop([w for w in workers if w.busy])
            raise
        return workers

    def gradients(self, x: np.ndarray, y: np.ndarray,
                  label_smoothing: float = 0.0) -> tuple[float, np.ndarray]:
        """Fill the model's ``grads`` with dLoss/dparams of the mean softmax cross-entropy over
        the batch, as ``model.backward`` after one forward pass would.

        Args:
            x: input batch ``(N, H, W, C)``, N >= 1, float32 (or float64), pixels in [0, 1];
            y: int labels ``(N,)``.
            label_smoothing: as :func:`cnn.nn.losses.softmax_cross_entropy`.
        Returns:
            ``(loss, logits)``: the batch's mean loss (float) and its logits ``(N, classes)``
            of ``result_type(x, weights)``.
        Raises:
            ValueError: if ``x`` and ``y`` differ in length.
            the error a worker met, as this process would have raised it (FloatingPointError
            under ``np.errstate(over="raise")``, MemoryError, ...; other types as
            RuntimeError with the worker's traceback). NumPy's error modes "call" and "log"
            act as "warn" in a worker (its callback lives here).
        """
        n = len(x)
        if n < 1 or len(y) != n:
            raise ValueError(f"a batch of {n} inputs and {len(y)} labels; they must match")
        with _lock:
            return self._step(x, y, label_smoothing)

    def _step(self, x, y, label_smoothing):
        n = len(x)
        slices = slices_of(n)
        workers = self._prepare(n, x.dtype)
        if len(workers) < len(slices) - 1 or any(  # workers failed in this process, or a
                not m.training for m in self.batch_norms):  # batch norm uses the running
            return self._serial_step(x, y, slices, label_smoothing)  # statistics, ours only
        buffers = [(m, dict(m.buffers)) for m in self.buffered]
        try:
            return self._parallel_step(x, y, slices, workers, label_smoothing)
        except WorkerLost as error:  # redo the whole step here, from the same buffers
            _fail(error)
            for module, saved in buffers:
                module.buffers.update(saved)
            return self._serial_step(x, y, slices, label_smoothing)
        except BaseException:
            # Ctrl-C or an error mid-step: a worker may still be computing, or a message be
            # half sent; drop those so that the next step starts from a clean state
            _drop([w for w in workers if w.busy])
            raise

    def _parallel_step(self, x, y, slices, workers, label_smoothing):
        """Slice 0 here, slice i + 1 in ``workers[i]``; raises WorkerLost if one is lost."""
        n = len(x)
        slots = self.model.parameters()
        err = {k: "warn" if v in ("log", "call") else v for k, v in np.geterr().items()}
        for worker, sl in zip(workers, slices[1:]):
            v, size = worker.views, sl.stop - sl.start
            for i, (module, key) in enumerate(slots):
                v[f"param{i}"][...] = module.params[key]
            v["x"][:size] = x[sl]
            v["y"][:size] = y[sl]
            worker.request(b"G", (size, size / n, label_smoothing, self.model.training, err))

        def total(partial):  # batch norm's sums over the slices, in slice order
            k = len(partial)
            result = partial.copy()
            for worker in workers:
                if worker.reply(b"P") != k:
                    raise RuntimeError("a data-parallel worker is out of step")
                result += worker.views["sums"][:k].astype(result.dtype)  # exact: its values
            for worker in workers:
                worker.views["sums"][:k] = result
                worker.request(b"R", k)
            return result
        first = slices[0]
        results = [slice_step(self.model, x[first], y[first], (first.stop - first.start) / n,
                              label_smoothing, total)]
        for worker, sl in zip(workers, slices[1:]):
            loss = worker.reply()
            results.append((loss, worker.views["logits"][: sl.stop - sl.start].copy()))
            for i, (module, key) in enumerate(slots):
                module.grads[key] += worker.views[f"grad{i}"]
        return _combine(results, n)

    def _serial_step(self, x, y, slices, label_smoothing):
        """The step without workers: slice by slice here (the same numbers as the workers
        give), or the whole batch at once for batch norm (its statistics need every slice)."""
        n = len(x)
        if self.batch_norms:
            tape = Tape()  # the whole batch, each convolution split over the threads
            logits = self.model.forward(x, tape)
            loss, dlogits = softmax_cross_entropy(logits, y, label_smoothing)
            self.model.backward(dlogits, tape)
            return float(loss), logits
        first = slices[0]
        results = [slice_step(self.model, x[first], y[first], (first.stop - first.start) / n,
                              label_smoothing)]
        for sl in slices[1:]:
            results.append(self._local_step(x[sl], y[sl], (sl.stop - sl.start) / n,
                                            label_smoothing))
            for (module, key), (copy, copy_key) in zip(self.model.parameters(),
                                                       self.local.parameters(), strict=True):
                module.grads[key] += copy.grads[copy_key]
        return _combine(results, n)

    def _local_step(self, x, y, scale, label_smoothing):
        """A slice computed here, through a replica sharing the model's weight arrays."""
        if self.local is None:
            self.local = Sequential(self.model.model_string, None, self.model.input_shape,
                                    num_classes=None)
        for (module, key), (copy, copy_key) in zip(self.model.parameters(),
                                                   self.local.parameters(), strict=True):
            copy.params[copy_key] = module.params[key]
        self.local.train(self.model.training)
        return slice_step(self.local, x, y, scale, label_smoothing)


def _combine(results: list[tuple[float, np.ndarray]], n: int) -> tuple[float, np.ndarray]:
    """The batch's mean loss and logits from the slices' ``(mean loss, logits)``."""
    return (sum(loss * len(logits) for loss, logits in results) / n,
            np.concatenate([logits for _, logits in results]))
