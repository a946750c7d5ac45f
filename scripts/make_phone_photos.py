"""Generate phone photos of single MNIST test digits by simulating the camera, not the paper.

Each image shows one MNIST *test* digit (drawn at random from all 10,000, seeded) written as a
pen stroke on some surface and photographed with a simulated phone camera. The generator is
independent of ``scripts/make_hard_photos.py`` (no shared code or ideas beyond "MNIST test
digit in a photo"), so that a pipeline tuned on one set can be checked on the other.

How an image is made:

1. **Stroke.** The 28 x 28 digit is cropped to its ink, upscaled 4x with bicubic interpolation,
   thresholded and thinned to a one-pixel skeleton (Zhang & Suen 1984). The distance to the
   skeleton, smoothed and upscaled to the page's resolution, is thresholded softly at half the
   chosen pen width: a stroke of even width with soft edges, like a ballpoint, felt pen, marker
   or chalk, whatever the MNIST writer's own stroke width was. Pen pressure varies along it.
2. **Scene.** The stroke is laid onto a surface (the condition) in page coordinates measured in
   millimetres: multiplied into paper as ink (blue, black, red, pencil grey, green), laid over
   a board as chalk, or shown on an emissive screen. The surface lies on a desk that shows
   wherever the page does not fill the view.
3. **Light.** Irradiance in page coordinates: ambient plus a point light with Lambertian falloff
   (cos(theta) / r^2), optionally the soft elliptical shadow of a round object, and a
   Blinn-Phong specular term (Blinn 1977) for glossy surfaces, its highlight put where the
   light's mirror image meets the camera (a glare spot, tube-light streaks on a whiteboard).
4. **Pose.** The page plane is rotated in 3D (pitch, yaw, roll) and seen by a pinhole camera
   with focal length f: the plane-induced homography ``H = K [r1 r2 t]`` (Hartley & Zisserman,
   *Multiple View Geometry*, ch. 13) maps the page into the frame (``cv2.warpPerspective``).
5. **Optics.** Defocus with a disc (pillbox) kernel, not a Gaussian; vignetting by the cos^4 law
   of the same focal length.
6. **Sensor.** Auto exposure, a Bayer RGGB mosaic, Poisson-Gaussian noise in linear light
   (variance ``a*y + b``, Foi et al. 2008), bilinear demosaicing (the colour noise and zipper of
   a real demosaic), digital gain (high in low light), a white-balance error (warm or cool),
   sRGB gamma, unsharp-mask sharpening (halos), JPEG at quality 40-95. This follows the camera
   pipeline of Brooks et al. 2019, "Unprocessing images for learned raw denoising", run forward.

Frame sizes go from 640 x 480 to 3024 x 4032 (either orientation), most of them small: 640 x 480,
800 x 600, 1024 x 768, 1280 x 960, 1600 x 1200, 2048 x 1536, and now and then 3024 x 4032.

=================  ============================================================================
tag                condition
=================  ============================================================================
whiteboard         a marker digit on a whiteboard: tube-light reflections, ghosts of erased ink
sticky_note        a square sticky note (yellow, pink, green, blue, orange) on a desk, curling
envelope           brown kraft envelope paper with fibres, mottling and the flap's fold lines
receipt            a thermal-paper receipt strip with printed rows, a faint grey digit
graph_paper        paper with a light-blue 5 mm grid
chalkboard         white or yellow chalk on a dark green or black board, grainy broken strokes
tablet_screen      a photo of a tablet screen: subpixel grid, moire, backlight bleed at the edges
cardboard          corrugated cardboard (stripes of the flutes), a marker digit
lined_index_card   a white index card: blue lines every 6.35 mm, a red line near the top
low_light          a dim room: little light, high gain, strong noise, warm white balance
glare              glossy paper with a bright specular spot next to the digit
far                the page far away, the digit small, a desk with clutter all around
close              the digit fills about 80 % of the frame height, its stroke ends cropped a bit
=================  ============================================================================

Files are named ``<digit>_<condition>_<nnn>.jpg`` (``cnn predict`` reads the label from the
leading digit) and listed in ``index.csv`` (file, label, mnist_test_index, condition). Each
image has its own random stream seeded by (seed, condition, number), so choosing fewer
conditions does not change the images of the others. The same seed and data give the same
files. Never train on these images: they are made from the test set.

Usage::

    python scripts/make_phone_photos.py --out /tmp/phone_photos [--seed 0] [--per-condition 25]
        [--conditions whiteboard,receipt] [--data mnist.npz] [--overwrite]

The data path is ``--data``, else ``$CNN_MNIST_DATA``, else ``/work/shared/data/mnist.npz``.
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
from PIL import Image

CONDITIONS = {
    "whiteboard": "a marker digit on a whiteboard: tube-light reflections, erased-ink ghosts",
    "sticky_note": "a square sticky note on a desk, curling",
    "envelope": "brown kraft envelope paper with fibres and fold lines",
    "receipt": "a thermal-paper receipt with printed rows, a faint grey digit",
    "graph_paper": "paper with a light-blue 5 mm grid",
    "chalkboard": "chalk on a dark green or black board, grainy strokes",
    "tablet_screen": "a photo of a tablet screen: subpixel grid, moire, backlight bleed",
    "cardboard": "corrugated cardboard, a marker digit",
    "lined_index_card": "an index card with blue lines and a red top line",
    "low_light": "a dim room: high gain, strong noise, warm white balance",
    "glare": "glossy paper with a bright specular spot next to the digit",
    "far": "the page far away, a small digit, desk clutter around",
    "close": "the digit fills about 80 % of the frame, stroke ends cropped",
}

DEFAULT_DATA = "/work/shared/data/mnist.npz"
# (width, height) of a landscape frame and its probability; half the frames are turned portrait,
# except 3024 x 4032, a phone's portrait photo.
SIZES = (((640, 480), 0.30), ((800, 600), 0.20), ((1024, 768), 0.18), ((1280, 960), 0.12),
         ((1600, 1200), 0.08), ((2048, 1536), 0.07), ((3024, 4032), 0.05))
MIN_SIDE, MAX_SIDE = 480, 4032
MAX_PLANE_PIXELS = 9_000_000
# Ink transmittance in linear RGB: the fraction of each primary a full stroke lets through.
INKS = {"blue": (0.07, 0.11, 0.42), "black": (0.05, 0.05, 0.06), "red": (0.55, 0.05, 0.05),
        "pencil": (0.36, 0.36, 0.38), "green": (0.05, 0.28, 0.10)}
# Pen widths as a fraction of the digit's height.
PENS = {"ballpoint": (0.035, 0.06), "felt": (0.06, 0.09), "marker": (0.09, 0.14)}


# ---------------------------------------------------------------------------------------------
# Stroke: MNIST digit -> pen stroke of a chosen width
# ---------------------------------------------------------------------------------------------

def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning.

    Args:
        mask: bool array (H, W), the shape to thin.
    Returns:
        bool array (H, W): a skeleton one pixel wide, 8-connected, inside ``mask``.
    """
    img = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = np.pad(img, 1)
            n = [p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:], p[2:, 2:],   # p2 p3 p4 p5
                 p[2:, 1:-1], p[2:, :-2], p[1:-1, :-2], p[:-2, :-2]]  # p6 p7 p8 p9
            b = sum(n)
            a = sum((n[i] == 0) & (n[(i + 1) % 8] == 1) for i in range(8))
            p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
            if step == 0:
                cond = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                cond = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = (img == 1) & (b >= 2) & (b <= 6) & (a == 1) & cond
            if remove.any():
                img[remove] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    """0 below edge0, 1 above edge1 (or the reverse if edge0 > edge1), a smooth cubic between."""
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def pen_stroke(digit: np.ndarray, height: float, width: float) -> np.ndarray:
    """Render an MNIST digit as a pen stroke of even width.

    Args:
        digit: uint8 array (28, 28), white ink on black, values 0-255.
        height: height of the digit's ink in output pixels (> 4).
        width: pen width in output pixels (> 0.5).
    Returns:
        float32 array (h, w) in [0, 1], ink coverage; the digit's ink box is centred in it and
        spans ``height`` rows; a margin of about height / 7 surrounds it. Parts of the digit
        wider than 5.75 MNIST pixels (loops filled in) stay filled whatever the pen.
    """
    img = digit.astype(np.float32) / 255.0
    ys, xs = np.nonzero(img > 0.25)
    crop = np.pad(img[ys.min():ys.max() + 1, xs.min():xs.max() + 1], 3)
    up = cv2.resize(crop, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    mask = up > 0.45
    skeleton = thin(mask)
    if not skeleton.any():
        skeleton = mask
    # blobs (loops the writer filled in) stay filled: the parts a disc 5.75 MNIST pixels wide fits
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (23, 23))
    blob = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, disc).astype(np.float32)
    blob = cv2.GaussianBlur(blob, (0, 0), 1.5)
    dist = cv2.distanceTransform((~skeleton).astype(np.uint8), cv2.DIST_L2, 5)
    dist = cv2.GaussianBlur(dist, (0, 0), 1.0)
    scale = height / (4.0 * (ys.max() - ys.min() + 1))
    size = (max(1, round(up.shape[1] * scale)), max(1, round(up.shape[0] * scale)))
    dist = cv2.resize(dist, size, interpolation=cv2.INTER_CUBIC) * scale
    soft = max(0.6, 0.1 * width)
    pen = smoothstep(width / 2 + soft, width / 2 - soft, dist)
    if blob.max() > 0.5:
        blob = cv2.resize(blob, size, interpolation=cv2.INTER_LINEAR)
        pen = np.maximum(pen, smoothstep(0.35, 0.65, blob))
    return pen


# ---------------------------------------------------------------------------------------------
# Page coordinates: textures and shapes
# ---------------------------------------------------------------------------------------------

@dataclass
class Plane:
    """The page plane as a raster.

    ``h`` x ``w`` pixels; the digit's centre at (``cx``, ``cy``), its height ``digit_h``
    pixels; ``mm`` pixels per millimetre; ``digit`` the MNIST image (28, 28) uint8.
    """

    h: int
    w: int
    cx: float
    cy: float
    digit_h: float
    mm: float
    digit: np.ndarray
    rng: np.random.Generator

    def noise(self, cell: float, cell_y: float | None = None) -> np.ndarray:
        """Smooth value noise, float32 (h, w) in about [0, 1], features ``cell`` pixels wide."""
        cy = cell if cell_y is None else cell_y
        gw = int(min(self.w / max(cell, 1.0) + 3, 4096))
        gh = int(min(self.h / max(cy, 1.0) + 3, 4096))
        grid = self.rng.random((gh, gw)).astype(np.float32)
        return cv2.resize(grid, (self.w, self.h), interpolation=cv2.INTER_CUBIC)

    def fbm(self, cell: float, octaves: int = 3) -> np.ndarray:
        """Fractal noise, float32 (h, w) in about [0, 1]: octaves of ``noise`` halving in size."""
        total = np.zeros((self.h, self.w), np.float32)
        weight = 0.0
        for k in range(octaves):
            total += 0.5 ** k * self.noise(cell / 2 ** k)
            weight += 0.5 ** k
        return total / weight

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates relative to the digit's centre: x (1, w) and y (h, 1), float32."""
        x = np.arange(self.w, dtype=np.float32)[None, :] - self.cx
        y = np.arange(self.h, dtype=np.float32)[:, None] - self.cy
        return x, y

    def ink(self, pen: tuple[float, float] | str, pressure: float = 0.15) -> np.ndarray:
        """The digit's stroke on the plane: float32 (h, w) coverage in [0, 1].

        ``pen`` is a name from ``PENS`` or a (low, high) pen width as a fraction of the digit
        height; ``pressure`` is how much the coverage dips along the stroke.
        """
        low, high = PENS[pen] if isinstance(pen, str) else pen
        width = max(0.8, self.rng.uniform(low, high) * self.digit_h)
        patch = pen_stroke(self.digit, self.digit_h, width)
        out = np.zeros((self.h, self.w), np.float32)
        ph, pw = patch.shape
        x0, y0 = round(self.cx - pw / 2), round(self.cy - ph / 2)
        ox0, oy0 = max(x0, 0), max(y0, 0)
        ox1, oy1 = min(x0 + pw, self.w), min(y0 + ph, self.h)
        if ox1 > ox0 and oy1 > oy0:
            out[oy0:oy1, ox0:ox1] = patch[oy0 - y0:oy1 - y0, ox0 - x0:ox1 - x0]
        if pressure > 0:
            out *= 1.0 - pressure * self.noise(self.digit_h / 6)
        return out

    def rect(self, center: tuple[float, float], size: tuple[float, float], angle: float,
             ) -> np.ndarray:
        """An anti-aliased filled rectangle (centre, (w, h) pixels, degrees): float32 (h, w)."""
        box = cv2.boxPoints(((float(center[0]), float(center[1])),
                             (float(size[0]), float(size[1])), float(angle)))
        mask = np.zeros((self.h, self.w), np.uint8)
        cv2.fillPoly(mask, [np.round(box * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
        return mask.astype(np.float32) / 255.0


def soft_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a float32 (h, w) map; wide blurs run on a smaller copy (same result
    to the eye, much faster on 12-megapixel planes)."""
    factor = max(1, int(sigma / 4))
    if factor == 1:
        return cv2.GaussianBlur(img, (0, 0), max(sigma, 0.3))
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, w // factor), max(1, h // factor)),
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def multiply_ink(albedo: np.ndarray, alpha: np.ndarray, ink: tuple[float, float, float],
                 ) -> np.ndarray:
    """Ink over paper: each primary is multiplied by the ink's transmittance where it covers."""
    trans = np.asarray(ink, np.float32)
    return albedo * (1.0 - alpha[..., None] * (1.0 - trans))


def over(base: np.ndarray, alpha: np.ndarray, colour) -> np.ndarray:
    """An opaque layer of ``colour`` (RGB or (h, w, 3)) with coverage ``alpha`` over ``base``."""
    return base * (1.0 - alpha[..., None]) + np.asarray(colour, np.float32) * alpha[..., None]


def desk(p: Plane) -> np.ndarray:
    """A desk or table top: wood, laminate, fabric or dark plastic. float32 (h, w, 3) albedo."""
    kind = p.rng.choice(["wood", "laminate", "fabric", "dark"])
    mm = p.mm
    if kind == "wood":
        base = np.array([0.32, 0.17, 0.07], np.float32) * p.rng.uniform(0.5, 1.3)
        along = p.noise(60 * mm, 3 * mm) if p.rng.random() < 0.5 else p.noise(3 * mm, 60 * mm)
        rings = 0.5 + 0.5 * np.sin(2 * np.pi * (along * 6 + p.noise(40 * mm) * 2))
        shade = 0.75 + 0.3 * rings + 0.1 * (p.noise(1.5 * mm) - 0.5)
    elif kind == "laminate":
        base = np.array(p.rng.choice([[0.55, 0.55, 0.53], [0.6, 0.52, 0.4], [0.35, 0.36, 0.38]]),
                        np.float32)
        shade = 0.95 + 0.08 * p.fbm(8 * mm) + 0.04 * (p.noise(0.8 * mm) - 0.5)
    elif kind == "fabric":
        base = np.array(p.rng.choice([[0.08, 0.1, 0.2], [0.25, 0.08, 0.07], [0.15, 0.15, 0.14]]),
                        np.float32)
        x, y = p.grid()
        period = p.rng.uniform(0.6, 1.2) * mm
        weave = np.sin(2 * np.pi * x / period) * np.sin(2 * np.pi * y / period)
        shade = 0.9 + 0.1 * weave + 0.15 * p.fbm(15 * mm)
    else:
        base = np.array([0.04, 0.04, 0.045], np.float32)
        shade = 0.9 + 0.2 * p.fbm(20 * mm)
    return shade[..., None].astype(np.float32) * base


def sheet_on_desk(p: Plane, paper, size_mm: tuple[float, float], max_angle: float = 12.0,
                  lift: float = 0.3, ground: np.ndarray | None = None,
                  ) -> tuple[np.ndarray, np.ndarray, tuple, float]:
    """Lay a sheet on a desk with the digit somewhere on it, casting a soft shadow.

    Args:
        paper: the sheet's albedo, float32 (h, w, 3).
        size_mm: the sheet's (width, height) in millimetres.
        ground: what the sheet lies on, float32 (h, w, 3); a fresh ``desk`` if None.
    Returns:
        albedo float32 (h, w, 3), the sheet's coverage float32 (h, w) in [0, 1], the sheet's
        centre (x, y) in pixels, and its rotation in degrees.
    """
    w, h = size_mm[0] * p.mm, size_mm[1] * p.mm
    angle = p.rng.uniform(-max_angle, max_angle)
    room_x = max(0.0, w / 2 - 0.7 * p.digit_h)
    room_y = max(0.0, h / 2 - 0.7 * p.digit_h)
    dx, dy = p.rng.uniform(-room_x, room_x) * 0.8, p.rng.uniform(-room_y, room_y) * 0.8
    t = np.deg2rad(angle)
    centre = (p.cx + dx * np.cos(t) - dy * np.sin(t), p.cy + dx * np.sin(t) + dy * np.cos(t))
    mask = p.rect(centre, (w, h), angle)
    shift = np.float32([[1, 0, p.rng.uniform(-2, 2) * p.mm], [0, 1, p.rng.uniform(0.5, 3) * p.mm]])
    shadow = cv2.warpAffine(mask, shift, (p.w, p.h))
    shadow = soft_blur(shadow, max(0.5, p.rng.uniform(1, 4) * p.mm))
    ground = (desk(p) if ground is None else ground) * (1.0 - lift * shadow)[..., None]
    return over(ground, mask, paper), mask, centre, angle


def paper(p: Plane, rgb, grain: float = 0.04) -> np.ndarray:
    """Plain paper of colour ``rgb`` (linear) with fibre grain: float32 (h, w, 3)."""
    tex = 1.0 + grain * (p.fbm(2 * p.mm) - 0.5) + 0.5 * grain * (p.noise(0.3 * p.mm) - 0.5)
    return tex[..., None] * np.asarray(rgb, np.float32)


def pick_ink(p: Plane, names=("blue", "black", "red", "pencil", "green"),
             weights=(0.35, 0.35, 0.1, 0.1, 0.1)) -> tuple[float, float, float]:
    """An ink colour from ``INKS``."""
    w = np.asarray(weights, float)
    return INKS[str(p.rng.choice(list(names), p=w / w.sum()))]


def frame_pen(p: Plane) -> tuple[str, float]:
    """A random writing tool (pen name) and how much its pressure varies."""
    pen = str(p.rng.choice(["ballpoint", "felt", "marker"], p=[0.5, 0.35, 0.15]))
    return pen, {"ballpoint": 0.25, "felt": 0.12, "marker": 0.08}[pen]


# ---------------------------------------------------------------------------------------------
# Scenes, one per condition
# ---------------------------------------------------------------------------------------------

@dataclass
class Scene:
    """What the plane looks like before light: albedo (h, w, 3) float32 in [0, 1], optional
    emission (h, w, 3) float32 (a screen), specular strength ``gloss`` (float or (h, w))
    and Blinn-Phong exponent ``shininess``; ``glare`` asks for a highlight near the digit and
    ``tubes`` for tube-light streaks elsewhere."""

    albedo: np.ndarray
    emission: np.ndarray | None = None
    gloss: float | np.ndarray = 0.015
    shininess: float = 6.0
    glare: bool = False
    tubes: int = 0


def scene_whiteboard(p: Plane) -> Scene:
    board = paper(p, np.array([0.82, 0.84, 0.86]) * p.rng.uniform(0.9, 1.05), grain=0.01)
    ghosts = np.zeros((p.h, p.w), np.float32)
    for _ in range(int(p.rng.integers(3, 9))):
        pts = np.stack([p.rng.uniform(0, p.w, 4), p.rng.uniform(0, p.h, 4)], 1)
        cv2.polylines(ghosts, [pts.astype(np.int32)], False, 1.0,
                      max(1, int(p.digit_h * 0.15)), cv2.LINE_AA)
    ghosts = soft_blur(ghosts, max(1.0, p.digit_h * 0.12))
    ghosts = ghosts / max(float(ghosts.max()), 1e-6) * p.fbm(p.digit_h * 0.3)
    board = multiply_ink(board, ghosts * p.rng.uniform(0.05, 0.15), INKS["black"])
    board = multiply_ink(board, (p.fbm(40 * p.mm) > 0.62) * p.rng.uniform(0.02, 0.06)
                         * np.ones_like(ghosts), INKS["blue"])
    ink = INKS[str(p.rng.choice(["black", "blue", "red", "green"], p=[0.4, 0.3, 0.15, 0.15]))]
    alpha = p.ink("marker", pressure=0.1) * p.rng.uniform(0.85, 1.0)
    return Scene(multiply_ink(board, alpha, ink), gloss=p.rng.uniform(0.2, 0.6),
                 shininess=p.rng.uniform(60, 250), tubes=int(p.rng.integers(1, 3)))


def scene_sticky_note(p: Plane) -> Scene:
    colour = np.array(p.rng.choice([[0.85, 0.74, 0.16], [0.9, 0.45, 0.55], [0.55, 0.82, 0.35],
                                    [0.45, 0.68, 0.88], [0.92, 0.55, 0.2]],
                                   p=[0.5, 0.15, 0.12, 0.12, 0.11]), np.float32)
    side = p.rng.uniform(76, 80) * p.mm
    note = paper(p, colour, grain=0.03)
    albedo, mask, centre, angle = sheet_on_desk(p, note, (side / p.mm, side / p.mm), 20, 0.45)
    # the free end curls up: the note darkens towards its lower edge
    t = np.deg2rad(angle)
    x, y = p.grid()
    v = (-(x + p.cx - centre[0]) * np.sin(t) + (y + p.cy - centre[1]) * np.cos(t)) / side + 0.5
    curl = 1.0 - p.rng.uniform(0.05, 0.2) * np.clip(v - 0.5, 0, 1) ** 2 * 4
    albedo = albedo * (1 - mask[..., None] + mask[..., None] * curl[..., None])
    pen, pressure = frame_pen(p)
    ink = pick_ink(p, ("blue", "black", "red", "green"), (0.4, 0.4, 0.1, 0.1))
    return Scene(multiply_ink(albedo, p.ink(pen, pressure), ink), gloss=0.03, shininess=10)


def scene_envelope(p: Plane) -> Scene:
    kraft = np.array([0.42, 0.26, 0.12], np.float32) * p.rng.uniform(0.8, 1.2)
    env = paper(p, kraft, grain=0.06) * (0.92 + 0.16 * p.fbm(12 * p.mm))[..., None]
    fibres = np.zeros((p.h, p.w), np.float32)
    count = int(min(60000, p.h * p.w / (p.mm * p.mm) * p.rng.uniform(0.3, 0.8)))
    x0, y0 = p.rng.uniform(0, p.w, count), p.rng.uniform(0, p.h, count)
    length = p.rng.uniform(0.5, 3.0, count) * p.mm
    theta = p.rng.uniform(0, np.pi, count)
    value = p.rng.choice([-1.0, 1.0], count) * p.rng.uniform(0.3, 1.0, count)
    for a, b, ln, th, v in zip(x0, y0, length, theta, value):
        end = (int(a + ln * np.cos(th)), int(b + ln * np.sin(th)))
        cv2.line(fibres, (int(a), int(b)), end, float(v), 1, cv2.LINE_AA)
    env = env * (1.0 + 0.12 * fibres)[..., None]
    size = (220.0, 110.0) if p.rng.random() < 0.6 else (229.0, 162.0)
    albedo, mask, centre, angle = sheet_on_desk(p, env, size, 10)
    # the back flap's fold lines: a V from the upper corners to the middle
    folds = np.zeros((p.h, p.w), np.float32)
    t = np.deg2rad(angle)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    w, h = size[0] * p.mm / 2, size[1] * p.mm / 2
    apex = p.rng.uniform(0.0, 0.4)
    pts = np.array([[-w, -h], [0, apex * h], [w, -h]]) @ rot.T + centre
    cv2.polylines(folds, [pts.astype(np.int32)], False, 1.0, max(1, int(0.4 * p.mm)), cv2.LINE_AA)
    folds = soft_blur(folds, max(0.5, 0.3 * p.mm)) * mask
    albedo = albedo * (1.0 - 0.25 * folds)[..., None]
    pen, pressure = frame_pen(p)
    ink = pick_ink(p, ("blue", "black", "red"), (0.4, 0.5, 0.1))
    return Scene(multiply_ink(albedo, p.ink(pen, pressure), ink), gloss=0.01, shininess=4)


def scene_receipt(p: Plane) -> Scene:
    width_mm = p.rng.choice([58.0, 80.0])
    strip = paper(p, np.array([0.8, 0.81, 0.8]) * p.rng.uniform(0.9, 1.05), grain=0.02)
    # printed rows of 5 x 7 dot-matrix characters, kept clear of the digit
    rows = np.zeros((p.h, p.w), np.float32)
    pitch, char = p.rng.uniform(3.2, 4.2) * p.mm, p.rng.uniform(1.6, 2.2) * p.mm
    cw, ch = max(1, int(char * 5 / 7)), max(1, int(char))
    left = p.cx - width_mm / 2 * p.mm + 4 * p.mm
    y = p.cy - pitch * int(p.cy / pitch + 1)
    while y < p.h + pitch:
        if abs(y - p.cy) > 0.6 * p.digit_h + pitch and 0 <= y < p.h - ch:
            x, stop = left + int(p.rng.integers(0, 8)) * cw * 1.3, left + (width_mm - 8) * p.mm
            while x < min(stop, p.w - cw):
                if x >= 0 and p.rng.random() > 0.18:
                    glyph = (p.rng.random((7, 5)) < 0.45).astype(np.float32)
                    rows[int(y):int(y) + ch, int(x):int(x) + cw] = cv2.resize(
                        glyph, (cw, ch), interpolation=cv2.INTER_AREA)
                x += cw * 1.3
        y += pitch
    rows = rows * (0.75 + 0.25 * p.noise(0.4 * p.mm))
    strip = multiply_ink(strip, rows * p.rng.uniform(0.4, 0.7), (0.2, 0.2, 0.22))
    albedo, mask, centre, _ = sheet_on_desk(p, strip, (width_mm, 250.0), 12)
    x, _ = p.grid()
    curl = 1.0 - 0.12 * np.clip(np.abs(x + p.cx - centre[0]) / (width_mm / 2 * p.mm), 0, 1) ** 2
    albedo = albedo * (1 - mask[..., None] * (1 - curl[..., None]))
    grey = p.rng.uniform(0.42, 0.62)
    return Scene(multiply_ink(albedo, p.ink("felt", 0.2), (grey, grey, grey * 1.03)),
                 gloss=0.04, shininess=12)


def scene_graph_paper(p: Plane) -> Scene:
    sheet = paper(p, np.array([0.83, 0.84, 0.81]) * p.rng.uniform(0.9, 1.05), grain=0.02)
    period, width = 5.0 * p.mm, max(0.9, p.rng.uniform(0.12, 0.25) * p.mm)
    x, y = p.grid()
    ox, oy = p.rng.uniform(0, period, 2)

    def lines(c, offset):
        d = period / 2 - np.abs((c + offset) % period - period / 2)   # to the nearest line
        return smoothstep(width / 2 + 0.6, width / 2 - 0.6, d)

    grid = np.maximum(lines(x, ox), lines(y, oy)) * p.rng.uniform(0.5, 0.9)
    sheet = multiply_ink(sheet, grid, (0.5, 0.72, 0.95))
    albedo, _, _, _ = sheet_on_desk(p, sheet, (210.0, 297.0), 8)
    pen, pressure = frame_pen(p)
    return Scene(multiply_ink(albedo, p.ink(pen, pressure), pick_ink(p)), gloss=0.015)


def scene_chalkboard(p: Plane) -> Scene:
    colour = np.array([0.035, 0.085, 0.05] if p.rng.random() < 0.6 else [0.03, 0.032, 0.034],
                      np.float32) * p.rng.uniform(0.7, 1.4)
    board = paper(p, colour, grain=0.15)
    swipes = p.noise(60 * p.mm, 8 * p.mm) * p.fbm(20 * p.mm)
    board = over(board, swipes * p.rng.uniform(0.02, 0.08), (0.6, 0.62, 0.6))
    chalk = np.array([0.78, 0.78, 0.74] if p.rng.random() < 0.8 else [0.8, 0.72, 0.3], np.float32)
    alpha = p.ink((0.08, 0.13), pressure=0.2)
    grain = p.noise(max(1.0, 0.3 * p.mm)) * 0.7 + 0.3 * p.noise(max(1.0, 1.5 * p.mm))
    level = p.rng.uniform(0.42, 0.52)
    alpha = alpha * smoothstep(level - 0.06, level + 0.06, grain) * p.rng.uniform(0.75, 0.95)
    return Scene(over(board, alpha, chalk), gloss=0.01, shininess=5)


def scene_tablet_screen(p: Plane) -> Scene:
    pitch = p.rng.uniform(0.9, 2.4)                    # plane pixels per screen pixel
    p.mm = pitch / p.rng.uniform(0.08, 0.2)             # a screen pixel is 0.08-0.2 mm
    size = (p.rng.uniform(190, 250) * p.mm, p.rng.uniform(135, 175) * p.mm)
    if p.rng.random() < 0.4:
        size = size[::-1]
    centre = (p.cx + p.rng.uniform(-0.2, 0.2) * size[0], p.cy + p.rng.uniform(-0.2, 0.2) * size[1])
    bezel = 10 * p.mm
    body = p.rect(centre, (size[0] + 2 * bezel, size[1] + 2 * bezel), 0)
    screen = p.rect(centre, size, 0)
    ground = desk(p)
    albedo = over(ground, body, (0.03, 0.03, 0.035))
    albedo = over(albedo, screen, (0.02, 0.02, 0.02))
    # content: a white canvas with the digit, sampled per screen pixel
    canvas = np.array([0.92, 0.92, 0.9], np.float32)
    stroke = p.ink((0.05, 0.1), pressure=0.0)
    ink = INKS[str(p.rng.choice(["black", "blue", "red"], p=[0.6, 0.3, 0.1]))]
    xs = np.clip(((np.arange(p.w) - centre[0]) // pitch * pitch + centre[0] + pitch / 2)
                 .astype(int), 0, p.w - 1)
    ys = np.clip(((np.arange(p.h) - centre[1]) // pitch * pitch + centre[1] + pitch / 2)
                 .astype(int), 0, p.h - 1)
    stroke = stroke[ys[:, None], xs[None, :]]
    content = canvas * (1.0 - stroke[..., None] * (1.0 - np.asarray(ink, np.float32)))
    # subpixels: R, G, B stripes with dark gaps, and a dark row gap
    u = ((np.arange(p.w) - centre[0]) / pitch) % 1.0
    v = ((np.arange(p.h) - centre[1]) / pitch) % 1.0
    sub = np.stack([(u < 0.3), (u >= 0.33) & (u < 0.63), (u >= 0.66) & (u < 0.96)], -1)
    sub = sub.astype(np.float32)[None, :, :] * (v < 0.85).astype(np.float32)[:, None, None]
    leak = p.rng.uniform(0.2, 0.5)
    sub = leak + (1 - leak) * sub / sub.mean(axis=(0, 1))
    # backlight: brighter where LEDs bleed in at the edges
    x, y = p.grid()
    x, y = x + p.cx - centre[0], y + p.cy - centre[1]
    edge = np.minimum(size[0] / 2 - np.abs(x), size[1] / 2 - np.abs(y))
    bleed = np.exp(-np.clip(edge, 0, None) / (p.rng.uniform(4, 12) * p.mm))
    bleed = bleed * (0.4 + p.noise(25 * p.mm)) * p.rng.uniform(0.15, 0.45)
    level = p.rng.uniform(0.7, 1.3)
    emission = content * sub * (level * (1.0 + bleed))[..., None] * screen[..., None]
    smudge = 0.3 + 0.7 * p.fbm(6 * p.mm)
    return Scene(albedo, emission=emission.astype(np.float32),
                 gloss=screen * smudge * p.rng.uniform(0.2, 0.8), shininess=p.rng.uniform(80, 300),
                 glare=p.rng.random() < 0.3)


def scene_cardboard(p: Plane) -> Scene:
    brown = np.array([0.38, 0.24, 0.11], np.float32) * p.rng.uniform(0.8, 1.2)
    board = paper(p, brown, grain=0.08)
    period = p.rng.uniform(3.5, 8.0) * p.mm
    x, y = p.grid()
    along = x if p.rng.random() < 0.5 else y
    phase = 2 * np.pi * (along + p.rng.uniform(0, period)) / period
    ridges = p.rng.uniform(0.05, 0.12) * np.sin(phase) - 0.06 * (np.cos(phase) > 0.97)
    board = board * (1.0 + ridges)[..., None]
    albedo, _, _, _ = sheet_on_desk(p, board, (400.0, 300.0), 10, 0.5)
    ink = INKS[str(p.rng.choice(["black", "blue", "red"], p=[0.7, 0.2, 0.1]))]
    return Scene(multiply_ink(albedo, p.ink("marker", 0.12), ink), gloss=0.01, shininess=4)


def scene_lined_index_card(p: Plane) -> Scene:
    card = paper(p, np.array([0.85, 0.85, 0.83]) * p.rng.uniform(0.92, 1.04), grain=0.025)
    # the digit's baseline sits on a blue line; the red line is near the top of the card
    spacing, width = 6.35 * p.mm, max(0.9, 0.2 * p.mm)
    _, y = p.grid()
    base = p.digit_h / 2
    top = base - (int(p.rng.integers(3, 8)) * spacing)       # the red line
    d = np.abs(((y - base) + spacing / 2) % spacing - spacing / 2)
    blue = smoothstep(width / 2 + 0.6, width / 2 - 0.6, d) * (y > top + spacing / 2)
    red = smoothstep(width / 2 + 0.6, width / 2 - 0.6, np.abs(y - top))
    card = multiply_ink(card, np.broadcast_to(blue, (p.h, p.w)) * 0.7, (0.5, 0.68, 0.95))
    card = multiply_ink(card, np.broadcast_to(red, (p.h, p.w)) * 0.8, (0.95, 0.45, 0.5))
    card_h, card_w = 76.0 * p.mm, 127.0 * p.mm
    cy = p.cy + top - 19 * p.mm + card_h / 2                 # the red line 19 mm below the top
    cx = p.cx + p.rng.uniform(-0.3, 0.3) * card_w
    mask = p.rect((cx, cy), (card_w, card_h), 0)
    shift = np.float32([[1, 0, p.mm], [0, 1, 2 * p.mm]])
    shadow = soft_blur(cv2.warpAffine(mask, shift, (p.w, p.h)), 2 * p.mm)
    albedo = over(desk(p) * (1 - 0.35 * shadow)[..., None], mask, card)
    pen, pressure = frame_pen(p)
    return Scene(multiply_ink(albedo, p.ink(pen, pressure), pick_ink(p)), gloss=0.02)


def scene_plain(p: Plane, glossy: bool = False, ground: np.ndarray | None = None) -> Scene:
    """A sheet of printer or notebook paper on a desk (low_light, glare, far, close)."""
    tint = p.rng.choice([[0.84, 0.84, 0.82], [0.86, 0.83, 0.74], [0.8, 0.82, 0.84]])
    size = (210.0, 297.0) if p.rng.random() < 0.6 else (148.0, 210.0)
    albedo, _, _, _ = sheet_on_desk(p, paper(p, tint, 0.03), size, 15, ground=ground)
    pen, pressure = frame_pen(p)
    albedo = multiply_ink(albedo, p.ink(pen, pressure), pick_ink(p))
    if glossy:
        return Scene(albedo, gloss=p.rng.uniform(1.5, 4.0), shininess=p.rng.uniform(80, 400),
                     glare=True)
    return Scene(albedo)


def scene_far(p: Plane) -> Scene:
    # clutter on the desk, under the sheet: a phone, a book, a mug seen from above, a pen
    ground = desk(p)
    for _ in range(int(p.rng.integers(2, 7))):
        kind = p.rng.choice(["phone", "book", "mug", "pen"])
        at = (p.rng.uniform(0, p.w), p.rng.uniform(0, p.h))
        if kind == "mug":                                   # rim, then the coffee inside
            r = p.rng.uniform(35, 45) * p.mm
            for radius, colour in ((r, p.rng.uniform(0.05, 0.7, 3)), (0.85 * r, (0.05, 0.025, 0.01))):
                disc = np.zeros((p.h, p.w), np.float32)
                cv2.circle(disc, (int(at[0]), int(at[1])), int(radius), 1.0, -1, cv2.LINE_AA)
                ground = over(ground, disc, colour)
            continue
        size = {"phone": (72, 150), "book": (150, 220), "pen": (8, 140)}[str(kind)]
        mask = p.rect(at, (size[0] * p.mm, size[1] * p.mm), p.rng.uniform(0, 180))
        colour = (0.03, 0.03, 0.035) if kind == "phone" else p.rng.uniform(0.05, 0.6, 3)
        ground = over(ground, mask, colour)
    return scene_plain(p, ground=ground)


SCENES = {
    "whiteboard": scene_whiteboard, "sticky_note": scene_sticky_note,
    "envelope": scene_envelope, "receipt": scene_receipt, "graph_paper": scene_graph_paper,
    "chalkboard": scene_chalkboard, "tablet_screen": scene_tablet_screen,
    "cardboard": scene_cardboard, "lined_index_card": scene_lined_index_card,
    "low_light": scene_plain, "glare": lambda p: scene_plain(p, glossy=True),
    "far": scene_far, "close": scene_plain,
}
# Digit height in millimetres as written on each surface.
DIGIT_MM = {"whiteboard": (60, 150), "sticky_note": (18, 45), "chalkboard": (80, 200),
            "cardboard": (40, 120), "lined_index_card": (7, 12), "far": (25, 60),
            "receipt": (10, 22)}


# ---------------------------------------------------------------------------------------------
# Camera: pose, light, optics, sensor, processing
# ---------------------------------------------------------------------------------------------

def rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Rotation matrix (3, 3) float64: roll about z after pitch about x and yaw about y (rad)."""
    cx, sx, cy, sy, cz, sz = (np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw),
                              np.cos(roll), np.sin(roll))
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ rx @ ry


@dataclass
class Pose:
    """Camera looking at the page plane: ``homography`` maps plane raster pixels (x, y, 1) to
    frame pixels; ``camera`` is the camera centre in plane raster coordinates, z its height
    above the page; the plane raster is ``size`` (w, h) with the digit at ``digit``, its
    height ``digit_h`` plane pixels; ``focal`` is the focal length in frame pixels."""

    homography: np.ndarray
    camera: np.ndarray
    size: tuple[int, int]
    digit: tuple[float, float]
    digit_h: float
    focal: float


def plan_pose(rng: np.random.Generator, frame: tuple[int, int], at: tuple[float, float],
              digit_h: float, max_tilt: float) -> Pose:
    """Pose a camera so that the digit's centre lands on frame pixel ``at`` with height
    ``digit_h`` frame pixels (at the digit), the page tilted up to ``max_tilt`` degrees."""
    width, height = frame
    f = rng.uniform(0.8, 1.3) * max(width, height)
    k = np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1.0]])
    tilt = np.deg2rad(np.clip(rng.normal(0, max_tilt / 2, 2), -max_tilt, max_tilt))
    r = rotation(tilt[0], tilt[1], np.deg2rad(rng.uniform(-8, 8)))
    scale = 1.0                                              # plane pixels per frame pixel
    for _ in range(3):
        d = f * scale
        t = np.array([(at[0] - width / 2) * d / f, (at[1] - height / 2) * d / f, d])
        h = k @ np.column_stack([r[:, 0], r[:, 1], t])
        # the local magnification at the digit corrects the scale
        jac = h[:2, :2] * h[2, 2] - np.outer(h[:2, 2], h[2, :2])
        magnification = np.sqrt(abs(np.linalg.det(jac))) / h[2, 2] ** 2
        corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], float)
        back = np.linalg.solve(h, corners.T)
        back = back[:2] / back[2]
        x0, y0 = back.min(1) - 8
        x1, y1 = back.max(1) + 8
        area = (x1 - x0) * (y1 - y0)
        if area <= MAX_PLANE_PIXELS * 1.02:
            break
        scale *= np.sqrt(MAX_PLANE_PIXELS / area)
    shift = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1.0]])
    camera = -r.T @ t
    camera = np.array([camera[0] - x0, camera[1] - y0, abs(camera[2])])
    return Pose(h @ shift, camera, (int(np.ceil(x1 - x0)), int(np.ceil(y1 - y0))),
                (-x0, -y0), digit_h / magnification, f)


def irradiance(rng: np.random.Generator, pose: Pose, scene: Scene, look: dict,
               ) -> tuple[np.ndarray, np.ndarray]:
    """Light on the plane: diffuse irradiance and specular radiance, float32 (h, w) each.

    Ambient plus a point light with Lambertian falloff (normalized to 1 at the digit), maybe
    the soft shadow of a round object, and Blinn-Phong highlights from the key light and, for
    ``scene.glare`` / ``scene.tubes``, lights placed so that their mirror image shows.
    """
    w, h = pose.size
    step = max(1, int(min(w, h) / 240))
    xs = np.arange(0, w + step, step, dtype=np.float32)[None, :]
    ys = np.arange(0, h + step, step, dtype=np.float32)[:, None]
    dx, dy = pose.digit
    reach = max(w, h)
    cam = pose.camera

    def lambert(light):
        r2 = (xs - light[0]) ** 2 + (ys - light[1]) ** 2 + light[2] ** 2
        at_digit = light[2] / ((dx - light[0]) ** 2 + (dy - light[1]) ** 2 + light[2] ** 2) ** 1.5
        return np.minimum(light[2] / r2 ** 1.5 / at_digit, 3.0)

    def blinn(light, shininess):
        lv = np.stack(np.broadcast_arrays(light[0] - xs, light[1] - ys, np.full_like(xs, light[2])))
        vv = np.stack(np.broadcast_arrays(cam[0] - xs, cam[1] - ys, np.full_like(xs, cam[2])))
        half = lv / np.linalg.norm(lv, axis=0) + vv / np.linalg.norm(vv, axis=0)
        cos = half[2] / np.linalg.norm(half, axis=0)
        return cos ** shininess

    def mirror_light(point, height):
        # the light whose reflection at plane point ``point`` reaches the camera
        ratio = (cam[2] + height) / cam[2]
        return np.array([cam[0] + (point[0] - cam[0]) * ratio,
                         cam[1] + (point[1] - cam[1]) * ratio, height])

    angle = rng.uniform(0, 2 * np.pi)
    key = np.array([dx + np.cos(angle) * rng.uniform(0, 1.2) * reach,
                    dy + np.sin(angle) * rng.uniform(0, 1.2) * reach, rng.uniform(0.6, 2.5) * reach])
    direct = lambert(key)
    if rng.random() < look.get("shadow", 0.4):
        mask = np.zeros(direct.shape, np.float32)
        radius = rng.uniform(0.6, 2.0) * pose.digit_h / step
        dist = rng.uniform(0.6, 1.6) * radius
        centre = (dx / step + np.cos(angle + np.pi) * dist, dy / step + np.sin(angle + np.pi) * dist)
        cv2.ellipse(mask, (centre, (2 * radius * rng.uniform(1, 1.6), 2 * radius),
                           np.rad2deg(angle)), 1.0, -1, cv2.LINE_AA)
        mask = cv2.GaussianBlur(mask, (0, 0), radius * rng.uniform(0.1, 0.4))
        direct = direct * (1.0 - rng.uniform(0.35, 0.6) * mask)
    ambient = rng.uniform(*look.get("ambient", (0.3, 0.6)))
    diffuse = ambient + (1 - ambient) * direct
    spec = np.zeros_like(diffuse)
    gloss = scene.gloss
    spec += blinn(key, scene.shininess) * direct * (0.25 if scene.glare else 1.0)
    if scene.glare:
        theta = rng.uniform(0, 2 * np.pi)
        off = rng.uniform(0.8, 1.2) * pose.digit_h
        point = (dx + off * np.cos(theta), dy + off * np.sin(theta))
        spec += 1.5 * blinn(mirror_light(point, rng.uniform(0.5, 2.0) * reach), scene.shininess)
    for _ in range(scene.tubes):
        theta = rng.uniform(0, 2 * np.pi)
        off = rng.uniform(1.0, 2.5) * pose.digit_h
        start = np.array([dx + off * np.cos(theta), dy + off * np.sin(theta)])
        along = rng.uniform(-1, 1, 2)
        along = along / np.linalg.norm(along) * rng.uniform(0.8, 2.0) * pose.digit_h
        height = rng.uniform(0.5, 1.5) * reach
        for s in np.linspace(0, 1, 7):
            spec += 0.5 * blinn(mirror_light(start + s * along, height), scene.shininess)
    size = (w, h)
    diffuse = cv2.resize(diffuse[: -(-h // step) + 1, : -(-w // step) + 1], size,
                         interpolation=cv2.INTER_LINEAR)
    spec = cv2.resize(spec[: -(-h // step) + 1, : -(-w // step) + 1], size,
                      interpolation=cv2.INTER_LINEAR)
    return diffuse.astype(np.float32), (spec * gloss).astype(np.float32)


def disc_kernel(radius: float) -> np.ndarray:
    """A pillbox defocus kernel: float32 (2k+1, 2k+1), k = ceil(radius), summing to 1."""
    k = int(np.ceil(radius))
    yy, xx = np.mgrid[-k:k + 1, -k:k + 1]
    kernel = np.clip(radius + 0.5 - np.hypot(xx, yy), 0, 1).astype(np.float32)
    return kernel / kernel.sum()


_LINEAR = np.linspace(0, 1, 4096)
_SRGB_LUT = np.where(_LINEAR <= 0.0031308, 12.92 * _LINEAR,
                     1.055 * np.power(_LINEAR, 1 / 2.4) - 0.055).astype(np.float32)


def srgb(x: np.ndarray) -> np.ndarray:
    """Linear [0, 1] -> sRGB-encoded [0, 1], float32 (the sRGB transfer function, 12-bit table)."""
    return _SRGB_LUT[(np.clip(x, 0, 1) * 4095 + 0.5).astype(np.int32)]


def camera(rng: np.random.Generator, radiance: np.ndarray, look: dict, focal: float,
           stroke_px: float, white: float) -> tuple[np.ndarray, int]:
    """The phone camera from optics to JPEG settings.

    Args:
        radiance: float32 (H, W, 3), linear scene radiance in the frame.
        focal: focal length in pixels (sets the vignetting).
        stroke_px: the pen width in frame pixels (bounds the defocus so the digit stays legible).
        white: the radiance of white paper where the digit is (what exposure is set for).
    Returns:
        uint8 RGB image (H, W, 3) and the JPEG quality to save it with.
    """
    height, width = radiance.shape[:2]
    radius = rng.uniform(0, 1) ** 1.5 * min(0.7 * stroke_px, 0.004 * max(width, height) + 1)
    if radius >= 0.7:
        radiance = cv2.filter2D(radiance, -1, disc_kernel(radius), borderType=cv2.BORDER_REFLECT)
    xx = np.arange(width, dtype=np.float32)[None, :] - width / 2
    yy = np.arange(height, dtype=np.float32)[:, None] - height / 2
    r2 = (xx ** 2 + yy ** 2) / np.float32(focal ** 2)
    vignette = 1.0 - rng.uniform(0.3, 0.9) * (1.0 - 1.0 / (1.0 + r2) ** 2)
    radiance = radiance * vignette[..., None]
    lum = radiance[::4, ::4] @ np.float32([0.2126, 0.7152, 0.0722])
    # exposure: set for white paper under this light, pulled a little towards mean metering,
    # and lowered if more than 3 % of the frame would clip
    gain = 0.8 / max(white, 1e-4)
    gain *= (0.35 / max(lum.mean(), 1e-4) / gain) ** 0.25 * rng.uniform(0.85, 1.1)
    gain = min(gain, 1.0 / max(np.percentile(lum, 97.0), 1e-4))
    gain *= rng.uniform(*look.get("exposure", (1.0, 1.0)))
    light = rng.uniform(*look.get("light", (0.5, 1.0)))  # the fraction of full exposure reached
    raw = np.clip(radiance * gain * light, 0, 1)
    mosaic = np.empty((height, width), np.float32)          # RGGB Bayer
    mosaic[0::2, 0::2] = raw[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = raw[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = raw[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = raw[1::2, 1::2, 2]
    full_well = rng.uniform(3000, 9000)                     # electrons at full scale
    read = rng.uniform(2, 6) / full_well
    std = np.sqrt(mosaic / full_well + read ** 2)
    mosaic = mosaic + std * rng.standard_normal(mosaic.shape, dtype=np.float32)
    mosaic = np.clip(mosaic, 0, 1)
    rgb = cv2.demosaicing(np.round(mosaic * 65535).astype(np.uint16), cv2.COLOR_BayerBG2RGB)
    rgb = rgb.astype(np.float32) / 65535.0 / light
    shift = rng.uniform(*look.get("white_balance", (-0.12, 0.12)))  # > 0 warm, < 0 cool
    rgb = rgb * np.float32([1 + shift, 1, 1 - shift])
    out = srgb(rgb).astype(np.float32)
    sigma = rng.uniform(0.7, 1.8) * max(1.0, max(width, height) / 1600)
    amount = rng.uniform(0.3, 1.2)
    out = out + amount * (out - cv2.GaussianBlur(out, (0, 0), sigma))
    image = np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)
    return image, int(rng.integers(40, 96))


# Per-condition framing and light: digit height as a fraction of the frame's short side, the
# largest page tilt (degrees), and overrides for light and sensor.
LOOKS = {
    "far": {"digit": (0.06, 0.11), "tilt": 22},
    "close": {"digit": (0.78, 0.9), "tilt": 6},
    "low_light": {"light": (0.012, 0.04), "ambient": (0.5, 0.8), "white_balance": (0.08, 0.25),
                  "exposure": (0.4, 0.7)},
    "glare": {"shadow": 0.0},
    "tablet_screen": {"shadow": 0.2},
}


def frame_size(rng: np.random.Generator) -> tuple[int, int]:
    """A (width, height) from ``SIZES``; smaller landscape sizes turned portrait half the time."""
    probs = np.array([p for _, p in SIZES])
    (w, h), _ = SIZES[int(rng.choice(len(SIZES), p=probs / probs.sum()))]
    if w > h and rng.random() < 0.5:
        w, h = h, w
    return w, h


def render(digit: np.ndarray, condition: str, rng: np.random.Generator,
           ) -> tuple[np.ndarray, int]:
    """One phone photo of ``digit`` under ``condition``.

    Args:
        digit: uint8 (28, 28) MNIST image, white ink on black.
        condition: a key of ``CONDITIONS``.
    Returns:
        uint8 RGB image (H, W, 3), 480 <= H, W <= 4032, and the JPEG quality (40-95) to save at.
    """
    look = LOOKS.get(condition, {})
    width, height = frame_size(rng)
    short = min(width, height)
    if condition == "close":
        digit_h = rng.uniform(*look["digit"]) * height
        crop = rng.uniform(0.02, 0.06) * digit_h
        at_y = height / 2 + rng.choice([-1, 1]) * (height / 2 - digit_h / 2 + crop)
        at = (width / 2 + rng.uniform(-0.05, 0.05) * width, at_y)
    else:
        digit_h = rng.uniform(*look.get("digit", (0.2, 0.45))) * short
        room_x = max(0.0, width / 2 - 0.6 * digit_h)
        room_y = max(0.0, height / 2 - 0.6 * digit_h)
        at = (width / 2 + rng.uniform(-0.4, 0.4) * room_x,
              height / 2 + rng.uniform(-0.4, 0.4) * room_y)
    pose = plan_pose(rng, (width, height), at, digit_h, look.get("tilt", 28))
    mm_range = DIGIT_MM.get(condition, (8, 25))
    plane = Plane(pose.size[1], pose.size[0], pose.digit[0], pose.digit[1], pose.digit_h,
                  pose.digit_h / rng.uniform(*mm_range), digit, rng)
    scene = SCENES[condition](plane)
    diffuse, spec = irradiance(rng, pose, scene, look)
    radiance = scene.albedo * diffuse[..., None] + spec[..., None]
    if scene.emission is not None:
        radiance = radiance + scene.emission
    frame = cv2.warpPerspective(radiance.astype(np.float32), pose.homography, (width, height),
                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    white = 0.85 * float(diffuse[min(int(pose.digit[1]), diffuse.shape[0] - 1),
                                 min(int(pose.digit[0]), diffuse.shape[1] - 1)])
    if scene.emission is not None:
        white = max(white, float(np.percentile(scene.emission[..., 1], 75)))
    return camera(rng, np.clip(frame, 0, None), look, pose.focal, 0.06 * digit_h, white)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line and exits with status 2."""

    def error(self, message: str):
        self.exit(2, f"make_phone_photos.py: error: {message}\n")


def load_test_digits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST test images uint8 (N, 28, 28) and labels int (N,) from a keras-layout .npz."""
    with np.load(path) as data:
        x, y = data["x_test"], data["y_test"]
    if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"{path}: x_test has shape {x.shape}, expected (N, 28, 28)")
    return x.astype(np.uint8), y.astype(int)


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.split("\n\n")[0],
                    formatter_class=argparse.RawDescriptionHelpFormatter,
                    epilog="conditions: " + ", ".join(CONDITIONS))
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--per-condition", type=int, default=25,
                        help="images per condition (default 25)")
    parser.add_argument("--conditions", default=",".join(CONDITIONS),
                        help="comma-separated subset of the conditions (default: all)")
    parser.add_argument("--data", type=Path,
                        default=Path(os.environ.get("CNN_MNIST_DATA") or DEFAULT_DATA),
                        help="keras-layout mnist.npz (default $CNN_MNIST_DATA or %(default)s)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a folder that already holds files")
    args = parser.parse_args(argv)
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown or not conditions:
        parser.error(f"unknown condition {', '.join(unknown) or '(none given)'}: "
                     f"use some of {', '.join(CONDITIONS)}")
    if args.per_condition < 1 or args.per_condition > 100000:
        parser.error(f"--per-condition must be 1 to 100000, not {args.per_condition}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, not {args.seed}")
    try:
        x_test, y_test = load_test_digits(args.data)
    except (OSError, KeyError, ValueError) as exc:
        parser.error(f"cannot read MNIST test digits from {args.data}: {exc}")
    out = args.out
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        parser.error(f"--out {out} is not empty; give an empty or new folder, or --overwrite")
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    order = list(CONDITIONS)
    for condition in conditions:
        for n in range(args.per_condition):
            rng = np.random.default_rng([args.seed, order.index(condition), n])
            index = int(rng.integers(len(x_test)))
            label = int(y_test[index])
            image, quality = render(x_test[index], condition, rng)
            name = f"{label}_{condition}_{n:03d}.jpg"
            Image.fromarray(image).save(out / name, quality=quality,
                                        subsampling=int(rng.choice([0, 2], p=[0.2, 0.8])))
            rows.append((name, label, index, condition))
    with open(out / "index.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "label", "mnist_test_index", "condition"])
        writer.writerows(rows)
    print(f"{out}: {len(rows)} images, {len(conditions)} conditions (seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
