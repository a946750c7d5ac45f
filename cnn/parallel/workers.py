"""Worker processes that compute for this one: started, spoken to, sharing memory, stopped.

The plumbing of the data-parallel training step (:mod:`cnn.nn.data_parallel` holds its
numerics), from the standard library:

- A worker is a fresh interpreter (``subprocess.Popen``: this one's ``sys.path``, nothing
  inherited from its threads, Ctrl-C ignored from its first line, since this process handles
  it) that runs ``function(fd)`` of a given module. ``multiprocessing``'s "spawn" start method
  would also give a fresh interpreter, but it imports this process's ``__main__`` again in the
  child and runs its own bootstrap before the worker could ignore Ctrl-C.
- Small control messages go through a :class:`multiprocessing.connection.Connection` over a
  Unix socket pair (:func:`multiprocessing.Pipe`): ``(kind, payload)`` tuples, ``kind`` one
  byte string, ``payload`` a few picklable scalars or a dict, never an array.
- Bulk arrays (weights, input slice, labels, logits, gradients, batch norm's sums) live in one
  :class:`multiprocessing.shared_memory.SharedMemory` segment per worker and network, laid out
  by :class:`ArrayLayout`; both processes map it, so a step copies each array once and pickles
  none. This process creates the segment and unlinks its name as soon as the worker has mapped
  it (``/dev/shm`` keeps nothing even if either process is killed later); the worker maps it
  without registering it with a resource tracker (the creator's tracker owns it).
- Every wait for an answer is bounded: a worker silent for ``CNN_WORKER_TIMEOUT`` seconds
  (default :data:`REPLY_TIMEOUT`, 60 s: stopped by SIGSTOP or a debugger, swapped out) is
  killed and reported as lost (:class:`WorkerLost`), as one that died.
- A worker exits when its end of the socket pair reaches end of file, so it never outlives
  this process; a child forked from this process only closes its copies (:meth:`Worker.close`).

Imports nothing from :mod:`cnn.nn` or above (this is the layer below it).
"""

from __future__ import annotations

import builtins
import errno
import json
import math
import os
import select
import subprocess
import sys
import traceback
from contextlib import contextmanager
from multiprocessing import Pipe, resource_tracker
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory

import numpy as np

from cnn import errors
from cnn.errors import UserError

REPLY_TIMEOUT = 60.0  # seconds a worker may take to answer; CNN_WORKER_TIMEOUT overrides it
ALIGN = 64  # bytes; each array in the shared memory starts on a cache line
_segments = 0  # segments created by this process, for their names


class WorkerLost(Exception):
    """A worker process exited, did not answer in time, or could not be started or reached."""


@contextmanager
def environment(values: dict[str, str]):
    """``os.environ`` with ``values`` set for the ``with`` block (the processes started in it
    inherit them), then as it was: a variable that was not set is removed again."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def reply_timeout() -> float:
    """Seconds to wait for a worker's answer: ``$CNN_WORKER_TIMEOUT`` if set, else
    :data:`REPLY_TIMEOUT` (60). Raises UserError for a value that is not a number > 0."""
    value = os.environ.get("CNN_WORKER_TIMEOUT", "").strip()
    if not value:
        return REPLY_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise UserError(f"CNN_WORKER_TIMEOUT must be a number of seconds > 0, got {value!r}; "
                        "set it to e.g. 60 or unset it")
    return seconds


# ------------------------------------------------------------------ the shared memory
class ArrayLayout:
    """Named arrays one after another in one buffer, each on a 64-byte line.

    ``arrays`` (picklable, sent to the worker) maps each name to ``(offset in bytes, shape,
    dtype name)``; ``size`` is the bytes needed (at least 1).
    """

    def __init__(self) -> None:
        self.arrays: dict[str, tuple[int, tuple[int, ...], str]] = {}
        self.size = 0

    def add(self, name: str, shape, dtype) -> None:
        """Place a C-contiguous array ``name`` of ``shape`` and ``dtype`` after the others."""
        dtype = np.dtype(dtype)
        self.arrays[name] = (self.size, tuple(int(s) for s in shape), dtype.name)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        self.size += -(-max(nbytes, 1) // ALIGN) * ALIGN

    @staticmethod
    def views(arrays: dict, buffer) -> dict[str, np.ndarray]:
        """``{name: array}`` over ``buffer`` (writable, at least the layout's size) as
        ``arrays`` places them."""
        return {name: np.ndarray(shape, np.dtype(dtype), buffer, offset)
                for name, (offset, shape, dtype) in arrays.items()}


def create_memory(size: int) -> SharedMemory:
    """A new shared-memory segment of ``size`` zero bytes, named ``cnn_dp_<pid>_<n>``.

    Raises:
        OSError: if it cannot be created, or (Linux) ``/dev/shm`` has less than ``size``
            bytes free: a tmpfs segment is created sparse, and writing past the free space
            would kill this process with SIGBUS instead of raising.
    """
    global _segments
    try:
        stat = os.statvfs("/dev/shm")
    except (OSError, AttributeError):
        pass
    else:
        free = stat.f_bavail * stat.f_frsize
        if free < size:
            raise OSError(errno.ENOSPC, f"{size} bytes of shared memory needed, /dev/shm has "
                                        f"{free} free")
    _segments += 1
    return SharedMemory(f"cnn_dp_{os.getpid()}_{_segments}", create=True, size=size)


def attach_memory(name: str) -> SharedMemory:
    """Map the segment ``name`` that another process created and keeps the duty to unlink.

    It is not registered with a resource tracker here (Python 3.13: ``track=False``; before:
    registration skipped while mapping), so this process neither starts a tracker of its own
    nor has the segment unlinked, with a "leaked" warning, when it exits.
    """
    if sys.version_info >= (3, 13):
        return SharedMemory(name, track=False)
    register = resource_tracker.register
    resource_tracker.register = lambda *args: None  # single-threaded worker: no race
    try:
        return SharedMemory(name)
    finally:
        resource_tracker.register = register


def unmap(memory: SharedMemory | None, views: dict | None = None) -> None:
    """Forget ``views`` (emptied in place, as other references to the dict may remain) and
    unmap ``memory``; an array still referenced elsewhere keeps the mapping alive until it is
    freed."""
    if views is not None:
        views.clear()
    if memory is not None:
        try:
            memory.close()
        except BufferError:  # an array over it still lives; the mapping goes with it
            pass


# ------------------------------------------------------------------ errors across processes
def error_report(error: BaseException) -> dict:
    """What a worker sends back for ``error``: its type name, message and traceback."""
    return {"type": type(error).__name__, "message": str(error),
            "traceback": traceback.format_exc()}


def error_from(report: dict) -> Exception:
    """The exception a worker reported, as this process would have raised it: a built-in or
    :mod:`cnn.errors` type with its message, else RuntimeError with the worker's traceback."""
    cls = getattr(builtins, report["type"], None) or getattr(errors, report["type"], None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(report["message"])
        except Exception:  # a type that needs other arguments
            pass
    return RuntimeError(f"in a data-parallel worker process:\n{report['traceback']}")


# ------------------------------------------------------------------ the worker process side
def serve(fd: int, handle) -> None:
    """A worker's loop: answer each request on the socket ``fd`` until it closes.

    ``handle(kind, payload, exchange)`` returns the answer's payload (sent as ``K``) or raises
    (sent as ``E`` with :func:`error_report`); ``exchange(kind, payload, expected)`` sends a
    message in mid-request and returns the payload of the answer of kind ``expected``. Never
    raises; returns when the other process has closed its end (or exited).
    """
    conn = Connection(fd)

    def exchange(kind: bytes, payload, expected: bytes):
        conn.send((kind, payload))
        got, answer = conn.recv()
        if got != expected:
            raise RuntimeError(f"expected a message {expected!r}, got {got!r}")
        return answer
    while True:
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):  # this process's parent is gone or done with it
            return
        try:
            reply = (b"K", handle(kind, payload, exchange))
        except Exception as error:  # report it; the training process raises it
            reply = (b"E", error_report(error))
        try:
            conn.send(reply)
        except OSError:
            return


# ------------------------------------------------------------------ the training process side
class Worker:
    """One worker process, this process's end of its socket pair and their shared memory.

    Args:
        entry: ``"module:function"``; the worker runs ``function(fd)`` (e.g. a loop around
            :func:`serve`) with ``fd`` its end of the socket pair.
        env: the worker's environment (default: this process's).
    Raises:
        OSError: if the process cannot be started.
    """

    def __init__(self, entry: str, env: dict | None = None) -> None:
        module, function = entry.split(":")
        parent, child = Pipe()  # duplex: a Unix socket pair
        # Ctrl-C reaches the whole process group: ignore it before anything else
        code = ("import signal, sys, json; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                "sys.path[:] = json.loads(sys.argv[1]); "
                f"from {module} import {function}; {function}({child.fileno()})")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code, json.dumps(sys.path)], pass_fds=[child.fileno()],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        self.conn = parent
        # the bounded wait: one poll object per worker (Connection.poll builds a selector
        # each call, about 10 us more per exchange, 27 exchanges per ResNet-lite step)
        self.poller = select.poll()
        self.poller.register(parent.fileno(), select.POLLIN)
        self.owner = os.getpid()  # the process that started it and may talk to it
        self.key = None  # what its shared memory holds (the caller's label)
        self.memory: SharedMemory | None = None
        self.views: dict[str, np.ndarray] = {}
        self.busy = False  # a request is out and its answer not yet read

    def request(self, kind: bytes, payload=None) -> None:
        """Send a message: a request (set-up, step) or an answer the worker waits for in
        mid-request. Raises WorkerLost if the worker is gone."""
        self.busy = True  # until its answer is read: an interrupted exchange drops the worker
        try:
            self.conn.send((kind, payload))
        except OSError as error:
            raise WorkerLost(str(error)) from None

    def reply(self, expected: bytes = b"K"):
        """The payload of the worker's next message, of kind ``expected``: ``K`` (the answer
        to the last request) or another kind it sends in mid-request. Raises the worker's
        error (see :func:`error_from`); WorkerLost if it has exited (even after answering:
        whatever it answered is not used), or has not answered within :func:`reply_timeout`
        seconds (it is killed then); RuntimeError for a message of another kind."""
        timeout = reply_timeout()
        try:
            answered = bool(self.poller.poll(math.ceil(timeout * 1000)))  # or hung up, closed
            if answered:
                kind, payload = self.conn.recv()
        except (EOFError, OSError) as error:
            raise WorkerLost(str(error)) from None
        if not answered:
            self.kill()
            raise WorkerLost(f"no answer within {timeout:g} s (stopped, or swapped out?); "
                             "it was killed")
        if kind == b"K" and self.process.poll() is not None:  # answered, then died: its
            raise WorkerLost(f"exited with status {self.process.returncode}")  # step is redone
        if kind in (b"K", b"E"):
            self.busy = False
        if kind == b"E":
            raise error_from(payload)
        if kind != expected:
            raise RuntimeError(f"a data-parallel worker answered {kind!r}, not {expected!r}")
        return payload

    def share(self, layout: ArrayLayout, setup) -> None:
        """Give the worker new shared memory laid out as ``layout``, with ``setup`` (request
        ``S``, payload ``(segment name, layout.arrays, setup)``); :attr:`views` are this
        process's arrays over it. Raises as :meth:`reply`; OSError if the memory cannot be
        had (see :func:`create_memory`)."""
        self.key = None
        unmap(self.memory, self.views)
        self.memory = None
        memory = create_memory(layout.size)
        try:
            self.request(b"S", (memory.name, layout.arrays, setup))
            self.reply()
        except BaseException:
            memory.close()
            raise
        finally:
            memory.unlink()  # mapped by both now (or the worker is dropped): no name needed
        self.memory = memory
        self.views = ArrayLayout.views(layout.arrays, memory.buf)

    def kill(self) -> None:
        """Stop the worker now (a stopped one too) and unmap the memory."""
        self.conn.close()
        self.process.kill()
        self.process.wait()
        unmap(self.memory, self.views)

    def close(self) -> None:
        """Let the worker exit (end of file on its socket; killed after 5 s). In a child
        forked from the process that started it: close only this child's copies."""
        self.conn.close()  # the worker exits on end of file
        unmap(self.memory, self.views)
        if self.owner != os.getpid():  # inherited by a fork: only our copy of the socket
            return
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
