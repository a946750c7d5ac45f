"""Stage 5, MNIST normalization: the digit's grey-level ink, strokes brought to MNIST's width,
fitted in a 20 x 20 box and centred by its centre of mass in a 28 x 28 field (LeCun et al.
1998, Section III.A).
"""

from __future__ import annotations

import cv2
import numpy as np

from cnn.errors import UserError
from cnn.vision.measures import percentile

OUT_SIZE = 28  # MNIST field, pixels


BOX_SIZE = 20  # MNIST size-normalisation box, pixels


CENTRE = (14.0, 14.0)  # (row, col) centre of mass of MNIST test digits, measured


STROKE_WIDTH = 2.25  # median MNIST stroke width at 28 x 28, 2 * area / perimeter of pixels > 0.5


_SUB = 4  # sub-pixel steps per output pixel when placing the digit


_CROP_SIDE = 3 * (_SUB * BOX_SIZE - (_SUB - 1))  # a crop restroked reduced: long side (3 x 77)


_MIN_REDUCED_CHANGE = 4  # ... and its stroke change at least this (px), so rounding it is minor


def _stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary ``mask`` in pixels: 2 * area / perimeter (1 for a 1-px line)."""
    m = mask.astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * float(m.sum()) / max(perimeter, 1.0)


def _normalise(ink: np.ndarray, selected: np.ndarray, box: tuple[int, int, int, int],
               thresh: float, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Crop, level, re-stroke, size-normalise and centre the digit; float32 (28, 28) in [0, 1].

    ``ink`` float32 (H, W); ``selected`` bool, the digit's pixels, covering ``ink`` from
    ``origin`` (row, column) on (all of it by default; the number reader passes a line's crop);
    ``box`` (x0, y0, x1, y1) in ``selected``'s pixels. The ink around the box (its anti-aliased
    edges, room for a thickened stroke) is read from ``ink`` even beyond ``selected``.
    """
    x0, y0, x1, y1 = box
    long_side = max(x1 - x0, y1 - y0)
    scale = BOX_SIZE / long_side
    width = _stroke_width(selected[y0:y1, x0:x1])
    # Pixels to add (> 0) or remove (< 0) from the stroke width at working resolution, so the
    # stroke at 28 x 28 lands near the MNIST median. Only far-off strokes are changed; erosion
    # is limited (no stroke may break up) and only done on digits shrunk at least 2x.
    wanted = STROKE_WIDTH / scale
    change = 0
    if width < 0.6 * wanted:
        change = int(round(wanted - width))
    elif width > 1.6 * wanted and scale <= 0.5:
        change = -int(round(min(width - 1.3 * wanted, 0.5 * width)))
        change = change if change <= -2 else 0
    pad = abs(change) + 2
    h, w = ink.shape
    oy, ox = origin
    ya, yb = max(0, oy + y0 - pad), min(h, oy + y1 + pad)
    xa, xb = max(0, ox + x0 - pad), min(w, ox + x1 + pad)
    if (oy, ox) == (0, 0) and selected.shape == ink.shape:
        window = selected[ya:yb, xa:xb]
    else:  # the selection's part of the window; beyond it, nothing is selected
        window = np.zeros((yb - ya, xb - xa), bool)
        sy0, sy1 = max(ya, oy), min(yb, oy + selected.shape[0])
        sx0, sx1 = max(xa, ox), min(xb, ox + selected.shape[1])
        window[sy0 - ya:sy1 - ya, sx0 - xa:sx1 - xa] = selected[sy0 - oy:sy1 - oy,
                                                                sx0 - ox:sx1 - ox]

    # Keep the ink of the digit's components (grown by 2 px for the anti-aliased edges).
    keep = cv2.dilate(window.astype(np.uint8), np.ones((5, 5), np.uint8))
    crop = ink[ya:yb, xa:xb] * keep
    level = float(percentile(crop[window], 75))
    floor = 0.5 * thresh
    crop = np.clip((crop - floor) / max(level - floor, 1e-6), 0.0, 1.0).astype(np.float32)

    # A wide stroke change (thickening or thinning) on a crop far larger than the fine grid
    # it ends on (long side 77 px, below) is done after a reduction by a whole factor k, to
    # about three times that (k x k block means, as area averaging gives; 1.5-3 times 77), the
    # change still at least _MIN_REDUCED_CHANGE px: the ellipse's cost grows with its area
    # times the crop's (a thin pen stroke on a 300-px digit took milliseconds at full size, a
    # marker's thinning on a phone photo's 600-px digit 6 ms). A thinning only on crops over
    # twice that size: a 240-px thick digit thinned at half size drifted (0.899 against 0.9
    # correlation with its clean digit in tests/test_preprocess.py).
    k = min(int(np.ceil(max(crop.shape) / _CROP_SIDE)), abs(change) // _MIN_REDUCED_CHANGE)
    if change < 0 and max(crop.shape) <= 2 * _CROP_SIDE:
        k = 1
    if k > 1:
        ch, cw = crop.shape
        crop = cv2.copyMakeBorder(crop, 0, -ch % k, 0, -cw % k, cv2.BORDER_CONSTANT, value=0)
        crop = cv2.resize(crop, (crop.shape[1] // k, crop.shape[0] // k),
                          interpolation=cv2.INTER_AREA)
        change = int(round(change / k))
    if change:
        crop = _restroke(crop, change)
    rows = np.flatnonzero(crop.max(axis=1) > 0.05)
    cols = np.flatnonzero(crop.max(axis=0) > 0.05)
    if rows.size == 0:
        raise UserError("no digit found: the ink vanished when thinned; try a bolder image")
    crop = crop[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]

    # Resize at 4x the output resolution, long side 4 * 20 - 3 = 77 fine pixels: placed at
    # any quarter-pixel offset it still spans at most 20 output pixels. 4 x 4 block means then
    # give the 28 x 28 image, so centring costs no interpolation blur (the block mean is the
    # anti-aliasing).
    ch, cw = crop.shape
    scale = (_SUB * BOX_SIZE - (_SUB - 1)) / max(ch, cw)
    size = (max(1, round(cw * scale)), max(1, round(ch * scale)))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
    digit = np.clip(cv2.resize(crop, size, interpolation=interp), 0.0, 1.0)
    if float(digit.max()) <= 0.0:
        raise UserError("no digit found: the ink vanished when resized")

    # Stroke cores at ~1.0 like MNIST (where ~45 % of the ink pixels are > 0.9): a gain of at
    # most 2 lifts blurred strokes (e.g. from a tiny image) so ~40 % of the ink reaches 1.0.
    # It is applied before centring, as clipping moves the centre of mass.
    out = _place(digit)
    peak = float(out.max())
    out /= peak
    core = float(percentile(out[out > 0.05], 60))
    gain = 1.0 / (peak * max(core, 0.5))
    out = _place(np.clip(digit * gain, 0.0, 1.0))
    return np.clip(out / float(out.max()), 0.0, 1.0).astype(np.float32)


def _restroke(crop: np.ndarray, change: int) -> np.ndarray:
    """``crop`` (float32 (H, W) in [0, 1]) with its strokes thickened (``change`` > 0) or
    thinned (< 0) by ``|change|`` px: a grey-level dilation or erosion by an ellipse of side
    ``|change| + 1``, computed at 8-bit precision; float32 (H, W) in [0, 1].

    A dilation (maximum) or erosion (minimum) commutes with rounding to 8 bits, so the result
    is the exact one rounded to the nearest 1/255, the precision of the photo the ink came
    from; OpenCV's 8-bit morphology runs about 2.3 times as fast as its float32 one on these
    kernels (10-20 px ellipses on 100-450 px crops; the photo path's largest single stage).
    """
    size = abs(change) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    levels = (crop * 255.0 + 0.5).astype(np.uint8)
    moved = (cv2.dilate if change > 0 else cv2.erode)(levels, kernel)
    return moved.astype(np.float32) / np.float32(255.0)


def _place(digit: np.ndarray) -> np.ndarray:
    """28 x 28 block means of ``digit`` (fine pixels, 4 per output pixel) placed so that its
    centre of mass lands within 1/8 output pixel of CENTRE (ink pushed off the field is lost);
    float32 (28, 28)."""
    # Output pixel i spans fine pixels 4i .. 4i+3, so its centre is fine 4i + 1.5.
    h, w = digit.shape
    total = float(digit.sum(dtype=np.float64))
    cy = float(digit.sum(axis=1, dtype=np.float64) @ np.arange(h)) / total
    cx = float(digit.sum(axis=0, dtype=np.float64) @ np.arange(w)) / total
    top = int(round(_SUB * CENTRE[0] + (_SUB - 1) / 2 - cy))
    left = int(round(_SUB * CENTRE[1] + (_SUB - 1) / 2 - cx))
    n = _SUB * OUT_SIZE
    fine = np.zeros((n, n), np.float32)
    ya, xa = max(0, top), max(0, left)
    yb, xb = min(n, top + h), min(n, left + w)
    fine[ya:yb, xa:xb] = digit[ya - top:yb - top, xa - left:xb - left]
    # block means: area averaging by the integer factor 4 is the 4 x 4 mean (to rounding)
    return cv2.resize(fine, (OUT_SIZE, OUT_SIZE), interpolation=cv2.INTER_AREA)
