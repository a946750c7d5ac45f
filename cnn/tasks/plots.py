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

from cnn.files import atomic_write


def save_figure(fig, path: str | os.PathLike, dpi: int = 100, overwrite: bool = True) -> Path:
    """Render ``fig`` to PNG at ``path`` atomically and close it; returns the path written
    (with ``overwrite=False``, the next free name when ``path`` exists)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return atomic_write(path, lambda f: f.write(buffer.getvalue()), overwrite=overwrite)


def plot_loss_curve(epochs: list[dict], path: str | os.PathLike, title: str = "",
                    overwrite: bool = True) -> Path:
    """Mean softmax cross-entropy per epoch, train and (when recorded) validation.

    Args:
        epochs: :class:`cnn.tasks.train.History` ``epochs`` entries (``epoch``, ``loss``,
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
    return save_figure(fig, path, overwrite=overwrite)


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


def display_rgb(image: np.ndarray) -> np.ndarray:
    """A raw image as read by ``cnn.vision.read_image`` (grey, BGR or BGRA; uint8, uint16
    or float) as float RGB in [0, 1] for display; transparency shown over a checkerboard."""
    img = image.astype(np.float32)
    if image.dtype == np.uint16:
        img /= 65535.0
    elif image.dtype == np.uint8:
        img /= 255.0
    if img.ndim == 2:
        return np.repeat(np.clip(img, 0, 1)[..., None], 3, axis=2)
    rgb = img[..., 2::-1] if img.shape[2] >= 3 else np.repeat(img[..., :1], 3, axis=2)
    if img.shape[2] == 4:
        h, w = img.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w]
        checker = 0.75 + 0.2 * (((yy // max(h // 8, 1)) + (xx // max(w // 8, 1))) % 2)
        alpha = img[..., 3:4]
        rgb = rgb * alpha + checker[..., None] * (1 - alpha)
    return np.clip(rgb, 0, 1)


def plot_prediction(original: np.ndarray, network_input: np.ndarray, probabilities,
                    path: str | os.PathLike, title: str = "", overwrite: bool = True) -> Path:
    """Original image, the 28 x 28 network input, and a bar chart of the 10 probabilities;
    returns the path written (see :func:`save_figure` for ``overwrite``).

    Args:
        original: raw image (see :func:`display_rgb`).
        network_input: float32 ``(28, 28)`` in [0, 1].
        probabilities: 10 softmax probabilities.
    """
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), gridspec_kw={"width_ratios": [1, 1, 1.6]},
                             layout="constrained")
    axes[0].imshow(display_rgb(original))
    axes[0].set_title("original", fontsize=9)
    axes[1].imshow(network_input, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    axes[1].set_title("network input (28 x 28)", fontsize=9)
    for ax in axes[:2]:
        ax.set_xticks([])
        ax.set_yticks([])
    probs = np.asarray(probabilities)
    colors = ["tab:blue"] * len(probs)
    colors[int(probs.argmax())] = "tab:orange"
    axes[2].bar(range(len(probs)), probs, color=colors)
    axes[2].set_xticks(range(len(probs)))
    axes[2].set_ylim(0, 1)
    axes[2].set_xlabel("digit")
    axes[2].set_ylabel("softmax probability")
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path, overwrite=overwrite)
