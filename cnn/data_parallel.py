"""Data parallelism for a whole training step of a plain CNN: one worker process per extra thread.

For a network whose layers treat every example alone (no batch norm, no dropout), a training
step can be split by the batch: each of ``CNN_NUM_THREADS`` processes runs forward and backward
over its own contiguous slice of the batch through its own replica of the network, the
replicas' weight gradients are added in slice order, and the optimizer takes one step in this
process, as ``torch.nn.parallel.DistributedDataParallel`` does across processes (Li et al.,
"PyTorch Distributed: Experiences on Accelerating Data Parallel Training", VLDB 2020). The loss
is the mean over the batch, so each slice's gradient is scaled by its share of the batch; the
gradient is that of one pass over the whole batch up to float rounding, and does not depend on
timing.

Why processes and not threads: each slice is a few hundred NumPy calls of tens of
microseconds, and a thread needs Python's global interpreter lock between them. Two threads
running the steps of two replicas each took 1.5x as long per step as one alone on this
project's 2-core machine; two processes took 1.06x (BENCHMARKS.md). A convolution large enough
to split on its own still splits over threads (:mod:`cnn.threads`): that is the path of the
networks with batch norm, and of inference.

How: the worker processes are started once per process, on first use, with
``subprocess.Popen`` (a fresh interpreter, nothing inherited from this one's threads), and stay
until this process exits or :func:`shutdown`. Each gets one Unix socket for small messages and,
per network, one shared-memory file (``memfd_create``, or an unlinked temporary file) passed over
that socket, holding the weights, the input slice, the labels, the logits and the gradients.
Every step this process copies the current weights in, sends ``go``, computes its own slice,
waits for the reply and adds the worker's gradients. A worker ignores Ctrl-C (this process
handles it) and exits when its socket closes, so it never outlives this process. If a worker
dies, its slice is computed here instead, with the same code and the same result, and training
goes on.
"""

from __future__ import annotations

import atexit
import builtins
import json
import mmap
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

from .layers import Dropout
from .losses import softmax_cross_entropy
from .model import Sequential
from .module import Tape
from .threads import batch_slices, get_num_threads, no_split

MIN_BATCH = 16  # slices of 8 or more examples: a step of batch 16 was 1.5x faster split
ALIGN = 64  # bytes; each array in the shared memory starts on a cache line
ERR_MODES = ("ignore", "warn", "raise", "print", "log", "call")  # np.geterr values, by code


def supports(model: Sequential, batch_size: int) -> bool:
    """Whether a training step of ``model`` at ``batch_size`` runs data-parallel: more than
    one thread, a batch of at least ``MIN_BATCH``, a POSIX system (file descriptors passed
    over a Unix socket), and no layer that mixes the examples of a batch (batch norm's batch
    statistics) or draws random masks (dropout)."""
    return (get_num_threads() > 1 and batch_size >= MIN_BATCH and os.name == "posix"
            and hasattr(socket, "send_fds")
            and not any(m.buffers or isinstance(m, Dropout) for m in model.modules()))


def slice_step(net: Sequential, x: np.ndarray, y: np.ndarray, scale: float,
               label_smoothing: float) -> tuple[float, np.ndarray]:
    """Forward and backward of one batch slice through ``net`` (its ``grads`` filled), the
    loss gradient scaled by ``scale``, the slice's share of the batch; the convolutions do not
    split it again over threads. Returns the slice's mean loss and its logits ``(n, classes)``.
    The same function runs in this process and in a worker, so both give the same numbers."""
    with no_split():
        tape = Tape()
        logits = net.forward(x, tape)
        loss, dlogits = softmax_cross_entropy(logits, y, label_smoothing)
        net.backward(dlogits * scale, tape)
    return float(loss), logits


# ------------------------------------------------------------------ the shared memory layout
class Layout:
    """Where each array lives in a worker's shared memory, for one network, input dtype and
    slice capacity: ``(offset in bytes, shape, dtype name)`` per entry. Sent to the worker as
    JSON; :meth:`views` gives NumPy arrays over a buffer on either side."""

    def __init__(self, model: Sequential, x_dtype: np.dtype, capacity: int) -> None:
        slots = model.parameters()
        out_dtype = np.result_type(x_dtype, *(m.params[k] for m, k in slots))
        self.spec = {"model": model.model_string, "input_shape": list(model.input_shape),
                     "capacity": capacity, "arrays": {}}
        self.size = 0
        for i, (module, key) in enumerate(slots):
            value = module.params[key]
            self._add(f"param{i}", value.shape, value.dtype)
            self._add(f"grad{i}", value.shape, value.dtype)
        self._add("x", (capacity, *model.input_shape), x_dtype)
        self._add("y", (capacity,), np.int64)
        self._add("logits", (capacity, model.num_classes), out_dtype)
        self.count = len(slots)

    def _add(self, name, shape, dtype) -> None:
        dtype = np.dtype(dtype)
        self.spec["arrays"][name] = [self.size, list(shape), dtype.name]
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        self.size += -(-max(nbytes, 1) // ALIGN) * ALIGN

    @staticmethod
    def views(spec: dict, buffer) -> dict[str, np.ndarray]:
        """``{name: array}`` over ``buffer`` (a writable mmap) as ``spec`` places them."""
        return {name: np.ndarray(shape, np.dtype(dtype), buffer, offset)
                for name, (offset, shape, dtype) in spec["arrays"].items()}


def _shared_file(size: int) -> int:
    """A file descriptor of ``size`` zero bytes of memory that another process can map:
    ``memfd_create`` on Linux, else an unlinked temporary file."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("cnn-data-parallel", getattr(os, "MFD_CLOEXEC", 0))
    else:
        handle = tempfile.TemporaryFile()
        fd = os.dup(handle.fileno())
        handle.close()
    os.ftruncate(fd, size)
    return fd


# --------------------------------------------------------------------------- messages
HEADER = struct.Struct("<cI")  # kind (one byte), payload length
STEP = struct.Struct("<qdd?4b")  # slice size, scale, label smoothing, train mode, np.geterr


def _send(sock: socket.socket, kind: bytes, payload: bytes = b"", fds=()) -> None:
    data = HEADER.pack(kind, len(payload)) + payload
    sent = socket.send_fds(sock, [data], list(fds)) if fds else 0
    sock.sendall(data[sent:])


def _recv_exact(sock: socket.socket, n: int, data: bytes = b"") -> bytes:
    while len(data) < n:
        more = sock.recv(n - len(data))
        if not more:
            raise EOFError("the other process closed its socket")
        data += more
    return data


def _recv(sock: socket.socket) -> tuple[bytes, bytes, list[int]]:
    """One message: ``(kind, payload, file descriptors)``. Raises EOFError when the other
    side has closed its socket (or exited)."""
    head, fds, _, _ = socket.recv_fds(sock, HEADER.size, 1)
    if not head:
        raise EOFError("the other process closed its socket")
    kind, length = HEADER.unpack(_recv_exact(sock, HEADER.size, head))
    return kind, _recv_exact(sock, length), fds


# ------------------------------------------------------------------ the worker process side
def worker_main(fd: int) -> None:
    """Entry point of a worker process: serve set-up and step messages on the Unix socket
    ``fd`` until it closes. Not for direct use (see :class:`DataParallel`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the training process
    from .threads import set_num_threads
    set_num_threads(1)  # one core per process (the environment holds BLAS to one thread)
    sock = socket.socket(fileno=fd)
    spec = net = views = None
    while True:
        try:
            kind, payload, fds = _recv(sock)
        except EOFError:
            return
        try:
            if kind == b"S":  # a network: build its replica over the new shared memory
                spec = json.loads(payload)
                memory = mmap.mmap(fds[0], 0)
                os.close(fds[0])
                views = Layout.views(spec, memory)
                net = Sequential(spec["model"], None, tuple(spec["input_shape"]),
                                 num_classes=None)
                for i, (module, key) in enumerate(net.parameters()):
                    if views[f"param{i}"].shape != module.params[key].shape:
                        raise ValueError(f"parameter {i} has shape {views[f'param{i}'].shape}"
                                         f", the replica's {module.params[key].shape}")
                    module.params[key] = views[f"param{i}"]
                _send(sock, b"K")
            elif kind == b"G":  # one step over the slice in the shared memory
                n, scale, smoothing, training, *err = STEP.unpack(payload)
                net.train(training)
                with np.errstate(**dict(zip(("divide", "over", "under", "invalid"),
                                            (ERR_MODES[e] for e in err)))):
                    loss, logits = slice_step(net, views["x"][:n], views["y"][:n], scale,
                                              smoothing)
                views["logits"][:n] = logits
                for i, (module, key) in enumerate(net.parameters()):
                    views[f"grad{i}"][...] = module.grads[key]
                _send(sock, b"K", struct.pack("<d", loss))
            else:
                raise ValueError(f"unknown message {kind!r}")
        except Exception as error:  # report it; the training process raises it
            _send(sock, b"E", json.dumps({"type": type(error).__name__,
                                          "message": str(error)}).encode())


# ------------------------------------------------------------------ the training process side
class WorkerLost(Exception):
    """A worker process exited or stopped answering (its slice is then computed here)."""


class _Worker:
    """One worker process and the parent's end of its socket."""

    def __init__(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        root = str(Path(__file__).resolve().parent.parent)  # the folder holding cnn/
        code = (f"import sys; sys.path.insert(0, {root!r}); "
                f"from cnn.data_parallel import worker_main; worker_main({child.fileno()})")
        env = dict(os.environ, CNN_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                   OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        try:
            self.process = subprocess.Popen([sys.executable, "-c", code],
                                            pass_fds=[child.fileno()], env=env,
                                            stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL)
        finally:
            child.close()
        self.sock = parent
        self.layout: Layout | None = None  # the network it holds
        self.views: dict[str, np.ndarray] = {}

    def request(self, kind: bytes, payload: bytes = b"", fds=()) -> None:
        try:
            _send(self.sock, kind, payload, fds)
        except OSError as error:
            raise WorkerLost(str(error)) from None

    def reply(self) -> bytes:
        """The answer to the last request; raises the worker's error, or WorkerLost."""
        try:
            kind, payload, _ = _recv(self.sock)
        except (EOFError, OSError) as error:
            raise WorkerLost(str(error)) from None
        if kind == b"E":
            error = json.loads(payload)
            cls = getattr(builtins, error["type"], None)  # FloatingPointError, MemoryError, ...
            if not (isinstance(cls, type) and issubclass(cls, Exception)):
                raise RuntimeError(f"data-parallel worker: {error['type']}: {error['message']}")
            raise cls(error["message"])
        return payload

    def hold(self, layout: Layout) -> None:
        """Give the worker ``layout``'s network, over new shared memory."""
        fd = _shared_file(layout.size)
        try:
            memory = mmap.mmap(fd, layout.size)
            self.request(b"S", json.dumps(layout.spec).encode(), [fd])
        finally:
            os.close(fd)
        self.layout, self.views = None, Layout.views(layout.spec, memory)
        self.reply()
        self.layout = layout

    def close(self) -> None:
        self.sock.close()  # the worker exits on end of file
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_workers: list[_Worker] = []
_workers_lock = threading.Lock()
_failed: str | None = None  # why workers are no longer used in this process, once one failed


def _get_workers(count: int) -> list[_Worker]:
    """``count`` live worker processes, started as needed (others kept for later); none
    once a worker has failed in this process."""
    with _workers_lock:
        if _failed is not None:
            return []
        while len(_workers) < count:
            _workers.append(_Worker())
        return _workers[:count]


def _fail(error: BaseException) -> None:
    """A worker failed: stop them all and compute every slice in this process from now on
    (the same numbers, one core), with one warning."""
    global _failed
    if _failed is None:
        _failed = str(error) or type(error).__name__
        warnings.warn(f"a data-parallel worker process failed ({_failed}); training goes on "
                      "in this process alone", RuntimeWarning, stacklevel=3)
    _drop(list(_workers))


def shutdown() -> None:
    """Stop every worker process (they also stop when this process exits); the next
    data-parallel step starts new ones, even after a worker failed."""
    global _failed
    with _workers_lock:
        for worker in _workers:
            worker.close()
        _workers.clear()
        _failed = None


atexit.register(shutdown)


class DataParallel:
    """Computes a training step's gradients with one process per thread, each over a slice of
    the batch (see the module docstring).

    Args:
        model: the :class:`cnn.model.Sequential` being trained (see :func:`supports`).
        batch_size: the largest batch expected (the shared memory is sized for it; a larger
            batch sets the workers up again).
    Starting the worker processes (first use in this process: about 0.2 s each) and giving
    them the network happen here, before the first step.
    """

    def __init__(self, model: Sequential, batch_size: int = 64) -> None:
        self.model = model
        self.layout: Layout | None = None
        self.local: Sequential | None = None  # replica for a lost worker's slice
        self._prepare(batch_size, np.dtype(np.float32))

    def _prepare(self, n: int, x_dtype: np.dtype) -> list[_Worker]:
        """Workers holding this network with room for the slices of a batch of ``n``."""
        slices = batch_slices(n)
        capacity = max(sl.stop - sl.start for sl in slices)
        layout = self.layout
        if (layout is None or layout.spec["arrays"]["x"][2] != np.dtype(x_dtype).name
                or layout.spec["capacity"] < capacity):
            layout = self.layout = Layout(self.model, x_dtype, capacity)
        try:
            workers = _get_workers(len(slices) - 1)
            for worker in workers:
                if worker.layout is not layout:
                    worker.hold(layout)
        except (WorkerLost, OSError) as error:  # died, or could not be started
            _fail(error)
            return []
        return workers

    def gradients(self, x: np.ndarray, y: np.ndarray,
                  label_smoothing: float = 0.0) -> tuple[float, np.ndarray]:
        """Fill the model's ``grads`` with dLoss/dparams of the mean softmax cross-entropy over
        the batch, as ``model.backward`` after one forward pass would.

        Args:
            x: input batch ``(N, H, W, C)``, float32 (or float64); y: int labels ``(N,)``.
            label_smoothing: as :func:`cnn.losses.softmax_cross_entropy`.
        Returns:
            ``(loss, logits)``: the batch's mean loss (float) and its logits ``(N, classes)``.
        Raises:
            the error a worker met (FloatingPointError under ``np.errstate(all="raise")``,
            MemoryError, ...), as this process would have raised it.
        """
        n = len(x)
        slices = batch_slices(n)
        workers = self._prepare(n, x.dtype)[: len(slices) - 1]
        slots = self.model.parameters()
        err = np.geterr()
        codes = [ERR_MODES.index(err[k]) for k in ("divide", "over", "under", "invalid")]
        sent = []
        try:
            for worker, sl in zip(workers, slices[1:]):
                v, size = worker.views, sl.stop - sl.start
                for i, (module, key) in enumerate(slots):
                    v[f"param{i}"][...] = module.params[key]
                v["x"][:size] = x[sl]
                v["y"][:size] = y[sl]
                worker.request(b"G", STEP.pack(size, size / n, label_smoothing,
                                               self.model.training, *codes))
                sent.append(worker)
        except WorkerLost as error:
            _fail(error)
            sent = []
        try:
            results = [slice_step(self.model, x[slices[0]], y[slices[0]],
                                  len(x[slices[0]]) / n, label_smoothing)]
            for i, sl in enumerate(slices[1:]):
                size = sl.stop - sl.start
                grads = None
                if i < len(sent):
                    try:
                        (loss,) = struct.unpack("<d", sent[i].reply())
                        v = sent[i].views
                        grads = [v[f"grad{j}"] for j in range(len(slots))]
                        results.append((loss, v["logits"][:size].copy()))
                    except WorkerLost as error:
                        _fail(error)
                        sent = []
                if grads is None:  # no worker for this slice: the same computation here
                    if self.local is None:
                        self.local = Sequential(self.model.model_string, None,
                                                self.model.input_shape, num_classes=None)
                    for (module, key), (copy, copy_key) in zip(slots, self.local.parameters(),
                                                               strict=True):
                        copy.params[copy_key] = module.params[key]
                    self.local.train(self.model.training)
                    results.append(slice_step(self.local, x[sl], y[sl], size / n,
                                              label_smoothing))
                    grads = [m.grads[k] for m, k in self.local.parameters()]
                for (module, key), grad in zip(slots, grads, strict=True):
                    module.grads[key] += grad
        except BaseException:
            # Ctrl-C or an error mid-step: a worker may still be computing; drop the workers
            # so that the next step starts from a clean state
            _drop(sent)
            raise
        loss = sum(r[0] * len(r[1]) for r in results) / n
        return loss, np.concatenate([r[1] for r in results])


def _drop(workers: list[_Worker]) -> None:
    """Kill ``workers`` (mid-step, or failed) and forget them."""
    for worker in workers:
        if worker in _workers:
            _workers.remove(worker)
        worker.sock.close()
        worker.process.kill()
        worker.process.wait()
