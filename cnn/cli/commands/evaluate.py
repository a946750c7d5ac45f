"""``cnn evaluate``: top-1 accuracy and friends of a weights file on the 10,000 test images."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from cnn.cli.commands.common import (
    add_data_option,
    add_reject_options,
    add_weights_option,
    rejector_from_args,
)
from cnn.data.sources import load_labelled_test_set
from cnn.files import os_error_message
from cnn.tasks.ensemble import Ensemble, combine
from cnn.tasks.metrics import classification_report, percent
from cnn.tasks.plots import plot_confusion_matrix, plot_misclassified
from cnn.tasks.predictor import load_predictor
from cnn.tasks.reject import rejection_report, split_not_digit
from cnn.tasks.train import evaluate

EXAMPLE = """examples:
  cnn evaluate
  cnn evaluate --weights "weight_output/weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz" --json
  cnn evaluate --plots /tmp/eval_plots
  cnn evaluate --weights shipped --ensemble mean   # every shipped model together
  cnn evaluate --data train.csv
  cnn evaluate --data my_digits/ --reject-threshold 0.7
"""


def add_parser(subparsers, common) -> None:
    p = subparsers.add_parser(
        "evaluate", parents=[common], help="score a weights file on the MNIST test set",
        description="Top-1 accuracy, macro precision and recall, confusion matrix and mean "
        "loss of a weights file (or an ensemble of several) on the 10,000 MNIST test images, "
        "or on every labelled row of a Kaggle train.csv given as --data.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_weights_option(p, ensemble=True)
    add_data_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plots", metavar="DIR", default=None,
                   help="write confusion_matrix.png and misclassified.png into DIR")
    add_reject_options(p)
    p.set_defaults(run=run)


def score_probabilities(probabilities: np.ndarray, labels: np.ndarray,
                        predictions: np.ndarray | None = None) -> dict:
    """The evaluation report of given softmax probabilities.

    Args:
        probabilities: float ``(N, 10)``; labels: integer ``(N,)``.
        predictions: the decisions (default: the argmax of ``probabilities``), e.g. an
            ensemble's majority vote.
    Returns:
        :func:`cnn.tasks.metrics.classification_report`'s dict plus ``loss``, the mean negative log
        probability of the true class (nats; the softmax cross-entropy for one network), and
        ``ece``, the expected calibration error of the top-1 confidence (15 bins, in [0, 1];
        :func:`cnn.tasks.calibrate.expected_calibration_error`; over the digit images).
    """
    from cnn.tasks.calibrate import expected_calibration_error

    if predictions is None:
        predictions = probabilities.argmax(axis=1)
    report = classification_report(labels, predictions, probabilities.shape[1])
    true_class = probabilities[np.arange(len(labels)), labels.astype(np.int64)]
    report["loss"] = float(-np.log(np.maximum(true_class.astype(np.float64), 1e-30)).mean())
    digits = np.asarray(labels) < 10
    p = probabilities[digits][:, :10].astype(np.float64)
    report["ece"] = expected_calibration_error(p / np.maximum(p.sum(1, keepdims=True), 1e-30),
                                               np.asarray(labels)[digits])
    return report


def evaluate_weights(weights=None, data=None, plots=None, method: str = "mean",
                     rejector=None) -> dict:
    """Load a weights file (or several: an ensemble), score it, optionally write the plots.

    Args:
        weights: ``--weights`` values (files or folders; ``None``: the default weights).
        data: ``--data``: a keras mnist.npz (its test split) or a Kaggle train.csv (every row).
        plots: folder for ``confusion_matrix.png`` and ``misclassified.png``, or ``None``.
        method: ensemble rule, ``"mean"`` or ``"vote"``.
        rejector: a :class:`cnn.tasks.reject.Rejector` (``None``: no rejection). With one, the report
            adds :func:`cnn.tasks.reject.rejection_report`'s keys and ``reject_threshold``. Top-1,
            precision, recall and the confusion matrix are over the digit images (a folder's
            ``noise/`` images only count in the rejection figures).
    Returns:
        :func:`cnn.tasks.train.evaluate`'s report (``predictions`` removed) plus ``model``,
        ``weights`` (a path; a list of paths for an ensemble), ``data`` and ``plots``; an
        ensemble adds ``ensemble`` (the rule) and ``members`` (per file: ``weights``,
        ``model``, ``accuracy``, ``errors``), from one pass over the data per member.
    """
    name, model = load_predictor(weights, method)
    from cnn.tasks.predict import confidence_of

    # a folder's images are preprocessed as predict does them, with this network's scorer
    all_images, all_labels, source = load_labelled_test_set(data, choose=confidence_of(model))
    is_digit = all_labels < 10
    classes = model.num_classes
    images, labels = all_images[is_digit], all_labels[is_digit]
    if isinstance(model, Ensemble):
        start = time.perf_counter()
        member_probabilities = model.member_probabilities(images)
        seconds = time.perf_counter() - start
        members = []
        for (path, member), p in zip(model.members, member_probabilities):
            r = score_probabilities(p, labels)
            members.append({"weights": path, "model": member.model_string,
                            "accuracy": r["accuracy"], "errors": r["errors"]})
        predictions, mean = combine(member_probabilities, method)
        report = score_probabilities(mean, labels, predictions)
        report.update(seconds=seconds, ensemble=method, members=members)
        name = model.names
    elif classes == 10:
        report = evaluate(model, images, labels)
        predictions = report.pop("predictions")
    else:  # an 11-class network: its digit is the best of classes 0-9
        start = time.perf_counter()
        probabilities = split_not_digit(model.predict_proba(images))[0]
        report = score_probabilities(probabilities, labels)
        report["seconds"] = time.perf_counter() - start
        predictions = probabilities.argmax(axis=1)
    report.update(model=model.model_string, weights=name, data=source, plots=[])
    if rejector is not None and (rejector.gate is not None or classes == 11):
        # The gate needs no classifier output, an 11-class classifier its own probabilities.
        own = (model.predict_proba(all_images) if classes == 11
               else np.zeros((len(all_images), 10), np.float32))
        rejected, _ = rejector.judge(all_images, own)
        digits = np.zeros(len(all_labels), np.int64)  # a non-digit's answer is wrong anyway
        digits[is_digit] = predictions
        report.update(rejection_report(rejected, all_labels, digits),
                      reject_threshold=rejector.threshold, reject_gate=rejector.name)
    if plots:  # a folder that cannot be written costs the report nothing: see run()
        try:
            report["plots"] = write_plots(report, model.model_string, images, labels,
                                          predictions, Path(plots))
        except OSError as e:
            report["plot_error"] = os_error_message(e)
    return report


def write_plots(report, model_string, x_test, y_test, predictions, folder: Path) -> list[str]:
    """Write confusion_matrix.png and misclassified.png into ``folder``; returns their paths.

    Raises:
        OSError: the folder cannot be written (read-only, a file, a full disk).
    """
    return [
        str(plot_confusion_matrix(report["confusion_matrix"], folder / "confusion_matrix.png",
                                  title=f"{model_string}: top-1 {percent(report['accuracy'])}")),
        str(plot_misclassified(x_test, y_test, predictions, folder / "misclassified.png")),
    ]


def print_report(report: dict) -> None:
    """Human-readable evaluation report."""
    members = report.get("members")
    if members:
        print(f"ensemble of {len(members)} networks ({report['ensemble']}):")
        width = max(len(m["model"]) for m in members)
        for m in members:
            print(f"  {m['model']:<{width}}  top-1 {percent(m['accuracy'])} "
                  f"({m['errors']} errors)  {Path(m['weights']).name}")
    else:
        print(f"model: {report['model']}")
        print(f"weights: {report['weights']}")
    print(f"test images: {report['n']:,}" if report["data"].startswith("MNIST test set")
          else f"images: {report['n']:,} from {report['data']}")
    print(f"{'ensemble ' if members else ''}top-1 accuracy: {percent(report['accuracy'])} "
          f"({report['errors']} errors)")
    print(f"macro precision: {percent(report['macro_precision'])}, "
          f"macro recall: {percent(report['macro_recall'])}")
    print(f"expected calibration error (15 bins): {percent(report['ece'])}")
    print(f"mean loss: {report['loss']:.4f}; {report['seconds']:.2f} s "
          f"({report['n'] / max(report['seconds'], 1e-9):,.0f} images/s)")
    print("digit  precision  recall")
    for d, (p, r) in enumerate(zip(report["per_class_precision"], report["per_class_recall"])):
        print(f"{d:>5}  {percent(p):>9}  {percent(r):>6}")
    if "rejected" in report:
        print_rejection(report)
    for plot in report["plots"]:
        print(f"wrote {plot}")


def print_rejection(report: dict) -> None:
    """The 'not a digit' lines of the evaluation report."""
    n_digits = report["n"]
    print(f"not a digit (threshold {report['reject_threshold']:g}): {report['digits_rejected']} "
          f"of {n_digits:,} digits wrongly rejected ({percent(report['digit_rejection_rate'])})"
          + (f", {report['non_digits_rejected']} of {report['non_digits']:,} non-digits "
             f"rejected ({percent(report['non_digit_rejection_rate'])})"
             if report["non_digits"] else ""))
    print(f"top-1 with rejection (a rejected digit is wrong{', a rejected non-digit right' if report['non_digits'] else ''}): "
          f"{percent(report['accuracy_with_rejection'])}")


def run(args) -> int:
    report = evaluate_weights(args.weights, args.data, args.plots, args.ensemble,
                              rejector_from_args(args))
    problem = report.pop("plot_error", None)
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    if problem:
        sys.stdout.flush()
        print(f"cnn: error: {problem}", file=sys.stderr)
        return 1
    return 0
