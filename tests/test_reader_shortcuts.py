"""The number reader's shortcuts (issue 30) give what the full computation gives.

- ``cnn.vision.cuts._sure_reading``: when the blobs as they stand read well enough, the
  dynamic programming over every candidate cut is skipped; it must choose what the dynamic
  programming chooses, whatever the scores (a bound on the costs, not a heuristic).
- ``cnn.tasks.memo``: networks that remember answers give the network's own answers.
- a clean canvas is read by the canvas path in both the single-digit pipeline and the reader.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from cnn.tasks.ensemble import Ensemble, decide
from cnn.tasks.memo import Remembering, remembered, remembered_rejector
from cnn.vision import cuts
from cnn.vision.numbers import candidate_lines, ink_map


def hashed_scorer(low: float, seed: int):
    """Scores in [low, 1) that depend only on the image's bytes (and the seed): the same
    segment gets the same score whichever batch it comes in."""
    def score(batch: np.ndarray) -> np.ndarray:
        out = []
        for image in batch:
            h = hashlib.blake2b(image.tobytes() + bytes([seed]), digest_size=4).digest()
            out.append(low + (1 - low) * int.from_bytes(h, "little") / 2**32)
        return np.array(out)
    return score


def chunks_of(image: np.ndarray):
    """Every run of blobs of every candidate line of a picture, as read_line cuts them."""
    from cnn.vision import numbers

    ink, mask, thresh, *_ = ink_map(image)
    labels, lines = candidate_lines(mask, 40)
    found = []
    for comps, height in lines:
        blobs = numbers._blobs(comps, height)
        height = max(height, float(np.percentile(
            [max(d[4] for d in b) - min(d[2] for d in b) for b in blobs], 75)))
        runs: list[list] = [[]]
        for k, blob in enumerate(blobs):
            if k and min(d[1] for d in blob) - max(d[3] for d in blobs[k - 1]) \
                    > numbers._SURE_GAP * height:
                runs.append([])
            runs[-1].append(blob)
        found += [(run, labels, ink, thresh, height) for run in runs]
    return found


def full_search(monkeypatch, args, score):
    with monkeypatch.context() as m:
        m.setattr(cuts, "_sure_reading", lambda *a: None)
        return cuts.read_chunk(*args, score)


@pytest.mark.parametrize("text, touching", [("40517", False), ("20", True), ("3", False),
                                            ("7111", False), ("96", True)])
def test_the_sure_reading_is_what_the_full_search_chooses(make_numbers, test_digits,
                                                          monkeypatch, text, touching):
    rng = np.random.default_rng(len(text))
    digits = [test_digits[int(c)][k % 3] for k, c in enumerate(text)]
    ink = make_numbers.number_ink(digits, 90, rng, touching=touching)
    image = np.clip(255 * (1 - 0.85 * np.pad(ink, 40)), 0, 255).astype(np.uint8)
    taken = 0
    for args in chunks_of(image):
        for low, seed in [(0.0, 1), (0.55, 2), (0.62, 3), (0.8, 4), (0.95, 5)]:
            score = hashed_scorer(low, seed)
            with monkeypatch.context() as m:
                calls = []
                sure = cuts._sure_reading
                m.setattr(cuts, "_sure_reading",
                          lambda *a: calls.append(sure(*a)) or calls[-1])
                fast = cuts.read_chunk(*args, score)
            slow = full_search(monkeypatch, args, score)
            assert [s.box for s in fast] == [s.box for s in slow]
            for a, b in zip(fast, slow):
                assert np.array_equal(a.image, b.image)
                assert a.score == pytest.approx(b.score, abs=1e-12)
            taken += bool(calls and calls[0] is not None)
    if text == "40517":  # narrow separate digits scoring >= 0.62 take it (a blob wider than
        assert taken > 0  # high has cuts near its ends that cross no component's middle)


def test_the_sure_reading_declines_a_blob_that_reads_badly():
    # bounds 0..2, two segments; one scoring under exp(-cut cost) sends it to the full search
    sel = np.ones((10, 10), bool)

    def piece(i, j):
        return sel, (0, 0, 10, 10 + i)

    def cost(i, j, box):
        return 0.0

    def scored(found):
        return [np.zeros((28, 28), np.float32)] * len(found), np.array(
            [0.99, np.exp(-cuts._CUT_COST) - 1e-6])[:len(found)]

    assert cuts._sure_reading([0, 1, 2], piece, cost, scored) is None
    ok = cuts._sure_reading([0, 1], piece, cost, scored)
    assert ok is not None and len(ok) == 1 and ok[0][2] == pytest.approx(np.log(0.99))


class CountingNetwork:
    """A fake network: probabilities from the image's mean, counting the rows computed."""

    model_string = "fake"
    input_shape = (28, 28, 1)
    num_classes = 10

    def __init__(self):
        self.rows = 0

    def predict_proba(self, x, batch_size=1000):
        self.rows += len(x)
        m = np.asarray(x, np.float32).reshape(len(x), 784).mean(axis=1)
        logits = np.outer(m, np.arange(10, dtype=np.float32)) + np.arange(10)[::-1] * 0.01
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def test_a_remembering_network_computes_each_input_once_and_answers_the_same():
    rng = np.random.default_rng(0)
    x = rng.random((5, 28, 28)).astype(np.float32)
    net = CountingNetwork()
    memo = remembered(net)
    assert isinstance(memo, Remembering) and memo.model_string == "fake"
    batch = x[[0, 1, 0, 2]]
    assert np.array_equal(memo.predict_proba(batch), net.predict_proba(batch))
    net.rows = 0
    again = memo.predict_proba(x[[2, 3, 1, 3, 4]])
    assert net.rows == 2  # only 3 and 4 were new
    assert np.allclose(again, CountingNetwork().predict_proba(x[[2, 3, 1, 3, 4]]))
    # the same bytes in another dtype or shape are another input
    net.rows = 0
    memo.predict_proba(x[:1].astype(np.float64))
    assert net.rows == 1
    assert memo.predict_proba(x[:0]).shape == (0, 10)


def test_a_remembering_ensemble_keeps_its_rule_and_a_rejector_its_threshold():
    from cnn.tasks.reject import Rejector

    rng = np.random.default_rng(1)
    x = rng.random((6, 28, 28)).astype(np.float32)
    ensemble = Ensemble([("a", CountingNetwork()), ("b", CountingNetwork())], "vote")
    memo = remembered(ensemble)
    assert isinstance(memo, Ensemble) and memo.method == "vote"
    d0, p0 = decide(ensemble, x)
    d1, p1 = decide(memo, x)
    assert np.array_equal(d0, d1) and np.allclose(p0, p1)
    assert remembered(None) is None and remembered(memo.members[0][1]) is memo.members[0][1]
    rejector = Rejector(CountingNetwork(), 0.3, "fake")
    again = remembered_rejector(rejector)
    assert again.threshold == 0.3 and isinstance(again.gate, Remembering)
    assert rejector.gate is not again.gate and not isinstance(rejector.gate, Remembering)
    assert remembered_rejector(None) is None


def canvas(test_digits, text: str) -> np.ndarray:
    """A 280-px-high white canvas with black strokes, as the drawing page posts it."""
    parts = [cv2.resize(test_digits[int(c)][1], (200, 200), interpolation=cv2.INTER_LINEAR)
             for c in text]
    strip = np.concatenate([np.pad(p, ((40, 40), (30, 30))) for p in parts], axis=1)
    return np.where(strip > 100, 0, 255).astype(np.uint8)


def test_a_clean_canvas_is_read_without_the_photo_stages(test_digits, monkeypatch):
    from cnn.tasks.numbers import read_number
    from cnn.tasks.predictor import load_predictor
    from cnn.vision import numbers
    from cnn.vision.pipeline import to_mnist

    model = load_predictor(None)[1]
    image = canvas(test_digits, "42")
    keep: dict = {}
    to_mnist(image, keep=keep)
    assert keep["ink_map"]["canvas"]

    def no_photo_stage(*args):
        raise AssertionError("a photo stage ran on a clean canvas")

    monkeypatch.setattr(numbers, "_ink_sign", no_photo_stage)
    monkeypatch.setattr(numbers, "_median_background", no_photo_stage)
    assert read_number(image, model, known=keep["ink_map"]).number == "42"


def test_a_lone_digit_read_as_a_number_is_the_single_digit_pipelines_input(test_digits):
    # the reader normalises its segments with the picture's ink around them, as the
    # single-digit pipeline does: a lone digit is the same input, bit for bit (and a
    # remembering network looks it up instead of computing it again)
    from cnn.tasks.numbers import read_number
    from cnn.tasks.predictor import load_predictor
    from cnn.vision.pipeline import to_mnist

    model = load_predictor(None)[1]
    image = canvas(test_digits, "7")
    keep: dict = {}
    x = to_mnist(image, keep=keep)
    reading = read_number(image, model, known=keep["ink_map"])
    assert len(reading.images) == 1 and np.array_equal(reading.images[0], x)


@pytest.mark.parametrize("text, touching", [("40517", False), ("20", True), ("96", True),
                                            ("3871", True), ("52064", True)])
def test_pruning_by_the_classifiers_bound_chooses_what_scoring_every_candidate_does(
        make_numbers, test_digits, monkeypatch, text, touching):
    # the gate (here: a second hashed factor <= 1) is consulted only where the classifier's
    # bound leaves a candidate a chance; the segmentation must be the full search's
    rng = np.random.default_rng(7 + len(text))
    digits = [test_digits[int(c)][k % 3] for k, c in enumerate(text)]
    ink = make_numbers.number_ink(digits, 90, rng, touching=touching)
    image = np.clip(255 * (1 - 0.85 * np.pad(ink, 40)), 0, 255).astype(np.uint8)
    bounded, gated = [], []
    for args in chunks_of(image):
        for seed in range(5):
            upper, factor = hashed_scorer(0.0, seed), hashed_scorer(0.3 * seed, 10 + seed)
            if seed == 4:  # a gate sure of every digit: the score equals its bound, and the
                # best path's total is summed in another order than its candidates' bounds
                factor = lambda batch: np.ones(len(batch))  # noqa: E731

            def score(batch):
                gated.append(len(batch))
                return upper(batch) * factor(batch)

            def bound(batch):
                bounded.append(len(batch))
                return upper(batch)

            score.bound = bound
            plain = lambda batch: upper(batch) * factor(batch)  # noqa: E731 - no bound
            with monkeypatch.context() as m:
                m.setattr(cuts, "_sure_reading", lambda *a: None)
                fast = cuts.read_chunk(*args, score)
                slow = cuts.read_chunk(*args, plain)
            assert [s.box for s in fast] == [s.box for s in slow]
            assert [s.score for s in fast] == pytest.approx([s.score for s in slow], abs=1e-12)
    assert sum(gated) < sum(bounded)  # the gate saw fewer candidates than the classifier


def test_pruning_keeps_the_best_path_when_its_scores_equal_their_bounds():
    # summed in another order, the best path's total and its candidates' "best total through
    # them" differ by rounding; none of the path's own candidates may be pruned for it
    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(4, 7))
        keys = [(i, j) for i in range(n) for j in range(i + 1, n) if j - i <= 2]
        values = rng.uniform(0.3, 1.0, len(keys)).astype(np.float32).astype(np.float64)
        costs = rng.uniform(0.0, 0.3, len(keys))

        def scored(pieces, bound=False):
            return [None] * len(pieces), values[list(pieces)]

        images, logs = cuts._bound_and_prune(keys, list(range(len(keys))), costs, n, scored)
        every = np.log(values) - costs
        assert cuts._best_path(keys, logs, n) == cuts._best_path(keys, every, n) is not None


@pytest.mark.parametrize("text, spread", [("3", 0), ("7", 0), ("40", 0), ("5", 1), ("8", 2)])
def test_the_whole_line_of_a_lone_segment_is_that_segments_image(make_numbers, test_digits,
                                                                  monkeypatch, text, spread):
    """A line read as one segment over the whole line takes the segment's image (the
    selections the reader normalised are shared) as the whole line's; it must be what
    normalising every component of the line together gives (and a line of two digits gets
    a whole-line image of its own)."""
    from cnn.vision import numbers

    rng = np.random.default_rng(len(text) + spread)
    digits = [test_digits[int(c)][spread] for c in text]
    ink = make_numbers.number_ink(digits, 90, rng, touching=False)
    ink = np.pad(ink, 40)
    if spread == 2:  # a speck far to the right: too small to join the line
        ink[60:63, -12:-9] = 1.0
    image = np.clip(255 * (1 - 0.85 * ink), 0, 255).astype(np.uint8)
    seen = []
    real = numbers._whole_line

    def both(comps, labels, ink, thresh, normalised=None):
        fast, slow = real(comps, labels, ink, thresh, normalised), real(comps, labels, ink, thresh)
        seen.append((fast, fast.box, slow))
        return fast

    monkeypatch.setattr(numbers, "_whole_line", both)
    line = numbers.read_line(image, hashed_scorer(0.7, 1))
    (fast, box, slow), = seen  # (boxes in working pixels, before read_line scales them)
    assert fast is line.whole and slow is not None
    assert box == slow.box and np.array_equal(fast.image, slow.image)
    n, taken = len(line.segments), fast.image is line.segments[0].image
    assert taken == (n == 1)  # "40": two segments, its whole-line image another


@pytest.mark.parametrize("text", ["7", "42", "5"])
def test_the_reader_takes_the_pipelines_normalised_digits_and_reads_the_same(
        test_digits, monkeypatch, text):
    """The single-digit pipeline's candidates, normalised from the ink it hands the reader,
    are not normalised again by the reader; the reading is the same bit for bit."""
    from cnn.tasks.numbers import read_number
    from cnn.tasks.predictor import load_predictor
    from cnn.vision.pipeline import to_mnist

    model = load_predictor(None)[1]
    image = canvas(test_digits, text)
    if text == "5":  # a photo-like page (grey paper, noise): the photo path's ink
        rng = np.random.default_rng(5)
        image = np.clip(image * 0.7 + 40 + rng.normal(0, 3, image.shape), 0, 255
                        ).astype(np.uint8)
    keep: dict = {}
    to_mnist(image, keep=keep)
    assert keep["ink_map"]["normalised"]  # the pipeline's candidates, recorded
    normalised = []
    real = cuts._normalise
    monkeypatch.setattr(cuts, "_normalise", lambda *a, **k: normalised.append(1) or real(*a, **k))
    fast = read_number(image, model, known=keep["ink_map"])
    fast_count = len(normalised)
    normalised.clear()
    slow = read_number(image, model, known=dict(keep["ink_map"], normalised={}))
    assert fast.number == slow.number and len(fast.images) == len(slow.images)
    for a, b in zip(fast.images, slow.images):
        assert np.array_equal(a, b)
    assert fast_count < len(normalised)  # at least one segment was the pipeline's
    if text == "7":
        assert fast_count == 0  # the lone digit: nothing normalised again
