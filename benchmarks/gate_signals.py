"""Which not-a-digit signal to keep: the gate, max softmax, energy, or ensemble disagreement.

Every signal is thresholded the same way, on the same *validation* digits (the last 5,000 MNIST
training images, held out of both networks' training, as is, augmented and rendered as photos:
:func:`cnn.tasks.calibrate.validation_views`), to turn away 0.3 % of them; then each is scored on
the robustness test sets (``benchmarks/robustness.py`` generates them): the share of real digits
turned away (photos, other writers, corruptions through the pipeline) and the share of
non-digits rejected. Signals (higher means "not a digit"):

- ``gate``: the 11-class gate's P(not a digit) (outlier exposure with an extra class);
- ``msp``: 1 - the classifier's max softmax probability (Hendrycks & Gimpel, ICLR 2017);
- ``energy``: minus the logsumexp of the classifier's logits (Liu et al., NeurIPS 2020);
- ``disagree``: 1 - the probability the gate's digit classes give the classifier's answer
  (two networks disagreeing; Lakshminarayanan et al., NeurIPS 2017, use ensemble spread);
- ``gate+disagree``: rejected by either, each at half the rate.

Images in which preprocessing finds no ink count as rejected by every signal.

Usage::

    python benchmarks/gate_signals.py [--classifier FILE] [--gate FILE] [--sets DIR] [--held-out]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnn.data.mnist import load_mnist
from cnn.errors import UserError
from cnn.io.catalog import default_weights
from cnn.io.weights import load_model
from cnn.nn.losses import softmax
from cnn.tasks.calibrate import validation_views
from cnn.tasks.predict import collect_images, confidence_of
from cnn.tasks.reject import confidence_scores, find_gate
from cnn.vision.pipeline import preprocess_file

RATE = 0.003
DIGIT_SETS = ["photos_a", "photos_b", "writers", "writers_outline", "corrupt_c_predict"]
NONDIGIT_SETS = ["nondigit_a", "nondigit_b"]
HELD_OUT = {"digits": ["phone", "corrupt_d_predict"], "non": ["nondigit_hand"]}


def signals(classifier, gate, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every signal for float ``(N, 28, 28)`` inputs, ``(N,)`` each."""
    logits = classifier.logits(x)[:, :10].astype(np.float64)
    msp, negative_energy = confidence_scores(logits)
    p = softmax(logits)
    g = gate.predict_proba(x).astype(np.float64)
    g_digits = g[:, :10] / np.maximum(g[:, :10].sum(axis=1, keepdims=True), 1e-12)
    return {"gate": g[:, 10], "msp": 1 - msp, "energy": -negative_energy,
            "disagree": 1 - g_digits[np.arange(len(x)), p.argmax(axis=1)]}


def image_folders(root: Path, name: str) -> list[Path]:
    """The flat image folders of set ``name``: one per corruption of a ``_predict`` suite, one
    per digit of each writer's test split, or the set's own folder."""
    folder = root / name
    if name.endswith("_predict"):
        return sorted(p for p in (folder / "png").iterdir() if p.is_dir())
    if name == "writers":
        return [w / "test" / str(d) for w in sorted(folder.iterdir()) if (w / "test").is_dir()
                for d in range(10) if (w / "test" / str(d)).is_dir()]
    if (folder / "0").is_dir():
        return [folder / str(d) for d in range(10) if (folder / str(d)).is_dir()]
    return [folder]


def load_files(folders: list[Path], choose) -> tuple[np.ndarray, int]:
    """Network inputs of every image in ``folders`` and the count with no ink found."""
    inputs, blank = [], 0
    for f in collect_images([str(f) for f in folders]):
        try:
            inputs.append(preprocess_file(f, choose=choose))
        except UserError:
            blank += 1
    return (np.stack(inputs) if inputs else np.zeros((0, 28, 28), np.float32)), blank


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classifier", default=None)
    parser.add_argument("--gate", default=None)
    parser.add_argument("--sets", default="/tmp/cnn_robustness_sets")
    parser.add_argument("--held-out", action="store_true")
    args = parser.parse_args(argv)
    classifier = load_model(args.classifier or default_weights())
    gate = load_model(args.gate or find_gate(), num_classes=None)
    (x_train, y_train), _ = load_mnist()
    xv, _ = validation_views(x_train[-5000:], y_train[-5000:], np.random.default_rng(7))
    val = signals(classifier, gate, xv.astype(np.float32) / 255)
    thresholds = {k: float(np.quantile(v, 1 - RATE)) for k, v in val.items()}
    half = {k: float(np.quantile(v, 1 - RATE / 2)) for k, v in val.items()}
    choose = confidence_of(classifier)
    digit_sets = DIGIT_SETS + (HELD_OUT["digits"] if args.held_out else [])
    non_sets = NONDIGIT_SETS + (HELD_OUT["non"] if args.held_out else [])
    rows: dict[str, dict[str, float]] = {k: {} for k in [*val, "gate+disagree"]}
    for name in digit_sets + non_sets:
        if not (Path(args.sets) / name).exists():
            print(f"skipping {name}: not generated (run benchmarks/robustness.py first)",
                  file=sys.stderr)
            continue
        x, blank = load_files(image_folders(Path(args.sets), name), choose)
        s = signals(classifier, gate, x)
        n = len(x) + blank
        for k in val:
            rows[k][name] = (int((s[k] >= thresholds[k]).sum()) + blank) / n
        both = (s["gate"] >= half["gate"]) | (s["disagree"] >= half["disagree"])
        rows["gate+disagree"][name] = (int(both.sum()) + blank) / n
    names = [n for n in digit_sets + non_sets if n in rows["gate"]]
    print(f"classifier {classifier.model_string}; gate {gate.model_string}; thresholds at "
          f"{RATE:.1%} of {len(xv):,} validation views")
    print("| signal | " + " | ".join(f"{n} ({'away' if n in digit_sets else 'rejected'})"
                                     for n in names) + " | digits away (mean) | non-digits "
          "rejected (mean) |")
    print("| --- |" + " ---: |" * (len(names) + 2))
    for k, r in rows.items():
        dig = [r[n] for n in names if n in digit_sets]
        non = [r[n] for n in names if n in non_sets]
        print(f"| {k} | " + " | ".join(f"{100 * r[n]:.1f}%" for n in names)
              + f" | {100 * np.mean(dig):.1f}% | {100 * np.mean(non):.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
