"""Fit the number reader's decision: a number, or the single-digit answer?

``cnn.tasks.numbers.convincing`` trusts a reading of two or more digits over the picture's
single-digit answer when a logistic regression (D. R. Cox, JRSS B 20(2), 1958) on
``number_features`` says P(a number) > 0.5. This script fits it, with an L2 penalty
(``--l2``, on standardised features; the intercept is not penalised), by Newton's method,
and prints the weights folded back onto the raw features, to paste into
``cnn/tasks/numbers.py`` (``DECISION_WEIGHTS``, ``DECISION_BIAS``).

A picture with a reading of two or more digits that passes the likelihood-ratio test (test
1 of ``convincing``) is one example when taking the number and keeping the single-digit
answer differ in being right: 1 when the number is right, 0 when the single-digit answer
is (a digit's photo) or when the picture is no digit at all and the gate turned it away.
Pictures on which both are wrong, or both right, teach nothing and are left out.

The fitting sets are photos of MNIST *training* digits and non-digits, made by the
development generators with seeds no test set uses (2026-12-08)::

    python scripts/make_numbers.py --split train --seed 11 --per-condition 40 \\
        --conditions plain,ruled,boxed,touching,tilt,shadow,pencil,marker --out FIT/num
    python scripts/make_hard_photos.py --split train --seed 11 --per-condition 15 \\
        --style a --out FIT/one_a
    python scripts/make_hard_photos.py --split train --seed 12 --per-condition 15 \\
        --style b --out FIT/one_b
    python scripts/make_non_digits.py --style a --seed 11 --per-kind 30 --out FIT/nd_a
    python scripts/make_non_digits.py --style b --seed 12 --per-kind 30 --out FIT/nd_b
    python scripts/fit_number_decision.py --numbers FIT/num --digits FIT/one_a FIT/one_b \\
        --non-digits FIT/nd_a FIT/nd_b

(494 examples, 300 of them numbers. Adding 270 hand-drawn non-digits of
``make_non_digits_b.py`` seed 11 (its kinds without digits) gave 585 examples and weights
that turned away more near-right readings: per-digit accuracy on the development numbers
95.9 -> 94.5 %, whole numbers and non-digits unchanged; left out.) The features, the
penalty and the 0.5 threshold were chosen on development sets never fitted on
(make_numbers.py, make_hard_photos.py and make_non_digits.py seed 5: docs/numbers.md has
the figures).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from cnn.tasks.numbers import (
    DECISION_FEATURES,
    MAX_DIGITS,
    likelier_than_one_digit,
    number_features,
)
from cnn.tasks.predict import collect_images, predict_files, read_one


def examples(folder: Path, kind: str, model, rejector) -> tuple[list, list]:
    """``(features, targets)`` of one folder's pictures (see the module docstring); ``kind``
    is ``numbers`` (the label is the name's part before the first ``_``), ``digits`` (the
    label as ``cnn predict`` reads it from the name) or ``non-digits``."""
    files = collect_images([str(folder)])
    _, predictions, _ = predict_files(files, model=model, rejector=rejector, max_digits=1)
    features, targets = [], []
    for path, pred in zip(files, predictions):
        # the reading as cnn predict makes it: the same decoded image and ink
        reading = read_one(path, model, "auto", rejector, None, MAX_DIGITS)[3]
        if reading is None or isinstance(reading, str) or pred.error:
            continue
        if not likelier_than_one_digit(reading):
            continue
        single = None if pred.rejected or pred.digit is None else str(pred.digit)
        label = (path.name.split("_")[0] if kind == "numbers" else
                 None if kind == "non-digits" else str(pred.label))
        number_right, single_right = reading.number == label, single == label
        if number_right != single_right:
            features.append(number_features(reading, pred.rejected, pred.not_digit))
            targets.append(float(number_right))
    return features, targets


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, steps: int = 50
                 ) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression by Newton's method on standardised ``x`` (float64
    ``(N, F)``; ``y`` ``(N,)`` in {0, 1}): ``(weights (F,), bias)`` on the raw features.
    At most ``steps`` Newton steps, fewer once the gradient vanishes; with a tiny ``l2`` on
    separable data the weights grow without bound (the maximum-likelihood fit does not
    exist), so keep ``l2`` well above 0."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.c_[(x - mean) / scale, np.ones(len(x))]
    w = np.zeros(z.shape[1])
    penalty = l2 * np.diag(np.r_[np.ones(x.shape[1]), 0.0])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        gradient = z.T @ (p - y) + penalty @ w
        if np.abs(gradient).max() < 1e-8 * len(y):
            break  # converged
        hessian = (z * (p * (1 - p))[:, None]).T @ z + penalty
        w -= np.linalg.solve(hessian, gradient)
    weights = w[:-1] / scale
    return weights, float(w[-1] - weights @ mean)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", nargs="+", default=[], type=Path,
                        help="folders of number photos (label: the name before '_')")
    parser.add_argument("--digits", nargs="+", default=[], type=Path,
                        help="folders of single-digit photos (label as cnn predict reads it)")
    parser.add_argument("--non-digits", nargs="+", default=[], type=Path,
                        help="folders of pictures that are no digit")
    parser.add_argument("--l2", type=float, default=1.0, help="L2 penalty (1.0)")
    args = parser.parse_args(argv)
    from cnn.tasks.predictor import load_predictor
    from cnn.tasks.reject import Rejector

    _, model = load_predictor(None, None)
    rejector = Rejector.default()
    features, targets = [], []
    for kind, folders in (("numbers", args.numbers), ("digits", args.digits),
                          ("non-digits", args.non_digits)):
        for folder in folders:
            f, t = examples(folder, kind, model, rejector)
            features += f
            targets += t
            print(f"{folder}: {len(t)} examples, {int(sum(t))} numbers", file=sys.stderr)
    if len(set(targets)) < 2:
        print("error: the folders gave no examples of both outcomes", file=sys.stderr)
        return 1
    weights, bias = fit_logistic(np.array(features), np.array(targets), args.l2)
    print(f"# {len(targets)} examples, {int(sum(targets))} numbers, l2 {args.l2}")
    print("DECISION_WEIGHTS = np.array([" + ", ".join(f"{w:.4f}" for w in weights) + "])")
    print(f"DECISION_BIAS = {bias:.4f}")
    for name, w in zip(DECISION_FEATURES, weights):
        print(f"#   {name}: {w:+.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
