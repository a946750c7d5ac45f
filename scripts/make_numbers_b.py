"""Generate photos of whole numbers, second generator (issue 29): MNIST test digits re-written.

An independent companion of ``scripts/make_numbers.py`` for measuring ``cnn predict``'s number
reader. It shares no code and few ideas with make_numbers.py / make_hard_photos.py: there the
MNIST bitmaps are pasted side by side and the page is painted in image space; here each digit is
turned into **pen strokes** and re-written by a simulated **writer** on a surface in millimetres,
and the page is photographed by the phone-camera model of ``scripts/make_phone_photos.py``
(imported: ``plan_pose``, ``irradiance``, ``camera``, ``Scene``; a different generator family).
Never train or tune on these photos: they are made from the MNIST test set, and the whole set is
held out (the folder's ``held_out.txt`` says so to ``benchmarks/read_numbers.py``).

How a photo is made:

1. **Strokes.** Each MNIST *test* digit (``x_test`` only, 2-6 per number) is cropped to its ink,
   upscaled 4x (bicubic), thresholded and thinned to a one-pixel skeleton by Guo & Hall's
   parallel thinning (Guo & Hall 1989, "Parallel thinning with two-subiteration algorithms",
   CACM 32(3)). The skeleton becomes a graph (8-neighbour pixels joined by edges), smoothed by
   Laplacian smoothing (Taubin 1995) so that the pixel staircase disappears. Parts the writer
   filled in (wider than 5 MNIST pixels) are kept as filled polygons. A digit is then a vector
   drawing in units of its own height.
2. **Writer.** One writer per number: a slant (shear of 0-20 degrees, a few writers lean back),
   a hand width (narrow or wide hand; a "1" stays as narrow as its writer made it), a height
   jitter, a baseline slope and wobble, and a spacing habit (cramped, normal or spread out).
   Neighbours are spaced by their **ink profiles**, row by row, not their boxes, so a 7's bar
   or a 4's arm overhangs the next digit when the writer writes close (kerning). Numbers of 4+
   digits get, sometimes, a thousands gap ("12 345": the label is still "12345"); some numbers
   are underlined with the same pen.
3. **Pen.** The strokes are drawn at the page's resolution with one pen for the whole number:
   coverage = smoothstep of the distance to the stroke centre lines at half the pen width
   (ballpoint 3-6 %, felt 6-9 %, marker 10-17 % of the digit height), the width and the ink
   density varying smoothly along the line (pressure).
4. **Surface and camera.** The page (albedo in linear RGB, in millimetres) is lit, posed,
   defocused, and sensed by ``make_phone_photos``' camera: Lambertian key light and ambient,
   Blinn-Phong gloss, a pinhole homography, disc defocus, vignetting, Bayer mosaic,
   Poisson-Gaussian noise, demosaicing, white balance, sRGB, sharpening, JPEG.

Photos are 640-2000 px wide (4:3, 3:4 or 16:9); the handwritten number spans 15-70 % of the
frame's width.

==========  ======================================================================================
tag         condition
==========  ======================================================================================
plain       white or cream paper on a desk, ballpoint or felt pen, ordinary room light
comb        a form field with printed comb boxes, one digit per box (a digit may touch or cross
            its box walls), 0-2 empty boxes after the number, the form's printed rule lines
sticky      a square sticky note (yellow, pink, green, blue) or a white index card lying on a
            desk, the number on it, the desk all around
exam        an exam sheet: a printed score box with the number written inside (often red pen),
            a printed word ("Score:", "Total", "Marks", "Points") to the left of the box, its
            letters 25-40 % of the digit height and at least 0.6 digit heights from the ink; the
            printed word is NOT part of the label
whiteboard  a marker number on a glossy whiteboard: tube-light reflections, ghosts of erased ink
dotted      dot-grid (bullet-journal) paper or green engineering graph paper, small writing
low_light   a dim room: little light, high gain, strong noise, a warm white balance
marker      a thick marker and a cramped writer: neighbouring digits touch or overlap
==========  ======================================================================================

Files are named ``<label>_<tag>_<nnn>.jpg`` and listed in ``index.csv`` with the columns
``file,condition,label,mnist_test_indices`` (the layout of make_numbers.py), the writer of
each photo in ``writing.csv`` and the held-out conditions in ``held_out.txt``. Each photo has
its own random stream seeded by (seed, condition, number): the same seed gives the same files,
and choosing fewer conditions does not change the others. Usage::

    python scripts/make_numbers_b.py --out /tmp/numbers_b [--seed 0] [--per-condition 25]
        [--conditions plain,comb] [--min-digits 2] [--max-digits 6] [--data mnist.npz]
        [--max-width 2000] [--overwrite]

The data path is ``--data``, else ``$CNN_MNIST_DATA``, else ``/work/shared/data/mnist.npz``.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_phone_photos as phone  # the camera model only

CONDITIONS = {
    "plain": "white or cream paper on a desk, ballpoint or felt pen, room light",
    "comb": "a form field with printed comb boxes, one digit per box",
    "sticky": "a sticky note or index card on a desk",
    "exam": "an exam score box with a small printed word to its left (not in the label)",
    "whiteboard": "a marker number on a glossy whiteboard, reflections, erased ghosts",
    "dotted": "dot-grid or engineering graph paper, small writing",
    "low_light": "a dim room: high gain, strong noise, warm white balance",
    "marker": "a thick marker, a cramped writer: neighbouring digits touch",
}
DEFAULT_DATA = "/work/shared/data/mnist.npz"
# Digit height in millimetres on each surface, and the pen width as a fraction of it.
DIGIT_MM = {"plain": (6, 16), "comb": (5, 9), "sticky": (9, 22), "exam": (8, 18),
            "whiteboard": (50, 140), "dotted": (4, 9), "low_light": (7, 18), "marker": (18, 45)}
PEN = {"ballpoint": (0.035, 0.06), "felt": (0.06, 0.09), "marker": (0.10, 0.13),
       "fat_marker": (0.12, 0.17)}
# Ink transmittance in linear RGB.
INKS = {"blue": (0.08, 0.12, 0.45), "black": (0.05, 0.05, 0.06), "red": (0.6, 0.06, 0.05),
        "green": (0.06, 0.3, 0.12)}
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX,
         cv2.FONT_HERSHEY_COMPLEX)
EXAM_WORDS = ("Score:", "Total", "Marks", "Points:", "Score")
UNIT = 48  # raster pixels per digit height when the writer spaces the digits


# ---------------------------------------------------------------------------------------------
# Strokes: an MNIST bitmap -> a vector drawing (skeleton graph + filled parts)
# ---------------------------------------------------------------------------------------------

def guo_hall_thin(mask: np.ndarray) -> np.ndarray:
    """Guo-Hall parallel thinning (Guo & Hall 1989, algorithm A1, two sub-iterations).

    Args:
        mask: bool array (H, W), the shape to thin.
    Returns:
        bool array (H, W), a skeleton one pixel wide that keeps the shape's connectivity.
    """
    img = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = img
            n, ne, e, se = p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:], p[2:, 2:]
            s, sw, w, nw = p[2:, 1:-1], p[2:, :-2], p[1:-1, :-2], p[:-2, :-2]
            c = ((1 - n) & (ne | e)) + ((1 - e) & (se | s)) + ((1 - s) & (sw | w)) \
                + ((1 - w) & (nw | n))
            n1 = (nw | n) + (ne | e) + (se | s) + (sw | w)
            n2 = (n | ne) + (e | se) + (s | sw) + (w | nw)
            count = np.minimum(n1, n2)
            if step == 0:
                m = (s | sw | (1 - nw)) & w
            else:
                m = (n | ne | (1 - se)) & e
            remove = (p[1:-1, 1:-1] == 1) & (c == 1) & (count >= 2) & (count <= 3) & (m == 0)
            if remove.any():
                img[1:-1, 1:-1][remove] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def prune_spurs(skeleton: np.ndarray, length: int) -> np.ndarray:
    """Remove skeleton branches shorter than ``length`` px that run from an end point to a
    junction (the spurs thinning leaves on thick strokes). Branches that make up a whole
    component (a "1") are kept.

    Args:
        skeleton: bool (H, W), one pixel wide.
    Returns:
        bool (H, W), a copy without the spurs.
    """
    sk = skeleton.copy()
    h, w = sk.shape
    offsets = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]

    def neighbours(y, x):
        return [(y + dy, x + dx) for dy, dx in offsets
                if 0 <= y + dy < h and 0 <= x + dx < w and sk[y + dy, x + dx]]

    ends = [(y, x) for y, x in zip(*np.nonzero(sk)) if len(neighbours(y, x)) == 1]
    for end in ends:
        path, prev, cur = [end], None, end
        while len(path) <= length:
            nxt = [p for p in neighbours(*cur) if p != prev and p not in path]
            if len(nxt) != 1 or len(neighbours(*nxt[0])) > 2:
                break
            prev, cur = cur, nxt[0]
            path.append(cur)
        else:
            continue
        nxt = [p for p in neighbours(*cur) if p != prev and p not in path]
        if nxt and len(path) < length:                  # reached a junction: a spur
            for y, x in path:
                sk[y, x] = False
    return sk


@dataclass
class Glyph:
    """A digit as a drawing in units of its ink height: ``points`` (K, 2) float64 (x, y), y
    from 0 (top of the ink) to 1 (bottom), x from 0 to ``aspect``; ``edges`` (E, 2) int index
    pairs of joined points; ``fills`` a list of (M, 2) float64 polygons (filled-in parts)."""

    points: np.ndarray
    edges: np.ndarray
    fills: list
    aspect: float


def glyph_from_digit(digit: np.ndarray, smooth: int = 3) -> Glyph:
    """Turn an MNIST digit into strokes.

    Args:
        digit: uint8 (28, 28), white ink on black, 0-255.
        smooth: Laplacian smoothing passes over the skeleton graph (Taubin 1995, lambda 0.5).
    Returns:
        a ``Glyph``. Raises ValueError if the digit has no ink.
    """
    img = digit.astype(np.float32) / 255.0
    ys, xs = np.nonzero(img > 0.25)
    if len(ys) == 0:
        raise ValueError("the digit has no ink")
    crop = np.pad(img[ys.min():ys.max() + 1, xs.min():xs.max() + 1], 2)
    up = cv2.resize(crop, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    mask = up > 0.45
    skeleton = guo_hall_thin(mask)
    if not skeleton.any():
        skeleton = mask
    skeleton = prune_spurs(skeleton, 10)
    my, mx = np.nonzero(mask)
    top, bottom, left, right = my.min(), my.max() + 1, mx.min(), mx.max() + 1
    size = float(bottom - top)
    sy, sx = np.nonzero(skeleton)
    ids = -np.ones(skeleton.shape, np.int64)
    ids[sy, sx] = np.arange(len(sy))
    padded = np.pad(ids, 1, constant_values=-1)
    edges = []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        other = padded[1 + sy + dy, 1 + sx + dx]
        keep = other >= 0
        edges.append(np.stack([ids[sy, sx][keep], other[keep]], 1))
    edges = np.concatenate(edges) if edges else np.zeros((0, 2), np.int64)
    pts = np.stack([sx, sy], 1).astype(np.float64) + 0.5
    degree = np.bincount(edges.ravel(), minlength=len(pts))
    movable = (degree == 2)[:, None]
    for _ in range(smooth):
        acc = np.zeros_like(pts)
        np.add.at(acc, edges[:, 0], pts[edges[:, 1]])
        np.add.at(acc, edges[:, 1], pts[edges[:, 0]])
        mean = acc / np.maximum(degree, 1)[:, None]
        pts = np.where(movable, 0.5 * pts + 0.5 * mean, pts)
    # parts the writer filled in: what a disc 6.5 MNIST pixels wide (27 upscaled) fits into
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (27, 27))
    blob = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, disc)
    contours, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    origin = np.array([left, top], np.float64)
    fills = [(c[:, 0, :].astype(np.float64) - origin) / size for c in contours if len(c) >= 3]
    return Glyph((pts - origin) / size, edges, fills, (right - left) / size)


# ---------------------------------------------------------------------------------------------
# The writer: where each digit goes on the line (units of digit height, y down, baseline y=0)
# ---------------------------------------------------------------------------------------------

@dataclass
class Writer:
    """One person's hand: ``slant`` degrees (> 0 leans right), ``hand`` width factor, height
    jitter ``size_sd``, ``slope`` baseline degrees, ``wobble`` baseline jitter, ``gap`` mean
    space between inks and ``gap_sd`` (digit heights), ``separator`` the index of the digit after
    a thousands gap (0: none), ``underline``, ``pen`` width as a fraction of the height."""

    slant: float
    hand: float
    size_sd: float
    slope: float
    wobble: float
    gap: float
    gap_sd: float
    separator: int
    underline: bool
    pen: float
    style: str


def sample_writer(rng: np.random.Generator, n: int, pen: tuple[float, float],
                  cramped: bool = False, underline_p: float = 0.2, separator_p: float = 0.3,
                  ) -> Writer:
    """A random writer for a number of ``n`` digits; ``pen`` a (low, high) width range."""
    slant = rng.uniform(0, 20) if rng.random() < 0.85 else -rng.uniform(0, 8)
    style = "cramped" if cramped else str(rng.choice(["cramped", "normal", "spread"],
                                                     p=[0.3, 0.5, 0.2]))
    gap = {"cramped": rng.uniform(-0.02, 0.06), "normal": rng.uniform(0.08, 0.25),
           "spread": rng.uniform(0.3, 0.6)}[style]
    if cramped:
        gap = rng.uniform(-0.08, -0.02)
    separator = 0
    if n >= 4 and rng.random() < separator_p and not cramped:
        separator = n - 3
    return Writer(slant=float(slant), hand=float(rng.uniform(0.85, 1.15)),
                  size_sd=float(rng.uniform(0.02, 0.07)), slope=float(rng.uniform(-3, 3)),
                  wobble=float(rng.uniform(0.0, 0.05)), gap=float(gap),
                  gap_sd=float(rng.uniform(0.02, 0.06)), separator=separator,
                  underline=bool(rng.random() < underline_p), pen=float(rng.uniform(*pen)),
                  style=style)


def placement(glyph: Glyph, writer: Writer, height: float, x: float, base: float) -> np.ndarray:
    """The affine map (2, 3) from glyph units to line units: scaled to ``height`` (narrowed if
    the glyph is wider than 1.3 heights), widened by the writer's hand, sheared by the slant
    about the baseline, its left ink edge (before shear) at ``x`` and its bottom at ``base``."""
    h = height * min(1.0, 1.3 / max(glyph.aspect * writer.hand, 1e-6))
    t = np.tan(np.deg2rad(writer.slant))
    # X = x + hand*h*u + t*h*(1 - v),  Y = base - h + h*v
    return np.array([[writer.hand * h, -t * h, x + t * h], [0.0, h, base - h]])


def transform(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine map to points (K, 2)."""
    return points @ affine[:, :2].T + affine[:, 2]


def line_coverage(glyphs: list[Glyph], affines: list[np.ndarray], scale: float, pen_px: float,
                  origin: tuple[float, float], shape: tuple[int, int],
                  rng: np.random.Generator | None = None, extra_lines: list | None = None,
                  ) -> np.ndarray:
    """Draw glyphs with one pen: float32 (H, W) coverage in [0, 1].

    Line units map to pixels as ``(X, Y) * scale - origin``. The stroke centre lines are drawn
    one pixel wide, the coverage is ``smoothstep`` of the distance to them at ``pen_px / 2``
    (plus the filled parts); with ``rng`` the pen width and ink density vary smoothly (pressure).
    ``extra_lines``: polylines (M, 2) in line units drawn with the same pen (an underline).
    """
    centre = np.zeros(shape, np.uint8)
    fill = np.zeros(shape, np.uint8)
    sub = 8                                               # cv2 subpixel shift 3
    off = np.asarray(origin, np.float64)
    for glyph, affine in zip(glyphs, affines):
        pts = transform(glyph.points, affine) * scale - off
        if len(glyph.edges):
            segs = np.round(pts[glyph.edges] * sub).astype(np.int32)
            cv2.polylines(centre, list(segs), False, 255, 1, cv2.LINE_8, shift=3)
        else:
            for p in np.round(pts * sub).astype(np.int32):
                cv2.circle(centre, tuple(int(v) for v in p), 0, 255, -1, shift=3)
        polys = [np.round((transform(f, affine) * scale - off) * sub).astype(np.int32)
                 for f in glyph.fills]
        if polys:
            cv2.fillPoly(fill, polys, 255, cv2.LINE_AA, shift=3)
    for line in extra_lines or []:
        pts = np.round((np.asarray(line) * scale - off) * sub).astype(np.int32)
        cv2.polylines(centre, [pts], False, 255, 1, cv2.LINE_8, shift=3)
    dist = cv2.distanceTransform(np.where(centre > 0, 0, 255).astype(np.uint8),
                                 cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    radius = np.full(shape, pen_px / 2, np.float32)
    density = np.ones(shape, np.float32)
    if rng is not None:
        cell = max(2.0, 0.6 * scale)
        radius *= 1.0 + 0.25 * (value_noise(shape, cell, rng) - 0.5)
        density = 1.0 - 0.25 * value_noise(shape, cell * 0.7, rng)
    soft = max(0.5, 0.08 * pen_px)
    t = np.clip((radius + soft - dist) / (2 * soft), 0, 1)
    cover = t * t * (3 - 2 * t)
    cover = np.maximum(cover, fill.astype(np.float32) / 255.0)
    return (cover * density).astype(np.float32)


def write_number(glyphs: list[Glyph], writer: Writer, rng: np.random.Generator,
                 ) -> tuple[list[np.ndarray], list]:
    """Place the glyphs on one line the way ``writer`` writes.

    Each digit after the first is put so that the closest horizontal distance between the ink
    of its left side and the previous digit's right side, over rows within 0.08 heights of each
    other, equals the writer's gap for that pair (negative: the inks overlap). So overhangs
    interleave (kerning), unlike spacing by boxes.

    Returns:
        the affine maps (2, 3) of each glyph to line units (digit height about 1, baseline
        near y=0, y down) and the extra polylines (an underline) in line units.
    """
    n = len(glyphs)
    rows = int(2.2 * UNIT)                                    # line rows from y=-1.7 to 0.5
    band = max(1, int(0.08 * UNIT))
    heights = 1.0 + writer.size_sd * rng.standard_normal(n)
    slope = np.tan(np.deg2rad(writer.slope))
    affines, profiles = [], []
    for k, glyph in enumerate(zip(glyphs)):
        g = glyph[0]
        base = writer.wobble * rng.standard_normal()
        a = placement(g, writer, float(heights[k]), 0.0, base)
        width = int((g.aspect * 1.3 + 1.0) * UNIT) + 4
        cov = line_coverage([g], [a], UNIT, writer.pen * UNIT, (-UNIT * 0.5, -1.7 * UNIT),
                            (rows, width + UNIT))
        ink = cov > 0.3
        has = ink.any(1)
        cols = np.arange(ink.shape[1])
        lo = np.where(has, np.where(ink, cols, 10 ** 6).min(1), 10 ** 6) / UNIT - 0.5
        hi = np.where(has, np.where(ink, cols, -10 ** 6).max(1), -10 ** 6) / UNIT - 0.5
        profiles.append((lo, hi, lo[has].min(), hi[has].max()))
        affines.append(a)
    xs = [0.0]
    for k in range(1, n):
        lo, _, lo_box, _ = profiles[k]
        _, prev_hi, prev_lo_box, prev_hi_box = profiles[k - 1]
        reach = np.full_like(prev_hi, -1e6)
        for d in range(-band, band + 1):
            reach = np.maximum(reach, np.roll(prev_hi, d))
        gap = writer.gap + writer.gap_sd * rng.standard_normal()
        if k == writer.separator:
            gap = max(gap, 0.1) + rng.uniform(0.45, 0.9)
        need = reach - lo
        x = xs[-1] + (need.max() if np.isfinite(need).any() and need.max() > -1e5
                      else prev_hi_box - lo_box) + gap
        # never inside the previous digit: its left edge at least a third of the way along it
        x = max(x, xs[-1] + prev_lo_box + 0.35 * (prev_hi_box - prev_lo_box) - lo_box)
        xs.append(float(x))
    out = []
    for k, a in enumerate(affines):
        a = a.copy()
        a[0, 2] += xs[k]
        a[1, 2] += slope * xs[k]
        out.append(a)
    extra = []
    if writer.underline:
        x0 = xs[0] + profiles[0][2] - rng.uniform(0.0, 0.3)
        x1 = xs[-1] + profiles[-1][3] + rng.uniform(0.0, 0.3)
        y = rng.uniform(0.15, 0.3) + writer.pen
        t = np.linspace(0, 1, 24)
        bow = rng.uniform(-0.06, 0.06) * np.sin(np.pi * t)
        extra.append(np.stack([x0 + (x1 - x0) * t, y + slope * (x0 + (x1 - x0) * t) + bow], 1))
    return out, extra


def write_in_boxes(glyphs: list[Glyph], writer: Writer, rng: np.random.Generator,
                   box_w: float, box_h: float) -> list[np.ndarray]:
    """Comb-field placement: digit k centred in box k (box k spans x in [k*box_w, (k+1)*box_w],
    y in [-box_h, 0] line units, digit height about 1), pushed off-centre by up to 60 % of the
    slack so that some digits touch or cross a wall."""
    out = []
    for k, g in enumerate(glyphs):
        h = 1.0 + writer.size_sd * rng.standard_normal()
        a = placement(g, writer, h, 0.0, 0.0)
        pts = transform(np.concatenate([g.points] + g.fills), a)
        (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
        slack_x = box_w - (x1 - x0)
        slack_y = box_h - (y1 - y0)
        dx = (k + 0.5) * box_w - (x0 + x1) / 2 + rng.uniform(-0.6, 0.6) * max(slack_x, 0.1) / 2
        dy = -box_h / 2 - (y0 + y1) / 2 + rng.uniform(-0.5, 0.5) * max(slack_y, 0.1) / 2
        a = a.copy()
        a[0, 2] += dx
        a[1, 2] += dy
        out.append(a)
    return out


def ink_box(glyphs: list[Glyph], affines: list[np.ndarray], pen: float) -> np.ndarray:
    """(x0, y0, x1, y1) of the written ink in line units, pen included."""
    pts = np.concatenate([transform(np.concatenate([g.points] + g.fills), a)
                          for g, a in zip(glyphs, affines)])
    return np.concatenate([pts.min(0) - pen / 2, pts.max(0) + pen / 2])


# ---------------------------------------------------------------------------------------------
# Surfaces (page coordinates, linear RGB albedo)
# ---------------------------------------------------------------------------------------------

def value_noise(shape: tuple[int, int], cell: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth noise, float32 (H, W) in about [0, 1], features about ``cell`` pixels across."""
    h, w = shape
    gh, gw = int(min(h / max(cell, 1.0), 2048)) + 3, int(min(w / max(cell, 1.0), 2048)) + 3
    grid = rng.random((gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


@dataclass
class Page:
    """The page plane raster: ``h`` x ``w`` px, ``mm`` px per millimetre, the handwritten
    number's centre (``cx``, ``cy``) and digit height ``digit_px`` in px."""

    h: int
    w: int
    mm: float
    cx: float
    cy: float
    digit_px: float
    rng: np.random.Generator
    w_number_mm: float = 0.0
    extent_mm: tuple = (0.0, 0.0)

    @property
    def shape(self) -> tuple[int, int]:
        return self.h, self.w

    def mask_rect(self, centre, size, angle) -> np.ndarray:
        """Anti-aliased filled rotated rectangle (centre px, (w, h) px, degrees): float32."""
        pts = cv2.boxPoints(((float(centre[0]), float(centre[1])),
                             (float(size[0]), float(size[1])), float(angle)))
        m = np.zeros(self.shape, np.uint8)
        cv2.fillPoly(m, [np.round(pts * 8).astype(np.int32)], 255, cv2.LINE_AA, shift=3)
        return m.astype(np.float32) / 255.0

    def sheet(self, colour, grain: float = 0.03) -> np.ndarray:
        """Paper of ``colour`` (linear RGB) with fibre grain and slow mottling: (h, w, 3)."""
        rng = self.rng
        tex = (1.0 + grain * (value_noise(self.shape, 1.5 * self.mm, rng) - 0.5)
               + 0.6 * grain * (value_noise(self.shape, 25 * self.mm, rng) - 0.5))
        return tex[..., None] * np.asarray(colour, np.float32)

    def table(self) -> np.ndarray:
        """A desk top: wood grain, grey laminate or a dark mat. float32 (h, w, 3)."""
        rng = self.rng
        kind = rng.choice(["wood", "laminate", "mat"], p=[0.45, 0.35, 0.2])
        if kind == "wood":
            base = np.array([0.35, 0.19, 0.08], np.float32) * rng.uniform(0.6, 1.2)
            y = np.arange(self.h, dtype=np.float32)[:, None] * np.ones((1, self.w), np.float32)
            warp = value_noise(self.shape, 50 * self.mm, rng) * 30 * self.mm
            stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (y + warp) / (rng.uniform(4, 9) * self.mm))
            shade = 0.8 + 0.25 * stripes
        elif kind == "laminate":
            base = np.array([0.5, 0.5, 0.48], np.float32) * rng.uniform(0.6, 1.2)
            shade = 0.95 + 0.1 * value_noise(self.shape, 10 * self.mm, rng)
        else:
            base = np.array([0.06, 0.07, 0.08], np.float32)
            shade = 0.9 + 0.2 * value_noise(self.shape, 20 * self.mm, rng)
        return shade[..., None] * base

    def lay(self, ground: np.ndarray, sheet: np.ndarray, size_mm, angle: float,
            lift: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
        """A sheet of ``size_mm`` laid on ``ground`` around the number, which lands at a
        random spot on it with everything written (``extent_mm``) at least 4 mm inside its
        edges when the sheet is large enough, with a soft contact shadow. Returns the albedo
        (h, w, 3) and the sheet's coverage (h, w)."""
        rng = self.rng
        sw, sh = size_mm[0] * self.mm, size_mm[1] * self.mm
        room_x = max(0.0, sw / 2 - (self.extent_mm[0] / 2 + 4) * self.mm)
        room_y = max(0.0, sh / 2 - (self.extent_mm[1] / 2 + 4) * self.mm)
        dx = rng.uniform(-1, 1) * min(room_x, 0.3 * sw)
        dy = rng.uniform(-1, 1) * min(room_y, 0.3 * sh)
        t = np.deg2rad(angle)
        centre = (self.cx + dx * np.cos(t) - dy * np.sin(t), self.cy + dx * np.sin(t)
                  + dy * np.cos(t))
        mask = self.mask_rect(centre, (sw, sh), angle)
        m = np.float32([[1, 0, rng.uniform(-1.5, 1.5) * self.mm],
                        [0, 1, rng.uniform(0.5, 2.5) * self.mm]])
        shadow = cv2.GaussianBlur(cv2.warpAffine(mask, m, (self.w, self.h)), (0, 0),
                                  max(0.5, rng.uniform(1, 3) * self.mm))
        ground = ground * (1 - lift * shadow)[..., None]
        return ground * (1 - mask[..., None]) + sheet * mask[..., None], mask


def apply_ink(albedo: np.ndarray, cover: np.ndarray, ink) -> np.ndarray:
    """Ink multiplied into the surface: each primary times the ink's transmittance."""
    return albedo * (1.0 - cover[..., None] * (1.0 - np.asarray(ink, np.float32)))


def printed_text(page: Page, text: str, left: float, baseline: float, cap_px: float,
                 font: int, rng: np.random.Generator) -> np.ndarray:
    """Printed ``text`` (cv2.putText, Hershey ``font``) with capitals ``cap_px`` tall, its left
    at ``left`` and baseline at ``baseline`` (page px): float32 coverage (h, w)."""
    (_, th), _ = cv2.getTextSize("S", font, 1.0, 2)
    scale = cap_px / max(th, 1)
    thick = max(1, round(scale * rng.uniform(1.4, 2.2)))
    m = np.zeros(page.shape, np.uint8)
    cv2.putText(m, text, (round(left), round(baseline)), font, scale, 255, thick,
                cv2.LINE_AA)
    return m.astype(np.float32) / 255.0


def text_width(text: str, cap_px: float, font: int) -> float:
    """Width in px of ``text`` printed with capitals ``cap_px`` tall."""
    (tw, th), _ = cv2.getTextSize(text, font, 1.0, 2)
    return tw * cap_px / max(th, 1)


def rule(page: Page, p0, p1, width: float) -> np.ndarray:
    """A printed straight line from p0 to p1 (px), ``width`` px wide: float32 coverage."""
    m = np.zeros(page.shape, np.uint8)
    cv2.line(m, (int(p0[0] * 8), int(p0[1] * 8)), (int(p1[0] * 8), int(p1[1] * 8)), 255,
             max(1, round(width)), cv2.LINE_AA, shift=3)
    return m.astype(np.float32) / 255.0


# ---------------------------------------------------------------------------------------------
# Conditions: each returns the scene (albedo, gloss) and the camera's look
# ---------------------------------------------------------------------------------------------

@dataclass
class Number:
    """A number written in line units: glyphs, their affine maps, extra pen lines, the writer,
    the ink box (x0, y0, x1, y1) in line units, and per condition ``boxes`` (comb)."""

    glyphs: list
    affines: list
    extra: list
    writer: Writer
    box: np.ndarray
    comb: tuple | None = None
    ink: tuple = INKS["blue"]

    def cover(self, page: Page, rng: np.random.Generator) -> np.ndarray:
        """The number's pen coverage on the page: float32 (h, w)."""
        s = page.digit_px
        cx, cy = (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2
        margin = self.writer.pen * s + 4
        x0 = math.floor(page.cx + (self.box[0] - cx) * s - margin)
        y0 = math.floor(page.cy + (self.box[1] - cy) * s - margin)
        x1 = math.ceil(page.cx + (self.box[2] - cx) * s + margin)
        y1 = math.ceil(page.cy + (self.box[3] - cy) * s + margin)
        origin = (cx * s - page.cx + x0, cy * s - page.cy + y0)
        patch = line_coverage(self.glyphs, self.affines, s, self.writer.pen * s, origin,
                              (y1 - y0, x1 - x0), rng, self.extra)
        out = np.zeros(page.shape, np.float32)
        ox0, oy0, ox1, oy1 = max(x0, 0), max(y0, 0), min(x1, page.w), min(y1, page.h)
        if ox1 > ox0 and oy1 > oy0:
            out[oy0:oy1, ox0:ox1] = patch[oy0 - y0:oy1 - y0, ox0 - x0:ox1 - x0]
        return out

    def to_page(self, page: Page, x: float, y: float) -> tuple[float, float]:
        """Line units -> page px."""
        cx, cy = (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2
        return page.cx + (x - cx) * page.digit_px, page.cy + (y - cy) * page.digit_px


def pick_ink(rng, names=("blue", "black", "red", "green"), p=(0.45, 0.4, 0.08, 0.07)):
    """An ink's transmittance from ``INKS``."""
    return INKS[str(rng.choice(list(names), p=np.asarray(p) / np.sum(p)))]


def scene_paper(page: Page, number: Number, rng, glossy=False) -> phone.Scene:
    """plain / low_light / marker: a sheet of paper (A4, A5 or a card) on a desk."""
    tint = rng.choice([[0.85, 0.85, 0.83], [0.87, 0.84, 0.74], [0.8, 0.82, 0.85]])
    size = [(210, 297), (148, 210), (127, 76)][int(rng.choice(3, p=[0.5, 0.3, 0.2]))]
    size = (max(size[0], 1.4 * page.w_number_mm), size[1])
    albedo, _ = page.lay(page.table(), page.sheet(tint), size, rng.uniform(-12, 12))
    return phone.Scene(apply_ink(albedo, number.cover(page, rng), number.ink),
                       gloss=0.02 if not glossy else 0.3)


def scene_sticky(page: Page, number: Number, rng) -> phone.Scene:
    if rng.random() < 0.7:
        colour = [[0.85, 0.74, 0.16], [0.9, 0.45, 0.55], [0.55, 0.82, 0.35],
                  [0.45, 0.68, 0.88]][int(rng.choice(4, p=[0.55, 0.15, 0.15, 0.15]))]
        side = max(76.0, 1.25 * page.w_number_mm)
        size = (side, side)
    else:
        colour = [0.86, 0.86, 0.84]
        size = (max(127.0, 1.25 * page.w_number_mm), 76.0)
    note = page.sheet(colour, grain=0.025)
    albedo, _ = page.lay(page.table(), note, size, rng.uniform(-25, 25), lift=0.5)
    return phone.Scene(apply_ink(albedo, number.cover(page, rng), number.ink), gloss=0.03,
                       shininess=10)


def scene_comb(page: Page, number: Number, rng) -> phone.Scene:
    """Printed comb boxes: a rule along the top and bottom and a wall between boxes (full
    height, or ticks rising from the bottom), in black, grey, blue or drop-out red."""
    sheet = page.sheet([0.86, 0.86, 0.84], 0.02)
    albedo, _ = page.lay(page.table(), sheet, (210, 297), rng.uniform(-6, 6))
    box_w, box_h, boxes, ticks = number.comb
    lw = max(1.0, rng.uniform(0.15, 0.35) * page.mm)
    printed = np.zeros(page.shape, np.float32)
    top = number.to_page(page, 0, -box_h)
    right = number.to_page(page, boxes * box_w, 0)
    if not ticks:
        printed = np.maximum(printed, rule(page, top, (right[0], top[1]), lw))
    printed = np.maximum(printed, rule(page, (top[0], right[1]), right, lw))
    for k in range(boxes + 1):
        xb, yb = number.to_page(page, k * box_w, 0)
        yt = number.to_page(page, 0, -box_h * (ticks if ticks else 1.0))[1]
        printed = np.maximum(printed, rule(page, (xb, yb), (xb, yt), lw))
    colour = [(0.06, 0.06, 0.06), (0.35, 0.35, 0.36), (0.2, 0.3, 0.6),
              (0.85, 0.35, 0.3)][int(rng.integers(4))]
    albedo = apply_ink(albedo, printed * rng.uniform(0.7, 1.0), colour)
    # the form's other printed rules, well away from the field
    for dy in (-2.2, 1.6):
        y = number.to_page(page, 0, dy * box_h)[1]
        albedo = apply_ink(albedo, rule(page, (0, y), (page.w, y), lw) * 0.7, colour)
    return phone.Scene(apply_ink(albedo, number.cover(page, rng), number.ink), gloss=0.02)


def exam_print(page: Page, number: Number, rng) -> tuple[np.ndarray, str, tuple]:
    """The exam sheet's print: a score box around the number and a word left of the box.

    The word's capitals are 25-40 % of the digit height and its right end is at least 0.6
    digit heights left of the handwritten ink. Returns the printed coverage float32 (h, w),
    the word, and the word's ink box (x0, y0, x1, y1) in page px (empty box if off the page).
    """
    x0, y0, x1, y1 = number.box
    m = rng.uniform(0.25, 0.5, 4)
    bx0, by0 = number.to_page(page, x0 - m[0], y0 - m[1])
    bx1, by1 = number.to_page(page, x1 + m[2], y1 + m[3])
    lw = max(1.0, rng.uniform(0.2, 0.4) * page.mm)
    printed = np.zeros(page.shape, np.float32)
    for p0, p1 in (((bx0, by0), (bx1, by0)), ((bx1, by0), (bx1, by1)), ((bx1, by1), (bx0, by1)),
                   ((bx0, by1), (bx0, by0))):
        printed = np.maximum(printed, rule(page, p0, p1, lw))
    word = str(rng.choice(EXAM_WORDS))
    cap = rng.uniform(0.25, 0.4) * page.digit_px
    space = (rng.uniform(0.6, 1.0) - m[0]) * page.digit_px
    font = int(rng.choice(FONTS))
    left = bx0 - max(space, 0.25 * page.digit_px) - text_width(word, cap, font) * 1.08
    baseline = (by0 + by1) / 2 + cap / 2
    text = printed_text(page, word, left, baseline, cap, font, rng)
    ys, xs = np.nonzero(text > 0.3)
    box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) if len(xs) else (0, 0, 0, 0)
    return np.maximum(printed, text), word, box


def scene_exam(page: Page, number: Number, rng) -> phone.Scene:
    """An exam sheet: ``exam_print`` in black, the number often in a teacher's red pen."""
    sheet = page.sheet([0.87, 0.87, 0.85], 0.02)
    albedo, _ = page.lay(page.table(), sheet, (210, 297), rng.uniform(-6, 6))
    printed, _, _ = exam_print(page, number, rng)
    albedo = apply_ink(albedo, printed, (0.07, 0.07, 0.08))
    ink = pick_ink(rng, p=(0.2, 0.15, 0.6, 0.05))
    return phone.Scene(apply_ink(albedo, number.cover(page, rng), ink), gloss=0.02)


def scene_whiteboard(page: Page, number: Number, rng) -> phone.Scene:
    board = page.sheet(np.array([0.83, 0.85, 0.87]) * rng.uniform(0.9, 1.05), grain=0.01)
    ghosts = np.zeros(page.shape, np.float32)
    for _ in range(int(rng.integers(2, 7))):          # erased writing: wide faint smears
        t = np.linspace(0, 1, 12)[:, None]
        p0, p1 = rng.uniform(0, 1, 2) * [page.w, page.h], rng.uniform(0, 1, 2) * [page.w, page.h]
        pts = p0 + (p1 - p0) * t + rng.normal(0, page.digit_px * 0.3, (12, 2))
        cv2.polylines(ghosts, [pts.astype(np.int32)], False, 1.0,
                      max(1, int(page.digit_px * rng.uniform(0.1, 0.4))), cv2.LINE_AA)
    ghosts = cv2.GaussianBlur(ghosts, (0, 0), max(1.0, page.digit_px * 0.1))
    ghosts *= value_noise(page.shape, page.digit_px * 0.5, rng) * rng.uniform(0.04, 0.14)
    board = apply_ink(board, ghosts, INKS["black"])
    ink = pick_ink(rng, p=(0.35, 0.4, 0.15, 0.1))
    return phone.Scene(apply_ink(board, number.cover(page, rng), ink),
                       gloss=rng.uniform(0.2, 0.6), shininess=rng.uniform(60, 250),
                       tubes=int(rng.integers(1, 3)))


def scene_dotted(page: Page, number: Number, rng) -> phone.Scene:
    """Dot-grid paper (5 mm dots) or engineering paper (green 1 mm grid, 5 mm and 10 mm lines
    darker)."""
    x = np.arange(page.w, dtype=np.float32)[None, :]
    y = np.arange(page.h, dtype=np.float32)[:, None]
    ox, oy = rng.uniform(0, 10 * page.mm, 2)

    def near(c, off, period):
        return period / 2 - np.abs((c + off) % period - period / 2)

    if rng.random() < 0.6:
        sheet = page.sheet([0.86, 0.86, 0.84], 0.02)
        r = max(0.7, rng.uniform(0.12, 0.2) * page.mm)
        d = np.hypot(near(x, ox, 5 * page.mm), near(y, oy, 5 * page.mm))
        dots = np.clip(r + 0.5 - d, 0, 1) * rng.uniform(0.5, 0.85)
        sheet = apply_ink(sheet, dots, (0.4, 0.4, 0.42))
    else:
        sheet = page.sheet([0.84, 0.87, 0.8], 0.02)
        lines = np.zeros(page.shape, np.float32)
        for period, width, strength in ((1, 0.08, 0.25), (5, 0.15, 0.5), (10, 0.25, 0.7)):
            w = max(0.6, width * page.mm)
            g = np.maximum(np.clip(w / 2 + 0.5 - near(x, ox, period * page.mm), 0, 1),
                           np.clip(w / 2 + 0.5 - near(y, oy, period * page.mm), 0, 1))
            lines = np.maximum(lines, g * strength)
        sheet = apply_ink(sheet, lines, (0.45, 0.75, 0.5))
    albedo, _ = page.lay(page.table(), sheet, (210, 297), rng.uniform(-10, 10))
    return phone.Scene(apply_ink(albedo, number.cover(page, rng), number.ink), gloss=0.015)


SCENES = {"plain": scene_paper, "comb": scene_comb, "sticky": scene_sticky, "exam": scene_exam,
          "whiteboard": scene_whiteboard, "dotted": scene_dotted, "low_light": scene_paper,
          "marker": scene_paper}
LOOKS = {
    "low_light": {"light": (0.012, 0.04), "ambient": (0.5, 0.8), "white_balance": (0.08, 0.25),
                  "exposure": (0.4, 0.7)},
    "whiteboard": {"shadow": 0.1},
}
TILT = {"comb": 14, "exam": 14, "whiteboard": 18}
PENS = {"plain": ("ballpoint", "felt"), "comb": ("ballpoint",), "sticky": ("ballpoint", "felt"),
        "exam": ("ballpoint", "felt"), "whiteboard": ("marker",), "dotted": ("ballpoint",),
        "low_light": ("ballpoint", "felt"), "marker": ("fat_marker",)}


# ---------------------------------------------------------------------------------------------
# One photo
# ---------------------------------------------------------------------------------------------

def frame_size(rng: np.random.Generator, max_width: int = 2000) -> tuple[int, int]:
    """(width, height): width 640-``max_width`` px, 4:3 (60 %), 3:4 (25 %) or 16:9 (15 %)."""
    width = int(round(rng.uniform(640, max(640, max_width)) / 8) * 8)
    ratio = [0.75, 4 / 3, 9 / 16][int(rng.choice(3, p=[0.6, 0.25, 0.15]))]
    return width, int(round(width * ratio / 8) * 8)


def compose(digits: list[np.ndarray], condition: str, rng: np.random.Generator) -> Number:
    """The number written in line units for ``condition``."""
    glyphs = [glyph_from_digit(d) for d in digits]
    pen = PEN[str(rng.choice(PENS[condition]))]
    n = len(glyphs)
    writer = sample_writer(rng, n, pen, cramped=condition == "marker",
                           underline_p=0.0 if condition in ("comb", "exam") else 0.2,
                           separator_p=0.0 if condition == "comb" else 0.3)
    comb = None
    extra: list = []
    if condition == "comb":
        box_h = rng.uniform(1.15, 1.5)
        box_w = box_h * rng.uniform(0.75, 1.0)
        affines = write_in_boxes(glyphs, writer, rng, box_w, box_h)
        ticks = 0.0 if rng.random() < 0.6 else rng.uniform(0.3, 0.5)
        comb = (box_w, box_h, n + int(rng.integers(0, 3)), ticks)
    else:
        affines, extra = write_number(glyphs, writer, rng)
        if condition == "marker":
            affines = _make_touch(glyphs, affines, writer)
    box = ink_box(glyphs, affines, writer.pen)
    if extra:
        pts = np.concatenate(extra)
        box = np.concatenate([np.minimum(box[:2], pts.min(0) - writer.pen),
                              np.maximum(box[2:], pts.max(0) + writer.pen)])
    return Number(glyphs, affines, extra, writer, box, comb)


def _make_touch(glyphs, affines, writer) -> list[np.ndarray]:
    """Slide digits left until each neighbour pair's inks overlap (the marker condition)."""
    out = [a.copy() for a in affines]

    def pieces(ks):
        origin = (-UNIT * 0.5 + out[ks[0]][0, 2] * UNIT, -1.8 * UNIT)
        cov = line_coverage([glyphs[k] for k in ks], [out[k] for k in ks], UNIT,
                            writer.pen * UNIT, origin, (int(2.6 * UNIT), int(5 * UNIT)))
        return cv2.connectedComponents((cov > 0.5).astype(np.uint8))[0] - 1

    for k in range(1, len(out)):
        alone = pieces([k - 1]) + pieces([k])
        for _ in range(40):
            if pieces([k - 1, k]) < alone:             # the two inks have merged
                break
            for a in out[k:]:
                a[0, 2] -= 0.02
    return out


def render_number(digits: list[np.ndarray], condition: str, rng: np.random.Generator,
                  max_width: int = 2000, frame: tuple[int, int] | None = None,
                  ) -> tuple[np.ndarray, int, Number]:
    """One phone photo of the number made of ``digits`` under ``condition``.

    Args:
        digits: uint8 (28, 28) MNIST test images, white ink on black, in reading order.
        condition: a key of ``CONDITIONS``.
        max_width: the widest frame drawn (>= 640); ``frame`` (width, height) fixes it.
    Returns:
        uint8 BGR image (H, W, 3), the JPEG quality to save it with, and the written ``Number``.
    Raises:
        ValueError: for an unknown condition.
    """
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}: use one of {', '.join(CONDITIONS)}")
    number = compose(digits, condition, rng)
    number.ink = pick_ink(rng)
    width, height = frame or frame_size(rng, max_width)
    line_w = float(number.box[2] - number.box[0])
    line_h = float(number.box[3] - number.box[1])
    outer = 1.0 if condition != "exam" else 1.9      # the exam's word and box beside it
    fraction = rng.uniform(0.15, 0.7 / outer)
    digit_h = fraction * width / line_w
    digit_h = min(digit_h, 0.4 * height / max(line_h, 1.0))
    room_x = max(0.0, (width - outer * line_w * digit_h) / 2)
    room_y = max(0.0, (height - 2 * line_h * digit_h) / 2)
    at = (width / 2 + rng.uniform(-0.6, 0.6) * room_x, height / 2 + rng.uniform(-0.6, 0.6) * room_y)
    if condition == "exam":
        at = (at[0] + 0.4 * line_w * digit_h, at[1])
    look = LOOKS.get(condition, {})
    pose = phone.plan_pose(rng, (width, height), at, digit_h, TILT.get(condition, 22))
    mm = pose.digit_h / rng.uniform(*DIGIT_MM[condition])
    extent = line_w / 2 + 0.4                        # half the written width, digit heights
    if condition == "exam":
        extent = line_w / 2 + 3.2                     # the word and box left of the number
    elif condition == "comb":
        extent = number.comb[0] * number.comb[2]      # all the boxes
    page = Page(pose.size[1], pose.size[0], mm, pose.digit[0], pose.digit[1], pose.digit_h, rng,
                line_w * pose.digit_h / mm,
                (2 * extent * pose.digit_h / mm, 1.5 * line_h * pose.digit_h / mm))
    scene = SCENES[condition](page, number, rng)
    diffuse, spec = phone.irradiance(rng, pose, scene, look)
    radiance = scene.albedo * diffuse[..., None] + spec[..., None]
    shot = cv2.warpPerspective(radiance.astype(np.float32), pose.homography, (width, height),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    white = 0.85 * float(diffuse[min(int(pose.digit[1]), diffuse.shape[0] - 1),
                                 min(int(pose.digit[0]), diffuse.shape[1] - 1)])
    rgb, quality = phone.camera(rng, np.clip(shot, 0, None), look, pose.focal,
                                number.writer.pen * digit_h, white)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), quality, number


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line and exits with status 2."""

    def error(self, message: str):
        self.exit(2, f"make_numbers_b.py: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.split("\n\n")[0],
                    formatter_class=argparse.RawDescriptionHelpFormatter,
                    epilog="conditions: " + ", ".join(CONDITIONS))
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--per-condition", type=int, default=25, help="photos per condition (25)")
    parser.add_argument("--conditions", default=",".join(CONDITIONS),
                        help="comma-separated subset of the conditions (all)")
    parser.add_argument("--min-digits", type=int, default=2, help="shortest number (2)")
    parser.add_argument("--max-digits", type=int, default=6, help="longest number (6)")
    parser.add_argument("--max-width", type=int, default=2000,
                        help="widest photo in px, 640-2000 (2000)")
    parser.add_argument("--data", type=Path,
                        default=Path(os.environ.get("CNN_MNIST_DATA") or DEFAULT_DATA),
                        help="keras-layout mnist.npz; only x_test, y_test are read")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a folder that already holds files")
    args = parser.parse_args(argv)
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown or not conditions:
        parser.error(f"unknown condition {', '.join(unknown) or '(none given)'}: "
                     f"use some of {', '.join(CONDITIONS)}")
    if not 1 <= args.per_condition <= 100000:
        parser.error(f"--per-condition must be 1 to 100000, not {args.per_condition}")
    if not 1 <= args.min_digits <= args.max_digits <= 12:
        parser.error(f"need 1 <= --min-digits <= --max-digits <= 12, not "
                     f"{args.min_digits} and {args.max_digits}")
    if not 640 <= args.max_width <= 2000:
        parser.error(f"--max-width must be 640 to 2000, not {args.max_width}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, not {args.seed}")
    try:
        with np.load(args.data) as data:
            x_test, y_test = data["x_test"], data["y_test"]
        if x_test.ndim != 3 or x_test.shape[1:] != (28, 28) or len(x_test) != len(y_test):
            raise ValueError(f"x_test has shape {x_test.shape}, expected (N, 28, 28)")
    except (OSError, KeyError, ValueError) as exc:
        parser.error(f"cannot read MNIST test digits from {args.data}: {exc}")
    out = args.out
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        parser.error(f"--out {out} is not empty; give an empty or new folder, or --overwrite")
    out.mkdir(parents=True, exist_ok=True)
    order = list(CONDITIONS)
    rows, writing = [], []
    for condition in conditions:
        for n in range(args.per_condition):
            rng = np.random.default_rng([args.seed, 2029, order.index(condition), n])
            count = int(rng.integers(args.min_digits, args.max_digits + 1))
            picks = rng.choice(len(x_test), size=count, replace=False)
            label = "".join(str(int(y_test[i])) for i in picks)
            image, quality, number = render_number([x_test[i] for i in picks], condition, rng,
                                                   args.max_width)
            name = f"{label}_{condition}_{n:03d}.jpg"
            _, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            buf.tofile(str(out / name))
            rows.append((name, condition, label, " ".join(str(int(i)) for i in picks)))
            w = number.writer
            writing.append((name, f"{w.slant:.1f}", w.style, f"{w.gap:.2f}", w.separator,
                            int(w.underline), f"{w.pen:.3f}", image.shape[1], image.shape[0]))
        print(f"{condition:10s} {args.per_condition} photos", flush=True)
    with open(out / "index.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("file", "condition", "label", "mnist_test_indices"), *rows])
    with open(out / "writing.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("file", "slant_deg", "spacing", "gap", "separator_before",
                                  "underline", "pen", "width", "height"), *writing])
    (out / "held_out.txt").write_text("\n".join(conditions) + "\n", encoding="utf-8")
    print(f"{len(rows)} photos in {out} (seed {args.seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
