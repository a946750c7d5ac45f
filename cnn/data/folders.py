"""Labelled folders of the user's own images as a data set, and training sets mixed from sources.

A folder data set is laid out in one of two ways (both may be mixed in one folder):

- class folders ``DIR/0/ .. DIR/9/`` holding images of that digit, and optionally
  ``DIR/noise/`` or ``DIR/10/`` holding images that are NOT digits (the "noise" class of the
  folder-per-class playbook, label :data:`NOISE_CLASS` = 10);
- image files directly in ``DIR`` named ``<digit>_anything.<ext>`` (``7_a.jpg``), and
  ``noise_anything.<ext>`` or ``10_anything.<ext>`` for non-digits.

Every image goes through :func:`cnn.vision.preprocess_file`, the same pipeline as
``cnn predict``, once: the 28 x 28 results are kept in memory (an array for the whole set, and a
per-process cache keyed by path, size and modification time), so epochs never re-read photos.
A file that cannot be read or holds no ink is listed and skipped; a digit class without any
usable image is reported before training starts.

:func:`load_training_sources` mixes sources (``--data mnist --data DIR``) so that fine-tuning on
a few images of one's own handwriting does not forget MNIST.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnn import progress
from cnn.errors import UserError

NOISE_CLASS = 10
NOISE_NAMES = ("noise", "10")
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm",
                    ".ppm", ".pbm", ".jp2"}
_LABEL_IN_NAME = re.compile(r"^(\d|10|noise)(?=[_\-\s.])", re.IGNORECASE)
_CACHE: dict[tuple, np.ndarray] = {}
LISTED = 20  # skipped files named one per line; the rest are counted


def class_name(label: int) -> str:
    """``'0'`` .. ``'9'`` for digits, ``'noise'`` for :data:`NOISE_CLASS`."""
    return "noise" if label == NOISE_CLASS else str(label)


def _label_of_folder(name: str) -> int | None:
    if name.lower() in NOISE_NAMES:
        return NOISE_CLASS
    return int(name) if name.isdigit() and len(name) == 1 else None


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def labelled_files(folder: str | os.PathLike) -> tuple[list[tuple[Path, int]], list[tuple[str, str]]]:
    """The images of a folder data set and their labels, by the layouts in the module docstring.

    Returns:
        ``(files, skipped)``: ``(path, label)`` pairs sorted by path, label in 0..10; and
        ``(path, reason)`` for image files whose name or folder gives no label.
    Raises:
        UserError: ``folder`` is not a folder.
    """
    root = Path(os.path.expanduser(os.fspath(folder)))
    if not root.is_dir():
        raise UserError(f"'{folder}' is not a folder; give a folder with class folders 0..9 "
                        "(and noise/) or files named <digit>_<anything>.png")
    files: list[tuple[Path, int]] = []
    skipped: list[tuple[str, str]] = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir():
            label = _label_of_folder(entry.name)
            if label is None:
                continue
            files.extend((p, label) for p in sorted(entry.iterdir()) if _is_image(p))
        elif _is_image(entry):
            match = _LABEL_IN_NAME.match(entry.name)
            if match is None:
                skipped.append((str(entry), "no label: name it <digit>_<anything> or "
                                            "noise_<anything>, or put it in a class folder"))
                continue
            text = match.group(1).lower()
            files.append((entry, NOISE_CLASS if text in NOISE_NAMES else int(text)))
    return files, skipped


def without_path(message: str, path) -> str:
    """A one-line error about ``path`` with the quoted path taken out (it is shown beside)."""
    quoted = f"'{path}'"
    if message.startswith(quoted + ": "):
        return message[len(quoted) + 2:]
    return message.replace(" " + quoted, "")


def preprocess_cached(path: Path, polarity: str = "auto", choose=None) -> np.ndarray:
    """:func:`cnn.vision.preprocess_file`, remembered for the process by (path, size,
    modification time, polarity), so a file is read and transformed once. With ``choose`` (a
    network's scorer of candidate segmentations, as ``cnn predict`` passes:
    :func:`cnn.tasks.predict.confidence_of`) the result depends on the network and is not
    remembered.

    Returns:
        float32 ``(28, 28)`` in [0, 1], white digit on black.
    Raises:
        UserError: as ``preprocess_file`` (unreadable file, no ink found).
    """
    from cnn.vision.pipeline import preprocess_file

    if choose is not None:
        return preprocess_file(path, polarity, choose=choose)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, polarity)
    if key not in _CACHE:
        _CACHE[key] = preprocess_file(path, polarity)
    return _CACHE[key]


@dataclass
class FolderSet:
    """A labelled folder turned into MNIST-form arrays.

    Attributes:
        images: uint8 ``(N, 28, 28)``, white on black, as MNIST.
        labels: uint8 ``(N,)``, 0..9, or :data:`NOISE_CLASS` (10) for non-digits.
        files: the N source paths, in order.
        skipped: ``(path, reason)`` of every file left out (unreadable, no ink, no label).
        root: the folder.
    """

    images: np.ndarray
    labels: np.ndarray
    files: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    root: str = ""

    def counts(self) -> dict[int, int]:
        """Usable images per label present (0..10)."""
        values, n = np.unique(self.labels, return_counts=True)
        return {int(v): int(c) for v, c in zip(values, n)}

    @property
    def has_noise(self) -> bool:
        """Whether the set holds non-digit images (label 10)."""
        return bool((self.labels == NOISE_CLASS).any())

    def describe(self) -> list[str]:
        """Lines for the user: images per class, digit classes with none, files skipped."""
        counts = self.counts()
        parts = [f"{class_name(k)}: {counts[k]}" for k in sorted(counts)]
        lines = [f"{self.root}: {len(self.labels)} images ({', '.join(parts)})"]
        missing = [str(d) for d in range(10) if d not in counts]
        if missing:
            lines.append(f"{self.root}: no usable image of digit(s) {', '.join(missing)}")
        if self.skipped:
            lines.append(f"{self.root}: skipped {len(self.skipped)} file(s):")
            lines.extend(f"  {path}: {reason}" for path, reason in self.skipped[:LISTED])
            if len(self.skipped) > LISTED:
                lines.append(f"  ... and {len(self.skipped) - LISTED} more")
        return lines


def load_folder(folder: str | os.PathLike, polarity: str = "auto", choose=None) -> FolderSet:
    """Read and preprocess every labelled image of a folder data set.

    Args:
        folder: see the module docstring for the layouts.
        polarity: as ``cnn predict --polarity``.
        choose: the scorer ``cnn predict`` gives the preprocessing (``cnn evaluate`` passes
            the evaluated network's, so a folder is scored on the inputs predict would see);
            ``None``: the pipeline's own choice (training, where no trained network exists).
    Returns:
        a :class:`FolderSet`; files that fail are in ``skipped`` with the one-line reason.
    Raises:
        UserError: not a folder, or no usable labelled image in it at all.
    """
    files, skipped = labelled_files(folder)
    images, labels, used = [], [], []
    for path, label in progress.bar(files, desc=f"reading {Path(folder).name}/", unit="image"):
        try:
            images.append(preprocess_cached(path, polarity, choose))
        except UserError as e:
            skipped.append((str(path), without_path(str(e), path)))
            continue
        labels.append(label)
        used.append(str(path))
    if not images:
        reasons = f"; {len(skipped)} file(s) skipped, e.g. {skipped[0][0]}: {skipped[0][1]}" \
            if skipped else ""
        raise UserError(f"folder '{folder}' has no usable labelled image (class folders 0..9 "
                        f"and noise/, or files named <digit>_<anything>.png){reasons}")
    array = np.clip(np.round(np.stack(images) * 255), 0, 255).astype(np.uint8)
    return FolderSet(array, np.asarray(labels, np.uint8), used, skipped, str(folder))


def stratified_holdout(labels: np.ndarray, fraction: float, rng: np.random.Generator
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into training and held-out parts, ``fraction`` of every class held out
    (rounded down, so a class of 9 images keeps all 9 for training).

    Returns:
        ``(train_idx, held_idx)``: int64 index arrays, each sorted.
    """
    held = []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        k = int(len(idx) * fraction)
        held.extend(rng.permutation(idx)[:k])
    held = np.sort(np.asarray(held, np.int64))
    train = np.setdiff1d(np.arange(len(labels)), held)
    return train, held




def is_folder(value: str | None) -> bool:
    """Whether a ``--data`` value names a folder data set."""
    # os.path.expanduser leaves "~nosuchuser/..." as it is (Path.expanduser raises)
    return bool(value) and value != "mnist" and Path(os.path.expanduser(value)).is_dir()
