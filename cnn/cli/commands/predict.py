"""``cnn predict``: read the digit in each image file (or every row of a Kaggle CSV).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from cnn.cli.commands.common import (
    add_reject_options,
    add_weights_option,
    finite_float,
    positive_int,
    rejector_from_args,
)
from cnn.errors import UserError
from cnn.tasks.ensemble import decide
from cnn.tasks.metrics import percent
from cnn.tasks.numbers import MAX_DIGITS
from cnn.tasks.predict import (
    DEFAULT_FOLDER,
    Prediction,
    accuracy_of,
    collect_images,
    default_workers,
    has_answer,
    predict_files,
    write_outputs,
)
from cnn.tasks.predictor import load_predictor
from cnn.tasks.reject import split_not_digit
from cnn.text import printable
from cnn.vision.polarity import POLARITIES

EXAMPLE = """examples:
  cnn predict                                 # the sample images shipped with cnn
  cnn predict my_digit.jpg --plot /tmp/plots
  cnn predict my_digits/ --json --min-confidence 0.6
  cnn predict my_digits/ --weights shipped --ensemble vote
  cnn predict --csv test.csv --out submission.csv
  cnn predict hard_photo.jpg --debug-steps /tmp/steps
  cnn predict my_digits/ --out results.jsonl --resume
  cnn predict my_digits/ --workers 2 --out results.csv   # Dask: docs/millions.md
  cnn predict meter.jpg                        # the whole number: docs/numbers.md
  cnn predict digits/ --max-digits 1           # one digit per image, never a number
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
    p.add_argument("--max-digits", type=positive_int, default=MAX_DIGITS, metavar="N",
                   help=f"read the whole number in each image, up to N digits ({MAX_DIGITS}); "
                        "1 reads one digit per image (docs/numbers.md)")
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
                      help="without --out: read the images in N processes on this machine "
                           "(default: one per core, at most 4, for 16 images or more; 1: in "
                           "this process); with --out: run on a Dask cluster of N worker "
                           "processes on this machine")
    many.add_argument("--resume", action="store_true",
                      help="skip the images already in the --out file (a run that was stopped "
                           "goes on where it stopped)")
    many.add_argument("--paths-from", metavar="FILE", default=None,
                      help="a text file with one image path per line (- for stdin), read "
                           "lazily; with --out")
    many.add_argument("--partition-size", type=positive_int, default=256, metavar="K",
                      help="images per Dask task (256)")
    p.set_defaults(run=run)






def print_predictions(model, predictions: list[Prediction], weights_name: str) -> None:
    """One line per file, then the accuracy over the labelled files."""
    print(f"model {model.model_string} ({printable(weights_name)})")
    width = max(len(printable(Path(p.file).name)) for p in predictions)
    for p in predictions:
        name = printable(Path(p.file).name)  # a file name may hold escape sequences
        if p.error:
            print(f"{name:<{width}}  error: {printable(p.error)}")
            continue
        if p.rejected:
            line = f"{name:<{width}}  -> not a digit ({p.reason.removeprefix('not a digit: ')})"
            if p.label is not None:
                line += f"  label {p.label} WRONG"
            print(line)
            continue
        if len(p.digits) > 1:
            each = ", ".join("?" if d["digit"] is None else f"{d['digit']} {percent(d['confidence'])}"
                             for d in p.digits)
            line = f"{name:<{width}}  -> number {p.number}  digits: {each}"
            print(line + ("  (uncertain)" if p.uncertain else ""))
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
        unanswered = sum(not has_answer(p) for p in labelled)
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
    from cnn.data.kaggle import iter_csv_chunks, submission_text
    from cnn.files import atomic_write

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
    from cnn.cli.commands.predict_cluster import run as run_stream
    from cnn.cli.commands.predict_cluster import wants_stream

    local_workers = None
    if args.workers and not (args.out or args.scheduler or args.resume
                             or args.paths_from is not None):
        local_workers, args.workers = args.workers, None  # a process pool, not Dask
    if wants_stream(args):  # --out results file, --scheduler, --workers, --resume
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
        debug_steps=args.debug_steps, rejector=rejector_from_args(args),
        max_digits=args.max_digits,
        workers=local_workers if local_workers else default_workers(len(files)))
    if args.json:
        print(json.dumps({
            "model": model.model_string,
            "predictions": [vars(p) for p in predictions],
            "rejected": sum(p.rejected for p in predictions),
            "accuracy": accuracy_of(predictions),
            "answered": sum(has_answer(p) for p in predictions),
            "unanswered": sum(not has_answer(p) for p in predictions),
            "labelled": sum(p.label is not None for p in predictions),
        }))
        for p in predictions:
            if p.error:
                print(f"cnn: error: {printable(p.error)}", file=sys.stderr)
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
        print(f"cnn: note: {printable(line)}", file=sys.stderr)
    for line in problems:
        print(f"cnn: error: {printable(line)}", file=sys.stderr)
    if not args.json:
        if args.save_transformed and not any(args.save_transformed in p for p in problems):
            print(f"network inputs written to {args.save_transformed}")
        if args.plot and not any(args.plot in p for p in problems):
            print(f"plots written to {args.plot}")
        if args.debug_steps:
            print(f"preprocessing stages written to {args.debug_steps}")
    return 1 if problems or any(p.error for p in predictions) else 0
