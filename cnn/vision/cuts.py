"""One run of blobs cut into digits by recognition (step 4 of :mod:`cnn.vision.numbers`).

:func:`read_chunk` offers **candidate cuts** (blob boundaries, and inside blobs the minima of
the ink's column profile and a grid of a sixth of the line height, thinned to a budget),
normalises every candidate segment between two cuts to 28 x 28 (:mod:`cnn.vision.normalize`),
scores it with the classifier, and lets dynamic programming pick the segmentation with the
highest total log score: a cut through ink costs ``_CUT_COST``, a segment spanning a blank gap
between blobs ``_MERGE_COST``, a segment wider than ``_WIDE`` line heights ``_WIDE_COST`` per
line height beyond (recognition-driven segmentation: R. G. Casey and E. Lecolinet, "A survey of
methods and strategies in character segmentation", IEEE PAMI 18(7), 1996, Section 4; the
"over-segment, then let the recogniser choose" scheme of Fujisawa, Nakano & Kurino, Proc. IEEE
80(7), 1992).

Before all that it reads the blobs as they stand (:func:`_sure_reading`): when every blob reads
well enough that no other segmentation can beat them (a bound on the costs above, exact), the
other candidates are never normalised nor scored. A clean line of separate digits, and most
single digits, take that path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnn.errors import UserError
from cnn.vision.measures import among
from cnn.vision.normalize import _normalise

_GRID = 1 / 6  # spacing of the grid of candidate cuts inside a blob (x line height)
_MIN_CUT_GAP = 0.05  # candidate cuts closer than this (x line height) are one
_MAX_PIECES = 150  # candidate segments of one run of blobs, at most (see _within_budget)
_MAX_WIDTH = 1.5  # widest segment considered (x line height)
_WIDE = 1.2  # segments wider than this (x line height) pay _WIDE_COST per line height beyond
_WIDE_COST = 3.0
_CUT_COST = 0.5  # log-score cost of a cut through ink (a split must be clearly better read)
_MERGE_COST = 1.0  # log-score cost of one segment spanning a blank gap between blobs
SCORE_FLOOR = 1e-4  # smallest probability whose log enters a segment's score
_BLANK = np.zeros((28, 28), np.float32)  # the image scored for a segment that cannot be normalised
_BLANK.setflags(write=False)


def log_score(scores) -> np.ndarray:
    """Natural log of scores in [0, 1] (an array), floored at ``SCORE_FLOOR`` (so a hopeless
    segment costs a finite ``log(1e-4)``): the same shape and dtype."""
    return np.log(np.clip(scores, SCORE_FLOOR, 1.0))


@dataclass
class Segment:
    """One digit candidate of a line: ``image`` float32 (28, 28) in [0, 1] (MNIST form),
    ``box`` (x0, y0, x1, y1) in the original image's pixels (exclusive ends), ``score`` the
    classifier's log score that chose it."""

    image: np.ndarray
    box: tuple[int, int, int, int]
    score: float = 0.0


def _cuts_inside(mask_crop: np.ndarray, x0: int, height: float) -> list[int]:
    """Candidate cut columns inside a blob (absolute x): column-profile minima and a grid."""
    width = mask_crop.shape[1]
    if width < 0.5 * height:
        return []
    profile = mask_crop.sum(axis=0).astype(np.float32)
    smooth = np.convolve(profile, np.ones(3, np.float32) / 3, mode="same")
    margin = max(2, int(0.15 * height))
    found = set()
    for x in range(margin, width - margin):
        if smooth[x] <= smooth[x - 1] and smooth[x] <= smooth[x + 1] and \
                smooth[x] < 0.5 * smooth.max():
            found.add(x)
    step = max(2, int(_GRID * height))
    found.update(range(margin, width - margin, step))
    merged: list[int] = []
    for x in sorted(found):
        if not merged or x - merged[-1] >= max(2, _MIN_CUT_GAP * height):
            merged.append(x)
    return [x0 + x for x in merged]


def _pieces(cuts: list[int], height: float) -> int:
    """How many candidate segments the ``cuts`` (sorted, distinct x positions) offer: pairs
    at most ``_MAX_WIDTH`` line heights apart."""
    ends = np.searchsorted(cuts, np.asarray(cuts) + _MAX_WIDTH * height, side="right")
    return int((ends - np.arange(len(cuts)) - 1).sum())


def _within_budget(inside: list[int], fixed: list[int], height: float) -> set[int]:
    """The cuts ``inside`` blobs (sorted), thinned until the chunk offers at most
    ``_MAX_PIECES`` candidate segments with the ``fixed`` cuts (blob boundaries, kept):
    each round keeps only cuts 1.5 times farther apart than the last; when the ``fixed`` cuts
    alone offer more (many small blobs side by side), no cut inside blobs is kept.

    Exists for: a noisy or textured blob (a comb box's walls, a scan's grain, a phone photo's
    clutter read as one line), whose column profile has a minimum every few pixels: it
    offered thousands of candidate segments, each normalised and scored by three networks
    (seconds for one picture). A clean line of handwriting offers tens and is not touched.
    Measured (BENCHMARKS.md, issue 30, round 3): B's comb-box photos 9.9 -> 2.4 s median,
    whole-number accuracy on A, B, C within one photo.
    """
    gap = _MIN_CUT_GAP * height
    while inside and _pieces(sorted(set(inside) | set(fixed)), height) > _MAX_PIECES:
        if len(inside) == 1:
            return set()  # the blob boundaries alone offer more: no cut inside blobs
        gap *= 1.5
        thinned: list[int] = []
        for x in inside:
            if not thinned or x - thinned[-1] >= gap:
                thinned.append(x)
        inside = thinned
    return set(inside)


def read_chunk(chunk: list[list], labels: np.ndarray, ink: np.ndarray, thresh: float,
               height: float, score, normalised: dict | None = None) -> list[Segment]:
    """The segments of one run of blobs, left to right (see the module docstring).

    Args:
        chunk: the run's blobs, left to right, each a list of components ``(label, x0, y0,
            x1, y1, area)`` (working pixels, exclusive ends).
        labels: int32 (H, W) component labels of the picture.
        ink: float32 (H, W) ink strength; ``thresh``: its ink threshold.
        height: the line height in pixels.
        score: float32 ``(K, 28, 28)`` -> ``K`` scores in (0, 1] (see
            :func:`cnn.vision.numbers.read_line`), called on batches of any size; with an
            attribute ``bound`` (the same signature, scores at least ``score``'s, e.g. the
            classifier alone when ``score`` also weighs a gate), the full search consults
            ``score`` only where it can change the answer (:func:`_bound_and_prune`).
        normalised: digits normalised from ``ink``, by ``(box, selection)``: the box (x0,
            y0, x1, y1) in ``ink``'s pixels and the bytes of the bool selection inside it. A
            segment found there is not normalised again, and the chunk's own are added (the
            single-digit pipeline's candidates, :func:`cnn.vision.pipeline.to_mnist`'s
            ``keep``, and the line's other chunks and whole-line digit share them).
    Returns:
        the chosen :class:`Segment` s (boxes in working pixels); empty when no candidate
        segment holds ink enough to be a digit.
    """
    comps = [c for blob in chunk for c in blob]
    x_lo, x_hi = min(c[1] for c in comps), max(c[3] for c in comps)
    y_lo, y_hi = min(c[2] for c in comps), max(c[4] for c in comps)
    crop_labels = labels[y_lo:y_hi, x_lo:x_hi]
    member = among(crop_labels, [c[0] for c in comps])
    cuts = {x_lo, x_hi}
    inside: set[int] = set()
    for k, blob in enumerate(chunk):
        bx0, bx1 = min(d[1] for d in blob), max(d[3] for d in blob)
        if k:
            cuts.add((max(d[3] for d in chunk[k - 1]) + bx0) // 2)
        inside.update(_cuts_inside(member[:, bx0 - x_lo:bx1 - x_lo], bx0, height))
    gaps = cuts - {x_lo, x_hi}
    inside = _within_budget(sorted(inside - cuts), sorted(cuts), height)
    cuts |= inside
    cuts = sorted(c for c in cuts if x_lo <= c <= x_hi)
    regions = {c[0]: crop_labels == c[0] for c in comps}
    centres = {c[0]: 0.5 * (c[1] + c[3]) for c in comps}
    spans = {c[0]: (c[1], c[3]) for c in comps}

    def crosses(cut: int, label: int) -> bool:
        a, b = spans[label]
        margin = 0.15 * (b - a)
        return a + margin < cut < b - margin

    def piece(i: int, j: int):
        """The ink between cuts ``i`` and ``j``: ``(selection, box)``, the box in the crop's
        pixels and the selection inside the box only (a textured line offers a thousand
        pieces: crop-sized selections held 130 MB), or None when it is too wide or too
        little to be a digit."""
        a, b = cuts[i], cuts[j]
        if b - a > _MAX_WIDTH * height:
            return None
        parts = []  # (label, box in the crop's pixels) of the ink taken, each within its box
        for label, cx0, cy0, cx1, cy1, _ in comps:
            if crosses(a, label) or crosses(b, label):  # only its columns between the cuts
                cx0, cx1 = max(a, cx0), min(b, cx1)
            elif not a <= centres[label] < b:
                continue
            if cx0 < cx1:
                parts.append((label, cx0 - x_lo, cy0 - y_lo, cx1 - x_lo, cy1 - y_lo))
        if not parts:
            return None
        bx0, by0 = min(p[1] for p in parts), min(p[2] for p in parts)
        bx1, by1 = max(p[3] for p in parts), max(p[4] for p in parts)
        sel = np.zeros((by1 - by0, bx1 - bx0), bool)  # over the parts' box, not the crop
        for label, px0, py0, px1, py1 in parts:
            sel[py0 - by0:py1 - by0, px0 - bx0:px1 - bx0] |= regions[label][py0:py1, px0:px1]
        ys, xs = np.nonzero(sel)
        if ys.size < 4 or ys.max() - ys.min() + 1 < 0.3 * height and \
                xs.max() - xs.min() + 1 < 0.3 * height:
            return None
        x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
        return sel[y0:y1, x0:x1].copy(), (x0 + bx0, y0 + by0, x1 + bx0, y1 + by0)

    # a cut inside a blob that passes between its components (two "1"s slanted side by side)
    # cuts no ink and pays nothing
    through = {x for x in inside if any(crosses(x, c[0]) for c in comps)}

    def cost(i: int, j: int, box: tuple) -> float:
        """What the segment between cuts ``i`` and ``j`` pays besides its log score."""
        paid = _WIDE_COST * max(0.0, (box[2] - box[0]) / height - _WIDE)
        if cuts[j] in through:
            paid += _CUT_COST
        return paid + _MERGE_COST * sum(cuts[i] < g < cuts[j] for g in gaps)

    scored = _Scorer(ink, (y_lo, x_lo), thresh, score, normalised)
    if inside <= through:
        sure = _sure_reading([k for k, c in enumerate(cuts) if c not in inside], piece, cost,
                             scored)
        if sure is not None:
            return [Segment(image, (x0 + x_lo, y0 + y_lo, x1 + x_lo, y1 + y_lo), log)
                    for image, (x0, y0, x1, y1), log in sure]
    pieces = {}
    for i in range(len(cuts)):
        for j in range(i + 1, len(cuts)):
            if cuts[j] - cuts[i] > _MAX_WIDTH * height:
                break
            found = piece(i, j)
            if found is not None:
                pieces[(i, j)] = found
    if not pieces:
        return []
    keys = list(pieces)
    boxes = [pieces[key][1] for key in keys]
    costs = np.array([cost(*key, boxes[k]) for k, key in enumerate(keys)])
    bound = getattr(score, "bound", None)
    if bound is None:
        images, raw = scored([pieces[key] for key in keys])
        logs = log_score(raw) - costs
    else:
        images, logs = _bound_and_prune(keys, [pieces[key] for key in keys], costs,
                                        len(cuts), scored)
    path = _best_path(keys, logs, len(cuts))
    chosen = []
    for k in path or []:
        x0, y0, x1, y1 = boxes[k]
        chosen.append(Segment(images[k], (x0 + x_lo, y0 + y_lo, x1 + x_lo, y1 + y_lo),
                              float(logs[k])))
    return chosen


def _forward(keys: list, logs: np.ndarray, n: int) -> tuple[np.ndarray, list[int]]:
    """Dynamic programming over cuts ``0 .. n - 1`` (``keys``: ``(i, j)`` cut pairs with log
    scores ``logs``; -inf: not offered): ``(best, back)``, the largest total of a
    segmentation from the first cut to each cut (-inf: none) and the index into ``keys`` of
    its last segment (-1: none)."""
    index = {key: k for k, key in enumerate(keys) if logs[k] > -np.inf}
    best = np.full(n, -np.inf)
    back = [-1] * n
    best[0] = 0.0
    for j in range(1, n):
        for i in range(j):
            k = index.get((i, j))
            if k is not None and best[i] > -np.inf and best[i] + logs[k] > best[j]:
                best[j], back[j] = best[i] + logs[k], k
    return best, back


def _best_path(keys: list, logs: np.ndarray, n: int,
               forward: tuple[np.ndarray, list[int]] | None = None) -> list[int] | None:
    """The indices into ``keys`` of the segmentation from the first cut to the last with the
    largest total, left to right (:func:`_forward`, or its result ``forward``); None when
    there is none."""
    best, back = forward or _forward(keys, logs, n)
    if best[-1] == -np.inf:
        return None
    path, j = [], n - 1
    while j > 0:
        path.append(back[j])
        j = keys[back[j]][0]
    return path[::-1]


def _bound_and_prune(keys: list, pieces: list, costs: np.ndarray, n: int, scored
                     ) -> tuple[list[np.ndarray], np.ndarray]:
    """Every candidate's image and log score (costs paid), the not-a-digit gate consulted
    only where it can change the answer: ``(images, logs)``, -inf for a candidate left out.

    A segment's score is the classifier's top probability times P(a digit) (and P(one
    digit) from the line gate: :func:`cnn.tasks.numbers.segment_scorer`), so the
    classifier's alone (``score.bound``) bounds it from above. Branch and bound (Land & Doig,
    Econometrica 28(3), 1960): the segmentation that is best under the bounds is scored
    exactly, and its total ``L`` is reachable; a candidate whose best total through it under
    the bounds (forward and backward dynamic programming) is below ``L`` cannot be on the
    optimal segmentation, and the gate never sees it. The kept ones are scored exactly, so the
    final dynamic programming chooses what it would over every candidate (to float
    rounding: the gate sees them in smaller batches).
    """
    images, upper = scored(pieces, bound=True)
    ub = log_score(upper) - costs
    forward, back = _forward(keys, ub, n)
    path = _best_path(keys, ub, n, (forward, back))
    logs = np.full(len(keys), -np.inf)
    if path is None:
        return images, logs
    _, raw = scored([pieces[k] for k in path])
    reachable = float(np.sum(log_score(raw) - costs[path]))
    backward = np.full(n, -np.inf)
    backward[n - 1] = 0.0
    for k in sorted(range(len(keys)), key=lambda k: -keys[k][0]):  # by start cut, from the end
        i, j = keys[k]
        backward[i] = max(backward[i], ub[k] + backward[j])
    through = np.array([forward[i] + ub[k] + backward[j] for k, (i, j) in enumerate(keys)])
    # The same terms summed in another order differ by rounding: a candidate whose bound
    # equals its score (no gate, or a gate sure it is a digit) on the path itself would
    # otherwise fall just below; the path's own candidates are kept in any case.
    slack = 1e-9 * (1.0 + abs(reachable))
    kept = sorted(set(path) | {k for k in range(len(keys)) if through[k] >= reachable - slack})
    _, raw = scored([pieces[k] for k in kept])
    logs[kept] = log_score(raw) - costs[kept]
    return images, logs


class _Scorer:
    """Normalises and scores candidate segments of one crop (its corner at ``origin`` (row,
    column) of ``ink``), each distinct selection once.

    Cuts through empty columns select the same pixels, and :func:`_sure_reading`'s segments
    come again in the full search when it does not decide: a selection (its box and its pixels
    inside it) already seen is neither normalised nor scored again. The images are kept in
    ``normalised`` (by the box in ``ink``'s pixels and the selection's bytes), which the
    caller may share with the line's other chunks, its whole-line digit and the single-digit
    pipeline's candidates (:func:`read_chunk`); a selection that cannot be normalised is
    scored as a blank image, and not shared.
    """

    def __init__(self, ink: np.ndarray, origin: tuple[int, int], thresh: float, score,
                 normalised: dict | None = None) -> None:
        self.ink, self.origin, self.thresh, self.score = ink, origin, thresh, score
        self.images: dict[tuple, np.ndarray] = {} if normalised is None else normalised
        self.failed: set[tuple] = set()  # selections _normalise refused
        self.known: dict[tuple, float] = {}
        self.upper: dict[tuple, float] = {}

    def _image(self, key: tuple) -> np.ndarray:
        return _BLANK if key in self.failed else self.images[key]

    def __call__(self, pieces: list, bound: bool = False) -> tuple[list[np.ndarray], np.ndarray]:
        """``pieces`` (selection inside the box, box in the crop) -> (their 28 x 28 images,
        float64 ``(K,)`` scores; with ``bound``, ``score.bound``'s upper bounds instead)."""
        keys = []
        oy, ox = self.origin
        for sel, box in pieces:  # sel: the selection inside the box
            x0, y0, x1, y1 = box
            key = ((ox + x0, oy + y0, ox + x1, oy + y1), sel.tobytes())
            keys.append(key)
            if key not in self.images and key not in self.failed:
                try:
                    self.images[key] = _normalise(self.ink, sel, (0, 0, x1 - x0, y1 - y0),
                                                  self.thresh, (oy + y0, ox + x0))
                except UserError:
                    self.failed.add(key)
        known, score = (self.upper, self.score.bound) if bound else (self.known, self.score)
        new = list(dict.fromkeys(k for k in keys if k not in known))
        if new:
            raw = np.asarray(score(np.stack([self._image(k) for k in new])), np.float64)
            known.update(zip(new, raw))
        return [self._image(k) for k in keys], np.array([known[k] for k in keys], np.float64)


def _sure_reading(bounds: list[int], piece, cost, scored) -> list | None:
    """The blobs as they stand, when no other segmentation can read better; else None.

    ``bounds`` are the indices of the cuts that are not inside a blob (the run's two ends and
    the gaps between blobs). The segments between consecutive ones are the reading when each
    exists and scores above ``-_CUT_COST`` (log, its costs paid), provided every cut inside a
    blob crosses ink (the caller checks). Why no other segmentation can then win: between two
    of ``bounds`` that it keeps, it either adds ``u >= 1`` cuts inside a blob, each paying
    ``_CUT_COST``, or spans ``m - 1 >= 1`` gaps over ``m`` blobs' room, each paying
    ``_MERGE_COST`` (= 2 ``_CUT_COST``); every segment's log score is at most 0, so it totals
    at most ``-u * _CUT_COST`` or ``-(m - 1) * _MERGE_COST <= -m * _CUT_COST``, strictly less
    than what the segments it replaces total here (each above ``-_CUT_COST``). The dynamic
    programming would choose the same segments (their scores equal to float rounding: the
    classifier sees them in a smaller batch).

    Returns:
        ``[(image, box, log score), ...]`` left to right, or None.
    """
    found = [piece(i, j) for i, j in zip(bounds, bounds[1:])]
    if any(f is None for f in found):
        return None
    images, raw = scored(found)
    logs = [float(log) - cost(i, j, f[1])
            for log, i, j, f in zip(log_score(raw), bounds, bounds[1:], found)]
    if min(logs) <= -_CUT_COST:
        return None
    return [(image, f[1], log) for image, f, log in zip(images, found, logs)]
