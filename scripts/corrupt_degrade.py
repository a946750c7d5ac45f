"""Document and sensor degradations of the MNIST *test* digits (13 kinds + identity).

A digit that reaches a classifier has often been printed, copied, faxed, scanned, compressed or
written on a form. This suite degrades the MNIST test digits the way those steps do, as a
robustness test for a model trained with the usual augmentation (elastic, affine, stroke width,
contrast / brightness / gamma, blur, noise, straight occluding lines): every kind here is
outside that list or far past its range, and none was used while tuning the model.

The first kind follows H. S. Baird's document image defect model ("Document image defect
models", IAPR Workshop on Syntactic and Structural Pattern Recognition, 1990; "Document image
defect models and their uses", ICDAR 1993): the sensor sees the ink through a point spread
function (Gaussian blur), samples it on a jittered grid, and each pixel thresholds with its own
sensitivity. The others are the usual suspects of forms processing and OCR robustness work
(binarisation, fax resolution, ink bleed, form rules, crossing-out, dust, illumination, JPEG).

==============  =================================================================================
name            what happens (random per image, ranges below)
==============  =================================================================================
identity        nothing: the clean test digit
baird           Baird's model: PSF blur sigma U(0.5, 1.1) px, sampling grid jittered by
                N(0, 0.25) px per pixel, per-pixel threshold U(0.25, 0.5) + N(0, 0.08):
                a 1-bit image (0 / 255) with ragged edges, thin parts broken or merged
fax             1-bit fax: every other scan line kept (phase random), hard threshold
                U(90, 170), lines doubled back to 28; 40 % of images have a repeated-line error
                (one scan line copied over the next two)
ink_bleed       ink spreading into paper fibres: the digit blurred (sigma 1.2-1.8) and
                modulated by fibrous noise (random noise smeared along a random direction),
                the halo added under the strokes: fuzzy, fat, feathered edges
erasure         a band 3-5 px wide at a random angle, through the digit's ink centre +-3 px,
                wiped out (ink times 0-0.15, 1-px soft edges): a stroke interrupted
form_rules      the rules of a printed form through the digit, 1 px, grey 150-255, full length:
                one horizontal rule (1/3), a comb box (two verticals just outside the ink and
                a baseline cutting its bottom, 1/3), or a cross of both (1/3)
scribble        a second pen stroke scribbled through the digit: a cubic Bezier from outside
                the ink box to outside it, pen 1.2-2.2 px, grey 170-255, anti-aliased
pixelate        down to s x s with area averaging, s in 10..14, and back with nearest
                neighbour: blocky staircase strokes
jpeg            JPEG at quality 5-12 (OpenCV encoder): 8x8 block and ringing artefacts
dust            dust and speckle: 6-16 bright specks (radius 0.4-1.3 px), 1-2 short hairs, and
                3-8 dark pinholes in the ink
gradient_light  uneven light: the background rises linearly from 0 on one side to 80-160 on
                the other (random direction); ink stays white
partial_invert  one side of a random line (25-50 % of the image) with inverted values: part
                of the digit black on white
bold            heavy dilation: a disc of radius 2 (60 %) or 2.5 px (40 %) max-filter; loops
                of 6, 8, 9, 0 close
skeleton        thinned to 1-px strokes: binarised at 100, Zhang-Suen thinning (1984)
==============  =================================================================================

Output, per corruption: ``OUT/<name>.npz`` in the keras layout, ``x_test`` uint8 (n, 28, 28),
``y_test`` uint8 (n,), empty ``x_train`` (0, 28, 28) and ``y_train`` (0,), and ``test_index``
int64 (n,), the MNIST test index of each row. The n digits are the first n of a permutation of
the test set drawn with ``--seed``, the same for every corruption; each corruption has its own
random stream (seed and name), so a subset run gives the same images. With ``--png`` also
``OUT/png/<name>/<label>_<name>_<nnnnn>.png`` (nnnnn the MNIST test index), 28x28 grey PNGs
holding exactly the array, for ``cnn predict``.

From Python::

    corrupt(images, "baird", np.random.default_rng(0))   # uint8 (N, 28, 28) -> same

Usage::

    python scripts/corrupt_degrade.py --out /tmp/degrade [--seed 0] [--n 10000]
        [--corruptions baird,fax] [--png] [--data mnist.npz] [--overwrite]

Never train on these images: they are made from the test set.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage

H = W = 28
FALLBACK_DATA = Path("/work/shared/data/mnist.npz")


def as_float(images):
    """uint8 (N, 28, 28) -> float64 (N, 28, 28), ink 1.0, paper 0.0."""
    return np.asarray(images, dtype=np.float64) / 255.0


def as_uint8(x):
    """float (N, 28, 28), any range -> uint8 (N, 28, 28), clipped to [0, 1] and scaled."""
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def ink_centres(images):
    """Ink centroid (x, y) of each image, float (N, 2); the image centre where there is none."""
    w = images.astype(np.float64)
    total = w.sum(axis=(1, 2))
    ys, xs = np.mgrid[0:H, 0:W]
    cx = np.where(total > 0, (w * xs).sum(axis=(1, 2)) / np.maximum(total, 1), (W - 1) / 2)
    cy = np.where(total > 0, (w * ys).sum(axis=(1, 2)) / np.maximum(total, 1), (H - 1) / 2)
    return np.stack([cx, cy], axis=1)


def ink_box(image, level=60):
    """Bounding box (x0, y0, x1, y1), inclusive, of pixels >= level in one (28, 28) image."""
    ys, xs = np.nonzero(image >= level)
    if len(xs) == 0:
        return 8, 8, 19, 19
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


# ---------------------------------------------------------------- scanning and copying
def baird(images, rng):
    out = np.empty_like(images)
    for start in range(0, len(images), 1000):  # keeps the coordinate arrays small
        out[start:start + 1000] = _baird_block(images[start:start + 1000], rng)
    return out


def _baird_block(images, rng):
    n = len(images)
    sigma = rng.uniform(0.5, 1.1, n)
    seen = np.empty((n, H, W))
    for i in range(n):  # the PSF: each image its own width
        seen[i] = ndimage.gaussian_filter(as_float(images[i]), sigma[i], mode="constant")
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    jy = ys[None] + rng.normal(0, 0.25, (n, H, W))
    jx = xs[None] + rng.normal(0, 0.25, (n, H, W))
    k = np.broadcast_to(np.arange(n, dtype=np.float64)[:, None, None], (n, H, W))
    sampled = ndimage.map_coordinates(seen, [k, jy, jx], order=1, mode="constant")
    threshold = rng.uniform(0.25, 0.5, (n, 1, 1)) + rng.normal(0, 0.08, (n, H, W))
    return np.where(sampled > threshold, 255, 0).astype(np.uint8)


def fax(images, rng):
    n = len(images)
    out = np.empty_like(images)
    cut = rng.uniform(90, 170, n)
    phase = rng.integers(0, 2, n)
    repeat = rng.random(n) < 0.4
    where = rng.integers(2, H - 4, n)
    for i in range(n):
        lines = images[i, phase[i]::2] >= cut[i]  # 14 scan lines, 1 bit
        page = np.repeat(lines, 2, axis=0)[:H]
        if phase[i]:  # odd phase: line k covers rows 2k+1, 2k+2
            page = np.vstack([page[:1], page[:-1]])
        if repeat[i]:
            r = where[i]
            page[r + 1:r + 3] = page[r]
        out[i] = np.where(page, 255, 0)
    return out


def ink_bleed(images, rng):
    n = len(images)
    out = np.empty_like(images)
    x = as_float(images)
    for i in range(n):
        angle = rng.uniform(0, np.pi)
        length = 7
        kernel = np.zeros((length, length), np.float32)
        c = length // 2
        dx, dy = np.cos(angle) * c, np.sin(angle) * c
        cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)),
                 1.0, 1, cv2.LINE_AA)
        kernel /= kernel.sum()
        fibres = cv2.filter2D(rng.random((H, W)).astype(np.float32), -1, kernel,
                              borderType=cv2.BORDER_REFLECT)
        fibres = (fibres - fibres.min()) / max(float(fibres.max() - fibres.min()), 1e-6)
        halo = ndimage.gaussian_filter(x[i], rng.uniform(1.2, 1.8), mode="constant")
        halo = np.clip(2.5 * halo * (0.1 + 1.4 * fibres ** 1.5), 0, 0.9)
        out[i] = as_uint8(np.maximum(x[i], halo))
    return out


def erasure(images, rng):
    n = len(images)
    centre = ink_centres(images) + rng.uniform(-3, 3, (n, 2))
    theta = rng.uniform(0, np.pi, n)
    half = rng.uniform(1.5, 2.5, n)  # band 3-5 px wide
    keep = rng.uniform(0.0, 0.15, n)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    # distance of each pixel from the band's centre line (normal (-sin, cos))
    dist = np.abs(-(xs[None] - centre[:, 0, None, None]) * np.sin(theta)[:, None, None]
                  + (ys[None] - centre[:, 1, None, None]) * np.cos(theta)[:, None, None])
    inside = np.clip(dist - half[:, None, None] + 0.5, 0, 1)  # 0 in the band, 1 px ramp
    factor = keep[:, None, None] + (1 - keep[:, None, None]) * inside
    return as_uint8(as_float(images) * factor)


# ---------------------------------------------------------------- things drawn over the digit
def form_rules(images, rng):
    out = images.copy()
    for i, im in enumerate(images):
        x0, y0, x1, y1 = ink_box(im)
        grey = int(rng.integers(150, 256))
        rule = np.zeros((H, W), np.uint8)
        style = rng.integers(0, 3)
        if style in (0, 2):  # a writing line through the body of the digit
            row = int(rng.integers(y0 + (y1 - y0) // 3, y0 + 3 * (y1 - y0) // 4 + 1))
            rule[row, :] = grey
        if style == 1:  # comb box: the digit squeezed into a cell
            rule[:, max(x0 - int(rng.integers(0, 3)), 0)] = grey
            rule[:, min(x1 + int(rng.integers(0, 3)), W - 1)] = grey
            rule[min(y1 - int(rng.integers(0, 4)), H - 1), :] = grey
        if style == 2:  # and a vertical rule across it
            rule[:, int(rng.integers(x0 + (x1 - x0) // 4, x0 + 3 * (x1 - x0) // 4 + 1))] = grey
        out[i] = np.maximum(im, rule)
    return out


def scribble(images, rng):
    up = 4  # draw at 4x, then average down: sub-pixel pen widths
    out = np.empty_like(images)
    t = np.linspace(0, 1, 48)[:, None]
    for i, im in enumerate(images):
        x0, y0, x1, y1 = ink_box(im)
        side = rng.integers(0, 2)
        if side:  # enters left, leaves right
            p0 = (x0 - rng.uniform(1, 4), rng.uniform(y0, y1))
            p3 = (x1 + rng.uniform(1, 4), rng.uniform(y0, y1))
        else:  # enters top, leaves bottom
            p0 = (rng.uniform(x0, x1), y0 - rng.uniform(1, 4))
            p3 = (rng.uniform(x0, x1), y1 + rng.uniform(1, 4))
        p1 = (rng.uniform(x0, x1), rng.uniform(y0, y1))
        p2 = (rng.uniform(x0, x1), rng.uniform(y0, y1))
        pts = np.array([p0, p1, p2, p3], np.float64)
        curve = ((1 - t) ** 3 * pts[0] + 3 * (1 - t) ** 2 * t * pts[1]
                 + 3 * (1 - t) * t ** 2 * pts[2] + t ** 3 * pts[3])
        canvas = np.zeros((H * up, W * up), np.uint8)
        pen = max(1, round(rng.uniform(1.2, 2.2) * up))
        cv2.polylines(canvas, [np.round((curve + 0.5) * up - 0.5).astype(np.int32)], False,
                      int(rng.integers(170, 256)), pen, cv2.LINE_AA)
        stroke = cv2.resize(canvas, (W, H), interpolation=cv2.INTER_AREA)
        out[i] = np.maximum(im, stroke)
    return out


def dust(images, rng):
    up = 4
    out = np.empty_like(images)
    for i, im in enumerate(images):
        bright = np.zeros((H * up, W * up), np.uint8)
        for _ in range(int(rng.integers(6, 17))):
            c = (int(rng.uniform(0, W * up)), int(rng.uniform(0, H * up)))
            cv2.circle(bright, c, max(1, int(rng.uniform(0.4, 1.3) * up)),
                       int(rng.integers(120, 256)), -1, cv2.LINE_AA)
        for _ in range(int(rng.integers(1, 3))):  # a hair: a short bent curve
            start = rng.uniform(0, W * up, 2)
            heading = rng.uniform(0, 2 * np.pi)
            turn = rng.uniform(-0.08, 0.08)
            pts = [start]
            for _ in range(int(rng.integers(10, 25))):
                heading += turn
                pts.append(pts[-1] + 3.0 * np.array([np.cos(heading), np.sin(heading)]))
            cv2.polylines(bright, [np.array(pts, np.int32)], False,
                          int(rng.integers(140, 256)), 2, cv2.LINE_AA)
        holes = np.zeros((H * up, W * up), np.uint8)
        ys, xs = np.nonzero(im >= 128)
        if len(xs):
            for j in rng.integers(0, len(xs), int(rng.integers(3, 9))):
                cv2.circle(holes, (int(xs[j] * up + up // 2), int(ys[j] * up + up // 2)),
                           max(1, int(rng.uniform(0.4, 0.9) * up)), 255, -1, cv2.LINE_AA)
        small_b = cv2.resize(bright, (W, H), interpolation=cv2.INTER_AREA)
        small_h = cv2.resize(holes, (W, H), interpolation=cv2.INTER_AREA).astype(np.float64)
        pierced = im.astype(np.float64) * (1 - small_h / 255.0)
        out[i] = np.maximum(np.rint(pierced), small_b).astype(np.uint8)
    return out


# ---------------------------------------------------------------- resolution and coding
def pixelate(images, rng):
    out = np.empty_like(images)
    sizes = rng.integers(10, 15, len(images))
    for i, im in enumerate(images):
        s = int(sizes[i])
        small = cv2.resize(im, (s, s), interpolation=cv2.INTER_AREA)
        out[i] = cv2.resize(small, (W, H), interpolation=cv2.INTER_NEAREST)
    return out


def jpeg(images, rng):
    out = np.empty_like(images)
    quality = rng.integers(5, 13, len(images))
    for i, im in enumerate(images):
        _, buf = cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, int(quality[i])])
        out[i] = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return out


# ---------------------------------------------------------------- light and polarity
def _unit_ramp(rng, n):
    """Linear ramps, float (n, 28, 28): 0 at one side of the image, 1 at the opposite side."""
    a = rng.uniform(0, 2 * np.pi, n)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    proj = np.cos(a)[:, None, None] * xs[None] + np.sin(a)[:, None, None] * ys[None]
    lo = proj.min(axis=(1, 2), keepdims=True)
    hi = proj.max(axis=(1, 2), keepdims=True)
    return (proj - lo) / (hi - lo)


def gradient_light(images, rng):
    n = len(images)
    light = _unit_ramp(rng, n) * rng.uniform(80, 160, (n, 1, 1)) / 255.0
    x = as_float(images)
    return as_uint8(x + (1 - x) * light)


def partial_invert(images, rng):
    n = len(images)
    side = _unit_ramp(rng, n)
    share = rng.uniform(0.25, 0.5, n)
    cut = np.array([np.quantile(side[i], 1 - share[i]) for i in range(n)])
    flip = side > cut[:, None, None]
    return np.where(flip, 255 - images, images).astype(np.uint8)


# ---------------------------------------------------------------- stroke shape
def bold(images, rng):
    out = np.empty_like(images)
    radius = np.where(rng.random(len(images)) < 0.6, 2.0, 2.5)
    for r in (2.0, 2.5):
        pick = radius == r
        k = int(np.ceil(r))
        dy, dx = np.mgrid[-k:k + 1, -k:k + 1]
        disc = (dx ** 2 + dy ** 2) <= r * r
        out[pick] = ndimage.grey_dilation(images[pick], footprint=disc[None], mode="constant")
    return out


def _zhang_suen(binary):
    """Zhang & Suen (1984) thinning of a bool (N, 28, 28) stack, all images at once."""
    img = np.pad(binary, ((0, 0), (1, 1), (1, 1))).astype(np.uint8)
    for _ in range(60):
        changed = False
        for step in (0, 1):
            c = img[:, 1:-1, 1:-1]
            p2, p3, p4 = img[:, :-2, 1:-1], img[:, :-2, 2:], img[:, 1:-1, 2:]
            p5, p6, p7 = img[:, 2:, 2:], img[:, 2:, 1:-1], img[:, 2:, :-2]
            p8, p9 = img[:, 1:-1, :-2], img[:, :-2, :-2]
            ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2]
            b = sum(p.astype(np.int32) for p in ring[:8])
            a = sum(((ring[j] == 0) & (ring[j + 1] == 1)).astype(np.int32) for j in range(8))
            if step == 0:
                side = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                side = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            drop = (c == 1) & (b >= 2) & (b <= 6) & (a == 1) & side
            if drop.any():
                changed = True
                img[:, 1:-1, 1:-1] = np.where(drop, 0, c)
        if not changed:
            break
    return img[:, 1:-1, 1:-1].astype(bool)


def skeleton(images, rng):
    return np.where(_zhang_suen(images >= 100), 255, 0).astype(np.uint8)


def identity(images, rng):
    return images.copy()


KINDS = {f.__name__: f for f in (identity, baird, fax, ink_bleed, erasure, form_rules, scribble,
                                  pixelate, jpeg, dust, gradient_light, partial_invert, bold,
                                  skeleton)}
CORRUPTIONS = tuple(KINDS)


def corrupt(images: np.ndarray, name: str, rng: np.random.Generator) -> np.ndarray:
    """Degrade a batch of digits with one kind of corruption.

    Args:
        images: uint8 (N, 28, 28), white digit (255) on black (0), as in MNIST.
        name: one of ``CORRUPTIONS``.
        rng: ``np.random.Generator``; the output is a function of the images and its state.
    Returns:
        uint8 (N, 28, 28), a new array; the input is left as it was.
    Raises:
        ValueError: unknown name, or images not uint8 of shape (N, 28, 28).
    """
    if name not in KINDS:
        raise ValueError(f"unknown corruption {name!r}; known: {', '.join(CORRUPTIONS)}")
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (H, W):
        raise ValueError(f"need uint8 images of shape (N, 28, 28), got {images.dtype} "
                         f"{images.shape}")
    return KINDS[name](images, rng)


def stream(seed: int, name: str) -> np.random.Generator:
    """The random stream of one corruption: a function of the seed and the name only."""
    tag = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, tag])))


class BadArguments(Exception):
    """A command-line mistake, reported as one line and exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise BadArguments(message)


def fail(message: str) -> int:
    print(f"corrupt_degrade.py: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="corrupt_degrade.py", description=__doc__.split("\n\n")[0],
                    epilog="corruptions: " + ", ".join(CORRUPTIONS))
    parser.add_argument("--out", required=True, help="folder for <corruption>.npz (and png/)")
    parser.add_argument("--seed", type=int, default=0, help="seed of digits and damage (0)")
    parser.add_argument("--n", type=int, default=10000,
                        help="digits per corruption: the first n of a seeded permutation of "
                             "the test set (10000 = all; capped at the test set's size)")
    parser.add_argument("--data", default=os.environ.get("CNN_MNIST_DATA") or str(FALLBACK_DATA),
                        help=f"keras-layout mnist.npz ($CNN_MNIST_DATA or {FALLBACK_DATA})")
    parser.add_argument("--corruptions", default=",".join(CORRUPTIONS),
                        help="comma-separated names (default: all)")
    parser.add_argument("--png", action="store_true",
                        help="also OUT/png/<name>/<label>_<name>_<nnnnn>.png, 28x28 grey")
    parser.add_argument("--overwrite", action="store_true", help="write into a non-empty --out")
    try:
        args = parser.parse_args(argv)
    except BadArguments as e:
        return fail(str(e))
    names = [s.strip() for s in args.corruptions.split(",") if s.strip()]
    unknown = [s for s in names if s not in KINDS]
    if unknown or not names:
        return fail(f"unknown corruption(s) {', '.join(unknown) or '(none)'}; "
                    f"known: {', '.join(CORRUPTIONS)}")
    if args.n <= 0:
        return fail(f"--n must be positive, got {args.n}")
    out = Path(args.out)
    if out.is_file() or (out.is_dir() and any(out.iterdir()) and not args.overwrite):
        return fail(f"{out} exists and is not empty (use --overwrite or a new folder)")
    try:
        with np.load(args.data) as data:
            x_test, y_test = data["x_test"], data["y_test"]
    except (OSError, KeyError, ValueError) as e:
        return fail(f"cannot read x_test, y_test from {args.data} ({e})")
    if x_test.dtype != np.uint8 or x_test.ndim != 3 or x_test.shape[1:] != (H, W):
        return fail(f"x_test in {args.data} is {x_test.dtype} {x_test.shape}, "
                    "not uint8 (N, 28, 28)")
    order = np.random.default_rng(args.seed).permutation(len(x_test))[:args.n]
    digits, labels = x_test[order], np.asarray(y_test[order], dtype=np.uint8)
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        damaged = corrupt(digits, name, stream(args.seed, name))
        target = out / f"{name}.npz"
        np.savez_compressed(target, x_test=damaged, y_test=labels,
                            x_train=np.empty((0, H, W), np.uint8),
                            y_train=np.empty((0,), np.uint8), test_index=order.astype(np.int64))
        note = ""
        if args.png:
            folder = out / "png" / name
            folder.mkdir(parents=True, exist_ok=True)
            for img, lab, idx in zip(damaged, labels, order):
                Image.fromarray(img, mode="L").save(folder / f"{lab}_{name}_{idx:05d}.png")
            note = f" and {len(damaged)} PNGs in {folder}"
        print(f"{name}: wrote {target} ({len(damaged)} digits){note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
