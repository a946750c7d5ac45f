"""Reading whole numbers (issue 29): segmentation, recognition-driven cuts, the CLI's fields."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from cnn.cli.main import main
from cnn.errors import UserError
from cnn.tasks.numbers import read_number
from cnn.tasks.predictor import load_predictor
from cnn.vision.numbers import read_line

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model():
    return load_predictor(None)[1]




def clean_photo(ink: np.ndarray, margin: int = 40) -> np.ndarray:
    """Dark ink on white paper, uint8 grey (H, W)."""
    page = np.pad(ink, margin)
    return np.clip(255 * (1 - 0.85 * page), 0, 255).astype(np.uint8)


def pick(test_digits, text: str, k: int = 0):
    return [test_digits[int(c)][k] for c in text]


@pytest.mark.parametrize("text", ["40517", "2026", "73", "918264"])
def test_clean_numbers_are_read_whole(make_numbers, model, test_digits, text):
    rng = np.random.default_rng(5)
    ink = make_numbers.number_ink(pick(test_digits, text), 90, rng)
    reading = read_number(clean_photo(ink), model)
    assert reading.number == text
    assert len(reading.digits) == len(text)
    xs = [d["box"][0] for d in reading.digits]
    assert xs == sorted(xs)


def test_two_digit_numbers_are_read_whole_not_as_one_squeezed_digit(make_numbers, model,
                                                                    test_digits):
    # A two-digit line squeezed into one 28 x 28 field reads as a sure single digit ("77" as
    # 7), and the not-a-digit gates let it pass; the line gate (P(several digits)) makes the
    # whole-line test of convincing() (sure_number's test 1) weigh it: 41 of these 60 were read
    # whole without it, 50 with the first line gate (pairs only), 54 with today's (strings and
    # photographed lines).
    from cnn.tasks.numbers import sure_number
    from cnn.tasks.reject import Rejector

    rng = np.random.default_rng(0)
    numbers = []
    for _ in range(60):
        text = "".join(str(d) for d in rng.integers(0, 10, 2))
        ink = make_numbers.number_ink(
            [test_digits[int(c)][rng.integers(len(test_digits[int(c)]))] for c in text], 90,
            rng, touching=bool(rng.random() < 0.2))
        numbers.append((text, clean_photo(ink)))
    rejector = Rejector.default()
    assert rejector.line_gate is not None  # shipped: weight_output/shipped.json, role "line"

    def read_whole(rejector):
        readings = [read_number(page, model, rejector) for _, page in numbers]
        return sum(r.number == text and sure_number(r) for r, (text, _) in zip(readings, numbers))

    with_line_gate = read_whole(rejector)
    assert with_line_gate >= 52
    assert with_line_gate - read_whole(replace(rejector, line_gate=None)) >= 5


def test_a_touching_pair_is_split_by_the_classifier(make_numbers, model, test_digits):
    rng = np.random.default_rng(3)
    ink = make_numbers.number_ink(pick(test_digits, "20", 1), 90, rng, touching=True)
    # The two digits are one blob of ink: only a cut inside it can give two digits.
    n, _ = cv2.connectedComponents((ink > 0.3).astype(np.uint8))
    assert n - 1 == 1
    assert read_number(clean_photo(ink), model).number == "20"


def test_boxes_are_in_original_pixels_of_a_large_photo(model, test_digits):
    # A 1500 px wide photo is shrunk to 1000 px inside; the boxes must come back scaled.
    page = np.zeros((600, 1500), np.float32)
    spots = [(150, 200), (150, 550), (150, 900)]
    for (top, left), digit in zip(spots, pick(test_digits, "358")):
        page[top:top + 280, left:left + 280] = cv2.resize(digit.astype(np.float32) / 255,
                                                         (280, 280))
    reading = read_number(clean_photo(page, 0), model)
    assert reading.number == "358"
    for (top, left), d in zip(spots, reading.digits):
        x0, y0, x1, y1 = d["box"]
        assert left - 10 <= x0 < x1 <= left + 290 and top - 10 <= y0 < y1 <= top + 290
        assert x1 - x0 > 60 and y1 - y0 > 150


def test_max_digits_and_no_ink_give_one_clear_error(make_numbers, model, test_digits):
    from cnn.tasks.numbers import segment_scorer

    ink = make_numbers.number_ink(pick(test_digits, "4051"), 90, np.random.default_rng(1))
    with pytest.raises(UserError, match="more than 2 digits"):
        read_line(clean_photo(ink), segment_scorer(model), max_digits=2)
    with pytest.raises(UserError, match="no digit found"):
        read_line(np.full((200, 300), 230, np.uint8), segment_scorer(model))


def test_predict_json_has_number_and_digits(make_numbers, test_digits, tmp_path, capsys):
    ink = make_numbers.number_ink(pick(test_digits, "4205"), 90, np.random.default_rng(2))
    photo = clean_photo(ink)
    cv2.imwrite(str(tmp_path / "number.png"), photo)
    cv2.imwrite(str(tmp_path / "7_one.png"), clean_photo(cv2.resize(
        test_digits[7][0].astype(np.float32) / 255, (120, 120))))
    assert main(["predict", "--json", "--max-digits", "12", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    by_name = {Path(p["file"]).name: p for p in result["predictions"]}
    many, one = by_name["number.png"], by_name["7_one.png"]
    assert many["number"] == "4205" and many["digit"] is None
    assert [d["digit"] for d in many["digits"]] == [4, 2, 0, 5]
    h, w = photo.shape
    for d in many["digits"]:
        x0, y0, x1, y1 = d["box"]
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert d["top3"][0][0] == d["digit"] and d["top3"][0][1] == d["confidence"]
        assert d["top3"][0][1] >= d["top3"][1][1] >= d["top3"][2][1]
    assert one["digit"] == 7 and one["number"] == "7" and len(one["digits"]) == 1
    assert one["digits"][0]["confidence"] == one["confidence"]
    # the text output shows the number
    assert main(["predict", "--max-digits", "12", str(tmp_path / "number.png")]) == 0
    assert "number 4205" in capsys.readouterr().out


def test_single_digit_answers_are_unchanged(capsys):
    samples = sorted((ROOT / "custom_test_images").iterdir())[::6]
    paths = [str(p) for p in samples]
    main(["predict", "--json", "--max-digits", "1", *paths])
    before = json.loads(capsys.readouterr().out)["predictions"]
    main(["predict", "--json", "--max-digits", "12", *paths])
    after = json.loads(capsys.readouterr().out)["predictions"]
    assert [p["digit"] for p in after] == [p["digit"] for p in before]
    assert [p["confidence"] for p in after] == [p["confidence"] for p in before]
    assert all(p["number"] == str(p["digit"]) for p in after)
    assert all(p["number"] is None for p in before)  # one digit per file: no number read


def test_a_blank_page_has_no_number(tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "blank.png"), np.full((300, 400), 235, np.uint8))
    main(["predict", "--json", "--max-digits", "12", str(tmp_path / "blank.png")])
    (p,) = json.loads(capsys.readouterr().out)["predictions"]
    assert p["number"] is None and p["digits"] == [] and p["rejected"]
    assert "no digit found" in p["reason"]


class BlotGate:
    """A stand-in gate: P(not a digit) 1 for a blot (100 px of ink or more filling its box),
    else 0."""

    threshold = 0.5

    def not_digit_probability(self, images, raw):
        out = []
        for image in np.asarray(images):
            ys, xs = np.nonzero(image > 0.5)
            if ys.size == 0:
                out.append(0.0)
                continue
            w, h = np.ptp(xs) + 1, np.ptp(ys) + 1
            out.append(float(ys.size >= 100 and ys.size / (w * h) > 0.8))
        return np.asarray(out, np.float32)

    def judge(self, images, raw):
        p = self.not_digit_probability(images, raw)
        return p >= self.threshold, p


def test_a_segment_the_gate_rejects_is_a_question_mark_inside_and_dropped_at_the_ends(
        model, test_digits):
    from cnn.tasks.numbers import NOT_READ

    four, seven = pick(test_digits, "47")
    page = np.zeros((140, 560), np.float32)
    for k, d in enumerate((four, None, seven, None)):
        if d is None:  # a blot narrower than half its height: no cut is tried inside it
            page[30:110, 50 + 140 * k:90 + 140 * k] = 1.0
        else:
            page[20:120, 20 + 140 * k:120 + 140 * k] = cv2.resize(d.astype(np.float32) / 255,
                                                                  (100, 100))
    reading = read_number(clean_photo(page), model, BlotGate())
    assert reading.number == f"4{NOT_READ}7"  # the blot after the 7 is not part of the number
    assert [d["digit"] for d in reading.digits] == [4, None, 7]
    assert reading.images.shape == (3, 28, 28)
    assert reading.whole_score is not None and reading.line_score > reading.whole_score


def test_a_picture_narrower_than_two_mnist_fields_is_one_digit(model, test_digits):
    from cnn.tasks.numbers import MIN_NUMBER_WIDTH, read_file_number

    small = clean_photo(cv2.resize(np.hstack(pick(test_digits, "42")).astype(np.float32) / 255,
                                   (MIN_NUMBER_WIDTH - 8, 24)), 2)
    assert small.shape[1] < MIN_NUMBER_WIDTH
    assert read_file_number(None, model, image=small) is None
    big = cv2.resize(small, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    assert read_file_number(None, model, image=big).number == "42"


def test_convincing_weighs_the_line_as_one_digit_against_the_digits():
    from cnn.tasks.numbers import NumberReading, convincing

    # a sure "42" as the reader gives it: confidences near 1, P(not a digit) under 1 %
    digits = [{"digit": 4, "confidence": 0.999, "not_digit": 0.004},
              {"digit": 2, "confidence": 0.998, "not_digit": 0.006}]
    assert convincing(NumberReading("42", digits, None, -0.05, -9.2), picture_not_digit=0.05)
    assert not convincing(NumberReading("42", digits, None, -0.05, -0.5),  # one digit reads well
                          picture_not_digit=0.05)
    no_gate = [dict(d, not_digit=None) for d in digits]
    assert convincing(NumberReading("42", no_gate, None, -0.05, None))  # no gate: no such test
    assert convincing(NumberReading("42", digits, None, -0.05, -9.2), picture_rejected=True,
                      picture_not_digit=0.9)


def test_the_fitted_decision_weighs_doubt_things_and_ones():
    """Each feature pulls the way the fit found (scripts/fit_number_decision.py): a sure
    number is taken (digits as sure as the reader gives them), and so is one whose "1" the
    gate doubts a little ("174243"); digits that look like things, a picture the gate
    rejected with a number of unsure digits, and a run of 1s are not."""
    from cnn.tasks.numbers import NumberReading, convincing

    def reading(text, confidence=0.999, not_digit=0.005):
        digits = [{"digit": int(c), "confidence": confidence, "not_digit": not_digit}
                  for c in text]
        return NumberReading(text, digits, None, -0.05, -20.0)

    assert convincing(reading("174243"), picture_rejected=True, picture_not_digit=0.95)
    one_doubted = reading("174243")
    one_doubted.digits[0]["not_digit"] = 0.25
    assert convincing(one_doubted, picture_rejected=True, picture_not_digit=0.95)
    assert not convincing(reading("42", not_digit=0.6), picture_rejected=True,
                          picture_not_digit=0.99)
    assert not convincing(reading("42", confidence=0.6, not_digit=0.3), picture_rejected=True,
                          picture_not_digit=0.5)
    assert convincing(reading("3131"), picture_not_digit=0.1)
    assert convincing(reading("114"), picture_not_digit=0.1)


@pytest.mark.parametrize("number, trusted", [
    ("111", False), ("1111", False), ("11114", False), ("11711", False),
    ("111511111111", False), ("111111111111", False),
    ("11", True), ("1114", True), ("1171", True), ("114", True), ("617111", True)])
@pytest.mark.parametrize("confidence, not_digit", [(0.999, 0.005), (1.0, 0.0)])
def test_sure_runs_of_ones_are_strokes_not_numbers(number, trusted, confidence, not_digit):
    """Stripes, hatching and the strokes of a word read as runs of sure 1s; a number of 3 or
    more digits seldom holds over three quarters 1s. The fitted weights alone let such runs
    through when every digit is certain (a held-out set of photo crops had "111111111111"
    read as a number with the first features), so they are strokes whatever the weights."""
    from cnn.tasks.numbers import NumberReading, convincing

    digits = [{"digit": int(c), "confidence": confidence, "not_digit": not_digit}
              for c in number]
    assert convincing(NumberReading(number, digits, None, -0.05, -20.0),
                      picture_not_digit=0.1) is trusted


def test_digits_in_line_keeps_a_moderately_doubted_segment_as_tall_as_the_digits():
    from cnn.tasks.numbers import _digits_in_line

    boxes = [[0, 0, 50, 100], [60, 2, 110, 100], [120, 5, 170, 100], [180, 50, 230, 100]]
    rejected = np.array([False, False, True, True])
    confidence = np.array([0.99, 0.99, 0.9, 0.9])
    kept = _digits_in_line(boxes, rejected, np.array([0.0, 0.0, 0.6, 0.6]), confidence)
    assert kept.tolist() == [False, False, True, False]  # the last is half as tall: a mark
    sure_thing = _digits_in_line(boxes, rejected, np.array([0.0, 0.0, 0.85, 0.6]), confidence)
    assert not sure_thing[2]  # P(not a digit) 0.85: the gate is sure enough
    unsure = _digits_in_line(boxes, rejected, np.array([0.0, 0.0, 0.6, 0.6]),
                             np.array([0.99, 0.99, 0.6, 0.9]))
    assert not unsure[2]  # the classifier is not sure what digit it would be
    alone = _digits_in_line(boxes, np.array([False, True, True, True]),
                            np.array([0.0, 0.6, 0.6, 0.6]), confidence)
    assert not alone.any()  # one accepted digit is no line to measure against


@pytest.mark.parametrize("number, trusted", [
    ("3131", True), ("9110", True), ("617111", True), ("213511", True), ("41", True),
    ("11", False), ("111", False), ("1111", False), ("101", False), ("11711", False),
    ("111111", False)])
def test_without_a_gate_strings_of_ones_are_strokes_but_numbers_may_hold_several_ones(
        number, trusted):
    """Without a gate, two digits other than "1" (one, of two digits) make a number: the
    strokes of letters and textures read as runs of 1s, and real numbers hold several 1s."""
    from cnn.tasks.numbers import NumberReading, convincing, sure_number

    digits = [{"digit": int(c), "confidence": 0.99, "not_digit": None} for c in number]
    assert convincing(NumberReading(number, digits, None, -0.05, None)) is trusted
    assert sure_number(NumberReading(number, digits, None, -0.05, -20.0)) is trusted


def test_a_sure_number_in_doubt_needs_every_digit_sure():
    from cnn.tasks.numbers import NumberReading, sure_number

    digits = [{"digit": 4, "confidence": 0.99, "not_digit": 0.01},
              {"digit": 2, "confidence": 0.98, "not_digit": 0.02}]
    assert sure_number(NumberReading("42", digits, None, -0.05, -9.2), in_doubt=True)
    doubtful = [dict(d, not_digit=0.3) for d in digits]
    assert sure_number(NumberReading("42", doubtful, None, -0.05, -9.2))
    assert not sure_number(NumberReading("42", doubtful, None, -0.05, -9.2), in_doubt=True)
    assert not sure_number(NumberReading("42", digits, None, -0.05, -0.5))


def test_number_features_follow_their_names():
    from cnn.tasks.numbers import DECISION_FEATURES, NumberReading, number_features

    digits = [{"digit": 1, "confidence": 0.9, "not_digit": 0.1},
              {"digit": None, "confidence": 0.5, "not_digit": 0.9},
              {"digit": 7, "confidence": 0.99, "not_digit": None}]
    f = number_features(NumberReading("1?7", digits, None, -1.0, -9.0), True, 0.5)
    assert f.shape == (len(DECISION_FEATURES),)
    # one "1" among two digits: 2 x 0.1 x 0.9 (the "?" is not counted)
    np.testing.assert_allclose(f, [np.mean(np.log([0.1, 0.01])), np.log(0.01),
                                   np.mean(np.log([0.1, 1e-4])), np.log(1e-4), np.log(0.18),
                                   1.0, np.log(0.5)], rtol=1e-6)
    with pytest.raises(ValueError, match="two or more"):
        number_features(NumberReading("1", digits[:1], None, -1.0, -9.0))


def underlined(ink: np.ndarray) -> np.ndarray:
    """``ink`` on a wide page with a wavy hand-drawn underline below it, larger in area
    than any digit and short of the page's width (so no long-line removal takes it)."""
    page = np.pad(ink, ((40, 40), (200, 200)))
    under = np.zeros((60, page.shape[1]), np.float32)
    xs = np.linspace(190, page.shape[1] - 190, 40)
    ys = 25 + 10 * np.sin(np.linspace(0, 3, 40))
    cv2.polylines(under, [np.stack([xs, ys], 1).astype(np.int32)], False, 1.0, 12)
    return clean_photo(np.vstack([page, under]), 0)


@pytest.mark.parametrize("text", ["473", "61"])
def test_an_underline_larger_than_the_digits_is_not_read_as_the_line(
        make_numbers, model, test_digits, text):
    from cnn.vision.numbers import candidate_lines, ink_map

    image = underlined(make_numbers.number_ink(pick(test_digits, text), 90,
                                               np.random.default_rng(2)))
    _, mask, _, pad, _, _ = ink_map(image)
    _, lines = candidate_lines(mask, pad)
    # the largest ink is the underline: a line of one wide, flat component comes first
    (first, _), *others = lines
    assert len(first) == 1 and first[0][3] - first[0][1] > 4 * (first[0][4] - first[0][2])
    assert others, "the digits' line must be a candidate too"
    assert read_number(image, model).number == text


def test_a_doubtful_reading_is_read_again_in_the_other_polarity(
        make_numbers, model, test_digits, monkeypatch):
    from cnn.vision import numbers

    image = clean_photo(make_numbers.number_ink(pick(test_digits, "358"), 90,
                                                np.random.default_rng(4)))
    # the polarity stage gets this photo wrong (as it can a card on a dark desk)
    monkeypatch.setattr(numbers, "_ink_sign", lambda gray, polarity: 1.0)
    try:  # the paper read as ink: no digits, or not these
        wrong = read_number(image, model, polarity="light-on-dark").number
    except UserError:
        wrong = None
    assert wrong != "358"
    from cnn.tasks.reject import Rejector

    gate = Rejector.default()  # the shipped gate, as predict reads numbers
    assert read_number(image, model, gate).number == "358"  # auto: recognition decides


def test_a_box_drawn_at_a_slant_around_the_number_is_not_part_of_the_line():
    from cnn.vision.numbers import _best_run, _drop_enclosures

    mask = np.zeros((300, 500), np.uint8)
    box = cv2.boxPoints(((250, 150), (400, 160), 6)).astype(np.int32)
    cv2.polylines(mask, [box], True, 1, 4)  # tilted 6 degrees: no axis-aligned side
    for x in (110, 210, 310):
        cv2.rectangle(mask, (x, 100), (x + 50, 200), 1, -1)  # three "digits" inside it
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    kept = _drop_enclosures(list(range(1, n)), stats)
    assert len(kept) == 3 and all(stats[i, 2] == 51 for i in kept)
    # a lone ring encloses nothing and stays (a "0")
    assert _drop_enclosures([1], stats[:2]) == [1]
    # a line's quality is its best-reading run: a word beside the number does not sink it
    assert _best_run([0.6, 0.6, -8.0, -8.0]) == pytest.approx(1.2)
    assert _best_run([-1.0]) == 0.0


def test_a_line_that_drifts_out_of_its_first_digits_band_is_followed_to_its_end():
    # Six "digits" 60 px tall, each 20 px lower than the one before: from the fourth on none
    # overlaps the seed's (the first, largest) band; the line is followed step by step.
    from cnn.vision.numbers import candidate_lines

    pad = 10
    mask = np.zeros((400, 700), np.uint8)
    for k in range(6):
        x, y = 40 + 100 * k, 60 + 20 * k
        cv2.rectangle(mask, (x, y), (x + (70 if k == 0 else 40), y + 60), 1, 6)
    _, lines = candidate_lines(mask, pad)
    assert [c[1] for c in lines[0][0]] == [40 - 3 + 100 * k for k in range(6)]
    # what lies above or below the line stays out of it
    cv2.rectangle(mask, (540, 300), (580, 360), 1, 6)
    _, lines = candidate_lines(mask, pad)
    assert len(lines[0][0]) == 6
    # a tall stroke running down from the line to the writing below does not carry the line
    # there: two lines of seven digits, the stroke between them
    two = np.zeros((400, 1000), np.uint8)
    for k in range(7):
        cv2.rectangle(two, (40 + 50 * k, 60), (70 + 50 * k, 120), 1, 4)
        cv2.rectangle(two, (400 + 50 * k, 170), (430 + 50 * k, 230), 1, 4)
    cv2.line(two, (385, 95), (387, 200), 1, 4)  # touching neither
    _, lines = candidate_lines(two, pad)
    for comps, _ in lines:
        tops = {c[2] < 150 for c in comps if c[4] - c[2] < 80}  # the digits' rows
        assert len(tops) == 1, comps


def comb_page(test_digits, text: str, cells: int, angle: float = 2.0) -> np.ndarray:
    """``text`` written one digit a cell into a printed comb of ``cells`` boxes (110 x 130
    px each, 3 px lines), the page turned by ``angle`` degrees: uint8 grey (H, W)."""
    cell_w, cell_h = 110, 130
    ink = np.zeros((cell_h + 6, cells * cell_w + 6), np.float32)
    cv2.rectangle(ink, (2, 2), (cells * cell_w + 2, cell_h + 2), 1.0, 3)
    for k in range(1, cells):
        cv2.line(ink, (2 + k * cell_w, 2), (2 + k * cell_w, cell_h + 2), 1.0, 3)
    for k, digit in enumerate(pick(test_digits, text, 2)):
        glyph = cv2.resize(digit.astype(np.float32) / 255, (90, 90),
                           interpolation=cv2.INTER_CUBIC)
        x0, y0 = 12 + k * cell_w, 22
        ink[y0:y0 + 90, x0:x0 + 90] = np.maximum(ink[y0:y0 + 90, x0:x0 + 90], glyph)
    page = np.pad(ink, 60)
    turn = cv2.getRotationMatrix2D((page.shape[1] / 2, page.shape[0] / 2), angle, 1.0)
    page = cv2.warpAffine(page, turn, page.shape[::-1], flags=cv2.INTER_LINEAR)
    return clean_photo(np.clip(page, 0, 1), 0)


@pytest.mark.parametrize("text, cells", [("2026", 5), ("58", 4), ("739", 3)])
def test_the_walls_of_a_comb_are_not_read_as_ones(model, test_digits, text, cells):
    """A form's row of boxes, one digit a cell: the walls between the cells go with the box
    (they read as "1"s otherwise: "1549" came out "1151419")."""
    from cnn.tasks.reject import Rejector

    page = comb_page(test_digits, text, cells)
    assert read_number(page, model, Rejector.default(None, None)).number == text


def test_a_one_across_its_box_is_not_a_comb_wall():
    """A "1" touching the top and bottom of the one box it is written in is a single straight
    stroke across the box, as a comb's wall is: it stays (a comb needs two walls or more)."""
    from cnn.vision.segment import _remove_frames

    mask = np.zeros((160, 160), np.uint8)
    cv2.rectangle(mask, (20, 20), (140, 140), 1, 3)
    cv2.line(mask, (80, 20), (82, 140), 1, 4)  # the "1", joined to the box at both ends
    kept = _remove_frames(mask)
    assert kept[40:120, 76:87].sum() >= 0.9 * mask[40:120, 76:87].sum()
    assert kept[:, :30].sum() == 0  # the box's left side went
    eleven = np.zeros((160, 160), np.uint8)
    cv2.rectangle(eleven, (20, 20), (140, 140), 1, 3)
    for x in (60, 100):  # "11" in one box: even, but cells too narrow for digits
        cv2.line(eleven, (x, 20), (x, 140), 1, 4)
    assert _remove_frames(eleven)[40:120, 50:110].sum() == eleven[40:120, 50:110].sum()
    comb = np.zeros((160, 340), np.uint8)
    cv2.rectangle(comb, (20, 20), (320, 140), 1, 3)
    for x in (120, 220):  # two walls: a comb of three cells
        cv2.line(comb, (x, 20), (x + 2, 140), 1, 3)
    assert _remove_frames(comb)[40:120].sum() == 0
    assert _remove_frames(np.ascontiguousarray(comb.T))[:, 40:120].sum() == 0  # stacked cells
    uneven = np.zeros_like(comb)
    cv2.rectangle(uneven, (20, 20), (320, 140), 1, 3)
    for x in (90, 120):  # cells of 70, 30 and 200 px: no comb
        cv2.line(uneven, (x, 20), (x, 140), 1, 3)
    assert _remove_frames(uneven)[40:120, 80:130].sum() == uneven[40:120, 80:130].sum()
    hanging = np.zeros_like(comb)
    cv2.rectangle(hanging, (20, 20), (320, 140), 1, 3)
    for x in (120, 220):  # strokes from the top side, halfway down: not walls
        cv2.line(hanging, (x, 20), (x, 80), 1, 3)
    assert _remove_frames(hanging)[40:75, 110:230].sum() == hanging[40:75, 110:230].sum()


def test_digits_touching_the_top_and_bottom_of_their_box_keep_their_strokes(test_digits,
                                                                           monkeypatch):
    """A digit written in a box and touching its top and bottom sides: its own straight
    strokes (a "0"'s or a "4"'s sides) are not a comb's walls."""
    from cnn.vision import segment

    def in_a_box(digit):
        ink = cv2.resize(digit, (112, 112), interpolation=cv2.INTER_CUBIC) > 127
        rows = np.flatnonzero(ink.any(axis=1))
        ink = ink[rows[0]:rows[-1] + 1]  # the digit touches the box's top and bottom
        mask = np.zeros((ink.shape[0] + 40, 112 + 90), np.uint8)
        mask[20:20 + ink.shape[0], 45:157] = ink
        cv2.rectangle(mask, (20, 18), (181, ink.shape[0] + 21), 1, 3)
        return mask

    digits = [d for k in range(10) for d in test_digits[k][:20]]
    with_walls = [segment._remove_frames(in_a_box(d)) for d in digits]
    monkeypatch.setattr(segment, "_COMB_WALLS", 10**6)  # the frame's bands alone, as before
    without = [segment._remove_frames(in_a_box(d)) for d in digits]
    lost = [a.sum() < 0.8 * b.sum() for a, b in zip(with_walls, without)]
    assert sum(lost) <= 0.03 * len(digits)


def test_short_marks_are_under_half_the_median_height_of_the_reference_segments():
    from cnn.tasks.numbers import _short_marks

    def short(heights, reference=None):
        boxes = [(40 * k, 100 - h, 40 * k + 30, 100) for k, h in enumerate(heights)]
        ref = np.ones(len(heights), bool) if reference is None else np.array(reference)
        return _short_marks(boxes, ref).tolist()

    assert short([100, 40, 95, 90]) == [False, True, False, False]
    assert short([100, 45]) == [False, True]
    assert short([100, 60, 80]) == [False, False, False]  # a small "0" is still a digit
    assert short([30]) == [False]
    # tall bars (a frame's sides, read "1") are no reference: the "1" between them is a digit
    assert short([180, 72, 72, 180], [False, False, True, False]) == [False, False, False,
                                                                        False]
    assert short([180, 30, 72, 180], [False, False, True, False]) == [False, True, False,
                                                                        False]
    assert short([30, 72], [False, False]) == [False, False]  # no reference: nothing short


@pytest.mark.parametrize("where", ["end", "between"])
def test_a_short_stroke_beside_the_digits_is_not_read_as_a_one(model, test_digits, where,
                                                               monkeypatch):
    # A piece of a frame's wall or of a printed label beside the number, or a stroke end cut
    # from its digit: a short upright stroke reads as a sure "1" on its own (numbers photos of
    # make_numbers_b.py: "641" for 64, "31212" for 3122).
    four, seven = pick(test_digits, "47")
    page = np.zeros((140, 520), np.float32)
    for left, d in ((20, four), (150 if where == "end" else 260, seven)):
        page[20:120, left:left + 100] = cv2.resize(d.astype(np.float32) / 255, (100, 100))
    stroke = 320 if where == "end" else 175
    page[88:118, stroke:stroke + 7] = 1.0  # 30 px tall: the digits' ink is about 70 px
    reading = read_number(clean_photo(page), model)
    assert reading.number == "47"
    assert len(reading.digits) == 2 and reading.images.shape == (2, 28, 28)
    assert reading.probabilities.shape == (2, 10)
    monkeypatch.setattr("cnn.tasks.numbers._SHORT", 0.0)  # every segment a digit
    assert read_number(clean_photo(page), model).number == ("471" if where == "end" else "417")


def test_a_short_blot_the_gate_rejects_between_digits_is_left_out(model, test_digits,
                                                                  monkeypatch):
    four, seven = pick(test_digits, "47")
    page = np.zeros((140, 520), np.float32)
    for left, d in ((20, four), (260, seven)):
        page[20:120, left:left + 100] = cv2.resize(d.astype(np.float32) / 255, (100, 100))
    page[88:118, 175:189] = 1.0  # 30 px tall, narrower than half its height: one segment
    reading = read_number(clean_photo(page), model, BlotGate())
    assert reading.number == "47" and [d["digit"] for d in reading.digits] == [4, 7]
    monkeypatch.setattr("cnn.tasks.numbers._SHORT", 0.0)
    assert read_number(clean_photo(page), model, BlotGate()).number == "4?7"  # as before


class _DoubtGate(BlotGate):
    """A stand-in gate: P(not a digit) ``p`` for what ``model`` reads as ``digit``, else 0."""

    def __init__(self, model, digit, p):
        self.model, self.digit, self.p = model, digit, p

    def not_digit_probability(self, images, raw):
        read = self.model.predict_proba(np.asarray(images)).argmax(axis=1)
        return np.where(read == self.digit, self.p, 0.0).astype(np.float32)


@pytest.mark.parametrize("p_not, size, number", [
    (0.6, 100, "472"), (0.9, 100, "47"), (0.6, 50, "47")])
def test_a_doubted_segment_as_tall_as_the_digits_beside_it_is_a_digit(
        model, test_digits, p_not, size, number):
    # The gate's threshold (0.5 here) is set for a picture on its own; on a line of digits a
    # segment as tall as its neighbours that the gate doubts only moderately is a digit. A
    # sure "not a digit", or a mark half as tall, is still dropped at the end of the line.
    four, seven, two = pick(test_digits, "472")
    page = np.zeros((140, 460), np.float32)
    for k, d in enumerate((four, seven, two)):
        side = 100 if k < 2 else size
        page[120 - side:120, 20 + 140 * k:20 + 140 * k + side] = cv2.resize(
            d.astype(np.float32) / 255, (side, side))
    plain = read_number(clean_photo(page), model, BlotGate())
    assert plain.number == "472"
    reading = read_number(clean_photo(page), model, _DoubtGate(model, 2, p_not))
    assert reading.number == number
    if number == "472":
        assert reading.digits[2]["not_digit"] == pytest.approx(p_not)


def test_a_one_between_tall_bars_is_no_short_mark(model, test_digits):
    # Tall strokes beside the number (a frame's sides, read as 1s) are no reference for the
    # digits' height: a real "1" as tall as the "7" stays.
    one, seven = pick(test_digits, "17")
    page = np.zeros((220, 560), np.float32)
    page[10:200, 20:27] = 1.0  # 190 px tall bars; the digits' ink is about 72 px
    page[10:200, 530:537] = 1.0
    for left, d in ((140, one), (280, seven)):
        page[60:160, left:left + 100] = cv2.resize(d.astype(np.float32) / 255, (100, 100))
    reading = read_number(clean_photo(page), model)
    margin = 40  # clean_photo's
    inside = [d["digit"] for d in reading.digits
              if 140 + margin <= d["box"][0] and d["box"][2] <= 240 + margin]
    assert inside == [1], reading.number


class _FixedModel:
    """A stand-in classifier: the same ten probabilities for every image."""

    def __init__(self, probabilities):
        self.p = np.asarray(probabilities, np.float32)

    def predict_proba(self, x, batch_size=1000):
        return np.tile(self.p, (len(x), 1))


class _FixedGates(BlotGate):
    """Stand-in gates: P(not a digit) ``p_not`` and P(several digits) ``p_several`` for
    every image."""

    def __init__(self, p_not, p_several):
        self.p_not, self.p_several = p_not, p_several

    def not_digit_probability(self, images, raw):
        return np.full(len(images), self.p_not, np.float32)

    def several_probability(self, images):
        return np.full(len(images), self.p_several, np.float32)


def test_a_segment_scores_as_one_digit_not_a_non_digit_and_not_several():
    # score = top probability x (1 - P(not a digit)) x (1 - P(several digits)); the bound is
    # the classifier's alone, never below the score; a judge without a line gate (a stand-in
    # with no several_probability) leaves that factor out.
    from cnn.tasks.numbers import segment_scorer

    model = _FixedModel([0.8] + [0.2 / 9] * 9)
    batch = np.zeros((3, 28, 28), np.float32)
    score = segment_scorer(model, _FixedGates(0.25, 0.5))
    np.testing.assert_allclose(score(batch), 0.8 * 0.75 * 0.5, rtol=1e-6)
    np.testing.assert_allclose(score.bound(batch), 0.8, rtol=1e-6)
    assert (score.bound(batch) >= score(batch)).all()
    np.testing.assert_allclose(segment_scorer(model, _FixedGates(0.25, 0.0))(batch),
                               0.8 * 0.75, rtol=1e-6)
    np.testing.assert_allclose(segment_scorer(model, BlotGate())(batch), 0.8, rtol=1e-6)
    np.testing.assert_allclose(segment_scorer(model)(batch), 0.8, rtol=1e-6)


def test_a_tall_edge_running_out_of_the_picture_beside_the_number_is_no_part_of_it(
        model, test_digits):
    # A dark strip from the top border down past the digits (a sheet's or a desk's edge): as
    # the largest component it seeded the line and set its height, and the digits, a quarter
    # as tall, were read as one segment ("8362" read "1" on number photos B).
    page = np.zeros((520, 700), np.float32)
    for k, digit in enumerate(pick(test_digits, "83")):
        page[200:290, 150 + 95 * k:240 + 95 * k] = cv2.resize(digit.astype(np.float32) / 255,
                                                               (90, 90))
    page[0:380, 560:600] = 1.0  # 380 px tall (a ruled line would reach 80 %), from the top
    assert read_number(clean_photo(page, 0), model).number == "83"


def test_frame_edges_are_dropped_only_beside_components_inside_the_picture():
    from cnn.vision.numbers import _drop_frame_edges

    def stats(*boxes):  # rows (x, y, w, h, area) of components 1.., row 0 the background
        return np.array([(0, 0, 0, 0, 0)] + [(x, y, w, h, w * h) for x, y, w, h in boxes])

    pad, shape = 10, (300, 400)
    beside = stats((100, 100, 40, 50), (150, 100, 40, 50), (300, 10, 10, 200))
    assert _drop_frame_edges([1, 2, 3], beside, shape, pad) == [1, 2]  # 200 > 2 x 50
    near = stats((100, 100, 40, 50), (150, 100, 40, 50), (300, 14, 10, 200))  # 4 px off
    assert _drop_frame_edges([1, 2, 3], near, shape, pad) == [1, 2]
    inside = stats((100, 100, 40, 50), (150, 100, 40, 50), (300, 30, 10, 200))
    assert _drop_frame_edges([1, 2, 3], inside, shape, pad) == [1, 2, 3]  # a tall stroke
    short = stats((100, 100, 40, 50), (150, 100, 40, 50), (300, 10, 10, 90))
    assert _drop_frame_edges([1, 2, 3], short, shape, pad) == [1, 2, 3]  # not twice as tall
    tight = stats((10, 10, 40, 280), (60, 10, 40, 280))  # a tight crop: all touch the frame
    assert _drop_frame_edges([1, 2], tight, shape, pad) == [1, 2]
    # a tight crop with a dot or a dash inside: its digits are no edges (a review's finding:
    # "2026" with a dot read "5")
    dotted = stats((10, 10, 40, 280), (60, 10, 40, 280), (120, 150, 10, 10))
    assert _drop_frame_edges([1, 2, 3], dotted, shape, pad) == [1, 2, 3]
    marks = stats((10, 10, 40, 280), (60, 10, 40, 280), (110, 10, 40, 280),
                  (160, 150, 10, 10), (200, 150, 30, 4))
    assert _drop_frame_edges([1, 2, 3, 4, 5], marks, shape, pad) == [1, 2, 3, 4, 5]
    # an edge beside one digit: as many edges as components left, nothing dropped
    single = stats((100, 100, 40, 50), (300, 10, 10, 200))
    assert _drop_frame_edges([1, 2], single, shape, pad) == [1, 2]
    # the reference height comes from the digit-sized components inside, not a dot among them
    with_dot = stats((100, 100, 40, 50), (150, 100, 40, 50), (200, 120, 8, 8),
                     (300, 10, 10, 200))
    assert _drop_frame_edges([1, 2, 3, 4], with_dot, shape, pad) == [1, 2, 3]
