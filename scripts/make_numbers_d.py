"""Generate photos, faxes and webcam frames of whole numbers, fourth generator: a held-out set.

An independent companion of ``scripts/make_numbers.py`` (A), ``make_numbers_b.py`` (B) and
``make_numbers_c.py`` (C), for measuring ``cnn predict``'s number reader on pictures nobody tuned
it on. It shares no rendering code with them (nor with ``make_hard_photos.py`` /
``make_phone_photos.py``; only the set's file layout, ``number_set_files.py``, with C) and uses
other ideas: a writer who re-sizes and re-slants every digit and a pen whose width is
set by a signed distance field and a pressure profile, on surfaces the others do not have, seen
by a pinhole camera posed in 3-D, a webcam, or a fax machine. Never train or tune on these
pictures: they are made from the MNIST *test* set, and the whole set is held out (the folder's
``held_out.txt`` lists every condition, which ``benchmarks/read_numbers.py`` reads).

How a picture is made:

1. **Digits.** 2-6 MNIST *test* digits (``x_test``), drawn at random from all of them.
2. **Writer** (one per number; ``write_number``). Every digit is cropped to its ink and mapped
   by its own affine map: its height is the writer's digit height times a log-normal factor
   (sd 6 %) and a size trend along the line (-8..8 %), its width the writer's hand width
   (0.85-1.2) with its own jitter, its slant the writer's slant (-8..18 degrees, a shear) plus
   3 degrees of jitter, and a small own rotation. Digits are set by their ink boxes with a
   per-writer spacing (6-40 % of the digit height, jittered), on a baseline that random-walks
   (3 % of the height a digit); the line is turned by -4..4 degrees.
3. **Pen.** The digit's outline becomes a signed distance field (positive in the ink). The pen
   moves that outline so the strokes take the pen's half-width (ballpoint 3.3-4.5 %, gel 4-5.5 %,
   felt 5.5-7.5 %, marker 7.5-10 % of the digit height), modulated by a **pressure** field: a
   smooth random field over the digit plus a term that is larger on down-strokes (where the
   outline's normal is horizontal). The outline is taken where the ink reaches half of its
   neighbourhood's peak, so faint thin MNIST strokes count, and a stroke never loses its ridge
   (it stays at least 1.8 px wide). The ink's density follows the pressure (a ballpoint is
   paler where it is pressed lightly and skips in places); on absorbent surfaces the ink
   **bleeds** along the fibres. Ink is a dye: it multiplies the surface's reflectance by its
   transmittance.
4. **Scene** (below), in linear light: the number spans 12-65 % of the frame's width (per
   condition), leaving the room the scene needs around it; digits are at least 24 px tall and
   3.5 % of the frame's long side (webcam 30 px, fax 40 px), so the number is readable when the
   whole picture is seen at once.
5. **Camera** (``photograph``): a pinhole camera posed in 3-D (pitch and yaw up to 14-22
   degrees, roll -4..4, focal length 0.8-1.4 frame widths) about the number, so the plane's
   homography follows from the pose; lens barrel distortion and lateral chromatic aberration
   (webcam); a point light above the surface (inverse-square and cosine falloff) plus ambient
   light, and cos^4 lens vignetting; defocus by a disc kernel and hand shake by a random-walk
   kernel, both below 60 % of the stroke width; auto exposure; photon (Poisson) and read noise
   for the condition's full-well capacity, blotchy chroma noise (webcam); white-balance error;
   sRGB with a tone curve, unsharp-mask sharpening, JPEG at quality 40-95. Frames are 640-2000
   px on the long side (``--max-width``), the webcam's 640 x 480.
   The fax (``fax_machine``) instead skews the page, samples it at fax resolution (standard
   mode halves the rows), thresholds it to 1 bit with a noisy threshold, adds speckle, dropped
   rows and scanner streaks (never across the number) and saves a PNG; the photocopier adds
   toner dust and the dark edge of its lid.

==========  ======================================================================================
tag         condition
==========  ======================================================================================
crumpled    a sheet crumpled and smoothed again, or folded in two or four: crease lines and
            facets shade the page (Lambertian, one light) and bend the writing a little
coloured    a sheet of coloured construction paper (yellow, pink, blue, green, orange, lilac,
            teal) with dark fibre flecks, often filling the frame, else on a table; felt pen,
            gel or marker ink that bleeds into the fibres
spiral      a spiral notebook page: the punched holes with the wire coil, the micro-perforation,
            a red margin line, sometimes faint blue rules with the number sitting on one
clipboard   a sheet on a clipboard (hardboard or plastic) with its metal clip, a printed heading
            (letters only) and a thumb holding a corner of the sheet, never over the number
fax         a fax (standard or fine mode) or 1-bit photocopy of a page: binarised, speckle,
            dropped rows, scanner streaks, a printed header (letters only); PNG, grey-scale
webcam      a 640 x 480 webcam frame of a sheet held up in a room: close-focus blur, barrel
            distortion, colour fringes, chroma noise, over-sharpening, JPEG 40-60
cardboard   a cardboard box: corrugation ripples, fibre, stains, an edge of the box, packing
            tape with a glossy highlight (clear tape may run over the number), marker written
            on the board or on a stuck-on paper label
planner     a planner / wall-calendar month grid: printed grid lines, weekday header band,
            small printed day numbers in the cells' corners (never part of the label, at least
            0.8 digit heights from the handwriting), the number written in one cell
receipt     ballpoint on a thermal-paper receipt: faded printed lines (letters only) above and
            below, a curled strip on a table, a serrated tear edge
==========  ======================================================================================

Printed text is never part of the label: the label is the handwritten digit string. Files are
named ``<label>_<tag>_<nnn>.jpg`` (``.png`` for the fax) and listed in ``index.csv`` with the
columns ``file,condition,label,mnist_test_indices`` (the indices space-separated, in writing
order); ``held_out.txt`` lists every condition, one a line. Each picture has its own random
stream seeded by (seed, condition, number): the same seed gives the same bytes, and choosing
fewer conditions does not change the others. Usage::

    python scripts/make_numbers_d.py --out /tmp/numbers_d [--seed 0] [--per-condition 25]
        [--conditions crumpled,fax] [--min-digits 2] [--max-digits 6] [--data mnist.npz]
        [--max-width 2000] [--overwrite]

The data path is ``--data``, else ``$CNN_MNIST_DATA``, else ``/work/shared/data/mnist.npz``.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy.ndimage import maximum_filter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from number_set_files import prepare_out, write_set  # noqa: E402

CONDITIONS = ("crumpled", "coloured", "spiral", "clipboard", "fax", "webcam", "cardboard",
              "planner", "receipt")
DEFAULT_DATA = "/work/shared/data/mnist.npz"
MIN_SIZE = 640        # shortest allowed long side of a frame, px


# ----------------------------------------------------------------------------- small helpers

def _lin(srgb) -> np.ndarray:
    """An sRGB colour (0-255, shape (3,) or (..., 3)) as float32 linear light in [0, 1]."""
    return (np.asarray(srgb, np.float32) / 255.0) ** 2.2


def _pick(rng: np.random.Generator, items):
    """One element of a list, chosen by the picture's stream."""
    return items[int(rng.integers(len(items)))]


def _fractal(rng: np.random.Generator, shape, beta: float = 2.5, side: int = 192) -> np.ndarray:
    """Smooth 1/f^beta noise (spectral synthesis), float32 (H, W), zero mean, unit sd.

    Made on a grid of at most ``side`` px and resized, so its features scale with the shape."""
    k = side / max(shape)
    sh = (max(8, int(shape[0] * k)), max(8, int(shape[1] * k)))
    fy = np.fft.fftfreq(sh[0])[:, None]
    fx = np.fft.rfftfreq(sh[1])[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spec = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) / f ** (beta / 2)
    spec[0, 0] = 0
    field = np.fft.irfft2(spec, sh).astype(np.float32)
    field = cv2.resize(field, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return (field - field.mean()) / max(float(field.std()), 1e-6)


def _grain(rng: np.random.Generator, shape, sigma: float) -> np.ndarray:
    """Fine white noise blurred by ``sigma`` px, float32 (H, W), unit sd (paper fibre, toner)."""
    g = rng.standard_normal(shape).astype(np.float32)
    if sigma > 0.2:
        g = cv2.GaussianBlur(g, (0, 0), sigma)
    return g / max(float(g.std()), 1e-6)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


def _capsule(shape, a, b, r_a: float, r_b: float) -> tuple[np.ndarray, np.ndarray]:
    """A tapered capsule from point a (radius r_a) to b (radius r_b), both (x, y).

    Returns:
        float32 coverage (H, W) in [0, 1] (anti-aliased) and the relative distance from the
        axis (0 on it, 1 at the edge), used for the finger's rounded shading.
    """
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    t = np.clip(((xx - ax) * dx + (yy - ay) * dy) / max(dx * dx + dy * dy, 1e-6), 0, 1)
    d = np.hypot(xx - ax - t * dx, yy - ay - t * dy)
    r = r_a + (r_b - r_a) * t
    return np.clip(r - d + 0.5, 0, 1), np.clip(d / r, 0, 1)


def _spot(rng: np.random.Generator, region, w: int, h: int, pad=(0, 0, 0, 0)) -> tuple[int, int]:
    """Top-left (x, y) of a w x h box inside region (x0, y0, x1, y1), keeping ``pad`` px (left,
    top, right, bottom) free; centred where the region is too small. Beta(2, 2) spread."""
    lo_x, hi_x = region[0] + pad[0], region[2] - pad[2] - w
    lo_y, hi_y = region[1] + pad[1], region[3] - pad[3] - h
    x = lo_x + (hi_x - lo_x) * rng.beta(2, 2) if hi_x > lo_x else (region[0] + region[2] - w) / 2
    y = lo_y + (hi_y - lo_y) * rng.beta(2, 2) if hi_y > lo_y else (region[1] + region[3] - h) / 2
    return int(x), int(y)


def _ink_on(page: np.ndarray, alpha: np.ndarray, x: int, y: int, colour, strength=1.0) -> None:
    """Dye ``alpha`` (h, w) in [0, 1] onto ``page`` (H, W, 3) in place at top-left (x, y):
    reflectance *= 1 - alpha * strength * (1 - transmittance). ``colour`` is sRGB 0-255."""
    t = _lin(colour)
    h, w = alpha.shape
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, page.shape[1]), min(y + h, page.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[y0 - y:y1 - y, x0 - x:x1 - x, None] * strength
    page[y0:y1, x0:x1] *= 1 - a * (1 - t)


# ----------------------------------------------------------------------------- printed text

FONT_FILES = {
    "sans": ("DejaVuSans.ttf", "LiberationSans-Regular.ttf"),
    "bold": ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf"),
    "mono": ("DejaVuSansMono.ttf", "LiberationMono-Regular.ttf"),
    "serif": ("DejaVuSerif.ttf", "LiberationSerif-Regular.ttf"),
    "narrow": ("LiberationSansNarrow-Regular.ttf", "DejaVuSansCondensed.ttf"),
}


@functools.lru_cache(maxsize=256)
def _font(kind: str, size: int):
    for name in FONT_FILES[kind]:
        for path in (name, f"/usr/share/fonts/truetype/dejavu/{name}",
                     f"/usr/share/fonts/truetype/liberation/{name}"):
            try:
                return ImageFont.truetype(path, size)
            except OSError:
                continue
    try:
        return ImageFont.load_default(size)          # Pillow >= 10.1: a scalable font
    except TypeError:
        return ImageFont.load_default()


def text_mask(text: str, cap_px: float, kind: str = "sans") -> np.ndarray:
    """Printed text (a TrueType font through Pillow) as a float32 (h, w) coverage in [0, 1].

    Args:
        text: the string; cap_px: height of its capital letters in px; kind: a FONT_FILES key.
    Returns:
        the text's coverage, cropped so that row 0 is the top of the capitals.
    """
    size = max(6, round(cap_px / 0.72))
    font = _font(kind, size)
    left, _, right, bottom = font.getbbox(text)
    _, cap_top, _, _ = font.getbbox("H")
    img = Image.new("L", (max(1, right - left) + 4, max(1, bottom - cap_top) + 4), 0)
    ImageDraw.Draw(img).text((2 - left, 2 - cap_top), text, fill=255, font=font)
    return np.asarray(img, np.float32) / 255.0


# ----------------------------------------------------------------------------- writer and pen

# pen: half-width range (fraction of the digit height), pressure gain, down-stroke weight,
# density range, skipping, minimum half-width px
PENS = {
    "ballpoint": {"half": (0.033, 0.045), "gain": 0.35, "down": 0.10, "density": (0.8, 0.95),
                  "skip": 0.2},
    "gel": {"half": (0.040, 0.055), "gain": 0.25, "down": 0.15, "density": (0.85, 1.0),
            "skip": 0.1},
    "felt": {"half": (0.055, 0.075), "gain": 0.20, "down": 0.30, "density": (0.85, 1.0),
             "skip": 0.0},
    "marker": {"half": (0.075, 0.1), "gain": 0.15, "down": 0.35, "density": (0.93, 1.0),
               "skip": 0.0},
}


def _digit_map(digit: np.ndarray, height: float, width_scale: float, slant: float,
               turn: float) -> tuple[np.ndarray, float]:
    """One MNIST digit cropped to its ink and mapped by its own affine map (height, hand
    width, slant shear in degrees, rotation in degrees). Returns the float32 grey map in
    [0, 1] (1 = ink) and the scale in px per MNIST px. Specks apart from the strokes (at most
    3 x 3 MNIST px, or faint and under 15 px) are dropped: the pen would turn them into dots a
    reader takes for a point."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats((digit >= 30).astype(np.uint8),
                                                               connectivity=8)
    area = stats[:, cv2.CC_STAT_AREA]
    side = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    stroke = [k for k in range(1, count) if (area[k] > 8 or side[k] > 3)
              and (area[k] >= 15 or digit[labels == k].max() >= 128)]
    keep = np.isin(labels, stroke)
    if keep.any():
        digit = digit * cv2.dilate(keep.astype(np.uint8), np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero(digit >= 30)
    crop = np.pad(digit[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.float32)
                  / 255.0, 2)
    s = height / (crop.shape[0] - 4)
    shear = np.tan(np.deg2rad(slant))
    a = np.deg2rad(turn)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    lin = rot @ np.array([[s * width_scale, -shear * s], [0.0, s]])
    corners = np.array([[0, 0], [crop.shape[1], 0], [0, crop.shape[0]],
                        [crop.shape[1], crop.shape[0]]], np.float64) @ lin.T
    lo, hi = corners.min(0), corners.max(0)
    m = np.hstack([lin, -lo[:, None] + 1]).astype(np.float64)
    size = (int(np.ceil(hi[0] - lo[0])) + 3, int(np.ceil(hi[1] - lo[1])) + 3)
    out = cv2.warpAffine(crop, m, size, flags=cv2.INTER_CUBIC)
    return np.clip(out, 0, 1), s


def pen_stroke(rng: np.random.Generator, grey: np.ndarray, scale: float, height: float,
               pen: dict) -> np.ndarray:
    """Re-ink one mapped digit with a pen: its outline moved to the pen's half-width.

    Args:
        grey: float32 (h, w) in [0, 1], the mapped MNIST digit (1 = ink).
        scale: px per MNIST px (for the smoothing); height: the digit's height, px.
        pen: {"half": half-width as a fraction of the height, "gain", "down", "density",
            "skip"} (one draw from a PENS entry, see ``_draw_pen``).
    Returns:
        float32 (h, w) ink opacity in [0, 1].
    """
    g = cv2.GaussianBlur(grey, (0, 0), max(0.5, 0.3 * scale))
    # a faint thin stroke is still a stroke: judge the ink against its neighbourhood's peak
    peak = maximum_filter(g, size=2 * int(round(3 * scale)) + 1)
    g = g / np.maximum(peak, 0.35)
    inside = (g > 0.5).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inside, connectivity=8)
    islands = [k for k in range(1, count) if stats[k, cv2.CC_STAT_AREA] < 3 * scale * scale]
    if islands and len(islands) < count - 1:            # crumbs of a faint mark, not strokes
        inside[np.isin(labels, islands)] = 0
    d_in = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    d_out = cv2.distanceTransform(1 - inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    sdf = np.where(inside > 0, d_in - 0.5, 0.5 - d_out)
    r = int(round(1.6 * scale))
    disk = np.hypot(*np.mgrid[-r:r + 1, -r:r + 1]) <= r + 0.5
    ridge = maximum_filter(d_in, footprint=disk)          # the half-width of the stroke here
    typical = float(np.median(d_in[(inside > 0) & (d_in >= ridge - 0.01)]))
    # outside the ink, the half-width of the nearest stroke
    _, near = cv2.distanceTransformWithLabels(1 - inside, cv2.DIST_L2, 5,
                                              labelType=cv2.DIST_LABEL_PIXEL)
    ridge = np.where(inside > 0, ridge, np.concatenate([[0], ridge[inside > 0]])[near])
    ridge = cv2.GaussianBlur(ridge.astype(np.float32), (0, 0), max(0.5, 0.35 * scale))
    # pressure: a smooth field plus more weight on down-strokes (horizontal outline normal)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    down = cv2.GaussianBlur(gx * gx / (gx * gx + gy * gy + 1e-4), (0, 0), max(1.0, scale))
    pressure = np.clip(0.5 + 0.25 * _fractal(rng, g.shape, 3.0, 32)
                       + pen["down"] * (down - 0.5) * 2, 0, 1)
    half = pen["half"] * height * (1 + pen["gain"] * (pressure - 0.5) * 2)
    half = np.maximum(half, 0.9)
    # every stroke takes the pen's width (its local ridge moves to the pen's half-width); a
    # filled blob (ridge well above the digit's typical one) only shrinks, it stays a blob
    shift = half - np.minimum(ridge, 1.3 * typical)
    cov = np.clip(sdf + shift + 0.5, 0, 1)
    cov = cv2.GaussianBlur(cov, (0, 0), 0.45)
    density = rng.uniform(*pen["density"]) * (0.8 + 0.2 * pressure)
    if pen["skip"] > 0:
        streak = cv2.GaussianBlur(rng.standard_normal(g.shape).astype(np.float32), (0, 0),
                                  max(0.6, 0.25 * scale))
        streak /= max(float(streak.std()), 1e-6)
        density *= 1 - pen["skip"] * _smoothstep(streak - 1.0)
    return (cov * density).astype(np.float32)


def _draw_pen(rng: np.random.Generator, kind: str) -> dict:
    """One pen of a kind: its half-width drawn from the range, the rest as in PENS."""
    spec = PENS[kind]
    return {"half": rng.uniform(*spec["half"]), "gain": spec["gain"], "down": spec["down"],
            "density": spec["density"], "skip": spec["skip"]}


def _bleed(rng: np.random.Generator, alpha: np.ndarray, radius: float) -> np.ndarray:
    """Ink spreading into absorbent paper: a feathered halo along random fibres."""
    fibres = _grain(rng, alpha.shape, 0.7)
    spread = cv2.GaussianBlur(alpha, (0, 0), radius)
    halo = _smoothstep((spread * (1 + 0.5 * fibres) - 0.12) / 0.3) * alpha.max() * 0.85
    return np.maximum(alpha, halo.astype(np.float32))


def write_number(rng: np.random.Generator, digits: list[np.ndarray], dh: float, pen: dict,
                 bleed: float = 0.0) -> np.ndarray:
    """Write MNIST digits as one handwritten line by a random writer with a given pen.

    Args:
        rng: the writer's random stream (the same stream gives the same writer at any size).
        digits: 28 x 28 uint8 MNIST digits (0-255, white ink on black), in writing order.
        dh: the writer's digit height, px (>= 8).
        pen: one ``_draw_pen`` result.
        bleed: ink bleeding radius as a fraction of dh (0 = none).
    Returns:
        float32 ink opacity in [0, 1], shape (h, w): the line cropped to its ink plus a margin
        of 0.1 dh; h is about 1.1-1.4 dh, w about (0.7 n + 0.25 (n - 1)) dh for n digits.
    Method: module docstring, steps 2 and 3.
    """
    n = len(digits)
    slant = rng.uniform(-8, 18)
    hand = rng.uniform(0.85, 1.2)
    spacing = rng.uniform(0.06, 0.4)
    trend = rng.uniform(-0.08, 0.08)
    maps, bottoms, lefts = [], [], []
    base = 0.0
    x = 0.0
    for i, d in enumerate(digits):
        pos = i / max(n - 1, 1) - 0.5
        h = dh * np.exp(rng.normal(0, 0.06)) * (1 + trend * pos)
        grey, s = _digit_map(d, h, hand * np.exp(rng.normal(0, 0.05)),
                             slant + rng.normal(0, 3), rng.normal(0, 1.5))
        ink = pen_stroke(rng, grey, s, h, pen)
        cols = np.nonzero(ink.max(0) > 0.05)[0]
        rows = np.nonzero(ink.max(1) > 0.05)[0]
        ink = ink[:, cols[0]:cols[-1] + 1]
        if i:
            x += max(0.04, spacing + rng.normal(0, 0.05)) * dh
        base += rng.normal(0, 0.03 * dh) if i else 0.0
        maps.append(ink)
        lefts.append(x)
        bottoms.append(base - rows[-1])          # the ink's bottom row sits on the baseline
        x += ink.shape[1]
    margin = int(0.1 * dh) + 2
    top = min(bottoms)
    height = int(max(b + m.shape[0] for b, m in zip(bottoms, maps, strict=True)) - top) + 1
    canvas = np.zeros((height + 2 * margin, int(x) + 2 * margin + 1), np.float32)
    for m, b, left in zip(maps, bottoms, lefts, strict=True):
        y0, x0 = int(round(b - top)) + margin, int(round(left)) + margin
        region = canvas[y0:y0 + m.shape[0], x0:x0 + m.shape[1]]
        np.maximum(region, m[:region.shape[0], :region.shape[1]], out=region)
    if bleed > 0:
        canvas = _bleed(rng, canvas, max(0.6, bleed * dh))
    angle = rng.uniform(-4, 4)
    h, w = canvas.shape
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    nw = int(w * abs(rot[0, 0]) + h * abs(rot[0, 1])) + 2
    nh = int(w * abs(rot[0, 1]) + h * abs(rot[0, 0])) + 2
    rot[0, 2] += nw / 2 - w / 2
    rot[1, 2] += nh / 2 - h / 2
    canvas = np.clip(cv2.warpAffine(canvas, rot, (nw, nh), flags=cv2.INTER_LINEAR), 0, 1)
    ys, xs = np.nonzero(canvas > 0.03)
    return np.ascontiguousarray(canvas[max(ys.min() - margin, 0):ys.max() + margin + 1,
                                       max(xs.min() - margin, 0):xs.max() + margin + 1])


# ----------------------------------------------------------------------------- surfaces

def _table(rng: np.random.Generator, shape) -> np.ndarray:
    """A table top as linear reflectance (H, W, 3): wood grain, grey laminate or dark stone."""
    kind = int(rng.integers(3))
    if kind == 0:        # wood: a 1-D grain profile across the boards, gently warped
        a = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
        period = rng.uniform(0.006, 0.02) * max(shape)
        u = -xx * np.sin(a) + yy * np.cos(a) + 0.6 * period * _fractal(rng, shape, 4.5)
        u -= u.min()
        n = int(u.max()) + 2
        coarse = cv2.GaussianBlur(rng.standard_normal((1, n)).astype(np.float32), (0, 0),
                                  period / 3)[0]
        fine = cv2.GaussianBlur(rng.standard_normal((1, n)).astype(np.float32), (0, 0), 1.0)[0]
        coarse /= max(float(coarse.std()), 1e-6)
        fine /= max(float(fine.std()), 1e-6)
        profile = _smoothstep(0.5 + 0.35 * coarse) * 0.8 + 0.1 * fine
        rings = profile[u.astype(np.int32)]
        light = _lin(_pick(rng, [[196, 150, 102], [170, 120, 80], [214, 180, 140],
                                 [150, 100, 64]]))
        dark = light * rng.uniform(0.6, 0.8)
        out = light * (1 - rings[..., None]) + dark * rings[..., None]
    elif kind == 1:
        out = np.ones(shape + (3,), np.float32) * _lin(_pick(rng, [[200, 200, 196],
                                                                   [150, 152, 156],
                                                                   [228, 226, 220]]))
    else:
        out = np.ones(shape + (3,), np.float32) * _lin(_pick(rng, [[60, 60, 64], [48, 44, 40],
                                                                   [80, 86, 94]]))
    out *= (1 + 0.06 * _fractal(rng, shape) + 0.03 * _grain(rng, shape, 0.8))[..., None]
    return out.astype(np.float32)


def _paper(rng: np.random.Generator, shape, colour, fibre: float = 0.015) -> np.ndarray:
    """Paper of an sRGB colour with mottling and fibre: linear reflectance (H, W, 3)."""
    page = np.ones(shape + (3,), np.float32) * _lin(colour)
    page *= (1 + 0.02 * _fractal(rng, shape, 2.2) + fibre * _grain(rng, shape, 0.7))[..., None]
    return page


def _rect_mask(shape, box, soft: float = 0.7) -> np.ndarray:
    """Anti-aliased axis-aligned rectangle (x0, y0, x1, y1) as float32 (H, W) in [0, 1]."""
    yy = np.arange(shape[0], dtype=np.float32)[:, None]
    xx = np.arange(shape[1], dtype=np.float32)[None, :]
    mx = np.clip(np.minimum(xx - box[0], box[2] - xx) / soft + 0.5, 0, 1)
    my = np.clip(np.minimum(yy - box[1], box[3] - yy) / soft + 0.5, 0, 1)
    return (mx * my).astype(np.float32)


def _shadow_under(page: np.ndarray, mask: np.ndarray, offset, blur: float, depth: float):
    """Darken ``page`` in place by the soft shadow of ``mask`` shifted by offset (dx, dy)."""
    m = np.float32([[1, 0, offset[0]], [0, 1, offset[1]]])
    sh = cv2.warpAffine(mask, m, (mask.shape[1], mask.shape[0]))
    sh = cv2.GaussianBlur(sh, (0, 0), max(0.5, blur))
    page *= (1 - depth * sh)[..., None]


def _text_on(page: np.ndarray, text: str, x: float, y: float, cap: float, kind: str, colour,
             strength: float = 0.95, max_w: float | None = None) -> tuple[int, int]:
    """Print ``text`` with its capitals' top-left at (x, y), smaller if it would be wider than
    ``max_w`` px; returns the mask's (w, h)."""
    mask = text_mask(text, cap, kind)
    if max_w is not None and mask.shape[1] > max_w:
        mask = text_mask(text, max(5.0, cap * max_w / mask.shape[1]), kind)
    _ink_on(page, mask, int(x), int(y), colour, strength)
    return mask.shape[1], mask.shape[0]


SKIN = [[241, 194, 160], [224, 170, 136], [196, 134, 98], [150, 100, 70], [110, 72, 48]]


def _thumb(rng: np.random.Generator, page: np.ndarray, tip, direction, radius: float,
           keep_out) -> bool:
    """Paint a thumb (tapered, rounded, with a nail and a soft shadow) whose tip is at ``tip``
    and which comes from ``-direction``; refuses (returns False) if it would touch the box
    ``keep_out`` (x0, y0, x1, y1)."""
    shape = page.shape[:2]
    direction = np.asarray(direction, np.float32) / np.linalg.norm(direction)
    tip = np.asarray(tip, np.float32)
    base = tip - direction * 8 * radius
    cover, rel = _capsule(shape, tip, base, radius, radius * 1.35)
    x0, y0, x1, y1 = (int(v) for v in keep_out)
    if cover[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)].max(initial=0) > 0:
        return False
    _shadow_under(page, cover, (0.35 * radius, 0.45 * radius), 0.5 * radius, 0.45)
    skin = _lin(_pick(rng, SKIN))
    round_ = np.sqrt(1 - rel ** 2)
    flesh = skin * (0.55 + 0.5 * round_)[..., None]
    nail_c = tip - direction * 0.55 * radius
    nail, _ = _capsule(shape, nail_c + direction * 0.25 * radius,
                       nail_c - direction * 0.35 * radius, 0.55 * radius, 0.6 * radius)
    flesh = flesh * (1 - 0.6 * nail[..., None]) + (skin * 1.15 + 0.05) * 0.6 * nail[..., None]
    page *= (1 - cover)[..., None]
    page += flesh * cover[..., None]
    return True


# Every scene has one signature. Args: rng; ink: float32 (h, w) ink opacity in [0, 1] from
# ``write_number``; shape: the scene's (Hs, Ws), larger than the frame by a margin all round;
# frame: the frame's box (x0, y0, x1, y1) in scene px; dh: the digit height, px. Returns: the
# scene as float32 linear reflectance (Hs, Ws, 3) in [0, ~1.3] (gloss may exceed 1), with the
# number dyed in, and the number's box (x0, y0, x1, y1), inside the frame.

def scene_crumpled(rng, ink, shape, frame, dh):
    """A crumpled or folded sheet: (Hs, Ws, 3) reflectance, number box (see above)."""
    h, w = ink.shape
    paper = _pick(rng, [[246, 244, 238], [250, 250, 248], [234, 230, 218], [240, 240, 236]])
    page = _paper(rng, shape, paper)
    x, y = _spot(rng, frame, w, h, (0.5 * dh,) * 4)
    _ink_on(page, ink, x, y, _pick(rng, [[25, 45, 140], [30, 30, 36], [20, 30, 90]]))
    # height field on a coarse grid: folds (straight, through the number) or crumple creases
    step = 3
    small = (shape[0] // step + 1, shape[1] // step + 1)
    yy, xx = np.mgrid[0:small[0], 0:small[1]].astype(np.float32) * step
    cx, cy = x + w / 2, y + h / 2
    z = np.zeros(small, np.float32)
    if rng.random() < 0.45:            # folded in two or four, then opened
        for k in range(int(rng.integers(1, 4))):
            a = _pick(rng, [0.0, np.pi / 2, np.pi / 4, -np.pi / 4]) + rng.normal(0, 0.12)
            px = cx + rng.uniform(-0.3, 0.3) * w if k == 0 else rng.uniform(0, shape[1])
            py = cy + rng.uniform(-0.3, 0.3) * h if k == 0 else rng.uniform(0, shape[0])
            d = (xx - px) * -np.sin(a) + (yy - py) * np.cos(a)
            z += _pick(rng, [-1, 1]) * rng.uniform(0.1, 0.25) * np.sqrt(
                d * d + rng.uniform(1, 4) ** 2)
    else:                               # crumpled: many short creases, some near the number
        diag = float(np.hypot(*shape))
        for k in range(int(rng.integers(10, 24))):
            near = k < 5
            px = cx + rng.normal(0, w / 2) if near else rng.uniform(0, shape[1])
            py = cy + rng.normal(0, h) if near else rng.uniform(0, shape[0])
            a = rng.uniform(0, np.pi)
            length = rng.uniform(0.1, 0.5) * diag
            along = (xx - px) * np.cos(a) + (yy - py) * np.sin(a)
            across = (xx - px) * -np.sin(a) + (yy - py) * np.cos(a)
            env = np.exp(-np.maximum(np.abs(along) - length / 2, 0) ** 2 / (0.02 * length ** 2))
            reach = rng.uniform(0.04, 0.12) * diag
            soft = np.sqrt(across * across + rng.uniform(1, 3) ** 2)
            z += _pick(rng, [-1, 1]) * rng.uniform(0.15, 0.4) * reach * np.exp(-soft / reach) * env
        z += 0.004 * diag * _fractal(rng, small, 4.0)
    gy, gx = np.gradient(z, step)
    gx = cv2.resize(gx.astype(np.float32), (shape[1], shape[0]))
    gy = cv2.resize(gy.astype(np.float32), (shape[1], shape[0]))
    zz = cv2.resize(z, (shape[1], shape[0]))
    az, el = rng.uniform(0, 2 * np.pi), np.deg2rad(rng.uniform(35, 65))
    light = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], np.float32)
    lambert = np.maximum(-gx * light[0] - gy * light[1] + light[2], 0) / np.sqrt(
        gx * gx + gy * gy + 1)
    ambient = rng.uniform(0.35, 0.55)
    shade = np.clip(ambient + (1 - ambient) * lambert / light[2], 0.5, 1.25)
    # seen slightly obliquely, raised paper shifts: the writing kinks at the creases
    vx, vy = rng.uniform(-0.08, 0.08, 2)
    zc = zz - zz[int(min(cy, shape[0] - 1)), int(min(cx, shape[1] - 1))]
    gyy, gxx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    page = cv2.remap(page, (gxx + vx * zc).astype(np.float32),
                     (gyy + vy * zc).astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT)
    page *= shade[..., None]
    return page, (x, y, x + w, y + h)


CARD = [[250, 228, 100], [248, 178, 196], [158, 204, 238], [172, 222, 160], [250, 176, 104],
        [204, 182, 236], [255, 240, 150], [130, 200, 200]]


def scene_coloured(rng, ink, shape, frame, dh):
    """Coloured construction paper on a table: (Hs, Ws, 3) reflectance, number box."""
    h, w = ink.shape
    page = _table(rng, shape)
    x, y = _spot(rng, frame, w, h, (0.6 * dh,) * 4)
    pads = rng.uniform(1.0, 9.0, 4) * dh          # a sheet, often larger than the frame
    box = (x - pads[0], y - pads[1], x + w + pads[2], y + h + pads[3])
    card = _rect_mask(shape, box, 0.8)
    _shadow_under(page, card, (0.08 * dh, 0.1 * dh), 0.1 * dh, 0.4)
    colour = _pick(rng, CARD)
    sheet = _paper(rng, shape, colour, fibre=0.04)
    flecks = _smoothstep((_grain(rng, shape, 0.6) - 2.2) / 0.8)       # dark fibres in the card
    sheet *= (1 - 0.25 * flecks)[..., None]
    page = page * (1 - card[..., None]) + sheet * card[..., None]
    _ink_on(page, ink, x, y, _pick(rng, [[20, 20, 24], [20, 30, 100], [20, 80, 45],
                                         [70, 30, 110], [90, 30, 20]]))
    return page, (x, y, x + w, y + h)


def scene_spiral(rng, ink, shape, frame, dh):
    """A spiral notebook page, binding at the top or left: (Hs, Ws, 3) reflectance, box."""
    h, w = ink.shape
    side = "top" if rng.random() < 0.5 else "left"
    fx0, fy0, fx1, fy1 = frame
    # build the binding as if it were at the top (in transposed axes for "left")
    sh = shape if side == "top" else shape[::-1]
    f0, f1 = (fy0, fy1) if side == "top" else (fx0, fx1)
    edge = f0 + rng.uniform(0.02, 0.18) * (f1 - f0)
    pitch, hole_r = rng.uniform(0.75, 1.0) * dh, rng.uniform(0.17, 0.24) * dh
    hole_y = edge + 0.6 * dh
    desk = _table(rng, sh)
    page = _paper(rng, sh, _pick(rng, [[248, 248, 246], [246, 247, 250], [244, 242, 232]]))
    above = np.clip(edge - np.arange(sh[0], dtype=np.float32)[:, None] + 0.5, 0, 1)
    holes = np.zeros(sh, np.uint8)
    wire = np.zeros(sh, np.uint8)
    shine = np.zeros(sh, np.uint8)
    start = rng.uniform(0, pitch)
    thick = max(2, int(0.09 * dh))
    for cxh in np.arange(start, sh[1], pitch):
        c = (int(cxh), int(hole_y))
        cv2.circle(holes, c, int(hole_r), 255, -1, cv2.LINE_AA)
        top = (int(cxh + 0.25 * pitch), int(edge - 0.7 * dh))
        cv2.line(wire, c, top, 255, thick, cv2.LINE_AA)
        cv2.line(shine, c, top, 255, max(1, thick // 3), cv2.LINE_AA)
    holes_f = holes.astype(np.float32)[..., None] / 255
    page = page * (1 - holes_f) + desk * 0.6 * holes_f
    page = page * (1 - above[..., None]) + desk * above[..., None]
    perf = np.zeros(sh, np.uint8)
    py = int(edge + rng.uniform(1.05, 1.3) * dh)
    for xd in np.arange(0, sh[1], 0.12 * dh):
        cv2.line(perf, (int(xd), py), (int(xd + 0.05 * dh), py), 255, 1, cv2.LINE_AA)
    page *= (1 - 0.25 * perf.astype(np.float32) / 255)[..., None]
    _shadow_under(page, wire.astype(np.float32) / 255, (0.06 * dh, 0.08 * dh), 0.06 * dh, 0.5)
    metal = _lin(_pick(rng, [[150, 150, 155], [90, 90, 96], [200, 200, 205], [60, 60, 150]]))
    wf = wire.astype(np.float32)[..., None] / 255
    sf = shine.astype(np.float32)[..., None] / 255
    page = page * (1 - wf) + metal * wf
    page = page * (1 - sf) + np.minimum(metal * 2.5 + 0.2, 1) * sf
    if side == "left":
        page = np.ascontiguousarray(page.transpose(1, 0, 2))
    # margin line and rules in the picture's own axes
    clear = edge + 1.6 * dh                 # the number keeps below (or right of) this
    if side == "top":
        margin_x = fx0 + rng.uniform(0.05, 0.25) * (fx1 - fx0)
        region = (margin_x + 0.4 * dh, clear, fx1, fy1)
    else:
        margin_x = clear + rng.uniform(0.2, 1.2) * dh
        region = (margin_x + 0.4 * dh, fy0, fx1, fy1)
    x, y = _spot(rng, region, w, h, (0, 0, 0.4 * dh, 0.4 * dh))
    marks = np.zeros(shape, np.uint8)
    cv2.line(marks, (int(margin_x), 0), (int(margin_x), shape[0]), 255,
             max(1, int(0.035 * dh)), cv2.LINE_AA)
    if rng.random() < 0.4:
        cv2.line(marks, (int(margin_x + 0.08 * dh), 0), (int(margin_x + 0.08 * dh), shape[0]),
                 255, max(1, int(0.025 * dh)), cv2.LINE_AA)
    if side == "left":
        marks[:, :int(edge)] = 0
    else:
        marks[:int(edge), :] = 0
    _ink_on(page, marks.astype(np.float32) / 255, 0, 0, [220, 60, 70], 0.8)
    if rng.random() < 0.5:
        gap = rng.uniform(1.3, 1.7) * dh
        base = y + h - 0.12 * dh                # the number sits on a rule
        rules = np.zeros(shape, np.uint8)
        for ry in np.arange(base % gap, shape[0], gap):
            if (side == "top" and ry < clear - 0.3 * dh) or ry < 0:
                continue
            cv2.line(rules, (0, int(ry)), (shape[1], int(ry)), 255, max(1, int(0.025 * dh)),
                     cv2.LINE_AA)
        if side == "left":
            rules[:, :int(edge)] = 0
        _ink_on(page, rules.astype(np.float32) / 255, 0, 0, [120, 160, 220], 0.55)
    _ink_on(page, ink, x, y, _pick(rng, [[25, 45, 140], [30, 30, 36], [20, 30, 90],
                                         [30, 90, 50]]))
    return page, (x, y, x + w, y + h)


def scene_clipboard(rng, ink, shape, frame, dh):
    """A sheet on a clipboard, a thumb on a corner: (Hs, Ws, 3) reflectance, number box."""
    h, w = ink.shape
    fx0, fy0, fx1, fy1 = frame
    page = _table(rng, shape)
    # the number first, then a sheet and a board around it
    heading = rng.random() < 0.7
    x, y = _spot(rng, frame, w, h, (1.2 * dh, (3.2 if heading else 2.0) * dh, 1.2 * dh,
                                     1.0 * dh))
    sheet = (x - rng.uniform(1.0, 4.0) * dh, y - rng.uniform(1.8, 4.0) * dh - 1.2 * dh * heading,
             x + w + rng.uniform(1.0, 4.0) * dh, y + h + rng.uniform(1.0, 5.0) * dh)
    rim = rng.uniform(0.3, 0.8) * dh
    board = (sheet[0] - rim, sheet[1] - 1.5 * dh, sheet[2] + rim, sheet[3] + rim)
    board_m = _rect_mask(shape, board, 1.0)
    _shadow_under(page, board_m, (0.1 * dh, 0.15 * dh), 0.2 * dh, 0.5)
    if rng.random() < 0.6:      # hardboard
        surface = _paper(rng, shape, _pick(rng, [[150, 108, 70], [126, 90, 58], [170, 130, 88]]),
                         fibre=0.08)
    else:                       # plastic
        surface = np.ones(shape + (3,), np.float32) * _lin(
            _pick(rng, [[40, 70, 150], [30, 30, 34], [170, 40, 40], [90, 90, 96]]))
    page = page * (1 - board_m[..., None]) + surface * board_m[..., None]
    sheet_m = _rect_mask(shape, sheet, 0.8)
    _shadow_under(page, sheet_m, (0.03 * dh, 0.05 * dh), 0.05 * dh, 0.3)
    paper = _paper(rng, shape, _pick(rng, [[248, 248, 246], [250, 250, 250], [244, 242, 234]]))
    page = page * (1 - sheet_m[..., None]) + paper * sheet_m[..., None]
    if heading:
        words = _pick(rng, ["DELIVERY CHECK", "Stock count", "INSPECTION", "Sign-in sheet",
                            "Order form", "VISITOR LOG", "Meter reading", "Room check"])
        cap = rng.uniform(0.3, 0.45) * dh
        _text_on(page, words, sheet[0] + rng.uniform(0.5, 1.0) * dh, y - 1.4 * dh - cap, cap,
                 _pick(rng, ["bold", "sans", "serif"]), [30, 30, 30],
                 max_w=sheet[2] - sheet[0] - 1.2 * dh)
    # the clip at the top middle of the board
    cw = rng.uniform(3.0, 5.0) * dh
    ccx = (board[0] + board[2]) / 2 + rng.uniform(-1, 1) * dh
    c_top, c_bot = board[1] + 0.2 * dh, sheet[1] + rng.uniform(0.5, 0.9) * dh
    clip = _rect_mask(shape, (ccx - cw / 2, c_top, ccx + cw / 2, c_bot), 1.0)
    lever = np.zeros(shape, np.uint8)                   # the wire lever, folded down
    cv2.rectangle(lever, (int(ccx - 0.3 * cw), int(c_top + 0.15 * dh)),
                  (int(ccx + 0.3 * cw), int(c_bot - 0.15 * dh)), 255, max(2, int(0.1 * dh)),
                  cv2.LINE_AA)
    lever_f = lever.astype(np.float32) / 255
    _shadow_under(page, np.maximum(clip, lever_f), (0.1 * dh, 0.2 * dh), 0.12 * dh, 0.55)
    yy = np.arange(shape[0], dtype=np.float32)[:, None]
    ramp = np.clip((yy - c_top) / max(c_bot - c_top, 1), 0, 1)
    metal = _lin([200, 200, 206]) * (1.1 - 0.5 * ramp)[..., None]     # bent sheet metal
    page = page * (1 - clip[..., None]) + metal * clip[..., None]
    page = page * (1 - lever_f[..., None]) + _lin([110, 110, 116]) * lever_f[..., None]
    # a thumb over a corner of the sheet
    corners = [(sheet[0], sheet[1] + 1.5 * dh), (sheet[2], sheet[1] + 1.5 * dh),
               (sheet[0], sheet[3]), (sheet[2], sheet[3])]
    order = rng.permutation(4)
    keep = (x - 0.3 * dh, y - 0.3 * dh, x + w + 0.3 * dh, y + h + 0.3 * dh)
    for k in order:
        cx, cy = corners[k]
        out = np.array([-1 if k % 2 == 0 else 1, -1 if k < 2 else 1], np.float32)
        tip = (cx - out[0] * rng.uniform(0.6, 1.4) * dh, cy - out[1] * rng.uniform(0.4, 1.2) * dh)
        if not (fx0 < tip[0] < fx1 and fy0 < tip[1] < fy1):
            continue
        direction = -out + rng.normal(0, 0.3, 2)
        if _thumb(rng, page, tip, direction, rng.uniform(0.55, 0.8) * dh, keep):
            break
    _ink_on(page, ink, x, y, _pick(rng, [[25, 45, 140], [30, 30, 36], [20, 30, 90]]))
    return page, (x, y, x + w, y + h)


FAX_WORDS = ["FROM: ACCOUNTS DEPT", "TO: WAREHOUSE", "FAX MESSAGE", "PAGE ONE OF ONE",
             "URGENT - PLEASE CALL BACK", "ATTN: MR JONES", "RE: ORDER", "COVER SHEET",
             "FROM: CITY CLINIC", "TO: FRONT DESK"]


def scene_fax(rng, ink, shape, frame, dh):
    """The page that is faxed, before ``fax_machine``: (Hs, Ws, 3) reflectance, number box."""
    h, w = ink.shape
    fx0, fy0, fx1, fy1 = frame
    page = _paper(rng, shape, [250, 250, 250], fibre=0.01)
    cap = max(9.0, rng.uniform(0.011, 0.018) * (fx1 - fx0))
    ty = fy0 + rng.uniform(1.0, 3.0) * cap
    line = "   ".join(str(s) for s in rng.choice(FAX_WORDS, 3, replace=False))
    _text_on(page, line, fx0 + rng.uniform(0.3, 1.5) * dh, ty, cap, "mono", [10, 10, 10],
             max_w=fx1 - fx0 - 1.0 * dh)
    rule_y = int(ty + 2.2 * cap)
    page[rule_y:rule_y + max(1, int(0.04 * dh)), :] *= 0.1
    x, y = _spot(rng, (fx0, rule_y, fx1, fy1), w, h, (0.5 * dh, 0.8 * dh, 0.5 * dh, 0.5 * dh))
    if rng.random() < 0.6 and fy1 - (y + h) > 2.5 * dh:
        words = _pick(rng, ["Please confirm receipt.", "Thank you", "Regards", "Signed"])
        _text_on(page, words, x + rng.uniform(-1, 1) * dh, y + h + rng.uniform(1.2, 2.0) * dh,
                 cap * 1.2, _pick(rng, ["sans", "serif"]), [10, 10, 10])
    _ink_on(page, np.clip(ink * 1.25, 0, 1), x, y, [10, 10, 12])
    return page, (x, y, x + w, y + h)


def scene_webcam(rng, ink, shape, frame, dh):
    """A sheet held up in a blurred room: (Hs, Ws, 3) reflectance, number box."""
    h, w = ink.shape
    fx0, fy0, fx1, fy1 = frame
    wall = _lin(_pick(rng, [[200, 196, 186], [170, 180, 190], [220, 210, 190], [120, 110, 100]]))
    page = np.ones(shape + (3,), np.float32) * wall
    page *= (1 + 0.15 * _fractal(rng, shape, 3.5))[..., None]
    for _ in range(int(rng.integers(2, 6))):       # furniture, a window, a lamp: soft blocks
        bw, bh = rng.uniform(0.1, 0.5) * shape[1], rng.uniform(0.1, 0.6) * shape[0]
        bx, by = rng.uniform(0, shape[1] - bw), rng.uniform(0, shape[0] - bh)
        block = cv2.GaussianBlur(_rect_mask(shape, (bx, by, bx + bw, by + bh)), (0, 0),
                                 0.03 * max(shape))
        colour = _lin(_pick(rng, [[60, 50, 40], [120, 130, 150], [90, 110, 140], [140, 60, 50],
                                  [30, 30, 30], [170, 150, 120]]))
        page = page * (1 - block[..., None]) + colour * block[..., None]
    x, y = _spot(rng, frame, w, h, (1.0 * dh, 1.0 * dh, 1.0 * dh, 1.0 * dh))
    pads = rng.uniform(0.7, 2.5, 4) * dh
    sheet = (x - pads[0], y - pads[1], x + w + pads[2], y + h + pads[3])
    sm = _rect_mask(shape, sheet, 1.0)
    xx = np.arange(shape[1], dtype=np.float32)[None, :]
    bend = 1 - rng.uniform(0.0, 0.25) * (((xx - sheet[0]) / max(sheet[2] - sheet[0], 1)
                                          - rng.uniform(0.3, 0.7)) ** 2) * 4
    paper = _paper(rng, shape, _pick(rng, [[250, 250, 250], [246, 246, 240]]))
    paper *= np.clip(bend, 0.6, 1)[..., None]
    page = page * (1 - sm[..., None]) + paper * sm[..., None]
    keep = (x - 0.2 * dh, y - 0.2 * dh, x + w + 0.2 * dh, y + h + 0.2 * dh)
    for sx in (sheet[0], sheet[2]):               # thumbs on the sheet's lower side edges
        if rng.random() < 0.7:
            tip = (sx + (1 if sx == sheet[0] else -1) * rng.uniform(0.4, 0.9) * dh,
                   rng.uniform(y + h, sheet[3] + 0.5 * dh))
            _thumb(rng, page, tip, ((1 if sx == sheet[0] else -1), rng.uniform(-1.2, -0.3)),
                   rng.uniform(0.5, 0.8) * dh, keep)
    _ink_on(page, ink, x, y, _pick(rng, [[20, 20, 24], [20, 30, 110], [10, 60, 30]]))
    return page, (x, y, x + w, y + h)


def scene_cardboard(rng, ink, shape, frame, dh):
    """A cardboard box, marker on the board or a label, packing tape: (Hs, Ws, 3), box."""
    h, w = ink.shape
    fx0, fy0, fx1, fy1 = frame
    kraft = _pick(rng, [[196, 152, 104], [182, 140, 96], [206, 170, 124], [170, 128, 86]])
    page = _paper(rng, shape, kraft, fibre=0.06)
    page *= (1 - 0.08 * np.clip(_fractal(rng, shape, 2.0), 0, None))[..., None]      # stains
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    period = rng.uniform(0.15, 0.3) * dh
    t = yy if rng.random() < 0.5 else xx
    ripple = np.abs(np.sin(np.pi * t / period)) ** 0.7
    page *= (1 - rng.uniform(0.04, 0.09) * ripple)[..., None]
    on_label = rng.random() < 0.5
    pad = 1.0 * dh if on_label else 0.6 * dh
    x, y = _spot(rng, frame, w, h, (pad, pad, pad, pad))
    # an edge of the box: the other face, away from the number
    if rng.random() < 0.6:
        if rng.random() < 0.5:
            ex = _pick(rng, [x - rng.uniform(1.2, 3.0) * dh, x + w + rng.uniform(1.2, 3.0) * dh])
            face = (xx < ex) if ex < x else (xx > ex)
        else:
            ey = _pick(rng, [y - rng.uniform(1.2, 3.0) * dh, y + h + rng.uniform(1.2, 3.0) * dh])
            face = (yy < ey) if ey < y else (yy > ey)
        face_f = cv2.GaussianBlur(face.astype(np.float32), (0, 0), 1.0)
        page *= (1 - rng.uniform(0.15, 0.35) * face_f)[..., None]
    colour = _pick(rng, [[15, 15, 18], [20, 25, 80], [15, 15, 18]])
    if on_label:
        pads = rng.uniform(0.4, 1.0, 4) * dh
        box = (x - pads[0], y - pads[1], x + w + pads[2], y + h + pads[3])
        lm = _rect_mask(shape, box, 0.8)
        _shadow_under(page, lm, (0.04 * dh, 0.05 * dh), 0.05 * dh, 0.3)
        label = _paper(rng, shape, _pick(rng, [[250, 250, 248], [245, 245, 235], [252, 240, 200]]))
        page = page * (1 - lm[..., None]) + label * lm[..., None]
    _ink_on(page, ink, x, y, colour)
    # packing tape: across the number (clear only) or elsewhere
    across = rng.random() < 0.4
    vertical = rng.random() < 0.5
    tw = rng.uniform(0.9, 2.0) * dh
    if across:                  # wide enough to cover the whole number
        vertical = False
        tw = max(tw, h + 0.3 * dh)
        c = y + h / 2 + rng.uniform(-0.5, 0.5) * (tw - h - 0.2 * dh)
        clear = True
    else:
        lo, hi = (x, x + w) if vertical else (y, y + h)
        away = tw / 2 + rng.uniform(0.4, 2) * dh
        c = _pick(rng, [lo - away, hi + away])
        clear = rng.random() < 0.5
    u = (xx if vertical else yy) - c
    tape = np.clip(tw / 2 - np.abs(u) + 0.5, 0, 1)
    tint = _lin([238, 232, 212]) if clear else _lin([196, 150, 90])
    page *= (1 - tape[..., None] * (1 - tint))
    edge_line = np.exp(-((np.abs(u) - tw / 2) ** 2) / 2.0)
    page *= (1 - 0.25 * edge_line)[..., None]
    u0 = rng.uniform(-0.3, 0.3) * tw
    streaks = 0.6 + 0.4 * _fractal(rng, shape, 3.0).clip(-1.5, 1.5) / 1.5
    gloss = rng.uniform(0.08, 0.22) * np.exp(-((u - u0) ** 2) / (2 * (0.12 * tw) ** 2))
    page += (gloss * streaks * tape)[..., None]
    return page, (x, y, x + w, y + h)


WEEKDAYS = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]


def scene_planner(rng, ink, shape, frame, dh):
    """A month grid with printed day numbers, the number in one cell: (Hs, Ws, 3), box."""
    h, w = ink.shape
    page = _paper(rng, shape, _pick(rng, [[250, 250, 248], [248, 244, 234], [252, 252, 252]]))
    cap = rng.uniform(0.25, 0.35) * dh
    cw = max(w + rng.uniform(0.8, 2.4) * dh, 2.5 * dh)
    top_pad = 0.15 * dh + cap + rng.uniform(0.8, 1.2) * dh
    ch = top_pad + h + rng.uniform(0.3, 0.8) * dh
    lp = rng.uniform(0.4 * dh, max(0.41 * dh, cw - w - 0.4 * dh))
    x, y = _spot(rng, frame, w, h, (lp, top_pad, 0.3 * dh, 0.3 * dh))
    gx, gy = x - lp, y - top_pad               # the number's cell
    col, row = int(rng.integers(7)), int(rng.integers(5))
    left, top = gx - col * cw, gy - row * ch
    tint = _lin(_pick(rng, [[230, 236, 246], [246, 236, 230], [236, 244, 232]]))
    for k in (5, 6):                            # weekend columns tinted
        m = _rect_mask(shape, (left + k * cw, top, left + (k + 1) * cw, top + 6 * ch))
        page *= 1 - m[..., None] * (1 - tint)
    lines = np.zeros(shape, np.uint8)
    lw = max(1, int(0.03 * dh))
    for k in range(8):
        cv2.line(lines, (int(left + k * cw), int(top)), (int(left + k * cw), int(top + 6 * ch)),
                 255, lw, cv2.LINE_AA)
    for j in range(7):
        cv2.line(lines, (int(left), int(top + j * ch)), (int(left + 7 * cw), int(top + j * ch)),
                 255, lw, cv2.LINE_AA)
    grey = _pick(rng, [[150, 150, 150], [120, 130, 150], [170, 160, 150]])
    _ink_on(page, lines.astype(np.float32) / 255, 0, 0, grey, 0.9)
    band = _pick(rng, [[40, 80, 150], [170, 50, 50], [60, 120, 90], [60, 60, 60]])
    bh = 0.9 * dh
    _ink_on(page, _rect_mask(shape, (left, top - bh, left + 7 * cw, top)), 0, 0, band, 0.95)
    for k, day in enumerate(WEEKDAYS):
        mask = text_mask(day, 0.4 * dh, "bold")
        bx = int(left + k * cw + (cw - mask.shape[1]) / 2)
        by = int(top - bh / 2 - mask.shape[0] / 2)
        if 0 <= by and by + mask.shape[0] < shape[0] and 0 <= bx and bx + mask.shape[1] < shape[1]:
            region = page[by:by + mask.shape[0], bx:bx + mask.shape[1]]
            region += (0.95 - region) * mask[..., None]             # white letters
    first = int(rng.integers(0, 7))
    right = rng.random() < 0.4
    kind = _pick(rng, ["sans", "bold", "narrow"])
    for j in range(6):
        for k in range(7):
            day = j * 7 + k - first + 1
            if not 1 <= day <= 30:
                continue
            mask = text_mask(str(day), cap, kind)
            tx = left + k * cw + (cw - 0.15 * dh - mask.shape[1] if right else 0.15 * dh)
            _ink_on(page, mask, int(tx), int(top + j * ch + 0.15 * dh),
                    [200, 30, 40] if k == 6 else [40, 40, 40], 0.95)
    # a soft gloss from a ceiling light, away from the number
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    if rng.random() < 0.5:
        gxp, gyp = rng.uniform(0, shape[1]), rng.uniform(0, shape[0])
        if abs(gxp - (x + w / 2)) > w or abs(gyp - (y + h / 2)) > 2 * h:
            rad = rng.uniform(0.05, 0.15) * max(shape)
            page += (rng.uniform(0.1, 0.25) * np.exp(
                -((xx - gxp) ** 2 + (yy - gyp) ** 2) / (2 * rad * rad)))[..., None]
    _ink_on(page, ink, x, y, _pick(rng, [[25, 45, 140], [30, 30, 36], [150, 20, 30],
                                         [20, 90, 50]]))
    return page, (x, y, x + w, y + h)


RECEIPT_LINES = ["CORNER BAKERY", "FRESH MARKET", "CAFE LUNA", "HARDWARE STORE", "************",
                 "------------------------", "BREAD ........", "COFFEE LARGE", "MILK", "APPLES",
                 "SUBTOTAL", "TOTAL", "CARD PAYMENT", "CASH", "CHANGE", "THANK YOU",
                 "PLEASE COME AGAIN", "SERVED BY ANNA", "TAKE AWAY", "RECEIPT", "TIP ......",
                 "NO REFUNDS WITHOUT RECEIPT", "HAVE A NICE DAY"]


def scene_receipt(rng, ink, shape, frame, dh):
    """A curled thermal receipt with faded print on a table: (Hs, Ws, 3) reflectance, box."""
    h, w = ink.shape
    fx0, fy0, fx1, fy1 = frame
    page = _table(rng, shape)
    sw = w + rng.uniform(1.5, 4.0) * dh
    x, y = _spot(rng, frame, w, h, (0.8 * dh, 1.0 * dh, 0.8 * dh, 1.0 * dh))
    sx0 = x - rng.uniform(0.4, max(0.41, (sw - w) / dh - 0.4)) * dh
    sx1 = sx0 + sw
    # serrated tear edge above or below (or the strip runs out of the frame)
    tear_top = y - rng.uniform(2.5, 6.0) * dh if rng.random() < 0.5 else -1e9
    tear_bot = y + h + rng.uniform(2.5, 6.0) * dh if rng.random() < 0.5 else 1e9
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    tooth = 0.12 * dh
    saw = tooth * np.abs(((xx / tooth) % 2) - 1)
    strip = (np.clip(np.minimum(xx - sx0, sx1 - xx) + 0.5, 0, 1)
             * np.clip(yy - (tear_top + saw) + 0.5, 0, 1)
             * np.clip((tear_bot - saw) - yy + 0.5, 0, 1))
    _shadow_under(page, strip, (0.08 * dh, 0.1 * dh), 0.15 * dh, 0.45)
    paper = _paper(rng, shape, _pick(rng, [[246, 247, 244], [240, 242, 244], [248, 246, 238]]),
                   fibre=0.005)
    curl = rng.uniform(0.05, 0.2)
    paper *= (1 - curl * ((xx - (sx0 + sx1) / 2) / (sw / 2)) ** 2)[..., None]
    page = page * (1 - strip[..., None]) + paper * strip[..., None]
    # faded thermal print, letters only
    cap = rng.uniform(0.22, 0.3) * dh
    longest = max(len(t) for t in RECEIPT_LINES)
    cap = min(cap, cap * (sw - 0.6 * dh) / text_mask("M" * longest, cap, "mono").shape[1])
    step = 1.7 * cap
    fade = np.clip(0.55 + 0.25 * _fractal(rng, shape, 2.5), 0.15, 0.95)
    tone = np.zeros(shape, np.float32)
    for ty in np.concatenate([np.arange(y - 1.1 * dh - cap, max(tear_top + 0.3 * dh, 0), -step),
                              np.arange(y + h + 1.1 * dh, min(tear_bot - cap - 0.3 * dh,
                                                              shape[0]), step)]):
        if rng.random() < 0.15:
            continue
        mask = text_mask(_pick(rng, RECEIPT_LINES), cap, "mono")
        tx, ty_ = int(sx0 + 0.3 * dh), int(ty)
        if ty_ < 0 or ty_ + mask.shape[0] >= shape[0]:
            continue
        region = tone[ty_:ty_ + mask.shape[0], tx:tx + mask.shape[1]]
        np.maximum(region, mask[:region.shape[0], :region.shape[1]], out=region)
    page *= (1 - tone * fade * strip * 0.9)[..., None]
    page += (rng.uniform(0.0, 0.12) * np.exp(-((xx - rng.uniform(sx0, sx1)) / (0.3 * sw)) ** 2)
             * strip)[..., None]                 # the thermal coating's sheen
    _ink_on(page, ink, x, y, _pick(rng, [[25, 45, 140], [30, 30, 36], [20, 30, 90]]))
    return page, (x, y, x + w, y + h)


SCENES = {"crumpled": scene_crumpled, "coloured": scene_coloured, "spiral": scene_spiral,
          "clipboard": scene_clipboard, "fax": scene_fax, "webcam": scene_webcam,
          "cardboard": scene_cardboard, "planner": scene_planner, "receipt": scene_receipt}

# pens a writer may pick, and the ink's bleeding radius (fraction of the digit height)
WRITING = {"crumpled": (("ballpoint", "gel", "felt"), 0.0),
           "coloured": (("felt", "gel", "marker"), 0.015),
           "spiral": (("ballpoint", "gel", "felt"), 0.0),
           "clipboard": (("ballpoint", "gel", "felt"), 0.0),
           "fax": (("felt", "marker"), 0.0),
           "webcam": (("felt", "marker"), 0.0),
           "cardboard": (("marker", "felt"), 0.02),
           "planner": (("ballpoint", "gel", "felt"), 0.0),
           "receipt": (("ballpoint",), 0.0)}

# framing: the number's width as a fraction of the frame's (range), the smallest digit height
# (px) and the largest digit height as a fraction of the frame's height; ROOM: the space a scene
# needs beside and above/below the number, in digit heights (it caps the digit height)
FRAMING = {"webcam": (0.3, 0.65, 30, 0.3), "fax": (0.15, 0.5, 40, 0.25),
           "planner": (0.2, 0.5, 24, 0.22), "receipt": (0.25, 0.5, 26, 0.18),
           "clipboard": (0.15, 0.5, 24, 0.18)}
FRAMING_DEFAULT = (0.2, 0.6, 24, 0.3)
ROOM = {"spiral": (3.5, 3.8), "clipboard": (3.5, 5.0), "planner": (3.0, 4.0),
        "receipt": (2.6, 4.5), "fax": (1.2, 2.5), "webcam": (2.4, 2.6), "coloured": (2.0, 2.0),
        "cardboard": (2.5, 2.8), "crumpled": (1.5, 1.5)}

# camera: tilt (deg, pitch and yaw), roll (deg), focal length (frame widths), ambient share,
# light height (frame diagonals), defocus and shake (fractions of the stroke width), shake
# probability, full-well capacity (e-), read noise, chroma noise, barrel k1, lateral chromatic
# aberration (px at the corner), sharpening, tone-curve strength, JPEG quality, white balance
PHONE = {"tilt": 14, "roll": 4, "focal": (0.8, 1.4), "ambient": (0.35, 0.8),
         "light_h": (0.5, 2.0), "defocus": (0.0, 0.35), "shake": 0.25, "full_well": (400, 4000),
         "read": (0.001, 0.004), "chroma": (0.0, 0.0), "k1": (-0.02, 0.02), "ca": (0.0, 0.0),
         "sharpen": (0.0, 0.6), "tone": (0.0, 0.35), "jpeg": (50, 95), "wb": 0.05, "soft": 0.0}
CAMERAS = {c: PHONE for c in CONDITIONS}
CAMERAS["clipboard"] = {**PHONE, "tilt": 18}
CAMERAS["cardboard"] = {**PHONE, "tilt": 18, "ambient": (0.4, 0.85)}
CAMERAS["webcam"] = {**PHONE, "tilt": 20, "focal": (0.8, 1.1), "ambient": (0.5, 0.9),
                     "defocus": (0.25, 0.55), "shake": 0.4, "full_well": (60, 250),
                     "read": (0.004, 0.01), "chroma": (0.02, 0.05), "k1": (-0.15, -0.05),
                     "ca": (0.5, 1.2), "sharpen": (0.6, 1.4), "tone": (0.2, 0.5),
                     "jpeg": (40, 60), "wb": 0.12, "soft": 0.6}


# ----------------------------------------------------------------------------- camera

def _pose(rng, box, frame, shape, params):
    """A plane-to-image homography from a camera pose about the number's centre (which stays
    where the scene put it); retried with less tilt until the number and the frame fit."""
    fx0, fy0, fx1, fy1 = frame
    W, H = fx1 - fx0, fy1 - fy0
    cpx, cpy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    cix, ciy = cpx - fx0, cpy - fy0
    corners = np.float32([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]])
    frame_c = np.float32([[0, 0], [W, 0], [W, H], [0, H]])
    tilt = params["tilt"]
    for _ in range(8):
        pitch, yaw = np.deg2rad(rng.uniform(-tilt, tilt, 2))
        roll = np.deg2rad(rng.uniform(-params["roll"], params["roll"]))
        f = rng.uniform(*params["focal"]) * max(W, H)
        rx = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)],
                       [0, np.sin(pitch), np.cos(pitch)]])
        ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0],
                       [-np.sin(yaw), 0, np.cos(yaw)]])
        rz = np.array([[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0],
                       [0, 0, 1]])
        r = rz @ rx @ ry
        k = np.array([[f, 0, cix], [0, f, ciy], [0, 0, 1]])
        ext = np.column_stack([r[:, 0], r[:, 1], [0, 0, f]])
        centre = np.array([[1, 0, -cpx], [0, 1, -cpy], [0, 0, 1]])
        hom = k @ ext @ centre
        hom /= hom[2, 2]
        mapped = cv2.perspectiveTransform(corners[None], hom)[0]
        back = cv2.perspectiveTransform(frame_c[None], np.linalg.inv(hom))[0]
        fits = ((mapped[:, 0] > 0.03 * W).all() and (mapped[:, 0] < 0.97 * W).all()
                and (mapped[:, 1] > 0.03 * H).all() and (mapped[:, 1] < 0.97 * H).all())
        inside = ((back >= 0).all() and (back[:, 0] < shape[1]).all()
                  and (back[:, 1] < shape[0]).all())
        if fits and inside:
            return hom
        tilt *= 0.6
    return np.array([[1, 0, -fx0], [0, 1, -fy0], [0, 0, 1]], np.float64)


def _disc(radius: float) -> np.ndarray:
    """An anti-aliased disc kernel (defocus), float32, sums to 1."""
    n = int(np.ceil(radius)) + 1
    yy, xx = np.mgrid[-n:n + 1, -n:n + 1].astype(np.float32)
    k = np.clip(radius + 0.5 - np.hypot(xx, yy), 0, 1)
    return k / k.sum()


def _shake(rng: np.random.Generator, length: float) -> np.ndarray:
    """A hand-shake kernel: a random walk of total length ``length`` px, float32, sums to 1."""
    steps = rng.normal(0, 1, (12, 2)).cumsum(0)
    steps -= steps.mean(0)
    span = np.abs(np.diff(steps, axis=0)).sum() / 12 * 11
    steps *= length / max(span, 1e-6)
    n = int(np.ceil(np.abs(steps).max())) + 2
    k = np.zeros((2 * n + 1, 2 * n + 1), np.float32)
    pts = (steps + n).astype(np.int32)
    cv2.polylines(k, [pts.reshape(-1, 1, 2)], False, 1.0, 1, cv2.LINE_AA)
    return k / max(float(k.sum()), 1e-6)


def photograph(rng: np.random.Generator, page: np.ndarray, frame, box, params: dict,
               stroke_px: float) -> tuple[np.ndarray, int]:
    """Photograph a scene with a posed pinhole camera and a small-sensor pipeline.

    Args:
        page: float32 linear reflectance (Hs, Ws, 3) in [0, ~1.3] (gloss may exceed 1).
        frame: the frame's box (x0, y0, x1, y1) in scene px; the output is (y1-y0, x1-x0).
        box: the number's box in scene px; it stays inside the frame.
        params: one of CAMERAS.
        stroke_px: the pen's stroke width in frame px (bounds defocus and shake).
    Returns:
        uint8 BGR image (H, W, 3) and the JPEG quality to save it with.
    """
    fx0, fy0, fx1, fy1 = frame
    W, H = int(fx1 - fx0), int(fy1 - fy0)
    hom = _pose(rng, box, frame, page.shape[:2], params)
    img = cv2.warpPerspective(page, hom, (W, H), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    if params["k1"][1] != 0 or params["ca"][1] > 0:      # barrel distortion, colour fringes
        k1 = rng.uniform(*params["k1"])
        ca = rng.uniform(*params["ca"]) if params["ca"][1] > 0 else 0.0
        half = np.hypot(W, H) / 2
        u, v = (xx - W / 2) / half, (yy - H / 2) / half
        r2 = u * u + v * v
        chans = []
        for c, extra in enumerate((ca, 0.0, -ca)):
            g = (1 + k1 * r2) * (1 + extra / half)
            mx = (W / 2 + u * g * half).astype(np.float32)
            my = (H / 2 + v * g * half).astype(np.float32)
            chans.append(cv2.remap(np.ascontiguousarray(img[..., c]), mx, my,
                                   cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
        img = np.stack(chans, -1)
    # light: a point source above the surface, ambient, cos^4 vignetting
    diag = float(np.hypot(W, H))
    lx, ly = rng.uniform(-0.5, 1.5) * W, rng.uniform(-0.5, 1.5) * H
    lh = rng.uniform(*params["light_h"]) * diag
    point = lh / ((xx - lx) ** 2 + (yy - ly) ** 2 + lh * lh) ** 1.5
    bx, by = (box[0] + box[2]) / 2 - fx0, (box[1] + box[3]) / 2 - fy0
    point /= lh / ((bx - lx) ** 2 + (by - ly) ** 2 + lh * lh) ** 1.5
    ambient = rng.uniform(*params["ambient"])
    f = rng.uniform(*params["focal"]) * max(W, H)
    vignette = (f * f / ((xx - W / 2) ** 2 + (yy - H / 2) ** 2 + f * f)) ** 2
    light = (ambient + (1 - ambient) * np.minimum(point, 2.5)) * vignette
    img = img * light[..., None]
    # optics: defocus and hand shake, bounded by the stroke width
    if params["soft"] > 0:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.0) * params["soft"] + 0.3)
    radius = min(rng.uniform(*params["defocus"]) * stroke_px, 0.6 * stroke_px)
    if radius > 0.4:
        img = cv2.filter2D(img, -1, _disc(radius), borderType=cv2.BORDER_REFLECT)
    if rng.random() < params["shake"]:
        img = cv2.filter2D(img, -1, _shake(rng, rng.uniform(0.2, 0.6) * stroke_px),
                           borderType=cv2.BORDER_REFLECT)
    # exposure: the bright paper at ~0.75-0.9 linear
    lum = img.mean(2)
    ref = float(np.percentile(lum, 97))
    img = img * (rng.uniform(0.7, 0.9) / max(ref, 0.6))
    # sensor: photon noise for the full-well capacity, read noise, chroma blotches
    fw = rng.uniform(*params["full_well"])
    img = img + rng.standard_normal(img.shape).astype(np.float32) * np.sqrt(
        np.clip(img, 0, None) / fw + rng.uniform(*params["read"]) ** 2)
    if params["chroma"][1] > 0:
        blot = np.stack([_fractal(rng, (H, W), 1.2, 160) for _ in range(3)], -1)
        blot -= blot.mean(2, keepdims=True)
        img = img * (1 + rng.uniform(*params["chroma"]) * blot)
    img = img * (1 + rng.uniform(-params["wb"], params["wb"], 3)).astype(np.float32)
    # sRGB, tone curve, sharpening
    out = np.clip(img, 0, 1) ** (1 / 2.2)
    s = rng.uniform(*params["tone"])
    out = (1 - s) * out + s * _smoothstep(out)
    amount = rng.uniform(*params["sharpen"])
    if amount > 0.05:
        out = out + amount * (out - cv2.GaussianBlur(out, (0, 0), rng.uniform(0.8, 1.6)))
    img8 = np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)[..., ::-1]
    return np.ascontiguousarray(img8), int(rng.integers(params["jpeg"][0],
                                                        params["jpeg"][1] + 1))


def fax_machine(rng: np.random.Generator, page: np.ndarray, frame, box,
                dh: float) -> np.ndarray:
    """Send a page through a fax (or a 1-bit photocopier).

    Args:
        page: float32 linear reflectance (Hs, Ws, 3) in [0, 1].
        frame: the frame's box (x0, y0, x1, y1) in scene px; box: the number's box.
        dh: the digit height in px (sizes the streaks and speckle).
    Returns:
        uint8 grey image (H, W), values 0 or 255 (1 bit).
    """
    fx0, fy0, fx1, fy1 = frame
    W, H = int(fx1 - fx0), int(fy1 - fy0)
    grey = page.mean(2).astype(np.float32)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    rot = cv2.getRotationMatrix2D((cx, cy), rng.uniform(-2.5, 2.5), 1.0)
    rot[:, 2] -= (fx0, fy0)
    grey = cv2.warpAffine(grey, rot, (W, H), flags=cv2.INTER_AREA, borderValue=1.0)
    copier = rng.random() < 0.35
    standard = not copier and dh >= 48 and rng.random() < 0.6
    rows = 2 if standard else 1                           # standard mode: half the rows
    small = cv2.resize(grey, (W, (H + rows - 1) // rows), interpolation=cv2.INTER_AREA)
    level = rng.uniform(0.3, 0.45)
    noisy = small + 0.04 * rng.standard_normal(small.shape).astype(np.float32)
    noisy += 0.04 * _fractal(rng, small.shape, 2.0)
    if copier:                                            # toner dust
        noisy -= 0.5 * (_grain(rng, small.shape, 0.6) > 3.2)
    bits = noisy > level
    speck = rng.random(small.shape) < rng.uniform(1e-4, 8e-4)
    bits &= ~cv2.dilate(speck.astype(np.uint8), np.ones((2, 2), np.uint8)).astype(bool)
    for _ in range(int(rng.integers(0, 3))):              # dropped rows (transmission errors)
        r = int(rng.integers(small.shape[0]))
        bits[r:r + int(rng.integers(1, 3))] = True
    img = np.repeat(bits, rows, axis=0)[:H].astype(np.uint8) * 255
    bx0, bx1 = box[0] - fx0 - 0.5 * dh, box[2] - fx0 + 0.5 * dh
    for _ in range(int(rng.integers(0, 3))):              # streaks from dirt on the glass
        sx = rng.uniform(0, W)
        if bx0 - 4 < sx < bx1 + 4:
            continue
        width = int(rng.integers(1, 4))
        on = rng.random(H) < rng.uniform(0.7, 1.0)
        img[on, int(sx):int(sx) + width] = 0
    if copier and rng.random() < 0.6:                     # the lid's dark edge
        band = int(rng.uniform(0.01, 0.04) * W)
        if rng.random() < 0.5:
            img[:, :band] = 0
        else:
            img[:, W - band:] = 0
    return img


# ----------------------------------------------------------------------------- one picture

def frame_size(rng: np.random.Generator, condition: str, max_width: int) -> tuple[int, int]:
    """(width, height) of a frame: the long side log-uniform in [640, max_width], a common
    aspect (a portrait page for the fax, often portrait for the receipt); 640 x 480 for the
    webcam."""
    if condition == "webcam":
        return 640, 480
    long_side = float(np.exp(rng.uniform(np.log(MIN_SIZE), np.log(max_width))))
    if condition == "fax":
        aspect = _pick(rng, [1 / 1.294, 1 / 1.294, 4 / 3])
    elif condition == "receipt":
        aspect = _pick(rng, [3 / 4, 9 / 16, 4 / 3])
    else:
        aspect = _pick(rng, [4 / 3, 3 / 4, 3 / 2, 16 / 9, 9 / 16, 1.0])
    w, h = (long_side, long_side / aspect) if aspect >= 1 else (long_side * aspect, long_side)
    return int(w) // 2 * 2, int(h) // 2 * 2


def make_picture(rng: np.random.Generator, digits: list[np.ndarray], condition: str,
                 max_width: int = 2000) -> tuple[np.ndarray, str, int]:
    """One picture of the number written with ``digits`` under ``condition``.

    Args:
        rng: the picture's random stream (``picture_rng``).
        digits: 28 x 28 uint8 MNIST digits (0-255), in writing order.
        condition: one of CONDITIONS; max_width: the longest frame side allowed, px (>= 640).
    Returns:
        uint8 image, BGR (H, W, 3) or for the fax grey (H, W); its extension ("jpg" or
        "png"); the JPEG quality (0 for PNG). max(H, W) is in [640, max_width].
    """
    kinds, bleed = WRITING[condition]
    pen = _draw_pen(rng, _pick(rng, list(kinds)))
    writer_seed = int(rng.integers(2 ** 63))
    W, H = frame_size(rng, condition, max_width)
    f_lo, f_hi, min_dh, h_max = FRAMING.get(condition, FRAMING_DEFAULT)
    trial = write_number(np.random.default_rng(writer_seed), digits, 48.0, pen, bleed)
    per_dh = trial.shape[1] / 48.0
    dh = rng.uniform(f_lo, f_hi) * W / per_dh
    room_x, room_y = ROOM[condition]
    min_dh = max(min_dh, 0.035 * max(W, H))        # readable when the picture is seen whole
    dh = min(max(dh, min_dh), h_max * H, W / (per_dh + room_x), H / (1.4 + room_y))
    dh = max(dh, min_dh)
    ink = write_number(np.random.default_rng(writer_seed), digits, dh, pen, bleed)
    margin = int(0.2 * max(W, H))
    shape = (H + 2 * margin, W + 2 * margin)
    frame = (margin, margin, margin + W, margin + H)
    page, box = SCENES[condition](rng, ink, shape, frame, dh)
    page = np.asarray(page, np.float32)
    if condition == "fax":
        return fax_machine(rng, page, frame, box, dh), "png", 0
    stroke = max(1.5, 2 * pen["half"] * dh)
    img, quality = photograph(rng, page, frame, box, CAMERAS[condition], stroke)
    return img, "jpg", quality


def picture_rng(seed: int, condition: str, number: int) -> np.random.Generator:
    """The random stream of one picture, seeded by (seed >= 0, the condition with the tag "D:",
    the picture's number within its condition): independent of the other conditions."""
    return np.random.default_rng([seed, zlib.crc32(("D:" + condition).encode()), number])


# ----------------------------------------------------------------------------- command line

class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2
        sys.stderr.write(f"make_numbers_d.py: error: {message}\n")
        raise SystemExit(2)


def _fail(message: str) -> int:
    sys.stderr.write(f"make_numbers_d.py: error: {message}\n")
    return 2


def _load_test_digits(data: str):
    """x_test (N, 28, 28) uint8 and y_test (N,) of a keras-layout mnist.npz, or an error line."""
    try:
        with np.load(data) as d:
            x_test, y_test = np.asarray(d["x_test"]), np.asarray(d["y_test"])
    except (OSError, ValueError, KeyError, EOFError) as e:
        return None, None, f"--data {data!r}: cannot read MNIST x_test/y_test ({type(e).__name__})"
    if x_test.ndim != 3 or x_test.shape[1:] != (28, 28) or len(y_test) != len(x_test):
        return None, None, (f"--data {data!r}: x_test has shape {x_test.shape}, y_test "
                            f"{y_test.shape}; expected (N, 28, 28) and (N,)")
    return x_test.astype(np.uint8), y_test.astype(np.int64), None


def main(argv=None) -> int:
    """The command line (module docstring); returns the exit status, 2 after a one-line error."""
    parser = _Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="/tmp/numbers_d", help="folder to write (must be empty)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same files")
    parser.add_argument("--per-condition", type=int, default=25, help="pictures per condition")
    parser.add_argument("--conditions", default=",".join(CONDITIONS),
                        help="comma-separated, from: " + ",".join(CONDITIONS))
    parser.add_argument("--min-digits", type=int, default=2)
    parser.add_argument("--max-digits", type=int, default=6)
    parser.add_argument("--data", default=None, help="mnist.npz (else $CNN_MNIST_DATA)")
    parser.add_argument("--max-width", type=int, default=2000,
                        help="longest side of a frame, px (the webcam is always 640 x 480)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the pictures of a non-empty --out")
    args = parser.parse_args(argv)

    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    unknown = [c for c in conditions if c not in CONDITIONS]
    if not conditions or unknown:
        return _fail(f"--conditions {args.conditions!r}: unknown {unknown or 'empty'}; "
                     f"choose from {','.join(CONDITIONS)}")
    if len(set(conditions)) != len(conditions):
        return _fail(f"--conditions {args.conditions!r}: a condition is named twice")
    if args.seed < 0:
        return _fail(f"--seed {args.seed}: must be 0 or more")
    if not 1 <= args.per_condition <= 1000:
        return _fail(f"--per-condition {args.per_condition}: must be in [1, 1000]")
    if not 1 <= args.min_digits <= args.max_digits <= 12:
        return _fail(f"--min-digits {args.min_digits} / --max-digits {args.max_digits}: need "
                     "1 <= min <= max <= 12")
    if not MIN_SIZE <= args.max_width <= 4000:
        return _fail(f"--max-width {args.max_width}: must be in [{MIN_SIZE}, 4000]")
    data = args.data or os.environ.get("CNN_MNIST_DATA") or DEFAULT_DATA
    x_test, y_test, problem = _load_test_digits(data)
    if problem:
        return _fail(problem)
    if len(x_test) < args.max_digits:
        return _fail(f"--data {data!r}: {len(x_test)} test digits, fewer than --max-digits "
                     f"{args.max_digits}")
    out = Path(args.out)
    problem = prepare_out(out, args.overwrite)
    if problem:
        return _fail(problem)
    count, problem = write_set(
        out, conditions, args.per_condition, (args.min_digits, args.max_digits),
        (x_test, y_test), len(x_test), lambda cond, k: picture_rng(args.seed, cond, k),
        lambda rng, digits, cond: make_picture(rng, digits, cond, args.max_width),
        list(CONDITIONS))
    if problem:
        return _fail(problem)
    print(f"wrote {count} pictures to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
