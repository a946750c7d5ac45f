"""Predict the digit in image files: preprocess each file, run the network, apply the gate.

The command line (:mod:`cnn.cli.commands.predict`), the server and evaluation call
:func:`predict_files`; a :class:`Prediction` holds one file's answer.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnn import progress
from cnn.data.folders import without_path
from cnn.errors import UserError
from cnn.files import file_id, os_error_message, output_names
from cnn.io.catalog import shipped_folder
from cnn.parallel.threads import ONE_THREAD_ENV, available_cpus
from cnn.parallel.workers import environment
from cnn.tasks.ensemble import decide
from cnn.tasks.metrics import percent
from cnn.tasks.numbers import MAX_DIGITS, attach_numbers, read_file_number
from cnn.tasks.predictor import load_predictor
from cnn.tasks.reject import split_not_digit
from cnn.vision.decode import read_image
from cnn.vision.pipeline import preprocess_file_keeping_image

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm",
                    ".ppm", ".pbm", ".jp2"}


DEFAULT_FOLDER = "custom_test_images"


LABEL_IN_NAME = re.compile(r"^(\d)(?=$|[_\-\s.])")


@dataclass
class Prediction:
    """One image's result: ``digit`` and ``confidence`` (softmax, 0..1), ``probabilities``
    (10 floats), ``label`` from the file name (or ``None``), and ``error`` (a one-line
    message) when the file could not be read. A rejected image ("not a digit",
    :mod:`cnn.tasks.reject`) has ``digit`` ``None``, ``rejected`` True and a one-line ``reason``;
    ``not_digit`` is P(not a digit) when a gate judged the image. When numbers are read
    (:mod:`cnn.tasks.numbers`), ``number`` is the string read (``"7"`` for a single digit) and
    ``digits`` one dict per digit (``box``, ``digit``, ``confidence``, ``top3``,
    ``not_digit``); a number of two or more digits leaves ``digit`` None."""

    file: str
    digit: int | None = None
    confidence: float | None = None
    probabilities: list[float] = field(default_factory=list)
    label: int | None = None
    error: str | None = None
    uncertain: bool = False
    rejected: bool = False
    reason: str | None = None
    not_digit: float | None = None
    number: str | None = None
    digits: list[dict] = field(default_factory=list)


def collect_images(paths: list[str]) -> list[Path]:
    """Expand folders (their image files, by extension, sorted) and keep files as given.

    Raises:
        UserError: a path that does not exist, or nothing to predict at all.
    """
    files: list[Path] = []
    for given in paths or [DEFAULT_FOLDER]:
        if given == "":
            raise UserError("an image path is empty (''); give image files or folders")
        path = Path(given)
        if not paths and not path.is_dir() and shipped_folder(DEFAULT_FOLDER) is not None:
            path = shipped_folder(DEFAULT_FOLDER)  # the samples shipped with cnn
        if path.is_dir():
            found = sorted(p for p in path.iterdir()  # a FIFO is listed, then refused unopened
                           if not p.is_dir() and p.suffix.lower() in IMAGE_EXTENSIONS
                           and not p.name.startswith("."))
            if not found:
                raise UserError(f"folder '{path}' has no image files "
                                f"({', '.join(sorted(IMAGE_EXTENSIONS))}); give a folder of images")
            files.extend(found)
        elif os.path.lexists(path):
            files.append(path)  # read_image refuses a FIFO or device, unopened
        else:
            raise UserError(f"'{path}' not found; give image files or folders "
                            f"(default {DEFAULT_FOLDER}/)")
    return files


def label_from_name(path: Path) -> int | None:
    """The true digit when the file name starts with it (``7_a.jpg``, ``7.png``), else None."""
    match = LABEL_IN_NAME.match(path.stem)
    return int(match.group(1)) if match else None


def predict_files(files: list[Path], weights=None, min_confidence: float = 0.5,
                  polarity: str = "auto", save_transformed=None, plot=None,
                  ensemble: str = "mean", debug_steps=None, rejector=None, model=None,
                  max_digits: int = MAX_DIGITS, workers: int = 1):
    """Preprocess and classify every file; a file that fails gets an error, the rest go on.

    With ``debug_steps`` (a folder), every preprocessing stage of every file is written there
    as ``<stem>_<stage>.png`` (:func:`write_debug_steps`), failed files included.
    ``rejector`` (a :class:`cnn.tasks.reject.Rejector`; ``None``: no rejection) marks images that
    are not digits; an image in which preprocessing finds no ink is rejected too.
    ``model``: a network already loaded (:func:`cnn.tasks.predictor.load_predictor`), used
    instead of ``weights`` (a Dask worker holds one for every partition,
    :mod:`cnn.tasks.distributed`). ``max_digits`` > 1 (the default, 12) reads whole numbers
    too (:func:`cnn.tasks.numbers.attach_numbers`); 1 reads one digit per file.
    ``workers`` > 1 reads the files in that many worker processes (:func:`read_in_pool`:
    chunks of files, results in input order, the same answers); it applies when the network
    comes from ``weights`` (not ``model``) and there are no ``debug_steps``.

    Returns:
        ``(model, predictions, inputs)``: the model, one :class:`Prediction` per file in
        order, and a dict file -> float32 ``(28, 28)`` network input for the files that worked.
    """
    model_given = model
    if model is None:
        _, model = load_predictor([weights] if isinstance(weights, (str, Path)) else weights,
                                  ensemble)
    predictions = [Prediction(str(f), label=label_from_name(f)) for f in files]
    inputs: dict[str, np.ndarray] = {}
    if workers > 1 and len(files) > 1 and not debug_steps and model_given is None:
        read = read_in_pool(files, workers, polarity, rejector, max_digits,
                            [weights] if isinstance(weights, (str, Path)) else weights, ensemble)
    else:
        read = (read_one(f, model, polarity, rejector, debug_steps, max_digits)
                for f in progress.bar(files, desc="reading images", unit="image"))
    readings = []
    # strict: one more step of `read` after the last file, so a pool's generator runs on to
    # its clean shutdown (not left suspended, then killed as garbage, semaphores leaked)
    for pred, (x, error, no_digit, reading) in zip(predictions, read, strict=True):
        readings.append(reading)
        if x is not None:
            inputs[pred.file] = x
        elif no_digit is not None:
            pred.rejected, pred.reason = True, f"not a digit: {no_digit}"
        else:
            pred.error = error
    if inputs:
        x = np.stack(list(inputs.values()))
        digits, raw = decide(model, x)
        probabilities = split_not_digit(raw)[0]
        if raw.shape[1] > 10:  # an 11-class network: its digit is the best of classes 0-9
            digits = probabilities.argmax(axis=1)
        rejected, p_not = (rejector.judge(x, raw) if rejector is not None
                           else (np.zeros(len(x), bool), None))
        decided = dict(zip(inputs, range(len(x))))
        for pred in predictions:
            if pred.file in inputs:
                i = decided[pred.file]
                digit, p = int(digits[i]), probabilities[i]
                pred.digit = digit
                pred.confidence = float(p[digit])
                pred.probabilities = [float(v) for v in p]
                pred.uncertain = pred.confidence < min_confidence
                mark_rejection(pred, rejector, bool(rejected[i]),
                               None if p_not is None else float(p_not[i]))
    if max_digits > 1:
        attach_numbers(predictions, readings, min_confidence)
    if save_transformed or plot:
        _, problems = write_outputs(predictions, inputs, files, save_transformed, plot)
        if problems:
            raise UserError(problems[0])
    return model, predictions, inputs


def read_one(f: Path, model, polarity: str = "auto", rejector=None, debug_steps=None,
             max_digits: int = 1) -> tuple:
    """Read one file into the network input, as :func:`predict_files` does: decoded once
    (:func:`cnn.vision.pipeline.preprocess_file_keeping_image`), the single-digit pipeline
    and, with ``max_digits`` > 1, the number reader (:func:`cnn.tasks.numbers.read_file_number`)
    on the same decoded image, starting from the ink the pipeline found.

    Returns:
        ``(x, error, no_digit, reading)``: the float32 ``(28, 28)`` input (else ``None``); the
        one-line error of a file that failed; when a ``rejector`` is given and the file was
        read but holds no digit, the reason (without the path) in place of the error; and the
        number reading (None with ``max_digits`` 1 or when there is no line to read).
    """
    steps: dict | None = {} if debug_steps else None
    keep: dict = {}  # the ink the single-digit pipeline found, for the number reader
    result: tuple = (None, None, None, None)
    try:
        x, image, reduction = preprocess_file_keeping_image(f, polarity,
                                                            choose=confidence_of(model),
                                                            steps=steps, keep=keep)
        result = (x, None, None, None)
    except UserError as e:
        image = None
        result = (None, str(e), without_path(str(e), f) if rejector is not None
                  and no_ink(f, e) else None, None)
    except MemoryError:
        image = None
        result = (None, f"{str(f)!r}: out of memory while reading it; save a smaller copy",
                  None, None)
    if debug_steps:
        write_debug_steps(Path(debug_steps), f, steps)
    if max_digits > 1 and image is not None:
        result = result[:3] + (read_file_number(f, model, rejector, polarity, max_digits,
                                                image, float(reduction),
                                                keep.get("ink_map")),)
    return result


POOL_MIN_FILES = 16  # folders at least this large are read by a pool of processes by default


POOL_CHUNK = 8  # files per task sent to a worker process


def default_workers(n_files: int) -> int:
    """Worker processes for reading ``n_files`` images: one per CPU this process may use (at
    most 4) for :data:`POOL_MIN_FILES` files or more, else 1 (starting a worker, which
    imports NumPy, OpenCV and SciPy and loads the network, costs about a second)."""
    if n_files < POOL_MIN_FILES:
        return 1
    return min(4, available_cpus())


_worker_model = None  # the network of a worker process of read_in_pool


_worker_rejector = None  # ... and its rejection gate (a pickled copy of the caller's)


def _start_worker(weights, ensemble: str, rejector=None) -> None:
    """A worker process's set-up: one thread for OpenCV (the process is one of a pool, one
    per core), no progress bars, and the network loaded once."""
    global _worker_model, _worker_rejector
    import cv2

    cv2.setNumThreads(1)
    progress.set_quiet(True)
    _, _worker_model = load_predictor(weights, ensemble)
    _worker_rejector = rejector


def _read_chunk(files: list[Path], polarity: str, max_digits: int) -> list[tuple]:
    """:func:`read_one` of each file of a chunk, in a worker process."""
    return [read_one(f, _worker_model, polarity, _worker_rejector, None, max_digits)
            for f in files]


def read_in_pool(files: list[Path], workers: int, polarity: str, rejector, max_digits: int,
                 weights, ensemble: str = "mean"):
    """:func:`read_one` of every file, in ``workers`` processes: yields its result per file
    in input order, with a progress bar. ``rejector`` (or None) is copied to every worker:
    the number reader applies it per segment there.

    The files go out in chunks of :data:`POOL_CHUNK` to a
    :class:`concurrent.futures.ProcessPoolExecutor` of fresh interpreters ("spawn": nothing
    inherited from this process's threads), each with one thread for NumPy's BLAS, cnn and
    OpenCV, and its own copy of the network (``weights``, ``ensemble``) to score candidate
    segmentations. The workers are started with Ctrl-C ignored (it is this process's to
    handle): on Ctrl-C, or any error here, they are killed and the exception goes on, so the
    command prints ``cnn: interrupted`` and exits 130 with no traceback from any worker.

    Raises:
        UserError: a worker process died (killed, out of memory).
    """
    import multiprocessing
    import signal
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    chunks = [files[i:i + POOL_CHUNK] for i in range(0, len(files), POOL_CHUNK)]
    workers = max(1, min(workers, len(chunks)))
    # Children inherit an ignored SIGINT through exec, and Python then keeps it ignored.
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with environment(ONE_THREAD_ENV):
            executor = ProcessPoolExecutor(workers,
                                           mp_context=multiprocessing.get_context("spawn"),
                                           initializer=_start_worker,
                                           initargs=(weights, ensemble, rejector))
            futures = {executor.submit(_read_chunk, chunk, polarity, max_digits): k
                       for k, chunk in enumerate(chunks)}
    finally:
        signal.signal(signal.SIGINT, handler)
    done: dict[int, list] = {}
    next_chunk = 0
    try:
        with progress.bar(total=len(files), desc="reading images", unit="image") as bar:
            for future in as_completed(futures):
                done[futures[future]] = future.result()
                bar.update(len(done[futures[future]]))
                while next_chunk in done:
                    yield from done.pop(next_chunk)
                    next_chunk += 1
    except BrokenProcessPool:
        _stop(executor)
        if _unguarded_main():
            raise UserError("the worker processes reading the images died: the script that "
                            "calls predict_files with workers > 1 seems to have no 'if __name__ "
                            "== \"__main__\":' guard around the call (each worker imports the "
                            "script again); add one, or pass workers=1") from None
        raise UserError("a worker process reading the images died (out of memory, or "
                        "killed); run again with --workers 1") from None
    except BaseException:
        _stop(executor)
        raise
    executor.shutdown()


def _unguarded_main() -> bool:
    """Whether this process runs a script with no ``if __name__ == "__main__":`` guard: its
    file (``__main__.__file__``) does not mention ``__main__``. The "spawn" start method runs
    the main script again in every worker, whose call to the pool then fails there
    (Python docs, ``multiprocessing``, "Safe importing of main module"). False for an
    interactive session, a module run with ``python -m`` (spawn imports it by name and never
    runs it again: ``multiprocessing.spawn``'s rule, a name ``__main__`` or ending in
    ``.__main__``) and anything but a regular file that reads."""
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None) or ""
    if name == "__main__" or name.endswith(".__main__"):
        return False
    path = getattr(main, "__file__", None)
    try:
        return (path is not None and Path(path).is_file()
                and "__main__" not in Path(path).read_text(errors="replace"))
    except OSError:
        return False


def _stop(executor) -> None:
    """Kill an executor's worker processes now, dropping the chunks not yet done."""
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        try:
            process.kill()
        except (OSError, AttributeError):
            pass
    executor.shutdown(wait=False, cancel_futures=True)


def mark_rejection(pred: Prediction, rejector, rejected: bool, p_not: float | None) -> None:
    """Record the gate's verdict on ``pred``: ``not_digit`` = P(not a digit) (when judged) and,
    when ``rejected``, ``digit`` None, ``rejected`` True and the rejector's one-line reason."""
    if p_not is not None:
        pred.not_digit = p_not
    if rejected:
        pred.digit, pred.rejected = None, True
        pred.reason = rejector.reason(p_not)


def confidence_of(model):
    """A scorer for :func:`cnn.vision.to_mnist`'s candidate segmentations: the model's top
    softmax probability for each of a float32 ``(K, 28, 28)`` batch."""
    return lambda batch: model.predict_proba(batch).max(axis=1)


def no_ink(path, error: UserError) -> bool:
    """Whether preprocessing failed on a readable image (no digit found in it, e.g. a blank
    page: a rejection) rather than on the file (an error)."""
    try:
        read_image(path)
    except UserError:
        return False
    return True


def has_answer(pred: Prediction) -> bool:
    """Whether a prediction answers: a digit, or a number of two or more digits."""
    return pred.digit is not None or bool(pred.number)


def accuracy_of(predictions: list[Prediction]) -> float | None:
    """Fraction of labelled files predicted right; a file with no answer (unreadable, or
    rejected as not a digit) counts as wrong (None if no file is labelled)."""
    labelled = [p for p in predictions if p.label is not None]
    return sum(p.digit == p.label for p in labelled) / len(labelled) if labelled else None


def write_outputs(predictions: list[Prediction], inputs: dict[str, np.ndarray],
                  files: list[Path], save_transformed=None, plot=None,
                  overwrite: bool = False) -> tuple[list[str], list[str]]:
    """Write the network inputs (``--save-transformed``) and plots (``--plot``) of the files
    that were read, never losing a file: each input gets its own name
    (:func:`cnn.files.output_names`: ``a.jpg`` and ``a.png`` give ``a_jpg.png`` and
    ``a_png.png``), an existing file is kept and a free name taken unless ``overwrite``, and
    an input image is never replaced, even with ``overwrite``.

    Returns:
        ``(notes, problems)``: one line per file written under another name than asked, and
        one line per folder that could not be written (read-only, a file, a full disk); the
        first failure in a folder stops the writing into that folder.
    """
    done = [p for p in predictions if p.file in inputs]
    sources = [Path(p.file) for p in done]
    notes: list[str] = []
    problems: list[str] = []
    input_ids = {file_id(f) for f in files} - {None}

    def write(folder, suffix, writer):
        for pred, name in zip(done, output_names(sources, suffix)):
            target = Path(folder) / name
            is_input = file_id(target) in input_ids
            try:
                written = writer(pred, target, overwrite and not is_input)
            except OSError as e:
                problems.append(os_error_message(e))
                return
            except UserError as e:
                problems.append(str(e))
                return
            if written != target:
                why = "is one of the input images" if is_input else \
                    "exists (use --overwrite to replace it)"
                notes.append(f"'{target}' {why}; wrote '{written}' instead")

    if save_transformed:
        from cnn.tasks.visualize_output import upscale, write_png

        write(save_transformed, ".png", lambda pred, target, replace: write_png(
            target, upscale(inputs[pred.file], factor=1), overwrite=replace))
    if plot:
        from cnn.tasks.plots import plot_prediction

        write(plot, "_prediction.png", lambda pred, target, replace: plot_prediction(
            read_image(pred.file), inputs[pred.file], pred.probabilities, target,
            title=f"{Path(pred.file).name}: {pred.digit} ({percent(pred.confidence)})",
            overwrite=replace))
    return notes, problems


def write_debug_steps(folder: Path, source: Path, steps: dict) -> list[Path]:
    """Write each stage image of ``steps`` (name -> float (H, W) in [0, 1]) as an 8-bit PNG
    ``<folder>/<source stem>_<name>.png``; an existing file is never replaced (the next free
    name ``..._1.png`` is taken). Returns the paths written."""
    import cv2

    from cnn.files import atomic_write

    written = []
    for name, image in steps.items():
        ok, data = cv2.imencode(".png", np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8))
        if ok:
            written.append(atomic_write(folder / f"{source.stem}_{name}.png",
                                        lambda f, d=data: f.write(d.tobytes()), overwrite=False))
    return written
