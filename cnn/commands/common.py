"""Options and look-ups that several subcommands (and the menu) share."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WEIGHTS_DIR = "weight_output"


@dataclass(frozen=True)
class WeightsInfo:
    """A weights file found in ``weight_output/``: its path, model string and the top-1 test
    accuracy its metadata records (``None`` when it records none)."""

    path: Path
    model: str
    accuracy: float | None


SHIPPED_PACKAGES = {  # top-level folder of the checkout -> package it is installed as
    "weight_output": "cnn._shipped_weights",
    "custom_test_images": "cnn._samples",
    "feature_visualize": "cnn._visualize_input",
}


def shipped_folder(name: str) -> Path | None:
    """Where a folder shipped with cnn lies: the checkout's own ``<name>/`` (a checkout or an
    editable install), else the package data of a regular install (``pip install .`` or the
    wheel map ``weight_output/`` to ``cnn/_shipped_weights/``, ``custom_test_images/`` to
    ``cnn/_samples/`` and ``feature_visualize/input.jpg`` to ``cnn/_visualize_input/``, see
    pyproject.toml); ``None`` if neither exists."""
    if (PROJECT_ROOT / name).is_dir():
        return PROJECT_ROOT / name
    installed = Path(__file__).resolve().parents[1] / SHIPPED_PACKAGES[name].split(".")[1]
    return installed if installed.is_dir() else None


def weights_folders() -> list[Path]:
    """``./weight_output`` then the shipped ``weight_output`` (:func:`shipped_folder`: the
    checkout's, or the installed package's), without duplicates."""
    folders = [Path.cwd() / WEIGHTS_DIR, shipped_folder(WEIGHTS_DIR)]
    unique = []
    for f in folders:
        if f is not None and f.is_dir() and f.resolve() not in [u.resolve() for u in unique]:
            unique.append(f)
    return unique


_warned: set[str] = set()


def read_weights_info(path: Path, warn: bool = False) -> WeightsInfo | None:
    """Model string and recorded accuracy of a weights file, after checking that it loads
    (:func:`cnn.weights.load_model`: readable, fits its model, finite weights); ``None`` if it
    does not, with a one-line warning on stderr when ``warn`` (once per file and process)."""
    from ..weights import load_model
    from ..weights_io import clean_accuracy

    try:
        model = load_model(path)
    except UserError as e:
        if warn and str(path) not in _warned:
            _warned.add(str(path))
            print(f"cnn: warning: skipping {path.name}: {e}", file=sys.stderr)
        return None
    return WeightsInfo(Path(path), model.model_string,
                       clean_accuracy(model.metadata.get("accuracy")))


def list_weights(folder: Path | None = None) -> list[WeightsInfo]:
    """Usable weights files in ``folder`` (default: :func:`weights_folders`), sorted by file
    name; a file that cannot be used is skipped with a one-line warning on stderr."""
    folders = [folder] if folder else weights_folders()
    found = []
    for f in folders:
        for path in sorted(Path(f).glob("*.npz")):
            info = read_weights_info(path, warn=True)
            if info is not None:
                found.append(info)
    return found


def default_weights() -> Path:
    """The shipped weights file with the highest recorded test accuracy.

    Raises:
        UserError: when ``weight_output/`` holds no readable weights file.
    """
    found = [w for w in list_weights() if w.accuracy is not None] or list_weights()
    if not found:
        raise UserError("no weights file found in weight_output/: pass --weights PATH or "
                        "train one with 'cnn train --model ...'")
    return max(found, key=lambda w: w.accuracy or 0.0).path


def add_weights_option(parser: argparse.ArgumentParser, ensemble: bool = False) -> None:
    """``--weights PATH`` (default: the best file in weight_output/); with ``ensemble``,
    ``--weights PATH [PATH ...]`` (files or folders; several make an ensemble) and
    ``--ensemble mean|vote``."""
    if not ensemble:
        parser.add_argument("--weights", metavar="PATH", default=None,
                            help="weights .npz or .onnx file (default: the most accurate one in "
                                 "weight_output/)")
        return
    parser.add_argument("--weights", metavar="PATH", nargs="+", default=None,
                        help="weights .npz or .onnx files, or folders of .npz files; several "
                             "files make an ensemble (default: the most accurate file in "
                             "weight_output/)")
    parser.add_argument("--ensemble", choices=["mean", "vote"], default="mean",
                        help="how an ensemble decides: mean of the softmax probabilities, or "
                             "majority vote with ties broken by the mean (mean)")


def load_predictor(weights: list[str] | None, method: str = "mean"):
    """The network to predict with: one weights file's model, or an ensemble of several.

    Args:
        weights: ``--weights`` values: files and folders (``None``: :func:`default_weights`).
        method: ``"mean"`` or ``"vote"`` for an ensemble.
    Returns:
        ``(name, model)``: the file name (or ``"ensemble of N files"``) and a
        :class:`cnn.model.Sequential` or :class:`cnn.ensemble.Ensemble`.
    Raises:
        UserError: a path that does not exist, or a file that does not load or fit.
    """
    from ..ensemble import Ensemble, expand_weights
    from ..weights import load_model

    files = expand_weights(weights) if weights else [default_weights()]
    if len(files) == 1:
        model = load_model(files[0], num_classes=None)
        if model.num_classes not in (10, 11):
            raise UserError(f"weights file '{files[0]}' ({model.model_string}) gives "
                            f"{model.num_classes} classes; expected 10 digits, or 11 "
                            "(class 10: not a digit)")
        return str(files[0]), model
    return (f"ensemble of {len(files)} files",
            Ensemble([(str(f), load_model(f)) for f in files], method))


def single_weights(path: str | None, command: str) -> Path:
    """The one weights file a command that looks inside a network takes.

    Raises:
        UserError: a folder (an ensemble has no single layer structure to show).
    """
    if path and Path(path).expanduser().is_dir():
        raise UserError(f"'{path}' is a folder: cnn {command} takes one weights file (an "
                        "ensemble has no single layer structure); pass one .npz file")
    return Path(path).expanduser() if path else default_weights()


def load_training_data(data: str | None):
    """Training and test images for ``cnn train``: a keras mnist.npz's two splits, or every row
    of a Kaggle ``train.csv`` (which has no test split: ``x_test``/``y_test`` are ``None`` and
    the held-out validation rows are scored instead).

    Returns:
        ``(x_train, y_train, x_test, y_test)``: uint8 ``(N, 28, 28)`` images and ``(N,)`` labels.
    Raises:
        UserError: as :func:`cnn.data.load_mnist` or :func:`cnn.kaggle.load_csv`.
    """
    from ..kaggle import is_csv, load_csv

    if is_csv(data):
        return (*load_csv(data, require_labels=True), None, None)
    from ..data import load_mnist

    (x_train, y_train), (x_test, y_test) = load_mnist(data)
    return x_train, y_train, x_test, y_test


def load_labelled_test_set(data: str | None, choose=None):
    """Labelled images to score: MNIST's 10,000 test images, every row of a Kaggle
    ``train.csv`` when ``data`` ends in ``.csv``, or every labelled image of a folder data set
    (:func:`cnn.folders.load_folder`; labels may include 10, not a digit; its per-class counts
    and skipped files are printed to stderr). ``choose``: the evaluated network's scorer of
    candidate segmentations for a folder's images (as ``cnn predict`` uses it).

    Returns:
        ``(images, labels, source)``: uint8 ``(N, 28, 28)``, uint8 ``(N,)``, and a description.
    Raises:
        UserError: as :func:`cnn.data.load_mnist` or :func:`cnn.kaggle.load_csv`.
    """
    from ..folders import is_folder, load_folder
    from ..kaggle import is_csv, load_csv

    if is_csv(data):
        images, labels = load_csv(data, require_labels=True)
        return images, labels, f"{data} (every labelled row)"
    if is_folder(data):
        folder = load_folder(data, choose=choose)
        for line in folder.describe():
            print(line, file=sys.stderr)
        return folder.images, folder.labels, f"folder {data}"
    from ..data import load_mnist

    _, (images, labels) = load_mnist(data)
    return images, labels, "MNIST test set"


def add_data_option(parser: argparse.ArgumentParser) -> None:
    """``--data PATH`` to a keras-format mnist.npz, a Kaggle digit-recognizer CSV or a folder
    data set (:mod:`cnn.folders`)."""
    parser.add_argument("--data", metavar="PATH", default=None,
                        help="keras-format mnist.npz, Kaggle's train.csv "
                             "(label,pixel0,...,pixel783), or a folder of labelled images "
                             "(class folders 0..9 and noise/, or <digit>_<name>.png) "
                             "(default: $CNN_MNIST_DATA, then "
                             "~/.keras/datasets/mnist.npz, then a download)")


def add_reject_options(parser: argparse.ArgumentParser) -> None:
    """``--reject-threshold P``, ``--reject-weights PATH`` and ``--no-reject``
    (:mod:`cnn.reject`)."""
    parser.add_argument("--reject-threshold", type=probability, default=None, metavar="P",
                        help="answer 'not a digit' when P(not a digit) >= P (default: the value "
                             "calibrated in the gate file, see README 'Not a digit')")
    parser.add_argument("--reject-weights", metavar="PATH", default=None,
                        help="11-class gate network (default: weight_output/reject/*.npz)")
    parser.add_argument("--no-reject", action="store_true",
                        help="always answer a digit (no 'not a digit')")


def rejector_from_args(args):
    """The :class:`cnn.reject.Rejector` the options ask for, or ``None`` with ``--no-reject``."""
    if args.no_reject:
        return None
    from ..reject import Rejector

    return Rejector.default(args.reject_threshold, args.reject_weights)


def probability(text: str) -> float:
    """argparse type: a number in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def add_folder_training_options(parser: argparse.ArgumentParser) -> None:
    """``cnn train``'s data options: ``--data`` (repeatable: MNIST, a CSV, folders of images),
    ``--repeat``, ``--init`` and ``--freeze`` (see :mod:`cnn.folders`, :mod:`cnn.finetune`)."""
    parser.add_argument("--data", metavar="PATH", action="append", default=None,
                        help="training data, repeatable: 'mnist' (found as below), a keras "
                             "mnist.npz, Kaggle's train.csv, or a folder of your own images "
                             "(class folders 0..9 and noise/, or files <digit>_<name>.png); "
                             "'--data mnist --data DIR' mixes both (default: MNIST from "
                             "$CNN_MNIST_DATA, then ~/.keras/datasets/mnist.npz, then a download)")
    parser.add_argument("--repeat", type=positive_int, default=1, metavar="K",
                        help="show every folder image K times per epoch, so a small folder "
                             "is not drowned by MNIST (1)")
    parser.add_argument("--init", metavar="WEIGHTS", default=None,
                        help="start from this weights file (weights and batch-norm statistics; "
                             "a fresh optimizer) instead of a random initialisation: "
                             "fine-tuning; --model may then be left out")
    parser.add_argument("--freeze", type=int, default=0, metavar="N",
                        help="keep the first N tokens of the model string fixed (0)")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def finite_float(text: str) -> float:
    """argparse type: any finite number (``nan`` and ``inf`` refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0 (a penalty weight)."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (``inf`` and ``nan`` refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def seed_int(text: str) -> int:
    """argparse type: a random seed, a whole number from 0 to 2**63 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 2**63 - 1, got "
                                         f"{text!r}")
    return value


def percent(x: float) -> str:
    """``0.9504 -> '95.04%'``."""
    return f"{100 * x:.2f}%"
