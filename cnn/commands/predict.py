"""``cnn predict``: read digits from photos and drawings with a trained network."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..ensemble import decide
from ..files import file_id, os_error_message, output_names
from ..preprocess import POLARITIES, preprocess_file, read_image
from ..folders import without_path
from ..reject import split_not_digit
from .common import (add_reject_options, add_weights_option, finite_float, load_predictor,
                     percent, positive_int, rejector_from_args, shipped_folder)

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm",
                    ".ppm", ".pbm", ".jp2"}
DEFAULT_FOLDER = "custom_test_images"
LABEL_IN_NAME = re.compile(r"^(\d)(?=$|[_\-\s.])")

EXAMPLE = """examples:
  cnn predict custom_test_images/
  cnn predict my_digit.jpg --plot /tmp/plots
  cnn predict custom_test_images/ --json --min-confidence 0.6
  cnn predict custom_test_images/ --weights weight_output/ --ensemble vote
  cnn predict --csv test.csv --out submission.csv
  cnn predict hard_photo.jpg --debug-steps /tmp/steps
  cnn predict custom_test_images/ --out results.jsonl --resume
  cnn predict custom_test_images/ --workers 2 --out results.csv   # Dask: docs/millions.md
"""


def add_parser(subparsers, common) -> None:
    p = subparsers.add_parser(
        "predict", parents=[common], help="read the digit in image files or folders",
        description="Predict the digit in each image (photos or drawings of one digit each). "
        "Images are made to look like MNIST first (white on black, 20x20 box, centred by mass). "
        "A file name starting with the true digit (7_a.jpg, 7.png) is scored.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help=f"image files and folders (default: {DEFAULT_FOLDER}/)")
    add_weights_option(p, ensemble=True)
    p.add_argument("--csv", metavar="FILE", default=None,
                   help="Kaggle test.csv (pixel0,...,pixel783 rows, already MNIST form): "
                        "predict every row and write a submission to --out")
    p.add_argument("--out", metavar="FILE", default=None,
                   help="with --csv: the submission CSV to write (ImageId,Label); with image "
                        "paths: a results file, .jsonl or .csv, one line per image written as "
                        "results arrive (see --resume, --workers, --scheduler)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--save-transformed", metavar="DIR", default=None,
                   help="write each 28x28 network input as PNG into DIR")
    p.add_argument("--plot", metavar="DIR", default=None,
                   help="write per image a PNG: original, network input, probabilities")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing files in the --save-transformed and --plot folders, "
                        "and an existing --out submission (an input image is never replaced; "
                        "without this, new names are taken, and --out must not exist)")
    p.add_argument("--min-confidence", type=finite_float, default=0.5, metavar="P",
                   help="flag answers whose softmax confidence is below P as uncertain (0.5)")
    p.add_argument("--debug-steps", metavar="DIR", default=None,
                   help="write each preprocessing stage of each image as PNG into DIR "
                        "(<name>_<stage>.png; existing files are kept, a free name is used)")
    p.add_argument("--polarity", choices=POLARITIES, default="auto",
                   help="ink darker or lighter than the background (auto: decided per image)")
    add_reject_options(p)
    many = p.add_argument_group("millions of images (docs/millions.md)")
    many.add_argument("--scheduler", metavar="ADDRESS", default=None,
                      help="run on the Dask cluster of this scheduler (tcp://HOST:8786); "
                           "needs --out and pip install 'cnn[dask]'")
    many.add_argument("--workers", type=positive_int, default=None, metavar="N",
                      help="run on a Dask cluster of N worker processes on this machine")
    many.add_argument("--resume", action="store_true",
                      help="skip the images already in the --out file (a run that was stopped "
                           "goes on where it stopped)")
    many.add_argument("--paths-from", metavar="FILE", default=None,
                      help="a text file with one image path per line (- for stdin), read "
                           "lazily; with --out")
    many.add_argument("--partition-size", type=positive_int, default=256, metavar="K",
                      help="images per Dask task (256)")
    p.set_defaults(run=run)


@dataclass
class Prediction:
    """One image's result: ``digit`` and ``confidence`` (softmax, 0..1), ``probabilities``
    (10 floats), ``label`` from the file name (or ``None``), and ``error`` (a one-line
    message) when the file could not be read. A rejected image ("not a digit",
    :mod:`cnn.reject`) has ``digit`` ``None``, ``rejected`` True and a one-line ``reason``;
    ``not_digit`` is P(not a digit) when a gate judged the image."""

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
                  ensemble: str = "mean", debug_steps=None, rejector=None, model=None):
    """Preprocess and classify every file; a file that fails gets an error, the rest go on.

    With ``debug_steps`` (a folder), every preprocessing stage of every file is written there
    as ``<stem>_<stage>.png`` (:func:`write_debug_steps`), failed files included.
    ``rejector`` (a :class:`cnn.reject.Rejector`; ``None``: no rejection) marks images that
    are not digits; an image in which preprocessing finds no ink is rejected too.
    ``model``: a network already loaded (:func:`cnn.commands.common.load_predictor`), used
    instead of ``weights`` (a Dask worker holds one for every partition, :mod:`cnn.distributed`).

    Returns:
        ``(model, predictions, inputs)``: the model, one :class:`Prediction` per file in
        order, and a dict file -> float32 ``(28, 28)`` network input for the files that worked.
    """
    if model is None:
        _, model = load_predictor([weights] if isinstance(weights, (str, Path)) else weights,
                                  ensemble)
    predictions = [Prediction(str(f), label=label_from_name(f)) for f in files]
    inputs: dict[str, np.ndarray] = {}
    for f, pred in zip(files, predictions):
        steps: dict | None = {} if debug_steps else None
        try:
            inputs[pred.file] = preprocess_file(f, polarity, choose=confidence_of(model),
                                                steps=steps)
        except UserError as e:
            pred.error = str(e)
            if rejector is not None and no_ink(f, e):
                reason = without_path(str(e), f)
                pred.error, pred.rejected, pred.reason = None, True, f"not a digit: {reason}"
        except MemoryError:
            pred.error = f"{str(f)!r}: out of memory while reading it; save a smaller copy"
        if debug_steps:
            write_debug_steps(Path(debug_steps), f, steps)
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
    if save_transformed or plot:
        _, problems = write_outputs(predictions, inputs, files, save_transformed, plot)
        if problems:
            raise UserError(problems[0])
    return model, predictions, inputs


def mark_rejection(pred: Prediction, rejector, rejected: bool, p_not: float | None) -> None:
    """Record the gate's verdict on ``pred``: ``not_digit`` = P(not a digit) (when judged) and,
    when ``rejected``, ``digit`` None, ``rejected`` True and the rejector's one-line reason."""
    if p_not is not None:
        pred.not_digit = p_not
    if rejected:
        pred.digit, pred.rejected = None, True
        pred.reason = rejector.reason(p_not)


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
        from ..visualize import upscale, write_png

        write(save_transformed, ".png", lambda pred, target, replace: write_png(
            target, upscale(inputs[pred.file], factor=1), overwrite=replace))
    if plot:
        from ..plots import plot_prediction

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

    from ..files import atomic_write

    written = []
    for name, image in steps.items():
        ok, data = cv2.imencode(".png", np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8))
        if ok:
            written.append(atomic_write(folder / f"{source.stem}_{name}.png",
                                        lambda f, d=data: f.write(d.tobytes()), overwrite=False))
    return written


def confidence_of(model):
    """A scorer for :func:`cnn.preprocess.to_mnist`'s candidate segmentations: the model's top
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


def accuracy_of(predictions: list[Prediction]) -> float | None:
    """Fraction of labelled files predicted right; a file with no answer (unreadable, or
    rejected as not a digit) counts as wrong (None if no file is labelled)."""
    labelled = [p for p in predictions if p.label is not None]
    return sum(p.digit == p.label for p in labelled) / len(labelled) if labelled else None


def print_predictions(model, predictions: list[Prediction], weights_name: str) -> None:
    """One line per file, then the accuracy over the labelled files."""
    print(f"model {model.model_string} ({weights_name})")
    width = max(len(Path(p.file).name) for p in predictions)
    for p in predictions:
        name = Path(p.file).name
        if p.error:
            print(f"{name:<{width}}  error: {p.error}")
            continue
        if p.rejected:
            line = f"{name:<{width}}  -> not a digit ({p.reason.removeprefix('not a digit: ')})"
            if p.label is not None:
                line += f"  label {p.label} WRONG"
            print(line)
            continue
        top3 = np.argsort(p.probabilities)[::-1][:3]
        top = ", ".join(f"{d} {percent(p.probabilities[d])}" for d in top3)
        line = f"{name:<{width}}  -> {p.digit}  {percent(p.confidence):>7}  top 3: {top}"
        if p.uncertain:
            line += "  (uncertain)"
        if p.label is not None:
            line += f"  label {p.label} {'ok' if p.digit == p.label else 'WRONG'}"
        print(line)
    labelled = [p for p in predictions if p.label is not None]
    failed = sum(p.error is not None for p in predictions)
    rejected = sum(p.rejected for p in predictions)
    if rejected:
        print(f"not a digit: {rejected} of {len(predictions)} file(s)")
    if labelled:
        right = sum(p.digit == p.label for p in labelled)
        unanswered = sum(p.digit is None for p in labelled)
        print(f"accuracy: {right}/{len(labelled)} labelled files ({unanswered} without an "
              f"answer) = {percent(right / len(labelled))}")
    if failed:
        print(f"{failed} file(s) could not be read", file=sys.stderr)


def predict_csv(csv_path: str, out: str, weights=None, ensemble: str = "mean",
                overwrite: bool = False, quiet: bool = False) -> dict:
    """Predict every row of a Kaggle ``test.csv`` and write the submission ``out``.

    The CSV is read in chunks (memory stays flat); the rows are already MNIST form, so no
    photo preprocessing applies. Nothing is written unless every row was read.

    Returns:
        dict with ``rows``, ``out`` (the path written), ``model`` and, when the CSV carries a
        label column, ``accuracy`` (top-1 over every row).
    Raises:
        UserError: an ``out`` that exists (without ``overwrite``) or is a folder, or a malformed
            CSV row (named by row and column).
    """
    from ..files import atomic_write
    from ..kaggle import iter_csv_chunks, submission_text

    target = Path(out)
    if target.is_dir():
        raise UserError(f"--out {target} is a folder; give the submission file's path")
    if target.exists() and not overwrite:
        raise UserError(f"--out {target} exists; use --overwrite to replace it or choose "
                        "another name")
    if Path(csv_path).expanduser().resolve() == target.resolve():
        raise UserError(f"--out {target} is the input CSV; choose another name")
    _, model = load_predictor(weights, ensemble)
    digits, right, labelled = [], 0, 0
    for images, labels in iter_csv_chunks(csv_path):
        chunk_digits, probabilities = decide(model, images)
        if probabilities.shape[1] > 10:  # an 11-class network: its best digit (no "none" row)
            chunk_digits = split_not_digit(probabilities)[0].argmax(axis=1)
        digits.append(chunk_digits)
        if labels is not None:
            right += int((chunk_digits == labels).sum())
            labelled += len(labels)
    digits = np.concatenate(digits)
    text = submission_text(digits).encode()
    written = atomic_write(target, lambda f: f.write(text), overwrite=overwrite)
    result = {"rows": len(digits), "out": str(written), "model": model.model_string}
    if labelled:
        result["accuracy"] = right / labelled
    return result


def run(args) -> int:
    from ..distributed import wants_stream

    if wants_stream(args):  # --out results file, --scheduler, --workers, --resume
        from ..distributed import run as run_stream

        return run_stream(args)
    if args.csv or args.out:
        if not (args.csv and args.out):
            raise UserError("--csv FILE and --out FILE go together: cnn predict --csv test.csv "
                            "--out submission.csv")
        if args.paths:
            raise UserError("give either image paths or --csv FILE, not both")
        result = predict_csv(args.csv, args.out, args.weights, args.ensemble, args.overwrite)
        if args.json:
            print(json.dumps(result))
        else:
            print(f"model {result['model']}")
            print(f"predicted {result['rows']:,} rows of {args.csv}; submission written to "
                  f"{result['out']}")
            if "accuracy" in result:
                print(f"accuracy: {percent(result['accuracy'])} over the {result['rows']:,} "
                      "labelled rows")
        return 0
    files = collect_images(args.paths)
    if not 0 <= args.min_confidence <= 1:
        raise UserError(f"--min-confidence {args.min_confidence} should be between 0 and 1")
    model, predictions, inputs = predict_files(
        files, args.weights, args.min_confidence, args.polarity, ensemble=args.ensemble,
        debug_steps=args.debug_steps, rejector=rejector_from_args(args))
    if args.json:
        print(json.dumps({
            "model": model.model_string,
            "predictions": [vars(p) for p in predictions],
            "rejected": sum(p.rejected for p in predictions),
            "accuracy": accuracy_of(predictions),
            "answered": sum(p.digit is not None for p in predictions),
            "unanswered": sum(p.digit is None for p in predictions),
            "labelled": sum(p.label is not None for p in predictions),
        }))
        for p in predictions:
            if p.error:
                print(f"cnn: error: {p.error}", file=sys.stderr)
    else:
        weights_name = (", ".join(Path(w).name for w in args.weights) if args.weights
                        else "default weights")
        print_predictions(model, predictions, weights_name)
    # Files are written after the results are printed: a folder that cannot be written
    # (read-only, a file, a full disk) costs none of them.
    sys.stdout.flush()
    notes, problems = write_outputs(predictions, inputs, files, args.save_transformed,
                                    args.plot, overwrite=args.overwrite)
    for line in notes:
        print(f"cnn: note: {line}", file=sys.stderr)
    for line in problems:
        print(f"cnn: error: {line}", file=sys.stderr)
    if not args.json:
        if args.save_transformed and not any(args.save_transformed in p for p in problems):
            print(f"network inputs written to {args.save_transformed}")
        if args.plot and not any(args.plot in p for p in problems):
            print(f"plots written to {args.plot}")
        if args.debug_steps:
            print(f"preprocessing stages written to {args.debug_steps}")
    return 1 if problems or any(p.error for p in predictions) else 0
