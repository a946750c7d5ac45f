"""Generate a hard test set: MNIST *test* digits photographed the way people really do it.

Each image shows one MNIST test digit, drawn at random from all 10,000 (not the most typical
ones), rendered as a photo, scan or screenshot would show it: dark ink on textured paper with
uneven light, blur, sensor noise and JPEG compression, under one of these conditions:

=============  ==================================================================================
tag            condition
=============  ==================================================================================
tight          cropped tight: the ink touches the frame (a form cell, a cropped screenshot)
shadow         a hard shadow (a hand or phone between lamp and paper) across part of the page
ruled          ruled notebook paper, thin ballpoint digit, lines through it, red margin line
squared        squared (grid) notebook paper, thin ballpoint digit, often a red margin line
boxed          a box drawn by hand around the digit
underline      a hand-drawn line under the digit, sometimes touching it
pencil         faint pencil: the strokes only 15-25 % darker than the paper
coffee         coffee-ring stains crossing the digit
marker         a thick marker whose strokes fill the loops
small          a small digit off-centre in a big frame
desk           a pencil digit on a sheet lying on a desk, the sheet's outline in view
screenshot     a screenshot of a drawing app: title bar, buttons, palette, canvas border
coarse         a coarse, thick, low-resolution digit upscaled from a small scan
tilt           the page photographed at an angle (perspective)
motion         motion blur (a shaking hand)
jpeg15         JPEG quality 15
big4000        a 4000 x 3000 phone photo
sheen          a lamp's reflection on glossy paper over part of the digit: a bright oval that
               washes the ink under it out to a light grey (not in the default set: give
               ``--conditions sheen``; added 2026-12-08, the published sets keep their 17)
=============  ==================================================================================

Files are named ``<digit>_<tag>_<nnn>.<ext>`` (``cnn predict`` reads the label from the leading
digit) and listed with their MNIST test index in ``index.csv``. ``--style b`` draws the
rendering parameters (paper and pen colours, line spacing, stain and shadow strength, sizes)
from other ranges, so that a pipeline tuned on one set can be checked on an independent one.

Usage::

    python scripts/make_hard_photos.py [--out /tmp/hard_photos] [--seed 0] [--style a]
        [--per-condition 25] [--conditions tight,shadow] [--data mnist.npz]

The data path is ``--data``, else ``$CNN_MNIST_DATA``, else ``/work/shared/data/mnist.npz``.
The same seed, style and data give the same files. Never train on these images: they are made
from the test set.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DEFAULT_DATA = "/work/shared/data/mnist.npz"
DEFAULT_OUT = "/tmp/hard_photos"

CONDITIONS = ("tight", "shadow", "ruled", "squared", "boxed", "underline", "pencil", "coffee",
              "marker", "small", "desk", "screenshot", "coarse", "tilt", "motion", "jpeg15",
              "big4000", "sheen")
DEFAULT_CONDITIONS = CONDITIONS[:-1]  # the sets as first published (sheen came later)


@dataclass(frozen=True)
class Style:
    """Ranges the rendering parameters are drawn from; two styles give two independent sets."""

    papers: tuple  # BGR paper colours, 0..1
    pens: tuple  # BGR pen colours, 0..1
    light: tuple  # strength of the light gradient
    noise: tuple  # sensor noise sigma, 0..1
    blur: tuple  # camera blur sigma, px at 600 px
    jpeg: tuple  # JPEG quality of ordinary photos
    line_gap: tuple  # ruled/squared line spacing as a fraction of the frame height
    shadow: tuple  # brightness inside a hard shadow
    stain: tuple  # coffee stain opacity
    digit: tuple  # digit height as a fraction of the frame height, ordinary photos


STYLES = {
    "a": Style(papers=((0.93, 0.94, 0.95), (0.80, 0.90, 0.95), (0.86, 0.87, 0.88)),
               pens=((0.45, 0.12, 0.05), (0.08, 0.08, 0.08), (0.35, 0.15, 0.10)),
               light=(0.1, 0.35), noise=(0.008, 0.025), blur=(0.5, 1.3), jpeg=(70, 92),
               line_gap=(0.07, 0.11), shadow=(0.35, 0.6), stain=(0.25, 0.5),
               digit=(0.3, 0.6)),
    "b": Style(papers=((0.97, 0.97, 0.97), (0.70, 0.85, 0.92), (0.78, 0.80, 0.80),
                       (0.92, 0.88, 0.85)),
               pens=((0.55, 0.25, 0.10), (0.15, 0.15, 0.20), (0.20, 0.10, 0.55),
                     (0.25, 0.25, 0.25)),
               light=(0.2, 0.5), noise=(0.015, 0.04), blur=(0.8, 1.8), jpeg=(55, 85),
               line_gap=(0.05, 0.09), shadow=(0.25, 0.5), stain=(0.35, 0.65),
               digit=(0.22, 0.7)),
}


# ---------------------------------------------------------------------------- strokes


def smooth_ink(digit: np.ndarray, height: int) -> np.ndarray:
    """A 28 x 28 uint8 digit as float32 ink in [0, 1], shape (height, height), pen-like edges."""
    big = cv2.resize(digit.astype(np.float32) / 255.0, (height, height),
                     interpolation=cv2.INTER_CUBIC)
    t = np.clip((np.clip(big, 0, 1) - 0.3) / 0.4, 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def skeleton(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a binary (H, W) mask to 1-px lines, bool (H, W).

    T. Y. Zhang and C. Y. Suen, "A fast parallel algorithm for thinning digital patterns",
    Commun. ACM 27(3), 1984.
    """
    img = np.pad(mask.astype(bool), 1)
    while True:
        changed = False
        for step in (0, 1):
            n = [np.roll(np.roll(img, dy, 0), dx, 1) for dy, dx in
                 ((1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1))]
            count = sum(q.astype(np.uint8) for q in n)
            ring = n + [n[0]]
            transitions = sum((~ring[k] & ring[k + 1]).astype(np.uint8) for k in range(8))
            if step == 0:
                cond = ~(n[0] & n[2] & n[4]) & ~(n[2] & n[4] & n[6])
            else:
                cond = ~(n[0] & n[2] & n[6]) & ~(n[0] & n[4] & n[6])
            remove = img & (count >= 2) & (count <= 6) & (transitions == 1) & cond
            if remove.any():
                img = img & ~remove
                changed = True
        if not changed:
            return img[1:-1, 1:-1]


def pen_ink(digit: np.ndarray, height: int, width: float) -> np.ndarray:
    """The digit redrawn with a pen ``width`` px wide (its skeleton, thickened), (height, height)."""
    small = cv2.resize(digit, (84, 84), interpolation=cv2.INTER_CUBIC) > 110
    line = skeleton(small).astype(np.float32)
    big = cv2.resize(line, (height, height), interpolation=cv2.INTER_LINEAR)
    big = cv2.GaussianBlur(big, (0, 0), max(height / 84.0, 0.5))
    mask = (big > 0.08 * big.max()).astype(np.uint8)
    dist = cv2.distanceTransform(1 - mask, cv2.DIST_L2, 3)
    ink = np.clip(width / 2.0 + 0.5 - dist, 0.0, 1.0)
    return ink.astype(np.float32)


def thick_ink(digit: np.ndarray, height: int, fraction: float) -> np.ndarray:
    """The digit dilated by ``fraction`` of its height (a marker), loops partly filled."""
    ink = smooth_ink(digit, height)
    size = max(3, int(height * fraction)) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return cv2.GaussianBlur(cv2.dilate(ink, kernel), (0, 0), max(1.0, height / 300))


def crop_ink(ink: np.ndarray) -> np.ndarray:
    """``ink`` cut to the bounding box of its pixels above 0.05."""
    ys, xs = np.nonzero(ink > 0.05)
    return ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1] if ys.size else ink


def paste(layer: np.ndarray, ink: np.ndarray, top: int, left: int) -> None:
    """Add ``ink`` into ``layer`` at (top, left), clipped to the layer, maximum of the two."""
    h, w = ink.shape
    H, W = layer.shape
    ya, xa, yb, xb = max(0, top), max(0, left), min(H, top + h), min(W, left + w)
    if ya < yb and xa < xb:
        region = layer[ya:yb, xa:xb]
        np.maximum(region, ink[ya - top:yb - top, xa - left:xb - left], out=region)


def hand_line(layer: np.ndarray, p0, p1, width: float, rng: np.random.Generator,
              wobble: float = 0.004) -> None:
    """A hand-drawn line from p0 to p1 (x, y) into ``layer`` (max), wobbling by ``wobble``
    of its length (a printed line: 0.0005)."""
    n = 6
    t = np.linspace(0, 1, n)[:, None]
    pts = (1 - t) * np.asarray(p0, np.float32) + t * np.asarray(p1, np.float32)
    normal = np.array([-(p1[1] - p0[1]), p1[0] - p0[0]], np.float32)
    normal /= max(float(np.hypot(*normal)), 1e-6)
    wobble = rng.normal(0, wobble * float(np.hypot(p1[0] - p0[0], p1[1] - p0[1])) + 0.3, n)
    pts += wobble[:, None] * normal[None, :]
    canvas = np.zeros(layer.shape, np.uint8)
    cv2.polylines(canvas, [np.round(pts * 16).astype(np.int32)], False, 255,
                  max(1, int(round(width))), cv2.LINE_AA, shift=4)
    np.maximum(layer, canvas.astype(np.float32) / 255.0, out=layer)


# ---------------------------------------------------------------------------- paper and camera


def paper_texture(hw: tuple[int, int], rng: np.random.Generator, amount: float = 1.0) -> np.ndarray:
    """Paper brightness factor (H, W) around 1: fibre grain plus blotchy low-frequency tone."""
    h, w = hw
    grain = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.8)
    coarse = rng.standard_normal((max(2, h // 60), max(2, w // 60))).astype(np.float32)
    coarse = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    return (1.0 + amount * (0.02 * grain + 0.012 * coarse)).astype(np.float32)


def lighting(hw: tuple[int, int], rng: np.random.Generator, strength: float) -> np.ndarray:
    """Illumination factor (H, W): a linear or a radial (vignette) gradient, max ~1.05."""
    h, w = hw
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    x, y = x / w, y / h
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * np.pi)
        g = np.cos(angle) * x + np.sin(angle) * y
    else:
        cy, cx = rng.uniform(0.0, 1.0, size=2)
        g = (x - cx) ** 2 + (y - cy) ** 2
    g = (g - g.min()) / max(float(g.max() - g.min()), 1e-6)
    return (1.05 - strength * g).astype(np.float32)


def hard_shadow(hw: tuple[int, int], rng: np.random.Generator, darkness: float) -> np.ndarray:
    """Brightness factor (H, W): 1 outside, ``darkness`` inside a polygon with a sharp edge.

    The polygon enters from one or two sides of the frame and covers 25-65 % of it, like the
    shadow of a hand or a phone between a lamp and the page.
    """
    h, w = hw
    mask = np.zeros((h, w), np.uint8)
    cover = rng.uniform(0.25, 0.65)
    angle = rng.uniform(0, 2 * np.pi)
    # A half-plane at a random angle, its edge bent by a second vertex (a hand's outline).
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.cos(angle) * (x / w - 0.5) + np.sin(angle) * (y / h - 0.5)
    d += rng.uniform(-0.15, 0.15) * np.abs(np.sin(angle) * (x / w - 0.5)
                                           - np.cos(angle) * (y / h - 0.5))
    cut = np.quantile(d, 1 - cover)
    mask[d > cut] = 1
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), rng.uniform(1.0, 4.0) * max(h, w) / 600)
    return (1.0 - (1.0 - darkness) * soft).astype(np.float32)


def compose(paper: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Paint ink layers (alpha (H, W) in [0, 1], BGR colour) over ``paper`` (H, W, 3) in order."""
    img = paper.copy()
    for alpha, colour in layers:
        a = alpha[..., None]
        img = img * (1 - a) + np.asarray(colour, np.float32)[None, None, :] * a
    return img


def camera(img: np.ndarray, rng: np.random.Generator, style: Style,
           light: np.ndarray | None = None) -> np.ndarray:
    """Light gradient, lens blur and sensor noise on a float BGR image; returns uint8 BGR."""
    h, w = img.shape[:2]
    if light is None:
        light = lighting((h, w), rng, rng.uniform(*style.light))
    img = img * light[..., None]
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(*style.blur) * max(h, w) / 600)
    img = img + rng.normal(0, rng.uniform(*style.noise), img.shape).astype(np.float32)
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)


def choose(rng: np.random.Generator, options: tuple) -> np.ndarray:
    """One of ``options`` (colours) as float32, each channel jittered by +-3 %."""
    return np.asarray(options[int(rng.integers(len(options)))], np.float32) * rng.uniform(0.97, 1.03, 3)


def photo_frame(rng: np.random.Generator) -> tuple[int, int]:
    """Frame (H, W) of an ordinary photo: 480-900 px, portrait or landscape."""
    a, b = int(rng.integers(480, 900)), int(rng.integers(480, 900))
    return (a, b)


def place_at(hw, ink_hw, rng, where: str = "any") -> tuple[int, int]:
    """(top, left) for an ink box of ``ink_hw`` in a frame of ``hw``; 'any' keeps it inside."""
    (h, w), (ih, iw) = hw, ink_hw
    return int(rng.integers(0, max(1, h - ih + 1))), int(rng.integers(0, max(1, w - iw + 1)))


# ---------------------------------------------------------------------------- conditions


def plain_photo(digit: np.ndarray, rng: np.random.Generator, style: Style,
                hw: tuple[int, int] | None = None, ink: np.ndarray | None = None,
                extra=None, keep_float: bool = False):
    """A phone photo of ``digit`` in ink on paper; ``extra(layers, hw, box)`` may add marks.

    Returns uint8 BGR (H, W, 3), or float32 before the camera when ``keep_float``.
    """
    hw = hw or photo_frame(rng)
    if ink is None:
        height = int(min(hw) * rng.uniform(*style.digit))
        ink = crop_ink(smooth_ink(digit, height))
    top, left = place_at(hw, ink.shape, rng)
    layer = np.zeros(hw, np.float32)
    paste(layer, ink, top, left)
    paper = choose(rng, style.papers)[None, None, :] * paper_texture(hw, rng)[..., None]
    pen = choose(rng, style.pens)
    layers = [(layer, pen)]
    if extra is not None:
        extra(layers, hw, (left, top, left + ink.shape[1], top + ink.shape[0]), pen)
    img = compose(paper, layers)
    return img if keep_float else camera(img, rng, style)


def render_tight(digit, rng, style):
    """The digit cropped to its ink box, 0-2 px cut off or left on each side."""
    height = int(rng.integers(90, 360))
    ink = crop_ink(smooth_ink(digit, height))
    pad = int(max(ink.shape) * 0.3)
    img = plain_photo(digit, rng, style, hw=(ink.shape[0] + 2 * pad, ink.shape[1] + 2 * pad),
                      ink=np.pad(ink, pad))
    ys, xs = np.nonzero(np.pad(ink, pad) > 0.3)
    m = rng.integers(-2, 3, 4)
    y0, y1 = max(0, ys.min() - m[0]), min(img.shape[0], ys.max() + 1 + m[1])
    x0, x1 = max(0, xs.min() - m[2]), min(img.shape[1], xs.max() + 1 + m[3])
    return img[y0:y1, x0:x1]


def render_shadow(digit, rng, style):
    img = plain_photo(digit, rng, style, keep_float=True)
    shade = hard_shadow(img.shape[:2], rng, rng.uniform(*style.shadow))
    return camera(img * shade[..., None], rng, style)


def _notebook(digit, rng, style, squared: bool):
    hw = photo_frame(rng)
    gap = max(12, int(hw[0] * rng.uniform(*style.line_gap)))
    height = int(gap * rng.uniform(1.6, 3.2))
    width = max(1.5, height * rng.uniform(0.018, 0.035))
    ink = crop_ink(pen_ink(digit, height, width))
    line_colour = np.array([0.92, 0.72, 0.55], np.float32) * rng.uniform(0.9, 1.05)
    red = np.array([0.45, 0.45, 0.92], np.float32)

    def lines(layers, hw_, box, pen):
        h, w = hw_
        ruled = np.zeros(hw_, np.float32)
        lw = rng.uniform(1.0, 2.2) * max(h, w) / 700
        offset = int(rng.integers(0, gap))
        for y in range(offset, h, gap):
            hand_line(ruled, (0, y), (w - 1, y + rng.uniform(-2, 2)), lw, rng, 0.0005)
        if squared:
            for x in range(int(rng.integers(0, gap)), w, gap):
                hand_line(ruled, (x, 0), (x + rng.uniform(-2, 2), h - 1), lw, rng, 0.0005)
        layers.insert(0, (ruled * rng.uniform(0.5, 0.9), line_colour))
        if rng.random() < (0.9 if not squared else 0.6):
            margin = np.zeros(hw_, np.float32)
            x = int(rng.uniform(0.05, 0.3) * w)
            if box[0] - 10 < x < box[2] + 10 and rng.random() < 0.5:
                x = max(3, box[0] - int(rng.integers(5, 40)))
            hand_line(margin, (x, 0), (x + rng.uniform(-4, 4), h - 1), lw * 1.3, rng, 0.0005)
            layers.insert(1, (margin * rng.uniform(0.6, 0.95), red))

    return plain_photo(digit, rng, style, hw=hw, ink=ink, extra=lines)


def render_ruled(digit, rng, style):
    return _notebook(digit, rng, style, squared=False)


def render_squared(digit, rng, style):
    return _notebook(digit, rng, style, squared=True)


def _pen_width(ink: np.ndarray) -> float:
    """Rough stroke width of an ink map: 2 * area / perimeter of its pixels above 0.5."""
    m = (ink > 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    return 2.0 * float(m.sum()) / max(sum(cv2.arcLength(c, True) for c in contours), 1.0)


def render_boxed(digit, rng, style):
    def box(layers, hw, b, pen):
        x0, y0, x1, y1 = b
        size = max(x1 - x0, y1 - y0)
        m = [size * rng.uniform(0.06, 0.3) for _ in range(4)]
        width = max(1.5, _pen_width(layers[0][0][y0:y1, x0:x1]) * rng.uniform(0.6, 1.1))
        corners = [(x0 - m[0], y0 - m[1]), (x1 + m[2], y0 - m[1]), (x1 + m[2], y1 + m[3]),
                   (x0 - m[0], y1 + m[3])]
        corners = [(x + rng.normal(0, 2), y + rng.normal(0, 2)) for x, y in corners]
        for k in range(4):
            hand_line(layers[0][0], corners[k], corners[(k + 1) % 4], width, rng)

    hw = photo_frame(rng)
    height = int(min(hw) * rng.uniform(0.25, 0.5))
    return plain_photo(digit, rng, style, hw=hw, ink=crop_ink(smooth_ink(digit, height)),
                       extra=box)


def render_underline(digit, rng, style):
    def underline(layers, hw, b, pen):
        x0, y0, x1, y1 = b
        h = y1 - y0
        width = max(1.5, _pen_width(layers[0][0][y0:y1, x0:x1]) * rng.uniform(0.6, 1.1))
        gap = h * rng.uniform(-0.02, 0.15)
        extra = (x1 - x0) * rng.uniform(0.0, 0.4) + h * 0.1
        y = y1 + gap
        hand_line(layers[0][0], (x0 - extra * rng.uniform(0.2, 0.8), y + rng.normal(0, h * 0.03)),
                  (x1 + extra * rng.uniform(0.2, 0.8), y + rng.normal(0, h * 0.03)), width, rng)

    hw = photo_frame(rng)
    height = int(min(hw) * rng.uniform(0.25, 0.5))
    return plain_photo(digit, rng, style, hw=hw, ink=crop_ink(smooth_ink(digit, height)),
                       extra=underline)


def render_pencil(digit, rng, style):
    """Graphite strokes only 15-25 % darker than the paper, grainy."""
    hw = photo_frame(rng)
    height = int(min(hw) * rng.uniform(*style.digit))
    width = max(2.0, height * rng.uniform(0.04, 0.09))
    ink = crop_ink(pen_ink(digit, height, width))
    grain = cv2.GaussianBlur(rng.uniform(0.55, 1.0, ink.shape).astype(np.float32), (0, 0), 1.0)
    ink = ink * grain
    top, left = place_at(hw, ink.shape, rng)
    layer = np.zeros(hw, np.float32)
    paste(layer, ink, top, left)
    paper_colour = choose(rng, style.papers)
    paper = paper_colour[None, None, :] * paper_texture(hw, rng)[..., None]
    darker = rng.uniform(0.15, 0.25) / float(np.percentile(ink[ink > 0.05], 90))
    pencil = paper_colour.mean() * (1 - darker) * np.ones(3, np.float32)
    return camera(compose(paper, [(np.clip(layer, 0, 1), pencil)]), rng, style)


def render_coffee(digit, rng, style):
    def stains(layers, hw, b, pen):
        x0, y0, x1, y1 = b
        size = max(x1 - x0, y1 - y0)
        brown = np.array([0.25, 0.42, 0.60], np.float32) * rng.uniform(0.85, 1.1)
        ring = np.zeros(hw, np.float32)
        for _ in range(int(rng.integers(1, 4))):
            cx = rng.uniform(x0 - 0.3 * size, x1 + 0.3 * size)
            cy = rng.uniform(y0 - 0.3 * size, y1 + 0.3 * size)
            r = size * rng.uniform(0.35, 0.9)
            canvas = np.zeros(hw, np.float32)
            t = max(2, int(size * rng.uniform(0.015, 0.05)))
            cv2.ellipse(canvas, (int(cx), int(cy)), (int(r), int(r * rng.uniform(0.85, 1.0))),
                        rng.uniform(0, 180), 0, 360, 1.0, t, cv2.LINE_AA)
            fill = np.zeros(hw, np.float32)
            cv2.ellipse(fill, (int(cx), int(cy)), (int(r), int(r * 0.95)), 0, 0, 360, 0.25, -1)
            ring = np.maximum(ring, cv2.GaussianBlur(canvas + fill, (0, 0), t * 0.6))
        layers.insert(0, (np.clip(ring, 0, 1) * rng.uniform(*style.stain), brown))

    return plain_photo(digit, rng, style, extra=stains)


def render_marker(digit, rng, style):
    hw = photo_frame(rng)
    height = int(min(hw) * rng.uniform(0.3, 0.6))
    return plain_photo(digit, rng, style, hw=hw,
                       ink=crop_ink(thick_ink(digit, height, rng.uniform(0.06, 0.13))))


def render_small(digit, rng, style):
    hw = (int(rng.integers(1000, 1600)), int(rng.integers(1000, 1600)))
    height = int(min(hw) * rng.uniform(0.04, 0.09))
    ink = crop_ink(smooth_ink(digit, height))
    # Off-centre: in an outer band of the frame.
    img = plain_photo(digit, rng, style, hw=hw, ink=np.zeros((1, 1), np.float32), keep_float=True)
    layer = np.zeros(hw, np.float32)
    h, w = hw
    top = int(rng.choice([rng.uniform(0.05, 0.3), rng.uniform(0.6, 0.9)]) * h)
    left = int(rng.choice([rng.uniform(0.05, 0.3), rng.uniform(0.6, 0.9)]) * w)
    paste(layer, ink, top, left)
    img = compose(img, [(layer, choose(rng, style.pens))])
    return camera(img, rng, style)


def render_desk(digit, rng, style):
    """A sheet of paper on a darker wooden desk, its edges in view, a pencil digit on it."""
    hw = photo_frame(rng)
    h, w = hw
    wood = np.array([0.18, 0.32, 0.50], np.float32) * rng.uniform(0.6, 1.2)
    streaks = cv2.resize(rng.standard_normal((h, 8)).astype(np.float32), (w, h),
                         interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.5:
        streaks = cv2.resize(rng.standard_normal((8, w)).astype(np.float32), (w, h),
                             interpolation=cv2.INTER_CUBIC)
    desk = wood[None, None, :] * (1 + 0.12 * streaks)[..., None] * paper_texture(hw, rng, 2.0)[..., None]
    # The sheet: a rotated rectangle covering 40-75 % of the frame, at least one edge inside.
    cx, cy = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.35, 0.65)
    sw, sh = w * rng.uniform(0.55, 0.95), h * rng.uniform(0.55, 0.95)
    corners = cv2.boxPoints(((cx, cy), (sw, sh), rng.uniform(-25, 25)))
    sheet = np.zeros(hw, np.float32)
    cv2.fillPoly(sheet, [np.round(corners * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
    paper = choose(rng, style.papers)[None, None, :] * paper_texture(hw, rng)[..., None]
    img = desk * (1 - sheet[..., None]) + paper * sheet[..., None]
    # A pencil digit well inside the sheet.
    inner = cv2.erode(sheet, np.ones((15, 15), np.uint8))
    height = int(min(sw, sh) * rng.uniform(0.25, 0.5))
    width = max(2.0, height * rng.uniform(0.04, 0.08))
    ink = crop_ink(pen_ink(digit, height, width))
    grain = cv2.GaussianBlur(rng.uniform(0.5, 1.0, ink.shape).astype(np.float32), (0, 0), 1.0)
    ink = ink * grain
    ih, iw = ink.shape
    top, left = int(cy - ih / 2 + rng.uniform(-0.15, 0.15) * sh), int(cx - iw / 2 + rng.uniform(-0.15, 0.15) * sw)
    layer = np.zeros(hw, np.float32)
    paste(layer, ink, top, left)
    layer *= inner > 0.5
    graphite = np.full(3, rng.uniform(0.3, 0.5), np.float32)
    return camera(compose(img, [(layer, graphite)]), rng, style)


def render_screenshot(digit, rng, style):
    """A drawing app: title bar, a tool column of buttons, a colour palette, a bordered canvas."""
    h, w = int(rng.integers(420, 800)), int(rng.integers(520, 1000))
    dark = rng.random() < (0.15 if style is STYLES["a"] else 0.35)
    ui = 0.22 if dark else 0.92
    img = np.full((h, w, 3), ui, np.float32)
    bar = int(rng.integers(24, 40))
    img[:bar] = 0.35 if not dark else 0.12
    for k in range(3):  # window buttons
        cv2.circle(img, (w - 20 - 24 * k, bar // 2), bar // 4,
                   ((0.3, 0.3, 0.9), (0.3, 0.8, 0.9), (0.3, 0.8, 0.3))[k], -1, cv2.LINE_AA)
    tools = int(rng.integers(50, 90))
    for k in range(int(rng.integers(5, 10))):  # tool buttons with icons
        y = bar + 10 + k * (tools - 8)
        if y + tools - 16 > h - 10:
            break
        cv2.rectangle(img, (8, y), (tools - 8, y + tools - 16), (0.6, 0.6, 0.6), 1, cv2.LINE_AA)
        c = (tools // 2, y + (tools - 16) // 2)
        icon = (0.1, 0.1, 0.1) if not dark else (0.9, 0.9, 0.9)
        kind = k % 4
        if kind == 0:
            cv2.circle(img, c, tools // 6, icon, 2, cv2.LINE_AA)
        elif kind == 1:
            cv2.line(img, (c[0] - 10, c[1] + 10), (c[0] + 10, c[1] - 10), icon, 2, cv2.LINE_AA)
        elif kind == 2:
            cv2.rectangle(img, (c[0] - 9, c[1] - 9), (c[0] + 9, c[1] + 9), icon, 2)
        else:
            tri = np.array([[c[0], c[1] - 10], [c[0] + 10, c[1] + 8], [c[0] - 10, c[1] + 8]], np.int32)
            cv2.polylines(img, [tri], True, icon, 2, cv2.LINE_AA)
    palette = int(rng.integers(24, 40))
    for k in range(int(rng.integers(6, 14))):  # colour palette at the bottom
        colour = tuple(float(v) for v in rng.uniform(0, 1, 3))
        x = tools + 10 + k * (palette + 6)
        if x + palette > w - 10:
            break
        cv2.rectangle(img, (x, h - palette - 8), (x + palette, h - 8), colour, -1)
        cv2.rectangle(img, (x, h - palette - 8), (x + palette, h - 8), (0.3, 0.3, 0.3), 1)
    # The canvas, with a border, and the digit drawn with a round brush.
    cx0, cy0, cx1, cy1 = tools + 4, bar + 6, w - 8, h - palette - 18
    canvas_bg, stroke = (1.0, 0.0) if not dark else (0.0, 1.0)
    img[cy0:cy1, cx0:cx1] = canvas_bg
    cv2.rectangle(img, (cx0 - 1, cy0 - 1), (cx1, cy1), (0.5, 0.5, 0.5), int(rng.integers(1, 3)))
    ch, cw = cy1 - cy0, cx1 - cx0
    height = int(min(ch, cw) * rng.uniform(0.4, 0.85))
    ink = crop_ink(smooth_ink(digit, height))
    layer = np.zeros((ch, cw), np.float32)
    top, left = place_at((ch, cw), ink.shape, rng)
    paste(layer, ink, top, left)
    region = img[cy0:cy1, cx0:cx1]
    img[cy0:cy1, cx0:cx1] = region * (1 - layer[..., None]) + stroke * layer[..., None]
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)


def render_coarse(digit, rng, style):
    """The digit at 10-20 px, thickened and binarised as a small scan, upscaled 10-30x."""
    size = int(rng.integers(10, 21))
    small = cv2.resize(digit.astype(np.float32) / 255.0, (size, size), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.6:
        small = cv2.dilate(small, np.ones((2, 2), np.uint8)) if size > 14 else small
    small = (small > rng.uniform(0.3, 0.5)).astype(np.float32)
    factor = int(rng.integers(10, 31))
    interp = cv2.INTER_NEAREST if rng.random() < 0.6 else cv2.INTER_LINEAR
    big = cv2.resize(small, (size * factor, size * factor), interpolation=interp)
    margin = int(size * factor * rng.uniform(0.05, 0.4))
    ink = np.pad(big, margin)
    hw = ink.shape
    paper = choose(rng, style.papers)[None, None, :] * paper_texture(hw, rng, 0.5)[..., None]
    img = compose(paper, [(ink, choose(rng, style.pens))])
    return camera(img, rng, style)


def render_tilt(digit, rng, style):
    img = plain_photo(digit, rng, style)
    h, w = img.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    k = rng.uniform(0.12, 0.25)
    dst = src + np.float32(rng.uniform(-k, k, (4, 2)) * [w, h])
    m = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def render_motion(digit, rng, style):
    img = plain_photo(digit, rng, style)
    length = int(min(img.shape[:2]) * rng.uniform(0.02, 0.05)) | 1
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2] = 1.0
    rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), rng.uniform(0, 180), 1.0)
    kernel = cv2.warpAffine(kernel, rot, (length, length))
    return cv2.filter2D(img, -1, kernel / kernel.sum())


def render_jpeg15(digit, rng, style):
    return plain_photo(digit, rng, style)


def render_big4000(digit, rng, style):
    hw = (3000, 4000) if rng.random() < 0.6 else (4000, 3000)
    height = int(min(hw) * rng.uniform(0.15, 0.5))
    return plain_photo(digit, rng, style, hw=hw, ink=crop_ink(smooth_ink(digit, height)))


def render_sheen(digit, rng, style):
    """A specular oval (a lamp's reflection on glossy paper) over part of the digit: added
    light, full on the paper and 50-85 % on the ink (gloss reflects from the ink too), so the
    strokes inside it fade to a light grey and the paper there clips to white."""
    found = {}

    def keep(layers, hw, box, pen):
        found["box"], found["ink"] = box, layers[0][0]

    img = plain_photo(digit, rng, style, extra=keep, keep_float=True)
    h, w = img.shape[:2]
    x0, y0, x1, y1 = found["box"]
    size = max(x1 - x0, y1 - y0)
    cx = rng.uniform(x0 - 0.1 * size, x1 + 0.1 * size)
    cy = rng.uniform(y0 - 0.1 * size, y1 + 0.1 * size)
    a, b = size * rng.uniform(0.35, 0.9), size * rng.uniform(0.25, 0.6)
    t = rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u = ((xx - cx) * np.cos(t) + (yy - cy) * np.sin(t)) / a
    v = (-(xx - cx) * np.sin(t) + (yy - cy) * np.cos(t)) / b
    spot = rng.uniform(0.5, 1.0) * np.exp(-0.5 * (u * u + v * v) ** 1.5)
    gloss = 1.0 - rng.uniform(0.15, 0.5) * found["ink"]
    return camera(np.minimum(img + (spot * gloss)[..., None], 1.0), rng, style)


RENDERERS = {name: globals()[f"render_{name}"] for name in CONDITIONS}


def render(digit: np.ndarray, condition: str, rng: np.random.Generator,
           style: str = "a") -> tuple[np.ndarray, str, int]:
    """One hard rendering of a 28 x 28 uint8 MNIST ``digit``.

    Returns:
        ``(image, extension, jpeg_quality)``: uint8 BGR (H, W, 3) image, ``"jpg"`` or ``"png"``
        (screenshots), and the JPEG quality to save it with (0 for PNG).
    Raises:
        ValueError: for an unknown condition or style.
    """
    if condition not in RENDERERS:
        raise ValueError(f"unknown condition {condition!r}: use one of {', '.join(CONDITIONS)}")
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}: use one of {', '.join(STYLES)}")
    st = STYLES[style]
    image = RENDERERS[condition](digit, rng, st)
    if condition == "screenshot":
        return image, "png", 0
    quality = 15 if condition == "jpeg15" else int(rng.integers(*st.jpeg))
    return image, "jpg", quality


def encode(image: np.ndarray, ext: str, quality: int) -> np.ndarray:
    """The encoded file bytes (uint8 1-D) of ``image``."""
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, data = cv2.imencode("." + ext, image, params)
    if not ok:
        raise RuntimeError("could not encode image")
    return data


def decoded(image: np.ndarray, ext: str, quality: int) -> np.ndarray:
    """``image`` as a reader would get it from the file (JPEG artefacts included)."""
    return cv2.imdecode(encode(image, ext, quality), cv2.IMREAD_UNCHANGED)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("CNN_MNIST_DATA", DEFAULT_DATA),
                        help="MNIST .npz with x_test, y_test")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"output folder ({DEFAULT_OUT})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the numpy Generator (0)")
    parser.add_argument("--style", choices=sorted(STYLES), default="a",
                        help="rendering parameter ranges (a); b gives an independent set")
    parser.add_argument("--per-condition", type=int, default=25, help="images per condition (25)")
    parser.add_argument("--conditions", default=",".join(DEFAULT_CONDITIONS),
                        help="comma-separated condition tags (all but sheen)")
    parser.add_argument("--split", choices=["test", "train"], default="test",
                        help="render MNIST test digits (test sets, the default) or training "
                        "digits (to train on; never score a model on those)")
    args = parser.parse_args(argv)
    conditions = [c for c in args.conditions.split(",") if c]
    for c in conditions:
        if c not in RENDERERS:
            parser.error(f"unknown condition {c!r}: use some of {', '.join(CONDITIONS)}")

    with np.load(args.data) as data:
        x_test, y_test = data[f"x_{args.split}"], data[f"y_{args.split}"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.glob("[0-9]_*.*")):
        print(f"{out} already holds generated images; give an empty or new --out", file=sys.stderr)
        return 2
    rng = np.random.default_rng([args.seed, ord(args.style)])
    rows = []
    for condition in conditions:
        picks = rng.choice(len(x_test), size=args.per_condition, replace=False)
        for n, index in enumerate(picks):
            label = int(y_test[index])
            image, ext, quality = render(x_test[index], condition, rng, args.style)
            name = f"{label}_{condition}_{n:03d}.{ext}"
            encode(image, ext, quality).tofile(str(out / name))
            rows.append((name, condition, int(index), label, "x".join(map(str, image.shape))))
        print(f"{condition:11s} {args.per_condition} images")
    with open(out / "index.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "condition", f"mnist_{args.split}_index", "label", "shape"])
        writer.writerows(rows)
    print(f"{len(rows)} images in {out} (seed {args.seed}, style {args.style})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
