"""Stage 4, segmentation: threshold the ink, remove ruled lines and boxes, and find the candidate
digits (the largest ink with what lies near it, the same without an underline, other groups).
"""

from __future__ import annotations

import cv2
import numpy as np

from cnn.vision.measures import among, components

_OTHER_SEED_PENALTY = 0.1  # handicap of candidates grown from other than the largest ink


def _threshold(ink: np.ndarray, noise: float) -> tuple[np.ndarray, float]:
    """Binary ink mask (uint8 (H, W)) and the threshold used: Otsu within sane bounds.

    Exists for: any contrast from faint pencil to marker. Otsu's threshold on the ink scaled by
    its contrast, kept between 20 % and 60 % of the contrast and above 4 noise sigmas.
    """
    contrast = float(ink.max())
    scaled = ink / contrast
    scaled *= 255.0
    scaled = np.clip(scaled, 0, 255, out=scaled).astype(np.uint8)
    otsu, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    thresh = float(np.clip(otsu / 255.0 * contrast, max(0.2 * contrast, 4.0 * noise),
                           0.6 * contrast))
    return (ink > thresh).astype(np.uint8), thresh


_DRIFT = 9  # px: a straight stroke is thickened across by this much before its run is sought


def _across(axis: int) -> np.ndarray:
    """The structuring element that thickens a stroke along ``axis`` (1: horizontal, 0:
    vertical) across itself by :data:`_DRIFT` pixels."""
    return np.ones((_DRIFT, 1) if axis == 1 else (1, _DRIFT), np.uint8)


def _straight_runs(mask: np.ndarray, axis: int, length: int) -> np.ndarray:
    """The straight runs of ink at least ``length`` pixels long along ``axis`` (1:
    horizontal, 0: vertical): uint8 (H, W), 1 where a line of ``length`` pixels fits in the
    ink (``mask``: uint8 (H, W), 1 = ink) thickened across by :data:`_DRIFT` pixels, 0
    elsewhere; a binary opening with a line (Serra, *Image Analysis and Mathematical
    Morphology*, 1982, ch. 2).

    Exists for: the straight strokes that are not digits, ruled lines
    (:func:`_remove_long_lines`) and the walls of a comb (:func:`_remove_frames`). Thickened
    first, so a line drifting by a few pixels (a hand-ruled margin, a slightly turned page or
    box) still holds a run of that length. Pixels beyond the array are not ink: OpenCV's
    default border for the erosion counts them as ink, so a stroke touching one side would
    pass at half the length. Only the band of rows (columns) that hold ``length`` thickened
    ink pixels is opened: the opening works along them, and no run lies outside it.
    """
    thick = cv2.dilate(mask, _across(axis))
    runs = np.zeros_like(mask)
    band = np.flatnonzero(np.count_nonzero(thick, axis=axis) >= length)
    if band.size == 0:
        return runs
    cut = ((slice(band[0], band[-1] + 1), slice(None)) if axis == 1
           else (slice(None), slice(band[0], band[-1] + 1)))
    line = np.ones((1, length) if axis == 1 else (length, 1), np.uint8)
    runs[cut] = cv2.morphologyEx(thick[cut], cv2.MORPH_OPEN, line,
                                 borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return runs


def _remove_long_lines(mask: np.ndarray, pad: int) -> np.ndarray:
    """Remove thin straight lines that cross the picture and reach well beyond the digit.

    Exists for: ruled and squared notebook paper, a red margin line. A binary opening with a
    line of 80 % of the picture's width (height) finds horizontal (vertical) runs, tolerant to
    a few pixels of drift; of those, thin ones (at most 8 % of the picture's side thick: ruled
    lines, a drawing app's title bar) are
    lines if the largest ink left without them spans under 60 % of their length (so a tight
    crop, where a "7"'s bar or a "1" crosses the frame, keeps its strokes). The strokes that
    crossed a line are then joined again by a closing across the removed band.
    """
    h, w = mask.shape
    inner_w, inner_h = w - 2 * pad, h - 2 * pad
    found = {}
    for axis, length in ((1, int(0.8 * inner_w)), (0, int(0.8 * inner_h))):
        if length < 20:
            continue
        # The padding holds no ink, so a run never touches the frame.
        runs = _straight_runs(mask, axis, length) & mask
        n, labels, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
        max_thick = max(3.0, 0.08 * min(inner_w, inner_h))
        thin = [i for i in range(1, n)
                if stats[i, cv2.CC_STAT_AREA] / max(stats[i, 2 + (axis == 0)], 1) <= max_thick]
        if thin:
            runs = among(labels, thin).view(np.uint8)
            grow = np.ones((3, 1) if axis == 1 else (1, 3), np.uint8)
            found[axis] = (cv2.dilate(runs, grow) & mask, length)
    lines = np.zeros_like(mask)
    if not found:
        return mask
    rest = mask.copy()
    for runs, _ in found.values():
        rest &= 1 - runs
    m, _, rstats, _ = cv2.connectedComponentsWithStats(rest, connectivity=8)
    for axis, (runs, length) in found.items():
        if m > 1:
            biggest = 1 + int(np.argmax(rstats[1:, cv2.CC_STAT_AREA]))
            if rstats[biggest, 2 if axis == 1 else 3] >= 0.6 * length:
                continue  # the ink left spans the line: a stroke of a tightly cropped digit
        lines |= runs
    if not lines.any():
        return mask
    rest = mask & (1 - lines)
    # Bridge the gap the removal cut into strokes that crossed a line (across the line only).
    thick = int(max(3, 2 * lines.sum() / max(1, _line_length(lines))))
    across_h = cv2.morphologyEx(rest, cv2.MORPH_CLOSE, np.ones((thick + 2, 1), np.uint8))
    across_v = cv2.morphologyEx(rest, cv2.MORPH_CLOSE, np.ones((1, thick + 2), np.uint8))
    return rest | (lines & (across_h | across_v))


def _line_length(lines: np.ndarray) -> int:
    """Total length in pixels of the lines in a binary mask (longest side of each)."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
    return int(sum(max(stats[i, 2], stats[i, 3]) for i in range(1, n)))


_WALL = 0.8  # a straight stroke this far across a box, between two covered sides, is a wall
_COMB_WALLS = 2  # ... when there are at least this many, dividing the box into a comb's cells
_COMB_REGULAR = 2.0  # ... of widths within this factor of each other
_COMB_CELL = 0.4  # ... and each at least this wide (x the box's other side)


def _comb(starts: np.ndarray, sizes: np.ndarray, length: int, across: int) -> bool:
    """Whether walls at ``starts`` (``sizes`` thick, in pixels along a box ``length`` long
    and ``across`` pixels the other way) divide the box like a form's comb: at least
    ``_COMB_WALLS`` walls, the cells between them (and the box's sides) all within a factor
    ``_COMB_REGULAR`` of each other in width and at least ``_COMB_CELL`` of ``across`` wide
    (a comb's cells hold a digit each: about square). A "1" touching the top and bottom of
    the one box it is written in is a single straight stroke across the box, and stays; so
    do "11" in one box, and the sides of a "0" touching its box (cells too narrow or
    uneven)."""
    if len(starts) < _COMB_WALLS:
        return False
    centres = np.sort(starts + sizes / 2.0)
    cells = np.diff(np.concatenate([[0.0], centres, [float(length)]]))
    return bool(cells.min() * _COMB_REGULAR >= cells.max()
                and cells.min() >= _COMB_CELL * across)


def _remove_frames(mask: np.ndarray) -> np.ndarray:
    """Remove the straight sides of boxes drawn around the digit.

    Exists for: a digit written in a box (a form cell, a box drawn by hand), a drawing app's
    canvas border, a row of boxes with one digit in each (a form's comb). A component is a
    box when at least three of the four bands along its bounding box's sides (each 12 % of
    the box's short side wide) are covered by it over 70 % of their length; the pixels of
    those bands are removed, so a digit touching its box keeps its strokes inside. When two
    opposite sides are covered, the box's straight strokes from one to the other (the walls
    between a comb's cells, which otherwise read as "1"s) go too: runs of the component at
    least ``_WALL`` of the way across, found by an opening with a line, the component first
    thickened across by 9 pixels so a box photographed at a slight turn still holds them,
    and the run widened by 4 more pixels either side goes with it (8 pixels either side of
    the wall's straight core: the drift of a turned wall); only thin
    runs inside the box, apart from its sides (a thick "0" passes for a box, and its sides
    must stay), and only when they divide the box into a comb's regular cells (:func:`_comb`).
    """
    n, labels, stats = components(mask)
    out = mask.copy()
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        if min(w, h) < 20:
            continue
        band = max(3, int(0.12 * min(w, h)))
        comp = labels[y:y + h, x:x + w] == i
        sides = {"top": comp[:band].any(axis=0), "bottom": comp[-band:].any(axis=0),
                 "left": comp[:, :band].any(axis=1), "right": comp[:, -band:].any(axis=1)}
        covered = [k for k, v in sides.items() if v.mean() > 0.7]
        if len(covered) < 3:
            continue
        region = out[y:y + h, x:x + w]
        cut = np.zeros((h, w), bool)
        grow = band + 2
        if "top" in covered:
            cut[:grow] = True
        if "bottom" in covered:
            cut[-grow:] = True
        if "left" in covered:
            cut[:, :grow] = True
        if "right" in covered:
            cut[:, -grow:] = True
        walls = [(axis, length, along) for axis, sides_, length, along in (
            (0, ("top", "bottom"), h, w), (1, ("left", "right"), w, h))
            if all(k in covered for k in sides_) and length * _WALL >= 20]
        for axis, length, along in walls:  # axis 0: vertical walls (top to bottom)
            runs = _straight_runs(comp.view(np.uint8), axis, int(_WALL * length))
            # inner walls only, thin ones: a box's own sides are cut above, and a digit's
            # side (a "0" taken for a box) is at the box's edge
            count, wall_labels, wall_stats, _ = cv2.connectedComponentsWithStats(runs, 4)
            start, size = (0, 2) if axis == 0 else (1, 3)
            inner = [j for j in range(1, count)
                     if wall_stats[j, start] > grow
                     and wall_stats[j, start] + wall_stats[j, size] < along - grow
                     and wall_stats[j, size] <= _DRIFT + 2 * band]
            if _comb(wall_stats[inner, start], wall_stats[inner, size], along, length):
                walls_found = among(wall_labels, inner).view(np.uint8)
                # widened back over a turned wall's drift
                cut |= cv2.dilate(walls_found, _across(axis)) > 0
        region[comp & cut] = 0
    return out


def _candidate_digits(mask: np.ndarray, pad: int):
    """Candidate digit selections, most likely first: ``(selected bool (H, W), box)`` each.

    Exists for: pictures with other marks besides the digit (an underline, stains, a
    drawing app's buttons, the edge of a sheet). The first is the largest ink component with
    the components near it (:func:`_select_digit`); then the same without a straight
    horizontal stroke along its bottom (an underline; first if that stroke stands apart);
    then groups seeded by the next-largest components (at least 15 % of the largest's area).
    Each comes with a handicap subtracted from its classifier score: 0 for the largest ink,
    ``_OTHER_SEED_PENALTY`` for the others, so a fragment must be clearly more convincing.
    """
    n, labels, stats = components(mask)
    if n <= 1:
        return
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(-areas) + 1
    seen = []
    for rank, seed in enumerate(order[:4]):
        if rank and areas[seed - 1] < 0.15 * areas[order[0] - 1]:
            break
        if any(g[labels == seed].any() for g, _ in seen):
            continue
        selected, box = _select_digit(mask, labels, stats, int(seed), max(mask.shape) - 2 * pad)
        if selected is None:
            continue
        seen.append((selected, box))
        handicap = 0.0 if rank == 0 else _OTHER_SEED_PENALTY
        under = _without_underline(selected, box)
        if under is not None and under[2]:  # a line of its own under the digit: first
            yield under[0], under[1], handicap
            yield selected, box, handicap + _OTHER_SEED_PENALTY
        else:
            yield selected, box, handicap
            if under is not None:
                yield under[0], under[1], handicap


def _select_digit(mask: np.ndarray, labels: np.ndarray, stats: np.ndarray,
                  seed: int, side: int) -> tuple[np.ndarray | None, tuple[int, int, int, int]]:
    """The digit grown from component ``seed`` of a binary ink ``mask`` (H, W) uint8.

    Exists for: digits in several strokes (a "5", a "4") among specks. ``labels`` and
    ``stats`` are those of ``cv2.connectedComponentsWithStats``; ``side`` is the picture's
    long side without the padding. Returns a boolean (H, W) mask
    of the seed plus the components of some size whose bounding box meets the digit's box
    grown by 15 % of its long side (repeated until nothing joins), and the union box
    ``(x0, y0, x1, y1)`` (exclusive ends). ``(None, ...)`` if the seed is a speck (long side
    under 2 % of ``side``, or 2 px).
    """
    x, y, w, h = stats[seed, :4]
    if max(w, h) < max(2, 0.02 * side):
        return None, (0, 0, 0, 0)
    box = [x, y, x + w, y + h]
    chosen = {seed}
    min_area = max(2, 0.03 * stats[seed, cv2.CC_STAT_AREA])
    candidates = [i for i in range(1, len(stats))
                  if i != seed and stats[i, cv2.CC_STAT_AREA] >= min_area]
    grew = True
    while grew:
        grew = False
        margin = 0.15 * max(box[2] - box[0], box[3] - box[1]) + 1
        for i in list(candidates):
            cx, cy, cw, ch = stats[i, :4]
            if (cx < box[2] + margin and cx + cw > box[0] - margin
                    and cy < box[3] + margin and cy + ch > box[1] - margin):
                chosen.add(i)
                candidates.remove(i)
                box = [min(box[0], cx), min(box[1], cy), max(box[2], cx + cw), max(box[3], cy + ch)]
                grew = True
    return among(labels, sorted(chosen)), tuple(int(v) for v in box)


def _without_underline(selected: np.ndarray, box: tuple[int, int, int, int]):
    """The selection without a straight horizontal stroke along its bottom, or None.

    Exists for: an underlined digit (a line under a "7" makes it read "2"). The lowest
    horizontal run of at least 60 % of the digit's width, in the bottom fifth of its box, is
    taken away. Returns ``(selected, box, apart)`` like :func:`_select_digit`, ``apart`` True
    when the run was a stroke of its own (touching nothing above it: surely an underline);
    else it is only a candidate and the classifier decides (a "2" has such a stroke too).
    """
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if w < 10 or h < 10:
        return None
    crop = selected[y0:y1, x0:x1].astype(np.uint8)
    run = cv2.morphologyEx(crop, cv2.MORPH_OPEN, np.ones((1, max(3, int(0.6 * w))), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(run, connectivity=8)
    if n <= 1:
        return None
    lowest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_TOP] + stats[1:, cv2.CC_STAT_HEIGHT]))
    top, height = stats[lowest, cv2.CC_STAT_TOP], stats[lowest, cv2.CC_STAT_HEIGHT]
    if top + height / 2 < 0.8 * h or top + height < 0.9 * h:
        return None
    line = cv2.dilate((labels == lowest).astype(np.uint8), np.ones((5, 3), np.uint8))
    m, parts, _, _ = cv2.connectedComponentsWithStats(crop, connectivity=8)
    touched = np.unique(parts[(line > 0) & (crop > 0)])
    apart = not (among(parts, touched[touched > 0]) & (np.arange(h)[:, None] < top - 2)).any()
    rest = crop & (1 - line)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(rest, connectivity=8)
    if n <= 1:
        return None
    keep = stats[1:, cv2.CC_STAT_AREA] >= 0.1 * stats[1:, cv2.CC_STAT_AREA].max()
    kept = among(labels, np.flatnonzero(keep) + 1)
    ys, xs = np.nonzero(kept)
    if ys.size == 0 or ys.max() - ys.min() < 0.5 * h:
        return None
    out = np.zeros_like(selected)
    out[y0:y1, x0:x1] = kept
    return out, (x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1,
                 y0 + int(ys.max()) + 1), apart
