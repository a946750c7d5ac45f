"""Uploaded image bytes -> the 28 x 28 network input, with the checks ``cnn predict`` makes.

The server reads no path and writes nothing: the bytes arrive in memory, are checked (size,
declared pixel count, JPEG truncation) before anything is decoded, are decoded by
``cv2.imdecode`` and then go through :func:`cnn.vision.to_mnist`, the pipeline ``cnn
predict`` applies to files. Error messages have the form ``cnn predict`` prints for a file,
``cannot read image '<name>': <what>; <what to do>``, with the upload's name in place of the
path.
"""

from __future__ import annotations

import numpy as np

from cnn.errors import UserError
from cnn.vision.decode import decode_image_bytes
from cnn.vision.pipeline import DECODE_LONG_SIDE, to_mnist

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # largest request body accepted, bytes


def decode_image(data: bytes, name: str = "upload", reduce_to: int | None = None) -> np.ndarray:
    """Decode an uploaded image as stored (``cv2.IMREAD_UNCHANGED``), after checking it: the
    upload limit here, then the checks ``cnn predict`` makes of a file
    (:func:`cnn.vision.decode_image_bytes`).

    Args:
        data: the encoded file's bytes, at most :data:`MAX_UPLOAD_BYTES`.
        name: what to call the image in messages (the upload's file name, or ``"canvas"``).
        reduce_to: as :func:`cnn.vision.decode_image_bytes` (a large JPEG decoded reduced).
    Returns:
        ``(H, W)``, ``(H, W, 3)`` (BGR) or ``(H, W, 4)`` (BGRA) array, uint8 or uint16.
    Raises:
        UserError: empty, over 10 MB, declaring more than 40 megapixels (checked from the
            header before decoding), a truncated JPEG, not an image or corrupt.
    """
    size = len(data)
    if size > MAX_UPLOAD_BYTES:
        raise UserError(f"cannot read image {name!r}: the file is {size / 2**20:,.1f} MB, more "
                        f"than the {MAX_UPLOAD_BYTES // 2**20} MB allowed; save a smaller copy")
    return decode_image_bytes(data, name, reduce_to)


class NoInk(UserError):
    """The upload was read, but preprocessing found no digit in it (a blank canvas or page):
    with rejection on, an answer of "not a digit" rather than an error."""


def preprocess_upload(data: bytes, name: str = "upload", polarity: str = "auto",
                      choose=None) -> np.ndarray:
    """Uploaded bytes -> MNIST-like digit: :func:`decode_upload` + :func:`to_digit`.

    Args:
        data: the encoded image (a canvas PNG, a photo's JPEG, ...).
        name: the image's name in messages.
        polarity, choose: as :func:`cnn.vision.to_mnist` (``choose`` scores its candidate
            segmentations; ``cnn predict`` passes the network's confidence).
    Returns:
        float32 ``(28, 28)`` in [0, 1], white digit on black.
    Raises:
        UserError: the image cannot be read; :class:`NoInk` (a ``UserError``) when it holds
            no digit (a blank canvas). The message starts with the name, as ``cnn
            predict``'s does with the file name.
    """
    return to_digit(decode_upload(data, name), name, polarity, choose)


def decode_upload(data: bytes, name: str = "upload") -> np.ndarray:
    """:func:`decode_image` as ``cnn predict`` reads files: a JPEG far larger than the
    pipeline's working size decoded reduced (:data:`cnn.vision.pipeline.DECODE_LONG_SIDE`;
    :func:`upright_size` gives the size the boxes of a number are scaled back to)."""
    return decode_image(data, name, reduce_to=DECODE_LONG_SIDE)


def to_digit(image: np.ndarray, name: str = "upload", polarity: str = "auto",
             choose=None, keep: dict | None = None) -> np.ndarray:
    """A decoded upload -> the 28 x 28 network input (:func:`cnn.vision.to_mnist`; ``keep``
    receives its ink for the number reader, as ``to_mnist``'s).

    Returns:
        float32 ``(28, 28)`` in [0, 1], white digit on black.
    Raises:
        NoInk: no digit in the image; the message starts with ``name``.
    """
    try:
        return to_mnist(image, polarity=polarity, choose=choose, keep=keep)
    except UserError as exc:
        raise NoInk(f"{name!r}: {exc}") from exc


def upright_size(data: bytes, decoded: np.ndarray) -> tuple[int, int]:
    """``(width, height)`` of the posted image, the right way up, in its own pixels.

    Only a JPEG is ever decoded reduced (:func:`decode_upload`); its stored size comes from
    the header (Pillow, no decoding), turned for an EXIF orientation of 5..8. Every other
    image: the decoded array's own size.

    Args:
        data: the encoded bytes, already decoded into ``decoded`` (``(H, W)`` or
            ``(H, W, C)``).
    """
    h, w = decoded.shape[:2]
    if bytes(data[:3]) != b"\xff\xd8\xff":
        return w, h
    import io

    from PIL import Image

    from cnn.vision.decode import read_header

    try:
        with Image.open(io.BytesIO(data)) as im:
            sw, sh = (int(v) for v in im.size)
    except Exception:  # noqa: BLE001 - it decoded, so this is unexpected: the array's size
        return w, h
    return (sh, sw) if read_header(data)[1] in (5, 6, 7, 8) else (sw, sh)
