"""Small image measures that several stages share: a robust spread, a border ring, a fast
median filter, medians and percentiles of whole pictures, connected components over the ink,
and the weakest contrast counted as ink.
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
    med = median(flat)
    return float(1.4826 * median(np.abs(flat - med)))


def _border_ring(image: np.ndarray, width: int) -> np.ndarray:
    """The pixels of the ``width``-px strips along the four sides of ``image`` (H, W), as one
    flat array of its dtype (corners counted twice)."""
    return np.concatenate([image[:width].ravel(), image[-width:].ravel(),
                           image[:, :width].ravel(), image[:, -width:].ravel()])


def reduced(image: np.ndarray, long_side: int) -> np.ndarray:
    """``image`` (H, W), float32, reduced by ``cv2.INTER_AREA`` (the mean over each output
    pixel's footprint) to a long side of at most ``long_side`` px (each side >= 2), never
    enlarged: the array itself when it is small enough."""
    h, w = image.shape[:2]
    factor = long_side / max(h, w)
    if factor >= 1:
        return image
    return cv2.resize(image, (max(2, round(w * factor)), max(2, round(h * factor))),
                      interpolation=cv2.INTER_AREA)


def _median_filter(image: np.ndarray, long_side: int) -> tuple[np.ndarray, np.ndarray]:
    """``(small, median)``: ``image`` (H, W) float32 in [0, 1] reduced (``cv2.INTER_AREA``,
    never enlarged) to a long side of at most ``long_side`` px, and its median filter over a
    square of ``_MEDIAN`` of the reduced short side (odd, >= 3 px), float32 in [0, 1] at 8-bit
    precision, same shape.

    A median filter removes every structure narrower than half its square, dark or light, and
    keeps a step edge where it is (Huang, Yang & Tang, "A fast two-dimensional median
    filtering algorithm", IEEE Trans. ASSP 27(1), 1979; OpenCV's 8-bit ``medianBlur``).
    """
    small = reduced(image, long_side)
    grey8 = np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8)
    size = max(3, int(_MEDIAN * min(small.shape))) | 1
    return small, cv2.medianBlur(grey8, size).astype(np.float32) / 255.0


def components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """``cv2.connectedComponentsWithStats(mask, connectivity=8)``'s ``(n, labels, stats)``,
    labelled over the bounding box of the ink only.

    Exists for: the pipeline's padded working images, where the ink is a small part of the
    picture (a canvas's digit: a fifth of its 392 x 392 pixels); labelling costs ~5 ns a
    pixel, ink or not. The box's corner is moved to even coordinates, so OpenCV's 2 x 2 block
    scan (Bolelli et al., "Spaghetti Labeling", IEEE TIP 29, 2020) meets the pixels in the
    same order and numbers the components as it does on the whole picture (checked against
    it in tests/test_vision_fast_paths.py).

    Args:
        mask: uint8 (H, W), ink non-zero.
    Returns:
        ``n`` (components + 1), int32 (H, W) ``labels`` (0: background) and int32 ``(n, 5)``
        ``stats`` (x, y, width, height, area per component, as OpenCV's); row 0, the
        background, is ``(0, 0, W, H, background area)``: OpenCV's whenever the background
        touches all four sides (the pipeline's padded pictures; no caller reads it).
        ``labels`` and ``stats`` are read-only: a mask equal to the last one labelled (values
        and dtype) gets that labelling again, the same arrays, without labelling it anew.
    """
    global _last_labelling
    last = _last_labelling  # one read: another thread may replace it meanwhile
    if last is not None and last[0].dtype == mask.dtype and np.array_equal(last[0], mask):
        return last[1]
    x, y, w, h = cv2.boundingRect(mask)
    height, width = mask.shape
    if w == 0 or (x < 2 and y < 2 and w >= width - 1 and h >= height - 1):
        n, labels, stats = cv2.connectedComponentsWithStats(mask, connectivity=8)[:3]
    else:
        x1, y1 = x + w, y + h
        x, y = x - x % 2, y - y % 2
        n, inner, stats, _ = cv2.connectedComponentsWithStats(mask[y:y1, x:x1], connectivity=8)
        labels = np.zeros(mask.shape, np.int32)
        labels[y:y1, x:x1] = inner
        stats[1:, cv2.CC_STAT_LEFT] += x
        stats[1:, cv2.CC_STAT_TOP] += y
        stats[0] = (0, 0, width, height, height * width - int(stats[1:, cv2.CC_STAT_AREA].sum()))
    labels.setflags(write=False)  # shared with the next caller of the same mask
    stats.setflags(write=False)
    _last_labelling = (mask.copy(), (n, labels, stats))
    return n, labels, stats


def among(labels: np.ndarray, values) -> np.ndarray:
    """``np.isin(labels, values)`` for integer ``labels`` (e.g. component labels): bool, the
    shape of ``labels``, True where the label is one of ``values`` (any integer sequence).

    Exists for: selecting a digit's few components in a labelled picture, which ``np.isin``
    did through a sort or a table at 0.2-0.6 ms a call on a canvas; up to 8 values are
    tested one by one (0.01-0.03 ms), more through a lookup table over the labels' range.
    """
    wanted = np.unique(np.asarray(values, dtype=np.int64).ravel())
    if wanted.size == 0 or labels.size == 0:
        return np.zeros(labels.shape, bool)
    if wanted.size <= 8:
        out = labels == wanted[0]
        for value in wanted[1:]:
            out |= labels == value
        return out
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high > 1 << 24:
        return np.isin(labels, wanted)
    table = np.zeros(high + 1, bool)
    table[wanted[(wanted >= 0) & (wanted <= high)]] = True
    return table[labels]


# The last mask labelled and its (n, labels, stats): the frame remover, the digit's candidates
# and the number reader label the same mask in turn (a picture whose frames removed nothing).
_last_labelling: tuple | None = None


_SAMPLE = 20_000  # values sampled to bracket an order statistic of a large array
_DIRECT = 2 * _SAMPLE  # arrays up to this size are partially sorted whole (below: no sample)


def order_statistics(values: np.ndarray, ranks: list[int]) -> np.ndarray:
    """The values at 0-based ``ranks`` of ``values`` sorted (no NaN): exactly
    ``np.partition(values.ravel(), ranks)[ranks]``, same dtype.

    Exists for: medians and percentiles of whole working images (a million pixels), which
    NumPy finds by a partial sort of the whole array (introselect, 5-20 ms). Here a strided
    sample (partially sorted at the brackets' ends only) brackets each rank, one pass counts
    the values below the bracket and keeps those inside it (a few percent of them), and only
    those are partially sorted: the same order statistic, since every value of a smaller
    rank lies below the bracket or inside it.
    Ranks whose brackets overlap (the two middle values of an even-sized median, the two
    neighbours a percentile interpolates between) share one bracket and one pass.
    When the sample misjudges (a picture's periodic pattern against the stride), the whole
    array is partially sorted instead.
    """
    flat = values.ravel()
    n = flat.size
    if n <= _DIRECT:
        return np.partition(flat, ranks)[ranks]
    sample = flat[:: n // _SAMPLE]
    m = sample.size
    margin = 0.01 * m + 8  # sample ranks either side: ~2 % of the array inside a bracket
    brackets: list[list] = []  # [low index, high index, ranks' positions in `ranks`]
    for k in sorted(range(len(ranks)), key=lambda k: ranks[k]):
        at = ranks[k] / max(n - 1, 1) * (m - 1)
        low, high = max(0, int(at - margin)), min(m - 1, int(np.ceil(at + margin)))
        if brackets and low <= brackets[-1][1]:
            brackets[-1][1] = max(brackets[-1][1], high)
            brackets[-1][2].append(k)
        else:
            brackets.append([low, high, [k]])
    # the sample's order statistics at the brackets' ends only (a partial sort, not a sort)
    ends = sorted({b[0] for b in brackets} | {b[1] for b in brackets})
    sample = np.partition(sample, ends)
    out = np.empty(len(ranks), flat.dtype)
    for low_at, high_at, members in brackets:
        low, high = sample[low_at], sample[high_at]
        below = int(np.count_nonzero(flat < low))
        if low == high:  # one value fills the bracket (clipped paper): no sorting at all
            inside = flat[:0]
            size = int(np.count_nonzero(flat <= high)) - below
        else:
            inside = flat[(flat >= low) & (flat <= high)]
            size = inside.size
        wanted = [ranks[k] for k in members]
        if not all(below <= r < below + size for r in wanted):
            out[members] = np.partition(flat, wanted)[wanted]
        elif low == high:
            out[members] = low
        else:
            out[members] = np.partition(inside, [r - below for r in wanted])[
                [r - below for r in wanted]]
    return out


def median(values: np.ndarray):
    """``np.median(values)`` of a float array (no NaN), the same value and dtype, by
    :func:`order_statistics` (an empty array: NumPy's own answer, NaN with a warning)."""
    n = values.size
    if n == 0:
        return np.median(values)
    if n % 2:
        return order_statistics(values, [n // 2])[0]
    pair = order_statistics(values, [n // 2 - 1, n // 2])
    return np.mean(pair)


def percentile(values: np.ndarray, q: float):
    """``np.percentile(values, q)`` of a float array with NumPy's default linear
    interpolation (``q`` a Python number in [0, 100], no NaN): the same value and dtype
    (NumPy's ``_lerp``: from the upper neighbour above the midpoint), by
    :func:`order_statistics` (an empty array: NumPy's own answer)."""
    n = values.size
    if n == 0:
        return np.percentile(values, q)
    position = q / 100.0 * (n - 1)
    low = int(np.floor(position))
    high = min(low + 1, n - 1)
    a, b = order_statistics(values, [low, high])
    t = position - low
    diff = b - a
    return (b - diff * (1 - t)) if t >= 0.5 else (a + diff * t)
