"""Training negatives for the not-a-digit gate: varied non-digit images in MNIST form.

``cnn predict`` says "not a digit" with an 11-class gate network (0-9, and 10 = not a digit)
trained by ``cnn train --model "...-FC11" --data mnist --data OUT``, where ``OUT/noise/`` is
class 10 (:mod:`cnn.data.folders`). The gate is only as good as the variety of its negatives:
this is *outlier exposure* (Hendrycks, Mazeika & Dietterich, "Deep Anomaly Detection with
Outlier Exposure", ICLR 2019): train the detector on a large, diverse auxiliary set of
outliers so that it generalises to outliers it never saw, rather than on one kind of junk.
Each kind below is a different idea with its own code, so the gate cannot learn one generator.

Every image is a 28 x 28 grey PNG in the form the network sees after the project's photo
pipeline: white ink on black, the ink's bounding box scaled to fit 20 x 20 and its centre of
mass moved to the centre of the 28 x 28 field (MNIST's normalisation, LeCun et al. 1998).

Kinds (``--kinds``, each ``--per-kind`` images, files ``OUT/noise/<kind>_<n>.png``):

============  ====================================================================================
kind          what is drawn
============  ====================================================================================
glyphs        characters of many scripts in matplotlib's bundled DejaVu fonts (Sans, Sans Bold,
              Serif, Serif Bold, Sans Mono): Latin letters that do not look like digits, Greek,
              Cyrillic, Hebrew, Arabic, Armenian, Georgian (Devanagari where a font has it),
              math, arrows, currency, punctuation, box drawing and geometric symbols; sheared,
              rotated up to 30 degrees, squeezed, strokes thinned or thickened. Glyphs the font
              lacks (its .notdef box), Unicode numbers (categories Nd, Nl, No, any character
              with a digit value) and digit-like forms (O, l, S, Z, B, g, Cyrillic Ze, Hebrew
              vav, Arabic alef, ...) are left out, as are glyphs whose shape is a near-vertical
              bar (a 1) or a single ring (a 0).
parts         MNIST training digits (``x_train[:55000]``; the last 5,000 are the validation
              split) cut to 25-55 % of their ink by a half-plane or a box, renormalised. Digit 1
              is not cut (a piece of a 1 is a 1), and pieces that are a bar or a ring are redrawn.
pairs         two or three MNIST training digits side by side (overlapping, touching or with a
              gap, sizes and heights jittered) or two different digits overlaid: a number is not
              one digit.
strokes       chained cubic Bezier curves, cursive loops, spirals of 2+ turns, hatching, zigzags,
              dots, filled blobs, random-walk scribbles; pen width drawn at 1.3-3.5 px of the
              output. Single bars and rings are redrawn.
shapes        polygons (filled, outlined, with diagonals), discs (filled, hatched, concentric,
              crossed, sectors), stars, plus and x crosses, arrows, grids, triangles/rectangles,
              crescents, hearts.
textures      Gaussian noise low-passed at a random scale, gratings, checkerboards, halftone
              dots; thresholded (hard or soft) at a random level, sometimes cut to a blob.
clutter       3-10 short strokes and specks spread over the whole frame (dirty paper).
strings       2-4 MNIST training digits written as one number, as a pen writes it: the whole
              string slanted (shear up to 0.35) with a drifting baseline, neighbours overlapping
              by up to 35 % of the narrower digit or apart by up to 8 px, the pen thickened by
              up to 2 px (a marker) or thinned. Not in the default set: the number reader's
              line gate ("several digits", docs/numbers.md) is trained on it with pairs.
============  ====================================================================================

Usage::

    python scripts/make_gate_negatives.py --out /tmp/gate_neg --seed 1
    python scripts/make_gate_negatives.py --out /tmp/gate_neg --kinds glyphs shapes --per-kind 500
    cnn train --model "...-FC11" --data mnist --data /tmp/gate_neg

Deterministic given ``--seed`` (each kind has its own stream, so ``--kinds`` subsets give the
same images). About 3 ms an image on one core.
"""

from __future__ import annotations

import argparse
import os
import sys
import unicodedata
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

KINDS = ("glyphs", "parts", "pairs", "strokes", "shapes", "textures", "clutter", "strings")
MNIST_KINDS = ("parts", "pairs", "strings")
DEFAULT_KINDS = KINDS[:-1]  # the not-a-digit gates' negatives; "strings" is the line gate's
TRAIN_LIMIT = 55000  # x_train[55000:] is cnn train's validation split: never used here
PART_LIKE_WHOLE = 0.6  # a cut digit whose cosine similarity to the whole digit reaches this is
# redrawn (looked at: above ~0.6 most pieces still read as their digit)
OUT_SIZE = 28
BOX = 20  # the ink's bounding box is scaled to fit BOX x BOX
CENTRE = 14.0  # (row, col) of the centre of mass in the 28 x 28 field, as the photo pipeline
CANVAS = 128  # side of the canvas every kind draws on before normalisation
DEFAULT_DATA = os.environ.get("CNN_MNIST_DATA") or "/work/shared/data/mnist.npz"


# ------------------------------------------------------------------------ MNIST normalisation
def normalise(ink: np.ndarray) -> np.ndarray | None:
    """MNIST normalisation of a drawing: crop to the ink, scale its long side to 20, put the
    centre of mass at (14, 14) of a 28 x 28 field, stretch the brightest pixel to 255.

    Args:
        ink: float or uint8 array (H, W), ink bright (> 0) on 0.
    Returns:
        uint8 (28, 28), white on black, ink bounding box at most 21 x 21 (20 plus the
        sub-pixel shift), centre of mass within 1.5 px of (14, 14); ``None`` when there is no
        ink or the shape is so lopsided that centring it would push ink out of the field.
    """
    ink = np.asarray(ink, np.float32)
    peak = float(ink.max()) if ink.size else 0.0
    if peak <= 0:
        return None
    rows = np.flatnonzero(ink.max(axis=1) > 0.1 * peak)
    cols = np.flatnonzero(ink.max(axis=0) > 0.1 * peak)
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] / peak
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = np.clip(cv2.resize(crop, size, interpolation=interp), 0, None)
    if float(small.sum()) <= 0:
        return None
    cy, cx = ndimage.center_of_mass(small)
    sh, sw = small.shape
    # pixel j of the shifted image covers j - t .. j - t + 1: keep the w + 1 touched pixels inside
    tx = float(np.clip(CENTRE - cx, 0, OUT_SIZE - 1 - sw))
    ty = float(np.clip(CENTRE - cy, 0, OUT_SIZE - 1 - sh))
    m = np.float32([[1, 0, tx], [0, 1, ty]])
    out = cv2.warpAffine(small, m, (OUT_SIZE, OUT_SIZE), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    top = float(out.max())
    if top <= 0:
        return None
    img = np.clip(np.round(out / top * 255), 0, 255).astype(np.uint8)
    if img.sum() == 0:
        return None
    oy, ox = ndimage.center_of_mass(img.astype(np.float64))
    if abs(oy - CENTRE) > 1.5 or abs(ox - CENTRE) > 1.5:
        return None
    return img


def digit_like(img: np.ndarray, rings: bool = True) -> bool:
    """Whether a normalised image is shaped like a 1 or a 0 (so must not be called a non-digit):
    a bar within 40 degrees of vertical, or a single ring around the middle.

    Args:
        img: uint8 (28, 28), white on black, as :func:`normalise` returns.
        rings: also test for a ring (else only for a bar).
    """
    w = img.astype(np.float64)
    ys, xs = np.mgrid[0:OUT_SIZE, 0:OUT_SIZE]
    mass = w.sum()
    my, mx = (w * ys).sum() / mass, (w * xs).sum() / mass
    cyy = (w * (ys - my) ** 2).sum() / mass
    cxx = (w * (xs - mx) ** 2).sum() / mass
    cxy = (w * (ys - my) * (xs - mx)).sum() / mass
    vals, vecs = np.linalg.eigh(np.array([[cxx, cxy], [cxy, cyy]]))
    major = vecs[:, 1]  # (x, y) of the long axis
    if np.sqrt(max(vals[0], 0) / max(vals[1], 1e-9)) < 0.3 and abs(major[1]) > np.cos(
            np.radians(40)):
        return True
    if not rings:
        return False
    mask = (img > 100).astype(np.uint8)
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return False
    areas = [cv2.contourArea(c) for c in contours]
    outer = [i for i, h in enumerate(hierarchy[0]) if h[3] < 0]
    main = max(outer, key=lambda i: areas[i])
    # a dot inside the ring or beside it (a circled dot, a 0 with a speck) does not count
    others = [i for i in outer if i != main and areas[i] > 0.15 * areas[main]]
    holes = [i for i, h in enumerate(hierarchy[0]) if h[3] == main and areas[i] > 2]
    if others or len(holes) != 1:
        return False
    x, y, bw, bh = cv2.boundingRect(contours[main])
    hx, hy, hw, hh = cv2.boundingRect(contours[holes[0]])
    centred = (abs(hx + hw / 2 - (x + bw / 2)) < 0.12 * bw
               and abs(hy + hh / 2 - (y + bh / 2)) < 0.12 * bh)
    return centred and hw >= 0.45 * bw and hh >= 0.55 * bh


# ------------------------------------------------------------------------ drawing helpers
def _pen(points: np.ndarray, rng: np.random.Generator, low=1.3, high=3.5) -> int:
    """Pen width in canvas pixels for a drawing spanning ``points``, so that after scaling its
    long side to 20 px the stroke is ``low``..``high`` output pixels wide."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    extent = max(float(np.ptp(pts[:, 0])), float(np.ptp(pts[:, 1])), 1.0)
    return max(1, round(rng.uniform(low, high) * extent / BOX))


def _fix(points: np.ndarray) -> np.ndarray:
    """Points (K, 2) float to OpenCV's fixed point (shift 4), int32 (K, 1, 2)."""
    return np.round(np.asarray(points) * 16).astype(np.int32).reshape(-1, 1, 2)


def _lines(canvas, paths, width, closed=False):
    cv2.polylines(canvas, [_fix(p) for p in paths], closed, 255, int(width), cv2.LINE_AA, 4)


def _fill(canvas, polys):
    cv2.fillPoly(canvas, [_fix(p) for p in polys], 255, cv2.LINE_AA, 4)


def _disc(canvas, centre, radius):
    cv2.circle(canvas, _fix(centre).reshape(2).tolist(), round(radius * 16), 255, -1,
               cv2.LINE_AA, 4)


def _affine(points, rng, rot=30.0, shear=0.35, squeeze=0.2, centre=CANVAS / 2):
    """Rotate (degrees, uniform in +-rot), shear and squeeze points (K, 2) about the canvas
    centre."""
    a = np.radians(rng.uniform(-rot, rot))
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    s = np.array([[1, rng.uniform(-shear, shear)], [0, 1]])
    k = np.diag([1 + rng.uniform(-squeeze, squeeze), 1 + rng.uniform(-squeeze, squeeze)])
    return (np.asarray(points) - centre) @ (r @ s @ k).T + centre


def _bezier(p, n=40):
    """Points (n, 2) of the cubic Bezier curve with control points p (4, 2)."""
    t = np.linspace(0, 1, n)[:, None]
    return ((1 - t) ** 3 * p[0] + 3 * (1 - t) ** 2 * t * p[1] + 3 * (1 - t) * t ** 2 * p[2]
            + t ** 3 * p[3])


def _random_points(rng, k, margin=24):
    return rng.uniform(margin, CANVAS - margin, (k, 2))


# ------------------------------------------------------------------------ glyphs
_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
          "DejaVuSansMono.ttf")


def _chars(*spans) -> str:
    out = []
    for s in spans:
        out.extend(s if isinstance(s, str) else (chr(c) for c in range(s[0], s[1] + 1)))
    return "".join(out)


SCRIPTS = {
    "latin": _chars("ACEFHKLMNPRTUVWXYacdefhkmnprtuvwxy", "ÆæŒœÞþŊŋƒÇçÑñĦħŦŧŴŵŶŷ",
                    "ɐɑɒɔɥɯɹʌʍʎȸȹ"),
    "greek": _chars((0x391, 0x3A9), (0x3B1, 0x3C9)),
    "cyrillic": _chars((0x400, 0x45F), "ҐґҖҗҚқҢңҮүҰұҲҳҺһ"),
    "hebrew": _chars((0x5D0, 0x5EA)),
    "arabic": _chars((0x621, 0x63A), (0x641, 0x64A)),
    "armenian": _chars((0x531, 0x556), (0x561, 0x586)),
    "georgian": _chars((0x10D0, 0x10F0)),
    "devanagari": _chars((0x905, 0x939)),
    "math": _chars("+−×÷±∓=≠≈≡≤≥<>∑∏∐√∛∞∝∠∡∢∈∉∋∌∩∪⊂⊃⊄⊅⊆⊇⊊⊋∧∨⊻¬∀∃∄∆∇⊕⊖⊗⊘⊞⊟⊠⊡⊥⊤⊢⊣"
                   "∴∵∷∼≃≅≍≪≫≺≻⋀⋁⋂⋃⋄⋆⋈⌈⌊⌐⌒⌓⌔⌕⌖⌗⌘⌙⌠⌡⟨⟩⟦⟧ℵℏ℘ℜℑ℮ℝℕℤℚℂ∥∦"),
    "arrows": _chars((0x2190, 0x21FF), (0x27F0, 0x27FF), (0x2794, 0x27BF)),
    "currency": _chars("€£¥¢₹₽₩₴₺₦₱₭₮₵¤₠₡₢₣₤₥₧₨₪₯₰₳₸₼₾"),
    "punctuation": _chars("\"#%&*+-:<=>?@[]^_~¿¶©®•†‡…‰‹›«»¬·¦ª¯‽⁂※⁑⁋‖※⁅⁆⁊"),
    "boxes": _chars((0x2500, 0x257F), (0x2580, 0x259F), (0x25A0, 0x25FF)),
    "symbols": _chars((0x2600, 0x26FF), (0x2700, 0x2775)),
}

# Letters and signs that look like a digit in some hand or font (the brief's Latin list, and
# their cousins in the other scripts). The shape test in glyph_list() catches bars and rings.
DIGIT_LIKE = set(
    "OoDQIliljJSsZzBbGgq"
    "ΟοΘθϑΙιΒβδζξσςΖεϐϒϨϩϬϭϚϛϘϙ"
    "ОоЗзЭэЧчБбВвЬьЪъЅѕЈјІіЇїӀѲѳӠӡӘәҘҙԚԛԐԑѺѻӦӧӪӫӞӟӬӭѢѣЃѓ"
    "וזןדרךיסףטגנ"
    "اآأإٱهةۀوؤلدذرزمءىق"
    "ՕօԶզՅյՁձՋջԳգՃճԼլՒւՑցկՇշՉչՏտԾծվþ"
    "აბგდევზინრსღცჰუძჳფქჟყკპ"
    "$₿₫₲₴₰§°º´`'‘’‚‛\"()/\\|!¡,;{}¬⁊∫∮∂∅⊙ℓℚ⌉⌋↴↺↻⟲⟳ʘ◌◎◉◜◝◞◟"
    "↑↓↕↟↡↥↧↨↾↿⇂⇃⇞⇟⇡⇣⇧⇩⇪⇫⇬⇭⇮⇯"  # one vertical shaft: a 1 with a flag
    "♃♩♪♭☡☥♀⚕⚚☤❨❩❪❫❴❵❛❜❝❞❢❚╱╲∛ℑ"
    "⚲☿♁♂⚨⚩⚦⚥☌♉♅⛢"  # a ring with a stem: a 6, a 9 or a b
)


def _digit_like_box(name: str) -> bool:
    """Box drawings with no part to the right or across: corners and tees opening to the left (a
    7, a J, a 4 or a 1 with a flag) and lone vertical strokes (a 1); ``║`` (11) is kept."""
    return (name.startswith("BOX DRAWINGS") and "RIGHT" not in name
            and "HORIZONTAL" not in name and name != "BOX DRAWINGS DOUBLE VERTICAL"
            and any(w in name for w in ("LEFT", "UP", "DOWN", "VERTICAL")))


def _is_number(ch: str) -> bool:
    """A Unicode number (Nd, Nl, No) or any character with a digit or numeric value."""
    return (unicodedata.category(ch).startswith("N") or unicodedata.digit(ch, None) is not None
            or unicodedata.numeric(ch, None) is not None
            or any(w in unicodedata.name(ch, "") for w in ("DIGIT", "NUMBER", "NUMERAL")))


def candidate_glyphs() -> dict[str, str]:
    """Script name -> characters to draw, before checking fonts and shapes: letters (L*),
    punctuation (P*) and symbols (S*) of :data:`SCRIPTS` that are not numbers (see
    :func:`_is_number`) nor in :data:`DIGIT_LIKE`; a character listed twice is kept in its
    first script only."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    for name, chars in SCRIPTS.items():
        keep = [c for c in dict.fromkeys(chars) if c not in seen
                if unicodedata.category(c)[0] in "LPS" and unicodedata.category(c) != "Lm"
                and not _is_number(c) and c not in DIGIT_LIKE and not c.isspace()
                and not _digit_like_box(unicodedata.name(c, ""))]
        seen.update(keep)
        out[name] = "".join(keep)
    return out


@cache
def _font(name: str):
    import matplotlib
    from matplotlib.font_manager import FontProperties
    from matplotlib.ft2font import FT2Font

    path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", name)
    return FT2Font(path), FontProperties(fname=path)


@cache
def _outline(ch: str, font: str) -> tuple[np.ndarray, ...] | None:
    """The glyph's outline polygons in a unit box (long side 1, centred, y down), or ``None``
    when the font lacks the glyph (its character maps to glyph 0, the .notdef box)."""
    from matplotlib.textpath import TextPath

    ft, prop = _font(font)
    if ft.get_char_index(ord(ch)) == 0:
        return None
    polys = [p for p in TextPath((0, 0), ch, size=1, prop=prop).to_polygons() if len(p) >= 3]
    if not polys:
        return None
    pts = np.concatenate(polys)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = float(max(hi - lo))
    if span <= 0:
        return None
    mid = (lo + hi) / 2
    return tuple(((p - mid) / span) * np.array([1.0, -1.0]) for p in polys)


def _draw_glyph(polys, size, rng=None) -> np.ndarray:
    canvas = np.zeros((CANVAS, CANVAS), np.uint8)
    pts = [p * size + CANVAS / 2 for p in polys]
    if rng is not None:
        flat = np.concatenate(pts)
        moved = _affine(flat, rng, rot=30, shear=0.35, squeeze=0.15)
        pts = np.split(moved, np.cumsum([len(p) for p in pts])[:-1])
    _fill(canvas, pts)
    return canvas


@cache
def glyph_list() -> dict[str, tuple[str, ...]]:
    """Script name -> the glyphs the glyphs kind draws: :func:`candidate_glyphs` that DejaVu
    Sans (or, failing it, another of the fonts) has, and whose upright shape is neither a bar
    nor a ring (:func:`digit_like`). Scripts the fonts lack entirely are dropped."""
    out = {}
    for name, chars in candidate_glyphs().items():
        keep = []
        for ch in chars:
            polys = next((p for p in (_outline(ch, f) for f in _FONTS) if p is not None), None)
            if polys is None:
                continue
            img = normalise(_draw_glyph(polys, 80))
            if img is not None and not digit_like(img):
                keep.append(ch)
        if keep:
            out[name] = tuple(keep)
    return out


def _glyph(rng, mnist=None):
    table = glyph_list()
    script = list(table)[rng.integers(len(table))]
    ch = table[script][rng.integers(len(table[script]))]
    fonts = [f for f in _FONTS if _outline(ch, f) is not None]
    polys = _outline(ch, fonts[rng.integers(len(fonts))])
    canvas = _draw_glyph(polys, rng.uniform(64, 88), rng)
    change = int(rng.integers(-3, 6))  # canvas pixels; the glyph spans ~64-88
    if change:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (abs(change) + 1,) * 2)
        changed = (cv2.dilate if change > 0 else cv2.erode)(canvas, k)
        if change > 0 or changed.sum() > 0.5 * canvas.sum():
            canvas = changed
    return canvas


# ------------------------------------------------------------------------ MNIST parts and pairs
def _pool(mnist) -> np.ndarray:
    if mnist is None:
        raise ValueError("parts, pairs and strings need MNIST training images (mnist_train)")
    pool = np.asarray(mnist)[:TRAIN_LIMIT]
    if pool.ndim != 3 or pool.shape[1:] != (28, 28) or not len(pool):
        raise ValueError(f"mnist_train must be (N, 28, 28) images, got shape {pool.shape}")
    return pool


def _pick(pool, rng, used, avoid=None):
    while True:
        i = int(rng.integers(len(pool)))
        if avoid is None or not avoid(i):
            if used is not None:
                used.append(i)
            return i


def _stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary mask in pixels: 2 * area / perimeter."""
    m = mask.astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * float(m.sum()) / max(perimeter, 1.0)


def _restroke(ink: np.ndarray, target: float) -> np.ndarray:
    """Thin (erode) a drawing so that, once its long side is scaled to 20 px, its strokes are
    about ``target`` px wide; ink float32 (H, W) in [0, 1]. Thin strokes are left as they are."""
    mask = ink > 0.5
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return ink
    long_side = max(np.ptp(ys), np.ptp(xs)) + 1
    excess = _stroke_width(mask) - target * long_side / BOX
    r = int(excess // 2)
    if r < 1:
        return ink
    thinner = cv2.erode(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
    return thinner if (thinner > 0.5).sum() > 0.3 * mask.sum() else ink


def _sharp_digit(img28: np.ndarray, factor: int = 4) -> np.ndarray:
    """An MNIST digit (uint8 28 x 28) enlarged ``factor`` times with crisp edges: float32 in
    [0, 1]."""
    n = 28 * factor
    up = cv2.resize(img28.astype(np.float32) / 255, (n, n), interpolation=cv2.INTER_CUBIC)
    return np.clip((up - 0.25) / 0.4, 0, 1)


def _part(rng, mnist, used=None, labels=None):
    pool = _pool(mnist)
    i = _pick(pool, rng, used, None if labels is None else lambda k: labels[k] == 1)
    up = _sharp_digit(pool[i])
    ys, xs = np.nonzero(up > 0.05)
    wts = up[ys, xs]
    total = float(wts.sum())
    q = rng.uniform(0.25, 0.55)
    if rng.random() < 0.6:  # half-plane: the q lightest-projected ink
        a = rng.uniform(0, 2 * np.pi)
        proj = xs * np.cos(a) + ys * np.sin(a)
        order = np.argsort(proj)
        cut = proj[order[np.searchsorted(np.cumsum(wts[order]), q * total)]]
        keep = proj <= cut
    else:  # a box around an ink pixel, grown until it holds q of the ink
        k = rng.choice(len(ys), p=wts / total)
        aspect = rng.uniform(0.5, 2.0)
        keep = None
        for half in range(4, 112, 2):
            hy, hx = half * aspect ** 0.5, half / aspect ** 0.5
            inside = (np.abs(ys - ys[k]) <= hy) & (np.abs(xs - xs[k]) <= hx)
            if wts[inside].sum() >= q * total:
                keep = inside
                break
        if keep is None:
            return None
    frac = wts[keep].sum() / total
    if not 0.2 <= frac <= 0.6:
        return None
    out = np.zeros_like(up)
    out[ys[keep], xs[keep]] = wts[keep]
    out = _restroke(out, rng.uniform(1.8, 3.0))
    # a piece that still looks like its whole digit (the top of a 7, most of a 9) is a digit
    piece, whole = normalise(out), normalise(pool[i])
    if piece is None or whole is None:
        return None
    a, b = piece.astype(np.float64).ravel(), whole.astype(np.float64).ravel()
    if a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) >= PART_LIKE_WHOLE:
        return None
    return out


def _crop(img):
    rows = np.flatnonzero(img.max(axis=1) > 0)
    cols = np.flatnonzero(img.max(axis=0) > 0)
    return img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _pair(rng, mnist, used=None, labels=None):
    pool = _pool(mnist)
    if rng.random() < 0.3:  # two different digits overlaid, offset by 2-6 px
        i = _pick(pool, rng, used)
        j = _pick(pool, rng, used, None if labels is None else lambda k: labels[k] == labels[i])
        canvas = np.zeros((48, 48), np.float32)
        for idx, off in ((i, (0, 0)), (j, rng.integers(2, 7, 2) * rng.choice([-1, 1], 2))):
            y, x = 10 + int(off[0]), 10 + int(off[1])
            canvas[y:y + 28, x:x + 28] = np.maximum(canvas[y:y + 28, x:x + 28], pool[idx] / 255)
        return canvas
    count = 2 if rng.random() < 0.7 else 3
    digits = []
    for _ in range(count):
        d = _crop(pool[_pick(pool, rng, used)].astype(np.float32) / 255)
        s = rng.uniform(0.85, 1.15)
        digits.append(cv2.resize(d, (max(1, round(d.shape[1] * s)), max(1, round(d.shape[0] * s))),
                                 interpolation=cv2.INTER_LINEAR))
    height = max(d.shape[0] for d in digits) + 8
    width = sum(d.shape[1] for d in digits) + 12 * count + 8
    canvas = np.zeros((height, width), np.float32)
    x = 4
    for d in digits:
        y = int(rng.integers(0, height - d.shape[0] + 1))
        region = canvas[y:y + d.shape[0], x:x + d.shape[1]]
        np.maximum(region, d, out=region)
        x += d.shape[1] + int(rng.integers(-3, 7))  # overlap 3 px .. gap 6 px
    return canvas


def _string(rng, mnist, used=None, labels=None):
    """2-4 digits written as one number (the ``strings`` kind of the module docstring)."""
    pool = _pool(mnist)
    count = int(rng.choice([2, 3, 4], p=[0.6, 0.3, 0.1]))
    digits = [_crop(pool[_pick(pool, rng, used)].astype(np.float32) / 255) for _ in range(count)]
    height = max(d.shape[0] for d in digits)
    width = sum(d.shape[1] for d in digits) + 10 * count + 16
    canvas = np.zeros((height + 24, width), np.float32)
    x, drift = 8, rng.uniform(-0.15, 0.15)  # baseline drift: rows per column
    for k, d in enumerate(digits):
        y = int(np.clip(12 + drift * x + rng.integers(-2, 3), 0, canvas.shape[0] - d.shape[0]))
        region = canvas[y:y + d.shape[0], x:x + d.shape[1]]
        np.maximum(region, d, out=region)
        if k + 1 < count:
            narrower = min(d.shape[1], digits[k + 1].shape[1])
            x += d.shape[1] + int(rng.integers(-int(0.35 * narrower), 9))
    shear = rng.uniform(-0.35, 0.35)
    h, w = canvas.shape
    m = np.float32([[1, shear, -shear * h / 2 + abs(shear) * h / 2], [0, 1, 0]])
    canvas = cv2.warpAffine(canvas, m, (w + int(abs(shear) * h) + 1, h),
                            flags=cv2.INTER_LINEAR)
    pen = rng.random()
    if pen < 0.4:  # a marker: the strokes thickened
        r = int(rng.integers(1, 3))
        canvas = cv2.dilate(canvas, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
    elif pen < 0.55:  # a fine pen
        canvas = cv2.erode(canvas, np.ones((2, 2), np.uint8))
    return canvas


# ------------------------------------------------------------------------ strokes
def _strokes(rng, mnist=None):
    canvas = np.zeros((CANVAS, CANVAS), np.uint8)
    style = rng.choice(["bezier", "loops", "spiral", "hatch", "zigzag", "dots", "blob",
                        "scribble"])
    c = CANVAS / 2
    if style == "bezier":
        segs = int(rng.integers(2, 5))
        p = _random_points(rng, 3 * segs + 1)
        path = np.concatenate([_bezier(p[3 * k:3 * k + 4]) for k in range(segs)])
        _lines(canvas, [path], _pen(path, rng))
    elif style == "loops":
        loops, t = int(rng.integers(3, 7)), None
        t = np.linspace(0, 2 * np.pi * loops, 60 * loops)
        r = rng.uniform(8, 16)
        path = np.stack([t / (2 * np.pi) * rng.uniform(10, 18) + r * np.cos(t + np.pi / 2),
                         r * rng.uniform(0.8, 1.6) * np.sin(t + np.pi / 2)], 1)
        path = _affine(path - path.mean(0) + c, rng, rot=30)
        _lines(canvas, [path], _pen(path, rng))
    elif style == "spiral":
        turns = rng.uniform(2.0, 4.5)
        t = np.linspace(0, 2 * np.pi * turns, int(80 * turns))
        r = 3 + t / t[-1] * rng.uniform(30, 44)
        path = _affine(np.stack([r * np.cos(t), r * np.sin(t) * rng.choice([-1, 1])], 1) + c,
                       rng, rot=180, shear=0.2)
        _lines(canvas, [path], _pen(path, rng, 1.2, 2.5))
    elif style == "hatch":
        n = int(rng.integers(4, 11))
        paths = []
        for layer in range(1 if rng.random() < 0.6 else 2):
            a = rng.uniform(0, np.pi)
            d, e = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
            for k in np.linspace(-30, 30, n):
                half = rng.uniform(15, 36)
                mid = c + k * e + rng.uniform(-6, 6) * d
                paths.append(np.stack([mid - half * d, mid + half * d]))
        _lines(canvas, paths, _pen(np.concatenate(paths), rng, 1.2, 2.5))
    elif style == "zigzag":
        k = int(rng.integers(5, 12))
        xs = np.linspace(-40, 40, k)
        ys = np.where(np.arange(k) % 2, 1, -1) * rng.uniform(8, 22, k)
        path = _affine(np.stack([xs, ys], 1) + c, rng, rot=180)
        _lines(canvas, [path], _pen(path, rng))
    elif style == "dots":
        for p in _random_points(rng, int(rng.integers(3, 13)), 20):
            _disc(canvas, p, rng.uniform(2, 9))
    elif style == "blob":
        for _ in range(int(rng.integers(1, 3))):
            k = 24
            rad = ndimage.gaussian_filter1d(rng.uniform(0.5, 1.5, k), 2, mode="wrap")
            t = np.linspace(0, 2 * np.pi, k, endpoint=False)
            centre = rng.uniform(40, 88, 2)
            size = rng.uniform(14, 34)
            _fill(canvas, [centre + size * rad[:, None] * np.stack([np.cos(t), np.sin(t)], 1)])
    else:  # scribble: a random walk with momentum
        steps = int(rng.integers(40, 120))
        ang = np.cumsum(rng.normal(0, 0.5, steps)) + rng.uniform(0, 2 * np.pi)
        path = np.cumsum(np.stack([np.cos(ang), np.sin(ang)], 1) * rng.uniform(2, 4), 0)
        path = ndimage.gaussian_filter1d(path, 1.5, axis=0)
        span = max(np.ptp(path[:, 0]), np.ptp(path[:, 1]), 1)
        path = (path - path.mean(0)) * (80 / span) + c
        _lines(canvas, [path], _pen(path, rng, 1.2, 3.0))
    return canvas


# ------------------------------------------------------------------------ shapes
def _ngon(n, radius, rng, jitter=0.0, phase=None):
    phase = rng.uniform(0, 2 * np.pi) if phase is None else phase
    t = phase + np.arange(n) * 2 * np.pi / n + rng.uniform(-jitter, jitter, n)
    r = radius * (1 + rng.uniform(-jitter, jitter, n))
    return np.stack([r * np.cos(t), r * np.sin(t)], 1) + CANVAS / 2


def _circle(radius, n=90, centre=(CANVAS / 2, CANVAS / 2), a0=0.0, a1=2 * np.pi):
    t = np.linspace(a0, a1, n)
    return np.stack([np.cos(t), np.sin(t)], 1) * radius + np.asarray(centre)


def _shapes(rng, mnist=None):
    canvas = np.zeros((CANVAS, CANVAS), np.uint8)
    c = CANVAS / 2
    style = rng.choice(["polygon", "disc", "star", "cross", "arrow", "grid", "outline",
                        "crescent", "heart"])
    r = rng.uniform(30, 44)
    width = max(1, round(rng.uniform(1.4, 3.5) * 2 * r / BOX))
    if style == "polygon":
        n = int(rng.integers(3, 9))
        poly = _affine(_ngon(n, r, rng, jitter=0.15), rng, squeeze=0.3)
        if rng.random() < 0.5:
            _fill(canvas, [poly])
        else:
            _lines(canvas, [poly], width, closed=True)
            if n >= 5:  # an outlined round polygon is a 0: draw its diagonals too
                _lines(canvas, [np.stack([poly[k], poly[(k + n // 2) % n]]) for k in range(n)],
                       width)
    elif style == "disc":
        form = rng.choice(["filled", "hatched", "rings", "crossed", "sector"])
        if form == "filled":
            _fill(canvas, [_affine(_circle(r), rng, squeeze=0.3)])
        elif form == "hatched":
            _lines(canvas, [_circle(r)], width, closed=True)
            a = rng.uniform(0, np.pi)
            d, e = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
            for k in np.linspace(-0.8 * r, 0.8 * r, int(rng.integers(3, 7))):
                half = np.sqrt(r * r - k * k)
                _lines(canvas, [np.stack([c + k * e - half * d, c + k * e + half * d])], width)
        elif form == "rings":
            for f in np.linspace(1, rng.uniform(0.2, 0.4), int(rng.integers(2, 4))):
                _lines(canvas, [_circle(r * f)], width, closed=True)
            if rng.random() < 0.5:
                _disc(canvas, (c, c), r * 0.15)
        elif form == "crossed":
            _lines(canvas, [_circle(r)], width, closed=True)
            a = rng.uniform(0, np.pi / 2)
            for b in (a, a + np.pi / 2):
                d = np.array([np.cos(b), np.sin(b)]) * r
                _lines(canvas, [np.stack([c - d, c + d])], width)
        else:
            a0 = rng.uniform(0, 2 * np.pi)
            arc = _circle(r, 60, a0=a0, a1=a0 + rng.uniform(0.6, 1.6) * np.pi)
            _fill(canvas, [np.vstack([[c, c], arc])])
    elif style == "star":
        n = int(rng.integers(5, 9))
        outer = _ngon(n, r, rng)
        inner = _ngon(n, r * rng.uniform(0.3, 0.55), rng, phase=0)
        a = np.arctan2(outer[0, 1] - c, outer[0, 0] - c) + np.pi / n
        inner = _circle(np.linalg.norm(inner[0] - c), n + 1, a0=a, a1=a + 2 * np.pi)[:-1]
        star = np.empty((2 * n, 2))
        star[0::2], star[1::2] = outer, inner
        star = _affine(star, rng, rot=30, squeeze=0.15)
        (_fill(canvas, [star]) if rng.random() < 0.5
         else _lines(canvas, [star], width, closed=True))
    elif style == "cross":
        a = rng.choice([0, np.pi / 4]) + rng.uniform(-0.3, 0.3)
        arms = [np.stack([c - r * np.array([np.cos(b), np.sin(b)]),
                          c + r * np.array([np.cos(b), np.sin(b)])])
                for b in (a, a + np.pi / 2 + rng.uniform(-0.2, 0.2))]
        _lines(canvas, arms, max(width, int(width * rng.uniform(1, 3))))
    elif style == "arrow":
        a = rng.uniform(0, 2 * np.pi)
        d = np.array([np.cos(a), np.sin(a)])
        tip, tail = c + r * d, c - r * d
        if rng.random() < 0.3:  # a bent shaft
            mid = c + rng.uniform(-15, 15) * np.array([-d[1], d[0]])
            shaft = _bezier(np.stack([tail, mid, mid, tip]))
        else:
            shaft = np.stack([tail, tip])
        head = rng.uniform(0.45, 0.8) * r
        spread = rng.uniform(0.4, 0.8)
        wings = [tip - head * np.array([np.cos(a + s), np.sin(a + s)]) for s in (spread, -spread)]
        _lines(canvas, [shaft], width)
        if rng.random() < 0.5:
            _fill(canvas, [np.stack([tip, wings[0], wings[1]])])
        else:
            _lines(canvas, [np.stack([wings[0], tip, wings[1]])], width)
    elif style == "grid":
        nx, ny = int(rng.integers(2, 6)), int(rng.integers(2, 6))
        paths = [np.array([[x, c - r], [x, c + r]]) for x in np.linspace(c - r, c + r, nx)]
        paths += [np.array([[c - r, y], [c + r, y]]) for y in np.linspace(c - r, c + r, ny)]
        if rng.random() < 0.5:  # tic-tac-toe: lines overshoot, no border
            paths = [np.array([[x, c - r], [x, c + r]]) for x in (c - r / 3, c + r / 3)]
            paths += [np.array([[c - r, y], [c + r, y]]) for y in (c - r / 3, c + r / 3)]
        paths = np.split(_affine(np.concatenate(paths), rng, rot=25, squeeze=0.2),
                         len(paths))
        _lines(canvas, paths, width)
    elif style == "outline":  # triangles and rectangles, sometimes with inner marks
        n = int(rng.choice([3, 4]))
        poly = _affine(_ngon(n, r, rng, jitter=0.1, phase=rng.uniform(-0.3, 0.3) - np.pi / 2),
                       rng, squeeze=0.35)
        _lines(canvas, [poly], width, closed=True)
        extra = rng.integers(3)
        if extra == 1:
            _lines(canvas, [np.stack([poly[0], poly[2]])], width)
        elif extra == 2:
            _disc(canvas, poly.mean(0), r * 0.15)
    elif style == "crescent":
        big = _circle(r)
        shift = rng.uniform(0.3, 0.6) * r
        ang = rng.uniform(0, 2 * np.pi)
        tmp = np.zeros_like(canvas)
        _fill(canvas, [big])
        _fill(tmp, [_circle(r * rng.uniform(0.8, 1.0),
                            centre=(c + shift * np.cos(ang), c + shift * np.sin(ang)))])
        canvas = cv2.subtract(canvas, tmp)
    else:  # heart
        t = np.linspace(0, 2 * np.pi, 120)
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        heart = _affine(np.stack([x, y], 1) * r / 17 + c, rng, rot=25)
        (_fill(canvas, [heart]) if rng.random() < 0.6
         else _lines(canvas, [heart], width, closed=True))
    return canvas


# ------------------------------------------------------------------------ textures
def _textures(rng, mnist=None):
    n = 64
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float32)
    style = rng.choice(["noise", "grating", "checker", "halftone"])
    if style == "noise":
        v = ndimage.gaussian_filter(rng.normal(size=(n, n)), rng.uniform(0.8, 6))
    elif style == "grating":
        a, f = rng.uniform(0, np.pi), rng.uniform(2, 9) / n
        v = np.sin(2 * np.pi * f * (xs * np.cos(a) + ys * np.sin(a)) + rng.uniform(0, 6.3))
        if rng.random() < 0.3:  # plaid
            b = a + rng.uniform(0.5, 1.5)
            v = v + np.sin(2 * np.pi * f * (xs * np.cos(b) + ys * np.sin(b)))
    elif style == "checker":
        a, cell = rng.uniform(0, np.pi / 2), rng.uniform(4, 16)
        u, w = xs * np.cos(a) + ys * np.sin(a), -xs * np.sin(a) + ys * np.cos(a)
        v = ((np.floor(u / cell) + np.floor(w / cell)) % 2) + rng.normal(0, 0.1, (n, n))
    else:
        a, cell = rng.uniform(0, np.pi / 2), rng.uniform(5, 12)
        u, w = xs * np.cos(a) + ys * np.sin(a), -xs * np.sin(a) + ys * np.cos(a)
        v = np.cos(2 * np.pi * u / cell) * np.cos(2 * np.pi * w / cell) + ys / n * rng.uniform(
            -1, 1)
    level = np.quantile(v, rng.uniform(0.35, 0.8))
    if rng.random() < 0.6:
        ink = (v > level).astype(np.float32)
    else:
        ink = np.clip((v - level) / (np.ptp(v) * rng.uniform(0.05, 0.3) + 1e-6), 0, 1)
    if rng.random() < 0.4:  # cut to a blob or a disc
        mask = np.zeros((n, n), np.uint8)
        if rng.random() < 0.5:
            cv2.ellipse(mask, (n // 2, n // 2), (int(rng.integers(16, 31)),
                        int(rng.integers(16, 31))), float(rng.uniform(0, 180)), 0, 360, 1, -1)
        else:
            k = 16
            rad = ndimage.gaussian_filter1d(rng.uniform(0.5, 1.4, k), 1.5, mode="wrap") * 22
            t = np.linspace(0, 2 * np.pi, k, endpoint=False)
            poly = np.stack([n / 2 + rad * np.cos(t), n / 2 + rad * np.sin(t)], 1)
            cv2.fillPoly(mask, [poly.round().astype(np.int32)], 1)
        ink = ink * mask
    return ink.astype(np.float32)


# ------------------------------------------------------------------------ clutter
def _clutter(rng, mnist=None):
    canvas = np.zeros((CANVAS, CANVAS), np.uint8)
    width = int(rng.integers(2, 6))
    for _ in range(int(rng.integers(3, 11))):
        p = rng.uniform(8, CANVAS - 8, 2)
        if rng.random() < 0.4:
            _disc(canvas, p, rng.uniform(1, 4))
            continue
        length = rng.uniform(6, 24)
        a = rng.uniform(0, 2 * np.pi)
        d = np.array([np.cos(a), np.sin(a)]) * length
        bend = rng.normal(0, 0.3 * length, 2)
        path = _bezier(np.stack([p, p + d / 3 + bend, p + 2 * d / 3 - bend, p + d]), 12)
        _lines(canvas, [path], max(1, width + int(rng.integers(-1, 2))))
    return canvas


_DRAW = {"glyphs": _glyph, "parts": _part, "pairs": _pair, "strokes": _strokes,
         "shapes": _shapes, "textures": _textures, "clutter": _clutter,
         "strings": _string}
_CHECK_DIGIT_LIKE = {"glyphs", "parts", "strokes"}  # redrawn when a bar or a ring
_CHECK_BAR = {"shapes"}  # outlined triangles and rectangles are rings but no 0: bars only


def make_negatives(kind: str, n: int, rng: np.random.Generator,
                   mnist_train: np.ndarray | None = None, *, mnist_labels: np.ndarray | None = None,
                   used: list[int] | None = None) -> np.ndarray:
    """``n`` non-digit images of one kind, MNIST-normalised.

    Args:
        kind: one of :data:`KINDS`.
        n: images to make, >= 0.
        rng: the random stream (the output is a function of its state).
        mnist_train: uint8 (N, 28, 28) MNIST training images, needed by parts, pairs and
            strings; only the first 55,000 are used (the rest are ``cnn train``'s validation
            split).
        mnist_labels: (N,) labels of ``mnist_train``; when given, parts skip digit 1 and
            overlaid pairs are two different digits.
        used: when a list, the indices into ``mnist_train`` drawn are appended to it.
    Returns:
        uint8 array (n, 28, 28), white ink on black (0..255), ink box within 21 x 21, centre
        of mass within 1.5 px of (14, 14).
    Raises:
        ValueError: unknown kind, negative n, or parts/pairs without usable MNIST images.
    """
    if kind not in _DRAW:
        raise ValueError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    draw = _DRAW[kind]
    extra = {"used": used, "labels": mnist_labels} if kind in MNIST_KINDS else {}
    if kind in MNIST_KINDS:
        _pool(mnist_train)
    out = np.zeros((n, OUT_SIZE, OUT_SIZE), np.uint8)
    made = tries = 0
    while made < n:
        tries += 1
        if tries > 50 * n + 100:
            raise RuntimeError(f"{kind}: only {made} of {n} images after {tries} tries")
        canvas = draw(rng, mnist_train, **extra)
        img = None if canvas is None else normalise(canvas)
        if img is None or (kind in _CHECK_DIGIT_LIKE and digit_like(img)) or (
                kind in _CHECK_BAR and digit_like(img, rings=False)):
            continue
        out[made] = img
        made += 1
    return out


# ------------------------------------------------------------------------ command line
class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2, no usage dump
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _load_mnist(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with np.load(os.path.expanduser(path)) as d:
            x = d["x_train"]
            y = d.get("y_train")
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f"make_gate_negatives.py: error: cannot read MNIST training images "
                         f"from {path!r} ({type(exc).__name__}: {exc}); give --data a keras "
                         "mnist.npz") from None
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise SystemExit(f"make_gate_negatives.py: error: {path!r}: x_train has shape {x.shape}, "
                         "expected (N, 28, 28)")
    return x, y


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="make_gate_negatives.py", description=__doc__.splitlines()[0],
                     epilog="Writes OUT/noise/<kind>_<n>.png; see the module docstring.")
    parser.add_argument("--out", required=True, help="output folder (noise/ is made in it)")
    parser.add_argument("--per-kind", type=_positive, default=2000,
                        help="images of each kind (2000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(DEFAULT_KINDS),
                        metavar="KIND", help=f"kinds to make, of {', '.join(KINDS)} (all "
                                             "but strings)")
    parser.add_argument("--data", default=DEFAULT_DATA,
                        help="keras mnist.npz for parts, pairs and strings ($CNN_MNIST_DATA or "
                             "/work/shared/data/mnist.npz)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty OUT (old OUT/noise/*.png are removed)")
    args = parser.parse_args(argv)

    out = Path(os.path.expanduser(args.out))
    if out.exists() and not out.is_dir():
        parser.error(f"--out {args.out!r} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        parser.error(f"--out {args.out!r} is not empty; pass --overwrite to replace its noise/")
    kinds = list(dict.fromkeys(args.kinds))
    mnist = labels = None
    if any(k in MNIST_KINDS for k in kinds):
        try:
            mnist, labels = _load_mnist(args.data)
        except SystemExit as exc:
            print(exc, file=sys.stderr)
            return 2
    folder = out / "noise"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    counts = []
    for kind in kinds:
        rng = np.random.default_rng([args.seed, KINDS.index(kind)])
        images = make_negatives(kind, args.per_kind, rng, mnist, mnist_labels=labels)
        for k, img in enumerate(images):
            cv2.imwrite(str(folder / f"{kind}_{k:05d}.png"), img)
        counts.append(f"{kind} {len(images)}")
    print(f"{folder}: {args.per_kind * len(kinds)} images ({', '.join(counts)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
