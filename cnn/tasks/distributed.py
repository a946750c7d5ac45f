"""Batch prediction for millions of images: on a Dask cluster, streamed to a results file,
resumable.

``cnn predict PATHS --out results.jsonl [--workers N | --scheduler ADDRESS] [--resume]``
runs here (:func:`run`). The pieces, in the order the data flows:

- :func:`iter_image_paths` names the images lazily: folder trees are walked one folder at a
  time (sorted, so two runs list the same files in the same order) and a text file of paths
  (``--paths-from``) is read one line at a time; millions of names are never held at once.
- :func:`partitions` cuts that stream into lists of a few hundred paths.
- :func:`predict_partition` runs on a worker: it decodes and predicts one partition with
  :func:`cnn.commands.predict.predict_files` (the plain run's code) and a network the worker
  already holds, and returns one plain dict per file, with the fields of ``cnn predict --json``.
  The network (and the not-a-digit gate) goes to each worker once, not with every partition:
  it is the result of one small task that every partition depends on, fetched once by each
  worker and made again by the scheduler if every worker holding it died.
- :func:`stream_predictions` is the client loop: at most a few partitions per worker thread are
  in flight (memory stays flat however many files there are), and results are handed on as
  partitions finish (``distributed.as_completed``), in whatever order they finish. Without a
  cluster the same partitions run one after another in this process.
- :class:`ResultsWriter` appends one line per file to the JSONL or CSV file and flushes (and
  fsyncs) after every partition; :func:`read_done` reads what an earlier run wrote, so that
  ``--resume`` skips those files. A last line cut short by a SIGKILL is dropped and its file
  predicted again.

Nothing lost, nothing twice: a file's line is written by the client, once, when its
partition's result arrives. When a worker dies, Dask runs its unfinished partitions again on
another worker; the client only ever sees one result per partition. A partition that killed
workers again and again (Dask gives up after ``distributed.scheduler.allowed-failures``, 3)
gets one error line per file, and the run goes on. Dask is an optional dependency
(``pip install 'cnn[dask]'``); without a cluster this module needs none of it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pickle
import sys
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from cnn.errors import UserError
from cnn.tasks.numbers import MAX_DIGITS

PARTITION_SIZE = 256


INSTALL_HINT = "pip install 'cnn[dask]'"


CSV_FIELDS_V1 = ["file", "digit", "confidence", "label", "uncertain", "rejected", "reason",
                 "not_digit", "error"] + [f"p{d}" for d in range(10)]  # before numbers


CSV_FIELDS = CSV_FIELDS_V1 + ["number"]


WORKER_WAIT_S = 60  # how long --scheduler waits for a first worker to join


def import_distributed():
    """The ``distributed`` package (Dask's cluster half).

    Raises:
        UserError: one line naming ``pip install 'cnn[dask]'`` when Dask is not installed.
    """
    try:
        import distributed
    except ImportError:
        raise UserError(f"--scheduler and --workers run on a Dask cluster, and Dask is not "
                        f"installed: {INSTALL_HINT}") from None
    return distributed


# -- the files to predict, lazily --------------------------------------------------------------

def iter_image_paths(paths: list[str], paths_from: str | None = None) -> Iterator[str]:
    """Every image to predict, one path string at a time.

    Folders are walked recursively, one folder at a time, names sorted, hidden files and
    folders left out, symlinked folders not followed; their image files are chosen by
    extension as in ``cnn predict``. A file given by name is taken as it is (an unreadable one
    becomes an error line, as in ``cnn predict``). ``paths_from`` names a text file with one
    path per line (``-``: standard input), read lazily; blank lines are skipped. With neither,
    the sample images shipped with cnn are predicted.

    Raises:
        UserError: a path given on the command line that does not exist, or a ``paths_from``
            file that cannot be read. Checked before the first path is yielded.
    """
    from cnn.tasks.predict import collect_images

    if not paths and paths_from is None:
        return (str(p) for p in collect_images([]))
    for given in paths:
        if given == "":
            raise UserError("an image path is empty (''); give image files or folders")
        if not os.path.lexists(given):
            raise UserError(f"'{given}' not found; give image files or folders")
    if paths_from is not None and paths_from != "-":
        from cnn.files import regular_file

        regular_file(paths_from, "list of image paths")
    return _walk(paths, paths_from)


def _walk(paths: list[str], paths_from: str | None) -> Iterator[str]:
    for given in paths:
        path = Path(given)
        if path.is_dir():
            yield from _walk_folder(path)
        else:
            yield str(path)
    if paths_from is not None:
        stream = (sys.stdin if paths_from == "-" else
                  open(paths_from, encoding="utf-8", errors="surrogateescape", newline="\n"))
        try:
            for line in stream:
                name = line.rstrip("\r\n")
                if name.strip():
                    yield name
        finally:
            if stream is not sys.stdin:
                stream.close()


def _walk_folder(folder: Path) -> Iterator[str]:
    from cnn.tasks.predict import IMAGE_EXTENSIONS

    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        raise UserError(f"cannot list folder '{folder}': {e.strerror or e}") from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk_folder(folder / entry.name)
        elif Path(entry.name).suffix.lower() in IMAGE_EXTENSIONS and not entry.is_dir():
            yield str(folder / entry.name)


def partitions(paths: Iterable[str], size: int = PARTITION_SIZE) -> Iterator[list[str]]:
    """Consecutive lists of ``size`` paths (the last one shorter), taken lazily."""
    if size < 1:
        raise ValueError(f"a partition holds at least 1 file, got {size}")
    it = iter(paths)
    while part := list(islice(it, size)):
        yield part


# -- the work of one partition, on a worker ----------------------------------------------------

_one_thread_set = False


def predict_partition(paths: list[str], predictor, min_confidence: float = 0.5,
                      polarity: str = "auto", one_thread: bool = False,
                      max_digits: int = MAX_DIGITS) -> list[dict]:
    """Decode and predict one partition of image files (runs on a Dask worker).

    Args:
        paths: image file paths, as the client named them (the worker must see the same
            paths: a shared or copied file system).
        predictor: ``(model, rejector)``: a :class:`cnn.model.Sequential` or
            :class:`cnn.ensemble.Ensemble`, and a :class:`cnn.reject.Rejector` or ``None``.
        min_confidence, polarity, max_digits: as ``cnn predict``'s options.
        one_thread: run cnn's layers and OpenCV on one thread (a Dask worker: its processes
            are the parallelism; set once per process).
    Returns:
        one dict per path, in order, with the fields of a ``cnn predict --json`` prediction
        (:class:`cnn.commands.predict.Prediction`). A file that fails has its ``error``; a
        failure that is not the file's own (a bug, a crash in a decoder) is caught per file
        too, so one bad file never costs its partition.
    """
    global _one_thread_set
    from cnn.tasks.predict import Prediction, label_from_name, predict_files

    if one_thread and not _one_thread_set:  # OpenCV's own threads too: 1 worker = 1 core
        import cv2

        from cnn.parallel import threads

        threads.set_num_threads(1)
        cv2.setNumThreads(1)
        _one_thread_set = True
    model, rejector = predictor
    files = [Path(p) for p in paths]
    try:
        _, predictions, _ = predict_files(files, min_confidence=min_confidence,
                                          polarity=polarity, rejector=rejector, model=model,
                                          max_digits=max_digits)
        return [_record(p, name) for p, name in zip(predictions, paths)]
    except Exception:  # noqa: BLE001 - find the file that failed, keep the others
        pass
    records = []
    for f, name in zip(files, paths):
        try:
            _, (pred,), _ = predict_files([f], min_confidence=min_confidence,
                                          polarity=polarity, rejector=rejector, model=model,
                                          max_digits=max_digits)
        except Exception as e:  # noqa: BLE001
            pred = Prediction(name, label=label_from_name(f),
                              error=f"{name!r}: {type(e).__name__}: {e}".split("\n")[0])
        records.append(_record(pred, name))
    return records


def unpickle(blob: bytes):
    """The object pickled in ``blob`` (a worker's copy of the network and gate)."""
    return pickle.loads(blob)


def _record(pred, name: str) -> dict:
    record = dict(vars(pred))
    record["file"] = name  # exactly as listed, so that --resume matches it
    return record


def error_records(paths: list[str], message: str) -> list[dict]:
    """One error record per path (a partition that no worker could finish)."""
    from cnn.tasks.predict import Prediction, label_from_name

    return [_record(Prediction(p, label=label_from_name(Path(p)), error=f"{p!r}: {message}"), p)
            for p in paths]


# -- the client loop ---------------------------------------------------------------------------

def stream_predictions(parts: Iterable[list[str]], predictor, client=None,
                       min_confidence: float = 0.5, polarity: str = "auto",
                       in_flight_per_thread: int = 2, max_digits: int = MAX_DIGITS
                       ) -> Iterator[list[dict]]:
    """Predict every partition and yield its records as each partition finishes.

    Args:
        parts: lists of paths (:func:`partitions`), consumed lazily.
        predictor: ``(model, rejector)`` as :func:`predict_partition` takes it.
        client: a ``distributed.Client``; ``None`` runs the partitions here, in order.
        in_flight_per_thread: partitions submitted ahead per worker thread (at least 2 in
            all): enough to keep every worker busy, few enough that memory stays flat.
    Yields:
        one list of record dicts per partition (:func:`predict_partition`), in the order
        the partitions finish. A partition whose workers kept dying (Dask's ``KilledWorker``)
        yields error records.
    Raises:
        UserError: a worker that cannot run the task at all (cnn missing on it, or another
            version), with what Dask said.
    """
    kwargs = {"min_confidence": min_confidence, "polarity": polarity,
              "max_digits": max_digits}
    if client is None:
        for part in parts:
            yield predict_partition(part, predictor, **kwargs)
        return
    distributed = import_distributed()
    # The network is a task's result, not scattered data: a worker fetches it once (from the
    # worker that made it, or a peer) and keeps it for every partition; when every worker
    # holding it has died, the scheduler makes it again from the pickled bytes (scattered
    # data would be lost, and every partition after it cancelled).
    held = client.submit(unpickle, pickle.dumps(predictor), pure=False)
    parts = iter(parts)
    pending: dict = {}
    finished = distributed.as_completed()

    def fill() -> None:
        threads = sum(client.nthreads().values())
        while len(pending) < max(2, in_flight_per_thread * threads):
            part = next(parts, None)
            if part is None:
                return
            future = client.submit(predict_partition, part, held, one_thread=True,
                                   pure=False, **kwargs)
            pending[future] = part
            finished.add(future)

    try:
        fill()
        for future in finished:
            part = pending.pop(future)
            try:
                records = future.result()
            except distributed.KilledWorker as e:
                records = error_records(part, "not predicted: every worker that ran its "
                                              f"partition died ({type(e).__name__}: {e})")
            except Exception as e:  # noqa: BLE001
                said = str(e).splitlines()[0] if str(e) else ""
                raise UserError(f"the Dask cluster could not predict a partition "
                                f"({type(e).__name__}: {said}); the lines written so far are "
                                "kept, run again with --resume (every worker needs this cnn "
                                f"installed: {INSTALL_HINT})") from e
            future.release()
            fill()
            yield records
    finally:
        if pending:
            client.cancel(list(pending))
        client.cancel([held])


# -- the results file --------------------------------------------------------------------------

def results_format(out: str) -> str:
    """``"csv"`` for ``*.csv``, ``"jsonl"`` for ``*.jsonl``, ``*.ndjson``, ``*.json`` and ``-``
    (standard output).

    Raises:
        UserError: any other name.
    """
    suffix = Path(out).suffix.lower()
    if out == "-" or suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise UserError(f"--out {out}: give a .jsonl or .csv results file (one line per image)")


def _csv_row(record: dict, fields: list[str]) -> list:
    probabilities = record.get("probabilities") or [None] * 10
    row = [("" if record.get(k) is None else record[k]) for k in CSV_FIELDS[:9]] + \
        ["" if p is None else p for p in probabilities]
    if len(fields) > len(row):
        row.append("" if record.get("number") is None else record["number"])
    return row


class ResultsWriter:
    """Appends one line per image to a JSONL or CSV results file, flushed and fsynced after
    every batch, so that a run killed at any moment keeps every line it finished (at worst the
    last line is cut short; :func:`read_done` drops it).

    JSONL: one ``cnn predict --json`` prediction object per line. CSV: a header, then
    ``file,digit,confidence,label,uncertain,rejected,reason,not_digit,error,p0..p9,number``
    (a file begun before numbers were read, without ``number``, goes on without it).
    ``out`` ``-`` writes JSONL to standard output.
    """

    def __init__(self, out: str, fmt: str):
        self.fmt = fmt
        self.stdout = out == "-"
        self.file = sys.stdout if self.stdout else open(out, "a", encoding="utf-8",
                                                         errors="surrogateescape", newline="")
        self.csv = csv.writer(self.file, lineterminator="\n") if fmt == "csv" else None
        self.fields = CSV_FIELDS
        if self.csv is not None and self.file.tell() == 0:
            self.csv.writerow(CSV_FIELDS)
        elif self.csv is not None:
            with open(out, encoding="utf-8", errors="surrogateescape", newline="") as f:
                if next(csv.reader(f), None) == CSV_FIELDS_V1:
                    self.fields = CSV_FIELDS_V1

    def write(self, records: list[dict]) -> None:
        """Write ``records`` (dicts of :func:`predict_partition`), one line each."""
        if self.csv is not None:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(_csv_row(r, self.fields)
                                                              for r in records)
            text = buffer.getvalue()
        else:
            text = "".join(json.dumps(r) + "\n" for r in records)
        self.file.write(text)
        self.file.flush()
        if not self.stdout:
            os.fsync(self.file.fileno())

    def close(self) -> None:
        if not self.stdout:
            self.file.close()


class DoneSet:
    """The paths an earlier run wrote, held as 128-bit hashes in two sorted NumPy arrays
    (16 bytes a file: 10 million files take 160 MB, not the gigabytes a set of strings
    would). Two different paths share a hash with probability about n^2 / 2^129."""

    def __init__(self, paths: Iterable[str] = ()):
        digests = bytearray()
        for p in paths:
            digests += _digest(p)
        pairs = np.frombuffer(bytes(digests), dtype="<u8").reshape(-1, 2)
        order = np.lexsort((pairs[:, 1], pairs[:, 0]))
        self.high, self.low = pairs[order, 0].copy(), pairs[order, 1].copy()

    def __len__(self) -> int:
        return len(self.high)

    def contains(self, paths: list[str]) -> np.ndarray:
        """bool ``(len(paths),)``: whether each path is in the set."""
        if not len(self) or not paths:
            return np.zeros(len(paths), bool)
        query = np.frombuffer(b"".join(_digest(p) for p in paths), dtype="<u8").reshape(-1, 2)
        start = np.searchsorted(self.high, query[:, 0], "left")
        stop = np.searchsorted(self.high, query[:, 0], "right")
        found = np.zeros(len(paths), bool)
        for i in np.flatnonzero(stop > start):  # almost always one candidate each
            found[i] = bool((self.low[start[i]:stop[i]] == query[i, 1]).any())
        return found


def _digest(path: str) -> bytes:
    return hashlib.blake2b(path.encode("utf-8", "surrogateescape"), digest_size=16).digest()


def drop_torn_line(out: str) -> bool:
    """Cut a last line that has no newline (a write cut short by a kill) off ``out``.
    Returns whether one was cut."""
    with open(out, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return False
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return False
        end = size
        while end > 0:  # back, block by block, to the last newline
            start = max(0, end - 65536)
            f.seek(start)
            block = f.read(end - start)
            cut = block.rfind(b"\n")
            if cut >= 0:
                f.truncate(start + cut + 1)
                return True
            end = start
        f.truncate(0)
        return True


def read_done(out: str, fmt: str) -> DoneSet:
    """The files an earlier run wrote to ``out`` (read line by line, never whole).

    Raises:
        UserError: a file that is not a cnn results file of that format (names the line).
    """
    def names():
        with open(out, encoding="utf-8", errors="surrogateescape", newline="") as f:
            if fmt == "csv":
                rows = csv.reader(f)
                header = next(rows, None)
                if header is not None and header not in (CSV_FIELDS, CSV_FIELDS_V1):
                    raise UserError(f"--out {out} is not a cnn results CSV (its header is "
                                    f"{','.join(header)[:80]!r}); give another file to --out")
                for row in rows:
                    if row:
                        yield row[0]
                return
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)["file"]
                except (ValueError, KeyError, TypeError):
                    raise UserError(f"--out {out} line {number} is not a cnn result "
                                    f"({line[:60]!r}...); give another file to --out") from None

    return DoneSet(names())
