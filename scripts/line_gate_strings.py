"""The line gate's "several digits" examples, as the number reader sees a whole line.

The number reader weighs "several digits" against "one digit" with the whole line normalised as
one 28 x 28 digit and the line gate's P(several digits) of it (:mod:`cnn.tasks.numbers`,
:func:`cnn.tasks.numbers.convincing`, test 1). ``scripts/make_gate_negatives.py --kinds pairs
strings`` draws such lines directly as network inputs; this script shows the gate what the
reader gives it instead: a string of 2-4 MNIST *training* digits (the ``strings`` kind: slant,
drifting baseline, touching and overlapping neighbours, marker or fine pen) photographed by the
training renderer (:func:`cnn.data.photo_render.render_photo`, not a test-set generator), read
back by :func:`cnn.vision.numbers.read_line` with the default classifier, and its whole-line
digit written as ``OUT/noise/line_s<seed>_<n>.png`` (class 10 of ``cnn train --data OUT``
with an FC11 model). Strings in which the reader finds no line are drawn again.

Usage::

    python scripts/line_gate_strings.py --out OUT [--count 4000] [--seed 0]

Deterministic given ``--seed`` and the default classifier. About 40 ms a string on one core;
runs with other seeds may write into the same OUT at once (one a core), and files of other
kinds there (``make_gate_negatives.py``'s) are left alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import make_gate_negatives as neg  # noqa: E402

from cnn.data.photo_render import render_photo  # noqa: E402
from cnn.errors import UserError  # noqa: E402
from cnn.tasks.numbers import segment_scorer  # noqa: E402
from cnn.tasks.predictor import load_predictor  # noqa: E402
from cnn.vision.numbers import read_line  # noqa: E402


def line_images(count: int, rng: np.random.Generator, mnist_train: np.ndarray,
                score) -> np.ndarray:
    """``count`` whole-line digits of photographed strings (see the module docstring).

    Args:
        count: images to make, >= 0.
        rng: the random stream.
        mnist_train: uint8 (N, 28, 28) MNIST training images (only the first 55,000 used).
        score: the number reader's segment scorer (:func:`cnn.tasks.numbers.segment_scorer`).
    Returns:
        uint8 (count, 28, 28), white on black, MNIST-normalised by the reader.
    Raises:
        RuntimeError: the reader found no line in 50 times ``count`` (+ 100) strings.
    """
    out = np.zeros((count, 28, 28), np.uint8)
    made = tries = 0
    while made < count:
        tries += 1
        if tries > 50 * count + 100:
            raise RuntimeError(f"only {made} of {count} lines read after {tries} strings")
        canvas = neg._string(rng, mnist_train)
        photo = render_photo(np.clip(canvas * 255, 0, 255).astype(np.uint8), rng)
        try:
            whole = read_line(photo, score).whole
        except UserError:
            continue
        image = None if whole is None else np.clip(np.rint(whole.image * 255), 0, 255)
        if image is None or not image.any():
            continue
        out[made] = image.astype(np.uint8)
        made += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = neg._Parser(prog="line_gate_strings.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder (noise/ is made in it)")
    parser.add_argument("--count", type=int, default=4000, help="images (4000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--data", default=neg.DEFAULT_DATA,
                        help="keras mnist.npz ($CNN_MNIST_DATA or /work/shared/data/mnist.npz)")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error(f"--count must be at least 1, got {args.count}")
    if args.seed < 0:
        parser.error(f"--seed must be 0 or more, got {args.seed}")
    out = Path(os.path.expanduser(args.out))
    folder = out / "noise"
    for path in (out, folder):
        if path.exists() and not path.is_dir():
            parser.error(f"{path} is a file, not a folder; give another --out")
    if folder.is_dir() and any(folder.glob(f"line_s{args.seed}_*.png")):
        parser.error(f"{folder} already holds line_s{args.seed}_*.png files; give another "
                     "--out or --seed")
    try:
        mnist, _ = neg._load_mnist(args.data)
    except SystemExit as exc:  # its one-line message, under this script's name
        parser.error(str(exc).split("error: ", 1)[-1])
    _, model = load_predictor(None, None)
    images = line_images(args.count, np.random.default_rng([args.seed, 31]), mnist,
                         segment_scorer(model))
    folder.mkdir(parents=True, exist_ok=True)
    for k, img in enumerate(images):
        cv2.imwrite(str(folder / f"line_s{args.seed}_{k:05d}.png"), img)
    print(f"{folder}: {len(images)} whole-line images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
