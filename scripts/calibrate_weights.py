"""Calibrate a trained weights file afterwards, as ``cnn train --calibrate`` does at the end of a run.

For a 10-class classifier: fit a softmax temperature (Guo et al. 2017) and fold it into the last
fully connected layer; for an 11-class gate: choose its not-a-digit threshold. Both on the
file's own validation split, the last N MNIST training images (N = the file's
``validation_images``; they were held out of its training), as is, through the file's
augmentation, and rendered as photos (:func:`cnn.tasks.calibrate.validation_views`). The test
sets are never used.

Usage::

    python scripts/calibrate_weights.py WEIGHTS --out CALIBRATED.npz [--seed 0] [--data mnist.npz]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnn.data.augment import AUGMENTATIONS
from cnn.data.mnist import load_mnist
from cnn.errors import UserError
from cnn.io.weights import load_model, save_model
from cnn.tasks.calibrate import calibrate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="keras mnist.npz (default: as cnn finds it)")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    try:
        model = load_model(args.weights, num_classes=None)
        n = int(model.metadata.get("validation_images") or 0)
        if n <= 0 or model.metadata.get("temperature"):
            raise UserError(f"{args.weights}: needs a file trained with a validation split and "
                            "not calibrated yet")
        (x_train, y_train), _ = load_mnist(args.data)
        x_val, y_val = x_train[-n:], y_train[-n:]
        augment = AUGMENTATIONS.get(model.metadata.get("augment") or "", None)
        print(calibrate(model, x_val, y_val, np.random.default_rng(args.seed), augment))
        model.metadata["calibrated_by"] = "scripts/calibrate_weights.py"
        print(f"saved {save_model(model, args.out, overwrite=args.overwrite)}")
    except UserError as e:
        print(f"calibrate_weights: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
