"""``cnn train``: train a network from a model string on MNIST and save its weights."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

from cnn.cli.commands.common import (
    add_folder_training_options,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    seed_int,
)
from cnn.cli.commands.summary import print_summary
from cnn.cli.commands.train_output import EpochSaver, check_target
from cnn.data.augment import AUGMENT_RECIPES, AUGMENTATIONS
from cnn.data.kaggle import is_csv
from cnn.data.mnist import find_mnist
from cnn.errors import UserError
from cnn.faults import fault_point
from cnn.io.weights import default_weights_path, load_model
from cnn.nn.activation import Dropout
from cnn.nn.model import Sequential
from cnn.nn.optim import make_optimizer
from cnn.nn.schedule import (
    DEFAULT_LR,
    DEFAULT_SCHEDULE,
    KINDS,
    STEP_LR,
    SWA_LR,
    make_schedule,
    resolve_recipe,
    swa_cycles,
)
from cnn.tasks.finetune import lineage
from cnn.tasks.metrics import percent
from cnn.tasks.plots import plot_loss_curve
from cnn.tasks.swa import WeightAverage, update_batchnorm
from cnn.tasks.train import evaluate, fit

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
  cnn train --model "C(8,5)-P2-FC10" --data mnist --data custom_test_images/ --repeat 20 --limit 5000 --out /tmp/mine.npz
  cnn train --init "weight_output/weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz" --data custom_test_images/ --epochs 5 --out /tmp/mine_tuned.npz
  cnn train --init "weight_output/weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz" --freeze 2 --data mnist --data custom_test_images/ --repeat 10 --lr 1e-4 --limit 5000 --out /tmp/tuned.npz
"""


def add_parser(subparsers, common) -> None:
    p = subparsers.add_parser(
        "train", parents=[common], help="train a CNN from a model string on MNIST",
        description="Train a network on the MNIST training set (a validation split held out), "
        "report top-1 accuracy on the 10,000 test images and save the weights.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", metavar="STR",
                   help='model string, e.g. "C(8,5)-P2-C(16,3)-P2-FC128-FC10" or '
                   '"C(16,3,same)-BN-R(16)-R(32,s2)-GAP-FC10" (tokens below; end with FC11 '
                   'when a --data folder has a noise class); optional with --init')
    p.add_argument("--epochs", type=positive_int, default=1, help="passes over the data (1)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="images per step (64)")
    p.add_argument("--lr", type=positive_float, default=None,
                   help=f"learning rate, the peak of onecycle ({DEFAULT_LR:g} with the default "
                   f"onecycle, {STEP_LR:g} with another schedule)")
    p.add_argument("--lr-decay", type=positive_float, default=None,
                   help="multiply the learning rate by this after each epoch (1.0: constant); "
                   "giving it selects --schedule step")
    p.add_argument("--schedule", choices=list(KINDS), default=None,
                   help="learning-rate schedule: step (--lr times --lr-decay per epoch), cosine "
                   "(warm-up, then a half cosine to 0) or onecycle (PyTorch's OneCycleLR with "
                   f"--lr as the peak) ({DEFAULT_SCHEDULE}; step when --lr-decay is given)")
    p.add_argument("--warmup", type=non_negative_float, default=0.0, metavar="EPOCHS",
                   help="linear warm-up of --schedule cosine, in epochs (may be a fraction) (0)")
    p.add_argument("--label-smoothing", type=non_negative_float, default=0.0, metavar="EPS",
                   help="label smoothing of the softmax cross-entropy, 0 <= EPS < 1 (0)")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam",
                   help="adam, or sgd with momentum 0.9 (adam)")
    p.add_argument("--seed", type=seed_int, default=0, help="random seed (0)")
    p.add_argument("--validation", type=int, default=None, metavar="N",
                   help="training images held out for validation, the last N "
                   "(5000, or a tenth of --limit when that is smaller)")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="train on the first N training images only (quick runs)")
    p.add_argument("--augment", nargs="?", const="basic", default=None,
                   choices=["basic", "robust"],
                   help="augment every batch: 'basic' (the default with a bare --augment): "
                   "random shifts, rotations, scaling and stroke widths; 'robust': also elastic "
                   "distortion, shear, hollow strokes, background offsets, contrast, gamma, "
                   "blur, pixelation, lines, specks and noise (docs/robustness.md)")
    p.add_argument("--photos", type=int, default=0, metavar="N",
                   help="add N training digits rendered as photos and read back through the "
                   "photo pipeline of cnn predict (about 10 ms each; 0: none)")
    p.add_argument("--calibrate", action="store_true",
                   help="after training, fit a softmax temperature on the validation split (as "
                   "is, augmented, and rendered as photos) and fold it into the last layer, so "
                   "confidences are calibrated (docs/robustness.md; needs --validation > 0)")
    p.add_argument("--swa", type=non_negative_int, default=0, metavar="K",
                   help="stochastic weight averaging: the last K of --epochs are cycles of "
                   "--swa-lr (each epoch a cosine down to a hundredth of it), their end "
                   "weights are averaged and the batch-norm statistics computed again "
                   "(Izmailov et al. 2018; docs/robustness.md) (0: off)")
    p.add_argument("--swa-lr", type=positive_float, default=None, metavar="LR",
                   help=f"peak learning rate of the --swa cycles ({SWA_LR:g})")
    p.add_argument("--out", metavar="PATH", default=None,
                   help="weights file (default weight_output/weight_details<model>.npz)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing weights file instead of choosing a new name")
    p.add_argument("--no-plot", action="store_true", help="do not write the loss-curve PNG")
    add_folder_training_options(p)
    p.set_defaults(run=run)




def train_and_save(model_string: str | None, *, epochs=1, batch_size=64, lr=None,
                   lr_decay=None, optimizer="adam", seed=0, validation=None, limit=None,
                   augment=False, out=None, overwrite=False, plot=True, data=None, quiet=False,
                   show_summary=False, init=None, freeze=0, repeat=1, schedule=None,
                   warmup=0.0, label_smoothing=0.0, photos=0,
                   calibrate=False, swa=0, swa_lr=None) -> dict:
    """Train, evaluate on the test set, save weights (and the loss curve); print a report.

    Shared by ``cnn train`` and the menu. The weights are saved after every epoch (see
    :class:`EpochSaver`), so Ctrl-C at any moment, a second Ctrl-C, or a loss that becomes
    NaN keeps the last finished epoch on disk; the test accuracy is added to the file once
    scored.

    ``data``: one ``--data`` value or a list of them (MNIST, a keras mnist.npz, a Kaggle
    train.csv, folders of images: :func:`cnn.data.sources.load_training_sources`); without a test
    split (a CSV, folders alone) the held-out validation images are scored instead.
    ``init``: a weights file to start from (fine-tuning); ``model_string`` may then be
    ``None``, else it must name the same model; a 10-class ``init`` model is widened to 11
    classes when the data has a noise class (:func:`cnn.tasks.finetune.with_classes`).
    ``freeze``: the first tokens kept fixed (:func:`cnn.tasks.finetune.trainable_parameters`);
    ``repeat``: how often each folder image appears per epoch. ``schedule``, ``warmup``
    (epochs) and ``label_smoothing``: the learning-rate schedule
    (:func:`cnn.nn.schedule.make_schedule`) and the loss's label smoothing. ``lr``,
    ``augment``: ``False``/``None`` (none), ``True`` or ``"basic"``
    (:func:`cnn.data.augment.augment_batch`) or ``"robust"``
    (:func:`cnn.data.augment.robust_batch`). ``photos``: that many training digits (drawn
    with the run's generator) are rendered as photos and read back through the photo pipeline
    (:func:`cnn.data.photo_render.render_through_pipeline`) and added to the training set.
    ``calibrate``: fit and fold a softmax temperature on the validation split after training
    (:func:`cnn.tasks.calibrate.calibrate_model`).
    ``swa``: the last that many of ``epochs`` are stochastic weight averaging
    (:mod:`cnn.tasks.swa`): one-epoch cycles of a cosine from ``swa_lr`` (``None``:
    :data:`cnn.nn.schedule.SWA_LR`) down to a hundredth (:func:`cnn.nn.schedule.swa_cycles`),
    the weights at the end of each averaged, then the batch-norm statistics recomputed with one
    pass over the training images (through ``augment`` when given); the averaged weights are
    saved at once, then calibrated, scored and saved again (until then the file holds the last
    finished epoch). With ``init``, the file started from is named in the metadata
    (:func:`cnn.tasks.finetune.lineage`: ``init``, ``init_sha256``, ``init_recipe``).
    ``lr_decay`` and ``schedule`` left ``None`` take the default recipe
    (:func:`cnn.nn.schedule.resolve_recipe`: onecycle up to 3e-3, or step at 1e-3 when only a
    decay is given).

    Returns:
        a dict with ``weights`` (the path written, or ``None`` if no epoch finished),
        ``history``, the test ``report`` (``None`` if not scored), ``interrupted`` (Ctrl-C
        was pressed) and ``diverged`` (the reason training stopped on a non-finite loss).
    Raises:
        UserError: bad model string or settings, a validation split as large as the
            training set, an --out path that cannot be written, no MNIST file, an unusable
            folder, no model string and no ``init``, an ``init`` file of another model, or a
            model whose classes do not fit the data.
    """
    from cnn.data.folders import is_folder
    from cnn.data.sources import load_training_sources
    from cnn.tasks.finetune import trainable_parameters

    augment = {True: "basic", False: None}.get(augment, augment)
    if augment not in (None, *AUGMENTATIONS):
        raise UserError(f"--augment {augment}: choose one of {', '.join(AUGMENTATIONS)}")
    values = [str(data)] if isinstance(data, (str, Path)) else list(data or [])
    safe = (init is not None and values and all(is_folder(v) for v in values)
            and lr_decay is None and not label_smoothing and optimizer == "adam")
    if safe and (swa or swa_lr is not None):
        raise UserError("--swa is not part of the safe fine-tuning recipe of --init on "
                        "folders alone; add --data mnist to train on MNIST too, or leave "
                        "--swa and --swa-lr out")
    if not (isinstance(swa, int) and 0 <= swa <= epochs):
        raise UserError(f"--swa {swa} should be a whole number of epochs from 0 to --epochs "
                        f"({epochs}): the last that many epochs are averaged")
    if swa_lr is not None and not swa:
        raise UserError("--swa-lr sets the learning rate of the --swa cycles: give --swa K too, "
                        "or leave --swa-lr out")
    if swa and swa == epochs and (lr is not None or lr_decay is not None or schedule is not None
                                  or warmup):
        raise UserError(f"with --swa {swa} equal to --epochs every epoch is an SWA cycle, so "
                        "--lr, --lr-decay, --schedule and --warmup have nothing to set: give "
                        "--swa-lr, or more --epochs than --swa")
    swa_lr = SWA_LR if swa_lr is None else swa_lr
    if not (isinstance(swa_lr, (int, float)) and math.isfinite(swa_lr) and swa_lr > 0):
        raise UserError(f"--swa-lr {swa_lr} should be a finite number > 0")
    if safe:  # --init on folders alone: the safe fine-tuning recipe (cnn.tasks.safe_finetune)
        from cnn.cli.commands.train_init import finetune_and_save

        return finetune_and_save(model_string, init, values, epochs=epochs, lr=lr,
                                 schedule=schedule, freeze=freeze, repeat=repeat,
                                 batch_size=batch_size, seed=seed, augment=augment, out=out,
                                 overwrite=overwrite, quiet=quiet, check_target=check_target)
    repeat = 1 if repeat is None else repeat
    if not (isinstance(photos, int) and photos >= 0):
        raise UserError(f"--photos {photos} should be a whole number >= 0")
    lr, lr_decay, schedule = resolve_recipe(lr, lr_decay, schedule)
    for name, value in (("--lr", lr), ("--lr-decay", lr_decay)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise UserError(f"{name} {value} should be a finite number > 0")
    if not (math.isfinite(warmup) and warmup >= 0):
        raise UserError(f"--warmup {warmup} should be a number of epochs >= 0")
    if not 0 <= label_smoothing < 1:
        raise UserError(f"--label-smoothing {label_smoothing} should be >= 0 and < 1")
    if schedule not in KINDS:
        raise UserError(f"--schedule {schedule}: choose one of {', '.join(KINDS)}")
    if init is None and model_string is None:
        raise UserError("give --model STR (a model string) or --init WEIGHTS (a weights file "
                        "to start from)")
    rng = np.random.default_rng(seed)
    if isinstance(data, (str, Path)):
        data = [str(data)]
    files = [v for v in (data or ["mnist"]) if not is_folder(v)]
    data_file = None
    if files:
        value = files[0]
        data_file = (Path(value).expanduser() if is_csv(value)
                     else find_mnist(None if value == "mnist" else value))
    if out:  # refused before the data is read; the default name needs the model
        check_target(Path(out), data_file)
    td = load_training_sources(data, limit=limit, validation=validation, repeat=repeat,
                               seed=seed, report=print)
    model = build_model(model_string, init, td.num_classes, rng)
    target = Path(out) if out else default_weights_path(model.model_string)
    check_target(target, data_file)
    from cnn.nn.memory import check_training_batch

    check_training_batch(model, batch_size)  # before the first line about training
    if show_summary:
        print_summary(model)
    x_train, y_train, x_val, y_val = td.x_train, td.y_train, td.x_val, td.y_val
    x_test, y_test = td.x_test, td.y_test
    if calibrate and not len(x_val):
        raise UserError("--calibrate needs held-out images: give --validation N (e.g. 5000)")
    if photos:
        from cnn.data.photo_render import render_through_pipeline

        pick = rng.choice(len(x_train), size=min(photos, len(x_train)), replace=False)
        if not quiet:
            print(f"rendering {len(pick):,} training digits as photos and reading them back "
                  "through the photo pipeline")
        x_train = np.concatenate([x_train, render_through_pipeline(x_train[pick], rng)])
        y_train = np.concatenate([y_train, y_train[pick]])
    scored_on = "test"
    if x_test is None:  # a Kaggle train.csv or folders alone: score the held-out images
        x_test, y_test, scored_on = x_val, y_val, "validation"
    if not quiet:
        print(f"training {model.model_string} ({model.num_params():,} parameters) on "
              f"{len(x_train):,} images, validating on {len(x_val):,}; {epochs} epoch(s), "
              f"batch {batch_size}, {optimizer} "
              f"{describe_run_schedule(lr, schedule, lr_decay, warmup, epochs, swa, swa_lr)}"
              f"{f', label smoothing {label_smoothing:g}' if label_smoothing else ''}, seed {seed}"
              f"{f', augmented ({augment})' if augment else ''}"
              f"{f', {len(pick):,} of them photo renderings' if photos else ''}")
    saver = EpochSaver(model, target, overwrite, {
        "batch_size": batch_size, "lr": lr, "lr_decay": lr_decay, "optimizer": optimizer,
        "schedule": schedule, "warmup_epochs": warmup, "label_smoothing": label_smoothing,
        "seed": seed, "augment": augment or False, "train_images": len(x_train),
        "photo_renderings": photos,
        "validation_images": len(x_val), "scored_on": scored_on,
        "data": ", ".join(td.sources), "classes": td.num_classes})
    if augment:
        saver.metadata["augment_recipe"] = AUGMENT_RECIPES[augment]
    if init is not None:
        saver.metadata.update(freeze=freeze, **lineage(model.metadata, init))
    if swa:  # the averaging itself is recorded once done (swa_run)
        saver.metadata.update(swa_lr=swa_lr)
        if swa == epochs:  # no schedule of its own ran: only the SWA cycles
            saver.metadata.update(lr=swa_lr, schedule="swa", warmup_epochs=0.0)
    opt = make_optimizer(optimizer, trainable_parameters(model, freeze), lr)
    result = {"weights": None, "history": None, "report": None, "interrupted": False,
              "diverged": None}
    steps_per_epoch = -(-len(x_train) // batch_size)
    lr_at = None
    if epochs > swa:
        lr_at = make_schedule(schedule, lr, steps_per_epoch, epochs - swa, decay=lr_decay,
                              warmup=round(warmup * steps_per_epoch))
    if swa:
        lr_at = swa_cycles(lr_at, (epochs - swa) * steps_per_epoch, steps_per_epoch, swa_lr)
    average = WeightAverage()
    start = time.perf_counter()

    def on_epoch_end(history) -> bool:
        saver.save(history)
        if len(history.epochs) > epochs - swa:
            average.update(model)
        return False  # never stop early

    try:
        # A diverging run overflows: fit checks every loss and stops with one line, so
        # NumPy's overflow warnings would only add noise.
        with np.errstate(over="ignore", invalid="ignore"):
            history = fit(model, x_train, y_train, optimizer=opt, rng=rng, epochs=epochs,
                          batch_size=batch_size, schedule=lr_at,
                          label_smoothing=label_smoothing, validation=(x_val, y_val),
                          augment=AUGMENTATIONS[augment] if augment else None,
                          progress=not quiet,
                          on_epoch_end=on_epoch_end)
        result.update(history=history, interrupted=history.interrupted,
                      diverged=history.diverged)
        done = len(history.epochs)
        if done > saver.epochs:  # Ctrl-C during the validation of a finished epoch
            saver.save(history)
        result["weights"] = saver.path
        if history.diverged:
            option = (f"--swa-lr {swa_lr:g}" if swa and len(history.epochs) >= epochs - swa
                      else f"--lr {lr:g}")  # the epoch that diverged was an SWA cycle
            print(f"cnn: error: training stopped: {history.diverged}; the learning rate "
                  f"({option}) is probably too high: try a tenth of it", file=sys.stderr)
        if done == 0:
            print(f"{'interrupted' if history.interrupted else 'stopped'}: no epoch finished, "
                  "nothing was saved", file=sys.stderr)
            return result
        if history.interrupted:
            print(f"interrupted: keeping the weights of the last finished epoch ({done} of "
                  f"{epochs}), saved in {saver.path}", file=sys.stderr)
            fault_point("interrupted")
        if average.count and not history.interrupted and not history.diverged:
            swa_run(model, average, x_train, rng, AUGMENTATIONS[augment] if augment else None,
                    batch_size, saver.metadata, quiet)
            saver.save(history)  # the averaged weights reach the disk before anything else
        if calibrate and not history.interrupted and not history.diverged:
            calibrate_run(model, saver.metadata, x_val, y_val, rng,
                          AUGMENTATIONS[augment] if augment else None, quiet)
        fault_point("test")
        report = evaluate(model, x_test, y_test)
        saver.metadata["total_seconds"] = time.perf_counter() - start
        if td.folder_val is not None:
            folder_report = evaluate(model, *td.folder_val)
            saver.metadata["folder_validation_accuracy"] = folder_report["accuracy"]
        saver.save(history, report)
        result["report"] = report
    except KeyboardInterrupt:  # while scoring the test set, saving, or a second Ctrl-C
        result["interrupted"] = True
        if saver.path is None:
            print("interrupted: no epoch finished, nothing was saved", file=sys.stderr)
        else:
            what = (f"the averaged weights of the last {saver.metadata['swa_epochs']} epochs"
                    if saver.averaged else f"the weights of epoch {saver.epochs}")
            print(f"interrupted: {what} are saved in {saver.path} (no test accuracy "
                  "recorded)", file=sys.stderr)
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
    return result


def swa_run(model, average, x_train, rng, augment, batch_size: int, metadata: dict,
            quiet: bool) -> None:
    """``--swa``: put the averaged weights in ``model`` and recompute its batch-norm statistics
    (:mod:`cnn.tasks.swa`, batches of the run's size); record it in ``metadata``
    (``swa``, ``swa_epochs``) and, unless ``quiet``, tell the user."""
    average.apply(model)
    fault_point("swa")
    batches = update_batchnorm(model, x_train, rng, augment, max(2, batch_size))
    metadata["swa_epochs"] = average.count
    metadata["swa"] = (f"stochastic weight averaging (Izmailov et al. 2018) of the weights at "
                       f"the end of the last {average.count} epoch(s)")
    if batches:
        metadata["swa"] += (f"; batch-norm statistics recomputed over {len(x_train):,} "
                            f"training images{' (augmented)' if augment else ''}")
    if not quiet:
        print(f"averaged the weights of the last {average.count} epoch(s)"
              f"{'; batch-norm statistics recomputed' if batches else ''}")


def calibrate_run(model, metadata: dict, x_val, y_val, rng, augment, quiet: bool) -> None:
    """``--calibrate``: :func:`cnn.tasks.calibrate.calibrate` (a temperature for a 10-class
    model, the not-a-digit threshold for an 11-class gate); what was fitted goes into
    ``metadata``."""
    from cnn.tasks.calibrate import CALIBRATION_KEYS, GATE_CALIBRATION_KEYS, calibrate

    line = calibrate(model, x_val, y_val, rng, augment)
    metadata.update({k: model.metadata[k] for k in (*CALIBRATION_KEYS, *GATE_CALIBRATION_KEYS)
                     if k in model.metadata})
    if not quiet:
        print(line)


def describe_run_schedule(lr: float, schedule: str, lr_decay: float, warmup: float,
                          epochs: int, swa: int, swa_lr: float) -> str:
    """The learning rates of a run in a few words, e.g. ``'lr 0.003 (onecycle)'`` or
    ``'lr 0.003 (cosine), then 4 SWA cycles of lr 0.001'``."""
    cycles = f"{swa} SWA cycle{'s' if swa != 1 else ''} of lr {swa_lr:g}"
    if swa == epochs:
        return cycles
    main = f"lr {lr:g} ({describe_schedule(schedule, lr_decay, warmup)})"
    return f"{main}, then {cycles}" if swa else main


def describe_schedule(schedule: str, lr_decay: float, warmup: float) -> str:
    """A few words for the run's opening line, e.g. ``'cosine, 1 warm-up epoch'``."""
    if schedule == "step":
        return "constant" if lr_decay == 1 else f"x{lr_decay:g} per epoch"
    if schedule == "cosine" and warmup:
        return f"cosine, {warmup:g} warm-up epoch{'s' if warmup != 1 else ''}"
    return schedule


def build_model(model_string: str | None, init, num_classes: int, rng):
    """The network to train: a fresh one from ``model_string`` (its last FC must give
    ``num_classes``), or the one in the weights file ``init`` (widened to ``num_classes`` when
    the data adds a noise class; ``model_string``, if given, must be the file's).

    Raises:
        UserError: neither given, a mismatch, or a file that does not load.
    """
    from cnn.tasks.finetune import with_classes

    if init is None:
        if not model_string:
            raise UserError("give --model STR (a model string) or --init WEIGHTS (a weights file "
                            "to start from)")
        return Sequential(model_string, rng, num_classes=num_classes)
    model = load_model(init, num_classes=None)
    if model_string is not None and Sequential(model_string, num_classes=None).model_string != \
            model.model_string:
        raise UserError(f"--model {model_string} differs from the --init file's model "
                        f"{model.model_string}; leave --model out or give the same one")
    model = with_classes(model, num_classes, rng)
    for drop in (m for m in model.modules() if isinstance(m, Dropout)):
        drop.rng = rng  # the run's generator draws the dropout masks
    model.train()
    return model


def run(args) -> int:
    result = train_and_save(
        args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        lr_decay=args.lr_decay, optimizer=args.optimizer, seed=args.seed,
        validation=args.validation, limit=args.limit, augment=args.augment, out=args.out,
        overwrite=args.overwrite, plot=not args.no_plot, data=args.data, quiet=args.quiet,
        init=args.init, freeze=args.freeze, repeat=args.repeat, schedule=args.schedule,
        warmup=args.warmup, label_smoothing=args.label_smoothing, photos=args.photos,
        calibrate=args.calibrate, swa=args.swa, swa_lr=args.swa_lr)
    if result["diverged"]:
        return 1
    if result["interrupted"]:
        return 130
    return 0
