"""Generate photos of whole numbers: 2-6 MNIST *test* digits written on one line.

Each image shows one number made of MNIST test digits drawn at random from all 10,000, written
on one line the way people write: digit heights varying by +-10 %, uneven gaps (some
neighbours touching or overlapping by a few pixels), the baseline drifting, and then
photographed under one of these conditions (the renderers of ``scripts/make_hard_photos.py``):

=============  ==================================================================================
tag            condition
=============  ==================================================================================
plain          ink on paper, uneven light, blur, noise, JPEG
touching       at least one pair of neighbours touching or overlapping (a 2 touching a 0)
shadow         a hard shadow across part of the page
ruled          ruled notebook paper, thin ballpoint strokes, a red margin line
boxed          a box drawn by hand around the number (an exam sheet's score box)
pencil         faint pencil, strokes 15-25 % darker than the paper
tilt           the page photographed at an angle (perspective)
squared        squared paper (held back: never looked at while tuning the reader)
marker         a thick marker whose strokes fill the loops (the hard photos' ``marker``), one
               pair touching (not in the default set: give ``--conditions marker``; added
               2026-12-08, the published sets keep their 8)
=============  ==================================================================================

Files are named ``<number>_<tag>_<nnn>.jpg`` and listed in ``index.csv`` (file, condition,
label, MNIST test indices; ``--split train``: training indices). Usage::

    python scripts/make_numbers.py [--out /tmp/numbers] [--seed 0] [--per-condition 30]
        [--conditions plain,touching] [--data mnist.npz]

Never train on these images: they are made from the test set (``--split train`` makes numbers
of training digits, x_train[:55,000], to train on; never score a model on those).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_hard_photos as hp  # noqa: E402

DEFAULT_OUT = "/tmp/numbers"
CONDITIONS = ("plain", "touching", "shadow", "ruled", "boxed", "pencil", "tilt", "squared",
              "marker")
DEFAULT_CONDITIONS = CONDITIONS[:-1]  # the sets as first published (marker came later)
HELD_OUT = ("squared",)
TRAIN_LIMIT = 55000  # --split train draws from x_train[:55000]: the rest is cnn train's validation


def number_ink(digits: list[np.ndarray], height: int, rng: np.random.Generator,
               touching: bool = False, pen: float | None = None,
               marker: float | None = None) -> np.ndarray:
    """The digits written side by side as one float32 ink map in [0, 1], (H, W).

    Each digit is resized to ``height`` +-10 % (``pen``: redrawn with a pen that many px wide,
    ``marker``: dilated by that part of its height, else MNIST's own strokes), cut to its ink,
    and placed after the previous one with a gap of -8 % .. 35 % of the height (negative:
    overlapping); with ``touching`` one pair is pushed
    together until the inks overlap. The baseline drifts by up to 12 % of the height.
    """
    inks = []
    for d in digits:
        h = max(8, int(height * rng.uniform(0.9, 1.1)))
        ink = (hp.pen_ink(d, h, pen) if pen else hp.thick_ink(d, h, marker) if marker
               else hp.smooth_ink(d, h))
        inks.append(hp.crop_ink(ink))
    gaps = rng.uniform(0.04, 0.35, len(inks)) * height
    gaps[rng.random(len(inks)) < 0.15] = rng.uniform(-0.05, 0.02) * height
    if touching and len(inks) > 1:
        k = int(rng.integers(1, len(inks)))
        gaps[k] = -rng.uniform(0.02, 0.1) * height - 2
    drift = rng.uniform(-0.12, 0.12) * height
    total = int(sum(i.shape[1] for i in inks) + gaps[1:].sum() + 4)
    canvas = np.zeros((int(height * 1.6 + abs(drift) + 4), max(total, 8) + int(height)),
                      np.float32)
    x = 2.0
    for k, ink in enumerate(inks):
        if k:
            x += gaps[k]
        frac = k / max(1, len(inks) - 1)
        base = int(height * 1.3 + (drift if drift > 0 else 0) - drift * frac
                   + rng.normal(0, 0.03 * height))
        top = base - ink.shape[0]
        hp.paste(canvas, ink, max(0, top), int(round(max(0.0, x))))
        x += ink.shape[1]
    return hp.crop_ink(canvas)


def render_number(digits: list[np.ndarray], condition: str, rng: np.random.Generator
                  ) -> np.ndarray:
    """One photo (uint8 BGR) of the number ``digits`` (28 x 28 uint8 each) under ``condition``."""
    style = hp.STYLES["a"]
    n = len(digits)
    frame_w = int(rng.integers(640, 1000))
    height = int(min(frame_w / (n * 0.95 + 0.6), frame_w * rng.uniform(0.15, 0.3)))
    frame = (int(max(height * rng.uniform(1.8, 3.5), 240)), frame_w)
    pen = None
    if condition in ("ruled", "squared"):
        pen = max(1.5, height * rng.uniform(0.03, 0.05))
    marker = rng.uniform(0.06, 0.13) if condition == "marker" else None
    ink = number_ink(digits, height, rng, touching=condition in ("touching", "marker"),
                     pen=pen, marker=marker)
    if ink.shape[1] > frame[1] - 10 or ink.shape[0] > frame[0] - 10:
        f = min((frame[1] - 10) / ink.shape[1], (frame[0] - 10) / ink.shape[0])
        ink = cv2.resize(ink, (max(1, int(ink.shape[1] * f)), max(1, int(ink.shape[0] * f))),
                         interpolation=cv2.INTER_AREA)
    if condition in ("plain", "touching", "marker"):
        return hp.plain_photo(None, rng, style, hw=frame, ink=ink)
    if condition == "shadow":
        img = hp.plain_photo(None, rng, style, hw=frame, ink=ink, keep_float=True)
        shade = hp.hard_shadow(img.shape[:2], rng, rng.uniform(*style.shadow))
        return hp.camera(img * shade[..., None], rng, style)
    if condition in ("ruled", "squared"):
        return _lined(ink, frame, rng, style, squared=condition == "squared")
    if condition == "boxed":
        def box(layers, hw, b, pen_colour):
            x0, y0, x1, y1 = b
            m = [(y1 - y0) * rng.uniform(0.1, 0.35) for _ in range(4)]
            width = max(1.5, hp._pen_width(layers[0][0][y0:y1, x0:x1]) * rng.uniform(0.6, 1.1))
            corners = [(x0 - m[0], y0 - m[1]), (x1 + m[2], y0 - m[1]), (x1 + m[2], y1 + m[3]),
                       (x0 - m[0], y1 + m[3])]
            for k in range(4):
                hp.hand_line(layers[0][0], corners[k], corners[(k + 1) % 4], width, rng)
        frame = (frame[0], frame[1] + int(0.2 * ink.shape[0]))
        return hp.plain_photo(None, rng, style, hw=frame, ink=ink, extra=box)
    if condition == "pencil":
        grain = cv2.GaussianBlur(rng.uniform(0.55, 1.0, ink.shape).astype(np.float32), (0, 0), 1)
        layer = np.zeros(frame, np.float32)
        top, left = hp.place_at(frame, ink.shape, rng)
        hp.paste(layer, ink * grain, top, left)
        colour = hp.choose(rng, style.papers)
        paper = colour[None, None, :] * hp.paper_texture(frame, rng)[..., None]
        darker = rng.uniform(0.15, 0.25) / float(np.percentile(layer[layer > 0.05], 90))
        pencil = colour.mean() * (1 - darker) * np.ones(3, np.float32)
        return hp.camera(hp.compose(paper, [(np.clip(layer, 0, 1), pencil)]), rng, style)
    if condition == "tilt":
        img = hp.plain_photo(None, rng, style, hw=frame, ink=ink)
        h, w = img.shape[:2]
        d = rng.uniform(0.03, 0.1, 4) * np.array([w, h, w, h])
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        dst = np.float32([[d[0], d[1]], [w - d[2], 0], [w, h - d[3]], [0, h]])
        matrix = cv2.getPerspectiveTransform(src, dst)
        return cv2.warpPerspective(img, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
    raise ValueError(f"unknown condition {condition!r}: use one of {', '.join(CONDITIONS)}")


def _lined(ink, frame, rng, style, squared: bool):
    """Ruled or squared paper with the number written on it (a red margin line sometimes)."""
    gap = max(12, int(ink.shape[0] / rng.uniform(1.6, 2.6)))
    colour = np.array([0.92, 0.72, 0.55], np.float32) * rng.uniform(0.9, 1.05)

    def lines(layers, hw, box, pen):
        h, w = hw
        ruled = np.zeros(hw, np.float32)
        lw = rng.uniform(1.0, 2.2) * max(h, w) / 700
        for y in range(int(rng.integers(0, gap)), h, gap):
            hp.hand_line(ruled, (0, y), (w - 1, y + rng.uniform(-2, 2)), lw, rng, 0.0005)
        if squared:
            for x in range(int(rng.integers(0, gap)), w, gap):
                hp.hand_line(ruled, (x, 0), (x + rng.uniform(-2, 2), h - 1), lw, rng, 0.0005)
        layers.insert(0, (ruled * rng.uniform(0.5, 0.9), colour))

    return hp.plain_photo(None, rng, style, hw=frame, ink=ink, extra=lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("CNN_MNIST_DATA", hp.DEFAULT_DATA),
                        help="MNIST .npz with x_test, y_test (x_train, y_train for --split "
                        "train)")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"output folder ({DEFAULT_OUT})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the numpy Generator (0)")
    parser.add_argument("--per-condition", type=int, default=30,
                        help="images per condition (30)")
    parser.add_argument("--conditions", default=",".join(DEFAULT_CONDITIONS),
                        help="comma-separated condition tags (all but marker)")
    parser.add_argument("--min-digits", type=int, default=2, help="shortest number (2)")
    parser.add_argument("--max-digits", type=int, default=6, help="longest number (6)")
    parser.add_argument("--split", choices=["test", "train"], default="test",
                        help="write MNIST test digits (test sets, the default) or training "
                        "digits of the first 55,000 (cnn train's validation split is the rest; "
                        "to train on: never score a model on those)")
    args = parser.parse_args(argv)
    conditions = [c for c in args.conditions.split(",") if c]
    for c in conditions:
        if c not in CONDITIONS:
            parser.error(f"unknown condition {c!r}: use some of {', '.join(CONDITIONS)}")
    if not 1 <= args.min_digits <= args.max_digits:
        parser.error("need 1 <= --min-digits <= --max-digits")
    with np.load(args.data) as data:
        x_test, y_test = data[f"x_{args.split}"], data[f"y_{args.split}"]
    if args.split == "train":
        x_test, y_test = x_test[:TRAIN_LIMIT], y_test[:TRAIN_LIMIT]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.glob("*.jpg")):
        print(f"{out} already holds images; give an empty or new --out", file=sys.stderr)
        return 2
    rng = np.random.default_rng([args.seed, 29])
    rows = []
    for condition in conditions:
        for n in range(args.per_condition):
            count = int(rng.integers(args.min_digits, args.max_digits + 1))
            picks = rng.choice(len(x_test), size=count, replace=False)
            label = "".join(str(int(y_test[i])) for i in picks)
            image = render_number([x_test[i] for i in picks], condition, rng)
            name = f"{label}_{condition}_{n:03d}.jpg"
            quality = int(rng.integers(70, 92))
            ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            data.tofile(str(out / name))
            rows.append((name, condition, label, " ".join(str(int(i)) for i in picks)))
        print(f"{condition:9s} {args.per_condition} images")
    with open(out / "index.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "condition", "label", f"mnist_{args.split}_indices"])
        writer.writerows(rows)
    print(f"{len(rows)} images in {out} (seed {args.seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
