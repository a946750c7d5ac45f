"""``cnn train --init WEIGHTS --data DIR``: fine-tune a trained network on a folder, safely.

When every ``--data`` is a folder, ``cnn train --init`` takes the fine-tuning recipe of
:mod:`cnn.tasks.safe_finetune` (a low learning rate, MNIST replayed in every batch when the
MNIST file is found, batch norm frozen, the best epoch on the folder's held-out tenth), prints
it on its first line, and after training prints the accuracy before and after on the folder's
held-out images and on MNIST's test set, so a user sees at once whether the model learned the
folder or forgot MNIST.
"""

from __future__ import annotations

import datetime
import sys
import time
from pathlib import Path

import numpy as np

from cnn.errors import UserError
from cnn.files import sigint_deferred
from cnn.tasks.finetune import started_from
from cnn.tasks.metrics import percent


def _mnist_or_none(report):
    """MNIST ``((x_train, y_train), (x_test, y_test))`` when the file is on this machine
    ($CNN_MNIST_DATA or the keras cache; never a download), else ``None`` (reported)."""
    from cnn.data.mnist import find_mnist, load_mnist

    try:
        path = find_mnist(None, download=False)
    except UserError as e:
        report(f"no MNIST replay and no MNIST score: {e}")
        return None, None
    return load_mnist(path, download=False), path


def _load_folders(folders: list[str], seed: int):
    """The folders' images split as ``cnn train`` splits them (a tenth of every class held
    out, :func:`cnn.data.sources.load_training_sources`' generator), but without its demand
    for a held-out split: a class with fewer than 10 images holds nothing out, and with no
    held-out image at all ``folder_val`` is ``None`` (the last epoch is kept).

    Returns:
        a :class:`cnn.data.sources.TrainingData` with no MNIST part.
    Raises:
        UserError: a folder that cannot be read (:func:`cnn.data.folders.load_folder`).
    """
    from cnn.data.folders import NOISE_CLASS, load_folder, stratified_holdout
    from cnn.data.sources import TrainingData

    rng = np.random.default_rng(seed)
    train, held, sources = [], [], []
    for value in folders:
        fs = load_folder(value, "auto")
        for line in fs.describe():
            print(line)
        tr, ho = stratified_holdout(fs.labels, 0.1, rng)
        train.append((fs.images[tr], fs.labels[tr]))
        held.append((fs.images[ho], fs.labels[ho]))
        sources.append(f"folder {value} ({len(tr)} training, {len(ho)} held out)")
    x = np.concatenate([p[0] for p in train])
    y = np.concatenate([p[1] for p in train]).astype(np.uint8)
    hx = np.concatenate([p[0] for p in held])
    hy = np.concatenate([p[1] for p in held]).astype(np.uint8)
    val = (hx, hy) if len(hy) else None
    classes = 11 if (y == NOISE_CLASS).any() else 10
    return TrainingData(x, y, hx, hy, None, None, val, sources, classes)


def _score(model, images, labels) -> tuple[dict, str]:
    """:func:`cnn.tasks.train.evaluate`'s report and its words, e.g. ``'99.67% (9,967 of
    10,000)'``."""
    from cnn.tasks.train import evaluate

    r = evaluate(model, images, labels)
    return r, f"{percent(r['accuracy'])} ({r['n'] - r['errors']:,} of {r['n']:,})"


def finetune_and_save(model_string, init, folders, *, epochs=1, lr=None, schedule=None,
                      freeze=0, repeat=None, batch_size=None, seed=0, augment=None, out=None,
                      overwrite=False, quiet=False, check_target=None) -> dict:
    """Fine-tune the network in ``init`` on folder data sets and save it (see the module
    docstring); the options given replace the recipe's (``lr``, ``schedule`` cosine or
    constant, ``freeze``, ``repeat``, ``batch_size``; ``augment``: ``None`` or the name of an
    augmentation in :data:`cnn.data.augment.AUGMENTATIONS`). ``check_target``: ``train``'s check
    of the --out path (``f(path)``, raises UserError), passed in so that this module imports
    nothing from ``cnn.cli.commands.train``, its caller.

    Returns:
        ``cnn.cli.commands.train.train_and_save``'s dict: ``weights``, ``history`` (a
        :class:`cnn.tasks.safe_finetune.TuneHistory`), ``report`` (MNIST test or the folder's
        held-out images, after), ``interrupted``, ``diverged``.
    Raises:
        UserError: as ``train_and_save``: an unreadable folder or weights file, a model string
            that is not the file's, an --out path that cannot be written.
    """
    from cnn.io.weights import default_weights_path, load_model, save_model
    from cnn.nn.model import Sequential
    from cnn.tasks.finetune import with_classes
    from cnn.tasks.safe_finetune import DEFAULT_RECIPE, finetune, with_options

    if schedule not in (None, "cosine", "constant", "step"):
        raise UserError(f"--schedule {schedule} with --init and folder data: give cosine or "
                        "step (constant)")
    recipe = with_options(DEFAULT_RECIPE, lr=lr, freeze=freeze or None, repeat=repeat,
                          batch_size=batch_size, augment=augment,
                          schedule={"step": "constant"}.get(schedule, schedule))
    check_target = check_target or (lambda path: None)
    rng = np.random.default_rng(seed)
    if out:
        check_target(Path(out))
    td = _load_folders(folders, seed)
    model = load_model(init, num_classes=None)
    parent = started_from(model.metadata, init)  # now: the file may be gone once trained
    if model_string is not None and Sequential(model_string, num_classes=None).model_string != \
            model.model_string:
        raise UserError(f"--model {model_string} differs from the --init file's model "
                        f"{model.model_string}; leave --model out or give the same one")
    model = with_classes(model, max(model.num_classes, td.num_classes), rng)
    target = Path(out) if out else default_weights_path(model.model_string)
    check_target(target)
    report = print if not quiet else (lambda line: None)
    mnist, mnist_path = _mnist_or_none(report)
    replay = mnist[0] if mnist else None
    val = td.folder_val
    print(f"fine-tuning {model.model_string} from {init} on {len(td.x_train):,} folder "
          f"images (validating on {len(val[1]) if val else 0}); up to {epochs} epoch(s) of "
          f"{recipe.repeat} pass(es), batch {recipe.batch_size}, "
          f"{recipe.describe(replay is not None, val is not None)}, seed {seed}")
    before = {}
    if val is not None:
        before["folder"] = _score(model, *val)
    if mnist:
        before["mnist"] = _score(model, *mnist[1])
    from cnn.data.augment import AUGMENTATIONS

    start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):
        history = finetune(model, td.x_train, td.y_train, recipe=recipe, epochs=epochs, rng=rng,
                           validation=val, replay=replay,
                           augment=AUGMENTATIONS[recipe.augment] if recipe.augment else None,
                           progress=not quiet)
    seconds = time.perf_counter() - start
    result = {"weights": None, "history": history, "report": None,
              "interrupted": history.interrupted, "diverged": history.diverged}
    if history.diverged:
        print(f"cnn: error: training stopped: {history.diverged}; keeping epoch "
              f"{history.best}; try a lower --lr", file=sys.stderr)
    trained = len([e for e in history.epochs if e["epoch"] > 0])
    kept = (f"kept epoch {history.best} of {trained}" if val is not None
            else f"{trained} epoch(s), no folder validation split (a class has < 10 images)")
    if history.stopped_early:
        kept += f" (stopped early: no better validation score for {recipe.patience} epochs)"
    print(f"{kept}; {seconds:.1f} s of fine-tuning")
    after = {}
    for key, what, data in (("folder", "held-out folder images", val),
                            ("mnist", "MNIST test", mnist[1] if mnist else None)):
        if data is None:
            continue
        after[key] = _score(model, *data)
        print(f"{what}: before {before[key][1]}, after {after[key][1]}")
    result["report"] = (after.get("mnist") or after.get("folder") or (None,))[0]
    model.metadata = dict(parent, finetune=vars_of(recipe),
                          epochs=trained, best_epoch=history.best, seed=seed,
                          data=", ".join(td.sources), classes=model.num_classes,
                          replay=str(mnist_path) if mnist else None,
                          date=datetime.datetime.now().isoformat(timespec="seconds"),
                          total_seconds=seconds, interrupted=history.interrupted)
    for key, name in (("folder", "folder_validation_accuracy"), ("mnist", "accuracy")):
        if key in after:
            model.metadata[name] = after[key][0]["accuracy"]
            model.metadata[f"{name}_before"] = before[key][0]["accuracy"]
    if trained == 0 and not history.best:
        print("no epoch finished, nothing was saved", file=sys.stderr)
        return result
    with sigint_deferred():
        written = save_model(model, target, overwrite=overwrite)
    if written != target:
        print(f"{target} exists (use --overwrite to replace it); saved to a new name instead")
    print(f"weights saved to {written}")
    result["weights"] = written
    return result


def vars_of(recipe) -> dict:
    """The recipe as a plain dict for the weights file's metadata."""
    from dataclasses import asdict

    return asdict(recipe)
