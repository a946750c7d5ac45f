"""``cnn train``: train a network from a model string on MNIST and save its weights."""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np

from ..augment import augment_batch
from ..errors import UserError
from ..layers import Dropout
from ..model import Sequential
from ..weights import default_weights_path, load_model, save_model
from ..optim import make_optimizer
from ..plots import plot_loss_curve
from ..train import evaluate, fit
from .common import (add_data_option, load_training_data, percent, positive_float,
                     positive_int, seed_int)
from .summary import print_summary

EXAMPLE = """model string tokens (joined by '-', numbered 1, 2, ... as 'cnn summary' shows them):
  C(f,k)           convolution, f filters k x k, stride 1, no padding, then ReLU
  C(f,k,s2,same)   options: sN stride N; same = padding (k-1)/2 (odd k), or pN padding N
  P2 / A2          2 x 2 max / average pooling, stride 2 (ceil mode: 7 -> 4)
  BN               batch normalization of the previous C or FC, before its ReLU
  R(f) / R(f,s2)   residual basic block: 3x3 conv-BN-ReLU-3x3 conv-BN + shortcut, ReLU
  D0.25            dropout with rate 0.25 (training only)
  GAP              global average pooling (H, W, C) -> (C,)
  FC<n>            fully connected (+ ReLU); the last one, FC10, gives the logits

examples:
  cnn train --model "C(8,5)-P2-C(16,3)-P2-FC128-FC10" --epochs 1
  cnn train --model "C(8,5)-P2-FC10" --epochs 1 --limit 2000 --out /tmp/tiny.npz
  cnn train --model "C(8,5)-P2-C(16,3)-P2-FC128-FC10" --data train.csv --out /tmp/kaggle.npz
  cnn train --model "C(8,3,same)-BN-R(8)-R(16,s2)-GAP-FC10" --epochs 1 --limit 2000 --out /tmp/resnet.npz
"""


def add_parser(subparsers, common) -> None:
    p = subparsers.add_parser(
        "train", parents=[common], help="train a CNN from a model string on MNIST",
        description="Train a network on the MNIST training set (a validation split held out), "
        "report top-1 accuracy on the 10,000 test images and save the weights.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", metavar="STR",
                   help='model string, e.g. "C(8,5)-P2-C(16,3)-P2-FC128-FC10" or '
                   '"C(16,3,same)-BN-R(16)-R(32,s2)-GAP-FC10" (tokens below); optional '
                   'with --init')
    p.add_argument("--init", metavar="WEIGHTS", default=None,
                   help="start from this weights file (weights and batch-norm statistics; "
                   "a fresh optimizer) instead of a random initialisation: fine-tuning")
    p.add_argument("--epochs", type=positive_int, default=1, help="passes over the data (1)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="images per step (64)")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="learning rate (0.001)")
    p.add_argument("--lr-decay", type=positive_float, default=1.0,
                   help="multiply the learning rate by this after each epoch (1.0: constant)")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam",
                   help="adam, or sgd with momentum 0.9 (adam)")
    p.add_argument("--seed", type=seed_int, default=0, help="random seed (0)")
    p.add_argument("--validation", type=int, default=None, metavar="N",
                   help="training images held out for validation, the last N "
                   "(5000, or a tenth of --limit when that is smaller)")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="train on the first N training images only (quick runs)")
    p.add_argument("--augment", action="store_true",
                   help="random shifts, rotations, scaling and stroke widths while training")
    p.add_argument("--out", metavar="PATH", default=None,
                   help="weights file (default weight_output/weight_details<model>.npz)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing weights file instead of choosing a new name")
    p.add_argument("--no-plot", action="store_true", help="do not write the loss-curve PNG")
    add_data_option(p)
    p.set_defaults(run=run)


def default_validation(train_images: int) -> int:
    """Training images held out for validation by default: the last 5,000, or a tenth of a
    smaller training set (e.g. 200 of ``--limit 2000``)."""
    return min(5000, train_images // 10)


def train_and_save(model_string: str | None, *, epochs=1, batch_size=64, lr=1e-3,
                   lr_decay=1.0, optimizer="adam", seed=0, validation=None, limit=None,
                   augment=False, out=None, overwrite=False, plot=True, data=None, quiet=False,
                   show_summary=False, init=None) -> dict:
    """Train, evaluate on the test set, save weights (and the loss curve); print a report.

    Shared by ``cnn train`` and the menu. Returns a dict with ``weights`` (the path written,
    or ``None`` if no epoch finished), ``history``, and the test ``report``.

    ``init``: a weights file to start from (fine-tuning); ``model_string`` may then be
    ``None``, else it must name the same model.

    Raises:
        UserError: bad model string, a validation split as large as the training set, no
            MNIST file, no model string and no ``init``, or an ``init`` file of another model.
    """
    rng = np.random.default_rng(seed)
    if init is not None:
        model = load_model(init)
        if model_string is not None and Sequential(model_string).model_string != \
                model.model_string:
            raise UserError(f"--model {model_string} differs from the --init file's model "
                            f"{model.model_string}; leave --model out or give the same one")
        for drop in (m for m in model.modules() if isinstance(m, Dropout)):
            drop.rng = rng  # the run's generator draws the dropout masks
        model.train()
    elif model_string is None:
        raise UserError("give --model STR (a model string) or --init WEIGHTS (a weights file "
                        "to start from)")
    else:
        model = Sequential(model_string, rng)
    if show_summary:
        print_summary(model)
    x_train, y_train, x_test, y_test = load_training_data(data)
    if limit:
        x_train, y_train = x_train[:limit], y_train[:limit]
    if validation is None:
        validation = default_validation(len(x_train))
    if not 0 <= validation < len(x_train):
        raise UserError(f"--validation {validation} must be between 0 and the "
                        f"{len(x_train)} training images - 1")
    if x_test is None and validation == 0:
        raise UserError("--validation 0 leaves no held-out rows of the CSV to score (a Kaggle "
                        "train.csv has no test split); keep a validation split")
    split = len(x_train) - validation
    x_val, y_val = x_train[split:], y_train[split:]
    x_train, y_train = x_train[:split], y_train[:split]
    if not quiet:
        print(f"training {model.model_string} ({model.num_params():,} parameters) on "
              f"{len(x_train):,} images, validating on {len(x_val):,}; {epochs} epoch(s), "
              f"batch {batch_size}, {optimizer} lr {lr:g}, seed {seed}"
              f"{', augmented' if augment else ''}")
    opt = make_optimizer(optimizer, model.parameters(), lr)
    start = time.perf_counter()
    history = fit(model, x_train, y_train, optimizer=opt, rng=rng, epochs=epochs,
                  batch_size=batch_size, lr_decay=lr_decay, validation=(x_val, y_val),
                  augment=augment_batch if augment else None, progress=not quiet)
    total = time.perf_counter() - start
    done = len(history.epochs)
    if history.interrupted:
        print(f"interrupted: keeping the weights of the last finished epoch ({done} of {epochs})",
              file=sys.stderr)
    if done == 0:
        return {"weights": None, "history": history, "report": None}
    scored_on = "test"
    if x_test is None:  # a Kaggle train.csv has no test split: score the held-out rows
        x_test, y_test, scored_on = x_val, y_val, "validation"
    report = evaluate(model, x_test, y_test)
    model.metadata = {
        "epochs": done, "batch_size": batch_size, "lr": lr, "lr_decay": lr_decay,
        "optimizer": optimizer, "seed": seed, "augment": augment,
        "train_images": len(x_train), "validation_images": len(x_val),
        "accuracy": report["accuracy"], "macro_precision": report["macro_precision"],
        "test_loss": report["loss"], "train_loss": history.epochs[-1]["loss"],
        "seconds_per_epoch": history.seconds_per_epoch, "total_seconds": total,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "interrupted": history.interrupted, "scored_on": scored_on,
        "data": "kaggle csv" if scored_on == "validation" else "mnist",
    }
    if init is not None:
        model.metadata["init"] = str(init)
    target = Path(out) if out else default_weights_path(model.model_string)
    written = save_model(model, target, overwrite=overwrite)
    curve = None
    if plot:
        curve = plot_loss_curve(history.epochs, written.with_name(written.stem + "_loss.png"),
                                title=f"{model.model_string}, batch {batch_size}, seed {seed}")
    print(f"{scored_on} top-1 accuracy {percent(report['accuracy'])} ({report['errors']} "
          f"errors of {report['n']:,}), macro precision {percent(report['macro_precision'])}")
    print(f"final mean loss: train {history.epochs[-1]['loss']:.4f}, {scored_on} "
          f"{report['loss']:.4f}")
    print(f"{history.seconds_per_epoch:.1f} s/epoch, total {total:.1f} s for {done} epoch(s)")
    if written != target:
        print(f"{target} exists (use --overwrite to replace it); saved to a new name instead")
    print(f"weights saved to {written}")
    if curve:
        print(f"loss curve saved to {curve}")
    return {"weights": written, "history": history, "report": report}


def run(args) -> int:
    result = train_and_save(
        args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        lr_decay=args.lr_decay, optimizer=args.optimizer, seed=args.seed,
        validation=args.validation, limit=args.limit, augment=args.augment, out=args.out,
        overwrite=args.overwrite, plot=not args.no_plot, data=args.data, quiet=args.quiet,
        init=args.init)
    if result["history"].interrupted:
        return 130
    return 0
