"""Whole numbers in an upload: ``number`` and ``digits`` of ``POST /api/predict``.

The same reading as ``cnn predict --max-digits N`` (:func:`cnn.tasks.numbers.read_number`,
trusted over the single-digit answer only when :func:`cnn.tasks.numbers.convincing`, as
:func:`cnn.tasks.numbers.attach_numbers` decides per file), applied to an image already decoded
in memory, with what the drawing page needs on top: per digit its ten probabilities (the bars),
its 28 x 28 input and, when asked, its activation maps (the layer view of one digit).
"""

from __future__ import annotations

import numpy as np

from cnn.errors import UserError
from cnn.tasks.numbers import MAX_DIGITS

# A request without max_digits reads a whole number, as cnn predict does without --max-digits.
DEFAULT_MAX_DIGITS = MAX_DIGITS
# The most a request may ask for: reading costs grow with the line's length, and 16 covers a
# card number or an international phone number (E.164: at most 15 digits).
MAX_DIGITS_LIMIT = 16


def parse_max_digits(text: str | None) -> int:
    """The ``max_digits`` request field: a whole number from 1 (one digit only, the
    single-digit answer alone) to :data:`MAX_DIGITS_LIMIT`; missing: :data:`DEFAULT_MAX_DIGITS`.

    Raises:
        UserError: anything else, with the value received.
    """
    if text is None:
        return DEFAULT_MAX_DIGITS
    value = text.strip()
    if value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_DIGITS_LIMIT:
        return int(value)
    shown = text if len(text) <= 40 else text[:40] + "..."
    raise UserError(f"max_digits {shown!r} should be a whole number from 1 to "
                    f"{MAX_DIGITS_LIMIT} (1 reads one digit; {DEFAULT_MAX_DIGITS}, the default, a "
                    f"number of up to {DEFAULT_MAX_DIGITS} digits)")


def _scaled_box(box, scale: tuple[float, float], size: tuple[int, int]) -> list[int] | None:
    """A box ``[x0, y0, x1, y1]`` (exclusive ends) of the decoded image in the posted image's
    pixels: times ``scale`` (``(sx, sy)``), outward, clipped to ``size`` ``(W, H)``."""
    if box is None:
        return None
    (sx, sy), (w, h) = scale, size
    x0, y0, x1, y1 = box
    return [int(min(w, max(0, np.floor(x0 * sx)))), int(min(h, max(0, np.floor(y0 * sy)))),
            int(min(w, np.ceil(x1 * sx))), int(min(h, np.ceil(y1 * sy)))]


def attach_number(pred, image: np.ndarray, network, rejector=None,
                  max_digits: int = DEFAULT_MAX_DIGITS, min_confidence: float = 0.5,
                  size: tuple[int, int] | None = None, known: dict | None = None):
    """Fill ``pred.number`` and ``pred.digits`` of one upload, as ``cnn predict`` does.

    A line that does not convincingly hold two or more digits keeps the single-digit answer
    (``digit``, ``confidence``, rejection unchanged) and gets ``number`` = that digit (None
    when rejected, and ``digits`` stays empty then) with one ``digits`` entry; a convincing
    number of two or more digits clears ``digit``, ``confidence`` and ``probabilities``, sets
    ``rejected`` False and ``uncertain`` when a digit is under ``min_confidence``. A line of
    more than ``max_digits`` digits keeps the single-digit answer and, unless rejected, says
    so in ``reason``. Each ``digits`` entry has ``box`` (``[x0, y0, x1, y1]`` in the posted
    image's pixels, exclusive ends; None when the single-digit answer has no one segment),
    ``digit``, ``confidence``, ``top3``, ``not_digit``, and ``probabilities`` (ten floats).

    Args:
        pred: the :class:`cnn.tasks.predict.Prediction` of the single-digit answer.
        image: the decoded upload, as :func:`cnn.vision.pipeline.to_mnist` takes it.
        network: a classifier with ``predict_proba`` (10 or 11 classes) or an ensemble.
        rejector: a :class:`cnn.tasks.reject.Rejector`, or None.
        max_digits: the longest number read, >= 2 (1: call nothing).
        size: the posted image's ``(width, height)``, the right way up, when ``image`` was
            decoded reduced (:func:`cnn.server.images.upright_size`); None: ``image``'s size.
        known: the ink the single-digit answer found in ``image`` (``to_digit``'s ``keep``
            ``["ink_map"]``): the reader starts from it instead of finding it again
            (:func:`cnn.vision.numbers.ink_map` says when it may).
    Returns:
        ``(inputs, probabilities)`` of a number: float32 ``(K, 28, 28)`` and ``(K, 10)``, one
        row per digit; None when the single-digit answer stands.
    """
    from cnn.tasks.numbers import apply_reading, read_file_number

    h, w = image.shape[:2]
    size = size or (w, h)
    scale = (size[0] / w, size[1] / h)
    reading = read_file_number(None, network, rejector, "auto", max_digits, image, known=known)
    if isinstance(reading, str):  # more than max_digits: said in the request's own terms
        reading = reading.replace("raise --max-digits", "ask with a larger max_digits")
    if apply_reading(pred, reading, min_confidence):
        for d, p in zip(reading.digits, reading.probabilities):
            d["box"] = _scaled_box(d["box"], scale, size)
            d["probabilities"] = [float(v) for v in p]
        return reading.images, reading.probabilities
    for d in pred.digits:  # the single-digit answer
        d["box"] = _scaled_box(d["box"], scale, size)
        d["probabilities"] = list(pred.probabilities)
    return None
