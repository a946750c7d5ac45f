"""The 28 x 28 input of an image-mode feature visualization, from an image that may hold a number.

Feature visualization works on one digit. An image of a single digit gives what ``cnn predict``
gives it (:func:`cnn.vision.pipeline.preprocess_file`); an image of a number (two or more
digits that :func:`cnn.tasks.numbers.read_number` reads and :func:`cnn.tasks.numbers.convincing`
trusts, the rule ``cnn predict --max-digits`` applies) gives one 28 x 28 crop per digit, left to
right, to pick from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from cnn.errors import UserError


@dataclass
class VisualizeInput:
    """What an image gives to visualize: ``single`` float32 (28, 28) in [0, 1] (the
    single-digit answer's input), and for a number its string ``number`` (e.g. ``"407"``) and
    ``crops`` float32 (K, 28, 28), one per digit left to right; ``number`` None and ``crops``
    None for a single digit."""

    single: np.ndarray
    number: str | None = None
    crops: np.ndarray | None = None

    @property
    def count(self) -> int:
        """Digits in the image: ``len(crops)`` for a number, else 1."""
        return 1 if self.crops is None else len(self.crops)

    def digit(self, k: int) -> np.ndarray:
        """The 28 x 28 of digit ``k`` (1-based, left to right).

        Raises:
            ValueError: ``k`` outside 1..:attr:`count`.
        """
        if not 1 <= k <= self.count:
            raise ValueError(f"digit {k} of {self.count}")
        return self.single if self.crops is None else self.crops[k - 1]


def default_rejector():
    """The shipped not-a-digit gates (:meth:`cnn.tasks.reject.Rejector.default`), or None when
    they do not load: visualizing goes on without it."""
    from cnn.tasks.reject import Rejector

    try:
        return Rejector.default()
    except UserError:
        return None


def read_visualize_input(path: str | os.PathLike, model, rejector=None,
                         max_digits: int = 12) -> VisualizeInput:
    """Read an image for :func:`cnn.tasks.visualize.rank_channels` and friends.

    Args:
        path: an image file.
        model: the classifier (``predict_proba``) that reads the digits and chooses the cuts.
        rejector: a :class:`cnn.tasks.reject.Rejector` (the not-a-digit gate per segment and
            on the picture as one digit, both weighed by the "convincing" rule), or None.
        max_digits: the longest number read; a longer line is treated as one digit.
    Returns:
        a :class:`VisualizeInput`.
    Raises:
        UserError: the file cannot be read or holds no digit (message starting with the path).
    """
    from cnn.tasks.numbers import convincing, read_number
    from cnn.vision.decode import read_image
    from cnn.vision.pipeline import DECODE_LONG_SIDE, to_mnist

    image = read_image(path, reduce_to=DECODE_LONG_SIDE)
    try:
        single = to_mnist(image)  # what preprocess_file gives
    except UserError as exc:
        raise UserError(f"{os.fspath(path)!r}: {exc}") from exc
    try:
        reading = read_number(image, model, rejector, "auto", max_digits)
    except (UserError, MemoryError):  # no line of digits, or too long: the single digit
        return VisualizeInput(single)
    rejected, p_not = False, None
    if rejector is not None:  # the gate's verdict on the picture as one digit, as predict has it
        from cnn.tasks.ensemble import decide

        x = np.asarray(single, np.float32)[None]
        verdict, p = rejector.judge(x, decide(model, x)[1])
        rejected, p_not = bool(verdict[0]), float(p[0])
    if len(reading.digits) >= 2 and convincing(reading, rejected, p_not):
        return VisualizeInput(single, reading.number, reading.images)
    return VisualizeInput(single)
