"""More negatives for the gate, in the form ``cnn predict`` gives them: photos read back by the pipeline.

``scripts/make_gate_negatives.py`` draws negatives directly as 28 x 28 network inputs. What the
gate meets in ``cnn predict`` is the photo pipeline's output: a letter or a stain photographed on
paper, thresholded, one component picked, re-centred. This script takes a folder of negatives
(``IN/noise/*.png``) and writes, into ``OUT/noise/``:

- ``photo_*``: a share of them rendered as small photos of ink on paper and read back with
  :func:`cnn.vision.pipeline.to_mnist`, as ``predict`` would
  (:func:`cnn.data.photo_render.read_back_photo`: the training renderer, not a test generator);
- ``pen_*``: glyphs (``glyphs_*`` files) turned into pen strokes: thinned to a one-pixel
  skeleton (Zhang & Suen, "A fast parallel algorithm for thinning digital patterns", CACM 1984)
  and redrawn with a round pen of random width, so that typeset characters look handwritten;
- ``paper_*``: empty pages (lines, shadow edges, noise, JPEG) read back by the pipeline, where it
  still finds some "ink".

Images in which the pipeline finds no ink are left out (``cnn predict`` rejects those anyway).

Usage::

    python scripts/gate_photo_negatives.py IN --out OUT [--share 1.0] [--paper 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnn.data.photo_render import read_back_photo


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a bool ``(H, W)`` mask to a one-pixel skeleton (bool)."""
    img = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = [np.roll(np.roll(img, -dy, 0), -dx, 1) for dy, dx in
                 ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))]
            b = sum(p)
            a = sum(((p[i] == 0) & (p[(i + 1) % 8] == 1)).astype(np.uint8) for i in range(8))
            if step == 0:
                c1, c2 = p[0] * p[2] * p[4], p[2] * p[4] * p[6]
            else:
                c1, c2 = p[0] * p[2] * p[6], p[0] * p[4] * p[6]
            remove = (img == 1) & (b >= 2) & (b <= 6) & (a == 1) & (c1 == 0) & (c2 == 0)
            if remove.any():
                img[remove] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def pen_stroke(glyph: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uint8 28 x 28 glyph redrawn as a pen stroke: upscaled 4x, thinned, dilated with a
    disc of radius 3-7 px (0.75-1.75 px at 28 x 28), smoothed and scaled back."""
    big = cv2.resize(glyph, (112, 112), interpolation=cv2.INTER_LINEAR) > 100
    skeleton = thin(big).astype(np.uint8)
    r = int(rng.integers(3, 8))
    pen = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    stroke = cv2.dilate(skeleton * 255, pen)
    stroke = cv2.GaussianBlur(stroke, (0, 0), 1.2)
    return cv2.resize(stroke, (28, 28), interpolation=cv2.INTER_AREA)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="folder made by make_gate_negatives.py (has noise/)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--share", type=float, default=1.0,
                        help="share of the negatives rendered as photos (1.0)")
    parser.add_argument("--paper", type=int, default=1000, help="empty pages (1000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    files = sorted((Path(args.source) / "noise").glob("*.png"))
    if not files:
        parser.error(f"{args.source}/noise has no PNG files: run make_gate_negatives.py first")
    out = Path(args.out) / "noise"
    if out.exists() and any(out.iterdir()):
        parser.error(f"{out} is not empty")
    out.mkdir(parents=True)
    rng = np.random.default_rng(args.seed)
    counts = {"photo": 0, "pen": 0, "paper": 0}
    for f in files:
        image = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
        if f.name.startswith("glyphs_") and rng.random() < 0.5:
            pen = pen_stroke(image, rng)
            cv2.imwrite(str(out / f"pen_{f.name}"), pen)
            counts["pen"] += 1
            image = pen  # the photo below then shows the pen version
        if rng.random() < args.share:
            seen = read_back_photo(image, rng)
            if seen is not None:
                cv2.imwrite(str(out / f"photo_{f.name}"), seen)
                counts["photo"] += 1
    for k in range(args.paper):
        seen = read_back_photo(np.zeros((28, 28), np.uint8), rng)
        if seen is not None:
            cv2.imwrite(str(out / f"paper_{k:05d}.png"), seen)
            counts["paper"] += 1
    print(f"{out}: {sum(counts.values())} images ({', '.join(f'{k} {v}' for k, v in counts.items())})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
