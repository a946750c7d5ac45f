"""MNIST-C, re-implemented: 15 fixed-severity corruptions of the MNIST *test* digits.

Follows Mu & Gilmer, "MNIST-C: A Robustness Benchmark for Computer Vision" (ICML 2019
workshop, arXiv:1906.02337), which adapts the ImageNet-C corruptions of Hendrycks & Dietterich
(2019) to 28x28 digits and adds a few of its own (stripe, dotted line, zigzag, Canny edges).
As in MNIST-C each corruption has one fixed severity, the one the benchmark ships. The code is
written here from the descriptions (NumPy, SciPy, OpenCV; no skimage, no ImageMagick), so the
images match MNIST-C in kind and strength, not pixel for pixel. Where this version differs on
purpose it says so below.

Every corruption works on pixel values scaled to [0, 1] (white digit on black) and rounds back
to uint8 at the end.

=============  ==================================================================================
name           what happens (severity used)
=============  ==================================================================================
identity       nothing: the clean test digit (the reference row of any table)
shot_noise     Poisson photon noise: ``poisson(3 x) / 3`` (ImageNet-C severity 5, c = 3)
impulse_noise  salt and pepper: 17 % of pixels set to 0 or 1, half each (severity 4, 0.17)
glass_blur     Gaussian blur (sigma 0.7), then 2 passes in which each inner pixel swaps, with
               probability 1/2, with a neighbour at most 1 px away, then blur again
               (severity 1: sigma 0.7, max shift 1, 2 passes; neighbours here are drawn from
               -1..1, not -1..0)
motion_blur    one-sided Gaussian streak, 21 taps 1 px apart (radius 10, sigma 3) at an angle
               drawn from U(-45, 45) degrees (ImageMagick-style kernel, severity 1)
shear          horizontal shear by 0.4 rad (sign random) about the centre (13.5, 13.5): the
               sampling map is x' = x - sin(0.4) y, y' = cos(0.4) y (severity 2)
scale          the digit shrunk to 70 % about the centre (severity 3, inverse map scale 1/0.7)
rotate         rotation by 0.4 rad (22.9 degrees), sign random, about the centre (severity 2)
brightness     ``clip(x + 0.5)``: the black background turns mid-grey (severity 5)
translate      shift by 3 px along x and 3 px along y, each sign random (severity 3)
stripe         pixel values inverted in the left 7 and the right 7 columns (fixed)
fog            fractal cloud (octaves of bilinear value noise, amplitude falling by 1.4 per
               octave, in the manner of the diamond-square "plasma" of ImageNet-C) added with
               weight 3, then scaled by max / (max + 3) (severity 5: 3.0, 1.4)
spatter        mud: N(0.65, 0.3) noise blurred (sigma 1), thresholded at 0.65, the mask blurred
               (sigma 1.5) and kept where > 0.8; there the pixel becomes 63/255 (severity 4)
dotted_line    a soft 3-px line from the left edge to the right edge at random rows, cut into
               2-px dashes, added to the image
zigzag         a soft zigzag (half period 2 px, amplitude 2 px) from column 2 to 25, its end
               rows 0..26 and up to 5 px apart, added to the image
canny_edges    the Canny edge map (Gaussian sigma 1, hysteresis 0.1 / 0.2 of the Sobel gradient
               magnitude): a white outline of both sides of every stroke, 1 px wide
=============  ==================================================================================

The lines of ``dotted_line`` and ``zigzag`` have the MNIST-C profile (intensity
``clip(1 + log(1 - d / 2.3), 0, 1)`` at distance ``d`` px), measured here perpendicular to the
segment rather than vertically.

Output, per corruption: ``OUT/<name>.npz`` in the keras layout, ``x_test`` uint8 (n, 28, 28),
``y_test`` uint8 (n,), empty ``x_train`` (0, 28, 28) / ``y_train`` (0,), and ``test_index``
int64 (n,) (which MNIST test image each row came from). The n digits are the first n of a
permutation of the test set drawn with ``--seed`` (the same digits for every corruption). With
``--png`` also ``OUT/png/<name>/<label>_<name>_<nnnnn>.png`` (nnnnn the MNIST test index), 28x28
grey, exactly the array, for ``cnn predict``. Each corruption draws from its own generator
(seed and name), so a subset gives the same images as a full run.

From Python::

    corrupt(images, "fog", np.random.default_rng(0))   # uint8 (N, 28, 28) -> same

Usage::

    python scripts/corrupt_mnist_c.py --out /tmp/mnist_c [--seed 0] [--n 10000]
        [--corruptions fog,zigzag] [--png] [--data mnist.npz] [--overwrite]

Never train on these images: they are made from the test set.
"""

from __future__ import annotations

import argparse
import os
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

SIDE = 28
CENTRE = (SIDE - 1) / 2  # 13.5: MNIST-C warps about the pixel-grid centre
DEFAULT_DATA = "/work/shared/data/mnist.npz"


def _unit(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28) in [0, 1]."""
    return images.astype(np.float32) / 255.0


def _bytes(x: np.ndarray) -> np.ndarray:
    """float (N, 28, 28) in [0, 1] (clipped) -> uint8 (N, 28, 28), rounded."""
    return np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of each image of a float (N, H, W) stack, edges repeated."""
    return ndimage.gaussian_filter(x, sigma=(0, sigma, sigma), mode="nearest", truncate=4.0)


# ---------------------------------------------------------------- noise
def shot_noise(images, rng):
    x = _unit(images)
    c = 3.0
    return _bytes(rng.poisson(x * c) / c)


def impulse_noise(images, rng):
    x = _unit(images)
    hit = rng.random(x.shape) < 0.17
    salt = rng.random(x.shape) < 0.5
    x[hit & salt] = 1.0
    x[hit & ~salt] = 0.0
    return _bytes(x)


# ---------------------------------------------------------------- blur
def glass_blur(images, rng):
    sigma, delta, passes = 0.7, 1, 2
    # MNIST-C rounds down to bytes between the blurs.
    x = np.floor(np.clip(_blur(_unit(images), sigma), 0, 1) * 255).astype(np.float32)
    rows = np.arange(len(x))
    for _ in range(passes):
        for h in range(SIDE - 1 - delta, delta - 1, -1):
            for w in range(SIDE - 1 - delta, delta - 1, -1):
                who = rows[rng.random(len(x)) < 0.5]
                dy = rng.integers(-delta, delta + 1, len(who))
                dx = rng.integers(-delta, delta + 1, len(who))
                here = x[who, h, w].copy()
                x[who, h, w] = x[who, h + dy, w + dx]
                x[who, h + dy, w + dx] = here
    return _bytes(_blur(x / 255.0, sigma))


def motion_blur(images, rng):
    radius, sigma = 10, 3.0
    taps = np.arange(2 * radius + 1)
    weights = np.exp(-taps.astype(np.float64) ** 2 / (2 * sigma ** 2))
    weights /= weights.sum()
    angle = np.radians(rng.uniform(-45, 45, len(images)))
    pad = 2 * radius
    grid = np.arange(SIDE) + pad
    out = np.empty_like(images)
    for lo in range(0, len(images), 1000):  # (1000, 68, 68) padded floats at a time
        block, a = images[lo:lo + 1000], angle[lo:lo + 1000]
        padded = np.pad(_unit(block), ((0, 0), (pad, pad), (pad, pad)))
        acc = np.zeros(block.shape, np.float32)
        who = np.arange(len(block))[:, None, None]
        for k, wk in zip(taps, weights):
            dx = np.rint(k * np.cos(a)).astype(int)[:, None, None]
            dy = np.rint(k * np.sin(a)).astype(int)[:, None, None]
            acc += wk * padded[who, grid[None, :, None] + dy, grid[None, None, :] + dx]
        out[lo:lo + 1000] = _bytes(acc)
    return out


# ---------------------------------------------------------------- geometry
def _warp_about_centre(images, linear):
    """Resample each image at ``centre + A_i (p - centre)`` (bilinear, black outside).

    Args:
        images: uint8 (N, 28, 28).
        linear: float (N, 2, 2), the inverse map A_i acting on (x, y) column vectors.
    Returns:
        float32 (N, 28, 28) in [0, 1].
    """
    x = _unit(images)
    out = np.empty_like(x)
    c = np.array([CENTRE, CENTRE])
    for i, a in enumerate(linear):
        m = np.hstack([a, (c - a @ c)[:, None]]).astype(np.float64)
        out[i] = cv2.warpAffine(x[i], m, (SIDE, SIDE), flags=cv2.INTER_LINEAR
                                | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT)
    return out


def _signs(rng, n):
    return rng.choice(np.array([-1.0, 1.0]), n)


def shear(images, rng):
    s = 0.4 * _signs(rng, len(images))
    a = np.zeros((len(images), 2, 2))
    a[:, 0, 0] = 1.0
    a[:, 0, 1] = -np.sin(s)
    a[:, 1, 1] = np.cos(s)
    return _bytes(_warp_about_centre(images, a))


def scale(images, rng):
    a = np.tile(np.eye(2) / 0.7, (len(images), 1, 1))
    return _bytes(_warp_about_centre(images, a))


def rotate(images, rng):
    t = 0.4 * _signs(rng, len(images))
    a = np.stack([np.stack([np.cos(t), -np.sin(t)], 1), np.stack([np.sin(t), np.cos(t)], 1)], 1)
    return _bytes(_warp_about_centre(images, a))


def translate(images, rng):
    n = len(images)
    dx = (3 * _signs(rng, n)).astype(int)
    dy = (3 * _signs(rng, n)).astype(int)
    padded = np.pad(images, ((0, 0), (3, 3), (3, 3)))
    out = np.empty_like(images)
    for i in range(n):  # the output pixel p shows input pixel p + (dx, dy)
        out[i] = padded[i, 3 + dy[i]:3 + dy[i] + SIDE, 3 + dx[i]:3 + dx[i] + SIDE]
    return out


# ---------------------------------------------------------------- tone
def brightness(images, rng):
    return _bytes(_unit(images) + 0.5)


def stripe(images, rng):
    out = images.copy()
    out[:, :, :7] = 255 - out[:, :, :7]
    out[:, :, SIDE - 7:] = 255 - out[:, :, SIDE - 7:]
    return out


# ---------------------------------------------------------------- weather
def _value_noise(rng, n, size, cell):
    """Bilinear value noise: random values on a grid ``cell`` px apart, float (n, size, size)."""
    g = size // cell + 2
    grid = rng.random((n, g, g))
    t = np.arange(size) / cell
    i0 = np.floor(t).astype(int)
    f = (t - i0).astype(np.float64)
    rows = grid[:, i0] * (1 - f)[None, :, None] + grid[:, i0 + 1] * f[None, :, None]
    return rows[:, :, i0] * (1 - f) + rows[:, :, i0 + 1] * f


def _cloud(rng, n, decay, big=64):
    """Fractal clouds, float (n, 28, 28): octaves of value noise (cells 32 to 2 px, each octave
    ``decay`` times weaker) on a ``big`` x ``big`` map normalized to [0, 1], top-left corner."""
    cloud = np.zeros((n, big, big))
    amp = 1.0
    for cell in (32, 16, 8, 4, 2):
        cloud += amp * (_value_noise(rng, n, big, cell) - 0.5)
        amp /= decay
    lo = cloud.min(axis=(1, 2), keepdims=True)
    hi = cloud.max(axis=(1, 2), keepdims=True)
    return ((cloud - lo) / (hi - lo))[:, :SIDE, :SIDE]


def fog(images, rng):
    weight, decay = 3.0, 1.4
    x = _unit(images)
    cloud = np.concatenate([_cloud(rng, len(x[lo:lo + 1000]), decay)
                            for lo in range(0, len(x), 1000)]) if len(x) else x
    peak = x.max(axis=(1, 2), keepdims=True)
    return _bytes((x + weight * cloud) * peak / (peak + weight))


def spatter(images, rng):
    x = _unit(images)
    liquid = _blur(rng.normal(0.65, 0.3, x.shape), 1.0)
    mask = _blur((liquid > 0.65).astype(np.float32), 1.5)
    mask[mask < 0.8] = 0.0
    return _bytes(x * (1 - mask) + (63 / 255) * mask)


# ---------------------------------------------------------------- added strokes
_YY, _XX = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)


def _soft_segments(starts, ends):
    """Intensity of soft 3-px lines: float32 (N, 28, 28) in [0, 1], brightest segment wins.

    Args:
        starts, ends: float (N, S, 2), segment end points as (x, y) in pixels.
    """
    p = np.stack([_XX, _YY], -1)[None, None]  # (1, 1, 28, 28, 2)
    a, b = starts[:, :, None, None], ends[:, :, None, None]
    ab = b - a
    t = np.clip(((p - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-9), 0, 1)
    d = np.linalg.norm(p - (a + t[..., None] * ab), axis=-1)
    d = np.minimum(d, 2.3 - 1e-6)
    return np.clip(1 + np.log(1 - d / 2.3), 0, 1).max(axis=1).astype(np.float32)


def dotted_line(images, rng):
    n = len(images)
    rows = rng.integers(0, SIDE - 1, (n, 2)).astype(np.float32)
    starts = np.stack([np.zeros(n), rows[:, 0]], -1)[:, None]
    ends = np.stack([np.full(n, SIDE - 1.0), rows[:, 1]], -1)[:, None]
    line = _soft_segments(starts, ends)
    line[:, :, (np.arange(SIDE) // 2) % 2 == 0] = 0.0  # columns 0-1, 4-5, ... are gaps
    return _bytes(_unit(images) + line)


def _zigzag_vertices(rng, n, half=2.0, amp=2.0, c0=2.0, c1=25.0):
    """(n, V, 2) vertices (x, y) of zigzags from column c0 to c1, tilted to random end rows."""
    r0 = rng.integers(0, SIDE - 1, n).astype(np.float64)
    r1 = r0 + rng.integers(-5, 5, n)
    theta = np.arctan((r1 - r0) / (c1 - c0))
    length = (c1 - c0) / np.cos(theta)  # 23 to 23.5 px: always 6 turns
    turns = int((23.0 - half) // (2 * half)) + 1
    u = np.concatenate([[0.0], (2 * np.arange(turns) + 1) * half])
    v = np.concatenate([[0.0], amp * (-1.0) ** np.arange(turns)])
    u = np.broadcast_to(u, (n, turns + 1))
    u = np.concatenate([u, length[:, None]], 1)
    v = np.concatenate([np.broadcast_to(v, (n, turns + 1)), np.zeros((n, 1))], 1)
    cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
    return np.stack([c0 + u * cos - v * sin, r0[:, None] + u * sin + v * cos], -1)


def zigzag(images, rng):
    verts = _zigzag_vertices(rng, len(images))
    out = np.empty_like(images)
    for lo in range(0, len(images), 500):  # (500, 7, 28, 28, 2) floats at a time
        hi = lo + 500
        lines = _soft_segments(verts[lo:hi, :-1], verts[lo:hi, 1:])
        out[lo:hi] = _bytes(_unit(images[lo:hi]) + lines)
    return out


# ---------------------------------------------------------------- edges
def canny_edges(images, rng):
    out = np.empty_like(images)
    for i, im in enumerate(images):
        smooth = cv2.GaussianBlur(im.astype(np.float32), (0, 0), 1.0,
                                  borderType=cv2.BORDER_REPLICATE)
        gx = np.rint(cv2.Sobel(smooth, cv2.CV_32F, 1, 0)).astype(np.int16)
        gy = np.rint(cv2.Sobel(smooth, cv2.CV_32F, 0, 1)).astype(np.int16)
        out[i] = cv2.Canny(gx, gy, 0.1 * 255, 0.2 * 255, L2gradient=True)
    return out


def identity(images, rng):
    return images.copy()


_FUNCS = {
    "identity": identity, "shot_noise": shot_noise, "impulse_noise": impulse_noise,
    "glass_blur": glass_blur, "motion_blur": motion_blur, "shear": shear, "scale": scale,
    "rotate": rotate, "brightness": brightness, "translate": translate, "stripe": stripe,
    "fog": fog, "spatter": spatter, "dotted_line": dotted_line, "zigzag": zigzag,
    "canny_edges": canny_edges,
}
CORRUPTIONS = tuple(_FUNCS)


def corrupt(images: np.ndarray, name: str, rng: np.random.Generator) -> np.ndarray:
    """Apply one MNIST-C corruption to a batch of digits.

    Args:
        images: uint8 (N, 28, 28), white digit (255) on black (0), MNIST layout.
        name: one of ``CORRUPTIONS``.
        rng: the random source (``np.random.default_rng(seed)``); same rng state, same output.
    Returns:
        uint8 (N, 28, 28), a new array (the input is not modified).
    Raises:
        ValueError: unknown name, or images not uint8 (N, 28, 28).
    """
    if name not in _FUNCS:
        raise ValueError(f"unknown corruption {name!r}: use one of {', '.join(CORRUPTIONS)}")
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
        raise ValueError(f"images must be uint8 (N, 28, 28), got {images.dtype} {images.shape}")
    return _FUNCS[name](images, rng)


# ---------------------------------------------------------------- command line
class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="corrupt_mnist_c.py", description=__doc__.split("\n\n")[0],
                     epilog="Corruptions: " + ", ".join(CORRUPTIONS))
    parser.add_argument("--out", required=True, help="output folder (one .npz per corruption)")
    parser.add_argument("--seed", type=int, default=0, help="seed: digits and corruptions (0)")
    parser.add_argument("--n", type=int, default=10000,
                        help="test digits per corruption, the first n of a seeded permutation "
                             "(10000 = all; more than the file holds means all)")
    parser.add_argument("--data", default=os.environ.get("CNN_MNIST_DATA") or DEFAULT_DATA,
                        help="keras mnist.npz ($CNN_MNIST_DATA, else " + DEFAULT_DATA + ")")
    parser.add_argument("--corruptions", default=",".join(CORRUPTIONS),
                        help="comma-separated subset (all)")
    parser.add_argument("--png", action="store_true",
                        help="also write OUT/png/<name>/<label>_<name>_<index>.png")
    parser.add_argument("--overwrite", action="store_true",
                        help="allow writing into a non-empty --out")
    args = parser.parse_args(argv)
    names = [c.strip() for c in args.corruptions.split(",") if c.strip()]
    bad = [c for c in names if c not in _FUNCS]
    if bad or not names:
        parser.error(f"unknown corruption {', '.join(map(repr, bad)) or '(none given)'}: "
                     f"use some of {', '.join(CORRUPTIONS)}")
    if args.n < 1:
        parser.error(f"--n must be at least 1, got {args.n}")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.overwrite:
        parser.error(f"{out} is not an empty folder; give a new --out or --overwrite")
    try:
        with np.load(args.data) as d:
            x_all, y_all = d["x_test"], d["y_test"]
    except (OSError, KeyError, ValueError) as e:
        parser.error(f"cannot read x_test/y_test from {args.data}: {e}")
    if x_all.dtype != np.uint8 or x_all.shape[1:] != (SIDE, SIDE):
        parser.error(f"{args.data}: x_test must be uint8 (N, 28, 28), got "
                     f"{x_all.dtype} {x_all.shape}")
    pick = np.random.default_rng(args.seed).permutation(len(x_all))[:args.n]
    x, y = x_all[pick], y_all[pick].astype(np.uint8)
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        rng = np.random.default_rng([args.seed, zlib.crc32(name.encode())])
        xc = corrupt(x, name, rng)
        np.savez_compressed(out / f"{name}.npz", x_test=xc, y_test=y,
                            x_train=np.zeros((0, SIDE, SIDE), np.uint8),
                            y_train=np.zeros((0,), np.uint8), test_index=pick.astype(np.int64))
        line = f"{name}: {len(xc)} images -> {out / (name + '.npz')}"
        if args.png:
            folder = out / "png" / name
            folder.mkdir(parents=True, exist_ok=True)
            for im, label, index in zip(xc, y, pick):
                cv2.imwrite(str(folder / f"{label}_{name}_{index:05d}.png"), im)
            line += f", {folder}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
