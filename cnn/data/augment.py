"""Training-time data augmentation for MNIST digits, vectorized over the batch.

Each image gets its own random affine transform (rotation, scaling, shift) applied with one
``scipy.ndimage.map_coordinates`` call for the whole batch, and a random share of images get
their strokes thickened or thinned by a 2 x 2 grey dilation or erosion. These are the
distortions of Simard, Steinkraus & Platt, "Best Practices for Convolutional Neural Networks
Applied to Visual Document Analysis" (ICDAR 2003), minus the elastic part; they make a model
trained on MNIST robust to how real photos and drawings differ from it (placement, slant, size,
pen width).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def augment_batch(images: np.ndarray, rng: np.random.Generator, max_shift: float = 2.0,
                  max_rotation: float = 12.0, scale: tuple[float, float] = (0.88, 1.12),
                  stroke_prob: float = 0.3) -> np.ndarray:
    """Randomly shift, rotate, scale and re-stroke a batch of digits.

    Args:
        images: uint8 ``(N, H, W)``, white digit on black.
        rng: the run's generator.
        max_shift: largest shift in pixels, drawn uniformly in ``[-max_shift, max_shift]`` per
            axis.
        max_rotation: largest rotation in degrees (uniform, either direction).
        scale: range of the uniform zoom factor.
        stroke_prob: probability that an image is dilated (half of those) or thinned (the
            other half: the mean of the image and its 2 x 2 grey-level erosion).
    Returns:
        uint8 array of the same shape; bilinear interpolation, zero (black) outside.
    """
    n, h, w = images.shape
    theta = np.deg2rad(rng.uniform(-max_rotation, max_rotation, n))[:, None, None]
    zoom = rng.uniform(*scale, n)[:, None, None]
    shift = rng.uniform(-max_shift, max_shift, (2, n))[:, :, None, None]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # Inverse map: for every output pixel, where to sample in the input.
    dy, dx = yy - cy - shift[0], xx - cx - shift[1]
    cos, sin = np.cos(theta), np.sin(theta)
    src_y = (cos * dy + sin * dx) / zoom + cy
    src_x = (-sin * dy + cos * dx) / zoom + cx
    src_n = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None], src_y.shape)
    out = ndimage.map_coordinates(images.astype(np.float32), [src_n, src_y, src_x],
                                  order=1, mode="constant", cval=0.0)
    pick = rng.random(n)
    thick = pick < stroke_prob / 2
    thin = (pick >= stroke_prob / 2) & (pick < stroke_prob)
    if thick.any():
        out[thick] = ndimage.grey_dilation(out[thick], size=(1, 2, 2))
    if thin.any():
        # a full 2 x 2 erosion erases thin digits; half of it thins strokes by ~half a pixel
        out[thin] = 0.5 * (out[thin] + ndimage.grey_erosion(out[thin], size=(1, 2, 2)))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
