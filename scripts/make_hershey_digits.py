"""Generate digits in a style MNIST lacks: OpenCV's handwriting-like Hershey script fonts, photographed.

MNIST's writers (Census employees and students) wrote plain digits with one pen stroke. Here
each digit is drawn in one of OpenCV's Hershey script fonts (``FONT_HERSHEY_SCRIPT_SIMPLEX``,
``FONT_HERSHEY_SCRIPT_COMPLEX``, optionally italic: a slashed 0, a 1 with an upstroke), slanted,
rotated and scaled at random, and by default (``--look outline``) as hollow strokes, the outline
of a thick pen, as in bubble or stencil lettering: a style no MNIST writer used (the shipped
default model reads 20.1 % of ``--seed 2 --per-class 100``, against 100 % of the plain
script strokes, ``--look
script``). The page is tinted paper with uneven light, then blurred, noised and saved as JPEG
(the photo conditions of ``make_non_digits.py``), or a clean drawing-app canvas (either
polarity).

Files go into class folders ``OUT/0`` .. ``OUT/9`` (the layout ``cnn train --data OUT`` and
``cnn evaluate --data OUT`` read), ``<digit>_<nnn>.<ext>``. Different seeds give independent
sets: the README's demonstration fine-tunes on ``--seed 1 --per-class 20`` and scores on
``--seed 2 --per-class 100``.

Usage::

    python scripts/make_hershey_digits.py --out /tmp/hershey_test --seed 2 --per-class 100
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_non_digits import STYLES, paper, photograph, save  # noqa: E402

SCRIPT_FONTS = (cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX)


def draw_digit(digit: int, size: tuple[int, int], rng: np.random.Generator,
               look: str = "script") -> np.ndarray:
    """The stroke mask of one script digit, float32 ``(H, W)`` in [0, 1] (1 = ink)."""
    h, w = size
    font = SCRIPT_FONTS[rng.integers(len(SCRIPT_FONTS))]
    if rng.random() < 0.4:
        font |= cv2.FONT_ITALIC
    thickness = max(1, int(rng.uniform(0.015, 0.045) * h))
    text = str(digit)
    (tw, th), base = cv2.getTextSize(text, font, 1.0, thickness)
    scale = rng.uniform(0.35, 0.7) * h / max(th + base, 1)
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    org = (int((w - tw) / 2 + rng.uniform(-0.08, 0.08) * w),
           int((h + th) / 2 + rng.uniform(-0.08, 0.08) * h))
    layer = np.zeros(size, np.uint8)
    cv2.putText(layer, text, org, font, scale, 255, thickness, cv2.LINE_AA)
    shear = rng.uniform(-0.25, 0.25)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-12, 12), 1.0)
    m[0, 1] += shear
    m[0, 2] -= shear * h / 2
    ink = cv2.warpAffine(layer, m, (w, h))
    return LOOKS[look](ink, thickness, rng).astype(np.float32) / 255


def _plain(ink: np.ndarray, thickness: int, rng: np.random.Generator) -> np.ndarray:
    return ink


def _outline(ink: np.ndarray, thickness: int, rng: np.random.Generator) -> np.ndarray:
    """Hollow strokes: a thick pen's outline, as a stencil or bubble lettering."""
    k = max(3, thickness * 3)
    fat = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    inner = cv2.erode(fat, cv2.getStructuringElement(
        cv2.MORPH_ELLIPSE, (max(3, k // 2 * 2 - 1),) * 2))
    return cv2.subtract(fat, inner)


LOOKS = {"script": _plain, "outline": _outline}


def render(digit: int, rng: np.random.Generator, style: dict, look: str = "outline"
           ) -> tuple[np.ndarray, str]:
    """One image of ``digit``: ``(uint8 image, extension)``, a photo (BGR JPEG) or a canvas."""
    size = (int(rng.integers(200, 600)), int(rng.integers(200, 600)))
    ink = draw_digit(digit, size, rng, look)
    if rng.random() < 0.25:
        canvas = (ink * 255).astype(np.uint8)
        return (canvas if rng.random() < 0.5 else 255 - canvas), ".png"
    photo = paper(size, rng, style) * (1 - ink) + rng.uniform(*style["ink"]) * ink
    return photograph(photo, rng, style), ".jpg"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder (class folders 0..9 made)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-class", type=int, default=20, help="images per digit (20)")
    parser.add_argument("--style", choices=sorted(STYLES), default="a")
    parser.add_argument("--look", choices=sorted(LOOKS), default="outline",
                        help="outline: hollow strokes (bubble lettering, the default); script: "
                             "the plain pen stroke")
    args = parser.parse_args(argv)
    out = Path(args.out)
    rng = np.random.default_rng(args.seed)
    style = STYLES[args.style]
    for digit in range(10):
        (out / str(digit)).mkdir(parents=True, exist_ok=True)
    written = 0
    for n in range(args.per_class):
        for digit in range(10):
            image, ext = render(digit, rng, style, args.look)
            if not save(out / str(digit) / f"{digit}_{n:03d}{ext}", image, rng):
                return 1
            written += 1
    print(f"wrote {written} images (10 digits x {args.per_class}) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
