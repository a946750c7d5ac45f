"""Read a whole number: every digit on the main line of writing, left to right.

:func:`cnn.vision.numbers.read_line` cuts the line into digits, choosing among candidate cuts
with :func:`segment_scorer` (the classifier's top probability times P(a digit) from the
not-a-digit gate, so a cut that leaves half a "0" scores low); :func:`read_number` then
classifies each chosen segment, applies the gate per segment (a letter inside "4A7" is reported
as not a digit, shown as ``?`` in the number) and assembles the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cnn.tasks.ensemble import decide
from cnn.tasks.reject import split_not_digit
from cnn.vision.numbers import MAX_DIGITS, read_line

NOT_READ = "?"  # the character a segment the gate rejects gets in the number


@dataclass
class NumberReading:
    """One picture's number: ``number`` (e.g. ``"40517"``; ``?`` for a segment that is not a
    digit), ``digits`` (per segment: ``box`` [x0, y0, x1, y1] in original pixels, ``digit``
    (int, or None when rejected), ``confidence``, ``top3`` [[digit, p], ...], ``not_digit``
    P(not a digit) or None), and ``images`` float32 (K, 28, 28) (what each segment became)."""

    number: str
    digits: list[dict] = field(default_factory=list)
    images: np.ndarray | None = None


def segment_scorer(model, rejector=None):
    """A scorer for :func:`cnn.vision.numbers.read_line`: float32 ``(K, 28, 28)`` -> ``(K,)``
    top digit probability times (1 - P(not a digit)) when a gate judges, in [0, 1]."""
    def score(batch: np.ndarray) -> np.ndarray:
        raw = model.predict_proba(batch)
        probabilities = split_not_digit(raw)[0]
        p = probabilities.max(axis=1)
        if rejector is not None:
            p_not = rejector.not_digit_probability(batch, raw)
            if p_not is not None:
                p = p * (1.0 - p_not)
        return p
    return score


def read_number(image: np.ndarray, model, rejector=None, polarity: str = "auto",
                max_digits: int = MAX_DIGITS) -> NumberReading:
    """Read the number written in ``image`` (see the module docstring).

    Args:
        image: as :func:`cnn.vision.pipeline.to_mnist` takes it.
        model: a classifier with ``predict_proba`` (10 or 11 classes) or an ensemble.
        rejector: a :class:`cnn.tasks.reject.Rejector`, or None (no per-segment gate).
        polarity: ``"auto"``, ``"dark-on-light"`` or ``"light-on-dark"``.
        max_digits: the longest number read.
    Returns:
        a :class:`NumberReading` with at least one segment.
    Raises:
        UserError: no ink, or more than ``max_digits`` digits on the line.
    """
    segments = read_line(image, segment_scorer(model, rejector), polarity, max_digits)
    x = np.stack([s.image for s in segments])
    digits, raw = decide(model, x)
    probabilities = split_not_digit(raw)[0]
    if raw.shape[1] > 10:
        digits = probabilities.argmax(axis=1)
    rejected, p_not = (rejector.judge(x, raw) if rejector is not None
                       else (np.zeros(len(x), bool), None))
    out, text = [], []
    for k, s in enumerate(segments):
        p = probabilities[k]
        top = np.argsort(p)[::-1][:3]
        digit = None if rejected[k] else int(digits[k])
        out.append({"box": list(s.box), "digit": digit,
                    "confidence": float(p[int(digits[k])]),
                    "top3": [[int(d), float(p[d])] for d in top],
                    "not_digit": None if p_not is None else float(p_not[k])})
        text.append(NOT_READ if digit is None else str(digit))
    return NumberReading("".join(text), out, x)


_SURE_MEAN = 0.7  # a number in a picture the gate rejected: mean digit confidence at least
_SURE_MIN = 0.4  # ... and every digit at least this confident


def convincing(reading: NumberReading) -> bool:
    """Whether a reading of two or more digits is trusted over the single-digit answer.

    Exists for: letters, words, textures and objects, whose vertical strokes read as strings
    of "1"s (measured on ``scripts/make_non_digits.py`` images: 28 of 48 were read as numbers
    without this). Every segment must be accepted by the gate, the mean confidence be at
    least ``_SURE_MEAN``, the least at least ``_SURE_MIN``, and "1"s no more than half the
    digits (fewer than half from 3 digits on).
    """
    digits = reading.digits
    if any(d["digit"] is None for d in digits):
        return False
    confidence = [d["confidence"] for d in digits]
    if np.mean(confidence) < _SURE_MEAN or min(confidence) < _SURE_MIN:
        return False
    ones = sum(d["digit"] == 1 for d in digits)
    return 2 * ones < len(digits) if len(digits) >= 3 else ones < len(digits)


def attach_numbers(predictions: list, files: list, model, rejector=None, polarity: str = "auto",
                   max_digits: int = MAX_DIGITS, min_confidence: float = 0.5) -> None:
    """Fill ``number`` and ``digits`` of each :class:`cnn.tasks.predict.Prediction` in place.

    A file whose line holds at most one digit the gate accepts keeps the single-digit answer
    (``digit``, ``confidence``, rejection: unchanged) and gets ``number`` = that digit (None
    when rejected) with one ``digits`` entry; a file with two or more becomes a number:
    ``digit``, ``confidence`` and ``probabilities`` are cleared, ``rejected`` False, and
    ``uncertain`` True when any digit's confidence is under ``min_confidence``. Files that
    failed to read (``error``) are left alone. A line with more than ``max_digits`` digits
    keeps the single-digit answer and gets ``reason`` saying so. A number must be
    :func:`convincing` (measured on 136 hard single-digit photos: trusting every reading of
    two digits or more cost 4.4 points of single-digit accuracy; this rule 0.7).
    """
    from cnn.errors import UserError
    from cnn.vision.decode import read_image

    for f, pred in zip(files, predictions):
        if pred.error:
            continue
        reading = None
        try:
            reading = read_number(read_image(f), model, rejector, polarity, max_digits)
        except UserError as e:
            if "more than" in str(e):
                pred.reason = str(e)
        except MemoryError:
            pass
        accepted = [] if reading is None else [d for d in reading.digits
                                               if d["digit"] is not None]
        if len(accepted) >= 2 and convincing(reading):
            pred.number, pred.digits = reading.number, reading.digits
            pred.digit, pred.confidence, pred.probabilities = None, None, []
            pred.rejected, pred.reason, pred.not_digit = False, None, None
            pred.uncertain = any(d["confidence"] < min_confidence for d in reading.digits)
            continue
        if pred.digit is None:
            continue
        p = np.asarray(pred.probabilities)
        top = np.argsort(p)[::-1][:3]
        box = accepted[0]["box"] if len(accepted) == 1 else None
        pred.number = str(pred.digit)
        pred.digits = [{"box": box, "digit": pred.digit, "confidence": pred.confidence,
                        "top3": [[int(d), float(p[d])] for d in top],
                        "not_digit": pred.not_digit}]
