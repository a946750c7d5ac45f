"""Ensembles: several trained networks read the same digits and decide together.

Two rules, as in committees of CNNs for MNIST (Ciresan, Meier & Schmidhuber, "Multi-column
Deep Neural Networks for Image Classification", CVPR 2012) and in scikit-learn's
``VotingClassifier``:

- ``mean`` (soft voting, the default): average the members' softmax probabilities, take the
  argmax;
- ``vote`` (hard voting): each member votes for its top-1 digit, the most votes win, a tie is
  broken by the mean probability of the tied digits.

An :class:`Ensemble` is used like a single network: ``logits`` / ``predict_proba`` /
``predict``, ``model_string``, ``metadata``, ``input_shape``, ``num_classes``. Its ``logits``
are the log of the mean probabilities, so ``softmax(logits)`` gives them back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from cnn import progress
from cnn.errors import UserError
from cnn.files import regular_file

METHODS = ("mean", "vote")
INPUT_SHAPE = (28, 28, 1)


def combine(probabilities: np.ndarray, method: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Combine members' softmax outputs.

    Args:
        probabilities: float ``(M, N, C)``, member ``m``'s probabilities for image ``n``.
        method: ``"mean"`` or ``"vote"`` (see the module docstring).
    Returns:
        ``(digits, mean)``: int64 ``(N,)`` decisions and float32 ``(N, C)`` mean probabilities.
    Raises:
        ValueError: an unknown method or an array that is not 3-D.
    """
    if method not in METHODS:
        raise ValueError(f"ensemble method {method!r} should be one of {', '.join(METHODS)}")
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 3:
        raise ValueError(f"probabilities of shape (M, N, C) expected, got {probabilities.shape}")
    mean = probabilities.mean(axis=0, dtype=np.float64).astype(np.float32)
    if method == "mean":
        return mean.argmax(axis=1), mean
    _, n, c = probabilities.shape
    votes = np.zeros((n, c), np.int64)
    np.add.at(votes, (np.arange(n)[None, :], probabilities.argmax(axis=2)), 1)
    # Most votes first; among the tied digits, the highest mean probability (mean < 1 < a vote).
    return (votes + mean).argmax(axis=1), mean


class Ensemble:
    """A committee of trained networks that take the same input and give the same classes.

    Args:
        members: ``(name, model)`` pairs, e.g. a weights file's path and its loaded network;
            each model has ``predict_proba(x)``, ``model_string``, ``input_shape``.
        method: ``"mean"`` (average the softmax probabilities) or ``"vote"`` (majority vote,
            ties broken by the mean).
        classes: the members' number of classes: 10 (digit classifiers) or 11 (not-a-digit
            gates, :mod:`cnn.tasks.reject`, whose class-10 probabilities are then averaged).
    Raises:
        UserError: fewer than one member, an unknown method, ``classes`` other than 10 or 11,
            or a member whose input is not 28 x 28 x 1 or whose output is not ``classes``
            classes (naming the member).
    """

    def __init__(self, members: Sequence[tuple[str, object]], method: str = "mean",
                 classes: int = 10) -> None:
        if not members:
            raise UserError("an ensemble needs at least one weights file")
        if classes not in (10, 11):
            raise UserError(f"an ensemble's members give 10 classes (digits) or 11 (gates), "
                            f"not {classes}")
        if method not in METHODS:
            raise UserError(f"--ensemble {method!r} should be one of {', '.join(METHODS)}")
        for name, model in members:
            if tuple(model.input_shape) != INPUT_SHAPE or model.num_classes != classes:
                raise UserError(
                    f"'{name}' ({model.model_string}) takes input {tuple(model.input_shape)} "
                    f"and gives {model.num_classes} classes; ensemble members must take "
                    f"28 x 28 x 1 MNIST images (x/255) and give {classes} classes")
        self.members = list(members)
        self.method = method
        self.input_shape = INPUT_SHAPE
        self.num_classes = classes
        self.model_string = f"ensemble of {len(self.members)} ({method}): " + " | ".join(
            model.model_string for _, model in self.members)
        self.metadata = {"ensemble": method,
                         "members": [{"weights": str(name), "model": model.model_string,
                                      "accuracy": getattr(model, "metadata", {}).get("accuracy")}
                                     for name, model in self.members]}

    @property
    def names(self) -> list[str]:
        """The members' names (weights file paths), in order."""
        return [str(name) for name, _ in self.members]

    def member_probabilities(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Every member's softmax probabilities: float32 ``(M, N, C)`` (``C`` = ``classes``),
        one pass per member.

        Args:
            x: images ``(N, 28, 28)`` or ``(N, 28, 28, 1)``; uint8 in [0, 255] or float in [0, 1].
        """
        members = progress.bar(self.members, desc="ensemble members", unit="model")
        return np.stack([model.predict_proba(x, batch_size) for _, model in members])

    def predict_proba(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Mean softmax probabilities of the members, float32 ``(N, C)`` (both methods)."""
        return combine(self.member_probabilities(x, batch_size), self.method)[1]

    def logits(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """``log`` of the mean probabilities, float32 ``(N, C)``: ``softmax(logits)`` equals
        :meth:`predict_proba`."""
        return np.log(np.maximum(self.predict_proba(x, batch_size), np.float32(1e-30)))

    def predict(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """The ensemble's digits, int64 ``(N,)``, by its method."""
        return combine(self.member_probabilities(x, batch_size), self.method)[0]


def expand_weights(paths: Sequence[str | Path]) -> list[Path]:
    """Files as given, folders expanded to their ``*.npz`` files (sorted by name), and the word
    ``shipped`` (when no file or folder has that name) to the shipped default and ensemble
    members of the manifest (:func:`cnn.io.catalog.shipped_files`).

    Raises:
        UserError: a path that does not exist or is not a regular file (a FIFO, a device), a
            folder without ``.npz`` files, or ``shipped`` in a copy of cnn without its weights.
    """
    from cnn.io.catalog import SHIPPED_KEYWORD, shipped_files

    files: list[Path] = []
    for given in paths:
        path = Path(given).expanduser()
        if str(given) == SHIPPED_KEYWORD and not os.path.lexists(path):
            shipped = shipped_files("default", "member")
            if not shipped:
                raise UserError("--weights shipped: this copy of cnn has no shipped weights "
                                "(weight_output/shipped.json); reinstall cnn or pass files")
            files.extend(shipped)
        elif path.is_dir():
            found = sorted(p for p in path.glob("*.npz") if p.is_file())
            if not found:
                raise UserError(f"folder '{path}' has no .npz weights files")
            files.extend(found)
        elif path.exists() or path.is_symlink():  # a special file is refused, never opened
            files.append(regular_file(path, "weights file"))
        else:
            raise UserError(f"weights file '{path}' not found; pass .npz files or folders")
    unique: list[Path] = []
    for f in files:
        if f.resolve() not in [u.resolve() for u in unique]:
            unique.append(f)
    return unique


def decide(model, x: np.ndarray, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Digits and probabilities from a single network or an ensemble, one call for both.

    Args:
        model: a network with ``predict_proba``, or an :class:`Ensemble`.
        x: images ``(N, 28, 28)``; uint8 in [0, 255] or float in [0, 1].
    Returns:
        ``(digits, probabilities)``: int64 ``(N,)`` (an ensemble's rule: mean or vote) and
        float32 ``(N, 10)`` (an ensemble's mean probabilities).
    """
    if isinstance(model, Ensemble):
        return combine(model.member_probabilities(x, batch_size), model.method)
    probabilities = model.predict_proba(x, batch_size)
    return probabilities.argmax(axis=1), probabilities
