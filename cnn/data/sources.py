"""Where training and test images come from: MNIST, a Kaggle CSV, or a folder data set.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from cnn.data.folders import NOISE_CLASS, is_folder, load_folder, stratified_holdout
from cnn.errors import UserError


def load_training_data(data: str | None):
    """Training and test images for ``cnn train``: a keras mnist.npz's two splits, or every row
    of a Kaggle ``train.csv`` (which has no test split: ``x_test``/``y_test`` are ``None`` and
    the held-out validation rows are scored instead).

    Returns:
        ``(x_train, y_train, x_test, y_test)``: uint8 ``(N, 28, 28)`` images and ``(N,)`` labels.
    Raises:
        UserError: as :func:`cnn.data.load_mnist` or :func:`cnn.data.kaggle.load_csv`.
    """
    from cnn.data.kaggle import is_csv, load_csv

    if is_csv(data):
        return (*load_csv(data, require_labels=True), None, None)
    from cnn.data.mnist import load_mnist

    (x_train, y_train), (x_test, y_test) = load_mnist(data)
    return x_train, y_train, x_test, y_test


def load_labelled_test_set(data: str | None, choose=None):
    """Labelled images to score: MNIST's 10,000 test images, every row of a Kaggle
    ``train.csv`` when ``data`` ends in ``.csv``, or every labelled image of a folder data set
    (:func:`cnn.data.folders.load_folder`; labels may include 10, not a digit; its per-class counts
    and skipped files are printed to stderr). ``choose``: the evaluated network's scorer of
    candidate segmentations for a folder's images (as ``cnn predict`` uses it).

    Returns:
        ``(images, labels, source)``: uint8 ``(N, 28, 28)``, uint8 ``(N,)``, and a description
        naming the file read (``MNIST test set (<path>)``, the CSV, the folder).
    Raises:
        UserError: as :func:`cnn.data.load_mnist` or :func:`cnn.data.kaggle.load_csv`.
    """
    from cnn.data.folders import is_folder, load_folder
    from cnn.data.kaggle import is_csv, load_csv

    if is_csv(data):
        images, labels = load_csv(data, require_labels=True)
        return images, labels, f"{data} (every labelled row)"
    if is_folder(data):
        folder = load_folder(data, choose=choose)
        for line in folder.describe():
            print(line, file=sys.stderr)
        return folder.images, folder.labels, f"folder {data}"
    from cnn.data.mnist import find_mnist, load_mnist

    path = find_mnist(data)
    _, (images, labels) = load_mnist(path)
    return images, labels, f"MNIST test set ({path})"


def default_validation(train_images: int) -> int:
    """Training images held out for validation by default: the last 5,000, or a tenth of a
    smaller training set (e.g. 200 of ``--limit 2000``)."""
    return min(5000, train_images // 10)


@dataclass
class TrainingData:
    """What ``cnn train`` trains and scores on, mixed from one or more ``--data`` sources.

    ``x_*`` uint8 ``(N, 28, 28)``, ``y_*`` uint8 ``(N,)``. ``x_test`` is MNIST's test split
    when MNIST is a source, else ``None`` (the validation split is scored instead).
    ``folder_val`` is the held-out part of the folders, scored separately; ``sources`` describes
    every source for the weights file's metadata; ``num_classes`` is 11 when a folder has a
    noise class, else 10.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    folder_val: tuple[np.ndarray, np.ndarray] | None
    sources: list[str]
    num_classes: int


def load_training_sources(data: list[str] | None, *, limit: int | None = None,
                          validation: int | None = None, repeat: int = 1, seed: int = 0,
                          polarity: str = "auto", report=print) -> TrainingData:
    """Load and mix ``--data`` sources into one training set with held-out splits.

    Args:
        data: ``--data`` values: ``mnist`` (the MNIST file found as usual), a keras
            ``mnist.npz``, a Kaggle ``train.csv``, or a folder data set; ``None``: MNIST.
        limit: keep the first N training images of MNIST / the CSV (folders are kept whole).
        validation: images held out of MNIST / the CSV (``None``: 5,000 or a tenth of a
            smaller set); ``0`` also holds nothing out of the folders, which otherwise keep a
            tenth of every class apart.
        repeat: every folder training image appears this many times per epoch, so a few
            hundred images of one's own are not drowned by 55,000 MNIST digits.
        seed: seeds the folders' stratified hold-out.
        report: called with each line describing the folders (per-class counts, skips).
    Raises:
        UserError: a source that cannot be read, a validation split as large as the training
            set, or CSVs/npz files given twice.
    """



    values = list(data) if data else ["mnist"]
    if validation is not None and validation < 0:
        raise UserError(f"--validation {validation} must be >= 0")
    parts_train, parts_val = [], []
    x_test = y_test = None
    folder_train, folder_val = [], []
    sources = []
    rng = np.random.default_rng(seed)
    for value in values:
        if is_folder(value):
            fs = load_folder(value, polarity)
            for line in fs.describe():
                report(line)
            fraction = 0.0 if validation == 0 else 0.1
            tr, held = stratified_holdout(fs.labels, fraction, rng)
            folder_train.append((np.repeat(fs.images[tr], repeat, axis=0),
                                 np.repeat(fs.labels[tr], repeat, axis=0)))
            folder_val.append((fs.images[held], fs.labels[held]))
            sources.append(f"folder {value} ({len(tr)} training x{repeat}, {len(held)} held out)")
            continue
        if x_test is not None or parts_train:
            raise UserError(f"--data {value}: only one MNIST or CSV source can be mixed with "
                            "folders")
        x, y, xt, yt = load_training_data(None if value == "mnist" else value)
        if limit:
            x, y = x[:limit], y[:limit]
        v = default_validation(len(x)) if validation is None else validation
        if not 0 <= v < len(x):
            raise UserError(f"--validation {v} must be between 0 and the {len(x)} training "
                            "images - 1")
        split = len(x) - v
        parts_train.append((x[:split], y[:split]))
        parts_val.append((x[split:], y[split:]))
        x_test, y_test = xt, yt
        sources.append("mnist" if xt is not None else f"kaggle csv {value}")
    train = parts_train + folder_train
    x_train = np.concatenate([p[0] for p in train])
    y_train = np.concatenate([p[1] for p in train]).astype(np.uint8)
    vals = parts_val + folder_val
    x_val = np.concatenate([p[0] for p in vals])
    y_val = np.concatenate([p[1] for p in vals]).astype(np.uint8)
    fv = None
    if folder_val and sum(len(p[1]) for p in folder_val):
        fv = (np.concatenate([p[0] for p in folder_val]),
              np.concatenate([p[1] for p in folder_val]).astype(np.uint8))
    if x_test is None and not len(x_val):
        if validation == 0:
            raise UserError("--validation 0 leaves no held-out images to score (a Kaggle "
                            "train.csv or a folder has no test split); keep a validation "
                            "split or add --data mnist")
        raise UserError(f"no class of {', '.join(values)} has 10 images, so no tenth can be "
                        "held out to score the model: add images or --data mnist")
    num_classes = 11 if (y_train == NOISE_CLASS).any() else 10
    return TrainingData(x_train, y_train, x_val, y_val, x_test, y_test, fv, sources,
                        num_classes)
