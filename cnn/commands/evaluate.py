"""``cnn evaluate``: top-1 accuracy and friends of a weights file on the 10,000 test images."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ..data import load_mnist
from ..ensemble import Ensemble, combine
from ..metrics import classification_report
from ..plots import plot_confusion_matrix, plot_misclassified
from ..train import evaluate
from .common import (add_data_option, add_weights_option, load_labelled_test_set,
                     load_predictor, percent)

EXAMPLE = """examples:
  cnn evaluate
  cnn evaluate --weights "weight_output/weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz" --json
  cnn evaluate --plots /tmp/eval_plots
  cnn evaluate --weights weight_output/ --ensemble mean
  cnn evaluate --data train.csv
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
    p.set_defaults(run=run)


def score_probabilities(probabilities: np.ndarray, labels: np.ndarray,
                        predictions: np.ndarray | None = None) -> dict:
    """The evaluation report of given softmax probabilities.

    Args:
        probabilities: float ``(N, 10)``; labels: integer ``(N,)``.
        predictions: the decisions (default: the argmax of ``probabilities``), e.g. an
            ensemble's majority vote.
    Returns:
        :func:`cnn.metrics.classification_report`'s dict plus ``loss``, the mean negative log
        probability of the true class (nats; the softmax cross-entropy for one network).
    """
    if predictions is None:
        predictions = probabilities.argmax(axis=1)
    report = classification_report(labels, predictions, probabilities.shape[1])
    true_class = probabilities[np.arange(len(labels)), labels.astype(np.int64)]
    report["loss"] = float(-np.log(np.maximum(true_class.astype(np.float64), 1e-30)).mean())
    return report


def evaluate_weights(weights=None, data=None, plots=None, method: str = "mean") -> dict:
    """Load a weights file (or several: an ensemble), score it, optionally write the plots.

    Args:
        weights: ``--weights`` values (files or folders; ``None``: the default weights).
        data: ``--data``: a keras mnist.npz (its test split) or a Kaggle train.csv (every row).
        plots: folder for ``confusion_matrix.png`` and ``misclassified.png``, or ``None``.
        method: ensemble rule, ``"mean"`` or ``"vote"``.
    Returns:
        :func:`cnn.train.evaluate`'s report (``predictions`` removed) plus ``model``,
        ``weights`` (a path; a list of paths for an ensemble), ``data`` and ``plots``; an
        ensemble adds ``ensemble`` (the rule) and ``members`` (per file: ``weights``,
        ``model``, ``accuracy``, ``errors``), from one pass over the data per member.
    """
    name, model = load_predictor(weights, method)
    images, labels, source = load_labelled_test_set(data)
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
    else:
        report = evaluate(model, images, labels)
        predictions = report.pop("predictions")
    report.update(model=model.model_string, weights=name, data=source, plots=[])
    if plots:
        folder = Path(plots)
        report["plots"] = [
            str(plot_confusion_matrix(report["confusion_matrix"], folder / "confusion_matrix.png",
                                      title=f"{model.model_string}: top-1 "
                                            f"{percent(report['accuracy'])}")),
            str(plot_misclassified(images, labels, predictions, folder / "misclassified.png")),
        ]
    return report


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
    print(f"test images: {report['n']:,}" if report["data"] == "MNIST test set"
          else f"images: {report['n']:,} from {report['data']}")
    print(f"{'ensemble ' if members else ''}top-1 accuracy: {percent(report['accuracy'])} "
          f"({report['errors']} errors)")
    print(f"macro precision: {percent(report['macro_precision'])}, "
          f"macro recall: {percent(report['macro_recall'])}")
    print(f"mean loss: {report['loss']:.4f}; {report['seconds']:.2f} s "
          f"({report['n'] / max(report['seconds'], 1e-9):,.0f} images/s)")
    print("digit  precision  recall")
    for d, (p, r) in enumerate(zip(report["per_class_precision"], report["per_class_recall"])):
        print(f"{d:>5}  {percent(p):>9}  {percent(r):>6}")
    for plot in report["plots"]:
        print(f"wrote {plot}")


def run(args) -> int:
    report = evaluate_weights(args.weights, args.data, args.plots, args.ensemble)
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0
