"""Training digits as ``cnn predict`` sees photos of them: render, then run the photo pipeline.

A network trained on MNIST's clean 28 x 28 arrays meets something else at prediction time: the
output of :func:`cnn.vision.pipeline.to_mnist` on a photo (strokes re-thresholded, thin pencil
lines, blotchy ink, a bit of a ruled line left over, a digit re-centred after a segmentation that
cut or added ink). Rendering MNIST *training* digits as small photos and pushing them through the
same pipeline shows the network those artefacts in training.

This renderer is deliberately simple and its own code (not the test-set generators'
``scripts/make_hard_photos.py`` or ``scripts/make_phone_photos.py``), so the photo sets stay
independent of training: the digit is upscaled to 56-168 px, made into a stroke of random width
by a soft threshold, drawn in ink of random darkness on paper of random brightness, under a
linear light gradient and an optional straight shadow edge, with optional ruled lines, then
Gaussian-blurred, noised and JPEG-compressed (quality 30-95).
"""

from __future__ import annotations

import cv2
import numpy as np

from cnn import progress
from cnn.errors import UserError
from cnn.vision.pipeline import to_mnist


def render_photo(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One MNIST digit (or a row of them) as a small grey photo of ink on paper.

    Args:
        digit: uint8 ``(28, 28)``, white digit on black (MNIST); or ``(H, W)``, a row of
            digits written as one number (scaled with its aspect ratio kept).
        rng: the caller's generator.
    Returns:
        uint8 ``(S + 2m, round(S * W / H) + 2m)`` grey photo, dark ink on lighter paper, S
        in 56..168, the margin m in 0..S/3.
    """
    size = int(rng.integers(56, 169))
    margin = int(rng.integers(0, size // 3 + 1))
    width = max(1, round(size * digit.shape[1] / digit.shape[0]))
    big = cv2.resize(digit, (width, size), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    big = np.pad(big, margin)
    edge = rng.uniform(0.15, 0.6)  # where the soft threshold sits: low = thick stroke
    ink = np.clip((big - edge) / 0.2 + 0.5, 0, 1)
    h, w = ink.shape
    paper = rng.uniform(0.55, 0.97)
    darkness = rng.uniform(0.25, 0.9) * paper  # how much darker than the paper the ink is
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) / max(h, w)
    angle = rng.uniform(0, 2 * np.pi)
    light = 1 + rng.uniform(0, 0.35) * ((np.cos(angle) * xx + np.sin(angle) * yy) - 0.5)
    page = np.full((h, w), paper, np.float32)
    if rng.random() < 0.25:  # ruled lines
        step = int(rng.integers(max(8, h // 6), max(9, h // 3)))
        rows = (np.arange(h) + int(rng.integers(0, step))) % step == 0
        page[rows] *= rng.uniform(0.75, 0.95)
    image = (page - darkness * ink) * light
    if rng.random() < 0.2:  # a straight shadow edge across the page
        a, c = rng.uniform(-1, 1), rng.uniform(0.2, 0.8)
        image = image * np.where(yy - a * (xx - 0.5) > c, rng.uniform(0.5, 0.85), 1.0)
    sigma = rng.uniform(0.3, 2.0)
    image = cv2.GaussianBlur(image, (0, 0), sigma)
    image = image + rng.normal(0, rng.uniform(0.005, 0.05), image.shape).astype(np.float32)
    photo = np.clip(image * 255, 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 96))])
    return cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE) if ok else photo


def read_back_photo(image: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """``image`` rendered as a photo (:func:`render_photo`) and read back with
    :func:`cnn.vision.pipeline.to_mnist` (first candidate), as ``cnn predict`` would.

    Args:
        image: uint8 ``(28, 28)``, white ink on black.
        rng: the caller's generator.
    Returns:
        uint8 ``(28, 28)``, or ``None`` when the pipeline finds no ink in the photo.
    """
    try:
        return np.rint(to_mnist(render_photo(image, rng)) * 255).astype(np.uint8)
    except UserError:
        return None


def render_through_pipeline(images: np.ndarray, rng: np.random.Generator,
                            desc: str = "rendering photos") -> np.ndarray:
    """:func:`read_back_photo` of every digit.

    Args:
        images: uint8 ``(N, 28, 28)`` MNIST digits (training split only: never render test
            digits for training).
        rng: the caller's generator.
        desc: the progress bar's label (shown after 1 s on a terminal).
    Returns:
        uint8 ``(N, 28, 28)``; an image in which the pipeline finds no ink keeps its original.
        About 10 ms per image on one core.
    """
    out = np.empty_like(images)
    for i in progress.bar(range(len(images)), desc=desc, unit="img"):
        seen = read_back_photo(images[i], rng)
        out[i] = images[i] if seen is None else seen
    return out
