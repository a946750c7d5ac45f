"""Generate a second, independent TEST set of images that are not one digit (hand-drawn).

``cnn predict`` answers "not a digit" through a gate network. This script draws things a person
might hold up to it instead of one digit, by hand: every letter, symbol and doodle is a stroke
skeleton of our own (polylines in a unit box), put through a small model of a hand and a pen,
then shown either as a phone photo of paper or as a drawing-app canvas. It shares no code and no
glyph source with ``make_non_digits.py`` (Hershey fonts) or the font-glyph training negatives.

The hand: each skeleton is slanted, rotated and stretched; every vertex moves on its own (so
strokes overshoot and miss their joins); straight segments bow; a low-frequency wobble and a
tremor run along each stroke. The pen: either round discs stamped every fraction of a radius
along the stroke, radius and darkness following a pen-pressure curve (pressed in, varying, lifted
off; ballpoint or pencil), or ``cv2.polylines`` at one random width (a felt pen).

==============  =================================================================================
kind            what it shows
==============  =================================================================================
hand_letter     one handwritten letter, 27 of them: A E F H K M N R T U V W X Y
                a e h k m n r t u v w x y. Letters that are digit shapes (O o D Q I l i j J S s
                Z z B b G g q) are never drawn.
math            one operator or mark: + - x = < > % / \\ ( ) [ ] ? ! # * ~. The ``/``, ``(``,
                ``[`` family is the closest to a 1; the variant column of index.csv names the
                symbol, so a scorer can look at them apart.
check_cross     a check mark, a cross, a tick or a cross in a box, a circled X
arrow           a straight arrow (open or closed head), a double arrow, a bent arrow, a curved
                arrow
face            a smiley, a frowny face, a sun, a stick figure, a house, a tree, a cloud, a flower
hatch           hatching, cross-hatching, a scribbled-in blob, a dense spiral, a coil
signature       a flowing cursive-like line with loops and an underline flourish, or initials
two_digits      two MNIST test digits side by side, apart or touching (a number, not one digit)
cut_digit       one MNIST test digit (never a 1) cut by the frame, across an edge or a corner:
                30-50 % of its ink is visible. Some fragments still look like some digit (the
                right half of a 3): this is the near-miss kind, score it apart
overlap         two different MNIST test digits drawn on top of each other
stain_only      paper with no writing: a coffee ring, a water blotch, a fold, a shadow
photo_bits      a crop of a synthetic photo: 1/f-spectrum colour noise, blurred colour blobs,
                gradients, a window frame, a plant (stems and leaves), hard edges
==============  =================================================================================

Presentation (the ``style`` column of index.csv): the drawn kinds and the MNIST kinds are drawn
either as a photo (``.jpg``: tinted paper with grain, blue/black ballpoint, pencil or felt pen,
a light gradient and vignette, a mild blur, sensor noise, JPEG quality 55-90, 320-640 px on a
side) or as a canvas (``.png``: 280 x 280 grey, white on black or black on white, anti-aliased,
no noise), one or the other at random. ``stain_only`` and ``photo_bits`` are always photos.

Files are ``OUT/nd_<kind>_<nnn>.jpg|png`` (no leading digit, so ``cnn predict`` reads no label
from the name) and ``OUT/index.csv`` (file, kind, variant, style, MNIST test indices and their
labels for the MNIST kinds). Every image has its own Generator seeded by (seed, kind, number), so
the same seed gives the same files, and ``--kinds`` picks a subset without changing them.

Ideas followed: stroke skeletons with per-point jitter and pressure-driven stamped discs are the
usual synthetic-handwriting recipe (Plamondon's kinematic theory of rapid movements, in spirit:
a stroke speeds up and lifts off, so the pen is thinner at its ends); 1/f ("pink") spectra are
what natural images have (Field 1987, "Relations between the statistics of natural images and
the response properties of cortical cells"); negatives that are *parts* and *pairs* of real
digits follow the open-set recognition habit of testing on near-misses, not only on far ones
(Scheirer et al. 2013, "Toward open set recognition").

Usage::

    python scripts/make_non_digits_b.py --out /tmp/non_digits_b [--seed 0] [--per-kind 40]
        [--kinds hand_letter,math] [--data mnist.npz] [--overwrite]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import sys
from pathlib import Path

import cv2
import numpy as np
from matplotlib.path import Path as PolyPath

KINDS = ("hand_letter", "math", "check_cross", "arrow", "face", "hatch", "signature",
         "two_digits", "cut_digit", "overlap", "stain_only", "photo_bits")
MNIST_KINDS = ("two_digits", "cut_digit", "overlap")
PHOTO_ONLY = ("stain_only", "photo_bits")
CANVAS = 280
DEFAULT_DATA = "/work/shared/data/mnist.npz"
FORBIDDEN_LETTERS = "OoDQIlijJSsZzBbGgq"

Strokes = list  # list of float arrays (N, 2), x right and y down, in a unit box


# ------------------------------------------------------------------------------------------------
# Skeleton helpers (unit coordinates, y down)

def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 0
        ) -> np.ndarray:
    """Points (n, 2) of an elliptic arc from angle a0 to a1 (degrees, counter-clockwise as seen,
    0 = right, 90 = up)."""
    n = n or max(6, int(abs(a1 - a0) / 10))
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy - ry * np.sin(t)], axis=1)


def line(*points) -> np.ndarray:
    """A polyline (n, 2) through the given (x, y) points."""
    return np.asarray(points, dtype=np.float64)


def chain(*parts) -> np.ndarray:
    """One stroke made of consecutive parts (each (n, 2)), drawn without lifting the pen."""
    return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])


def dot(x: float, y: float, r: float = 0.035) -> np.ndarray:
    """A small filled dot: a tight spiral the pen turns in."""
    t = np.linspace(0, 4 * np.pi, 24)
    rr = r * t / t[-1]
    return np.stack([x + rr * np.cos(t), y + rr * np.sin(t)], axis=1)


def circle(cx: float, cy: float, r: float, rng: np.random.Generator, ry: float | None = None
           ) -> np.ndarray:
    """A hand-drawn closed loop: starts anywhere, and overshoots its start a little."""
    a0 = rng.uniform(0, 360)
    return arc(cx, cy, r, r if ry is None else ry, a0, a0 + 360 + rng.uniform(5, 30))


# ------------------------------------------------------------------------------------------------
# Letters (capitals in y 0..1; lower case: x-height 0.45..1, ascenders from 0, descenders to 1.4)

def _lower_a(rng):
    if rng.random() < 0.5:  # one storey: bowl, then the stem on its right
        return [chain(arc(0.48, 0.72, 0.33, 0.27, 40, 340), line((0.8, 0.45), (0.82, 1.0)))]
    return [chain(arc(0.48, 0.58, 0.3, 0.15, 150, 0), line((0.78, 0.58), (0.8, 1.0))),
            chain(line((0.78, 0.7)), arc(0.5, 0.85, 0.28, 0.15, 90, 320))]


LETTERS = {
    "A": lambda rng: [line((0, 1), (0.5, 0), (1, 1)), line((0.22, 0.62), (0.8, 0.6))],
    "E": lambda rng: [line((0.9, 0), (0.1, 0), (0.1, 1), (0.9, 1)), line((0.1, 0.5), (0.7, 0.5))],
    "F": lambda rng: [line((0.9, 0), (0.1, 0), (0.1, 1)), line((0.1, 0.48), (0.7, 0.48))],
    "H": lambda rng: [line((0.1, 0), (0.1, 1)), line((0.9, 0), (0.9, 1)),
                      line((0.1, 0.5), (0.9, 0.5))],
    "K": lambda rng: [line((0.15, 0), (0.15, 1)), line((0.85, 0), (0.15, 0.6)),
                      line((0.38, 0.42), (0.9, 1))],
    "M": lambda rng: [line((0.05, 1), (0.12, 0), (0.5, 0.65), (0.88, 0), (0.95, 1))],
    "N": lambda rng: [line((0.1, 1), (0.1, 0), (0.9, 1), (0.9, 0))],
    "R": lambda rng: [line((0.15, 1), (0.15, 0)),
                      chain(line((0.15, 0), (0.55, 0)), arc(0.55, 0.25, 0.3, 0.25, 90, -90),
                            line((0.15, 0.5))),
                      line((0.4, 0.5), (0.9, 1))],
    "T": lambda rng: [line((0, 0), (1, 0)), line((0.5, 0), (0.5, 1))],
    "U": lambda rng: [chain(line((0.1, 0), (0.1, 0.6)), arc(0.5, 0.6, 0.4, 0.4, 180, 360),
                            line((0.9, 0)))],
    "V": lambda rng: [line((0, 0), (0.5, 1), (1, 0))],
    "W": lambda rng: [line((0, 0), (0.25, 1), (0.5, 0.35), (0.75, 1), (1, 0))],
    "X": lambda rng: [line((0, 0), (1, 1)), line((1, 0), (0, 1))],
    "Y": lambda rng: [line((0, 0), (0.5, 0.5)), line((1, 0), (0.5, 0.5), (0.5, 1))],
    "a": _lower_a,
    "e": lambda rng: [chain(line((0.15, 0.73), (0.85, 0.73)),
                            arc(0.5, 0.73, 0.35, 0.27, 0, 310))],
    "h": lambda rng: [line((0.15, 0), (0.15, 1)),
                      chain(arc(0.5, 0.66, 0.35, 0.2, 180, 0), line((0.85, 1)))],
    "k": lambda rng: [line((0.15, 0), (0.15, 1)), line((0.8, 0.45), (0.15, 0.78)),
                      line((0.38, 0.67), (0.85, 1))],
    "m": lambda rng: [line((0.08, 0.45), (0.08, 1)),
                      chain(arc(0.29, 0.62, 0.21, 0.16, 180, 0), line((0.5, 1))),
                      chain(arc(0.71, 0.62, 0.21, 0.16, 180, 0), line((0.92, 1)))],
    "n": lambda rng: [line((0.15, 0.45), (0.15, 1)),
                      chain(arc(0.5, 0.64, 0.35, 0.18, 180, 0), line((0.85, 1)))],
    "r": lambda rng: [line((0.2, 0.45), (0.2, 1)), arc(0.5, 0.7, 0.3, 0.22, 180, 50)],
    "t": lambda rng: [chain(line((0.42, 0.05), (0.42, 0.88)), arc(0.6, 0.88, 0.18, 0.1, 180, 300)),
                      line((0.12, 0.42), (0.8, 0.42))],
    "u": lambda rng: [chain(line((0.15, 0.45), (0.15, 0.78)), arc(0.5, 0.78, 0.35, 0.22, 180, 360),
                            line((0.85, 0.45), (0.87, 1)))],
    "v": lambda rng: [line((0.1, 0.45), (0.5, 1), (0.9, 0.45))],
    "w": lambda rng: [line((0, 0.45), (0.25, 1), (0.5, 0.6), (0.75, 1), (1, 0.45))],
    "x": lambda rng: [line((0.1, 0.45), (0.9, 1)), line((0.9, 0.45), (0.1, 1))],
    "y": lambda rng: [line((0.1, 0.45), (0.52, 0.98)),
                      chain(line((0.9, 0.45), (0.5, 1.05)), arc(0.32, 1.05, 0.18, 0.3, 0, -110))],
}

# ------------------------------------------------------------------------------------------------
# Math marks


def _question(rng):
    return [chain(arc(0.5, 0.27, 0.3, 0.25, 160, -60), line((0.5, 0.5), (0.5, 0.7))),
            dot(0.5, 0.92)]


def _percent(rng):
    return [circle(0.22, 0.2, 0.15, rng), line((0.85, 0), (0.15, 1)), circle(0.78, 0.8, 0.15, rng)]


def _star(rng):
    a0 = rng.uniform(0, 60)
    return [line((0.5 + 0.5 * np.cos(np.radians(a)), 0.5 + 0.5 * np.sin(np.radians(a))),
                 (0.5 - 0.5 * np.cos(np.radians(a)), 0.5 - 0.5 * np.sin(np.radians(a))))
            for a in (a0, a0 + 60, a0 + 120)]


MATH = {
    "+": lambda rng: [line((0.5, 0), (0.5, 1)), line((0, 0.5), (1, 0.5))],
    "-": lambda rng: [line((0, 0.5), (1, 0.5))],
    "x": lambda rng: [line((0, 0), (1, 1)), line((1, 0), (0, 1))],
    "=": lambda rng: [line((0, 0.3), (1, 0.3)), line((0, 0.7), (1, 0.7))],
    "<": lambda rng: [line((0.9, 0), (0.1, 0.5), (0.9, 1))],
    ">": lambda rng: [line((0.1, 0), (0.9, 0.5), (0.1, 1))],
    "%": _percent,
    "/": lambda rng: [line((1, 0), (0, 1))],
    "\\": lambda rng: [line((0, 0), (1, 1))],
    "(": lambda rng: [arc(1.0, 0.5, 0.6, 0.55, 120, 240)],
    ")": lambda rng: [arc(0.0, 0.5, 0.6, 0.55, 60, -60)],
    "[": lambda rng: [line((0.8, 0), (0.2, 0), (0.2, 1), (0.8, 1))],
    "]": lambda rng: [line((0.2, 0), (0.8, 0), (0.8, 1), (0.2, 1))],
    "?": _question,
    "!": lambda rng: [line((0.5, 0), (0.5, 0.68)), dot(0.5, 0.92)],
    "#": lambda rng: [line((0.38, 0), (0.28, 1)), line((0.72, 0), (0.62, 1)),
                      line((0.05, 0.33), (0.95, 0.33)), line((0.02, 0.67), (0.92, 0.67))],
    "*": _star,
    "~": lambda rng: [np.stack([np.linspace(0, 1, 40),
                                0.5 - 0.25 * np.sin(np.linspace(0, 2 * np.pi, 40))], axis=1)],
}

# ------------------------------------------------------------------------------------------------
# Check marks and crosses


def _box(rng, x0=0.0, y0=0.0, x1=1.0, y1=1.0):
    """A hand-drawn square: four sides in one stroke, overshooting where it closes."""
    return line((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0 - 0.04), (x0 + 0.06, y0 - 0.02))


CHECK_CROSS = {
    "check": lambda rng: [line((0, 0.55), (0.33, 1), (1, 0))],
    "cross": lambda rng: [line((0, 0), (1, 1)), line((1, 0), (0, 1))],
    "tick_in_box": lambda rng: [_box(rng), line((0.2, 0.55), (0.42, 0.85), (0.95, -0.15))],
    "cross_in_box": lambda rng: [_box(rng), line((0.15, 0.15), (0.85, 0.85)),
                                 line((0.85, 0.15), (0.15, 0.85))],
    "circled_x": lambda rng: [circle(0.5, 0.5, 0.5, rng), line((0.22, 0.22), (0.78, 0.78)),
                              line((0.78, 0.22), (0.22, 0.78))],
}

# ------------------------------------------------------------------------------------------------
# Arrows


def _head(tip: np.ndarray, direction: np.ndarray, size: float, rng, closed: bool) -> np.ndarray:
    """An arrow head at ``tip`` pointing along ``direction``: two barbs, or a closed triangle."""
    d = direction / np.linalg.norm(direction)
    spread = np.radians(rng.uniform(22, 38))
    rot = [np.array([[np.cos(s), -np.sin(s)], [np.sin(s), np.cos(s)]]) for s in (spread, -spread)]
    left, right = (tip - size * (r @ d) for r in rot)
    if closed:
        return line(left, tip, right, left)
    return line(left, tip, right)


def _straight_arrow(rng, double=False):
    closed = rng.random() < 0.35
    a, b = np.array([0.0, 0.5]), np.array([1.0, 0.5])
    size = rng.uniform(0.28, 0.4)
    strokes = [line(a, b), _head(b, b - a, size, rng, closed)]
    if double:
        strokes.append(_head(a, a - b, size, rng, closed))
    # never within 35 degrees of straight up: an upward arrow with a small head is a 1
    return _rotate(strokes, rng.uniform(-55, 235))


def _bent_arrow(rng):
    strokes = [line((0.1, 0), (0.1, 0.8), (1.0, 0.8)),
               _head(np.array([1.0, 0.8]), np.array([1.0, 0.0]), 0.35, rng, False)]
    return _rotate(strokes, rng.choice([0, 90, 180, 270]))


def _curved_arrow(rng):
    a0 = rng.uniform(0, 360)
    sweep = rng.uniform(120, 270) * rng.choice([-1, 1])
    body = arc(0.5, 0.5, 0.5, 0.5, a0, a0 + sweep)
    return [body, _head(body[-1], body[-1] - body[-3], 0.35, rng, rng.random() < 0.3)]


ARROW = {
    "arrow": _straight_arrow,
    "double_arrow": lambda rng: _straight_arrow(rng, double=True),
    "bent_arrow": _bent_arrow,
    "curved_arrow": _curved_arrow,
}

# ------------------------------------------------------------------------------------------------
# Faces and little pictures


def _face(rng, smile: bool):
    mouth = (arc(0.5, 0.52, 0.25, 0.2, 200, 340) if smile
             else arc(0.5, 0.85, 0.22, 0.14, 20, 160))
    return [circle(0.5, 0.5, 0.5, rng), dot(0.33, 0.36, 0.04), dot(0.67, 0.36, 0.04), mouth]


def _sun(rng):
    n = int(rng.integers(7, 13))
    strokes = [circle(0.5, 0.5, 0.22, rng)]
    for a in np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(0, 1):
        u = np.array([np.cos(a), np.sin(a)])
        strokes.append(line(0.5 + 0.3 * u, 0.5 + rng.uniform(0.42, 0.5) * u))
    return strokes


def _stick_figure(rng):
    arm = rng.uniform(-0.15, 0.15)
    return [circle(0.5, 0.13, 0.13, rng), line((0.5, 0.26), (0.5, 0.66)),
            line((0.15, 0.4 + arm), (0.5, 0.38), (0.85, 0.4 - arm)),
            line((0.25, 1.0), (0.5, 0.66), (0.75, 1.0))]


def _house(rng):
    return [line((0.1, 0.45), (0.1, 1), (0.9, 1), (0.9, 0.45)),
            line((0.0, 0.5), (0.5, 0.0), (1.0, 0.5), (0.05, 0.47)),
            line((0.42, 1), (0.42, 0.72), (0.6, 0.72), (0.6, 1)),
            _box(rng, 0.65, 0.55, 0.8, 0.68)]


def _scallops(cx, cy, rx, ry, n, rng):
    """A cloud-like outline: n round bumps (half circles, outward) around an ellipse, one
    stroke."""
    parts = []
    rb = np.sin(np.pi / n) * min(rx, ry) * 1.15
    for m in np.linspace(0, 360, n, endpoint=False) + rng.uniform(0, 360 / n):
        bx, by = cx + rx * np.cos(np.radians(m)), cy - ry * np.sin(np.radians(m))
        r = rb * rng.uniform(0.85, 1.2)
        parts.append(arc(bx, by, r, r, m - 95, m + 95))
    return chain(*parts, parts[0][:1])


def _tree(rng):
    if rng.random() < 0.5:  # a pine
        return [line((0.5, 0.0), (0.15, 0.45), (0.35, 0.42), (0.05, 0.8), (0.95, 0.8),
                     (0.65, 0.42), (0.85, 0.45), (0.5, 0.0)),
                line((0.44, 0.8), (0.44, 1.0), (0.56, 1.0), (0.56, 0.8))]
    return [_scallops(0.5, 0.33, 0.4, 0.3, int(rng.integers(6, 9)), rng),
            line((0.43, 1.0), (0.44, 0.6)), line((0.57, 1.0), (0.56, 0.6))]


def _cloud(rng):
    return [_scallops(0.5, 0.5, 0.5, 0.28, int(rng.integers(6, 10)), rng)]


def _flower(rng):
    n = int(rng.integers(5, 8))
    strokes = [circle(0.5, 0.3, 0.09, rng)]
    for a in np.linspace(0, 360, n, endpoint=False) + rng.uniform(0, 60):
        u = np.array([np.cos(np.radians(a)), -np.sin(np.radians(a))])
        c = np.array([0.5, 0.3]) + 0.2 * u
        strokes.append(_rotate([arc(0, 0, 0.12, 0.07, 0, 360)], -a, centre=(0, 0))[0] + c)
    strokes.append(line((0.5, 0.4), (0.48, 0.7), (0.5, 1.0)))
    strokes.append(chain(line((0.49, 0.8)), arc(0.65, 0.72, 0.15, 0.07, 200, 20),
                         arc(0.65, 0.72, 0.15, 0.07, 20, -160)))
    return strokes


FACE = {
    "smiley": lambda rng: _face(rng, True),
    "frowny": lambda rng: _face(rng, False),
    "sun": _sun,
    "stick_figure": _stick_figure,
    "house": _house,
    "tree": _tree,
    "cloud": _cloud,
    "flower": _flower,
}

# ------------------------------------------------------------------------------------------------
# Hatching, blobs, spirals, coils


def _blob_outline(rng, n=9) -> np.ndarray:
    """A smooth random closed outline (m, 2) in the unit box."""
    k = np.arange(1, 4)
    amp = rng.normal(0, 0.12, 3) / k
    ph = rng.uniform(0, 2 * np.pi, 3)
    t = np.linspace(0, 2 * np.pi, 90)
    r = 0.4 * (1 + (amp[:, None] * np.cos(k[:, None] * t + ph[:, None])).sum(0))
    return np.stack([0.5 + r * np.cos(t), 0.5 + r * np.sin(t)], axis=1)


def _fill_lines(region: np.ndarray, angle: float, spacing: float, zigzag: bool) -> Strokes:
    """Parallel lines at ``angle`` (degrees) ``spacing`` apart, clipped to the closed polygon
    ``region`` (m, 2); one back-and-forth stroke when ``zigzag``, else one stroke per line."""
    poly = PolyPath(region)
    u = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
    v = np.array([-u[1], u[0]])
    t = np.linspace(-0.8, 0.8, 160)
    runs = []
    for off in np.arange(-0.8, 0.8, spacing):
        pts = 0.5 + off * v + t[:, None] * u
        inside = poly.contains_points(pts)
        if inside.sum() < 2:
            continue
        idx = np.flatnonzero(inside)
        runs.append(np.stack([pts[idx[0]], pts[idx[-1]]]))
    if not zigzag:
        return runs
    for i in range(1, len(runs), 2):
        runs[i] = runs[i][::-1]
    return [np.concatenate(runs)] if runs else []


def _hatching(rng, cross=False):
    region = _blob_outline(rng) if rng.random() < 0.5 else line((0.05, 0.1), (0.95, 0.05),
                                                                 (0.9, 0.95), (0.1, 0.9))
    angle = rng.uniform(20, 70) * rng.choice([-1, 1])
    spacing = rng.uniform(0.07, 0.13)
    zig = rng.random() < 0.4
    strokes = _fill_lines(region, angle, spacing, zig)
    if cross:
        strokes += _fill_lines(region, angle + rng.uniform(70, 110), spacing, zig)
    return strokes


def _blob(rng):
    outline = _blob_outline(rng)
    return [outline] + _fill_lines(outline, rng.uniform(0, 180), 0.03, True)


def _spiral(rng):
    turns = rng.uniform(5, 9)
    t = np.linspace(0, 2 * np.pi * turns, int(80 * turns))
    r = 0.5 * t / t[-1]
    sign = rng.choice([-1, 1])
    return [np.stack([0.5 + r * np.cos(sign * t), 0.5 + r * np.sin(sign * t)], axis=1)]


def _coil(rng):
    loops = rng.uniform(4, 8)
    t = np.linspace(0, 2 * np.pi * loops, int(60 * loops))
    b = rng.uniform(1.4, 2.5)
    x = t - b * np.sin(t)
    y = -np.cos(t) * np.ptp(x) / rng.uniform(4, 7)  # one loop is taller than it is wide
    return [np.stack([x, y], axis=1)]


HATCH = {
    "hatching": _hatching,
    "cross_hatching": lambda rng: _hatching(rng, cross=True),
    "blob": _blob,
    "spiral": _spiral,
    "coil": _coil,
}

# ------------------------------------------------------------------------------------------------
# Signatures


def _cursive(rng, x0: float) -> np.ndarray:
    """A run of cursive-like loops and humps, starting at x ``x0`` on baseline 0 (y down)."""
    n = int(rng.integers(4, 9))
    parts = []
    x = x0
    for _ in range(n):
        kind = rng.choice(["loop", "hump", "tall", "hump"])
        h = {"loop": 0.5, "hump": 0.45, "tall": 1.2}[kind] * rng.uniform(0.8, 1.2)
        w = rng.uniform(0.35, 0.6)
        s = np.linspace(0, 1, 24)
        if kind == "hump":  # up and down, like n or m
            px, py = x + w * s, -h * np.sin(np.pi * s)
        else:  # a loop: up on the right, back left, down across itself
            a = 2 * np.pi * s
            px = x + w * s + 0.5 * w * np.sin(a) * (1 if kind == "tall" else 0.8)
            py = -h * (1 - np.cos(a)) / 2
        parts.append(np.stack([px, py], axis=1))
        x += w
    return np.concatenate(parts)


def _signature(rng):
    strokes = []
    x = 0.0
    if rng.random() < 0.6:  # an initial capital, taller than the rest
        cap = LETTERS[str(rng.choice(list("AEFHKMNRTUVWXY")))](rng)
        strokes += [np.column_stack([x + 0.7 * s[:, 0], 1.4 * (s[:, 1] - 1)]) for s in cap]
        x += 0.85
    body = _cursive(rng, x)
    strokes.append(body)
    end = body[-1]
    if rng.random() < 0.8:  # a flourish: down and back under the name
        span = end[0] + 0.2
        t = np.linspace(0, 1, 40)
        fx = end[0] - span * t + 0.15 * np.sin(np.pi * t)
        fy = end[1] + 0.25 + 0.15 * np.sin(np.pi * t) * rng.uniform(-1, 1)
        strokes.append(np.column_stack([fx, fy]))
    return strokes


def _initials(rng):
    picks = rng.choice(list("AEFHKMNRTUVWXY"), size=2, replace=False)
    strokes = []
    for i, ch in enumerate(picks):
        for s in LETTERS[str(ch)](rng):
            strokes.append(np.column_stack([1.25 * i + 0.9 * s[:, 0], s[:, 1]]))
        strokes.append(dot(1.25 * i + 1.02, 0.95, 0.04))
    strokes.append(line((-0.1, 1.2), (2.3, 1.12)))
    return strokes


SIGNATURE = {"signature": _signature, "initials": _initials}

DRAWN = {"hand_letter": LETTERS, "math": MATH, "check_cross": CHECK_CROSS, "arrow": ARROW,
         "face": FACE, "hatch": HATCH, "signature": SIGNATURE}
VARIANTS = {**{k: tuple(v) for k, v in DRAWN.items()},
            "two_digits": ("apart", "touching"), "cut_digit": ("edge", "corner"),
            "overlap": ("overlap",), "stain_only": ("coffee", "blotch", "fold", "shadow"),
            "photo_bits": ("blobs", "window", "plant", "edges")}


def _rotate(strokes: Strokes, degrees: float, centre=(0.5, 0.5)) -> Strokes:
    a = np.radians(degrees)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    c = np.asarray(centre)
    return [(s - c) @ r.T + c for s in strokes]


# ------------------------------------------------------------------------------------------------
# The hand: skeleton -> jittered pixel strokes


def _smooth_noise(n: int, width: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian-filtered white noise (n,), unit standard deviation, correlation ``width``."""
    if n < 2:
        return np.zeros(n)
    x = rng.normal(size=n + 6 * int(width) + 2)
    k = np.exp(-0.5 * (np.arange(-3 * int(width) - 1, 3 * int(width) + 2) / max(width, 1)) ** 2)
    y = np.convolve(x, k / k.sum(), mode="valid")[:n]
    return y / (y.std() + 1e-9)


def _densify(points: np.ndarray, step: float) -> np.ndarray:
    """Resample a polyline (n, 2) so no two neighbours are more than ``step`` apart."""
    out = [points[:1]]
    for p, q in itertools.pairwise(points):
        k = max(1, int(np.ceil(np.linalg.norm(q - p) / step)))
        out.append(p + (q - p) * (np.arange(1, k + 1)[:, None] / k))
    return np.concatenate(out)


def hand(strokes: Strokes, rng: np.random.Generator, wobble: float = 1.0) -> Strokes:
    """Move a skeleton as a hand would: slant, rotation, stretch, per-vertex jitter, bowed
    segments, a wobble and a tremor along every stroke. Returns new (n, 2) arrays, same units."""
    slant = rng.normal(0.12, 0.12)
    rot = np.radians(rng.normal(0, 6))
    sx = rng.uniform(0.8, 1.2)
    m = np.array([[1, -slant], [0, 1]]) @ np.array([[np.cos(rot), -np.sin(rot)],
                                                    [np.sin(rot), np.cos(rot)]])
    allp = np.concatenate(strokes)
    size = max(np.ptp(allp[:, 0]), np.ptp(allp[:, 1]), 1e-6)
    out = []
    for s in strokes:
        s = s * [sx, 1.0]
        if len(s) <= 6:  # a drawn polyline: vertices jitter, segments bow
            s = s + rng.normal(0, 0.022 * size * wobble, s.shape)
            bowed = [s[:1]]
            for p, q in itertools.pairwise(s):
                seg = _densify(np.stack([p, q]), 0.02 * size)[1:]
                d = q - p
                nrm = np.array([-d[1], d[0]])
                t = np.linspace(0, 1, len(seg) + 1)[1:, None]
                bowed.append(seg + rng.normal(0, 0.05 * wobble) * np.sin(np.pi * t) * nrm)
            s = np.concatenate(bowed)
        else:  # a curve: the whole thing drifts a little
            s = s + rng.normal(0, 0.012 * size * wobble, 2)
            s = _densify(s, 0.02 * size)
        n = len(s)
        for width, amp in ((n / 6 + 1, 0.012), (2.0, 0.003)):
            s = s + np.stack([_smooth_noise(n, width, rng), _smooth_noise(n, width, rng)], 1) * (
                amp * size * wobble)
        out.append(s @ m.T)
    return out


def fit(strokes: Strokes, shape: tuple[int, int], rng: np.random.Generator,
        fill: tuple[float, float] = (0.45, 0.8)) -> Strokes:
    """Scale and move strokes (unit units) into pixels of a frame ``shape`` = (H, W): the longer
    side of their bounding box becomes ``fill`` of the shorter frame side, centred with a jitter."""
    h, w = shape
    allp = np.concatenate(strokes)
    lo, hi = allp.min(0), allp.max(0)
    size = rng.uniform(*fill) * min(h, w)
    scale = size / max(hi - lo)
    centre = np.array([w, h]) / 2 + rng.uniform(-0.07, 0.07, 2) * min(h, w)
    return [(s - (lo + hi) / 2) * scale + centre for s in strokes]


# ------------------------------------------------------------------------------------------------
# The pen: pixel strokes -> ink coverage


def ink(strokes: Strokes, shape: tuple[int, int], rng: np.random.Generator, width: float,
        pen: str) -> np.ndarray:
    """Draw pixel strokes into an ink-coverage map, float32 (H, W) in [0, 1].

    ``pen`` is ``"ballpoint"`` (stamped discs, radius follows pressure, full darkness),
    ``"pencil"`` (stamped discs, darkness follows pressure too), or ``"felt"``
    (``cv2.polylines`` at one width ``width``)."""
    coverage = np.zeros(shape, np.float32)
    for s in strokes:
        layer = np.zeros(shape, np.uint8)
        if pen == "felt":
            pts = np.round(s * 16).astype(np.int32)
            cv2.polylines(layer, [pts], False, 255, max(1, round(width)), cv2.LINE_AA, 4)
        else:
            step = max(0.4, 0.3 * width / 2)
            p = _densify(s, step)
            n = len(p)
            t = np.linspace(0, 1, n)
            pressure = np.clip(rng.uniform(0.75, 1.05) + 0.18 * _smooth_noise(n, n / 4 + 1, rng),
                               0.4, 1.3)
            pressure *= np.minimum(1, 0.55 + 0.45 * t / 0.08)  # pressing in
            pressure *= np.minimum(1, 0.35 + 0.65 * (1 - t) / 0.12)  # lifting off
            radius = np.maximum(0.6, width / 2 * pressure)
            dark = (np.clip(0.45 + 0.45 * pressure, 0.3, 1.0) if pen == "pencil"
                    else np.ones(n))
            for (x, y), r, k in zip(p, radius, dark):
                cv2.circle(layer, (int(x * 16), int(y * 16)), int(r * 16), int(255 * k), -1,
                           cv2.LINE_AA, 4)
        a = layer.astype(np.float32) / 255
        coverage = 1 - (1 - coverage) * (1 - a)
    if pen == "pencil":  # graphite leaves grain
        grain = np.clip(1 - 0.35 * rng.random(shape), 0, 1).astype(np.float32)
        coverage *= cv2.GaussianBlur(grain, (0, 0), 0.7)
    return coverage


def draw_glyph(kind: str, variant: str, shape: tuple[int, int], rng: np.random.Generator,
               canvas: bool) -> np.ndarray:
    """A hand-drawn ``variant`` of ``kind`` as ink coverage, float32 (H, W) in [0, 1]."""
    strokes = DRAWN[kind][variant](rng)
    fill = {"signature": (0.7, 0.92), "hatch": (0.5, 0.85)}.get(kind, (0.42, 0.78))
    if kind == "math" and variant in "-~=":
        fill = (0.4, 0.65)
    strokes = fit(hand(strokes, rng), shape, rng, fill)
    side = min(shape)
    if canvas:
        width = rng.uniform(0.03, 0.065) * side
        pen = "felt" if rng.random() < 0.5 else "ballpoint"
    else:
        pen = str(rng.choice(["ballpoint", "ballpoint", "pencil", "felt"]))
        width = rng.uniform(0.012, 0.03) * side * (1.6 if pen == "felt" else 1.0)
    if kind == "hatch":  # dense lines need a finer pen, a blob a broader one
        width *= 1.5 if variant == "blob" else 0.55
    if kind == "signature":
        width *= 0.6
    return ink(strokes, shape, rng, width, pen)


# ------------------------------------------------------------------------------------------------
# MNIST-based kinds


def _ink_box(digit: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Centre (x, y), height and width of the ink of a (28, 28) uint8 digit."""
    ys, xs = np.nonzero(digit > 40)
    if len(xs) == 0:
        return np.array([13.5, 13.5]), 20.0, 20.0
    return (np.array([(xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2]),
            float(ys.max() - ys.min() + 1), float(xs.max() - xs.min() + 1))


def place_digit(digit: np.ndarray, shape: tuple[int, int], centre, height: float,
                angle: float = 0.0, shear: float = 0.0) -> np.ndarray:
    """Warp a (28, 28) uint8 MNIST digit into a frame ``shape`` so its ink is ``height`` pixels
    tall and centred on ``centre`` (x, y); float32 (H, W) in [0, 1]."""
    c, h, _ = _ink_box(digit)
    s = height / h
    a = np.radians(angle)
    lin = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ np.array(
        [[1, -shear], [0, 1]])
    off = np.asarray(centre, np.float64) - lin @ c
    m = np.hstack([lin, off[:, None]]).astype(np.float64)
    return cv2.warpAffine(digit.astype(np.float32) / 255, m, (shape[1], shape[0]),
                          flags=cv2.INTER_LINEAR, borderValue=0)


def _pick(x, y, rng, n, distinct=False, avoid=()):
    """``n`` random indices into x; with ``distinct``, of different labels; never a label in
    ``avoid``."""
    idx: list[int] = []
    while len(idx) < n:
        j = int(rng.integers(len(x)))
        if y[j] in avoid or (distinct and y[j] in [y[i] for i in idx]):
            continue
        idx.append(j)
    return idx


def draw_two_digits(x, y, variant, shape, rng):
    """Two MNIST test digits side by side; ``touching`` closes the gap until the ink meets."""
    h, w = shape
    i, j = _pick(x, y, rng, 2)
    height = rng.uniform(0.35, 0.55) * min(h, w)
    boxes = [_ink_box(x[k]) for k in (i, j)]
    widths = [bw * height / bh for _, bh, bw in boxes]
    gap = (rng.uniform(-0.12, 0.0) if variant == "touching" else rng.uniform(0.08, 0.35)) * height
    total = widths[0] + gap + widths[1]
    if total > 0.92 * w:
        k = 0.92 * w / total
        height, widths, gap, total = height * k, [v * k for v in widths], gap * k, total * k
    cx, cy = w / 2 + rng.uniform(-0.04, 0.04) * w, h / 2 + rng.uniform(-0.05, 0.05) * h
    left = cx - total / 2
    shear = rng.normal(0, 0.1)
    a = place_digit(x[i], shape, (left + widths[0] / 2, cy + rng.normal(0, 0.03) * height),
                    height, rng.normal(0, 4), shear)
    b = place_digit(x[j], shape, (left + widths[0] + gap + widths[1] / 2,
                                  cy + rng.normal(0, 0.05) * height),
                    height * rng.uniform(0.9, 1.1), rng.normal(0, 4), shear)
    return np.maximum(a, b), [i, j]


def draw_overlap(x, y, variant, shape, rng):
    """Two different MNIST test digits drawn over each other, slightly offset. A 1 is never one
    of them (its thin stroke hides inside the other digit), and the second digit is moved again
    (up to ten times, further each time) while either digit has less than 40 % of its ink
    outside the other's."""
    h, w = shape
    i, j = _pick(x, y, rng, 2, distinct=True, avoid=(1,))
    height = rng.uniform(0.5, 0.75) * min(h, w)
    c = np.array([w / 2, h / 2])
    a = place_digit(x[i], shape, c + rng.uniform(-0.08, 0.08, 2) * height, height,
                    rng.normal(0, 6))
    for attempt in range(10):
        b = place_digit(x[j], shape, c + rng.uniform(-1, 1, 2) * (0.15 + 0.02 * attempt) * height,
                        height * rng.uniform(0.85, 1.15), rng.normal(0, 6))
        both = ((a > 0.3) & (b > 0.3)).sum()
        if both <= 0.6 * min((a > 0.3).sum(), (b > 0.3).sum()):
            break
    return 1 - (1 - a) * (1 - b), [i, j]


def draw_cut_digit(x, y, variant, shape, rng, target: float | None = None):
    """One MNIST test digit pushed off the frame, across an edge or a corner, until only a
    fraction ``target`` (30-50 %) of its ink is inside. A 1 is never cut (a cut 1 is a shorter
    1). Returns (coverage float32 (H, W) in [0, 1], [index], the visible fraction)."""
    h, w = shape
    (i,) = _pick(x, y, rng, 1, avoid=(1,))
    target = rng.uniform(0.3, 0.5) if target is None else target
    height = rng.uniform(0.7, 0.95) * min(h, w)
    if variant == "corner":
        a = np.radians(rng.choice([45, 135, 225, 315]) + rng.uniform(-15, 15))
    else:
        a = np.radians(rng.choice([0, 90, 180, 270]) + rng.uniform(-10, 10))
    d = np.array([np.cos(a), np.sin(a)])
    c = np.array([w / 2, h / 2])
    angle = rng.normal(0, 5)
    full = place_digit(x[i], (2 * h, 2 * w), 2 * c, height, angle).sum()  # all of it
    lo, hi = 0.0, float(np.hypot(h, w))
    for _ in range(18):  # the visible fraction falls as the digit moves out: bisect
        mid = (lo + hi) / 2
        frac = place_digit(x[i], shape, c + mid * d, height, angle).sum() / full
        lo, hi = (mid, hi) if frac > target else (lo, mid)
    cov = place_digit(x[i], shape, c + lo * d, height, angle)
    return cov, [i], float(cov.sum() / full)


# ------------------------------------------------------------------------------------------------
# Paper, photos, and the kinds with no strokes


def pink_noise(shape: tuple[int, int], rng: np.random.Generator, beta: float = 1.0
               ) -> np.ndarray:
    """Noise with a 1/f**beta amplitude spectrum (natural-image-like), float32 (H, W), zero
    mean, unit standard deviation."""
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.hypot(fx, fy)
    f[0, 0] = 1.0
    spec = np.fft.rfft2(rng.normal(size=shape)) / f ** beta
    spec[0, 0] = 0
    out = np.fft.irfft2(spec, s=shape)
    return ((out - out.mean()) / (out.std() + 1e-9)).astype(np.float32)


def paper(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Tinted paper with fibre grain, float32 RGB (H, W, 3) in [0, 1]."""
    tint = np.array([rng.uniform(0.82, 0.97)] * 3) + rng.normal(0, 0.012, 3)
    tint[2] -= rng.uniform(0, 0.05)  # most paper under indoor light is a little warm
    grain = 0.012 * pink_noise(shape, rng, 0.6) + 0.01 * rng.normal(size=shape)
    return np.clip(tint[None, None, :] + grain[..., None], 0, 1).astype(np.float32)


def light(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A light field: a linear gradient and a vignette, float32 (H, W) in about [0.55, 1]."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    ramp = ((xx / w - 0.5) * np.cos(a) + (yy / h - 0.5) * np.sin(a)) + 0.5
    r2 = ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * 2
    return (1 - rng.uniform(0, 0.25) * ramp - rng.uniform(0, 0.2) * r2).astype(np.float32)


INKS = {"ballpoint": [(0.12, 0.15, 0.45), (0.08, 0.08, 0.1)], "pencil": [(0.3, 0.3, 0.32)],
        "felt": [(0.05, 0.05, 0.07), (0.1, 0.15, 0.5), (0.5, 0.08, 0.08)]}


def finish(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """A camera's last steps: mild blur, sensor noise. Returns uint8 BGR (H, W, 3) and the
    JPEG quality to save it at."""
    rgb = cv2.GaussianBlur(rgb, (0, 0), rng.uniform(0.4, 1.3))
    rgb = rgb + rng.normal(0, rng.uniform(0.006, 0.025), rgb.shape).astype(np.float32)
    bgr = np.clip(rgb[..., ::-1] * 255 + 0.5, 0, 255).astype(np.uint8)
    return bgr, int(rng.integers(55, 91))


def photograph(coverage: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Ink coverage (H, W) in [0, 1] as a photo of paper: uint8 BGR (H, W, 3), JPEG quality."""
    pen = str(rng.choice(list(INKS)))
    colours = INKS[pen]
    colour = np.array(colours[int(rng.integers(len(colours)))], np.float32)
    m = np.clip(coverage * rng.uniform(0.8, 1.0), 0, 1)[..., None]
    rgb = paper(coverage.shape, rng) * (1 - m) + colour * m
    return finish(rgb * light(coverage.shape, rng)[..., None], rng)


def canvas_image(coverage: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage as a drawing-app export: uint8 grey (H, W), white on black or black on
    white."""
    g = np.clip(coverage * 255 + 0.5, 0, 255).astype(np.uint8)
    return g if rng.random() < 0.5 else 255 - g


def draw_stain(variant: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Paper with a stain, fold or shadow and no writing: float32 RGB (H, W, 3) in [0, 1]."""
    h, w = shape
    rgb = paper(shape, rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    side = min(h, w)
    extra = [variant] + ([str(rng.choice(VARIANTS["stain_only"]))] if rng.random() < 0.4 else [])
    for v in extra:
        if v == "coffee":
            cx, cy = rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h
            radius = rng.uniform(0.2, 0.38) * side
            theta = np.arctan2(yy - cy, xx - cx)
            wob = 1 + sum(amp * np.sin(k * theta + rng.uniform(0, 6))
                          for k, amp in ((2, 0.03), (3, 0.02), (5, 0.01), (11, 0.006)))
            r = np.hypot(xx - cx, yy - cy) / (radius * wob)
            ring = np.exp(-((r - 1) / rng.uniform(0.02, 0.05)) ** 2)
            ring *= np.clip(0.6 + 0.6 * np.cos(theta - rng.uniform(0, 6)), 0.2, 1)  # uneven rim
            inside = (r < 1) * rng.uniform(0.08, 0.2)
            a = (rng.uniform(0.3, 0.6) * ring + inside)[..., None]
            brown = np.array([0.55, 0.36, 0.18], np.float32)
            rgb = rgb * (1 - a) + rgb * brown * a
        elif v == "blotch":
            n = pink_noise(shape, rng, 1.8)
            spot = cv2.GaussianBlur((n > rng.uniform(0.6, 1.2)).astype(np.float32), (0, 0), 2)
            edge = np.clip(spot - cv2.GaussianBlur(spot, (0, 0), 4), 0, 1)
            a = (0.12 * spot + 0.8 * edge)[..., None]
            tint = np.array([0.75, 0.7, 0.6], np.float32) + rng.normal(0, 0.04, 3).astype(
                np.float32)
            rgb = rgb * (1 - a) + rgb * tint * a
        elif v == "fold":
            a = rng.uniform(0, np.pi)
            d = ((xx - w / 2) * np.cos(a) + (yy - h / 2) * np.sin(a)
                 - rng.uniform(-0.25, 0.25) * side)
            shade = 1 - rng.uniform(0.06, 0.14) * (d > 0) * np.exp(-d / (0.4 * side))
            crease = -0.18 * np.exp(-(d / 1.5) ** 2) + 0.08 * np.exp(-((d + 3) / 2.0) ** 2)
            rgb = rgb * (shade + crease)[..., None]
        else:  # a soft shadow of a hand or phone
            pts = (np.array([[rng.uniform(-0.2, 0.4), rng.uniform(0.5, 1.2)]
                             for _ in range(5)]) * [w, h])
            pts[:, 0] += rng.choice([0, 0.6]) * w
            mask = np.zeros(shape, np.float32)
            cv2.fillPoly(mask, [cv2.convexHull(pts.astype(np.int32))], 1.0)
            mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(0.04, 0.12) * side)
            rgb = rgb * (1 - rng.uniform(0.3, 0.55) * mask)[..., None]
    return np.clip(rgb * light(shape, rng)[..., None], 0, 1)


def draw_photo_bits(variant: str, shape: tuple[int, int], rng: np.random.Generator
                    ) -> np.ndarray:
    """A crop of a made-up photo: float32 RGB (H, W, 3) in [0, 1]."""
    h, w = shape
    side = min(h, w)
    base = rng.uniform(0.2, 0.8, 3).astype(np.float32)
    lum = pink_noise(shape, rng, rng.uniform(0.9, 1.4))
    rgb = base + 0.08 * lum[..., None] + 0.04 * np.stack(
        [pink_noise(shape, rng, 1.2) for _ in range(3)], -1)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    ramp = ((xx / w - 0.5) * np.cos(a) + (yy / h - 0.5) * np.sin(a))[..., None]
    rgb = rgb + ramp * rng.uniform(-0.3, 0.3, 3).astype(np.float32)
    layer = np.zeros((h, w, 3), np.float32)
    if variant == "blobs":
        for _ in range(int(rng.integers(3, 8))):
            c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
            axes = (int(rng.uniform(0.1, 0.4) * side), int(rng.uniform(0.1, 0.4) * side))
            cv2.ellipse(rgb, c, axes, rng.uniform(0, 180), 0, 360,
                        rng.uniform(0, 1, 3).tolist(), -1)
        rgb = cv2.GaussianBlur(rgb, (0, 0), rng.uniform(0.03, 0.08) * side)
    elif variant == "window":
        sky = np.array([0.75, 0.85, 0.95], np.float32) * rng.uniform(0.8, 1.1)
        x0, y0 = rng.uniform(-0.2, 0.3) * w, rng.uniform(-0.2, 0.3) * h
        x1, y1 = x0 + rng.uniform(0.6, 1.0) * w, y0 + rng.uniform(0.6, 1.0) * h
        cv2.rectangle(rgb, (int(x0), int(y0)), (int(x1), int(y1)), sky.tolist(), -1)
        bar = int(rng.uniform(0.03, 0.07) * side)
        frame = rng.uniform(0.05, 0.9, 3).tolist()
        xm, ym = int((x0 + x1) / 2), int((y0 + y1) / 2)
        cv2.rectangle(rgb, (int(x0), int(y0)), (int(x1), int(y1)), frame, bar)
        cv2.line(rgb, (xm, int(y0)), (xm, int(y1)), frame, bar)
        cv2.line(rgb, (int(x0), ym), (int(x1), ym), frame, bar)
        rgb = cv2.GaussianBlur(rgb, (0, 0), 1.5)
    elif variant == "plant":
        for _ in range(int(rng.integers(2, 5))):
            p = np.array([rng.uniform(0.2, 0.8) * w, h * 1.05])
            heading = -np.pi / 2 + rng.normal(0, 0.3)
            for _ in range(int(rng.integers(8, 16))):
                q = p + rng.uniform(0.04, 0.08) * side * np.array([np.cos(heading),
                                                                   np.sin(heading)])
                cv2.line(layer, tuple(int(v) for v in p), tuple(int(v) for v in q),
                         (0.2, 0.35, 0.12), max(1, int(0.012 * side)), cv2.LINE_AA)
                if rng.random() < 0.7:
                    g = rng.uniform(0.25, 0.6)
                    cv2.ellipse(layer, tuple(int(v) for v in q),
                                (int(0.07 * side), int(0.025 * side)),
                                np.degrees(heading) + rng.choice([-50, 50]), 0, 360,
                                (g * 0.4, g, g * 0.3), -1, cv2.LINE_AA)
                p, heading = q, heading + rng.normal(0, 0.25)
        mask = (layer.sum(-1, keepdims=True) > 0).astype(np.float32)
        rgb = rgb * (1 - mask) + layer * (0.8 + 0.2 * lum[..., None])
        rgb = cv2.GaussianBlur(rgb, (0, 0), rng.uniform(0.6, 2.0))
    else:  # hard edges: a table, a wall, a book
        for _ in range(int(rng.integers(2, 4))):
            a = rng.uniform(0, np.pi)
            d = (xx - rng.uniform(0, w)) * np.cos(a) + (yy - rng.uniform(0, h)) * np.sin(a)
            rgb = np.where((d > 0)[..., None], rgb * rng.uniform(0.5, 1.4, 3).astype(np.float32),
                           rgb)
        rgb = cv2.GaussianBlur(rgb, (0, 0), rng.uniform(0.5, 1.5))
    return np.clip(rgb, 0, 1).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# One image


def make_image(kind: str, variant: str, rng: np.random.Generator, digits=None,
               style: str | None = None) -> tuple[np.ndarray, str, dict]:
    """Render one image of ``kind``.

    Args:
        kind: one of KINDS; variant: one of VARIANTS[kind].
        rng: the image's own Generator.
        digits: (x_test uint8 (N, 28, 28), y_test (N,)) for the MNIST kinds, else unused.
        style: ``"canvas"`` or ``"photo"``; None draws one at random (a canvas 40 % of the
            time), and the PHOTO_ONLY kinds are always photos.
    Returns:
        (image, ext, meta): image is uint8 grey (280, 280) for ``png`` (a canvas) or uint8 BGR
        (H, W, 3), 320 <= H, W <= 640, for ``jpg`` (a photo); meta has ``style``, ``quality``
        (jpg), ``mnist`` (indices), ``visible`` (cut_digit's visible ink fraction).
    """
    coin = rng.random() < 0.4
    canvas = kind not in PHOTO_ONLY and (coin if style is None else style == "canvas")
    if canvas:
        shape = (CANVAS, CANVAS)
    else:
        side = int(rng.integers(320, 641))
        aspect = rng.uniform(0.75, 1.33)
        shape = (side, int(np.clip(side * aspect, 320, 640)))
    meta = {"style": "canvas" if canvas else "photo", "mnist": []}
    if kind in DRAWN:
        coverage = draw_glyph(kind, variant, shape, rng, canvas)
    elif kind in MNIST_KINDS:
        x, y = digits
        if kind == "two_digits":
            coverage, meta["mnist"] = draw_two_digits(x, y, variant, shape, rng)
        elif kind == "overlap":
            coverage, meta["mnist"] = draw_overlap(x, y, variant, shape, rng)
        else:
            coverage, meta["mnist"], meta["visible"] = draw_cut_digit(x, y, variant, shape, rng)
        if not canvas:  # a real pen line is not MNIST's soft edge only: thicken a little
            coverage = np.clip(coverage * 1.3, 0, 1)
    elif kind == "stain_only":
        image, meta["quality"] = finish(draw_stain(variant, shape, rng), rng)
        return image, "jpg", meta
    elif kind == "photo_bits":
        image, meta["quality"] = finish(draw_photo_bits(variant, shape, rng), rng)
        return image, "jpg", meta
    else:
        raise ValueError(f"unknown kind {kind!r}")
    if canvas:
        return canvas_image(coverage, rng), "png", meta
    image, meta["quality"] = photograph(coverage, rng)
    return image, "jpg", meta


def encode(image: np.ndarray, ext: str, quality: int | None) -> np.ndarray:
    """The file's bytes as a uint8 array."""
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext == "jpg" else []
    ok, buf = cv2.imencode(f".{ext}", image, params)
    if not ok:
        raise RuntimeError(f"could not encode a {ext} image")
    return buf


# ------------------------------------------------------------------------------------------------
# Command line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, no usage block
        print(f"make_non_digits_b.py: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _load_digits(path: str):
    try:
        with np.load(path) as data:
            x, y = data["x_test"], data["y_test"]
    except (OSError, KeyError, ValueError) as exc:
        raise SystemExit(f"cannot read MNIST test digits from {path}: {exc} "
                         "(give --data, a keras-layout mnist.npz)") from None
    if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) != len(y) or len(x) == 0:
        raise SystemExit(f"{path}: x_test has shape {x.shape}, expected (N, 28, 28)")
    return x, y


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="seed (0)")
    parser.add_argument("--per-kind", type=int, default=40, help="images per kind (40)")
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help="comma-separated kinds (all): " + ", ".join(KINDS))
    parser.add_argument("--data", default=os.environ.get("CNN_MNIST_DATA") or DEFAULT_DATA,
                        help="MNIST .npz with x_test, y_test, for " + ", ".join(MNIST_KINDS)
                        + " ($CNN_MNIST_DATA, else " + DEFAULT_DATA + ")")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty --out (earlier nd_* files are removed)")
    args = parser.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        parser.error(f"unknown kind {unknown[0] if unknown else '(none)'!r}: use some of "
                     + ", ".join(KINDS))
    if not 1 <= args.per_kind <= 1000:
        parser.error(f"--per-kind {args.per_kind}: give 1 to 1000")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        parser.error(f"{out} is not empty; give an empty or new --out, or --overwrite")
    try:
        digits = _load_digits(args.data) if any(k in MNIST_KINDS for k in kinds) else None
    except SystemExit as exc:
        parser.error(str(exc))
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("nd_*.jpg"), *out.glob("nd_*.png")]:
        old.unlink()
    rows = []
    for kind in kinds:
        k = KINDS.index(kind)
        variants = VARIANTS[kind]
        order = np.random.default_rng([args.seed, k]).permutation(len(variants))
        for n in range(args.per_kind):
            variant = variants[order[n % len(variants)]]
            rng = np.random.default_rng([args.seed, k, n])
            image, ext, meta = make_image(kind, variant, rng, digits)
            name = f"nd_{kind}_{n:03d}.{ext}"
            encode(image, ext, meta.get("quality")).tofile(str(out / name))
            labels = [int(digits[1][i]) for i in meta["mnist"]]
            rows.append([name, kind, variant, meta["style"], " ".join(map(str, meta["mnist"])),
                         " ".join(map(str, labels))])
    with open(out / "index.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "kind", "variant", "style", "mnist_test_index", "mnist_label"])
        writer.writerows(rows)
    print(f"{out}: {len(rows)} images, {len(kinds)} kinds x {args.per_kind} (seed {args.seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
