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
from ..model import Sequential, default_weights_path, save_model
from ..optim import make_optimizer
from ..plots import plot_loss_curve
from ..train import evaluate, fit
from .common import (add_folder_training_options, percent, positive_float, positive_int,
                     seed_int)
from .summary import print_summary

EXAMPLE = """example:
  cnn train --model "C(8,5)-P2-C(16,3)-P2-FC128-FC10" --epochs 1
  cnn train --model "C(8,5)-P2-FC10" --epochs 1 --limit 2000 --out /tmp/tiny.npz
  cnn train --model "C(8,5)-P2-C(16,3)-P2-FC128-FC10" --data train.csv --out /tmp/kaggle.npz
  cnn train --model "C(8,5)-P2-FC10" --data mnist --data custom_test_images/ --repeat 20 --limit 5000 --out /tmp/mine.npz
  cnn train --init "weight_output/weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz" --freeze 2 --data mnist --data custom_test_images/ --repeat 10 --lr 1e-4 --limit 5000 --out /tmp/tuned.npz
"""


def add_parser(subparsers, common) -> None:
    p = subparsers.add_parser(
        "train", parents=[common], help="train a CNN from a model string on MNIST",
        description="Train a network on the MNIST training set (a validation split held out), "
        "report top-1 accuracy on the 10,000 test images and save the weights.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, metavar="STR",
                   help='model string, e.g. "C(8,5)-P2-C(16,3)-P2-FC128-FC10" (end with FC11 '
                        'when a --data folder has a noise class); optional with --init')
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
    add_folder_training_options(p)
    p.set_defaults(run=run)


def default_validation(train_images: int) -> int:
    """Training images held out for validation by default: the last 5,000, or a tenth of a
    smaller training set (e.g. 200 of ``--limit 2000``)."""
    return min(5000, train_images // 10)


def train_and_save(model_string: str | None, *, epochs=1, batch_size=64, lr=1e-3, lr_decay=1.0,
                   optimizer="adam", seed=0, validation=None, limit=None, augment=False,
                   out=None, overwrite=False, plot=True, data=None, quiet=False,
                   show_summary=False, init=None, freeze=0, repeat=1) -> dict:
    """Train, evaluate on the test set, save weights (and the loss curve); print a report.

    Shared by ``cnn train`` and the menu. ``data`` is one ``--data`` value or a list of them
    (MNIST, a Kaggle CSV, folders of images: :func:`cnn.folders.load_training_sources`);
    ``init`` a weights file to fine-tune, ``freeze`` the tokens kept fixed, ``repeat`` how often
    folder images appear per epoch (:mod:`cnn.finetune`). Returns a dict with ``weights`` (the
    path written, or ``None`` if no epoch finished), ``history``, and the test ``report``.

    Raises:
        UserError: bad model string, a validation split as large as the training set, no
            MNIST file, an unusable folder, or a model whose classes do not fit the data.
    """
    from ..finetune import trainable_layers
    from ..folders import load_training_sources

    rng = np.random.default_rng(seed)
    if isinstance(data, (str, Path)):
        data = [str(data)]
    td = load_training_sources(data, limit=limit, validation=validation, repeat=repeat,
                               seed=seed, report=print)
    model = build_model(model_string, init, td.num_classes, rng)
    if show_summary:
        print_summary(model)
    x_train, y_train, x_val, y_val = td.x_train, td.y_train, td.x_val, td.y_val
    x_test, y_test = td.x_test, td.y_test
    if not quiet:
        print(f"training {model.model_string} ({model.num_params():,} parameters) on "
              f"{len(x_train):,} images, validating on {len(x_val):,}; {epochs} epoch(s), "
              f"batch {batch_size}, {optimizer} lr {lr:g}, seed {seed}"
              f"{', augmented' if augment else ''}")
    opt = make_optimizer(optimizer, trainable_layers(model, freeze), lr)
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
        "data": ", ".join(td.sources), "classes": td.num_classes,
        "init": str(init) if init else None, "freeze": freeze,
    }
    if td.folder_val is not None:
        folder_report = evaluate(model, *td.folder_val)
        model.metadata["folder_validation_accuracy"] = folder_report["accuracy"]
    target = Path(out) if out else default_weights_path(model.model_string)
    written = save_model(model, target, overwrite=overwrite)
    curve = None
    if plot:
        curve = plot_loss_curve(history.epochs, written.with_name(written.stem + "_loss.png"),
                                title=f"{model.model_string}, batch {batch_size}, seed {seed}")
    print(f"{scored_on} top-1 accuracy {percent(report['accuracy'])} ({report['errors']} "
          f"errors of {report['n']:,}), macro precision {percent(report['macro_precision'])}")
    if td.folder_val is not None and scored_on == "test":
        print(f"held-out folder images: top-1 {percent(folder_report['accuracy'])} "
              f"({folder_report['errors']} errors of {folder_report['n']:,})")
    print(f"final mean loss: train {history.epochs[-1]['loss']:.4f}, {scored_on} "
          f"{report['loss']:.4f}")
    print(f"{history.seconds_per_epoch:.1f} s/epoch, total {total:.1f} s for {done} epoch(s)")
    if written != target:
        print(f"{target} exists (use --overwrite to replace it); saved to a new name instead")
    print(f"weights saved to {written}")
    if curve:
        print(f"loss curve saved to {curve}")
    return {"weights": written, "history": history, "report": report}


def build_model(model_string: str | None, init, num_classes: int, rng):
    """The network to train: a fresh one from ``model_string`` (its last FC must give
    ``num_classes``), or the one in the weights file ``init`` (widened to ``num_classes`` when
    the data adds a noise class; ``model_string``, if given, must be the file's).

    Raises:
        UserError: neither given, a mismatch, or a file that does not load.
    """
    from ..finetune import with_classes
    from ..model import load_model

    if init is None:
        if not model_string:
            raise UserError("give --model STR (a model string) or --init WEIGHTS (a weights file "
                            "to fine-tune)")
        return Sequential(model_string, rng, num_classes=num_classes)
    model = load_model(init, num_classes=None)
    if model_string and Sequential(model_string, num_classes=None).model_string != \
            model.model_string:
        raise UserError(f"--model {model_string} differs from the --init file's model "
                        f"{model.model_string}; drop --model when fine-tuning")
    return with_classes(model, num_classes, rng)


def run(args) -> int:
    result = train_and_save(
        args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        lr_decay=args.lr_decay, optimizer=args.optimizer, seed=args.seed,
        validation=args.validation, limit=args.limit, augment=args.augment, out=args.out,
        overwrite=args.overwrite, plot=not args.no_plot, data=args.data, quiet=args.quiet,
        init=args.init, freeze=args.freeze, repeat=args.repeat)
    if result["history"].interrupted:
        return 130
    return 0
