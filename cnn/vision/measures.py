"""Small image measures that several stages share: a robust spread, a border ring, a fast
median filter, and the weakest contrast counted as ink.
"""

from __future__ import annotations

import cv2
import numpy as np

_MEDIAN = 0.25  # side of the square of the median background, fraction of the short side
_MIN_CONTRAST = 0.08  # weakest ink-to-background difference counted as ink, fraction of full range


def _robust_sigma(values: np.ndarray) -> float:
    """Standard deviation of the bulk of ``values`` from the median absolute deviation."""
    flat = values.ravel()
    if flat.size > 50_000:
        flat = flat[:: flat.size // 50_000]
    med = np.median(flat)
    return float(1.4826 * np.median(np.abs(flat - med)))


def _border_ring(image: np.ndarray, width: int) -> np.ndarray:
    """The pixels of the ``width``-px strips along the four sides of ``image`` (H, W), as one
    flat array of its dtype (corners counted twice)."""
    return np.concatenate([image[:width].ravel(), image[-width:].ravel(),
                           image[:, :width].ravel(), image[:, -width:].ravel()])


def _median_filter(image: np.ndarray, long_side: int) -> tuple[np.ndarray, np.ndarray]:
    """``(small, median)``: ``image`` (H, W) float32 in [0, 1] reduced (``cv2.INTER_AREA``,
    never enlarged) to a long side of at most ``long_side`` px, and its median filter over a
    square of ``_MEDIAN`` of the reduced short side (odd, >= 3 px), float32 in [0, 1] at 8-bit
    precision, same shape.

    A median filter removes every structure narrower than half its square, dark or light, and
    keeps a step edge where it is (Huang, Yang & Tang, "A fast two-dimensional median
    filtering algorithm", IEEE Trans. ASSP 27(1), 1979; OpenCV's 8-bit ``medianBlur``).
    """
    h, w = image.shape
    factor = min(1.0, long_side / max(h, w))
    small = image
    if factor < 1:
        small = cv2.resize(image, (max(2, round(w * factor)), max(2, round(h * factor))),
                           interpolation=cv2.INTER_AREA)
    grey8 = np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8)
    size = max(3, int(_MEDIAN * min(small.shape))) | 1
    return small, cv2.medianBlur(grey8, size).astype(np.float32) / 255.0
