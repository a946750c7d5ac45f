"""Stage 2, polarity: is the ink darker or lighter than the paper?

From the larger tail of the residual from a robust quadratic background (the background is
the majority of the pixels), corrected for tight crops (the border), a dark hard shadow over
most of the page, a sheet that covers less of a photo than the darker desk around it, and a
glare spot beside dark writing.
"""

from __future__ import annotations

import cv2
import numpy as np

from cnn.errors import UserError
from cnn.vision.measures import (
    _MIN_CONTRAST,
    _border_ring,
    _median_filter,
    _robust_sigma,
    percentile,
    reduced,
)

POLARITIES = ("auto", "dark-on-light", "light-on-dark")


def polarity_name(ink_sign: float) -> str:
    """The polarity an ink sign stands for: ``"light-on-dark"`` for +1 (ink brighter than
    the background), ``"dark-on-light"`` for -1 (:func:`_ink_sign`'s convention)."""
    return POLARITIES[2 if ink_sign > 0 else 1]


_FIT_SIZE = 64  # long side of the image the background surface is fitted on


_POLARITY_SIZE = 640  # "auto" polarity: a picture twice this long side (px) is judged reduced


def _fit_background(gray: np.ndarray) -> np.ndarray:
    """Background of ``gray`` (H, W) as a smooth surface fitted to the majority of the pixels.

    Least squares of ``c0 + c1 x + c2 y + c3 x^2 + c4 x y + c5 y^2`` (x, y in [-1, 1]) on a
    copy of at most 64 px, refitted 6 times on the pixels within 3 robust sigmas (floor 0.01)
    of the previous fit, starting from the median; the ink falls out after the first pass, so
    a linear or vignette-like light gradient remains. Images under 32 px get a constant (the
    median of the kept pixels). Returns float32 (H, W).
    """
    h, w = gray.shape
    small = reduced(gray, _FIT_SIZE)
    quadratic = min(h, w) >= 32

    def terms(rows: int, cols: int) -> list[np.ndarray]:
        y = np.linspace(-1, 1, rows, dtype=np.float32)[:, None]
        x = np.linspace(-1, 1, cols, dtype=np.float32)[None, :]
        return [np.ones((1, 1), np.float32), x, y, x * x, x * y, y * y]

    z = small.ravel()
    basis = np.stack([np.broadcast_to(t, small.shape).ravel() for t in terms(*small.shape)], 1)
    coef = np.zeros(basis.shape[1], np.float32)
    coef[0] = np.median(z)
    for _ in range(6):
        r = z - basis @ coef
        keep = np.abs(r) < 3.0 * max(_robust_sigma(r), 0.01)
        if not quadratic or keep.sum() < 4 * basis.shape[1]:
            coef[:] = 0.0
            coef[0] = np.median(z[keep]) if keep.any() else np.median(z)
            break
        a = basis[keep].astype(np.float64)
        # Least squares that tolerates a rank-deficient basis (a strip 2 px high at 64 px,
        # where y and y^2 repeat the constant).
        coef = np.linalg.lstsq(a, z[keep].astype(np.float64), rcond=None)[0].astype(np.float32)
    # The surface at full size, term by term in the order of the basis (the same sums to the
    # last bit), the constant and x terms on one row and the rest added in place.
    y = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    one, xx, yy = np.ones((1, 1), np.float32), x * x, y * y
    c0, c1, c2, c3, c4, c5 = coef
    surface = (c0 * one + c1 * x) + c2 * y
    surface += c3 * xx
    xy = np.multiply(y, x)
    surface += np.multiply(xy, c4, out=xy)
    surface += c5 * yy
    return surface


def _tails(residual: np.ndarray, floor: float = 0.0) -> tuple[float, float]:
    """``(light, dark)``: how far the residual (any shape, float, in grey levels of [0, 1])
    reaches beyond a margin of ``max(floor, 4 robust sigmas)`` above and below 0, summed over
    its pixels: the light and the dark ink that stand out of the background's noise."""
    margin = max(floor, 4.0 * _robust_sigma(residual))
    return (float(np.maximum(residual - margin, 0.0).sum()),
            float(np.maximum(-residual - margin, 0.0).sum()))


def _decide_polarity(residual: np.ndarray) -> tuple[float, float]:
    """``(sign, evidence)``: sign +1.0 if the ink is lighter than the background
    (light-on-dark), -1.0 if darker; evidence = how lopsided the two tails are (>= 1).

    The background is the majority of the pixels, so the residual's bulk is noise around 0; the
    ink is the larger tail beyond 4 robust sigmas.
    """
    light, dark = _tails(residual)
    tiny = 1e-6 * residual.size
    evidence = (max(light, dark) + tiny) / (min(light, dark) + tiny)
    return (1.0 if light > dark else -1.0), evidence


def _border_polarity(gray: np.ndarray) -> tuple[float, float]:
    """``(sign, margin)``: -1.0 if the darkest pixels lie further below the frame's border
    than the brightest lie above it (dark ink), else +1.0; margin = the difference, in grey
    levels of [0, 1].

    Exists for: hard shadows and tight crops, where the majority rule of
    :func:`_decide_polarity` fails (a shadow covers half the page; a tight crop's ink is a
    large part of it). The border is background (paper, lit or shaded, or a canvas) except
    where ink touches it, so its quartiles bound the background: ink is what goes beyond
    them, measured by the 0.1st and 99.9th percentiles of the whole picture.
    """
    ring = _border_ring(gray, 2)
    low, high = np.percentile(ring, [25, 75])
    darkest, brightest = percentile(gray, 0.1), percentile(gray, 99.9)
    dark, light = float(low - darkest), float(brightest - high)
    return (-1.0 if dark > light else 1.0), abs(dark - light)


def _shadow_polarity(gray: np.ndarray, sign: float) -> float:
    """-1.0 if, against a local background that follows hard edges, the ink is clearly dark;
    else ``sign`` (the verdict of the quadratic fit) unchanged.

    Exists for: a dark hard shadow over most of the page. A quadratic cannot bend around the
    shadow's sharp edge, so the lit part of the paper stands out as a large "light ink" tail
    and :func:`_decide_polarity` says light-on-dark. A median filter (square of 25 % of the
    short side, at a long side of 160 px) keeps the shadow's edge and removes every structure
    narrower than half its side, dark or light (Huang, Yang & Tang, "A fast two-dimensional
    median filtering algorithm", IEEE Trans. ASSP 27(1), 1979), so the residual's tails are
    the strokes. Only consulted when the quadratic fit or the border rule says light-on-dark;
    its own evidence must lean clearly dark (the dark tail at least 1.3 times the light one:
    a shadow's soft edge and wedge tips leave light and dark residue of their own).
    """
    small, local = _median_filter(gray, 160)
    if min(small.shape) < 24:
        return sign
    local_sign, evidence = _decide_polarity(small - local)
    return -1.0 if local_sign < 0 and evidence >= 1.3 else sign


def _ink_sign(gray: np.ndarray, polarity: str) -> float:
    """+1.0 if the ink is lighter than the background, -1.0 if darker (polarity).

    Exists for: photos (dark ink on paper) and canvases (light strokes on black). The sign of
    the larger tail of the residual from a robust quadratic background says which (the
    background is the majority of the pixels). A forced polarity is checked: if it finds no
    ink while the other has some, the error says to use 'auto'. ``gray``: float32 (H, W) in
    [0, 1]. With ``"auto"``, a picture at least twice :data:`_POLARITY_SIZE` on its long side
    is judged on a copy reduced ``k`` times, ``k`` the largest whole factor that keeps that
    long side (``cv2.INTER_AREA``: area means; the copy's long side is 640-1279 px): which
    side of the paper the ink lies on is as plain there, and the full-size passes were 8 of
    a 1,280 x 960 photo's 50 ms. A forced polarity is checked on the full picture (a faint
    1-px stroke the copy would dilute still counts as ink). Light ink found by ``"auto"`` is
    overruled when it is a sheet on a darker desk (:func:`_bright_sheet`) or a glare spot
    beside dark writing (:func:`_glare`).
    """
    k = max(gray.shape) // _POLARITY_SIZE
    if polarity == "auto" and k >= 2:
        gray = reduced(gray, max(gray.shape) // k)
    residual = gray - _fit_background(gray)
    if polarity == "auto":
        sign, evidence = _decide_polarity(residual)
        # A hard shadow bends no quadratic, and its lit part then passes for light ink; the
        # frame's border is a better judge when it speaks clearly.
        border_sign, margin = _border_polarity(gray)
        if margin >= 0.1:
            sign = border_sign
        if sign > 0:  # a shadow over most of the border misleads the border too
            sign = _shadow_polarity(gray, sign)
        if sign > 0 and (_bright_sheet(gray) is not None or _glare(gray)):
            return -1.0
        return sign
    sign = 1.0 if polarity == "light-on-dark" else -1.0
    sigma = _robust_sigma(residual)
    floor = max(_MIN_CONTRAST, 8.0 * sigma)
    if float((sign * residual).max()) < floor and float((-sign * residual).max()) >= floor:
        raise UserError(
            f"no digit found: no {polarity} ink, but the opposite polarity has some; "
            "use polarity 'auto'")
    return sign


_GLARE_RADIUS = 0.1  # light "ink" this thick (x the short side) is a glare spot, no stroke
_GLARE_ROUND = 2.0  # ... when round: its area at most this many times its inscribed circle's


def _glare(gray: np.ndarray) -> bool:
    """Whether the light tail that made the picture look light-on-dark is a glare spot beside
    dark writing. At a long side of 160 px, against the quadratic background of
    :func:`_fit_background`: the largest connected part of the light tail (over 4 robust
    sigmas and ``_MIN_CONTRAST``) is thicker than a stroke and round (its inscribed circle's
    radius at least ``_GLARE_RADIUS`` of the short side, its area at most ``_GLARE_ROUND``
    times that circle's), and the rest of the picture (that part grown by 4 px left out, at
    least 100 px) has a dark tail (beyond 4 of its robust sigmas and ``_MIN_CONTRAST``),
    larger than its light one. ``gray``: float32 (H, W) in [0, 1].

    Exists for: a lamp's or a flash's reflection on a glossy sheet or a whiteboard, which the
    tails of :func:`_decide_polarity` and the border take for light ink; the dark strokes
    beside it were then lost (held-out phone photos, ``glare``: 17 of 20 turned away).
    Measured there: radius 0.16-0.25 of the short side, area 0.9-1.7 circles; the strokes of
    chalk on a board 0.02-0.06; a drawing app's thick white digit 0.11-0.21, but 3-6 circles
    (long). Without the dark tail, a light round object photographed on a dark ground was
    read as dark ink too (4 of the non-digit sets' pictures).
    """
    small = reduced(gray, 160)
    if min(small.shape) < 16:
        return False
    residual = small - _fit_background(small)
    light = (residual > max(_MIN_CONTRAST, 4.0 * _robust_sigma(residual))).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(light, connectivity=8)
    if n <= 1:
        return False
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    spot = (labels == k).astype(np.uint8)
    radius = float(cv2.distanceTransform(spot, cv2.DIST_L2, 3).max())
    if not (radius >= _GLARE_RADIUS * min(small.shape)
            and stats[k, cv2.CC_STAT_AREA] <= _GLARE_ROUND * np.pi * radius * radius):
        return False
    rest = residual[cv2.dilate(spot, np.ones((9, 9), np.uint8)) == 0]
    if rest.size < 100:
        return False  # the spot is nearly all of it: nothing beside it to be writing
    light, dark = _tails(rest, _MIN_CONTRAST)
    return dark > 0.0 and dark > light


def _bright_sheet(gray: np.ndarray) -> np.ndarray | None:
    """The sheet of paper a digit is written on, if the photo shows one lying on something
    darker: a bool mask of the sheet (its holes filled) on the picture reduced to a long side
    of 256 px (``gray``'s shape if smaller; resize it to the size needed), or None. ``gray``:
    float32 (H, W) in [0, 1].

    Exists for: a digit on a sheet lying on a desk, the sheet's outline in view. A sheet is a
    bright region (Otsu, at 256 px) of 3-90 % of the picture, nearly convex (area over 85 %
    of its convex hull) with small dark marks inside it (holes under 6 % of its area: the
    strokes; a light "0" on black has a larger hole, its loop), on a surround under 60 % of
    its brightness. A card photographed from afar (3-15 % of the picture) holds a digit a few
    pixels tall at 256 px, too small to leave a hole there: then its marks are looked for at
    up to 1,024 px (:func:`_fine_marks`). Until 2026-12-07 the sheet had to cover 15 % and
    show its holes at 256 px; phone photos of a card far away (``make_phone_photos.py``, 20
    "far" photos) were read as light ink on a dark ground, the card taken for the digit.
    Larger sheets are looked at so too when they reach at most one side of the picture (a card
    with a thin pen's number on it, mostly in view), with a mark of at least
    :data:`_LARGE_MARK` of the sheet (dark specks in a light chalk smear are no writing); one
    that runs out of the picture on two sides or more must show its holes at 256 px: looked
    for at 1,024 px, the lit part of a page under a hard shadow (bounded by the frame on 2-4
    sides) showed "marks" too (its own shading), and a digit in the shadow was lost. A lit
    part wholly in view (a page under a shadow, lying on a darker desk) is taken for a sheet
    now; it was read light-on-dark before, wrong either way.
    """
    small = reduced(gray, 256)
    _, bright = cv2.threshold((small * 255).astype(np.uint8), 0, 1,
                              cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    contours, hierarchy = cv2.findContours(bright, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    outer = [i for i in range(len(contours)) if hierarchy[0][i][3] < 0]
    big = max(outer, key=lambda i: cv2.contourArea(contours[i]))
    area = cv2.contourArea(contours[big])
    hull = cv2.contourArea(cv2.convexHull(contours[big]))
    holes = sum(a for a in (cv2.contourArea(contours[i]) for i in range(len(contours))
                            if hierarchy[0][i][3] == big) if a > 0.0005 * small.size)
    if not (_SHEET_MIN * small.size < area < 0.9 * small.size and area > 0.85 * hull
            and holes < 0.06 * area):
        return None
    sheet = np.zeros(small.shape, np.uint8)
    cv2.drawContours(sheet, contours, big, 1, -1)
    far = np.count_nonzero(sheet) < _FAR_CARD * small.size
    if holes <= 0 and not ((far or _sides_touched(sheet) <= 1)
                           and _fine_marks(gray, sheet, 0.0 if far else _LARGE_MARK)):
        return None  # no mark on it: a light blob or stroke on black, or a blank card
    if np.median(small[sheet == 0]) > 0.6 * np.median(small[sheet > 0]):
        return None  # what surrounds it is not much darker: a light gradient, not a desk
    return sheet.astype(bool)


def _sides_touched(mask: np.ndarray) -> int:
    """How many of the picture's four sides (its outermost rows and columns) ``mask``
    (2-D, nonzero inside) reaches: 0 for a region wholly in view, 2-4 for a lit part of a
    page that runs out of the picture (a corner counts as two sides)."""
    return sum(bool(line.any()) for line in (mask[0], mask[-1], mask[:, 0], mask[:, -1]))


_SHEET_MIN = 0.03  # a sheet covers at least this fraction of the picture
_FAR_CARD = 0.15  # ... and under this, its marks may be too small to see at 256 px
_LARGE_MARK = 2e-4  # a larger sheet's fine mark covers this share of it (specks do not)


def _fine_marks(gray: np.ndarray, sheet: np.ndarray, share: float = 0.0) -> bool:
    """Whether the sheet ``sheet`` (a uint8 mask at :func:`_bright_sheet`'s 256 px) has dark
    marks too small to see there. Looked for on ``gray`` (as the caller passes it: the
    polarity stage hands over a photo reduced to 640-1,279 px, the pipeline's dark-ink work
    the picture itself) reduced to a long side of at most 1,024 px, inside
    the sheet shrunk by 2 % of that side (its own edge, the frame's too, is no mark): pixels
    darker than the sheet's paper (its median) by at least 4 robust sigmas of it (and
    ``_MIN_CONTRAST``), under 6 % of the sheet, of which one connected mark has at least 8
    and at least ``share`` of the shrunk sheet's pixels (the grain of paper, chalk or a desk
    leaves scattered specks, no mark; a large sheet asks for a mark the size of a pen's
    digit, not of the board seen through a chalk smear). ``gray``: float32 (H, W) in
    [0, 1]."""
    fine = reduced(gray, 1024)
    inside = cv2.resize(sheet, (fine.shape[1], fine.shape[0]), interpolation=cv2.INTER_NEAREST)
    edge = max(3, int(0.02 * max(fine.shape))) | 1
    inside = cv2.erode(inside, np.ones((edge, edge), np.uint8), borderType=cv2.BORDER_CONSTANT,
                       borderValue=0) > 0
    if np.count_nonzero(inside) < 100:
        return False
    paper = fine[inside]
    dark = (fine < float(np.median(paper)) - max(_MIN_CONTRAST, 4.0 * _robust_sigma(paper)))
    dark &= inside
    if not 8 <= np.count_nonzero(dark) < 0.06 * paper.size:
        return False
    n, _, stats, _ = cv2.connectedComponentsWithStats(dark.astype(np.uint8), connectivity=8)
    return n > 1 and int(stats[1:, cv2.CC_STAT_AREA].max()) >= max(8, share * paper.size)
