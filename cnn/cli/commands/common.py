"""Options and argparse types that several subcommands (and the menu) share.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from cnn.errors import UserError
from cnn.io.catalog import default_weights


def add_weights_option(parser: argparse.ArgumentParser, ensemble: bool = False) -> None:
    """``--weights PATH`` (default: the shipped default model); with ``ensemble``,
    ``--weights PATH [PATH ...]`` (files or folders; several make an ensemble) and
    ``--ensemble mean|vote``."""
    if not ensemble:
        parser.add_argument("--weights", metavar="PATH", default=None,
                            help="weights .npz or .onnx file (default: the shipped default "
                                 "model)")
        return
    parser.add_argument("--weights", metavar="PATH", nargs="+", default=None,
                        help="weights .npz or .onnx files, folders of .npz files, or "
                             "'shipped' (every shipped model); several files make an ensemble "
                             "(default: the shipped default model)")
    parser.add_argument("--ensemble", choices=["mean", "vote"], default="mean",
                        help="how an ensemble decides: mean of the softmax probabilities, or "
                             "majority vote with ties broken by the mean (mean)")


def single_weights(path: str | None, command: str) -> Path:
    """The one weights file a command that looks inside a network takes.

    Raises:
        UserError: a folder (an ensemble has no single layer structure to show).
    """
    if path and Path(path).expanduser().is_dir():
        raise UserError(f"'{path}' is a folder: cnn {command} takes one weights file (an "
                        "ensemble has no single layer structure); pass one .npz file")
    return Path(path).expanduser() if path else default_weights()


def add_data_option(parser: argparse.ArgumentParser) -> None:
    """``--data PATH`` to a keras-format mnist.npz, a Kaggle digit-recognizer CSV or a folder
    data set (:mod:`cnn.data.folders`)."""
    parser.add_argument("--data", metavar="PATH", default=None,
                        help="keras-format mnist.npz, Kaggle's train.csv "
                             "(label,pixel0,...,pixel783), or a folder of labelled images "
                             "(class folders 0..9 and noise/, or <digit>_<name>.png) "
                             "(default: $CNN_MNIST_DATA, then "
                             "~/.keras/datasets/mnist.npz, then a download)")


def add_reject_options(parser: argparse.ArgumentParser) -> None:
    """``--reject-threshold P``, ``--reject-weights PATH`` (repeatable) and ``--no-reject``
    (:mod:`cnn.tasks.reject`)."""
    parser.add_argument("--reject-threshold", type=probability, default=None, metavar="P",
                        help="answer 'not a digit' when P(not a digit) >= P (default: the value "
                             "calibrated for the gates: the shipped gates' gate_threshold, or a "
                             "gate file's own; see docs/not-a-digit.md)")
    parser.add_argument("--reject-weights", metavar="PATH", default=None, action="append",
                        help="11-class gate network; give it more than once for gates that "
                             "decide together (their mean P(not a digit); needs "
                             "--reject-threshold) (default: the shipped gates)")
    parser.add_argument("--no-reject", action="store_true",
                        help="always answer a digit (no 'not a digit')")


def rejector_from_args(args):
    """The :class:`cnn.tasks.reject.Rejector` the options ask for, or ``None`` with ``--no-reject``."""
    if args.no_reject:
        return None
    from cnn.tasks.reject import Rejector

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
    ``--repeat``, ``--init`` and ``--freeze`` (see :mod:`cnn.data.folders`, :mod:`cnn.tasks.finetune`)."""
    parser.add_argument("--data", metavar="PATH", action="append", default=None,
                        help="training data, repeatable: 'mnist' (found as below), a keras "
                             "mnist.npz, Kaggle's train.csv, or a folder of your own images "
                             "(class folders 0..9 and noise/, or files <digit>_<name>.png); "
                             "'--data mnist --data DIR' mixes both (default: MNIST from "
                             "$CNN_MNIST_DATA, then ~/.keras/datasets/mnist.npz, then a download)")
    parser.add_argument("--repeat", type=positive_int, default=None, metavar="K",
                        help="show every folder image K times per epoch, so a small folder "
                             "is not drowned by MNIST (1; 4 with --init on folders alone)")
    parser.add_argument("--init", metavar="WEIGHTS", default=None,
                        help="start from this weights file (weights and batch-norm statistics; "
                             "a fresh optimizer) instead of a random initialisation: "
                             "fine-tuning; --model may then be left out. With folders alone "
                             "as --data: a safe recipe (low lr, MNIST replayed in every batch, "
                             "batch norm frozen, the best epoch, WiSE-FT) and the accuracy "
                             "before/after")
    parser.add_argument("--freeze", type=int, default=0, metavar="N",
                        help="keep the first N tokens of the model string fixed (0)")


def _whole_number(text: str, minimum: int) -> int:
    """An integer >= ``minimum`` from ``text``, else argparse's error naming the bound."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _whole_number(text, 0)


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
