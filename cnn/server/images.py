"""Uploaded image bytes -> the 28 x 28 network input, with the checks ``cnn predict`` makes.

The server reads no path and writes nothing: the bytes arrive in memory, are checked (size,
declared pixel count, JPEG truncation) before anything is decoded, are decoded by
``cv2.imdecode`` and then go through :func:`cnn.preprocess.to_mnist`, the pipeline ``cnn
predict`` applies to files. Error messages have the form ``cnn predict`` prints for a file,
``cannot read image '<name>': <what>; <what to do>``, with the upload's name in place of the
path.
"""

from __future__ import annotations

import io

import cv2
import numpy as np

from ..errors import UserError
from ..preprocess import to_mnist

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # largest request body accepted, bytes
MAX_PIXELS = 40_000_000  # largest image decoded, width x height (a 40-megapixel photo)


def declared_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` an image declares in its header, read without decoding its pixels
    (Pillow's lazy ``Image.open`` parses the header only); ``None`` when Pillow does not know
    the format or the header is unreadable (OpenCV's decoder then has the last word).

    Args:
        data: the encoded file (PNG, JPEG, BMP, GIF, TIFF, WebP, ...).
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return int(im.size[0]), int(im.size[1])
    except Image.DecompressionBombError:  # Pillow's own limit, far above MAX_PIXELS
        return MAX_PIXELS + 1, 1
    except Exception:  # noqa: BLE001 - unknown or corrupt: left to OpenCV's decoder
        return None


def decode_image(data: bytes, name: str = "upload") -> np.ndarray:
    """Decode an uploaded image as stored (``cv2.IMREAD_UNCHANGED``), after checking it.

    Args:
        data: the encoded file's bytes, at most :data:`MAX_UPLOAD_BYTES`.
        name: what to call the image in messages (the upload's file name, or ``"canvas"``).
    Returns:
        ``(H, W)``, ``(H, W, 3)`` (BGR) or ``(H, W, 4)`` (BGRA) array, uint8 or uint16.
    Raises:
        UserError: empty, over 10 MB, declaring more than 40 megapixels (checked from the
            header before decoding), a truncated JPEG, not an image or corrupt.
    """
    size = len(data)
    if size == 0:
        raise UserError(f"cannot read image {name!r}: file is empty (0 bytes)")
    if size > MAX_UPLOAD_BYTES:
        raise UserError(f"cannot read image {name!r}: the file is {size / 2**20:,.1f} MB, more "
                        f"than the {MAX_UPLOAD_BYTES // 2**20} MB allowed; save a smaller copy")
    declared = declared_size(data)
    if declared is not None and declared[0] * declared[1] > MAX_PIXELS:
        raise UserError(
            f"cannot read image {name!r}: it declares {declared[0] * declared[1]:,} pixels, "
            f"more than the {MAX_PIXELS // 1_000_000} megapixels allowed; save a smaller copy")
    if data[:3] == b"\xff\xd8\xff":
        # A JPEG's entropy-coded data holds no 0xFFD9, so one must follow the first
        # start-of-scan marker; some OpenCV builds decode a truncated JPEG without complaint.
        start = data.find(b"\xff\xda")
        if start < 0 or data.find(b"\xff\xd9", start) < 0:
            raise UserError(f"cannot read image {name!r}: the JPEG file is truncated ({size} "
                            "bytes); copy or export it again")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:  # e.g. more pixels than OpenCV's own limit
        image = None
    if image is None or image.size == 0:
        raise UserError(f"cannot read image {name!r}: not an image or corrupt ({size} bytes); "
                        "save it as PNG or JPEG")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise UserError(
            f"cannot read image {name!r}: it has {image.shape[1]:,} x {image.shape[0]:,} "
            f"pixels, more than the {MAX_PIXELS // 1_000_000} megapixels allowed; save a "
            "smaller copy")
    return image


class NoInk(UserError):
    """The upload was read, but preprocessing found no digit in it (a blank canvas or page):
    with rejection on, an answer of "not a digit" rather than an error."""


def preprocess_upload(data: bytes, name: str = "upload", polarity: str = "auto",
                      choose=None) -> np.ndarray:
    """Uploaded bytes -> MNIST-like digit: :func:`decode_image` + :func:`cnn.preprocess.to_mnist`.

    Args:
        data: the encoded image (a canvas PNG, a photo's JPEG, ...).
        name: the image's name in messages.
        polarity, choose: as :func:`cnn.preprocess.to_mnist` (``choose`` scores its candidate
            segmentations; ``cnn predict`` passes the network's confidence).
    Returns:
        float32 ``(28, 28)`` in [0, 1], white digit on black.
    Raises:
        UserError: the image cannot be read; :class:`NoInk` (a ``UserError``) when it holds
            no digit (a blank canvas). The message starts with the name, as ``cnn
            predict``'s does with the file name.
    """
    image = decode_image(data, name)
    try:
        return to_mnist(image, polarity=polarity, choose=choose)
    except UserError as exc:
        raise NoInk(f"{name!r}: {exc}") from exc
