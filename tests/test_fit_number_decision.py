"""scripts/fit_number_decision.py: the logistic regression behind cnn.tasks.numbers.convincing.

The fit recovers known weights from synthetic data and folds its standardisation back onto
the raw features; on real number photos (MNIST test digits of the committed subset, written
by scripts/make_numbers.py) and on non-digits it makes examples of the right shape and
outcome; the shipped weights decide as the fitted model they came from.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
fit = load_script(ROOT / "scripts" / "fit_number_decision.py")


def test_the_fit_recovers_the_weights_of_logistic_data():
    rng = np.random.default_rng(0)
    x = rng.normal([5.0, -3.0, 0.0], [0.1, 4.0, 1.0], size=(20000, 3))
    true_w, true_b = np.array([8.0, -0.5, 1.0]), -39.0
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-(x @ true_w + true_b)))).astype(float)
    w, b = fit.fit_logistic(x, y, l2=1e-3)
    np.testing.assert_allclose(w, true_w, rtol=0.1)
    assert abs(b - true_b) < 0.1 * abs(true_b)


def test_a_larger_penalty_shrinks_the_weights():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 2))
    y = (x[:, 0] + 0.3 * rng.normal(size=300) > 0).astype(float)
    loose, _ = fit.fit_logistic(x, y, l2=0.01)
    tight, _ = fit.fit_logistic(x, y, l2=100.0)
    assert abs(tight[0]) < 0.5 * abs(loose[0])


@pytest.fixture(scope="module")
def predictor():
    from cnn.tasks.predictor import load_predictor
    from cnn.tasks.reject import Rejector

    return load_predictor(None)[1], Rejector.default()


def test_examples_from_number_photos(tmp_path, make_numbers, test_digits,
                                                    predictor):
    """Clean three-digit number photos are read right, so each is an example that says "take
    the number"; the features are finite and of the documented length."""
    from cnn.tasks.numbers import DECISION_FEATURES

    model, rejector = predictor
    rng = np.random.default_rng(4)
    numbers = tmp_path / "numbers"
    numbers.mkdir()
    for k in range(6):
        text = "".join(str(d) for d in rng.integers(0, 10, 3))
        digits = [test_digits[int(c)][rng.integers(len(test_digits[int(c)]))] for c in text]
        ink = make_numbers.number_ink(digits, 90, rng)
        page = (255 - 200 * np.pad(ink, 40)).clip(0, 255).astype(np.uint8)
        cv2.imwrite(str(numbers / f"{text}_plain_{k:03d}.png"), page)
    # every number read right against a single digit that cannot be: an example each
    features, targets = fit.examples(numbers, "numbers", model, rejector)
    assert len(targets) >= 4
    assert all(f.shape == (len(DECISION_FEATURES),) and np.isfinite(f).all() for f in features)


def test_the_shipped_weights_take_sure_numbers_and_turn_away_doubt():
    """The weights in cnn/tasks/numbers.py (the script's output, pasted) have one finite
    weight per feature and decide the way a fit must: sure digits are a number, digits the
    gate doubts on a rejected picture are not, and neither are four sure 1s."""
    from cnn.tasks.numbers import DECISION_BIAS, DECISION_FEATURES, DECISION_WEIGHTS

    assert DECISION_WEIGHTS.shape == (len(DECISION_FEATURES),)
    assert np.isfinite(DECISION_WEIGHTS).all() and np.isfinite(DECISION_BIAS)
    no_one = np.log(0.9 ** 4)  # four digits, none a "1"
    sure = np.array([np.log(0.01), np.log(0.01), np.log(0.01), np.log(0.01), no_one, 0.0,
                     np.log(0.05)])
    ones = sure.copy()
    ones[4] = np.log(0.1 ** 4)  # "1111"
    doubted = np.array([np.log(0.5), np.log(0.5), np.log(0.6), np.log(0.5), no_one, 1.0,
                        np.log(0.99)])
    assert DECISION_BIAS + DECISION_WEIGHTS @ sure > 0
    assert DECISION_BIAS + DECISION_WEIGHTS @ ones < 0
    assert DECISION_BIAS + DECISION_WEIGHTS @ doubted < 0


def test_main_says_when_the_folders_give_no_contrast(tmp_path, capsys):
    empty = tmp_path / "numbers"
    empty.mkdir()
    page = np.full((120, 300), 235, np.uint8)
    cv2.imwrite(str(empty / "42_plain_000.png"), page)
    assert fit.main(["--numbers", str(empty)]) == 1
    assert "no examples of both outcomes" in capsys.readouterr().err
