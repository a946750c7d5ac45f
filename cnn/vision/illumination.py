"""Stage 3, illumination and background: shrink, mask a cluttered desk, pad, and take the ink
relative to the local paper brightness (a grey-level opening, or a large median under a hard
shadow), or relative to one flat paper level for tight crops of thick digits.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from cnn.vision.measures import (
    _MIN_CONTRAST,
    _border_ring,
    _median_filter,
    _robust_sigma,
    reduced,
)
from cnn.vision.measures import median as median_of  # beside the parameters named median

_WORK_SIZE = 1000  # long side of the working image, pixels


_OPENING = 0.45  # side of the square of the background opening, fraction of the short side




_COARSE_OPENING = 64  # an opening's square at least this large (px) is computed at half size


_SHADOW_RATIO = 0.8  # a hard shadow's paper is at most this fraction of the lit paper's brightness


_SHADOW_EDGE = 0.05  # ... and at most this fraction of the picture lies between the two levels


_RECONSTRUCT_CHECK = 8  # geodesic dilations between two checks for the reconstruction's end


_SHADOW_BORDER = 0.25  # ... and the shaded paper covers this much of the frame's border, at least


def _shrink(work: np.ndarray) -> np.ndarray:
    """Reduce a large image (ink bright) to a long side of 1000 px, then denoise lightly.

    Exists for: 4000 x 3000 phone photos and huge canvases. A max filter before
    ``cv2.INTER_AREA`` keeps 1-px strokes at full strength; a Gaussian of sigma 1 px
    (images of 64 px and more) takes off sensor noise and JPEG blocks.
    """
    long_side = max(work.shape)
    if long_side > _WORK_SIZE:
        factor = long_side / _WORK_SIZE
        work = cv2.dilate(work, np.ones((int(np.ceil(factor)),) * 2, np.uint8))
        size = (max(1, round(work.shape[1] / factor)), max(1, round(work.shape[0] / factor)))
        work = cv2.resize(work, size, interpolation=cv2.INTER_AREA)
    if min(work.shape) >= 64:
        work = cv2.GaussianBlur(work, (0, 0), 1.0)
    return work.astype(np.float32)


def _mask_cluttered_desk(work: np.ndarray, sheet: np.ndarray | None) -> np.ndarray:
    """Replace what lies outside the sheet by paper, when that outside is textured clutter.

    Exists for: a sheet on a wooden desk: the desk's grain would pass for ink. Only done when
    the texture outside the sheet (robust sigma of the image minus its Gaussian blur of
    0.6 % of the long side) is over 1.3 times that inside (measured 1.4-3 for desks, 0.8-1.0
    for shadows), and the outside is under 60 % of the sheet's brightness: a hard shadow is
    the same paper as the lit part, a light gradient is not that dark, and both are left
    alone. ``work`` is ink-bright, (H, W); the sheet is shrunk by 2 % of the
    picture's side so its edge goes too.

    The outside is filled with the sheet's own light carried outward (normalized convolution,
    Knutsson & Westin, CVPR 1993: a Gaussian blur, sigma 10 % of the long side, of the sheet's
    values divided by the same blur of the sheet's mask), not with one paper level: a sheet lit
    unevenly then meets no step at its edge that the local background estimate would take for
    ink (measured on the hard photos' ``desk`` condition, 40 photos: 28 -> 34 read right).
    """
    if sheet is None:
        return work
    sheet = cv2.resize(sheet.astype(np.uint8), (work.shape[1], work.shape[0]),
                       interpolation=cv2.INTER_NEAREST)
    edge = max(3, int(0.025 * max(work.shape))) | 1
    grain = work - cv2.GaussianBlur(work, (0, 0), max(1.0, 0.006 * max(work.shape)))
    inside = grain[cv2.erode(sheet, np.ones((edge, edge), np.uint8)) > 0]
    outside = grain[cv2.dilate(sheet, np.ones((edge, edge), np.uint8)) == 0]
    if outside.size < 100 or inside.size < 100 or (
            _robust_sigma(outside) < 1.3 * _robust_sigma(inside)):
        return work
    paper = 1.0 - float(median_of(work[sheet > 0]))  # work is 1 - grey here
    if 1.0 - float(median_of(work[sheet == 0])) > 0.6 * paper:
        return work  # not much darker than the sheet: a light gradient, not a desk
    shrink = max(3, int(0.02 * max(work.shape))) | 1
    inner = cv2.erode(sheet, np.ones((shrink, shrink), np.uint8)) > 0
    # The blurs run at 1/8 scale (sigma 10 % of the side is 1.25 % there) and the quotient is
    # scaled back: the fill is smooth, and full-size blurs of that width took 0.4 s.
    h, w = work.shape
    small = (max(1, w // 8), max(1, h // 8))
    sigma = 0.1 * max(small)
    weight = cv2.GaussianBlur(cv2.resize(inner.astype(np.float32), small,
                                         interpolation=cv2.INTER_AREA), (0, 0), sigma)
    carried = cv2.GaussianBlur(cv2.resize(np.where(inner, work, 0).astype(np.float32), small,
                                          interpolation=cv2.INTER_AREA), (0, 0), sigma)
    fill = cv2.resize(np.where(weight > 1e-3, carried / np.maximum(weight, 1e-3),
                               float(median_of(work[inner]))).astype(np.float32), (w, h),
                      interpolation=cv2.INTER_LINEAR)
    out = work.copy()
    out[~inner] = fill[~inner]
    return out


def _pad_frame(work: np.ndarray) -> tuple[np.ndarray, int]:
    """Pad the image (ink bright) on every side by 20 % of its long side, edges replicated.

    Exists for: digits cropped tight (the ink touches the frame, as in a form cell or a
    cropped screenshot) and shadows that leave the frame. The background estimate of
    :func:`_flatten_illumination` then sees a strip of paper around a tight crop's ink, and a
    shadow's wedge cut by the frame goes on beyond it instead of looking like a stroke.
    Nothing in the padding is ever taken as ink. Returns the padded float32 image and the
    pad width in pixels.
    """
    h, w = work.shape
    pad = max(4, int(round(0.2 * max(h, w))))
    return cv2.copyMakeBorder(work, pad, pad, pad, pad, cv2.BORDER_REPLICATE), pad


def _flatten_illumination(work: np.ndarray, pad: int, background: str = "local",
                          relative: bool = False, median: np.ndarray | None = None,
                          uniform: bool = False, local=None) -> tuple[np.ndarray, float]:
    """Ink above the local background: the image minus its grey-level opening, >= 0.

    Exists for: hard shadows, light gradients, a sheet lying on a darker desk. A grey-level
    morphological opening (erosion then dilation, a square of 45 % of the short side) removes
    every bright structure narrower than the square, i.e. the strokes, and keeps large areas
    with their sharp edges (a shadow's edge, the sheet's outline), which a smooth fitted
    surface cannot follow. (Sternberg's "rolling ball" background, IEEE Computer 16(1), 1983.)
    The residual's bulk (the paper) is shifted to 0. Small images (< 48 px) use a constant
    background instead; so does ``background="flat"``, offered as a second candidate for a
    tight crop of a thick marker digit whose strokes are wider than the square;
    ``background="median"`` takes :func:`_median_background` instead of the opening (tried
    first under a hard shadow, :func:`_hard_shadow`; ``median``, if given, is that background
    already computed for ``work``, as ``local`` is :func:`_local_background`'s).
    ``uniform`` (a clean canvas, whose padded corner is its background level): when no
    square of the opening's side fits inside the ink (:func:`_opening_is_flat`), the opening
    is that level everywhere, taken as it is without computing the opening. With
    ``relative`` (dark ink on paper, ``work`` = 1 - grey) the residual is divided by the local
    paper brightness, 1 - background: light multiplies, so a stroke in a shadow has as much
    relative contrast as one in full light and one threshold fits both. Returns float32
    (H, W) ink strength in [0, 1], and its robust sigma (0 where most of it is clipped
    paper: then only the fixed contrast floor decides what is ink).
    """
    h, w = work.shape
    inner = work[pad:h - pad, pad:w - pad]
    flat = background == "flat"
    if min(h, w) < 48 or flat:
        ring = _border_ring(inner, 2)
        level = np.float32(np.median(ring))  # paper, even where a tight crop's ink touches
        background = np.minimum(level, np.float32(median_of(inner)))
        if flat:
            background = np.minimum(background, _paper_level(inner))
    elif background == "median":
        background = _median_background(work) if median is None else median
    else:
        background = _local_background(work, uniform) if local is None else local
    # Only the inner picture's residual is wanted: the padding gave the background context.
    core = (slice(pad, h - pad), slice(pad, w - pad))
    if np.ndim(background):
        background = background[core]
    inner = work[core] - background  # a new array: the steps below work in place
    if relative:
        np.divide(inner, np.maximum(1.0 - background, 0.35), out=inner)
    out = np.zeros_like(work)
    if flat:
        return _flat_ink(inner, out, pad)
    inner -= float(median_of(inner))
    np.clip(inner, 0.0, 1.0, out=inner)
    out[core] = inner
    return out, _robust_sigma(inner)


def _local_background(work: np.ndarray, uniform: bool = False):
    """The local background of :func:`_flatten_illumination`: the grey-level opening of
    ``work`` (float32 (H, W), ink bright, padded) by a square of ``_OPENING`` of its short side,
    reconstructed under ``work`` (:func:`_reconstruct`); float32 (H, W), at most ``work``. With
    ``uniform`` (a clean canvas) and no such square inside the ink, the corner's level, a
    float32 scalar (:func:`_opening_is_flat`)."""
    size = max(3, int(_OPENING * min(work.shape)))
    if uniform and _opening_is_flat(work, size):
        return work[0, 0]  # one level: a scalar serves as the whole background
    return _reconstruct(_opening(work, size), work)


def _opening(work: np.ndarray, size: int) -> np.ndarray:
    """Grey-level opening of ``work`` (float32 (H, W)) by a ``size`` x ``size`` square, edges
    replicated; float32 (H, W), at most ``work``.

    A square of at least ``_COARSE_OPENING`` px is applied at half size: the erosion's first
    step is a 2 x 2 minimum (block by block, so the image shrinks to a quarter), the opening
    by a square of ``size // 2`` follows on that, and each value is repeated back over its
    block, kept at most ``work``. Its flat regions and edges are those of the full-size
    opening to within a pixel, at a quarter of the cost (about 8 against 33 ms on a padded
    1,000-px photo); the background it estimates is smooth next to strokes of any width.
    Erosion then dilation with separable min / max filters (van Herk 1992; Gil & Werman 1993,
    ``scipy.ndimage.grey_opening``).
    """
    if size < _COARSE_OPENING:
        return ndimage.grey_opening(work, size=(size, size), mode="nearest")
    h, w = work.shape
    even = cv2.copyMakeBorder(work, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
    blocks = np.minimum(np.minimum(even[0::2, 0::2], even[1::2, 0::2]),
                        np.minimum(even[0::2, 1::2], even[1::2, 1::2]))
    coarse = ndimage.grey_opening(blocks, size=(size // 2, size // 2), mode="nearest")
    # each value repeated over its 2 x 2 block (nearest-neighbour doubling, exactly
    # np.repeat along both axes and 8x faster)
    full = cv2.resize(coarse, (2 * coarse.shape[1], 2 * coarse.shape[0]),
                      interpolation=cv2.INTER_NEAREST)[:h, :w]
    return np.minimum(full, work)


def _opening_is_flat(work: np.ndarray, size: int) -> bool:
    """True if the grey-level opening of ``work`` (float32 (H, W), ink bright, its corner
    pixel the background level and nothing below it) by a ``size`` x ``size`` square is that
    level everywhere: no such square fits inside the pixels above the level (chessboard
    distance to the background at most ``size / 2 - 1``, so not even an even-sided square
    fits). Then :func:`_reconstruct` adds nothing either: every pixel is at least the level.
    """
    level = work[0, 0]
    if float(work.min()) < float(level):
        return False
    above = (work > level).astype(np.uint8)
    if not above.any():
        return True
    depth = cv2.distanceTransform(above, cv2.DIST_C, 3)
    return 2.0 * float(depth.max()) + 2.0 <= size


def _median_background(work: np.ndarray) -> np.ndarray:
    """Background of an ink-bright image by a large median filter: float32 (H, W) in [0, 1],
    at most ``work`` (float32 (H, W) in [0, 1]) everywhere.

    Exists for: a hard shadow narrower than the opening's square. The median over a square of
    ``_MEDIAN`` of the short side (:func:`_median_filter`) removes the strokes and keeps a
    step edge where it is, so the paper on each side of a shadow's edge is its own background
    and a band of shadow of any width above half the square goes. Computed at a long side of
    at most 700 px, brought back bilinearly.
    """
    h, w = work.shape
    small, median = _median_filter(work, 700)
    if small.shape != work.shape:
        median = cv2.resize(median, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.minimum(median, work)


def _hard_shadow(work: np.ndarray, pad: int, median: np.ndarray | None = None) -> bool:
    """True if the paper of an ink-bright image (float32 (H, W) in [0, 1], padded by ``pad``
    px on every side, as :func:`_pad_frame` returns it) lies at two levels, lit and shaded,
    with a sharp edge between them: a hard shadow. ``median``: :func:`_median_background` of
    ``work`` when already computed.

    Exists for: choosing the median background (:func:`_median_background`) first for a
    photo with a hard shadow. The paper's brightness (1 - the median background) is split by
    Otsu's threshold; a hard shadow is two classes of at least 10 % of the picture each, the
    darker at most ``_SHADOW_RATIO`` of the lighter (medians) and at least ``_MIN_CONTRAST``
    below it (not the noise of an underexposed page), under ``_SHADOW_EDGE`` of
    the picture in the middle half of the step between them (a gradient of light, a
    vignette, has a wide middle; a shadow's edge is a few pixels wide), and the darker class
    on at least ``_SHADOW_BORDER`` of the frame's border: a shadow comes in from outside the
    frame (measured 34-60 % of the border), while a stroke too thick for the median, in a
    tight crop, touches it only where it is cut (0-19 %).
    """
    h, w = work.shape
    if median is None:
        median = _median_background(work)
    paper = 1.0 - median[pad:h - pad, pad:w - pad]
    grey8 = np.clip(paper * 255.0 + 0.5, 0, 255).astype(np.uint8)
    otsu, _ = cv2.threshold(grey8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    shaded = grey8 <= otsu
    dark, lit = paper[shaded], paper[~shaded]
    if min(dark.size, lit.size) < 0.1 * paper.size:
        return False
    if _border_ring(shaded, 1).mean() < _SHADOW_BORDER:
        return False  # a shadow is cast from outside the frame; a thick stroke is not
    low, high = float(median_of(dark)), float(median_of(lit))
    if low > _SHADOW_RATIO * high or high - low < _MIN_CONTRAST:
        return False
    gap = high - low
    middle = (paper > low + 0.25 * gap) & (paper < high - 0.25 * gap)
    return float(middle.mean()) < _SHADOW_EDGE


def _paper_level(inner: np.ndarray) -> np.float32:
    """The paper's level in an ink-bright image: the median of the darker Otsu class.

    Exists for: a tight crop of a thick digit, where the ink covers most of the picture and
    even most of its border, so neither the border's nor the picture's median is paper.
    """
    top = max(float(inner.max()), 1e-6)
    scaled = np.clip(inner / top * 255.0, 0, 255).astype(np.uint8)
    otsu, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark = inner[scaled <= otsu]
    return np.float32(median_of(dark) if dark.size else median_of(inner))


def _flat_ink(inner: np.ndarray, out: np.ndarray, pad: int) -> tuple[np.ndarray, float]:
    """Ink above a flat paper level and its noise sigma, for :func:`_flatten_illumination`.

    Exists for: a tight crop of a thick digit, where the ink is most of the picture. The
    residual's median would then be an ink level, and shifting it to 0 (as the local
    background does) would erase the digit; the paper level is already 0 here. The noise is
    measured on the paper only (the pixels at most at the paper level, which no ink reaches),
    as the robust sigma of their difference from a Gaussian blur of sigma 2 px, so that a
    light gradient across a flat level does not count as noise. ``out`` (padded, zeros)
    receives the ink.
    """
    fine = inner - cv2.GaussianBlur(inner, (0, 0), 2.0)
    paper = fine[inner <= 0]
    noise = _robust_sigma(paper) if paper.size >= 50 else _robust_sigma(inner)
    out[pad:out.shape[0] - pad, pad:out.shape[1] - pad] = np.clip(inner, 0.0, 1.0)
    return out, noise


def _reconstruct(marker: np.ndarray, image: np.ndarray, side: int = 256) -> np.ndarray:
    """Grey-level reconstruction by dilation of ``marker`` under ``image`` (both (H, W), ink
    bright), computed at ``side`` px and brought back: ``max(marker, min(upsampled, image))``.

    Exists for: the acute corners of a hard shadow and the grain of a desk. An opening cannot
    fit its square into a shadow's wedge tip, so the tip would pass for ink; but the tip is
    connected to the rest of the shadow, which the opening kept, at the shadow's level, and
    geodesic dilation (Vincent, "Morphological grayscale reconstruction in image analysis",
    IEEE Trans. Image Processing 2(2), 1993) floods it back into the background. Ink is
    brighter than any background and separated from it by paper, so it stays out.

    The geodesic dilations run on 16-bit levels (values in [0, 1] rounded to 1/65535: the
    result moves by under 1e-5), which OpenCV dilates 1.6x faster than floats.
    """
    h, w = image.shape
    small_image = _levels16(reduced(image, side))
    small = np.minimum(_levels16(reduced(marker, side)), small_image)
    kernel = np.ones((3, 3), np.uint8)
    grown, before = np.empty_like(small), np.empty_like(small)
    steps, limit = 0, 4 * max(small.shape)
    while steps < limit:  # geodesic dilations until nothing changes (checked every 8)
        np.copyto(before, small)
        for _ in range(min(_RECONSTRUCT_CHECK, limit - steps)):
            cv2.min(cv2.dilate(small, kernel, dst=grown), small_image, dst=small)
            steps += 1
        if np.array_equal(before, small):
            break
    small = small.astype(np.float32)
    small *= np.float32(1 / 65535)
    flooded = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    np.minimum(flooded, image, out=flooded)
    return np.maximum(flooded, marker, out=flooded)


def _levels16(values: np.ndarray) -> np.ndarray:
    """float (H, W) in [0, 1] as uint16 levels 0..65535 (rounded, clipped)."""
    return np.clip(values * 65535.0 + 0.5, 0, 65535).astype(np.uint16)
