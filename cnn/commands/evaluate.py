"""``cnn evaluate``: top-1 accuracy and friends of a weights file on the 10,000 test images."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..data import load_mnist
from ..files import os_error_message
from ..model import load_model
from ..plots import plot_confusion_matrix, plot_misclassified
from ..train import evaluate
from .common import add_data_option, add_weights_option, default_weights, percent

EXAMPLE = """examples:
  cnn evaluate
  cnn evaluate --weights "weight_output/weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz" --json
  cnn evaluate --plots /tmp/eval_plots
"""


def add_parser(subparsers, common) -> None:
    p = subparsers.add_parser(
        "evaluate", parents=[common], help="score a weights file on the MNIST test set",
        description="Top-1 accuracy, macro precision and recall, confusion matrix and mean "
        "loss of a weights file on the 10,000 MNIST test images.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_weights_option(p)
    add_data_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plots", metavar="DIR", default=None,
                   help="write confusion_matrix.png and misclassified.png into DIR")
    p.set_defaults(run=run)


def evaluate_weights(weights=None, data=None, plots=None) -> dict:
    """Load a weights file, score it on the test set and optionally write the plots.

    Returns:
        :func:`cnn.train.evaluate`'s report plus ``model``, ``weights`` and ``plots`` (paths);
        ``predictions`` removed.
    """
    path = Path(weights) if weights else default_weights()
    model = load_model(path)
    _, (x_test, y_test) = load_mnist(data)
    report = evaluate(model, x_test, y_test)
    predictions = report.pop("predictions")
    report.update(model=model.model_string, weights=str(path), plots=[])
    if plots:  # a folder that cannot be written costs the report nothing: see run()
        try:
            report["plots"] = write_plots(report, model.model_string, x_test, y_test,
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
    print(f"model: {report['model']}")
    print(f"weights: {report['weights']}")
    print(f"test images: {report['n']:,}")
    print(f"top-1 accuracy: {percent(report['accuracy'])} ({report['errors']} errors)")
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
    report = evaluate_weights(args.weights, args.data, args.plots)
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
