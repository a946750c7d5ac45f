"""Generate photos and scans of whole numbers, third generator (issue 29): the new held-out set.

An independent companion of ``scripts/make_numbers.py`` (A) and ``scripts/make_numbers_b.py``
(B), for measuring ``cnn predict``'s number reader on pictures it was never tuned on. It shares
no rendering code with them (nor with ``make_hard_photos.py`` / ``make_phone_photos.py``; the
set's file layout, ``number_set_files.py``, since 2026-12-08 with D): here the digits
keep their MNIST bitmaps but a simulated **writer** bends the whole line with one elastic field,
and the line is put where people really write numbers and then photographed, scanned or
screenshotted by this file's own camera/scanner model. Never train or tune on these pictures:
they are made from the MNIST *test* set, and the whole set is held out (the folder's
``held_out.txt`` lists every condition, which ``benchmarks/read_numbers.py`` reads).

How a picture is made:

1. **Digits.** 2-6 MNIST *test* digits (``x_test`` only), drawn at random from the 95 % of
   them that are legible (``legible``: at least 2 of the 3 nearest other test digits share the
   label; this drops digits that even people misread, so a person can read every number).
   Each is cropped to its ink and upscaled (bicubic) to a working height of 72 px +-8 %, its
   width following its own ink (a "1" stays narrow).
2. **Writer** (one per number). The digits sit on a **curved baseline** (a parabola whose sag and
   slope are the writer's, +-3 % jitter per digit); the box-to-box **gaps** are 0-60 % of a
   typical digit width (a per-writer habit plus jitter per gap; plus twice the elastic field's
   peak, so that the field cannot push neighbours into each other); with probability 0.25 one
   neighbouring pair **touches**: it is pushed together until the ink profiles, row by row, come
   within 1-2 px (the pen's width then closes the gap). One **elastic deformation** field for the
   whole line (Simard, Steinkraus & Platt 2003, "Best practices for convolutional neural networks
   applied to visual document analysis", ICDAR: uniform random displacements smoothed by a
   Gaussian, here scaled to a peak of 3-7 % of the digit height) bends all digits together; the
   **pen** sets the stroke weight (a soft threshold of the smoothed bitmap, dilated for markers,
   brushes and chalk); the ink **pressure** varies along the line (intensity 55-100 %, a smooth
   1-D random field over the columns); the line is **rotated** by -8..8 degrees.
3. **Scene.** The line is scaled so the number spans 15-70 % of the frame's width (and its
   digits are at least 22 px tall) and painted onto the condition's surface (below) in sRGB.
4. **Camera / scanner** (``camera``): a random homography (the frame's corners jittered by up
   to a few % of the frame, plus a roll), a lighting field in linear light (gradient,
   vignetting, a flash hot spot), Gaussian defocus and sometimes a short motion blur (both kept
   below a third of the stroke width), signal-dependent sensor noise (variance ``a*y + b``,
   larger in dim light), a white-balance error, sRGB, JPEG at quality 40-95 (scans 60-95).
   Frames are 480-2400 px wide (``--max-width``), 4:3, 3:4, 3:2, 16:9 or square.

==========  ======================================================================================
tag         condition
==========  ======================================================================================
scan        a flatbed scan of a filled-in form: white paper, uniform light, 200-300 dpi look,
            skew up to 2 degrees, no perspective; a printed field label ("Amount", "Qty", ...)
            left of the number (cap height 25-40 % of the digit height, at least 0.8 digit
            heights away) and a printed line under the field; sometimes grey-scale; JPEG
tag         a price tag / label sticker held in the hand: skin-coloured surround with a thumb
            over one end of the sticker, a punched hole, a marker number; handheld photo
chalk       chalk on a blackboard: LIGHT, grainy, broken strokes on a dark green or black board
            with smears of erased chalk (the reader handles both polarities)
painted     a house / door number painted with a brush on a wooden board (grain, screws) or
            straight onto a plaster wall; daylight, sometimes a soft shadow edge, looking up
flash       a notebook page photographed with the phone's flash: a specular hot spot, strong
            vignetting, the page's edge and the dark table beyond, sometimes faint rules
envelope    an envelope (white or kraft) with the number written in the middle: a printed
            return address (small text, no digits) at the top left and a stamp with a postmark at
            the top right, both at least one digit height away from the number
screen      a drawing-app screenshot: anti-aliased coloured strokes on a coloured canvas (light
            or dark mode), toolbar and palette; no camera, saved as PNG
==========  ======================================================================================

Printed text is never part of the label: the label is the handwritten digit string. Files are
named ``<label>_<tag>_<nnn>.jpg`` (``.png`` for screenshots) and listed in ``index.csv`` with the
columns ``file,condition,label,mnist_test_indices`` (the indices space-separated, in writing
order); ``held_out.txt`` lists every condition, one a line. Each picture has its own random
stream seeded by (seed, condition, number): the same seed gives the same bytes, and choosing
fewer conditions does not change the others. Usage::

    python scripts/make_numbers_c.py --out /tmp/numbers_c [--seed 0] [--per-condition 25]
        [--conditions scan,chalk] [--min-digits 2] [--max-digits 6] [--data mnist.npz]
        [--max-width 2400] [--overwrite]

The data path is ``--data``, else ``$CNN_MNIST_DATA``, else ``/work/shared/data/mnist.npz``.
"""

from __future__ import annotations

import argparse
import os
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter, maximum_filter1d, minimum_filter1d

sys.path.insert(0, str(Path(__file__).resolve().parent))
from number_set_files import prepare_out, write_set  # noqa: E402

CONDITIONS = ("scan", "tag", "chalk", "painted", "flash", "envelope", "screen")
WORK_H = 72          # working digit height, px
MIN_DIGIT_PX = 22    # smallest digit height in a frame, px
DEFAULT_DATA = "/work/shared/data/mnist.npz"
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
         cv2.FONT_HERSHEY_TRIPLEX)


# ----------------------------------------------------------------------------- writer

def _ink_crop(digit: np.ndarray) -> np.ndarray:
    """A 28 x 28 uint8 MNIST digit cropped to its ink (pixels >= 40), as float32 in [0, 1]."""
    ys, xs = np.nonzero(digit >= 40)
    crop = digit[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.float32) / 255.0
    return np.pad(crop, 1)


def _smooth_1d(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """A smooth random curve of length n in [0, 1] (Gaussian-filtered white noise)."""
    curve = gaussian_filter(rng.standard_normal(n + 64), scale, mode="wrap")[32:32 + n]
    curve -= curve.min()
    return curve / max(float(curve.max()), 1e-6)


def _profile_offset(left: np.ndarray, right: np.ndarray, dy: int, overlap: int) -> int | None:
    """The x offset of ``right`` against ``left`` (both ink maps, tops dy apart: right's top at
    left's top + dy) at which their ink profiles, row by row, overlap by ``overlap`` px (a
    negative overlap leaves a gap); None when no row holds ink of both. Each profile is first
    widened over +-20 % of the height, so a digit does not nest inside its neighbour's opening
    (a 0 inside a 3's bays) but only meets it."""
    k = max(1, int(0.2 * left.shape[0]))
    last = np.array([np.nonzero(row > 0.3)[0][-1] if (row > 0.3).any() else -10**6
                     for row in left], np.int64)
    first = np.array([np.nonzero(row > 0.3)[0][0] if (row > 0.3).any() else 10**6
                      for row in right], np.int64)
    last = maximum_filter1d(last, 2 * k + 1)
    first = minimum_filter1d(first, 2 * k + 1)
    best = None
    for r in range(left.shape[0]):
        rr = r - dy
        if 0 <= rr < right.shape[0] and last[r] > -10**5 and first[rr] < 10**5:
            need = int(last[r]) - int(first[rr]) + 1 - overlap
            best = need if best is None else max(best, need)
    return best


def write_line(rng: np.random.Generator, digits: list[np.ndarray], pen: dict) -> np.ndarray:
    """Write MNIST digits as one line of handwriting by a random writer.

    Args:
        rng: the picture's random stream.
        digits: 28 x 28 uint8 MNIST digits (0-255, white ink on black), in writing order.
        pen: {"weight": soft-threshold level in [0.15, 0.6] (lower = bolder), "dilate": extra
            stroke width in working px (0 = none), "pressure": range of the depth of the ink's
            intensity variation along the line (default (0, 0.45))}.
    Returns:
        float32 ink coverage in [0, 1], shape (h, w), cropped to the ink plus a margin; the
        digits are ~WORK_H px tall before the rotation.
    Method: see the module docstring, step 2 (Simard et al. 2003 for the elastic field).
    """
    n = len(digits)
    crops = []
    for d in digits:
        c = _ink_crop(d)
        h = WORK_H * (1 + rng.uniform(-0.08, 0.08))
        w = max(3, round(c.shape[1] * h / c.shape[0]))
        crops.append(np.clip(cv2.resize(c, (w, round(h)), interpolation=cv2.INTER_CUBIC), 0, 1))
    typical_w = 0.6 * WORK_H
    sigma = rng.uniform(0.15, 0.3) * WORK_H          # the elastic field's smoothness and peak
    amp = rng.uniform(0.03, 0.07) * WORK_H
    habit = rng.uniform(0.05, 0.45)
    # 2 * amp + 2 px more, so the field cannot push untouching neighbours into each other
    gaps = [float(np.clip(habit + rng.normal(0, 0.1), 0, 0.6)) * typical_w + 2 * amp + 2
            for _ in range(n - 1)]
    touch = int(rng.integers(n - 1)) if (n > 1 and rng.random() < 0.25) else -1
    # Baseline: slope and sag (px at the line's ends), bottoms of the digits on it.
    approx_len = sum(c.shape[1] for c in crops) + sum(gaps)
    slope = rng.uniform(-0.04, 0.04)
    sag = rng.uniform(-0.15, 0.15) * WORK_H
    pad = WORK_H
    xs, bottoms = [], []
    x = float(pad)
    for i, c in enumerate(crops):
        if i:
            prev = crops[i - 1]
            x_box = xs[-1] + prev.shape[1] + gaps[i - 1]
            if i - 1 == touch:
                tops = (bottoms[-1] - prev.shape[0], 0)
                # tentative bottom for this digit to know the row overlap
                t = (x_box - pad) / max(approx_len, 1) - 0.5
                bottom = pad * 2 + slope * (x_box - pad) + sag * (4 * t * t - 1)
                dy = round(bottom - c.shape[0] - tops[0])
                off = _profile_offset(prev, c, dy, -int(rng.integers(1, 3)))
                x_box = xs[-1] + off if off is not None else xs[-1] + prev.shape[1]
            x = x_box
        t = (x + c.shape[1] / 2 - pad) / max(approx_len, 1) - 0.5
        bottoms.append(pad * 2 + slope * (x - pad) + sag * (4 * t * t - 1)
                       + rng.normal(0, 0.03 * WORK_H))
        xs.append(x)
    width = int(xs[-1] + crops[-1].shape[1] + pad)
    height = int(max(bottoms) + pad)
    top_min = min(b - c.shape[0] for b, c in zip(bottoms, crops, strict=True))
    shift = max(0, int(pad / 2 - top_min))
    canvas = np.zeros((height + shift, width), np.float32)
    for x, b, c in zip(xs, bottoms, crops, strict=True):
        x0, y0 = round(x), round(b - c.shape[0]) + shift
        region = canvas[y0:y0 + c.shape[0], x0:x0 + c.shape[1]]
        np.maximum(region, c[:region.shape[0], :region.shape[1]], out=region)
    # One elastic field for the whole line (Simard et al. 2003).
    fields = []
    for _ in range(2):
        f = gaussian_filter(rng.uniform(-1, 1, canvas.shape).astype(np.float32), sigma)
        fields.append(f / max(float(np.abs(f).max()), 1e-6) * amp)
    gy, gx = np.mgrid[0:canvas.shape[0], 0:canvas.shape[1]].astype(np.float32)
    canvas = cv2.remap(canvas, gx + fields[0], gy + fields[1], cv2.INTER_LINEAR)
    # Pen: stroke weight and width.
    canvas = cv2.GaussianBlur(canvas, (0, 0), 1.2)
    if pen.get("dilate", 0) > 0:
        k = round(pen["dilate"]) * 2 + 1
        canvas = cv2.dilate(canvas, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    t = pen["weight"]
    cov = np.clip((canvas - (t - 0.12)) / 0.24, 0, 1)
    cov = cov * cov * (3 - 2 * cov)
    # Pressure along the line.
    depth = rng.uniform(*pen.get("pressure", (0.0, 0.45)))
    cov *= (1 - depth * _smooth_1d(rng, cov.shape[1], 0.8 * WORK_H))[None, :]
    # Rotation of the whole line.
    angle = rng.uniform(-8, 8)
    h, w = cov.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(w * cos + h * sin), int(w * sin + h * cos)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    cov = cv2.warpAffine(cov, m, (nw, nh), flags=cv2.INTER_LINEAR)
    ys, xs_ = np.nonzero(cov > 0.02)
    margin = 4
    return np.ascontiguousarray(cov[max(ys.min() - margin, 0):ys.max() + margin + 1,
                                    max(xs_.min() - margin, 0):xs_.max() + margin + 1])


def legible(x_test: np.ndarray, y_test: np.ndarray, k: int = 3) -> np.ndarray:
    """Indices of the test digits a reader would agree on: at least 2 of a digit's k = 3 nearest
    neighbours among the *other* test digits (Euclidean distance on the raw pixels, the k-NN rule
    of Cover & Hart 1967) carry its label. Drops the few per cent of MNIST test digits that are
    ambiguous even to people (a 4 written as a 9, a 7 like a 1), so every number stays readable.

    Args:
        x_test: (N, 28, 28) uint8; y_test: (N,) labels.
    Returns:
        int64 array of the kept indices, ascending.
    """
    x = x_test.reshape(len(x_test), -1).astype(np.float32) / 255.0
    sq = (x * x).sum(1)
    keep = []
    for start in range(0, len(x), 1000):
        part = x[start:start + 1000]
        d = sq[start:start + 1000, None] - 2 * part @ x.T + sq[None, :]
        d[np.arange(len(part)), np.arange(start, start + len(part))] = np.inf
        near = np.argpartition(d, k, axis=1)[:, :k]
        agree = (y_test[near] == y_test[start:start + len(part), None]).sum(1)
        keep.append(np.nonzero(agree >= 2)[0] + start)
    return np.concatenate(keep).astype(np.int64)


# ----------------------------------------------------------------------------- helpers

def _noise(rng: np.random.Generator, shape, sigma: float) -> np.ndarray:
    """Gaussian-smoothed white noise scaled to unit standard deviation, float32."""
    small = max(1.0, sigma / 4)
    sh = (max(2, int(shape[0] / small)), max(2, int(shape[1] / small)))
    f = gaussian_filter(rng.standard_normal(sh).astype(np.float32), sigma / small)
    f = cv2.resize(f, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return (f - f.mean()) / max(float(f.std()), 1e-6)


def _rgb(values) -> np.ndarray:
    return np.asarray(values, np.float32) / 255.0


def _lerp(base: np.ndarray, colour, alpha: np.ndarray) -> np.ndarray:
    """base (H, W, 3) towards colour ((3,) or (H, W, 3)) by alpha (H, W) in [0, 1]."""
    a = alpha[..., None]
    return base * (1 - a) + np.asarray(colour, np.float32) * a


def _text_mask(shape, lines, org, cap_px: float, font: int, gap: float = 1.6) -> np.ndarray:
    """Anti-aliased printed text (cv2 Hershey font) as a float32 (H, W) mask in [0, 1].

    ``org`` is the top-left corner of the first line; ``cap_px`` the capital height in px."""
    mask = np.zeros(shape, np.uint8)
    (_, h1), _ = cv2.getTextSize("H", font, 1.0, 1)
    scale = cap_px / h1
    thick = max(1, round(cap_px / 12))
    for i, text in enumerate(lines):
        y = int(org[1] + cap_px + i * cap_px * gap)
        cv2.putText(mask, text, (int(org[0]), y), font, scale, 255, thick, cv2.LINE_AA)
    return mask.astype(np.float32) / 255.0


def _text_size(text: str, cap_px: float, font: int) -> tuple[int, int]:
    (_, h1), _ = cv2.getTextSize("H", font, 1.0, 1)
    (w, _), _ = cv2.getTextSize(text, font, cap_px / h1, max(1, round(cap_px / 12)))
    return w, int(cap_px)


def _paste(scene: np.ndarray, cov: np.ndarray, y0: int, x0: int) -> np.ndarray:
    """The number's coverage as a full-scene (H, W) float32 map, its top-left at (y0, x0)."""
    full = np.zeros(scene.shape[:2], np.float32)
    full[y0:y0 + cov.shape[0], x0:x0 + cov.shape[1]] = cov
    return full


def _rounded_rect(shape, box, radius: float) -> np.ndarray:
    """A filled anti-aliased rounded rectangle (x0, y0, x1, y1) as a float32 (H, W) mask."""
    mask = np.zeros(shape, np.uint8)
    x0, y0, x1, y1 = (int(v) for v in box)
    r = int(max(1, min(radius, (x1 - x0) / 2 - 1, (y1 - y0) / 2 - 1)))
    cv2.rectangle(mask, (x0 + r, y0), (x1 - r, y1), 255, -1)
    cv2.rectangle(mask, (x0, y0 + r), (x1, y1 - r), 255, -1)
    for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
        cv2.circle(mask, (cx, cy), r, 255, -1, cv2.LINE_AA)
    return cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 0.7)


# ----------------------------------------------------------------------------- scenes
# Each scene takes (rng, cov, scene shape, the frame's box in the scene) and returns the scene
# (float32 sRGB in [0, 1], shape (H, W, 3)) and the number's box (x0, y0, x1, y1).

def _place(rng, cov, frame, room=(0, 0, 0, 0)):
    """Top-left (y0, x0) of the number inside the frame box (x0, y0, x1, y1), leaving ``room``
    px (left, top, right, bottom) free around it when the frame allows it."""
    fx0, fy0, fx1, fy1 = frame
    h, w = cov.shape
    m = 0.04 * (fx1 - fx0)
    lo_x, hi_x = fx0 + m + room[0], fx1 - m - room[2] - w
    lo_y, hi_y = fy0 + m + room[1], fy1 - m - room[3] - h
    if hi_x < lo_x:
        lo_x = hi_x = (fx0 + fx1 - w) / 2
    if hi_y < lo_y:
        lo_y = hi_y = (fy0 + fy1 - h) / 2
    cx, cy = (lo_x + hi_x) / 2, (lo_y + hi_y) / 2
    x = cx + (hi_x - lo_x) / 2 * rng.uniform(-0.6, 0.6)
    y = cy + (hi_y - lo_y) / 2 * rng.uniform(-0.6, 0.6)
    return int(y), int(x)


def scene_scan(rng, cov, shape, frame, dh):
    paper = _rgb(rng.choice([[246, 246, 243], [250, 250, 250], [244, 242, 236]]))
    scene = np.ones(shape + (3,), np.float32) * paper
    scene *= (1 + 0.008 * _noise(rng, shape, 1.5))[..., None]
    font = int(rng.choice(FONTS))
    label = str(rng.choice(["Amount", "Qty", "Total", "Ref.", "Room", "Account No.", "Code",
                            "Meter reading", "Quantity", "Invoice No."]))
    if rng.random() < 0.5:
        label += ":"
    cap = rng.uniform(0.25, 0.4) * dh
    tw, _ = _text_size(label, cap, font)
    gap = rng.uniform(0.8, 1.4) * dh
    y0, x0 = _place(rng, cov, frame, (tw + gap, 0.2 * dh, 0, 0.5 * dh))
    h, w = cov.shape
    printed = _rgb(rng.choice([[30, 30, 30], [20, 30, 90], [60, 60, 60]]))
    line_y = int(y0 + h + rng.uniform(0.05, 0.25) * dh)
    lx0, lx1 = int(x0 - rng.uniform(0.2, 0.6) * dh), int(x0 + w + rng.uniform(0.3, 2.5) * dh)
    if x0 - gap - tw >= frame[0] + 0.02 * (frame[2] - frame[0]):
        text = _text_mask(shape, [label], (x0 - gap - tw, line_y - cap * 1.15), cap, font)
    else:   # no room on the left: the caption under the line, as many forms print it
        text = _text_mask(shape, [label], (lx0, line_y + 0.5 * dh), cap, font)
    rule = np.zeros(shape, np.uint8)
    cv2.line(rule, (lx0, line_y), (lx1, line_y), 255, max(1, int(dh / 30)), cv2.LINE_AA)
    # another (empty) field of the same form above or below
    other = np.zeros(shape, np.uint8)
    oy = int(line_y + rng.choice([-1, 1]) * rng.uniform(2.2, 3.0) * dh)
    cv2.line(other, (lx0, oy), (lx1, oy), 255, max(1, int(dh / 30)), cv2.LINE_AA)
    olabel = str(rng.choice(["Date", "Name", "Signature", "Place", "Remarks"]))
    text = np.maximum(text, _text_mask(shape, [olabel], (max(x0 - gap - tw, lx0 - tw),
                                                         oy - cap * 1.15), cap, font))
    marks = np.maximum(text, np.maximum(rule, other).astype(np.float32) / 255.0)
    scene = _lerp(scene, printed, marks * 0.9)
    ink = _rgb(rng.choice([[20, 30, 110], [25, 25, 30], [10, 40, 140]]))
    scene = _lerp(scene, ink, _paste(scene, cov, y0, x0) * rng.uniform(0.8, 0.95))
    return scene, (x0, y0, x0 + w, y0 + h)


SKIN = [[236, 188, 150], [224, 172, 138], [198, 134, 100], [160, 105, 72], [120, 78, 52],
        [250, 214, 180]]


def scene_tag(rng, cov, shape, frame, dh):
    skin = _rgb(SKIN[int(rng.integers(len(SKIN)))])
    scene = np.ones(shape + (3,), np.float32) * skin
    shade = 1 + 0.12 * _noise(rng, shape, 0.25 * min(shape))
    scene *= shade[..., None]
    y0, x0 = _place(rng, cov, frame, (1.0 * dh, 0.5 * dh, 1.0 * dh, 0.5 * dh))
    h, w = cov.shape
    padx, pady = rng.uniform(0.6, 1.0) * dh, rng.uniform(0.3, 0.6) * dh
    hole_side = rng.choice([-1, 1])
    extra = 0.6 * dh
    box = (x0 - padx - (extra if hole_side < 0 else 0), y0 - pady,
           x0 + w + padx + (extra if hole_side > 0 else 0), y0 + h + pady)
    sticker = _rounded_rect(shape, box, rng.uniform(0.05, 0.3) * dh)
    # a soft shadow of the sticker on the hand
    shadow = cv2.GaussianBlur(np.roll(sticker, (int(0.06 * dh), int(0.04 * dh)), (0, 1)),
                              (0, 0), 0.08 * dh)
    scene *= (1 - 0.35 * shadow)[..., None]
    colour = _rgb(rng.choice([[250, 250, 246], [255, 236, 90], [255, 160, 70], [200, 245, 170],
                              [255, 205, 225]]))
    card = np.ones(shape + (3,), np.float32) * colour
    card *= (1 + 0.015 * _noise(rng, shape, 2))[..., None]
    scene = _lerp(scene, card, sticker)
    # printed border
    border = np.zeros(shape, np.uint8)
    inset = 0.12 * dh
    cv2.rectangle(border, (int(box[0] + inset), int(box[1] + inset)),
                  (int(box[2] - inset), int(box[3] - inset)), 255, max(1, int(dh / 40)),
                  cv2.LINE_AA)
    if rng.random() < 0.6:
        scene = _lerp(scene, _rgb([150, 40, 40]), border.astype(np.float32) / 255.0 * 0.7)
    # the punched hole at the far end
    hx = int(box[0] + 0.3 * dh) if hole_side < 0 else int(box[2] - 0.3 * dh)
    hole = np.zeros(shape, np.uint8)
    cv2.circle(hole, (hx, int((box[1] + box[3]) / 2)), max(2, int(0.12 * dh)), 255, -1,
               cv2.LINE_AA)
    scene = _lerp(scene, skin * 0.8, hole.astype(np.float32) / 255.0)
    # a thumb over the other end of the sticker (not over the number), coming from outside
    side = -hole_side                        # -1: from the left, +1: from the right
    width = rng.uniform(0.6, 0.8) * dh
    reach = 0.15 * dh + width       # the finger's round end stops short of the ink
    tip = np.float32([x0 - reach if side < 0 else x0 + w + reach,
                      rng.uniform(box[1] + 0.3 * dh, box[3] - 0.3 * dh)])
    ang = np.deg2rad(rng.uniform(-35, 35))
    far = tip + np.float32([side * np.cos(ang), np.sin(ang)]) * 6 * dh
    finger = np.zeros(shape, np.uint8)
    cv2.line(finger, tuple(int(v) for v in tip), tuple(int(v) for v in far), 255,
             int(2 * width), cv2.LINE_AA)
    finger_f = finger.astype(np.float32) / 255.0
    finger_f[max(0, y0 - 2):y0 + h + 2, max(0, x0 - 2):x0 + w + 2] = 0
    finger_f = cv2.GaussianBlur(finger_f, (0, 0), 0.8)
    inner = cv2.distanceTransform((finger_f > 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    round_ = np.sqrt(np.clip(inner / width, 0, 1))[..., None]
    flesh = skin * (0.78 + 0.3 * round_)
    shadow_f = cv2.GaussianBlur(np.roll(finger_f, (int(0.1 * dh), int(0.05 * dh)), (0, 1)),
                                (0, 0), 0.12 * dh)
    scene *= (1 - 0.3 * shadow_f * (1 - finger_f))[..., None]
    scene = _lerp(scene, flesh, finger_f)
    nail = np.zeros(shape, np.uint8)
    centre = tip + np.float32([side * np.cos(ang), np.sin(ang)]) * 0.45 * width
    cv2.ellipse(nail, tuple(int(v) for v in centre), (int(0.4 * width), int(0.55 * width)),
                float(np.rad2deg(ang)) + 90, 0, 360, 255, -1, cv2.LINE_AA)
    nail_f = cv2.GaussianBlur(nail.astype(np.float32) / 255.0, (0, 0), 0.6) * finger_f
    scene = _lerp(scene, np.minimum(skin * 1.12 + _rgb([12, 0, 4]), 1), nail_f * 0.8)
    ink = _rgb(rng.choice([[20, 20, 25], [30, 40, 150], [170, 20, 30]]))
    scene = _lerp(scene, ink, _paste(scene, cov, y0, x0) * rng.uniform(0.85, 0.97))
    return scene, (x0, y0, x0 + w, y0 + h)


def scene_chalk(rng, cov, shape, frame, dh):
    board = _rgb(rng.choice([[38, 62, 48], [30, 45, 40], [34, 34, 36], [44, 58, 52]]))
    scene = np.ones(shape + (3,), np.float32) * board
    scene *= (1 + 0.06 * _noise(rng, shape, 0.1 * min(shape)))[..., None]
    haze = np.zeros(shape, np.float32)
    for _ in range(int(rng.integers(3, 8))):
        e = np.zeros(shape, np.uint8)
        c = (int(rng.uniform(0, shape[1])), int(rng.uniform(0, shape[0])))
        axes = (int(rng.uniform(0.2, 0.6) * shape[1]), int(rng.uniform(0.03, 0.12) * shape[0]))
        cv2.ellipse(e, c, axes, rng.uniform(-25, 25), 0, 360, 255, -1)
        haze += e.astype(np.float32) / 255.0 * rng.uniform(0.03, 0.09)
    haze = cv2.GaussianBlur(haze, (0, 0), 0.03 * min(shape)) * (1 + 0.5 * _noise(rng, shape, 3))
    scene = _lerp(scene, _rgb([200, 205, 200]), np.clip(haze, 0, 0.25))
    y0, x0 = _place(rng, cov, frame)
    h, w = cov.shape
    chalk = _rgb(rng.choice([[240, 240, 235], [245, 240, 190], [200, 225, 245], [240, 240, 240]]))
    grain = _noise(rng, shape, max(0.6, dh / 120))
    full = _paste(scene, cov, y0, x0)
    broken = np.clip((grain + rng.uniform(1.0, 1.6)) / 1.2, 0, 1)
    scene = _lerp(scene, chalk, full * broken * rng.uniform(0.75, 0.92))
    return scene, (x0, y0, x0 + w, y0 + h)


def scene_painted(rng, cov, shape, frame, dh):
    y0, x0 = _place(rng, cov, frame, (0.6 * dh,) * 4)
    h, w = cov.shape
    if rng.random() < 0.5:   # plaster wall, the number painted on it
        wall = _rgb(rng.choice([[232, 224, 205], [210, 200, 185], [240, 240, 236],
                                [220, 190, 140]]))
        scene = np.ones(shape + (3,), np.float32) * wall
        scene *= (1 + 0.025 * _noise(rng, shape, 1.2) + 0.04 * _noise(rng, shape, dh))[..., None]
        paint = _rgb(rng.choice([[25, 25, 28], [20, 40, 90], [120, 30, 25], [30, 60, 40]]))
    else:                     # a wooden board on a wall
        wall = _rgb(rng.choice([[180, 80, 60], [200, 195, 185], [150, 150, 145]]))
        scene = np.ones(shape + (3,), np.float32) * wall
        scene *= (1 + 0.03 * _noise(rng, shape, 2) + 0.05 * _noise(rng, shape, dh))[..., None]
        wood = _rgb(rng.choice([[120, 75, 40], [150, 100, 60], [90, 55, 30], [170, 125, 80]]))
        sh = shape
        grain = cv2.resize(rng.standard_normal((max(2, sh[0] // 6), 8)).astype(np.float32),
                           (sh[1], sh[0]), interpolation=cv2.INTER_CUBIC)
        yy = np.arange(sh[0], dtype=np.float32)[:, None]
        rings = np.sin(yy / (0.08 * dh) + 3 * _noise(rng, sh, 0.5 * dh))
        board = np.ones(sh + (3,), np.float32) * wood
        board *= (1 + 0.1 * np.clip(grain, -2, 2) + 0.07 * rings)[..., None]
        pad = rng.uniform(0.4, 0.8) * dh
        box = (x0 - pad, y0 - pad, x0 + w + pad, y0 + h + pad)
        plank = _rounded_rect(sh, box, 0.1 * dh)
        shadow = cv2.GaussianBlur(np.roll(plank, (int(0.1 * dh), int(0.08 * dh)), (0, 1)),
                                  (0, 0), 0.1 * dh)
        scene *= (1 - 0.45 * shadow)[..., None]
        scene = _lerp(scene, board, plank)
        screws = np.zeros(sh, np.uint8)
        for sx, sy in ((box[0] + 0.2 * dh, box[1] + 0.2 * dh), (box[2] - 0.2 * dh,
                                                               box[3] - 0.2 * dh)):
            cv2.circle(screws, (int(sx), int(sy)), max(2, int(0.06 * dh)), 255, -1, cv2.LINE_AA)
        scene = _lerp(scene, _rgb([150, 150, 150]), screws.astype(np.float32) / 255.0)
        paint = _rgb(rng.choice([[240, 240, 235], [250, 225, 120], [245, 245, 245]]))
    streaks = cv2.resize(rng.standard_normal((shape[0] // 2 + 1, 4)).astype(np.float32),
                         (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    brush = np.clip(1 + 0.06 * _noise(rng, shape, max(1.0, dh / 30)) + 0.04 * streaks, 0.8, 1)
    full = _paste(scene, cov, y0, x0)
    scene = _lerp(scene, paint, full * brush * rng.uniform(0.88, 0.98))
    if rng.random() < 0.5:   # the soft shadow edge of a roof or a tree
        yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
        a = rng.uniform(0, np.pi)
        d = (xx - shape[1] * rng.uniform(0.2, 0.8)) * np.cos(a) + (yy - shape[0] / 2) * np.sin(a)
        edge = 1 / (1 + np.exp(-d / (0.1 * dh)))
        scene *= (1 - rng.uniform(0.25, 0.45) * edge)[..., None]
    return scene, (x0, y0, x0 + w, y0 + h)


def scene_flash(rng, cov, shape, frame, dh):
    table = _rgb(rng.choice([[60, 45, 35], [40, 40, 45], [90, 70, 50]]))
    scene = np.ones(shape + (3,), np.float32) * table
    scene *= (1 + 0.08 * _noise(rng, shape, 3))[..., None]
    fx0, fy0, fx1, fy1 = frame
    y0, x0 = _place(rng, cov, frame, (0.5 * dh,) * 4)
    h, w = cov.shape
    # the page covers the number and most of the frame; one or two edges in view
    px0 = min(x0 - 0.6 * dh, fx0 + rng.uniform(-0.2, 0.15) * (fx1 - fx0))
    py0 = min(y0 - 0.6 * dh, fy0 + rng.uniform(-0.2, 0.15) * (fy1 - fy0))
    px1 = max(x0 + w + 0.6 * dh, fx1 - rng.uniform(-0.2, 0.15) * (fx1 - fx0))
    py1 = max(y0 + h + 0.6 * dh, fy1 - rng.uniform(-0.2, 0.15) * (fy1 - fy0))
    page = _rounded_rect(shape, (px0, py0, px1, py1), 2)
    paper = _rgb(rng.choice([[245, 245, 240], [250, 248, 235], [240, 243, 248]]))
    sheet = np.ones(shape + (3,), np.float32) * paper
    sheet *= (1 + 0.01 * _noise(rng, shape, 1.5))[..., None]
    if rng.random() < 0.5:
        rules = np.zeros(shape, np.uint8)
        step = rng.uniform(1.3, 1.8) * dh
        base = y0 + h + rng.uniform(-0.1, 0.15) * dh
        for k in range(-30, 30):
            ly = int(base + k * step)
            if 0 <= ly < shape[0]:
                cv2.line(rules, (0, ly), (shape[1], ly), 255, max(1, int(dh / 40)), cv2.LINE_AA)
        sheet = _lerp(sheet, _rgb([150, 180, 225]), rules.astype(np.float32) / 255.0 * 0.6)
    scene = _lerp(scene, sheet, page)
    ink = _rgb(rng.choice([[25, 35, 120], [30, 30, 35], [90, 90, 95], [20, 80, 40]]))
    scene = _lerp(scene, ink, _paste(scene, cov, y0, x0) * rng.uniform(0.7, 0.95))
    return scene, (x0, y0, x0 + w, y0 + h)


def scene_envelope(rng, cov, shape, frame, dh):
    fx0, fy0, fx1, fy1 = frame
    kraft = rng.random() < 0.5
    paper = _rgb([196, 160, 115] if kraft else [244, 242, 236])
    scene = np.ones(shape + (3,), np.float32) * paper
    fib = 0.05 if kraft else 0.012
    scene *= (1 + fib * _noise(rng, shape, 1.2) + fib * _noise(rng, shape, 8))[..., None]
    font = int(rng.choice(FONTS))
    cap = rng.uniform(0.2, 0.32) * dh
    lines = [str(rng.choice(["Mrs A. Brown", "J. Smith", "P. Novak", "Dr K. Lee", "M. Rossi"])),
             str(rng.choice(["Oak Street", "Mill Lane", "Station Road", "Rue du Pont"])),
             str(rng.choice(["Springfield", "LONDON", "Lyon", "Graz", "Porto"]))]
    tw = max(_text_size(t, cap, font)[0] for t in lines)
    block_h = cap * (1 + 1.6 * (len(lines) - 1))
    m = 0.05 * (fx1 - fx0)
    top = block_h + m + 1.0 * dh
    y0, x0 = _place(rng, cov, frame, (0, top, 0, 0))
    h, w = cov.shape
    free = y0 - 1.0 * dh - (fy0 + 0.02 * (fy1 - fy0))
    if free < block_h:   # a small frame: smaller print, still a digit height away
        cap *= max(free, 0) / block_h
        block_h = cap * (1 + 1.6 * (len(lines) - 1))
        tw = max(_text_size(t, cap, font)[0] for t in lines) if cap >= 5 else 0
    ty = y0 - 1.0 * dh - block_h - rng.uniform(0, max(0.0, min(0.3 * dh, free - block_h)))
    tx = fx0 + m + rng.uniform(0, 0.1) * (fx1 - fx0)
    printed = _rgb([40, 40, 40] if not kraft else [30, 25, 20])
    if cap >= 5:
        scene = _lerp(scene, printed, _text_mask(shape, lines, (tx, ty), cap, font) * 0.9)
    # stamp at the top right, its bottom at least one digit height above the number
    sw = rng.uniform(0.9, 1.4) * dh
    sx1 = fx1 - m
    sy1 = min(y0 - 1.0 * dh, ty + 1.3 * sw)
    sy0 = sy1 - 1.2 * sw
    if sx1 - sw > tx + tw + 0.5 * dh and sy0 > 0:
        stamp = _rounded_rect(shape, (sx1 - sw, sy0, sx1, sy1), 1)
        pic = np.ones(shape + (3,), np.float32) * _rgb(rng.choice([[200, 60, 60], [60, 110, 170],
                                                                   [70, 140, 90]]))
        pic *= (0.8 + 0.2 * _noise(rng, shape, 0.2 * sw).clip(-1, 1))[..., None]
        scene = _lerp(scene, _rgb([250, 250, 248]), stamp)
        inner = _rounded_rect(shape, (sx1 - sw + 0.1 * sw, sy0 + 0.1 * sw, sx1 - 0.1 * sw,
                                      sy1 - 0.1 * sw), 1)
        scene = _lerp(scene, pic, inner)
        post = np.zeros(shape, np.uint8)
        cx, cy = int(sx1 - sw * 1.1), int((sy0 + sy1) / 2)
        r = int(0.45 * sw)
        cv2.circle(post, (cx, cy), r, 255, max(1, int(dh / 40)), cv2.LINE_AA)
        for k in range(3):
            yy = cy - r // 2 + k * r // 2
            pts = np.array([[int(cx + r * 0.6 + t), int(yy + 0.08 * sw * np.sin(t / (0.15 * sw)))]
                            for t in np.linspace(0, 1.2 * sw, 40)], np.int32)
            cv2.polylines(post, [pts], False, 255, max(1, int(dh / 40)), cv2.LINE_AA)
        post_f = post.astype(np.float32) / 255.0
        post_f[int(y0 - 0.8 * dh):, :] = 0
        scene = _lerp(scene, _rgb([40, 40, 60]), post_f * 0.7)
    ink = _rgb(rng.choice([[20, 30, 110], [25, 25, 30], [10, 40, 140]]))
    scene = _lerp(scene, ink, _paste(scene, cov, y0, x0) * rng.uniform(0.8, 0.95))
    return scene, (x0, y0, x0 + w, y0 + h)


def scene_screen(rng, cov, shape, frame, dh):
    dark = rng.random() < 0.3
    canvas = _rgb(rng.choice([[30, 30, 34], [18, 24, 40]]) if dark else
                  rng.choice([[255, 255, 255], [250, 246, 230], [230, 240, 250], [235, 250, 235],
                              [255, 235, 240]]))
    scene = np.ones(shape + (3,), np.float32) * canvas
    H, W = shape
    bar = max(24, int(0.06 * H))
    chrome = _rgb([45, 45, 50] if dark else [225, 225, 228])
    scene[:bar] = chrome
    for k in range(int(rng.integers(4, 8))):
        bx = int(bar * 0.3 + k * bar * 1.2)
        scene[int(bar * 0.2):int(bar * 0.8), bx:bx + int(bar * 0.6)] = _rgb(
            [90, 90, 95] if dark else [180, 180, 186])
    side = max(20, int(0.05 * W))
    scene[bar:, :side] = chrome
    palette = [[0, 0, 0], [220, 40, 40], [40, 120, 220], [40, 170, 80], [250, 200, 40],
               [150, 60, 200], [255, 255, 255]]
    disc = np.zeros(shape, np.uint8)
    colours = np.zeros(shape + (3,), np.float32)
    for k, c in enumerate(palette):
        cy = int(bar + side * (0.7 + 1.1 * k))
        if cy + side // 2 < H:
            d = np.zeros(shape, np.uint8)
            cv2.circle(d, (side // 2, cy), int(side * 0.35), 255, -1, cv2.LINE_AA)
            colours[d > 0] = _rgb(c)
            disc = np.maximum(disc, d)
    scene = _lerp(scene, colours, disc.astype(np.float32) / 255.0)
    frame_in = (side + 4, bar + 4, W - 4, H - 4)
    y0, x0 = _place(rng, cov, frame_in)
    h, w = cov.shape
    stroke = _rgb(rng.choice([[240, 240, 240], [120, 220, 255], [255, 200, 80]]) if dark else
                  rng.choice([[0, 0, 0], [30, 80, 200], [200, 30, 40], [20, 120, 60],
                              [120, 40, 160]]))
    scene = _lerp(scene, stroke, _paste(scene, cov, y0, x0))
    return scene, (x0, y0, x0 + w, y0 + h)


SCENES = {"scan": scene_scan, "tag": scene_tag, "chalk": scene_chalk, "painted": scene_painted,
          "flash": scene_flash, "envelope": scene_envelope, "screen": scene_screen}

# pen: (weight range, dilation in working px, pressure depth range)
PENS = {"scan": ((0.35, 0.55), 0, (0.0, 0.45)), "tag": ((0.2, 0.35), 3, (0.0, 0.3)),
        "chalk": ((0.3, 0.45), 1, (0.0, 0.3)), "painted": ((0.28, 0.42), 2, (0.0, 0.15)),
        "flash": ((0.35, 0.55), 0, (0.0, 0.45)), "envelope": ((0.3, 0.5), 0, (0.0, 0.45)),
        "screen": ((0.25, 0.45), 1, (0.0, 0.1))}

# framing: the number's width as a fraction of the frame's (range), its largest height fraction
FRAMING = {"scan": (0.15, 0.5, 0.3), "envelope": (0.15, 0.5, 0.22)}

# camera: perspective jitter (fraction of the frame), roll (deg), light level, vignette,
# gradient, defocus (fraction of the stroke width), motion blur probability, JPEG range
CAMERAS = {
    "scan": {"jitter": 0.0, "roll": 2, "light": (1.0, 1.0), "vignette": (0, 0),
             "gradient": (0, 0.03), "defocus": (0.1, 0.25), "motion": 0.0, "jpeg": (60, 95)},
    "tag": {"jitter": 0.08, "roll": 12, "light": (0.4, 1.0), "vignette": (0.05, 0.25),
            "gradient": (0.05, 0.3), "defocus": (0.0, 0.25), "motion": 0.3, "jpeg": (40, 95)},
    "chalk": {"jitter": 0.07, "roll": 5, "light": (0.3, 0.8), "vignette": (0.05, 0.3),
              "gradient": (0.1, 0.35), "defocus": (0.0, 0.25), "motion": 0.2, "jpeg": (40, 95)},
    "painted": {"jitter": 0.12, "roll": 6, "light": (0.8, 1.2), "vignette": (0.0, 0.15),
                "gradient": (0.05, 0.25), "defocus": (0.0, 0.25), "motion": 0.1,
                "jpeg": (40, 95)},
    "flash": {"jitter": 0.06, "roll": 8, "light": (0.8, 1.0), "vignette": (0.35, 0.6),
              "gradient": (0.0, 0.1), "defocus": (0.0, 0.25), "motion": 0.1, "jpeg": (40, 95),
              "hotspot": True},
    "envelope": {"jitter": 0.06, "roll": 6, "light": (0.5, 1.0), "vignette": (0.05, 0.25),
                 "gradient": (0.05, 0.3), "defocus": (0.0, 0.25), "motion": 0.15,
                 "jpeg": (40, 95)},
}


# ----------------------------------------------------------------------------- camera

def camera(rng, scene, frame, box, params, stroke_px):
    """Photograph (or scan) the scene: homography, light, blur, sensor noise, sRGB.

    Args:
        scene: float32 sRGB (H, W, 3) in [0, 1].
        frame: the frame's box (x0, y0, x1, y1) in scene px; the frame is (y1-y0, x1-x0).
        box: the number's box in scene px; it stays inside the frame.
        params: one of CAMERAS.
        stroke_px: the stroke width in frame px (bounds the blurs).
    Returns:
        uint8 BGR image of the frame's shape, and its JPEG quality.
    """
    fx0, fy0, fx1, fy1 = frame
    W, H = int(fx1 - fx0), int(fy1 - fy0)
    dst = np.float32([[0, 0], [W, 0], [W, H], [0, H]])
    corners = np.float32([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]],
                          [box[0], box[3]]])
    jitter, roll = params["jitter"], params["roll"]
    for _ in range(8):
        a = np.deg2rad(rng.uniform(-roll, roll))
        c, s = np.cos(a), np.sin(a)
        centre = np.float32([(fx0 + fx1) / 2, (fy0 + fy1) / 2])
        src = (dst - [W / 2, H / 2]) @ np.float32([[c, s], [-s, c]]) + centre
        src = src + rng.uniform(-jitter, jitter, (4, 2)).astype(np.float32) * [W, H]
        m = cv2.getPerspectiveTransform(src.astype(np.float32), dst)
        mapped = cv2.perspectiveTransform(corners[None], m)[0]
        inside = ((mapped[:, 0] > 0.02 * W) & (mapped[:, 0] < 0.98 * W)
                  & (mapped[:, 1] > 0.02 * H) & (mapped[:, 1] < 0.98 * H)).all()
        in_scene = ((src >= 0).all() and (src[:, 0] < scene.shape[1]).all()
                    and (src[:, 1] < scene.shape[0]).all())
        if inside and in_scene:
            break
        jitter, roll = jitter / 2, roll / 2
    else:
        m = cv2.getPerspectiveTransform(dst + [fx0, fy0], dst)
    img = cv2.warpPerspective(scene, m, (W, H), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)
    lin = np.clip(img, 0, 1) ** 2.2
    # light: level, gradient, vignetting, flash hot spot
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    ramp = ((xx - W / 2) * np.cos(a) + (yy - H / 2) * np.sin(a)) / max(W, H)
    level = rng.uniform(*params["light"])
    light = level * (1 + rng.uniform(*params["gradient"]) * 2 * ramp)
    r2 = ((xx - W / 2) ** 2 + (yy - H / 2) ** 2) / ((W / 2) ** 2 + (H / 2) ** 2)
    light = light * (1 - rng.uniform(*params["vignette"]) * r2)
    lin = lin * light[..., None]
    if params.get("hotspot"):
        hx, hy = rng.uniform(0.25, 0.75) * W, rng.uniform(0.25, 0.75) * H
        rad = rng.uniform(0.06, 0.18) * max(W, H)
        spot = np.exp(-((xx - hx) ** 2 + (yy - hy) ** 2) / (2 * rad * rad))
        lin = lin + rng.uniform(0.25, 0.5) * spot[..., None]
    # optics
    sigma = rng.uniform(*params["defocus"]) * stroke_px
    if sigma > 0.3:
        lin = cv2.GaussianBlur(lin, (0, 0), sigma)
    if rng.random() < params["motion"]:
        length = max(2, int(rng.uniform(0.15, 0.35) * stroke_px * 2))
        k = np.zeros((length * 2 + 1, length * 2 + 1), np.float32)
        ang = rng.uniform(0, np.pi)
        cv2.line(k, (int(length - length * np.cos(ang)), int(length - length * np.sin(ang))),
                 (int(length + length * np.cos(ang)), int(length + length * np.sin(ang))), 1, 1)
        lin = cv2.filter2D(lin, -1, k / k.sum())
    # sensor: signal-dependent noise (variance a*y + b), more in dim light; white balance
    gain = 1 / max(level, 0.2)
    a_noise = 0.0004 * gain if params["jitter"] else 0.00005
    b_noise = (0.003 * gain) ** 2 if params["jitter"] else 0.002 ** 2
    lin = lin + rng.standard_normal(lin.shape).astype(np.float32) * np.sqrt(
        a_noise * np.clip(lin, 0, None) + b_noise)
    lin = lin / max(level, 0.3) * rng.uniform(0.85, 1.0)     # auto exposure
    wb = 1 + rng.uniform(-0.06, 0.06, 3) if params["jitter"] else np.ones(3)
    lin = lin * wb.astype(np.float32)
    out = np.clip(np.clip(lin, 0, 1) ** (1 / 2.2) * 255 + 0.5, 0, 255).astype(np.uint8)
    return out[..., ::-1].copy(), int(rng.integers(params["jpeg"][0], params["jpeg"][1] + 1))


# ----------------------------------------------------------------------------- one picture

def frame_size(rng, condition: str, max_width: int) -> tuple[int, int]:
    """(width, height) of a frame: width log-uniform in [480, max_width], a common aspect."""
    w = int(np.exp(rng.uniform(np.log(480), np.log(max_width))))
    if condition == "scan":
        aspect = rng.uniform(1.4, 2.5)
    elif condition == "screen":
        aspect = float(rng.choice([16 / 9, 16 / 10, 4 / 3, 9 / 16]))
    else:
        aspect = float(rng.choice([4 / 3, 3 / 4, 3 / 2, 16 / 9, 1.0]))
    w -= w % 2
    return w, max(240, int(w / aspect) // 2 * 2)


def make_picture(rng: np.random.Generator, digits: list[np.ndarray], condition: str,
                 max_width: int = 2400) -> tuple[np.ndarray, str, int]:
    """One picture of the number written with ``digits`` under ``condition``.

    Returns:
        uint8 BGR image (H, W, 3), W in [480, max_width]; the file extension ("jpg" or
        "png"); the JPEG quality (0 for PNG).
    """
    (lo, hi), dil, pressure = PENS[condition]
    cov = write_line(rng, digits, {"weight": rng.uniform(lo, hi), "dilate": dil,
                                   "pressure": pressure})
    W, H = frame_size(rng, condition, max_width)
    f_lo, f_hi, h_max = FRAMING.get(condition, (0.15, 0.7, 0.45))
    s = rng.uniform(f_lo, f_hi) * W / cov.shape[1]
    s = max(s, MIN_DIGIT_PX / WORK_H)
    s = min(s, 0.7 * W / cov.shape[1], h_max * H / cov.shape[0])
    cov = cv2.resize(cov, (max(2, round(cov.shape[1] * s)), max(2, round(cov.shape[0] * s))),
                     interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    cov = np.clip(cov, 0, 1)
    dh = WORK_H * s
    stroke_px = max(1.0, 0.12 * dh)
    if condition == "screen":
        scene, _ = SCENES["screen"](rng, cov, (H, W), (0, 0, W, H), dh)
        img = np.clip(scene * 255 + 0.5, 0, 255).astype(np.uint8)[..., ::-1].copy()
        return img, "png", 0
    margin = int(0.12 * max(W, H))
    shape = (H + 2 * margin, W + 2 * margin)
    frame = (margin, margin, margin + W, margin + H)
    scene, box = SCENES[condition](rng, cov, shape, frame, dh)
    img, quality = camera(rng, scene, frame, box, CAMERAS[condition], stroke_px)
    if condition == "scan" and rng.random() < 0.3:
        img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return img, "jpg", quality


def picture_rng(seed: int, condition: str, number: int) -> np.random.Generator:
    """The random stream of one picture: seeded by (seed, condition, number)."""
    return np.random.default_rng([seed, zlib.crc32(condition.encode()), number])


# ----------------------------------------------------------------------------- command line

class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2
        sys.stderr.write(f"make_numbers_c.py: error: {message}\n")
        raise SystemExit(2)


def _fail(message: str) -> int:
    sys.stderr.write(f"make_numbers_c.py: error: {message}\n")
    return 2


def main(argv=None) -> int:
    parser = _Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="/tmp/numbers_c", help="folder to write (must be empty)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same files")
    parser.add_argument("--per-condition", type=int, default=25, help="pictures per condition")
    parser.add_argument("--conditions", default=",".join(CONDITIONS),
                        help="comma-separated, from: " + ",".join(CONDITIONS))
    parser.add_argument("--min-digits", type=int, default=2)
    parser.add_argument("--max-digits", type=int, default=6)
    parser.add_argument("--data", default=None, help="mnist.npz (else $CNN_MNIST_DATA)")
    parser.add_argument("--max-width", type=int, default=2400, help="widest frame, px")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the pictures of a non-empty --out")
    args = parser.parse_args(argv)

    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    unknown = [c for c in conditions if c not in CONDITIONS]
    if not conditions or unknown:
        return _fail(f"--conditions {args.conditions!r}: unknown {unknown or 'empty'}; "
                     f"choose from {','.join(CONDITIONS)}")
    if args.per_condition < 1:
        return _fail(f"--per-condition {args.per_condition}: must be at least 1")
    if not 1 <= args.min_digits <= args.max_digits <= 12:
        return _fail(f"--min-digits {args.min_digits} / --max-digits {args.max_digits}: need "
                     "1 <= min <= max <= 12")
    if not 480 <= args.max_width <= 4000:
        return _fail(f"--max-width {args.max_width}: must be in [480, 4000]")
    data = args.data or os.environ.get("CNN_MNIST_DATA") or DEFAULT_DATA
    try:
        with np.load(data) as d:
            x_test, y_test = d["x_test"], d["y_test"]
    except (OSError, ValueError, KeyError) as e:
        return _fail(f"--data {data!r}: cannot read MNIST x_test/y_test ({type(e).__name__})")
    out = Path(args.out)
    problem = prepare_out(out, args.overwrite)
    if problem:
        return _fail(problem)
    count, problem = write_set(
        out, conditions, args.per_condition, (args.min_digits, args.max_digits),
        (x_test, y_test), legible(x_test, y_test),
        lambda cond, k: picture_rng(args.seed, cond, k),
        lambda rng, digits, cond: make_picture(rng, digits, cond, args.max_width),
        list(CONDITIONS))
    if problem:
        return _fail(problem)
    print(f"wrote {count} pictures to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
