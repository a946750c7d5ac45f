"""Read a whole number: every digit on the main line of writing, left to right.

:func:`cnn.vision.numbers.read_line` cuts the line into digits, choosing among candidate cuts
with :func:`segment_scorer` (the classifier's top probability times P(a digit) from the
not-a-digit gate, so a cut that leaves half a "0" scores low, times P(one digit) from the line
gate, so two touching digits left together do too); :func:`read_number` then
classifies each chosen segment, applies the gate per segment (a letter inside "4A7" is reported
as not a digit, shown as ``?`` in the number) and assembles the answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cnn.errors import UserError
from cnn.tasks.ensemble import decide
from cnn.tasks.memo import remembered, remembered_rejector
from cnn.tasks.reject import split_not_digit
from cnn.vision.cuts import log_score
from cnn.vision.numbers import MAX_DIGITS, TooManyDigits, read_line
from cnn.vision.polarity import POLARITIES

NOT_READ = "?"  # the character a segment the gate rejects gets in the number


@dataclass
class NumberReading:
    """One picture's number: ``number`` (e.g. ``"40517"``; ``?`` for a segment inside the
    number that is not a digit), ``digits`` (per segment: ``box`` [x0, y0, x1, y1] in original
    pixels, ``digit`` (int, or None when rejected), ``confidence``, ``top3`` [[digit, p], ...],
    ``not_digit`` P(not a digit) or None), ``images`` float32 (K, 28, 28) (what each segment
    became), ``line_score`` the sum over the digits of log(p x (1 - P(not a digit))) and
    ``whole_score`` the same for the whole line read as one digit, times 1 - P(several
    digits) from the rejector's line gate when it has one (natural log, <= 0; ``-inf`` when
    it could not be normalised; None without a gate: the classifier alone reads two digits
    squeezed together as one with confidence, so only a gate can judge), and
    ``probabilities`` float32 (K, 10), each segment's ten digit probabilities."""

    number: str
    digits: list[dict] = field(default_factory=list)
    images: np.ndarray | None = None
    line_score: float = 0.0
    whole_score: float | None = None
    probabilities: np.ndarray | None = None


SCORE_BATCH = 256  # candidate segments scored at a time (the networks' activations: ~60 MB)


def segment_scorer(model, rejector=None):
    """A scorer for :func:`cnn.vision.numbers.read_line`: float32 ``(K, 28, 28)`` -> ``(K,)``
    top digit probability times (1 - P(not a digit)) when a gate judges, times (1 - P(several
    digits)) when the rejector has a line gate, in [0, 1]; with a ``rejector``, its ``bound``
    gives the top probability alone, an upper bound that costs no gate.

    Each candidate segment is scored as what it must be, one digit: a digit, not a non-digit,
    and not several digits. The last factor exists for two touching digits in thick ink:
    squeezed into one 28 x 28 field they can read as one sure digit, so a cut through their
    ink (:data:`cnn.vision.cuts._CUT_COST`) did not pay, and the line lost a digit
    (docs/numbers.md, 2026-12-08: 160 development photos of ``scripts/make_numbers.py`` seed
    5, with its marker condition, 75.6 -> 78.1 % read whole, with the line gate of that day;
    a marker's "94" of number photos B is now cut in two, but not read whole). Like the
    whole-line test's, the factor comes with a not-a-digit judge only.

    The candidates go through the networks :data:`SCORE_BATCH` at a time: a textured line of
    many small blobs offers over a thousand, and a thousand 28 x 28 images through a ResNet-lite
    and both gates at once held 380 MB (measured with tracemalloc on a phone photo of a tablet
    screen)."""
    def in_batches(fn):
        def batched(batch: np.ndarray) -> np.ndarray:
            if len(batch) <= SCORE_BATCH:
                return fn(batch)
            return np.concatenate([fn(batch[k:k + SCORE_BATCH])
                                   for k in range(0, len(batch), SCORE_BATCH)])
        return batched

    @in_batches
    def score(batch: np.ndarray) -> np.ndarray:
        raw = model.predict_proba(batch)
        probabilities = split_not_digit(raw)[0]
        p = probabilities.max(axis=1)
        if rejector is not None:
            p_not = rejector.not_digit_probability(batch, raw)
            if p_not is not None:
                p = p * (1.0 - p_not)
                several = _several(rejector, batch)
                if several is not None:
                    p = p * (1.0 - several)
        return p

    @in_batches
    def bound(batch: np.ndarray) -> np.ndarray:
        """The classifier's top probability alone: at least ``score``'s (the reader consults
        the gate only where it can change the answer, cnn.vision.cuts)."""
        return split_not_digit(model.predict_proba(batch))[0].max(axis=1)

    if rejector is not None:  # without a gate the score is the bound: nothing to prune
        score.bound = bound
    return score


def _several(rejector, images: np.ndarray) -> np.ndarray | None:
    """P(several digits) of float32 ``(K, 28, 28)`` ``images`` from the rejector's line gate
    (:meth:`cnn.tasks.reject.Rejector.several_probability`), float32 ``(K,)``; None without a
    line gate, or for a judge that has no such method (a test's stand-in)."""
    asks = getattr(rejector, "several_probability", None)
    return None if asks is None else asks(images)


def read_number(image: np.ndarray, model, rejector=None, polarity: str = "auto",
                max_digits: int = MAX_DIGITS, box_scale: float = 1.0,
                known: dict | None = None) -> NumberReading:
    """Read the number written in ``image`` (see the module docstring).

    A segment the gate rejects at either end of the line (a smudge, the frame's edge, a
    printed word before the number) is left out of the number; one between digits stays,
    as ``?``; one the gate doubts only moderately, as tall as the digits beside it, is a
    digit (:func:`_digits_in_line`). A short mark (:func:`_short_marks`: read as "1" or
    rejected, under half as tall as the line's other segments) is left out wherever it
    stands. With
    ``polarity="auto"``, a doubtful reading (neither a :func:`sure_number` nor one sure
    digit) is read again in the other polarity, and that reading is
    taken when it is a sure number with every digit sure (``in_doubt``);
    not a clean canvas's (``known["canvas"]``), whose one background level says the polarity.
    The networks remember their answers for the reading (:mod:`cnn.tasks.memo`): the chosen
    segments were scored already, and their classification and gate are looked up.

    Args:
        image: as :func:`cnn.vision.pipeline.to_mnist` takes it.
        model: a classifier with ``predict_proba`` (10 or 11 classes) or an ensemble.
        rejector: a :class:`cnn.tasks.reject.Rejector`, or None (no per-segment gate).
        polarity: ``"auto"``, ``"dark-on-light"`` or ``"light-on-dark"``.
        max_digits: the longest number read.
        box_scale: original pixels per pixel of ``image`` (see
            :func:`cnn.vision.numbers.read_line`).
        known: the single-digit pipeline's ink of ``image`` (``to_mnist(..., keep=d)``'s
            ``d["ink_map"]``), so it is not found again (:func:`cnn.vision.numbers.ink_map`).
    Returns:
        a :class:`NumberReading`; ``number`` is ``""`` and ``digits`` empty when every
        segment is rejected by the gate or a short mark.
    Raises:
        UserError: no ink; :class:`cnn.vision.numbers.TooManyDigits`: more than
            ``max_digits`` digits on the line.
    """
    model, rejector = remembered(model), remembered_rejector(rejector)
    try:
        reading, used = _read_once(image, model, rejector, polarity, max_digits, box_scale,
                                   known=known)
    except UserError as e:
        if polarity != "auto" or isinstance(e, TooManyDigits):
            raise
        reading, used, error = None, None, e
    # a clean canvas's polarity is plain (its one background level): no second reading
    canvas = known is not None and known.get("canvas", False)
    if polarity != "auto" or canvas or not _doubtful(reading):
        if reading is None:
            raise error
        return reading
    # Recognition has the last word on the polarity: a sheet or a card smaller than the
    # darker desk around it, or a whiteboard's glare, can pass for light ink on a dark ground,
    # and the edges then read as a row of 1s. A doubtful reading (or none) is read again in
    # the other polarity, which wins only when it is a sure number with every digit sure
    # (sure_number, in_doubt): the polarity stage voted against it.
    for other in POLARITIES[1:]:
        if other == used:
            continue
        try:
            second, _ = _read_once(image, model, rejector, other, max_digits, box_scale,
                                   check=False)
        except UserError:
            continue
        if sure_number(second, in_doubt=True):  # sure: the polarity stage said no
            return second
    if reading is None:
        raise error
    return reading


def _doubtful(reading: NumberReading | None) -> bool:
    """No reading, or neither a :func:`sure_number` nor one sure digit (a lone "1" on a
    page read in the other polarity gave numbers from the page's own edges)."""
    if reading is None:
        return True
    if sure_number(reading):
        return False
    sure = [d for d in reading.digits if d["digit"] is not None]
    return not (len(sure) == 1 and sure[0]["confidence"] >= _SURE_MEAN)


def _read_once(image, model, rejector, polarity, max_digits, box_scale, check=True,
               known=None):
    """:func:`read_number` in one polarity: ``(NumberReading, polarity used)``."""
    line = read_line(image, segment_scorer(model, rejector), polarity, max_digits, box_scale,
                     check, known)
    segments = line.segments
    x = np.stack([s.image for s in segments] + ([line.whole.image] if line.whole else []))
    digits, raw = decide(model, x)
    probabilities = split_not_digit(raw)[0]
    if raw.shape[1] > 10:
        digits = probabilities.argmax(axis=1)
    rejected, p_not = (rejector.judge(x, raw) if rejector is not None
                       else (np.zeros(len(x), bool), None))
    goodness = log_score(probabilities.max(axis=1) * (1.0 if p_not is None else 1.0 - p_not))
    n = len(segments)
    if p_not is not None:
        rejected = rejected.copy()
        # the confidence of the digit reported (an ensemble's vote may differ from the top
        # of its averaged probabilities)
        rejected[:n] &= ~_digits_in_line([s.box for s in segments], rejected[:n], p_not[:n],
                                         probabilities[np.arange(n), digits[:n]])
    several = _several(rejector, x[n:]) if line.whole and p_not is not None else None
    if several is not None:  # the whole line is one digit only if it is not several
        goodness[n] += log_score(1.0 - several)[0]
    strokes = rejected[:n] | (digits[:n] == 1)  # what a mark is read as
    short = _short_marks([s.box for s in segments], ~strokes) & strokes
    kept = [k for k in range(n) if not rejected[k] and not short[k]]
    if not kept:
        return NumberReading("", [], x[:0], probabilities=probabilities[:0]), line.polarity
    span = [k for k in range(kept[0], kept[-1] + 1) if not short[k]]
    out, text = [], []
    for k in span:
        p = probabilities[k]
        top = np.argsort(p)[::-1][:3]
        digit = None if rejected[k] else int(digits[k])
        out.append({"box": list(segments[k].box), "digit": digit,
                    "confidence": float(p[int(digits[k])]),
                    "top3": [[int(d), float(p[d])] for d in top],
                    "not_digit": None if p_not is None else float(p_not[k])})
        text.append(NOT_READ if digit is None else str(digit))
    whole = None if p_not is None else float(goodness[n]) if line.whole else float("-inf")
    return NumberReading("".join(text), out, x[span], float(goodness[kept].sum()), whole,
                         probabilities[span]), line.polarity


_IN_LINE_NOT_DIGIT = 0.8  # a segment on a line of digits is one up to this P(not a digit) ...
_IN_LINE_CONFIDENT = 0.7  # ... when the classifier is at least this sure of it
_IN_LINE_TALL = 0.75  # ... and it is 0.75 to 1 / 0.75 times the median height of the digits


def _digits_in_line(boxes: list, rejected: np.ndarray, p_not: np.ndarray,
                    confidence: np.ndarray) -> np.ndarray:
    """bool ``(K,)``: which of a line's segments the gate rejected (``rejected``, at the
    threshold it uses for a picture on its own) are digits all the same: P(not a digit)
    (``p_not``, float ``(K,)``) under ``_IN_LINE_NOT_DIGIT``, the classifier's probability
    of the digit it reports (``confidence``, float ``(K,)``) at least
    ``_IN_LINE_CONFIDENT``, and as tall as the line's digits
    (``_IN_LINE_TALL`` to 1 / ``_IN_LINE_TALL`` times the median height of the segments it
    accepted, two at least; ``boxes`` [x0, y0, x1, y1]).

    The gate's threshold is set for one picture, where a thing is as likely as a digit; a
    segment as tall as the digits beside it on one line is far likelier a digit (a prior
    shift: the same likelihood, another prior). A bold "4" (P(not a digit) 0.6), a "4" with
    a stroke of its neighbour (0.71) and a "1" with a crossed foot (0.57) at the ends of
    numbers were dropped: 4 more of 160 development number photos are read whole
    (docs/numbers.md has the figures).
    """
    heights = np.array([b[3] - b[1] for b in boxes], np.float64)
    accepted = ~np.asarray(rejected, bool)
    if accepted.sum() < 2:
        return np.zeros(len(boxes), bool)
    median = float(np.median(heights[accepted]))
    return (np.asarray(rejected, bool) & (p_not < _IN_LINE_NOT_DIGIT)
            & (confidence >= _IN_LINE_CONFIDENT) & (heights >= _IN_LINE_TALL * median)
            & (heights <= median / _IN_LINE_TALL))


_SHORT = 0.5  # a "1" or rejected segment under this part of the digits' median height is a mark


def _short_marks(boxes: list, reference: np.ndarray) -> np.ndarray:
    """bool ``(K,)``: which of a line's segments (``boxes`` [x0, y0, x1, y1], original
    pixels) are shorter than ``_SHORT`` times the median height of the ``reference``
    segments (bool ``(K,)``; itself left out); none when no other segment is a reference.

    The digits of one number are written about as tall as one another (a "1" too); what is
    much shorter is a piece of something else that the line took in: a fragment of a printed
    label or of a frame's wall beside the number, a dash, or a stroke end the cuts split
    from its digit. :func:`_read_once` leaves out the short segments read as "1" or rejected
    by the gate (such pieces read as sure 1s: "641" for 64, "31212" for 3122), measured
    against the digits other than "1": a tall mark read as "1" beside the number (a frame's
    side) would otherwise raise the reference and leave a real "1" short."""
    heights = np.array([b[3] - b[1] for b in boxes], np.float64)
    short = np.zeros(len(heights), bool)
    for k in range(len(heights)):
        others = np.delete(heights, k)[np.delete(np.asarray(reference, bool), k)]
        short[k] = others.size > 0 and heights[k] < _SHORT * float(np.median(others))
    return short


_SURE_MEAN = 0.7  # without a gate, a number: mean digit confidence at least
_SURE_MIN = 0.4  # ... and every digit at least this confident
_MARGIN = 1.0  # the digits this much likelier (natural log) than the line as one digit
_OTHER_THAN_ONE = 2  # without a gate, at least this many digits other than "1" (of two: one)
_DOUBT_MEAN = 0.9  # a reading in the polarity the polarity stage voted against: mean confidence
_DOUBT_NOT_DIGIT = 0.2  # ... and every digit's P(not a digit) at most

# The decision with a gate: a logistic regression (D. R. Cox, "The regression analysis of
# binary sequences", JRSS B 20(2), 1958) on the features of number_features, fitted by
# scripts/fit_number_decision.py (its docstring has the command and the figures) on readings
# of photos of MNIST *training* digits and of non-digits, never on a test set. The weights
# apply to the raw features (the fit's standardisation folded in).
DECISION_FEATURES = ("mean log(1 - confidence)", "min log(1 - confidence)",
                     "mean log P(not a digit)", "min log P(not a digit)",
                     "log P(as many 1s in a number)",
                     "picture rejected", "log P(not a digit) of the picture")
DECISION_WEIGHTS = np.array([-0.4917, -0.0349, -0.8877, -0.4541, 0.4748, -2.1365, 0.2669])
DECISION_BIAS = -5.6941
_LOG_FLOOR = 1e-4  # probabilities are floored here before their log is taken
_ONE_SHARE = 0.1  # the share of 1s among the digits of numbers (ten digits, equally likely)
_MOSTLY_ONES = 0.75  # a reading of 3+ digits with more than this share of 1s is strokes


def number_features(reading: NumberReading, picture_rejected: bool = False,
                    picture_not_digit: float | None = None) -> np.ndarray:
    """float64 ``(len(DECISION_FEATURES),)``: what :func:`convincing` weighs of a reading
    with two or more digits (segments the gate rejected, ``?``, left out), in the order of
    :data:`DECISION_FEATURES`: how unsure the digits are (the mean and the smallest of
    log(1 - confidence)), how much they look like non-digits (the mean and the smallest of
    log P(not a digit), 0 counted as ``_LOG_FLOOR``), how likely a number of that many
    digits holds that many 1s (the log of the binomial probability of ``k`` 1s among ``n``
    digits, each a "1" with probability ``_ONE_SHARE``: the vertical strokes of letters,
    hatching and stripes read as runs of 1s, and a run of twelve is no number; a share of 1s
    as the feature let sure runs of 1s through, since a linear model cannot learn from short
    numbers what a run of twelve means), whether the gate rejected the picture as one digit
    (1.0 or 0.0), and the log of its P(not a digit) as one digit (``picture_not_digit``;
    None counts as ``_LOG_FLOOR``). Probabilities are floored at ``_LOG_FLOOR`` before the
    log.

    Raises:
        ValueError: fewer than two digits.
    """
    digits = [d for d in reading.digits if d["digit"] is not None]
    if len(digits) < 2:
        raise ValueError("number_features needs a reading of two or more digits")
    doubt = np.log(np.clip(1.0 - np.array([d["confidence"] for d in digits]), _LOG_FLOOR, 1))
    unlike = np.log(np.clip([d["not_digit"] or 0.0 for d in digits], _LOG_FLOOR, 1))
    n, ones = len(digits), sum(d["digit"] == 1 for d in digits)
    as_many = (math.log(math.comb(n, ones)) + ones * math.log(_ONE_SHARE)
               + (n - ones) * math.log(1.0 - _ONE_SHARE))
    picture = np.log(np.clip(picture_not_digit or 0.0, _LOG_FLOOR, 1))
    return np.array([doubt.mean(), doubt.min(), unlike.mean(), unlike.min(), as_many,
                     float(picture_rejected), picture])


def convincing(reading: NumberReading, picture_rejected: bool = False,
               picture_not_digit: float | None = None) -> bool:
    """Whether a reading of two or more digits is trusted over the single-digit answer.

    1. **Several digits, not one.** The digits together must be at least ``e**_MARGIN``
       times likelier than the whole line read as one digit (``line_score - whole_score``:
       a likelihood-ratio test between the two hypotheses, as recognition-driven
       segmentation weighs its alternatives, Casey & Lecolinet 1996). A "5" that a shadow
       or an underline broke in two reads well as one digit; "47" does not. Only with a
       gate (``whole_score`` not None): a classifier alone reads "42" squeezed into one
       28 x 28 as a confident "4", and so do the not-a-digit gates often enough ("77" as a
       7: a network that ends in global average pooling keeps which strokes are there, not
       how many), which is what the line gate's P(several digits) in ``whole_score`` is for
       (:class:`cnn.tasks.reject.Rejector`, ``line_gate``; on 60 clean photos of two-digit
       numbers, 41 were read whole without it, 50 with the first line gate and 54 with the
       one of 2026-12-08).
    2. **Digits, not strokes or things.** With a gate (some digit's ``not_digit`` known):
       three or more digits, over ``_MOSTLY_ONES`` of them 1s, are never a number (stripes,
       hatching and the strokes of a word read as sure runs of 1s, which the fitted weights
       alone let through when every digit is certain; "111" and "11711" are the price: a
       number of 3-5 digits is that much 1s about once in a thousand), and otherwise P(a
       number) > 0.5 from a logistic regression on :func:`number_features` (the digits'
       confidence and P(not a digit), how likely a number holds as many 1s, the gate's
       verdict on the picture as one digit, ``picture_rejected`` and ``picture_not_digit``;
       None, a picture the gate did not judge, counts as ``_LOG_FLOOR``; a NaN gives "no").
       It is fitted by ``scripts/fit_number_decision.py`` on photos of training digits and
       non-digits, with the shipped classifier and gates at their threshold; other gates
       (``--reject-weights``, ``--reject-threshold``) get the same weights, unmeasured. It
       replaced three hand-set tests (mean confidence >= 0.7 and none under 0.4; two digits
       other than "1"; a picture the gate rejected needing mean confidence >= 0.9 and every
       P(not a digit) <= 0.2), which turned away real numbers with one unsure digit
       ("174243", a "1" at P(not a digit) 0.25) or two 1s ("114"): on development sets never
       fitted on, numbers read whole 78.1 -> 85.0 %, non-digits rejected 88.1 -> 90.0 %,
       single digits unchanged (docs/numbers.md has the later figures). Without a gate the
       first two of those tests remain: mean confidence at least ``_SURE_MEAN``, none under
       ``_SURE_MIN``, and at least ``_OTHER_THAN_ONE`` digits other than "1" (of two digits,
       one).

    A segment the gate rejected (``?``, inside the number) is not counted in 2.
    """
    digits = [d for d in reading.digits if d["digit"] is not None]
    if not likelier_than_one_digit(reading):
        return False
    if any(d["not_digit"] is not None for d in digits):
        ones = sum(d["digit"] == 1 for d in digits)
        if len(digits) >= 3 and ones > _MOSTLY_ONES * len(digits):
            return False  # strokes: stripes, hatching, a word's letters
        z = DECISION_BIAS + float(DECISION_WEIGHTS @ number_features(
            reading, picture_rejected, picture_not_digit))
        return z > 0.0  # NaN (a NaN confidence or P): not convincing
    return sure_number(reading)


def likelier_than_one_digit(reading: NumberReading) -> bool:
    """Test 1 of :func:`convincing`: two or more digits (``?`` not counted), and with a gate
    (``whole_score`` not None) more than ``e**_MARGIN`` times likelier than the line read as
    one digit."""
    digits = sum(d["digit"] is not None for d in reading.digits)
    return digits >= 2 and (reading.whole_score is None
                            or reading.line_score - reading.whole_score > _MARGIN)


def sure_number(reading: NumberReading, in_doubt: bool = False) -> bool:
    """The hand-set tests of a reading of two or more digits that :func:`read_number` asks
    when it chooses the polarity (and :func:`convincing` without a gate): test 1 of
    :func:`convincing`, mean confidence at least ``_SURE_MEAN`` and none under
    ``_SURE_MIN``, at least ``_OTHER_THAN_ONE`` digits other than "1" (of two digits, one),
    and ``in_doubt`` (a reading the polarity stage voted against) mean confidence at least
    ``_DOUBT_MEAN`` and every P(not a digit) at most ``_DOUBT_NOT_DIGIT``. A segment the
    gate rejected (``?``) is not counted."""
    digits = [d for d in reading.digits if d["digit"] is not None]
    if not likelier_than_one_digit(reading):
        return False
    confidence = [d["confidence"] for d in digits]
    if np.mean(confidence) < _SURE_MEAN or min(confidence) < _SURE_MIN:
        return False
    if sum(d["digit"] != 1 for d in digits) < min(_OTHER_THAN_ONE, len(digits) - 1):
        return False
    return not in_doubt or bool(np.mean(confidence) >= _DOUBT_MEAN and all(
        (d["not_digit"] or 0.0) <= _DOUBT_NOT_DIGIT for d in digits))


def read_file_number(path, model, rejector=None, polarity: str = "auto",
                     max_digits: int = MAX_DIGITS, image=None, box_scale: float = 1.0,
                     known: dict | None = None):
    """:func:`read_number` of a file for :func:`attach_numbers`: a :class:`NumberReading`,
    or a one-line reason (str) when the line is longer than ``max_digits``, or None (no
    line to read: no ink, a picture too small to hold two digits, out of memory).

    ``image`` (decoded already, ``box_scale`` original pixels per pixel) saves decoding the
    file again (``known``, its ink as the single-digit pipeline found it, saves finding that
    again: :func:`read_number`). A picture under :data:`MIN_NUMBER_WIDTH` pixels wide
    (MNIST's 28 x 28 and the like) holds one digit and is not read as a number.
    """
    from cnn.vision.decode import read_image

    try:
        if image is None:
            image = read_image(path)
        if image.shape[1] * box_scale < MIN_NUMBER_WIDTH:
            return None
        return read_number(image, model, rejector, polarity, max_digits, box_scale, known)
    except TooManyDigits as e:
        return str(e)
    except UserError:
        return None
    except MemoryError:
        return None


MIN_NUMBER_WIDTH = 56  # pictures narrower than two MNIST fields are read as one digit


def attach_numbers(predictions: list, readings: list, min_confidence: float = 0.5) -> None:
    """:func:`apply_reading` of each :class:`cnn.tasks.predict.Prediction` with its file's
    :func:`read_file_number` result (``readings``, in the same order)."""
    for pred, reading in zip(predictions, readings):
        apply_reading(pred, reading, min_confidence)


def apply_reading(pred, reading, min_confidence: float = 0.5) -> bool:
    """Fill ``number`` and ``digits`` of one :class:`cnn.tasks.predict.Prediction` in place.

    A ``reading`` (a :class:`NumberReading`, a one-line reason str, or None: see
    :func:`read_file_number`) that is not :func:`convincing` leaves the single-digit answer
    (``digit``, ``confidence``, rejection: unchanged) and gives ``number`` = that digit (None
    when rejected) with one ``digits`` entry (its ``box`` that of the line's one accepted
    segment, else None); a convincing number of two or more digits replaces it: ``digit``,
    ``confidence`` and ``probabilities`` are cleared, ``rejected`` False, ``uncertain`` True
    when any digit's confidence is under ``min_confidence``. A prediction that failed
    (``error``) is left alone; a line longer than ``max_digits`` keeps the single-digit answer
    and, unless rejected, gets ``reason`` saying so.

    Returns:
        True when the number replaced the single-digit answer.
    """
    if pred.error:
        return False
    if isinstance(reading, str):
        if not pred.rejected:
            pred.reason = reading
        reading = None
    if reading is not None and convincing(reading, pred.rejected, pred.not_digit):
        pred.number, pred.digits = reading.number, reading.digits
        pred.digit, pred.confidence, pred.probabilities = None, None, []
        pred.rejected, pred.reason, pred.not_digit = False, None, None
        pred.uncertain = any(d["confidence"] < min_confidence for d in reading.digits
                             if d["digit"] is not None)
        return True
    if pred.digit is None:
        return False
    p = np.asarray(pred.probabilities)
    top = np.argsort(p)[::-1][:3]
    accepted = [] if reading is None else [d for d in reading.digits if d["digit"] is not None]
    pred.number = str(pred.digit)
    pred.digits = [{"box": accepted[0]["box"] if len(accepted) == 1 else None,
                    "digit": pred.digit, "confidence": pred.confidence,
                    "top3": [[int(d), float(p[d])] for d in top], "not_digit": pred.not_digit}]
    return False
