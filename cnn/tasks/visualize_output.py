"""Pictures of feature visualizations: upscaled PNGs, contact sheets, collages, bar plots.

Images are float ``(N, 28, 28)`` in [0, 1], white strokes on black (network inputs), written
atomically (:func:`cnn.files.atomic_write`). The images come from
:func:`cnn.tasks.visualize.visualize_channels`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from cnn.errors import UserError
from cnn.files import atomic_write

UPSCALE = 10  # 28 x 28 -> 280 x 280, nearest neighbour


# ------------------------------------------------------------------- files
def upscale(image: np.ndarray, factor: int = UPSCALE) -> np.ndarray:
    """A ``(H, W)`` image in [0, 1] as uint8 ``(H * factor, W * factor)``, nearest neighbour."""
    grey = np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255), 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(grey, factor, axis=0), factor, axis=1)


def write_png(path: str | os.PathLike, pixels: np.ndarray, overwrite: bool = True) -> Path:
    """Write a uint8 grey ``(H, W)`` or BGR ``(H, W, 3)`` array as PNG, atomically; returns
    the path written (with ``overwrite=False``, the next free name when ``path`` exists)."""
    ok, data = cv2.imencode(".png", pixels)
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 arrays
        raise UserError(f"could not encode {path} as PNG")
    return atomic_write(path, lambda f: f.write(data.tobytes()), overwrite=overwrite)


def save_visualization(folder: str | os.PathLike, channel: int, image: np.ndarray) -> list[Path]:
    """Write ``feature_visualize_<channel>.png`` (280 x 280, nearest neighbour) and
    ``feature_visualize_<channel>.npy`` (float32 ``(28, 28)`` in [0, 1]) into ``folder``.

    Returns:
        the two paths written. Other files in ``folder`` are left alone.
    """
    folder = Path(folder)
    png = write_png(folder / f"feature_visualize_{channel}.png", upscale(image))
    npy = folder / f"feature_visualize_{channel}.npy"
    atomic_write(npy, lambda f: np.save(f, np.asarray(image, dtype=np.float32)))
    return [png, npy]


def contact_sheet(images: np.ndarray, labels: Sequence[str], factor: int = 4,
                  columns: int | None = None) -> np.ndarray:
    """Tile images into one grey uint8 picture, each with its label under it.

    Drawn with OpenCV rather than matplotlib so that hundreds of tiles (an FC512 layer) stay
    fast. Args: images ``(N, H, W)`` in [0, 1]; labels: N short strings; factor: nearest
    upscaling of each tile; columns: tiles per row (default ``ceil(sqrt(N))``, at most 16).
    Returns:
        uint8 ``(rows * (H * factor + 18) + 4, columns * (W * factor + 4) + 4)``, mid-grey
        gaps between tiles.
    """
    n, h, w = images.shape
    columns = columns or min(16, max(1, math.ceil(math.sqrt(n))))
    rows = math.ceil(n / columns)
    th, tw, pad, text = h * factor, w * factor, 4, 18
    sheet = np.full((rows * (th + text) + pad, columns * (tw + pad) + pad), 255, np.uint8)
    for k, (image, label) in enumerate(zip(images, labels)):
        r, c = divmod(k, columns)
        top, left = r * (th + text) + pad, c * (tw + pad) + pad
        sheet[top : top + th, left : left + tw] = upscale(image, factor)
        cv2.putText(sheet, label, (left + 2, top + th + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 0,
                    1, cv2.LINE_AA)
    return sheet


# ------------------------------------------------------------------- figures
def plot_mean_activation_bar(means: np.ndarray, path: str | os.PathLike, title: str = "",
                             highlight: Sequence[int] = (),
                             ylabel: str = "mean activation") -> Path:
    """One bar per channel: channel number on x, mean activation on y; ``highlight``ed
    channels (the top ones) in orange."""
    from cnn.tasks.plots import plt, save_figure

    means = np.asarray(means)
    colors = ["tab:blue"] * len(means)
    for k in highlight:
        colors[int(k)] = "tab:orange"
    fig, ax = plt.subplots(figsize=(max(6.0, min(16.0, 0.25 * len(means))), 3.8))
    ax.bar(range(len(means)), means, color=colors)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel("channel")
    ax.set_ylabel(ylabel)
    if len(means) <= 32:
        ax.set_xticks(range(len(means)))
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def plot_collage(network_input: np.ndarray, images: np.ndarray, channels: Sequence[int],
                 means: Sequence[float], path: str | os.PathLike, title: str = "") -> Path:
    """The input digit (greyed, a 3 x 3 grid over it) beside the channel visualizations, each
    labelled with its channel and the input's mean activation of it.

    Args:
        network_input: ``(28, 28)`` in [0, 1], the preprocessed image.
        images: ``(K, 28, 28)`` visualizations of ``channels``; means: K mean activations.
    """
    from cnn.tasks.plots import plt, save_figure

    k = len(images)
    fig, axes = plt.subplots(1, k + 1, figsize=(1.9 * (k + 1), 2.5), squeeze=False)
    axes = axes[0]
    axes[0].imshow(network_input, cmap="gray", vmin=0, vmax=1.6, interpolation="nearest")
    h, w = network_input.shape
    for frac in (1 / 3, 2 / 3):
        axes[0].axhline(frac * h - 0.5, color="tab:red", linewidth=1)
        axes[0].axvline(frac * w - 0.5, color="tab:red", linewidth=1)
    axes[0].set_title("input", fontsize=9)
    for ax, image, channel, mean in zip(axes[1:], images, channels, means):
        ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"channel {channel}\nmean act. {mean:.3g}", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def plot_feature_maps(maps: np.ndarray, path: str | os.PathLike, title: str = "") -> Path:
    """One tile per channel of a ``(H, W, C)`` activation, all on one colour scale."""
    from cnn.tasks.plots import plt, save_figure

    h, w, c = maps.shape
    columns = min(16, max(1, math.ceil(math.sqrt(c))))
    rows = math.ceil(c / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.3 * columns + 1.0, 1.4 * rows + 0.5),
                             squeeze=False, layout="constrained")
    vmax = max(float(maps.max()), 1e-6)
    vmin = min(float(maps.min()), 0.0)
    for ax in axes.flat:
        ax.axis("off")
    for k, ax in enumerate(axes.flat[:c]):
        im = ax.imshow(maps[:, :, k], cmap="viridis", vmin=vmin, vmax=vmax,
                       interpolation="nearest")
        ax.set_title(f"ch {k}", fontsize=7)
    fig.colorbar(im, ax=axes, shrink=0.8, label="activation (after ReLU)")
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)
