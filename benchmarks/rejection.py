"""Measure "not a digit": how many non-digits are rejected, and how many real digits wrongly.

For the default classifier and a rejection gate (an 11-class network, ``cnn.tasks.reject``) this
prints, for every non-digit folder given (``scripts/make_non_digits.py`` output, files
``nd_<kind>_<nnn>.<ext>``), the share rejected per kind and overall, and the share of real
digits wrongly rejected on the 10,000 MNIST test images and on ``custom_test_images/``, for:

- the gate's P(not a digit) at its threshold (calibrated with ``--calibrate``);
- for comparison, the classifier's max softmax probability and energy score (Hendrycks &
  Gimpel 2017; Liu et al. 2020), each thresholded to reject 1 % of MNIST test digits.

An image in which preprocessing finds no ink counts as rejected (``cnn predict`` rejects it).

``--calibrate RATE`` sets the gate's threshold to reject RATE of the MNIST *validation* digits
(the last 5,000 training images, held out of the gate's training), never the test set or the
non-digit sets, and with ``--write`` stores it in the gate file's metadata as
``reject_threshold``. ``--views-rate RATE`` chooses it instead on *varied* real digits: the
validation views of ``cnn train --calibrate`` (those 5,000 images as they are, augmented, and
2,000 of them rendered as photos; :func:`cnn.tasks.calibrate.validation_views`, seed 7).

``--gate`` given more than once: the gates decide together, by the mean of their P(not a
digit), as ``cnn predict`` does with the shipped gates; the threshold of the mean is then the
manifest's ``gate_threshold`` (``weight_output/shipped.json``), which ``--views-rate`` computes.

Usage::

    python benchmarks/rejection.py --gate weight_output/reject/GATE.npz /tmp/nd_test_a /tmp/nd_test_b
    python benchmarks/rejection.py --gate /tmp/gate.npz --calibrate 0.002 --write /tmp/nd_test_a
    python benchmarks/rejection.py --gate weight_output/reject/A.npz \
        --gate weight_output/reject/B.npz --views-rate 0.03
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnn.data.mnist import load_mnist
from cnn.errors import UserError
from cnn.io.catalog import default_weights
from cnn.io.weights import load_model, save_model
from cnn.tasks.calibrate import validation_views
from cnn.tasks.predict import confidence_of
from cnn.tasks.reject import NOT_A_DIGIT, Rejector, confidence_scores
from cnn.vision.pipeline import preprocess_file


def load_set(folder: str, choose=None) -> tuple[dict[str, np.ndarray], collections.Counter]:
    """Preprocessed images per kind, and per kind the count where no ink was found; ``choose``
    scores candidate segmentations as ``cnn predict`` does (the classifier's confidence)."""
    kinds: dict[str, list] = collections.defaultdict(list)
    blank = collections.Counter()
    for f in sorted(Path(folder).iterdir()):
        kind = f.name.split("_")[1] if f.name.startswith("nd_") else "other"
        try:
            kinds[kind].append(preprocess_file(f, choose=choose))
        except UserError:
            blank[kind] += 1
    return {k: np.stack(v) for k, v in kinds.items()}, blank


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", help="non-digit folders")
    parser.add_argument("--gate", required=True, action="append",
                        help="11-class gate weights file; more than once: their mean decides")
    parser.add_argument("--classifier", default=None, help="10-class classifier (default model)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="gate threshold (default: the file's reject_threshold, else 0.5; "
                             "several gates: the shipped pair's gate_threshold)")
    parser.add_argument("--calibrate", type=float, default=None, metavar="RATE",
                        help="set the threshold to reject RATE of the MNIST validation digits")
    parser.add_argument("--views-rate", type=float, default=None, metavar="RATE",
                        help="set the threshold to turn away RATE of the varied validation views")
    parser.add_argument("--write", action="store_true", help="store the calibrated threshold")
    parser.add_argument("--custom", default="custom_test_images")
    args = parser.parse_args(argv)

    if args.write and len(args.gate) > 1:
        parser.error("--write stores one gate's threshold; several gates' goes in the manifest")
    if args.write and args.calibrate is None:
        parser.error("--write stores the threshold of --calibrate")
    # The gate(s) and threshold as cnn predict takes them (several: their mean; the shipped
    # pair's threshold); a threshold chosen below only needs a placeholder here.
    chosen_below = args.threshold is None and (args.views_rate or args.calibrate) is not None
    try:
        rejector = Rejector.default(1.0 if chosen_below else args.threshold, args.gate)
    except UserError as e:
        parser.error(str(e).replace("--reject-threshold", "--threshold or --views-rate"))
    gate, threshold = rejector.gate, rejector.threshold
    classifier = load_model(args.classifier or default_weights())
    (x_train, y_train), (x_test, _) = load_mnist()

    def p_not(x):
        return gate.predict_proba(x)[:, NOT_A_DIGIT]

    if args.views_rate is not None:
        views, _ = validation_views(x_train[-5000:], y_train[-5000:], np.random.default_rng(7))
        p_val = p_not(views)
        threshold = float(np.quantile(p_val, 1 - args.views_rate))
        print(f"on varied digits: threshold {threshold:.4f} turns away "
              f"{(p_val >= threshold).mean():.2%} of {len(views):,} validation views")
    elif args.calibrate is not None:
        p_val = p_not(x_train[-5000:])
        threshold = float(np.quantile(p_val, 1 - args.calibrate))
        threshold = float(np.clip(threshold, 0.05, 0.99))
        print(f"calibrated: threshold {threshold:.4f} rejects "
              f"{(p_val >= threshold).mean():.2%} of the 5,000 MNIST validation digits")
        if args.write:
            gate.metadata["reject_threshold"] = round(threshold, 4)
            gate.metadata["reject_calibration"] = (
                f"rejects {args.calibrate:.2%} of the MNIST validation split (last 5,000 "
                "training images)")
            save_model(gate, args.gate[0], overwrite=True)
            print(f"stored reject_threshold {threshold:.4f} in {args.gate[0]}")

    choose = confidence_of(classifier)
    custom = np.stack([preprocess_file(f, choose=choose)
                       for f in sorted(Path(args.custom).iterdir())
                       if f.suffix.lower() in {".png", ".jpg", ".jpeg"}])
    msp_t, en_t = confidence_scores(classifier.logits(x_test))
    msp_c, en_c = confidence_scores(classifier.logits(custom))
    rules = {
        f"gate P(not a digit) >= {threshold:.4f}": (lambda x: p_not(x) >= threshold),
        "max softmax (1% of MNIST test)": (
            lambda x, t=np.quantile(msp_t, 0.01): confidence_scores(classifier.logits(x))[0] < t),
        "energy (1% of MNIST test)": (
            lambda x, t=np.quantile(en_t, 0.01): confidence_scores(classifier.logits(x))[1] < t),
    }
    print(f"classifier {classifier.model_string}; gate {gate.model_string} "
          f"({', '.join(args.gate)})")
    sets = {folder: load_set(folder, choose) for folder in args.folders}
    p_test, p_custom = p_not(x_test), p_not(custom)
    p_sets = {f: ({k: p_not(v) for k, v in kinds.items()}, blank) for f, (kinds, blank) in sets.items()}
    print("\nthreshold sweep (gate): MNIST test rejected, custom_test_images rejected, "
          "non-digits rejected per folder")
    for t in sorted({0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, round(threshold, 4)}):
        parts = []
        for f, (kinds, blank) in p_sets.items():
            n = sum(len(v) for v in kinds.values()) + sum(blank.values())
            r = sum(int((v >= t).sum()) for v in kinds.values()) + sum(blank.values())
            parts.append(f"{Path(f).name} {r / n:.2%}")
        print(f"  {t:<7g} MNIST {(p_test >= t).mean():.2%}  custom {int((p_custom >= t).sum())}"
              f"/{len(custom)}  " + "  ".join(parts))
    for name, rule in rules.items():
        print(f"\n{name}:")
        print(f"  MNIST test digits rejected: {rule(x_test).mean():.2%} of {len(x_test):,}")
        print(f"  custom_test_images rejected: {int(rule(custom).sum())} of {len(custom)}")
        for folder, (kinds, blank) in sets.items():
            total = rejected = 0
            parts = []
            for kind in sorted(set(kinds) | set(blank)):
                r = int(rule(kinds[kind]).sum()) if kind in kinds else 0
                n = (len(kinds[kind]) if kind in kinds else 0) + blank[kind]
                r += blank[kind]
                total += n
                rejected += r
                parts.append(f"{kind} {r}/{n}")
            print(f"  {folder}: {rejected}/{total} = {rejected / total:.2%} rejected "
                  f"({', '.join(parts)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
