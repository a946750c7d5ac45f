"""``cnn train``: train a network from a model string on MNIST and save its weights."""

from __future__ import annotations

import argparse
import datetime
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..augment import augment_batch
from ..data import find_mnist
from ..errors import UserError
from ..faults import fault_point
from ..files import is_regular_file, same_file, sigint_deferred
from ..kaggle import is_csv
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


def check_target(target: Path, data_file: Path | None = None) -> None:
    """Refuse, before any training, a weights path that cannot be written: a folder, a path
    under a file, a special file, or the MNIST file itself.

    Raises:
        UserError: naming the path and what to give instead.
    """
    if target.is_dir():
        raise UserError(f"--out '{target}' is a folder; give a file path such as "
                        f"'{target / 'model.npz'}'")
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"--out '{target}': '{parent}' is a file, not a folder; "
                                "choose another path")
            break
    if os.path.lexists(target) and not is_regular_file(target):
        raise UserError(f"--out '{target}' is not a regular file (a FIFO or device); "
                        "choose another path")
    if data_file is not None and same_file(target, data_file):
        raise UserError(f"--out '{target}' is the MNIST file itself; choose another path")
    # Can the folder be written? Found out now rather than after the first epoch; an
    # OSError here is one line naming the folder (cnn.cli).
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=target.parent):
        pass


class EpochSaver:
    """Writes the weights after every finished epoch, atomically and with Ctrl-C held back
    until the file is complete (:func:`cnn.files.sigint_deferred`), so once an epoch has
    finished its weights are on disk whatever the user presses.

    The first save takes ``target`` (or, without ``overwrite``, the next free name when it
    exists); later saves replace that same file, the one this run owns.
    """

    def __init__(self, model: Sequential, target: Path, overwrite: bool, metadata: dict):
        self.model, self.target, self.overwrite = model, target, overwrite
        self.metadata = metadata
        self.path: Path | None = None  # the file written, once written
        self.epochs = 0  # epochs whose weights are on disk

    def save(self, history, report: dict | None = None) -> Path:
        done = len(history.epochs)
        self.model.metadata = dict(
            self.metadata, epochs=done, train_loss=history.epochs[-1]["loss"],
            seconds_per_epoch=history.seconds_per_epoch, interrupted=history.interrupted,
            date=datetime.datetime.now().isoformat(timespec="seconds"))
        if history.diverged:
            self.model.metadata["diverged"] = history.diverged
        if report is not None:
            self.model.metadata.update(accuracy=report["accuracy"],
                                       macro_precision=report["macro_precision"],
                                       test_loss=report["loss"])
        with sigint_deferred():
            fault_point("save")
            if self.path is None:
                self.path = save_model(self.model, self.target, overwrite=self.overwrite)
            else:
                save_model(self.model, self.path, overwrite=True)
            self.epochs = done
        return self.path


def train_and_save(model_string: str | None, *, epochs=1, batch_size=64, lr=1e-3,
                   lr_decay=1.0, optimizer="adam", seed=0, validation=None, limit=None,
                   augment=False, out=None, overwrite=False, plot=True, data=None, quiet=False,
                   show_summary=False, init=None) -> dict:
    """Train, evaluate on the test set, save weights (and the loss curve); print a report.

    Shared by ``cnn train`` and the menu. The weights are saved after every epoch (see
    :class:`EpochSaver`), so Ctrl-C at any moment, a second Ctrl-C, or a loss that becomes
    NaN keeps the last finished epoch on disk; the test accuracy is added to the file once
    scored.

    ``init``: a weights file to start from (fine-tuning); ``model_string`` may then be
    ``None``, else it must name the same model. ``data``: a keras mnist.npz, or a Kaggle
    train.csv, whose held-out validation rows are then scored instead of a test set.

    Returns:
        a dict with ``weights`` (the path written, or ``None`` if no epoch finished),
        ``history``, the test ``report`` (``None`` if not scored), ``interrupted`` (Ctrl-C
        was pressed) and ``diverged`` (the reason training stopped on a non-finite loss).
    Raises:
        UserError: bad model string or settings, a validation split as large as the
            training set, an --out path that cannot be written, no MNIST file, no model
            string and no ``init``, or an ``init`` file of another model.
    """
    for name, value in (("--lr", lr), ("--lr-decay", lr_decay)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise UserError(f"{name} {value} should be a finite number > 0")
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
    target = Path(out) if out else default_weights_path(model.model_string)
    data_file = Path(data).expanduser() if is_csv(data) else find_mnist(data)
    check_target(target, data_file)
    if show_summary:
        print_summary(model)
    x_train, y_train, x_test, y_test = load_training_data(str(data_file))
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
    scored_on = "test"
    if x_test is None:  # a Kaggle train.csv has no test split: score the held-out rows
        x_test, y_test, scored_on = x_val, y_val, "validation"
    if not quiet:
        print(f"training {model.model_string} ({model.num_params():,} parameters) on "
              f"{len(x_train):,} images, validating on {len(x_val):,}; {epochs} epoch(s), "
              f"batch {batch_size}, {optimizer} lr {lr:g}, seed {seed}"
              f"{', augmented' if augment else ''}")
    saver = EpochSaver(model, target, overwrite, {
        "batch_size": batch_size, "lr": lr, "lr_decay": lr_decay, "optimizer": optimizer,
        "seed": seed, "augment": augment, "train_images": len(x_train),
        "validation_images": len(x_val), "scored_on": scored_on,
        "data": "mnist" if scored_on == "test" else "kaggle csv"})
    if init is not None:
        saver.metadata["init"] = str(init)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    result = {"weights": None, "history": None, "report": None, "interrupted": False,
              "diverged": None}
    start = time.perf_counter()

    def on_epoch_end(history) -> bool:
        saver.save(history)
        return False  # never stop early

    try:
        # A diverging run overflows: fit checks every loss and stops with one line, so
        # NumPy's overflow warnings would only add noise.
        with np.errstate(over="ignore", invalid="ignore"):
            history = fit(model, x_train, y_train, optimizer=opt, rng=rng, epochs=epochs,
                          batch_size=batch_size, lr_decay=lr_decay, validation=(x_val, y_val),
                          augment=augment_batch if augment else None, progress=not quiet,
                          on_epoch_end=on_epoch_end)
        result.update(history=history, interrupted=history.interrupted,
                      diverged=history.diverged)
        done = len(history.epochs)
        if done > saver.epochs:  # Ctrl-C during the validation of a finished epoch
            saver.save(history)
        result["weights"] = saver.path
        if history.diverged:
            print(f"cnn: error: training stopped: {history.diverged}; the learning rate "
                  f"(--lr {lr:g}) is probably too high: try a tenth of it", file=sys.stderr)
        if done == 0:
            print(f"{'interrupted' if history.interrupted else 'stopped'}: no epoch finished, "
                  "nothing was saved", file=sys.stderr)
            return result
        if history.interrupted:
            print(f"interrupted: keeping the weights of the last finished epoch ({done} of "
                  f"{epochs}), saved in {saver.path}", file=sys.stderr)
            fault_point("interrupted")
        fault_point("test")
        report = evaluate(model, x_test, y_test)
        saver.metadata["total_seconds"] = time.perf_counter() - start
        saver.save(history, report)
        result["report"] = report
    except KeyboardInterrupt:  # while scoring the test set, saving, or a second Ctrl-C
        result["interrupted"] = True
        if saver.path is None:
            print("interrupted: no epoch finished, nothing was saved", file=sys.stderr)
        else:
            print(f"interrupted: the weights of epoch {saver.epochs} are saved in "
                  f"{saver.path} (no test accuracy recorded)", file=sys.stderr)
        result["weights"] = saver.path
        return result
    total = saver.metadata["total_seconds"]
    written = saver.path
    curve = None
    if plot:
        curve = plot_loss_curve(history.epochs, written.with_name(written.stem + "_loss.png"),
                                title=f"{model.model_string}, batch {batch_size}, seed {seed}",
                                overwrite=overwrite)
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
    return result


def run(args) -> int:
    result = train_and_save(
        args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        lr_decay=args.lr_decay, optimizer=args.optimizer, seed=args.seed,
        validation=args.validation, limit=args.limit, augment=args.augment, out=args.out,
        overwrite=args.overwrite, plot=not args.no_plot, data=args.data, quiet=args.quiet,
        init=args.init)
    if result["diverged"]:
        return 1
    if result["interrupted"]:
        return 130
    return 0
