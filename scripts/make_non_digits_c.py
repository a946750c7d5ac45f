"""Generate pictures that are NOT a digit, third generator (C): a held-out set for the gate.

``cnn predict`` answers "not a digit" when its gate network says so. This script makes the things
a real user might point it at instead of one handwritten digit, photographed, scanned or
screenshotted, so that the gate can be scored on pictures nobody tuned it on. It shares no code
or ideas' implementation with the project's other non-digit generators: every drawing routine,
the pen model and the camera model below are this file's own.

Usage (from the repository root)::

    python scripts/make_non_digits_c.py --out /tmp/nondigit_c [--seed 0] [--per-kind 40]
        [--kinds print_letter,hand_word,...] [--overwrite]

writes ``DIR/ndc_<kind>_<nnn>.jpg|png`` (no file name starts with a digit: ``cnn predict`` reads
a label from a leading digit) and ``DIR/index.csv`` (file, kind, variant, presentation). The same
seed gives the same bytes: every picture has its own random stream, seeded by (seed, kind,
index), so adding kinds or pictures does not change the others.

Kinds (``KINDS``) and how each is drawn:

============  ===================================================================================
kind          what and how
============  ===================================================================================
print_letter  one printed letter or a 2-4 letter word, in an OpenCV Hershey font or a bundled
              matplotlib TTF (DejaVu, STIX) rendered with Pillow, on a sticker label, an enamel
              sign, a cardboard box or a page. Letters shaped like digits (O o D Q I l i j J S s
              Z z B b G g q) never appear; a lone letter comes from a still smaller safe set.
hand_word     2-8 handwritten letters. Lowercase cursive comes from an oscillatory pen model in
              the manner of Hollerbach (1981, "An oscillation theory of handwriting", Biological
              Cybernetics 39:139-156): the vertical position is a cosine whose top and bottom
              levels are set per cycle by the letter (x-height, ascender, descender), the
              horizontal position a constant drift plus a cosine of the same phase whose signed
              amplitude makes loops at the top (A > drift), at the bottom (A < -drift) or cusps;
              the parameters change smoothly between cycles, a shear gives the slant, and i/j get
              dots and t/f crossbars. Capitals are this file's own block-letter strokes with a
              per-writer slant, size and per-point jitter. Ballpoint, felt pen, marker or pencil
              on ruled paper, a sticky note, a whiteboard or a napkin.
glyph_symbol  one big symbol (@ & $ EUR GBP YEN section pilcrow (c) (R) TM hearts clubs star
              arrows root infinity approx not-equal plus-minus divide mu Omega pi Sigma ...) from
              a TTF font that has the glyph, or drawn with the pen model (arrow, star, heart,
              infinity, hash, asterisk, check mark, plus, equals).
icon          a pictogram drawn with cv2 primitives in a unit box: key, bell, envelope, light
              bulb, cup, heart, star, umbrella, magnifier, lock, beamed notes, house, sun, cloud,
              tree, fish; filled, outlined, or filled with an outline; on a sticker, a pictogram
              sign, a page or an app tile.
scribble      a pen being tried: rows of loops, a zigzag, a crossed-out cursive word, a coil,
              a smoothed random walk, a spiral with a tail, hatching; one to three of them.
pattern       printed or woven surfaces: a barcode (no numbers under it), a QR-like module grid
              with finder squares, a gingham tablecloth with folds, wood grain (rings of a
              noise-distorted distance field), a twill weave, a brick wall, graph paper, dotted
              paper.
photo_crop    crops of synthetic scenes: a horizon (sky gradient, clouds, hills or sea), a
              keyboard (rows of lettered keys, no number row), a bookshelf of coloured spines,
              overlapping leaves with midribs, a face (oval, hair, eyes, brows, nose, mouth), a
              window with panes, curtains and sill.
blank         a page with nothing written: plain, ruled, squared or dotted paper, with one or more
              of a fold, a shadow, a stain, a staple, bleed-through (faint mirrored cursive from
              the other side, blurred), and a paper grain.
============  ===================================================================================

Presentations (each picture is one of them, column ``presentation`` of the index):

* ``photo`` (about 60 %): this file's phone-camera model. The subject (an object with an alpha
  mask, or a surface that fills the view) is mapped by a homography built from a scale, a roll of
  up to 20 degrees and per-corner jitter (a tilted phone), over a table (wood, cloth, desk, dark
  stone) with a soft drop shadow; light in linear RGB (sRGB decoded with gamma 2.2): exposure, a
  linear gradient, vignetting, sometimes a hand/phone shadow or a flash hot spot; a white-balance
  cast (per-channel gains); lens defocus (Gaussian) or a short motion blur; signal-dependent
  sensor noise with variance a*y + b (the Poisson-Gaussian model of Foi et al. 2008,
  "Practical Poissonian-Gaussian noise modeling and fitting for single-image raw-data", IEEE
  TIP 17(10)); the phone's sharpening (unsharp mask); JPEG quality 50-92. Frames are 300-900 px
  on the long side, aspect 1:1, 4:3, 3:4, 3:2, 2:3, 16:9 or 9:16.
* ``scan`` (about 20 %): the subject flat on a white scanner bed, skew up to 2 degrees, even
  bright light (levels stretched so the paper is white), a slight blur and little noise,
  sometimes grey-scale; JPEG 70-95 or PNG.
* ``screen`` (about 20 %): a drawing-app canvas or screenshot: the subject drawn clean (flat
  colours, anti-aliased, no paper texture) in light or dark mode, sometimes with a toolbar;
  exact pixels, PNG.
"""

from __future__ import annotations

import argparse
import csv
import functools
import itertools
import math
import os
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np

KINDS = ("print_letter", "hand_word", "glyph_symbol", "icon", "scribble", "pattern",
         "photo_crop", "blank")
PRESENTATIONS = ("photo", "scan", "screen")


def _words(text: str) -> tuple:
    return tuple(text.split())


# Letters whose shape a reader might take for a digit: never drawn as print_letter.
DIGIT_LIKE = set("OoDQIlijJSsZzBbGgq")
SAFE_SINGLE = "ACEFHKMNPRUVWXcefhkmnpruvwx"  # a lone letter: none of T L Y t y a either
UPPER_WORDS = _words("TAKE MENU NAME WAVE FACE CAKE PARK RENT TEXT ART CAR MAP NEW YEAR CAMP "
                     "RACE ACE HELP WET KEY FLY WAX TAX FAX HERE NEAR CAFE TRAM FREE MARK WALK "
                     "PACK HALF LAKE RAMP ANT HAT CAT PET NET TEA EAT PAY WAY AWAY KNEE HEAT")
LOWER_WORDS = _words("the cafe menu tea new rent park take make text nut run yarn hat cat key "
                     "tax fax map ant arm ear rat can pen ten men war car far red wax at up we "
                     "me he are any why hem hunt mart tram rare cute neat dare")
CURSIVE_WORDS = _words("hello cat window paper market river coffee thanks dear note call yes "
                       "milk bread apple lunch see you later walk home dinner green blue hi ok "
                       "love kind happy sunny bus train shop list eggs tea open close maybe "
                       "smile friend garden house wood rain")
CAPITAL_WORDS = _words("HELP TAKE MENU NAME WAVE FACE CAKE PARK RENT TEXT ART CAR MAP NEW YEAR "
                       "CAMP RACE HAPPY MARKET FLY KEY WALK LEAF REAL HALL CALL EARTH PLAN FERRY "
                       "TRAM YELLA ANNA MAX")
SYMBOLS = _words("@ & $ € £ ¥ § ¶ © ® ™ ♥ ♣ ♠ ♦ ★ ☆ → ← ↑ ↓ ↔ √ ∞ ≈ ≠ ± ÷ × µ Ω π Σ Δ λ # * "
                 "✓ ✗ ♫ ☺ ☀ ☂ ⚠ ✉ ☎ ✂ ☁ ✈ ♻ ⚓")
for _w in UPPER_WORDS + LOWER_WORDS:
    assert not (set(_w) & DIGIT_LIKE) and not any(c.isdigit() for c in _w), _w

HERSHEY = {"simplex": cv2.FONT_HERSHEY_SIMPLEX, "duplex": cv2.FONT_HERSHEY_DUPLEX,
           "complex": cv2.FONT_HERSHEY_COMPLEX, "triplex": cv2.FONT_HERSHEY_TRIPLEX,
           "plain": cv2.FONT_HERSHEY_PLAIN, "script": cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
           "script_complex": cv2.FONT_HERSHEY_SCRIPT_COMPLEX}
TTF_NAMES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSerif.ttf",
             "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSansMono.ttf",
             "DejaVuSansMono-Bold.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf",
             "STIXGeneralItalic.ttf")


# ------------------------------------------------------------------------------ small helpers

def picture_rng(seed: int, kind: str, index: int) -> np.random.Generator:
    """The random stream of one picture, seeded by (seed, kind, index)."""
    return np.random.default_rng([seed, zlib.crc32(kind.encode()), index])


def _u(rng, a, b):
    return float(rng.uniform(a, b))


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _fx(pts) -> np.ndarray:
    """Float points (N, 2) -> int32 points in 1/16 px for cv2 drawing with shift=4."""
    return np.round(np.asarray(pts, np.float64) * 16).astype(np.int32).reshape(-1, 1, 2)


def _polyline(mask, pts, width, closed=False, value=255):
    cv2.polylines(mask, [_fx(pts)], closed, value, max(1, round(float(width))), cv2.LINE_AA, 4)


def _fill(mask, pts, value=255):
    cv2.fillPoly(mask, [_fx(pts)], value, cv2.LINE_AA, 4)


def _smooth_noise(rng, h, w, sigma, amp=1.0):
    """A smooth random field of shape (h, w), float32, zero mean, peak |value| ~ amp."""
    small = max(2, round(float(max(h, w) / max(sigma, 1.0))))
    sh, sw = max(2, int(small * h / max(h, w)) + 2), max(2, int(small * w / max(h, w)) + 2)
    f = rng.standard_normal((sh, sw)).astype(np.float32)
    f = cv2.resize(f, (w, h), interpolation=cv2.INTER_CUBIC)
    f -= f.mean()
    return f * (amp / (np.abs(f).max() + 1e-6))


def _lay(img, mask, color, opacity=1.0, multiply=True):
    """Put ink through ``mask`` (uint8 or float in [0, 1]) of colour ``color`` (BGR in [0, 1]).

    ``multiply`` models a dye on paper (the paper's colour times the ink's transmittance);
    otherwise the ink covers what is under it (paint, screens, light letters on a dark sign).
    """
    a = mask.astype(np.float32) / (255.0 if mask.dtype == np.uint8 else 1.0)
    a = (a * opacity)[..., None]
    col = np.asarray(color, np.float32).reshape(1, 1, 3)
    if multiply:
        img *= 1.0 - a * (1.0 - col)
    else:
        img *= 1.0 - a
        img += a * col
    return img


def _place(mask, shape, cx, cy, scale, angle):
    """A (h, w) uint8 mask that is ``mask`` scaled, rotated by ``angle`` degrees, centred."""
    mh, mw = mask.shape
    m = cv2.getRotationMatrix2D((mw / 2.0, mh / 2.0), angle, scale)
    m[0, 2] += cx - mw / 2.0
    m[1, 2] += cy - mh / 2.0
    return cv2.warpAffine(mask, m, (shape[1], shape[0]), flags=cv2.INTER_LINEAR)


def _fit(mask, shape, frac_w, frac_h, rng, angle=0.0, jitter=0.05):
    """Scale ``mask`` to fit ``frac_w`` x ``frac_h`` of ``shape``; place near the centre."""
    h, w = shape
    s = min(frac_w * w / mask.shape[1], frac_h * h / mask.shape[0])
    cx = w / 2 + _u(rng, -jitter, jitter) * w
    cy = h / 2 + _u(rng, -jitter, jitter) * h
    return _place(mask, shape, cx, cy, s, angle)


def _crop_ink(mask, pad=2):
    ys, xs = np.nonzero(mask > 8)
    if len(xs) == 0:
        return mask
    y0, y1 = max(0, ys.min() - pad), min(mask.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(mask.shape[1], xs.max() + pad + 1)
    return mask[y0:y1, x0:x1]


@functools.cache
def _font_dir() -> str:
    import matplotlib
    return os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf")


@functools.lru_cache(maxsize=64)
def _font(name: str, px: int):
    from PIL import ImageFont
    return ImageFont.truetype(os.path.join(_font_dir(), name), px)


def ttf_mask(text: str, name: str, px: int) -> np.ndarray:
    """``text`` rendered by Pillow in the bundled TTF ``name`` at ``px`` points: uint8 (h, w)."""
    from PIL import Image, ImageDraw
    font = _font(name, px)
    left, top, right, bottom = font.getbbox(text)
    im = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(im).text((4 - left, 4 - top), text, fill=255, font=font)
    return _crop_ink(np.asarray(im).copy())


@functools.cache
def has_glyph(name: str, char: str) -> bool:
    """Whether the TTF ``name`` draws ``char`` as something other than its missing-glyph box."""
    return not np.array_equal(ttf_mask(char, name, 40), ttf_mask("\uffff", name, 40))


def hershey_mask(text: str, face: int, px: int, weight: float) -> np.ndarray:
    """``text`` in an OpenCV Hershey font, cap height about ``px``: uint8 (h, w), cropped."""
    scale = px / 22.0
    thick = max(1, round(float(px * weight)))
    (tw, th), base = cv2.getTextSize(text, face, scale, thick)
    pad = thick + 4
    m = np.zeros((th + base + 2 * pad, tw + 2 * pad), np.uint8)
    cv2.putText(m, text, (pad, pad + th), face, scale, 255, thick, cv2.LINE_AA)
    return _crop_ink(m)


# ------------------------------------------------------------------------------- surfaces

PAPERS = {"white": (0.95, 0.96, 0.97), "cream": (0.86, 0.93, 0.96), "grey": (0.86, 0.87, 0.87),
          "yellow": (0.55, 0.93, 0.98), "kraft": (0.45, 0.62, 0.76), "pink": (0.82, 0.78, 0.98),
          "blue": (0.97, 0.88, 0.78)}


def paper(rng, h, w, color, grain=1.0):
    """A sheet of ``color`` (BGR in [0, 1]) with mottling and fibre grain: float32 (h, w, 3)."""
    img = np.empty((h, w, 3), np.float32)
    img[:] = np.asarray(color, np.float32)
    if grain > 0:
        mott = _smooth_noise(rng, h, w, max(h, w) / 6, 0.025 * grain)
        fib = rng.standard_normal((h, w)).astype(np.float32)
        k = int(rng.integers(2, 5)) * 2 + 1
        fib = cv2.GaussianBlur(fib, (k, 1) if rng.random() < 0.5 else (1, k), 0)
        img *= (1 + mott + 0.012 * grain * fib)[..., None]
    return np.clip(img, 0, 1)


def wood(rng, h, w):
    """Wood grain: rings of a distance field distorted by smooth noise, planks: (h, w, 3)."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    planks = int(rng.integers(1, 5))
    pw = w / planks
    out = np.zeros((h, w), np.float32)
    base = np.array(_pick(rng, [(0.25, 0.45, 0.68), (0.18, 0.32, 0.52), (0.45, 0.62, 0.78),
                                (0.12, 0.2, 0.33)]), np.float32)
    dist = _smooth_noise(rng, h, w, max(h, w) / 4, 1.0)
    for p in range(planks):
        cx = _u(rng, -2, 2) * w
        freq = _u(rng, 0.04, 0.12) * 600 / max(h, w)
        d = np.abs(xs - cx) * 0.25 + ys * _u(rng, 0.0, 0.05) + dist * _u(rng, 10, 40)
        ring = 0.5 + 0.5 * np.sin(d * freq * 2 * np.pi / 6)
        sl = (xs >= p * pw) & (xs < (p + 1) * pw)
        out[sl] = (ring ** _u(rng, 2, 5))[sl] + _u(rng, -0.1, 0.1)
        out[:, min(w - 1, int((p + 1) * pw)):min(w, int((p + 1) * pw) + 2)] = -0.6
    fine = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (1, 15), 0)
    shade = 1 - 0.28 * out + 0.08 * fine
    return np.clip(base[None, None, :] * shade[..., None] * _u(rng, 0.9, 1.2), 0, 1)


def weave(rng, h, w, colors=None):
    """A twill or plain weave of two thread colours with shading along each thread."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    t = _u(rng, 7, 16) * max(h, w) / 600
    a = _u(rng, -0.3, 0.3)
    u = (xs * math.cos(a) + ys * math.sin(a)) / t
    v = (-xs * math.sin(a) + ys * math.cos(a)) / t
    iu, iv = np.floor(u).astype(np.int32), np.floor(v).astype(np.int32)
    twill = int(rng.integers(1, 4))
    over = ((iu + iv) % (twill + 1)) == 0  # twill 1: plain weave
    if colors is None:
        colors = [np.array(rng.uniform(0.1, 0.9, 3), np.float32) for _ in range(2)]
    sh_u = 0.75 + 0.25 * np.sin(np.pi * (u - iu))
    sh_v = 0.75 + 0.25 * np.sin(np.pi * (v - iv))
    img = np.where(over[..., None], colors[0] * sh_v[..., None], colors[1] * sh_u[..., None])
    return np.clip(img.astype(np.float32) * (1 + 0.05 * rng.standard_normal((h, w, 1))), 0, 1)


def table(rng, h, w):
    """What a page lies on in a photo: wood, cloth, a plain desk or dark stone."""
    t = _pick(rng, ["wood", "cloth", "desk", "stone"])
    if t == "wood":
        img = wood(rng, h, w)
    elif t == "cloth":
        img = weave(rng, h, w)
    else:
        base = rng.uniform(0.05, 0.35, 3) if t == "stone" else rng.uniform(0.25, 0.8, 3)
        img = paper(rng, h, w, base, grain=3.0 if t == "stone" else 1.0)
    return img.astype(np.float32), t


def rounded_rect_mask(h, w, r):
    m = np.zeros((h, w), np.uint8)
    r = int(max(1, min(r, h // 2 - 1, w // 2 - 1)))
    cv2.rectangle(m, (r, 0), (w - 1 - r, h - 1), 255, -1)
    cv2.rectangle(m, (0, r), (w - 1, h - 1 - r), 255, -1)
    for cx, cy in ((r, r), (w - 1 - r, r), (r, h - 1 - r), (w - 1 - r, h - 1 - r)):
        cv2.circle(m, (cx, cy), r, 255, -1, cv2.LINE_AA)
    return m


def _ruled(img, rng, color=(0.85, 0.65, 0.45), margin=True):
    h, w = img.shape[:2]
    gap = _u(rng, 0.05, 0.1) * h
    m = np.zeros((h, w), np.uint8)
    y = _u(rng, 0.1, 1.0) * gap
    while y < h:
        _polyline(m, [(0, y), (w, y + _u(rng, -1, 1))], max(1, h / 500))
        y += gap
    _lay(img, m, color, 0.7)
    if margin and rng.random() < 0.5:
        mm = np.zeros((h, w), np.uint8)
        x = _u(rng, 0.08, 0.15) * w
        _polyline(mm, [(x, 0), (x, h)], max(1, h / 500))
        _lay(img, mm, (0.45, 0.45, 0.9), 0.7)
    return img


def _grid(img, rng, step, color, width=1, major=0):
    h, w = img.shape[:2]
    m = np.zeros((h, w), np.uint8)
    x0, y0 = _u(rng, 0, step), _u(rng, 0, step)
    for i, x in enumerate(np.arange(x0, w, step)):
        _polyline(m, [(x, 0), (x, h)], width * (2 if major and i % major == 0 else 1))
    for i, y in enumerate(np.arange(y0, h, step)):
        _polyline(m, [(0, y), (w, y)], width * (2 if major and i % major == 0 else 1))
    return _lay(img, m, color, 0.6)


def _dots(img, rng, step, color, r):
    h, w = img.shape[:2]
    m = np.zeros((h, w), np.uint8)
    for x in np.arange(_u(rng, 0, step), w, step):
        for y in np.arange(_u(rng, 0, step), h, step):
            cv2.circle(m, (int(x * 16), int(y * 16)), int(r * 16), 255, -1, cv2.LINE_AA, 4)
    return _lay(img, m, color, 0.7)


INKS = {"ballpoint_blue": (0.55, 0.2, 0.1), "ballpoint_black": (0.15, 0.13, 0.12),
        "felt_black": (0.05, 0.05, 0.05), "marker_red": (0.15, 0.12, 0.75),
        "marker_green": (0.25, 0.5, 0.1), "pencil": (0.45, 0.45, 0.45),
        "gel_purple": (0.55, 0.15, 0.45)}
APP_INKS = [(0, 0, 0), (0.8, 0.3, 0.0), (0.1, 0.1, 0.85), (0.2, 0.6, 0.1), (0.6, 0.2, 0.6)]


def writing_surface(rng, h, w, clean):
    """Something to write on: (img, alpha or None, name, fill, ink BGR, pen width factor)."""
    if clean:
        dark = rng.random() < 0.3
        bg = (0.12, 0.12, 0.13) if dark else _pick(rng, [(1, 1, 1), (0.97, 0.98, 1.0),
                                                          (0.9, 0.97, 1.0)])
        img = np.empty((h, w, 3), np.float32)
        img[:] = bg
        ink = (0.95, 0.95, 0.95) if dark and rng.random() < 0.5 else _pick(rng, APP_INKS)
        if dark and ink == (0, 0, 0):
            ink = (0.3, 0.85, 1.0)
        return img, None, "canvas_dark" if dark else "canvas", True, ink, _u(rng, 0.6, 1.6)
    s = _pick(rng, ["ruled", "plain", "sticky", "whiteboard", "napkin", "squared"])
    ink_name = _pick(rng, list(INKS))
    ink, widthf = INKS[ink_name], 1.0
    if s == "sticky":
        side = min(h, w)
        img = paper(rng, side, side, _pick(rng, [PAPERS["yellow"], PAPERS["pink"],
                                                 (0.6, 0.95, 0.7), (0.95, 0.85, 0.55)]))
        return img, rounded_rect_mask(side, side, 3), s, False, ink, 1.0
    if s == "whiteboard":
        img = paper(rng, h, w, (0.93, 0.94, 0.94), grain=0.3)
        img += 0.05 * np.clip(_smooth_noise(rng, h, w, w / 3, 1.0), 0, 1)[..., None]
        ink = _pick(rng, [(0.1, 0.1, 0.1), (0.7, 0.25, 0.05), (0.1, 0.1, 0.75), (0.2, 0.5, 0.1)])
        return np.clip(img, 0, 1), None, s, True, ink, 2.2
    if s == "napkin":
        img = paper(rng, h, w, (0.93, 0.94, 0.95), grain=3.0)
        return img, None, s, rng.random() < 0.5, ink, 1.3
    img = paper(rng, h, w, _pick(rng, [PAPERS["white"], PAPERS["cream"], PAPERS["grey"]]))
    if s == "ruled":
        _ruled(img, rng)
    elif s == "squared":
        _grid(img, rng, _u(rng, 0.035, 0.06) * h, (0.8, 0.7, 0.55))
    if ink_name.startswith("marker") or ink_name == "felt_black":
        widthf = 1.8
    return img, None, s, rng.random() < 0.6, ink, widthf


# ----------------------------------------------------------------------------- pen models

# Per letter: cycles of (top, bottom, loop) in x-heights; loop is the horizontal amplitude over
# the drift: > 1 loops at the top, < -1 loops at the bottom, near 0 a plain arch or cusp.
_CYCLES = {
    "a": [(1, 0, 1.5), (1, 0, 0.9)], "c": [(1, 0, 1.3)], "e": [(0.9, 0, 1.8)],
    "o": [(1, 0, 1.7)], "m": [(1, 0, 0.4)] * 3, "n": [(1, 0, 0.4)] * 2,
    "r": [(1, 0, 0.9), (0.8, 0, 0.3)], "u": [(1, 0, 0.95)] * 2, "w": [(1, 0, 0.95)] * 3,
    "v": [(1, 0, 0.9), (1, 0.4, 0.4)], "x": [(1, 0, 0.6)], "s": [(1.05, 0, 1.0)],
    "i": [(1, 0, 0.95)], "h": [(2.3, 0, 1.8), (1, 0, 0.4)], "k": [(2.3, 0, 1.8), (1, 0, 1.2)],
    "l": [(2.4, 0, 1.8)], "t": [(1.9, 0, 1.0)], "d": [(1, 0, 1.6), (2.2, 0, 1.0)],
    "b": [(2.3, 0, 1.8), (1, 0, 1.4)], "f": [(2.3, -1.0, 1.8)],
    "p": [(1, -1.1, -0.4), (1, 0, 1.4)],
    "y": [(1, 0, 0.9), (1, -1.2, -1.8)], "g": [(1, 0, 1.6), (1, -1.2, -1.8)],
    "j": [(1, -1.2, -1.8)], "q": [(1, 0, 1.6), (1, -1.2, -1.0)],
    "z": [(1, 0, 0.5), (1, -0.8, -1.5)],
}


def cursive(rng, word: str, xh: float):
    """Pen strokes of ``word`` in cursive from the oscillation model (see module docstring).

    Returns a list of float arrays (N, 2) in px (x right, y down, baseline at y = 0).
    Source: Hollerbach 1981, two orthogonal oscillators, a horizontal drift, letter shape from
    the modulation of amplitude and phase at the cycle boundaries.
    """
    cycles = [(0.5, 0.0, 0.5)]  # lead-in
    letter_at = []
    for ch in word.lower():
        spec = _CYCLES.get(ch, [(1, 0, 0.8)])
        letter_at.append((ch, len(cycles)))
        for top, bot, loop in spec:
            cycles.append((top * _u(rng, 0.9, 1.1), bot, loop * _u(rng, 0.85, 1.15)))
    cycles.append((0.4, 0.1, 0.3))  # exit stroke
    n = 48
    k = np.arange(len(cycles) * n) / n
    theta = 2 * np.pi * k
    idx = np.minimum(k.astype(int), len(cycles) - 1)
    par = np.array(cycles, np.float32)[idx]
    sig = n * 0.22
    r = int(3 * sig)
    g = np.exp(-0.5 * (np.arange(-r, r + 1) / sig) ** 2)
    g /= g.sum()
    par = np.stack([np.convolve(np.pad(par[:, j], r, mode="edge"), g, "valid")
                    for j in range(3)], 1)
    top, bot, loop = par[:, 0], par[:, 1], par[:, 2]
    drift = _u(rng, 0.85, 1.2) * xh / (2 * np.pi)
    phase = _u(rng, -0.1, 0.5)  # x leads y: the up-stroke leans more than the down-stroke
    y = bot + (top - bot) * (1 - np.cos(theta)) / 2
    x = drift * theta + loop * drift * np.sin(theta + phase) * _u(rng, 0.9, 1.1)
    y = -y * xh
    slant = _u(rng, 0.05, 0.5)
    x = x - slant * y
    pts = np.stack([x, y], 1)
    strokes = [pts]
    for ch, c in letter_at:
        j = min(len(pts) - 1, int((c + 0.5) * n))
        px = pts[j, 0]
        if ch in "ij":
            d = xh * 0.09
            strokes.append(np.array([[px + slant * 1.5 * xh, -1.6 * xh],
                                     [px + slant * 1.5 * xh + d, -1.6 * xh - d * 0.3]]))
        elif ch in "tf":
            strokes.append(np.array([[px - 0.35 * xh + slant * 1.3 * xh, -1.3 * xh],
                                     [px + 0.45 * xh + slant * 1.3 * xh, -1.35 * xh]]))
    return strokes


# Block capitals in a unit box (x right, y down), this file's own strokes.
_ARC_C = [(0.5 + 0.5 * math.cos(a), 0.5 + 0.5 * math.sin(a))
          for a in np.linspace(-0.8, -0.8 - 2 * math.pi * 0.78, 14)]
_ARC_U = [(0.0, 0.0), (0.0, 0.65)] + [(0.5 - 0.5 * math.cos(a), 0.65 + 0.35 * math.sin(a))
                                      for a in np.linspace(0.2, math.pi - 0.2, 8)] + \
    [(1.0, 0.65), (1.0, 0.0)]
_BOWL = [(0, 0), (0.65, 0), (0.9, 0.12), (0.9, 0.38), (0.65, 0.5), (0, 0.5)]
CAPITALS = {
    "A": [[(0, 1), (0.5, 0), (1, 1)], [(0.22, 0.6), (0.78, 0.6)]],
    "C": [_ARC_C], "E": [[(1, 0), (0, 0), (0, 1), (1, 1)], [(0, 0.5), (0.7, 0.5)]],
    "F": [[(1, 0), (0, 0), (0, 1)], [(0, 0.5), (0.7, 0.5)]],
    "H": [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 0.5), (1, 0.5)]],
    "K": [[(0, 0), (0, 1)], [(0.95, 0), (0, 0.6)], [(0.3, 0.42), (1, 1)]],
    "L": [[(0, 0), (0, 1), (0.8, 1)]], "M": [[(0, 1), (0, 0), (0.5, 0.6), (1, 0), (1, 1)]],
    "N": [[(0, 1), (0, 0), (1, 1), (1, 0)]], "P": [[(0, 1)] + _BOWL],
    "R": [[(0, 1)] + _BOWL, [(0.4, 0.5), (1, 1)]], "T": [[(0, 0), (1, 0)], [(0.5, 0), (0.5, 1)]],
    "U": [_ARC_U], "V": [[(0, 0), (0.5, 1), (1, 0)]],
    "W": [[(0, 0), (0.25, 1), (0.5, 0.35), (0.75, 1), (1, 0)]],
    "X": [[(0, 0), (1, 1)], [(1, 0), (0, 1)]], "Y": [[(0, 0), (0.5, 0.5), (1, 0)],
                                                   [(0.5, 0.5), (0.5, 1)]],
}


def capitals(rng, word: str, cap: float):
    """Pen strokes of ``word`` in hand-printed block capitals, cap height ``cap`` px."""
    strokes, x = [], 0.0
    slant = _u(rng, -0.15, 0.3)
    wfac = _u(rng, 0.55, 0.85)
    for ch in word:
        cw = cap * wfac * _u(rng, 0.9, 1.1) * (1.2 if ch in "MW" else 1.0)
        dy = _u(rng, -0.05, 0.05) * cap
        for s in CAPITALS.get(ch, CAPITALS["X"]):
            p = np.array(s, np.float64)
            p = p + rng.normal(0, 0.025, p.shape)
            p = np.stack([x + p[:, 0] * cw + slant * (1 - p[:, 1]) * cap, (p[:, 1] - 1) * cap + dy],
                         1)
            strokes.append(_densify(p, cap / 12))
        x += cw + cap * _u(rng, 0.2, 0.45)
    return strokes


def _densify(p, step):
    out = [p[0]]
    for a, b in itertools.pairwise(p):
        n = max(1, int(np.linalg.norm(b - a) / max(step, 1e-3)))
        out.extend(a + (b - a) * t for t in np.linspace(0, 1, n + 1)[1:])
    return np.array(out)


def draw_strokes(shape, strokes, width, rng=None, box=None):
    """Rasterise pen ``strokes`` (list of (N, 2) px arrays) into a uint8 mask of ``shape``.

    With ``box`` (x0, y0, x1, y1) the strokes are first scaled and centred into that box.
    A slight hand tremor (smooth 0.3 px noise) is added when ``rng`` is given.
    """
    m = np.zeros(shape, np.uint8)
    if box is not None:
        allp = np.concatenate(strokes)
        lo, hi = allp.min(0), allp.max(0)
        s = min((box[2] - box[0]) / max(hi[0] - lo[0], 1e-3),
                (box[3] - box[1]) / max(hi[1] - lo[1], 1e-3))
        off = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]) - (lo + hi) / 2 * s
        strokes = [p * s + off for p in strokes]
    for p in strokes:
        if rng is not None and len(p) > 3:
            p = p + cv2.GaussianBlur(rng.normal(0, 0.6, (len(p), 2)), (1, 5), 0)
        _polyline(m, p, width)
    return m


def _fit_box(rng, h, w, fw, fh):
    bw, bh = fw * w, fh * h
    cx, cy = w / 2 + _u(rng, -0.05, 0.05) * w, h / 2 + _u(rng, -0.05, 0.05) * h
    return (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)


def _rotate_strokes(strokes, angle_deg):
    a = math.radians(angle_deg)
    r = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return [p @ r.T for p in strokes]


def _clean_canvas(rng, h, w):
    """A drawing-app canvas (flat colour) and an ink colour that shows on it."""
    img, _, name, _, ink, _ = writing_surface(rng, h, w, True)
    return img, name, ink


# ------------------------------------------------------------------------------- the kinds
#
# Each kind is ``kind_x(rng, h, w, clean) -> (img, alpha, variant, fill)``: img float32
# (h', w', 3) BGR in [0, 1]; alpha a uint8 (h', w') outline of an object (None: rectangular);
# fill True when the subject is a surface that fills the camera's view. With clean=True (a
# screenshot) the image is exactly (h, w), flat colours, alpha None.

def _print_backing(rng, h, w, clean, text_aspect):
    """A label, sign, box side or page for printed text: (img, alpha, name, fill, ink, paint)."""
    if clean:
        img, name, ink = _clean_canvas(rng, h, w)
        return img, None, name, True, ink, True
    b = _pick(rng, ["label", "sign", "box", "page"])
    if b == "page":
        hh, ww = (h, int(h * 0.71)) if rng.random() < 0.6 else (int(w * 0.71), w)
        img = paper(rng, hh, ww, _pick(rng, [PAPERS["white"], PAPERS["cream"]]))
        return img, None, b, rng.random() < 0.5, _pick(rng, [(0.1, 0.1, 0.1), (0.5, 0.2, 0.1)]), \
            False
    if b == "box":
        img = paper(rng, h, w, PAPERS["kraft"], grain=2.0)
        xs = np.arange(w, dtype=np.float32)
        img *= (1 + 0.02 * np.sin(xs * 2 * np.pi / max(6.0, w / 90)))[None, :, None]
        if rng.random() < 0.6:  # packing tape across
            m = np.zeros((h, w), np.uint8)
            y = _u(rng, 0.05, 0.2) * h if rng.random() < 0.5 else _u(rng, 0.8, 0.95) * h
            cv2.rectangle(m, (0, int(y)), (w, int(y + 0.1 * h)), 255, -1)
            _lay(img, m, (0.55, 0.75, 0.85), 0.5, multiply=False)
        return img, None, b, True, _pick(rng, [(0.1, 0.1, 0.1), (0.1, 0.15, 0.3)]), False
    ar = min(3.2, max(1.2, text_aspect * _u(rng, 1.3, 1.8)))
    ww = int(min(w, h * ar))
    hh = int(ww / ar)
    if b == "label":
        img = paper(rng, hh, ww, _pick(rng, [PAPERS["white"], PAPERS["yellow"], (0.8, 0.95, 1.0)]),
                    grain=0.5)
        if rng.random() < 0.6:
            m = np.zeros((hh, ww), np.uint8)
            d = int(0.06 * hh)
            cv2.rectangle(m, (d, d), (ww - d, hh - d), 255, max(1, hh // 60), cv2.LINE_AA)
            _lay(img, m, _pick(rng, [(0.6, 0.3, 0.1), (0.1, 0.1, 0.7), (0.2, 0.2, 0.2)]), 0.9)
        ink = _pick(rng, [(0.1, 0.1, 0.1), (0.45, 0.15, 0.05), (0.1, 0.1, 0.65)])
        alpha = rounded_rect_mask(hh, ww, int(hh * _u(rng, 0.02, 0.15)))
        return img, alpha, b, False, ink, False
    # an enamel sign: light letters on a coloured plate with a border and screws
    col = _pick(rng, [(0.15, 0.15, 0.7), (0.55, 0.25, 0.05), (0.2, 0.45, 0.1), (0.1, 0.1, 0.1),
                      (0.1, 0.75, 0.9)])
    img = paper(rng, hh, ww, col, grain=0.4)
    light = col != (0.1, 0.75, 0.9)
    ink = (0.95, 0.95, 0.95) if light else (0.08, 0.08, 0.08)
    m = np.zeros((hh, ww), np.uint8)
    d = int(0.07 * hh)
    cv2.rectangle(m, (d, d), (ww - d, hh - d), 255, max(1, hh // 30), cv2.LINE_AA)
    _lay(img, m, ink, 0.95, multiply=False)
    for cx, cy in ((0.04, 0.5), (0.96, 0.5)) if rng.random() < 0.5 else ():
        cv2.circle(img, (int(cx * ww), int(cy * hh)), max(2, hh // 30), (0.6, 0.6, 0.6), -1,
                   cv2.LINE_AA)
    return img, rounded_rect_mask(hh, ww, int(hh * 0.08)), b, False, ink, True


def kind_print_letter(rng, h, w, clean):
    """One printed letter or a 2-4 letter word (never a digit-like letter) on a label etc."""
    if rng.random() < 0.4:
        text, what = _pick(rng, SAFE_SINGLE), "letter"
    else:
        if rng.random() < 0.5:
            text = _pick(rng, UPPER_WORDS)
        else:
            text = _pick(rng, LOWER_WORDS)
            if rng.random() < 0.4 and text[0].upper() not in DIGIT_LIKE:
                text = text[0].upper() + text[1:]
        what = "word"
    assert not (set(text) & DIGIT_LIKE)
    if rng.random() < 0.45:
        fname = _pick(rng, list(HERSHEY))
        face = HERSHEY[fname] | (cv2.FONT_ITALIC if rng.random() < 0.2 else 0)
        mask = hershey_mask(text, face, 110, _u(rng, 0.04, 0.13))
    else:
        fname = _pick(rng, TTF_NAMES)
        mask = ttf_mask(text, fname, 180)
    img, alpha, backing, fill, ink, paint = _print_backing(rng, h, w, clean,
                                                           mask.shape[1] / mask.shape[0])
    hh, ww = img.shape[:2]
    fh = _u(rng, 0.3, 0.6) if what == "word" else _u(rng, 0.35, 0.7)
    m = _fit(mask, (hh, ww), _u(rng, 0.6, 0.85), fh, rng, _u(rng, -4, 4), 0.04)
    _lay(img, m, ink, _u(rng, 0.85, 1.0), multiply=not paint)
    return img, alpha, f"{backing}/{fname}/{what}:{text}", fill


def kind_hand_word(rng, h, w, clean):
    """2-8 handwritten letters: cursive from the oscillation model, or block capitals."""
    img, alpha, surf, fill, ink, wf = writing_surface(rng, h, w, clean)
    hh, ww = img.shape[:2]
    if rng.random() < 0.6:
        word, style = _pick(rng, CURSIVE_WORDS), "cursive"
        if len(word) < 2:
            word = "hi"
        strokes = cursive(rng, word, 40.0)
    else:
        word, style = _pick(rng, CAPITAL_WORDS), "capitals"
        strokes = capitals(rng, word, 60.0)
    strokes = _rotate_strokes(strokes, _u(rng, -10, 10))
    box = _fit_box(rng, hh, ww, _u(rng, 0.55, 0.9), _u(rng, 0.25, 0.6))
    width = max(hh, ww) * _u(rng, 0.005, 0.012) * wf
    m = draw_strokes((hh, ww), strokes, width, rng, box)
    if ink == INKS["pencil"]:
        m = (m * np.clip(0.6 + 0.4 * rng.random(m.shape), 0, 1)).astype(np.uint8)
    _lay(img, m, ink, _u(rng, 0.75, 1.0), multiply=not clean)
    return img, alpha, f"{style}/{surf}/{word}", fill


def _pen_symbol(rng, name):
    """A symbol drawn by hand as pen strokes (list of (N, 2) arrays, arbitrary units)."""
    t = np.linspace(0, 2 * np.pi, 120)
    if name == "heart":
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        return [np.stack([x, y], 1)]
    if name == "infinity":
        return [np.stack([np.cos(t), np.sin(2 * t) / 2], 1) * 10]
    if name == "star":
        a = -np.pi / 2 + np.arange(6) * 4 * np.pi / 5
        return [np.stack([np.cos(a), np.sin(a)], 1) * 10]
    if name == "arrow":
        s = [np.array([[-10, 0], [10, 0]]), np.array([[4, -5], [10, 0], [4, 5]])]
        return _rotate_strokes(s, float(rng.choice([0, 90, 180, 270, 45, 135])))
    if name == "hash":
        return [np.array([[-3, -10], [-5, 10]]), np.array([[5, -10], [3, 10]]),
                np.array([[-9, -4], [9, -4]]), np.array([[-9, 4], [9, 4]])]
    if name == "asterisk":
        return [np.array([[math.cos(a) * 9, math.sin(a) * 9], [-math.cos(a) * 9, -math.sin(a) * 9]])
                for a in np.arange(3) * np.pi / 3 + np.pi / 2]
    if name == "check":
        return [np.array([[-8, 0], [-3, 7], [9, -9]])]
    if name == "plus":
        return [np.array([[-9, 0], [9, 0]]), np.array([[0, -9], [0, 9]])]
    return [np.array([[-9, -3], [9, -3]]), np.array([[-9, 4], [9, 4]])]  # equals


PEN_SYMBOLS = ("heart", "infinity", "star", "arrow", "hash", "asterisk", "check", "plus", "equals")


def kind_glyph_symbol(rng, h, w, clean):
    """One big symbol from a font that has it, or drawn with a pen."""
    if rng.random() < 0.65:
        ch = _pick(rng, SYMBOLS)
        fonts = [f for f in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf",
                             "STIXGeneral.ttf", "DejaVuSansMono.ttf") if has_glyph(f, ch)]
        fname = _pick(rng, fonts)
        mask = ttf_mask(ch, fname, 220)
        img, alpha, backing, fill, ink, paint = _print_backing(rng, h, w, clean,
                                                               mask.shape[1] / mask.shape[0])
        hh, ww = img.shape[:2]
        f = _u(rng, 0.4, 0.75)
        m = _fit(mask, (hh, ww), f, f, rng, _u(rng, -6, 6), 0.05)
        _lay(img, m, ink, _u(rng, 0.85, 1.0), multiply=not paint)
        return img, alpha, f"font/{backing}/{fname}/U+{ord(ch):04X}", fill
    name = _pick(rng, PEN_SYMBOLS)
    img, alpha, surf, fill, ink, wf = writing_surface(rng, h, w, clean)
    hh, ww = img.shape[:2]
    strokes = _rotate_strokes([_densify(p, 0.5) for p in _pen_symbol(rng, name)],
                              _u(rng, -12, 12))
    f = _u(rng, 0.35, 0.7)
    box = _fit_box(rng, hh, ww, f, f)
    m = draw_strokes((hh, ww), strokes, max(hh, ww) * _u(rng, 0.007, 0.02) * wf, rng, box)
    _lay(img, m, ink, _u(rng, 0.8, 1.0), multiply=not clean)
    return img, alpha, f"pen/{surf}/{name}", fill


class _Icon:
    """Pictogram parts in a unit box (x right, y down): filled shapes (holes cut out) + lines."""

    def __init__(self, size: int, lw: float):
        self.s, self.lw = size, lw
        self.shape = np.zeros((size, size), np.uint8)
        self.lines = np.zeros((size, size), np.uint8)

    def poly(self, pts, hole=False):
        _fill(self.shape, np.asarray(pts, float) * self.s, 0 if hole else 255)

    def circle(self, c, r, hole=False):
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        self.poly(np.stack([c[0] + r * np.cos(t), c[1] + r * np.sin(t)], 1), hole)

    def ellipse(self, c, rx, ry, ang=0.0, hole=False):
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        a = math.radians(ang)
        x, y = rx * np.cos(t), ry * np.sin(t)
        self.poly(np.stack([c[0] + x * math.cos(a) - y * math.sin(a),
                            c[1] + x * math.sin(a) + y * math.cos(a)], 1), hole)

    def line(self, pts, width=1.0, cut=False):
        """A stroke: on the line layer, or (cut) a gap through the filled shape."""
        target = self.shape if cut else self.lines
        _polyline(target, np.asarray(pts, float) * self.s, self.lw * width, False,
                  0 if cut else 255)

    def arc(self, c, r, a0, a1, n=24):
        t = np.radians(np.linspace(a0, a1, n))
        return [(c[0] + r * math.cos(v), c[1] + r * math.sin(v)) for v in t]


def _draw_icon(p: _Icon, name: str, rng):
    if name == "key":
        p.circle((0.27, 0.5), 0.17)
        p.circle((0.27, 0.5), 0.07, hole=True)
        p.poly([(0.42, 0.46), (0.9, 0.46), (0.9, 0.54), (0.42, 0.54)])
        p.poly([(0.74, 0.54), (0.8, 0.54), (0.8, 0.66), (0.74, 0.66)])
        p.poly([(0.84, 0.54), (0.9, 0.54), (0.9, 0.7), (0.84, 0.7)])
    elif name == "bell":
        p.poly([(0.14, 0.78), (0.24, 0.7), (0.31, 0.52)] + p.arc((0.5, 0.4), 0.19, 180, 360)
               + [(0.69, 0.52), (0.76, 0.7), (0.86, 0.78)])
        p.circle((0.5, 0.85), 0.065)
        p.circle((0.5, 0.18), 0.045)
    elif name == "envelope":
        p.poly([(0.08, 0.25), (0.92, 0.25), (0.92, 0.75), (0.08, 0.75)])
        p.line([(0.08, 0.25), (0.5, 0.55), (0.92, 0.25)], 1.0, cut=True)
    elif name == "bulb":
        p.circle((0.5, 0.37), 0.23)
        p.poly([(0.37, 0.5), (0.63, 0.5), (0.6, 0.68), (0.4, 0.68)])
        p.poly([(0.39, 0.7), (0.61, 0.7), (0.61, 0.82), (0.39, 0.82)])
        p.line([(0.39, 0.76), (0.61, 0.76)], 0.8, cut=True)
        p.line([(0.43, 0.55), (0.46, 0.35), (0.5, 0.45), (0.54, 0.35), (0.57, 0.55)], 0.6, True)
        for a in np.radians([200, 240, 270, 300, 340]):
            p.line([(0.5 + 0.3 * math.cos(a), 0.37 + 0.3 * math.sin(a)),
                    (0.5 + 0.4 * math.cos(a), 0.37 + 0.4 * math.sin(a))])
    elif name == "cup":
        p.poly([(0.2, 0.38), (0.72, 0.38), (0.66, 0.8), (0.26, 0.8)])
        p.line(p.arc((0.73, 0.55), 0.11, -80, 90), 1.4)
        p.line([(0.12, 0.86), (0.8, 0.86)], 1.2)
        for x in (0.36, 0.5):
            p.line([(x + 0.03 * math.sin(v), 0.32 - v * 0.035) for v in np.linspace(0, 6, 12)])
    elif name == "heart":
        t = np.linspace(0, 2 * np.pi, 90)
        p.poly(np.stack([0.5 + 0.024 * 16 * np.sin(t) ** 3,
                         0.48 - 0.024 * (13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t)
                                         - np.cos(4 * t))], 1))
    elif name == "star":
        a = -np.pi / 2 + np.arange(10) * np.pi / 5
        r = np.where(np.arange(10) % 2 == 0, 0.44, 0.18)
        p.poly(np.stack([0.5 + r * np.cos(a), 0.54 + r * np.sin(a)], 1))
    elif name == "umbrella":
        top = p.arc((0.5, 0.48), 0.4, 180, 360)
        scal = []
        for k in range(4):
            cx = 0.2 + 0.2 * k
            scal += p.arc((cx, 0.5), 0.1, 0, -180, 8)[::-1]
        p.poly(top + scal[::-1])
        p.line([(0.5, 0.48), (0.5, 0.82)] + p.arc((0.43, 0.82), 0.07, 0, 180, 10), 1.3)
    elif name == "magnifier":
        p.circle((0.4, 0.4), 0.27)
        p.circle((0.4, 0.4), 0.19, hole=True)
        p.poly([(0.57, 0.63), (0.63, 0.57), (0.9, 0.84), (0.84, 0.9)])
    elif name == "lock":
        p.line([(0.33, 0.5)] + p.arc((0.5, 0.33), 0.17, 180, 360) + [(0.67, 0.5)], 2.2)
        p.poly([(0.22, 0.47), (0.78, 0.47), (0.78, 0.87), (0.22, 0.87)])
        p.circle((0.5, 0.62), 0.055, hole=True)
        p.poly([(0.48, 0.62), (0.52, 0.62), (0.53, 0.76), (0.47, 0.76)], hole=True)
    elif name == "notes":
        p.ellipse((0.3, 0.76), 0.11, 0.075, -20)
        p.ellipse((0.7, 0.68), 0.11, 0.075, -20)
        p.poly([(0.37, 0.74), (0.41, 0.74), (0.41, 0.24), (0.37, 0.25)])
        p.poly([(0.77, 0.66), (0.81, 0.66), (0.81, 0.15), (0.77, 0.16)])
        p.poly([(0.37, 0.22), (0.81, 0.12), (0.81, 0.22), (0.37, 0.32)])
    elif name == "house":
        p.poly([(0.12, 0.5), (0.5, 0.14), (0.88, 0.5)])
        p.poly([(0.23, 0.48), (0.77, 0.48), (0.77, 0.87), (0.23, 0.87)])
        p.poly([(0.44, 0.65), (0.58, 0.65), (0.58, 0.87), (0.44, 0.87)], hole=True)
        p.poly([(0.3, 0.56), (0.38, 0.56), (0.38, 0.64), (0.3, 0.64)], hole=True)
    elif name == "sun":
        p.circle((0.5, 0.5), 0.2)
        n = int(rng.integers(8, 13))
        for a in np.arange(n) * 2 * np.pi / n:
            p.line([(0.5 + 0.27 * math.cos(a), 0.5 + 0.27 * math.sin(a)),
                    (0.5 + 0.42 * math.cos(a), 0.5 + 0.42 * math.sin(a))], 1.2)
    elif name == "cloud":
        for c, r in (((0.32, 0.56), 0.15), ((0.5, 0.45), 0.2), ((0.7, 0.55), 0.15)):
            p.circle(c, r)
        p.poly([(0.32, 0.56), (0.7, 0.56), (0.7, 0.71), (0.32, 0.71)])
    elif name == "tree":
        p.poly([(0.45, 0.65), (0.55, 0.65), (0.55, 0.9), (0.45, 0.9)])
        for y, half in ((0.1, 0.18), (0.3, 0.26), (0.48, 0.34)):
            p.poly([(0.5, y), (0.5 + half, y + 0.25), (0.5 - half, y + 0.25)])
    else:  # fish
        p.ellipse((0.45, 0.5), 0.3, 0.16)
        p.poly([(0.7, 0.5), (0.92, 0.33), (0.92, 0.67)])
        p.circle((0.28, 0.46), 0.03, hole=True)
        p.line(p.arc((0.3, 0.5), 0.12, -50, 50, 10), 0.8, cut=True)


ICONS = ("key", "bell", "envelope", "bulb", "cup", "heart", "star", "umbrella", "magnifier",
         "lock", "notes", "house", "sun", "cloud", "tree", "fish")


def kind_icon(rng, h, w, clean):
    """A pictogram drawn with cv2 primitives: filled, outlined or two-tone, on a backing."""
    name = _pick(rng, ICONS)
    style = _pick(rng, ["filled", "outlined", "two_tone"])
    size = 400
    p = _Icon(size, size * _u(rng, 0.02, 0.045))
    _draw_icon(p, name, rng)
    k = max(3, int(p.lw) | 1)
    edge = cv2.subtract(p.shape, cv2.erode(p.shape, np.ones((k, k), np.uint8)))
    outline = np.maximum(edge, p.lines)
    solid = np.maximum(p.shape, p.lines)
    if clean or rng.random() < 0.4:
        tile = rng.random() < 0.6
        if clean:
            img, bname, _ink = _clean_canvas(rng, h, w)
        else:
            img = paper(rng, h, w, PAPERS["white"], grain=0.5)
            bname = "sticker"
        hh, ww = img.shape[:2]
        col = np.array(rng.uniform(0.1, 0.85, 3), np.float32)
        if tile:  # an app tile or pictogram plate behind a light icon
            t = int(min(hh, ww) * _u(rng, 0.5, 0.8))
            tm = _place(rounded_rect_mask(t, t, int(t * _u(rng, 0.1, 0.25))), (hh, ww),
                        ww / 2, hh / 2, 1.0, 0)
            _lay(img, tm, col, 1.0, multiply=False)
            fg, sc = (0.97, 0.97, 0.97), t * 0.75 / size
            bname += "_tile"
        else:
            fg, sc = col, min(hh, ww) * _u(rng, 0.45, 0.75) / size
        alpha = None if clean or bname.startswith("canvas") else \
            rounded_rect_mask(hh, ww, int(min(hh, ww) * 0.06))
        fill = clean
    else:
        img, alpha, bname, fill, fg, _paint = _print_backing(rng, h, w, False, 1.3)
        bname = {"sign": "pictogram_sign"}.get(bname, bname)
        hh, ww = img.shape[:2]
        sc = min(hh, ww) * _u(rng, 0.5, 0.75) / size
        if bname in ("label", "page") and rng.random() < 0.6:
            fg = tuple(rng.uniform(0.05, 0.7, 3))
        tile = False
    ang = _u(rng, -8, 8)
    cx, cy = ww / 2 + _u(rng, -0.04, 0.04) * ww, hh / 2 + _u(rng, -0.04, 0.04) * hh
    paint = clean or tile or bname == "pictogram_sign"
    if style == "outlined":
        _lay(img, _place(outline, (hh, ww), cx, cy, sc, ang), fg, 1.0, multiply=not paint)
    elif style == "filled":
        _lay(img, _place(solid, (hh, ww), cx, cy, sc, ang), fg, 1.0, multiply=not paint)
    else:
        light = np.clip(np.asarray(fg, np.float32) * 0.4 + 0.55, 0, 1)
        _lay(img, _place(solid, (hh, ww), cx, cy, sc, ang), light, 1.0, multiply=False)
        dark = np.asarray(fg, np.float32) * 0.45
        _lay(img, _place(outline, (hh, ww), cx, cy, sc, ang), dark, 1.0, multiply=False)
    return img, alpha, f"{bname}/{style}/{name}", fill


def _scribble_strokes(rng, name):
    """One pen-testing scribble as strokes in arbitrary units (x right, y down)."""
    if name == "loops":
        return cursive(rng, _pick(rng, ["e", "l"]) * int(rng.integers(5, 10)), 10.0)
    if name == "zigzag":
        n = int(rng.integers(5, 13))
        x = np.arange(n + 1) * _u(rng, 2, 5) + rng.normal(0, 0.3, n + 1)
        y = np.where(np.arange(n + 1) % 2 == 0, 0, -10) + rng.normal(0, 0.8, n + 1)
        return [np.stack([x, y], 1)]
    if name == "crossed_out":
        word = cursive(rng, _pick(rng, CURSIVE_WORDS), 10.0)
        allp = np.concatenate(word)
        (x0, y0), (x1, y1) = allp.min(0), allp.max(0)
        if rng.random() < 0.5:  # a few strike-through lines
            lines = [np.array([[x0 - 2, y0 + (y1 - y0) * f + _u(rng, -1, 1)],
                               [x1 + 2, y0 + (y1 - y0) * f + _u(rng, -1, 1)]])
                     for f in rng.uniform(0.3, 0.8, int(rng.integers(1, 4)))]
        else:  # a dense back-and-forth scribble over it
            n = int(rng.integers(8, 20))
            xs = np.linspace(x0, x1, n) + rng.normal(0, 1, n)
            ys = np.where(np.arange(n) % 2 == 0, y0, y1) + rng.normal(0, 1, n)
            lines = [_densify(np.stack([xs, ys], 1), 0.5)]
        return word + lines
    if name == "coil":
        t = np.linspace(0, 2 * np.pi * _u(rng, 5, 10), 600)
        r = _u(rng, 3, 5)
        return [np.stack([t * _u(rng, 0.4, 0.9) + r * np.cos(t), r * np.sin(t) * _u(rng, 1, 1.6)],
                         1)]
    if name == "random_walk":
        n = int(rng.integers(250, 600))
        ang = np.cumsum(cv2.GaussianBlur(rng.normal(0, 0.5, (n, 1)), (1, 9), 0).ravel())
        return [np.cumsum(np.stack([np.cos(ang), np.sin(ang)], 1), 0)]
    if name == "spiral":
        t = np.linspace(0, 2 * np.pi * _u(rng, 3, 6), 500)
        r = 0.4 + t * _u(rng, 0.25, 0.4)
        sp = np.stack([r * np.cos(t), r * np.sin(t)], 1)
        steps = np.tile([[0.6, 0.15]], (60, 1)) + rng.normal(0, 0.1, (60, 2))
        tail = sp[-1] + np.cumsum(steps, 0)
        return [np.concatenate([sp, tail])]
    # hatching: parallel strokes filling a rough blob
    n = int(rng.integers(8, 20))
    ang = _u(rng, 0.4, 1.2)
    out = []
    for k in range(n):
        L = 10 * math.sin(math.pi * (k + 0.5) / n) + 2
        c = np.array([k * 1.0, 0.0])
        d = np.array([math.cos(ang), -math.sin(ang)]) * L / 2
        out.append(np.array([c - d, c + d]) + rng.normal(0, 0.2, (2, 2)))
    return out


SCRIBBLES = ("loops", "zigzag", "crossed_out", "coil", "random_walk", "spiral", "hatching")


def kind_scribble(rng, h, w, clean):
    """One to three pen-testing scribbles (a lone spiral always has company)."""
    img, alpha, surf, fill, ink, wf = writing_surface(rng, h, w, clean)
    hh, ww = img.shape[:2]
    n = int(rng.choice([1, 1, 2, 2, 3]))
    names = [str(x) for x in rng.choice(SCRIBBLES, n, replace=False)]
    if names == ["spiral"]:
        names.append("zigzag")
    width = max(hh, ww) * _u(rng, 0.004, 0.01) * wf
    m = np.zeros((hh, ww), np.uint8)
    for i, name in enumerate(names):
        strokes = _rotate_strokes([np.asarray(s, float) for s in _scribble_strokes(rng, name)],
                                  _u(rng, -20, 20))
        band = (0.08 + 0.84 * i / len(names), 0.08 + 0.84 * (i + 1) / len(names))
        cx = ww / 2 + _u(rng, -0.08, 0.08) * ww
        bh = (band[1] - band[0]) * hh * _u(rng, 0.7, 0.95)
        bw = ww * _u(rng, 0.5, 0.85)
        box = (cx - bw / 2, (band[0] + band[1]) / 2 * hh - bh / 2,
               cx + bw / 2, (band[0] + band[1]) / 2 * hh + bh / 2)
        m = np.maximum(m, draw_strokes((hh, ww), strokes, width, rng, box))
    _lay(img, m, ink, _u(rng, 0.75, 1.0), multiply=not clean)
    return img, alpha, f"{surf}/{'+'.join(names)}", fill


def _barcode(rng, h, w):
    img = paper(rng, h, w, PAPERS["white"], grain=0.4)
    m = np.zeros((h, w), np.uint8)
    mods = [int(v) for v in rng.integers(1, 5, int(rng.integers(40, 70)))]
    unit = w * 0.8 / sum(mods)
    x, bar = w * 0.1, True
    y0, y1 = h * 0.12, h * _u(rng, 0.7, 0.88)
    for i, k in enumerate(mods):
        if bar:
            long = i < 3 or i > len(mods) - 4 or abs(i - len(mods) // 2) < 2
            yb = y1 + (0.05 * h if long else 0)
            cv2.rectangle(m, (int(x * 16), int(y0 * 16)), (int((x + k * unit) * 16) - 8,
                                                           int(yb * 16)), 255, -1, cv2.LINE_AA, 4)
        x += k * unit
        bar = not bar
    return _lay(img, m, (0.05, 0.05, 0.05), 0.95)


def _qr(rng, h, w):
    n = int(rng.choice([21, 25, 29]))
    grid = rng.random((n, n)) < 0.5
    for r, c in ((0, 0), (0, n - 7), (n - 7, 0)):
        f = np.zeros((7, 7), bool)
        f[[0, 6], :] = f[:, [0, 6]] = True
        f[2:5, 2:5] = True
        grid[r:r + 7, c:c + 7] = f
        grid[max(0, r - 1):r + 8, c + 7 if c == 0 else c - 1] = False
        grid[r + 7 if r == 0 else r - 1, max(0, c - 1):c + 8] = False
    grid[6, 8:n - 8] = np.arange(8, n - 8) % 2 == 0
    grid[8:n - 8, 6] = np.arange(8, n - 8) % 2 == 0
    side = min(h, w)
    big = np.pad(grid, 4).astype(np.uint8) * 255
    m = cv2.resize(big, (side, side), interpolation=cv2.INTER_NEAREST)
    img = paper(rng, side, side, PAPERS["white"], grain=0.4)
    return _lay(img, m, (0.05, 0.05, 0.05), 0.95)


def _gingham(rng, h, w):
    img = np.ones((h, w, 3), np.float32) * np.float32(0.95)
    col = np.array(_pick(rng, [(0.2, 0.2, 0.8), (0.7, 0.35, 0.1), (0.2, 0.55, 0.2),
                               (0.15, 0.15, 0.15)]), np.float32)
    period = _u(rng, 0.06, 0.14) * max(h, w)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    fold = _smooth_noise(rng, h, w, max(h, w) / 3, period * 0.3)
    xs2, ys2 = xs + fold, ys + 0.5 * fold
    bx = ((xs2 / period) % 1.0 < 0.5).astype(np.float32)
    by = ((ys2 / period) % 1.0 < 0.5).astype(np.float32)
    for b in (bx, by):
        _lay(img, cv2.GaussianBlur(b, (3, 3), 0), col * 0.6 + 0.4, 0.9)
    thread = 1 + 0.06 * np.sin(xs * 2.2) * np.sin(ys * 2.2)
    shade = 1 + 0.15 * cv2.Sobel(fold, cv2.CV_32F, 1, 0, ksize=3) / max(1.0, period * 0.05)
    return np.clip(img * (thread * np.clip(shade, 0.7, 1.2))[..., None], 0, 1)


def _brick(rng, h, w):
    mortar = np.array(_pick(rng, [(0.7, 0.72, 0.73), (0.5, 0.52, 0.55)]), np.float32)
    img = paper(rng, h, w, mortar, grain=3.0)
    bh = _u(rng, 0.06, 0.12) * h
    bw = bh * _u(rng, 2.0, 3.2)
    g = max(2, int(bh * 0.12))
    base = np.array(_pick(rng, [(0.2, 0.3, 0.6), (0.25, 0.35, 0.55), (0.45, 0.55, 0.65),
                                (0.3, 0.3, 0.45)]), np.float32)
    for r, y in enumerate(np.arange(0, h, bh)):
        off = (bw / 2) * (r % 2) - bw
        for x in np.arange(off, w, bw):
            c = np.clip(base * _u(rng, 0.75, 1.2) + rng.normal(0, 0.03, 3), 0, 1)
            cv2.rectangle(img, (int(x + g), int(y + g)), (int(x + bw - g), int(y + bh - g)),
                          tuple(float(v) for v in c), -1)
    return np.clip(img * (1 + 0.08 * rng.standard_normal((h, w, 1))).astype(np.float32), 0, 1)


PATTERNS = ("barcode", "qr_grid", "gingham", "wood", "weave", "brick", "graph_paper",
            "dotted_paper")


def kind_pattern(rng, h, w, clean):
    """A printed or woven surface from real things (no digits anywhere)."""
    name = _pick(rng, PATTERNS)
    fill = True
    if name == "barcode":
        img = _barcode(rng, int(min(h, w) * _u(rng, 0.45, 0.7)), min(h, w))
        fill = clean
    elif name == "qr_grid":
        img = _qr(rng, h, w)
        fill = clean
    elif name == "gingham":
        img = _gingham(rng, h, w)
    elif name == "wood":
        img = wood(rng, h, w)
    elif name == "weave":
        img = weave(rng, h, w)
    elif name == "brick":
        img = _brick(rng, h, w)
    elif name == "graph_paper":
        img = paper(rng, h, w, PAPERS["white"], grain=0.0 if clean else 1.0)
        step = _u(rng, 0.015, 0.035) * max(h, w)
        _grid(img, rng, step, _pick(rng, [(0.55, 0.75, 0.35), (0.85, 0.6, 0.3), (0.3, 0.55, 0.9)]),
              1, major=5)
    else:
        img = paper(rng, h, w, _pick(rng, [PAPERS["white"], PAPERS["cream"]]),
                    grain=0.0 if clean else 1.0)
        step = _u(rng, 0.025, 0.05) * max(h, w)
        _dots(img, rng, step, (0.45, 0.45, 0.45), max(1.0, step * 0.06))
    if clean and img.shape[:2] != (h, w):  # a screenshot: the item on a flat canvas
        canvas, _, _ = _clean_canvas(rng, h, w)
        s = min(h / img.shape[0], w / img.shape[1]) * _u(rng, 0.6, 0.9)
        small = cv2.resize(img, (max(1, int(img.shape[1] * s)), max(1, int(img.shape[0] * s))),
                           interpolation=cv2.INTER_AREA)
        y0, x0 = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
        canvas[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
        img = canvas
    return img.astype(np.float32), None, name, fill


def _ii(v) -> int:
    return round(float(v))


def _vgrad(h, w, top, bottom):
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    return np.broadcast_to((1 - t) * np.asarray(top, np.float32)
                           + t * np.asarray(bottom, np.float32), (h, w, 3)).copy()


def _horizon(rng, h, w):
    sky = _pick(rng, [((0.75, 0.45, 0.2), (0.95, 0.85, 0.7)), ((0.5, 0.55, 0.85), (0.6, 0.8, 1.0)),
                      ((0.6, 0.6, 0.6), (0.85, 0.85, 0.85))])
    img = _vgrad(h, w, *sky)
    cloud = np.clip(_smooth_noise(rng, h, w, w / 5, 1.5) - 0.3, 0, 1)
    _lay(img, cloud * np.linspace(1, 0.2, h)[:, None], (0.97, 0.97, 0.97), 0.8, multiply=False)
    hy = _u(rng, 0.35, 0.7) * h
    xs = np.arange(w)
    sea = rng.random() < 0.35
    prof = hy + (0 if sea else 1) * _smooth_noise(rng, 1, w, w / 4, 0.12 * h)[0]
    ground = (np.arange(h)[:, None] >= prof[None, :]).astype(np.float32)
    if sea:
        g = np.clip(rng.standard_normal((h, w)).astype(np.float32), -2, 2)
        g = cv2.GaussianBlur(g, (31, 1), 0)
        low = _vgrad(h, w, (0.55, 0.4, 0.15), (0.45, 0.3, 0.1)) * (1 + 0.25 * g[..., None])
    else:
        col = _pick(rng, [(0.2, 0.5, 0.3), (0.25, 0.45, 0.55), (0.5, 0.7, 0.8), (0.3, 0.6, 0.45)])
        low = paper(rng, h, w, col, grain=4.0) * _vgrad(h, w, (0.8,) * 3, (1.1,) * 3)
    img = img * (1 - ground[..., None]) + low * ground[..., None]
    del xs
    return np.clip(img, 0, 1)


def _keyboard(rng, h, w):
    body = np.array(_pick(rng, [(0.15, 0.15, 0.16), (0.8, 0.8, 0.8), (0.55, 0.55, 0.57)]),
                    np.float32)
    keycol = np.clip(body + (0.12 if body[0] < 0.5 else -0.1), 0, 1)
    label = (0.9, 0.9, 0.9) if body[0] < 0.5 else (0.1, 0.1, 0.1)
    rows = ["QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM"]
    kw = w / _u(rng, 4.5, 9.0)
    img = paper(rng, h, w, body, grain=1.0)
    x0, y0 = _u(rng, -2.0, 0.2) * kw, _u(rng, -1.5, 0.2) * kw
    gap = kw * 0.1
    for r, letters in enumerate(rows + [" "]):
        y = y0 + r * kw
        for i, ch in enumerate(letters):
            x = x0 + (r * 0.3 + i) * kw
            k = kw * (5 if ch == " " else 1) - gap
            if ch == " ":
                x = x0 + 2.5 * kw
            m = np.zeros((h, w), np.uint8)
            cv2.rectangle(m, (int(x), int(y)), (int(x + k), int(y + kw - gap)), 255, -1)
            _lay(img, m, keycol, 1.0, multiply=False)
            if ch != " " and 0 <= x < w and 0 <= y < h:
                t = hershey_mask(ch, cv2.FONT_HERSHEY_SIMPLEX, 40, 0.08)
                tm = _place(t, (h, w), x + kw * 0.3, y + kw * 0.3, kw * 0.28 / 40, 0)
                _lay(img, tm, label, 0.9, multiply=False)
    return img


def _bookshelf(rng, h, w):
    img = paper(rng, h, w, (0.12, 0.15, 0.2), grain=1.0)
    shelves = int(rng.integers(2, 4))
    sh = h / shelves
    for s in range(shelves):
        base = (s + 1) * sh - sh * 0.08
        cv2.rectangle(img, (0, int(base)), (w, int((s + 1) * sh)), (0.25, 0.4, 0.55), -1)
        x = _u(rng, 0, 0.05) * w
        while x < w:
            bw = _u(rng, 0.025, 0.07) * w
            bh = _u(rng, 0.6, 0.9) * sh * 0.92
            col = tuple(float(v) for v in rng.uniform(0.1, 0.8, 3))
            cv2.rectangle(img, (int(x), int(base - bh)), (int(x + bw), int(base)), col, -1)
            for f in (0.12, 0.85):
                yb = int(base - bh * f)
                cv2.line(img, (int(x + 1), yb), (int(x + bw - 1), yb), (0.3, 0.75, 0.85),
                         max(1, int(bw * 0.08)))
            cv2.line(img, (int(x + bw), int(base - bh)), (int(x + bw), int(base)),
                     (0.05, 0.05, 0.05), 1)
            x += bw + (_u(rng, 0.0, 0.03) * w if rng.random() < 0.2 else 1)
    return img


def _leaves(rng, h, w):
    img = paper(rng, h, w, (0.05, 0.2, 0.1), grain=2.0)
    for _ in range(int(rng.integers(50, 120))):
        L = _u(rng, 0.1, 0.3) * max(h, w)
        t = np.linspace(0, 1, 24)
        half = np.sin(np.pi * t) ** 0.8 * L * _u(rng, 0.18, 0.3)
        pts = np.concatenate([np.stack([t * L, half], 1), np.stack([t * L, -half], 1)[::-1]])
        a = _u(rng, 0, 2 * np.pi)
        r = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        c = np.array([_u(rng, -0.1, 1.1) * w, _u(rng, -0.1, 1.1) * h])
        pts = pts @ r.T + c
        m = np.zeros((h, w), np.uint8)
        _fill(m, pts)
        col = (_u(rng, 0.05, 0.25), _u(rng, 0.35, 0.75), _u(rng, 0.1, 0.4))
        _lay(img, m, col, 1.0, multiply=False)
        v = np.zeros((h, w), np.uint8)
        _polyline(v, np.array([[0, 0], [L, 0]]) @ r.T + c, max(1, L / 60))
        _lay(img, v, (0.35, 0.75, 0.6), 0.6, multiply=False)
    return img


def _face(rng, h, w):
    img = _vgrad(h, w, rng.uniform(0.3, 0.9, 3), rng.uniform(0.2, 0.8, 3))
    skin = np.array(_pick(rng, [(0.6, 0.72, 0.92), (0.45, 0.58, 0.8), (0.25, 0.35, 0.5),
                                (0.55, 0.7, 0.85)]), np.float32)
    hair = tuple(float(v) for v in _pick(rng, [(0.05, 0.07, 0.1), (0.1, 0.25, 0.45),
                                               (0.3, 0.6, 0.8), (0.5, 0.5, 0.5)]))
    s = min(h, w)
    cx, cy = w / 2 + _u(rng, -0.05, 0.05) * w, h / 2 + _u(rng, -0.02, 0.05) * h
    fw, fh = s * _u(rng, 0.22, 0.3), s * _u(rng, 0.3, 0.38)
    ii = _ii
    cv2.ellipse(img, (ii(cx), ii(cy + fh * 1.6)), (ii(fw * 2), ii(fh * 0.8)), 0, 180, 360,
                tuple(float(v) for v in rng.uniform(0.1, 0.8, 3)), -1, cv2.LINE_AA)
    cv2.rectangle(img, (ii(cx - fw * 0.35), ii(cy + fh * 0.5)), (ii(cx + fw * 0.35), ii(cy + fh)),
                  tuple(float(v) for v in skin * 0.85), -1)
    cv2.ellipse(img, (ii(cx), ii(cy - fh * 0.1)), (ii(fw * 1.12), ii(fh * 1.08)), 0, 0, 360, hair,
                -1, cv2.LINE_AA)
    for sx in (-1, 1):
        cv2.ellipse(img, (ii(cx + sx * fw), ii(cy)), (ii(fw * 0.15), ii(fh * 0.2)), 0, 0, 360,
                    tuple(float(v) for v in skin * 0.9), -1, cv2.LINE_AA)
    cv2.ellipse(img, (ii(cx), ii(cy)), (ii(fw), ii(fh)), 0, 0, 360,
                tuple(float(v) for v in skin), -1, cv2.LINE_AA)
    cv2.ellipse(img, (ii(cx), ii(cy - fh * 0.75)), (ii(fw * 1.02), ii(fh * 0.4)), 0, 180, 360,
                hair, -1, cv2.LINE_AA)
    for sx in (-1, 1):
        ex, ey = cx + sx * fw * 0.4, cy - fh * 0.12
        cv2.ellipse(img, (ii(ex), ii(ey)), (ii(fw * 0.2), ii(fh * 0.08)), 0, 0, 360,
                    (0.95, 0.95, 0.95), -1, cv2.LINE_AA)
        cv2.circle(img, (ii(ex), ii(ey)), ii(fh * 0.07), tuple(float(v) for v in
                                                               rng.uniform(0.05, 0.5, 3)), -1,
                   cv2.LINE_AA)
        cv2.line(img, (ii(ex - fw * 0.22), ii(ey - fh * 0.16)),
                 (ii(ex + fw * 0.22), ii(ey - fh * 0.19 + sx * fh * 0.02)), hair,
                 max(2, ii(fh * 0.04)), cv2.LINE_AA)
    cv2.line(img, (ii(cx), ii(cy - fh * 0.05)), (ii(cx - fw * 0.08), ii(cy + fh * 0.3)),
             tuple(float(v) for v in skin * 0.7), max(1, ii(fh * 0.025)), cv2.LINE_AA)
    cv2.ellipse(img, (ii(cx), ii(cy + fh * 0.45)), (ii(fw * 0.35), ii(fh * 0.12)), 0, 10, 170,
                (0.3, 0.3, 0.6), max(2, ii(fh * 0.04)), cv2.LINE_AA)
    return np.clip(img, 0, 1)


def _window(rng, h, w):
    wall = rng.uniform(0.5, 0.9, 3)
    img = paper(rng, h, w, wall, grain=1.5)
    x0, x1 = _u(rng, 0.15, 0.3) * w, _u(rng, 0.7, 0.85) * w
    y0, y1 = _u(rng, 0.08, 0.2) * h, _u(rng, 0.75, 0.9) * h
    ii = _ii
    sky = _vgrad(ii(y1 - y0), ii(x1 - x0), (0.85, 0.6, 0.35), (0.95, 0.9, 0.85))
    if rng.random() < 0.6:  # a tree or a building outside
        m = np.zeros(sky.shape[:2], np.uint8)
        cv2.circle(m, (ii(sky.shape[1] * _u(rng, 0.2, 0.8)), ii(sky.shape[0] * 0.9)),
                   ii(sky.shape[0] * _u(rng, 0.3, 0.6)), 255, -1)
        _lay(sky, m, (0.2, 0.45, 0.25), 1.0, multiply=False)
    img[ii(y0):ii(y0) + sky.shape[0], ii(x0):ii(x0) + sky.shape[1]] = sky
    frame = tuple(float(v) for v in _pick(rng, [(0.95, 0.95, 0.95), (0.2, 0.3, 0.4),
                                                 (0.3, 0.3, 0.3)]))
    t = max(3, ii(min(h, w) * 0.025))
    cv2.rectangle(img, (ii(x0), ii(y0)), (ii(x1), ii(y1)), frame, t)
    nx, ny = int(rng.integers(1, 4)), int(rng.integers(1, 3))
    for i in range(1, nx):
        x = x0 + (x1 - x0) * i / nx
        cv2.line(img, (ii(x), ii(y0)), (ii(x), ii(y1)), frame, max(2, t // 2))
    for j in range(1, ny):
        y = y0 + (y1 - y0) * j / ny
        cv2.line(img, (ii(x0), ii(y)), (ii(x1), ii(y)), frame, max(2, t // 2))
    cv2.rectangle(img, (ii(x0 - 2 * t), ii(y1)), (ii(x1 + 2 * t), ii(y1 + 1.5 * t)),
                  tuple(float(v) * 0.9 for v in frame), -1)
    cur = np.array(rng.uniform(0.2, 0.9, 3), np.float32)
    xs = np.arange(w, dtype=np.float32)
    folds = 0.8 + 0.2 * np.sin(xs / max(4.0, w / 60))
    for a, b in ((0, x0 + _u(rng, -0.05, 0.1) * w), (x1 - _u(rng, -0.05, 0.1) * w, w)):
        a, b = int(max(0, a)), int(min(w, b))
        if b > a:
            img[:, a:b] = cur * folds[a:b, None]
    return np.clip(img, 0, 1)


SCENES = {"horizon": _horizon, "keyboard": _keyboard, "bookshelf": _bookshelf,
          "leaves": _leaves, "face": _face, "window": _window}


def kind_photo_crop(rng, h, w, clean):
    """A crop of a synthetic scene (always fills the view)."""
    name = _pick(rng, list(SCENES))
    img = SCENES[name](rng, h, w).astype(np.float32)
    if name != "face" and rng.random() < 0.5:  # a crop: zoom into part of it
        z = _u(rng, 1.1, 1.6)
        ch, cw = int(h / z), int(w / z)
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        img = cv2.resize(img[y:y + ch, x:x + cw], (w, h), interpolation=cv2.INTER_LINEAR)
    return img, None, name, True


def _bleed(rng, h, w):
    """Faint mirrored writing from the other side of the sheet: float mask (h, w)."""
    m = np.zeros((h, w), np.uint8)
    lines = int(rng.integers(2, 7))
    for k in range(lines):
        words = " ".join(_pick(rng, CURSIVE_WORDS) for _ in range(int(rng.integers(1, 4))))
        strokes = cursive(rng, words.replace(" ", ""), 10.0)
        y = (k + 1) / (lines + 1) * h
        box = (w * _u(rng, 0.08, 0.2), y - h * 0.04, w * _u(rng, 0.5, 0.92), y + h * 0.04)
        m = np.maximum(m, draw_strokes((h, w), strokes, max(1.0, h / 300), rng, box))
    m = m[:, ::-1]
    return cv2.GaussianBlur(m.astype(np.float32) / 255, (0, 0), _u(rng, 1.5, 3.5) * h / 500)


BLANK_FEATURES = ("fold", "shadow", "stain", "staple", "bleed_through")


def kind_blank(rng, h, w, clean):
    """A page with nothing written on it: a ruling and one or more marks of a real page."""
    ruling = _pick(rng, ["plain", "ruled", "squared", "dotted"])
    if clean:
        img, name, _ink = _clean_canvas(rng, h, w)
        dark = name.endswith("dark")
        line = (0.3, 0.3, 0.3) if dark else (0.8, 0.75, 0.7)
        if ruling == "plain" or ruling == "ruled":
            ruling = "squared"
        if ruling == "squared":
            _grid(img, rng, _u(rng, 0.03, 0.07) * max(h, w), line)
        else:
            _dots(img, rng, _u(rng, 0.03, 0.06) * max(h, w), line, max(1.0, max(h, w) / 400))
        return img, None, f"{name}/{ruling}", True
    fill = rng.random() < 0.6
    if fill:
        hh, ww = h, w
    else:
        hh, ww = (h, int(h * 0.71)) if rng.random() < 0.6 else (int(w * 0.71), w)
    img = paper(rng, hh, ww, _pick(rng, [PAPERS["white"], PAPERS["cream"], PAPERS["grey"],
                                         PAPERS["yellow"]]), grain=_u(rng, 1.0, 3.0))
    if ruling == "ruled":
        _ruled(img, rng)
    elif ruling == "squared":
        _grid(img, rng, _u(rng, 0.03, 0.05) * max(hh, ww), (0.8, 0.7, 0.55))
    elif ruling == "dotted":
        _dots(img, rng, _u(rng, 0.03, 0.05) * max(hh, ww), (0.6, 0.6, 0.6), max(1.0, hh / 500))
    n = 1 if ruling != "plain" and rng.random() < 0.3 else int(rng.integers(1, 3))
    feats = sorted(str(f) for f in rng.choice(BLANK_FEATURES, n, replace=False))
    ys, xs = np.mgrid[0:hh, 0:ww].astype(np.float32)
    for f in feats:
        if f == "fold":
            a = _u(rng, -0.3, 0.3) + (np.pi / 2 if rng.random() < 0.5 else 0)
            d = (xs - ww / 2) * math.sin(a) + (ys - hh / 2) * math.cos(a) - _u(rng, -0.2, 0.2) * hh
            side = np.where(d > 0, _u(rng, 0.9, 0.96), 1.0).astype(np.float32)
            crease = 1 - 0.08 * np.exp(-(d / max(1.0, hh / 400)) ** 2)
            img *= (side * crease)[..., None]
        elif f == "shadow":
            a = _u(rng, 0, 2 * np.pi)
            d = (xs - ww / 2) * math.cos(a) + (ys - hh / 2) * math.sin(a) - _u(rng, 0, 0.3) * ww
            img *= (1 - _u(rng, 0.2, 0.45) / (1 + np.exp(-d / (0.05 * max(hh, ww)))))[..., None]
        elif f == "stain":
            r = _u(rng, 0.06, 0.14) * max(hh, ww)
            cx, cy = _u(rng, 0.15, 0.85) * ww, _u(rng, 0.15, 0.85) * hh
            blob = (np.hypot((xs - cx) / r, (ys - cy) / (r * _u(rng, 0.6, 1.0)))
                    + _smooth_noise(rng, hh, ww, r / 2, 0.4)) < 1
            blob = cv2.GaussianBlur(blob.astype(np.float32), (0, 0), r * 0.05)
            _lay(img, blob, (0.55, 0.7, 0.85), _u(rng, 0.3, 0.6))
        elif f == "staple":
            cx, cy = _pick(rng, [(0.1, 0.08), (0.9, 0.08)])
            cx, cy = cx * ww, cy * hh
            L = 0.07 * max(hh, ww)
            a = math.radians(_u(rng, 25, 65) * (1 if cx < ww / 2 else -1))
            p0 = (cx - L / 2 * math.cos(a), cy + L / 2 * math.sin(a))
            p1 = (cx + L / 2 * math.cos(a), cy - L / 2 * math.sin(a))
            t = max(2.0, 0.008 * max(hh, ww))
            m = np.zeros((hh, ww), np.uint8)
            _polyline(m, [p0, p1], t)
            _lay(img, m, (0.55, 0.55, 0.57), 1.0, multiply=False)
            hi = np.zeros((hh, ww), np.uint8)
            _polyline(hi, [p0, p1], max(1.0, t / 3))
            _lay(img, hi, (0.9, 0.9, 0.92), 0.8, multiply=False)
        else:
            _lay(img, _bleed(rng, hh, ww), (0.45, 0.4, 0.4), _u(rng, 0.07, 0.16))
    alpha = None if fill else rounded_rect_mask(hh, ww, 2)
    return np.clip(img, 0, 1), alpha, f"{ruling}/{'+'.join(feats)}", fill


KIND_FUNCS = {"print_letter": kind_print_letter, "hand_word": kind_hand_word,
              "glyph_symbol": kind_glyph_symbol, "icon": kind_icon, "scribble": kind_scribble,
              "pattern": kind_pattern, "photo_crop": kind_photo_crop, "blank": kind_blank}


# ------------------------------------------------------------------ camera, scanner, screen

ASPECTS = (1.0, 4 / 3, 3 / 4, 3 / 2, 2 / 3, 16 / 9, 9 / 16)


def frame_size(rng):
    """(height, width) of an output picture: 300-900 px on the long side, a common aspect."""
    long = int(rng.integers(300, 901))
    ar = _pick(rng, ASPECTS)
    return (round(long / ar), long) if ar >= 1 else (long, round(long * ar))


def _light(rng, img):
    """Uneven light and a colour cast in linear RGB; returns sRGB-ish float32 in [0, 1]."""
    h, w = img.shape[:2]
    lin = np.power(np.clip(img, 0, 1), 2.2)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xn, yn = xs / w - 0.5, ys / h - 0.5
    field = _u(rng, 0.75, 1.15) * (1 + _u(rng, -0.5, 0.5) * xn + _u(rng, -0.5, 0.5) * yn)
    field *= 1 - _u(rng, 0.0, 0.6) * (xn ** 2 + yn ** 2)
    if rng.random() < 0.3:  # the phone's or the hand's shadow from one edge
        a = _u(rng, 0, 2 * np.pi)
        d = xn * math.cos(a) + yn * math.sin(a) - _u(rng, 0.1, 0.4)
        field *= 1 - _u(rng, 0.25, 0.55) / (1 + np.exp(-d / _u(rng, 0.01, 0.06)))
    if rng.random() < 0.2:  # a flash hot spot
        cx, cy, s = _u(rng, -0.2, 0.2), _u(rng, -0.2, 0.2), _u(rng, 0.12, 0.3)
        field += _u(rng, 0.3, 0.8) * np.exp(-((xn - cx) ** 2 + (yn - cy) ** 2) / (2 * s * s))
    gains = np.array(_pick(rng, [(1, 1, 1), (0.8, 0.95, 1.12), (1.12, 1.0, 0.9),
                                 (0.95, 1.05, 0.95)]), np.float32) * rng.uniform(0.96, 1.04, 3)
    lin = lin * field[..., None] * gains.astype(np.float32)
    return np.power(np.clip(lin, 0, 1), 1 / 2.2).astype(np.float32)


def _sensor(rng, img, a_rng=(0.0003, 0.003), b_rng=(1e-5, 2e-4)):
    """Poisson-Gaussian noise: variance a * y + b (Foi et al. 2008)."""
    a, b = _u(rng, *a_rng), _u(rng, *b_rng)
    std = np.sqrt(a * img + b).astype(np.float32)
    return np.clip(img + std * rng.standard_normal(img.shape).astype(np.float32), 0, 1)


def photo(rng, subj, alpha, fill, H, W):
    """A phone photo of ``subj`` (float32 (h, w, 3)) in an (H, W) frame: uint8 BGR, table name."""
    hs, ws = subj.shape[:2]
    mismatch = (ws / hs) / (W / H)
    fill = fill and max(mismatch, 1 / mismatch) < 1.3  # else it lies on a table, all in view
    ang = float(np.clip(rng.normal(0, 7), -20, 20))
    if fill:
        s = max(W / ws, H / hs) * _u(rng, 1.03, 1.2) * (1 + 0.8 * abs(math.sin(math.radians(ang))))
        jit, shift = 0.03, 0.03
    else:
        s = min(W / ws, H / hs) * _u(rng, 0.5, 0.9)
        jit, shift = 0.07, 0.08
    if s < 0.8:  # shrink first (area averaging) so the warp does not alias
        k = min(1.0, s * 1.25)
        subj = cv2.resize(subj, (max(2, int(ws * k)), max(2, int(hs * k))),
                          interpolation=cv2.INTER_AREA)
        if alpha is not None:
            alpha = cv2.resize(alpha, (subj.shape[1], subj.shape[0]), interpolation=cv2.INTER_AREA)
        s /= subj.shape[1] / ws
        hs, ws = subj.shape[:2]
    src = np.array([[0, 0], [ws, 0], [ws, hs], [0, hs]], np.float32)
    a = math.radians(ang)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], np.float32)
    dst = (src - [ws / 2, hs / 2]) * s @ rot.T
    dst += [W / 2 + _u(rng, -shift, shift) * W, H / 2 + _u(rng, -shift, shift) * H]
    dst += rng.normal(0, jit * s * max(ws, hs) / 2, (4, 2)).astype(np.float32)
    M = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    if fill:
        img = cv2.warpPerspective(subj, M, (W, H), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REFLECT_101)
        where = "view"
    else:
        bg, where = table(rng, H, W)
        bg = cv2.GaussianBlur(bg, (0, 0), _u(rng, 0.5, 2.5))
        am = np.full((hs, ws), 255, np.uint8) if alpha is None else alpha
        aw = cv2.warpPerspective(am, M, (W, H), flags=cv2.INTER_LINEAR).astype(np.float32) / 255
        off = np.float32([[1, 0, _u(rng, -0.02, 0.02) * W], [0, 1, _u(rng, 0.0, 0.03) * H]])
        sh = cv2.GaussianBlur(cv2.warpAffine(aw, off, (W, H)), (0, 0), _u(rng, 0.005, 0.02) * W)
        bg *= (1 - _u(rng, 0.2, 0.5) * sh)[..., None]
        fg = cv2.warpPerspective(subj, M, (W, H), flags=cv2.INTER_LINEAR)
        img = bg * (1 - aw[..., None]) + fg * aw[..., None]
    img = _light(rng, img)
    if rng.random() < 0.15:  # a short motion blur (the hand moved)
        n = int(rng.integers(3, 10))
        k = np.zeros((n, n), np.float32)
        cv2.line(k, (0, int(rng.integers(0, n))), (n - 1, int(rng.integers(0, n))), 1.0, 1)
        img = cv2.filter2D(img, -1, k / k.sum())
    else:
        img = cv2.GaussianBlur(img, (0, 0), _u(rng, 0.3, 1.6) * max(H, W) / 600)
    img = _sensor(rng, img)
    soft = cv2.GaussianBlur(img, (0, 0), 1.0)
    img = np.clip(img + _u(rng, 0.2, 0.8) * (img - soft), 0, 1)
    return (img * 255 + 0.5).astype(np.uint8), where


def scan(rng, subj, alpha, H, W):
    """A flatbed scan of ``subj``: uint8 BGR (grey sometimes).

    An object with an ``alpha`` outline lies on the bed in an (H, W) frame; a sheet (alpha None)
    is scanned in a frame of its own shape whose long side is max(H, W).
    """
    hs, ws = subj.shape[:2]
    if alpha is None:  # a sheet: the scanner crops the frame to the sheet's shape
        long = max(H, W)
        H, W = (round(long * hs / ws), long) if ws >= hs else (long, round(long * ws / hs))
    bed = paper(rng, H, W, (0.97, 0.97, 0.97), grain=0.3)
    s = min(W / ws, H / hs) * (_u(rng, 0.8, 0.97) if rng.random() < 0.7 else _u(rng, 1.0, 1.1))
    if s < 0.8:
        subj = cv2.resize(subj, (max(2, int(ws * s)), max(2, int(hs * s))),
                          interpolation=cv2.INTER_AREA)
        if alpha is not None:
            alpha = cv2.resize(alpha, (subj.shape[1], subj.shape[0]), interpolation=cv2.INTER_AREA)
        s, hs, ws = 1.0, subj.shape[0], subj.shape[1]
    m = cv2.getRotationMatrix2D((ws / 2, hs / 2), _u(rng, -2, 2), s)
    m[0, 2] += W / 2 - ws / 2
    m[1, 2] += H / 2 - hs / 2
    am = np.full((hs, ws), 255, np.uint8) if alpha is None else alpha
    aw = cv2.warpAffine(am, m, (W, H)).astype(np.float32)[..., None] / 255
    img = bed * (1 - aw) + cv2.warpAffine(subj, m, (W, H)) * aw
    white = np.percentile(img, 97)
    img = np.clip(img * (0.98 / max(white, 0.3)), 0, 1) ** _u(rng, 0.85, 1.0)
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), _u(rng, 0.3, 0.7))
    img = _sensor(rng, img, (0.00005, 0.0003), (1e-6, 2e-5))
    out = (img * 255 + 0.5).astype(np.uint8)
    if rng.random() < 0.3:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return out


def screen_chrome(rng, img):
    """A drawing app's toolbar over the top of a canvas (in place)."""
    h, w = img.shape[:2]
    bar = max(18, int(h * _u(rng, 0.06, 0.09)))
    dark = img[h // 2:, :].mean() < 0.4
    img[:bar] = (0.2, 0.2, 0.21) if dark else (0.93, 0.93, 0.94)
    img[bar:bar + 1] = (0.35, 0.35, 0.35) if dark else (0.75, 0.75, 0.75)
    x = bar * 0.3
    for _ in range(int(rng.integers(3, 7))):
        m = np.zeros((h, w), np.uint8)
        cv2.rectangle(m, (int(x), int(bar * 0.2)), (int(x + bar * 0.6), int(bar * 0.8)), 255, -1)
        _lay(img, m, (0.55, 0.55, 0.58), 1.0, multiply=False)
        x += bar * 0.9
    for c in APP_INKS[:int(rng.integers(2, 6))]:
        cv2.circle(img, (int(w - x * 0.2 - bar * 0.5), bar // 2), int(bar * 0.3), c, -1,
                   cv2.LINE_AA)
        x += bar * 3
    return img


def make_picture(rng, kind):
    """One picture of ``kind``: (uint8 BGR image, extension, variant, presentation)."""
    H, W = frame_size(rng)
    r = rng.random()
    pres = "photo" if r < 0.6 else "scan" if r < 0.8 else "screen"
    fn = KIND_FUNCS[kind]
    if pres == "screen":
        img, _alpha, variant, _fill = fn(rng, H, W, True)
        if img.shape[:2] != (H, W):
            img = cv2.resize(img, (W, H), interpolation=cv2.INTER_AREA)
        if rng.random() < 0.4:
            screen_chrome(rng, img)
        return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), "png", variant, pres
    k = _u(rng, 0.9, 1.3)
    img, alpha, variant, fill = fn(rng, int(H * k), int(W * k), False)
    if pres == "scan":
        return scan(rng, img, alpha, H, W), "png" if rng.random() < 0.4 else "jpg", variant, pres
    out, _where = photo(rng, img, alpha, fill, H, W)
    return out, "jpg", variant, pres


# ----------------------------------------------------------------------------- command line

class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2
        sys.stderr.write(f"make_non_digits_c.py: error: {message}\n")
        raise SystemExit(2)


def _fail(message: str) -> int:
    sys.stderr.write(f"make_non_digits_c.py: error: {message}\n")
    return 2


def main(argv=None) -> int:
    parser = _Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder to write (must be empty)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same files")
    parser.add_argument("--per-kind", type=int, default=40, help="pictures per kind")
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help="comma-separated, from: " + ",".join(KINDS))
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the pictures of a non-empty --out")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if not kinds or unknown:
        return _fail(f"--kinds {args.kinds!r}: unknown {unknown or 'empty'}; "
                     f"choose from {','.join(KINDS)}")
    if not 1 <= args.per_kind <= 1000:
        return _fail(f"--per-kind {args.per_kind}: must be in [1, 1000]")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return _fail(f"--out {str(out)!r} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not args.overwrite:
            return _fail(f"--out {str(out)!r} is not empty; pass --overwrite to replace its "
                         "pictures")
        for p in out.iterdir():
            if p.is_file() and ((p.name.startswith("ndc_") and p.suffix in (".jpg", ".png"))
                                or p.name == "index.csv"):
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for kind in kinds:
        for i in range(args.per_kind):
            rng = picture_rng(args.seed, kind, i)
            img, ext, variant, pres = make_picture(rng, kind)
            name = f"ndc_{kind}_{i:03d}.{ext}"
            params = [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(50, 93)) if pres == "photo"
                      else int(rng.integers(70, 96))] if ext == "jpg" else \
                [cv2.IMWRITE_PNG_COMPRESSION, 6]
            ok, buf = cv2.imencode("." + ext, img, params)
            if not ok:
                return _fail(f"cannot encode {name}")
            (out / name).write_bytes(buf.tobytes())
            rows.append((name, kind, variant, pres))
    with open(out / "index.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "kind", "variant", "presentation"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} pictures to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
