"""Figures written as PNG files: loss curves, confusion matrices, misclassified digits.

All use matplotlib's non-interactive Agg backend and are written atomically (a temporary file
renamed into place), so an interrupted run never leaves a broken PNG behind.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .model import atomic_write  # noqa: E402


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Render ``fig`` to PNG at ``path`` atomically and close it; returns the path."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    atomic_write(path, lambda f: f.write(buffer.getvalue()))
    return Path(path)


def plot_loss_curve(epochs: list[dict], path: str | os.PathLike, title: str = "") -> Path:
    """Mean softmax cross-entropy per epoch, train and (when recorded) validation.

    Args:
        epochs: :class:`cnn.train.History` ``epochs`` entries (``epoch``, ``loss``,
            ``val_loss``).
        path: PNG to write.
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    x = [e["epoch"] for e in epochs]
    ax.plot(x, [e["loss"] for e in epochs], "o-", label="train")
    val = [e["val_loss"] for e in epochs]
    if any(v is not None for v in val):
        ax.plot(x, val, "s-", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean loss (softmax cross-entropy, nats)")
    ax.set_xticks(x)
    ax.set_title(title, fontsize=9)
    ax.legend()
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_confusion_matrix(cm: np.ndarray, path: str | os.PathLike, title: str = "") -> Path:
    """Heat map of a ``(K, K)`` confusion matrix (rows: true class, columns: predicted)."""
    cm = np.asarray(cm)
    k = cm.shape[0]
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(np.log1p(cm), cmap="Blues")
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label="log(1 + count)")
    return save_figure(fig, path)


def plot_misclassified(images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                       path: str | os.PathLike, max_images: int = 64) -> Path:
    """Grid of up to ``max_images`` misclassified images, each titled ``true -> predicted``.

    Args:
        images: ``(N, 28, 28)`` images of the whole set; y_true, y_pred: ``(N,)``.
    """
    wrong = np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred))[:max_images]
    cols = 8
    rows = max(1, -(-len(wrong) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.2, rows * 1.35), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(images[i], cmap="gray")
        ax.set_title(f"{y_true[i]} -> {y_pred[i]}", fontsize=8, color="crimson")
    fig.suptitle(f"misclassified: {len(np.flatnonzero(y_true != y_pred))} "
                 f"(first {len(wrong)} shown, true -> predicted)", fontsize=9)
    return save_figure(fig, path)
