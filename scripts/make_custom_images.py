"""Generate ``custom_test_images/``: realistic renderings of real MNIST *test* digits.

Each file shows one digit from the MNIST test set, drawn the way people actually hand digits to
a reader: a phone photo of ink or pencil on tinted paper with a light gradient, sensor noise,
blur and JPEG compression, the digit anywhere in a 700 x 900 frame (sometimes touching its
edge); canvas exports (white on black, black on white, transparent PNG with the strokes only in
the alpha channel); grayscale and 16-bit PNG; tiny (14 x 14) and huge (2400 x 2400) images;
thin and thick strokes. Files are named ``<digit>_<n>.<ext>`` and listed with their source test
index and kind in ``custom_test_images/README.md``.

The digits are picked honestly, without any model: among the first 500 test images of each
class, the 12 most typical (highest correlation with the class's mean training image), and
the script draws from those with a seeded ``numpy.random.Generator``. Re-running with the same
seed and data gives the same files.

Usage::

    python scripts/make_custom_images.py [--data mnist.npz] [--out custom_test_images] [--seed 0]

The data path is ``--data``, else ``$CNN_MNIST_DATA``, else ``/work/shared/data/mnist.npz``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

DEFAULT_DATA = "/work/shared/data/mnist.npz"
ROOT = Path(__file__).resolve().parent.parent

# One row per digit: the kinds of rendering its five files get (50 files in all; every kind
# appears for several different digits).
PLAN = [
    ["photo", "canvas_white_on_black", "transparent_alpha", "tiny", "thick"],
    ["photo", "photo_edge", "canvas_black_on_white", "gray_png", "thin"],
    ["photo", "pencil", "canvas_white_on_black", "png16", "huge"],
    ["photo", "photo_edge", "transparent_alpha", "thin", "tiny"],
    ["photo", "pencil", "canvas_black_on_white", "thick", "gray_png"],
    ["photo", "photo_edge", "canvas_white_on_black", "png16", "thin"],
    ["photo", "pencil", "transparent_alpha", "tiny", "huge"],
    ["photo", "photo_edge", "canvas_black_on_white", "gray_png", "thick"],
    ["photo", "pencil", "canvas_white_on_black", "png16", "thin"],
    ["photo", "photo_edge", "transparent_alpha", "thick", "tiny"],
]

PAPERS = {  # BGR, 0..1
    "white": (0.93, 0.94, 0.95),
    "grey": (0.72, 0.73, 0.74),
    "cream": (0.72, 0.90, 0.96),
    "bluish": (0.95, 0.86, 0.80),
}


def class_means(x_train: np.ndarray, y_train: np.ndarray) -> np.ndarray:
    """Mean training image of each digit, float64 (10, 784)."""
    flat = x_train.reshape(len(x_train), -1).astype(np.float64)
    return np.stack([flat[y_train == d].mean(axis=0) for d in range(10)])


def pick_typical(means: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, digit: int,
                 pool: int = 500, keep: int = 12) -> np.ndarray:
    """Test indices (< ``pool``) of the ``keep`` images of ``digit`` most correlated with its mean.

    Only images that also correlate best with their own class mean (nearest-mean classifier
    agrees with the label) are eligible, which leaves out odd or ambiguous writing.
    """
    idx = np.flatnonzero(y_test[:pool] == digit)
    flat = x_test[idx].reshape(len(idx), -1).astype(np.float64)
    flat = (flat - flat.mean(1, keepdims=True)) / flat.std(1, keepdims=True)
    m = (means - means.mean(1, keepdims=True)) / means.std(1, keepdims=True)
    corr = flat @ m.T / flat.shape[1]  # (n, 10)
    ok = corr.argmax(axis=1) == digit
    idx, score = idx[ok], corr[ok, digit]
    return idx[np.argsort(-score)[:keep]]


def upscale(digit: np.ndarray, height: int) -> np.ndarray:
    """A 28 x 28 uint8 digit as float32 ink in [0, 1], shape (height, height), sharpened edges."""
    big = cv2.resize(digit.astype(np.float32) / 255.0, (height, height),
                     interpolation=cv2.INTER_CUBIC)
    big = np.clip(big, 0.0, 1.0)
    # Pen-like edges: a smooth step around 0.5 instead of the blurry upscaled ramp.
    t = np.clip((big - 0.3) / 0.4, 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def skeleton(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a binary (H, W) mask to 1-px, 8-connected lines (bool (H, W)).

    T. Y. Zhang and C. Y. Suen, "A fast parallel algorithm for thinning digital patterns",
    Commun. ACM 27(3), 1984.
    """
    img = np.pad(mask.astype(bool), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = img
            n = [np.roll(np.roll(p, dy, 0), dx, 1) for dy, dx in
                 ((1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1))]
            # n[k] holds neighbour P2, P3, ..., P9 (north, then clockwise).
            count = sum(q.astype(np.uint8) for q in n)
            ring = n + [n[0]]
            transitions = sum((~ring[k] & ring[k + 1]).astype(np.uint8) for k in range(8))
            if step == 0:
                cond = ~(n[0] & n[2] & n[4]) & ~(n[2] & n[4] & n[6])
            else:
                cond = ~(n[0] & n[2] & n[6]) & ~(n[0] & n[4] & n[6])
            remove = p & (count >= 2) & (count <= 6) & (transitions == 1) & cond
            if remove.any():
                img = img & ~remove
                changed = True
        if not changed:
            return img[1:-1, 1:-1]


def restroke(digit: np.ndarray, size: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """A thin (1-3 px lines) or thick version of a 28 x 28 ``digit``, float32 (size, size) ink.

    Thin: the Zhang-Suen skeleton of the digit at 4x, its 8-neighbour links drawn as
    anti-aliased lines at ``size``. Thick: the upscaled digit dilated by 5-7 % of ``size``.
    """
    if kind == "thin":
        small = cv2.resize(digit, (112, 112), interpolation=cv2.INTER_CUBIC) > 100
        ys, xs = np.nonzero(skeleton(small))
        on = set(zip(ys.tolist(), xs.tolist()))
        f = size / 112.0
        width = int(rng.integers(1, 4))
        canvas = np.zeros((size, size), np.uint8)
        for y, x in on:
            for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):
                if (y + dy, x + dx) in on:
                    a = (int((x + 0.5) * f * 16), int((y + 0.5) * f * 16))
                    b = (int((x + dx + 0.5) * f * 16), int((y + dy + 0.5) * f * 16))
                    cv2.line(canvas, a, b, 255, width, cv2.LINE_AA, shift=4)
        return canvas.astype(np.float32) / 255.0
    ink = upscale(digit, size)
    stroke = max(3, int(size * rng.uniform(0.05, 0.07)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (stroke, stroke))
    return cv2.GaussianBlur(cv2.dilate(ink, kernel), (0, 0), 1.0)


def place(ink: np.ndarray, frame_hw: tuple[int, int], rng: np.random.Generator,
          touch_edge: bool = False) -> np.ndarray:
    """Paste ``ink`` (cropped to its strokes) at a random spot of a zero frame (H, W)."""
    ys, xs = np.nonzero(ink > 0.05)
    if ys.size:
        ink = ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = ink.shape
    fh, fw = frame_hw
    top = int(rng.integers(0, fh - h + 1))
    left = int(rng.integers(0, fw - w + 1))
    if touch_edge:
        side = int(rng.integers(4))
        if side == 0:
            top = 0
        elif side == 1:
            top = fh - h
        elif side == 2:
            left = 0
        else:
            left = fw - w
    frame = np.zeros((fh, fw), np.float32)
    frame[top:top + h, left:left + w] = ink
    return frame


def lighting(hw: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Illumination factor (H, W) in ~[0.55, 1.05]: a linear or a radial (vignette) gradient."""
    h, w = hw
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    x, y = x / w, y / h
    strength = rng.uniform(0.2, 0.4)
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * np.pi)
        g = np.cos(angle) * x + np.sin(angle) * y
        g = (g - g.min()) / (g.max() - g.min())
        return (1.05 - strength * g).astype(np.float32)
    cy, cx = rng.uniform(0.2, 0.8, size=2)
    r2 = (x - cx) ** 2 + (y - cy) ** 2
    return (1.05 - strength * r2 / r2.max()).astype(np.float32)


def photo(digit: np.ndarray, rng: np.random.Generator, kind: str) -> np.ndarray:
    """A phone photo (H, W, 3) uint8 BGR of ``digit`` written in ink or pencil on paper."""
    frame_hw = (900, 700) if rng.random() < 0.5 else (700, 900)
    ink = upscale(digit, int(rng.integers(220, 420)))
    ink = place(ink, frame_hw, rng, touch_edge=(kind == "photo_edge"))
    paper_name = str(rng.choice(list(PAPERS)))
    paper = np.array(PAPERS[paper_name], np.float32) * rng.uniform(0.95, 1.05, 3)
    if kind == "pencil":
        pen = np.full(3, rng.uniform(0.35, 0.5), np.float32)  # graphite: grey, uneven
        grain = rng.uniform(0.6, 1.0, size=ink.shape).astype(np.float32)
        ink = ink * cv2.GaussianBlur(grain, (0, 0), 1.5)
    else:
        pen = np.array([rng.uniform(0.1, 0.35), rng.uniform(0.05, 0.15), rng.uniform(0.03, 0.1)],
                       np.float32) if rng.random() < 0.5 else np.full(3, 0.08, np.float32)
    img = paper[None, None, :] * (1 - ink[..., None]) + pen[None, None, :] * ink[..., None]
    img *= lighting(frame_hw, rng)[..., None]
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.6, 1.4))
    img += rng.normal(0, rng.uniform(0.01, 0.03), img.shape).astype(np.float32)
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)


def canvas(digit: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """A drawing-app canvas (size, size) float32 in [0, 1], white strokes on black."""
    ink = upscale(digit, int(size * rng.uniform(0.55, 0.8)))
    return place(ink, (size, size), rng)


def render(digit: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, str, str]:
    """``(image, extension, description)`` for one rendering ``kind`` of a 28 x 28 ``digit``."""
    if kind in ("photo", "photo_edge", "pencil"):
        what = {"photo": "phone photo, ink on paper, light gradient, noise, JPEG",
                "photo_edge": "phone photo, digit touching the frame edge, JPEG",
                "pencil": "phone photo, grainy grey pencil on paper, JPEG"}[kind]
        return photo(digit, rng, kind), "jpg", what
    if kind == "canvas_white_on_black":
        img = canvas(digit, rng, int(rng.integers(280, 560)))
        return (img * 255 + 0.5).astype(np.uint8), "png", "canvas export, white on black, PNG"
    if kind == "canvas_black_on_white":
        img = canvas(digit, rng, int(rng.integers(280, 560)))
        bgr = np.repeat(((1 - img) * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=2)
        return bgr, "png", "canvas export, black on white, RGB PNG"
    if kind == "transparent_alpha":
        img = canvas(digit, rng, int(rng.integers(280, 560)))
        rgba = np.zeros(img.shape + (4,), np.uint8)  # RGB all zeros: strokes only in alpha
        rgba[..., 3] = (img * 255 + 0.5).astype(np.uint8)
        return rgba, "png", "transparent PNG, RGB all zero, strokes in the alpha channel"
    if kind == "gray_png":
        img = photo(digit, rng, "photo")
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), "png", "grayscale PNG of a paper photo"
    if kind == "png16":
        img = canvas(digit, rng, int(rng.integers(200, 400)))
        paper = 1.0 - 0.85 * img  # dark-on-light, full 16-bit range used
        return (paper * 65535 + 0.5).astype(np.uint16), "png", "16-bit grayscale PNG, dark on light"
    if kind == "tiny":
        img = place(upscale(digit, int(rng.integers(84, 100))), (112, 112), rng)
        small = cv2.resize(img, (14, 14), interpolation=cv2.INTER_AREA)
        return (small * 255 + 0.5).astype(np.uint8), "png", "tiny 14 x 14 PNG, white on black"
    if kind == "huge":
        img = canvas(digit, rng, 2400)
        return ((1 - img) * 255 + 0.5).astype(np.uint8), "png", "huge 2400 x 2400 PNG, black on white"
    if kind in ("thin", "thick"):
        size = int(rng.integers(700, 1000)) if kind == "thin" else int(rng.integers(300, 500))
        ink = restroke(digit, int(size * 0.7), kind, rng)
        img = place(ink, (size, size), rng)
        if rng.random() < 0.5:
            return (img * 255 + 0.5).astype(np.uint8), "png", f"{kind} strokes, white on black PNG"
        return ((1 - img) * 255 + 0.5).astype(np.uint8), "png", f"{kind} strokes, black on white PNG"
    raise ValueError(f"unknown rendering kind {kind!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("CNN_MNIST_DATA", DEFAULT_DATA),
                        help="MNIST .npz with x_train, y_train, x_test, y_test")
    parser.add_argument("--out", default=str(ROOT / "custom_test_images"), help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="seed of the numpy Generator")
    args = parser.parse_args(argv)

    with np.load(args.data) as data:
        x_train, y_train = data["x_train"], data["y_train"]
        x_test, y_test = data["x_test"], data["y_test"]
    rng = np.random.default_rng(args.seed)
    means = class_means(x_train, y_train)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("[0-9]_*.*"):
        old.unlink()

    rows = []
    for digit, kinds in enumerate(PLAN):
        chosen = rng.choice(pick_typical(means, x_test, y_test, digit), size=len(kinds),
                            replace=False)
        for n, (kind, index) in enumerate(zip(kinds, chosen), start=1):
            image, ext, what = render(x_test[index], kind, rng)
            name = f"{digit}_{n}.{ext}"
            params = [cv2.IMWRITE_JPEG_QUALITY, 85] if ext == "jpg" else [
                cv2.IMWRITE_PNG_COMPRESSION, 9]
            ok, encoded = cv2.imencode("." + ext, image, params)
            if not ok:
                raise RuntimeError(f"could not encode {name}")
            encoded.tofile(str(out / name))
            shape = "x".join(str(s) for s in image.shape)
            print(f"{name:10s} test[{index:3d}]  {shape:13s} {image.dtype}  {what}")
            rows.append((name, int(index), shape, str(image.dtype), what))

    lines = [
        "# Custom test images",
        "",
        "Realistic renderings of real MNIST **test** digits, made by "
        "`scripts/make_custom_images.py` (seed 0). Each file is named `<digit>_<n>.<ext>`, its "
        "label is the first character. The source digits are typical test images (highest "
        "correlation with their class's mean training image among the first 500 test images), "
        "chosen without any model.",
        "",
        "| file | MNIST test index | shape | dtype | rendering |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {n} | {i} | {s} | {d} | {w} |" for n, i, s, d, w in rows]
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"{len(rows)} images, {total / 1e6:.2f} MB in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
