"""Writer sets for measuring fine-tuning: three independent generators of one writer's digits.

Each set is one "writer": a style fixed by the seed (slant, pen width, letter shapes), with the
small variation of one hand between samples. Three generators, different ideas and different
code, so a recipe tuned on one can be checked on the others (held-out discipline):

- ``hershey``: OpenCV's Hershey fonts (``cv2.putText``: simplex, duplex, complex, triplex,
  script, italic) at the writer's slant and thickness, on paper with noise.
- ``pen``: a single-stroke skeleton per digit (control points in a unit box), the writer's
  slant, width and aspect, every control point jittered per sample, drawn as anti-aliased
  polylines (``cv2.polylines``) of the writer's pen width.
- ``euro``: continental European forms, drawn by stamping discs along parametric curves
  (arcs and segments, pressure varying along the stroke): a 1 with a flag and a foot, a 7 with
  a bar, an open-top 4, a 9 with a straight tail, a flat-topped 3.

Layout: ``OUT/<set>/train/<digit>/`` (``--train`` images per digit, what ``cnn train --data``
reads) and ``OUT/<set>/test/<digit>/`` (``--test`` per digit, scored with ``cnn predict``).

Usage::

    python scripts/make_writer_sets.py --out /tmp/writers --seed 1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

SIZE = 96  # canvas side, pixels

# ---------------------------------------------------------------- hershey (cv2.putText)
HERSHEY = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
           cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
           cv2.FONT_HERSHEY_SCRIPT_COMPLEX, cv2.FONT_HERSHEY_PLAIN)


def hershey_writer(rng):
    """The writer's constants: two fonts (a hand mixes a few forms), slant, thickness."""
    fonts = [int(HERSHEY[i]) | (cv2.FONT_ITALIC if rng.random() < 0.3 else 0)
             for i in rng.choice(len(HERSHEY), 2, replace=False)]
    return {"fonts": fonts, "slant": rng.uniform(-0.3, 0.3), "thick": rng.uniform(0.03, 0.07)}


def hershey_digit(digit, writer, rng):
    font = writer["fonts"][int(rng.random() < 0.3)]
    thick = max(1, int(round(writer["thick"] * SIZE * rng.uniform(0.85, 1.15))))
    (tw, th), base = cv2.getTextSize(str(digit), font, 1.0, thick)
    scale = rng.uniform(0.5, 0.65) * SIZE / max(th, 1)
    (tw, th), base = cv2.getTextSize(str(digit), font, scale, thick)
    ink = np.zeros((SIZE, SIZE), np.uint8)
    org = (int((SIZE - tw) / 2), int((SIZE + th) / 2))
    cv2.putText(ink, str(digit), org, font, scale, 255, thick, cv2.LINE_AA)
    shear = writer["slant"] + rng.normal(0, 0.04)
    m = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), rng.normal(0, 4), 1.0)
    m[0, 1] += shear
    m[0, 2] -= shear * SIZE / 2
    return cv2.warpAffine(ink, m, (SIZE, SIZE))


# ---------------------------------------------------------------- pen (polylines)
# (x, y) in a unit box, y down; each digit a list of strokes; curves sampled from arcs.
def _arc(cx, cy, rx, ry, a0, a1, n=12):
    t = np.radians(np.linspace(a0, a1, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


PEN = {
    0: [_arc(0.5, 0.5, 0.28, 0.42, -90, 275, 18)],
    1: [[(0.35, 0.25), (0.55, 0.08), (0.55, 0.92)]],
    2: [_arc(0.5, 0.32, 0.27, 0.24, 200, 380, 10) + [(0.25, 0.92), (0.8, 0.92)]],
    3: [_arc(0.48, 0.3, 0.25, 0.21, 210, 450, 12) + _arc(0.48, 0.7, 0.29, 0.22, -90, 150, 12)],
    4: [[(0.62, 0.92), (0.62, 0.08), (0.2, 0.65), (0.85, 0.65)]],
    5: [[(0.75, 0.08), (0.32, 0.08), (0.28, 0.45)] + _arc(0.5, 0.66, 0.28, 0.26, -120, 150, 12)],
    6: [[(0.68, 0.08)] + _arc(0.5, 0.68, 0.26, 0.24, 200, 560, 18)],
    7: [[(0.22, 0.1), (0.8, 0.1), (0.42, 0.92)]],
    8: [_arc(0.5, 0.28, 0.22, 0.2, 90, 450, 16) + _arc(0.5, 0.7, 0.27, 0.22, -90, 270, 16)],
    9: [_arc(0.5, 0.32, 0.25, 0.24, 0, 360, 16) + [(0.75, 0.32), (0.7, 0.92)]],
}


def pen_writer(rng):
    return {"slant": rng.uniform(-0.35, 0.35), "aspect": rng.uniform(0.65, 1.1),
            "width": rng.uniform(0.04, 0.09), "wobble": rng.uniform(0.015, 0.035),
            "bias": {d: rng.normal(0, 0.035, (3, 2)) for d in range(10)}}


def _smooth(n, coef):
    """A smooth displacement along a stroke of ``n`` points: ``coef`` (K, 2) weights of the
    first K sine/cosine waves over the stroke's length, shape ``(n, 2)``."""
    t = np.linspace(0, 1, n)[:, None]
    waves = [np.ones_like(t), np.sin(np.pi * t), np.cos(np.pi * t), np.sin(2 * np.pi * t)]
    return sum(w * c for w, c in zip(waves, coef))


def pen_digit(digit, writer, rng):
    ink = np.zeros((SIZE, SIZE), np.uint8)
    width = max(2, int(round(writer["width"] * SIZE * rng.uniform(0.9, 1.1))))
    for stroke in PEN[digit]:
        pts = np.array(stroke, np.float64)
        n = len(pts)
        pts = (pts + _smooth(n, writer["bias"][digit])
               + _smooth(n, rng.normal(0, writer["wobble"], (4, 2))))
        x = (pts[:, 0] - 0.5) * writer["aspect"] - writer["slant"] * (pts[:, 1] - 0.5)
        y = pts[:, 1] - 0.5
        box = 0.7 * SIZE * rng.uniform(0.9, 1.05)
        xy = np.stack([SIZE / 2 + x * box, SIZE / 2 + y * box], 1)
        cv2.polylines(ink, [np.round(xy * 16).astype(np.int32)], False, 255, width,
                      cv2.LINE_AA, shift=4)
    return ink


# ---------------------------------------------------------------- euro (stamped discs)
def _seg(p, q, n=20):
    return [(p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t) for t in np.linspace(0, 1, n)]


def _curve(cx, cy, r, a0, a1, squash=1.0, n=30):
    t = np.radians(np.linspace(a0, a1, n))
    return list(zip(cx + r * np.cos(t), cy + squash * r * np.sin(t)))


EURO = {
    0: [_curve(0.5, 0.5, 0.25, 0, 360, 1.65, 50)],
    1: [_seg((0.3, 0.3), (0.58, 0.08)), _seg((0.58, 0.08), (0.58, 0.9)),
        _seg((0.38, 0.9), (0.78, 0.9))],
    2: [_curve(0.5, 0.3, 0.24, 190, 360, 0.9) + _seg((0.74, 0.3), (0.24, 0.88))
        + _curve(0.3, 0.86, 0.06, 180, 360, 1.0, 8) + _seg((0.36, 0.86), (0.82, 0.9))],
    3: [_seg((0.25, 0.1), (0.75, 0.1)), _seg((0.75, 0.1), (0.45, 0.42)),
        _curve(0.48, 0.67, 0.27, -100, 150, 0.9)],
    4: [_seg((0.45, 0.08), (0.22, 0.6)), _seg((0.22, 0.6), (0.82, 0.6)),
        _seg((0.65, 0.3), (0.65, 0.92))],
    5: [_seg((0.78, 0.1), (0.34, 0.1)), _seg((0.34, 0.1), (0.3, 0.45)),
        _curve(0.48, 0.66, 0.27, -130, 145, 0.95)],
    6: [_curve(0.72, 0.62, 0.5, 230, 180, 1.0, 15) + _curve(0.49, 0.68, 0.25, 180, 540, 0.95, 40)],
    7: [_seg((0.2, 0.12), (0.8, 0.1)), _seg((0.8, 0.1), (0.45, 0.92)),
        _seg((0.38, 0.5), (0.78, 0.5))],
    8: [_curve(0.5, 0.3, 0.2, 60, 420, 1.0, 40) + _curve(0.5, 0.7, 0.25, 240, -120, 0.9, 40)],
    9: [_curve(0.48, 0.3, 0.24, -20, 340, 0.95, 40) + _seg((0.72, 0.25), (0.72, 0.92))],
}


def euro_writer(rng):
    return {"slant": rng.uniform(0.0, 0.4), "size": rng.uniform(0.6, 0.78),
            "radius": rng.uniform(0.022, 0.045), "pressure": rng.uniform(0.1, 0.5),
            "tilt": rng.uniform(-8, 8)}


def euro_digit(digit, writer, rng):
    acc = np.zeros((SIZE, SIZE), np.float32)
    angle = np.radians(writer["tilt"] + rng.normal(0, 3))
    c, s = np.cos(angle), np.sin(angle)
    scale = writer["size"] * SIZE * rng.uniform(0.92, 1.05)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    for stroke in EURO[digit]:
        pts = np.array(stroke) + rng.normal(0, 0.012, 2)  # each stroke placed by hand
        t = np.linspace(0, 1, len(pts))
        pts = pts + np.outer(np.sin(np.pi * t * rng.uniform(1, 3)), rng.normal(0, 0.012, 2))
        x, y = pts[:, 0] - 0.5 - writer["slant"] * (pts[:, 1] - 0.5), pts[:, 1] - 0.5
        px = SIZE / 2 + scale * (c * x - s * y)
        py = SIZE / 2 + scale * (s * x + c * y)
        r = writer["radius"] * SIZE * (1 - writer["pressure"] * np.sin(np.pi * t) * 0.5
                                       + writer["pressure"] * (t - 0.5) * 0.6)
        for xi, yi, ri in zip(px, py, r):
            d = np.hypot(xx - xi, yy - yi)
            np.maximum(acc, np.clip(ri + 0.5 - d, 0, 1), out=acc)
    return (acc * 255).astype(np.uint8)


GENERATORS = {"hershey": (hershey_writer, hershey_digit), "pen": (pen_writer, pen_digit),
              "euro": (euro_writer, euro_digit)}


def on_paper(ink: np.ndarray, rng) -> np.ndarray:
    """Dark ink on light, slightly uneven paper with sensor noise, uint8 ``(SIZE, SIZE)``."""
    grad = np.linspace(0, rng.uniform(-25, 25), SIZE)[None, :]
    paper = rng.uniform(200, 245) + grad + rng.normal(0, 4, (SIZE, SIZE))
    dark = rng.uniform(20, 70)
    img = paper * (1 - ink / 255.0) + dark * (ink / 255.0)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_set(out: Path, name: str, seed: int, train: int, test: int) -> int:
    """Write one writer's set under ``out/name/{train,test}/<digit>/``; returns images written."""
    make_writer, draw = GENERATORS[name]
    rng = np.random.default_rng(seed)
    writer = make_writer(rng)
    written = 0
    for split, count in (("train", train), ("test", test)):
        for digit in range(10):
            folder = out / name / split / str(digit)
            folder.mkdir(parents=True, exist_ok=True)
            for n in range(count):
                image = on_paper(draw(digit, writer, rng), rng)
                cv2.imwrite(str(folder / f"{digit}_{n:03d}.png"), image)
                written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder (one subfolder per set)")
    parser.add_argument("--seed", type=int, default=1, help="the writer (style and samples)")
    parser.add_argument("--sets", nargs="+", choices=sorted(GENERATORS), default=list(GENERATORS))
    parser.add_argument("--train", type=int, default=20, help="training images per digit (20)")
    parser.add_argument("--test", type=int, default=40, help="scored images per digit (40)")
    args = parser.parse_args(argv)
    for name in args.sets:
        n = write_set(Path(args.out), name, args.seed, args.train, args.test)
        print(f"{name}: wrote {n} images to {Path(args.out) / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
