"""Pen strokes traced from MNIST images, for drawing them on the web page in a real browser.

A digit is thresholded, thinned to a one-pixel skeleton (Zhang & Suen, "A fast parallel
algorithm for thinning digital patterns", CACM 27(3), 1984) and the skeleton is walked into
polylines: from each end point (one neighbour) first, then around what is left (loops, as in
a 0 or an 8). Replayed with a pen of MNIST's stroke width, the strokes redraw the digit.
"""

from __future__ import annotations

import numpy as np

NEIGHBOURS = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]  # P2..P9


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a boolean ``(H, W)`` mask; returns the boolean skeleton."""
    img = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = [np.roll(np.roll(img, -dy, 0), -dx, 1) for dy, dx in NEIGHBOURS]
            b = sum(p)
            a = sum((p[i] == 0) & (p[(i + 1) % 8] == 1) for i in range(8))
            p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
            if step == 0:
                c, d = p2 * p4 * p6, p4 * p6 * p8
            else:
                c, d = p2 * p4 * p8, p2 * p6 * p8
            remove = (img == 1) & (b >= 2) & (b <= 6) & (a == 1) & (c == 0) & (d == 0)
            if remove.any():
                img[remove] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def trace(skeleton: np.ndarray) -> list[list[tuple[int, int]]]:
    """Walk a skeleton's pixels into polylines of ``(row, col)``, each pixel visited once."""
    left = {tuple(p) for p in np.argwhere(skeleton)}

    def around(p):
        return [(p[0] + dy, p[1] + dx) for dy, dx in NEIGHBOURS if (p[0] + dy, p[1] + dx) in left]

    paths = []
    while left:
        ends = [p for p in left if len(around(p)) <= 1]
        start = min(ends) if ends else min(left)
        path = [start]
        left.discard(start)
        while True:
            nxt = around(path[-1])
            if not nxt:
                break
            # Prefer 4-neighbours (straight steps), then diagonals: a smoother line.
            nxt.sort(key=lambda q: abs(q[0] - path[-1][0]) + abs(q[1] - path[-1][1]))
            path.append(nxt[0])
            left.discard(nxt[0])
        paths.append(path)
    return paths


def digit_strokes(image: np.ndarray, size: float, threshold: float = 0.35,
                  min_pixels: int = 2) -> list[list[tuple[float, float]]]:
    """Strokes that redraw an MNIST digit on a ``size`` x ``size`` canvas.

    Args:
        image: ``(28, 28)`` uint8 MNIST digit (white on black).
        size: the canvas's side in CSS pixels.
        threshold: ink above this fraction of the full range is part of the stroke.
        min_pixels: shorter skeleton pieces (specks) are dropped.
    Returns:
        polylines of ``(x, y)`` canvas coordinates (pixel centres scaled by ``size / 28``).
    """
    mask = image.astype(np.float32) / 255.0 > threshold
    scale = size / image.shape[0]
    return [[((c + 0.5) * scale, (r + 0.5) * scale) for r, c in path]
            for path in trace(thin(mask)) if len(path) >= min_pixels]
