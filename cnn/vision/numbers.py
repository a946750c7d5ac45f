"""Several digits in one picture: the main line of writing cut into digits, left to right.

The ink is found by the single-digit stages (:mod:`cnn.vision.polarity`,
:mod:`cnn.vision.illumination`, :mod:`cnn.vision.segment`: ruled lines and boxes removed);
then :func:`read_line`

1. finds **candidate lines**: each grown from one of the largest ink components, with the
   components beside it (overlapping its height band by at least 30 % of their own height, no
   farther than 1.5 line heights from the line's ink), specks and enclosures (a box drawn
   at a slant around the number) dropped; steps 2-4 read each, and the line with the
   best-reading run of consecutive segments wins (the largest sum of log scores above
   log 0.5: the largest ink is not always the writing, but an underline, a sheet's edge or
   a printed word, and none of those reads as a run of confident digits);
2. merges components that stand over one another (a "5" whose bar is apart, a broken "4") into
   **blobs**; a gap wider than a quarter of the line height between blobs is always a cut;
3. offers **candidate cuts** inside blobs (minima of the ink's column profile and a grid of
   a sixth of the line height), so touching or overlapping neighbours ("20" written in one
   stroke) can be taken apart;
4. chooses the cuts by **recognition** (:mod:`cnn.vision.cuts`): every candidate segment is
   normalised to 28 x 28 and scored by the classifier (``score``), and dynamic programming
   picks the segmentation with the highest total score, a cut through ink paying a cost (so
   half a "3" read as "1" does not win), as does a segment spanning a blank gap (a "7" and a
   "1" squeezed together read "7"); when the blobs as they stand read so well that no other
   segmentation can win, the other candidates are not scored at all.

:func:`read_line` also gives the **whole line as one digit** (every component of the line
normalised together): the caller weighs "one digit" against "several digits" with it
(:func:`cnn.tasks.numbers.read_number`), so a single digit broken in two by a shadow or an
underline is not read as two.

Boxes are given in the original image's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from cnn.errors import UserError
from cnn.vision.cuts import Segment, read_chunk
from cnn.vision.decode import _to_gray
from cnn.vision.illumination import (
    _flatten_illumination,
    _hard_shadow,
    _mask_cluttered_desk,
    _median_background,
    _pad_frame,
    _shrink,
)
from cnn.vision.measures import _MIN_CONTRAST, among, components
from cnn.vision.normalize import _normalise
from cnn.vision.polarity import POLARITIES, _bright_sheet, _ink_sign, polarity_name
from cnn.vision.segment import _remove_frames, _remove_long_lines, _threshold

MAX_DIGITS = 12  # default longest number read

_BAND_OVERLAP = 0.3  # a component joins the line when this much of its height is in the band
_LINE_GAP = 1.5  # ... and lies no farther than this many line heights from the line's ink
_SURE_GAP = 0.25  # a gap between blobs wider than this (x line height) is always a cut
_SEEDS = 3  # lines tried, grown from the largest components (see candidate_lines)
_SEED_AREA = 0.15  # a later seed has at least this part of the largest component's area
_GOOD = np.log(0.5)  # a line's quality counts each segment's log score above this
_ENCLOSURE_FILL = 0.2  # a component around others filling less of its box is an enclosure
_EDGE_TALL = 2.0  # a component touching the frame this many times taller than the rest: an edge


class TooManyDigits(UserError):
    """The line holds more segments than ``max_digits`` (:func:`read_line`): a reason to tell
    the user, not a picture without a number."""


@dataclass
class Line:
    """What :func:`read_line` found: ``segments`` (:class:`Segment`, left to right, at least
    one), ``whole``, the whole line normalised as one digit (a :class:`Segment` with score
    0), or None when it could not be normalised, and ``polarity``, the one the ink was read
    in (``"dark-on-light"`` or ``"light-on-dark"``)."""

    segments: list
    whole: Segment | None = None
    polarity: str = "dark-on-light"


def ink_map(image: np.ndarray, polarity: str = "auto", check: bool = True,
            known: dict | None = None):
    """The ink of a picture as the single-digit stages find it (lines and boxes removed).

    Args:
        image: as :func:`cnn.vision.pipeline.to_mnist` takes it.
        polarity: ``"auto"``, ``"dark-on-light"`` or ``"light-on-dark"``.
        check: with a forced polarity, refuse a picture whose ink is all of the other one
            (a user's mistake); False trusts the polarity given (a second reading in the
            other polarity, :func:`cnn.tasks.numbers.read_number`).
        known: ``None``, or what :func:`cnn.vision.pipeline.to_mnist` found for the same
            image (its ``keep["ink_map"]``), taken instead of finding the ink again when found
            for the same ``polarity``: for a photo its first pass is this computation; a clean
            canvas on pure white or black (``to_mnist``'s canvas path: polarity from the one
            background level, no desk, no shadow, no uneven light) is read the same way by
            both, which spares the reader the photo stages' checks (10 ms of a 280 x 280
            canvas's 50).
    Returns:
        ``(ink, mask, thresh, pad, scale, found)``: float32 (H', W') ink strength, uint8
        (H', W') binary ink, the threshold, the padding in pixels, ``(sx, sy)`` from working
        to original pixels, and the polarity used (``"dark-on-light"`` or
        ``"light-on-dark"``).
    Raises:
        UserError: an unknown polarity, an unusable array, or no ink at all.
    """
    if polarity not in POLARITIES:
        raise UserError(f"unknown polarity {polarity!r}: use one of {', '.join(POLARITIES)}")
    if known is not None and known["polarity"] != polarity:
        known = None  # found for another polarity
    if known is not None:
        return (*known["map"], polarity_name(known["sign"]))
    gray, from_alpha = _to_gray(image)
    if from_alpha:
        polarity = "auto"
    if check or polarity == "auto":
        ink_sign = _ink_sign(gray, polarity)
    else:
        ink_sign = 1.0 if polarity == "light-on-dark" else -1.0
    work = _shrink(gray if ink_sign > 0 else 1.0 - gray)
    scale = (gray.shape[1] / work.shape[1], gray.shape[0] / work.shape[0])
    if ink_sign < 0:
        work = _mask_cluttered_desk(work, _bright_sheet(gray))
    work, pad = _pad_frame(work)
    background, median = "local", None
    if ink_sign < 0 and min(work.shape) >= 48:
        median = _median_background(work)
        if _hard_shadow(work, pad, median):
            background = "median"
    ink, noise = _flatten_illumination(work, pad, background, relative=ink_sign < 0,
                                       median=median)
    if float(ink.max()) < max(_MIN_CONTRAST, 8.0 * noise):
        raise UserError("no digit found: the image is blank (no ink)")
    mask, thresh = _threshold(ink, noise)
    mask = _remove_frames(_remove_long_lines(mask, pad))
    return ink, mask, thresh, pad, scale, polarity_name(ink_sign)


def candidate_lines(mask: np.ndarray, pad: int, seeds: int = _SEEDS):
    """Lines of writing grown from the ``seeds`` largest ink components, largest first.

    A line grows from its seed component: the components overlapping by at least
    ``_BAND_OVERLAP`` of their own height the seed's height band or the band of the last
    digit-sized component reached (half to one and a half line heights tall, itself in the
    band before it: a line that drifts or slants is followed), chained outwards no farther
    than ``_LINE_GAP`` line heights from the line's edge; specks (under 2 % of the
    picture's side or 3 % of the largest component's area) are dropped, and so are the edges
    of things that run out of the picture (:func:`_drop_frame_edges`). Seeds after the first
    must have at least ``_SEED_AREA`` of the largest component's area (an edge's left out) and
    lie outside the lines found so far: the largest ink is not always the writing (an underline,
    a box's edge, a printed word).

    Args:
        mask: uint8 (H, W) binary ink, ``pad`` pixels of frame around the picture.
        pad: the frame's width in pixels.
        seeds: the most lines returned (>= 1).
    Returns:
        ``(labels, lines)``: int32 (H, W) component labels and a list of ``(comps, height)``:
        ``comps`` the line's ``(label, x0, y0, x1, y1, area)`` sorted by x0, ``height`` its
        height in pixels; empty when there is no usable ink.
    """
    n, labels, stats = components(mask)
    if n <= 1:
        return labels, []
    side = max(mask.shape) - 2 * pad
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = [i for i in range(1, n)
            if max(stats[i, 2], stats[i, 3]) >= max(2, 0.02 * side)
            and stats[i, cv2.CC_STAT_AREA] >= 0.03 * areas.max()]
    keep = _drop_enclosures(keep, stats)
    kept = _drop_frame_edges(keep, stats, mask.shape, pad)
    edges, keep = set(keep) - set(kept), kept
    largest = np.delete(areas, [i - 1 for i in edges]).max()  # the edges' left out
    order = sorted(keep, key=lambda i: -int(stats[i, cv2.CC_STAT_AREA]))
    if not order:
        return labels, []  # only specks: nothing on a line
    lines, used = [], set()
    for seed in order:
        if len(lines) >= seeds or stats[seed, 4] < _SEED_AREA * largest:
            break
        if seed in used:
            continue
        line, height = _grow_line(seed, keep, stats)
        used.update(line)
        lines.append((sorted(((int(i), int(stats[i, 0]), int(stats[i, 1]),
                               int(stats[i, 0] + stats[i, 2]), int(stats[i, 1] + stats[i, 3]),
                               int(stats[i, 4])) for i in line), key=lambda c: c[1]), height))
    return labels, lines


def _drop_frame_edges(keep: list, stats: np.ndarray, shape: tuple[int, int], pad: int
                      ) -> list:
    """``keep`` without the edges of things running out of the picture: components that touch
    the picture's frame (``shape`` (H, W) of the padded mask, ``pad`` its frame's width; within
    2 % of the picture's short side, at least 2 px, of it) and stand more than ``_EDGE_TALL``
    times as tall as the median of the components that do not (of those at least half as tall
    as the tallest of them: a dot or a dash among them does not count). All of ``keep`` when
    every component touches the frame or none does, and when the edges would be as many as the
    components left or more: a tight crop's digits touch it, and a dot or a dash inside the
    crop must not make them edges.

    Exists for: a sheet's, a desk's or a card's edge beside the number, a long dark strip
    from the picture's border: as the largest component it seeded the line, whose height it
    then set, and the digits beside it, a quarter as tall, were read as one segment, or the
    edge alone as a sure "1" (number photos B, ``make_numbers_b.py`` seed 4029: "8362" read
    "1"; 2026-12-08, docs/numbers.md).
    """
    h, w = shape
    near = pad + max(2.0, 0.02 * (min(h, w) - 2 * pad))  # the threshold may leave a few px
    x0, y0 = stats[keep, 0], stats[keep, 1]
    x1, y1 = x0 + stats[keep, 2], y0 + stats[keep, 3]
    touch = (x0 <= near) | (y0 <= near) | (x1 >= w - near) | (y1 >= h - near)
    if touch.all() or not touch.any():
        return keep
    inside = stats[keep, 3][~touch]
    reference = float(np.median(inside[inside >= 0.5 * inside.max()]))
    edge = touch & (stats[keep, 3] > _EDGE_TALL * reference)
    if edge.sum() >= (~edge).sum():
        return keep
    return [i for i, e in zip(keep, edge) if not e]


def _drop_enclosures(keep: list, stats: np.ndarray) -> list:
    """``keep`` without its enclosures: components whose bounding box holds the centre of
    another kept component and whose ink fills under ``_ENCLOSURE_FILL`` of that box (a box
    drawn around the number at a slant, which the axis-aligned frame removal of
    :func:`cnn.vision.segment._remove_frames` misses; a circle round a score). All of
    ``keep`` when nothing else would be left."""
    x0, y0 = stats[keep, 0], stats[keep, 1]
    x1, y1 = x0 + stats[keep, 2], y0 + stats[keep, 3]
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    out = []
    for k, i in enumerate(keep):
        inside = (x0[k] < cx) & (cx < x1[k]) & (y0[k] < cy) & (cy < y1[k])
        inside[k] = False
        sparse = stats[i, 4] < _ENCLOSURE_FILL * stats[i, 2] * stats[i, 3]
        if not (inside.any() and sparse):
            out.append(i)
    return out or keep


def _grow_line(seed: int, keep: list, stats: np.ndarray) -> tuple[list, float]:
    """The components of the line through ``seed`` and its height (see
    :func:`candidate_lines`)."""
    sy0, sy1 = stats[seed, 1], stats[seed, 1] + stats[seed, 3]
    band = [i for i in keep
            if min(sy1, stats[i, 1] + stats[i, 3]) - max(sy0, stats[i, 1])
            >= _BAND_OVERLAP * stats[i, 3]]
    tall = sorted(stats[i, 3] for i in band)
    height = float(np.median([t for t in tall if t >= 0.5 * tall[-1]]))
    # Chain outwards from the seed: no farther than _LINE_GAP line heights from the line, in
    # the seed's band or the band that moves along the line (a line that drifts or slants
    # leaves the seed's own band after a few digits: "484728" in a tilted box was read "728").
    order = sorted(keep, key=lambda i: stats[i, 0])
    start = order.index(seed)
    line = [seed]
    for direction in (1, -1):
        edge = (stats[seed, 0] + stats[seed, 2]) if direction > 0 else stats[seed, 0]
        top, bottom = sy0, sy1
        k = start + direction
        while 0 <= k < len(order):
            i = order[k]
            k += direction
            x0, x1 = stats[i, 0], stats[i, 0] + stats[i, 2]
            y0, y1 = stats[i, 1], stats[i, 1] + stats[i, 3]
            need = _BAND_OVERLAP * stats[i, 3]
            if (min(sy1, y1) - max(sy0, y0) < need and min(bottom, y1) - max(top, y0) < need):
                continue  # above or below the line, where it starts and where it now is
            gap = x0 - edge if direction > 0 else edge - x1
            if gap > _LINE_GAP * height:
                break
            line.append(i)
            edge = max(edge, x1) if direction > 0 else min(edge, x0)
            # the band moves with a digit-sized component that is in the band it has now
            # (not one reached through the seed's band only, nor a stroke running down to
            # the writing below: the line never jumps to another line)
            if (0.5 * height <= y1 - y0 <= 1.5 * height
                    and min(bottom, y1) - max(top, y0) >= need):
                top, bottom = y0, y1
    return line, height


def _blobs(comps: list, height: float) -> list[list]:
    """Components grouped into blobs: those whose column ranges overlap by half the narrower."""
    blobs: list[list] = []
    for c in comps:
        if blobs:
            b = blobs[-1]
            bx0, bx1 = min(d[1] for d in b), max(d[3] for d in b)
            overlap = min(bx1, c[3]) - max(bx0, c[1])
            if overlap >= 0.5 * min(c[3] - c[1], bx1 - bx0) or (
                    overlap > 0 and c[4] - c[2] < 0.4 * height):
                b.append(c)
                continue
        blobs.append([c])
    return blobs


def read_line(image: np.ndarray, score, polarity: str = "auto",
              max_digits: int = MAX_DIGITS, box_scale: float = 1.0, check: bool = True,
              known: dict | None = None) -> Line:
    """The digits of the line of writing in ``image`` that reads best, left to right.

    Args:
        image: as :func:`cnn.vision.pipeline.to_mnist` takes it.
        score: a function from a float32 ``(K, 28, 28)`` batch of candidate digits to ``K``
            scores in (0, 1] (e.g. the classifier's top probability times P(a digit)); the
            segmentation with the largest sum of log scores wins.
        polarity: ``"auto"``, ``"dark-on-light"`` or ``"light-on-dark"``.
        max_digits: the longest number read (>= 1); a line with more segments raises.
        box_scale: original pixels per pixel of ``image`` (a JPEG decoded reduced 2, 4 or 8
            times: :func:`cnn.vision.decode.read_image_reduced`), so boxes come back in the
            file's own pixels.
        check: see :func:`ink_map`.
        known: the single-digit pipeline's ink of ``image``, as :func:`ink_map` takes it.
    Returns:
        a :class:`Line`: its segments (at least one) and the whole line as one digit.
    Raises:
        UserError: no ink or only specks; :class:`TooManyDigits` (a UserError): more than
            ``max_digits`` digits.
    """
    _, segments, whole, pad, (sx, sy), used = _read_ink(image, score, polarity, max_digits,
                                                         check, known)
    sx, sy = sx * box_scale, sy * box_scale
    for s in segments + ([whole] if whole else []):
        x0, y0, x1, y1 = s.box
        s.box = (int(max(0, (x0 - pad) * sx)), int(max(0, (y0 - pad) * sy)),
                 int(np.ceil((x1 - pad) * sx)), int(np.ceil((y1 - pad) * sy)))
    return Line(segments, whole, used)


def _read_ink(image: np.ndarray, score, polarity: str, max_digits: int, check: bool = True,
              known: dict | None = None):
    """The best-reading line of ``image`` in one polarity: ``(quality, segments, whole, pad,
    scale, polarity used)``, boxes in working pixels (see :func:`read_line`).

    Raises:
        UserError: no ink, only specks, no line that reads, or a line too long.
    """
    ink, mask, thresh, pad, scale, used = ink_map(image, polarity, check, known)
    # digits normalised from this ink, shared by the chunks and whole lines read from it (and
    # the single-digit pipeline's candidates, when it is that pipeline's ink)
    normalised = known.get("normalised", {}) if known and ink is known["map"][0] else {}
    labels, lines = candidate_lines(mask, pad)
    if not lines:
        raise UserError("no digit found: only specks of ink, no stroke")
    best, too_long = None, None
    for comps, height in lines:
        try:
            segments = _read_one_line(comps, height, labels, ink, thresh, score, max_digits,
                                      normalised)
        except TooManyDigits as e:
            too_long = too_long or e
            continue
        quality = _best_run([s.score - _GOOD for s in segments])
        if segments and (best is None or quality > best[0]):
            best = (quality, segments, comps)
    if best is None or (too_long is not None and best[0] <= 0):
        raise too_long or UserError("no digit found: no part of the line reads as a digit")
    quality, segments, comps = best
    whole = _whole_line(comps, labels, ink, thresh, normalised)
    return quality, segments, whole, pad, scale, used


def _best_run(values: list) -> float:
    """The largest sum of a run of consecutive ``values`` (0 for none): the best-reading
    stretch of a line, so a printed word beside the number does not sink the line
    (Kadane's maximum-subarray algorithm; J. Bentley, "Programming Pearls: Algorithm
    Design Techniques", CACM 27(9), 1984)."""
    best = run = 0.0
    for v in values:
        run = max(0.0, run + v)
        best = max(best, run)
    return best


def _read_one_line(comps: list, height: float, labels: np.ndarray, ink: np.ndarray,
                   thresh: float, score, max_digits: int, normalised: dict | None = None
                   ) -> list[Segment]:
    """The segments of one line of components (see the module docstring, steps 2-4);
    ``normalised``: digits already normalised from ``ink`` (see :func:`read_chunk`).

    Raises:
        TooManyDigits: more than ``max_digits`` segments.
    """
    blobs = _blobs(comps, height)
    # The line height from whole digits (a "5" whose bar stands apart is one blob).
    height = max(height, float(np.percentile([max(d[4] for d in b) - min(d[2] for d in b)
                                              for b in blobs], 75)))
    # Candidate cut positions: blob boundaries (sure or optional) and cuts inside blobs.
    chunks: list[list] = [[]]  # runs of blobs with no sure cut between them
    for k, blob in enumerate(blobs):
        if k:
            prev = max(d[3] for d in blobs[k - 1])
            if min(d[1] for d in blob) - prev > _SURE_GAP * height:
                chunks.append([])
        chunks[-1].append(blob)
    segments: list[Segment] = []
    for chunk in chunks:
        segments += read_chunk(chunk, labels, ink, thresh, height, score, normalised)
        if len(segments) > max_digits:
            raise TooManyDigits(f"more than {max_digits} digits on the line; raise "
                                "--max-digits if that is right")
    return segments


def _whole_line(comps: list, labels: np.ndarray, ink: np.ndarray, thresh: float,
                normalised: dict | None = None) -> Segment | None:
    """Every component of the line normalised together as one digit (None if it cannot be);
    taken from ``normalised`` (see :func:`cnn.vision.cuts.read_chunk`) when that selection was
    normalised already (a lone digit: the line's one segment)."""
    x0, y0 = min(c[1] for c in comps), min(c[2] for c in comps)
    x1, y1 = max(c[3] for c in comps), max(c[4] for c in comps)
    sel = among(labels[y0:y1, x0:x1], [c[0] for c in comps])
    image = (normalised or {}).get(((x0, y0, x1, y1), sel.tobytes()))
    if image is None:
        try:
            image = _normalise(ink, sel, (0, 0, x1 - x0, y1 - y0), thresh, (y0, x0))
        except UserError:
            return None
    return Segment(image, (x0, y0, x1, y1))
