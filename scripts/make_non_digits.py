"""Generate a set of images that are NOT digits, to measure (and train) "not a digit".

A digit reader is shown all sorts of things that are not one digit: a letter, a symbol, a
doodle, a drawn shape, an empty or textured page, a photo of an object. Each file here is one
of those, rendered as a phone photo of paper (tinted paper, uneven light, blur, sensor noise,
JPEG) or as a drawing-app canvas export, under these kinds:

==========  =====================================================================================
kind        what it shows
==========  =====================================================================================
letter      one handwritten-style letter (OpenCV's Hershey fonts, slanted, scaled, jittered);
            letters that are also digit shapes (O o D Q I l i j J S s Z z B b G g q) are left
            out, since no reader can tell them from 0, 1, 5, 2, 8, 6, 9
symbol      one symbol: # @ & % ? ! + = * $ < > ~ { } [ ] ^
shape       a hand-drawn shape: triangle, square, star, arrow, cross, heart, spiral, smiley,
            zig-zag, a grid of dots
scribble    a random doodle of smooth pen strokes
word        two to four letters side by side (a word or initials, not one character)
blank       paper with nothing on it: plain, textured, ruled or squared, with a stain
object      a photo-like object: shaded blobs and boxes with edges and texture on a table
texture     a close photo of a texture: wood grain, woven fabric, gravel, brushed metal
==========  =====================================================================================

Files are named ``nd_<kind>_<nnn>.<ext>``: no leading digit, so ``cnn predict`` does not read a
label from them. The same seed gives the same files. ``--style b`` draws paper, pen, light and
sizes from other ranges, for a second set that checks the first is not tuned to.

Usage::

    python scripts/make_non_digits.py [--out /tmp/non_digits] [--seed 0] [--per-kind 80]
        [--style a] [--kinds letter,shape]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

KINDS = ("letter", "symbol", "shape", "scribble", "word", "blank", "object", "texture")
LETTERS = "ACEFHKLMNPRTUVWXYacdefhkmnprtuvwxy"
SYMBOLS = "#@&%?!+=*$<>~{}[]^"
SHAPES = ("triangle", "square", "star", "arrow", "cross", "heart", "spiral", "smiley",
          "zigzag", "dots")
FONTS = (cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
         cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
         cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_TRIPLEX)

STYLES = {
    "a": {"paper": (0.80, 0.97), "ink": (0.05, 0.30), "light": (0.0, 0.25), "noise": (0.01, 0.03),
          "size": (0.35, 0.65), "thickness": (0.015, 0.035)},
    "b": {"paper": (0.70, 0.92), "ink": (0.15, 0.45), "light": (0.1, 0.4), "noise": (0.02, 0.05),
          "size": (0.25, 0.75), "thickness": (0.01, 0.05)},
}


def _uniform(rng: np.random.Generator, pair) -> float:
    return float(rng.uniform(*pair))


def draw_letter(canvas: np.ndarray, rng: np.random.Generator, style: dict, text: str | None = None
                ) -> None:
    """Draw one letter (or ``text``) in a Hershey font, scaled to the frame, slanted by a
    random affine warp, into the uint8 stroke mask ``canvas`` (ink 255 on 0)."""
    h, w = canvas.shape
    text = text or LETTERS[rng.integers(len(LETTERS))]
    font = FONTS[rng.integers(len(FONTS))]
    thickness = max(1, int(_uniform(rng, style["thickness"]) * h))
    (tw, th), base = cv2.getTextSize(text, font, 1.0, thickness)
    scale = _uniform(rng, style["size"]) * h / max(th + base, 1)
    scale = min(scale, 0.9 * w / max(tw, 1))
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    org = (int((w - tw) / 2 + rng.uniform(-0.1, 0.1) * w),
           int((h + th) / 2 + rng.uniform(-0.1, 0.1) * h))
    layer = np.zeros_like(canvas)
    cv2.putText(layer, text, org, font, scale, 255, thickness, cv2.LINE_AA)
    shear = rng.uniform(-0.3, 0.3)
    angle = rng.uniform(-15, 15)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    m[0, 1] += shear
    m[0, 2] -= shear * h / 2
    layer = cv2.warpAffine(layer, m, (w, h))
    np.maximum(canvas, layer, out=canvas)


def _stroke(canvas: np.ndarray, points: np.ndarray, thickness: int, closed: bool = False) -> None:
    pts = np.round(points).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(canvas, [pts], closed, 255, thickness, cv2.LINE_AA)


def _wobble(points: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Resample a polyline densely and add a smooth hand tremor of ``amount`` pixels."""
    seg = [np.linspace(points[i], points[i + 1], 12, endpoint=False)
           for i in range(len(points) - 1)]
    dense = np.concatenate(seg + [points[-1:]])
    noise = rng.normal(0, 1, dense.shape)
    kernel = np.ones(9) / 9
    noise = np.stack([np.convolve(noise[:, k], kernel, mode="same") for k in range(2)], 1)
    return dense + amount * noise


def draw_shape(canvas: np.ndarray, rng: np.random.Generator, style: dict) -> None:
    """Draw one hand-drawn shape from :data:`SHAPES`."""
    h, w = canvas.shape
    r = _uniform(rng, style["size"]) * h / 2
    c = np.array([w / 2, h / 2]) + rng.uniform(-0.1, 0.1, 2) * h
    t = max(1, int(_uniform(rng, style["thickness"]) * h))
    kind = SHAPES[rng.integers(len(SHAPES))]
    rot = rng.uniform(0, 2 * np.pi)

    def poly(angles, radii):
        a = np.asarray(angles) + rot
        return c + np.stack([np.cos(a), np.sin(a)], 1) * np.asarray(radii)[:, None]

    if kind == "triangle":
        pts = poly(np.arange(4) * 2 * np.pi / 3, np.full(4, r))
    elif kind == "square":
        pts = poly(np.arange(5) * np.pi / 2 + np.pi / 4, np.full(5, r))
    elif kind == "star":
        pts = poly(np.arange(11) * np.pi / 5, np.where(np.arange(11) % 2, r * 0.4, r))
    elif kind == "arrow":
        pts = np.array([[-1, 0], [1, 0], [0.5, -0.4], [1, 0], [0.5, 0.4]]) * r
        rotm = np.array([[np.cos(rot), -np.sin(rot)], [np.sin(rot), np.cos(rot)]])
        pts = c + pts @ rotm.T
    elif kind == "cross":
        for a in (rot, rot + np.pi / 2):
            d = np.array([np.cos(a), np.sin(a)]) * r
            _stroke(canvas, _wobble(np.stack([c - d, c + d]), rng, r * 0.02), t)
        return
    elif kind == "heart":
        s = np.linspace(0, 2 * np.pi, 60)
        x = 16 * np.sin(s) ** 3
        y = -(13 * np.cos(s) - 5 * np.cos(2 * s) - 2 * np.cos(3 * s) - np.cos(4 * s))
        pts = c + np.stack([x, y], 1) * r / 17
    elif kind == "spiral":
        s = np.linspace(0, 5 * np.pi, 120)
        pts = poly(s, r * s / s[-1])
    elif kind == "smiley":
        _stroke(canvas, poly(np.linspace(0, 2 * np.pi, 60), np.full(60, r)), t, closed=True)
        for dx in (-0.35, 0.35):
            cv2.circle(canvas, tuple(int(v) for v in c + np.array([dx, -0.3]) * r),
                       max(2, int(r * 0.08)), 255, -1, cv2.LINE_AA)
        s = np.linspace(0.2 * np.pi, 0.8 * np.pi, 20)
        _stroke(canvas, c + np.stack([np.cos(s), np.sin(s)], 1) * r * 0.55, t)
        return
    elif kind == "zigzag":
        xs = np.linspace(-r, r, 7)
        ys = np.where(np.arange(7) % 2, r * 0.5, -r * 0.5)
        pts = c + np.stack([xs, ys], 1)
    else:  # dots
        for gx in np.linspace(-r, r, 4):
            for gy in np.linspace(-r, r, 4):
                cv2.circle(canvas, (int(c[0] + gx), int(c[1] + gy)), max(2, t), 255, -1,
                           cv2.LINE_AA)
        return
    _stroke(canvas, _wobble(pts, rng, r * 0.02), t)


def draw_scribble(canvas: np.ndarray, rng: np.random.Generator, style: dict) -> None:
    """Two to five smooth random pen strokes across the middle of the frame."""
    h, w = canvas.shape
    t = max(1, int(_uniform(rng, style["thickness"]) * h))
    for _ in range(rng.integers(2, 6)):
        ctrl = rng.uniform(0.15, 0.85, (rng.integers(4, 9), 2)) * [w, h]
        s = np.linspace(0, 1, 80)
        idx = s * (len(ctrl) - 1)
        lo = np.minimum(idx.astype(int), len(ctrl) - 2)
        f = (idx - lo)[:, None]
        f = f * f * (3 - 2 * f)
        _stroke(canvas, ctrl[lo] * (1 - f) + ctrl[lo + 1] * f, t)


def draw_word(canvas: np.ndarray, rng: np.random.Generator, style: dict) -> None:
    """Two to four letters side by side."""
    n = int(rng.integers(2, 5))
    text = "".join(LETTERS[i] for i in rng.integers(len(LETTERS), size=n))
    draw_letter(canvas, rng, dict(style, size=(0.2, 0.4)), text)


def draw_symbol(canvas: np.ndarray, rng: np.random.Generator, style: dict) -> None:
    draw_letter(canvas, rng, style, SYMBOLS[rng.integers(len(SYMBOLS))])


def paper(shape: tuple[int, int], rng: np.random.Generator, style: dict) -> np.ndarray:
    """Grey paper ``(H, W)`` in [0, 1] with a light gradient and fibre texture."""
    h, w = shape
    base = _uniform(rng, style["paper"])
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    a = rng.uniform(0, 2 * np.pi)
    light = _uniform(rng, style["light"]) * ((np.cos(a) * xx + np.sin(a) * yy) - 0.5)
    fibre = cv2.GaussianBlur(rng.normal(0, 0.02, shape).astype(np.float32), (0, 0), 2)
    return np.clip(base + light + fibre, 0, 1).astype(np.float32)


def blank_page(page: np.ndarray, rng: np.random.Generator, style: dict) -> np.ndarray:
    """Plain, ruled or squared paper, sometimes a stain: nothing written."""
    h, w = page.shape
    kind = rng.integers(4)
    if kind in (1, 2):
        gap = int(rng.uniform(0.06, 0.12) * h)
        for y in range(gap // 2, h, gap):
            page[max(0, y - 1):y + 1] *= 0.85
        if kind == 2:
            for x in range(gap // 2, w, gap):
                page[:, max(0, x - 1):x + 1] *= 0.85
    if kind == 3:
        c = (int(rng.uniform(0.2, 0.8) * w), int(rng.uniform(0.2, 0.8) * h))
        ring = np.zeros(page.shape, np.uint8)
        cv2.circle(ring, c, int(rng.uniform(0.15, 0.35) * h), 255, max(2, h // 60), cv2.LINE_AA)
        page -= 0.15 * cv2.GaussianBlur(ring.astype(np.float32) / 255, (0, 0), 2)
    return page


def object_photo(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A photo-like scene: a textured table with one to three shaded objects (boxes, blobs)."""
    h, w = shape
    table = rng.uniform(0.2, 0.8)
    img = np.full(shape, table, np.float32)
    img += cv2.GaussianBlur(rng.normal(0, 0.08, shape).astype(np.float32), (0, 0), 6)
    for _ in range(rng.integers(1, 4)):
        mask = np.zeros(shape, np.uint8)
        c = (int(rng.uniform(0.2, 0.8) * w), int(rng.uniform(0.2, 0.8) * h))
        if rng.random() < 0.5:
            axes = (int(rng.uniform(0.1, 0.35) * w), int(rng.uniform(0.1, 0.35) * h))
            cv2.ellipse(mask, c, axes, rng.uniform(0, 180), 0, 360, 255, -1, cv2.LINE_AA)
        else:
            size = rng.uniform(0.15, 0.5, 2) * [w, h]
            box = cv2.boxPoints(((c[0], c[1]), (size[0], size[1]), rng.uniform(0, 90)))
            cv2.fillPoly(mask, [box.astype(np.int32)], 255, cv2.LINE_AA)
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        shade = rng.uniform(0.05, 0.9) + rng.uniform(-0.3, 0.3) * (xx - yy)
        alpha = mask.astype(np.float32) / 255
        img = img * (1 - alpha) + shade * alpha
    return np.clip(img, 0, 1)


def texture_photo(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A close photo of a surface, ``(H, W)`` in [0, 1]: wood grain, woven fabric, gravel or
    brushed metal, at a random scale and angle."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) / max(h, w)
    a = rng.uniform(0, np.pi)
    u = np.cos(a) * xx + np.sin(a) * yy
    v = -np.sin(a) * xx + np.cos(a) * yy
    kind = rng.integers(4)
    base = rng.uniform(0.25, 0.75)
    if kind == 0:  # wood: warped rings
        warp = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), 25)
        warp *= 4 / max(float(np.abs(warp).max()), 1e-6)
        img = base + 0.12 * np.sin(2 * np.pi * (u * rng.uniform(8, 30) + warp))
    elif kind == 1:  # woven fabric: two crossing gratings
        f = rng.uniform(20, 60)
        img = base + 0.08 * (np.sin(2 * np.pi * f * u) + np.sin(2 * np.pi * f * v))
    elif kind == 2:  # gravel: many small shaded blobs
        img = np.full(shape, base, np.float32)
        for _ in range(int(rng.integers(60, 200))):
            c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
            r = max(2, int(rng.uniform(0.01, 0.05) * max(h, w)))
            cv2.circle(img, c, r, float(rng.uniform(0.1, 0.9)), -1, cv2.LINE_AA)
    else:  # brushed metal: noise stretched along one direction
        img = cv2.GaussianBlur(rng.normal(0, 0.15, shape).astype(np.float32), (0, 0),
                               sigmaX=rng.uniform(8, 30), sigmaY=0.8)
        img = base + img
    img = img + cv2.GaussianBlur(rng.normal(0, 0.05, shape).astype(np.float32), (0, 0), 3)
    return np.clip(img, 0, 1).astype(np.float32)


def photograph(image: np.ndarray, rng: np.random.Generator, style: dict) -> np.ndarray:
    """Camera effects: blur, sensor noise, a slight colour cast; returns uint8 BGR."""
    img = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.5))
    img = img + rng.normal(0, _uniform(rng, style["noise"]), img.shape)
    cast = 1 + rng.uniform(-0.06, 0.06, 3)
    bgr = np.clip(img[..., None] * cast, 0, 1)
    return (bgr * 255).astype(np.uint8)


DRAW = {"letter": draw_letter, "symbol": draw_symbol, "shape": draw_shape,
        "scribble": draw_scribble, "word": draw_word}


def render(kind: str, rng: np.random.Generator, style: dict) -> tuple[np.ndarray, str]:
    """One image of ``kind``: ``(image, extension)``; image uint8, BGR or grey."""
    size = (int(rng.integers(200, 700)), int(rng.integers(200, 700)))
    if kind == "object":
        return photograph(object_photo(size, rng), rng, style), ".jpg"
    if kind == "texture":
        return photograph(texture_photo(size, rng), rng, style), ".jpg"
    page = paper(size, rng, style)
    if kind == "blank":
        return photograph(blank_page(page, rng, style), rng, style), ".jpg"
    strokes = np.zeros(size, np.uint8)
    DRAW[kind](strokes, rng, style)
    ink = strokes.astype(np.float32) / 255
    if rng.random() < 0.25:  # a drawing-app canvas export: pure strokes, either polarity
        canvas = (ink * 255).astype(np.uint8)
        return (canvas if rng.random() < 0.5 else 255 - canvas), ".png"
    darkness = _uniform(rng, style["ink"])
    photo = page * (1 - ink) + darkness * ink
    return photograph(photo, rng, style), ".jpg"


def save(path: Path, image: np.ndarray, rng: np.random.Generator) -> bool:
    """Write ``image`` to a new file ``path`` (JPEG quality 60-94 at random); False, with a
    message, when the file exists (nothing is overwritten)."""
    if path.exists():
        print(f"{path} exists; use another --out", file=sys.stderr)
        return False
    params = [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 95))] if path.suffix == ".jpg" else []
    cv2.imwrite(str(path), image, params)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/non_digits", help="output folder (created)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-kind", type=int, default=80, help="images per kind (80)")
    parser.add_argument("--style", choices=sorted(STYLES), default="a")
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help=f"comma-separated subset of {','.join(KINDS)}")
    args = parser.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown kinds {unknown}; choose from {', '.join(KINDS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    style = STYLES[args.style]
    written = 0
    for kind in kinds:
        for n in range(args.per_kind):
            image, ext = render(kind, rng, style)
            if not save(out / f"nd_{kind}_{n:03d}{ext}", image, rng):
                return 1
            written += 1
    print(f"wrote {written} images ({len(kinds)} kinds x {args.per_kind}) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
